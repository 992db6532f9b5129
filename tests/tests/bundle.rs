//! Evidence bundles on both backends: what a bundle discloses and withholds, that it verifies
//! offline, that each kind of tampering with the file is named, and the check that a bundle
//! extends a head an auditor noted earlier.

use std::sync::Arc;

use opsledger_store::bundle::{
    self, BuildOptions, BundleBreak, BundleEntry, BundleError, BundleReport, EvidenceBundle,
    WithheldRun,
};
use opsledger_store::{
    ChainBreak, EventFilter, EventStore, ExpectedVersion, Hash, Metadata, PgStore, PositionRange,
    SqliteStore, TimeRange,
};
use opsledger_tests::conformance::{base_time, new_event, read_everything, sid};
use opsledger_tests::pg;
use serde_json::{json, Value};
use tempfile::TempDir;
use uuid::Uuid;

/// The stream whose history the tests export.
const TARGET: &str = "call-target";
/// The client the target stream belongs to.
const TARGET_CLIENT: &str = "acme";
/// Text only the other client's events hold; it must never appear in a bundle.
const SECRET: &str = "secret-of-globex";
/// The other client.
const OTHER_CLIENT: &str = "globex";

/// Which positions of the seeded log belong to the target stream; the rest belong to other
/// streams of another client.
const TARGET_POSITIONS: [u64; 4] = [1, 4, 5, 7];
/// Events the seeded log holds.
const SEEDED_EVENTS: u64 = 10;

/// Appends [`SEEDED_EVENTS`] events one by one, the target stream's at [`TARGET_POSITIONS`],
/// and returns the ids of the other client's events.
async fn seed(store: &dyn EventStore) -> Vec<Uuid> {
    let mut others = Vec::new();
    for n in 0..SEEDED_EVENTS {
        if TARGET_POSITIONS.contains(&n) {
            let mut event = new_event("call.connected", n);
            event.client_id = Some(TARGET_CLIENT.to_owned());
            store
                .append(&sid(TARGET), ExpectedVersion::Any, vec![event])
                .await
                .unwrap();
        } else {
            others.push(append_other(store, n).await);
        }
    }
    others
}

/// Appends one event of the other client, full of text that must not leave the ledger.
async fn append_other(store: &dyn EventStore, n: u64) -> Uuid {
    let mut event = new_event("call.connected", n);
    event.client_id = Some(OTHER_CLIENT.to_owned());
    event.data = json!({"caller": format!("{SECRET}-caller-{n}"), "n": n});
    event.metadata = Metadata {
        actor: Some(format!("{SECRET}-agent")),
        ..Metadata::default()
    };
    let id = event.event_id;
    store
        .append(
            &sid(&format!("call-other{n}")),
            ExpectedVersion::Any,
            vec![event],
        )
        .await
        .unwrap();
    id
}

fn target_filter() -> EventFilter {
    EventFilter {
        stream_id: Some(sid(TARGET)),
        ..EventFilter::default()
    }
}

fn options() -> BuildOptions {
    BuildOptions {
        created_for: "dispute 2026-114".to_owned(),
        selection: json!({"stream": TARGET}),
        annotations: json!({"verdicts": [{"rule": "R-ANS-1", "verdict": "met"}]}),
        cover_from: None,
    }
}

async fn target_bundle(store: &dyn EventStore) -> EvidenceBundle {
    bundle::build(store, &target_filter(), None, options())
        .await
        .unwrap()
}

/// Verifies `bundle` after `edit` was applied to its JSON form, as someone editing the file
/// would.
fn verify_edited(bundle: &EvidenceBundle, edit: impl FnOnce(&mut Value)) -> BundleReport {
    let mut value = serde_json::to_value(bundle).unwrap();
    edit(&mut value);
    let edited: EvidenceBundle = serde_json::from_value(value).unwrap();
    bundle::verify(&edited)
}

fn broken(report: BundleReport) -> (Option<u64>, BundleBreak) {
    match report {
        BundleReport::Broken { position, reason } => (position, reason),
        BundleReport::Intact { .. } => panic!("expected a broken bundle, got {report:?}"),
    }
}

fn other_hash() -> Value {
    json!(Hash([0x5a; 32]).to_hex())
}

// ---------------------------------------------------------------------------------------------
// Scenarios, each run on both backends.

/// A bundle for one stream among interleaved others discloses exactly that stream's events,
/// gives every other position by digest only, and verifies offline after a JSON round trip.
async fn intact_bundle_discloses_only_the_selection(store: Arc<dyn EventStore>) {
    let others = seed(&*store).await;
    let log = read_everything(&*store).await;
    let bundle = target_bundle(&*store).await;

    assert_eq!(
        bundle::verify(&bundle),
        BundleReport::Intact {
            disclosed: 4,
            withheld: 5,
            first_position: 1,
            head_position: 9,
            head_hash: log[9].hash,
        }
    );
    assert_eq!(bundle.covered(), 1..=9);
    assert_eq!(bundle.anchor.prev_hash, log[0].hash);
    let disclosed: Vec<_> = bundle.disclosed().cloned().collect();
    let wanted: Vec<_> = TARGET_POSITIONS
        .iter()
        .map(|p| log[usize::try_from(*p).unwrap()].clone())
        .collect();
    assert_eq!(disclosed, wanted);
    // The withheld positions come as runs of digests between the disclosed events.
    let runs: Vec<(u64, usize)> = bundle
        .entries
        .iter()
        .filter_map(|e| match e {
            BundleEntry::Withheld(WithheldRun { from, digests }) => Some((*from, digests.len())),
            BundleEntry::Disclosed(_) => None,
        })
        .collect();
    assert_eq!(runs, vec![(2, 2), (6, 1), (8, 2)]);
    assert_eq!(bundle.entries.len(), 7);

    let text = serde_json::to_string_pretty(&bundle).unwrap();
    for forbidden in [SECRET, OTHER_CLIENT, "call-other"] {
        assert!(!text.contains(forbidden), "the bundle leaks {forbidden:?}");
    }
    for id in &others {
        assert!(
            !text.contains(&id.to_string()),
            "the bundle leaks event {id}"
        );
    }
    for event in log
        .iter()
        .filter(|e| !TARGET_POSITIONS.contains(&e.global_position))
    {
        assert!(
            !text.contains(&event.data),
            "the bundle leaks {}",
            event.data
        );
        // Its digest is what stands in for it (its hash may appear too, as the next event's
        // prev_hash): neither reveals anything of its contents.
        if bundle.covered().contains(&event.global_position) {
            assert!(text.contains(&opsledger_store::hash::entry_digest(event).to_hex()));
        }
    }

    let read_back = EvidenceBundle::parse(&text).unwrap();
    assert_eq!(read_back, bundle);
    assert!(bundle::verify(&read_back).is_intact());
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());

    // A selection by client and time window discloses the same events.
    let by_client = EventFilter {
        client_id: Some(TARGET_CLIENT.to_owned()),
        occurred: TimeRange {
            from: Some(base_time()),
            to: Some(base_time() + chrono::Duration::hours(1)),
        },
        ..EventFilter::default()
    };
    let by_client = bundle::build(&*store, &by_client, None, options())
        .await
        .unwrap();
    assert_eq!(by_client.disclosed().cloned().collect::<Vec<_>>(), wanted);
    assert!(bundle::verify(&by_client).is_intact());
}

/// Every kind of edit to the file is found and named at its position.
async fn tampering_is_named_at_its_position(store: Arc<dyn EventStore>) {
    seed(&*store).await;
    let bundle = target_bundle(&*store).await;
    let entries = |v: &mut Value| -> Vec<Value> { v["entries"].as_array().unwrap().clone() };

    // Entries: 0 = position 1, 1 = withheld 2..=3, 2 = position 4, 3 = position 5,
    // 4 = withheld 6, 5 = position 7, 6 = withheld 8..=9.
    let (position, reason) = broken(verify_edited(&bundle, |v| {
        v["entries"][2]["disclosed"]["data"] =
            json!(r#"{"n":4,"note":"a test event","queue":"999"}"#);
    }));
    assert_eq!(position, Some(4));
    assert!(
        matches!(
            reason,
            BundleBreak::Chain {
                chain: ChainBreak::HashMismatch { .. }
            }
        ),
        "{reason:?}"
    );

    let (position, reason) = broken(verify_edited(&bundle, |v| {
        let mut list = entries(v);
        list.remove(2);
        v["entries"] = Value::Array(list);
    }));
    assert_eq!(position, Some(4));
    assert_eq!(
        reason,
        BundleBreak::Chain {
            chain: ChainBreak::PositionGap {
                expected: 4,
                found: 5
            }
        }
    );

    let (position, reason) = broken(verify_edited(&bundle, |v| {
        let mut list = entries(v);
        list.remove(1);
        v["entries"] = Value::Array(list);
    }));
    assert_eq!(position, Some(2));
    assert_eq!(
        reason,
        BundleBreak::Chain {
            chain: ChainBreak::PositionGap {
                expected: 2,
                found: 4
            }
        }
    );

    // A withheld digest has no hash of its own beside it: the break shows where the chain next
    // meets a recorded hash, naming the run that holds the altered digest.
    let (position, reason) = broken(verify_edited(&bundle, |v| {
        v["entries"][1]["withheld"]["digests"][1] = other_hash();
    }));
    assert_eq!(position, Some(4));
    assert!(
        matches!(
            reason,
            BundleBreak::WithheldRunDoesNotLink {
                first: 2,
                last: 3,
                ..
            }
        ),
        "{reason:?}"
    );
    let (position, reason) = broken(verify_edited(&bundle, |v| {
        v["entries"][6]["withheld"]["digests"][0] = other_hash();
    }));
    assert_eq!(position, Some(9));
    assert!(
        matches!(reason, BundleBreak::StatedHeadMismatch { .. }),
        "{reason:?}"
    );

    let (position, reason) = broken(verify_edited(&bundle, |v| {
        v["entries"][3]["disclosed"]["prev_hash"] = other_hash();
    }));
    assert_eq!(position, Some(5));
    assert!(
        matches!(
            reason,
            BundleBreak::Chain {
                chain: ChainBreak::PrevHashMismatch { .. }
            }
        ),
        "{reason:?}"
    );

    // The stated head: another hash, a later position, an earlier one.
    let (position, reason) = broken(verify_edited(&bundle, |v| {
        v["head"]["hash"] = other_hash();
    }));
    assert_eq!(position, Some(9));
    assert!(
        matches!(reason, BundleBreak::StatedHeadMismatch { .. }),
        "{reason:?}"
    );
    let (position, reason) = broken(verify_edited(&bundle, |v| {
        v["head"]["position"] = json!(10);
    }));
    assert_eq!(position, Some(10));
    assert_eq!(
        reason,
        BundleBreak::EntriesEndEarly {
            head_position: 10,
            found_last: Some(9)
        }
    );
    let (position, reason) = broken(verify_edited(&bundle, |v| {
        v["head"]["position"] = json!(8);
    }));
    assert_eq!(position, Some(9));
    assert_eq!(
        reason,
        BundleBreak::EntriesPastHead {
            head_position: 8,
            found: 9
        }
    );

    // What the chain cannot prove is sealed: annotations, description, and which positions
    // are disclosed.
    let (position, reason) = broken(verify_edited(&bundle, |v| {
        v["annotations"]["verdicts"][0]["verdict"] = json!("breached");
    }));
    assert_eq!(position, None);
    assert!(
        matches!(reason, BundleBreak::AnnotationsAltered { .. }),
        "{reason:?}"
    );
    let (position, reason) = broken(verify_edited(&bundle, |v| {
        v["created_for"] = json!("something else");
    }));
    assert_eq!(position, None);
    assert!(
        matches!(reason, BundleBreak::SealMismatch { .. }),
        "{reason:?}"
    );
    // Withholding a disclosed event by its digest keeps the chain intact but not the seal.
    let mut redacted = bundle.clone();
    let BundleEntry::Disclosed(event) = redacted.entries.remove(5) else {
        panic!("entry 5 is the event at position 7");
    };
    let digest = opsledger_store::hash::entry_digest(&event);
    let BundleEntry::Withheld(run) = &mut redacted.entries[4] else {
        panic!("entry 4 is the withheld run at 6");
    };
    run.digests.push(digest);
    let BundleEntry::Withheld(tail) = redacted.entries.remove(5) else {
        panic!("the tail run follows");
    };
    let BundleEntry::Withheld(run) = &mut redacted.entries[4] else {
        unreachable!()
    };
    run.digests.extend(tail.digests);
    let (position, reason) = broken(bundle::verify(&redacted));
    assert_eq!(position, None);
    assert!(
        matches!(reason, BundleBreak::SealMismatch { .. }),
        "{reason:?}"
    );

    // A damaged shape is a malformed bundle, not some other file.
    let mut value = serde_json::to_value(&bundle).unwrap();
    value["verdict_proven"] = json!(true);
    assert!(matches!(
        EvidenceBundle::parse(&value.to_string()),
        Err(BundleError::Malformed { .. })
    ));
    assert!(matches!(
        EvidenceBundle::parse(r#"{"events": []}"#),
        Err(BundleError::NotABundle { .. })
    ));
    let (position, reason) = broken(verify_edited(&bundle, |v| {
        v["format"] = json!("opsledger.bundle.v9");
    }));
    assert_eq!(position, None);
    assert!(
        matches!(reason, BundleBreak::UnsupportedFormat { .. }),
        "{reason:?}"
    );
}

/// An auditor's noted head is checked against the chain a bundle carries.
async fn verify_extends_checks_a_noted_head(store: Arc<dyn EventStore>) {
    seed(&*store).await;
    let noted = store.head().await.unwrap().unwrap();
    assert_eq!(noted.position, 9);
    append_other(&*store, 10).await;
    store
        .append(
            &sid("call-late"),
            ExpectedVersion::NoStream,
            vec![new_event("call.connected", 11)],
        )
        .await
        .unwrap();
    append_other(&*store, 12).await;
    let log = read_everything(&*store).await;

    // Covering from the noted position, the bundle shows the chain passing it.
    let late = EventFilter {
        stream_id: Some(sid("call-late")),
        ..EventFilter::default()
    };
    let covering = bundle::build(
        &*store,
        &late,
        None,
        BuildOptions {
            cover_from: Some(noted.position),
            ..options()
        },
    )
    .await
    .unwrap();
    assert_eq!(covering.covered(), 9..=12);
    let intact = bundle::verify_extends(&covering, noted.position, noted.hash);
    assert!(intact.is_intact(), "{intact:?}");
    assert_eq!(intact, bundle::verify(&covering));
    let (position, reason) = broken(bundle::verify_extends(
        &covering,
        noted.position,
        log[8].hash,
    ));
    assert_eq!(position, Some(9));
    assert_eq!(
        reason,
        BundleBreak::NotedHeadMismatch {
            noted: log[8].hash,
            computed: noted.hash
        }
    );
    // A noted head inside the covered range, at a withheld position.
    assert!(bundle::verify_extends(&covering, 10, log[10].hash).is_intact());

    // Without covering, the bundle starts at 11: it proves the hash at 10 (its anchor's
    // prev_hash) but nothing before.
    let narrow = bundle::build(&*store, &late, None, options())
        .await
        .unwrap();
    assert_eq!(narrow.covered(), 11..=12);
    assert!(bundle::verify_extends(&narrow, 10, log[10].hash).is_intact());
    let (position, reason) = broken(bundle::verify_extends(&narrow, noted.position, noted.hash));
    assert_eq!(position, Some(9));
    assert_eq!(
        reason,
        BundleBreak::NotedHeadNotCovered {
            noted_position: 9,
            first_provable: 10,
            head_position: 12
        }
    );
    // A noted head after the bundle's head cannot be shown either.
    assert!(matches!(
        bundle::verify_extends(&narrow, 13, log[12].hash),
        BundleReport::Broken {
            reason: BundleBreak::NotedHeadNotCovered { .. },
            ..
        }
    ));
    // A broken bundle extends nothing.
    let mut altered = covering.clone();
    altered.created_for.push('!');
    assert!(matches!(
        bundle::verify_extends(&altered, noted.position, noted.hash),
        BundleReport::Broken {
            reason: BundleBreak::SealMismatch { .. },
            ..
        }
    ));
}

/// A bundle can stop at an earlier head; impossible requests are refused.
async fn explicit_heads_and_refusals(store: Arc<dyn EventStore>) {
    assert!(matches!(
        bundle::build(&*store, &target_filter(), None, options()).await,
        Err(BundleError::EmptyLedger)
    ));
    seed(&*store).await;
    let log = read_everything(&*store).await;

    let early = bundle::build(&*store, &target_filter(), Some(5), options())
        .await
        .unwrap();
    assert_eq!(early.covered(), 1..=5);
    assert_eq!(early.head.hash, log[5].hash);
    let positions: Vec<u64> = early.disclosed().map(|e| e.global_position).collect();
    assert_eq!(positions, vec![1, 4, 5]);
    assert!(bundle::verify(&early).is_intact());

    assert!(matches!(
        bundle::build(&*store, &target_filter(), Some(10), options()).await,
        Err(BundleError::HeadBeyondLedger {
            requested: 10,
            ledger_head: 9
        })
    ));
    assert!(matches!(
        bundle::build(&*store, &target_filter(), Some(0), options()).await,
        Err(BundleError::NothingSelected { head: 0 })
    ));
    let nobody = EventFilter {
        client_id: Some("initech".to_owned()),
        ..EventFilter::default()
    };
    assert!(matches!(
        bundle::build(&*store, &nobody, None, options()).await,
        Err(BundleError::NothingSelected { head: 9 })
    ));
    let too_deep = (0..100).fold(json!(1), |v, _| json!([v]));
    assert!(matches!(
        bundle::build(
            &*store,
            &target_filter(),
            None,
            BuildOptions {
                annotations: too_deep,
                ..options()
            }
        )
        .await,
        Err(BundleError::Unsealable {
            part: "annotations",
            ..
        })
    ));

    // Annotations set after building are sealed again.
    let mut later = early.clone();
    later
        .set_annotations(json!({"verdicts": "recomputed"}))
        .unwrap();
    assert!(bundle::verify(&later).is_intact());
    assert_ne!(later.seal, early.seal);
}

/// Runs of withheld events longer than a read page, and a selection spread over many pages,
/// are covered without a gap.
async fn bundles_span_many_pages(store: Arc<dyn EventStore>) {
    /// Other events between two target events: more than one page of the builder's reads.
    const RUN: u64 = 5_000;
    for round in 0..2u64 {
        let others = (0..RUN).map(|n| new_event("call.queued", n)).collect();
        store
            .append(
                &sid(&format!("call-bulk{round}")),
                ExpectedVersion::Any,
                others,
            )
            .await
            .unwrap();
        let mine = (0..2).map(|n| new_event("call.connected", n)).collect();
        store
            .append(&sid(TARGET), ExpectedVersion::Any, mine)
            .await
            .unwrap();
    }
    let bundle = bundle::build(&*store, &target_filter(), None, options())
        .await
        .unwrap();
    assert_eq!(bundle.covered(), RUN..=2 * RUN + 3);
    assert_eq!(
        bundle
            .disclosed()
            .map(|e| e.global_position)
            .collect::<Vec<_>>(),
        vec![RUN, RUN + 1, 2 * RUN + 2, 2 * RUN + 3]
    );
    assert_eq!(
        bundle::verify(&bundle),
        BundleReport::Intact {
            disclosed: 4,
            withheld: RUN,
            first_position: RUN,
            head_position: 2 * RUN + 3,
            head_hash: store.head().await.unwrap().unwrap().hash,
        }
    );
    let whole = bundle::build(
        &*store,
        &target_filter(),
        None,
        BuildOptions {
            cover_from: Some(0),
            ..options()
        },
    )
    .await
    .unwrap();
    let text = serde_json::to_string(&whole).unwrap();
    let read_back = EvidenceBundle::parse(&text).unwrap();
    assert!(matches!(
        bundle::verify(&read_back),
        BundleReport::Intact {
            disclosed: 4,
            withheld: 10_000,
            first_position: 0,
            ..
        }
    ));
}

// ---------------------------------------------------------------------------------------------
// Backends

async fn fresh_sqlite() -> (Arc<dyn EventStore>, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("ledger.sqlite")).unwrap();
    (Arc::new(store), dir)
}

async fn fresh_postgres() -> Arc<dyn EventStore> {
    let url = pg::server().fresh_database().await;
    Arc::new(
        PgStore::connect(&url)
            .await
            .expect("connect to the test database"),
    )
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (store, _dir) = super::fresh_sqlite().await;
                    super::$case(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::fresh_postgres().await).await;
                }
            )*
        }
    };
}

on_both_backends!(
    intact_bundle_discloses_only_the_selection,
    tampering_is_named_at_its_position,
    verify_extends_checks_a_noted_head,
    explicit_heads_and_refusals,
    bundles_span_many_pages,
);

/// The builder checks the chain over what it covers, and the event before it, so a bundle is
/// never made from a ledger whose chain is broken there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_is_never_built_from_a_broken_ledger() {
    // Position 3 is withheld inside the covered range; position 0 is just before the anchor.
    for tampered in [3u64, 0] {
        let (store, dir) = fresh_sqlite().await;
        seed(&*store).await;
        let conn = rusqlite::Connection::open(dir.path().join("ledger.sqlite")).unwrap();
        conn.execute_batch("DROP TRIGGER events_refuse_update;")
            .unwrap();
        conn.execute(
            "UPDATE events SET data = '{\"n\":999}' WHERE global_position = ?1",
            [i64::try_from(tampered).unwrap()],
        )
        .unwrap();
        match bundle::build(&*store, &target_filter(), None, options()).await {
            Err(BundleError::LedgerBroken {
                position,
                reason: ChainBreak::HashMismatch { .. },
            }) => assert_eq!(position, tampered),
            other => panic!("expected the ledger to be found broken at {tampered}, got {other:?}"),
        }
    }
}
