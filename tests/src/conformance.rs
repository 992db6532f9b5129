//! The store conformance suite: every behaviour the `EventStore` API promises, written once
//! and run against each backend.
//!
//! Each case is a public async function taking a fresh, empty store. A backend's test file
//! invokes [`conformance_tests!`](crate::conformance_tests) with an async factory, which
//! expands to one named `#[tokio::test]` per case.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use opsledger_store::envelope::{MAX_EVENT_DATA_BYTES, MAX_EVENT_DATA_DEPTH};
use opsledger_store::{
    AppendOutcome, DataKey, Direction, EventFilter, EventStore, ExpectedVersion, InvalidEvent,
    Metadata, NewEvent, PositionRange, RecordedEvent, StoreError, StreamAppend, StreamId,
    TimeRange, VerifyReport,
};
use serde_json::json;
use uuid::Uuid;

/// How long a case waits for a subscriber to catch up before failing.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);
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

// ---------------------------------------------------------------------------------------------
// 1. Expected versions

/// Each kind of expected version is checked against the stream's real version, and versions
/// count from 0 without gaps.
pub async fn expected_version_rules(store: Arc<dyn EventStore>) {
    let s = sid("order-1");
    let first = store
        .append(&s, ExpectedVersion::NoStream, events(2))
        .await
        .unwrap();
    assert_eq!(first.positions, vec![0, 1]);
    assert_eq!(first.last_version, 1);
    assert!(!first.idempotent_replay);

    let again = store.append(&s, ExpectedVersion::NoStream, events(1)).await;
    assert!(matches!(&again, Err(e) if e.is_conflict()));
    assert_conflict(again, "order-1");

    let exact = store
        .append(&s, ExpectedVersion::Exact(1), events(1))
        .await
        .unwrap();
    assert_eq!((exact.positions, exact.last_version), (vec![2], 2));
    assert_conflict(
        store.append(&s, ExpectedVersion::Exact(1), events(1)).await,
        "order-1",
    );
    // An expected version ahead of the stream is as wrong as one behind it.
    assert_conflict(
        store.append(&s, ExpectedVersion::Exact(7), events(1)).await,
        "order-1",
    );
    assert_conflict(
        store
            .append(
                &sid("order-missing"),
                ExpectedVersion::StreamExists,
                events(1),
            )
            .await,
        "order-missing",
    );
    assert_conflict(
        store
            .append(&sid("order-missing"), ExpectedVersion::Exact(0), events(1))
            .await,
        "order-missing",
    );

    let exists = store
        .append(&s, ExpectedVersion::StreamExists, events(1))
        .await
        .unwrap();
    assert_eq!(exists.last_version, 3);
    let any = store
        .append(&s, ExpectedVersion::Any, events(2))
        .await
        .unwrap();
    assert_eq!((any.positions, any.last_version), (vec![4, 5], 5));
    let new_any = store
        .append(&sid("order-2"), ExpectedVersion::Any, events(1))
        .await
        .unwrap();
    assert_eq!((new_any.positions, new_any.last_version), (vec![6], 0));

    let stream = store
        .read_stream(&s, 0, Direction::Forward, 100)
        .await
        .unwrap();
    let versions: Vec<u64> = stream.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, vec![0, 1, 2, 3, 4, 5]);
}

/// A refused append records nothing and burns no position: the next append gets the next
/// position, and the log has no holes.
pub async fn failed_appends_leave_no_trace(store: Arc<dyn EventStore>) {
    let s = sid("order-1");
    store
        .append(&s, ExpectedVersion::NoStream, events(3))
        .await
        .unwrap();
    let head_before = store.head().await.unwrap().unwrap();
    assert_eq!(head_before.position, 2);

    let mut refused = Vec::new();
    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::Exact(0),
        ExpectedVersion::Exact(9),
    ] {
        let attempt = events(2);
        refused.extend(ids(&attempt));
        assert_conflict(store.append(&s, expected, attempt).await, "order-1");
    }
    let attempt = events(1);
    refused.extend(ids(&attempt));
    assert_conflict(
        store
            .append(
                &sid("order-missing"),
                ExpectedVersion::StreamExists,
                attempt,
            )
            .await,
        "order-missing",
    );

    assert_eq!(store.head().await.unwrap(), Some(head_before));
    let log = read_everything(store.as_ref()).await;
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|e| !refused.contains(&e.event_id)));
    assert!(matches!(
        store
            .read_stream(&sid("order-missing"), 0, Direction::Forward, 10)
            .await,
        Err(StoreError::StreamNotFound { .. })
    ));

    let next = store
        .append(&sid("order-2"), ExpectedVersion::NoStream, events(2))
        .await
        .unwrap();
    assert_eq!(next.positions, vec![3, 4]);
    let positions: Vec<u64> = read_everything(store.as_ref())
        .await
        .iter()
        .map(|e| e.global_position)
        .collect();
    assert_eq!(positions, vec![0, 1, 2, 3, 4]);
}

// ---------------------------------------------------------------------------------------------
// 2. Idempotency

/// Re-appending exactly what was recorded answers with the original positions and writes
/// nothing, even when the retry's expected version has since been overtaken.
pub async fn identical_retries_are_idempotent(store: Arc<dyn EventStore>) {
    let s = sid("invoice-1");
    let first = events(3);
    let original = store
        .append(&s, ExpectedVersion::NoStream, first.clone())
        .await
        .unwrap();
    let replay = store
        .append(&s, ExpectedVersion::NoStream, first.clone())
        .await
        .unwrap();
    assert!(replay.idempotent_replay);
    assert_eq!(replay.positions, original.positions);
    assert_eq!(replay.last_version, original.last_version);
    let replay_any = store
        .append(&s, ExpectedVersion::Any, first.clone())
        .await
        .unwrap();
    assert!(replay_any.idempotent_replay);
    assert_eq!(replay_any.positions, vec![0, 1, 2]);
    assert_eq!(head_position(store.as_ref()).await, Some(2));

    // A retry with Exact(n) after the stream has moved on is still the same append.
    let second = events(2);
    let recorded = store
        .append(&s, ExpectedVersion::Exact(2), second.clone())
        .await
        .unwrap();
    assert_eq!(recorded.positions, vec![3, 4]);
    store
        .append(&s, ExpectedVersion::Any, events(1))
        .await
        .unwrap();
    let head = store.head().await.unwrap();
    let stale_retry = store
        .append(&s, ExpectedVersion::Exact(2), second.clone())
        .await
        .unwrap();
    assert!(stale_retry.idempotent_replay);
    assert_eq!(stale_retry.positions, vec![3, 4]);
    assert_eq!(stale_retry.last_version, 4);
    assert_eq!(store.head().await.unwrap(), head);

    // A whole multi-stream batch retried is replayed stream by stream.
    let parts = vec![
        (sid("invoice-2"), ExpectedVersion::NoStream, events(2)),
        (sid("invoice-3"), ExpectedVersion::NoStream, events(1)),
    ];
    let original = store.append_batch(batch(parts.clone())).await.unwrap();
    let replay = store.append_batch(batch(parts)).await.unwrap();
    assert_eq!(replay.len(), 2);
    for (o, r) in original.iter().zip(&replay) {
        assert!(!o.idempotent_replay);
        assert!(r.idempotent_replay);
        assert_eq!(o.positions, r.positions);
        assert_eq!(o.stream_id, r.stream_id);
    }
    assert_eq!(read_everything(store.as_ref()).await.len(), 9);
}

/// An event id names one fact: reused with other content, in another stream, or mixed with
/// new events, it is refused and nothing is written.
pub async fn reused_event_ids_are_refused(store: Arc<dyn EventStore>) {
    let s = sid("invoice-1");
    let original = new_event("invoice.issued", 1);
    store
        .append(&s, ExpectedVersion::Any, vec![original.clone()])
        .await
        .unwrap();

    let mut changed = original.clone();
    changed.data = json!({"n": 2});
    for expected in [ExpectedVersion::Any, ExpectedVersion::Exact(0)] {
        match store.append(&s, expected, vec![changed.clone()]).await {
            Err(StoreError::DuplicateEventId { event_id, position }) => {
                assert_eq!((event_id, position), (original.event_id, 0));
            }
            other => panic!("expected DuplicateEventId, got {other:?}"),
        }
    }

    // Part replay, part new: no earlier atomic append produced this.
    let mixed = vec![original.clone(), new_event("invoice.paid", 2)];
    assert!(matches!(
        store.append(&s, ExpectedVersion::Any, mixed).await,
        Err(StoreError::DuplicateEventId { .. })
    ));

    // The same id in another stream is another fact with a reused id.
    let other = sid("invoice-2");
    for expected in [ExpectedVersion::Any, ExpectedVersion::NoStream] {
        assert!(matches!(
            store.append(&other, expected, vec![original.clone()]).await,
            Err(StoreError::DuplicateEventId { position: 0, .. })
        ));
    }
    // Also when it rides in a batch with a valid stream: the whole batch is refused.
    let parts = vec![
        (sid("invoice-3"), ExpectedVersion::NoStream, events(2)),
        (other.clone(), ExpectedVersion::Any, vec![original.clone()]),
    ];
    assert!(matches!(
        store.append_batch(batch(parts)).await,
        Err(StoreError::DuplicateEventId { .. })
    ));

    assert_eq!(head_position(store.as_ref()).await, Some(0));
    for stream in [other, sid("invoice-3")] {
        assert!(matches!(
            store.read_stream(&stream, 0, Direction::Forward, 10).await,
            Err(StoreError::StreamNotFound { .. })
        ));
    }
    let next = store
        .append(&s, ExpectedVersion::Exact(0), events(1))
        .await
        .unwrap();
    assert_eq!(next.positions, vec![1]);
}

// ---------------------------------------------------------------------------------------------
// 3. Atomic batches

/// A batch over several streams is recorded whole or not at all.
pub async fn multi_stream_batches_are_atomic(store: Arc<dyn EventStore>) {
    let (a, b, c) = (sid("call-a"), sid("call-b"), sid("agent-c"));
    store
        .append(&c, ExpectedVersion::NoStream, events(1))
        .await
        .unwrap();

    let doomed = batch(vec![
        (a.clone(), ExpectedVersion::NoStream, events(2)),
        (b.clone(), ExpectedVersion::NoStream, events(3)),
        (c.clone(), ExpectedVersion::NoStream, events(1)),
    ]);
    assert_conflict(store.append_batch(doomed).await, "agent-c");
    assert_eq!(head_position(store.as_ref()).await, Some(0));
    for stream in [&a, &b] {
        assert!(matches!(
            store.read_stream(stream, 0, Direction::Forward, 10).await,
            Err(StoreError::StreamNotFound { .. })
        ));
    }

    let parts = vec![
        (a.clone(), ExpectedVersion::NoStream, events(2)),
        (b.clone(), ExpectedVersion::NoStream, events(3)),
        (c.clone(), ExpectedVersion::Exact(0), events(1)),
    ];
    let expected_ids: Vec<Uuid> = parts.iter().flat_map(|(_, _, e)| ids(e)).collect();
    let outcomes = store.append_batch(batch(parts)).await.unwrap();
    let streams: Vec<&str> = outcomes.iter().map(|o| o.stream_id.as_str()).collect();
    assert_eq!(streams, vec!["call-a", "call-b", "agent-c"]);
    assert_eq!(outcomes[0].positions, vec![1, 2]);
    assert_eq!(outcomes[1].positions, vec![3, 4, 5]);
    assert_eq!(outcomes[2].positions, vec![6]);
    assert_eq!(
        outcomes.iter().map(|o| o.last_version).collect::<Vec<_>>(),
        vec![1, 2, 1]
    );
    let log = read_everything(store.as_ref()).await;
    assert_eq!(recorded_ids(&log[1..]), expected_ids);
}

// ---------------------------------------------------------------------------------------------
// 4. Ordering and plain reads

/// Positions are gap-free and increasing, `recorded_at` never runs backwards, and stream and
/// log reads page correctly in both directions.
pub async fn positions_are_ordered_and_pages_read_back(store: Arc<dyn EventStore>) {
    let streams: Vec<StreamId> = (0..5).map(|i| sid(&format!("call-{i}"))).collect();
    for round in 0..6u64 {
        for (i, s) in streams.iter().enumerate() {
            let count = 1 + (round + u64::try_from(i).unwrap()) % 3;
            store
                .append(s, ExpectedVersion::Any, events(count))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let all = read_everything(store.as_ref()).await;
    let total = u64::try_from(all.len()).unwrap();
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.global_position, u64::try_from(i).unwrap());
    }
    for pair in all.windows(2) {
        assert!(pair[0].recorded_at <= pair[1].recorded_at);
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }

    // Pages of 7 reassemble the log exactly.
    let mut paged = Vec::new();
    let mut from = 0;
    loop {
        let page = store.read_all(from, 7).await.unwrap();
        assert!(page.len() <= 7);
        let Some(last) = page.last() else { break };
        from = last.global_position + 1;
        paged.extend(page);
    }
    assert_eq!(paged, all);
    assert!(store.read_all(total, 10).await.unwrap().is_empty());
    assert_eq!(store.read_all(5, 3).await.unwrap(), all[5..8].to_vec());

    let s = &streams[2];
    let stream: Vec<RecordedEvent> = all.iter().filter(|e| &e.stream_id == s).cloned().collect();
    assert!(stream.len() >= 8);
    let forward = store
        .read_stream(s, 2, Direction::Forward, 3)
        .await
        .unwrap();
    assert_eq!(forward, stream[2..5].to_vec());
    let backward = store
        .read_stream(s, 4, Direction::Backward, 3)
        .await
        .unwrap();
    let expected: Vec<RecordedEvent> = stream[2..5].iter().rev().cloned().collect();
    assert_eq!(backward, expected);
    let from_end = store
        .read_stream(s, u64::MAX, Direction::Backward, 2)
        .await
        .unwrap();
    let last_two: Vec<RecordedEvent> = stream.iter().rev().take(2).cloned().collect();
    assert_eq!(from_end, last_two);
    let whole = store
        .read_stream(s, 0, Direction::Forward, 1000)
        .await
        .unwrap();
    assert_eq!(whole, stream);
    // Past the end of an existing stream is an empty page, not "not found".
    let beyond = u64::try_from(stream.len()).unwrap();
    assert!(store
        .read_stream(s, beyond, Direction::Forward, 10)
        .await
        .unwrap()
        .is_empty());
}

/// What is read back is what was appended: canonical data, microsecond times, every
/// metadata field, and the ledger's own fields.
pub async fn recorded_events_round_trip(store: Arc<dyn EventStore>) {
    let correlation = Uuid::new_v4();
    let causation = Uuid::new_v4();
    let occurred = Utc.timestamp_nanos(1_790_000_000_123_456_789);
    let event = NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "call.connected".into(),
        schema_version: 3,
        client_id: Some("acme-éast".into()),
        occurred_at: occurred,
        data: json!({"z": [1, 2.5, "ü\"\n"], "a": {"y": null, "b": true}}),
        metadata: Metadata {
            correlation_id: Some(correlation),
            causation_id: Some(causation),
            actor: Some("ops@example".into()),
            source: Some("opsledger-cli".into()),
        },
    };
    let bare = new_event("call.ended", 1);
    let s = sid("call-1658129428.1048");
    let before = Utc::now();
    store
        .append(
            &s,
            ExpectedVersion::NoStream,
            vec![event.clone(), bare.clone()],
        )
        .await
        .unwrap();
    let read = store.read_all(0, 10).await.unwrap();
    assert_eq!(read.len(), 2);
    let r = &read[0];
    assert_eq!(r.event_id, event.event_id);
    assert_eq!(r.stream_id, s);
    assert_eq!(r.stream_version, 0);
    assert_eq!(r.event_type, "call.connected");
    assert_eq!(r.schema_version, 3);
    assert_eq!(r.client_id.as_deref(), Some("acme-éast"));
    assert_eq!(
        r.occurred_at,
        Utc.timestamp_micros(1_790_000_000_123_456).unwrap()
    );
    assert_eq!(r.data, r#"{"a":{"b":true,"y":null},"z":[1,2.5,"ü\"\n"]}"#);
    assert_eq!(r.data_json().unwrap(), event.data);
    assert_eq!(r.metadata, event.metadata);
    assert_eq!(r.prev_hash, opsledger_store::Hash::GENESIS);
    assert_eq!(r.hash, opsledger_store::hash::compute_hash(r));
    // Recorded by the ledger's clock, to the microsecond.
    assert!(r.recorded_at >= before - chrono::Duration::seconds(5));
    assert!(r.recorded_at <= Utc::now() + chrono::Duration::seconds(5));
    assert_eq!(r.recorded_at.timestamp_subsec_nanos() % 1000, 0);

    let b = &read[1];
    assert_eq!(b.event_id, bare.event_id);
    assert_eq!(b.client_id, None);
    assert_eq!(b.metadata, Metadata::default());
    assert_eq!(b.prev_hash, r.hash);
    assert_eq!(b.stream_version, 1);
}

// ---------------------------------------------------------------------------------------------
// 5. Filtered reads

fn in_range(range: &TimeRange, t: DateTime<Utc>) -> bool {
    range.from.map_or(true, |from| t >= from) && range.to.map_or(true, |to| t < to)
}

/// The reference semantics of a filter, evaluated in memory.
fn matches(filter: &EventFilter, e: &RecordedEvent) -> bool {
    (filter.categories.is_empty()
        || filter
            .categories
            .iter()
            .any(|c| c == e.stream_id.category()))
        && (filter.event_types.is_empty() || filter.event_types.contains(&e.event_type))
        && filter
            .client_id
            .as_ref()
            .map_or(true, |c| e.client_id.as_ref() == Some(c))
        && filter
            .stream_id
            .as_ref()
            .map_or(true, |s| &e.stream_id == s)
        && filter
            .correlation_id
            .map_or(true, |c| e.metadata.correlation_id == Some(c))
        && in_range(&filter.occurred, e.occurred_at)
        && in_range(&filter.recorded, e.recorded_at)
}

/// Every filter field, alone and combined, returns exactly the matching events in position
/// order, and pages of a filtered read reassemble the whole answer.
pub async fn filtered_reads_return_exactly_the_matches(store: Arc<dyn EventStore>) {
    let correlation_a = Uuid::new_v4();
    let correlation_b = Uuid::new_v4();
    let streams = [
        sid("call-1"),
        sid("call-2"),
        sid("agent-7"),
        sid("client-acme"),
    ];
    let types = ["call.connected", "call.ended", "agent.login"];
    let clients = [Some("acme"), Some("globex"), None];
    let mut n = 0u64;
    // Twelve appends of three events, a few milliseconds apart so recorded_at ranges can
    // split them.
    for round in 0..12usize {
        let mut batch_events = Vec::new();
        for k in 0..3usize {
            let i = round * 3 + k;
            let mut e = new_event(types[i % 3], n);
            // Occurrence times are spread and out of position order on purpose.
            e.occurred_at =
                base_time() + chrono::Duration::minutes(i64::try_from((i * 7) % 36).unwrap());
            e.client_id = clients[(i / 2) % 3].map(str::to_owned);
            e.metadata.correlation_id = match i % 4 {
                0 => Some(correlation_a),
                1 => Some(correlation_b),
                _ => None,
            };
            batch_events.push(e);
            n += 1;
        }
        store
            .append(&streams[round % 4], ExpectedVersion::Any, batch_events)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let all = read_everything(store.as_ref()).await;
    assert_eq!(all.len(), 36);

    let recorded_from = all[9].recorded_at;
    let recorded_to = all[27].recorded_at;
    assert!(recorded_from < recorded_to);
    let occurred = TimeRange {
        from: Some(base_time() + chrono::Duration::minutes(5)),
        to: Some(base_time() + chrono::Duration::minutes(20)),
    };
    let recorded = TimeRange {
        from: Some(recorded_from),
        to: Some(recorded_to),
    };
    let filters = vec![
        EventFilter {
            categories: vec!["call".into()],
            ..EventFilter::default()
        },
        EventFilter {
            categories: vec!["agent".into(), "client".into()],
            ..EventFilter::default()
        },
        EventFilter {
            event_types: vec!["call.ended".into()],
            ..EventFilter::default()
        },
        EventFilter {
            event_types: vec!["call.connected".into(), "agent.login".into()],
            ..EventFilter::default()
        },
        EventFilter {
            client_id: Some("acme".into()),
            ..EventFilter::default()
        },
        EventFilter {
            stream_id: Some(sid("call-2")),
            ..EventFilter::default()
        },
        EventFilter {
            correlation_id: Some(correlation_a),
            ..EventFilter::default()
        },
        EventFilter {
            occurred,
            ..EventFilter::default()
        },
        EventFilter {
            occurred: TimeRange {
                from: occurred.from,
                to: None,
            },
            ..EventFilter::default()
        },
        EventFilter {
            recorded,
            ..EventFilter::default()
        },
        EventFilter {
            recorded: TimeRange {
                from: None,
                to: Some(recorded_to),
            },
            ..EventFilter::default()
        },
        EventFilter {
            categories: vec!["call".into()],
            event_types: vec!["call.connected".into(), "call.ended".into()],
            client_id: Some("globex".into()),
            ..EventFilter::default()
        },
        EventFilter {
            categories: vec!["call".into(), "agent".into()],
            correlation_id: Some(correlation_b),
            occurred,
            recorded,
            ..EventFilter::default()
        },
        EventFilter {
            stream_id: Some(sid("call-1")),
            client_id: Some("acme".into()),
            ..EventFilter::default()
        },
    ];
    for filter in &filters {
        let expected: Vec<RecordedEvent> =
            all.iter().filter(|e| matches(filter, e)).cloned().collect();
        // A filter that matches nothing or everything would not test anything.
        assert!(
            !expected.is_empty() && expected.len() < all.len(),
            "{filter:?} matches {} of {} events: pick better test data",
            expected.len(),
            all.len()
        );
        let got = store.read_filtered(filter, 0, 1000).await.unwrap();
        assert_eq!(got, expected, "{filter:?}");

        let mut paged = Vec::new();
        let mut from = 0;
        loop {
            let page = store.read_filtered(filter, from, 2).await.unwrap();
            assert!(page.len() <= 2);
            let Some(last) = page.last() else { break };
            from = last.global_position + 1;
            paged.extend(page);
        }
        assert_eq!(paged, expected, "{filter:?} read in pages of 2");

        let later: Vec<RecordedEvent> = expected
            .iter()
            .filter(|e| e.global_position >= 20)
            .cloned()
            .collect();
        assert_eq!(
            store.read_filtered(filter, 20, 1000).await.unwrap(),
            later,
            "{filter:?} from position 20"
        );
    }
    // Hand-counted anchors, so the reference filter above cannot drift with the backends.
    let calls = store.read_filtered(&filters[0], 0, 1000).await.unwrap();
    assert_eq!(calls.len(), 18);
    let by_stream = store.read_filtered(&filters[5], 0, 1000).await.unwrap();
    assert_eq!(by_stream.len(), 9);
    let by_correlation = store.read_filtered(&filters[6], 0, 1000).await.unwrap();
    assert_eq!(by_correlation.len(), 9);
    let nothing = EventFilter {
        client_id: Some("nobody".into()),
        ..EventFilter::default()
    };
    assert!(store
        .read_filtered(&nothing, 0, 1000)
        .await
        .unwrap()
        .is_empty());
    let unfiltered = store
        .read_filtered(&EventFilter::default(), 0, 1000)
        .await
        .unwrap();
    assert_eq!(unfiltered, all);
}

// ---------------------------------------------------------------------------------------------
// 6. Bad input

fn invalid(result: Result<AppendOutcome, StoreError>) -> InvalidEvent {
    match result {
        Err(StoreError::InvalidEvent { problem, .. }) => problem,
        other => panic!("expected InvalidEvent, got {other:?}"),
    }
}

/// Malformed input is refused with a typed error, and nothing of it is recorded.
pub async fn bad_input_is_refused_and_records_nothing(store: Arc<dyn EventStore>) {
    let s = sid("call-1");
    store
        .append(&s, ExpectedVersion::NoStream, events(1))
        .await
        .unwrap();
    let head = store.head().await.unwrap();

    assert!(matches!(
        StreamId::parse("Not A Stream"),
        Err(StoreError::InvalidStreamId { .. })
    ));
    assert!(matches!(
        StreamId::parse("call"),
        Err(StoreError::InvalidStreamId { .. })
    ));
    assert!(matches!(
        store.append_batch(Vec::new()).await,
        Err(StoreError::EmptyAppend)
    ));
    assert!(matches!(
        store.append(&s, ExpectedVersion::Any, Vec::new()).await,
        Err(StoreError::EmptyAppend)
    ));

    let mut e = new_event("call.ended", 1);
    e.data = json!([1, 2]);
    assert_eq!(
        invalid(store.append(&s, ExpectedVersion::Any, vec![e]).await),
        InvalidEvent::DataNotObject
    );
    let mut e = new_event("call.ended", 1);
    e.data = json!({"blob": "x".repeat(MAX_EVENT_DATA_BYTES)});
    assert!(matches!(
        invalid(store.append(&s, ExpectedVersion::Any, vec![e]).await),
        InvalidEvent::DataTooLarge { .. }
    ));
    let mut deep = json!(1);
    for _ in 0..MAX_EVENT_DATA_DEPTH + 5 {
        deep = json!({ "d": deep });
    }
    let mut e = new_event("call.ended", 1);
    e.data = deep;
    assert!(matches!(
        invalid(store.append(&s, ExpectedVersion::Any, vec![e]).await),
        InvalidEvent::Data(_)
    ));
    let mut e = new_event("call.ended", 1);
    e.schema_version = 0;
    assert_eq!(
        invalid(store.append(&s, ExpectedVersion::Any, vec![e]).await),
        InvalidEvent::SchemaVersionZero
    );
    let mut e = new_event("call ended", 1);
    e.event_type = "call ended".into();
    assert_eq!(
        invalid(store.append(&s, ExpectedVersion::Any, vec![e]).await),
        InvalidEvent::EventType
    );
    let mut e = new_event("call.ended", 1);
    e.event_id = Uuid::nil();
    assert_eq!(
        invalid(store.append(&s, ExpectedVersion::Any, vec![e]).await),
        InvalidEvent::NilEventId
    );
    let e = new_event("call.ended", 1);
    assert_eq!(
        invalid(
            store
                .append(&s, ExpectedVersion::Any, vec![e.clone(), e])
                .await
        ),
        InvalidEvent::EventIdRepeatedInAppend
    );
    // One bad event in the second stream of a batch sinks the valid first stream too.
    let mut bad = new_event("call.ended", 1);
    bad.schema_version = 0;
    let parts = vec![
        (sid("call-2"), ExpectedVersion::NoStream, events(2)),
        (sid("call-3"), ExpectedVersion::NoStream, vec![bad]),
    ];
    assert!(matches!(
        store.append_batch(batch(parts)).await,
        Err(StoreError::InvalidEvent { index: 2, .. })
    ));

    assert_eq!(store.head().await.unwrap(), head);
    assert_eq!(read_everything(store.as_ref()).await.len(), 1);
    for unknown in ["call-2", "call-3", "nobody-here"] {
        match store
            .read_stream(&sid(unknown), 0, Direction::Forward, 10)
            .await
        {
            Err(StoreError::StreamNotFound { stream_id }) => assert_eq!(stream_id, unknown),
            other => panic!("expected StreamNotFound for {unknown}, got {other:?}"),
        }
    }
    assert!(matches!(
        store
            .read_stream(&sid("nobody-here"), 0, Direction::Backward, 10)
            .await,
        Err(StoreError::StreamNotFound { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// 7. Non-interleaving

/// Events per racing batch.
const RACE_BATCH_EVENTS: u64 = 64;
/// Batches each racer appends.
const RACE_ROUNDS: usize = 20;

/// Two writers racing whole batches: each batch's positions are contiguous and hold exactly
/// that batch's events, in order.
pub async fn concurrent_batches_never_interleave(store: Arc<dyn EventStore>) {
    let mut tasks = Vec::new();
    for writer in 0..2 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut recorded: Vec<(Vec<Uuid>, Vec<u64>)> = Vec::new();
            for round in 0..RACE_ROUNDS {
                let outcomes = if round % 2 == 0 {
                    let evs = events(RACE_BATCH_EVENTS);
                    let ids = ids(&evs);
                    let stream = sid(&format!("racer-{writer}"));
                    let o = store
                        .append(&stream, ExpectedVersion::Any, evs)
                        .await
                        .unwrap();
                    (ids, o.positions)
                } else {
                    // A two-stream batch is one unit too.
                    let (first, second) =
                        (events(RACE_BATCH_EVENTS / 2), events(RACE_BATCH_EVENTS / 2));
                    let mut ids = crate::conformance::ids(&first);
                    ids.extend(crate::conformance::ids(&second));
                    let outcomes = store
                        .append_batch(batch(vec![
                            (sid(&format!("racer-{writer}")), ExpectedVersion::Any, first),
                            (
                                sid(&format!("other-{writer}")),
                                ExpectedVersion::Any,
                                second,
                            ),
                        ]))
                        .await
                        .unwrap();
                    let positions = outcomes.into_iter().flat_map(|o| o.positions).collect();
                    (ids, positions)
                };
                recorded.push(outcomes);
            }
            recorded
        }));
    }
    let mut batches = Vec::new();
    for task in tasks {
        batches.extend(task.await.unwrap());
    }
    let log = read_everything(store.as_ref()).await;
    assert_eq!(
        log.len(),
        2 * RACE_ROUNDS * usize::try_from(RACE_BATCH_EVENTS).unwrap()
    );
    for (batch_ids, positions) in &batches {
        assert_eq!(positions.len(), batch_ids.len());
        assert_contiguous(positions);
        let start = usize::try_from(positions[0]).unwrap();
        assert_eq!(
            &recorded_ids(&log[start..start + positions.len()]),
            batch_ids
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Subscriptions under contention

/// Concurrent writers in the no-skip case.
const NO_SKIP_WRITERS: usize = 16;
/// Appends each writer attempts.
const NO_SKIP_ROUNDS: u64 = 25;

/// What one writer of the no-skip case did.
#[derive(Default)]
struct WriterLog {
    committed: Vec<Uuid>,
    refused: Vec<Uuid>,
}

async fn contended_writer(store: Arc<dyn EventStore>, writer: usize) -> WriterLog {
    let shared = sid("account-shared");
    let own = sid(&format!("account-{writer}"));
    let mut log = WriterLog::default();
    for round in 0..NO_SKIP_ROUNDS {
        let evs = events(1 + round % 4);
        let attempt = ids(&evs);
        let result = match writer % 4 {
            // Read the shared stream's version, then append expecting it: racers lose.
            0 => {
                let last = store
                    .read_stream(&shared, u64::MAX, Direction::Backward, 1)
                    .await
                    .unwrap()[0]
                    .stream_version;
                store
                    .append_batch(batch(vec![(
                        shared.clone(),
                        ExpectedVersion::Exact(last),
                        evs,
                    )]))
                    .await
            }
            // A batch whose second stream always conflicts: refused by the writer as a whole.
            1 => {
                store
                    .append_batch(batch(vec![
                        (own.clone(), ExpectedVersion::Any, evs),
                        (shared.clone(), ExpectedVersion::NoStream, events(1)),
                    ]))
                    .await
            }
            // Invalid input every third round, refused before it reaches the writer.
            2 if round % 3 == 0 => {
                let mut evs = evs;
                evs[0].schema_version = 0;
                store
                    .append_batch(batch(vec![(own.clone(), ExpectedVersion::Any, evs)]))
                    .await
            }
            // A reused id with new content beside a valid stream.
            3 if round % 3 == 0 => {
                let mut evs = evs;
                if let Some(old) = log.committed.first() {
                    evs[0].event_id = *old;
                    evs[0].data = json!({"reused": true});
                }
                store
                    .append_batch(batch(vec![(own.clone(), ExpectedVersion::Any, evs)]))
                    .await
            }
            _ => {
                store
                    .append_batch(batch(vec![(own.clone(), ExpectedVersion::Any, evs)]))
                    .await
            }
        };
        match result {
            Ok(outcomes) => {
                assert!(outcomes.iter().all(|o| !o.idempotent_replay));
                log.committed.extend(&attempt);
            }
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        StoreError::WrongExpectedVersion { .. }
                            | StoreError::InvalidEvent { .. }
                            | StoreError::DuplicateEventId { .. }
                    ),
                    "unexpected error {e:?}"
                );
                // A reused id is another event's; only this attempt's fresh ids are "refused".
                let committed: HashSet<Uuid> = log.committed.iter().copied().collect();
                log.refused
                    .extend(attempt.into_iter().filter(|id| !committed.contains(id)));
            }
        }
        if round % 5 == 0 {
            tokio::task::yield_now().await;
        }
    }
    log
}

/// Sixteen writers (some losing version races, some refused) while a live subscriber reads
/// from position 0: it receives every committed event exactly once, in order, and nothing
/// refused; what it received is the log.
pub async fn live_subscriber_misses_nothing_under_contention(store: Arc<dyn EventStore>) {
    store
        .append(&sid("account-shared"), ExpectedVersion::NoStream, events(1))
        .await
        .unwrap();
    let received: Arc<Mutex<Vec<RecordedEvent>>> = Arc::default();
    let mut subscription = store.subscribe(0);
    let sink = Arc::clone(&received);
    let subscriber = tokio::spawn(async move {
        loop {
            let page = subscription.next_page().await.unwrap();
            sink.lock().unwrap().extend(page);
        }
    });

    let writers: Vec<_> = (0..NO_SKIP_WRITERS)
        .map(|w| tokio::spawn(contended_writer(Arc::clone(&store), w)))
        .collect();
    let mut committed: Vec<Uuid> = Vec::new();
    let mut refused: Vec<Uuid> = Vec::new();
    for w in writers {
        let log = w.await.unwrap();
        committed.extend(log.committed);
        refused.extend(log.refused);
    }
    assert!(!refused.is_empty(), "the case must include refused appends");

    let log = read_everything(store.as_ref()).await;
    assert_eq!(log.len(), committed.len() + 1);
    let deadline = tokio::time::Instant::now() + CATCH_UP_TIMEOUT;
    while received.lock().unwrap().len() < log.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the subscriber stalled at {} of {} events",
            received.lock().unwrap().len(),
            log.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Give a duplicate or a phantom event time to show up before judging.
    tokio::time::sleep(Duration::from_millis(300)).await;
    subscriber.abort();
    let received = received.lock().unwrap().clone();

    assert_eq!(
        received, log,
        "the subscriber saw exactly the log, in order"
    );
    let seen: HashSet<Uuid> = received.iter().map(|e| e.event_id).collect();
    assert_eq!(seen.len(), received.len(), "no event delivered twice");
    let expected: HashSet<Uuid> = committed.iter().copied().collect();
    let recorded: HashSet<Uuid> = log[1..].iter().map(|e| e.event_id).collect();
    assert_eq!(
        recorded, expected,
        "the log holds exactly the committed appends"
    );
    assert!(refused.iter().all(|id| !seen.contains(id)));
    for (i, e) in received.iter().enumerate() {
        assert_eq!(e.global_position, u64::try_from(i).unwrap());
    }
}

/// A subscriber started at a position sees exactly the events from there on: the stored
/// suffix first, then live appends, and nothing else.
pub async fn subscriber_from_mid_log_sees_the_suffix(store: Arc<dyn EventStore>) {
    for i in 0..10 {
        store
            .append(
                &sid(&format!("call-{}", i % 3)),
                ExpectedVersion::Any,
                events(5),
            )
            .await
            .unwrap();
    }
    let mut subscription = store.subscribe(20);
    assert_eq!(subscription.next_position(), 20);
    let mut got = Vec::new();
    for _ in 0..30 {
        got.push(
            subscription
                .next_timeout(CATCH_UP_TIMEOUT)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            for _ in 0..4 {
                store
                    .append(&sid("call-live"), ExpectedVersion::Any, events(3))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    for _ in 0..12 {
        got.push(
            subscription
                .next_timeout(CATCH_UP_TIMEOUT)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    writer.await.unwrap();
    assert!(subscription
        .next_timeout(Duration::from_millis(300))
        .await
        .unwrap()
        .is_none());
    let log = read_everything(store.as_ref()).await;
    assert_eq!(log.len(), 62);
    assert_eq!(got, log[20..].to_vec());
}

// ---------------------------------------------------------------------------------------------
// 9. Verify

/// An intact log verifies whole and in sub-ranges, and the report's head matches `head()`.
pub async fn verify_reports_an_intact_chain_and_sub_ranges(store: Arc<dyn EventStore>) {
    assert_eq!(
        store.verify(PositionRange::default()).await.unwrap(),
        VerifyReport::Intact {
            events: 0,
            first_position: None,
            head: None
        }
    );
    for i in 0..6u64 {
        store
            .append(
                &sid(&format!("call-{}", i % 2)),
                ExpectedVersion::Any,
                events(1 + i % 3),
            )
            .await
            .unwrap();
    }
    let log = read_everything(store.as_ref()).await;
    let n = u64::try_from(log.len()).unwrap();
    assert_eq!(n, 12);
    let head = store.head().await.unwrap().unwrap();
    assert_eq!((head.position, head.hash), (n - 1, log[11].hash));
    assert_eq!(
        store.verify(PositionRange::default()).await.unwrap(),
        VerifyReport::Intact {
            events: n,
            first_position: Some(0),
            head: Some((head.position, head.hash)),
        }
    );
    assert_eq!(
        store
            .verify(PositionRange {
                from: 3,
                to: Some(7)
            })
            .await
            .unwrap(),
        VerifyReport::Intact {
            events: 5,
            first_position: Some(3),
            head: Some((7, log[7].hash)),
        }
    );
    assert_eq!(
        store
            .verify(PositionRange { from: 5, to: None })
            .await
            .unwrap(),
        VerifyReport::Intact {
            events: 7,
            first_position: Some(5),
            head: Some((11, head.hash)),
        }
    );
    assert_eq!(
        store
            .verify(PositionRange {
                from: 0,
                to: Some(0)
            })
            .await
            .unwrap(),
        VerifyReport::Intact {
            events: 1,
            first_position: Some(0),
            head: Some((0, log[0].hash)),
        }
    );
}

// ---------------------------------------------------------------------------------------------
// 10. Head

/// `head()` is `None` for an empty ledger, then the last event's position, hash and
/// recorded-at.
pub async fn head_tracks_the_last_event(store: Arc<dyn EventStore>) {
    assert_eq!(store.head().await.unwrap(), None);
    store
        .append(&sid("call-1"), ExpectedVersion::Any, events(3))
        .await
        .unwrap();
    let log = read_everything(store.as_ref()).await;
    let head = store.head().await.unwrap().unwrap();
    assert_eq!(head.position, 2);
    assert_eq!(head.hash, log[2].hash);
    assert_eq!(head.recorded_at, log[2].recorded_at);
    store
        .append(&sid("call-2"), ExpectedVersion::Any, events(2))
        .await
        .unwrap();
    let log = read_everything(store.as_ref()).await;
    let head = store.head().await.unwrap().unwrap();
    assert_eq!((head.position, head.hash), (4, log[4].hash));
    let positions: BTreeSet<u64> = log.iter().map(|e| e.global_position).collect();
    assert_eq!(positions, (0..5).collect());
    // The head's hash seals everything before it: it is the last link of the chain.
    let by_position: HashMap<u64, &RecordedEvent> =
        log.iter().map(|e| (e.global_position, e)).collect();
    assert_eq!(by_position[&4].prev_hash, by_position[&3].hash);
}

fn fact(position: u64, client: Option<&str>, entity: &str) -> opsledger_store::FactRow {
    opsledger_store::FactRow {
        position,
        event_id: Uuid::new_v4(),
        client_id: client.map(str::to_owned),
        area: "calls".to_owned(),
        entity: entity.to_owned(),
        kind: "call.connected".to_owned(),
        occurred_at: base_time() + chrono::Duration::seconds(i64::try_from(position).unwrap()),
        recorded_at: base_time(),
        body: format!("{{\"n\":{position}}}"),
    }
}

async fn all_facts(store: &dyn EventStore) -> Vec<opsledger_store::FactRow> {
    store
        .read_facts(&opsledger_store::FactQuery::default(), usize::MAX)
        .await
        .unwrap()
}

/// Read-model rows and their checkpoint: a page commits with the checkpoint, a page written
/// twice adds nothing and leaves the first rows as they were, the checkpoint never moves back,
/// a page that would leave a hole or carries another version is refused, and a reset empties
/// the rows and starts the new version at 0.
pub async fn read_model_facts_commit_with_their_checkpoint(store: Arc<dyn EventStore>) {
    use opsledger_store::FactCheckpoint;
    assert_eq!(store.fact_checkpoint().await.unwrap(), None);
    assert!(all_facts(&*store).await.is_empty());
    let v1 = |next| FactCheckpoint {
        next_position: next,
        version: 1,
    };
    let page: Vec<_> = (0..3)
        .map(|p| fact(p, Some("acme"), "call-acme:1"))
        .collect();
    // A first page must start at 0: anything else would leave rows missing.
    let err = store.write_facts(2, v1(5), vec![]).await.unwrap_err();
    assert!(
        matches!(err, StoreError::FactCheckpointConflict { .. }),
        "{err:?}"
    );
    store.write_facts(0, v1(3), page.clone()).await.unwrap();
    assert_eq!(store.fact_checkpoint().await.unwrap(), Some(v1(3)));
    assert_eq!(all_facts(&*store).await, page);

    // The same positions again (a crash between writes, a second projector): nothing changes,
    // not even a row that differs, and the checkpoint does not move back.
    let mut again = page.clone();
    again[1].body = "{\"edited\":true}".to_owned();
    store
        .write_facts(1, v1(2), again[1..2].to_vec())
        .await
        .unwrap();
    assert_eq!(store.fact_checkpoint().await.unwrap(), Some(v1(3)));
    assert_eq!(all_facts(&*store).await, page);

    // A page past the checkpoint would leave a hole; another version must rebuild first.
    let err = store
        .write_facts(4, v1(6), vec![fact(4, Some("acme"), "call-acme:2")])
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::FactCheckpointConflict {
                page_start: 4,
                found: Some(FactCheckpoint {
                    next_position: 3,
                    version: 1
                }),
                ..
            }
        ),
        "{err:?}"
    );
    let err = store
        .write_facts(
            3,
            FactCheckpoint {
                next_position: 4,
                version: 2,
            },
            vec![fact(3, None, "sop-1")],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::FactCheckpointConflict { .. }),
        "{err:?}"
    );
    assert_eq!(all_facts(&*store).await.len(), 3);

    // Concurrent projectors writing the same next page both succeed, with one set of rows.
    let next: Vec<_> = (3..6)
        .map(|p| fact(p, Some("bolt"), "call-bolt:1"))
        .collect();
    let (a, b) = tokio::join!(
        store.write_facts(3, v1(6), next.clone()),
        store.write_facts(3, v1(6), next.clone())
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(all_facts(&*store).await.len(), 6);
    assert_eq!(store.fact_checkpoint().await.unwrap(), Some(v1(6)));

    store.reset_facts(Some(v1(6)), 2).await.unwrap();
    assert!(all_facts(&*store).await.is_empty());
    assert_eq!(
        store.fact_checkpoint().await.unwrap(),
        Some(FactCheckpoint {
            next_position: 0,
            version: 2
        })
    );
    // Invalid rows are refused before anything is written.
    let mut bad = fact(0, Some("acme"), "call-acme:1");
    bad.area = String::new();
    let err = store
        .write_facts(
            0,
            FactCheckpoint {
                next_position: 1,
                version: 2,
            },
            vec![bad],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidFact { position: 0 }),
        "{err:?}"
    );
    assert_eq!(
        store
            .fact_checkpoint()
            .await
            .unwrap()
            .unwrap()
            .next_position,
        0
    );
}

/// A reset is a compare-and-set on the checkpoint: it deletes the rows only while the stored
/// checkpoint is still the one the caller read (none, on a ledger that never had one), so of
/// several projectors that read the same checkpoint and reset at once exactly one deletes the
/// rows, and a projector that read the checkpoint before another one's rebuild began cannot
/// delete the rows that rebuild has written since. A loser changes nothing and is told what
/// it found.
pub async fn read_model_resets_compare_and_set(store: Arc<dyn EventStore>) {
    use opsledger_store::FactCheckpoint;
    let at = |next_position, version| FactCheckpoint {
        next_position,
        version,
    };
    let conflict = |err: StoreError, want: Option<FactCheckpoint>, stored: FactCheckpoint| {
        assert!(
            matches!(
                &err,
                StoreError::FactResetConflict { expected, found: Some(f) }
                    if *expected == want && *f == stored
            ),
            "expected {want:?}, stored {stored:?}: {err:?}"
        );
    };

    // Nothing stored: a reset that expects a checkpoint loses, one that expects none wins.
    let err = store.reset_facts(Some(at(0, 1)), 1).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::FactResetConflict {
                expected: Some(_),
                found: None
            }
        ),
        "{err:?}"
    );
    assert_eq!(store.fact_checkpoint().await.unwrap(), None);
    store.reset_facts(None, 1).await.unwrap();
    assert_eq!(store.fact_checkpoint().await.unwrap(), Some(at(0, 1)));

    let rows: Vec<_> = (0..4)
        .map(|p| fact(p, Some("acme"), "call-acme:1"))
        .collect();
    store.write_facts(0, at(4, 1), rows.clone()).await.unwrap();
    // Stale expectations lose and keep every row: none where one exists, an older position,
    // the same position of another version.
    for stale in [None, Some(at(0, 1)), Some(at(4, 2))] {
        conflict(
            store.reset_facts(stale, 2).await.unwrap_err(),
            stale,
            at(4, 1),
        );
    }
    assert_eq!(all_facts(&*store).await, rows);
    assert_eq!(store.fact_checkpoint().await.unwrap(), Some(at(4, 1)));

    // Four projectors read version 1 at 4 and reset to version 2 at once: one wins.
    let (a, b, c, d) = tokio::join!(
        store.reset_facts(Some(at(4, 1)), 2),
        store.reset_facts(Some(at(4, 1)), 2),
        store.reset_facts(Some(at(4, 1)), 2),
        store.reset_facts(Some(at(4, 1)), 2),
    );
    let mut won = 0;
    for outcome in [a, b, c, d] {
        match outcome {
            Ok(()) => won += 1,
            Err(err) => conflict(err, Some(at(4, 1)), at(0, 2)),
        }
    }
    assert_eq!(won, 1, "exactly one reset wins");
    assert!(all_facts(&*store).await.is_empty());

    // The winner writes its first page; a late reset from the old checkpoint deletes nothing.
    store
        .write_facts(0, at(2, 2), rows[..2].to_vec())
        .await
        .unwrap();
    conflict(
        store.reset_facts(Some(at(4, 1)), 2).await.unwrap_err(),
        Some(at(4, 1)),
        at(2, 2),
    );
    assert_eq!(all_facts(&*store).await, rows[..2].to_vec());
    assert_eq!(store.fact_checkpoint().await.unwrap(), Some(at(2, 2)));

    // From the checkpoint as stored (what `replay` does), the reset goes through.
    store.reset_facts(Some(at(2, 2)), 2).await.unwrap();
    assert!(all_facts(&*store).await.is_empty());
    assert_eq!(store.fact_checkpoint().await.unwrap(), Some(at(0, 2)));
}

/// Rows of a rebuild-sized workload: two clients, every tenth row agency-wide, every seventh in
/// another area, four rows per call entity.
fn big_page(positions: std::ops::Range<u64>) -> Vec<opsledger_store::FactRow> {
    positions
        .map(|p| {
            let client = if p % 2 == 0 { "acme" } else { "bolt" };
            let scope = (p % 10 != 9).then_some(client);
            let mut row = fact(p, scope, &format!("call-{client}:{}", p / 8));
            if p % 7 == 0 {
                row.area = "billing".to_owned();
            }
            row
        })
        .collect()
}

/// What reports read: a client's rows, a client's rows of some areas, an entity's rows, and a
/// period's entities.
async fn report_reads(store: &dyn EventStore) -> Vec<Vec<u64>> {
    use opsledger_store::{FactQuery, PeriodQuery};
    let positions = |rows: Vec<opsledger_store::FactRow>| -> Vec<u64> {
        rows.iter().map(|r| r.position).collect()
    };
    let acme = FactQuery {
        client_id: Some("acme".to_owned()),
        ..FactQuery::default()
    };
    let bolt_billing = FactQuery {
        client_id: Some("bolt".to_owned()),
        areas: vec!["billing".to_owned(), "client".to_owned()],
        from_position: 100,
        before_position: Some(4_000),
        ..FactQuery::default()
    };
    let entity = FactQuery {
        entity: Some("call-acme:300".to_owned()),
        ..FactQuery::default()
    };
    let period = PeriodQuery {
        client_id: "acme".to_owned(),
        area: "calls".to_owned(),
        occurred_from: base_time() + chrono::Duration::seconds(1_000),
        occurred_before: base_time() + chrono::Duration::seconds(1_100),
        entities: vec!["call-acme:500".to_owned()],
        before_position: Some(4_500),
    };
    vec![
        positions(store.read_facts(&acme, usize::MAX).await.unwrap()),
        positions(store.read_facts(&bolt_billing, 50).await.unwrap()),
        positions(store.read_facts(&entity, usize::MAX).await.unwrap()),
        positions(store.read_period_facts(&period).await.unwrap()),
    ]
}

/// A rebuild's path: pages as big as a rebuild writes (PostgreSQL writes them by binary COPY)
/// commit with their checkpoint; the same big page written again, or by two projectors at
/// once, adds nothing and keeps the stored rows; after a reset (which drops the secondary
/// indexes) the rewritten rows read back the same by client, area, entity and period before
/// and after the indexes are restored, and restoring them twice is harmless.
pub async fn read_model_big_pages_and_a_rebuild_keep_their_rows(store: Arc<dyn EventStore>) {
    use opsledger_store::FactCheckpoint;
    const BIG: u64 = 2_500;
    let v1 = |next| FactCheckpoint {
        next_position: next,
        version: 1,
    };
    let first = big_page(0..BIG);
    store.write_facts(0, v1(BIG), first.clone()).await.unwrap();
    assert_eq!(all_facts(&*store).await, first);

    // Written again whole, one row edited: every position is stored already, nothing changes.
    let mut again = first.clone();
    again[5].body = "{\"edited\":true}".to_owned();
    store.write_facts(0, v1(BIG), again).await.unwrap();
    assert_eq!(all_facts(&*store).await, first);

    // Two projectors write the same next big page at once: both succeed, one set of rows.
    let second = big_page(BIG..2 * BIG);
    let (a, b) = tokio::join!(
        store.write_facts(BIG, v1(2 * BIG), second.clone()),
        store.write_facts(BIG, v1(2 * BIG), second.clone())
    );
    a.unwrap();
    b.unwrap();
    let all: Vec<_> = first.iter().chain(&second).cloned().collect();
    assert_eq!(all_facts(&*store).await, all);
    assert_eq!(store.fact_checkpoint().await.unwrap(), Some(v1(2 * BIG)));
    let reads = report_reads(&*store).await;
    assert!(reads.iter().all(|r| !r.is_empty()), "{reads:?}");

    // A rebuild: reset, the pages again, the indexes last.
    store.reset_facts(Some(v1(2 * BIG)), 1).await.unwrap();
    assert!(all_facts(&*store).await.is_empty());
    assert!(report_reads(&*store).await.iter().all(Vec::is_empty));
    store.write_facts(0, v1(BIG), first.clone()).await.unwrap();
    store
        .write_facts(BIG, v1(2 * BIG), second.clone())
        .await
        .unwrap();
    assert_eq!(report_reads(&*store).await, reads, "without the indexes");
    store.restore_fact_indexes().await.unwrap();
    store.restore_fact_indexes().await.unwrap();
    assert_eq!(report_reads(&*store).await, reads, "with the indexes again");
    assert_eq!(all_facts(&*store).await, all);
}

/// A client's read sees its own rows and the agency-wide ones in position order, bounded by
/// position; an entity read sees that entity's rows only.
pub async fn read_model_facts_are_read_per_client_and_entity(store: Arc<dyn EventStore>) {
    use opsledger_store::{FactCheckpoint, FactQuery};
    let rows = vec![
        fact(0, Some("acme"), "client-acme"),
        fact(1, None, "sop-1"),
        fact(2, Some("bolt"), "client-bolt"),
        fact(3, Some("acme"), "call-acme:1"),
        fact(4, Some("bolt"), "call-bolt:1"),
        fact(5, Some("acme"), "call-acme:1"),
        fact(6, None, "sop-2"),
        fact(7, Some("acme"), "call-acme:2"),
    ];
    store
        .write_facts(
            0,
            FactCheckpoint {
                next_position: 8,
                version: 1,
            },
            rows.clone(),
        )
        .await
        .unwrap();
    let positions = |rows: Vec<opsledger_store::FactRow>| -> Vec<u64> {
        rows.iter().map(|r| r.position).collect()
    };
    let acme = FactQuery {
        client_id: Some("acme".to_owned()),
        ..FactQuery::default()
    };
    assert_eq!(
        positions(store.read_facts(&acme, usize::MAX).await.unwrap()),
        vec![0, 1, 3, 5, 6, 7]
    );
    let bounded = FactQuery {
        from_position: 1,
        before_position: Some(6),
        ..acme.clone()
    };
    assert_eq!(
        positions(store.read_facts(&bounded, usize::MAX).await.unwrap()),
        vec![1, 3, 5]
    );
    assert_eq!(
        positions(store.read_facts(&acme, 3).await.unwrap()),
        vec![0, 1, 3]
    );
    let call = FactQuery {
        entity: Some("call-acme:1".to_owned()),
        ..FactQuery::default()
    };
    let read = store.read_facts(&call, usize::MAX).await.unwrap();
    assert_eq!(read, vec![rows[3].clone(), rows[5].clone()]);
}

/// Data keys: absent until created, created once however many callers race, destroyed for
/// good (never recreated), idempotently, without touching the event log.
pub async fn data_keys_are_created_once_and_destroyed_for_good(store: Arc<dyn EventStore>) {
    store
        .append(&sid("call-1"), ExpectedVersion::NoStream, events(3))
        .await
        .unwrap();
    let head_before = store.head().await.unwrap();

    assert_eq!(
        store.data_key("acme", false).await.unwrap(),
        DataKey::Missing
    );
    // Concurrent creators all get the one key that was inserted first.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(
            async move { store.data_key("acme", true).await },
        ));
    }
    let mut keys = Vec::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            DataKey::Active(key) => keys.push(key),
            other => panic!("expected an active key, got {other:?}"),
        }
    }
    assert!(
        keys.windows(2).all(|w| w[0] == w[1]),
        "racing creators got different keys"
    );
    assert_eq!(
        store.data_key("acme", false).await.unwrap(),
        DataKey::Active(keys[0].clone())
    );
    // Another client gets its own key.
    let DataKey::Active(other) = store.data_key("globex", true).await.unwrap() else {
        panic!("expected an active key for globex");
    };
    assert_ne!(other, keys[0]);

    assert!(store
        .destroy_data_key("acme", "R-RET-2 test")
        .await
        .unwrap());
    assert!(!store.destroy_data_key("acme", "again").await.unwrap());
    assert!(matches!(
        store.data_key("acme", false).await.unwrap(),
        DataKey::Destroyed { .. }
    ));
    // A destroyed key is never replaced by a new one.
    assert!(matches!(
        store.data_key("acme", true).await.unwrap(),
        DataKey::Destroyed { .. }
    ));
    // Destroying the key of a client that never had one leaves a destroyed row behind, so no
    // key can be created for it afterwards.
    assert!(store
        .destroy_data_key("initech", "never had data")
        .await
        .unwrap());
    assert!(matches!(
        store.data_key("initech", true).await.unwrap(),
        DataKey::Destroyed { .. }
    ));
    assert_eq!(
        store.data_key("globex", false).await.unwrap(),
        DataKey::Active(other)
    );

    assert!(matches!(
        store.data_key("", true).await,
        Err(StoreError::InvalidKeyClientId { .. })
    ));
    assert!(matches!(
        store.destroy_data_key("acme", "line\nbreak").await,
        Err(StoreError::InvalidDestroyReason)
    ));
    // Keys live apart from the log: none of this changed it.
    assert_eq!(store.head().await.unwrap(), head_before);
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
}

/// Read models published per client: each client's own, replaced on republish.
pub async fn read_models_are_published_per_client(store: Arc<dyn EventStore>) {
    use opsledger_store::ClientReadModel;
    let model = |client: &str, name: &str, next: u64, body: &str| ClientReadModel {
        client_id: client.to_owned(),
        name: name.to_owned(),
        next_position: next,
        body: body.to_owned(),
    };
    assert!(store.client_read_models("acme").await.unwrap().is_empty());
    for m in [
        model("acme", "sla/2026-10", 10, r#"{"offered":3}"#),
        model("acme", "billing", 10, r#"{"status":"current"}"#),
        model("globex", "sla/2026-10", 10, r#"{"offered":9}"#),
    ] {
        store.publish_read_model(&m).await.unwrap();
    }
    store
        .publish_read_model(&model("acme", "sla/2026-10", 12, r#"{"offered":4}"#))
        .await
        .unwrap();
    assert_eq!(
        store.client_read_models("acme").await.unwrap(),
        vec![
            model("acme", "billing", 10, r#"{"status":"current"}"#),
            model("acme", "sla/2026-10", 12, r#"{"offered":4}"#),
        ]
    );
    assert_eq!(
        store.client_read_models("globex").await.unwrap(),
        vec![model("globex", "sla/2026-10", 10, r#"{"offered":9}"#)]
    );
    assert!(matches!(
        store
            .publish_read_model(&model("acme", "SLA; DROP", 1, "{}"))
            .await,
        Err(StoreError::InvalidReadModelName { .. })
    ));
}
