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

/// The bare table pgbench's single-row inserts go into.
pub const PGBENCH_TABLE: &str = "opsledger_bench_pgbench";
/// The sequence that gives each pgbench row a unique position (and stream version).
pub const PGBENCH_SEQUENCE: &str = "opsledger_bench_pgbench_seq";

/// The yardstick of concurrent single appends: a bare copy of `events` (same columns and
/// indexes, no triggers, no head lock, no hashing) that `pgbench` fills one row per
/// transaction, so the cost of the store's ordering and chaining shows as a ratio.
#[derive(Debug)]
pub struct PgbenchTable {
    client: tokio_postgres::Client,
}

impl PgbenchTable {
    /// Connects to `url` and recreates the bare table and its sequence.
    pub async fn new(url: &str) -> Result<Self, StoreError> {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(pg_error)?;
        tokio::spawn(connection);
        client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS {PGBENCH_TABLE};
                 DROP SEQUENCE IF EXISTS {PGBENCH_SEQUENCE};
                 CREATE SEQUENCE {PGBENCH_SEQUENCE};
                 CREATE TABLE {PGBENCH_TABLE} (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);"
            ))
            .await
            .map_err(|e| StoreError::Unavailable(describe(&e)))?;
        Ok(Self { client })
    }

    /// Rows pgbench inserted.
    pub async fn rows(&self) -> Result<u64, StoreError> {
        let row = self
            .client
            .query_one(&format!("SELECT count(*) FROM {PGBENCH_TABLE}"), &[])
            .await
            .map_err(pg_error)?;
        let count: i64 = row.get(0);
        Ok(u64::try_from(count).expect("a count is never negative"))
    }

    /// Drops the bare table and its sequence.
    pub async fn cleanup(self) -> Result<(), StoreError> {
        self.client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS {PGBENCH_TABLE}; DROP SEQUENCE IF EXISTS {PGBENCH_SEQUENCE};"
            ))
            .await
            .map_err(pg_error)
    }
}
