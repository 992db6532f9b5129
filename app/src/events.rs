//! Querying the log as it is stored: the events a filter selects, from a position, at most a
//! limit, read page by page so a front end can stream them.

use std::sync::Arc;

use opsledger_store::{EventFilter, EventStore, RecordedEvent};

use crate::error::AppResult;

/// Events fetched per page.
const EVENTS_PAGE: usize = 1000;

/// The pages of events a filter selects, from `from_position` on, `limit` events at most.
#[derive(Debug)]
pub struct EventPages {
    store: Arc<dyn EventStore>,
    filter: EventFilter,
    next: u64,
    left: usize,
}

impl EventPages {
    /// Starts a query; nothing is read until [`EventPages::next_page`].
    pub fn new(
        store: Arc<dyn EventStore>,
        filter: EventFilter,
        from_position: u64,
        limit: usize,
    ) -> Self {
        Self {
            store,
            filter,
            next: from_position,
            left: limit,
        }
    }

    /// The next page in log order; `None` once the limit or the end of the log is reached.
    pub async fn next_page(&mut self) -> AppResult<Option<Vec<RecordedEvent>>> {
        if self.left == 0 {
            return Ok(None);
        }
        let page = self
            .store
            .read_filtered(&self.filter, self.next, self.left.min(EVENTS_PAGE))
            .await?;
        let Some(last) = page.last() else {
            self.left = 0;
            return Ok(None);
        };
        self.next = last.global_position + 1;
        self.left = self.left.saturating_sub(page.len());
        Ok(Some(page))
    }

    /// Where the query would go on when it stopped at its limit: the position of the next
    /// selected event, or `None` when the log held no more (nothing was cut). A front end
    /// says so, so a reader never takes a page for the whole answer.
    pub async fn continues_at(&self) -> AppResult<Option<u64>> {
        if self.left > 0 {
            return Ok(None);
        }
        let next = self.store.read_filtered(&self.filter, self.next, 1).await?;
        Ok(next.first().map(|e| e.global_position))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use opsledger_store::{
        ExpectedVersion, Metadata, NewEvent, SqliteStore, StreamAppend, StreamId,
    };
    use uuid::Uuid;

    use super::*;

    async fn ledger_of(events: u64, dir: &tempfile::TempDir) -> Arc<dyn EventStore> {
        let store: Arc<dyn EventStore> =
            Arc::new(SqliteStore::create_new(dir.path().join("t.ledger")).unwrap());
        let events = (0..events)
            .map(|i| NewEvent {
                event_id: Uuid::from_u64_pair(7, i),
                event_type: "other.fact".to_owned(),
                schema_version: 1,
                client_id: Some(if i % 2 == 0 { "even" } else { "odd" }.to_owned()),
                occurred_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
                data: serde_json::json!({ "i": i }),
                metadata: Metadata::default(),
            })
            .collect();
        store
            .append_batch(vec![StreamAppend {
                stream_id: StreamId::parse("other-1").unwrap(),
                expected_version: ExpectedVersion::NoStream,
                events,
            }])
            .await
            .unwrap();
        store
    }

    async fn positions(mut pages: EventPages) -> Vec<u64> {
        let mut out = Vec::new();
        while let Some(page) = pages.next_page().await.unwrap() {
            out.extend(page.iter().map(|e| e.global_position));
        }
        out
    }

    #[tokio::test]
    async fn pages_stop_at_the_limit_and_start_at_the_position() {
        let dir = tempfile::tempdir().unwrap();
        let store = ledger_of(2500, &dir).await;
        let all = positions(EventPages::new(
            Arc::clone(&store),
            EventFilter::default(),
            0,
            usize::MAX,
        ))
        .await;
        assert_eq!(all, (0..2500).collect::<Vec<_>>());
        let some = positions(EventPages::new(
            Arc::clone(&store),
            EventFilter::default(),
            1200,
            1001,
        ))
        .await;
        assert_eq!(some, (1200..2201).collect::<Vec<_>>());
        let odd = EventFilter {
            client_id: Some("odd".to_owned()),
            ..EventFilter::default()
        };
        let first_odd = positions(EventPages::new(Arc::clone(&store), odd.clone(), 0, 3)).await;
        assert_eq!(first_odd, vec![1, 3, 5]);
    }

    async fn drained(mut pages: EventPages) -> EventPages {
        while pages.next_page().await.unwrap().is_some() {}
        pages
    }

    #[tokio::test]
    async fn a_query_cut_at_its_limit_says_where_it_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = ledger_of(10, &dir).await;
        let odd = EventFilter {
            client_id: Some("odd".to_owned()),
            ..EventFilter::default()
        };
        let cut = drained(EventPages::new(Arc::clone(&store), odd.clone(), 0, 3)).await;
        assert_eq!(cut.continues_at().await.unwrap(), Some(7));
        // Exactly the remaining events: the limit was reached but nothing was left out.
        let exact = drained(EventPages::new(Arc::clone(&store), odd.clone(), 0, 5)).await;
        assert_eq!(exact.continues_at().await.unwrap(), None);
        let short = drained(EventPages::new(store, odd, 0, 100)).await;
        assert_eq!(short.continues_at().await.unwrap(), None);
    }
}
