//! The head's event stream tells a page the head moved within one second of an append, on
//! both backends: the follower reads the append through the store's subscription, brings the
//! read model's rows up to it, and the stream sends the new position and hash.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use opsledger_app::access::{self, DeskLedger, DeskRole};
use opsledger_app::store::{
    EventStore, ExpectedVersion, Metadata, NewEvent, PgStore, SqliteStore, StreamAppend, StreamId,
};
use opsledger_app::{FixedClock, SystemClock, Target};
use opsledger_server::{Limits, ServeConfig};
use serde_json::Value;
use uuid::Uuid;

/// The freshness the issue asks for.
const WITHIN: Duration = Duration::from_secs(1);

fn ping(n: u64) -> StreamAppend {
    StreamAppend {
        stream_id: StreamId::parse("ping-1").unwrap(),
        expected_version: ExpectedVersion::Any,
        events: vec![NewEvent {
            event_id: Uuid::new_v4(),
            // A fact from another system: kept and chained, skipped by the projections.
            event_type: "monitor.ping".to_owned(),
            schema_version: 1,
            client_id: None,
            occurred_at: Utc::now(),
            data: serde_json::json!({ "n": n }),
            metadata: Metadata::default(),
        }],
    }
}

/// Reads `head` events off the stream, returning the first whose position is `at_least`.
async fn head_event_at(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffer: &mut String,
    at_least: u64,
) -> Value {
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let is_head = event.lines().any(|l| l == "event: head");
            let data = event.lines().find_map(|l| l.strip_prefix("data: "));
            if let (true, Some(data)) = (is_head, data) {
                let value: Value = serde_json::from_str(data).unwrap();
                if value["position"].as_u64().is_some_and(|p| p >= at_least) {
                    return value;
                }
            }
        }
        let chunk = stream.next().await.expect("the stream ended").unwrap();
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

async fn an_append_reaches_the_stream_within_a_second(target: Target, store: Arc<dyn EventStore>) {
    store.append_batch(vec![ping(0)]).await.unwrap();
    let desk = DeskLedger::open(&target).await.unwrap();
    let clock = FixedClock(Utc::now());
    desk.add_user("ann", DeskRole::Auditor, "correct horse battery", &clock)
        .await
        .unwrap();
    let token = access::create_token(desk.desk(), "ann", &clock)
        .await
        .unwrap();
    let mut running = opsledger_server::start(ServeConfig {
        target,
        listen: "127.0.0.1:0".parse().unwrap(),
        clock: Arc::new(SystemClock),
        limits: Limits::default(),
        secure_cookies: false,
    })
    .await
    .unwrap();
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/head/events", running.url()))
        .bearer_auth(&token.bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("text/event-stream")));
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let first = head_event_at(&mut stream, &mut buffer, 0).await;
    assert_eq!(first["position"], 0, "the current head comes first");
    for n in 1..=3 {
        let appended = Instant::now();
        let outcome = store.append_batch(vec![ping(n)]).await.unwrap();
        let position = *outcome[0].positions.last().unwrap();
        let seen = tokio::time::timeout(WITHIN, head_event_at(&mut stream, &mut buffer, position))
            .await
            .unwrap_or_else(|_| panic!("no head event for position {position} within {WITHIN:?}"));
        let took = appended.elapsed();
        assert_eq!(seen["position"], position);
        let hash = store.head().await.unwrap().unwrap().hash.to_hex();
        assert_eq!(seen["head_hash"], hash);
        assert!(took < WITHIN, "{took:?}");
        // The follower brings the read model's rows up to a head before announcing it.
        let checkpoint = store.fact_checkpoint().await.unwrap().unwrap();
        assert_eq!(checkpoint.next_position, position + 1);
    }
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sse.ledger");
    let store: Arc<dyn EventStore> = Arc::new(SqliteStore::create_new(&path).unwrap());
    an_append_reaches_the_stream_within_a_second(Target::File(path), store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let url = opsledger_tests::pg::server().fresh_database().await;
    let store: Arc<dyn EventStore> = Arc::new(PgStore::connect(&url).await.unwrap());
    an_append_reaches_the_stream_within_a_second(Target::Postgres(url), store).await;
}
