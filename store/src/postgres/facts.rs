//! Read-model fact rows on PostgreSQL: the checkpoint, page writes (binary COPY for big pages),
//! reset and reads, and the secondary indexes a rebuild drops and builds again.
//!
//! Only the owner (the role that ran the migrations: the projector) may write these tables; the
//! writer, auditor and client-reader roles read them, a client reader only its own client's rows
//! and the agency-wide ones (row-level security, migration 9).

use chrono::{DateTime, Utc};
use deadpool_postgres::Object;
use futures_util::pin_mut;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Row, Transaction};
use uuid::Uuid;

use super::pg_error;
use super::rows::to_i64;
use crate::error::StoreError;
use crate::facts::{merge_by_position, FactCheckpoint, FactQuery, FactRow, PeriodQuery};

fn corrupt(position: i64, detail: &'static str) -> StoreError {
    StoreError::CorruptFact { position, detail }
}

pub(crate) async fn checkpoint(conn: &Object) -> Result<Option<FactCheckpoint>, StoreError> {
    let row = conn
        .query_opt(
            "SELECT next_position, version FROM rm_checkpoint WHERE id = 0",
            &[],
        )
        .await
        .map_err(pg_error)?;
    row.map(|row| {
        let next: i64 = row.get(0);
        let version: i32 = row.get(1);
        Ok(FactCheckpoint {
            next_position: u64::try_from(next).map_err(|_| corrupt(next, "negative checkpoint"))?,
            version: u32::try_from(version)
                .map_err(|_| corrupt(next, "negative checkpoint version"))?,
        })
    })
    .transpose()
}

fn version_param(version: u32) -> Result<i32, StoreError> {
    i32::try_from(version).map_err(|_| StoreError::InvalidFact { position: 0 })
}

/// Pages of at least this many rows go in by binary COPY, which skips the per-row work of
/// `INSERT … ON CONFLICT`; smaller ones (a catch-up of a few events) are not worth a COPY's
/// extra round trips.
const COPY_MIN_ROWS: usize = 1_000;

/// The column types of [`COPY_ROWS`], in its column order.
const COPY_TYPES: [Type; 9] = [
    Type::INT8,
    Type::UUID,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::TEXT,
];

const COPY_ROWS: &str = "COPY rm_fact (position, event_id, client_id, area, entity, kind, occurred_at, recorded_at, body) FROM STDIN (FORMAT binary)";

/// The read model's secondary indexes, each as migrations 9 and 10 create it (the conformance
/// suite compares them after a rebuild with the migrated ones). A rebuild from zero drops them
/// with the rows and builds them again at its end: one sort per index instead of a B-tree
/// insert (and its WAL record) per row and index. Reads stay correct while they are missing,
/// only slower.
const SECONDARY_INDEXES: [(&str, &str); 3] = [
    (
        "rm_fact_client_idx",
        "CREATE INDEX IF NOT EXISTS rm_fact_client_idx ON rm_fact (client_id, position)",
    ),
    (
        "rm_fact_entity_idx",
        "CREATE INDEX IF NOT EXISTS rm_fact_entity_idx ON rm_fact (entity, position)",
    ),
    (
        "rm_fact_period_idx",
        "CREATE INDEX IF NOT EXISTS rm_fact_period_idx ON rm_fact (client_id, area, occurred_at)",
    ),
];

/// How a page's rows go into the table.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Insert {
    /// Binary COPY: fails on a position already stored.
    Copy,
    /// `INSERT … ON CONFLICT (position) DO NOTHING`: keeps a stored row as it is.
    OnConflict,
}

/// Rows and checkpoint in one transaction; see `EventStore::write_facts`. A big page goes in
/// by binary COPY; when one of its positions is already stored (two projectors catching up at
/// once, or a row added behind opsledger's back) the COPY's transaction is rolled back and the
/// page written again row by row, keeping stored rows, so a page written twice still adds
/// nothing the second time.
pub(crate) async fn write(
    conn: &mut Object,
    page_start: u64,
    to: FactCheckpoint,
    rows: &[FactRow],
) -> Result<(), StoreError> {
    if rows.len() >= COPY_MIN_ROWS && write_page(conn, page_start, to, rows, Insert::Copy).await? {
        return Ok(());
    }
    let written = write_page(conn, page_start, to, rows, Insert::OnConflict).await?;
    debug_assert!(written, "an ON CONFLICT insert never meets a duplicate");
    Ok(())
}

/// One page's transaction; `false` when a COPY met a position already stored (rolled back).
async fn write_page(
    conn: &mut Object,
    page_start: u64,
    to: FactCheckpoint,
    rows: &[FactRow],
    insert: Insert,
) -> Result<bool, StoreError> {
    let tx = conn.transaction().await.map_err(pg_error)?;
    // Why a crash is safe without waiting for the WAL flush: PostgreSQL may then lose the
    // last commits, never part of one, and each page's rows commit with the checkpoint that
    // covers them; a lost page takes its checkpoint move with it, and the next catch-up derives
    // the same rows again from the log (a row is a function of its event). The log's appends
    // run on other transactions and keep their synchronous commit.
    tx.batch_execute("SET LOCAL synchronous_commit = off")
        .await
        .map_err(pg_error)?;
    move_checkpoint(&tx, page_start, to).await?;
    if !rows.is_empty() {
        match insert {
            Insert::Copy => {
                if let Err(e) = copy_rows(&tx, rows).await {
                    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                        return Ok(false);
                    }
                    return Err(pg_error(e));
                }
            }
            Insert::OnConflict => insert_rows(&tx, rows).await?,
        }
    }
    tx.commit().await.map_err(pg_error)?;
    Ok(true)
}

/// Moves the checkpoint to `to`, or fails with `FactCheckpointConflict`. The checkpoint row is
/// updated first, so two projectors writing at once queue on its row lock, and a stale or
/// foreign checkpoint shows up as zero rows changed, never by reading first.
async fn move_checkpoint(
    tx: &Transaction<'_>,
    page_start: u64,
    to: FactCheckpoint,
) -> Result<(), StoreError> {
    let version = version_param(to.version)?;
    let mut moved = tx
        .execute(
            "UPDATE rm_checkpoint SET next_position = greatest(next_position, $1), saved_at = now()
             WHERE id = 0 AND version = $2 AND next_position >= $3",
            &[&to_i64(to.next_position), &version, &to_i64(page_start)],
        )
        .await
        .map_err(pg_error)?;
    if moved == 0 && page_start == 0 {
        moved = tx
            .execute(
                "INSERT INTO rm_checkpoint (id, next_position, version) VALUES (0, $1, $2)
                 ON CONFLICT (id) DO NOTHING",
                &[&to_i64(to.next_position), &version],
            )
            .await
            .map_err(pg_error)?;
    }
    if moved == 0 {
        let found = checkpoint_in(tx).await?;
        return Err(StoreError::FactCheckpointConflict {
            expected_version: to.version,
            page_start,
            found,
        });
    }
    Ok(())
}

async fn copy_rows(tx: &Transaction<'_>, rows: &[FactRow]) -> Result<u64, tokio_postgres::Error> {
    let sink = tx.copy_in(COPY_ROWS).await?;
    let writer = BinaryCopyInWriter::new(sink, &COPY_TYPES);
    pin_mut!(writer);
    for row in rows {
        let position = to_i64(row.position);
        let client = row.client_id.as_deref();
        let values: [&(dyn ToSql + Sync); 9] = [
            &position,
            &row.event_id,
            &client,
            &row.area,
            &row.entity,
            &row.kind,
            &row.occurred_at,
            &row.recorded_at,
            &row.body,
        ];
        writer.as_mut().write(&values).await?;
    }
    writer.finish().await
}

async fn insert_rows(tx: &Transaction<'_>, rows: &[FactRow]) -> Result<(), StoreError> {
    let mut positions = Vec::with_capacity(rows.len());
    let mut ids: Vec<Uuid> = Vec::with_capacity(rows.len());
    let mut clients: Vec<Option<&str>> = Vec::with_capacity(rows.len());
    let mut areas: Vec<&str> = Vec::with_capacity(rows.len());
    let mut entities: Vec<&str> = Vec::with_capacity(rows.len());
    let mut kinds: Vec<&str> = Vec::with_capacity(rows.len());
    let mut occurred: Vec<DateTime<Utc>> = Vec::with_capacity(rows.len());
    let mut recorded: Vec<DateTime<Utc>> = Vec::with_capacity(rows.len());
    let mut bodies: Vec<&str> = Vec::with_capacity(rows.len());
    for row in rows {
        positions.push(to_i64(row.position));
        ids.push(row.event_id);
        clients.push(row.client_id.as_deref());
        areas.push(&row.area);
        entities.push(&row.entity);
        kinds.push(&row.kind);
        occurred.push(row.occurred_at);
        recorded.push(row.recorded_at);
        bodies.push(&row.body);
    }
    tx.execute(
        "INSERT INTO rm_fact (position, event_id, client_id, area, entity, kind, occurred_at, recorded_at, body)
         SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                              $6::text[], $7::timestamptz[], $8::timestamptz[], $9::text[])
         ON CONFLICT (position) DO NOTHING",
        &[
            &positions, &ids, &clients, &areas, &entities, &kinds, &occurred, &recorded, &bodies,
        ],
    )
    .await
    .map_err(pg_error)?;
    Ok(())
}

async fn checkpoint_in(tx: &Transaction<'_>) -> Result<Option<FactCheckpoint>, StoreError> {
    let row = tx
        .query_opt(
            "SELECT next_position, version FROM rm_checkpoint WHERE id = 0",
            &[],
        )
        .await
        .map_err(pg_error)?;
    Ok(row.and_then(|row| {
        Some(FactCheckpoint {
            next_position: u64::try_from(row.get::<_, i64>(0)).ok()?,
            version: u32::try_from(row.get::<_, i32>(1)).ok()?,
        })
    }))
}

/// Deletes the rows and sets the checkpoint to position 0 of `version`, if the stored
/// checkpoint is still `expected`; see `EventStore::reset_facts`.
pub(crate) async fn reset(
    conn: &mut Object,
    expected: Option<FactCheckpoint>,
    version: u32,
) -> Result<(), StoreError> {
    let version_value = version_param(version)?;
    let tx = conn.transaction().await.map_err(pg_error)?;
    // The checkpoint first, compared by the write itself: a conditional UPDATE (or an insert
    // that does nothing when a row exists) changes one row or none. It takes the checkpoint
    // row's lock before the table's, in the order a page write takes them, so a reset and a
    // page write queue on the row instead of deadlocking; a second reset waiting on the row
    // re-evaluates the condition against the first one's committed checkpoint and changes
    // nothing.
    let moved = match expected {
        Some(e) => {
            tx.execute(
                "UPDATE rm_checkpoint SET next_position = 0, version = $1, saved_at = now()
                 WHERE id = 0 AND next_position = $2 AND version = $3",
                &[
                    &version_value,
                    &to_i64(e.next_position),
                    &version_param(e.version)?,
                ],
            )
            .await
        }
        None => {
            tx.execute(
                "INSERT INTO rm_checkpoint (id, next_position, version) VALUES (0, 0, $1)
                 ON CONFLICT (id) DO NOTHING",
                &[&version_value],
            )
            .await
        }
    }
    .map_err(pg_error)?;
    if moved == 0 {
        let found = checkpoint_in(&tx).await?;
        return Err(StoreError::FactResetConflict { expected, found });
    }
    // TRUNCATE, not DELETE: a rebuild of millions of rows should not leave as many dead tuples.
    // The secondary indexes go in the same transaction (see `SECONDARY_INDEXES`); a crash
    // before `restore_indexes` leaves them missing, which reads survive, and the next
    // catch-up's end builds them.
    tx.batch_execute(
        "TRUNCATE rm_fact;
         DROP INDEX IF EXISTS rm_fact_client_idx;
         DROP INDEX IF EXISTS rm_fact_entity_idx;
         DROP INDEX IF EXISTS rm_fact_period_idx",
    )
    .await
    .map_err(pg_error)?;
    tx.commit().await.map_err(pg_error)
}

/// Builds the secondary indexes a reset dropped; nothing when they all exist (checked first,
/// so a catch-up with nothing to restore takes no lock on the table).
pub(crate) async fn restore_indexes(conn: &mut Object) -> Result<(), StoreError> {
    let names: Vec<&str> = SECONDARY_INDEXES.iter().map(|(name, _)| *name).collect();
    let missing: Vec<String> = conn
        .query(
            "SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass(name) IS NULL",
            &[&names],
        )
        .await
        .map_err(pg_error)?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let tx = conn.transaction().await.map_err(pg_error)?;
    // A sort of a few million rows fits in memory with this, instead of spilling to disk.
    tx.batch_execute("SET LOCAL maintenance_work_mem = '256MB'")
        .await
        .map_err(pg_error)?;
    for (name, create) in SECONDARY_INDEXES {
        if missing.iter().any(|m| m == name) {
            tx.batch_execute(create).await.map_err(pg_error)?;
        }
    }
    tx.commit().await.map_err(pg_error)
}

fn decode(row: &Row) -> Result<FactRow, StoreError> {
    let position: i64 = row.get(0);
    Ok(FactRow {
        position: u64::try_from(position).map_err(|_| corrupt(position, "negative position"))?,
        event_id: row.get(1),
        client_id: row.get(2),
        area: row.get(3),
        entity: row.get(4),
        kind: row.get(5),
        occurred_at: row.get(6),
        recorded_at: row.get(7),
        body: row.get(8),
    })
}

async fn select(
    conn: &Object,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<FactRow>, StoreError> {
    let stmt = conn.prepare_cached(sql).await.map_err(pg_error)?;
    let rows = conn.query(&stmt, params).await.map_err(pg_error)?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn read(
    conn: &Object,
    query: &FactQuery,
    max_count: usize,
) -> Result<Vec<FactRow>, StoreError> {
    if query.areas.is_empty() {
        return read_any_area(conn, query, max_count).await;
    }
    let from = i64::try_from(query.from_position).unwrap_or(i64::MAX);
    let before = query
        .before_position
        .map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
    let limit = i64::try_from(max_count).unwrap_or(i64::MAX);
    match (&query.entity, &query.client_id) {
        (None, Some(client)) => {
            let own = select(
                conn,
                "SELECT position, event_id, client_id, area, entity, kind, occurred_at, recorded_at, body FROM rm_fact WHERE client_id = $1 AND area = ANY($2) AND position >= $3 AND position < $4 ORDER BY position LIMIT $5",
                &[client, &query.areas, &from, &before, &limit],
            )
            .await?;
            let agency = select(
                conn,
                "SELECT position, event_id, client_id, area, entity, kind, occurred_at, recorded_at, body FROM rm_fact WHERE client_id IS NULL AND area = ANY($1) AND position >= $2 AND position < $3 ORDER BY position LIMIT $4",
                &[&query.areas, &from, &before, &limit],
            )
            .await?;
            Ok(merge_by_position(own, agency, max_count))
        }
        _ => {
            let any = FactQuery {
                areas: Vec::new(),
                ..query.clone()
            };
            Ok(read_any_area(conn, &any, usize::MAX)
                .await?
                .into_iter()
                .filter(|r| query.matches(r))
                .take(max_count)
                .collect())
        }
    }
}

/// The rows of the entities a period touches, in position order: the entities come from the
/// client/area/occurred-at index, their rows from the entity index.
pub(crate) async fn read_period(
    conn: &Object,
    query: &PeriodQuery,
) -> Result<Vec<FactRow>, StoreError> {
    let before = query
        .before_position
        .map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
    select(
        conn,
        "SELECT position, event_id, client_id, area, entity, kind, occurred_at, recorded_at, body FROM rm_fact
         WHERE client_id = $1 AND position < $5
           AND entity IN (
               SELECT entity FROM rm_fact
               WHERE client_id = $1 AND area = $2 AND occurred_at >= $3 AND occurred_at < $4
                 AND position < $5
               UNION SELECT unnest($6::text[]))
         ORDER BY position",
        &[
            &query.client_id,
            &query.area,
            &query.occurred_from,
            &query.occurred_before,
            &before,
            &query.entities,
        ],
    )
    .await
}

async fn read_any_area(
    conn: &Object,
    query: &FactQuery,
    max_count: usize,
) -> Result<Vec<FactRow>, StoreError> {
    let from = i64::try_from(query.from_position).unwrap_or(i64::MAX);
    let before = query
        .before_position
        .map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
    let limit = i64::try_from(max_count).unwrap_or(i64::MAX);
    match (&query.entity, &query.client_id) {
        (Some(entity), _) => {
            let rows = select(
                conn,
                "SELECT position, event_id, client_id, area, entity, kind, occurred_at, recorded_at, body FROM rm_fact WHERE entity = $1 AND position >= $2 AND position < $3 ORDER BY position LIMIT $4",
                &[entity, &from, &before, &limit],
            )
            .await?;
            Ok(rows.into_iter().filter(|r| query.matches(r)).collect())
        }
        (None, Some(client)) => {
            // Two index walks merged in memory, as on SQLite: each stays in position order.
            let own = select(
                conn,
                "SELECT position, event_id, client_id, area, entity, kind, occurred_at, recorded_at, body FROM rm_fact WHERE client_id = $1 AND position >= $2 AND position < $3 ORDER BY position LIMIT $4",
                &[client, &from, &before, &limit],
            )
            .await?;
            let agency = select(
                conn,
                "SELECT position, event_id, client_id, area, entity, kind, occurred_at, recorded_at, body FROM rm_fact WHERE client_id IS NULL AND position >= $1 AND position < $2 ORDER BY position LIMIT $3",
                &[&from, &before, &limit],
            )
            .await?;
            Ok(merge_by_position(own, agency, max_count))
        }
        (None, None) => {
            select(
                conn,
                "SELECT position, event_id, client_id, area, entity, kind, occurred_at, recorded_at, body FROM rm_fact WHERE position >= $1 AND position < $2 ORDER BY position LIMIT $3",
                &[&from, &before, &limit],
            )
            .await
        }
    }
}
