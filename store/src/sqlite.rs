//! The embedded backend: one SQLite file per ledger, the single-machine default.

/// The embedded SQLite event store (being built).
#[derive(Debug, Clone)]
pub struct SqliteStore {}
