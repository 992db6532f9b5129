//! The store's error type: every way an append, read or verify can fail, named precisely.

use uuid::Uuid;

use crate::canonical::CanonicalError;
use crate::envelope::ExpectedVersion;

/// What is wrong with one event of an append.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEvent {
    #[error("event_id is the nil UUID")]
    NilEventId,
    #[error(
        "event_type must be 1-100 ASCII letters, digits, '.', '_' or '-', starting with a letter"
    )]
    EventType,
    #[error("schema_version must be 1 or more")]
    SchemaVersionZero,
    #[error("schema_version {version} is over the largest the ledger stores ({limit})")]
    SchemaVersionTooLarge { version: u32, limit: u32 },
    #[error("client_id must be 1-128 bytes without control characters")]
    ClientId,
    #[error("occurred_at year {year} is outside 1970..=9999")]
    OccurredAtOutOfRange { year: i32 },
    #[error("metadata.{field} is longer than 256 bytes or holds control characters")]
    MetadataText { field: &'static str },
    #[error("data must be a JSON object")]
    DataNotObject,
    #[error("data: {0}")]
    Data(CanonicalError),
    #[error("data is {bytes} bytes, over the limit of {limit}")]
    DataTooLarge { bytes: usize, limit: usize },
    #[error("event_id appears twice in the same append")]
    EventIdRepeatedInAppend,
}

/// Every failure of the store API.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid stream id {stream_id:?}: {reason}")]
    InvalidStreamId {
        stream_id: String,
        reason: &'static str,
    },
    #[error("invalid event #{index} ({event_id}): {problem}")]
    InvalidEvent {
        index: usize,
        event_id: Uuid,
        problem: InvalidEvent,
    },
    #[error("an append must hold at least one stream and each stream at least one event")]
    EmptyAppend,
    #[error("an append of {events} events is over the limit of {limit}")]
    AppendTooLarge { events: usize, limit: usize },
    #[error("wrong expected version on stream {stream_id}: expected {expected}, the stream is at {actual}")]
    WrongExpectedVersion {
        stream_id: String,
        expected: ExpectedVersion,
        /// The stream's last version, or "no stream".
        actual: String,
    },
    #[error(
        "event {event_id} is already recorded (at position {position}) with different content"
    )]
    DuplicateEventId { event_id: Uuid, position: u64 },
    #[error("stream {stream_id} does not exist")]
    StreamNotFound { stream_id: String },
    #[error("the database connection was lost: {detail}; the append may or may not have been recorded, retry it with the same event ids")]
    ConnectionLost { detail: String },
    #[error("the ledger is unavailable: {0}")]
    Unavailable(String),
    #[error("the stored row at position {position} cannot be read: {detail}")]
    CorruptRow { position: u64, detail: String },
    #[error("the log has a gap: expected position {expected}, read {found}")]
    Gap { expected: u64, found: u64 },
    #[error("ledger file {path}: {detail}")]
    File { path: String, detail: String },
    #[error("schema migration {version} failed: {detail}")]
    Migration { version: u32, detail: String },
    #[error("the ledger schema is at version {found}, newer than this build knows ({known}); upgrade opsledger")]
    SchemaFromTheFuture { found: u32, known: u32 },
    #[error("read-model fact for position {position} is invalid: empty or oversized area, kind, entity, client id or body, or a position past i64")]
    InvalidFact { position: u64 },
    #[error("read-model row at position {position} is unreadable ({detail}); rebuild it with `opsledger replay`")]
    CorruptFact { position: i64, detail: &'static str },
    #[error("read model: expected checkpoint version {expected_version} at or past position {page_start}, found {found:?}; rebuild it with `opsledger replay`")]
    FactCheckpointConflict {
        expected_version: u32,
        page_start: u64,
        found: Option<crate::facts::FactCheckpoint>,
    },
    #[error("read model: expected the checkpoint {expected:?} to reset, found {found:?}; another projector reset or moved it since it was read")]
    FactResetConflict {
        expected: Option<crate::facts::FactCheckpoint>,
        found: Option<crate::facts::FactCheckpoint>,
    },
    #[error("invalid read model {name:?}: a client id of 1-128 bytes without control characters, a name of 1-100 bytes of a-z, 0-9, '_', '-', '.' or '/', and a body of at most 16 MiB")]
    InvalidReadModelName { name: String },
    #[error(
        "invalid client id {client_id:?} for a data key: 1-128 bytes without control characters"
    )]
    InvalidKeyClientId { client_id: String },
    #[error(
        "the reason for destroying a data key must be at most 256 bytes without control characters"
    )]
    InvalidDestroyReason,
    #[error("the data key row of client {client_id:?} cannot be read: {detail}")]
    CorruptKeyRow { client_id: String, detail: String },
    #[error("PostgreSQL: {detail}")]
    Postgres {
        /// The server's message and SQLSTATE.
        detail: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("SQLite: {0}")]
    Sqlite(#[source] rusqlite::Error),
    #[error("the database refused this role the operation (SQLSTATE 42501): {detail}")]
    PermissionDenied {
        /// The server's message and SQLSTATE.
        detail: String,
    },
    #[error(
        "this store handle was opened read-only; appends and projection saves need the writer role"
    )]
    ReadOnly,
    #[error("the ledger schema is at version {found}, older than this build needs ({known}); connect once with the owning role to migrate it")]
    SchemaNotMigrated { found: u32, known: u32 },
    #[error("invalid login role {name:?}: {reason}")]
    InvalidLoginRole { name: String, reason: &'static str },
    #[error("role {name} already exists in this PostgreSQL cluster")]
    RoleExists { name: String },
    #[error("the data key of client {client_id:?} is destroyed and unreadable, but copies of its bytes remain in {detail}; run the destruction again once no other connection reads the ledger, and it finishes the scrub")]
    ShredIncomplete { client_id: String, detail: String },
    #[error("desk {field} is invalid: empty, too long, or holding characters it may not hold")]
    InvalidDeskField { field: &'static str },
    #[error("desk user {name} already exists")]
    DeskUserExists { name: String },
    #[error("desk token {id} already exists")]
    DeskTokenExists { id: String },
    #[error("the {table} row {key:?} cannot be read: {detail}")]
    CorruptDeskRow {
        table: &'static str,
        key: String,
        detail: String,
    },
    #[error(
        "{what} {value} is out of range: the ledger counts positions and versions up to {limit}"
    )]
    OutOfRange {
        /// Which argument: `verify range start`, `projection checkpoint`, ...
        what: &'static str,
        value: u64,
        limit: u64,
    },
}

impl StoreError {
    /// True for the optimistic-concurrency loser: retrying after re-reading the stream may succeed.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::WrongExpectedVersion { .. })
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
