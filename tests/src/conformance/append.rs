//! Conformance cases of appending: expected versions, idempotent retries, atomic batches over
//! several streams, refused input, and concurrent batches that never interleave.

use std::sync::Arc;

use opsledger_store::envelope::{MAX_EVENT_DATA_BYTES, MAX_EVENT_DATA_DEPTH};
use opsledger_store::{
    AppendOutcome, Direction, EventStore, ExpectedVersion, InvalidEvent, StoreError, StreamId,
};
use serde_json::json;
use uuid::Uuid;

use super::{
    assert_conflict, assert_contiguous, batch, events, head_position, ids, new_event,
    read_everything, recorded_ids, sid,
};

// ---------------------------------------------------------------------------------------------
// Expected versions

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
// Idempotency

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
// Atomic batches

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
// Bad input

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
// Non-interleaving

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
