//! The benchmark's yardstick: a plain binary `COPY` of rows into a bare copy of the `events`
//! table (same columns and indexes, no triggers, no head lock, no hashing), so the cost of
//! everything the store adds on top of PostgreSQL is visible as a ratio.

use std::time::{Duration, Instant};

use tokio_postgres::NoTls;

use super::writer::{copy_rows, COPY_COLUMNS};
use super::{describe, pg_error};
use crate::envelope::RecordedEvent;
use crate::error::StoreError;

/// A bare table to COPY into, created fresh for each measurement.
const BASELINE_TABLE: &str = "opsledger_bench_plain_copy";

/// Connects to `url`, recreates the bare table and returns a handle that COPYs batches.
#[derive(Debug)]
pub struct PlainCopy {
    client: tokio_postgres::Client,
    statement: tokio_postgres::Statement,
    elapsed: Duration,
    rows: u64,
}

impl PlainCopy {
    pub async fn new(url: &str) -> Result<Self, StoreError> {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(pg_error)?;
        tokio::spawn(connection);
        client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS {BASELINE_TABLE};
                 CREATE TABLE {BASELINE_TABLE} (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);"
            ))
            .await
            .map_err(|e| StoreError::Unavailable(describe(&e)))?;
        let statement = client
            .prepare(&format!(
                "COPY {BASELINE_TABLE} ({COPY_COLUMNS}) FROM STDIN (FORMAT binary)"
            ))
            .await
            .map_err(pg_error)?;
        Ok(Self {
            client,
            statement,
            elapsed: Duration::ZERO,
            rows: 0,
        })
    }

    /// COPYs one batch in its own transaction (as the store commits each append), timing only
    /// the transaction.
    pub async fn copy_batch(&mut self, rows: &[RecordedEvent]) -> Result<(), StoreError> {
        let started = Instant::now();
        let tx = self.client.transaction().await.map_err(pg_error)?;
        let sink = tx.copy_in(&self.statement).await.map_err(pg_error)?;
        self.rows += copy_rows(sink, rows).await.map_err(pg_error)?;
        tx.commit().await.map_err(pg_error)?;
        self.elapsed += started.elapsed();
        Ok(())
    }

    /// Rows copied and the time spent copying them.
    pub fn totals(&self) -> (u64, Duration) {
        (self.rows, self.elapsed)
    }

    /// Drops the bare table.
    pub async fn cleanup(self) -> Result<(), StoreError> {
        self.client
            .batch_execute(&format!("DROP TABLE IF EXISTS {BASELINE_TABLE}"))
            .await
            .map_err(pg_error)
    }
}
