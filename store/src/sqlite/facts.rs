//! Read-model fact rows in the ledger file: the checkpoint, page writes, reset and reads, and
//! the secondary indexes a rebuild drops and builds again.

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use uuid::Uuid;

use super::rows::{micros, sql_bound};
use crate::error::StoreError;
use crate::facts::{
    merge_all_by_position, merge_by_position, FactCheckpoint, FactQuery, FactRow, PeriodQuery,
};

const COLUMNS: &str =
    "position, event_id, client_id, area, entity, kind, occurred_at, recorded_at, body";

fn sql(e: rusqlite::Error) -> StoreError {
    StoreError::Sqlite(e)
}

fn corrupt(position: i64, detail: &'static str) -> StoreError {
    StoreError::CorruptFact { position, detail }
}

/// The read model's secondary indexes, each as migrations 5 and 6 create it (the conformance
/// suite compares the schema after a rebuild with the migrated one). A rebuild from zero drops
/// them with the rows and builds them again at its end: one sort per index instead of a B-tree
/// insert per row and index, most of whose pages a page transaction dirties and writes to the
/// WAL again. Reads stay correct while they are missing, only slower.
const SECONDARY_INDEXES: [(&str, &str); 3] = [
    (
        "rm_fact_client",
        "CREATE INDEX IF NOT EXISTS rm_fact_client ON rm_fact (client_id, position)",
    ),
    (
        "rm_fact_entity",
        "CREATE INDEX IF NOT EXISTS rm_fact_entity ON rm_fact (entity, position)",
    ),
    (
        "rm_fact_period",
        "CREATE INDEX IF NOT EXISTS rm_fact_period ON rm_fact (client_id, area, occurred_at)",
    ),
];

fn index_exists(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1")
        .map_err(sql)?
        .exists([name])
        .map_err(sql)
}

/// Runs `work` on the side connection with `synchronous=NORMAL`, then puts `FULL` back.
///
/// Why a crash is safe: in WAL mode a commit under NORMAL is still atomic; only its durability
/// waits for the next WAL sync, so a power failure can lose the last committed pages, never
/// half of one. Each page's rows commit with the checkpoint that covers them, so a lost commit
/// takes its rows and its checkpoint move together, and the next catch-up derives the same
/// rows again from the log (a row is a function of its event). The log itself is written by
/// the writer thread's connection, which keeps FULL, and the data keys written on this
/// connection get FULL back before anything else runs on it (the connection is behind a lock).
fn relaxed<T>(
    conn: &Connection,
    work: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sql)?;
    let done = work();
    let restored = conn.pragma_update(None, "synchronous", "FULL").map_err(sql);
    let value = done?;
    restored?;
    Ok(value)
}

pub(crate) fn checkpoint(conn: &Connection) -> Result<Option<FactCheckpoint>, StoreError> {
    let row = conn
        .query_row(
            "SELECT next_position, version FROM rm_checkpoint WHERE id = 0",
            [],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
        )
        .optional()
        .map_err(sql)?;
    row.map(|(next, version)| {
        Ok(FactCheckpoint {
            next_position: u64::try_from(next).map_err(|_| corrupt(next, "negative checkpoint"))?,
            version: u32::try_from(version)
                .map_err(|_| corrupt(next, "checkpoint version out of range"))?,
        })
    })
    .transpose()
}

/// Rows and checkpoint in one transaction; see `EventStore::write_facts`.
pub(crate) fn write(
    conn: &Connection,
    page_start: u64,
    to: FactCheckpoint,
    rows: &[FactRow],
    saved_at_micros: i64,
) -> Result<(), StoreError> {
    relaxed(conn, || {
        write_page(conn, page_start, to, rows, saved_at_micros)
    })
}

fn write_page(
    conn: &Connection,
    page_start: u64,
    to: FactCheckpoint,
    rows: &[FactRow],
    saved_at_micros: i64,
) -> Result<(), StoreError> {
    // IMMEDIATE: the transaction reads the checkpoint and then writes, and a deferred one would
    // fail at once (not wait) if another projector wrote in between.
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate).map_err(sql)?;
    let found = checkpoint(&tx)?;
    let fits = match found {
        None => page_start == 0,
        Some(c) => c.version == to.version && c.next_position >= page_start,
    };
    if !fits {
        return Err(StoreError::FactCheckpointConflict {
            expected_version: to.version,
            page_start,
            found,
        });
    }
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO rm_fact (position, event_id, client_id, area, entity, kind, occurred_at, recorded_at, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (position) DO NOTHING",
            )
            .map_err(sql)?;
        for row in rows {
            insert
                .execute(params![
                    sql_bound(row.position),
                    row.event_id.as_bytes().as_slice(),
                    row.client_id,
                    row.area,
                    row.entity,
                    row.kind,
                    micros(row.occurred_at),
                    micros(row.recorded_at),
                    row.body,
                ])
                .map_err(sql)?;
        }
    }
    tx.execute(
        "INSERT INTO rm_checkpoint (id, next_position, version, saved_at) VALUES (0, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET
             next_position = max(next_position, excluded.next_position),
             saved_at = excluded.saved_at",
        params![
            sql_bound(to.next_position),
            i64::from(to.version),
            saved_at_micros
        ],
    )
    .map_err(sql)?;
    tx.commit().map_err(sql)
}

/// Deletes the rows and sets the checkpoint to position 0 of `version`, if the stored
/// checkpoint is still `expected`; see `EventStore::reset_facts`.
pub(crate) fn reset(
    conn: &Connection,
    expected: Option<FactCheckpoint>,
    version: u32,
    saved_at_micros: i64,
) -> Result<(), StoreError> {
    // The rows hold no personal field (the projections read them withheld, ADR 0004), so the
    // pages they free need no scrubbing; with `secure_delete` on, deleting a million rows
    // would zero and log every page of the table.
    conn.pragma_update(None, "secure_delete", "OFF")
        .map_err(sql)?;
    let done = relaxed(conn, || {
        reset_rows(conn, expected, version, saved_at_micros)
    });
    let restored = conn.pragma_update(None, "secure_delete", "ON").map_err(sql);
    done?;
    restored
}

fn reset_rows(
    conn: &Connection,
    expected: Option<FactCheckpoint>,
    version: u32,
    saved_at_micros: i64,
) -> Result<(), StoreError> {
    // IMMEDIATE: the write lock is taken before the checkpoint is compared, so no other
    // projector can reset or write a page between the comparison and the delete.
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate).map_err(sql)?;
    let found = checkpoint(&tx)?;
    if found != expected {
        // Dropping `tx` rolls it back; it has written nothing.
        return Err(StoreError::FactResetConflict { expected, found });
    }
    tx.execute("DELETE FROM rm_fact", []).map_err(sql)?;
    // In the same transaction as the delete: a crash before `restore_indexes` leaves them
    // missing, which reads survive, and the next catch-up's end builds them.
    for (name, _) in SECONDARY_INDEXES {
        // `name` is one of the fixed names above, never input.
        tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))
            .map_err(sql)?;
    }
    tx.execute(
        "INSERT INTO rm_checkpoint (id, next_position, version, saved_at) VALUES (0, 0, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET next_position = 0, version = excluded.version,
             saved_at = excluded.saved_at",
        params![i64::from(version), saved_at_micros],
    )
    .map_err(sql)?;
    tx.commit().map_err(sql)
}

/// Builds the secondary indexes a reset dropped; nothing when they all exist (checked first,
/// so a catch-up with nothing to restore takes no write lock).
pub(crate) fn restore_indexes(conn: &Connection) -> Result<(), StoreError> {
    let mut missing = Vec::new();
    for (name, create) in SECONDARY_INDEXES {
        if !index_exists(conn, name)? {
            missing.push(create);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    relaxed(conn, || {
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate).map_err(sql)?;
        for create in missing {
            tx.execute_batch(create).map_err(sql)?;
        }
        tx.commit().map_err(sql)
    })
}

fn time(position: i64, value: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_micros(value)
        .single()
        .ok_or_else(|| corrupt(position, "time out of range"))
}

fn decode(row: &rusqlite::Row<'_>) -> Result<FactRow, StoreError> {
    let position: i64 = row.get(0).map_err(sql)?;
    let id: Vec<u8> = row.get(1).map_err(sql)?;
    Ok(FactRow {
        position: u64::try_from(position).map_err(|_| corrupt(position, "negative position"))?,
        event_id: Uuid::from_slice(&id).map_err(|_| corrupt(position, "event id"))?,
        client_id: row.get(2).map_err(sql)?,
        area: row.get(3).map_err(sql)?,
        entity: row.get(4).map_err(sql)?,
        kind: row.get(5).map_err(sql)?,
        occurred_at: time(position, row.get(6).map_err(sql)?)?,
        recorded_at: time(position, row.get(7).map_err(sql)?)?,
        body: row.get(8).map_err(sql)?,
    })
}

fn select(
    conn: &Connection,
    condition: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<FactRow>, StoreError> {
    select_from(conn, "rm_fact", condition, args)
}

fn select_from(
    conn: &Connection,
    table: &str,
    condition: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<FactRow>, StoreError> {
    // `table` and `condition` are the fixed texts of this module, never input.
    let text = format!("SELECT {COLUMNS} FROM {table} WHERE {condition} ORDER BY position LIMIT ?");
    let mut stmt = conn.prepare_cached(&text).map_err(sql)?;
    let mut rows = stmt.query(args).map_err(sql)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql)? {
        out.push(decode(row)?);
    }
    Ok(out)
}

pub(crate) fn read(
    conn: &Connection,
    query: &FactQuery,
    max_count: usize,
) -> Result<Vec<FactRow>, StoreError> {
    if query.areas.is_empty() {
        return read_any_area(conn, query, max_count);
    }
    // One read transaction: the period index checked for is the one the reads then use.
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Deferred).map_err(sql)?;
    let period = period_table(&tx)?;
    let conn: &Connection = &tx;
    // One indexed read per area, merged: SQLite has no array parameter, and SQL is never
    // assembled from input.
    let mut lists = Vec::with_capacity(query.areas.len());
    for area in &query.areas {
        let one = FactQuery {
            areas: Vec::new(),
            ..query.clone()
        };
        let rows = match &one.client_id {
            Some(client) if one.entity.is_none() => {
                let from = sql_bound(one.from_position);
                let before = one.before_position.map_or(i64::MAX, sql_bound);
                let limit = sql_bound(max_count);
                // Through the period index while it exists (see `period_table`).
                let own = select_from(
                    conn,
                    period,
                    "client_id = ? AND area = ? AND position >= ? AND position < ?",
                    &[client, area, &from, &before, &limit],
                )?;
                let agency = select_from(
                    conn,
                    period,
                    "client_id IS NULL AND area = ? AND position >= ? AND position < ?",
                    &[area, &from, &before, &limit],
                )?;
                merge_by_position(own, agency, max_count)
            }
            _ => read_any_area(conn, &one, usize::MAX)?
                .into_iter()
                .filter(|r| &r.area == area)
                .take(max_count)
                .collect(),
        };
        lists.push(rows);
    }
    Ok(merge_all_by_position(lists, max_count))
}

/// The rows of the entities a period touches, in one statement: the entities found through
/// the client/area/occurred-at index (and the ones named), then their rows through the entity
/// index, SQLite looping over the entities itself. One lookup statement per entity, run from
/// here, cost about a third of a month's report (a statement reset, bind and step per call).
pub(crate) fn read_period(
    conn: &Connection,
    query: &PeriodQuery,
) -> Result<Vec<FactRow>, StoreError> {
    let before = query.before_position.map_or(i64::MAX, sql_bound);
    // The entities named go in as one JSON array parameter (SQLite has no array parameter, and
    // SQL is never assembled from input).
    let named = serde_json::Value::from(query.entities.clone()).to_string();
    // One read transaction: the period index checked for is the one the read then uses.
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Deferred).map_err(sql)?;
    let conn: &Connection = &tx;
    // `period_table` gives one of two fixed texts, never input. The unary `+` keeps SQLite from
    // walking the client index (every row the client has) to test each row's entity instead.
    let text = format!(
        "SELECT {COLUMNS} FROM rm_fact
         WHERE entity IN (
                 SELECT entity FROM {}
                 WHERE client_id = ?1 AND area = ?2 AND occurred_at >= ?3 AND occurred_at < ?4
                   AND position < ?5
                 UNION SELECT value FROM json_each(?6))
           AND +client_id = ?1 AND +position < ?5",
        period_table(conn)?
    );
    let mut stmt = conn.prepare_cached(&text).map_err(sql)?;
    let mut rows = stmt
        .query(params![
            query.client_id,
            query.area,
            micros(query.occurred_from),
            micros(query.occurred_before),
            before,
            named
        ])
        .map_err(sql)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql)? {
        out.push(decode(row)?);
    }
    // Sorted here, not in SQL: an ORDER BY position could lead SQLite to walk the whole table
    // in position order rather than sort the rows found.
    out.sort_by_key(|r| r.position);
    Ok(out)
}

/// The table clause of reads through the period index: the index named while it exists (left
/// to itself SQLite walks the client index in position order and filters by area, which reads
/// every row of the client), the bare table while a rebuild has dropped it (the same rows,
/// found by a scan).
fn period_table(conn: &Connection) -> Result<&'static str, StoreError> {
    Ok(if index_exists(conn, "rm_fact_period")? {
        "rm_fact INDEXED BY rm_fact_period"
    } else {
        "rm_fact"
    })
}

fn read_any_area(
    conn: &Connection,
    query: &FactQuery,
    max_count: usize,
) -> Result<Vec<FactRow>, StoreError> {
    let from = sql_bound(query.from_position);
    let before = query.before_position.map_or(i64::MAX, sql_bound);
    let limit = sql_bound(max_count);
    match (&query.entity, &query.client_id) {
        (Some(entity), _) => {
            let rows = select(
                conn,
                "entity = ? AND position >= ? AND position < ?",
                &[entity, &from, &before, &limit],
            )?;
            Ok(rows.into_iter().filter(|r| query.matches(r)).collect())
        }
        (None, Some(client)) => {
            // Two indexed reads merged in memory: an `OR client_id IS NULL` would make SQLite
            // sort the union instead of walking one index in position order.
            let own = select(
                conn,
                "client_id = ? AND position >= ? AND position < ?",
                &[client, &from, &before, &limit],
            )?;
            let agency = select(
                conn,
                "client_id IS NULL AND position >= ? AND position < ?",
                &[&from, &before, &limit],
            )?;
            Ok(merge_by_position(own, agency, max_count))
        }
        (None, None) => select(
            conn,
            "position >= ? AND position < ?",
            &[&from, &before, &limit],
        ),
    }
}
