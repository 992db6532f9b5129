//! The PostgreSQL writer: one task, one connection, group commit.
//!
//! Callers hand prepared appends to the writer over a channel. The writer takes everything
//! queued (up to [`MAX_GROUP_EVENTS`]) and records it in one transaction that holds the head
//! row lock from its first statement to COMMIT: positions come from the head row, never from a
//! sequence, so commit order is position order and a rollback burns nothing. Many concurrent
//! small appends then share one transaction and one WAL flush instead of queuing behind each
//! other's fsync (see `docs/adr/0001-ordering.md`).
//!
//! The writer never updates the head row itself: the statement trigger `events_continue_head`
//! (migration 6) checks that the new rows continue the log at the head and moves the head to
//! the last of them, for every INSERT and COPY into `events`, whichever role runs it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::pin_mut;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};
use uuid::Uuid;

use super::rows::{decode_row, to_i64, EVENT_COLUMNS};
use super::schema::NOTIFY_CHANNEL;
use crate::envelope::{AppendOutcome, Head, PreparedAppend, RecordedEvent};
use crate::error::StoreError;
use crate::hash::Hash;
use crate::plan::{self, GroupPlanner, PlanError};

/// Most events one group transaction takes; more waits for the next group.
pub const MAX_GROUP_EVENTS: usize = 20_000;
/// How often a request may be retried on the slow path before it is refused.
const MAX_SLOW_ATTEMPTS: u8 = 3;

/// One caller's atomic append, waiting for the writer.
#[derive(Debug)]
pub struct WriteRequest {
    pub appends: Vec<PreparedAppend>,
    /// Look up already-recorded event ids before planning (the idempotent-replay path).
    pub slow: bool,
    /// How many times the group holding this request hit an unforeseen duplicate id.
    pub attempts: u8,
    pub reply: oneshot::Sender<Result<Vec<AppendOutcome>, StoreError>>,
}

struct Statements {
    lock_head: Statement,
    versions: Statement,
    existing: Statement,
    copy: Statement,
    insert: Statement,
    announce: Statement,
}

pub(super) const COPY_COLUMNS: &str =
    "global_position, event_id, stream_id, category, stream_version, event_type, \
     schema_version, client_id, occurred_at, recorded_at, correlation_id, causation_id, actor, \
     source, data, prev_hash, hash";

const COPY_TYPES: [Type; 17] = [
    Type::INT8,
    Type::UUID,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::INT4,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::UUID,
    Type::UUID,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BYTEA,
    Type::BYTEA,
];

async fn prepare(client: &Client) -> Result<Statements, tokio_postgres::Error> {
    Ok(Statements {
        // The lock and the versions stay two statements, though they travel in one round
        // trip. Under READ COMMITTED a statement reads from a snapshot taken when it starts,
        // and only the locked row itself is re-read after waiting for the lock; versions read
        // in the locking statement would miss rows that another process's writer committed
        // while this one waited. The versions statement starts after the lock is granted.
        lock_head: client
            .prepare("SELECT next_position, head_hash, last_recorded_at FROM ledger_head WHERE id = 1 FOR UPDATE")
            .await?,
        versions: client
            // One index probe per stream (the max of `events_stream_version_key`), whatever
            // plan the server caches; `= ANY(...) GROUP BY` drifted to a sequential scan once
            // the server switched to a generic plan.
            .prepare(
                "SELECT s.id, (SELECT max(e.stream_version) FROM events e WHERE e.stream_id = s.id) \
                 FROM unnest($1::text[]) AS s(id)",
            )
            .await?,
        existing: client
            .prepare(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ANY($1)"))
            .await?,
        copy: client
            .prepare(&format!("COPY events ({COPY_COLUMNS}) FROM STDIN (FORMAT binary)"))
            .await?,
        insert: client
            .prepare(&format!(
                "INSERT INTO events ({COPY_COLUMNS}) SELECT * FROM unnest($1::int8[], $2::uuid[], \
                 $3::text[], $4::text[], $5::int8[], $6::text[], $7::int4[], $8::text[], \
                 $9::timestamptz[], $10::timestamptz[], $11::uuid[], $12::uuid[], $13::text[], \
                 $14::text[], $15::text[], $16::bytea[], $17::bytea[])"
            ))
            .await?,
        // The head as the insert trigger left it, announced to other processes' subscribers
        // in the same statement: the check that the head moved where the plan says costs no
        // statement of its own, and the payload is the head this transaction commits.
        announce: client
            .prepare(
                "SELECT h.next_position, h.head_hash, pg_notify($1, h.next_position::text) \
                 FROM ledger_head h WHERE h.id = 1",
            )
            .await?,
    })
}

struct Connection {
    client: Client,
    statements: Statements,
    /// False when row-level security applies to this connection's role on `events` (the
    /// writer role, as opposed to the owner): PostgreSQL refuses `COPY FROM` into such a table,
    /// so every group goes through the `INSERT … unnest` statement instead.
    copy_allowed: bool,
}

async fn connect(config: &tokio_postgres::Config) -> Result<Connection, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "opsledger writer connection ended");
        }
    });
    let statements = prepare(&client).await?;
    let rls_active: bool = client
        .query_one("SELECT row_security_active('events')", &[])
        .await?
        .get(0);
    Ok(Connection {
        client,
        statements,
        copy_allowed: !rls_active,
    })
}

/// How a whole group failed.
enum GroupFailure {
    /// A unique violation on `event_id` the planner could not foresee: redo every request of
    /// the group on the slow path.
    RetrySlow,
    /// The connection dropped; the outcome of the transaction is unknown to the caller.
    ConnectionLost(String),
    /// The database refused the transaction.
    Database(tokio_postgres::Error),
    /// A stored row could not be decoded.
    Corrupt(String),
}

impl From<tokio_postgres::Error> for GroupFailure {
    fn from(e: tokio_postgres::Error) -> Self {
        if super::is_connection_loss(&e) {
            GroupFailure::ConnectionLost(super::describe(&e))
        } else {
            GroupFailure::Database(e)
        }
    }
}

/// What happened to one request of a group.
enum RequestResult {
    Done(Result<Vec<AppendOutcome>, StoreError>),
    /// Needs the slow path in a later group.
    Requeue,
}

/// Runs the writer until every sender is dropped.
pub async fn run(
    config: tokio_postgres::Config,
    mut requests: mpsc::Receiver<WriteRequest>,
    wake: Arc<watch::Sender<u64>>,
) {
    let mut connection: Option<Connection> = None;
    let mut pending: VecDeque<WriteRequest> = VecDeque::new();
    loop {
        if pending.is_empty() {
            match requests.recv().await {
                Some(r) => pending.push_back(r),
                None => return,
            }
            // The replies of a group wake its callers together, and the first of them to
            // append again wakes this task, which tokio runs next, ahead of the callers
            // already queued (a task woken by the running one takes the worker's LIFO slot).
            // Taking the queue then would start a group of that one request and leave the
            // others to the group after it, paying the per-group work (head lock, versions,
            // trigger, NOTIFY, WAL flush) twice. Yielding lets every caller the runtime has
            // ready append first; with none ready it costs one pass of the scheduler.
            tokio::task::yield_now().await;
        }
        let mut queued_events: usize = pending.iter().map(events_in).sum();
        while queued_events < MAX_GROUP_EVENTS {
            match requests.try_recv() {
                Ok(r) => {
                    queued_events += events_in(&r);
                    pending.push_back(r);
                }
                Err(_) => break,
            }
        }
        let group = take_group(&mut pending);
        // A connection the server closed while the writer was idle (a restart, a terminated
        // backend) would fail this group before sending anything, and the caller would be
        // told the outcome is unknown. Replace it first.
        if connection.as_ref().is_some_and(|c| c.client.is_closed()) {
            connection = None;
        }
        if connection.is_none() {
            match connect(&config).await {
                Ok(c) => connection = Some(c),
                Err(e) => {
                    for r in group {
                        let _ = r.reply.send(Err(StoreError::Unavailable(e.to_string())));
                    }
                    continue;
                }
            }
        }
        let conn = connection.as_mut().expect("connected above");
        match write_group(conn, &group).await {
            Ok((results, next_position)) => {
                wake.send_if_modified(|v| {
                    let advanced = next_position > *v;
                    if advanced {
                        *v = next_position;
                    }
                    advanced
                });
                let mut requeue = Vec::new();
                for (mut request, result) in group.into_iter().zip(results) {
                    match result {
                        RequestResult::Done(r) => {
                            let _ = request.reply.send(r);
                        }
                        RequestResult::Requeue => {
                            request.slow = true;
                            requeue.push(request);
                        }
                    }
                }
                for r in requeue.into_iter().rev() {
                    pending.push_front(r);
                }
            }
            Err(GroupFailure::RetrySlow) => {
                // The slow path looks the ids up under the head lock, which turns the violation
                // into a replay or a DuplicateEventId. A request that keeps failing would mean
                // a writer outside the head lock; refuse it rather than loop.
                for mut r in group.into_iter().rev() {
                    r.slow = true;
                    r.attempts += 1;
                    if r.attempts > MAX_SLOW_ATTEMPTS {
                        let _ = r.reply.send(Err(StoreError::Unavailable(
                            "an event id keeps colliding outside the head lock".into(),
                        )));
                    } else {
                        pending.push_front(r);
                    }
                }
            }
            Err(GroupFailure::ConnectionLost(detail)) => {
                connection = None;
                for r in group {
                    let _ = r.reply.send(Err(StoreError::ConnectionLost {
                        detail: detail.clone(),
                    }));
                }
            }
            Err(GroupFailure::Corrupt(detail)) => {
                for r in group {
                    let _ = r.reply.send(Err(StoreError::Unavailable(detail.clone())));
                }
            }
            Err(GroupFailure::Database(e))
                if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) =>
            {
                // A role without the writer's grants (an auditor on a read-write handle, say).
                let detail = super::describe(&e);
                tracing::warn!(error = %detail, "opsledger write transaction not permitted");
                for r in group {
                    let _ = r.reply.send(Err(StoreError::PermissionDenied {
                        detail: detail.clone(),
                    }));
                }
            }
            Err(GroupFailure::Database(e)) => {
                let text = super::describe(&e);
                tracing::warn!(error = %text, "opsledger write transaction refused");
                for r in group {
                    let _ = r.reply.send(Err(StoreError::Unavailable(format!(
                        "the database refused the write transaction: {text}"
                    ))));
                }
            }
        }
    }
}

fn events_in(r: &WriteRequest) -> usize {
    r.appends.iter().map(|a| a.events.len()).sum()
}

/// Takes requests from the front while they fit in one group (always at least one).
fn take_group(pending: &mut VecDeque<WriteRequest>) -> Vec<WriteRequest> {
    let mut group = Vec::new();
    let mut events = 0usize;
    while let Some(front) = pending.front() {
        let n = events_in(front);
        if !group.is_empty() && events + n > MAX_GROUP_EVENTS {
            break;
        }
        events += n;
        group.push(pending.pop_front().expect("front exists"));
    }
    group
}

/// Most rows a group inserts with one pipelined `INSERT … SELECT FROM unnest(…)`; larger
/// groups use binary COPY, whose extra round trips are worth it only for bulk.
const INSERT_MAX_ROWS: usize = 256;

/// Runs one group as a transaction in two pipelined round trips (three with COPY):
/// `BEGIN; lock head; read versions [; read existing ids]`, then plan in memory, then
/// `INSERT (its trigger moves the head); read the head and NOTIFY; COMMIT`. Statements of a
/// round trip are sent back to back and executed in order by the server; if one fails, the
/// ones after it fail too and `COMMIT` becomes a rollback, so a partial group can never
/// commit.
async fn write_group(
    conn: &mut Connection,
    group: &[WriteRequest],
) -> Result<(Vec<RequestResult>, u64), GroupFailure> {
    let result = write_group_inner(conn, group).await;
    if let Err(GroupFailure::Database(_) | GroupFailure::RetrySlow) = &result {
        // Whatever was or was not sent, leave the connection outside any transaction.
        conn.client.batch_execute("ROLLBACK").await?;
    }
    result
}

async fn write_group_inner(
    conn: &mut Connection,
    group: &[WriteRequest],
) -> Result<(Vec<RequestResult>, u64), GroupFailure> {
    let client = &conn.client;
    let st = &conn.statements;
    let streams = plan::stream_ids(group.iter().map(|r| r.appends.as_slice()));
    let slow_ids: Vec<Uuid> = plan::event_ids(
        group
            .iter()
            .filter(|r| r.slow)
            .map(|r| r.appends.as_slice()),
    );
    let begin = client.batch_execute("BEGIN");
    let lock = client.query_one(&st.lock_head, &[]);
    let versions_params: [&(dyn ToSql + Sync); 1] = [&streams];
    let versions = client.query(&st.versions, &versions_params);
    let existing = async {
        if slow_ids.is_empty() {
            Ok(Vec::new())
        } else {
            client.query(&st.existing, &[&slow_ids]).await
        }
    };
    let (begun, head_row, version_rows, existing_rows) =
        tokio::join!(begin, lock, versions, existing);
    begun?;
    let head_row = head_row?;
    let version_rows = version_rows?;
    let existing_rows = existing_rows?;

    let next_position: i64 = head_row.get(0);
    let head_hash: &[u8] = head_row.get(1);
    let last_recorded_at: Option<DateTime<Utc>> = head_row.get(2);
    let next_position = u64::try_from(next_position).expect("the schema checks next_position >= 0");
    let head = next_position.checked_sub(1).map(|position| Head {
        position,
        hash: Hash::from_slice(head_hash).expect("the schema checks the head hash length"),
        recorded_at: last_recorded_at.expect("a non-empty ledger has a last recorded_at"),
    });
    let mut versions = HashMap::with_capacity(streams.len());
    for row in version_rows {
        let stream: String = row.get(0);
        if let Some(version) = row.get::<_, Option<i64>>(1) {
            versions.insert(
                stream,
                u64::try_from(version).expect("the schema checks stream_version >= 0"),
            );
        }
    }
    let mut existing: HashMap<Uuid, RecordedEvent> = HashMap::with_capacity(existing_rows.len());
    for row in &existing_rows {
        let e = decode_row(row).map_err(|e| GroupFailure::Corrupt(e.to_string()))?;
        existing.insert(e.event_id, e);
    }

    let mut planner = GroupPlanner::new(head, Utc::now(), versions);
    let mut rows: Vec<RecordedEvent> = Vec::new();
    let mut results = Vec::with_capacity(group.len());
    // Two requests of one group may carry the same event id (a retry racing its original).
    // The later one waits for the next group, where the lookup sees the first one recorded.
    let mut planned_ids: HashSet<Uuid> = HashSet::new();
    for request in group {
        let ids = request
            .appends
            .iter()
            .flat_map(|a| a.events.iter().map(|e| e.event_id));
        if ids.clone().any(|id| planned_ids.contains(&id)) {
            results.push(RequestResult::Requeue);
            continue;
        }
        match planner.plan_request(&request.appends, request.slow.then_some(&existing)) {
            Ok(planned) => {
                planned_ids.extend(ids);
                rows.extend(planned.rows);
                results.push(RequestResult::Done(Ok(planned.outcomes)));
            }
            Err(PlanError::MaybeReplay) => results.push(RequestResult::Requeue),
            Err(PlanError::Refused(e)) => results.push(RequestResult::Done(Err(e))),
        }
    }

    if rows.is_empty() {
        client.batch_execute("ROLLBACK").await?;
        return Ok((results, planner.next_position()));
    }
    let planned_head = planner.head().expect("rows were planned");
    let announce_params: [&(dyn ToSql + Sync); 1] = [&NOTIFY_CHANNEL];
    let classify = |e: tokio_postgres::Error| {
        let duplicate_id = e.code() == Some(&SqlState::UNIQUE_VIOLATION)
            && e.as_db_error().and_then(|d| d.constraint()) == Some("events_event_id_key");
        if duplicate_id {
            GroupFailure::RetrySlow
        } else {
            e.into()
        }
    };
    let bulk = rows.len() > INSERT_MAX_ROWS && conn.copy_allowed;
    let (inserted, announced, committed) = if bulk {
        let sink = client.copy_in(&st.copy).await?;
        copy_rows(sink, &rows).await.map_err(classify)?;
        let (a, c) = tokio::join!(
            client.query_opt(&st.announce, &announce_params),
            client.batch_execute("COMMIT"),
        );
        (Ok(0), a, c)
    } else {
        let columns = InsertColumns::new(&rows);
        let insert_params = columns.params();
        tokio::join!(
            client.execute(&st.insert, &insert_params),
            client.query_opt(&st.announce, &announce_params),
            client.batch_execute("COMMIT"),
        )
    };
    // Check in pipeline order: the first failure is the cause, the rest are its echoes.
    inserted.map_err(classify)?;
    let announced = announced?;
    committed?;
    // The trigger has already refused rows that do not continue the log at the head it
    // locked; this only catches a schema whose trigger no longer moves the head, which the
    // next group would otherwise meet as a collision on `global_position`.
    let head_row = announced.expect("the head row exists from the first migration on");
    let moved_to: i64 = head_row.get(0);
    let moved_hash: &[u8] = head_row.get(1);
    let planned_to = to_i64(planner.next_position());
    assert!(
        moved_to == planned_to && moved_hash == planned_head.hash.0.as_slice(),
        "the trigger events_continue_head moves the head to the last new row \
         (the head is at {moved_to}, the plan ends at {planned_to})"
    );
    Ok((results, planner.next_position()))
}

/// The planned rows as one array per column, for `INSERT … SELECT FROM unnest(…)`.
struct InsertColumns<'a> {
    position: Vec<i64>,
    event_id: Vec<Uuid>,
    stream_id: Vec<&'a str>,
    category: Vec<&'a str>,
    version: Vec<i64>,
    event_type: Vec<&'a str>,
    schema_version: Vec<i32>,
    client_id: Vec<Option<&'a str>>,
    occurred_at: Vec<DateTime<Utc>>,
    recorded_at: Vec<DateTime<Utc>>,
    correlation_id: Vec<Option<Uuid>>,
    causation_id: Vec<Option<Uuid>>,
    actor: Vec<Option<&'a str>>,
    source: Vec<Option<&'a str>>,
    data: Vec<&'a str>,
    prev_hash: Vec<&'a [u8]>,
    hash: Vec<&'a [u8]>,
}

impl<'a> InsertColumns<'a> {
    fn new(rows: &'a [RecordedEvent]) -> Self {
        Self {
            position: rows.iter().map(|e| to_i64(e.global_position)).collect(),
            event_id: rows.iter().map(|e| e.event_id).collect(),
            stream_id: rows.iter().map(|e| e.stream_id.as_str()).collect(),
            category: rows.iter().map(|e| e.stream_id.category()).collect(),
            version: rows.iter().map(|e| to_i64(e.stream_version)).collect(),
            event_type: rows.iter().map(|e| e.event_type.as_str()).collect(),
            schema_version: rows
                .iter()
                .map(|e| {
                    i32::try_from(e.schema_version).expect("schema versions are small numbers")
                })
                .collect(),
            client_id: rows.iter().map(|e| e.client_id.as_deref()).collect(),
            occurred_at: rows.iter().map(|e| e.occurred_at).collect(),
            recorded_at: rows.iter().map(|e| e.recorded_at).collect(),
            correlation_id: rows.iter().map(|e| e.metadata.correlation_id).collect(),
            causation_id: rows.iter().map(|e| e.metadata.causation_id).collect(),
            actor: rows.iter().map(|e| e.metadata.actor.as_deref()).collect(),
            source: rows.iter().map(|e| e.metadata.source.as_deref()).collect(),
            data: rows.iter().map(|e| e.data.as_str()).collect(),
            prev_hash: rows.iter().map(|e| &e.prev_hash.0[..]).collect(),
            hash: rows.iter().map(|e| &e.hash.0[..]).collect(),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 17] {
        [
            &self.position,
            &self.event_id,
            &self.stream_id,
            &self.category,
            &self.version,
            &self.event_type,
            &self.schema_version,
            &self.client_id,
            &self.occurred_at,
            &self.recorded_at,
            &self.correlation_id,
            &self.causation_id,
            &self.actor,
            &self.source,
            &self.data,
            &self.prev_hash,
            &self.hash,
        ]
    }
}

/// Writes `rows` through an open binary COPY and finishes it.
pub(super) async fn copy_rows(
    sink: tokio_postgres::CopyInSink<bytes::Bytes>,
    rows: &[RecordedEvent],
) -> Result<u64, tokio_postgres::Error> {
    let writer = BinaryCopyInWriter::new(sink, &COPY_TYPES);
    pin_mut!(writer);
    for e in rows {
        let position = to_i64(e.global_position);
        let version = to_i64(e.stream_version);
        let schema_version =
            i32::try_from(e.schema_version).expect("schema versions are small numbers");
        let prev: &[u8] = &e.prev_hash.0;
        let hash: &[u8] = &e.hash.0;
        let values: [&(dyn ToSql + Sync); 17] = [
            &position,
            &e.event_id,
            &e.stream_id.as_str(),
            &e.stream_id.category(),
            &version,
            &e.event_type,
            &schema_version,
            &e.client_id,
            &e.occurred_at,
            &e.recorded_at,
            &e.metadata.correlation_id,
            &e.metadata.causation_id,
            &e.metadata.actor,
            &e.metadata.source,
            &e.data,
            &prev,
            &hash,
        ];
        writer.as_mut().write(&values).await?;
    }
    writer.finish().await
}
