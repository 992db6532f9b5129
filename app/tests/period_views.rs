//! Period-bounded views against the whole fold, on both backends: for a random month, basis and
//! judging instant, the SLA, obligation and billing reports computed from the view a report
//! reads (the client's standing facts, the month's calls and the calls other facts refer to),
//! and the retention report computed from its view (the standing facts and each call's
//! connection only), equal those computed from the whole log folded in memory, with the read
//! model current and with rows behind the log. The JSON document each report prints is the
//! same bytes as its `serde_json::Value` printed pretty.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use opsledger_domain::ids::ClientId;
use opsledger_projections::{AsOf, YearMonth};
use opsledger_store::{EventStore, FactQuery, PgStore, SqliteStore};
use opsledger_tests::demo_month::{self, append};
use rand::{RngExt, SeedableRng};

use opsledger_app::project::{self, Start};
use opsledger_app::report::{self, ReportRequest};
use opsledger_app::NoProgress;

/// Random cases tried per stage (rows behind the log, rows current) and backend.
const CASES: usize = 8;
/// Seed of the generated month.
const MONTH_SEED: u64 = 3;
/// Calls per client per business day of the generated month.
const CALLS_PER_DAY: u32 = 2;

fn random_instant(rng: &mut rand::rngs::ChaCha8Rng) -> DateTime<Utc> {
    let start = Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap();
    start + Duration::minutes(rng.random_range(0..60 * 24 * 120))
}

/// Compares every report a period view serves with the whole fold, for random cases.
async fn compare(
    store: &Arc<dyn EventStore>,
    clients: &[ClientId],
    rng: &mut rand::rngs::ChaCha8Rng,
    stage: &str,
) {
    let head = project::head_next(store).await.unwrap();
    let mut compared = 0;
    for case in 0..CASES {
        let client = &clients[rng.random_range(0..clients.len())];
        let month = YearMonth::new(2026, rng.random_range(8..=12)).unwrap();
        let as_of = match rng.random_range(0..3) {
            0 => AsOf::Head,
            1 => AsOf::Position(rng.random_range(head / 2..head)),
            _ => AsOf::OccurredAt(random_instant(rng)),
        };
        let before = match as_of {
            AsOf::Position(p) => p + 1,
            _ => head,
        };
        let whole = project::log_view(store, before).await.unwrap();
        for kind in ["sla", "obligations", "billing", "retention"] {
            let request = ReportRequest {
                report: kind.to_owned(),
                client: client.as_str().to_owned(),
                month: Some(month),
                as_of,
                evaluated_at: random_instant(rng),
            };
            let expected = report::compute(&whole, &request);
            let view = report::view_for_report(store, client, as_of, kind, Some(month))
                .await
                .unwrap();
            assert_eq!(view.checkpoint(), whole.checkpoint());
            let got = report::compute(&view, &request);
            match (expected, got) {
                (Ok(expected), Ok(got)) => {
                    assert_eq!(got, expected, "{stage}, case {case}: {request:?}");
                    same_bytes_as_the_value(store, &view, &request).await;
                    compared += 1;
                }
                (Err(expected), Err(got)) => {
                    assert_eq!(
                        got.to_string(),
                        expected.to_string(),
                        "{stage}: {request:?}"
                    );
                }
                (expected, got) => {
                    panic!("{stage}: {request:?}: whole {expected:?}, period view {got:?}")
                }
            }
        }
    }
    assert!(compared > 0, "{stage}: every case was refused");
}

/// The document `report … --format json` prints, written as it is serialized, is byte for
/// byte the report's `Value` with its provenance printed pretty.
async fn same_bytes_as_the_value(
    store: &Arc<dyn EventStore>,
    view: &opsledger_projections::Projections,
    request: &ReportRequest,
) {
    let provenance = report::provenance(store, view, request.clone())
        .await
        .unwrap();
    let computed = report::compute_report(view, request).unwrap();
    let value = report::with_provenance(computed.to_value().unwrap(), &provenance).unwrap();
    let mut expected = serde_json::to_vec_pretty(&value).unwrap();
    expected.push(b'\n');
    let mut written = Vec::new();
    report::write_pretty(computed, &provenance, &mut written).unwrap();
    assert_eq!(
        String::from_utf8(written).unwrap(),
        String::from_utf8(expected).unwrap(),
        "{request:?}"
    );
}

async fn period_views_equal_the_whole_fold(store: Arc<dyn EventStore>, seed: u64) {
    let month = demo_month::month(MONTH_SEED, CALLS_PER_DAY);
    let clients: Vec<ClientId> = month.clients.iter().map(|c| c.client_id.clone()).collect();
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    let total = month.events.len();
    let caught_up_to = total * 7 / 10;
    append(&store, &month, 0..caught_up_to).await;
    project::catch_up(&store, Start::Checkpoint, &NoProgress)
        .await
        .unwrap();
    append(&store, &month, caught_up_to..total).await;
    compare(&store, &clients, &mut rng, "rows behind the log").await;
    project::catch_up(&store, Start::Checkpoint, &NoProgress)
        .await
        .unwrap();
    compare(&store, &clients, &mut rng, "rows current").await;

    // The bound is real: a month without calls reads none of the month's call rows.
    let client = &clients[0];
    let rows = store
        .read_facts(
            &FactQuery {
                client_id: Some(client.as_str().to_owned()),
                ..FactQuery::default()
            },
            usize::MAX,
        )
        .await
        .unwrap();
    let calls: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter(|r| r.area == "calls")
        .map(|r| r.entity.as_str())
        .collect();
    assert!(!calls.is_empty());
    let empty_month = report::view_for_report(
        &store,
        client,
        AsOf::Head,
        "sla",
        Some(YearMonth::new(2026, 6).unwrap()),
    )
    .await
    .unwrap();
    let folded_calls = empty_month.model().calls.rows().len();
    assert!(
        folded_calls < calls.len() / 2,
        "a June view folded {folded_calls} of the client's {} calls",
        calls.len()
    );

    // The retention view folds every call of the client, and of each only its connection.
    let retention = report::view_for_report(
        &store,
        client,
        AsOf::Head,
        "retention",
        Some(YearMonth::new(2026, 6).unwrap()),
    )
    .await
    .unwrap();
    let retention_calls = retention.model().calls.rows();
    assert_eq!(retention_calls.len(), calls.len());
    assert!(retention_calls
        .iter()
        .all(|c| c.answered.is_none() && c.completed.is_none()));
    let answered_rows = rows.iter().filter(|r| r.kind == "call.answered").count();
    assert!(answered_rows > 0, "the client has answered calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn period_views_equal_the_whole_fold_embedded() {
    for seed in [11, 2_027] {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn EventStore> =
            Arc::new(SqliteStore::create_new(dir.path().join("test.ledger")).unwrap());
        period_views_equal_the_whole_fold(store, seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn period_views_equal_the_whole_fold_on_postgres() {
    for seed in [11, 2_027] {
        let url = opsledger_tests::pg::server().fresh_database().await;
        let store: Arc<dyn EventStore> = Arc::new(PgStore::connect(&url).await.unwrap());
        period_views_equal_the_whole_fold(store, seed).await;
    }
}
