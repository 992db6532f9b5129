//! The desk's load client (`opsledger_tools::serve_bench`, behind `opsledger bench-serve`)
//! against a real server on a demo ledger: it plans every kind of call from the API, counts
//! what it sends, the server's access log holds exactly the reads it counted as answered, and
//! a wrong token makes every request an error rather than a fast success.

mod support;

use std::time::Duration;

use opsledger_app::access::{self, AccessLogQuery, DeskLedger, DeskRole};
use opsledger_tools::serve_bench::{self, PlanOptions, RouteKind, RunOptions};
use support::{user, Backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_client_counts_answers_and_errors() {
    let ledger = support::ledger(Backend::Embedded).await;
    let desk_ledger = DeskLedger::open(&ledger.target).await.unwrap();
    let auditor = user(&ledger, &desk_ledger, "ann", DeskRole::Auditor).await;
    let mut running = ledger.serve().await;

    let plan = serve_bench::plan(&PlanOptions {
        base: running.url(),
        token: auditor.bearer.clone(),
        months: vec![ledger.ym.to_string()],
        report_clients: 2,
        explain_ids: 3,
        evaluated_at: Some(ledger.now),
    })
    .await
    .unwrap();
    // Two clients: three monthly reports of the one month and the billing report each, then
    // three obligations of the first client's obligations report explained.
    let planned = |kind: RouteKind| plan.iter().filter(|p| p.kind == kind).count();
    assert_eq!(
        RouteKind::ALL.map(planned),
        [2, 2, 2, 2, 3],
        "{:?}",
        plan.iter().map(|p| p.url.as_str()).collect::<Vec<_>>()
    );

    let figures = serve_bench::run(
        &plan,
        &RunOptions {
            token: auditor.bearer.clone(),
            concurrency: 4,
            duration: Duration::from_secs(2),
            request_timeout: Duration::from_secs(30),
            // The server runs in this process: its memory is this process's.
            server_pid: Some(std::process::id()),
        },
    )
    .await
    .unwrap();
    let table = figures.table();
    assert_eq!(figures.errors(), 0, "{table}");
    for kind in RouteKind::ALL {
        let route = figures.route(kind);
        assert!(route.ok > 0, "no {} answered:\n{table}", kind.name());
        assert_eq!(route.latency.len(), route.ok, "{table}");
    }
    assert!(table.contains("| report obligations | "), "{table}");
    assert!(table.contains("| all | "), "{table}");
    let rss = figures.rss.expect("this process's memory is readable");
    assert!(
        rss.before_kb > 0 && rss.peak_kb >= rss.max_sampled_kb,
        "{rss:?}"
    );

    // Every answered request was a read the server recorded, and nothing else was: the two
    // planning requests (the client list, the first obligations report) and the run's answers.
    let recorded = access::access_log(
        desk_ledger.desk(),
        &AccessLogQuery {
            user: Some("ann".to_owned()),
            limit: 1_000_000,
            ..AccessLogQuery::default()
        },
    )
    .await
    .unwrap()
    .len();
    assert_eq!(
        u64::try_from(recorded).unwrap(),
        figures.ok() + 2,
        "{table}"
    );

    // The error path: a token the server does not know is refused on every request, and the
    // client counts each refusal as an error, with the status in its first error.
    let refused = serve_bench::run(
        &plan,
        &RunOptions {
            token: "olt_0000000000000000_wrong".to_owned(),
            concurrency: 2,
            duration: Duration::from_secs(1),
            request_timeout: Duration::from_secs(30),
            server_pid: None,
        },
    )
    .await
    .unwrap();
    let table = refused.table();
    assert_eq!(refused.ok(), 0, "{table}");
    assert!(refused.errors() > 0, "{table}");
    let first = refused.route(RouteKind::Sla).first_error.clone().unwrap();
    assert!(first.contains("401"), "{first}");
    assert!(refused.rss.is_none());

    // And a server off loopback is refused before anything is sent.
    let elsewhere = serve_bench::plan(&PlanOptions {
        base: "http://192.0.2.1:8080".to_owned(),
        token: auditor.bearer.clone(),
        months: vec![ledger.ym.to_string()],
        report_clients: 1,
        explain_ids: 1,
        evaluated_at: None,
    })
    .await;
    assert!(elsewhere.is_err());
    running.stop().await.unwrap();
}
