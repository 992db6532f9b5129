//! The read model's rows against the log, on both backends, over a generated month: catching up
//! in random chunks writes exactly the rows a rebuild writes, each client's view (its rows plus
//! the log past the checkpoint) reports what the whole log folded in memory reports, and a view
//! as of a position equals the log folded up to that position.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use opsledger_domain::ids::ClientId;
use opsledger_projections::{AsOf, Period, Projections, YearMonth};
use opsledger_store::{EventStore, FactQuery, FactRow, PgStore, SqliteStore};
use opsledger_tests::demo_month::{self, append};
use rand::{RngExt, SeedableRng};
use serde_json::{json, Value};

use opsledger_app::project::{self, Start};
use opsledger_app::NoProgress;

/// Seed of the generated month.
const MONTH_SEED: u64 = 1;
/// A small month: every event type, quick to record in a debug build.
const CALLS_PER_DAY: u32 = 2;
/// Seeds of the random chunkings tried per backend.
const SPLIT_SEEDS: [u64; 2] = [7, 1_000_003];

fn instant(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, 0, 0, 0).unwrap()
}

async fn all_rows(store: &Arc<dyn EventStore>) -> Vec<FactRow> {
    store
        .read_facts(&FactQuery::default(), usize::MAX)
        .await
        .unwrap()
}

fn reports(projections: &Projections, clients: &[ClientId]) -> Value {
    let ym = YearMonth::new(2026, 10).unwrap();
    let evaluated_at = instant(2026, 11, 11);
    let mut out = serde_json::Map::new();
    for id in clients {
        let Ok(sla) = projections.sla_report(id, ym, AsOf::Head, evaluated_at) else {
            // Not yet onboarded as of this position: the same for both sides.
            out.insert(id.as_str().to_owned(), json!("unknown"));
            continue;
        };
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

/// Each client's own view, put together as one document to compare with the whole fold.
async fn per_client_reports(
    store: &Arc<dyn EventStore>,
    clients: &[ClientId],
    before: Option<u64>,
) -> Value {
    let mut out = serde_json::Map::new();
    for id in clients {
        let view = project::client_view(store, id, before).await.unwrap();
        let Value::Object(one) = reports(&view, std::slice::from_ref(id)) else {
            unreachable!("reports returns an object")
        };
        out.extend(one);
    }
    Value::Object(out)
}

async fn rebuild_equals_incremental(store: Arc<dyn EventStore>, seed: u64) {
    let month = demo_month::month(MONTH_SEED, CALLS_PER_DAY);
    let clients: Vec<ClientId> = month.clients.iter().map(|c| c.client_id.clone()).collect();
    let total = month.events.len();
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    let mut done = 0;
    let mut checked_prefix = false;
    while done < total {
        let chunk = rng.random_range(1..=total / 3).min(total - done);
        append(&store, &month, done..done + chunk).await;
        done += chunk;
        // Catch up after some chunks only, so pages meet rows behind by more than one chunk.
        if rng.random_bool(0.6) {
            project::catch_up(&store, Start::Checkpoint, &NoProgress)
                .await
                .unwrap();
        }
        if !checked_prefix && done > total / 2 {
            // Mid-way, with rows behind the log: the views still reflect the whole log.
            checked_prefix = true;
            let head = project::head_next(&store).await.unwrap();
            let whole = project::log_view(&store, head).await.unwrap();
            assert_eq!(
                per_client_reports(&store, &clients, None).await,
                reports(&whole, &clients)
            );
        }
    }
    let incremental_done = project::catch_up(&store, Start::Checkpoint, &NoProgress)
        .await
        .unwrap();
    assert!(incremental_done.persisted);
    let incremental = all_rows(&store).await;
    let head = project::head_next(&store).await.unwrap();
    assert_eq!(incremental_done.next_position, head);
    assert_eq!(
        u64::try_from(incremental.len()).unwrap(),
        head,
        "one row per event"
    );

    let rebuilt_done = project::catch_up(&store, Start::Rebuild, &NoProgress)
        .await
        .unwrap();
    assert_eq!(rebuilt_done.applied, head);
    assert_eq!(
        all_rows(&store).await,
        incremental,
        "rebuild == incremental"
    );
    let check = project::check_read_model(&store).await.unwrap();
    assert_eq!(check.first_mismatch, None);
    assert_eq!(check.rows, head);

    // Each client's view from its rows reports what the whole log folded in memory reports.
    let whole = project::log_view(&store, head).await.unwrap();
    assert_eq!(
        per_client_reports(&store, &clients, None).await,
        reports(&whole, &clients)
    );

    // As of a position: the view read up to it equals the log folded up to it.
    for _ in 0..3 {
        let p = rng.random_range(0..head);
        let prefix = project::log_view(&store, p + 1).await.unwrap();
        assert_eq!(
            per_client_reports(&store, &clients, Some(p + 1)).await,
            reports(&prefix, &clients),
            "as of position {p}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_equals_incremental_and_views_equal_the_whole_fold_embedded() {
    for seed in SPLIT_SEEDS {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn EventStore> =
            Arc::new(SqliteStore::create_new(dir.path().join("test.ledger")).unwrap());
        rebuild_equals_incremental(store, seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_equals_incremental_and_views_equal_the_whole_fold_on_postgres() {
    for seed in SPLIT_SEEDS {
        let url = opsledger_tests::pg::server().fresh_database().await;
        let store: Arc<dyn EventStore> = Arc::new(PgStore::connect(&url).await.unwrap());
        rebuild_equals_incremental(store, seed).await;
    }
}

/// The follower keeps the rows at the head while events arrive: after the last append it has
/// published that event's head, and the stored rows reach past it and equal what the log
/// derives.
async fn the_follower_keeps_the_rows_at_the_head(store: Arc<dyn EventStore>) {
    let month = demo_month::month(MONTH_SEED, CALLS_PER_DAY);
    let (heads_tx, mut heads) = tokio::sync::watch::channel(None::<u64>);
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&failures);
    let follower = tokio::spawn(opsledger_app::follow::follow(
        Arc::clone(&store),
        0,
        move |head| {
            heads_tx.send_replace(Some(head.position));
        },
        move |failure| seen.lock().unwrap().push(format!("{failure:?}")),
    ));
    let half = month.events.len() / 2;
    append(&store, &month, 0..half).await;
    append(&store, &month, half..month.events.len()).await;
    let last = store.head().await.unwrap().unwrap().position;
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        heads.wait_for(|h| *h == Some(last)),
    )
    .await
    .expect("the follower reached the last event within 60 s")
    .unwrap();
    follower.abort();
    let check = project::check_read_model(&store).await.unwrap();
    assert!(
        check.next_position > last,
        "rows stop at {}",
        check.next_position
    );
    assert_eq!(check.first_mismatch, None);
    assert_eq!(
        check.rows,
        u64::try_from(all_rows(&store).await.len()).unwrap()
    );
    assert!(check.rows > 0);
    assert!(
        failures.lock().unwrap().is_empty(),
        "{:?}",
        failures.lock().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_keeps_the_rows_at_the_head_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn EventStore> =
        Arc::new(SqliteStore::create_new(dir.path().join("test.ledger")).unwrap());
    the_follower_keeps_the_rows_at_the_head(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_keeps_the_rows_at_the_head_on_postgres() {
    let url = opsledger_tests::pg::server().fresh_database().await;
    let store: Arc<dyn EventStore> = Arc::new(PgStore::connect(&url).await.unwrap());
    the_follower_keeps_the_rows_at_the_head(store).await;
}
