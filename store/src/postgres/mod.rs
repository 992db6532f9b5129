//! The PostgreSQL backend: the production store and the path past one machine.
//!
//! Writes go through one writer task per store handle (group commit, see [`writer`]); reads
//! use a connection pool. A LISTEN connection turns other processes' commits into wake-ups for
//! subscribers; polling covers the gaps. On a hot standby, which cannot LISTEN, the wake-ups come
//! from polling the replicated head instead ([`standby`]).

pub mod baseline;
mod copy_out;
mod desk;
mod facts;
pub mod indexes;
mod keys;
mod reads;
pub mod roles;
mod rows;
pub mod schema;
mod scoped;
pub mod standby;
mod verify;
mod writer;

use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::api::{
    checked_position, validate_read_model, ClientReadModel, Direction, EventFilter, EventStore,
    PositionRange,
};
use crate::envelope::{prepare_batch, AppendOutcome, Head, RecordedEvent, StreamAppend, StreamId};
use crate::error::{Result, StoreError};
use crate::facts::{validate_fact, FactCheckpoint, FactQuery, FactRow, PeriodQuery};
use crate::hash::{looks_past_head, with_rows_past_head, ChainWalker, Hash, VerifyReport};
use crate::keys::{validate_destroy_reason, validate_key_client_id, DataKey, Key32};
use crate::replica::ReplicaLag;
use crate::subscription::Subscription;
use rows::to_i64;
use schema::NOTIFY_CHANNEL;
pub use scoped::ScopedPgStore;

/// Read connections kept open per store handle.
pub const READ_POOL_SIZE: usize = 8;
/// Requests that may wait for the writer before callers feel back-pressure.
const WRITER_QUEUE_REQUESTS: usize = 4096;
/// How long the LISTEN task waits before reconnecting after losing its connection.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

/// The PostgreSQL event store. Cheap to clone: clones share the pool and the writer.
#[derive(Clone, Debug)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// `None` for a handle opened with [`PgStore::connect_read_only`].
    writer: Option<mpsc::Sender<writer::WriteRequest>>,
    wake: watch::Receiver<u64>,
    listener: JoinHandle<()>,
    /// Whether the server was a standby in recovery when the handle was opened.
    standby: bool,
    /// What currently wakes this handle's subscribers, a [`WakeSource`] as `u8`, set by the
    /// listener task.
    wake_source: Arc<AtomicU8>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_error(e),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// True when the error means the connection is gone: closed by the driver, or the server
/// ending the session (SQLSTATE class 08 "connection exception" or class 57P "operator
/// intervention", e.g. `pg_terminate_backend` or a shutdown).
pub(crate) fn is_connection_loss(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            let code = code.code();
            code.starts_with("08") || code.starts_with("57P")
        }
        None => e.as_db_error().is_none(),
    }
}

/// The server's own message and SQLSTATE when there is one; the driver's text otherwise.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Maps a driver error: a dropped connection is `ConnectionLost`, a privilege the role lacks
/// (SQLSTATE 42501, also raised by the immutability triggers) is `PermissionDenied`, anything
/// else is the database's own answer.
pub(crate) fn pg_error(e: tokio_postgres::Error) -> StoreError {
    if is_connection_loss(&e) {
        StoreError::ConnectionLost {
            detail: describe(&e),
        }
    } else if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
        StoreError::PermissionDenied {
            detail: describe(&e),
        }
    } else {
        StoreError::Postgres {
            detail: describe(&e),
            source: e,
        }
    }
}

impl PgStore {
    /// Connects to `url` (a libpq-style URL or key=value string), applies pending schema
    /// migrations and starts the writer. Migrating needs the owning role; once the schema is
    /// current, a member of `opsledger_writer` connects here too, since nothing is then run but
    /// reads of `schema_migrations` (`docs/adr/0005-database-roles.md`).
    pub async fn connect(url: &str) -> Result<Self> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("invalid database URL: {e}")))?;
        Self::connect_with(config).await
    }

    /// Like [`PgStore::connect`], from a parsed configuration.
    pub async fn connect_with(config: tokio_postgres::Config) -> Result<Self> {
        Self::open(config, Access::ReadWrite).await
    }

    /// Connects to `url` for reading only: no migration is attempted and no writer is started,
    /// so a role that may only read (an auditor, a client reader; see
    /// `docs/adr/0005-database-roles.md`) can run reads, `verify` and reports. The schema must
    /// already be at the version this build knows. Appends and projection saves on the handle
    /// fail with [`StoreError::ReadOnly`] without reaching the database.
    pub async fn connect_read_only(url: &str) -> Result<Self> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("invalid database URL: {e}")))?;
        Self::connect_read_only_with(config).await
    }

    /// Like [`PgStore::connect_read_only`], from a parsed configuration.
    pub async fn connect_read_only_with(config: tokio_postgres::Config) -> Result<Self> {
        Self::open(config, Access::ReadOnly).await
    }

    /// True for a handle opened with [`PgStore::connect_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.inner.writer.is_none()
    }

    /// What wakes this handle's subscribers right now. They poll in any case; this only says
    /// how soon they learn of a commit.
    pub fn wake_source(&self) -> WakeSource {
        match self.inner.wake_source.load(Ordering::Relaxed) {
            x if x == WakeSource::Notify as u8 => WakeSource::Notify,
            x if x == WakeSource::StandbyPolling as u8 => WakeSource::StandbyPolling,
            _ => WakeSource::Connecting,
        }
    }

    /// True when the server was a hot standby (in recovery) when the handle was opened: its
    /// subscribers are woken by polling, not by NOTIFY (see [`standby`]).
    pub fn is_standby(&self) -> bool {
        self.inner.standby
    }

    /// Creates a LOGIN role of `kind` in the cluster of `admin_url` (see [`roles`]).
    pub async fn create_login_role(
        admin_url: &str,
        kind: &roles::RoleKind,
        name: &str,
        password: &str,
    ) -> Result<()> {
        roles::create_login_role(admin_url, kind, name, password).await
    }

    async fn open(config: tokio_postgres::Config, access: Access) -> Result<Self> {
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(READ_POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut conn = pool.get().await.map_err(pool_error)?;
        let standby = standby::in_recovery(&conn).await?;
        if standby && access == Access::ReadWrite {
            // Migrating would fail statement by statement with "read-only transaction"; the
            // caller is better told what the server is and how to read from it.
            return Err(StoreError::Unavailable(
                "this PostgreSQL server is a standby (in recovery): it can only be read; \
                 connect read-only (`--read-only`) or write to the primary"
                    .to_owned(),
            ));
        }
        let next = match access {
            Access::ReadWrite => {
                schema::migrate(&mut conn).await?;
                next_position(&conn).await?
            }
            Access::ReadOnly => {
                schema::check_current(&**conn).await?;
                // A client reader may not read the head (it would tell the ledger's size);
                // its subscribers then start from a wake-up value of 0, which is only a hint.
                let readable: bool = conn
                    .query_one("SELECT has_table_privilege('ledger_head', 'SELECT')", &[])
                    .await
                    .map_err(pg_error)?
                    .get(0);
                if readable {
                    next_position(&conn).await?
                } else {
                    0
                }
            }
        };
        drop(conn);

        let (wake_tx, wake_rx) = watch::channel(next);
        let wake_tx = Arc::new(wake_tx);
        let writer = match access {
            Access::ReadWrite => {
                let (writer_tx, writer_rx) = mpsc::channel(WRITER_QUEUE_REQUESTS);
                tokio::spawn(writer::run(config.clone(), writer_rx, Arc::clone(&wake_tx)));
                Some(writer_tx)
            }
            Access::ReadOnly => None,
        };
        let wake_source = Arc::new(AtomicU8::new(WakeSource::Connecting as u8));
        let listener = tokio::spawn(listen(config, wake_tx, Arc::clone(&wake_source)));
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                writer,
                wake: wake_rx,
                listener,
                standby,
                wake_source,
            }),
        })
    }

    /// Names a row past the head in an otherwise intact `report`: no append writes one (the
    /// insert trigger of migration 6 refuses it), so one found there was planted around the
    /// append path. The head and the rows past it are read by one statement, one snapshot,
    /// so an append committing meanwhile is not mistaken for one; the head the walk used
    /// (`walked_head`) only decides whether the range reaches that far.
    async fn check_past_head(
        &self,
        report: VerifyReport,
        range_to: Option<u64>,
        walked_head: Option<u64>,
    ) -> Result<VerifyReport> {
        if !report.is_intact() || !looks_past_head(range_to, walked_head) {
            return Ok(report);
        }
        let conn = self.conn().await?;
        let row = conn
            .query_one(
                "SELECT h.next_position, (SELECT min(e.global_position) FROM events e \
                 WHERE e.global_position >= h.next_position) FROM ledger_head h WHERE h.id = 1",
                &[],
            )
            .await
            .map_err(pg_error)?;
        let next: i64 = row.get(0);
        let past: Option<i64> = row.get(1);
        let head = u64::try_from(next)
            .map_err(|_| StoreError::CorruptRow {
                position: 0,
                detail: "ledger_head.next_position is negative".to_owned(),
            })?
            .checked_sub(1);
        Ok(with_rows_past_head(
            report,
            head,
            past.and_then(|p| u64::try_from(p).ok()),
        ))
    }

    async fn conn(&self) -> Result<Object> {
        self.inner.pool.get().await.map_err(pool_error)
    }
}

/// What wakes a handle's subscribers when an event is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum WakeSource {
    /// The listener task is (re)connecting: subscribers rely on their own poll meanwhile.
    Connecting = 0,
    /// `LISTEN` on a primary: the writers' `NOTIFY` wakes them at commit.
    Notify = 1,
    /// A hot standby, which cannot `LISTEN`: the replicated head is polled every
    /// [`standby::STANDBY_POLL_INTERVAL`].
    StandbyPolling = 2,
}

/// Whether a handle may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    ReadOnly,
}

async fn next_position(conn: &Object) -> Result<u64> {
    let row = conn
        .query_one("SELECT next_position FROM ledger_head WHERE id = 1", &[])
        .await
        .map_err(pg_error)?;
    let next: i64 = row.get(0);
    Ok(u64::try_from(next).expect("the schema checks next_position >= 0"))
}

/// Forwards NOTIFYs from other processes' writers to this handle's subscribers, reconnecting
/// when the connection drops. Subscribers poll as well, so a lost notification only delays. On
/// a standby, where LISTEN is refused, it polls the replicated head instead until the server
/// is promoted, then reconnects and listens.
async fn listen(
    config: tokio_postgres::Config,
    wake: Arc<watch::Sender<u64>>,
    source: Arc<AtomicU8>,
) {
    loop {
        source.store(WakeSource::Connecting as u8, Ordering::Relaxed);
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = mpsc::unbounded_channel();
                let pump = tokio::spawn(async move {
                    let mut messages =
                        futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(Ok(message)) = messages.next().await {
                        if let AsyncMessage::Notification(n) = message {
                            if tx.send(n.payload().to_owned()).is_err() {
                                break;
                            }
                        }
                    }
                });
                match standby::in_recovery(&client).await {
                    Ok(true) => {
                        source.store(WakeSource::StandbyPolling as u8, Ordering::Relaxed);
                        standby::follow_replay(&client, &wake).await;
                        pump.abort();
                        // Promoted or disconnected: reconnect after the pause and find out
                        // which.
                        tokio::time::sleep(LISTEN_RETRY).await;
                        continue;
                    }
                    Ok(false) => {}
                    Err(e) => tracing::debug!(error = %e, "opsledger recovery probe failed"),
                }
                if client
                    .batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))
                    .await
                    .is_ok()
                {
                    source.store(WakeSource::Notify as u8, Ordering::Relaxed);
                    while let Some(payload) = rx.recv().await {
                        if let Ok(next) = payload.parse::<u64>() {
                            wake.send_if_modified(|v| {
                                let advanced = next > *v;
                                if advanced {
                                    *v = next;
                                }
                                advanced
                            });
                        }
                    }
                }
                pump.abort();
            }
            Err(e) => tracing::debug!(error = %e, "opsledger LISTEN connection failed"),
        }
        tokio::time::sleep(LISTEN_RETRY).await;
    }
}

#[async_trait]
impl EventStore for PgStore {
    async fn append_batch(&self, batch: Vec<StreamAppend>) -> Result<Vec<AppendOutcome>> {
        let writer = self.inner.writer.as_ref().ok_or(StoreError::ReadOnly)?;
        let appends = prepare_batch(&batch)?;
        let (reply, outcome) = oneshot::channel();
        writer
            .send(writer::WriteRequest {
                appends,
                slow: false,
                attempts: 0,
                reply,
            })
            .await
            .map_err(|_| StoreError::Unavailable("the writer task has stopped".into()))?;
        outcome
            .await
            .map_err(|_| StoreError::Unavailable("the writer task has stopped".into()))?
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from_version: u64,
        direction: Direction,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let conn = self.conn().await?;
        reads::read_stream(&conn, stream_id, from_version, direction, max_count).await
    }

    async fn read_all(&self, from_position: u64, max_count: usize) -> Result<Vec<RecordedEvent>> {
        let conn = self.conn().await?;
        reads::read_all(&conn, from_position, max_count).await
    }

    async fn read_filtered(
        &self,
        filter: &EventFilter,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let conn = self.conn().await?;
        reads::read_filtered(&conn, filter, from_position, max_count).await
    }

    async fn head(&self) -> Result<Option<Head>> {
        let conn = self.conn().await?;
        reads::head(&conn).await
    }

    async fn verify(&self, range: PositionRange) -> Result<VerifyReport> {
        checked_position("verify range start", range.from)?;
        let head = self.head().await?;
        let conn = self.conn().await?;
        let anchor = match range.from.checked_sub(1) {
            None => Hash::GENESIS,
            Some(before) => {
                let row = conn
                    .query_opt(
                        "SELECT hash FROM events WHERE global_position = $1",
                        &[&to_i64(before)],
                    )
                    .await
                    .map_err(pg_error)?;
                match row {
                    Some(row) => Hash::from_slice(row.get(0)).ok_or(StoreError::CorruptRow {
                        position: before,
                        detail: "hash is not 32 bytes".into(),
                    })?,
                    None => {
                        return Ok(VerifyReport::Broken {
                            position: before,
                            reason: crate::hash::ChainBreak::MissingEvents {
                                expected_last: before,
                                found_last: None,
                            },
                            events_checked: 0,
                        })
                    }
                }
            }
        };
        let head_pair = head.map(|h| (h.position, h.hash));
        let last = match (range.to, head_pair) {
            (Some(to), Some((hp, _))) => to.min(hp),
            (None, Some((hp, _))) => hp,
            (_, None) => {
                let report = ChainWalker::new(range.from, anchor).finish(None);
                return self.check_past_head(report, range.to, None).await;
            }
        };
        let reaches_head = head_pair.is_some_and(|(hp, _)| last == hp);
        drop(conn);
        let mut walker = ChainWalker::new(range.from, anchor);
        if range.from <= last {
            verify::walk(&self.inner.pool, range.from, last, &mut walker).await?;
        }
        let report = walker.finish(if reaches_head { head_pair } else { None });
        self.check_past_head(report, range.to, head_pair.map(|(hp, _)| hp))
            .await
    }

    async fn fact_checkpoint(&self) -> Result<Option<FactCheckpoint>> {
        let conn = self.conn().await?;
        facts::checkpoint(&conn).await
    }

    async fn write_facts(
        &self,
        page_start: u64,
        checkpoint: FactCheckpoint,
        rows: Vec<FactRow>,
    ) -> Result<()> {
        if self.is_read_only() {
            return Err(StoreError::ReadOnly);
        }
        checked_position("read-model page start", page_start)?;
        checked_position("read-model checkpoint", checkpoint.next_position)?;
        for row in &rows {
            validate_fact(row)?;
        }
        let mut conn = self.conn().await?;
        facts::write(&mut conn, page_start, checkpoint, &rows).await
    }

    async fn reset_facts(&self, expected: Option<FactCheckpoint>, version: u32) -> Result<()> {
        if self.is_read_only() {
            return Err(StoreError::ReadOnly);
        }
        if let Some(e) = expected {
            checked_position("expected read-model checkpoint", e.next_position)?;
        }
        let mut conn = self.conn().await?;
        facts::reset(&mut conn, expected, version).await
    }

    async fn restore_fact_indexes(&self) -> Result<()> {
        if self.is_read_only() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        facts::restore_indexes(&mut conn).await
    }

    async fn read_facts(&self, query: &FactQuery, max_count: usize) -> Result<Vec<FactRow>> {
        let conn = self.conn().await?;
        facts::read(&conn, query, max_count).await
    }

    async fn read_period_facts(&self, query: &PeriodQuery) -> Result<Vec<FactRow>> {
        let conn = self.conn().await?;
        facts::read_period(&conn, query).await
    }

    async fn data_key(&self, client_id: &str, create: bool) -> Result<DataKey> {
        validate_key_client_id(client_id)?;
        let conn = self.conn().await?;
        let found = keys::load(&conn, client_id).await?;
        if !create || found != DataKey::Missing {
            return Ok(found);
        }
        if self.is_read_only() {
            return Err(StoreError::ReadOnly);
        }
        keys::create(&conn, client_id, &Key32::generate()?).await
    }

    async fn destroy_data_key(&self, client_id: &str, reason: &str) -> Result<bool> {
        validate_key_client_id(client_id)?;
        validate_destroy_reason(reason)?;
        if self.is_read_only() {
            return Err(StoreError::ReadOnly);
        }
        let conn = self.conn().await?;
        keys::destroy(&conn, client_id, reason).await
    }

    async fn publish_read_model(&self, model: &ClientReadModel) -> Result<()> {
        if self.is_read_only() {
            return Err(StoreError::ReadOnly);
        }
        validate_read_model(model)?;
        let conn = self.conn().await?;
        conn.execute(
            "INSERT INTO client_read_models (client_id, name, next_position, body) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (client_id, name) DO UPDATE SET next_position = excluded.next_position, \
             body = excluded.body, saved_at = now()",
            &[
                &model.client_id,
                &model.name,
                &to_i64(model.next_position),
                &model.body,
            ],
        )
        .await
        .map_err(pg_error)?;
        Ok(())
    }

    async fn client_read_models(&self, client_id: &str) -> Result<Vec<ClientReadModel>> {
        let conn = self.conn().await?;
        reads::client_read_models(&conn, client_id).await
    }

    fn subscribe(&self, from_position: u64) -> Subscription {
        Subscription::new(
            Box::new(self.clone()),
            from_position,
            self.inner.wake.clone(),
        )
    }

    async fn replica_lag(&self) -> Result<Option<ReplicaLag>> {
        let conn = self.conn().await?;
        standby::lag(&conn).await
    }
}
