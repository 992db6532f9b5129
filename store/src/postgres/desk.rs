//! The desk's tables in PostgreSQL (migration 11): users, tokens, sessions and the chained
//! access log (`crate::desk`). Every value travels as a bind parameter.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use crate::desk::{
    validate_access, validate_desk_name, validate_token_id, validate_user, AccessEntry,
    AccessFilter, AccessHead, DeskSession, DeskStore, DeskToken, DeskUser, NewAccess,
};
use crate::error::{Result, StoreError};
use crate::hash::Hash;

use super::rows::to_i64;
use super::{pg_error, PgStore};

fn corrupt(table: &'static str, key: &str, detail: &str) -> StoreError {
    StoreError::CorruptDeskRow {
        table,
        key: key.to_owned(),
        detail: detail.to_owned(),
    }
}

fn hash(table: &'static str, key: &str, bytes: &[u8]) -> Result<Hash> {
    Hash::from_slice(bytes).ok_or_else(|| corrupt(table, key, "a hash is not 32 bytes"))
}

fn unsigned(table: &'static str, key: &str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| corrupt(table, key, "a count is negative"))
}

fn user_from_row(row: &Row) -> DeskUser {
    DeskUser {
        name: row.get(0),
        role: row.get(1),
        client_id: row.get(2),
        password_hash: row.get(3),
        created_at: row.get(4),
        disabled_at: row.get(5),
    }
}

fn token_from_row(row: &Row) -> Result<DeskToken> {
    let id: String = row.get(0);
    Ok(DeskToken {
        user_name: row.get(1),
        secret_hash: hash("desk_tokens", &id, row.get(2))?,
        created_at: row.get(3),
        revoked_at: row.get(4),
        id,
    })
}

/// Decodes an access-log row, for this backend and for a scoped handle's reads.
pub(crate) fn access_from_row(row: &Row) -> Result<AccessEntry> {
    let seq: i64 = row.get(0);
    let key = seq.to_string();
    Ok(AccessEntry {
        seq: unsigned("access_log", &key, seq)?,
        at: row.get(1),
        user_name: row.get(2),
        role: row.get(3),
        client_id: row.get(4),
        query: row.get(5),
        rows: unsigned("access_log", &key, row.get(6))?,
        prev_hash: hash("access_log", &key, row.get(7))?,
        hash: hash("access_log", &key, row.get(8))?,
    })
}

/// Reads access-log entries; fixed clauses with placeholders, `$n IS NULL` for a filter left
/// unset.
pub(crate) const READ_ACCESS_SQL: &str =
    "SELECT seq, at, user_name, role, client_id, query, rows, prev_hash, hash FROM access_log \
     WHERE seq >= $1 AND ($2::text IS NULL OR client_id = $2) \
     AND ($3::text IS NULL OR user_name = $3) ORDER BY seq LIMIT $4";

fn head_from_row(row: &Row) -> Result<AccessHead> {
    Ok(AccessHead {
        next_seq: unsigned("access_log_head", "1", row.get(0))?,
        hash: hash("access_log_head", "1", row.get(1))?,
    })
}

fn unique_or(e: tokio_postgres::Error, on_duplicate: StoreError) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        on_duplicate
    } else {
        pg_error(e)
    }
}

#[async_trait]
impl DeskStore for PgStore {
    async fn insert_user(&self, user: &DeskUser) -> Result<()> {
        validate_user(user)?;
        let conn = self.conn().await?;
        conn.execute(
            "INSERT INTO desk_users (name, role, client_id, password_hash, created_at, disabled_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &user.name,
                &user.role,
                &user.client_id,
                &user.password_hash,
                &user.created_at,
                &user.disabled_at,
            ],
        )
        .await
        .map_err(|e| {
            unique_or(
                e,
                StoreError::DeskUserExists {
                    name: user.name.clone(),
                },
            )
        })?;
        Ok(())
    }

    async fn user(&self, name: &str) -> Result<Option<DeskUser>> {
        validate_desk_name(name)?;
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                "SELECT name, role, client_id, password_hash, created_at, disabled_at \
                 FROM desk_users WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(pg_error)?;
        Ok(row.as_ref().map(user_from_row))
    }

    async fn users(&self) -> Result<Vec<DeskUser>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT name, role, client_id, password_hash, created_at, disabled_at \
                 FROM desk_users ORDER BY name",
                &[],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows.iter().map(user_from_row).collect())
    }

    async fn disable_user(&self, name: &str, at: DateTime<Utc>) -> Result<bool> {
        validate_desk_name(name)?;
        let conn = self.conn().await?;
        let changed = conn
            .execute(
                "UPDATE desk_users SET disabled_at = $2 WHERE name = $1 AND disabled_at IS NULL",
                &[&name, &at],
            )
            .await
            .map_err(pg_error)?;
        Ok(changed > 0)
    }

    async fn insert_token(&self, token: &DeskToken) -> Result<()> {
        validate_token_id(&token.id)?;
        validate_desk_name(&token.user_name)?;
        let conn = self.conn().await?;
        conn.execute(
            "INSERT INTO desk_tokens (id, user_name, secret_hash, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &token.id,
                &token.user_name,
                &token.secret_hash.0.as_slice(),
                &token.created_at,
                &token.revoked_at,
            ],
        )
        .await
        .map_err(|e| {
            unique_or(
                e,
                StoreError::DeskTokenExists {
                    id: token.id.clone(),
                },
            )
        })?;
        Ok(())
    }

    async fn token(&self, id: &str) -> Result<Option<DeskToken>> {
        validate_token_id(id)?;
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                "SELECT id, user_name, secret_hash, created_at, revoked_at \
                 FROM desk_tokens WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(pg_error)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<bool> {
        validate_token_id(id)?;
        let conn = self.conn().await?;
        let changed = conn
            .execute(
                "UPDATE desk_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &at],
            )
            .await
            .map_err(pg_error)?;
        Ok(changed > 0)
    }

    async fn insert_session(&self, session: &DeskSession) -> Result<()> {
        validate_desk_name(&session.user_name)?;
        let conn = self.conn().await?;
        conn.execute(
            "INSERT INTO desk_sessions (id_hash, user_name, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
            &[
                &session.id_hash.0.as_slice(),
                &session.user_name,
                &session.created_at,
                &session.expires_at,
            ],
        )
        .await
        .map_err(pg_error)?;
        Ok(())
    }

    async fn session(&self, id_hash: &Hash) -> Result<Option<DeskSession>> {
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                "SELECT user_name, created_at, expires_at FROM desk_sessions WHERE id_hash = $1",
                &[&id_hash.0.as_slice()],
            )
            .await
            .map_err(pg_error)?;
        Ok(row.map(|row| DeskSession {
            id_hash: *id_hash,
            user_name: row.get(0),
            created_at: row.get(1),
            expires_at: row.get(2),
        }))
    }

    async fn delete_session(&self, id_hash: &Hash) -> Result<bool> {
        let conn = self.conn().await?;
        let changed = conn
            .execute(
                "DELETE FROM desk_sessions WHERE id_hash = $1",
                &[&id_hash.0.as_slice()],
            )
            .await
            .map_err(pg_error)?;
        Ok(changed > 0)
    }

    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let conn = self.conn().await?;
        conn.execute("DELETE FROM desk_sessions WHERE expires_at <= $1", &[&now])
            .await
            .map_err(pg_error)
    }

    async fn append_access_batch(&self, accesses: Vec<NewAccess>) -> Result<Vec<AccessEntry>> {
        for access in &accesses {
            validate_access(access)?;
        }
        if accesses.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(pg_error)?;
        // The head row's lock, held to commit, serialises appends: a second appender waits
        // here and then reads the head this one moved.
        let row = tx
            .query_one(
                "SELECT next_seq, head_hash FROM access_log_head WHERE id = 1 FOR UPDATE",
                &[],
            )
            .await
            .map_err(pg_error)?;
        let mut head = head_from_row(&row)?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO access_log (seq, at, user_name, role, client_id, query, rows, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .await
            .map_err(pg_error)?;
        let mut entries = Vec::with_capacity(accesses.len());
        for access in accesses {
            let entry = AccessEntry::chained(head, access);
            tx.execute(
                &insert,
                &[
                    &to_i64(entry.seq),
                    &entry.at,
                    &entry.user_name,
                    &entry.role,
                    &entry.client_id,
                    &entry.query,
                    &to_i64(entry.rows),
                    &entry.prev_hash.0.as_slice(),
                    &entry.hash.0.as_slice(),
                ],
            )
            .await
            .map_err(pg_error)?;
            head = AccessHead {
                next_seq: entry.seq + 1,
                hash: entry.hash,
            };
            entries.push(entry);
        }
        tx.execute(
            "UPDATE access_log_head SET next_seq = $1, head_hash = $2 WHERE id = 1",
            &[&to_i64(head.next_seq), &head.hash.0.as_slice()],
        )
        .await
        .map_err(pg_error)?;
        tx.commit().await.map_err(pg_error)?;
        Ok(entries)
    }

    async fn read_access(
        &self,
        filter: &AccessFilter,
        max_count: usize,
    ) -> Result<Vec<AccessEntry>> {
        let conn = self.conn().await?;
        let from = i64::try_from(filter.from_seq).unwrap_or(i64::MAX);
        let limit = i64::try_from(max_count).unwrap_or(i64::MAX);
        let stmt = conn
            .prepare_cached(READ_ACCESS_SQL)
            .await
            .map_err(pg_error)?;
        let rows = conn
            .query(
                &stmt,
                &[&from, &filter.client_id, &filter.user_name, &limit],
            )
            .await
            .map_err(pg_error)?;
        rows.iter().map(access_from_row).collect()
    }

    async fn access_head(&self) -> Result<AccessHead> {
        let conn = self.conn().await?;
        let row = conn
            .query_one(
                "SELECT next_seq, head_hash FROM access_log_head WHERE id = 1",
                &[],
            )
            .await
            .map_err(pg_error)?;
        head_from_row(&row)
    }
}
