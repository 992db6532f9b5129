//! A store that writes on a primary and reads on its hot standby, so the conformance suite's
//! read cases run against a standby: every read first waits until the standby has replayed all
//! the primary had flushed, which gives the read-your-writes the cases assume without
//! changing what they check.

use std::sync::Arc;

use async_trait::async_trait;
use opsledger_store::error::Result;
use opsledger_store::{
    AppendOutcome, ClientReadModel, DataKey, Direction, EventFilter, EventStore, FactCheckpoint,
    FactQuery, FactRow, Head, PeriodQuery, PgStore, PositionRange, RecordedEvent, ReplicaLag,
    StreamAppend, StreamId, Subscription, VerifyReport,
};

use crate::pg::replica::{flushed_lsn, wait_for_lsn};

/// Writes go to `primary`; reads, subscriptions and the replica lag to `standby`, a read-only
/// handle on the standby's copy of the same database.
#[derive(Debug)]
pub struct StandbyReads {
    primary: PgStore,
    standby: PgStore,
    primary_sql: Arc<tokio_postgres::Client>,
    standby_sql: Arc<tokio_postgres::Client>,
}

impl StandbyReads {
    /// Pairs the two handles with plain connections to the same two servers, used to compare
    /// WAL positions.
    pub fn new(
        primary: PgStore,
        standby: PgStore,
        primary_sql: tokio_postgres::Client,
        standby_sql: tokio_postgres::Client,
    ) -> Self {
        Self {
            primary,
            standby,
            primary_sql: Arc::new(primary_sql),
            standby_sql: Arc::new(standby_sql),
        }
    }

    /// The handle on the standby, after it has replayed everything committed so far.
    async fn replayed(&self) -> &PgStore {
        let lsn = flushed_lsn(&self.primary_sql).await;
        wait_for_lsn(&self.standby_sql, &lsn).await;
        &self.standby
    }
}

#[async_trait]
impl EventStore for StandbyReads {
    async fn append_batch(&self, batch: Vec<StreamAppend>) -> Result<Vec<AppendOutcome>> {
        self.primary.append_batch(batch).await
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from_version: u64,
        direction: Direction,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.replayed()
            .await
            .read_stream(stream_id, from_version, direction, max_count)
            .await
    }

    async fn read_all(&self, from_position: u64, max_count: usize) -> Result<Vec<RecordedEvent>> {
        self.replayed()
            .await
            .read_all(from_position, max_count)
            .await
    }

    async fn read_filtered(
        &self,
        filter: &EventFilter,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.replayed()
            .await
            .read_filtered(filter, from_position, max_count)
            .await
    }

    async fn head(&self) -> Result<Option<Head>> {
        self.replayed().await.head().await
    }

    async fn verify(&self, range: PositionRange) -> Result<VerifyReport> {
        self.replayed().await.verify(range).await
    }

    async fn fact_checkpoint(&self) -> Result<Option<FactCheckpoint>> {
        self.replayed().await.fact_checkpoint().await
    }

    async fn write_facts(
        &self,
        page_start: u64,
        checkpoint: FactCheckpoint,
        rows: Vec<FactRow>,
    ) -> Result<()> {
        self.primary.write_facts(page_start, checkpoint, rows).await
    }

    async fn reset_facts(&self, expected: Option<FactCheckpoint>, version: u32) -> Result<()> {
        self.primary.reset_facts(expected, version).await
    }

    async fn restore_fact_indexes(&self) -> Result<()> {
        self.primary.restore_fact_indexes().await
    }

    async fn read_facts(&self, query: &FactQuery, max_count: usize) -> Result<Vec<FactRow>> {
        self.replayed().await.read_facts(query, max_count).await
    }

    async fn read_period_facts(&self, query: &PeriodQuery) -> Result<Vec<FactRow>> {
        self.replayed().await.read_period_facts(query).await
    }

    async fn data_key(&self, client_id: &str, create: bool) -> Result<DataKey> {
        if create {
            self.primary.data_key(client_id, true).await
        } else {
            self.replayed().await.data_key(client_id, false).await
        }
    }

    async fn destroy_data_key(&self, client_id: &str, reason: &str) -> Result<bool> {
        self.primary.destroy_data_key(client_id, reason).await
    }

    async fn publish_read_model(&self, model: &ClientReadModel) -> Result<()> {
        self.primary.publish_read_model(model).await
    }

    async fn client_read_models(&self, client_id: &str) -> Result<Vec<ClientReadModel>> {
        self.replayed().await.client_read_models(client_id).await
    }

    /// The standby's own subscription, with no waiting: it must find every event by itself,
    /// woken by polling since a standby receives no NOTIFY.
    fn subscribe(&self, from_position: u64) -> Subscription {
        self.standby.subscribe(from_position)
    }

    async fn replica_lag(&self) -> Result<Option<ReplicaLag>> {
        self.standby.replica_lag().await
    }
}
