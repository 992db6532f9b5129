//! The desk conformance suite: every behaviour the `DeskStore` API promises (users, tokens,
//! sessions, the chained access log), written once and run against each backend by
//! [`desk_conformance_tests!`](crate::desk_conformance_tests).

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use opsledger_store::{
    AccessFilter, DeskSession, DeskStore, DeskToken, DeskUser, Hash, NewAccess, StoreError,
    VerifyReport,
};

/// Expands to one `#[tokio::test]` per case. The argument is an async factory returning a
/// value whose `.0` is a fresh, empty `Arc<dyn DeskStore>` (anything else in it lives as long
/// as the case).
#[macro_export]
macro_rules! desk_conformance_tests {
    ($make:expr) => {
        $crate::desk_conformance_tests!(@cases $make;
            users_are_stored_once_and_disabled_once,
            tokens_are_stored_once_and_revoked_once,
            sessions_are_found_by_hash_and_deleted,
            access_entries_chain_read_back_and_filter,
            concurrent_access_appends_chain_without_gaps,
            access_batches_chain_in_order_and_are_all_or_nothing,
            bad_desk_fields_are_refused,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture = ($make)().await;
                $crate::desk::$case(::std::sync::Arc::clone(&fixture.0)).await;
            }
        )*
    };
}

/// The instant the suite's records are made at.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap() + Duration::minutes(minutes)
}

/// A user of `role` (`client_reader` users read `acme`).
pub fn user(name: &str, role: &str) -> DeskUser {
    DeskUser {
        name: name.to_owned(),
        role: role.to_owned(),
        client_id: (role == "client_reader").then(|| "acme".to_owned()),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
        created_at: at(0),
        disabled_at: None,
    }
}

/// A read by `user` of `client`, returning `rows` rows.
pub fn access(user: &str, client: Option<&str>, rows: u64) -> NewAccess {
    NewAccess {
        at: at(i64::try_from(rows).unwrap()),
        user_name: user.to_owned(),
        role: "auditor".to_owned(),
        client_id: client.map(str::to_owned),
        query: "GET /api/v1/clients/acme/reports/sla?month=2026-10".to_owned(),
        rows,
    }
}

pub async fn users_are_stored_once_and_disabled_once(desk: Arc<dyn DeskStore>) {
    let ann = user("ann", "auditor");
    desk.insert_user(&ann).await.unwrap();
    desk.insert_user(&user("cleo", "client_reader"))
        .await
        .unwrap();
    assert_eq!(desk.user("ann").await.unwrap(), Some(ann.clone()));
    assert_eq!(desk.user("nobody").await.unwrap(), None);
    match desk.insert_user(&ann).await {
        Err(StoreError::DeskUserExists { name }) => assert_eq!(name, "ann"),
        other => panic!("a second ann was stored: {other:?}"),
    }
    let names: Vec<String> = desk
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["ann", "cleo"]);
    assert!(desk.disable_user("ann", at(5)).await.unwrap());
    assert!(!desk.disable_user("ann", at(6)).await.unwrap());
    assert!(!desk.disable_user("nobody", at(6)).await.unwrap());
    assert_eq!(
        desk.user("ann").await.unwrap().unwrap().disabled_at,
        Some(at(5))
    );
}

pub async fn tokens_are_stored_once_and_revoked_once(desk: Arc<dyn DeskStore>) {
    desk.insert_user(&user("ann", "auditor")).await.unwrap();
    let token = DeskToken {
        id: "0123456789abcdef".to_owned(),
        user_name: "ann".to_owned(),
        secret_hash: Hash([9; 32]),
        created_at: at(1),
        revoked_at: None,
    };
    desk.insert_token(&token).await.unwrap();
    assert_eq!(desk.token(&token.id).await.unwrap(), Some(token.clone()));
    assert_eq!(desk.token("fedcba9876543210").await.unwrap(), None);
    assert!(matches!(
        desk.insert_token(&token).await,
        Err(StoreError::DeskTokenExists { .. })
    ));
    assert!(desk.revoke_token(&token.id, at(2)).await.unwrap());
    assert!(!desk.revoke_token(&token.id, at(3)).await.unwrap());
    assert_eq!(
        desk.token(&token.id).await.unwrap().unwrap().revoked_at,
        Some(at(2))
    );
}

pub async fn sessions_are_found_by_hash_and_deleted(desk: Arc<dyn DeskStore>) {
    desk.insert_user(&user("ann", "auditor")).await.unwrap();
    let session = DeskSession {
        id_hash: Hash([4; 32]),
        user_name: "ann".to_owned(),
        created_at: at(1),
        expires_at: at(60),
    };
    desk.insert_session(&session).await.unwrap();
    assert_eq!(
        desk.session(&session.id_hash).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(desk.session(&Hash([5; 32])).await.unwrap(), None);
    assert!(desk.delete_session(&session.id_hash).await.unwrap());
    assert!(!desk.delete_session(&session.id_hash).await.unwrap());
    assert_eq!(desk.session(&session.id_hash).await.unwrap(), None);
    let ends = |n: u8, minutes: i64| DeskSession {
        id_hash: Hash([n; 32]),
        expires_at: at(minutes),
        ..session.clone()
    };
    for (n, minutes) in [(10, 30), (11, 60), (12, 90)] {
        desk.insert_session(&ends(n, minutes)).await.unwrap();
    }
    assert_eq!(desk.delete_expired_sessions(at(60)).await.unwrap(), 2);
    assert_eq!(desk.session(&Hash([10; 32])).await.unwrap(), None);
    assert_eq!(desk.session(&Hash([11; 32])).await.unwrap(), None);
    assert_eq!(
        desk.session(&Hash([12; 32])).await.unwrap(),
        Some(ends(12, 90))
    );
}

pub async fn access_entries_chain_read_back_and_filter(desk: Arc<dyn DeskStore>) {
    assert!(desk.verify_access().await.unwrap().is_intact());
    let head = desk.access_head().await.unwrap();
    assert_eq!((head.next_seq, head.hash), (0, Hash::GENESIS));
    let mut appended = Vec::new();
    for (n, (who, client)) in [
        ("ann", Some("acme")),
        ("cleo", Some("acme")),
        ("ann", Some("globex")),
        ("ann", None),
    ]
    .into_iter()
    .enumerate()
    {
        let entry = desk
            .append_access(access(who, client, u64::try_from(n).unwrap() * 10))
            .await
            .unwrap();
        assert_eq!(entry.seq, u64::try_from(n).unwrap());
        appended.push(entry);
    }
    assert_eq!(appended[0].prev_hash, Hash::GENESIS);
    assert_eq!(appended[1].prev_hash, appended[0].hash);
    let all = desk
        .read_access(&AccessFilter::default(), 100)
        .await
        .unwrap();
    assert_eq!(all, appended, "entries read back as appended");
    let acme = desk
        .read_access(
            &AccessFilter {
                client_id: Some("acme".into()),
                ..AccessFilter::default()
            },
            100,
        )
        .await
        .unwrap();
    assert_eq!(acme.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1]);
    let ann_from_1 = desk
        .read_access(
            &AccessFilter {
                user_name: Some("ann".into()),
                from_seq: 1,
                ..AccessFilter::default()
            },
            1,
        )
        .await
        .unwrap();
    assert_eq!(ann_from_1.iter().map(|e| e.seq).collect::<Vec<_>>(), [2]);
    let head = desk.access_head().await.unwrap();
    assert_eq!((head.next_seq, head.hash), (4, appended[3].hash));
    match desk.verify_access().await.unwrap() {
        VerifyReport::Intact { events, head, .. } => {
            assert_eq!(events, 4);
            assert_eq!(head, Some((3, appended[3].hash)));
        }
        broken => panic!("an untouched access log does not verify: {broken:?}"),
    }
}

pub async fn concurrent_access_appends_chain_without_gaps(desk: Arc<dyn DeskStore>) {
    let tasks: Vec<_> = (0..24_u64)
        .map(|n| {
            let desk = Arc::clone(&desk);
            tokio::spawn(async move { desk.append_access(access("ann", Some("acme"), n)).await })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap().unwrap().seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..24).collect::<Vec<_>>());
    assert!(desk.verify_access().await.unwrap().is_intact());
}

pub async fn bad_desk_fields_are_refused(desk: Arc<dyn DeskStore>) {
    for bad in [
        user("Ann", "auditor"),
        user("1ann", "auditor"),
        DeskUser {
            client_id: Some("a\nb".into()),
            ..user("ann", "client_reader")
        },
        DeskUser {
            password_hash: String::new(),
            ..user("ann", "auditor")
        },
    ] {
        assert!(
            matches!(
                desk.insert_user(&bad).await,
                Err(StoreError::InvalidDeskField { .. })
            ),
            "{bad:?}"
        );
    }
    let mut long = access("ann", None, 1);
    long.query = "x".repeat(opsledger_store::desk::MAX_ACCESS_QUERY_BYTES + 1);
    assert!(matches!(
        desk.append_access(long).await,
        Err(StoreError::InvalidDeskField { .. })
    ));
    assert!(desk.users().await.unwrap().is_empty());
    assert_eq!(desk.access_head().await.unwrap().next_seq, 0);
}

pub async fn access_batches_chain_in_order_and_are_all_or_nothing(desk: Arc<dyn DeskStore>) {
    desk.append_access(access("ann", None, 0)).await.unwrap();
    let batch: Vec<NewAccess> = (1..=5).map(|n| access("cleo", Some("acme"), n)).collect();
    let entries = desk.append_access_batch(batch.clone()).await.unwrap();
    assert_eq!(
        entries.iter().map(|e| (e.seq, e.rows)).collect::<Vec<_>>(),
        [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]
    );
    assert_eq!(entries[1].prev_hash, entries[0].hash);
    let mut bad = batch;
    bad[3].user_name = "Not A Name".into();
    assert!(matches!(
        desk.append_access_batch(bad).await,
        Err(StoreError::InvalidDeskField { .. })
    ));
    assert!(desk
        .append_access_batch(Vec::new())
        .await
        .unwrap()
        .is_empty());
    let head = desk.access_head().await.unwrap();
    assert_eq!((head.next_seq, head.hash), (6, entries[4].hash));
    assert!(desk.verify_access().await.unwrap().is_intact());
}
