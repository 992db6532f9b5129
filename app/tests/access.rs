//! Desk access, given/when/then, on both backends: authentication (passwords, bearer tokens,
//! page sessions; wrong, revoked, expired, disabled), scoping (a client reader refused another
//! client by the application on both, and by the database on PostgreSQL), and the read audit
//! (recorded, readable by auditors only, chained).

use chrono::{Duration, TimeZone, Utc};
use opsledger_app::access::{
    access_log, access_log_for, authenticate_session, authenticate_token, create_token,
    disable_user, login, logout, record_access, revoke_token, verify_access_log, AccessLogQuery,
    AuthFailure, DeskLedger, DeskRole, Principal, SESSION_LIFETIME,
};
use opsledger_app::store::{EventFilter, ExpectedVersion, Metadata, NewEvent, StreamId};
use opsledger_app::{AppError, FixedClock, Target};
use opsledger_domain::ids::ClientId;
use tempfile::TempDir;
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";

/// A ledger on each backend: an embedded file, and a fresh PostgreSQL database.
async fn ledgers() -> Vec<(&'static str, DeskLedger, Option<TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let file = Target::File(dir.path().join("desk.ledger"));
    file.create().await.unwrap();
    let url = opsledger_tests::pg::server().fresh_database().await;
    vec![
        ("sqlite", DeskLedger::open(&file).await.unwrap(), Some(dir)),
        (
            "postgres",
            DeskLedger::open(&Target::Postgres(url)).await.unwrap(),
            None,
        ),
    ]
}

fn clock(minutes: i64) -> FixedClock {
    FixedClock(Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap() + Duration::minutes(minutes))
}

fn client(id: &str) -> ClientId {
    ClientId::new(id).unwrap()
}

/// A user name unique in the PostgreSQL cluster (a client reader gets a role of its name).
fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::new_v4().simple())
}

fn failure(result: Result<Principal, AppError>) -> AuthFailure {
    match result {
        Err(AppError::Unauthenticated { reason }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_and_sessions() {
    for (backend, ledger, _dir) in ledgers().await {
        let desk = ledger.desk();
        // Given an auditor
        ledger
            .add_user("ann", DeskRole::Auditor, PASSWORD, &clock(0))
            .await
            .unwrap();
        // When a wrong password or an unknown name is given, then login is refused, saying why
        let wrong = login(desk, "ann", "correct horse battery!", &clock(1)).await;
        assert_eq!(
            failure(wrong.map(|(p, _)| p)),
            AuthFailure::WrongPassword,
            "{backend}"
        );
        let unknown = login(desk, "bob", PASSWORD, &clock(1)).await;
        assert_eq!(
            failure(unknown.map(|(p, _)| p)),
            AuthFailure::UnknownUser,
            "{backend}"
        );
        // When the right password is given, then a session opens for the auditor
        let (principal, cookie) = login(desk, "ann", PASSWORD, &clock(1)).await.unwrap();
        assert_eq!(principal.role, DeskRole::Auditor);
        assert!(
            !format!("{cookie:?}").contains(&cookie.0),
            "{backend}: Debug leaks the secret"
        );
        assert_eq!(
            authenticate_session(desk, &cookie.0, &clock(2))
                .await
                .unwrap(),
            principal
        );
        // and it ends when its lifetime has passed
        let expired = clock(1).0 + SESSION_LIFETIME;
        assert_eq!(
            failure(authenticate_session(desk, &cookie.0, &FixedClock(expired)).await),
            AuthFailure::SessionExpired,
            "{backend}"
        );
        // and a cookie of no session, or one logged out, is refused
        assert_eq!(
            failure(authenticate_session(desk, "not hex", &clock(2)).await),
            AuthFailure::UnknownSession
        );
        logout(desk, &cookie.0).await.unwrap();
        assert_eq!(
            failure(authenticate_session(desk, &cookie.0, &clock(3)).await),
            AuthFailure::UnknownSession,
            "{backend}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens() {
    for (backend, ledger, _dir) in ledgers().await {
        let desk = ledger.desk();
        ledger
            .add_user("ann", DeskRole::Auditor, PASSWORD, &clock(0))
            .await
            .unwrap();
        // Given a token for ann
        let token = create_token(desk, "ann", &clock(1)).await.unwrap();
        assert!(token.bearer.starts_with("olt_"), "{}", token.bearer);
        assert!(!format!("{token:?}").contains(&token.bearer));
        // When it is presented, then it is ann
        let ann = authenticate_token(desk, &token.bearer, &clock(2))
            .await
            .unwrap();
        assert_eq!(ann.user, "ann");
        // When its secret is altered, or the text is not a token, then it is refused
        let mut altered = token.bearer.clone();
        let last = altered.pop().unwrap();
        altered.push(if last == '0' { '1' } else { '0' });
        assert_eq!(
            failure(authenticate_token(desk, &altered, &clock(2)).await),
            AuthFailure::WrongSecret,
            "{backend}"
        );
        assert_eq!(
            failure(authenticate_token(desk, "Bearer nonsense", &clock(2)).await),
            AuthFailure::MalformedToken
        );
        // When it is revoked, then it is refused from then on
        revoke_token(desk, &token.id, &clock(3)).await.unwrap();
        assert_eq!(
            failure(authenticate_token(desk, &token.bearer, &clock(4)).await),
            AuthFailure::TokenRevoked,
            "{backend}"
        );
        // and a token of nobody cannot be made or revoked
        assert!(matches!(
            create_token(desk, "bob", &clock(4)).await,
            Err(AppError::InvalidRequest { .. })
        ));
        assert!(matches!(
            revoke_token(desk, "0000000000000000", &clock(4)).await,
            Err(AppError::InvalidRequest { .. })
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_user_is_refused_everywhere() {
    for (backend, ledger, _dir) in ledgers().await {
        let desk = ledger.desk();
        // Given an operator with a token and a session
        ledger
            .add_user("otto", DeskRole::Operator, PASSWORD, &clock(0))
            .await
            .unwrap();
        let token = create_token(desk, "otto", &clock(1)).await.unwrap();
        let (_, cookie) = login(desk, "otto", PASSWORD, &clock(1)).await.unwrap();
        // When the user is disabled
        disable_user(desk, "otto", &clock(2)).await.unwrap();
        // Then the token, the session and the password all stop working
        assert_eq!(
            failure(authenticate_token(desk, &token.bearer, &clock(3)).await),
            AuthFailure::UserDisabled,
            "{backend}"
        );
        assert_eq!(
            failure(authenticate_session(desk, &cookie.0, &clock(3)).await),
            AuthFailure::UserDisabled,
            "{backend}"
        );
        assert_eq!(
            failure(
                login(desk, "otto", PASSWORD, &clock(3))
                    .await
                    .map(|(p, _)| p)
            ),
            AuthFailure::UserDisabled,
            "{backend}"
        );
        // and no new token is issued to it
        assert!(create_token(desk, "otto", &clock(3)).await.is_err());
    }
}

fn event(n: u64, client: &str) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "call.connected".into(),
        schema_version: 1,
        client_id: Some(client.to_owned()),
        occurred_at: Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 0).unwrap()
            + Duration::seconds(i64::try_from(n).unwrap()),
        data: serde_json::json!({"n": n.to_string()}),
        metadata: Metadata::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reader_is_refused_another_client_on_both_backends() {
    for (backend, ledger, _dir) in ledgers().await {
        // Given events of acme and globex, and a reader of acme
        let store = ledger.events();
        for (n, owner) in ["acme", "globex", "acme"].into_iter().enumerate() {
            let stream = StreamId::new("call", &format!("c{n}")).unwrap();
            store
                .append(
                    &stream,
                    ExpectedVersion::NoStream,
                    vec![event(u64::try_from(n).unwrap(), owner)],
                )
                .await
                .unwrap();
        }
        let name = unique("cleo");
        ledger
            .add_user(
                &name,
                DeskRole::ClientReader(client("acme")),
                PASSWORD,
                &clock(0),
            )
            .await
            .unwrap();
        let (cleo, _) = login(ledger.desk(), &name, PASSWORD, &clock(1))
            .await
            .unwrap();
        // When it asks for globex, then the application refuses, naming user and client
        assert!(cleo.may_read(&client("acme")));
        assert!(cleo.check_read(&client("acme")).is_ok());
        match cleo.check_read(&client("globex")) {
            Err(AppError::Forbidden {
                user,
                client: Some(c),
            }) => {
                assert_eq!((user.as_str(), c.as_str()), (name.as_str(), "globex"));
            }
            other => panic!("{backend}: globex was not refused: {other:?}"),
        }
        assert!(matches!(
            cleo.check_read_all(),
            Err(AppError::Forbidden { client: None, .. })
        ));
        assert!(matches!(
            ledger.reads_of(&cleo, Some(&client("globex"))).await,
            Err(AppError::Forbidden {
                client: Some(_),
                ..
            })
        ));
        assert!(matches!(
            ledger.reads_of(&cleo, None).await,
            Err(AppError::Forbidden { client: None, .. })
        ));
        assert!(ledger.reads_of(&cleo, Some(&client("acme"))).await.is_ok());
        // and on PostgreSQL the store its reads go through holds acme's events only, so the
        // database refuses globex's as well
        let reads = ledger.reads_for(&cleo).await.unwrap();
        let globex = reads
            .read_filtered(
                &EventFilter {
                    client_id: Some("globex".into()),
                    ..EventFilter::default()
                },
                0,
                100,
            )
            .await
            .unwrap();
        let everything = reads.read_all(0, 100).await.unwrap();
        match backend {
            "postgres" => {
                assert!(globex.is_empty(), "{globex:?}");
                assert_eq!(everything.len(), 2);
                assert!(everything
                    .iter()
                    .all(|e| e.client_id.as_deref() == Some("acme")));
            }
            _ => {
                // The embedded file has no roles: the check above is what scopes it.
                assert_eq!(globex.len(), 1);
                assert_eq!(everything.len(), 3);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_readers_reads_are_recorded_and_visible_to_an_auditor_only() {
    for (backend, ledger, _dir) in ledgers().await {
        let desk = ledger.desk();
        let cleo_name = unique("cleo");
        ledger
            .add_user("ann", DeskRole::Auditor, PASSWORD, &clock(0))
            .await
            .unwrap();
        ledger
            .add_user(
                &cleo_name,
                DeskRole::ClientReader(client("acme")),
                PASSWORD,
                &clock(0),
            )
            .await
            .unwrap();
        let (ann, _) = login(desk, "ann", PASSWORD, &clock(1)).await.unwrap();
        let (cleo, _) = login(desk, &cleo_name, PASSWORD, &clock(1)).await.unwrap();
        // Given reads by the client reader and by the auditor
        let first = record_access(
            desk,
            &cleo,
            Some(&client("acme")),
            "GET /api/v1/clients/acme/reports/sla?month=2026-10",
            31,
            &clock(2),
        )
        .await
        .unwrap();
        let second = record_access(desk, &ann, None, "GET /api/v1/clients", 5, &clock(3))
            .await
            .unwrap();
        assert_eq!((first, second), (0, 1), "{backend}");
        // When the client reader asks for the access log, then it is refused
        assert!(matches!(
            access_log_for(desk, &cleo, &AccessLogQuery::default()).await,
            Err(AppError::Forbidden { client: None, .. })
        ));
        // When the auditor asks for acme's reads, then the reader's read is there, as recorded
        let acme = access_log_for(
            desk,
            &ann,
            &AccessLogQuery {
                client: Some(client("acme")),
                ..AccessLogQuery::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(acme.len(), 1, "{backend}");
        assert_eq!(acme[0].user_name, cleo_name);
        assert_eq!(acme[0].role, "client_reader");
        assert_eq!(acme[0].rows, 31);
        assert_eq!(acme[0].at, clock(2).0);
        let by_ann = access_log(
            desk,
            &AccessLogQuery {
                user: Some("ann".into()),
                ..AccessLogQuery::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(by_ann.iter().map(|e| e.seq).collect::<Vec<_>>(), [1]);
        assert!(verify_access_log(desk).await.unwrap().is_intact());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_readers_report_through_its_database_role_equals_the_owners() {
    use opsledger_app::project::{self, Start};
    use opsledger_projections::{AsOf, YearMonth};
    use opsledger_tests::demo_month::{self, append};
    // Given a PostgreSQL ledger with a generated month, its read model caught up half-way
    let url = opsledger_tests::pg::server().fresh_database().await;
    let ledger = DeskLedger::open(&Target::Postgres(url)).await.unwrap();
    let store = ledger.events();
    let month = demo_month::month(1, 2);
    let half = month.events.len() / 2;
    append(&store, &month, 0..half).await;
    project::catch_up(&store, Start::Checkpoint, &opsledger_app::NoProgress)
        .await
        .unwrap();
    append(&store, &month, half..month.events.len()).await;
    let own = month.clients[0].client_id.clone();
    let other = month.clients[1].client_id.clone();
    // and a reader of the first client
    let name = unique("reader");
    ledger
        .add_user(
            &name,
            DeskRole::ClientReader(own.clone()),
            PASSWORD,
            &clock(0),
        )
        .await
        .unwrap();
    let (reader, _) = login(ledger.desk(), &name, PASSWORD, &clock(1))
        .await
        .unwrap();
    // When its report is folded through the store scoped to its database role
    let scoped = ledger.reads_for(&reader).await.unwrap();
    let ym = YearMonth::new(2026, 10).unwrap();
    let evaluated = Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap();
    let sla = |view: opsledger_projections::Projections, client: &ClientId| {
        view.sla_report(client, ym, AsOf::Head, evaluated)
            .map(|r| serde_json::to_value(r).unwrap())
    };
    let through_role = sla(
        project::client_view(&scoped, &own, None).await.unwrap(),
        &own,
    )
    .unwrap();
    let as_owner = sla(
        project::client_view(&store, &own, None).await.unwrap(),
        &own,
    )
    .unwrap();
    // Then it is the owner's report, rows and log tail alike
    assert_eq!(through_role, as_owner);
    // and the other client's view through the same role holds none of its facts
    let other_view = project::client_view(&scoped, &other, None).await.unwrap();
    assert!(
        sla(other_view, &other).is_err(),
        "another client's report was folded"
    );
    assert!(sla(
        project::client_view(&store, &other, None).await.unwrap(),
        &other
    )
    .is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reads_are_recorded_through_one_group_commit_recorder() {
    for (backend, ledger, _dir) in ledgers().await {
        // Given a recorder over the desk and many reads answered at once
        let recorder = opsledger_app::access::AccessRecorder::start(ledger.desk_arc());
        let tasks: Vec<_> = (0..64_u64)
            .map(|n| {
                let recorder = recorder.clone();
                tokio::spawn(async move {
                    let who = Principal {
                        user: format!("user_{}", n % 4),
                        role: DeskRole::ClientReader(client("acme")),
                    };
                    recorder
                        .record(
                            &who,
                            Some(&client("acme")),
                            &format!("GET /r/{n}"),
                            n,
                            &clock(1),
                        )
                        .await
                })
            })
            .collect();
        // and one read by a user whose name the log cannot hold
        let bad = Principal {
            user: "Not A Name".into(),
            role: DeskRole::Auditor,
        };
        assert!(recorder
            .record(&bad, None, "GET /", 1, &clock(1))
            .await
            .is_err());
        let mut seqs = Vec::new();
        for task in tasks {
            seqs.push(task.await.unwrap().unwrap());
        }
        // Then every read has its own entry, none lost or doubled, and the chain holds
        seqs.sort_unstable();
        assert_eq!(seqs, (0..64).collect::<Vec<_>>(), "{backend}");
        let entries = access_log(ledger.desk(), &AccessLogQuery::default())
            .await
            .unwrap();
        assert_eq!(entries.len(), 64, "{backend}");
        let mut rows: Vec<u64> = entries.iter().map(|e| e.rows).collect();
        rows.sort_unstable();
        assert_eq!(rows, (0..64).collect::<Vec<_>>());
        assert!(entries
            .iter()
            .all(|e| e.query == format!("GET /r/{}", e.rows)));
        assert!(verify_access_log(ledger.desk()).await.unwrap().is_intact());
    }
}
