//! The append-only, hash-chained event log of opsledger: envelopes, one store API and its two
//! backends (PostgreSQL for production, an embedded SQLite file as the single-machine default).
//!
//! The store knows envelopes, never domain types. See `ARCHITECTURE.md` for where it sits.

pub mod api;
pub mod bundle;
pub mod canonical;
pub mod desk;
pub mod envelope;
pub mod error;
pub mod facts;
pub mod hash;
pub mod keys;
mod plan;
pub mod postgres;
pub mod replica;
pub mod sqlite;
pub mod subscription;

pub use api::{ClientReadModel, Direction, EventFilter, EventStore, PositionRange, TimeRange};
pub use desk::{
    AccessEntry, AccessFilter, AccessHead, DeskSession, DeskStore, DeskToken, DeskUser, NewAccess,
};
pub use envelope::{
    AppendOutcome, ExpectedVersion, Head, Metadata, NewEvent, RecordedEvent, StreamAppend, StreamId,
};
pub use error::{InvalidEvent, StoreError};
pub use facts::{FactCheckpoint, FactQuery, FactRow, PeriodQuery};
pub use hash::{ChainBreak, Hash, VerifyReport};
pub use keys::{DataKey, Key32};
pub use postgres::{PgStore, ScopedPgStore};
pub use replica::ReplicaLag;
pub use sqlite::SqliteStore;
pub use subscription::Subscription;
