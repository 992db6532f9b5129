//! Decoding `events` rows into envelopes, and the column list every read selects.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::envelope::{Metadata, RecordedEvent, StreamId};
use crate::error::StoreError;
use crate::hash::Hash;

/// The columns of a full event read, in the order [`decode_row`] expects.
pub const EVENT_COLUMNS: &str =
    "global_position, event_id, stream_id, stream_version, event_type, \
     schema_version, client_id, occurred_at, recorded_at, correlation_id, causation_id, actor, \
     source, data, prev_hash, hash";

pub fn to_i64(value: u64) -> i64 {
    // Positions and versions come from the database or from the planner, which counts up
    // from a stored i64; neither can exceed i64::MAX in a ledger that fits on a disk.
    i64::try_from(value).expect("positions and versions fit in i64")
}

fn to_u64(value: i64, position: u64, column: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::CorruptRow {
        position,
        detail: format!("{column} is negative ({value})"),
    })
}

/// Decodes one row selected with [`EVENT_COLUMNS`].
pub fn decode_row(row: &Row) -> Result<RecordedEvent, StoreError> {
    let raw_position: i64 = row.get(0);
    let position = u64::try_from(raw_position).map_err(|_| StoreError::CorruptRow {
        position: 0,
        detail: format!("global_position is negative ({raw_position})"),
    })?;
    let corrupt = |detail: String| StoreError::CorruptRow { position, detail };
    let stream_id: String = row.get(2);
    let stream_id = StreamId::parse(&stream_id).map_err(|e| corrupt(e.to_string()))?;
    let schema_version: i32 = row.get(5);
    let prev_hash: &[u8] = row.get(14);
    let hash: &[u8] = row.get(15);
    Ok(RecordedEvent {
        global_position: position,
        event_id: row.get::<_, Uuid>(1),
        stream_id,
        stream_version: to_u64(row.get(3), position, "stream_version")?,
        event_type: row.get(4),
        schema_version: u32::try_from(schema_version)
            .map_err(|_| corrupt(format!("schema_version is {schema_version}")))?,
        client_id: row.get(6),
        occurred_at: row.get::<_, DateTime<Utc>>(7),
        recorded_at: row.get::<_, DateTime<Utc>>(8),
        metadata: Metadata {
            correlation_id: row.get(9),
            causation_id: row.get(10),
            actor: row.get(11),
            source: row.get(12),
        },
        data: row.get(13),
        prev_hash: Hash::from_slice(prev_hash)
            .ok_or_else(|| corrupt("prev_hash is not 32 bytes".into()))?,
        hash: Hash::from_slice(hash).ok_or_else(|| corrupt("hash is not 32 bytes".into()))?,
    })
}
