//! The desk over HTTP, on both backends: every API route answers what the application
//! library computes for the same question, states the head it reflects, and every refusal has
//! its status (401 without or with bad credentials, 403 for another client's data, 404 for
//! what does not exist, 400 naming the bad parameter, 413 and 414 for oversized requests).
//! Client readers' reads are recorded in the access log; refused ones are not. The pages
//! answer the session cookie of a login, carry CSP and no-store, and refuse alike.

// The pages' checks, in a file of their own to keep this one short.
#[path = "api/pages.rs"]
mod pages;
mod support;

use std::collections::BTreeSet;

use opsledger_app::access::{self, AccessLogQuery, DeskLedger, DeskRole};
use opsledger_app::report::{self, Basis, ReportRequest};
use opsledger_app::store::bundle::{self, BundleReport, EvidenceBundle};
use opsledger_app::store::{Direction, EventFilter, StreamId, VerifyReport};
use opsledger_app::{explain, FixedClock};
use opsledger_domain::ids::ClientId;
use opsledger_projections::obligations::Obligation;
use opsledger_projections::verdict::Verdict;
use opsledger_server::api::{HEAD_HASH_HEADER, POSITION_HEADER};
use reqwest::StatusCode;
use serde_json::Value;
use support::{assert_status, user, Answer, Backend, Desk, Ledger, User};

/// What a report of `client` says computed directly by the application library, as the API
/// should give it.
async fn report_from_app(ledger: &Ledger, client: &str, kind: &str, basis: Basis) -> Value {
    let client = ClientId::new(client).unwrap();
    let month = (kind != "billing").then_some(ledger.ym);
    let view = report::view_for_report(&ledger.store, &client, basis.as_of(), kind, month)
        .await
        .unwrap();
    let request = ReportRequest {
        report: kind.to_owned(),
        client: client.as_str().to_owned(),
        month,
        as_of: basis.as_of(),
        evaluated_at: basis.evaluated_at(&FixedClock(ledger.now)),
    };
    let provenance = report::provenance(&ledger.store, &view, request.clone())
        .await
        .unwrap();
    report::with_provenance(report::compute(&view, &request).unwrap(), &provenance).unwrap()
}

/// An obligation the dispute view answers about: a missed R-ESC-1 when the month has one.
fn disputed(obligations: &[Obligation]) -> (String, Obligation) {
    let explainable: Vec<(String, &Obligation)> = obligations
        .iter()
        .filter_map(|o| opsledger_views::desk::explain_id(o).map(|id| (id, o)))
        .collect();
    let pick = explainable
        .iter()
        .find(|(_, o)| {
            o.rule.to_string() == "R-ESC-1" && matches!(o.verdict, Verdict::Missed { .. })
        })
        .or_else(|| explainable.first())
        .expect("the month has an obligation of a call, escalation or invoice");
    (pick.0.clone(), pick.1.clone())
}

/// Runs every check on one backend.
async fn the_desk_answers_and_refuses(backend: Backend) {
    let ledger = support::ledger(backend).await;
    let desk_ledger = DeskLedger::open(&ledger.target).await.unwrap();
    let clients = ledger.clients().await;
    let (own, other) = (clients[0].clone(), clients[1].clone());
    let auditor = user(&ledger, &desk_ledger, "ann", DeskRole::Auditor).await;
    let reader = user(
        &ledger,
        &desk_ledger,
        "cora",
        DeskRole::ClientReader(ClientId::new(&own).unwrap()),
    )
    .await;
    let mut running = ledger.serve().await;
    let desk = Desk {
        base: running.url(),
        http: support::http(),
    };
    let head = ledger.store.head().await.unwrap().unwrap();

    unauthenticated(&desk, &desk_ledger, &ledger, &own).await;
    listing_and_head(
        &desk,
        &ledger,
        &auditor,
        &reader,
        &own,
        head.position,
        &head.hash.to_hex(),
    )
    .await;
    reports(&desk, &ledger, &auditor, &own, head.position).await;
    let (call_stream, other_call) =
        disputes_and_timelines(&desk, &ledger, &auditor, &own, &other).await;
    events_paging(&desk, &ledger, &auditor, &reader, &own).await;
    bundles(&desk, &ledger, &auditor, &own, &call_stream, &other_call).await;
    let allowed = client_reader_refusals(&desk, &reader, &own, &other, &other_call).await;
    bad_parameters(&desk, &auditor, &own).await;
    retention_for_operators(&desk, &ledger, &desk_ledger, &auditor).await;
    audited(&desk_ledger, &reader, &own, allowed).await;
    audit_over_http(&desk, &auditor, &reader, &own, allowed).await;
    pages::pages(&desk, &auditor, &reader, &own, &other, &ledger).await;
    pages::dispute_page_names_its_client(&desk, &ledger, &auditor, &own).await;
    pages::retention_pages(&desk, &ledger, &desk_ledger, &auditor, &reader, &own).await;
    oversized(&desk).await;
    login_is_rate_limited(&desk, &auditor).await;
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded() {
    the_desk_answers_and_refuses(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    the_desk_answers_and_refuses(Backend::Postgres).await;
}

/// 401 on every route of the API but its description, without credentials, with a token of
/// no such user, and with a revoked token.
async fn unauthenticated(desk: &Desk, desk_ledger: &DeskLedger, ledger: &Ledger, own: &str) {
    let clock = FixedClock(ledger.now);
    desk_ledger
        .add_user("gone", DeskRole::Auditor, "correct horse battery", &clock)
        .await
        .unwrap();
    let revoked = access::create_token(desk_ledger.desk(), "gone", &clock)
        .await
        .unwrap();
    access::revoke_token(desk_ledger.desk(), &revoked.id, &clock)
        .await
        .unwrap();
    for route in opsledger_server::api_routes() {
        let path = format!("{}{}", opsledger_server::api::PREFIX, route.path)
            .replace("{client}", own)
            .replace("{kind}", "billing")
            .replace("{id}", "anything")
            .replace("{stream}", "anything");
        if route.path == "/openapi.json" {
            continue;
        }
        for bearer in [
            None,
            Some("olt_nosuchtoken_00"),
            Some(revoked.bearer.as_str()),
        ] {
            let answer = desk.get(&path, bearer).await;
            assert_status(&answer, StatusCode::UNAUTHORIZED, &path);
            assert!(answer.header("www-authenticate").is_some(), "{path}");
        }
    }
}

/// The clients each user may read, and the head.
async fn listing_and_head(
    desk: &Desk,
    ledger: &Ledger,
    auditor: &User,
    reader: &User,
    own: &str,
    head: u64,
    head_hash: &str,
) {
    let ids = |answer: &Answer| -> Vec<String> {
        answer.json()["clients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["client_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = desk.get("/api/v1/clients", Some(&auditor.bearer)).await;
    assert_status(&all, StatusCode::OK, "clients");
    assert_eq!(ids(&all), ledger.clients().await);
    assert_eq!(all.json()["reflects"]["position"], head);
    assert_eq!(all.header(POSITION_HEADER), Some(head.to_string()));
    assert_eq!(all.header(HEAD_HASH_HEADER).as_deref(), Some(head_hash));
    assert_eq!(all.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(all.header("access-control-allow-origin"), None, "no CORS");
    let one = desk.get("/api/v1/clients", Some(&reader.bearer)).await;
    assert_status(&one, StatusCode::OK, "a client reader's clients");
    assert_eq!(ids(&one), vec![own.to_owned()]);
    let answer = desk.get("/api/v1/head", Some(&reader.bearer)).await;
    assert_status(&answer, StatusCode::OK, "head");
    assert_eq!(answer.json()["reflects"]["position"], head);
    assert_eq!(answer.json()["reflects"]["head_hash"], head_hash);
}

/// Every report kind, at the head and as of a position, is what the application computes.
async fn reports(desk: &Desk, ledger: &Ledger, auditor: &User, own: &str, head: u64) {
    let month = ledger.ym.to_string();
    for kind in ["sla", "obligations", "billing", "retention"] {
        let path = match kind {
            "billing" => format!(
                "/api/v1/clients/{own}/reports/billing?evaluated_at={}",
                ledger.now.format("%Y-%m-%dT%H:%M:%SZ")
            ),
            _ => format!("/api/v1/clients/{own}/reports/{kind}?month={month}"),
        };
        let answer = desk.get(&path, Some(&auditor.bearer)).await;
        assert_status(&answer, StatusCode::OK, &path);
        let expected = report_from_app(ledger, own, kind, Basis::default()).await;
        assert_eq!(answer.json()["report"], expected, "{kind}");
        assert_eq!(answer.json()["reflects"]["position"], head);
        let half = head / 2;
        let path = format!("{path}&as_of_position={half}");
        let answer = desk.get(&path, Some(&auditor.bearer)).await;
        assert_status(&answer, StatusCode::OK, &path);
        let basis = Basis {
            as_of_position: Some(half),
            ..Basis::default()
        };
        assert_eq!(
            answer.json()["report"],
            report_from_app(ledger, own, kind, basis).await
        );
        assert_eq!(
            answer.json()["reflects"]["position"],
            half,
            "{kind} as of {half}"
        );
        assert_eq!(answer.header(POSITION_HEADER), Some(half.to_string()));
    }
}

/// The dispute view of an obligation and the timeline of its stream, as the application gives
/// them; returns the stream and a call stream of `other`.
async fn disputes_and_timelines(
    desk: &Desk,
    ledger: &Ledger,
    auditor: &User,
    own: &str,
    other: &str,
) -> (String, String) {
    let path = format!(
        "/api/v1/clients/{own}/reports/obligations?month={}",
        ledger.ym
    );
    let report = desk.get(&path, Some(&auditor.bearer)).await.json();
    let obligations: Vec<Obligation> =
        serde_json::from_value(report["report"]["obligations"].clone()).unwrap();
    let (id, obligation) = disputed(&obligations);
    let answer = desk
        .get(&format!("/api/v1/explain/{id}"), Some(&auditor.bearer))
        .await;
    assert_status(&answer, StatusCode::OK, &id);
    let expected = explain::explain_in(
        &ledger.store,
        &id,
        &Basis::default(),
        &FixedClock(ledger.now),
    )
    .await
    .unwrap();
    assert_eq!(
        answer.json()["explanation"],
        serde_json::to_value(&expected).unwrap()
    );
    // One rule of one record: the explanation holds that obligation as the report has it.
    assert_eq!(
        answer.json()["explanation"]["obligations"][0]["obligation"],
        serde_json::to_value(&obligation).unwrap()
    );
    let stream = id.split_once(':').unwrap().1.to_owned();
    let answer = desk
        .get(
            &format!("/api/v1/streams/{stream}/timeline"),
            Some(&auditor.bearer),
        )
        .await;
    assert_status(&answer, StatusCode::OK, &stream);
    let json = answer.json();
    let shown: Vec<u64> = json["timeline"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["global_position"].as_u64().unwrap())
        .collect();
    let stored: Vec<u64> = ledger
        .store
        .read_stream(
            &StreamId::parse(&stream).unwrap(),
            0,
            Direction::Forward,
            10_000,
        )
        .await
        .unwrap()
        .iter()
        .map(|e| e.global_position)
        .collect();
    assert_eq!(shown, stored);
    assert_eq!(json["timeline"]["client_id"], own);
    assert!(json["timeline"]["events"][0]["data"].is_object());
    let other_call = ledger
        .store
        .read_filtered(
            &EventFilter {
                categories: vec!["call".to_owned()],
                client_id: Some(other.to_owned()),
                ..EventFilter::default()
            },
            0,
            1,
        )
        .await
        .unwrap()[0]
        .stream_id
        .to_string();
    (stream, other_call)
}

/// Paging through a client's events with the cursor gives exactly its events, in order; a
/// client reader who names no client gets its own.
async fn events_paging(desk: &Desk, ledger: &Ledger, auditor: &User, reader: &User, own: &str) {
    let mut positions = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let cursor = after
            .as_ref()
            .map(|a| format!("&after={a}"))
            .unwrap_or_default();
        let path = format!("/api/v1/events?client={own}&limit=97{cursor}");
        let answer = desk.get(&path, Some(&auditor.bearer)).await;
        assert_status(&answer, StatusCode::OK, &path);
        let json = answer.json();
        let page: Vec<u64> = json["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["global_position"].as_u64().unwrap())
            .collect();
        assert!(page.len() <= 97);
        positions.extend(page);
        pages += 1;
        match json["next_cursor"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let filter = EventFilter {
        client_id: Some(own.to_owned()),
        ..EventFilter::default()
    };
    let stored: Vec<u64> = ledger
        .store
        .read_filtered(&filter, 0, 1_000_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.global_position)
        .collect();
    assert_eq!(positions, stored);
    assert!(
        pages > 1,
        "the client's events fit one page of 97: no paging tested"
    );
    let first = desk
        .get("/api/v1/events?limit=97", Some(&reader.bearer))
        .await;
    let mine: Vec<u64> = first.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["global_position"].as_u64().unwrap())
        .collect();
    assert_eq!(mine, stored[..mine.len()].to_vec());
    assert_eq!(mine.len(), 97.min(stored.len()));
}

/// A client's bundle, and one stream's, verify offline and disclose exactly what they cover.
async fn bundles(
    desk: &Desk,
    ledger: &Ledger,
    auditor: &User,
    own: &str,
    stream: &str,
    other_call: &str,
) {
    let disclosed = |answer: &Answer| -> u64 {
        let bundle: EvidenceBundle = serde_json::from_slice(&answer.body).unwrap();
        match bundle::verify(&bundle) {
            BundleReport::Intact { disclosed, .. } => disclosed,
            broken => panic!("the served bundle does not verify: {broken:?}"),
        }
    };
    let path = format!("/api/v1/clients/{own}/bundle");
    let answer = desk.get(&path, Some(&auditor.bearer)).await;
    assert_status(&answer, StatusCode::OK, &path);
    assert!(answer
        .header("content-disposition")
        .is_some_and(|d| d.starts_with("attachment;")));
    let filter = EventFilter {
        client_id: Some(own.to_owned()),
        ..EventFilter::default()
    };
    let events = ledger
        .store
        .read_filtered(&filter, 0, 1_000_000)
        .await
        .unwrap();
    assert_eq!(disclosed(&answer), u64::try_from(events.len()).unwrap());
    let answer = desk
        .get(&format!("{path}?stream={stream}"), Some(&auditor.bearer))
        .await;
    assert_status(&answer, StatusCode::OK, "one stream's bundle");
    let in_stream = events
        .iter()
        .filter(|e| e.stream_id.as_str() == stream)
        .count();
    assert_eq!(disclosed(&answer), u64::try_from(in_stream).unwrap());
    let answer = desk
        .get(
            &format!("{path}?stream={other_call}"),
            Some(&auditor.bearer),
        )
        .await;
    assert_status(&answer, StatusCode::BAD_REQUEST, "another client's stream");
    assert_eq!(answer.parameter(), "stream");
}

/// A client reader is refused (403) every read of another client, existing or not, and reads
/// its own; returns how many reads it made that answered data.
async fn client_reader_refusals(
    desk: &Desk,
    reader: &User,
    own: &str,
    other: &str,
    other_call: &str,
) -> usize {
    let refused = [
        format!("/api/v1/clients/{other}/reports/billing"),
        "/api/v1/clients/no-such-client/reports/billing".to_owned(),
        format!("/api/v1/clients/{other}/bundle"),
        format!("/api/v1/events?client={other}"),
        format!("/api/v1/explain/{other_call}"),
        format!("/api/v1/streams/{other_call}/timeline"),
    ];
    for path in &refused {
        let answer = desk.get(path, Some(&reader.bearer)).await;
        assert_status(&answer, StatusCode::FORBIDDEN, path);
    }
    let allowed = [
        format!("/api/v1/clients/{own}/reports/billing"),
        format!("/api/v1/events?client={own}&limit=5"),
    ];
    for path in &allowed {
        let answer = desk.get(path, Some(&reader.bearer)).await;
        assert_status(&answer, StatusCode::OK, path);
    }
    // Reads before this step: the client list, the head and the first page of events.
    allowed.len() + 3
}

/// 400 naming the parameter, 404 for what does not exist.
async fn bad_parameters(desk: &Desk, auditor: &User, own: &str) {
    let report = format!("/api/v1/clients/{own}/reports");
    let cases = [
        (format!("{report}/sla"), "month"),
        (format!("{report}/billing?month=2026-10"), "month"),
        (format!("{report}/sla?month=2026-13"), "month"),
        (format!("{report}/billing?as_of_postion=3"), "as_of_postion"),
        (
            format!("{report}/billing?as_of_position=999999999"),
            "as_of_position",
        ),
        (
            format!("{report}/billing?as_of_position=x"),
            "as_of_position",
        ),
        (
            format!("{report}/billing?as_of_position=1&as_of_recorded=2026-01-01T00:00:00Z"),
            "as_of_recorded",
        ),
        (
            format!("{report}/billing?evaluated_at=yesterday"),
            "evaluated_at",
        ),
        ("/api/v1/events?limit=0".to_owned(), "limit"),
        ("/api/v1/events?limit=ten".to_owned(), "limit"),
        ("/api/v1/events?after=-1".to_owned(), "after"),
        ("/api/v1/events?correlation=nope".to_owned(), "correlation"),
        (
            "/api/v1/events?stream=Not%20A%20Stream".to_owned(),
            "stream",
        ),
        (
            "/api/v1/clients/Not%20A%20Client/reports/billing".to_owned(),
            "client",
        ),
        ("/api/v1/head?x=1".to_owned(), "x"),
    ];
    for (path, parameter) in &cases {
        let answer = desk.get(path, Some(&auditor.bearer)).await;
        assert_status(&answer, StatusCode::BAD_REQUEST, path);
        assert_eq!(&answer.parameter(), parameter, "{path}");
    }
    for path in [
        format!("{report}/weekly"),
        "/api/v1/clients/no-such-client/reports/billing".to_owned(),
        "/api/v1/clients/no-such-client/bundle".to_owned(),
        "/api/v1/explain/call-no-such-call".to_owned(),
        "/api/v1/streams/no-such-stream/timeline".to_owned(),
        "/api/v1/nothing-here".to_owned(),
    ] {
        let answer = desk.get(&path, Some(&auditor.bearer)).await;
        assert_status(&answer, StatusCode::NOT_FOUND, &path);
    }
}

/// The client reader's reads that answered data are in the access log, under its client, and
/// nothing it was refused is; the log's chain verifies.
async fn audited(desk_ledger: &DeskLedger, reader: &User, own: &str, allowed: usize) {
    let entries = access::access_log(
        desk_ledger.desk(),
        &AccessLogQuery {
            user: Some(reader.name.to_owned()),
            ..AccessLogQuery::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(entries.len(), allowed, "{entries:#?}");
    assert!(entries.iter().all(|e| e.client_id.as_deref() == Some(own)));
    assert!(entries.iter().all(|e| e.role == "client_reader"));
    assert!(entries
        .iter()
        .any(|e| e.query == format!("/api/v1/clients/{own}/reports/billing") && e.rows >= 1));
    let queries: BTreeSet<&str> = entries.iter().map(|e| e.query.as_str()).collect();
    assert!(queries.contains("/api/v1/clients"), "{queries:?}");
    assert!(matches!(
        access::verify_access_log(desk_ledger.desk()).await.unwrap(),
        VerifyReport::Intact { .. }
    ));
}

/// A body over the limit is refused (413), and so is an overlong query (414).
async fn oversized(desk: &Desk) {
    let body = "user=a&password=".to_owned() + &"x".repeat(64 * 1024);
    let answer = desk
        .send(
            desk.http
                .post(format!("{}/login", desk.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await;
    assert_status(&answer, StatusCode::PAYLOAD_TOO_LARGE, "a large login body");
    let answer = desk
        .get(&format!("/api/v1/head?x={}", "y".repeat(8192)), None)
        .await;
    assert_status(&answer, StatusCode::URI_TOO_LONG, "a long query");
}

/// Failed logins are refused after the limit (429, with Retry-After), even with the right
/// password, for that user name and from that address. The pages' step failed one login from
/// this address already, and the address's failures count even after a success.
async fn login_is_rate_limited(desk: &Desk, auditor: &User) {
    for i in 1..opsledger_server::LOGIN_MAX_FAILURES {
        let answer = desk.login(auditor.name, "guess").await;
        assert_status(&answer, StatusCode::UNAUTHORIZED, &format!("guess {i}"));
    }
    let answer = desk.login(auditor.name, auditor.password).await;
    assert_status(&answer, StatusCode::TOO_MANY_REQUESTS, "after the limit");
    assert!(answer.header("retry-after").is_some());
    let answer = desk.login("someone_else", "guess").await;
    assert_status(
        &answer,
        StatusCode::TOO_MANY_REQUESTS,
        "same address, other user",
    );
}

/// The access log over the API: an auditor pages through a client reader's reads with the
/// cursor and sees the chain verify; the client reader itself may not read it.
async fn audit_over_http(desk: &Desk, auditor: &User, reader: &User, own: &str, allowed: usize) {
    let refused = desk.get("/api/v1/access-log", Some(&reader.bearer)).await;
    assert_status(
        &refused,
        StatusCode::FORBIDDEN,
        "a client reader's access log",
    );
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let path = format!("/api/v1/access-log?user={}&limit=2{after}", reader.name);
        let answer = desk.get(&path, Some(&auditor.bearer)).await;
        assert_status(&answer, StatusCode::OK, &path);
        let json = answer.json();
        assert_eq!(json["chain"]["intact"], true, "{json}");
        let page = json["entries"].as_array().unwrap().clone();
        assert!(page.len() <= 2);
        seen.extend(page);
        match json["next_cursor"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), allowed, "{seen:#?}");
    assert!(seen
        .iter()
        .all(|e| e["client_id"] == own && e["user"] == reader.name));
    let seqs: Vec<u64> = seen.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}

/// The retention dry run is an operator's view, the same as `retention apply --dry-run`; an
/// auditor is refused it.
async fn retention_for_operators(
    desk: &Desk,
    ledger: &Ledger,
    desk_ledger: &DeskLedger,
    auditor: &User,
) {
    let operator = user(ledger, desk_ledger, "olga", DeskRole::Operator).await;
    let answer = desk
        .get("/api/v1/retention/dry-run", Some(&operator.bearer))
        .await;
    assert_status(&answer, StatusCode::OK, "an operator's retention dry run");
    let expected = opsledger_app::retention::apply(
        &ledger.store,
        ledger.now,
        true,
        &opsledger_app::Actor::named("olga"),
        &opsledger_app::NoProgress,
    )
    .await
    .unwrap();
    let shown: Vec<String> = answer.json()["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {}",
                a["action"].as_str().unwrap(),
                a["client_id"].as_str().unwrap()
            )
        })
        .collect();
    let computed: Vec<String> = expected
        .iter()
        .map(|a| {
            let text = format!("{a:?}");
            let kind = text.split([' ', '{']).next().unwrap().to_owned();
            let client = match a {
                opsledger_app::retention::Action::Deleted { client_id, .. }
                | opsledger_app::retention::Action::WouldDelete { client_id, .. }
                | opsledger_app::retention::Action::Refused { client_id, .. }
                | opsledger_app::retention::Action::KeyDestroyedForRecordedDeletion { client_id }
                | opsledger_app::retention::Action::WouldDestroyKeyForRecordedDeletion {
                    client_id,
                }
                | opsledger_app::retention::Action::Failed { client_id, .. } => client_id.clone(),
            };
            format!("{} {client}", snake(&kind))
        })
        .collect();
    assert_eq!(shown, computed);
    let refused = desk
        .get("/api/v1/retention/dry-run", Some(&auditor.bearer))
        .await;
    assert_status(
        &refused,
        StatusCode::FORBIDDEN,
        "an auditor's retention dry run",
    );
}

/// `WouldDelete` as `would_delete`.
fn snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
