//! Reads scoped to a database role, as PostgREST serves them (`PgStore::scoped`): the owner's
//! store opens one transaction per handle, `SET LOCAL ROLE`s to the desk user's role, and
//! row-level security decides what each read returns (R-RET-4,
//! `docs/adr/0007-desk-access.md`).

use std::time::Duration;

use chrono::{TimeZone, Utc};
use opsledger_store::postgres::roles::{create_login_role, RoleKind, AUDITOR_GROUP};
use opsledger_store::{
    AccessFilter, DeskStore, EventFilter, EventStore, ExpectedVersion, FactCheckpoint, FactQuery,
    FactRow, Metadata, NewAccess, NewEvent, PgStore, PositionRange, StoreError, StreamId,
};
use opsledger_tests::pg;
use uuid::Uuid;

/// Events of acme, of globex and of the agency (no client), in that order.
const CLIENTS: [(Option<&str>, u64); 3] = [(Some("acme"), 4), (Some("globex"), 3), (None, 2)];
const ALL: u64 = 9;

fn event(n: u64, client: Option<&str>) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "call.connected".into(),
        schema_version: 1,
        client_id: client.map(str::to_owned),
        occurred_at: Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 0).unwrap()
            + chrono::Duration::seconds(i64::try_from(n).unwrap()),
        data: serde_json::json!({"n": n.to_string()}),
        metadata: Metadata::default(),
    }
}

/// A ledger with events and read-model fact rows of two clients and the agency, an access log
/// entry, and a client-reader login role for acme; returns the owner's store and that role.
async fn seeded() -> (PgStore, String) {
    let url = pg::server().fresh_database().await;
    let owner = PgStore::connect(&url).await.unwrap();
    let mut n = 0;
    let mut rows = Vec::new();
    for (client, count) in CLIENTS {
        for _ in 0..count {
            let stream = StreamId::new("call", &format!("c{n}")).unwrap();
            let outcome = owner
                .append(&stream, ExpectedVersion::NoStream, vec![event(n, client)])
                .await
                .unwrap();
            rows.push(FactRow {
                position: outcome.positions[0],
                event_id: Uuid::new_v4(),
                client_id: client.map(str::to_owned),
                area: "calls".into(),
                entity: stream.to_string(),
                kind: "call.connected".into(),
                occurred_at: Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 0).unwrap(),
                recorded_at: Utc::now(),
                body: "{}".into(),
            });
            n += 1;
        }
    }
    owner
        .write_facts(
            0,
            FactCheckpoint {
                next_position: ALL,
                version: 1,
            },
            rows,
        )
        .await
        .unwrap();
    owner
        .append_access(NewAccess {
            at: Utc::now(),
            user_name: "ann".into(),
            role: "auditor".into(),
            client_id: Some("acme".into()),
            query: "GET /api/v1/clients".into(),
            rows: 2,
        })
        .await
        .unwrap();
    let reader = format!("acme_reader_{}", Uuid::new_v4().simple());
    let kind = RoleKind::ClientReader {
        client_id: "acme".into(),
    };
    create_login_role(&url, &kind, &reader, "never-used-to-log-in")
        .await
        .unwrap();
    (owner, reader)
}

fn clients_of(events: &[opsledger_store::RecordedEvent]) -> Vec<Option<String>> {
    events.iter().map(|e| e.client_id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_readers_scoped_store_sees_only_its_clients_events_and_facts() {
    // Given a ledger of acme, globex and agency-wide events and fact rows
    let (owner, reader) = seeded().await;
    // When acme's reader reads through a handle scoped to its role
    let scoped = owner.scoped(&reader).await.unwrap();
    assert_eq!(scoped.role(), reader);
    // Then the log holds acme's events only
    let events = scoped.read_all(0, 100).await.unwrap();
    assert_eq!(clients_of(&events), vec![Some("acme".to_owned()); 4]);
    // and asking for globex by filter finds nothing rather than globex's events
    let globex = scoped
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
    assert!(globex.is_empty(), "{globex:?}");
    // and the fact rows are acme's and the agency's, never globex's
    let facts = scoped.read_facts(&FactQuery::default(), 100).await.unwrap();
    let fact_clients: Vec<_> = facts.iter().map(|r| r.client_id.as_deref()).collect();
    assert_eq!(fact_clients.len(), 6, "{fact_clients:?}");
    assert!(fact_clients
        .iter()
        .all(|c| matches!(c, Some("acme") | None)));
    // and the head it is told is its snapshot's, read as the serving role, while the log
    // past acme's events stays hidden: the chain cannot be walked as acme's reader
    assert_eq!(scoped.head().await.unwrap(), owner.head().await.unwrap());
    assert!(!scoped
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
    // and the database refuses what the role has no grant for: the data keys and the access
    // log
    assert!(matches!(
        scoped.data_key("acme", false).await,
        Err(StoreError::PermissionDenied { .. })
    ));
    assert!(matches!(
        scoped.read_access(&AccessFilter::default(), 10).await,
        Err(StoreError::PermissionDenied { .. })
    ));
    // and nothing is written through a scoped handle
    assert!(matches!(
        scoped
            .append(
                &StreamId::new("call", "x").unwrap(),
                ExpectedVersion::Any,
                vec![event(99, Some("acme"))]
            )
            .await,
        Err(StoreError::ReadOnly)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auditor_role_sees_every_client_reads_one_snapshot_and_verifies() {
    let (owner, _reader) = seeded().await;
    let auditor = owner.scoped(AUDITOR_GROUP).await.unwrap();
    assert_eq!(auditor.read_all(0, 100).await.unwrap().len(), 9);
    assert!(auditor
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
    assert_eq!(
        auditor
            .read_access(&AccessFilter::default(), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // An append committed while the handle is open is not in its snapshot; a new handle
    // (the next request) sees it.
    owner
        .append(
            &StreamId::new("call", "later").unwrap(),
            ExpectedVersion::NoStream,
            vec![event(50, Some("acme"))],
        )
        .await
        .unwrap();
    assert_eq!(auditor.read_all(0, 100).await.unwrap().len(), 9);
    drop(auditor);
    let next = owner.scoped(AUDITOR_GROUP).await.unwrap();
    assert_eq!(next.read_all(0, 100).await.unwrap().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_that_cannot_be_set_are_refused_and_connections_go_back_clean() {
    let (owner, reader) = seeded().await;
    for bad in ["Robert'); DROP TABLE events; --", "pg_monitor", ""] {
        assert!(
            matches!(
                owner.scoped(bad).await,
                Err(StoreError::InvalidLoginRole { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(
        owner.scoped("no_such_role_anywhere").await.is_err(),
        "a role that does not exist was set"
    );
    // Many more handles than the pool has connections, one after the other: each returns its
    // connection out of the transaction and with the owner's role again.
    tokio::time::timeout(Duration::from_secs(60), async {
        for _ in 0..3 * opsledger_store::postgres::READ_POOL_SIZE {
            let scoped = owner.scoped(&reader).await.unwrap();
            assert_eq!(scoped.read_all(0, 100).await.unwrap().len(), 4);
            drop(scoped);
            // The rollback runs on the runtime; let it finish before the next checkout.
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("scoped handles did not give their connections back");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(owner.read_all(0, 100).await.unwrap().len(), 9);
    assert_eq!(owner.head().await.unwrap().unwrap().position, ALL - 1);
}

/// A connection string logging in as a new login role of `kind`.
async fn login_as(url: &str, prefix: &str, kind: RoleKind) -> String {
    let name = format!("{prefix}_{}", Uuid::new_v4().simple());
    let password = format!("pw-{}", Uuid::new_v4());
    create_login_role(url, &kind, &name, &password)
        .await
        .unwrap();
    let mut parts = vec![format!("user={name}"), format!("password={password}")];
    for (key, value) in url.split_whitespace().filter_map(|kv| kv.split_once('=')) {
        if key != "user" && key != "password" {
            parts.push(format!("{key}={value}"));
        }
    }
    parts.join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_tables_grant_the_writer_what_the_desk_does_and_the_others_less() {
    use opsledger_store::{DeskSession, DeskToken, DeskUser, Hash};
    let url = pg::server().fresh_database().await;
    let _owner = PgStore::connect(&url).await.unwrap();
    // Given the serving process logged in as a writer
    let writer = PgStore::connect(&login_as(&url, "desk_writer", RoleKind::Writer).await)
        .await
        .unwrap();
    let now = Utc::now();
    // When it does everything the desk does, then the database allows it
    writer
        .insert_user(&DeskUser {
            name: "ann".into(),
            role: "auditor".into(),
            client_id: None,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            created_at: now,
            disabled_at: None,
        })
        .await
        .unwrap();
    writer
        .insert_token(&DeskToken {
            id: "00112233445566ff".into(),
            user_name: "ann".into(),
            secret_hash: Hash([1; 32]),
            created_at: now,
            revoked_at: None,
        })
        .await
        .unwrap();
    assert!(writer.revoke_token("00112233445566ff", now).await.unwrap());
    let session = DeskSession {
        id_hash: Hash([2; 32]),
        user_name: "ann".into(),
        created_at: now,
        expires_at: now,
    };
    writer.insert_session(&session).await.unwrap();
    assert!(writer.delete_session(&session.id_hash).await.unwrap());
    writer
        .append_access(opsledger_tests::desk::access("ann", Some("acme"), 3))
        .await
        .unwrap();
    assert!(writer.disable_user("ann", now).await.unwrap());
    assert!(writer.verify_access().await.unwrap().is_intact());
    // but it cannot read as a role it is not a member of until it is granted that role
    assert!(matches!(
        writer.scoped(AUDITOR_GROUP).await,
        Err(StoreError::PermissionDenied { .. })
    ));
    // When an auditor logs in, then it reads the access log but writes nothing of the desk
    let auditor =
        PgStore::connect_read_only(&login_as(&url, "desk_auditor", RoleKind::Auditor).await)
            .await
            .unwrap();
    assert_eq!(
        auditor
            .read_access(&AccessFilter::default(), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(matches!(
        auditor
            .append_access(opsledger_tests::desk::access("ann", None, 1))
            .await,
        Err(StoreError::PermissionDenied { .. })
    ));
    assert!(matches!(
        auditor.user("ann").await,
        Err(StoreError::PermissionDenied { .. })
    ));
    // When a client reader logs in, then the desk's tables are closed to it
    let kind = RoleKind::ClientReader {
        client_id: "acme".into(),
    };
    let reader = PgStore::connect_read_only(&login_as(&url, "desk_reader", kind).await)
        .await
        .unwrap();
    assert!(matches!(
        reader.read_access(&AccessFilter::default(), 10).await,
        Err(StoreError::PermissionDenied { .. })
    ));
    assert!(matches!(
        reader.token("00112233445566ff").await,
        Err(StoreError::PermissionDenied { .. })
    ));
}
