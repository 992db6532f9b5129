//! Conformance cases of the read model's storage: fact rows committed with their checkpoint,
//! resets as a compare-and-set on it, rebuild-sized pages, reads by client and entity, and the
//! read models published per client.

use std::sync::Arc;

use opsledger_store::{EventStore, StoreError};
use uuid::Uuid;

use super::base_time;

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
