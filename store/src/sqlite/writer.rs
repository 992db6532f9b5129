//! The single writer: a dedicated thread owning the write connection, committing queued
//! appends in groups (one transaction and one fsync for many callers).
//!
//! Serializing every append through one thread is what makes commit order equal position
//! order (no holes, nothing a reader could skip) and lets each event's `prev_hash` be known
//! when it is written; throughput comes from grouping, not from concurrent writers.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use tokio::sync::{oneshot, watch};
use uuid::Uuid;

use crate::envelope::{AppendOutcome, Head, PreparedAppend, RecordedEvent};
use crate::error::StoreError;
use crate::plan::{event_ids, stream_ids, GroupPlanner, PlanError};

use super::rows::{
    copy_error, event_from_row, head_from_row, is_event_id_violation, map_sqlite_error, micros,
    sql_int, EVENT_COLUMNS, HEAD_SQL,
};

/// Most events committed in one group transaction. A single larger request (up to
/// `MAX_EVENTS_PER_APPEND`) still goes alone in its own group.
pub(crate) const MAX_GROUP_EVENTS: usize = 50_000;

const INSERT_SQL: &str = "INSERT INTO events (global_position, event_id, stream_id, category, \
    stream_version, event_type, schema_version, client_id, occurred_at, recorded_at, \
    correlation_id, causation_id, actor, source, data, prev_hash, hash) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";
const LAST_VERSION_SQL: &str = "SELECT max(stream_version) FROM events WHERE stream_id = ?1";
const UPDATE_HEAD_SQL: &str = "UPDATE ledger_head \
    SET next_position = ?1, head_hash = ?2, last_recorded_at = ?3 WHERE id = 0";

/// What a caller gets back for one request.
pub(crate) type Reply = Result<Vec<AppendOutcome>, StoreError>;

/// One validated append waiting for the writer.
#[derive(Debug)]
pub(crate) struct WriteRequest {
    pub appends: Vec<PreparedAppend>,
    pub reply: oneshot::Sender<Reply>,
}

impl WriteRequest {
    fn events(&self) -> usize {
        self.appends.iter().map(|a| a.events.len()).sum()
    }
}

/// Why a group transaction did not commit.
enum GroupFailure {
    /// An event id the planner did not know about is already recorded: replan every request
    /// of the group with the lookup.
    UnknownDuplicate,
    /// Every caller of the group gets this error; nothing was recorded.
    Failed(StoreError),
}

/// The writer thread's state.
pub(crate) struct Writer {
    conn: Connection,
    path: PathBuf,
    /// Set when the file could only be opened read-only: appends are refused up front.
    read_only: bool,
    notify: watch::Sender<u64>,
}

impl Writer {
    pub fn new(
        conn: Connection,
        path: PathBuf,
        read_only: bool,
        notify: watch::Sender<u64>,
    ) -> Self {
        Self {
            conn,
            path,
            read_only,
            notify,
        }
    }

    /// Runs until every sender is gone: takes the first queued request, drains what else is
    /// queued up to [`MAX_GROUP_EVENTS`], commits them together and answers each caller.
    pub fn run(mut self, queue: mpsc::Receiver<WriteRequest>) {
        let mut carried: Option<WriteRequest> = None;
        loop {
            let first = match carried.take() {
                Some(request) => request,
                None => match queue.recv() {
                    Ok(request) => request,
                    Err(mpsc::RecvError) => {
                        self.checkpoint_on_close();
                        return;
                    }
                },
            };
            let mut events = first.events();
            let mut group = vec![first];
            while events < MAX_GROUP_EVENTS {
                match queue.try_recv() {
                    Ok(request) => {
                        let more = request.events();
                        if events + more > MAX_GROUP_EVENTS {
                            carried = Some(request);
                            break;
                        }
                        events += more;
                        group.push(request);
                    }
                    Err(_) => break,
                }
            }
            self.commit_and_reply(group);
        }
    }

    /// Moves everything from the write-ahead log into the ledger file when the last handle
    /// closes, so the file alone is the whole ledger (a copy or backup of just the file is
    /// complete). Best effort: a reader of another process may hold the WAL open, and then
    /// SQLite does it at a later checkpoint.
    fn checkpoint_on_close(&mut self) {
        if self.read_only {
            return;
        }
        if let Err(e) = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
            tracing::debug!(error = %e, "checkpoint on close did not complete");
        }
    }

    fn commit_and_reply(&mut self, group: Vec<WriteRequest>) {
        let (appends, replies): (Vec<Vec<PreparedAppend>>, Vec<oneshot::Sender<Reply>>) =
            group.into_iter().map(|r| (r.appends, r.reply)).unzip();
        let requests: Vec<&[PreparedAppend]> = appends.iter().map(Vec::as_slice).collect();
        let (results, committed) = self.commit_group(&requests);
        for (reply, result) in replies.into_iter().zip(results) {
            // A caller that stopped waiting (its future was dropped) still had its append
            // recorded; there is nobody left to tell.
            let _ = reply.send(result);
        }
        if let Some(next_position) = committed {
            // Wakes subscribers once per transaction, after the commit is durable.
            self.notify.send_replace(next_position);
        }
    }

    /// Commits a group; returns one reply per request and, if anything new was recorded,
    /// the new next position.
    pub(crate) fn commit_group(
        &mut self,
        requests: &[&[PreparedAppend]],
    ) -> (Vec<Reply>, Option<u64>) {
        if self.read_only {
            let error = map_sqlite_error(
                &self.path,
                rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
                    Some("the ledger file was opened read-only".to_owned()),
                ),
            );
            return (
                requests.iter().map(|_| Err(copy_error(&error))).collect(),
                None,
            );
        }
        let attempt = match self.try_group(requests, false) {
            Err(GroupFailure::UnknownDuplicate) => self.try_group(requests, true),
            other => other,
        };
        match attempt {
            Ok(done) => done,
            Err(GroupFailure::UnknownDuplicate) => {
                // The lookup saw every recorded id, so the slow path cannot hit the unique
                // index: the file changed under the write lock, which SQLite rules out.
                let error = StoreError::Unavailable(
                    "an event id unique violation persisted on the slow path".to_owned(),
                );
                (
                    requests.iter().map(|_| Err(copy_error(&error))).collect(),
                    None,
                )
            }
            Err(GroupFailure::Failed(error)) => (
                requests.iter().map(|_| Err(copy_error(&error))).collect(),
                None,
            ),
        }
    }

    /// One attempt at a group in one `BEGIN IMMEDIATE` transaction. With `slow`, every
    /// request is planned with the lookup of its event ids.
    fn try_group(
        &mut self,
        requests: &[&[PreparedAppend]],
        slow: bool,
    ) -> Result<(Vec<Reply>, Option<u64>), GroupFailure> {
        let path = self.path.clone();
        let failed = |e: rusqlite::Error| GroupFailure::Failed(map_sqlite_error(&path, e));
        let now = chrono::Utc::now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed)?;
        let head = tx
            .query_row(HEAD_SQL, [], |row| Ok(head_from_row(row)))
            .map_err(failed)?
            .and_then(|h| h.consistent())
            .map_err(GroupFailure::Failed)?;
        let versions = load_versions(&tx, requests).map_err(failed)?;
        let mut planner = GroupPlanner::new(head, now, versions);
        let start = planner.next_position();
        let mut results = Vec::with_capacity(requests.len());
        for request in requests {
            let planned = if slow {
                plan_slow(&tx, &mut planner, request)?
            } else {
                match planner.plan_request(request, None) {
                    Err(PlanError::MaybeReplay) => plan_slow(&tx, &mut planner, request)?,
                    other => other,
                }
            };
            match planned {
                Ok(plan) => {
                    insert_rows(&tx, &plan.rows).map_err(|e| {
                        if is_event_id_violation(&e) {
                            GroupFailure::UnknownDuplicate
                        } else {
                            failed(e)
                        }
                    })?;
                    results.push(Ok(plan.outcomes));
                }
                Err(PlanError::Refused(error)) => results.push(Err(error)),
                Err(PlanError::MaybeReplay) => {
                    unreachable!("the planner answers finally when given the lookup")
                }
            }
        }
        let end = planner.next_position();
        if end == start {
            // Nothing new (every request was refused or replayed): no write, no fsync.
            drop(tx);
            return Ok((results, None));
        }
        let new_head: Head = planner.head().expect("events were planned");
        tx.prepare_cached(UPDATE_HEAD_SQL)
            .and_then(|mut stmt| {
                stmt.execute((
                    sql_int(end),
                    &new_head.hash.0[..],
                    micros(new_head.recorded_at),
                ))
            })
            .map_err(failed)?;
        tx.commit().map_err(failed)?;
        Ok((results, Some(end)))
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("path", &self.path)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// Plans one request with the lookup of its event ids. Rows of earlier requests in this
/// group are already inserted, so the lookup sees them too.
fn plan_slow(
    tx: &Transaction<'_>,
    planner: &mut GroupPlanner,
    request: &[PreparedAppend],
) -> Result<Result<crate::plan::PlannedRequest, PlanError>, GroupFailure> {
    let existing = load_existing(tx, &event_ids([request])).map_err(GroupFailure::Failed)?;
    Ok(planner.plan_request(request, Some(&existing)))
}

/// The stored last version of every stream the group touches that has events.
fn load_versions(
    tx: &Transaction<'_>,
    requests: &[&[PreparedAppend]],
) -> rusqlite::Result<HashMap<String, u64>> {
    let mut stmt = tx.prepare_cached(LAST_VERSION_SQL)?;
    let mut versions = HashMap::new();
    for stream in stream_ids(requests.iter().copied()) {
        let last: Option<i64> = stmt.query_row([&stream], |row| row.get(0))?;
        if let Some(last) = last {
            let last = u64::try_from(last)
                .map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, last))?;
            versions.insert(stream, last);
        }
    }
    Ok(versions)
}

/// The recorded events with any of `ids`.
fn load_existing(
    tx: &Transaction<'_>,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, RecordedEvent>, StoreError> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?1");
    let mut stmt = tx.prepare_cached(&sql).map_err(StoreError::Sqlite)?;
    let mut found = HashMap::new();
    for id in ids {
        let row = stmt
            .query_row([&id.as_bytes()[..]], |row| Ok(event_from_row(row)))
            .optional()
            .map_err(StoreError::Sqlite)?;
        if let Some(event) = row {
            found.insert(*id, event?);
        }
    }
    Ok(found)
}

fn insert_rows(tx: &Transaction<'_>, rows: &[RecordedEvent]) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(INSERT_SQL)?;
    for row in rows {
        let m = &row.metadata;
        stmt.execute(rusqlite::params![
            sql_int(row.global_position),
            &row.event_id.as_bytes()[..],
            row.stream_id.as_str(),
            row.stream_id.category(),
            sql_int(row.stream_version),
            row.event_type,
            row.schema_version,
            row.client_id,
            micros(row.occurred_at),
            micros(row.recorded_at),
            m.correlation_id.as_ref().map(|u| &u.as_bytes()[..]),
            m.causation_id.as_ref().map(|u| &u.as_bytes()[..]),
            m.actor,
            m.source,
            row.data,
            &row.prev_hash.0[..],
            &row.hash.0[..],
        ])?;
    }
    Ok(())
}
