//! Read-model fact rows under PostgreSQL's roles: only the projector (the owner) writes them;
//! the writer role records events but cannot edit what a report says; a client reader reads its
//! own client's rows and the agency-wide ones, live, with no publish step.

use chrono::{TimeZone, Utc};
use opsledger_store::postgres::roles::{create_login_role, RoleKind};
use opsledger_store::{EventStore, FactCheckpoint, FactQuery, FactRow, PgStore};
use opsledger_tests::pg;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};
use uuid::Uuid;

fn fact(position: u64, client: Option<&str>) -> FactRow {
    FactRow {
        position,
        event_id: Uuid::new_v4(),
        client_id: client.map(str::to_owned),
        area: "calls".to_owned(),
        entity: format!("call-x:{position}"),
        kind: "call.connected".to_owned(),
        occurred_at: Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 0).unwrap(),
        recorded_at: Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 1).unwrap(),
        body: "{}".to_owned(),
    }
}

async fn login(url: &str, prefix: &str, kind: RoleKind) -> Config {
    let name = format!("{prefix}_{}", Uuid::new_v4().simple());
    let password = format!("pw-{}", Uuid::new_v4());
    create_login_role(url, &kind, &name, &password)
        .await
        .unwrap();
    let mut config: Config = url.parse().unwrap();
    config.user(&name);
    config.password(&password);
    config
}

async fn raw(config: &Config) -> Client {
    let (client, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_projector_writes_rows_and_a_client_reader_sees_its_own() {
    let url = pg::server().fresh_database().await;
    let owner = PgStore::connect(&url).await.unwrap();
    let rows = vec![
        fact(0, Some("acme")),
        fact(1, Some("globex")),
        fact(2, None),
        fact(3, Some("acme")),
    ];
    owner
        .write_facts(
            0,
            FactCheckpoint {
                next_position: 4,
                version: 1,
            },
            rows,
        )
        .await
        .unwrap();

    let writer = raw(&login(&url, "writer", RoleKind::Writer).await).await;
    for sql in [
        "UPDATE rm_fact SET body = '{\"edited\":true}' WHERE position = 0",
        "DELETE FROM rm_fact WHERE position = 0",
        "TRUNCATE rm_fact",
        "INSERT INTO rm_fact VALUES (9, gen_random_uuid(), 'acme', 'calls', 'e', 'k', now(), now(), '{}')",
        "UPDATE rm_checkpoint SET next_position = 0",
        "DELETE FROM rm_checkpoint",
    ] {
        let err = writer.batch_execute(sql).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "writer: {sql}: {err:?}"
        );
    }
    let seen: i64 = writer
        .query_one("SELECT count(*) FROM rm_fact", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(seen, 4, "the writer reads every row");

    let reader_config = login(
        &url,
        "acme_reader",
        RoleKind::ClientReader {
            client_id: "acme".to_owned(),
        },
    )
    .await;
    let reader = raw(&reader_config).await;
    let visible: Vec<i64> = reader
        .query("SELECT position FROM rm_fact ORDER BY position", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        visible,
        vec![0, 2, 3],
        "acme's rows and the agency-wide one"
    );
    let err = reader
        .batch_execute("UPDATE rm_fact SET body = '{}'")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));

    // Through the store, read-only, as `opsledger --read-only` opens it.
    let store = PgStore::connect_read_only_with(reader_config)
        .await
        .unwrap();
    let read = store
        .read_facts(
            &FactQuery {
                client_id: Some("acme".to_owned()),
                ..FactQuery::default()
            },
            usize::MAX,
        )
        .await
        .unwrap();
    let positions: Vec<u64> = read.iter().map(|r| r.position).collect();
    assert_eq!(positions, vec![0, 2, 3]);
    // Asking for another client's rows finds nothing of theirs.
    let other = store
        .read_facts(
            &FactQuery {
                client_id: Some("globex".to_owned()),
                ..FactQuery::default()
            },
            usize::MAX,
        )
        .await
        .unwrap();
    assert!(other.iter().all(|r| r.client_id.is_none()), "{other:?}");
    assert_eq!(
        store.fact_checkpoint().await.unwrap(),
        Some(FactCheckpoint {
            next_position: 4,
            version: 1
        })
    );
}

/// The read model's indexes as the database describes them.
async fn rm_fact_indexes(url: &str) -> Vec<(String, String)> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .query(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'rm_fact' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_drops_the_secondary_indexes_and_restores_them_as_migrated() {
    let url = pg::server().fresh_database().await;
    let owner = PgStore::connect(&url).await.unwrap();
    let migrated = rm_fact_indexes(&url).await;
    assert_eq!(
        migrated.len(),
        4,
        "the key and three secondary indexes: {migrated:?}"
    );
    owner.reset_facts(None, 1).await.unwrap();
    let during: Vec<String> = rm_fact_indexes(&url)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(during, vec!["rm_fact_pkey".to_owned()]);
    owner.restore_fact_indexes().await.unwrap();
    assert_eq!(rm_fact_indexes(&url).await, migrated);
    // Nothing to restore: nothing changes.
    owner.restore_fact_indexes().await.unwrap();
    assert_eq!(rm_fact_indexes(&url).await, migrated);
}
