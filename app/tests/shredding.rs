//! Crypto-shredding end to end on a generated month: personal fields are stored sealed, open
//! with the key, read as "[shredded]" once it is destroyed while the chain and every report stay
//! the same, and `retention apply` deletes exactly what is due, once, unless a legal hold stops it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use opsledger_domain::codec;
use opsledger_domain::command::Command;
use opsledger_domain::events::DomainEvent;
use opsledger_domain::ids::ClientId;
use opsledger_projections::{AsOf, Period, Projections, YearMonth};
use opsledger_store::{
    DataKey, EventFilter, EventStore, Metadata, PositionRange, RecordedEvent, SqliteStore,
};
use serde_json::{json, Value};
use uuid::Uuid;

use opsledger_app::crypto::{visit_pointer, CryptoError, Sealer, CIPHERTEXT_PREFIX, SHREDDED};
use opsledger_app::project::{self, Start};
use opsledger_app::retention::{self, Action};
use opsledger_app::{Actor, AppError, NoProgress};

use opsledger_tests::demo_month;
use opsledger_tools::demo_data::DemoMonth;

/// Seed of the generated month (the demo's default, with its terminated, held client).
const SEED: u64 = 1;
/// A small month: enough calls for every event type, quick to record in a debug build.
const CALLS_PER_DAY: u32 = 3;
/// The client the demo terminates and puts under a legal hold.
const TERMINATED: &str = "whitfield-legal";
/// A client that stays active all month.
const ACTIVE: &str = "acme-dental";
/// Events read per page.
const PAGE: usize = 10_000;

/// An instant past the terminated client's R-RET-2 deadline once its legal hold, placed in the
/// demo month, is released on 1 February 2027: the deadline is extended by the hold's time.
fn after_extended_deadline() -> DateTime<Utc> {
    instant(2027, 12, 1)
}

fn instant(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, 0, 0, 0).unwrap()
}

/// A ledger holding the generated month, recorded through the sealer as `demo` records it,
/// with the generated events by event id.
async fn ledger(dir: &Path) -> (Arc<dyn EventStore>, DemoMonth, HashMap<Uuid, DomainEvent>) {
    let store: Arc<dyn EventStore> =
        Arc::new(SqliteStore::create_new(dir.join("test.ledger")).unwrap());
    let month = demo_month::month(SEED, CALLS_PER_DAY);
    demo_month::record(&store, &month).await;
    let by_id = month
        .events
        .iter()
        .enumerate()
        .map(|(index, event)| (demo_month::event_id(index), event.clone()))
        .collect();
    (store, month, by_id)
}

async fn read_all(store: &Arc<dyn EventStore>) -> Vec<RecordedEvent> {
    let mut out = Vec::new();
    loop {
        let next = out.len();
        let page = store
            .read_all(u64::try_from(next).unwrap(), PAGE)
            .await
            .unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// Every report of every client as JSON: SLA, obligations, billing and retention of the month.
fn reports(projections: &Projections, month: &DemoMonth) -> Value {
    let ym = YearMonth::new(2026, 10).unwrap();
    let evaluated_at = instant(2026, 11, 11);
    let mut out = serde_json::Map::new();
    for client in &month.clients {
        let id = &client.client_id;
        let sla = projections
            .sla_report(id, ym, AsOf::Head, evaluated_at)
            .unwrap();
        let obligations = projections
            .obligation_report(id, sla.period, AsOf::Head, evaluated_at)
            .unwrap();
        let billing = projections
            .billing_report(id, AsOf::Head, evaluated_at)
            .unwrap();
        let retention = projections
            .retention_report(
                id,
                AsOf::Head,
                evaluated_at,
                Period {
                    from: instant(2026, 10, 1),
                    to: instant(2027, 6, 1),
                },
            )
            .unwrap();
        out.insert(
            id.as_str().to_owned(),
            json!({"sla": sla, "obligations": obligations, "billing": billing, "retention": retention}),
        );
    }
    Value::Object(out)
}

/// The event's JSON with every personal string replaced by "[shredded]".
fn shredded_form(event: &DomainEvent) -> Value {
    let (event_type, _, mut data) = codec::encode(event);
    for pointer in codec::personal_fields(event_type).unwrap_or_default() {
        visit_pointer::<()>(&mut data, pointer, &mut |_, v| {
            if v.is_string() {
                *v = json!(SHREDDED);
            }
            Ok(())
        })
        .unwrap();
    }
    data
}

/// The strings in the personal fields of `data`.
fn personal_strings(event_type: &str, data: &Value) -> Vec<String> {
    let mut data = data.clone();
    let mut out = Vec::new();
    for pointer in codec::personal_fields(event_type).unwrap_or_default() {
        visit_pointer::<()>(&mut data, pointer, &mut |_, v| {
            if let Value::String(s) = v {
                out.push(s.clone());
            }
            Ok(())
        })
        .unwrap();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_fields_are_stored_sealed_and_read_back_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _month, by_id) = ledger(dir.path()).await;
    // The raw rows, read past the store: no personal field is plaintext.
    let conn = rusqlite::Connection::open(dir.path().join("test.ledger")).unwrap();
    let mut statement = conn.prepare("SELECT event_type, data FROM events").unwrap();
    let rows: Vec<(String, String)> = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut sealed = 0_usize;
    for (event_type, data) in &rows {
        let data: Value = serde_json::from_str(data).unwrap();
        for value in personal_strings(event_type, &data) {
            assert!(
                value.starts_with(CIPHERTEXT_PREFIX),
                "{event_type}: {value}"
            );
            sealed += 1;
        }
    }
    assert!(sealed > 100, "only {sealed} sealed fields");
    // Callers' numbers, names and contacts are unique to them, unlike free text such as notes,
    // whose words may also appear in non-personal fields: none of them is stored anywhere.
    let plaintexts: Vec<String> = by_id
        .values()
        .flat_map(|e| {
            let (_, _, d) = codec::encode(e);
            ["/caller_number", "/caller_name", "/caller_contact"]
                .iter()
                .filter_map(|p| d.pointer(p).and_then(Value::as_str).map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(!plaintexts.is_empty());
    for (_, data) in &rows {
        for p in &plaintexts {
            assert!(!data.contains(p.as_str()), "{p:?} is stored in the clear");
        }
    }
    // Read back through the sealer, every event is exactly what was recorded.
    let mut sealer = Sealer::new(Arc::clone(&store));
    let recorded = read_all(&store).await;
    assert_eq!(recorded.len(), by_id.len());
    for r in &recorded {
        assert_eq!(&sealer.decode(r).await.unwrap(), &by_id[&r.event_id]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ciphertext_moved_to_another_event_does_not_open_and_reads_as_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _month, _) = ledger(dir.path()).await;
    let filter = EventFilter {
        event_types: vec!["call.connected".to_owned()],
        ..EventFilter::default()
    };
    let calls = store.read_filtered(&filter, 0, PAGE).await.unwrap();
    let same_client: Vec<&RecordedEvent> = calls
        .iter()
        .filter(|e| e.client_id.as_deref() == Some(ACTIVE))
        .take(2)
        .collect();
    let other_client = calls
        .iter()
        .find(|e| e.client_id.as_deref() != Some(ACTIVE))
        .unwrap();
    let donor: Value = serde_json::from_str(&same_client[0].data).unwrap();
    let stolen = donor["caller_number"].clone();
    assert!(stolen.as_str().unwrap().starts_with(CIPHERTEXT_PREFIX));
    let mut sealer = Sealer::new(Arc::clone(&store));
    for target in [same_client[1], other_client] {
        let mut forged = target.clone();
        let mut data: Value = serde_json::from_str(&forged.data).unwrap();
        data["caller_number"] = stolen.clone();
        forged.data = data.to_string();
        // It reads as unreadable, and the sealer says why, instead of an error that would
        // stop every read of the client (issue 12, finding 2).
        let event = sealer.decode(&forged).await.unwrap();
        let opsledger_domain::events::DomainEvent::CallConnected(call) = event else {
            panic!("a call.connected decodes as one");
        };
        assert_eq!(
            call.caller_number.as_deref(),
            Some(opsledger_app::crypto::UNREADABLE)
        );
        let unreadable = sealer.take_unreadable();
        assert_eq!(unreadable.len(), 1);
        assert_eq!(unreadable[0].pointer, "/caller_number");
        assert!(
            unreadable[0].reason.contains("does not open"),
            "{}",
            unreadable[0].reason
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destroyed_key_shreds_personal_fields_and_changes_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (store, month, by_id) = ledger(dir.path()).await;
    let before = whole(&store, Start::Rebuild).await;
    let reports_before = reports(&before, &month);
    let head_before = store.head().await.unwrap();

    assert!(store.destroy_data_key(ACTIVE, "test").await.unwrap());

    // Rebuilt from zero, every report of every client is identical, and so is the chain.
    let after = whole(&store, Start::Rebuild).await;
    assert_eq!(reports(&after, &month), reports_before);
    assert_eq!(store.head().await.unwrap(), head_before);
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());

    // The client's personal fields read as "[shredded]" and nothing else about its events
    // changed; other clients' events read exactly as recorded.
    let mut sealer = Sealer::new(Arc::clone(&store));
    let mut shredded = 0_usize;
    for r in &read_all(&store).await {
        let original = &by_id[&r.event_id];
        let read = sealer.decode(r).await.unwrap();
        if r.client_id.as_deref() == Some(ACTIVE) {
            let (t, _, read_json) = codec::encode(&read);
            shredded += personal_strings(t, &read_json).len();
            assert_eq!(read_json, shredded_form(original));
        } else {
            assert_eq!(&read, original);
        }
    }
    assert!(shredded > 10, "only {shredded} shredded fields");

    // A timeline's view of one call shows the field shredded.
    let call = store
        .read_filtered(
            &EventFilter {
                event_types: vec!["call.connected".to_owned()],
                client_id: Some(ACTIVE.to_owned()),
                ..EventFilter::default()
            },
            0,
            1,
        )
        .await
        .unwrap();
    let opened = sealer.open_data(&call[0]).await.unwrap();
    assert_eq!(opened["caller_number"], json!(SHREDDED));

    // No new personal data is recorded for the client.
    let personal = by_id
        .values()
        .find(|e| {
            e.client_id() == ACTIVE && {
                let (t, _, d) = codec::encode(e);
                !personal_strings(t, &d).is_empty()
            }
        })
        .unwrap();
    let error = Sealer::new(Arc::clone(&store))
        .seal(Uuid::new_v4(), personal, Metadata::default())
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AppError::Crypto {
            error: CryptoError::ClientDataDeleted { .. },
            ..
        }
    ));
}

/// The keys of every client, as an active/destroyed flag.
async fn key_states(store: &Arc<dyn EventStore>, month: &DemoMonth) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for client in &month.clients {
        let name = client.client_id.as_str().to_owned();
        let active = matches!(
            store.data_key(&name, false).await.unwrap(),
            DataKey::Active(_)
        );
        out.push((name, active));
    }
    out
}

/// Brings the read model's rows current, then folds the whole log in memory: every client's
/// reports from one value, as the tests compare them.
async fn whole(store: &Arc<dyn EventStore>, start: Start) -> Projections {
    project::catch_up(store, start, &NoProgress).await.unwrap();
    let head = project::head_next(store).await.unwrap();
    project::log_view(store, head).await.unwrap()
}

async fn release_holds(store: &Arc<dyn EventStore>, at: DateTime<Utc>) {
    let projections = whole(store, Start::Checkpoint).await;
    let client = ClientId::new(TERMINATED).unwrap();
    let report = projections
        .retention_report(&client, AsOf::Head, at, Period { from: at, to: at })
        .unwrap();
    assert!(!report.legal_holds.is_empty(), "the demo client is held");
    let facts = report
        .legal_holds
        .iter()
        .map(|hold| {
            let command: Command = serde_json::from_value(json!({
                "command": "release_legal_hold",
                "args": {"client_id": TERMINATED, "hold_id": hold, "at": at}
            }))
            .unwrap();
            opsledger_app::record::Fact {
                event_id: Uuid::new_v4(),
                command,
                file: "test".into(),
                line: 0,
            }
        })
        .collect();
    opsledger_app::record::record(store, facts, &Metadata::default(), false, &NoProgress)
        .await
        .unwrap();
}

async fn deletions_recorded(store: &Arc<dyn EventStore>) -> usize {
    let filter = EventFilter {
        event_types: vec!["retention.client_data_deleted".to_owned()],
        ..EventFilter::default()
    };
    store.read_filtered(&filter, 0, PAGE).await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_apply_deletes_exactly_what_is_due_once_and_a_legal_hold_blocks_it() {
    let dir = tempfile::tempdir().unwrap();
    let (store, month, _) = ledger(dir.path()).await;
    let held_at = instant(2027, 3, 1);
    let everyone_active = key_states(&store, &month).await;
    assert!(everyone_active.iter().all(|(_, active)| *active));

    // Under the legal hold nothing is due (R-RET-2: the deadline is extended by the time the
    // hold is active, so it is unknown until the release) and nothing changes.
    for dry_run in [true, false] {
        let actions = retention::apply(&store, held_at, dry_run, &Actor::unknown(), &NoProgress)
            .await
            .unwrap();
        assert!(actions.is_empty(), "{actions:?}");
        assert_eq!(key_states(&store, &month).await, everyone_active);
        assert_eq!(deletions_recorded(&store).await, 0);
    }

    release_holds(&store, instant(2027, 2, 1)).await;
    // Released on 1 February, the deadline moved on by the months the hold was active.
    let as_of = after_extended_deadline();
    let head = store.head().await.unwrap();
    let snapshot = store.fact_checkpoint().await.unwrap();

    // A dry run says what it would do and changes nothing, not even the read model's rows.
    let actions = retention::apply(&store, as_of, true, &Actor::unknown(), &NoProgress)
        .await
        .unwrap();
    assert!(
        matches!(actions.as_slice(), [Action::WouldDelete { client_id, .. }] if client_id == TERMINATED),
        "{actions:?}"
    );
    // The one-client dry run the desk shows says the same of each client, and writes nothing.
    for client in opsledger_app::project::clients(&store).await.unwrap() {
        let alone = retention::dry_run_for(&store, &client, as_of)
            .await
            .unwrap();
        let expected = actions.iter().find(
            |a| matches!(a, Action::WouldDelete { client_id, .. } if client_id == client.as_str()),
        );
        assert_eq!(alone.as_ref(), expected, "{client}");
    }
    assert_eq!(store.head().await.unwrap(), head);
    assert_eq!(store.fact_checkpoint().await.unwrap(), snapshot);
    assert_eq!(key_states(&store, &month).await, everyone_active);

    // Applying destroys exactly the due, un-held client's key and records the deletion.
    let actions = retention::apply(&store, as_of, false, &Actor::unknown(), &NoProgress)
        .await
        .unwrap();
    assert!(
        matches!(actions.as_slice(), [Action::Deleted { client_id, key_destroyed_now: true, .. }]
            if client_id == TERMINATED),
        "{actions:?}"
    );
    let expected: Vec<(String, bool)> = everyone_active
        .iter()
        .map(|(c, _)| (c.clone(), c != TERMINATED))
        .collect();
    assert_eq!(key_states(&store, &month).await, expected);
    assert_eq!(deletions_recorded(&store).await, 1);
    let projections = whole(&store, Start::Checkpoint).await;
    let report = projections
        .retention_report(
            &ClientId::new(TERMINATED).unwrap(),
            AsOf::Head,
            as_of,
            Period {
                from: as_of,
                to: as_of,
            },
        )
        .unwrap();
    assert!(report.records[0].deleted.is_some());

    // A second run does nothing.
    let head = store.head().await.unwrap();
    assert_eq!(
        retention::apply(&store, as_of, false, &Actor::unknown(), &NoProgress)
            .await
            .unwrap(),
        vec![]
    );
    assert_eq!(store.head().await.unwrap(), head);
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_apply_recovers_from_a_crash_on_either_side_of_the_destruction() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _month, _) = ledger(dir.path()).await;
    let as_of = after_extended_deadline();
    release_holds(&store, instant(2027, 2, 1)).await;

    // A crash after destroying the key, before recording: the next run records the deletion.
    assert!(store
        .destroy_data_key(TERMINATED, "interrupted")
        .await
        .unwrap());
    let actions = retention::apply(&store, as_of, false, &Actor::unknown(), &NoProgress)
        .await
        .unwrap();
    assert!(
        matches!(
            actions.as_slice(),
            [Action::Deleted {
                key_destroyed_now: false,
                ..
            }]
        ),
        "{actions:?}"
    );
    assert_eq!(deletions_recorded(&store).await, 1);
    assert_eq!(
        retention::apply(&store, as_of, false, &Actor::unknown(), &NoProgress)
            .await
            .unwrap(),
        vec![]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_apply_completes_a_deletion_recorded_without_destroying_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _month, _) = ledger(dir.path()).await;
    let as_of = instant(2027, 3, 1);
    release_holds(&store, instant(2027, 2, 1)).await;
    // The deletion is recorded by hand (`opsledger record`), which leaves the key alone.
    let command: Command = serde_json::from_value(json!({
        "command": "record_data_deletion",
        "args": {"client_id": TERMINATED, "deletion_id": "manual", "at": instant(2027, 2, 15),
                 "scope": {"kind": "all_client_data"}}
    }))
    .unwrap();
    opsledger_app::record::record(
        &store,
        vec![opsledger_app::record::Fact {
            event_id: Uuid::new_v4(),
            command,
            file: "test".into(),
            line: 0,
        }],
        &Metadata::default(),
        false,
        &NoProgress,
    )
    .await
    .unwrap();
    let actions = retention::apply(&store, as_of, false, &Actor::unknown(), &NoProgress)
        .await
        .unwrap();
    assert!(
        matches!(actions.as_slice(), [Action::KeyDestroyedForRecordedDeletion { client_id }] if client_id == TERMINATED),
        "{actions:?}"
    );
    assert!(matches!(
        store.data_key(TERMINATED, false).await.unwrap(),
        DataKey::Destroyed { .. }
    ));
    assert_eq!(deletions_recorded(&store).await, 1);
    assert_eq!(
        retention::apply(&store, as_of, false, &Actor::unknown(), &NoProgress)
            .await
            .unwrap(),
        vec![]
    );
}
