//! Importers: pure translations of foreign call-center records into domain events.
//!
//! Importers take bytes the caller has read (files are opened by the CLI, never here) and
//! return domain events with deterministic ids, so importing the same records twice yields
//! the same events and the store's idempotency makes the second import a no-op.

pub mod accounting;
pub mod cdr_csv;
pub mod csv_mapping;
pub mod queue_log;
