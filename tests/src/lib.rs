//! Shared test support: the throwaway PostgreSQL server (and its hot standby), the store
//! conformance suite and headless Chromium for the HTML pages.

pub mod browser;
pub mod conformance;
pub mod desk;
pub mod pg;
pub mod standby_reads;
pub mod trust;
