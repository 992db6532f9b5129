//! Data keys in PostgreSQL: read, create if absent, destroy.

use chrono::{DateTime, Utc};
use deadpool_postgres::Object;

use crate::error::StoreError;
use crate::keys::{DataKey, Key32};

use super::pg_error;

/// The key of `client_id` as stored, `Missing` when there is no row.
pub(crate) async fn load(conn: &Object, client_id: &str) -> Result<DataKey, StoreError> {
    let row = conn
        .query_opt(
            "SELECT key, destroyed_at FROM data_keys WHERE client_id = $1",
            &[&client_id],
        )
        .await
        .map_err(pg_error)?;
    let Some(row) = row else {
        return Ok(DataKey::Missing);
    };
    let key: Option<&[u8]> = row.get(0);
    let destroyed_at: Option<DateTime<Utc>> = row.get(1);
    match (key, destroyed_at) {
        (_, Some(at)) => Ok(DataKey::Destroyed { at }),
        (Some(bytes), None) => Ok(DataKey::Active(Key32::from_stored(client_id, bytes)?)),
        (None, None) => Err(StoreError::CorruptKeyRow {
            client_id: client_id.to_owned(),
            detail: "neither a key nor a destruction".to_owned(),
        }),
    }
}

/// Inserts `fresh` unless the client already has a row, then reads whatever the row holds:
/// of two concurrent creators, both end up with the key that was inserted first.
pub(crate) async fn create(
    conn: &Object,
    client_id: &str,
    fresh: &Key32,
) -> Result<DataKey, StoreError> {
    conn.execute(
        "INSERT INTO data_keys (client_id, key) VALUES ($1, $2) ON CONFLICT (client_id) DO NOTHING",
        &[&client_id, &fresh.as_bytes().as_slice()],
    )
    .await
    .map_err(pg_error)?;
    load(conn, client_id).await
}

/// Overwrites the key with NULL, or records a destroyed row for a client that never had one,
/// then, when this role owns `data_keys`, vacuums it so the old row version leaves the
/// table's heap. A role that does not own it (the writer) cannot vacuum; migration 7 makes
/// autovacuum take the table after every destruction instead. The old key bytes stay in WAL
/// segments until they are recycled, and in WAL archives and backups until those expire
/// (docs/trust.md says what the operator must do about that).
pub(crate) async fn destroy(
    conn: &Object,
    client_id: &str,
    reason: &str,
) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "INSERT INTO data_keys (client_id, key, destroyed_at, destroyed_reason)
             VALUES ($1, NULL, now(), $2)
             ON CONFLICT (client_id) DO UPDATE
                 SET key = NULL, destroyed_at = excluded.destroyed_at,
                     destroyed_reason = excluded.destroyed_reason
                 WHERE data_keys.destroyed_at IS NULL",
            &[&client_id, &reason],
        )
        .await
        .map_err(pg_error)?;
    let owner: bool = conn
        .query_one(
            "SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c \
             WHERE c.oid = 'data_keys'::regclass",
            &[],
        )
        .await
        .map_err(pg_error)?
        .get(0);
    if owner {
        // A plain VACUUM removes the dead row version, but PostgreSQL does not promise to
        // zero the space it frees; FULL writes the live rows into a new file and drops the old
        // one. The table holds one small row per client, so the rewrite is quick.
        conn.batch_execute("VACUUM (FULL) data_keys")
            .await
            .map_err(pg_error)?;
    }
    Ok(changed > 0)
}
