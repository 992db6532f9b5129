//! How events and the head map to SQLite rows and back, and how SQLite failures map to
//! `StoreError`s a caller can act on.

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::types::ValueRef;
use rusqlite::{ErrorCode, Row};
use uuid::Uuid;

use crate::envelope::{Head, Metadata, RecordedEvent, StreamId};
use crate::error::StoreError;
use crate::hash::{view_digest, ChainEntry, EventView, Hash};

/// The columns of `events` every read selects, in the order [`event_from_row`] decodes them.
pub(crate) const EVENT_COLUMNS: &str = "global_position, event_id, stream_id, stream_version, \
    event_type, schema_version, client_id, occurred_at, recorded_at, correlation_id, \
    causation_id, actor, source, data, prev_hash, hash";

/// Converts a position or version to SQLite's integer type. Positions come from the planner,
/// which counts up from zero by one, so one beyond `i64::MAX` means a broken invariant.
pub(crate) fn sql_int(value: u64) -> i64 {
    i64::try_from(value).expect("positions and versions stay far below i64::MAX")
}

/// Converts a caller-supplied bound (a start version or position, a page size) to SQLite's
/// integer type. A bound past `i64::MAX` means "everything", so it saturates.
pub(crate) fn sql_bound<T: TryInto<i64>>(value: T) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// Microseconds since the Unix epoch, the unit both backends store.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn time_from_micros(value: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_micros(value).single()
}

/// Why one column of a row could not be decoded; turned into `CorruptRow` with the position.
struct ColumnError(String);

fn column<'a>(row: &'a Row<'_>, index: usize, name: &str) -> Result<ValueRef<'a>, ColumnError> {
    row.get_ref(index)
        .map_err(|e| ColumnError(format!("column {name}: {e}")))
}

fn int(row: &Row<'_>, index: usize, name: &str) -> Result<i64, ColumnError> {
    column(row, index, name)?
        .as_i64()
        .map_err(|e| ColumnError(format!("column {name}: {e}")))
}

fn unsigned(row: &Row<'_>, index: usize, name: &str) -> Result<u64, ColumnError> {
    let value = int(row, index, name)?;
    u64::try_from(value).map_err(|_| ColumnError(format!("column {name} is negative: {value}")))
}

fn text<'a>(row: &'a Row<'_>, index: usize, name: &str) -> Result<&'a str, ColumnError> {
    column(row, index, name)?
        .as_str()
        .map_err(|e| ColumnError(format!("column {name}: {e}")))
}

fn opt_text(row: &Row<'_>, index: usize, name: &str) -> Result<Option<String>, ColumnError> {
    column(row, index, name)?
        .as_str_or_null()
        .map(|t| t.map(str::to_owned))
        .map_err(|e| ColumnError(format!("column {name}: {e}")))
}

fn time(row: &Row<'_>, index: usize, name: &str) -> Result<DateTime<Utc>, ColumnError> {
    let value = int(row, index, name)?;
    time_from_micros(value)
        .ok_or_else(|| ColumnError(format!("column {name}: {value} is not a valid time")))
}

fn uuid_from(bytes: &[u8], name: &str) -> Result<Uuid, ColumnError> {
    Uuid::from_slice(bytes).map_err(|_| {
        ColumnError(format!(
            "column {name} holds {} bytes, not a 16-byte UUID",
            bytes.len()
        ))
    })
}

fn opt_uuid(row: &Row<'_>, index: usize, name: &str) -> Result<Option<Uuid>, ColumnError> {
    let blob = column(row, index, name)?
        .as_blob_or_null()
        .map_err(|e| ColumnError(format!("column {name}: {e}")))?;
    blob.map(|b| uuid_from(b, name)).transpose()
}

fn hash(row: &Row<'_>, index: usize, name: &str) -> Result<Hash, ColumnError> {
    let blob = column(row, index, name)?
        .as_blob()
        .map_err(|e| ColumnError(format!("column {name}: {e}")))?;
    Hash::from_slice(blob).ok_or_else(|| {
        ColumnError(format!(
            "column {name} holds {} bytes, not a 32-byte hash",
            blob.len()
        ))
    })
}

/// Decodes one row selected with [`EVENT_COLUMNS`].
pub(crate) fn event_from_row(row: &Row<'_>) -> Result<RecordedEvent, StoreError> {
    let position = unsigned(row, 0, "global_position").map_err(|ColumnError(detail)| {
        StoreError::CorruptRow {
            position: u64::MAX,
            detail,
        }
    })?;
    decode_event(row, position)
        .map_err(|ColumnError(detail)| StoreError::CorruptRow { position, detail })
}

fn decode_event(row: &Row<'_>, global_position: u64) -> Result<RecordedEvent, ColumnError> {
    let event_id = {
        let blob = column(row, 1, "event_id")?
            .as_blob()
            .map_err(|e| ColumnError(format!("column event_id: {e}")))?;
        uuid_from(blob, "event_id")?
    };
    let stream_text = text(row, 2, "stream_id")?;
    let stream_id =
        StreamId::parse(stream_text).map_err(|e| ColumnError(format!("column stream_id: {e}")))?;
    let schema_version = {
        let value = int(row, 5, "schema_version")?;
        u32::try_from(value)
            .map_err(|_| ColumnError(format!("column schema_version is out of range: {value}")))?
    };
    Ok(RecordedEvent {
        global_position,
        event_id,
        stream_id,
        stream_version: unsigned(row, 3, "stream_version")?,
        event_type: text(row, 4, "event_type")?.to_owned(),
        schema_version,
        client_id: opt_text(row, 6, "client_id")?,
        occurred_at: time(row, 7, "occurred_at")?,
        recorded_at: time(row, 8, "recorded_at")?,
        metadata: Metadata {
            correlation_id: opt_uuid(row, 9, "correlation_id")?,
            causation_id: opt_uuid(row, 10, "causation_id")?,
            actor: opt_text(row, 11, "actor")?,
            source: opt_text(row, 12, "source")?,
        },
        data: text(row, 13, "data")?.to_owned(),
        prev_hash: hash(row, 14, "prev_hash")?,
        hash: hash(row, 15, "hash")?,
    })
}

/// What a chain walk needs of a row selected with [`EVENT_COLUMNS`], hashed straight from
/// SQLite's buffers: no envelope is built, no text is copied.
pub(crate) fn chain_entry_from_row(row: &Row<'_>) -> Result<ChainEntry, StoreError> {
    let position = unsigned(row, 0, "global_position").map_err(|ColumnError(detail)| {
        StoreError::CorruptRow {
            position: u64::MAX,
            detail,
        }
    })?;
    let entry = || -> Result<ChainEntry, ColumnError> {
        let event_id = {
            let blob = column(row, 1, "event_id")?
                .as_blob()
                .map_err(|e| ColumnError(format!("column event_id: {e}")))?;
            uuid_from(blob, "event_id")?
        };
        let schema_version = {
            let value = int(row, 5, "schema_version")?;
            u32::try_from(value).map_err(|_| {
                ColumnError(format!("column schema_version is out of range: {value}"))
            })?
        };
        let view = EventView {
            global_position: position,
            event_id,
            stream_id: text(row, 2, "stream_id")?.as_bytes(),
            stream_version: unsigned(row, 3, "stream_version")?,
            event_type: text(row, 4, "event_type")?.as_bytes(),
            schema_version,
            client_id: opt_str(row, 6, "client_id")?.map(str::as_bytes),
            occurred_at_micros: int(row, 7, "occurred_at")?,
            recorded_at_micros: int(row, 8, "recorded_at")?,
            correlation_id: opt_uuid(row, 9, "correlation_id")?,
            causation_id: opt_uuid(row, 10, "causation_id")?,
            actor: opt_str(row, 11, "actor")?.map(str::as_bytes),
            source: opt_str(row, 12, "source")?.map(str::as_bytes),
            data: text(row, 13, "data")?.as_bytes(),
        };
        Ok(ChainEntry {
            position,
            prev_hash: hash(row, 14, "prev_hash")?,
            hash: hash(row, 15, "hash")?,
            digest: view_digest(&view),
        })
    };
    entry().map_err(|ColumnError(detail)| StoreError::CorruptRow { position, detail })
}

fn opt_str<'a>(row: &'a Row<'_>, index: usize, name: &str) -> Result<Option<&'a str>, ColumnError> {
    column(row, index, name)?
        .as_str_or_null()
        .map_err(|e| ColumnError(format!("column {name}: {e}")))
}

/// The SQL that reads the head row together with the log's last position, so the two can be
/// cross-checked in one statement (one snapshot).
pub(crate) const HEAD_SQL: &str = "SELECT next_position, head_hash, last_recorded_at, \
    (SELECT max(global_position) FROM events) FROM ledger_head WHERE id = 0";

/// The head row as stored, with the log's actual last position beside it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadRow {
    pub head: Option<Head>,
    /// `max(global_position)` of the events table; `None` when it is empty.
    pub last_position: Option<u64>,
}

impl HeadRow {
    /// Refuses a head row that disagrees with the log: appending after it would fork or
    /// leave a hole in the chain.
    pub fn consistent(self) -> Result<Option<Head>, StoreError> {
        let named = self.head.map(|h| h.position);
        if named == self.last_position {
            Ok(self.head)
        } else {
            Err(StoreError::CorruptRow {
                position: named.or(self.last_position).unwrap_or(0),
                detail: format!(
                    "the ledger_head row names last position {named:?} but the log ends at {:?}",
                    self.last_position
                ),
            })
        }
    }
}

/// Decodes the row selected by [`HEAD_SQL`].
pub(crate) fn head_from_row(row: &Row<'_>) -> Result<HeadRow, StoreError> {
    let corrupt = |ColumnError(detail)| StoreError::CorruptRow {
        position: u64::MAX,
        detail: format!("ledger_head: {detail}"),
    };
    let next_position = unsigned(row, 0, "next_position").map_err(corrupt)?;
    let hash = hash(row, 1, "head_hash").map_err(corrupt)?;
    let last_recorded_at = {
        let value = column(row, 2, "last_recorded_at")
            .and_then(|v| {
                v.as_i64_or_null()
                    .map_err(|e| ColumnError(format!("column last_recorded_at: {e}")))
            })
            .map_err(corrupt)?;
        value
            .map(|m| {
                time_from_micros(m).ok_or_else(|| {
                    corrupt(ColumnError(format!(
                        "last_recorded_at {m} is not a valid time"
                    )))
                })
            })
            .transpose()?
    };
    let last_position = column(row, 3, "max(global_position)")
        .and_then(|v| {
            v.as_i64_or_null()
                .map_err(|e| ColumnError(format!("max(global_position): {e}")))
        })
        .map_err(corrupt)?
        .map(|p| {
            u64::try_from(p).map_err(|_| {
                corrupt(ColumnError(format!(
                    "max(global_position) is negative: {p}"
                )))
            })
        })
        .transpose()?;
    let head = match next_position.checked_sub(1) {
        None => None,
        Some(position) => Some(Head {
            position,
            hash,
            recorded_at: last_recorded_at.ok_or_else(|| {
                corrupt(ColumnError(
                    "last_recorded_at is NULL for a non-empty ledger".to_owned(),
                ))
            })?,
        }),
    };
    Ok(HeadRow {
        head,
        last_position,
    })
}

/// True for the unique violation on `events.event_id`: an id the planner did not know was
/// already recorded, so the group must be replanned with the slow-path lookup.
pub(crate) fn is_event_id_violation(error: &rusqlite::Error) -> bool {
    match error {
        rusqlite::Error::SqliteFailure(e, message) => {
            e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                && message
                    .as_deref()
                    .is_some_and(|m| m.contains("events.event_id"))
        }
        _ => false,
    }
}

/// Maps a SQLite failure to the error a caller can act on: the file's problems (read-only,
/// disk full, not a database, cannot open) name the file; the rest stay SQLite errors.
pub(crate) fn map_sqlite_error(path: &Path, error: rusqlite::Error) -> StoreError {
    let file_problem = match error.sqlite_error_code() {
        Some(ErrorCode::ReadOnly) => Some(
            "the ledger file (or its directory) is read-only; appends are refused, reads still work",
        ),
        Some(ErrorCode::DiskFull) => Some("the disk is full; the append was not recorded"),
        Some(ErrorCode::NotADatabase) => Some("the file is not a SQLite database"),
        Some(ErrorCode::CannotOpen) => Some("the file cannot be opened (does its directory exist?)"),
        Some(ErrorCode::PermissionDenied) => Some("permission denied"),
        Some(ErrorCode::SystemIoFailure) => Some("an I/O error occurred"),
        Some(ErrorCode::DatabaseCorrupt) => Some("the database file is corrupt"),
        _ => None,
    };
    match file_problem {
        Some(what) => StoreError::File {
            path: path.display().to_string(),
            detail: format!("{what} ({error})"),
        },
        None => StoreError::Sqlite(error),
    }
}

/// A copy of an error for every caller of a failed group. `StoreError` is not `Clone` (it
/// carries driver errors), so the SQLite failure is rebuilt from its codes and message.
pub(crate) fn copy_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::File { path, detail } => StoreError::File {
            path: path.clone(),
            detail: detail.clone(),
        },
        StoreError::CorruptRow { position, detail } => StoreError::CorruptRow {
            position: *position,
            detail: detail.clone(),
        },
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(code, message)) => {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(*code, message.clone()))
        }
        other => StoreError::Unavailable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_saturate_and_times_round_trip() {
        assert_eq!(sql_bound(u64::MAX), i64::MAX);
        assert_eq!(sql_bound(7usize), 7);
        let t = Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 0).unwrap();
        assert_eq!(time_from_micros(micros(t)), Some(t));
    }

    #[test]
    fn a_head_row_must_match_the_log() {
        let head = Head {
            position: 4,
            hash: Hash([1; 32]),
            recorded_at: Utc::now(),
        };
        let ok = HeadRow {
            head: Some(head),
            last_position: Some(4),
        };
        assert_eq!(ok.consistent().unwrap(), Some(head));
        let cut = HeadRow {
            head: Some(head),
            last_position: Some(2),
        };
        assert!(matches!(
            cut.consistent(),
            Err(StoreError::CorruptRow { position: 4, .. })
        ));
        let empty = HeadRow {
            head: None,
            last_position: None,
        };
        assert_eq!(empty.consistent().unwrap(), None);
    }
}
