//! Read-model fact rows on PostgreSQL: the checkpoint, page writes, reset and reads.
//!
//! Only the owner (the role that ran the migrations: the projector) may write these tables; the
//! writer, auditor and client-reader roles read them, a client reader only its own client's rows
//! and the agency-wide ones (row-level security, migration 9).

use chrono::{DateTime, Utc};
use deadpool_postgres::Object;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
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

/// Rows and checkpoint in one transaction; see `EventStore::write_facts`. The checkpoint row is
/// updated first, so two projectors writing at once queue on its row lock, and a stale or
/// foreign checkpoint shows up as zero rows changed, never by reading first.
pub(crate) async fn write(
    conn: &mut Object,
    page_start: u64,
    to: FactCheckpoint,
    rows: &[FactRow],
) -> Result<(), StoreError> {
    let version = version_param(to.version)?;
    let tx = conn.transaction().await.map_err(pg_error)?;
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
        let found = checkpoint_in(&tx).await?;
        return Err(StoreError::FactCheckpointConflict {
            expected_version: to.version,
            page_start,
            found,
        });
    }
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
    if !rows.is_empty() {
        tx.execute(
            "INSERT INTO rm_fact (position, event_id, client_id, area, entity, kind, occurred_at, recorded_at, body)
             SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::timestamptz[], $8::timestamptz[], $9::text[])
             ON CONFLICT (position) DO NOTHING",
            &[
                &positions, &ids, &clients, &areas, &entities, &kinds, &occurred, &recorded,
                &bodies,
            ],
        )
        .await
        .map_err(pg_error)?;
    }
    tx.commit().await.map_err(pg_error)
}

async fn checkpoint_in(
    tx: &tokio_postgres::Transaction<'_>,
) -> Result<Option<FactCheckpoint>, StoreError> {
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

pub(crate) async fn reset(conn: &mut Object, version: u32) -> Result<(), StoreError> {
    let version = version_param(version)?;
    let tx = conn.transaction().await.map_err(pg_error)?;
    // TRUNCATE, not DELETE: a rebuild of millions of rows should not leave as many dead tuples.
    tx.batch_execute("TRUNCATE rm_fact")
        .await
        .map_err(pg_error)?;
    tx.execute(
        "INSERT INTO rm_checkpoint (id, next_position, version) VALUES (0, 0, $1)
         ON CONFLICT (id) DO UPDATE SET next_position = 0, version = excluded.version, saved_at = now()",
        &[&version],
    )
    .await
    .map_err(pg_error)?;
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
