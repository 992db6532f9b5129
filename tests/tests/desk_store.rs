//! The desk's tables on both backends: the desk conformance suite on a fresh SQLite file and
//! a fresh PostgreSQL database, then what each backend's own tools can do to the access log:
//! the triggers refuse UPDATE and DELETE, and an entry changed behind them (trigger dropped or
//! disabled, as the file's or database's owner) is named by `verify_access`.

use std::sync::Arc;

use opsledger_store::{AccessFilter, ChainBreak, DeskStore, PgStore, SqliteStore, VerifyReport};
use opsledger_tests::desk::access;
use opsledger_tests::pg;
use tempfile::TempDir;
use tokio_postgres::NoTls;

async fn fresh_sqlite() -> (Arc<dyn DeskStore>, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("ledger.sqlite")).unwrap();
    (Arc::new(store), dir)
}

async fn fresh_postgres() -> (Arc<dyn DeskStore>, String) {
    let url = pg::server().fresh_database().await;
    let store = PgStore::connect(&url).await.unwrap();
    (Arc::new(store), url)
}

mod sqlite {
    opsledger_tests::desk_conformance_tests!(super::fresh_sqlite);
}

mod postgres {
    opsledger_tests::desk_conformance_tests!(super::fresh_postgres);
}

/// Appends three entries (seq 0, 1, 2).
async fn three_entries(desk: &dyn DeskStore) {
    for n in 0..3 {
        desk.append_access(access("ann", Some("acme"), n))
            .await
            .unwrap();
    }
    assert!(desk.verify_access().await.unwrap().is_intact());
}

fn assert_broken_at(report: VerifyReport, seq: u64) {
    match report {
        VerifyReport::Broken {
            position, reason, ..
        } => {
            assert_eq!(position, seq, "{reason:?}");
            assert!(
                matches!(reason, ChainBreak::HashMismatch { .. }),
                "{reason:?}"
            );
        }
        intact => panic!("a changed access-log entry went unnoticed: {intact:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refuses_rewriting_the_access_log_and_verify_names_a_tampered_entry() {
    // Given a ledger file with three access-log entries
    let (desk, dir) = fresh_sqlite().await;
    three_entries(desk.as_ref()).await;
    let conn = rusqlite::Connection::open(dir.path().join("ledger.sqlite")).unwrap();
    // When someone with the file tries to rewrite or delete an entry, the triggers refuse
    for sql in [
        "UPDATE access_log SET rows = 0 WHERE seq = 1",
        "DELETE FROM access_log WHERE seq = 2",
        "DELETE FROM access_log_head",
        "UPDATE access_log_head SET next_seq = 1",
    ] {
        let err = conn.execute_batch(sql).expect_err(sql);
        assert!(err.to_string().contains("access log"), "{sql}: {err}");
    }
    // When the owner drops the trigger and changes entry 1's row count
    conn.execute_batch(
        "DROP TRIGGER access_log_refuse_update;
         UPDATE access_log SET rows = 999 WHERE seq = 1;",
    )
    .unwrap();
    // Then verify names entry 1
    assert_broken_at(desk.verify_access().await.unwrap(), 1);
    let read = desk
        .read_access(&AccessFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(read[1].rows, 999, "the tampered value is what is read back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_rewriting_the_access_log_and_verify_names_a_tampered_entry() {
    // Given a database with three access-log entries
    let (desk, url) = fresh_postgres().await;
    three_entries(desk.as_ref()).await;
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(connection);
    // When even the owner tries to rewrite, delete or truncate, the triggers refuse
    for sql in [
        "UPDATE access_log SET rows = 0 WHERE seq = 1",
        "DELETE FROM access_log WHERE seq = 2",
        "TRUNCATE access_log",
        "DELETE FROM access_log_head",
        "UPDATE access_log_head SET next_seq = 1",
    ] {
        let err = client.batch_execute(sql).await.expect_err(sql);
        assert!(
            err.as_db_error()
                .is_some_and(|db| db.message().contains("access log")),
            "{sql}: {err:?}"
        );
    }
    assert!(
        pg::server().superuser,
        "the tamper test needs the throwaway (superuser) server"
    );
    // When a superuser switches the triggers off and changes entry 1's query
    client
        .batch_execute(
            "SET session_replication_role = replica;
             UPDATE access_log SET query = 'GET /nothing' WHERE seq = 1;
             SET session_replication_role = DEFAULT;",
        )
        .await
        .unwrap();
    // Then verify names entry 1
    assert_broken_at(desk.verify_access().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_tail_of_the_access_log_is_found_through_its_head() {
    let (desk, dir) = fresh_sqlite().await;
    three_entries(desk.as_ref()).await;
    let conn = rusqlite::Connection::open(dir.path().join("ledger.sqlite")).unwrap();
    conn.execute_batch(
        "DROP TRIGGER access_log_refuse_delete;
         DELETE FROM access_log WHERE seq = 2;",
    )
    .unwrap();
    match desk.verify_access().await.unwrap() {
        VerifyReport::Broken {
            position, reason, ..
        } => {
            assert_eq!(position, 2);
            assert!(
                matches!(
                    reason,
                    ChainBreak::MissingEvents {
                        expected_last: 2,
                        found_last: Some(1)
                    }
                ),
                "{reason:?}"
            );
        }
        intact => panic!("a deleted last entry went unnoticed: {intact:?}"),
    }
}
