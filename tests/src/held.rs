//! A store that holds its caller at chosen points of the read model's writes, so a test can
//! force one interleaving of two projectors (two processes catching up at once) instead of
//! hoping the scheduler produces it. Every call goes to a real store unchanged; a hold only
//! delays it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use opsledger_store::error::Result;
use opsledger_store::{
    AppendOutcome, ClientReadModel, DataKey, Direction, EventFilter, EventStore, FactCheckpoint,
    FactQuery, FactRow, Head, PeriodQuery, PositionRange, RecordedEvent, ReplicaLag, StreamAppend,
    StreamId, Subscription, VerifyReport,
};
use tokio::sync::Notify;

/// A point where the caller stops: it says it got there, then waits until it is let on.
/// Both signals keep a permit when nobody waits yet, so their order does not matter.
#[derive(Debug, Default)]
pub struct Hold {
    reached: Notify,
    go_on: Notify,
}

impl Hold {
    /// A new point, shared between the store that stops there and the test that steers it.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Waits until the caller has reached this point.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the caller that reached (or will reach) this point go on.
    pub fn release(&self) {
        self.go_on.notify_one();
    }

    async fn pass(&self) {
        self.reached.notify_one();
        self.go_on.notified().await;
    }
}

/// Where a [`Held`] store stops its caller; `None` fields are passed straight through.
#[derive(Debug, Default)]
pub struct HoldPoints {
    /// Before a reset of the read model reaches the store.
    pub before_reset: Option<Arc<Hold>>,
    /// After a reset came back from the store, whether it won or lost.
    pub after_reset: Option<Arc<Hold>>,
    /// Before the first page of rows reaches the store.
    pub before_first_page: Option<Arc<Hold>>,
    /// After the first page of rows came back from the store.
    pub after_first_page: Option<Arc<Hold>>,
}

/// A real store whose read-model writes stop at [`HoldPoints`].
#[derive(Debug)]
pub struct Held {
    inner: Arc<dyn EventStore>,
    points: HoldPoints,
    pages: AtomicUsize,
}

impl Held {
    /// `inner`, stopping at `points`.
    pub fn new(inner: Arc<dyn EventStore>, points: HoldPoints) -> Self {
        Self {
            inner,
            points,
            pages: AtomicUsize::new(0),
        }
    }
}

async fn pass(point: Option<&Arc<Hold>>) {
    if let Some(point) = point {
        point.pass().await;
    }
}

#[async_trait]
impl EventStore for Held {
    async fn append_batch(&self, batch: Vec<StreamAppend>) -> Result<Vec<AppendOutcome>> {
        self.inner.append_batch(batch).await
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from_version: u64,
        direction: Direction,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.inner
            .read_stream(stream_id, from_version, direction, max_count)
            .await
    }

    async fn read_all(&self, from_position: u64, max_count: usize) -> Result<Vec<RecordedEvent>> {
        self.inner.read_all(from_position, max_count).await
    }

    async fn read_filtered(
        &self,
        filter: &EventFilter,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.inner
            .read_filtered(filter, from_position, max_count)
            .await
    }

    async fn head(&self) -> Result<Option<Head>> {
        self.inner.head().await
    }

    async fn verify(&self, range: PositionRange) -> Result<VerifyReport> {
        self.inner.verify(range).await
    }

    async fn fact_checkpoint(&self) -> Result<Option<FactCheckpoint>> {
        self.inner.fact_checkpoint().await
    }

    async fn write_facts(
        &self,
        page_start: u64,
        checkpoint: FactCheckpoint,
        rows: Vec<FactRow>,
    ) -> Result<()> {
        let first = self.pages.fetch_add(1, Ordering::SeqCst) == 0;
        if first {
            pass(self.points.before_first_page.as_ref()).await;
        }
        let written = self.inner.write_facts(page_start, checkpoint, rows).await;
        if first {
            pass(self.points.after_first_page.as_ref()).await;
        }
        written
    }

    async fn reset_facts(&self, expected: Option<FactCheckpoint>, version: u32) -> Result<()> {
        pass(self.points.before_reset.as_ref()).await;
        let reset = self.inner.reset_facts(expected, version).await;
        pass(self.points.after_reset.as_ref()).await;
        reset
    }

    async fn restore_fact_indexes(&self) -> Result<()> {
        self.inner.restore_fact_indexes().await
    }

    async fn read_facts(&self, query: &FactQuery, max_count: usize) -> Result<Vec<FactRow>> {
        self.inner.read_facts(query, max_count).await
    }

    async fn read_period_facts(&self, query: &PeriodQuery) -> Result<Vec<FactRow>> {
        self.inner.read_period_facts(query).await
    }

    async fn data_key(&self, client_id: &str, create: bool) -> Result<DataKey> {
        self.inner.data_key(client_id, create).await
    }

    async fn destroy_data_key(&self, client_id: &str, reason: &str) -> Result<bool> {
        self.inner.destroy_data_key(client_id, reason).await
    }

    async fn publish_read_model(&self, model: &ClientReadModel) -> Result<()> {
        self.inner.publish_read_model(model).await
    }

    async fn client_read_models(&self, client_id: &str) -> Result<Vec<ClientReadModel>> {
        self.inner.client_read_models(client_id).await
    }

    fn subscribe(&self, from_position: u64) -> Subscription {
        self.inner.subscribe(from_position)
    }

    async fn replica_lag(&self) -> Result<Option<ReplicaLag>> {
        self.inner.replica_lag().await
    }
}
