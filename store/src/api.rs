//! The one store API both backends implement, and the query types it takes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::envelope::{
    AppendOutcome, ExpectedVersion, Head, NewEvent, RecordedEvent, StreamAppend, StreamId,
};
use crate::error::Result;
use crate::facts::{FactCheckpoint, FactQuery, FactRow, PeriodQuery};
use crate::hash::VerifyReport;
use crate::keys::DataKey;
use crate::replica::ReplicaLag;
use crate::subscription::Subscription;

/// Which way `read_stream` walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    Forward,
    Backward,
}

/// A half-open time range `[from, to)`; either end may be open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// A filtered read of the global log. Every set field must match (AND); within a list, any
/// entry may match (OR). Each filter is served by an index on both backends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFilter {
    pub categories: Vec<String>,
    pub event_types: Vec<String>,
    pub client_id: Option<String>,
    pub stream_id: Option<StreamId>,
    pub correlation_id: Option<Uuid>,
    pub occurred: TimeRange,
    pub recorded: TimeRange,
}

/// The positions `verify` walks: `[from, to]`, `to = None` meaning up to the head.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionRange {
    pub from: u64,
    pub to: Option<u64>,
}

/// A read model published for one client: a report as JSON, as of a log position. On
/// PostgreSQL a client reader sees only its own client's (row-level security), so this is the
/// read model a client's own tools query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientReadModel {
    pub client_id: String,
    /// What it is, e.g. `sla/2026-10`, `billing`: a-z, 0-9, `_`, `-`, `.` and `/`.
    pub name: String,
    /// The projections' checkpoint when it was computed.
    pub next_position: u64,
    /// The report as JSON text.
    pub body: String,
}

/// Largest published read model body, in bytes.
pub const MAX_READ_MODEL_BYTES: usize = 16 * 1024 * 1024;

/// Longest published read model name, in bytes.
pub const MAX_READ_MODEL_NAME_BYTES: usize = 100;

/// The event store: an append-only, hash-chained log of events in streams.
///
/// Positions are 0-based and gap-free; commit order is position order (see
/// `docs/adr/0001-ordering.md`). Every method is safe to call concurrently.
#[async_trait]
pub trait EventStore: Send + Sync + std::fmt::Debug {
    /// Appends `events` to one stream if its version satisfies `expected`.
    async fn append(
        &self,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome> {
        let mut outcomes = self
            .append_batch(vec![StreamAppend {
                stream_id: stream_id.clone(),
                expected_version: expected,
                events,
            }])
            .await?;
        Ok(outcomes.pop().expect("one outcome per stream of the batch"))
    }

    /// Appends to many streams in one atomic step: all of it is recorded or none of it.
    /// Returns one outcome per stream, in the order given.
    async fn append_batch(&self, batch: Vec<StreamAppend>) -> Result<Vec<AppendOutcome>>;

    /// Up to `max_count` events of one stream, from `from_version` (inclusive) in `direction`.
    /// `StreamNotFound` when the stream holds no events.
    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from_version: u64,
        direction: Direction,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>>;

    /// Up to `max_count` events from global position `from_position` (inclusive), in order.
    async fn read_all(&self, from_position: u64, max_count: usize) -> Result<Vec<RecordedEvent>>;

    /// Up to `max_count` events matching `filter`, from `from_position`, in position order.
    async fn read_filtered(
        &self,
        filter: &EventFilter,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>>;

    /// The last recorded event's position and hash; `None` for an empty ledger.
    async fn head(&self) -> Result<Option<Head>>;

    /// Walks the hash chain over `range` and reports it intact or where it first breaks.
    async fn verify(&self, range: PositionRange) -> Result<VerifyReport>;

    /// The read model's checkpoint, or `None` when no row was ever written.
    async fn fact_checkpoint(&self) -> Result<Option<FactCheckpoint>>;

    /// Writes a page of read-model rows, derived from the log positions `[page_start,
    /// checkpoint.next_position)`, and moves the checkpoint to `checkpoint.next_position` in one
    /// transaction. A row whose position is already stored is kept as it is (the rows are a
    /// function of the event, so it is the same row), and the checkpoint never moves back, so
    /// two projectors catching up at once both succeed. `FactCheckpointConflict` when the
    /// stored checkpoint has another version or is behind `page_start` (rows would be missing):
    /// only a reset moves it back, so another projector reset it since this one read it.
    async fn write_facts(
        &self,
        page_start: u64,
        checkpoint: FactCheckpoint,
        rows: Vec<FactRow>,
    ) -> Result<()>;

    /// Deletes every read-model row and sets the checkpoint to position 0 of `version`, in one
    /// transaction, provided the stored checkpoint is still `expected` (`None`: no checkpoint
    /// was ever written): the start of a rebuild. The comparison is made by the write itself,
    /// inside its transaction, so of several projectors that read the same checkpoint and
    /// reset at once exactly one deletes the rows; the others get `FactResetConflict`, change
    /// nothing, and must read the checkpoint again (the winner's rows are already being
    /// written under it). The same transaction drops the rows' secondary indexes, so the
    /// rebuild's pages insert into the table alone; [`Self::restore_fact_indexes`] builds them
    /// again. Reads stay correct without them, only slower.
    async fn reset_facts(&self, expected: Option<FactCheckpoint>, version: u32) -> Result<()>;

    /// Builds the read model's secondary indexes that a [`Self::reset_facts`] dropped, as the
    /// migrations define them; nothing when they all exist. A projector calls it when it has
    /// caught up, so a rebuild that crashed half-way gets them back at the next catch-up's end.
    /// A store that cannot write rows has nothing to restore.
    async fn restore_fact_indexes(&self) -> Result<()> {
        Ok(())
    }

    /// Up to `max_count` read-model rows matching `query`, in position order.
    async fn read_facts(&self, query: &FactQuery, max_count: usize) -> Result<Vec<FactRow>>;

    /// The read-model rows of the entities a period touches (see [`PeriodQuery`]), in position
    /// order: found through the client/area/occurred-at index, so a report of one month
    /// reads that month's entities, not the client's whole history.
    async fn read_period_facts(&self, query: &PeriodQuery) -> Result<Vec<FactRow>>;

    /// The data key of `client_id`. With `create`, a client without a key gets a fresh random
    /// one; creation is race-free (insert-if-absent, then read), so concurrent callers all get
    /// the same key. A destroyed key stays destroyed: `create` never replaces it.
    async fn data_key(&self, client_id: &str, create: bool) -> Result<DataKey>;

    /// Destroys the data key of `client_id`: its bytes are overwritten with NULL and the instant
    /// and `reason` are stamped on its row. A client that never had a key gets a destroyed row,
    /// so no key can be created for it later. Idempotent; returns whether this call destroyed
    /// it (false when it was already destroyed). Touches only the key table, never `events`.
    async fn destroy_data_key(&self, client_id: &str, reason: &str) -> Result<bool>;

    /// Publishes (inserts or replaces) one client's read model.
    async fn publish_read_model(&self, model: &ClientReadModel) -> Result<()>;

    /// Every read model published for `client_id`, by name.
    async fn client_read_models(&self, client_id: &str) -> Result<Vec<ClientReadModel>>;

    /// A catch-up subscription: every event from `from_position` on, exactly once and in
    /// order, then live appends as they commit.
    fn subscribe(&self, from_position: u64) -> Subscription;

    /// How far behind its primary this store's server is, when it is a replica (a PostgreSQL
    /// hot standby); `None` for a primary or the embedded file, which lag behind nothing.
    async fn replica_lag(&self) -> Result<Option<ReplicaLag>> {
        Ok(None)
    }
}

/// Checks a published read model: client id and name are fixed identifiers, the body is
/// bounded.
pub fn validate_read_model(model: &ClientReadModel) -> Result<()> {
    checked_position("read model checkpoint", model.next_position)?;
    let name_ok = !model.name.is_empty()
        && model.name.len() <= MAX_READ_MODEL_NAME_BYTES
        && model.name.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.' | '/')
        });
    let client_ok = !model.client_id.is_empty()
        && model.client_id.len() <= crate::envelope::MAX_CLIENT_ID_BYTES
        && !model.client_id.chars().any(char::is_control);
    if name_ok && client_ok && model.body.len() <= MAX_READ_MODEL_BYTES {
        Ok(())
    } else {
        Err(crate::error::StoreError::InvalidReadModelName {
            name: format!("{}:{}", model.client_id, model.name)
                .chars()
                .take(MAX_READ_MODEL_NAME_BYTES)
                .collect(),
        })
    }
}

/// Largest position, version or checkpoint the ledger stores: both backends keep them in
/// signed 64-bit columns.
pub const MAX_POSITION: u64 = 0x7fff_ffff_ffff_ffff;

/// Converts a caller-supplied position, version or checkpoint to the databases' integer type,
/// refusing one past [`MAX_POSITION`] with a typed error naming `what`, instead of panicking
/// or silently saturating.
pub fn checked_position(what: &'static str, value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| crate::error::StoreError::OutOfRange {
        what,
        value,
        limit: MAX_POSITION,
    })
}
