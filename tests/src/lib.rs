//! Shared test support: the throwaway PostgreSQL server (and its hot standby), the store
//! conformance suite, a store that holds its caller at chosen points to force an interleaving
//! (`held`), a generated demo month recorded as the demo records it (`demo_month`), and
//! headless Chromium for the HTML pages.

pub mod browser;
pub mod conformance;
pub mod demo_month;
pub mod desk;
pub mod held;
pub mod pg;
pub mod standby_reads;
pub mod trust;
