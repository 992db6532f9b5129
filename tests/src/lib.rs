//! Shared test support: the throwaway PostgreSQL server (and its hot standby) and the store
//! conformance suite.

pub mod conformance;
pub mod desk;
pub mod pg;
pub mod standby_reads;
pub mod trust;
