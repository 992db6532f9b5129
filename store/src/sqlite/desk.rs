//! The desk's tables in the ledger file: users, tokens, sessions and the chained access log
//! (`crate::desk`). Writes run on the side write connection, reads on the reader pool.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, Connection, ErrorCode, Row, TransactionBehavior};

use crate::desk::{
    validate_access, validate_desk_name, validate_token_id, validate_user, AccessEntry,
    AccessFilter, AccessHead, DeskSession, DeskStore, DeskToken, DeskUser, NewAccess,
};
use crate::error::{Result, StoreError};
use crate::hash::Hash;

use super::rows::sql_bound;
use super::SqliteStore;

fn corrupt(table: &'static str, key: &str, detail: impl Into<String>) -> StoreError {
    StoreError::CorruptDeskRow {
        table,
        key: key.to_owned(),
        detail: detail.into(),
    }
}

fn instant(table: &'static str, key: &str, micros: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| corrupt(table, key, format!("instant {micros} is out of range")))
}

fn hash(table: &'static str, key: &str, bytes: &[u8]) -> Result<Hash> {
    Hash::from_slice(bytes).ok_or_else(|| corrupt(table, key, "a hash is not 32 bytes"))
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

fn user_from_row(row: &Row<'_>) -> Result<DeskUser> {
    let name: String = row.get(0).map_err(StoreError::Sqlite)?;
    let created: i64 = row.get(4).map_err(StoreError::Sqlite)?;
    let disabled: Option<i64> = row.get(5).map_err(StoreError::Sqlite)?;
    Ok(DeskUser {
        role: row.get(1).map_err(StoreError::Sqlite)?,
        client_id: row.get(2).map_err(StoreError::Sqlite)?,
        password_hash: row.get(3).map_err(StoreError::Sqlite)?,
        created_at: instant("desk_users", &name, created)?,
        disabled_at: disabled
            .map(|d| instant("desk_users", &name, d))
            .transpose()?,
        name,
    })
}

fn token_from_row(row: &Row<'_>) -> Result<DeskToken> {
    let id: String = row.get(0).map_err(StoreError::Sqlite)?;
    let secret: Vec<u8> = row.get(2).map_err(StoreError::Sqlite)?;
    let created: i64 = row.get(3).map_err(StoreError::Sqlite)?;
    let revoked: Option<i64> = row.get(4).map_err(StoreError::Sqlite)?;
    Ok(DeskToken {
        user_name: row.get(1).map_err(StoreError::Sqlite)?,
        secret_hash: hash("desk_tokens", &id, &secret)?,
        created_at: instant("desk_tokens", &id, created)?,
        revoked_at: revoked
            .map(|r| instant("desk_tokens", &id, r))
            .transpose()?,
        id,
    })
}

fn session_from_row(row: &Row<'_>) -> Result<DeskSession> {
    let id: Vec<u8> = row.get(0).map_err(StoreError::Sqlite)?;
    let id_hash = hash("desk_sessions", "<session>", &id)?;
    let created: i64 = row.get(2).map_err(StoreError::Sqlite)?;
    let expires: i64 = row.get(3).map_err(StoreError::Sqlite)?;
    Ok(DeskSession {
        id_hash,
        user_name: row.get(1).map_err(StoreError::Sqlite)?,
        created_at: instant("desk_sessions", "<session>", created)?,
        expires_at: instant("desk_sessions", "<session>", expires)?,
    })
}

fn access_from_row(row: &Row<'_>) -> Result<AccessEntry> {
    let seq: i64 = row.get(0).map_err(StoreError::Sqlite)?;
    let key = seq.to_string();
    let seq = u64::try_from(seq).map_err(|_| corrupt("access_log", &key, "negative seq"))?;
    let at: i64 = row.get(1).map_err(StoreError::Sqlite)?;
    let rows: i64 = row.get(6).map_err(StoreError::Sqlite)?;
    let prev: Vec<u8> = row.get(7).map_err(StoreError::Sqlite)?;
    let own: Vec<u8> = row.get(8).map_err(StoreError::Sqlite)?;
    Ok(AccessEntry {
        seq,
        at: instant("access_log", &key, at)?,
        user_name: row.get(2).map_err(StoreError::Sqlite)?,
        role: row.get(3).map_err(StoreError::Sqlite)?,
        client_id: row.get(4).map_err(StoreError::Sqlite)?,
        query: row.get(5).map_err(StoreError::Sqlite)?,
        rows: u64::try_from(rows).map_err(|_| corrupt("access_log", &key, "negative rows"))?,
        prev_hash: hash("access_log", &key, &prev)?,
        hash: hash("access_log", &key, &own)?,
    })
}

fn one<T>(
    conn: &Connection,
    sql: &str,
    key: Value,
    decode: fn(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(StoreError::Sqlite)?;
    let mut rows = stmt.query([key]).map_err(StoreError::Sqlite)?;
    match rows.next().map_err(StoreError::Sqlite)? {
        Some(row) => decode(row).map(Some),
        None => Ok(None),
    }
}

fn head(conn: &Connection) -> Result<AccessHead> {
    let (next, bytes): (i64, Vec<u8>) = conn
        .query_row(
            "SELECT next_seq, head_hash FROM access_log_head WHERE id = 0",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(StoreError::Sqlite)?;
    Ok(AccessHead {
        next_seq: u64::try_from(next)
            .map_err(|_| corrupt("access_log_head", "0", "negative next_seq"))?,
        hash: hash("access_log_head", "0", &bytes)?,
    })
}

/// Appends under an immediate transaction: the head is read and moved while this connection
/// holds the file's write lock, so two processes cannot chain two entries to the same head.
fn append(conn: &Connection, accesses: Vec<NewAccess>) -> Result<Vec<AccessEntry>> {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(StoreError::Sqlite)?;
    let mut head = head(&tx)?;
    let mut entries = Vec::with_capacity(accesses.len());
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO access_log (seq, at, user_name, role, client_id, query, rows, prev_hash, hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(StoreError::Sqlite)?;
        for access in accesses {
            let entry = AccessEntry::chained(head, access);
            insert
                .execute(params![
                    sql_bound(entry.seq),
                    entry.at.timestamp_micros(),
                    entry.user_name,
                    entry.role,
                    entry.client_id,
                    entry.query,
                    sql_bound(entry.rows),
                    entry.prev_hash.0.as_slice(),
                    entry.hash.0.as_slice(),
                ])
                .map_err(StoreError::Sqlite)?;
            head = AccessHead {
                next_seq: entry.seq + 1,
                hash: entry.hash,
            };
            entries.push(entry);
        }
    }
    tx.execute(
        "UPDATE access_log_head SET next_seq = ?1, head_hash = ?2 WHERE id = 0",
        params![sql_bound(head.next_seq), head.hash.0.as_slice()],
    )
    .map_err(StoreError::Sqlite)?;
    tx.commit().map_err(StoreError::Sqlite)?;
    Ok(entries)
}

fn read_access(
    conn: &Connection,
    filter: &AccessFilter,
    max_count: usize,
) -> Result<Vec<AccessEntry>> {
    // Fixed clauses with placeholders; a filter left unset matches everything through
    // `?n IS NULL`.
    let sql = "SELECT seq, at, user_name, role, client_id, query, rows, prev_hash, hash \
               FROM access_log WHERE seq >= ?1 AND (?2 IS NULL OR client_id = ?2) \
               AND (?3 IS NULL OR user_name = ?3) ORDER BY seq LIMIT ?4";
    let mut stmt = conn.prepare_cached(sql).map_err(StoreError::Sqlite)?;
    let mut rows = stmt
        .query(params![
            sql_bound(filter.from_seq),
            filter.client_id,
            filter.user_name,
            sql_bound(max_count),
        ])
        .map_err(StoreError::Sqlite)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(StoreError::Sqlite)? {
        out.push(access_from_row(row)?);
    }
    Ok(out)
}

#[async_trait]
impl DeskStore for SqliteStore {
    async fn insert_user(&self, user: &DeskUser) -> Result<()> {
        validate_user(user)?;
        let user = user.clone();
        self.side_write(move |conn| {
            conn.execute(
                "INSERT INTO desk_users (name, role, client_id, password_hash, created_at, disabled_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    user.name,
                    user.role,
                    user.client_id,
                    user.password_hash,
                    user.created_at.timestamp_micros(),
                    user.disabled_at.map(|d| d.timestamp_micros()),
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::DeskUserExists {
                        name: user.name.clone(),
                    }
                } else {
                    StoreError::Sqlite(e)
                }
            })?;
            Ok(())
        })
        .await
    }

    async fn user(&self, name: &str) -> Result<Option<DeskUser>> {
        validate_desk_name(name)?;
        let name = name.to_owned();
        self.read(move |r| {
            r.with(|conn| {
                one(
                    conn,
                    "SELECT name, role, client_id, password_hash, created_at, disabled_at \
                     FROM desk_users WHERE name = ?1",
                    Value::Text(name),
                    user_from_row,
                )
            })
        })
        .await
    }

    async fn users(&self) -> Result<Vec<DeskUser>> {
        self.read(|r| {
            r.with(|conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT name, role, client_id, password_hash, created_at, disabled_at \
                         FROM desk_users ORDER BY name",
                    )
                    .map_err(StoreError::Sqlite)?;
                let mut rows = stmt.query([]).map_err(StoreError::Sqlite)?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().map_err(StoreError::Sqlite)? {
                    out.push(user_from_row(row)?);
                }
                Ok(out)
            })
        })
        .await
    }

    async fn disable_user(&self, name: &str, at: DateTime<Utc>) -> Result<bool> {
        validate_desk_name(name)?;
        let name = name.to_owned();
        self.side_write(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE desk_users SET disabled_at = ?2 WHERE name = ?1 AND disabled_at IS NULL",
                    params![name, at.timestamp_micros()],
                )
                .map_err(StoreError::Sqlite)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn insert_token(&self, token: &DeskToken) -> Result<()> {
        validate_token_id(&token.id)?;
        validate_desk_name(&token.user_name)?;
        let token = token.clone();
        self.side_write(move |conn| {
            conn.execute(
                "INSERT INTO desk_tokens (id, user_name, secret_hash, created_at, revoked_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    token.id,
                    token.user_name,
                    token.secret_hash.0.as_slice(),
                    token.created_at.timestamp_micros(),
                    token.revoked_at.map(|r| r.timestamp_micros()),
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::DeskTokenExists {
                        id: token.id.clone(),
                    }
                } else {
                    StoreError::Sqlite(e)
                }
            })?;
            Ok(())
        })
        .await
    }

    async fn token(&self, id: &str) -> Result<Option<DeskToken>> {
        validate_token_id(id)?;
        let id = id.to_owned();
        self.read(move |r| {
            r.with(|conn| {
                one(
                    conn,
                    "SELECT id, user_name, secret_hash, created_at, revoked_at \
                     FROM desk_tokens WHERE id = ?1",
                    Value::Text(id),
                    token_from_row,
                )
            })
        })
        .await
    }

    async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<bool> {
        validate_token_id(id)?;
        let id = id.to_owned();
        self.side_write(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE desk_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, at.timestamp_micros()],
                )
                .map_err(StoreError::Sqlite)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn insert_session(&self, session: &DeskSession) -> Result<()> {
        validate_desk_name(&session.user_name)?;
        let session = session.clone();
        self.side_write(move |conn| {
            conn.execute(
                "INSERT INTO desk_sessions (id_hash, user_name, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    session.id_hash.0.as_slice(),
                    session.user_name,
                    session.created_at.timestamp_micros(),
                    session.expires_at.timestamp_micros(),
                ],
            )
            .map_err(StoreError::Sqlite)?;
            Ok(())
        })
        .await
    }

    async fn session(&self, id_hash: &Hash) -> Result<Option<DeskSession>> {
        let key = id_hash.0.to_vec();
        self.read(move |r| {
            r.with(|conn| {
                one(
                    conn,
                    "SELECT id_hash, user_name, created_at, expires_at \
                     FROM desk_sessions WHERE id_hash = ?1",
                    Value::Blob(key),
                    session_from_row,
                )
            })
        })
        .await
    }

    async fn delete_session(&self, id_hash: &Hash) -> Result<bool> {
        let key = id_hash.0.to_vec();
        self.side_write(move |conn| {
            let changed = conn
                .execute("DELETE FROM desk_sessions WHERE id_hash = ?1", [key])
                .map_err(StoreError::Sqlite)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        self.side_write(move |conn| {
            let deleted = conn
                .execute(
                    "DELETE FROM desk_sessions WHERE expires_at <= ?1",
                    [now.timestamp_micros()],
                )
                .map_err(StoreError::Sqlite)?;
            Ok(u64::try_from(deleted).expect("a row count fits in u64"))
        })
        .await
    }

    async fn append_access_batch(&self, accesses: Vec<NewAccess>) -> Result<Vec<AccessEntry>> {
        for access in &accesses {
            validate_access(access)?;
        }
        if accesses.is_empty() {
            return Ok(Vec::new());
        }
        self.side_write(move |conn| append(conn, accesses)).await
    }

    async fn read_access(
        &self,
        filter: &AccessFilter,
        max_count: usize,
    ) -> Result<Vec<AccessEntry>> {
        let filter = filter.clone();
        self.read(move |r| r.with(|conn| read_access(conn, &filter, max_count)))
            .await
    }

    async fn access_head(&self) -> Result<AccessHead> {
        self.read(|r| r.with(|conn| head(conn))).await
    }
}
