//! PostgreSQL-only store tests: what the schema itself guarantees (immutability, index use)
//! and what only a superuser can break (tampering, which `verify` must pinpoint).

use chrono::{TimeZone, Utc};
use futures_util::StreamExt;
use opsledger_store::{
    ChainBreak, EventFilter, EventStore, ExpectedVersion, Metadata, NewEvent, PgStore,
    PositionRange, StoreError, StreamId, VerifyReport,
};
use opsledger_tests::pg;
use tokio_postgres::NoTls;
use uuid::Uuid;

fn event(n: u128, client: &str) -> NewEvent {
    NewEvent {
        event_id: Uuid::from_u128(n),
        event_type: "call.connected".into(),
        schema_version: 1,
        client_id: Some(client.into()),
        occurred_at: Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 0).unwrap()
            + chrono::Duration::seconds(i64::try_from(n).unwrap()),
        data: serde_json::json!({"n": n.to_string(), "queue": "500"}),
        metadata: Metadata::default(),
    }
}

async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

async fn seeded(events: u128) -> (PgStore, String) {
    let url = pg::server().fresh_database().await;
    let store = PgStore::connect(&url).await.unwrap();
    for n in 1..=events {
        let stream = StreamId::new("call", &format!("{}", n % 3)).unwrap();
        store
            .append(&stream, ExpectedVersion::Any, vec![event(n, "acme")])
            .await
            .unwrap();
    }
    (store, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_refuses_update_delete_and_truncate() {
    let (_store, url) = seeded(3).await;
    let client = raw(&url).await;
    for sql in [
        "UPDATE events SET data = '{}' WHERE global_position = 1",
        "DELETE FROM events WHERE global_position = 1",
        "TRUNCATE events",
        "UPDATE ledger_head SET next_position = 0",
        "DELETE FROM ledger_head",
    ] {
        let err = client.batch_execute(sql).await.expect_err(sql);
        let db = err.as_db_error().expect("a database error");
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {}",
            db.message()
        );
        assert!(
            db.message().contains("refused") || db.message().contains("forward"),
            "{sql}: {}",
            db.message()
        );
    }
    let n: i64 = client
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_the_row_a_superuser_tampered_with() {
    let (store, url) = seeded(20).await;
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
    assert!(
        pg::server().superuser,
        "the tamper test needs the throwaway (superuser) server"
    );
    let client = raw(&url).await;
    // The way a superuser gets past the guard: triggers off for this session.
    client
        .batch_execute(
            "SET session_replication_role = replica;
             UPDATE events SET data = '{\"n\":\"13\",\"queue\":\"999\"}' WHERE global_position = 12;
             SET session_replication_role = DEFAULT;",
        )
        .await
        .unwrap();
    match store.verify(PositionRange::default()).await.unwrap() {
        VerifyReport::Broken {
            position,
            reason,
            events_checked,
        } => {
            assert_eq!(position, 12);
            assert_eq!(events_checked, 12);
            assert!(
                matches!(reason, ChainBreak::HashMismatch { .. }),
                "{reason:?}"
            );
        }
        intact => panic!("tampering went unnoticed: {intact:?}"),
    }
    // A range that ends before the tampered row still verifies.
    let before = store
        .verify(PositionRange {
            from: 0,
            to: Some(11),
        })
        .await
        .unwrap();
    assert!(
        matches!(before, VerifyReport::Intact { events: 12, .. }),
        "{before:?}"
    );

    // Deleting a row (gap) is named too.
    client
        .batch_execute(
            "SET session_replication_role = replica;
             DELETE FROM events WHERE global_position = 5;
             SET session_replication_role = DEFAULT;",
        )
        .await
        .unwrap();
    match store.verify(PositionRange::default()).await.unwrap() {
        VerifyReport::Broken {
            position, reason, ..
        } => {
            assert_eq!(position, 5);
            assert!(
                matches!(
                    reason,
                    ChainBreak::PositionGap {
                        expected: 5,
                        found: 6
                    }
                ),
                "{reason:?}"
            );
        }
        intact => panic!("deletion went unnoticed: {intact:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_reads_use_their_indexes() {
    let (_store, url) = seeded(200).await;
    let client = raw(&url).await;
    client
        .batch_execute("ANALYZE events; SET enable_seqscan = off;")
        .await
        .unwrap();
    // With sequential scans priced out, a plan that still scans the table has no index to use.
    for (what, sql) in [
        ("category", "SELECT * FROM events WHERE global_position >= 0 AND category = ANY('{call}') ORDER BY global_position LIMIT 10"),
        ("event type", "SELECT * FROM events WHERE global_position >= 0 AND event_type = ANY('{call.connected}') ORDER BY global_position LIMIT 10"),
        ("client", "SELECT * FROM events WHERE global_position >= 0 AND client_id = 'acme' ORDER BY global_position LIMIT 10"),
        ("stream", "SELECT * FROM events WHERE stream_id = 'call-1' AND stream_version >= 0 ORDER BY stream_version LIMIT 10"),
        ("occurred", "SELECT * FROM events WHERE occurred_at >= '2026-10-01' AND occurred_at < '2026-10-02' ORDER BY global_position LIMIT 10"),
        ("recorded", "SELECT * FROM events WHERE recorded_at >= '2026-10-01' AND recorded_at < '2030-10-02' ORDER BY global_position LIMIT 10"),
        ("correlation", "SELECT * FROM events WHERE correlation_id = '00000000-0000-0000-0000-000000000001' ORDER BY global_position LIMIT 10"),
    ] {
        let plan: Vec<String> = client
            .query(&format!("EXPLAIN {sql}"), &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect();
        let plan = plan.join("\n");
        assert!(!plan.contains("Seq Scan"), "{what} filter scans the table:\n{plan}");
        assert!(plan.contains("Index") , "{what} filter uses no index:\n{plan}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_applies_no_migration_twice_and_keeps_the_log() {
    let (store, url) = seeded(5).await;
    let head = store.head().await.unwrap().unwrap();
    drop(store);
    let again = PgStore::connect(&url).await.unwrap();
    assert_eq!(again.head().await.unwrap().unwrap(), head);
    let client = raw(&url).await;
    let n: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        n,
        i64::try_from(opsledger_store::postgres::schema::MIGRATIONS.len()).unwrap()
    );
    let out = again
        .append(
            &StreamId::parse("call-9").unwrap(),
            ExpectedVersion::NoStream,
            vec![event(99, "acme")],
        )
        .await
        .unwrap();
    assert_eq!(out.positions, vec![5]);
}

/// The migration that drops the projection snapshot table.
const DROPS_PROJECTIONS: i32 = 12;

/// A ledger of the previous release (migrations up to 11: migration 2's projection snapshot
/// table, with a snapshot in it and migration 4's grants on it) is migrated on connect: the
/// table and its grants are gone, and the log, its chain, the read model's rows and checkpoint
/// are as they were, with appends continuing at the head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_of_the_previous_release_opens_without_the_projections_table() {
    use opsledger_store::postgres::schema::MIGRATIONS;
    use opsledger_store::{FactCheckpoint, FactQuery, FactRow};
    let (store, url) = seeded(5).await;
    let row = |position: u64| FactRow {
        position,
        event_id: Uuid::from_u128(u128::from(position) + 1),
        client_id: Some("acme".to_owned()),
        area: "calls".to_owned(),
        entity: "call-acme:1".to_owned(),
        kind: "call.connected".to_owned(),
        occurred_at: Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 0).unwrap(),
        recorded_at: Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 1).unwrap(),
        body: "{}".to_owned(),
    };
    let checkpoint = FactCheckpoint {
        next_position: 2,
        version: 1,
    };
    store
        .write_facts(0, checkpoint, vec![row(0), row(1)])
        .await
        .unwrap();
    let log = store.read_all(0, 100).await.unwrap();
    drop(store);

    // The database as the previous release left it: migration 2's table as that migration
    // creates it, migration 4's grants on it, a snapshot, and no migration past 11.
    let client = raw(&url).await;
    let create = MIGRATIONS
        .iter()
        .find(|m| m.version == 2)
        .expect("migration 2 is kept as released")
        .sql;
    client.batch_execute(create).await.unwrap();
    client
        .batch_execute(&format!(
            "REVOKE ALL ON projections FROM PUBLIC;
             GRANT SELECT, INSERT, UPDATE (next_position, state, saved_at) ON projections TO opsledger_writer;
             GRANT SELECT ON projections TO opsledger_auditor;
             INSERT INTO projections (name, next_position, state) VALUES ('sla', 5, '\\x7b7d');
             DELETE FROM schema_migrations WHERE version >= {DROPS_PROJECTIONS};"
        ))
        .await
        .unwrap();
    let state = |client: tokio_postgres::Client| async move {
        let row = client
            .query_one(
                "SELECT to_regclass('projections') IS NOT NULL,
                        (SELECT count(*) FROM information_schema.role_table_grants
                          WHERE table_name = 'projections'),
                        (SELECT max(version) FROM schema_migrations)",
                &[],
            )
            .await
            .unwrap();
        (
            row.get::<_, bool>(0),
            row.get::<_, i64>(1),
            row.get::<_, i32>(2),
        )
    };
    let (table, grants, version) = state(client).await;
    assert!(
        table && grants > 0,
        "the old table and its grants are set up"
    );
    assert_eq!(version, DROPS_PROJECTIONS - 1);

    let store = PgStore::connect(&url).await.unwrap();
    let latest = i32::try_from(opsledger_store::postgres::schema::latest_version()).unwrap();
    assert_eq!(state(raw(&url).await).await, (false, 0, latest));
    assert_eq!(store.read_all(0, 100).await.unwrap(), log);
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
    assert_eq!(store.fact_checkpoint().await.unwrap(), Some(checkpoint));
    assert_eq!(
        store
            .read_facts(&FactQuery::default(), usize::MAX)
            .await
            .unwrap(),
        vec![row(0), row(1)]
    );
    let out = store
        .append(
            &StreamId::parse("call-9").unwrap(),
            ExpectedVersion::NoStream,
            vec![event(99, "acme")],
        )
        .await
        .unwrap();
    assert_eq!(out.positions, vec![5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lost_mid_append_is_a_typed_error_and_nothing_is_half_recorded() {
    let (store, url) = seeded(2).await;
    let admin = raw(&url).await;
    // Hold the head lock so the writer's transaction is in flight when its backend dies.
    let mut locker = raw(&url).await;
    let tx = locker.transaction().await.unwrap();
    tx.batch_execute("SELECT 1 FROM ledger_head FOR UPDATE")
        .await
        .unwrap();
    let stream = StreamId::parse("call-lost").unwrap();
    let events: Vec<NewEvent> = (100..110).map(|n| event(n, "acme")).collect();
    let pending = {
        let store = store.clone();
        let stream = stream.clone();
        let events = events.clone();
        tokio::spawn(async move {
            store
                .append(&stream, ExpectedVersion::NoStream, events)
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let err = pending
        .await
        .unwrap()
        .expect_err("the writer's connection was killed");
    assert!(matches!(err, StoreError::ConnectionLost { .. }), "{err:?}");
    let n: i64 = admin
        .query_one(
            "SELECT count(*) FROM events WHERE stream_id = 'call-lost'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "nothing of the failed append may be recorded");
    // The caller retries with the same ids; the writer reconnects and records it once.
    let out = store
        .append(&stream, ExpectedVersion::NoStream, events)
        .await
        .unwrap();
    assert_eq!(out.positions, (2..12).collect::<Vec<u64>>());
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
    let filtered = store
        .read_filtered(
            &EventFilter {
                stream_id: Some(stream),
                ..EventFilter::default()
            },
            0,
            100,
        )
        .await
        .unwrap();
    assert_eq!(filtered.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_retry_through_copy_is_recognised_by_its_unique_violation() {
    let url = pg::server().fresh_database().await;
    let store = PgStore::connect(&url).await.unwrap();
    // More rows than the pipelined INSERT takes, so the group goes through binary COPY, and
    // `Any` so the planner cannot suspect a replay: the database's unique violation must.
    let batch = |tweak: bool| -> Vec<opsledger_store::StreamAppend> {
        (0..300u128)
            .map(|s| opsledger_store::StreamAppend {
                stream_id: StreamId::new("call", &format!("bulk{s}")).unwrap(),
                expected_version: ExpectedVersion::Any,
                events: (0..4u128)
                    .map(|k| {
                        let mut e = event(10_000 + s * 4 + k, "acme");
                        if tweak && s == 299 && k == 3 {
                            e.data = serde_json::json!({"changed": true});
                        }
                        e
                    })
                    .collect(),
            })
            .collect()
    };
    let first = store.append_batch(batch(false)).await.unwrap();
    assert_eq!(first[0].positions, vec![0, 1, 2, 3]);
    let again = store.append_batch(batch(false)).await.unwrap();
    assert!(again.iter().all(|o| o.idempotent_replay));
    assert_eq!(
        again,
        first
            .iter()
            .cloned()
            .map(|mut o| {
                o.idempotent_replay = true;
                o
            })
            .collect::<Vec<_>>()
    );
    let err = store.append_batch(batch(true)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateEventId { position: 1199, .. }),
        "{err:?}"
    );
    assert_eq!(store.head().await.unwrap().unwrap().position, 1199);
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
}

/// Issue 15: the insert trigger `events_continue_head` moves the head, and the writer does
/// not write the same row a second time. A counting trigger on the head row sees one update
/// per group, through the pipelined INSERT and through binary COPY, and the NOTIFY that wakes
/// other processes' subscribers carries the head each group committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_append_moves_the_head_once_and_announces_it() {
    let (store, url) = seeded(2).await;
    let admin = raw(&url).await;
    admin
        .batch_execute(
            "CREATE TABLE test_head_updates (tx text NOT NULL, next_position bigint NOT NULL);
             CREATE FUNCTION test_count_head_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
             BEGIN
                 INSERT INTO test_head_updates VALUES (pg_current_xact_id()::text, NEW.next_position);
                 RETURN NEW;
             END
             $fn$;
             CREATE TRIGGER test_count_head_update BEFORE UPDATE ON ledger_head
                 FOR EACH ROW EXECUTE FUNCTION test_count_head_update();",
        )
        .await
        .unwrap();
    let (listener, mut connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    let (heard_tx, mut heard_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = message {
                if heard_tx.send(n.payload().to_owned()).is_err() {
                    break;
                }
            }
        }
    });
    listener
        .batch_execute("LISTEN opsledger_events")
        .await
        .unwrap();

    let small = store
        .append(
            &StreamId::parse("call-small").unwrap(),
            ExpectedVersion::NoStream,
            (100..103).map(|n| event(n, "acme")).collect(),
        )
        .await
        .unwrap();
    assert_eq!(small.positions, vec![2, 3, 4]);
    // More rows than the pipelined INSERT takes, appended as the owner: binary COPY.
    let bulk = store
        .append(
            &StreamId::parse("call-bulk").unwrap(),
            ExpectedVersion::NoStream,
            (200..500).map(|n| event(n, "acme")).collect(),
        )
        .await
        .unwrap();
    assert_eq!(bulk.positions.first(), Some(&5));
    assert_eq!(bulk.positions.last(), Some(&304));

    let per_group: Vec<(i64, i64)> = admin
        .query(
            "SELECT count(*), max(next_position) FROM test_head_updates GROUP BY tx \
             ORDER BY max(next_position)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(per_group, vec![(1, 5), (1, 305)]);

    let mut heard = Vec::new();
    while heard.len() < 2 {
        let payload = tokio::time::timeout(std::time::Duration::from_secs(10), heard_rx.recv())
            .await
            .expect("each committed group notifies")
            .unwrap();
        heard.push(payload);
    }
    assert_eq!(heard, ["5", "305"]);

    let head = store.head().await.unwrap().unwrap();
    let last = store.read_all(304, 1).await.unwrap();
    assert_eq!(head.position, 304);
    assert_eq!(head.hash, last[0].hash);
    assert_eq!(head.recorded_at, last[0].recorded_at);
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_rows_past_the_head() {
    let (store, url) = seeded(6).await;
    assert!(
        pg::server().superuser,
        "planting rows needs the throwaway (superuser) server"
    );
    let client = raw(&url).await;
    // Triggers off, the way a superuser (or a restored dump) gets rows past the guard: a copy
    // of the last event right after the head, and one further out.
    for planted in [6_i64, 9] {
        client
            .execute("SET session_replication_role = replica", &[])
            .await
            .unwrap();
        client
            .execute(
                "INSERT INTO events SELECT $1, gen_random_uuid(), stream_id || '-planted', \
                 category, $1, event_type, schema_version, client_id, occurred_at, recorded_at, \
                 correlation_id, causation_id, actor, source, data, hash, hash \
                 FROM events WHERE global_position = 5",
                &[&planted],
            )
            .await
            .unwrap();
        client
            .batch_execute("SET session_replication_role = DEFAULT")
            .await
            .unwrap();
        match store.verify(PositionRange::default()).await.unwrap() {
            VerifyReport::Broken {
                position,
                reason:
                    ChainBreak::RowsPastHead {
                        head_position: Some(5),
                        found,
                    },
                ..
            } => assert_eq!((position, found), (6, 6)),
            other => panic!("a row at {planted} past the head went unnamed: {other:?}"),
        }
    }
    assert!(store
        .verify(PositionRange {
            from: 0,
            to: Some(5)
        })
        .await
        .unwrap()
        .is_intact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_rows_in_a_ledger_whose_head_says_empty() {
    let url = pg::server().fresh_database().await;
    let store = PgStore::connect(&url).await.unwrap();
    let client = raw(&url).await;
    client
        .batch_execute(
            "SET session_replication_role = replica;
             INSERT INTO events (global_position, event_id, stream_id, category, stream_version,
                 event_type, schema_version, occurred_at, recorded_at, data, prev_hash, hash)
             VALUES (0, gen_random_uuid(), 'call-planted', 'call', 0, 'call.connected', 1,
                 now(), now(), '{}', '\\x00', '\\x00');
             SET session_replication_role = DEFAULT;",
        )
        .await
        .unwrap();
    match store.verify(PositionRange::default()).await.unwrap() {
        VerifyReport::Broken {
            position: 0,
            reason:
                ChainBreak::RowsPastHead {
                    head_position: None,
                    found: 0,
                },
            ..
        } => {}
        other => panic!("a row in an empty ledger went unnamed: {other:?}"),
    }
}

/// Issue 12, finding 5 on PostgreSQL: the destroyed key's old row version stayed in the
/// table's heap file until a vacuum that never came. Destroying as the owning role now
/// vacuums `data_keys`; this reads the table's file on disk after a checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroying_a_key_as_the_owner_leaves_no_copy_in_the_table_file() {
    use opsledger_store::DataKey;
    let (store, url) = seeded(2).await;
    assert!(
        pg::server().superuser,
        "reading the table file needs the throwaway (superuser) server"
    );
    let DataKey::Active(key) = store.data_key("acme", true).await.unwrap() else {
        panic!("a fresh key");
    };
    let key = *key.as_bytes();
    store.data_key("globex", true).await.unwrap();
    let client = raw(&url).await;
    let table_file = || async {
        client.batch_execute("CHECKPOINT").await.unwrap();
        let row = client
            .query_one(
                "SELECT current_setting('data_directory') || '/' || pg_relation_filepath('data_keys')",
                &[],
            )
            .await
            .unwrap();
        let path: String = row.get(0);
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
    };
    let holds_key = |bytes: &[u8]| bytes.windows(key.len()).any(|w| w == key);
    assert!(
        holds_key(&table_file().await),
        "the key must be on disk first"
    );
    assert!(store.destroy_data_key("acme", "R-RET-2").await.unwrap());
    // A vacuum keeps a row version that some open transaction in the cluster might still
    // see; other tests run beside this one, so a rerun (what `retention apply` does) gets a
    // few tries, each of which vacuums again.
    let mut attempts = 1;
    while holds_key(&table_file().await) {
        assert!(attempts < 5, "the destroyed key is still in the table file");
        attempts += 1;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(!store.destroy_data_key("acme", "R-RET-2").await.unwrap());
    }
    assert!(matches!(
        store.data_key("globex", false).await.unwrap(),
        DataKey::Active(_)
    ));
    // A writer cannot vacuum; autovacuum is told to take the table after any destruction.
    let options: Vec<String> = client
        .query_one(
            "SELECT reloptions FROM pg_class WHERE oid = 'data_keys'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    for option in [
        "autovacuum_vacuum_threshold=0",
        "autovacuum_vacuum_scale_factor=0",
    ] {
        assert!(options.iter().any(|o| o == option), "{options:?}");
    }
}

/// Appends `events` events in batches of 1,000, one stream per batch.
async fn seeded_in_bulk(events: u128) -> (PgStore, String) {
    let url = pg::server().fresh_database().await;
    let store = PgStore::connect(&url).await.unwrap();
    for batch in 0..events.div_ceil(1000) {
        let stream = StreamId::new("bulk", &format!("{batch}")).unwrap();
        let first = batch * 1000 + 1;
        let batch_events = (first..=events.min(first + 999))
            .map(|n| event(n, "acme"))
            .collect();
        store
            .append(&stream, ExpectedVersion::NoStream, batch_events)
            .await
            .unwrap();
    }
    (store, url)
}

fn broken_at(report: VerifyReport) -> (u64, ChainBreak, u64) {
    match report {
        VerifyReport::Broken {
            position,
            reason,
            events_checked,
        } => (position, reason, events_checked),
        intact => panic!("the break went unnoticed: {intact:?}"),
    }
}

/// The PostgreSQL walk reads the log in chunks of 16,384 positions, alternately on two
/// connections: 50,000 events span four chunks, so a break is found in a chunk the second
/// connection read while the first has already read a later one, and the earliest break is
/// still the one named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_across_chunks_names_the_first_break() {
    let (store, url) = seeded_in_bulk(50_000).await;
    match store.verify(PositionRange::default()).await.unwrap() {
        VerifyReport::Intact {
            events,
            first_position,
            head,
        } => {
            assert_eq!((events, first_position), (50_000, Some(0)));
            assert_eq!(head.map(|(p, _)| p), Some(49_999));
            let stored = store.head().await.unwrap().unwrap();
            assert_eq!(head, Some((stored.position, stored.hash)));
        }
        broken => panic!("an untouched ledger does not verify: {broken:?}"),
    }
    // A range starting and ending inside chunks, with its anchor from the stored log.
    let inner = store
        .verify(PositionRange {
            from: 16_000,
            to: Some(40_000),
        })
        .await
        .unwrap();
    assert!(
        matches!(
            inner,
            VerifyReport::Intact {
                events: 24_001,
                first_position: Some(16_000),
                ..
            }
        ),
        "{inner:?}"
    );
    assert!(
        pg::server().superuser,
        "the tamper test needs the throwaway (superuser) server"
    );
    let client = raw(&url).await;
    let tamper = |sql: &'static str| {
        let client = &client;
        async move {
            client
                .batch_execute(&format!(
                    "SET session_replication_role = replica; {sql}; \
                     SET session_replication_role = DEFAULT;"
                ))
                .await
                .unwrap();
        }
    };
    // Chunk 2 (read by the first connection) altered first, then chunk 1 (the second's).
    tamper("UPDATE events SET data = '{\"n\":\"0\"}' WHERE global_position = 40000").await;
    let (position, reason, checked) =
        broken_at(store.verify(PositionRange::default()).await.unwrap());
    assert_eq!((position, checked), (40_000, 40_000));
    assert!(
        matches!(reason, ChainBreak::HashMismatch { .. }),
        "{reason:?}"
    );
    tamper("UPDATE events SET actor = 'someone' WHERE global_position = 20000").await;
    let (position, reason, checked) =
        broken_at(store.verify(PositionRange::default()).await.unwrap());
    assert_eq!((position, checked), (20_000, 20_000));
    assert!(
        matches!(reason, ChainBreak::HashMismatch { .. }),
        "{reason:?}"
    );
    // The first position of chunk 1 deleted: a gap where the chunks meet.
    tamper("DELETE FROM events WHERE global_position = 16384").await;
    let (position, reason, checked) =
        broken_at(store.verify(PositionRange::default()).await.unwrap());
    assert_eq!((position, checked), (16_384, 16_384));
    assert_eq!(
        reason,
        ChainBreak::PositionGap {
            expected: 16_384,
            found: 16_385
        }
    );
}

/// `read_all` (binary `COPY`, parsed by hand) and `read_stream` (a query, decoded by the
/// driver) read the same envelopes, NULLs and a timestamp before PostgreSQL's 2000 epoch
/// included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_all_decodes_what_a_query_decodes() {
    let url = pg::server().fresh_database().await;
    let store = PgStore::connect(&url).await.unwrap();
    let stream = StreamId::new("call", "old").unwrap();
    let mut old = event(1, "acme");
    old.occurred_at = Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap()
        + chrono::Duration::microseconds(123_456);
    old.client_id = None;
    let mut full = event(2, "acme");
    full.metadata = Metadata {
        correlation_id: Some(Uuid::from_u128(77)),
        causation_id: Some(Uuid::from_u128(78)),
        actor: Some("ops@example".into()),
        source: Some("importer".into()),
    };
    store
        .append(&stream, ExpectedVersion::NoStream, vec![old, full])
        .await
        .unwrap();
    let copied = store.read_all(0, 10).await.unwrap();
    let queried = store
        .read_stream(&stream, 0, opsledger_store::Direction::Forward, 10)
        .await
        .unwrap();
    assert_eq!(copied.len(), 2);
    assert_eq!(copied, queried);
    assert_eq!(
        copied[0].occurred_at,
        Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap()
            + chrono::Duration::microseconds(123_456)
    );
    assert_eq!(copied[0].client_id, None);
    assert_eq!(copied[1].metadata.actor.as_deref(), Some("ops@example"));
    // A page shorter than the log, from the middle.
    assert_eq!(store.read_all(1, 1).await.unwrap(), queried[1..]);
}
