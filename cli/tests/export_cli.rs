//! End-to-end tests of `opsledger export` and `opsledger verify --bundle` on the built binary:
//! exit statuses, offline verification, and what a bundle file must never contain.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Exit status of a broken chain or a bundle that does not verify (see `cli/src/main.rs`).
const EXIT_CHAIN_BROKEN: i32 = 3;
/// Exit status of refused input.
const EXIT_DATA_ERROR: i32 = 65;
/// Text only the other client's events hold.
const SECRET: &str = "secret-of-globex";

/// A private directory for one test, removed when it ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("opsledger-export-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: a leftover directory in the temp dir harms nothing.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the binary on `ledger` with no PostgreSQL URL from the environment.
fn opsledger(ledger: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opsledger"))
        .env_remove("DATABASE_URL")
        .env_remove("OPSLEDGER_LEDGER")
        .arg("--ledger")
        .arg(ledger)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn assert_status(output: &Output, expected: i32) {
    assert_eq!(
        output.status.code(),
        Some(expected),
        "stdout: {}\nstderr: {}",
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Appends NDJSON lines: `n` events alternating between the target stream and another
/// client's stream, numbered from `first`.
fn append(scratch: &Scratch, ledger: &Path, first: u64, n: u64) {
    let mut lines = String::new();
    for k in first..first + n {
        let line = if k % 2 == 0 {
            serde_json::json!({
                "stream_id": "call-target",
                "event_id": uuid::Uuid::new_v4(),
                "event_type": "note.recorded",
                "schema_version": 1,
                "client_id": "acme",
                "occurred_at": "2026-10-01T09:00:00Z",
                "data": {"n": k, "queue": "500"},
            })
        } else {
            serde_json::json!({
                "stream_id": format!("call-other{k}"),
                "event_id": uuid::Uuid::new_v4(),
                "event_type": "note.recorded",
                "schema_version": 1,
                "client_id": "globex",
                "occurred_at": "2026-10-01T09:00:00Z",
                "data": {"caller": format!("{SECRET}-{k}")},
            })
        };
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    let file = scratch.path(&format!("events-{first}.ndjson"));
    std::fs::write(&file, lines).unwrap();
    assert_status(
        &opsledger(
            ledger,
            &[
                "append",
                "--allow-foreign-types",
                "--file",
                file.to_str().unwrap(),
            ],
        ),
        0,
    );
}

/// `position P hash H recorded_at T` as printed by `opsledger head`.
fn head(ledger: &Path) -> (u64, String) {
    let output = opsledger(ledger, &["head"]);
    assert_status(&output, 0);
    let text = stdout(&output);
    let words: Vec<&str> = text.split_whitespace().collect();
    assert_eq!((words[0], words[2]), ("position", "hash"), "{text}");
    (words[1].parse().unwrap(), words[3].to_owned())
}

#[test]
fn export_then_verify_offline_and_catch_tampering() {
    let scratch = Scratch::new();
    let ledger = scratch.path("ops.ledger");
    assert_status(&opsledger(&ledger, &["init"]), 0);
    append(&scratch, &ledger, 0, 6);
    let (noted_position, noted_hash) = head(&ledger);
    append(&scratch, &ledger, 6, 6);

    let bundle = scratch.path("bundle.json");
    let bundle_arg = bundle.to_str().unwrap();
    let output = opsledger(
        &ledger,
        &[
            "export",
            "--out",
            bundle_arg,
            "--stream",
            "call-target",
            "--cover-from",
            &noted_position.to_string(),
        ],
    );
    assert_status(&output, 0);
    assert!(
        stdout(&output).contains("6 events disclosed"),
        "{}",
        stdout(&output)
    );
    let text = std::fs::read_to_string(&bundle).unwrap();
    assert!(
        !text.contains(SECRET),
        "the bundle leaks the other client's data"
    );
    assert!(!text.contains("globex"));

    // Verification never opens a ledger: the named one does not exist.
    let nowhere = scratch.path("no-such.ledger");
    let output = opsledger(&nowhere, &["verify", "--bundle", bundle_arg]);
    assert_status(&output, 0);
    assert!(
        stdout(&output).starts_with("intact:"),
        "{}",
        stdout(&output)
    );
    assert!(!nowhere.exists());
    let noted = format!("{noted_position}:{noted_hash}");
    let output = opsledger(
        &nowhere,
        &[
            "verify",
            "--bundle",
            bundle_arg,
            "--noted-head",
            &noted,
            "--json",
        ],
    );
    assert_status(&output, 0);
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["status"], "intact");
    assert_eq!(report["disclosed"], 6);
    let wrong = format!("{}:{noted_hash}", noted_position - 1);
    let output = opsledger(
        &nowhere,
        &["verify", "--bundle", bundle_arg, "--noted-head", &wrong],
    );
    assert_status(&output, EXIT_CHAIN_BROKEN);
    assert!(stdout(&output).contains("does not extend the noted head"));

    // An existing file is not replaced without --force.
    let again = opsledger(
        &ledger,
        &["export", "--out", bundle_arg, "--stream", "call-target"],
    );
    assert_status(&again, 1);
    assert_eq!(std::fs::read_to_string(&bundle).unwrap(), text);

    // Alter the data of the disclosed event at position 6.
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entries = value["entries"].as_array_mut().unwrap();
    let event = entries
        .iter_mut()
        .find(|e| e["disclosed"]["global_position"] == 6)
        .unwrap();
    event["disclosed"]["data"] = serde_json::json!(r#"{"n":6,"queue":"999"}"#);
    let tampered = scratch.path("tampered.json");
    std::fs::write(&tampered, value.to_string()).unwrap();
    let tampered_arg = tampered.to_str().unwrap();
    let output = opsledger(&nowhere, &["verify", "--bundle", tampered_arg]);
    assert_status(&output, EXIT_CHAIN_BROKEN);
    assert!(
        stdout(&output).starts_with("BROKEN at position 6:"),
        "{}",
        stdout(&output)
    );
    let output = opsledger(&nowhere, &["verify", "--bundle", tampered_arg, "--json"]);
    assert_status(&output, EXIT_CHAIN_BROKEN);
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["status"], "broken");
    assert_eq!(report["position"], 6);
    assert_eq!(report["reason"]["chain"]["kind"], "hash_mismatch");

    // An added field is an altered bundle; a file that is no bundle at all is refused input.
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["verdicts_proven"] = serde_json::json!(true);
    std::fs::write(&tampered, value.to_string()).unwrap();
    assert_status(
        &opsledger(&nowhere, &["verify", "--bundle", tampered_arg]),
        EXIT_CHAIN_BROKEN,
    );
    std::fs::write(&tampered, "not json").unwrap();
    assert_status(
        &opsledger(&nowhere, &["verify", "--bundle", tampered_arg]),
        EXIT_DATA_ERROR,
    );
}
