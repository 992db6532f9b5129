//! Data keys in the ledger file: read, create if absent, destroy.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::StoreError;
use crate::keys::{DataKey, Key32};

/// One row of `data_keys`: the key bytes (NULL once destroyed) and the destruction instant.
type KeyRow = (Option<Vec<u8>>, Option<i64>);

fn instant(client_id: &str, micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| StoreError::CorruptKeyRow {
        client_id: client_id.to_owned(),
        detail: format!("destroyed_at {micros} is out of range"),
    })
}

/// The key of `client_id` as stored, `Missing` when there is no row.
pub(crate) fn load(conn: &Connection, client_id: &str) -> Result<DataKey, StoreError> {
    let row: Option<KeyRow> = conn
        .query_row(
            "SELECT key, destroyed_at FROM data_keys WHERE client_id = ?1",
            [client_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(StoreError::Sqlite)?;
    // The bytes read from the row are wiped when this function returns.
    match row {
        None => Ok(DataKey::Missing),
        Some((_, Some(at))) => Ok(DataKey::Destroyed {
            at: instant(client_id, at)?,
        }),
        Some((Some(bytes), None)) => {
            let bytes = zeroize::Zeroizing::new(bytes);
            Ok(DataKey::Active(Key32::from_stored(client_id, &bytes)?))
        }
        Some((None, None)) => Err(StoreError::CorruptKeyRow {
            client_id: client_id.to_owned(),
            detail: "neither a key nor a destruction".to_owned(),
        }),
    }
}

/// Inserts `fresh` unless the client already has a row, then reads whatever the row holds:
/// of two concurrent creators, both end up with the key that was inserted first.
pub(crate) fn create(
    conn: &Connection,
    client_id: &str,
    fresh: &Key32,
    now_micros: i64,
) -> Result<DataKey, StoreError> {
    conn.execute(
        "INSERT INTO data_keys (client_id, key, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (client_id) DO NOTHING",
        params![client_id, fresh.as_bytes().as_slice(), now_micros],
    )
    .map_err(StoreError::Sqlite)?;
    load(conn, client_id)
}

/// Overwrites the key with NULL (or records a destroyed row for a client that never had one),
/// then scrubs the file of the old bytes. `secure_delete` is on for every connection, so
/// SQLite zeroes the freed bytes in the page; a truncating checkpoint then copies that page
/// over the main file's and empties the WAL, which still holds earlier page images with the
/// key.
///
/// A reader on an older snapshot keeps the checkpoint from finishing (its snapshot may still
/// need the old pages). The checkpoint waits for it as long as the connection's busy timeout;
/// a reader still there then gets [`StoreError::ShredIncomplete`]: the key is already
/// unreadable through SQLite, and calling this again (it returns `false`, nothing left to
/// destroy) runs the scrub again, so a rerun finishes it.
pub(crate) fn destroy(
    conn: &Connection,
    client_id: &str,
    reason: &str,
    now_micros: i64,
) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "INSERT INTO data_keys (client_id, key, created_at, destroyed_at, destroyed_reason)
             VALUES (?1, NULL, ?2, ?2, ?3)
             ON CONFLICT (client_id) DO UPDATE
                 SET key = NULL, destroyed_at = excluded.destroyed_at,
                     destroyed_reason = excluded.destroyed_reason
                 WHERE data_keys.destroyed_at IS NULL",
            params![client_id, now_micros, reason],
        )
        .map_err(StoreError::Sqlite)?;
    let (busy, wal_frames): (i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .map_err(StoreError::Sqlite)?;
    if busy != 0 || wal_frames > 0 {
        return Err(StoreError::ShredIncomplete {
            client_id: client_id.to_owned(),
            detail: "the ledger file's write-ahead log, because another connection kept reading an older snapshot past the busy timeout".to_owned(),
        });
    }
    Ok(changed > 0)
}
