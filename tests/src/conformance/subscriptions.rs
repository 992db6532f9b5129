//! Conformance cases of subscriptions: a live subscriber misses nothing while contended writers
//! commit and fail, and one started mid-log sees exactly the suffix.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opsledger_store::{Direction, EventStore, ExpectedVersion, RecordedEvent, StoreError};
use serde_json::json;
use uuid::Uuid;

use super::{batch, events, ids, read_everything, sid};

/// How long a case waits for a subscriber to catch up before failing.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Subscriptions under contention

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
