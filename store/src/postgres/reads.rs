//! The read statements of the PostgreSQL backend on a connection the caller holds: the store
//! runs them on a pooled connection, a scoped handle (`scoped.rs`) inside its transaction under
//! the reader's role, so both read with the very same SQL.

use chrono::{DateTime, Utc};
use deadpool_postgres::Object;
use tokio_postgres::types::ToSql;

use crate::api::{ClientReadModel, Direction, EventFilter};
use crate::envelope::{Head, RecordedEvent, StreamId};
use crate::error::{Result, StoreError};
use crate::hash::Hash;

use super::rows::{decode_row, EVENT_COLUMNS};
use super::{copy_out, pg_error};

pub(crate) fn limit(max_count: usize) -> i64 {
    i64::try_from(max_count).unwrap_or(i64::MAX)
}

pub(crate) async fn query_events(
    conn: &Object,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<RecordedEvent>> {
    let stmt = conn.prepare_cached(sql).await.map_err(pg_error)?;
    let rows = conn.query(&stmt, params).await.map_err(pg_error)?;
    rows.iter().map(decode_row).collect()
}

pub(crate) async fn read_stream(
    conn: &Object,
    stream_id: &StreamId,
    from_version: u64,
    direction: Direction,
    max_count: usize,
) -> Result<Vec<RecordedEvent>> {
    let sql = match direction {
        Direction::Forward => format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version >= $2 \
             ORDER BY stream_version LIMIT $3"
        ),
        Direction::Backward => format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version <= $2 \
             ORDER BY stream_version DESC LIMIT $3"
        ),
    };
    let from = i64::try_from(from_version).unwrap_or(i64::MAX);
    let events = query_events(conn, &sql, &[&stream_id.as_str(), &from, &limit(max_count)]).await?;
    if events.is_empty() {
        let exists = conn
            .query_opt(
                "SELECT 1 FROM events WHERE stream_id = $1 LIMIT 1",
                &[&stream_id.as_str()],
            )
            .await
            .map_err(pg_error)?;
        if exists.is_none() {
            return Err(StoreError::StreamNotFound {
                stream_id: stream_id.to_string(),
            });
        }
    }
    Ok(events)
}

/// The whole log in order, page by page: read as binary `COPY` and decoded as the rows arrive
/// (`copy_out.rs`), for catch-ups, subscriptions and rebuilds.
pub(crate) async fn read_all(
    conn: &Object,
    from_position: u64,
    max_count: usize,
) -> Result<Vec<RecordedEvent>> {
    let from = i64::try_from(from_position).unwrap_or(i64::MAX);
    copy_out::read_all(conn, from, limit(max_count)).await
}

pub(crate) async fn read_filtered(
    conn: &Object,
    filter: &EventFilter,
    from_position: u64,
    max_count: usize,
) -> Result<Vec<RecordedEvent>> {
    let from = i64::try_from(from_position).unwrap_or(i64::MAX);
    let stream = filter.stream_id.as_ref().map(|s| s.as_str().to_owned());
    let mut clauses: Vec<String> = vec!["global_position >= $1".into()];
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&from];
    fn push<'a>(
        clauses: &mut Vec<String>,
        params: &mut Vec<&'a (dyn ToSql + Sync)>,
        clause: &str,
        param: &'a (dyn ToSql + Sync),
    ) {
        params.push(param);
        clauses.push(clause.replace('?', &format!("${}", params.len())));
    }
    // Clauses are fixed text; only placeholders carry the caller's values.
    if !filter.categories.is_empty() {
        push(
            &mut clauses,
            &mut params,
            "category = ANY(?)",
            &filter.categories,
        );
    }
    if !filter.event_types.is_empty() {
        push(
            &mut clauses,
            &mut params,
            "event_type = ANY(?)",
            &filter.event_types,
        );
    }
    if let Some(client) = &filter.client_id {
        push(&mut clauses, &mut params, "client_id = ?", client);
    }
    if let Some(stream) = &stream {
        push(&mut clauses, &mut params, "stream_id = ?", stream);
    }
    if let Some(correlation) = &filter.correlation_id {
        push(&mut clauses, &mut params, "correlation_id = ?", correlation);
    }
    let ranges: [(&str, &Option<DateTime<Utc>>, &str); 4] = [
        ("occurred_at", &filter.occurred.from, ">="),
        ("occurred_at", &filter.occurred.to, "<"),
        ("recorded_at", &filter.recorded.from, ">="),
        ("recorded_at", &filter.recorded.to, "<"),
    ];
    for (column, bound, op) in ranges {
        if let Some(t) = bound {
            push(&mut clauses, &mut params, &format!("{column} {op} ?"), t);
        }
    }
    let max = limit(max_count);
    params.push(&max);
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE {} ORDER BY global_position LIMIT ${}",
        clauses.join(" AND "),
        params.len()
    );
    query_events(conn, &sql, &params).await
}

pub(crate) async fn head(conn: &Object) -> Result<Option<Head>> {
    let row = conn
        .query_one(
            "SELECT next_position, head_hash, last_recorded_at FROM ledger_head WHERE id = 1",
            &[],
        )
        .await
        .map_err(pg_error)?;
    let next: i64 = row.get(0);
    let next = u64::try_from(next).expect("the schema checks next_position >= 0");
    let hash: &[u8] = row.get(1);
    let recorded_at: Option<DateTime<Utc>> = row.get(2);
    Ok(next.checked_sub(1).map(|position| Head {
        position,
        hash: Hash::from_slice(hash).expect("the schema checks the head hash length"),
        recorded_at: recorded_at.expect("a non-empty ledger has a last recorded_at"),
    }))
}

pub(crate) async fn client_read_models(
    conn: &Object,
    client_id: &str,
) -> Result<Vec<ClientReadModel>> {
    let rows = conn
        .query(
            "SELECT name, next_position, body FROM client_read_models \
             WHERE client_id = $1 ORDER BY name",
            &[&client_id],
        )
        .await
        .map_err(pg_error)?;
    Ok(rows
        .iter()
        .map(|row| ClientReadModel {
            client_id: client_id.to_owned(),
            name: row.get(0),
            next_position: u64::try_from(row.get::<_, i64>(1))
                .expect("the schema checks next_position >= 0"),
            body: row.get(2),
        })
        .collect())
}
