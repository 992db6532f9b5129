//! Every read path of the binary with `--read-only` on a hot standby, after appends on the
//! primary: `head` (with the replica's lag), `events`, `timeline`, `report`, `verify` and
//! `export`, each giving what the primary gives. A standby cannot be written, so reports there
//! fold the stored read-model rows plus the log past their checkpoint, writing nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use opsledger_tests::pg::replica::pair;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn data(name: &str) -> String {
    repo()
        .join("../shared/data/asterisk-issabel-lab-2022")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Runs the binary on the database at `url`, read-only when asked.
fn run(dir: &Path, url: &str, read_only: bool, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_opsledger"));
    c.current_dir(dir)
        .env_remove("DATABASE_URL")
        .arg("--database-url")
        .arg(url);
    if read_only {
        c.arg("--read-only");
    }
    c.args(args).output().expect("run opsledger")
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

const SLA: [&str; 10] = [
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

#[test]
fn every_read_path_runs_read_only_on_the_standby_and_agrees_with_the_primary() {
    let pair = pair();
    let (primary, standby) = block_on(pair.fresh_database());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    ok(&run(dir, &primary, false, &["init"]));
    let onboarding = repo().join("examples/lab-client.ndjson");
    ok(&run(
        dir,
        &primary,
        false,
        &["record", "--file", onboarding.to_str().unwrap()],
    ));
    let first = data("queue_log-20220707");
    ok(&run(
        dir,
        &primary,
        false,
        &["import", "queue-log", "--client", "issabel-lab", &first],
    ));
    // A report on the primary writes the read model's rows up to here; the next import then
    // leaves a log tail past their checkpoint, which the standby must fold itself.
    let before_tail = ok(&run(dir, &primary, false, &SLA));
    let second = data("queue_log-20220801");
    ok(&run(
        dir,
        &primary,
        false,
        &["import", "queue-log", "--client", "issabel-lab", &second],
    ));
    block_on(pair.wait_for_replay());

    // Opening the standby without --read-only would migrate: refused, naming the way out.
    let refused = run(dir, &standby, false, &["head"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("standby") && stderr.contains("--read-only"),
        "{stderr}"
    );

    // head: the position the standby can see, which after replay is the primary's, and the
    // replica's own lines.
    let primary_head = ok(&run(dir, &primary, false, &["head"]));
    let standby_head = ok(&run(dir, &standby, true, &["head"]));
    let first_line = |text: &str| text.lines().next().unwrap_or_default().to_owned();
    assert_eq!(first_line(&standby_head), first_line(&primary_head));
    assert!(
        !primary_head.contains("replica:"),
        "a primary reports no lag: {primary_head}"
    );
    let position = first_line(&primary_head)
        .split_whitespace()
        .nth(1)
        .expect("the head names its position")
        .to_owned();
    assert!(
        standby_head.contains(&format!("replica: last position visible here: {position}")),
        "{standby_head}"
    );
    assert!(
        standby_head.contains("replica: WAL received"),
        "{standby_head}"
    );

    // events: the same log.
    let events_args = ["events", "--limit", "1000000"];
    let on_primary = ok(&run(dir, &primary, false, &events_args));
    let on_standby = ok(&run(dir, &standby, true, &events_args));
    let recorded = on_primary.lines().count();
    assert!(
        recorded > 30,
        "the imports recorded calls: {recorded} events"
    );
    assert_eq!(on_standby, on_primary);

    // timeline of one call.
    let call_stream = on_primary
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find_map(|e| {
            let stream = e["stream_id"].as_str()?.to_owned();
            stream.starts_with("call-").then_some(stream)
        })
        .expect("a call was recorded");
    let timeline = [
        "timeline",
        &call_stream,
        "--evaluated-at",
        "2022-12-01T00:00:00Z",
        "--format",
        "json",
    ];
    assert_eq!(
        ok(&run(dir, &standby, true, &timeline)),
        ok(&run(dir, &primary, false, &timeline))
    );

    // report: the standby folds rows plus the tail before the primary catches its rows up,
    // and then both agree.
    let standby_report = ok(&run(dir, &standby, true, &SLA));
    let primary_report = ok(&run(dir, &primary, false, &SLA));
    // The provenance names the position and hash the report reflects, so it must agree too.
    assert_eq!(standby_report, primary_report);
    let json = |text: &str| serde_json::from_str::<Value>(text).expect("the report is JSON");
    assert_ne!(
        json(&standby_report)["provenance"],
        json(&before_tail)["provenance"],
        "the report on the standby reflects the tail past the rows' checkpoint"
    );

    // verify: the chain and the read-model rows the standby holds.
    let verified = ok(&run(dir, &standby, true, &["verify"]));
    assert!(verified.contains("intact"), "{verified}");

    // export: a bundle written from the standby verifies offline.
    let bundle = dir.join("bundle.json");
    let bundle_arg = bundle.to_str().unwrap();
    ok(&run(
        dir,
        &standby,
        true,
        &["export", "--out", bundle_arg, "--stream", &call_stream],
    ));
    let checked = Command::new(env!("CARGO_BIN_EXE_opsledger"))
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .args(["verify", "--bundle", bundle_arg])
        .output()
        .expect("run opsledger");
    ok(&checked);
}
