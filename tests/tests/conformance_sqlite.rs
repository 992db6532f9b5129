//! The store conformance suite on the SQLite backend, plus what only a SQLite file can show:
//! reopening, file errors, the schema's own refusals, and tampering that `verify` must find.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use opsledger_store::{
    ChainBreak, DataKey, Direction, EventStore, ExpectedVersion, PositionRange, SqliteStore,
    StoreError, VerifyReport,
};
use opsledger_tests::conformance::{events, read_everything, sid};
use tempfile::TempDir;

/// A fresh ledger file in its own temporary directory, removed when the case ends.
async fn fresh_sqlite() -> (Arc<dyn EventStore>, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("ledger.sqlite")).unwrap();
    (Arc::new(store), dir)
}

opsledger_tests::conformance_tests!(fresh_sqlite);
opsledger_tests::trust_conformance_tests!(fresh_sqlite);

/// A ledger with `count` events over three streams.
async fn seeded(count: u64) -> (SqliteStore, TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    for n in 0..count {
        store
            .append(
                &sid(&format!("call-{}", n % 3)),
                ExpectedVersion::Any,
                events(1),
            )
            .await
            .unwrap();
    }
    (store, dir, path)
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_refuses_update_and_delete() {
    let (_store, _dir, path) = seeded(3).await;
    let conn = raw(&path);
    for sql in [
        "UPDATE events SET data = '{}' WHERE global_position = 1",
        "DELETE FROM events WHERE global_position = 1",
        "DELETE FROM events",
        "DELETE FROM ledger_head",
    ] {
        let err = conn.execute_batch(sql).expect_err(sql);
        let message = err.to_string();
        assert!(
            message.contains("append-only") || message.contains("cannot be deleted"),
            "{sql}: {message}"
        );
    }
    let count: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_pinpoints_altered_data() {
    let (store, _dir, path) = seeded(10).await;
    let conn = raw(&path);
    conn.execute_batch(
        "DROP TRIGGER events_refuse_update;
         UPDATE events SET data = '{\"n\":999}' WHERE global_position = 4;",
    )
    .unwrap();
    match store.verify(PositionRange::default()).await.unwrap() {
        VerifyReport::Broken {
            position: 4,
            reason: ChainBreak::HashMismatch { .. },
            events_checked: 4,
        } => {}
        other => panic!("expected a hash mismatch at 4, got {other:?}"),
    }
    // The part before the tampering still verifies on its own.
    assert!(store
        .verify(PositionRange {
            from: 0,
            to: Some(3)
        })
        .await
        .unwrap()
        .is_intact());
    assert!(!store
        .verify(PositionRange {
            from: 2,
            to: Some(6)
        })
        .await
        .unwrap()
        .is_intact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_notices_a_cut_tail_and_a_forged_head() {
    let (store, _dir, path) = seeded(6).await;
    let conn = raw(&path);
    conn.execute_batch(
        "DROP TRIGGER events_refuse_delete;
         DELETE FROM events WHERE global_position = 5;",
    )
    .unwrap();
    assert!(matches!(
        store.verify(PositionRange::default()).await.unwrap(),
        VerifyReport::Broken {
            reason: ChainBreak::MissingEvents {
                expected_last: 5,
                found_last: Some(4)
            },
            ..
        }
    ));
    // The writer refuses to extend a log whose head row disagrees with it.
    assert!(matches!(
        store
            .append(&sid("call-0"), ExpectedVersion::Any, events(1))
            .await,
        Err(StoreError::CorruptRow { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reopened_ledger_keeps_its_log_and_continues() {
    let (store, _dir, path) = seeded(5).await;
    let before = read_everything(&store).await;
    drop(store);

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.path(), path.as_path());
    assert_eq!(read_everything(&store).await, before);
    let head = store.head().await.unwrap().unwrap();
    assert_eq!((head.position, head.hash), (4, before[4].hash));
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
    let next = store
        .append(&sid("call-1"), ExpectedVersion::Exact(1), events(2))
        .await
        .unwrap();
    assert_eq!(next.positions, vec![5, 6]);
    assert_eq!(next.last_version, 3);
    let log = read_everything(&store).await;
    assert_eq!(log[5].prev_hash, before[4].hash);
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_file_share_one_chain() {
    // Two opens of one file behave like two processes: SQLite's write lock serializes them.
    let (first, _dir, path) = seeded(1).await;
    let second = SqliteStore::open(&path).unwrap();
    let mut tasks = Vec::new();
    for (i, store) in [first.clone(), second.clone()].into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for _ in 0..30 {
                let o = store
                    .append(&sid(&format!("side-{i}")), ExpectedVersion::Any, events(3))
                    .await
                    .unwrap();
                assert_eq!(o.positions[2], o.positions[0] + 2);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let log = read_everything(&second).await;
    assert_eq!(log.len(), 181);
    assert!(first
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
}

#[tokio::test]
async fn create_new_refuses_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let store = SqliteStore::create_new(&path).unwrap();
    store
        .append(&sid("call-1"), ExpectedVersion::NoStream, events(1))
        .await
        .unwrap();
    drop(store);
    assert!(matches!(
        SqliteStore::create_new(&path),
        Err(StoreError::File { .. })
    ));
    // The existing ledger is untouched and still opens.
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.head().await.unwrap().unwrap().position, 0);
}

#[tokio::test]
async fn files_that_are_not_ledgers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.sqlite");
    std::fs::write(&junk, vec![0x5a_u8; 8192]).unwrap();
    match SqliteStore::open(&junk) {
        Err(StoreError::File { path, detail }) => {
            assert!(path.ends_with("junk.sqlite"));
            assert!(detail.contains("not a"), "{detail}");
        }
        other => panic!("expected a File error, got {other:?}"),
    }
    let missing_dir = dir.path().join("no-such-dir").join("ledger.sqlite");
    assert!(matches!(
        SqliteStore::open(&missing_dir),
        Err(StoreError::File { .. })
    ));
    let foreign = dir.path().join("foreign.sqlite");
    raw(&foreign)
        .execute_batch("CREATE TABLE notes (body TEXT)")
        .unwrap();
    assert!(matches!(
        SqliteStore::open(&foreign),
        Err(StoreError::File { .. })
    ));
}

#[tokio::test]
async fn a_schema_from_the_future_is_refused() {
    let (store, _dir, path) = seeded(1).await;
    drop(store);
    raw(&path)
        .execute_batch("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)")
        .unwrap();
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::SchemaFromTheFuture { found: 999, .. })
    ));
}

/// The schema version that drops the projection snapshot table (SQLite migration 8).
const DROPS_PROJECTIONS: i64 = 8;

/// A ledger of the previous release (schema version 7, with migration 2's projection snapshot
/// table and a snapshot in it) opens, loses the table and keeps everything else: the log, its
/// chain, the read model's rows and checkpoint, and appends continuing at the head.
#[tokio::test]
async fn a_ledger_of_the_previous_release_opens_without_the_projections_table() {
    use opsledger_store::{FactCheckpoint, FactQuery, FactRow};
    let (store, _dir, path) = seeded(5).await;
    let row = |position: u64| FactRow {
        position,
        event_id: uuid::Uuid::from_u128(u128::from(position) + 1),
        client_id: Some("acme".to_owned()),
        area: "calls".to_owned(),
        entity: "call-acme:1".to_owned(),
        kind: "call.connected".to_owned(),
        occurred_at: opsledger_tests::conformance::base_time(),
        recorded_at: opsledger_tests::conformance::base_time(),
        body: "{}".to_owned(),
    };
    let checkpoint = FactCheckpoint {
        next_position: 2,
        version: 1,
    };
    store
        .write_facts(0, checkpoint, vec![row(0), row(1)])
        .await
        .unwrap();
    let log = read_everything(&store).await;
    drop(store);
    let latest: i64 = raw(&path)
        .query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(latest >= DROPS_PROJECTIONS);

    // The file as the previous release left it: migration 2's table, exactly as it created it,
    // holding a snapshot, and no migration past 7.
    raw(&path)
        .execute_batch(&format!(
            "CREATE TABLE projections (
                name          TEXT    PRIMARY KEY,
                next_position INTEGER NOT NULL CHECK (next_position >= 0),
                state         BLOB    NOT NULL,
                saved_at      INTEGER NOT NULL
            );
            INSERT INTO projections VALUES ('sla', 5, x'7b7d', 0);
            DELETE FROM schema_migrations WHERE version >= {DROPS_PROJECTIONS};"
        ))
        .unwrap();
    let tables = |path: &Path| -> (bool, i64) {
        let conn = raw(path);
        let snapshot: bool = conn
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'projections'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let version: i64 = conn
            .query_row("SELECT max(version) FROM schema_migrations", [], |r| {
                r.get(0)
            })
            .unwrap();
        (snapshot, version)
    };
    assert_eq!(tables(&path), (true, DROPS_PROJECTIONS - 1));

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(tables(&path), (false, latest));
    assert_eq!(read_everything(&store).await, log);
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
    assert_eq!(store.fact_checkpoint().await.unwrap(), Some(checkpoint));
    assert_eq!(
        store
            .read_facts(&FactQuery::default(), usize::MAX)
            .await
            .unwrap(),
        vec![row(0), row(1)]
    );
    let out = store
        .append(&sid("call-9"), ExpectedVersion::NoStream, events(1))
        .await
        .unwrap();
    assert_eq!(out.positions, vec![5]);
    // Opening again applies nothing more.
    drop(store);
    SqliteStore::open(&path).unwrap();
    assert_eq!(tables(&path), (false, latest));
}

/// Makes a file read-only for as long as it lives. `chmod` is enough for ordinary users;
/// root ignores permission bits, so there the immutable attribute is used instead.
struct ReadOnly {
    path: PathBuf,
    immutable: bool,
}

impl ReadOnly {
    fn apply(path: &Path) -> Option<Self> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).unwrap();
        let mut guard = Self {
            path: path.to_owned(),
            immutable: false,
        };
        if guard.writable() {
            let status = std::process::Command::new("chattr")
                .arg("+i")
                .arg(path)
                .status();
            guard.immutable = status.is_ok_and(|s| s.success());
            if !guard.writable() {
                return Some(guard);
            }
            return None;
        }
        Some(guard)
    }

    fn writable(&self) -> bool {
        std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .is_ok()
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.immutable {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(&self.path)
                .status();
        }
        let _ = std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o644));
    }
}

#[tokio::test]
async fn a_read_only_file_reads_but_refuses_appends_clearly() {
    let (store, _dir, path) = seeded(4).await;
    let before = read_everything(&store).await;
    drop(store);
    let Some(_read_only) = ReadOnly::apply(&path) else {
        // Neither permission bits nor the immutable attribute can stop this user writing:
        // a read-only file cannot be made here at all.
        panic!(
            "cannot make {} read-only in this environment",
            path.display()
        );
    };

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(read_everything(&store).await, before);
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
    assert_eq!(
        store
            .read_stream(&sid("call-0"), 0, Direction::Forward, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    match store
        .append(&sid("call-0"), ExpectedVersion::Any, events(1))
        .await
    {
        Err(StoreError::File { detail, .. }) => {
            assert!(detail.contains("read-only"), "{detail}");
        }
        other => panic!("expected a read-only File error, got {other:?}"),
    }
    assert_eq!(read_everything(&store).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destroyed_key_is_gone_from_the_file_and_cannot_be_restored() {
    let (store, _dir, path) = seeded(2).await;
    let DataKey::Active(key) = store.data_key("acme", true).await.unwrap() else {
        panic!("expected an active key");
    };
    let contains_key = |bytes: &[u8]| {
        bytes
            .windows(key.as_bytes().len())
            .any(|w| w == key.as_bytes())
    };
    // Checkpoint first, so the key's page sits in the main file, not only in the WAL.
    raw(&path)
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    assert!(contains_key(&std::fs::read(&path).unwrap()));
    assert!(store
        .destroy_data_key("acme", "R-RET-2 test")
        .await
        .unwrap());
    drop(store);
    // Neither the main file nor what is left of the WAL holds the key's bytes.
    for suffix in ["", "-wal"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if let Ok(bytes) = std::fs::read(&file) {
            assert!(
                !contains_key(&bytes),
                "{} still holds the key",
                file.display()
            );
        }
    }
    // The schema itself refuses to bring a key back or to forget a destroyed row.
    let conn = raw(&path);
    for sql in [
        "UPDATE data_keys SET key = zeroblob(32), destroyed_at = NULL WHERE client_id = 'acme'",
        "DELETE FROM data_keys WHERE client_id = 'acme'",
    ] {
        let err = conn.execute_batch(sql).expect_err(sql);
        assert!(err.to_string().contains("data key"), "{sql}: {err}");
    }
    let store = SqliteStore::open(&path).unwrap();
    assert!(matches!(
        store.data_key("acme", true).await.unwrap(),
        DataKey::Destroyed { .. }
    ));
}

/// When the last handle closes, the write-ahead log is checkpointed into the ledger file, so
/// a copy of the file alone (a backup, a move) is the whole ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_file_alone_holds_everything_after_close() {
    let (store, dir, path) = seeded(50).await;
    let head = store.head().await.unwrap().unwrap();
    drop(store);
    let copy = dir.path().join("copy.ledger");
    std::fs::copy(&path, &copy).unwrap();
    let reopened = SqliteStore::open(&copy).unwrap();
    assert_eq!(reopened.head().await.unwrap(), Some(head));
    assert!(reopened
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
}

/// Copies row `from` of the events table to position `to` (rehashing nothing), the way a
/// tool with the file open could plant a row the append path never wrote.
fn plant_copy(conn: &rusqlite::Connection, from: u64, to: u64) {
    conn.execute(
        "INSERT INTO events (global_position, event_id, stream_id, category, stream_version, \
         event_type, schema_version, client_id, occurred_at, recorded_at, correlation_id, \
         causation_id, actor, source, data, prev_hash, hash) \
         SELECT ?2, randomblob(16), stream_id || '-planted', category, ?2, event_type, \
         schema_version, client_id, occurred_at, recorded_at, correlation_id, causation_id, \
         actor, source, data, hash, hash FROM events WHERE global_position = ?1",
        (i64::try_from(from).unwrap(), i64::try_from(to).unwrap()),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_rows_past_the_head() {
    let (store, _dir, path) = seeded(6).await;
    let conn = raw(&path);
    // Right after the head and further out: both are named, at the first such position.
    for planted in [6, 9] {
        plant_copy(&conn, 5, planted);
        match store.verify(PositionRange::default()).await.unwrap() {
            VerifyReport::Broken {
                position,
                reason:
                    ChainBreak::RowsPastHead {
                        head_position: Some(5),
                        found,
                    },
                ..
            } => assert_eq!((position, found), (6, 6)),
            other => panic!("a row at {planted} past the head went unnamed: {other:?}"),
        }
    }
    // A range ending before the head does not look past it, and still verifies.
    assert!(store
        .verify(PositionRange {
            from: 0,
            to: Some(5)
        })
        .await
        .unwrap()
        .is_intact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_rows_in_a_ledger_whose_head_says_empty() {
    let (store, _dir, path) = seeded(1).await;
    let conn = raw(&path);
    // A fresh ledger file's head row, with a row planted beside it.
    conn.execute_batch(
        "UPDATE ledger_head SET next_position = 0, head_hash = zeroblob(32), \
         last_recorded_at = NULL",
    )
    .unwrap();
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    match store.verify(PositionRange::default()).await.unwrap() {
        VerifyReport::Broken {
            position: 0,
            reason:
                ChainBreak::RowsPastHead {
                    head_position: None,
                    found: 0,
                },
            ..
        } => {}
        other => panic!("a row in an empty ledger went unnamed: {other:?}"),
    }
}

/// Where `needle` occurs in the ledger file, its WAL and its shared-memory index.
fn copies_in_files(path: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        if bytes.windows(needle.len()).any(|w| w == needle) {
            found.push(file.display().to_string());
        }
    }
    found
}

/// A ledger with a data key for acme that has reached the main file (checkpointed) and a
/// later write in the WAL, the way a long-running ledger holds it.
async fn ledger_with_a_key() -> (SqliteStore, TempDir, PathBuf, [u8; 32]) {
    let (store, dir, path) = seeded(3).await;
    let DataKey::Active(key) = store.data_key("acme", true).await.unwrap() else {
        panic!("a fresh key");
    };
    let key = *key.as_bytes();
    raw(&path)
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    store.data_key("globex", true).await.unwrap();
    assert!(
        !copies_in_files(&path, &key).is_empty(),
        "the key must be in the file before it is destroyed"
    );
    (store, dir, path, key)
}

/// A reader holding a read transaction open on the ledger file, released on `done`.
fn hold_reader(path: &Path, done: std::sync::mpsc::Receiver<()>) -> std::thread::JoinHandle<()> {
    let conn = raw(path);
    conn.execute_batch("BEGIN").unwrap();
    let _: i64 = conn
        .query_row("SELECT count(*) FROM data_keys", [], |r| r.get(0))
        .unwrap();
    std::thread::spawn(move || {
        let _ = done.recv();
        conn.execute_batch("COMMIT").unwrap();
    })
}

/// Issue 12, finding 5: with another connection reading, destroying a key left its bytes in
/// the file. The destroy step now waits (bounded) for readers, then truncates the WAL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shredding_waits_for_a_reader_and_leaves_no_copy() {
    let (store, _dir, path, key) = ledger_with_a_key().await;
    let (release, done) = std::sync::mpsc::channel();
    let reader = hold_reader(&path, done);
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        release.send(()).unwrap();
    });
    assert!(store.destroy_data_key("acme", "R-RET-2").await.unwrap());
    releaser.join().unwrap();
    reader.join().unwrap();
    assert_eq!(copies_in_files(&path, &key), Vec::<String>::new());
    assert!(matches!(
        store.data_key("acme", true).await.unwrap(),
        DataKey::Destroyed { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shredding_refuses_a_reader_that_stays_and_finishes_on_a_rerun() {
    let (store, _dir, path, key) = ledger_with_a_key().await;
    let (release, done) = std::sync::mpsc::channel();
    let reader = hold_reader(&path, done);
    let err = store.destroy_data_key("acme", "R-RET-2").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::ShredIncomplete { client_id, .. } if client_id == "acme"),
        "{err:?}"
    );
    // Unreadable at once, even though the bytes are not gone yet.
    assert!(matches!(
        store.data_key("acme", false).await.unwrap(),
        DataKey::Destroyed { .. }
    ));
    release.send(()).unwrap();
    reader.join().unwrap();
    // The rerun (retention apply again) finds the key destroyed and finishes the scrub.
    assert!(!store.destroy_data_key("acme", "R-RET-2").await.unwrap());
    assert_eq!(copies_in_files(&path, &key), Vec::<String>::new());
}

/// The read model's indexes as the file's schema holds them.
fn rm_fact_indexes(path: &Path) -> Vec<(String, String)> {
    let conn = raw(path);
    let mut stmt = conn
        .prepare(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'rm_fact'
             ORDER BY name",
        )
        .unwrap();
    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_drops_the_secondary_indexes_and_restores_them_as_migrated() {
    let (store, _dir, path) = seeded(1).await;
    let migrated = rm_fact_indexes(&path);
    assert_eq!(migrated.len(), 3, "{migrated:?}");
    let stored = store.fact_checkpoint().await.unwrap();
    store.reset_facts(stored, 1).await.unwrap();
    assert!(rm_fact_indexes(&path).is_empty());
    store.restore_fact_indexes().await.unwrap();
    assert_eq!(rm_fact_indexes(&path), migrated);
    // Nothing to restore: nothing changes.
    store.restore_fact_indexes().await.unwrap();
    assert_eq!(rm_fact_indexes(&path), migrated);
}
