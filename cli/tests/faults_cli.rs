//! Surviving faults with nothing lost, through the built `opsledger` binary: an import
//! SIGKILLed half-way is finished by running it again, exactly once (on the embedded backend
//! and on PostgreSQL); and a projection rebuild SIGKILLed half-way leaves the reports exactly
//! what a clean rebuild gives.
//!
//! The input is a synthetic Asterisk queue_log of [`CALLS`] calls for the lab client (onboarded
//! from `examples/lab-client.ndjson`), large enough that each run takes seconds, so a kill
//! lands in the middle of it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Calls in the synthetic queue_log.
const CALLS: u64 = 20_000;
/// When the first call enters the queue: 2022-06-23T16:00:00Z, after the client's go-live.
const FIRST_CALL_EPOCH_SECS: u64 = 1_656_000_000;
/// Seconds between calls entering the queue; 20,000 calls span June and July 2022.
const CALL_SPACING_SECS: u64 = 60;
/// 2022-07-01T00:00:00Z, where the June report ends.
const JULY_EPOCH_SECS: u64 = 1_656_633_600;
/// Events the import must have appended before it is killed: some batches, far from all.
const EVENTS_BEFORE_KILL: u64 = 5_000;
/// How often the test polls the ledger's head while an import runs.
const POLL: Duration = Duration::from_millis(20);
/// How long any one step may take before the test fails instead of hanging.
const STEP_LIMIT: Duration = Duration::from_secs(120);
/// The signal `Child::kill` sends.
const SIGKILL: i32 = 9;
/// Attempts at killing a rebuild before it saves, each with half the delay of the last.
const REBUILD_KILL_TRIES: u32 = 5;
/// The instant pending deadlines are judged at, fixed so that reports compare byte for byte.
const EVALUATED_AT: &str = "2023-01-01T00:00:00Z";
/// The client the examples onboard.
const CLIENT: &str = "issabel-lab";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every fourth call is abandoned after 20 s; the others are answered after 6 s and talk 60 s.
fn abandoned(call: u64) -> bool {
    call % 4 == 3
}

fn entered_at(call: u64) -> u64 {
    FIRST_CALL_EPOCH_SECS + call * CALL_SPACING_SECS
}

/// Events the import records for calls `0..calls`: connected and abandoned, or connected,
/// answered and completed.
fn events_for(calls: u64) -> u64 {
    (0..calls).map(|c| if abandoned(c) { 2 } else { 3 }).sum()
}

/// The queue_log lines of calls `0..calls`, in the format of `../shared/data`.
fn queue_log(calls: u64) -> String {
    let mut text = String::new();
    for call in 0..calls {
        let t = entered_at(call);
        let id = format!("{t}.{call}");
        text.push_str(&format!("{t}|{id}|500|NONE|ENTERQUEUE||1001|1\n"));
        if abandoned(call) {
            text.push_str(&format!("{}|{id}|500|NONE|ABANDON|1|1|20\n", t + 20));
        } else {
            text.push_str(&format!("{}|{id}|500|Agent|CONNECT|6|{id}9|5\n", t + 6));
            text.push_str(&format!("{}|{id}|500|Agent|COMPLETEAGENT|6|60|1\n", t + 66));
        }
    }
    text
}

/// A ledger directory: the file (or the PostgreSQL database), and where the inputs are written.
struct Ledger {
    dir: tempfile::TempDir,
    /// The PostgreSQL database, when the ledger is not the embedded file.
    database_url: Option<String>,
}

impl Ledger {
    /// A new ledger file with the lab client onboarded.
    fn onboarded() -> Self {
        Self::onboarded_on(None)
    }

    /// A new ledger in a fresh database of the test PostgreSQL server, client onboarded.
    fn onboarded_on_postgres() -> Self {
        let url = block_on(opsledger_tests::pg::server().fresh_database());
        Self::onboarded_on(Some(url))
    }

    fn onboarded_on(database_url: Option<String>) -> Self {
        let ledger = Self {
            dir: tempfile::tempdir().unwrap(),
            database_url,
        };
        ok(&ledger.run(&["init"]));
        let onboarding = repo().join("examples/lab-client.ndjson");
        ok(&ledger.run(&["record", "--file", onboarding.to_str().unwrap()]));
        ledger
    }

    /// An empty ledger of the same kind, for copies: a new file, or a new database name on the
    /// same server (created by [`Ledger::copy_to`]).
    fn sibling(&self) -> Ledger {
        Ledger {
            dir: tempfile::tempdir().unwrap(),
            database_url: self.database_url.as_ref().map(|url| {
                let mut config: tokio_postgres::Config = url.parse().unwrap();
                // Generated here, never input, so it is safe as an identifier.
                config.dbname(format!("opsledger_copy_{}", uuid::Uuid::new_v4().simple()));
                key_value(&config)
            }),
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("test.ledger")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_opsledger"));
        c.current_dir(self.dir.path()).env_remove("DATABASE_URL");
        match &self.database_url {
            Some(url) => c.arg("--database-url").arg(url),
            None => c.arg("--ledger").arg(self.file()),
        };
        c.args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run opsledger")
    }

    /// Starts a command in the background; its output is discarded.
    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start opsledger")
    }

    /// Writes the queue_log of calls `0..calls` and returns its path.
    fn write_queue_log(&self, name: &str, calls: u64) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, queue_log(calls)).unwrap();
        path.display().to_string()
    }

    fn import(&self, queue_log: &str) -> String {
        ok(&self.run(&["import", "queue-log", "--client", CLIENT, queue_log]))
    }

    /// Events in the ledger, from `opsledger head` (0 for an empty ledger).
    fn events(&self) -> u64 {
        let head = ok(&self.run(&["head"]));
        if head.trim() == "empty ledger" {
            return 0;
        }
        let position: u64 = head
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected head output: {head}"));
        position + 1
    }

    /// `opsledger verify` succeeds and reports every event intact.
    fn assert_intact(&self, events: u64) {
        let out = ok(&self.run(&["verify"]));
        assert!(
            out.starts_with(&format!("intact: {events} events")),
            "verify: {out}"
        );
    }

    /// The SLA report of `month` as JSON.
    fn sla(&self, month: &str) -> Value {
        let text = ok(&self.run(&[
            "report",
            "sla",
            "--client",
            CLIENT,
            "--month",
            month,
            "--format",
            "json",
            "--evaluated-at",
            EVALUATED_AT,
        ]));
        serde_json::from_str(&text).unwrap()
    }

    /// Copies the ledger to `other` while no process has it open, replacing what `other` held.
    /// Committed events may still sit in the write-ahead log beside the file, which belongs to
    /// the copy too; the shared-memory index is rebuilt by the next opener. A PostgreSQL ledger
    /// is copied as a database created from it as a template.
    fn copy_to(&self, other: &Ledger) {
        if let (Some(from), Some(to)) = (&self.database_url, &other.database_url) {
            let from: tokio_postgres::Config = from.parse().unwrap();
            let to: tokio_postgres::Config = to.parse().unwrap();
            let (from, to) = (from.get_dbname().unwrap(), to.get_dbname().unwrap());
            // One statement per call: DROP and CREATE DATABASE refuse to run inside the
            // implicit transaction of a multi-statement batch.
            let admin = self.database_url.as_ref().unwrap();
            on_admin(admin, &format!("DROP DATABASE IF EXISTS {to}"));
            on_admin(admin, &format!("CREATE DATABASE {to} TEMPLATE {from}"));
            return;
        }
        let beside = |l: &Ledger, suffix: &str| {
            let mut name = l.file().into_os_string();
            name.push(suffix);
            PathBuf::from(name)
        };
        for suffix in ["-wal", "-shm"] {
            match std::fs::remove_file(beside(other, suffix)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("cannot replace the copy's {suffix}: {e}"),
            }
        }
        std::fs::copy(self.file(), other.file()).unwrap();
        if beside(self, "-wal").exists() {
            std::fs::copy(beside(self, "-wal"), beside(other, "-wal")).unwrap();
        }
    }

    /// The saved projection checkpoint, read from the file or the database itself.
    fn saved_checkpoint(&self) -> Option<i64> {
        if let Some(url) = &self.database_url {
            return block_on(async {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(connection);
                client
                    .query_opt("SELECT next_position FROM rm_checkpoint WHERE id = 0", &[])
                    .await
                    .unwrap()
                    .map(|row| row.get(0))
            });
        }
        let conn = rusqlite::Connection::open(self.file()).unwrap();
        conn.query_row(
            "SELECT next_position FROM rm_checkpoint WHERE id = 0",
            [],
            |r| r.get(0),
        )
        .ok()
    }

    /// (events, distinct event ids), read from the file or the database itself.
    fn id_counts(&self) -> (i64, i64) {
        if let Some(url) = &self.database_url {
            return block_on(async {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(connection);
                let row = client
                    .query_one("SELECT count(*), count(DISTINCT event_id) FROM events", &[])
                    .await
                    .unwrap();
                (row.get(0), row.get(1))
            });
        }
        let conn = rusqlite::Connection::open(self.file()).unwrap();
        conn.query_row(
            "SELECT count(*), count(DISTINCT event_id) FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    }
}

fn block_on<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(work)
}

/// The connection string of `config`, for `--database-url`.
fn key_value(config: &tokio_postgres::Config) -> String {
    let mut parts = Vec::new();
    if let Some(tokio_postgres::config::Host::Tcp(host)) = config.get_hosts().first() {
        parts.push(format!("host={host}"));
    }
    if let Some(port) = config.get_ports().first() {
        parts.push(format!("port={port}"));
    }
    if let Some(user) = config.get_user() {
        parts.push(format!("user={user}"));
    }
    if let Some(db) = config.get_dbname() {
        parts.push(format!("dbname={db}"));
    }
    parts.join(" ")
}

/// Runs `sql` on the server's maintenance database as the test superuser.
fn on_admin(url: &str, sql: &str) {
    let mut config: tokio_postgres::Config = url.parse().unwrap();
    config.dbname("postgres");
    block_on(async {
        let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client.batch_execute(sql).await.unwrap();
    });
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// SIGKILLs `child` (what `Child::kill` sends on Unix) and reaps it. Returns true if the
/// signal killed it, false if it had already finished, successfully.
fn kill9(child: &mut Child, what: &str) -> bool {
    use std::os::unix::process::ExitStatusExt;
    // Signalling a finished but unreaped child is harmless, and its status tells which it was.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    if status.signal() == Some(SIGKILL) {
        return true;
    }
    assert!(status.success(), "{what} failed: {status:?}");
    false
}

#[test]
fn an_import_killed_midway_is_finished_by_its_rerun() {
    import_killed_midway_is_finished_by_its_rerun(&Ledger::onboarded());
}

#[test]
fn an_import_into_postgres_killed_midway_is_finished_by_its_rerun() {
    import_killed_midway_is_finished_by_its_rerun(&Ledger::onboarded_on_postgres());
}

fn import_killed_midway_is_finished_by_its_rerun(ledger: &Ledger) {
    let input = ledger.write_queue_log("queue_log", CALLS);
    let total = 1 + events_for(CALLS);

    let mut import = ledger.spawn(&["import", "queue-log", "--client", CLIENT, &input]);
    let started = Instant::now();
    while ledger.events() < 1 + EVENTS_BEFORE_KILL {
        assert!(
            import.try_wait().unwrap().is_none(),
            "the import ended before {EVENTS_BEFORE_KILL} events were in"
        );
        assert!(
            started.elapsed() < STEP_LIMIT,
            "the import made no progress"
        );
        std::thread::sleep(POLL);
    }
    assert!(
        kill9(&mut import, "the import"),
        "the import finished before it could be killed; the test proves nothing"
    );

    // The kill left whole batches: some of the import, not all of it, and an intact chain.
    let recorded = ledger.events();
    assert!(
        recorded > EVENTS_BEFORE_KILL && recorded < total,
        "{recorded} of {total} events after the kill"
    );
    ledger.assert_intact(recorded);

    let rerun = ledger.import(&input);
    let expected = format!(
        "imported {} events ({} already recorded,",
        total - recorded,
        recorded - 1
    );
    assert!(rerun.contains(&expected), "{rerun}");
    assert_eq!(ledger.events(), total);
    let total_i64 = i64::try_from(total).unwrap();
    assert_eq!(ledger.id_counts(), (total_i64, total_i64));
    ledger.assert_intact(total);
    let again = ledger.import(&input);
    assert!(again.contains("imported 0 events"), "{again}");
}

/// Calls entering the queue in June, and of those how many were answered and abandoned.
fn june_calls() -> (u64, u64, u64) {
    let june: Vec<u64> = (0..CALLS)
        .filter(|c| entered_at(*c) < JULY_EPOCH_SECS)
        .collect();
    let abandoned_in_june = june.iter().filter(|c| abandoned(**c)).count();
    let offered = u64::try_from(june.len()).unwrap();
    let abandoned_in_june = u64::try_from(abandoned_in_june).unwrap();
    (offered, offered - abandoned_in_june, abandoned_in_june)
}

#[test]
fn a_rebuild_killed_midway_leaves_the_reports_of_a_clean_one() {
    rebuild_killed_midway_leaves_the_reports_of_a_clean_one(&Ledger::onboarded());
}

#[test]
fn a_rebuild_on_postgres_killed_midway_leaves_the_reports_of_a_clean_one() {
    rebuild_killed_midway_leaves_the_reports_of_a_clean_one(&Ledger::onboarded_on_postgres());
}

fn rebuild_killed_midway_leaves_the_reports_of_a_clean_one(ledger: &Ledger) {
    // Half the calls, then a report: the read model's rows are saved with a checkpoint half-way.
    let half = ledger.write_queue_log("queue_log-20220701", CALLS / 2);
    ledger.import(&half);
    ledger.sla("2022-06");
    let checkpoint = ledger
        .saved_checkpoint()
        .expect("the report saved read-model rows");
    assert_eq!(
        checkpoint,
        i64::try_from(1 + events_for(CALLS / 2)).unwrap()
    );
    let full = ledger.write_queue_log("queue_log", CALLS);
    ledger.import(&full);
    let total = 1 + events_for(CALLS);
    let total_i64 = i64::try_from(total).unwrap();
    assert_eq!(ledger.events(), total);

    // The reference: a copy of the same log, rebuilt from zero without interruption. It is
    // also how long a rebuild takes here, so that the kill can land early in one.
    let clean = ledger.sibling();
    ledger.copy_to(&clean);
    let started = Instant::now();
    ok(&clean.run(&["replay"]));
    let rebuild = started.elapsed();
    let june = clean.sla("2022-06");
    let july = clean.sla("2022-07");

    // The kill must land before the rebuild's final save, which timing alone cannot promise
    // on a loaded machine: each try starts from the same pristine copy and kills sooner.
    let pristine = ledger.sibling();
    ledger.copy_to(&pristine);
    let mut delay = rebuild / 3;
    let mut tries = 0u32;
    loop {
        tries += 1;
        let mut replay = ledger.spawn(&["replay"]);
        std::thread::sleep(delay);
        let killed = kill9(&mut replay, "the rebuild");
        // A rebuild first empties the rows (checkpoint 0), then commits a page of rows with
        // its checkpoint at a time, so a kill leaves a checkpoint anywhere from 0 to the head,
        // never one past what the rows cover.
        let saved = ledger.saved_checkpoint();
        assert!(
            saved.is_some_and(|s| (0..=total_i64).contains(&s)),
            "a killed rebuild left checkpoint {saved:?}"
        );
        if killed && saved != Some(total_i64) {
            break;
        }
        assert!(
            tries < REBUILD_KILL_TRIES,
            "{tries} rebuilds all finished before their kill; the test proves nothing"
        );
        pristine.copy_to(ledger);
        delay /= 2;
    }
    eprintln!("the rebuild was killed {delay:?} in, on try {tries}");
    ledger.assert_intact(total);
    assert_eq!(ledger.sla("2022-06"), june);
    assert_eq!(ledger.sla("2022-07"), july);
    assert_eq!(ledger.saved_checkpoint(), Some(total_i64));

    // Figures from the generator, independent of opsledger.
    let (offered, answered, abandoned_in_june) = june_calls();
    let raw = &june["calls"]["raw"];
    assert_eq!(raw["offered"], offered);
    assert_eq!(raw["answered"], answered);
    assert_eq!(raw["abandoned"], abandoned_in_june);
    assert_eq!(july["calls"]["raw"]["offered"], CALLS - offered);
}
