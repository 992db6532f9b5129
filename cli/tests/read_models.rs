//! The read model's fact rows, end to end on both backends: an edited row is named by `verify`,
//! `replay` replaces it whatever the checkpoint says, reports read only their client, and two
//! reports at once both succeed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn data(name: &str) -> PathBuf {
    repo()
        .join("../shared/data/asterisk-issabel-lab-2022")
        .join(name)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A ledger under test: a file in a temporary directory, or a fresh PostgreSQL database.
struct Ledger {
    dir: tempfile::TempDir,
    database_url: Option<String>,
}

impl Ledger {
    fn new(database_url: Option<String>) -> Self {
        let ledger = Self {
            dir: tempfile::tempdir().unwrap(),
            database_url,
        };
        ok(&ledger.run(&["init"]));
        let onboarding = repo().join("examples/lab-client.ndjson");
        ok(&ledger.run(&["record", "--file", onboarding.to_str().unwrap()]));
        let logs: Vec<String> = ["queue_log", "queue_log-20220707", "queue_log-20220801"]
            .iter()
            .map(|f| data(f).to_str().unwrap().to_owned())
            .collect();
        let mut args = vec!["import", "queue-log", "--client", "issabel-lab"];
        args.extend(logs.iter().map(String::as_str));
        ok(&ledger.run(&args));
        ledger
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_opsledger"));
        c.current_dir(self.dir.path()).env_remove("DATABASE_URL");
        match &self.database_url {
            Some(url) => c.arg("--database-url").arg(url),
            None => c.arg("--ledger").arg(self.dir.path().join("test.ledger")),
        };
        c.args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run opsledger")
    }

    fn sla(&self, month: &str) -> Value {
        let out = ok(&self.run(&[
            "report",
            "sla",
            "--client",
            "issabel-lab",
            "--month",
            month,
            "--evaluated-at",
            "2022-12-01T00:00:00Z",
            "--format",
            "json",
        ]));
        serde_json::from_str(&out).unwrap()
    }

    /// Runs SQL as the ledger's owner (the file's user, or the database owner): someone with
    /// direct access editing a row behind opsledger's back.
    fn tamper(&self, sql: &str) -> u64 {
        match &self.database_url {
            Some(url) => block_on(async {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(connection);
                client.execute(sql, &[]).await.unwrap()
            }),
            None => {
                let conn = rusqlite::Connection::open(self.dir.path().join("test.ledger")).unwrap();
                u64::try_from(conn.execute(sql, []).unwrap()).unwrap()
            }
        }
    }

    fn answered_row(&self) -> i64 {
        let sql = "SELECT min(position) FROM rm_fact WHERE kind = 'call.answered'";
        match &self.database_url {
            Some(url) => block_on(async {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(connection);
                client.query_one(sql, &[]).await.unwrap().get(0)
            }),
            None => {
                let conn = rusqlite::Connection::open(self.dir.path().join("test.ledger")).unwrap();
                conn.query_row(sql, [], |r| r.get(0)).unwrap()
            }
        }
    }
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

fn an_edited_row_is_named_by_verify_and_replaced_by_replay(ledger: &Ledger) {
    let before = ledger.sla("2022-07");
    assert!(ok(&ledger.run(&["verify"])).contains("identical"));
    let answered = ledger.answered_row();

    // Move the answer back to the call's connection: a slow answer made to look instant.
    let edited = ledger.tamper(&format!(
        "UPDATE rm_fact SET body = replace(body, '\"at\":\"2022-07', '\"at\":\"2021-07') \
         WHERE position = {answered}"
    ));
    assert_eq!(edited, 1);
    let out = ledger.run(&["verify"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("intact:")
            && stdout.contains(&format!(
                "read-model row at position {answered} differs from the log in `body`"
            )),
        "{stdout}"
    );

    // A row deleted, and one added past the log: each named.
    ledger.run(&["replay"]);
    ledger.tamper(&format!("DELETE FROM rm_fact WHERE position = {answered}"));
    let stdout = String::from_utf8_lossy(&ledger.run(&["verify"]).stdout).into_owned();
    assert!(
        stdout.contains(&format!(
            "read-model row for position {answered} is missing"
        )),
        "{stdout}"
    );

    // `replay` always replaces the rows, whatever the checkpoint, and the report is the
    // log's again.
    ok(&ledger.run(&["replay"]));
    assert!(ok(&ledger.run(&["verify"])).contains("identical"));
    assert_eq!(ledger.sla("2022-07"), before);
}

#[test]
fn an_edited_row_is_named_by_verify_and_replaced_by_replay_embedded() {
    an_edited_row_is_named_by_verify_and_replaced_by_replay(&Ledger::new(None));
}

#[test]
fn an_edited_row_is_named_by_verify_and_replaced_by_replay_on_postgres() {
    let url = block_on(opsledger_tests::pg::server().fresh_database());
    an_edited_row_is_named_by_verify_and_replaced_by_replay(&Ledger::new(Some(url)));
}

#[test]
fn two_reports_at_once_both_succeed_and_agree() {
    let ledger = Ledger::new(None);
    // No report has run yet: both processes find the rows behind and catch up together.
    let args = [
        "report",
        "sla",
        "--client",
        "issabel-lab",
        "--month",
        "2022-07",
        "--evaluated-at",
        "2022-12-01T00:00:00Z",
        "--format",
        "json",
    ];
    let spawn = || {
        ledger
            .command(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(ok(&a), ok(&b));
    assert!(ok(&ledger.run(&["verify"])).contains("identical"));
}

#[test]
fn an_as_of_position_report_reads_only_up_to_it_and_a_position_past_the_head_is_refused() {
    let ledger = Ledger::new(None);
    let whole = ledger.sla("2022-07");
    let out = ledger.run(&[
        "report",
        "sla",
        "--client",
        "issabel-lab",
        "--month",
        "2022-07",
        "--as-of-position",
        "18446744073709551615",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert_ne!(out.status.code(), Some(101), "no panic: {out:?}");
    // As of position 0 only the onboarding is known: no calls at all.
    let early = ok(&ledger.run(&[
        "report",
        "sla",
        "--client",
        "issabel-lab",
        "--month",
        "2022-07",
        "--as-of-position",
        "0",
        "--evaluated-at",
        "2022-12-01T00:00:00Z",
        "--format",
        "json",
    ]));
    let early: Value = serde_json::from_str(&early).unwrap();
    assert_eq!(early["calls"]["raw"]["offered"], 0);
    assert!(
        whole["calls"]["raw"]["offered"].as_u64().unwrap() > 0,
        "{whole}"
    );
}

#[test]
fn a_report_file_is_recomputed_from_the_log_and_an_edited_figure_is_named() {
    let ledger = Ledger::new(None);
    let path = ledger.dir.path().join("sla.json");
    let out = ledger.run(&[
        "report",
        "sla",
        "--client",
        "issabel-lab",
        "--month",
        "2022-07",
        "--evaluated-at",
        "2022-12-01T00:00:00Z",
        "--format",
        "json",
        "--out",
        path.to_str().unwrap(),
    ]);
    ok(&out);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let provenance = &report["provenance"];
    assert_eq!(provenance["request"]["report"], "sla");
    assert!(provenance["position"].as_u64().is_some());
    assert_eq!(provenance["head_hash"].as_str().unwrap().len(), 64);
    let stdout = ok(&ledger.run(&["verify", "--report", path.to_str().unwrap()]));
    assert!(stdout.starts_with("identical"), "{stdout}");

    // More events later do not matter: the report is recomputed up to its own position.
    let more = data("queue_log-20220901");
    ok(&ledger.run(&[
        "import",
        "queue-log",
        "--client",
        "issabel-lab",
        more.to_str().unwrap(),
    ]));
    assert!(
        ok(&ledger.run(&["verify", "--report", path.to_str().unwrap()])).starts_with("identical")
    );

    // An edited figure is named with both values.
    let mut edited = report.clone();
    let offered = edited["calls"]["raw"]["offered"].as_u64().unwrap();
    edited["calls"]["raw"]["offered"] = Value::from(offered + 1);
    std::fs::write(&path, serde_json::to_vec(&edited).unwrap()).unwrap();
    let out = ledger.run(&["verify", "--report", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "DIFFERS at /calls/raw/offered: the report says {}, the log gives {offered}",
            offered + 1
        )),
        "{stdout}"
    );

    // A report from another ledger is recognised by its head hash.
    let mut foreign = report;
    foreign["provenance"]["head_hash"] = Value::from("00".repeat(32));
    std::fs::write(&path, serde_json::to_vec(&foreign).unwrap()).unwrap();
    let out = ledger.run(&["verify", "--report", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("NOT THIS LEDGER"));
}
