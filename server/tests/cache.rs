//! The answer cache of reports and dispute views, on both backends against a real server:
//! an answer asked twice is computed once and recorded twice in the access log, an append
//! that moves the head makes the next answer reflect it, an answer is never served to another
//! scope (another role, another client), and concurrent identical requests compute once.

mod support;

use opsledger_app::access::{self, AccessLogQuery, DeskLedger, DeskRole};
use opsledger_app::store::{ExpectedVersion, Metadata, NewEvent, StreamAppend, StreamId};
use opsledger_domain::ids::ClientId;
use opsledger_projections::obligations::Obligation;
use opsledger_server::api::POSITION_HEADER;
use reqwest::StatusCode;
use support::{assert_status, user, Backend, Desk, Ledger};
use uuid::Uuid;

/// An event of another system: it moves the head and changes no report.
fn ping() -> StreamAppend {
    StreamAppend {
        stream_id: StreamId::parse("ping-1").unwrap(),
        expected_version: ExpectedVersion::Any,
        events: vec![NewEvent {
            event_id: Uuid::new_v4(),
            event_type: "monitor.ping".to_owned(),
            schema_version: 1,
            client_id: None,
            occurred_at: chrono::Utc::now(),
            data: serde_json::json!({ "n": 1 }),
            metadata: Metadata::default(),
        }],
    }
}

/// How many access-log entries `user` has for `query`.
async fn logged(desk_ledger: &DeskLedger, user: &str, query: &str) -> usize {
    access::access_log(
        desk_ledger.desk(),
        &AccessLogQuery {
            user: Some(user.to_owned()),
            ..AccessLogQuery::default()
        },
    )
    .await
    .unwrap()
    .iter()
    .filter(|e| e.query == query)
    .count()
}

async fn the_cache_answers_once_per_scope_and_head(ledger: &Ledger) {
    let desk_ledger = DeskLedger::open(&ledger.target).await.unwrap();
    let clients = ledger.clients().await;
    let (own, other) = (clients[0].clone(), clients[1].clone());
    let auditor = user(ledger, &desk_ledger, "ann", DeskRole::Auditor).await;
    let reader = user(
        ledger,
        &desk_ledger,
        "cora",
        DeskRole::ClientReader(ClientId::new(&own).unwrap()),
    )
    .await;
    let running = ledger.serve().await;
    let desk = Desk {
        base: running.url(),
        http: support::http(),
    };
    let sla = format!("/api/v1/clients/{own}/reports/sla?month={}", ledger.ym);

    // Two identical requests: one computation, two reads recorded, the same bytes.
    let before = running.answers_computed();
    let first = desk.get(&sla, Some(&auditor.bearer)).await;
    assert_status(&first, StatusCode::OK, "the first sla report");
    assert_eq!(running.answers_computed(), before + 1);
    let second = desk.get(&sla, Some(&auditor.bearer)).await;
    assert_status(&second, StatusCode::OK, "the same report again");
    assert_eq!(
        running.answers_computed(),
        before + 1,
        "served from the cache"
    );
    assert_eq!(first.body, second.body);
    assert_eq!(
        first.header(POSITION_HEADER),
        second.header(POSITION_HEADER)
    );
    assert_eq!(first.header("content-type"), second.header("content-type"));
    assert_eq!(
        logged(&desk_ledger, "ann", &sla).await,
        2,
        "a cache hit is a read"
    );

    // Another scope asking the same question computes its own answer.
    let own_view = desk.get(&sla, Some(&reader.bearer)).await;
    assert_status(&own_view, StatusCode::OK, "the client reader's own report");
    assert_eq!(
        running.answers_computed(),
        before + 2,
        "not the auditor's answer"
    );
    assert_eq!(logged(&desk_ledger, "cora", &sla).await, 1);
    // A report the auditor has cached is still refused to another client's reader.
    let other_sla = format!("/api/v1/clients/{other}/reports/sla?month={}", ledger.ym);
    let cached = desk.get(&other_sla, Some(&auditor.bearer)).await;
    assert_status(&cached, StatusCode::OK, "the other client's report");
    let refused = desk.get(&other_sla, Some(&reader.bearer)).await;
    assert_status(
        &refused,
        StatusCode::FORBIDDEN,
        "another client's cached report",
    );
    assert_eq!(logged(&desk_ledger, "cora", &other_sla).await, 0);

    // An append moves the head: the next answer is computed anew and reflects it.
    let computed = running.answers_computed();
    ledger.store.append_batch(vec![ping()]).await.unwrap();
    let head = ledger.store.head().await.unwrap().unwrap().position;
    let moved = desk.get(&sla, Some(&auditor.bearer)).await;
    assert_status(&moved, StatusCode::OK, "the report after an append");
    assert_eq!(running.answers_computed(), computed + 1);
    assert_eq!(moved.header(POSITION_HEADER), Some(head.to_string()));
    assert_eq!(moved.json()["reflects"]["position"], head);
    assert_ne!(first.header(POSITION_HEADER), moved.header(POSITION_HEADER));

    // Concurrent identical requests compute once, and each is recorded.
    let billing = format!("/api/v1/clients/{own}/reports/billing");
    let computed = running.answers_computed();
    let answers =
        futures_util::future::join_all((0..16).map(|_| desk.get(&billing, Some(&auditor.bearer))))
            .await;
    for answer in &answers {
        assert_status(answer, StatusCode::OK, "a concurrent billing report");
        assert_eq!(answer.body, answers[0].body);
    }
    assert_eq!(running.answers_computed(), computed + 1);
    assert_eq!(logged(&desk_ledger, "ann", &billing).await, 16);

    // The dispute view is cached alike: asked twice, computed once, recorded twice.
    let obligations = desk
        .get(
            &format!(
                "/api/v1/clients/{own}/reports/obligations?month={}",
                ledger.ym
            ),
            Some(&auditor.bearer),
        )
        .await
        .json();
    let obligations: Vec<Obligation> =
        serde_json::from_value(obligations["report"]["obligations"].clone()).unwrap();
    let id = obligations
        .iter()
        .find_map(opsledger_views::desk::explain_id)
        .expect("the month has an explainable obligation");
    let explain = format!("/api/v1/explain/{id}");
    let computed = running.answers_computed();
    let first = desk.get(&explain, Some(&auditor.bearer)).await;
    assert_status(&first, StatusCode::OK, "a dispute view");
    let second = desk.get(&explain, Some(&auditor.bearer)).await;
    assert_eq!(first.body, second.body);
    assert_eq!(running.answers_computed(), computed + 1);
    assert_eq!(logged(&desk_ledger, "ann", &explain).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded() {
    let ledger = support::ledger(Backend::Embedded).await;
    the_cache_answers_once_per_scope_and_head(&ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let ledger = support::ledger(Backend::Postgres).await;
    the_cache_answers_once_per_scope_and_head(&ledger).await;
}
