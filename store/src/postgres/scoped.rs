//! Reads as a database role, the way PostgREST serves a request: one transaction per handle,
//! `SET LOCAL ROLE` to the role the desk user maps to, and every read inside it, so row-level
//! security decides what comes back, not the server (`docs/adr/0007-desk-access.md`).
//!
//! The role is set with `set_config('role', $1, true)`, the function form of `SET LOCAL ROLE`
//! that takes the name as a bind parameter. The transaction is `REPEATABLE READ, READ ONLY`: a
//! request's reads see one snapshot, and nothing it runs can write. The connecting role must
//! be a member of the role set (the owner or a superuser is; any other serving role needs
//! `GRANT <role> TO <serving role>`); otherwise the database refuses with
//! [`StoreError::PermissionDenied`].

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::Object;
use tokio::sync::{Mutex, MutexGuard};

use crate::api::{
    checked_position, ClientReadModel, Direction, EventFilter, EventStore, PositionRange,
};
use crate::desk::{AccessEntry, AccessFilter};
use crate::envelope::{AppendOutcome, Head, RecordedEvent, StreamAppend, StreamId};
use crate::error::{Result, StoreError};
use crate::facts::{FactCheckpoint, FactQuery, FactRow, PeriodQuery};
use crate::hash::{ChainBreak, ChainWalker, Hash, VerifyReport};
use crate::keys::DataKey;
use crate::subscription::Subscription;

use super::roles::{RoleName, AUDITOR_GROUP, CLIENT_READER_GROUP, WRITER_GROUP};
use super::{desk, facts, pg_error, reads, PgStore};

/// Events per page when a scoped handle walks the chain.
const SCOPED_VERIFY_PAGE: usize = 10_000;

/// A read-only view of a [`PgStore`] as one database role, inside one transaction. Cheap to
/// clone; the transaction ends (rolled back: it wrote nothing) when the last clone is dropped.
/// Meant for one request: it reads one snapshot, so a subscription on it never sees a later
/// append.
#[derive(Clone, Debug)]
pub struct ScopedPgStore {
    inner: Arc<Scoped>,
}

#[derive(Debug)]
struct Scoped {
    role: String,
    /// The head of the handle's snapshot, read as the serving role before the role was set.
    head: Option<Head>,
    base: PgStore,
    /// The connection holding the open transaction; `None` only while dropping.
    conn: Mutex<Option<Object>>,
}

impl Drop for Scoped {
    fn drop(&mut self) {
        let Some(conn) = self.conn.get_mut().take() else {
            return;
        };
        // The connection must not go back to the pool inside the transaction. Ending it needs
        // a round trip, so it runs on the runtime when there is one; otherwise (or if the
        // rollback fails) the connection is taken out of the pool and closed.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if conn.batch_execute("ROLLBACK").await.is_err() {
                        drop(Object::take(conn));
                    }
                });
            }
            Err(_) => drop(Object::take(conn)),
        }
    }
}

/// Checks the role a handle is scoped to: a group role of ADR 0005 or a login role name.
fn checked_role(role: &str) -> Result<&str> {
    if [AUDITOR_GROUP, CLIENT_READER_GROUP, WRITER_GROUP].contains(&role) {
        return Ok(role);
    }
    RoleName::parse(role)?;
    Ok(role)
}

/// Runs one read on the handle's connection inside a savepoint, so that a read the database
/// refuses (a table the role has no grant on) leaves the transaction usable for the next one
/// instead of aborting it; calls on clones of one handle take turns.
macro_rules! in_savepoint {
    ($handle:expr, $conn:ident => $read:expr) => {{
        let guard = $handle.lock().await;
        let $conn = on(&guard);
        $conn
            .batch_execute("SAVEPOINT scoped_read")
            .await
            .map_err(pg_error)?;
        let result = $read;
        let end = if result.is_ok() {
            "RELEASE SAVEPOINT scoped_read"
        } else {
            "ROLLBACK TO SAVEPOINT scoped_read"
        };
        $conn.batch_execute(end).await.map_err(pg_error)?;
        result
    }};
}

/// The connection in a held guard.
fn on<'a>(guard: &'a MutexGuard<'_, Option<Object>>) -> &'a Object {
    guard
        .as_ref()
        .expect("the connection is taken only when the handle is dropped")
}

impl PgStore {
    /// Opens a transaction on a pooled connection and sets its role to `role` for the length
    /// of the transaction: every read through the returned handle runs as that role, under its
    /// grants and row-level security. Only the head of the snapshot is read before, as the
    /// serving role, so that a report through the handle can state what it reflects. `role` is a login role (a client reader's, mapped in
    /// `client_readers`) or one of the group roles (`opsledger_auditor`).
    pub async fn scoped(&self, role: &str) -> Result<ScopedPgStore> {
        let role = checked_role(role)?;
        let conn = self.conn().await?;
        conn.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(pg_error)?;
        // The first read of the transaction fixes its snapshot, so this is the head of exactly
        // what the handle will read. It is read as the serving role: a client reader has no
        // grant on `ledger_head` (ADR 0005), yet every answer of the desk states the position
        // and head hash it reflects (issue 14), which a reader's own events already bound.
        let head = match reads::head(&conn).await {
            Ok(head) => head,
            Err(e) => {
                drop(Object::take(conn));
                return Err(e);
            }
        };
        let handle = ScopedPgStore {
            inner: Arc::new(Scoped {
                role: role.to_owned(),
                head,
                base: self.clone(),
                conn: Mutex::new(Some(conn)),
            }),
        };
        // On failure the handle is dropped, which rolls the transaction back.
        {
            let guard = handle.lock().await;
            on(&guard)
                .execute("SELECT set_config('role', $1, true)", &[&role])
                .await
                .map_err(pg_error)?;
        }
        Ok(handle)
    }
}

impl ScopedPgStore {
    /// The database role this handle reads as.
    pub fn role(&self) -> &str {
        &self.inner.role
    }

    /// The transaction's connection, held for one call; calls on clones of one handle take
    /// turns.
    async fn lock(&self) -> MutexGuard<'_, Option<Object>> {
        self.inner.conn.lock().await
    }

    /// The access log as this role may read it (auditors only; a client reader is refused by
    /// the database).
    pub async fn read_access(
        &self,
        filter: &AccessFilter,
        max_count: usize,
    ) -> Result<Vec<AccessEntry>> {
        let from = i64::try_from(filter.from_seq).unwrap_or(i64::MAX);
        let limit = i64::try_from(max_count).unwrap_or(i64::MAX);
        in_savepoint!(self, conn => match conn
            .query(
                desk::READ_ACCESS_SQL,
                &[&from, &filter.client_id, &filter.user_name, &limit],
            )
            .await
        {
            Ok(rows) => rows.iter().map(desk::access_from_row).collect(),
            Err(e) => Err(pg_error(e)),
        })
    }
}

#[async_trait]
impl EventStore for ScopedPgStore {
    async fn append_batch(&self, _batch: Vec<StreamAppend>) -> Result<Vec<AppendOutcome>> {
        Err(StoreError::ReadOnly)
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from_version: u64,
        direction: Direction,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>> {
        in_savepoint!(self, conn => reads::read_stream(conn, stream_id, from_version, direction, max_count).await)
    }

    async fn read_all(&self, from_position: u64, max_count: usize) -> Result<Vec<RecordedEvent>> {
        in_savepoint!(self, conn => reads::read_all(conn, from_position, max_count).await)
    }

    async fn read_filtered(
        &self,
        filter: &EventFilter,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>> {
        in_savepoint!(self, conn => reads::read_filtered(conn, filter, from_position, max_count).await)
    }

    /// The head of the handle's snapshot (see [`PgStore::scoped`]): the same for every read of
    /// the request, whatever the role may read of `ledger_head` itself.
    async fn head(&self) -> Result<Option<Head>> {
        Ok(self.inner.head)
    }

    /// Walks the chain as this role sees it, in the handle's snapshot. Only a role that sees
    /// every event can find it intact: under a client reader's policy the first hidden
    /// position is a gap (and the head is not even readable).
    async fn verify(&self, range: PositionRange) -> Result<VerifyReport> {
        checked_position("verify range start", range.from)?;
        let head = self.head().await?.map(|h| (h.position, h.hash));
        let anchor = match range.from.checked_sub(1) {
            None => Hash::GENESIS,
            Some(before) => match self.read_all(before, 1).await?.first() {
                Some(e) if e.global_position == before => e.hash,
                _ => {
                    return Ok(VerifyReport::Broken {
                        position: before,
                        reason: ChainBreak::MissingEvents {
                            expected_last: before,
                            found_last: None,
                        },
                        events_checked: 0,
                    })
                }
            },
        };
        let last = match (range.to, head) {
            (Some(to), Some((hp, _))) => to.min(hp),
            (None, Some((hp, _))) => hp,
            (_, None) => return Ok(ChainWalker::new(range.from, anchor).finish(None)),
        };
        let mut walker = ChainWalker::new(range.from, anchor);
        let mut next = range.from;
        while next <= last {
            let page = self.read_all(next, SCOPED_VERIFY_PAGE).await?;
            let page: Vec<_> = page
                .into_iter()
                .filter(|e| e.global_position <= last)
                .collect();
            let Some(end) = page.last().map(|e| e.global_position) else {
                break;
            };
            if !walker.check(&page) {
                break;
            }
            next = end + 1;
        }
        let reaches_head = head.is_some_and(|(hp, _)| hp == last);
        Ok(walker.finish(if reaches_head { head } else { None }))
    }

    async fn fact_checkpoint(&self) -> Result<Option<FactCheckpoint>> {
        in_savepoint!(self, conn => facts::checkpoint(conn).await)
    }

    async fn write_facts(
        &self,
        _page_start: u64,
        _checkpoint: FactCheckpoint,
        _rows: Vec<FactRow>,
    ) -> Result<()> {
        Err(StoreError::ReadOnly)
    }

    async fn reset_facts(&self, _expected: Option<FactCheckpoint>, _version: u32) -> Result<()> {
        Err(StoreError::ReadOnly)
    }

    async fn read_facts(&self, query: &FactQuery, max_count: usize) -> Result<Vec<FactRow>> {
        in_savepoint!(self, conn => facts::read(conn, query, max_count).await)
    }

    async fn read_period_facts(&self, query: &PeriodQuery) -> Result<Vec<FactRow>> {
        in_savepoint!(self, conn => facts::read_period(conn, query).await)
    }

    /// Data keys are the writer's alone (ADR 0005); a scoped handle reads them as its role,
    /// which the database refuses to every role but the writer, and never creates one.
    async fn data_key(&self, client_id: &str, create: bool) -> Result<DataKey> {
        crate::keys::validate_key_client_id(client_id)?;
        let found = in_savepoint!(self, conn => super::keys::load(conn, client_id).await)?;
        if create && found == DataKey::Missing {
            return Err(StoreError::ReadOnly);
        }
        Ok(found)
    }

    async fn destroy_data_key(&self, _client_id: &str, _reason: &str) -> Result<bool> {
        Err(StoreError::ReadOnly)
    }

    async fn publish_read_model(&self, _model: &ClientReadModel) -> Result<()> {
        Err(StoreError::ReadOnly)
    }

    async fn client_read_models(&self, client_id: &str) -> Result<Vec<ClientReadModel>> {
        in_savepoint!(self, conn => reads::client_read_models(conn, client_id).await)
    }

    fn subscribe(&self, from_position: u64) -> Subscription {
        Subscription::new(
            Box::new(self.clone()),
            from_position,
            self.inner.base.inner.wake.clone(),
        )
    }
}
