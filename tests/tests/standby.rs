//! Reading on a hot standby: the harness's streaming replica, the store opened read-only on
//! it, subscribers there without LISTEN/NOTIFY, and the replica lag `head` reports.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opsledger_store::postgres::roles::RoleKind;
use opsledger_store::postgres::WakeSource;
use opsledger_store::{
    EventStore, ExpectedVersion, PgStore, PositionRange, RecordedEvent, StoreError, StreamId,
    VerifyReport,
};
use opsledger_tests::conformance::{events, read_everything};
use opsledger_tests::pg::replica::{self, pair};

/// Writers appending at once on the primary while a subscriber follows on the standby.
const WRITERS: u64 = 4;
/// Appends per writer.
const APPENDS_PER_WRITER: u64 = 40;
/// How long the subscriber may take to see everything once the standby has replayed it.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);

/// The handle's wake-up source once its listener task has connected.
async fn settled(store: &PgStore) -> WakeSource {
    let deadline = tokio::time::Instant::now() + CATCH_UP_TIMEOUT;
    while store.wake_source() == WakeSource::Connecting {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the listener task never connected"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    store.wake_source()
}

fn stream(raw: &str) -> StreamId {
    StreamId::parse(raw).expect("test stream ids are valid")
}

/// A fresh ledger on the primary, with the standby's read-only handle on the same database.
async fn ledger() -> (PgStore, PgStore) {
    let pair = pair();
    let (primary_url, standby_url) = pair.fresh_database().await;
    let primary = PgStore::connect(&primary_url)
        .await
        .expect("connect to the primary");
    // The schema must have reached the standby before a read-only handle accepts it.
    pair.wait_for_replay().await;
    let standby = PgStore::connect_read_only(&standby_url)
        .await
        .expect("connect read-only to the standby");
    (primary, standby)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_standby_serves_the_log_as_the_primary_committed_it() {
    let (primary, standby) = ledger().await;
    assert!(!primary.is_standby());
    assert!(standby.is_standby());
    for i in 0..5 {
        primary
            .append(
                &stream(&format!("call-{i}")),
                ExpectedVersion::NoStream,
                events(3),
            )
            .await
            .unwrap();
    }
    pair().wait_for_replay().await;

    let on_primary = read_everything(&primary).await;
    let on_standby = read_everything(&standby).await;
    assert_eq!(on_primary.len(), 15);
    assert_eq!(on_standby, on_primary, "the standby holds the same log");
    assert_eq!(standby.head().await.unwrap(), primary.head().await.unwrap());
    match standby.verify(PositionRange::default()).await.unwrap() {
        VerifyReport::Intact { events, .. } => assert_eq!(events, 15),
        broken => panic!("the chain on the standby must be intact: {broken:?}"),
    }
    // A read-only handle refuses writes itself; the server would refuse them too.
    assert!(matches!(
        standby
            .append(&stream("call-x"), ExpectedVersion::Any, events(1))
            .await,
        Err(StoreError::ReadOnly)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_write_handle_on_the_standby_is_refused_with_the_reason() {
    let pair = pair();
    let (_primary_url, standby_url) = pair.fresh_database().await;
    pair.wait_for_replay().await;
    let err = PgStore::connect(&standby_url)
        .await
        .expect_err("a standby cannot be migrated or written");
    match err {
        StoreError::Unavailable(detail) => {
            assert!(detail.contains("standby"), "{detail}");
            assert!(detail.contains("--read-only"), "{detail}");
        }
        other => panic!("expected Unavailable naming the standby, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_on_the_standby_sees_every_event_in_order_without_notify() {
    let (primary, standby) = ledger().await;
    // The listener task finds out what the server is once connected: on the standby it must
    // settle on polling the replicated head, on the primary on LISTEN.
    assert_eq!(settled(&standby).await, WakeSource::StandbyPolling);
    assert_eq!(settled(&primary).await, WakeSource::Notify);
    let received: Arc<Mutex<Vec<RecordedEvent>>> = Arc::default();
    // Subscribed before anything is appended: everything arrives live, by polling, since a
    // standby can neither LISTEN nor receive the primary's NOTIFYs.
    let mut subscription = standby.subscribe(0);
    let sink = Arc::clone(&received);
    let subscriber = tokio::spawn(async move {
        loop {
            let page = subscription.next_page().await.unwrap();
            sink.lock().unwrap().extend(page);
        }
    });
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let primary = primary.clone();
            tokio::spawn(async move {
                for a in 0..APPENDS_PER_WRITER {
                    // Batches of 1 to 3 events, so pages and commits do not line up.
                    let count = a % 3 + 1;
                    primary
                        .append(
                            &stream(&format!("writer-{w}")),
                            ExpectedVersion::Any,
                            events(count),
                        )
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    pair().wait_for_replay().await;
    let log = read_everything(&primary).await;
    let per_writer: u64 = (0..APPENDS_PER_WRITER).map(|a| a % 3 + 1).sum();
    let expected_len = usize::try_from(WRITERS * per_writer).unwrap();
    assert_eq!(log.len(), expected_len);
    let deadline = tokio::time::Instant::now() + CATCH_UP_TIMEOUT;
    while received.lock().unwrap().len() < log.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the subscriber on the standby stalled at {} of {} events",
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
    let distinct: HashSet<_> = received.iter().map(|e| e.event_id).collect();
    assert_eq!(distinct.len(), received.len(), "no event delivered twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replica_lag_is_reported_on_the_standby_only() {
    let (primary, standby) = ledger().await;
    assert_eq!(primary.replica_lag().await.unwrap(), None);
    primary
        .append(&stream("call-1"), ExpectedVersion::NoStream, events(2))
        .await
        .unwrap();
    let pair = pair();
    let primary_sql = replica::connect(&pair.primary.url("postgres")).await;
    let waited_for = replica::flushed_lsn(&primary_sql).await;
    replica::wait_for_lsn(
        &replica::connect(&pair.standby.url("postgres")).await,
        &waited_for,
    )
    .await;
    let lag = standby
        .replica_lag()
        .await
        .unwrap()
        .expect("a standby reports its lag");
    let replayed = lag.replayed_lsn.expect("the standby has replayed WAL");
    let received = lag
        .received_lsn
        .expect("the standby streams from the primary");
    // Positions are compared by the server, which knows the LSN arithmetic.
    let replayed_far_enough: bool = primary_sql
        .query_one(
            "SELECT pg_wal_lsn_diff($1::text::pg_lsn, $2::text::pg_lsn) >= 0",
            &[&replayed, &waited_for],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        replayed_far_enough,
        "replayed {replayed}, waited for {waited_for}"
    );
    let received_far_enough: bool = primary_sql
        .query_one(
            "SELECT pg_wal_lsn_diff($1::text::pg_lsn, $2::text::pg_lsn) >= 0",
            &[&received, &waited_for],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        received_far_enough,
        "received {received}, waited for {waited_for}"
    );
    assert!(lag.unreplayed_wal_bytes.is_some());
    assert!(
        lag.last_replayed_commit_at.is_some(),
        "a commit was replayed since the standby started"
    );
    assert!(lag.since_last_replayed_commit_ms.is_some());
    // The head the standby reports is the last position it replayed.
    assert_eq!(standby.head().await.unwrap().map(|h| h.position), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_reader_on_the_standby_sees_only_its_clients_events() {
    let pair = pair();
    let (primary_url, standby_url) = pair.fresh_database().await;
    let primary = PgStore::connect(&primary_url)
        .await
        .expect("connect to the primary");
    for (i, client) in ["acme", "globex", "acme"].iter().enumerate() {
        let mut batch = events(2);
        for e in &mut batch {
            e.client_id = Some((*client).to_owned());
        }
        primary
            .append(
                &stream(&format!("call-{i}")),
                ExpectedVersion::NoStream,
                batch,
            )
            .await
            .unwrap();
    }
    // Roles live in the cluster, so the one created on the primary replicates with the rest.
    let name = format!("acme_{}", uuid::Uuid::new_v4().simple());
    let kind = RoleKind::ClientReader {
        client_id: "acme".into(),
    };
    PgStore::create_login_role(&primary_url, &kind, &name, "a password")
        .await
        .unwrap();
    pair.wait_for_replay().await;
    let mut config: tokio_postgres::Config = standby_url.parse().unwrap();
    config.user(&name);
    config.password("a password");
    let reader = PgStore::connect_read_only_with(config)
        .await
        .expect("a client reader opens the standby read-only");
    // It may not read the head, so its wake-up task polls recovery alone; it still settles.
    assert_eq!(settled(&reader).await, WakeSource::StandbyPolling);
    let seen = reader.read_all(0, 100).await.unwrap();
    assert_eq!(seen.len(), 4, "acme's four events, none of globex's");
    assert!(seen.iter().all(|e| e.client_id.as_deref() == Some("acme")));
    // A position replayed but not the reader's to see is not disclosed by its lag either: the
    // lag names WAL positions and times, not ledger positions.
    assert!(reader.replica_lag().await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promoted_standby_wakes_its_subscribers_by_notify_again() {
    let pair = pair();
    let (primary_url, _) = pair.fresh_database().await;
    let primary = PgStore::connect(&primary_url).await.unwrap();
    primary
        .append(&stream("call-1"), ExpectedVersion::NoStream, events(1))
        .await
        .unwrap();
    // A standby of its own: promoting the shared one would end the other tests' replication.
    let second = pair.primary.start_standby();
    let config: tokio_postgres::Config = primary_url.parse().unwrap();
    let dbname = config.get_dbname().unwrap().to_owned();
    let second_sql = replica::connect(&second.url("postgres")).await;
    let primary_sql = replica::connect(&pair.primary.url("postgres")).await;
    replica::wait_for_lsn(&second_sql, &replica::flushed_lsn(&primary_sql).await).await;
    let reader = PgStore::connect_read_only(&second.url(&dbname))
        .await
        .unwrap();
    assert_eq!(settled(&reader).await, WakeSource::StandbyPolling);

    second.promote();
    // The wake-up task notices the end of recovery, reconnects and LISTENs.
    let deadline = tokio::time::Instant::now() + CATCH_UP_TIMEOUT;
    while reader.wake_source() != WakeSource::Notify {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reader still polls after promotion: {:?}",
            reader.wake_source()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // And a commit on the promoted server reaches a subscriber there.
    let writer = PgStore::connect(&second.url(&dbname)).await.unwrap();
    let mut subscription = reader.subscribe(1);
    writer
        .append(&stream("call-2"), ExpectedVersion::NoStream, events(1))
        .await
        .unwrap();
    let next = subscription
        .next_timeout(CATCH_UP_TIMEOUT)
        .await
        .unwrap()
        .expect("the event appended after promotion arrives");
    assert_eq!(next.global_position, 1);
}
