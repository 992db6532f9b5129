//! The PostgreSQL backend: the production store and the path past one machine.

/// The PostgreSQL event store (being built).
#[derive(Debug, Clone)]
pub struct PgStore {}
