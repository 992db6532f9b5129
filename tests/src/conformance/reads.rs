//! Conformance cases of reading the log back: positions and pages in both directions, what is
//! read is what was appended, filtered reads, the chain's verification and the head.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use opsledger_store::{
    Direction, EventFilter, EventStore, ExpectedVersion, Metadata, NewEvent, PositionRange,
    RecordedEvent, StreamId, TimeRange, VerifyReport,
};
use serde_json::json;
use uuid::Uuid;

use super::{base_time, events, new_event, read_everything, sid};

// ---------------------------------------------------------------------------------------------
// Ordering and plain reads

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
// Filtered reads

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
// Verify

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
// Head

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
