//! The store one request reads through: the caller's scoped store for every row of the ledger
//! (on PostgreSQL its database role, so row-level security decides which events and fact rows
//! come back), the server's own store for what is not a client's data but what reading it
//! needs: the head (which the answer states anyway), the read model's checkpoint, and the
//! client data keys that open the personal fields of the rows the role was allowed to read.
//!
//! The head is read once, before the scoped transaction takes its snapshot, and fixed: every
//! read of the request is bounded by it, and the snapshot holds at least everything up to it,
//! so an answer reflects exactly the head it states even while appends go on.

use std::sync::Arc;

use async_trait::async_trait;
use opsledger_app::store::facts::{FactCheckpoint, FactQuery, FactRow, PeriodQuery};
use opsledger_app::store::{
    AppendOutcome, ClientReadModel, DataKey, Direction, EventFilter, EventStore, Head,
    PositionRange, RecordedEvent, StoreError, StreamAppend, StreamId, Subscription, VerifyReport,
};

type Result<T> = std::result::Result<T, StoreError>;

/// A request's reads: rows through `rows`, keys, checkpoint and head through `own`.
#[derive(Debug)]
pub struct RequestReads {
    rows: Arc<dyn EventStore>,
    own: Arc<dyn EventStore>,
    head: Option<Head>,
}

impl RequestReads {
    /// `head` must have been read from `own` before `rows` was opened.
    pub fn new(rows: Arc<dyn EventStore>, own: Arc<dyn EventStore>, head: Option<Head>) -> Self {
        Self { rows, own, head }
    }
}

#[async_trait]
impl EventStore for RequestReads {
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
        self.rows
            .read_stream(stream_id, from_version, direction, max_count)
            .await
    }

    async fn read_all(&self, from_position: u64, max_count: usize) -> Result<Vec<RecordedEvent>> {
        self.rows.read_all(from_position, max_count).await
    }

    async fn read_filtered(
        &self,
        filter: &EventFilter,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.rows
            .read_filtered(filter, from_position, max_count)
            .await
    }

    async fn head(&self) -> Result<Option<Head>> {
        Ok(self.head)
    }

    async fn verify(&self, range: PositionRange) -> Result<VerifyReport> {
        self.rows.verify(range).await
    }

    async fn fact_checkpoint(&self) -> Result<Option<FactCheckpoint>> {
        self.own.fact_checkpoint().await
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
        self.rows.read_facts(query, max_count).await
    }

    async fn read_period_facts(&self, query: &PeriodQuery) -> Result<Vec<FactRow>> {
        self.rows.read_period_facts(query).await
    }

    /// Opens a key, never creates one: a request writes nothing.
    async fn data_key(&self, client_id: &str, create: bool) -> Result<DataKey> {
        if create {
            return Err(StoreError::ReadOnly);
        }
        self.own.data_key(client_id, false).await
    }

    async fn destroy_data_key(&self, _client_id: &str, _reason: &str) -> Result<bool> {
        Err(StoreError::ReadOnly)
    }

    async fn publish_read_model(&self, _model: &ClientReadModel) -> Result<()> {
        Err(StoreError::ReadOnly)
    }

    async fn client_read_models(&self, client_id: &str) -> Result<Vec<ClientReadModel>> {
        self.rows.client_read_models(client_id).await
    }

    fn subscribe(&self, from_position: u64) -> Subscription {
        self.rows.subscribe(from_position)
    }
}
