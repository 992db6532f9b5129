//! Reads on their own connections: stream and log reads, filtered reads (placeholders only,
//! each served by a named index), the head, and the hash-chain walk of `verify`.
//!
//! WAL mode lets these run beside the writer; each statement (and each `verify`, which runs
//! in one read transaction) sees one committed snapshot.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};

use crate::api::{Direction, EventFilter, PositionRange, TimeRange};
use crate::envelope::{Head, RecordedEvent, StreamId};
use crate::error::StoreError;
use crate::hash::{
    looks_past_head, with_rows_past_head, ChainBreak, ChainEntry, ChainWalker, Hash, VerifyReport,
};

use super::rows::{
    chain_entry_from_row, event_from_row, head_from_row, map_sqlite_error, micros, sql_bound,
    sql_int, EVENT_COLUMNS, HEAD_SQL,
};
use super::schema::open_reader;

/// Read connections kept open for reuse; more may exist while many reads run at once.
const MAX_IDLE_READERS: usize = 8;
/// Events per page when `verify` walks the log.
const VERIFY_PAGE_EVENTS: usize = 10_000;
/// Decoded pages `verify` may hold ahead of the hashing thread.
const VERIFY_PAGES_IN_FLIGHT: usize = 2;

/// A small pool of read connections on one ledger file.
#[derive(Debug)]
pub(crate) struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `work` on a pooled connection (opening one if none is idle) and returns the
    /// connection to the pool afterwards. Call from a blocking context.
    pub fn with<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let taken = self.idle.lock().expect("reader pool lock poisoned").pop();
        let mut conn = match taken {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        let result = work(&mut conn);
        let mut idle = self.idle.lock().expect("reader pool lock poisoned");
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    fn sql_error(&self, error: rusqlite::Error) -> StoreError {
        map_sqlite_error(&self.path, error)
    }

    /// Runs a query selecting [`EVENT_COLUMNS`] and decodes every row.
    fn query_events(
        &self,
        conn: &Connection,
        sql: &str,
        params: impl rusqlite::Params,
        capacity: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut stmt = conn.prepare_cached(sql).map_err(|e| self.sql_error(e))?;
        let mut rows = stmt.query(params).map_err(|e| self.sql_error(e))?;
        let mut out = Vec::with_capacity(capacity);
        while let Some(row) = rows.next().map_err(|e| self.sql_error(e))? {
            out.push(event_from_row(row)?);
        }
        Ok(out)
    }

    pub fn read_stream(
        &self,
        stream_id: &StreamId,
        from_version: u64,
        direction: Direction,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.with(|conn| {
            let sql = match direction {
                Direction::Forward => format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ?1 \
                     AND stream_version >= ?2 ORDER BY stream_version LIMIT ?3"
                ),
                Direction::Backward => format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ?1 \
                     AND stream_version <= ?2 ORDER BY stream_version DESC LIMIT ?3"
                ),
            };
            // Both reads run in one snapshot so "empty page" and "no such stream" agree.
            let tx = conn.transaction().map_err(|e| self.sql_error(e))?;
            let events = self.query_events(
                &tx,
                &sql,
                (
                    stream_id.as_str(),
                    sql_bound(from_version),
                    sql_bound(max_count),
                ),
                max_count.min(VERIFY_PAGE_EVENTS),
            )?;
            if events.is_empty() {
                let exists = tx
                    .prepare_cached("SELECT 1 FROM events WHERE stream_id = ?1 LIMIT 1")
                    .and_then(|mut stmt| {
                        stmt.query_row([stream_id.as_str()], |_| Ok(())).optional()
                    })
                    .map_err(|e| self.sql_error(e))?
                    .is_some();
                if !exists {
                    return Err(StoreError::StreamNotFound {
                        stream_id: stream_id.as_str().to_owned(),
                    });
                }
            }
            Ok(events)
        })
    }

    pub fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.with(|conn| {
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE global_position >= ?1 \
                 ORDER BY global_position LIMIT ?2"
            );
            self.query_events(
                conn,
                &sql,
                (sql_bound(from_position), sql_bound(max_count)),
                max_count.min(VERIFY_PAGE_EVENTS),
            )
        })
    }

    pub fn read_filtered(
        &self,
        filter: &EventFilter,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let (sql, params) = filtered_sql(filter, from_position, max_count);
        self.with(|conn| {
            self.query_events(
                conn,
                &sql,
                rusqlite::params_from_iter(params.iter()),
                max_count.min(VERIFY_PAGE_EVENTS),
            )
        })
    }

    pub fn head(&self) -> Result<Option<Head>, StoreError> {
        self.with(|conn| self.read_head(conn))
    }

    fn read_head(&self, conn: &Connection) -> Result<Option<Head>, StoreError> {
        conn.prepare_cached(HEAD_SQL)
            .and_then(|mut stmt| stmt.query_row([], |row| Ok(head_from_row(row))))
            .map_err(|e| self.sql_error(e))?
            .map(|row| row.head)
    }

    /// Walks the chain over `range` in one read transaction, page by page.
    pub fn verify(&self, range: PositionRange) -> Result<VerifyReport, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction().map_err(|e| self.sql_error(e))?;
            let head = self.read_head(&tx)?;
            let anchor = match range.from.checked_sub(1) {
                None => Hash::GENESIS,
                Some(before) => {
                    let stored: Option<Vec<u8>> = tx
                        .query_row(
                            "SELECT hash FROM events WHERE global_position = ?1",
                            [sql_bound(before)],
                            |row| row.get(0),
                        )
                        .optional()
                        .map_err(|e| self.sql_error(e))?;
                    match stored {
                        Some(bytes) => {
                            Hash::from_slice(&bytes).ok_or_else(|| StoreError::CorruptRow {
                                position: before,
                                detail: format!(
                                    "column hash holds {} bytes, not a 32-byte hash",
                                    bytes.len()
                                ),
                            })?
                        }
                        None => return self.anchor_missing(&tx, before, head),
                    }
                }
            };
            // The walk reaches the head when the range is open-ended or ends at or after it;
            // then the head record is checked too. The walk stops at the head: rows past it
            // (which no append writes) are looked for separately and named as such.
            let reaches_head = head.is_some_and(|h| {
                range.from <= h.position && range.to.map_or(true, |to| to >= h.position)
            });
            let to = match head {
                Some(h) => sql_bound(range.to.map_or(h.position, |to| to.min(h.position))),
                None => -1,
            };
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE global_position >= ?1 \
                 AND global_position <= ?2 ORDER BY global_position LIMIT ?3"
            );
            // This thread steps through rows and digests each one straight from SQLite's
            // buffers; a second thread links the digests into the chain, so stepping the next
            // page overlaps with walking the last.
            let walker = std::thread::scope(|scope| -> Result<ChainWalker, StoreError> {
                let (pages, received) =
                    std::sync::mpsc::sync_channel::<Vec<ChainEntry>>(VERIFY_PAGES_IN_FLIGHT);
                let linker = scope.spawn(move || {
                    let mut walker = ChainWalker::new(range.from, anchor);
                    for page in received {
                        if !walker.check_entries(page) {
                            break;
                        }
                    }
                    walker
                });
                let mut stmt = tx.prepare_cached(&sql).map_err(|e| self.sql_error(e))?;
                let mut next = range.from;
                let read = loop {
                    let mut page = Vec::with_capacity(VERIFY_PAGE_EVENTS);
                    let stepped = (|| -> Result<(), StoreError> {
                        let mut rows = stmt
                            .query((sql_bound(next), to, sql_bound(VERIFY_PAGE_EVENTS)))
                            .map_err(|e| self.sql_error(e))?;
                        while let Some(row) = rows.next().map_err(|e| self.sql_error(e))? {
                            page.push(chain_entry_from_row(row)?);
                        }
                        Ok(())
                    })();
                    if let Err(e) = stepped {
                        break Err(e);
                    }
                    let Some(last) = page.last() else {
                        break Ok(());
                    };
                    next = last.position + 1;
                    let full = page.len() == VERIFY_PAGE_EVENTS;
                    // A closed channel means the walker found a break and stopped reading.
                    if pages.send(page).is_err() || !full {
                        break Ok(());
                    }
                };
                drop(pages);
                let walker = linker.join().expect("the verify linking thread panicked");
                read.map(|()| walker)
            })?;
            let report = walker.finish(head.filter(|_| reaches_head).map(|h| (h.position, h.hash)));
            let head_position = head.map(|h| h.position);
            if !looks_past_head(range.to, head_position) {
                return Ok(report);
            }
            // Same read transaction as the head, so a concurrent append cannot look like a
            // row past it.
            let past: Option<i64> = tx
                .query_row(
                    "SELECT min(global_position) FROM events WHERE global_position > ?1",
                    [head_position.map_or(-1, sql_bound)],
                    |row| row.get(0),
                )
                .map_err(|e| self.sql_error(e))?;
            let past = past.and_then(|p| u64::try_from(p).ok());
            Ok(with_rows_past_head(report, head_position, past))
        })
    }

    /// The event before a verify range is missing: either the range starts past the log's
    /// end (nothing to verify) or the log has a hole there.
    fn anchor_missing(
        &self,
        tx: &Connection,
        before: u64,
        head: Option<Head>,
    ) -> Result<VerifyReport, StoreError> {
        let past_end = !matches!(head, Some(h) if before <= h.position);
        if past_end {
            return Ok(VerifyReport::Intact {
                events: 0,
                first_position: None,
                head: None,
            });
        }
        let found: Option<i64> = tx
            .query_row(
                "SELECT min(global_position) FROM events WHERE global_position > ?1",
                [sql_int(before)],
                |row| row.get(0),
            )
            .map_err(|e| self.sql_error(e))?;
        let found = found
            .and_then(|p| u64::try_from(p).ok())
            .or(head.map(|h| h.position + 1))
            .unwrap_or(before + 1);
        Ok(VerifyReport::Broken {
            position: before,
            reason: ChainBreak::PositionGap {
                expected: before,
                found,
            },
            events_checked: 0,
        })
    }
}

/// The index a filtered read names, and its constraint, in order of preference: the most
/// selective kinds of filter first. Naming the index (`INDEXED BY`) keeps the plan fixed no
/// matter what SQLite's statistics say.
fn filtered_sql(
    filter: &EventFilter,
    from_position: u64,
    max_count: usize,
) -> (String, Vec<Value>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    let mut index: Option<&'static str> = None;
    let mut use_index = |name: &'static str| {
        index.get_or_insert(name);
    };

    if let Some(stream) = &filter.stream_id {
        use_index("events_stream_version");
        params.push(Value::Text(stream.as_str().to_owned()));
        clauses.push(format!("stream_id = ?{}", params.len()));
    }
    if let Some(correlation) = &filter.correlation_id {
        use_index("events_correlation");
        params.push(Value::Blob(correlation.as_bytes().to_vec()));
        clauses.push(format!("correlation_id = ?{}", params.len()));
    }
    if let Some(client) = &filter.client_id {
        use_index("events_client");
        params.push(Value::Text(client.clone()));
        clauses.push(format!("client_id = ?{}", params.len()));
    }
    if !filter.event_types.is_empty() {
        use_index("events_event_type");
        clauses.push(in_list("event_type", &filter.event_types, &mut params));
    }
    if !filter.categories.is_empty() {
        use_index("events_category");
        clauses.push(in_list("category", &filter.categories, &mut params));
    }
    if time_range_set(&filter.occurred) {
        use_index("events_occurred_at");
        time_clauses("occurred_at", &filter.occurred, &mut clauses, &mut params);
    }
    if time_range_set(&filter.recorded) {
        use_index("events_recorded_at");
        time_clauses("recorded_at", &filter.recorded, &mut clauses, &mut params);
    }
    params.push(Value::Integer(sql_bound(from_position)));
    clauses.push(format!("global_position >= ?{}", params.len()));
    params.push(Value::Integer(sql_bound(max_count)));
    let limit = params.len();
    let indexed = index.map_or_else(String::new, |name| format!(" INDEXED BY {name}"));
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events{indexed} WHERE {} ORDER BY global_position LIMIT ?{limit}",
        clauses.join(" AND ")
    );
    (sql, params)
}

fn in_list(column: &str, values: &[String], params: &mut Vec<Value>) -> String {
    let mut placeholders = Vec::with_capacity(values.len());
    for value in values {
        params.push(Value::Text(value.clone()));
        placeholders.push(format!("?{}", params.len()));
    }
    format!("{column} IN ({})", placeholders.join(", "))
}

fn time_range_set(range: &TimeRange) -> bool {
    range.from.is_some() || range.to.is_some()
}

fn time_clauses(
    column: &str,
    range: &TimeRange,
    clauses: &mut Vec<String>,
    params: &mut Vec<Value>,
) {
    if let Some(from) = range.from {
        params.push(Value::Integer(micros(from)));
        clauses.push(format!("{column} >= ?{}", params.len()));
    }
    if let Some(to) = range.to {
        params.push(Value::Integer(micros(to)));
        clauses.push(format!("{column} < ?{}", params.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::schema::open_writer;

    /// Every kind of filter is served by its index, never by a scan of the log.
    #[test]
    fn each_filter_uses_its_index() {
        let dir = std::env::temp_dir().join(format!("opsledger-plan-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let (conn, _) = open_writer(&dir.join("ledger.sqlite")).unwrap();
        let t = chrono::Utc::now();
        let range = TimeRange {
            from: Some(t),
            to: Some(t),
        };
        let cases = [
            (
                EventFilter {
                    stream_id: Some(StreamId::parse("call-1").unwrap()),
                    ..EventFilter::default()
                },
                "events_stream_version",
            ),
            (
                EventFilter {
                    correlation_id: Some(uuid::Uuid::new_v4()),
                    ..EventFilter::default()
                },
                "events_correlation",
            ),
            (
                EventFilter {
                    client_id: Some("acme".into()),
                    categories: vec!["call".into()],
                    ..EventFilter::default()
                },
                "events_client",
            ),
            (
                EventFilter {
                    event_types: vec!["a".into(), "b".into()],
                    ..EventFilter::default()
                },
                "events_event_type",
            ),
            (
                EventFilter {
                    categories: vec!["call".into()],
                    ..EventFilter::default()
                },
                "events_category",
            ),
            (
                EventFilter {
                    occurred: range,
                    ..EventFilter::default()
                },
                "events_occurred_at",
            ),
            (
                EventFilter {
                    recorded: range,
                    ..EventFilter::default()
                },
                "events_recorded_at",
            ),
        ];
        for (filter, index) in cases {
            let (sql, params) = filtered_sql(&filter, 0, 10);
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(params.iter()), |row| row.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let plan = plan.join("; ");
            assert!(
                plan.contains(&format!("USING INDEX {index}"))
                    || plan.contains(&format!("USING COVERING INDEX {index}")),
                "{filter:?} planned as {plan}"
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn filter_values_are_placeholders_never_text() {
        let filter = EventFilter {
            client_id: Some("x'; DROP TABLE events; --".into()),
            ..EventFilter::default()
        };
        let (sql, params) = filtered_sql(&filter, 3, 5);
        assert!(!sql.contains("DROP"));
        assert_eq!(params.len(), 3);
    }
}
