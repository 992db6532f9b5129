//! Shared test support: the throwaway PostgreSQL server and the store conformance suite.

pub mod conformance;
pub mod pg;
pub mod trust;
