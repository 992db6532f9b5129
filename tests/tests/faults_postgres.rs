//! Surviving faults with nothing lost, on PostgreSQL: the server SIGKILLed in the middle of
//! concurrent single-event appends and of a bulk append, then restarted; and two writers
//! racing on one stream with expected versions, written once over `Arc<dyn EventStore>` and
//! run on both backends (the SQLite instances live here too so that the race is one function).
//!
//! The kill tests use a server of their own (`opsledger_tests::pg::DedicatedServer`), never
//! the shared one, and take it exclusively while they kill it; the PostgreSQL races share it
//! otherwise.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use opsledger_store::{
    AppendOutcome, Direction, EventStore, ExpectedVersion, NewEvent, PgStore, PositionRange,
    SqliteStore, StoreError, StreamAppend, StreamId, VerifyReport,
};
use opsledger_tests::conformance::{new_event, read_everything, sid};
use opsledger_tests::pg::DedicatedServer;
use tokio::sync::RwLock;
use uuid::Uuid;

/// Concurrent tasks appending one event at a time.
const SINGLE_WRITERS: u64 = 16;
/// Events per bulk batch, the size `opsledger import` appends in.
const BULK_BATCH_EVENTS: u64 = 1000;
/// Streams each bulk batch spreads over, so that atomicity spans streams.
const BULK_STREAMS_PER_BATCH: u64 = 4;
/// Bulk batches the bulk writer means to append in all.
const BULK_BATCHES: u64 = 12;
/// Acknowledged single appends to wait for before the kill, so it lands mid-load.
const SINGLES_BEFORE_KILL: u64 = 400;
/// Acknowledged bulk batches to wait for before the kill.
const BATCHES_BEFORE_KILL: u64 = 2;
/// Acknowledged single appends on the old handle to wait for after the restart.
const SINGLES_AFTER_RESTART: u64 = 200;
/// How long the load keeps hammering the dead server before it is restarted.
const OUTAGE: Duration = Duration::from_millis(400);
/// Appends the old handle must make in a row after the restart.
const APPENDS_AFTER_RESTART: u64 = 20;
/// Rounds of the expected-version race.
const RACE_ROUNDS: u64 = 2000;

/// The kill tests' server, one per test process, started on first use.
fn server() -> &'static DedicatedServer {
    static SERVER: OnceLock<DedicatedServer> = OnceLock::new();
    SERVER.get_or_init(DedicatedServer::start)
}

/// Held for writing while a test kills the server, for reading by tests that merely use it.
static SERVER_USE: RwLock<()> = RwLock::const_new(());

/// A fresh database on the dedicated server.
async fn fresh_url() -> String {
    let server = tokio::task::spawn_blocking(server).await.unwrap();
    server.fresh_database().await
}

/// A valid event with the given id.
fn event_with_id(id: Uuid, n: u64) -> NewEvent {
    NewEvent {
        event_id: id,
        ..new_event("fault.tested", n)
    }
}

/// The deterministic id of event `i` of bulk batch `batch`: a rerun of the batch carries the
/// same ids, which is what makes it an idempotent replay.
fn bulk_id(batch: u64, i: u64) -> Uuid {
    Uuid::from_u128((0xb0_u128 << 120) | (u128::from(batch) << 32) | u128::from(i))
}

/// Bulk batch `batch`: [`BULK_BATCH_EVENTS`] events over [`BULK_STREAMS_PER_BATCH`] streams.
fn bulk_batch(batch: u64) -> Vec<StreamAppend> {
    let per_stream = BULK_BATCH_EVENTS / BULK_STREAMS_PER_BATCH;
    (0..BULK_STREAMS_PER_BATCH)
        .map(|s| StreamAppend {
            stream_id: sid(&format!("bulk-{batch}x{s}")),
            expected_version: ExpectedVersion::NoStream,
            events: (0..per_stream)
                .map(|k| event_with_id(bulk_id(batch, s * per_stream + k), k))
                .collect(),
        })
        .collect()
}

/// One append attempt and how it ended.
#[derive(Debug)]
struct Attempt {
    /// Every event id of the attempt, in append order.
    ids: Vec<Uuid>,
    /// The global position acknowledged for each id, or the error.
    result: Result<Vec<u64>, String>,
    /// Whether the attempt was started after the restart.
    after_restart: bool,
}

/// Flattens a batch's outcomes into one position per event, in append order.
fn positions(outcomes: &[AppendOutcome]) -> Vec<u64> {
    outcomes
        .iter()
        .flat_map(|o| o.positions.iter().copied())
        .collect()
}

/// What an append may answer while the server is down or restarting: anything else is a bug.
fn assert_outage_error(e: &StoreError) {
    assert!(
        matches!(
            e,
            StoreError::ConnectionLost { .. } | StoreError::Unavailable(_)
        ),
        "an append during the outage failed in an unexpected way: {e:?}"
    );
}

/// Shared state of a load run.
#[derive(Default)]
struct Load {
    stop: AtomicBool,
    restarted: AtomicBool,
    acked_singles: AtomicU64,
    acked_batches: AtomicU64,
    attempts: Mutex<Vec<Attempt>>,
}

impl Load {
    fn record(&self, ids: Vec<Uuid>, result: Result<Vec<u64>, StoreError>, after_restart: bool) {
        if let Err(e) = &result {
            assert_outage_error(e);
        }
        let result = result.map_err(|e| e.to_string());
        self.attempts.lock().unwrap().push(Attempt {
            ids,
            result,
            after_restart,
        });
    }
}

/// Appends single events to its own stream until told to stop, recording every outcome.
async fn single_writer(store: PgStore, load: Arc<Load>, writer: u64) {
    let stream = sid(&format!("single-{writer}"));
    let mut n = 0u64;
    while !load.stop.load(Ordering::SeqCst) {
        let after_restart = load.restarted.load(Ordering::SeqCst);
        let id = Uuid::new_v4();
        let result = store
            .append(&stream, ExpectedVersion::Any, vec![event_with_id(id, n)])
            .await
            .map(|o| o.positions);
        if result.is_ok() {
            load.acked_singles.fetch_add(1, Ordering::SeqCst);
        } else {
            // A failed append returns at once while the server is down; do not spin.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        load.record(vec![id], result, after_restart);
        n += 1;
    }
}

/// Appends bulk batches in order until told to stop or done, recording every outcome. Like an
/// importer that keeps going, it moves on after a failed batch; the rerun finishes the job.
async fn bulk_writer(store: PgStore, load: Arc<Load>) {
    for batch in 0..BULK_BATCHES {
        if load.stop.load(Ordering::SeqCst) {
            return;
        }
        let after_restart = load.restarted.load(Ordering::SeqCst);
        let appends = bulk_batch(batch);
        let ids: Vec<Uuid> = appends
            .iter()
            .flat_map(|a| a.events.iter().map(|e| e.event_id))
            .collect();
        let result = store.append_batch(appends).await.map(|o| positions(&o));
        if result.is_ok() {
            load.acked_batches.fetch_add(1, Ordering::SeqCst);
        } else {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        load.record(ids, result, after_restart);
    }
}

/// Waits until `done` holds, failing the test after `limit`.
async fn wait_for(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Kills the dedicated server and starts it again, off the async workers, and checks that
/// the server saw a crash: it must have run crash recovery, not found a clean shutdown.
async fn kill_and_restart(load: &Load) {
    let log_before = server_log_len();
    tokio::task::spawn_blocking(|| server().kill9())
        .await
        .unwrap();
    tokio::time::sleep(OUTAGE).await;
    tokio::task::spawn_blocking(|| server().restart())
        .await
        .unwrap();
    load.restarted.store(true, Ordering::SeqCst);
    let log = std::fs::read(server().log_file()).unwrap();
    let since_kill = String::from_utf8_lossy(&log[log_before..]);
    assert!(
        since_kill.contains("automatic recovery in progress"),
        "the restarted server did not recover from a crash:\n{since_kill}"
    );
}

/// The length of the dedicated server's log so far.
fn server_log_len() -> usize {
    std::fs::read(server().log_file()).map_or(0, |l| l.len())
}

/// What the log says after the crash, checked against what the writers were told:
/// acknowledged appends are present at their positions, failed ones are all there or not at
/// all, nothing else is there, positions are gap-free and the chain verifies. Returns the
/// log's event ids by position.
async fn check_against_acknowledgements(store: &PgStore, attempts: &[Attempt]) -> Vec<Uuid> {
    let log = read_everything(store).await;
    for (i, e) in log.iter().enumerate() {
        assert_eq!(
            e.global_position,
            u64::try_from(i).unwrap(),
            "the log has a gap before position {}",
            e.global_position
        );
    }
    let at: HashMap<Uuid, u64> = log
        .iter()
        .map(|e| (e.event_id, e.global_position))
        .collect();
    assert_eq!(at.len(), log.len(), "an event id is recorded twice");
    let mut attempted: HashSet<Uuid> = HashSet::new();
    let mut unknown_but_recorded = 0usize;
    for attempt in attempts {
        attempted.extend(attempt.ids.iter().copied());
        match &attempt.result {
            Ok(acked) => {
                assert_eq!(acked.len(), attempt.ids.len());
                for (id, position) in attempt.ids.iter().zip(acked) {
                    assert_eq!(
                        at.get(id),
                        Some(position),
                        "acknowledged event {id} is not at its acknowledged position {position}"
                    );
                }
            }
            Err(error) => {
                let present = attempt.ids.iter().filter(|id| at.contains_key(id)).count();
                assert!(
                    present == 0 || present == attempt.ids.len(),
                    "a failed append ({error}) is half recorded: {present} of {} events",
                    attempt.ids.len()
                );
                if present > 0 {
                    unknown_but_recorded += 1;
                }
            }
        }
    }
    for e in &log {
        assert!(
            attempted.contains(&e.event_id),
            "event {} at {} was never appended by this test",
            e.event_id,
            e.global_position
        );
    }
    let errors = attempts.iter().filter(|a| a.result.is_err()).count();
    eprintln!(
        "after the crash: {} events, {} attempts, {errors} failed ({unknown_but_recorded} of them recorded after all)",
        log.len(),
        attempts.len()
    );
    let report = store.verify(PositionRange::default()).await.unwrap();
    match report {
        VerifyReport::Intact { events, .. } => {
            assert_eq!(events, u64::try_from(log.len()).unwrap());
        }
        broken => panic!("the chain does not verify after the crash: {broken:?}"),
    }
    let head = store.head().await.unwrap().map(|h| h.position);
    assert_eq!(head, u64::try_from(log.len()).unwrap().checked_sub(1));
    log.iter().map(|e| e.event_id).collect()
}

/// Reruns every bulk batch with its original ids: recorded ones are idempotent replays at
/// their original positions, the rest are recorded now, and nothing is recorded twice.
async fn finish_bulk(store: &PgStore, before: &[Uuid]) {
    let at: HashMap<Uuid, u64> = before
        .iter()
        .enumerate()
        .map(|(p, id)| (*id, u64::try_from(p).unwrap()))
        .collect();
    for batch in 0..BULK_BATCHES {
        let appends = bulk_batch(batch);
        let first = appends[0].events[0].event_id;
        let outcomes = store.append_batch(appends).await.unwrap_or_else(|e| {
            panic!("rerunning bulk batch {batch} after the restart failed: {e}")
        });
        match at.get(&first) {
            Some(&original) => {
                assert!(
                    outcomes.iter().all(|o| o.idempotent_replay),
                    "batch {batch} was recorded before the rerun but not replayed"
                );
                assert_eq!(positions(&outcomes)[0], original);
            }
            None => assert!(outcomes.iter().all(|o| !o.idempotent_replay)),
        }
    }
    let log = read_everything(store).await;
    let ids: HashSet<Uuid> = log.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), log.len(), "the rerun recorded an event twice");
    for batch in 0..BULK_BATCHES {
        for i in 0..BULK_BATCH_EVENTS {
            assert!(
                ids.contains(&bulk_id(batch, i)),
                "bulk event {batch}/{i} is missing"
            );
        }
    }
    let bulk_ids: HashSet<Uuid> = (0..BULK_BATCHES)
        .flat_map(|batch| (0..BULK_BATCH_EVENTS).map(move |i| bulk_id(batch, i)))
        .collect();
    let bulk_before = before.iter().filter(|id| bulk_ids.contains(id)).count();
    assert_eq!(log.len() - before.len(), bulk_ids.len() - bulk_before);
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
}

/// The handle that lived through the crash writes again: its writer reconnects on the next
/// group. Stale pooled connections may cost a failed attempt or two, which callers are told
/// to retry; after that, appends must succeed in a row.
async fn old_handle_appends_again(store: &PgStore) {
    let stream = sid("after-restart");
    let mut failures = Vec::new();
    let mut done = 0u64;
    while done < APPENDS_AFTER_RESTART {
        match store
            .append(
                &stream,
                ExpectedVersion::Any,
                vec![new_event("fault.tested", done)],
            )
            .await
        {
            Ok(_) => done += 1,
            Err(e) => {
                assert_outage_error(&e);
                assert_eq!(done, 0, "an append failed after appends had succeeded: {e}");
                failures.push(e.to_string());
                assert!(
                    failures.len() <= 2,
                    "the old handle does not recover after the restart: {failures:?}"
                );
            }
        }
    }
    if !failures.is_empty() {
        eprintln!("the old handle's first appends after the restart failed: {failures:?}");
    }
}

/// Sixteen tasks appending single events and one bulk writer, the server SIGKILLed under
/// them and restarted: nothing acknowledged is lost, nothing failed is half there, the chain
/// verifies, the bulk rerun completes without duplicates, and the old handle writes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_loses_no_acknowledged_append() {
    let _exclusive = SERVER_USE.write().await;
    let url = fresh_url().await;
    let store = PgStore::connect(&url).await.unwrap();
    let load = Arc::new(Load::default());
    let mut tasks = Vec::new();
    for writer in 0..SINGLE_WRITERS {
        tasks.push(tokio::spawn(single_writer(
            store.clone(),
            Arc::clone(&load),
            writer,
        )));
    }
    tasks.push(tokio::spawn(bulk_writer(store.clone(), Arc::clone(&load))));

    wait_for("load before the kill", Duration::from_secs(30), || {
        load.acked_singles.load(Ordering::SeqCst) >= SINGLES_BEFORE_KILL
            && load.acked_batches.load(Ordering::SeqCst) >= BATCHES_BEFORE_KILL
    })
    .await;
    kill_and_restart(&load).await;
    // The load keeps going on the old handle until it has written again after the restart.
    let acked_at_restart = load.acked_singles.load(Ordering::SeqCst);
    wait_for("appends after the restart", Duration::from_secs(30), || {
        load.acked_singles.load(Ordering::SeqCst) >= acked_at_restart + SINGLES_AFTER_RESTART
    })
    .await;
    load.stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }

    let attempts = std::mem::take(&mut *load.attempts.lock().unwrap());
    assert!(
        attempts.iter().any(|a| a.result.is_err()),
        "no append failed: the kill did not land during the load"
    );
    assert!(attempts.iter().any(|a| a.after_restart && a.result.is_ok()));
    let fresh = PgStore::connect(&url).await.unwrap();
    let log = check_against_acknowledgements(&fresh, &attempts).await;
    finish_bulk(&fresh, &log).await;
    old_handle_appends_again(&store).await;
}

/// A bulk load alone (batches of 1000 over four streams, sent back to back by two writers)
/// with the server SIGKILLed under it: every batch is all there or not at all, and the
/// rerun finishes the load exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bulk_load_killed_midway_is_finished_by_its_rerun() {
    let _exclusive = SERVER_USE.write().await;
    let url = fresh_url().await;
    let store = PgStore::connect(&url).await.unwrap();
    let load = Arc::new(Load::default());
    // Two bulk writers over the same batches: the second is a retry racing the first, which
    // the store must answer as a replay, never as a duplicate.
    let tasks = [
        tokio::spawn(bulk_writer(store.clone(), Arc::clone(&load))),
        tokio::spawn(bulk_writer(store.clone(), Arc::clone(&load))),
    ];
    wait_for(
        "bulk batches before the kill",
        Duration::from_secs(30),
        || load.acked_batches.load(Ordering::SeqCst) >= BATCHES_BEFORE_KILL,
    )
    .await;
    kill_and_restart(&load).await;
    load.stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let attempts = std::mem::take(&mut *load.attempts.lock().unwrap());
    assert!(
        attempts.iter().any(|a| a.result.is_err()),
        "no batch failed: the kill did not land during the bulk load"
    );
    let fresh = PgStore::connect(&url).await.unwrap();
    let log = check_against_acknowledgements(&fresh, &attempts).await;
    finish_bulk(&fresh, &log).await;
    old_handle_appends_again(&store).await;
}

/// A handle that sat idle through a restart (a long-lived service between requests) reads
/// and appends on its first try afterwards: nothing was in flight, so the caller has nothing
/// to retry and must not be told its append "may or may not have been recorded".
///
/// The writer replaces a connection the server closed before it starts a group on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_handle_works_on_its_first_try_after_a_restart() {
    let _exclusive = SERVER_USE.write().await;
    let url = fresh_url().await;
    let store = PgStore::connect(&url).await.unwrap();
    // Concurrent appends open every write connection the handle keeps, and reads fill the pool.
    let mut warm = Vec::new();
    for writer in 0..SINGLE_WRITERS {
        let store = store.clone();
        warm.push(tokio::spawn(async move {
            let stream = sid(&format!("warm-{writer}"));
            for n in 0..20u64 {
                store
                    .append(
                        &stream,
                        ExpectedVersion::Any,
                        vec![new_event("fault.tested", n)],
                    )
                    .await
                    .unwrap();
            }
            store.read_all(0, 10).await.unwrap();
        }));
    }
    for t in warm {
        t.await.unwrap();
    }
    tokio::task::spawn_blocking(|| server().kill9())
        .await
        .unwrap();
    tokio::task::spawn_blocking(|| server().restart())
        .await
        .unwrap();

    let head = store.head().await;
    assert!(
        head.is_ok(),
        "the first read after the restart failed: {head:?}"
    );
    let appended = store
        .append(&sid("after-idle"), ExpectedVersion::NoStream, events_of(1))
        .await;
    if let Err(e) = &appended {
        // Show whether the failed append was recorded after all, to name the bug precisely.
        let recorded = store
            .read_stream(&sid("after-idle"), 0, Direction::Forward, 1)
            .await;
        panic!("the first append after the restart failed: {e:?}; the stream now: {recorded:?}");
    }
    let second = store
        .append(&sid("after-idle"), ExpectedVersion::Exact(0), events_of(1))
        .await;
    assert!(
        second.is_ok(),
        "the second append after the restart failed: {second:?}"
    );
}

/// `count` valid events with fresh ids.
fn events_of(count: u64) -> Vec<NewEvent> {
    (0..count).map(|n| new_event("fault.tested", n)).collect()
}

// ---------------------------------------------------------------------------------------------
// Two writers racing on one stream with expected versions.

/// How one writer's attempt in one round ended.
#[derive(Debug)]
enum Round {
    Won { version: u64 },
    Lost,
}

/// The id writer `writer` appends in round `round`.
fn race_id(writer: u64, round: u64) -> Uuid {
    Uuid::from_u128((0x7ace_u128 << 112) | (u128::from(writer) << 64) | u128::from(round))
}

/// Two writers (`a` and `b`, one handle or two) race `rounds` times for the next version of
/// one stream, each expecting the version the previous round left. Each round exactly one
/// wins and the other gets `WrongExpectedVersion`; at the end the stream holds exactly
/// `rounds` events, versions `0..rounds`, each the winner's of its round, and no loser's
/// event is anywhere in the log.
async fn two_writers_race(a: Arc<dyn EventStore>, b: Arc<dyn EventStore>, rounds: u64) {
    let stream: StreamId = sid("race-1");
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let mut tasks = Vec::new();
    for (writer, store) in [(0u64, Arc::clone(&a)), (1u64, Arc::clone(&b))] {
        let barrier = Arc::clone(&barrier);
        let stream = stream.clone();
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for round in 0..rounds {
                let expected = match round.checked_sub(1) {
                    None => ExpectedVersion::NoStream,
                    Some(previous) => ExpectedVersion::Exact(previous),
                };
                // Both writers start each round together, after both finished the last.
                barrier.wait().await;
                let event = event_with_id(race_id(writer, round), round);
                match store.append(&stream, expected, vec![event]).await {
                    Ok(outcome) => {
                        assert!(!outcome.idempotent_replay);
                        results.push(Round::Won {
                            version: outcome.last_version,
                        });
                    }
                    Err(StoreError::WrongExpectedVersion { stream_id, .. }) => {
                        assert_eq!(stream_id, stream.to_string());
                        results.push(Round::Lost);
                    }
                    Err(other) => panic!("writer {writer}, round {round}: {other:?}"),
                }
            }
            results
        }));
    }
    let [first, second] = <[_; 2]>::try_from(tasks).expect("two writers");
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!(first.len(), second.len());
    let mut winners = Vec::new();
    let mut wins = [0u64; 2];
    for (round, pair) in (0u64..).zip(first.iter().zip(&second)) {
        let (winner, version) = match pair {
            (Round::Won { version }, Round::Lost) => (0u64, *version),
            (Round::Lost, Round::Won { version }) => (1u64, *version),
            other => panic!("round {round}: exactly one writer must win, got {other:?}"),
        };
        assert_eq!(version, round, "round {round} won the wrong version");
        wins[usize::try_from(winner).unwrap()] += 1;
        winners.push(winner);
    }
    assert_eq!(u64::try_from(winners.len()).unwrap(), rounds);
    eprintln!(
        "race: writer 0 won {} rounds, writer 1 won {}",
        wins[0], wins[1]
    );

    let recorded = b
        .read_stream(
            &stream,
            0,
            Direction::Forward,
            usize::try_from(rounds + 1).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(recorded.len(), usize::try_from(rounds).unwrap());
    for (round, (e, winner)) in recorded.iter().zip(&winners).enumerate() {
        let round = u64::try_from(round).unwrap();
        assert_eq!(e.stream_version, round);
        assert_eq!(
            e.event_id,
            race_id(*winner, round),
            "round {round}: a lost update"
        );
    }
    let log = read_everything(a.as_ref()).await;
    assert_eq!(log.len(), recorded.len(), "a loser's event reached the log");
    assert!(a
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_postgres_handles_race_for_each_version() {
    let _shared = SERVER_USE.read().await;
    let url = fresh_url().await;
    // Two handles have two writers, serialized only by the head row lock, as two processes are.
    let a: Arc<dyn EventStore> = Arc::new(PgStore::connect(&url).await.unwrap());
    let b: Arc<dyn EventStore> = Arc::new(PgStore::connect(&url).await.unwrap());
    two_writers_race(a, b, RACE_ROUNDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_postgres_handle_decides_races_within_a_group() {
    let _shared = SERVER_USE.read().await;
    let url = fresh_url().await;
    // Through one handle both requests usually land in the same group commit, where the
    // planner must refuse the second after accepting the first.
    let store: Arc<dyn EventStore> = Arc::new(PgStore::connect(&url).await.unwrap());
    two_writers_race(Arc::clone(&store), store, RACE_ROUNDS).await;
}

/// Where the SQLite races keep their ledger: in memory-backed `/dev/shm` where there is one.
/// Every round's winner commits with an fsync, which is what a race costs on disk and what
/// it does not test; in memory the same rounds run several times faster.
fn race_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_writers_race_for_each_version() {
    let dir = race_dir();
    let path = dir.path().join("race.ledger");
    let store: Arc<dyn EventStore> = Arc::new(SqliteStore::open(&path).unwrap());
    two_writers_race(Arc::clone(&store), store, RACE_ROUNDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sqlite_handles_race_for_each_version() {
    let dir = race_dir();
    let path = dir.path().join("race.ledger");
    // Two handles on one file have two writer threads, serialized by SQLite's write lock.
    let a: Arc<dyn EventStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let b: Arc<dyn EventStore> = Arc::new(SqliteStore::open(&path).unwrap());
    two_writers_race(a, b, RACE_ROUNDS).await;
}
