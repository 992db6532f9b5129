//! The store conformance suite: every behaviour the `EventStore` API promises, written once
//! and run against each backend.
//!
//! Each case is a public async function taking a fresh, empty store, kept in the module of
//! what it checks (`append`, `reads`, `subscriptions`, `read_model`, `keys`) and re-exported
//! here, where the shared helpers live. A backend's test file invokes
//! [`conformance_tests!`](crate::conformance_tests) with an async factory, which expands to
//! one named `#[tokio::test]` per case.

mod append;
mod keys;
mod read_model;
mod reads;
mod subscriptions;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use opsledger_store::{
    EventStore, ExpectedVersion, Metadata, NewEvent, RecordedEvent, StoreError, StreamAppend,
    StreamId,
};
use serde_json::json;
use uuid::Uuid;

pub use append::{
    bad_input_is_refused_and_records_nothing, concurrent_batches_never_interleave,
    expected_version_rules, failed_appends_leave_no_trace, identical_retries_are_idempotent,
    multi_stream_batches_are_atomic, reused_event_ids_are_refused,
};
pub use keys::data_keys_are_created_once_and_destroyed_for_good;
pub use read_model::{
    read_model_big_pages_and_a_rebuild_keep_their_rows,
    read_model_facts_are_read_per_client_and_entity, read_model_facts_commit_with_their_checkpoint,
    read_model_resets_compare_and_set, read_models_are_published_per_client,
};
pub use reads::{
    filtered_reads_return_exactly_the_matches, head_tracks_the_last_event,
    positions_are_ordered_and_pages_read_back, recorded_events_round_trip,
    verify_reports_an_intact_chain_and_sub_ranges,
};
pub use subscriptions::{
    live_subscriber_misses_nothing_under_contention, subscriber_from_mid_log_sees_the_suffix,
};

/// Events per page when a case reads the whole log.
const READ_PAGE: usize = 1000;

/// What a factory hands the suite: a fresh store, plus anything that must live as long as it
/// (a temporary directory, a throwaway database). Dropped when the case ends.
pub trait Fixture: Send + 'static {
    fn store(&self) -> Arc<dyn EventStore>;
}

impl Fixture for Arc<dyn EventStore> {
    fn store(&self) -> Arc<dyn EventStore> {
        Arc::clone(self)
    }
}

impl<G: Send + 'static> Fixture for (Arc<dyn EventStore>, G) {
    fn store(&self) -> Arc<dyn EventStore> {
        Arc::clone(&self.0)
    }
}

/// Expands to one `#[tokio::test]` per conformance case. The argument is an async factory
/// (a path or a closure) returning a [`Fixture`](crate::conformance::Fixture) with a fresh,
/// empty store each call.
#[macro_export]
macro_rules! conformance_tests {
    ($make_fixture:expr) => {
        $crate::conformance_tests!(@cases $make_fixture;
            expected_version_rules,
            failed_appends_leave_no_trace,
            identical_retries_are_idempotent,
            reused_event_ids_are_refused,
            multi_stream_batches_are_atomic,
            positions_are_ordered_and_pages_read_back,
            recorded_events_round_trip,
            filtered_reads_return_exactly_the_matches,
            bad_input_is_refused_and_records_nothing,
            concurrent_batches_never_interleave,
            live_subscriber_misses_nothing_under_contention,
            subscriber_from_mid_log_sees_the_suffix,
            verify_reports_an_intact_chain_and_sub_ranges,
            head_tracks_the_last_event,
            read_model_facts_commit_with_their_checkpoint,
            read_model_resets_compare_and_set,
            read_model_facts_are_read_per_client_and_entity,
            read_model_big_pages_and_a_rebuild_keep_their_rows,
            read_models_are_published_per_client,
            data_keys_are_created_once_and_destroyed_for_good,
        );
    };
    (@cases $make_fixture:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture = ($make_fixture)().await;
                let store = $crate::conformance::Fixture::store(&fixture);
                $crate::conformance::$case(store).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// A stream id the test knows to be valid.
pub fn sid(raw: &str) -> StreamId {
    StreamId::parse(raw).expect("test stream ids are valid")
}

/// The instant test events occur from.
pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 0).unwrap()
}

/// A valid event with a fresh id, occurring `n` seconds after [`base_time`].
pub fn new_event(event_type: &str, n: u64) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: event_type.to_owned(),
        schema_version: 1,
        client_id: None,
        occurred_at: base_time() + chrono::Duration::seconds(i64::try_from(n).unwrap()),
        data: json!({"n": n, "queue": "500", "note": "a test event"}),
        metadata: Metadata::default(),
    }
}

/// `count` valid events of type `test.happened`.
pub fn events(count: u64) -> Vec<NewEvent> {
    (0..count).map(|n| new_event("test.happened", n)).collect()
}

fn ids(events: &[NewEvent]) -> Vec<Uuid> {
    events.iter().map(|e| e.event_id).collect()
}

fn recorded_ids(events: &[RecordedEvent]) -> Vec<Uuid> {
    events.iter().map(|e| e.event_id).collect()
}

/// The whole log, read in pages.
pub async fn read_everything(store: &dyn EventStore) -> Vec<RecordedEvent> {
    let mut out = Vec::new();
    loop {
        let from = u64::try_from(out.len()).unwrap();
        let page = store.read_all(from, READ_PAGE).await.unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

async fn head_position(store: &dyn EventStore) -> Option<u64> {
    store.head().await.unwrap().map(|h| h.position)
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, stream: &str) {
    match result {
        Err(StoreError::WrongExpectedVersion { stream_id, .. }) => assert_eq!(stream_id, stream),
        other => panic!("expected a version conflict on {stream}, got {other:?}"),
    }
}

fn assert_contiguous(positions: &[u64]) {
    for pair in positions.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "positions {positions:?} have a hole");
    }
}

fn batch(parts: Vec<(StreamId, ExpectedVersion, Vec<NewEvent>)>) -> Vec<StreamAppend> {
    parts
        .into_iter()
        .map(|(stream_id, expected_version, events)| StreamAppend {
            stream_id,
            expected_version,
            events,
        })
        .collect()
}
