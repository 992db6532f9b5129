//! The embedded backend: one SQLite file per ledger, the single-machine default.
//!
//! Appends go through one writer thread that commits queued requests in groups (see
//! [`writer`]); reads run on a small pool of read-only connections beside it (WAL mode).
//! The semantics match the PostgreSQL backend: both plan appends with the shared planner.

mod desk;
mod facts;
mod keys;
mod read;
mod read_models;
mod rows;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use async_trait::async_trait;
use tokio::sync::{oneshot, watch};

use crate::api::{
    checked_position, validate_read_model, ClientReadModel, Direction, EventFilter, EventStore,
    PositionRange,
};
use crate::envelope::{prepare_batch, AppendOutcome, Head, RecordedEvent, StreamAppend, StreamId};
use crate::error::{Result, StoreError};
use crate::facts::{validate_fact, FactCheckpoint, FactQuery, FactRow, PeriodQuery};
use crate::hash::VerifyReport;
use crate::keys::{validate_destroy_reason, validate_key_client_id, DataKey, Key32};
use crate::subscription::Subscription;

use read::ReaderPool;
use writer::{WriteRequest, Writer};

/// The embedded SQLite event store. Cloning is cheap: clones share the writer thread and
/// the read connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// The writer thread's queue; `None` only while dropping.
    queue: Option<mpsc::Sender<WriteRequest>>,
    writer: Option<JoinHandle<()>>,
    readers: Arc<ReaderPool>,
    /// Carries the writer's next position after each commit; subscribers clone it.
    wake: watch::Receiver<u64>,
    /// A write connection for read-model rows, published read models, data keys and the desk's
    /// tables, opened on first use. None of them touches the log, so they need not queue behind
    /// appends in the writer thread.
    side_conn: Arc<Mutex<Option<rusqlite::Connection>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer thread once it has answered what was queued;
        // waiting for it means the file is closed when the last handle is gone, so it can
        // be reopened (or removed) right away.
        drop(self.queue.take());
        if let Some(handle) = self.writer.take() {
            let _ = handle.join();
        }
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("next_position", &*self.inner.wake.borrow())
            .finish()
    }
}

impl SqliteStore {
    /// Opens the ledger at `path`, creating the file if it is missing and applying any
    /// schema migrations it lacks. A file whose schema is newer than this build is refused
    /// with `SchemaFromTheFuture`; a file that cannot be opened, or is not a ledger, with
    /// `File`. A read-only file opens for reading; appends to it are refused with `File`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let (conn, read_only) = schema::open_writer(&path)?;
        let readers = Arc::new(ReaderPool::new(path.clone()));
        // The first read connection doubles as a check that readers can open the file, and
        // gives the wake-up channel its starting value.
        let next_position = readers.head()?.map_or(0, |h| h.position + 1);
        let (notify, wake) = watch::channel(next_position);
        let (queue, receiver) = mpsc::channel();
        let writer = Writer::new(conn, path.clone(), read_only, notify);
        let handle = std::thread::Builder::new()
            .name("opsledger-sqlite-writer".to_owned())
            .spawn(move || writer.run(receiver))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                queue: Some(queue),
                writer: Some(handle),
                readers,
                wake,
                side_conn: Arc::new(Mutex::new(None)),
            }),
        })
    }

    /// Creates a new, empty ledger at `path`; fails with `File` if anything exists there
    /// (for `opsledger init`, which must never adopt an existing file).
    pub fn create_new(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        // Creating the file exclusively first makes "already exists" race-free; SQLite then
        // treats the empty file as an empty database.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| StoreError::File {
                path: path.display().to_string(),
                detail: if e.kind() == std::io::ErrorKind::AlreadyExists {
                    "already exists; refusing to create a ledger over it".to_owned()
                } else {
                    format!("cannot create: {e}")
                },
            })?;
        Self::open(path)
    }

    /// The ledger file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs blocking read work on the pool off the async runtime.
    async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&ReaderPool) -> Result<T> + Send + 'static,
    {
        let readers = Arc::clone(&self.inner.readers);
        tokio::task::spawn_blocking(move || work(&readers))
            .await
            .map_err(|e| StoreError::Unavailable(format!("a read task failed: {e}")))?
    }

    /// Runs blocking work on the side write connection (read-model rows, data keys, the desk),
    /// off the async runtime, opening the connection on first use.
    async fn side_write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
    {
        let path = self.inner.path.clone();
        let slot = Arc::clone(&self.inner.side_conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = slot
                .lock()
                .map_err(|_| StoreError::Unavailable("a side write panicked".to_owned()))?;
            if guard.is_none() {
                let (conn, read_only) = schema::open_writer(&path)?;
                if read_only {
                    return Err(StoreError::File {
                        path: path.display().to_string(),
                        detail: "the ledger file is read-only; read-model rows, data keys and the desk's tables cannot be written"
                            .to_owned(),
                    });
                }
                *guard = Some(conn);
            }
            let conn = guard.as_ref().expect("opened above");
            work(conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("a side write failed: {e}")))?
    }

    fn writer_gone() -> StoreError {
        StoreError::Unavailable("the SQLite writer thread has stopped".to_owned())
    }
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn append_batch(&self, batch: Vec<StreamAppend>) -> Result<Vec<AppendOutcome>> {
        // Validation and canonicalisation happen here, in the caller's task, so the writer
        // thread only plans, hashes and writes.
        let appends = prepare_batch(&batch)?;
        let (reply, answer) = oneshot::channel();
        self.inner
            .queue
            .as_ref()
            .ok_or_else(Self::writer_gone)?
            .send(WriteRequest { appends, reply })
            .map_err(|_| Self::writer_gone())?;
        answer.await.map_err(|_| Self::writer_gone())?
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from_version: u64,
        direction: Direction,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let stream_id = stream_id.clone();
        self.read(move |r| r.read_stream(&stream_id, from_version, direction, max_count))
            .await
    }

    async fn read_all(&self, from_position: u64, max_count: usize) -> Result<Vec<RecordedEvent>> {
        self.read(move |r| r.read_all(from_position, max_count))
            .await
    }

    async fn read_filtered(
        &self,
        filter: &EventFilter,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let filter = filter.clone();
        self.read(move |r| r.read_filtered(&filter, from_position, max_count))
            .await
    }

    async fn head(&self) -> Result<Option<Head>> {
        self.read(ReaderPool::head).await
    }

    async fn verify(&self, range: PositionRange) -> Result<VerifyReport> {
        checked_position("verify range start", range.from)?;
        self.read(move |r| r.verify(range)).await
    }

    async fn fact_checkpoint(&self) -> Result<Option<FactCheckpoint>> {
        self.read(|r| r.with(|conn| facts::checkpoint(conn))).await
    }

    async fn write_facts(
        &self,
        page_start: u64,
        checkpoint: FactCheckpoint,
        rows: Vec<FactRow>,
    ) -> Result<()> {
        checked_position("read-model page start", page_start)?;
        checked_position("read-model checkpoint", checkpoint.next_position)?;
        for row in &rows {
            validate_fact(row)?;
        }
        let saved_at = chrono::Utc::now().timestamp_micros();
        self.side_write(move |conn| facts::write(conn, page_start, checkpoint, &rows, saved_at))
            .await
    }

    async fn reset_facts(&self, expected: Option<FactCheckpoint>, version: u32) -> Result<()> {
        if let Some(e) = expected {
            checked_position("expected read-model checkpoint", e.next_position)?;
        }
        let saved_at = chrono::Utc::now().timestamp_micros();
        self.side_write(move |conn| facts::reset(conn, expected, version, saved_at))
            .await
    }

    async fn restore_fact_indexes(&self) -> Result<()> {
        self.side_write(facts::restore_indexes).await
    }

    async fn read_facts(&self, query: &FactQuery, max_count: usize) -> Result<Vec<FactRow>> {
        let query = query.clone();
        self.read(move |r| r.with(|conn| facts::read(conn, &query, max_count)))
            .await
    }

    async fn read_period_facts(&self, query: &PeriodQuery) -> Result<Vec<FactRow>> {
        let query = query.clone();
        self.read(move |r| r.with(|conn| facts::read_period(conn, &query)))
            .await
    }

    async fn data_key(&self, client_id: &str, create: bool) -> Result<DataKey> {
        validate_key_client_id(client_id)?;
        let client_id = client_id.to_owned();
        let found = {
            let client_id = client_id.clone();
            self.read(move |r| r.with(|conn| keys::load(conn, &client_id)))
                .await?
        };
        if !create || found != DataKey::Missing {
            return Ok(found);
        }
        let fresh = Key32::generate()?;
        let now = chrono::Utc::now().timestamp_micros();
        self.side_write(move |conn| keys::create(conn, &client_id, &fresh, now))
            .await
    }

    async fn destroy_data_key(&self, client_id: &str, reason: &str) -> Result<bool> {
        validate_key_client_id(client_id)?;
        validate_destroy_reason(reason)?;
        let client_id = client_id.to_owned();
        let reason = reason.to_owned();
        let now = chrono::Utc::now().timestamp_micros();
        self.side_write(move |conn| keys::destroy(conn, &client_id, &reason, now))
            .await
    }

    async fn publish_read_model(&self, model: &ClientReadModel) -> Result<()> {
        validate_read_model(model)?;
        let model = model.clone();
        let saved_at = chrono::Utc::now().timestamp_micros();
        self.side_write(move |conn| read_models::publish(conn, &model, saved_at))
            .await
    }

    async fn client_read_models(&self, client_id: &str) -> Result<Vec<ClientReadModel>> {
        let client_id = client_id.to_owned();
        self.read(move |r| r.with(|conn| read_models::read_models(conn, &client_id)))
            .await
    }

    fn subscribe(&self, from_position: u64) -> Subscription {
        Subscription::new(
            Box::new(self.clone()),
            from_position,
            self.inner.wake.clone(),
        )
    }
}
