//! Two projectors catching up at once over a ledger whose stored rows are of another version
//! (two `report` runs, or a run and the server's follower, after an upgrade), on both backends.
//! Both see the old version and want to rebuild; the interleaving that used to break one of
//! them is forced with held stores: projector A has read the old checkpoint and is about to
//! reset when projector B resets and writes its first page, then A's reset reaches the store,
//! then B writes its next page. A reset that did not compare the checkpoint deleted B's rows
//! and moved the checkpoint back under B, whose next page was then refused. Now A loses the
//! reset, reads the checkpoint again and continues from it: both succeed, and the rows are
//! exactly those the log derives.
//!
//! Two builds of different versions take turns no more: a build refuses rows a newer build
//! wrote (their checkpoint's version is past its own) and leaves them as they are, while rows
//! of an older version are still reset and rebuilt.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use opsledger_projections::FACTS_VERSION;
use opsledger_store::{
    EventStore, ExpectedVersion, FactCheckpoint, FactQuery, FactRow, Metadata, NewEvent, PgStore,
    SqliteStore, StreamId,
};
use opsledger_tests::demo_month::{self, append};
use opsledger_tests::held::{Held, Hold, HoldPoints};
use serde_json::json;
use uuid::Uuid;

use opsledger_app::project::{self, CatchUp, Start};
use opsledger_app::{AppError, NoProgress};

/// Events of another system between the two halves of the month. With them the log is longer
/// than one catch-up page (20 000 positions), so each projector writes at least two pages and
/// the second one meets whatever the other projector did in between.
const FOREIGN_EVENTS: u64 = 20_000;
/// Foreign events per append.
const FOREIGN_BATCH: u64 = 1_000;
/// The version of the rows the previous release left.
const OLD_VERSION: u32 = FACTS_VERSION - 1;
/// The version of the rows a later release writes.
const NEWER_VERSION: u32 = FACTS_VERSION + 1;
/// Seed of the generated month.
const MONTH_SEED: u64 = 1;
/// Calls per client per business day: a small month, quick to record in a debug build.
const CALLS_PER_DAY: u32 = 1;
/// How long any one step of the race may take before the test calls it stuck.
const STEP: Duration = Duration::from_secs(120);

/// Facts of another system: kept and verified by the ledger, taking positions, deriving no row.
async fn append_foreign(store: &Arc<dyn EventStore>) {
    let stream = StreamId::parse("legacy-notes").unwrap();
    let at = Utc.with_ymd_and_hms(2026, 10, 15, 12, 0, 0).unwrap();
    for batch in 0..FOREIGN_EVENTS / FOREIGN_BATCH {
        let events = (0..FOREIGN_BATCH)
            .map(|k| {
                let n = batch * FOREIGN_BATCH + k;
                NewEvent {
                    event_id: Uuid::from_u128(1_000_000 + u128::from(n)),
                    event_type: "legacy.note".to_owned(),
                    schema_version: 1,
                    client_id: None,
                    occurred_at: at,
                    data: json!({"n": n}),
                    metadata: Metadata::default(),
                }
            })
            .collect();
        store
            .append(&stream, ExpectedVersion::Any, events)
            .await
            .unwrap();
    }
}

async fn all_rows(store: &Arc<dyn EventStore>) -> Vec<FactRow> {
    store
        .read_facts(&FactQuery::default(), usize::MAX)
        .await
        .unwrap()
}

/// Records the month with the foreign events in its middle. Returns the head's next position
/// and the number of rows the current version derives (one per domain event).
async fn recorded_ledger(store: &Arc<dyn EventStore>) -> (u64, usize) {
    let month = demo_month::month(MONTH_SEED, CALLS_PER_DAY);
    let half = month.events.len() / 2;
    append(store, &month, 0..half).await;
    append_foreign(store).await;
    append(store, &month, half..month.events.len()).await;
    let head = project::head_next(store).await.unwrap();
    assert!(head > FOREIGN_EVENTS, "more than one catch-up page");
    (head, month.events.len())
}

/// [`recorded_ledger`] with rows of `version` at the head, each differing from what the
/// current version derives.
async fn ledger_with_rows_of(store: &Arc<dyn EventStore>, version: u32) -> (u64, usize) {
    let (head, derived_rows) = recorded_ledger(store).await;
    let done = project::catch_up(store, Start::Checkpoint, &NoProgress)
        .await
        .unwrap();
    assert_eq!(done.next_position, head);
    let current = all_rows(store).await;
    assert_eq!(current.len(), derived_rows);

    store_rows_of(store, head, current, version).await;
    (head, derived_rows)
}

/// Replaces the stored rows with `rows` as a build of `version` would have written them up to
/// `head` (each body changed, so no row is what the current version derives).
async fn store_rows_of(store: &Arc<dyn EventStore>, head: u64, rows: Vec<FactRow>, version: u32) {
    let stored = store.fact_checkpoint().await.unwrap();
    store.reset_facts(stored, version).await.unwrap();
    let other: Vec<FactRow> = rows
        .into_iter()
        .map(|mut row| {
            row.body = format!("{{\"meaning of version\":{version}}}");
            row
        })
        .collect();
    store
        .write_facts(
            0,
            FactCheckpoint {
                next_position: head,
                version,
            },
            other,
        )
        .await
        .unwrap();
}

/// The rows are exactly those the log derives, up to the head, under the current version.
async fn rows_are_the_logs(store: &Arc<dyn EventStore>, head: u64, derived_rows: usize) {
    assert_eq!(
        store.fact_checkpoint().await.unwrap(),
        Some(FactCheckpoint {
            next_position: head,
            version: FACTS_VERSION,
        })
    );
    let check = project::check_read_model(store).await.unwrap();
    assert_eq!(check.first_mismatch, None);
    assert_eq!(check.next_position, head);
    assert_eq!(check.rows, u64::try_from(derived_rows).unwrap());
    assert_eq!(all_rows(store).await.len(), derived_rows);
}

fn spawn_catch_up(
    store: Arc<dyn EventStore>,
    start: Start,
) -> tokio::task::JoinHandle<opsledger_app::AppResult<CatchUp>> {
    tokio::spawn(async move { project::catch_up(&store, start, &NoProgress).await })
}

async fn within<T>(what: &str, step: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STEP, step)
        .await
        .unwrap_or_else(|_| panic!("stuck: {what}"))
}

/// `a` and `b` are two handles on one ledger, as two processes would hold.
async fn two_catch_ups_over_an_old_version(a: Arc<dyn EventStore>, b: Arc<dyn EventStore>) {
    let (head, derived_rows) = ledger_with_rows_of(&a, OLD_VERSION).await;

    let a_reset = Hold::new();
    let a_reset_done = Hold::new();
    let a_first_page = Hold::new();
    let b_first_page = Hold::new();
    let held_a: Arc<dyn EventStore> = Arc::new(Held::new(
        Arc::clone(&a),
        HoldPoints {
            before_reset: Some(Arc::clone(&a_reset)),
            after_reset: Some(Arc::clone(&a_reset_done)),
            before_first_page: Some(Arc::clone(&a_first_page)),
            after_first_page: None,
        },
    ));
    let held_b: Arc<dyn EventStore> = Arc::new(Held::new(
        Arc::clone(&b),
        HoldPoints {
            after_first_page: Some(Arc::clone(&b_first_page)),
            ..HoldPoints::default()
        },
    ));
    // A has read the old version and is about to reset.
    let run_a = spawn_catch_up(held_a, Start::Checkpoint);
    within("A reaching its reset", a_reset.reached()).await;
    // B reads the same old version, resets and writes its first page.
    let run_b = spawn_catch_up(held_b, Start::Checkpoint);
    within("B writing its first page", b_first_page.reached()).await;
    // A's reset reaches the store only now.
    a_reset.release();
    within("A's reset", a_reset_done.reached()).await;
    a_reset_done.release();
    // B writes the rest while A waits before its first page.
    b_first_page.release();
    let b_done: CatchUp = within("B's catch-up", run_b)
        .await
        .unwrap()
        .expect("B's catch-up succeeds");
    a_first_page.release();
    let a_done: CatchUp = within("A's catch-up", run_a)
        .await
        .unwrap()
        .expect("A's catch-up succeeds");

    assert!(a_done.persisted && b_done.persisted);
    assert_eq!((a_done.next_position, b_done.next_position), (head, head));
    // B deleted the old rows; A lost the reset and deleted nothing.
    assert!(b_done.rebuilt_for_version);
    assert!(!a_done.rebuilt_for_version);
    rows_are_the_logs(&a, head, derived_rows).await;
}

/// A `replay` resets the rows under a catch-up that has written its first page: the catch-up's
/// next page finds the checkpoint moved back, so it reads the checkpoint again and continues
/// from there (the replay's rows are of its own version) instead of failing; the replay then
/// finishes too, and the rows are the log's.
async fn a_replay_under_a_catch_up(a: Arc<dyn EventStore>, b: Arc<dyn EventStore>) {
    let (head, derived_rows) = recorded_ledger(&a).await;
    let a_first_page = Hold::new();
    let b_reset_done = Hold::new();
    let held_a: Arc<dyn EventStore> = Arc::new(Held::new(
        Arc::clone(&a),
        HoldPoints {
            after_first_page: Some(Arc::clone(&a_first_page)),
            ..HoldPoints::default()
        },
    ));
    let held_b: Arc<dyn EventStore> = Arc::new(Held::new(
        Arc::clone(&b),
        HoldPoints {
            after_reset: Some(Arc::clone(&b_reset_done)),
            ..HoldPoints::default()
        },
    ));

    let run_a = spawn_catch_up(held_a, Start::Checkpoint);
    within("A writing its first page", a_first_page.reached()).await;
    let run_b = spawn_catch_up(held_b, Start::Rebuild);
    within("B's reset", b_reset_done.reached()).await;
    // A's next page meets the checkpoint B moved back to 0.
    a_first_page.release();
    let a_done: CatchUp = within("A's catch-up", run_a)
        .await
        .unwrap()
        .expect("A's catch-up succeeds");
    b_reset_done.release();
    let b_done: CatchUp = within("B's replay", run_b)
        .await
        .unwrap()
        .expect("B's replay succeeds");

    assert!(a_done.persisted && b_done.persisted);
    assert_eq!((a_done.next_position, b_done.next_position), (head, head));
    assert_eq!(b_done.applied, head, "the replay wrote every page");
    assert!(
        a_done.applied > head,
        "A wrote its first page, then every page again from B's reset: {}",
        a_done.applied
    );
    rows_are_the_logs(&a, head, derived_rows).await;
}

/// Rows a newer build wrote: a catch-up and a replay of this build both refuse them with an
/// error naming both versions, and leave every row and the checkpoint as they were (a reset
/// would have deleted them, and the newer build this build's rows in turn). Then the same
/// ledger with rows of an older version: the catch-up resets them and rebuilds the log's.
async fn a_newer_versions_rows_are_left_and_an_older_ones_rebuilt(store: Arc<dyn EventStore>) {
    let (head, derived_rows) = ledger_with_rows_of(&store, NEWER_VERSION).await;
    let newer_rows = all_rows(&store).await;
    let newer_checkpoint = Some(FactCheckpoint {
        next_position: head,
        version: NEWER_VERSION,
    });
    assert_eq!(store.fact_checkpoint().await.unwrap(), newer_checkpoint);
    assert_eq!(newer_rows.len(), derived_rows);
    for start in [Start::Checkpoint, Start::Rebuild] {
        let refused = project::catch_up(&store, start, &NoProgress).await;
        let message = match refused {
            Err(e @ AppError::ReadModelFromTheFuture { found, known }) => {
                assert_eq!((found, known), (NEWER_VERSION, FACTS_VERSION), "{start:?}");
                e.to_string()
            }
            other => panic!("{start:?} over a newer version's rows: {other:?}"),
        };
        assert!(
            message.contains(&format!("version {NEWER_VERSION}"))
                && message.contains(&format!("version {FACTS_VERSION}"))
                && message.contains("upgrade this opsledger"),
            "{message}"
        );
        assert_eq!(store.fact_checkpoint().await.unwrap(), newer_checkpoint);
        assert_eq!(
            all_rows(&store).await,
            newer_rows,
            "{start:?} changed no row"
        );
    }

    store_rows_of(&store, head, newer_rows, OLD_VERSION).await;
    let done = project::catch_up(&store, Start::Checkpoint, &NoProgress)
        .await
        .expect("rows of an older version are rebuilt");
    assert!(done.persisted && done.rebuilt_for_version);
    assert_eq!(done.next_position, head);
    rows_are_the_logs(&store, head, derived_rows).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_versions_rows_are_left_and_an_older_ones_rebuilt_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.ledger");
    let store: Arc<dyn EventStore> = Arc::new(SqliteStore::create_new(&path).unwrap());
    a_newer_versions_rows_are_left_and_an_older_ones_rebuilt(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_versions_rows_are_left_and_an_older_ones_rebuilt_on_postgres() {
    let url = opsledger_tests::pg::server().fresh_database().await;
    let store: Arc<dyn EventStore> = Arc::new(PgStore::connect(&url).await.unwrap());
    a_newer_versions_rows_are_left_and_an_older_ones_rebuilt(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_catch_ups_over_an_old_version_both_succeed_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.ledger");
    let a: Arc<dyn EventStore> = Arc::new(SqliteStore::create_new(&path).unwrap());
    let b: Arc<dyn EventStore> = Arc::new(SqliteStore::open(&path).unwrap());
    two_catch_ups_over_an_old_version(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_catch_ups_over_an_old_version_both_succeed_on_postgres() {
    let url = opsledger_tests::pg::server().fresh_database().await;
    let a: Arc<dyn EventStore> = Arc::new(PgStore::connect(&url).await.unwrap());
    let b: Arc<dyn EventStore> = Arc::new(PgStore::connect(&url).await.unwrap());
    two_catch_ups_over_an_old_version(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_under_a_replay_continues_from_the_replays_checkpoint_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.ledger");
    let a: Arc<dyn EventStore> = Arc::new(SqliteStore::create_new(&path).unwrap());
    let b: Arc<dyn EventStore> = Arc::new(SqliteStore::open(&path).unwrap());
    a_replay_under_a_catch_up(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_under_a_replay_continues_from_the_replays_checkpoint_on_postgres() {
    let url = opsledger_tests::pg::server().fresh_database().await;
    let a: Arc<dyn EventStore> = Arc::new(PgStore::connect(&url).await.unwrap());
    let b: Arc<dyn EventStore> = Arc::new(PgStore::connect(&url).await.unwrap());
    a_replay_under_a_catch_up(a, b).await;
}
