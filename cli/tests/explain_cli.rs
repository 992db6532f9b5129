//! `opsledger explain` end to end on the embedded backend: a recorded R-ESC-1 miss is answered
//! by one command (rule, value source position, due, "missed by", evidence in two streams),
//! the bare call id `report obligations` prints works in `timeline` and `explain`, an unknown
//! id gets the accepted forms, and the rendered screen matches its snapshot
//! (`tests/snapshots/explain_esc1.txt`; `UPDATE_SNAPSHOTS=1` rewrites it).

mod support;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use support::{ledger_with, ok, repo, run};

const JUDGED_AT: &str = "2026-11-01T00:00:00Z";

fn dispute_ledger() -> tempfile::TempDir {
    ledger_with("dispute-esc1.ndjson")
}

/// The screen's form of an instant, as `explain` prints it (client zone, then UTC).
fn when(at: DateTime<Utc>, zone: Tz) -> String {
    let local = at.with_timezone(&zone);
    let utc = if local.date_naive() == at.date_naive() {
        at.format("%H:%M:%S")
    } else {
        at.format("%Y-%m-%d %H:%M:%S")
    };
    format!("{} ({utc} UTC)", local.format("%Y-%m-%d %H:%M:%S %Z"))
}

/// The screen with what depends on the day the test runs (recorded instants, and the head
/// hash, which chains them) replaced by placeholders.
fn redacted(screen: &str, json: &Value) -> String {
    let zone: Tz = json["time_zone"].as_str().unwrap().parse().unwrap();
    let mut out = screen.to_owned();
    for event in json["events"].as_array().unwrap() {
        let recorded: DateTime<Utc> = event["recorded_at"].as_str().unwrap().parse().unwrap();
        out = out.replace(
            &format!("recorded {}", when(recorded, zone)),
            "recorded <recorded>",
        );
    }
    out.replace(json["head_hash"].as_str().unwrap(), "<head hash>")
}

#[test]
fn one_command_explains_a_recorded_esc1_miss() {
    let dir = dispute_ledger();
    let dir = dir.path();
    // The call id as `report obligations` prints it, bare.
    let report: Value = serde_json::from_str(&ok(&run(
        dir,
        &[
            "report",
            "obligations",
            "--client",
            "harbor-clinic",
            "--month",
            "2026-10",
            "--evaluated-at",
            JUDGED_AT,
            "--format",
            "json",
        ],
    )))
    .unwrap();
    let esc1 = report["obligations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["rule"] == "R-ESC-1")
        .expect("an R-ESC-1 obligation");
    let call_id = esc1["subject"]["call_id"].as_str().unwrap().to_owned();
    assert_eq!(call_id, "hc-0001");
    let table = ok(&run(
        dir,
        &[
            "report",
            "obligations",
            "--client",
            "harbor-clinic",
            "--month",
            "2026-10",
            "--evaluated-at",
            JUDGED_AT,
        ],
    ));
    assert!(table.contains(&call_id), "the table prints the call id");

    // That id works in `timeline` as printed.
    let timeline = ok(&run(
        dir,
        &["timeline", &call_id, "--evaluated-at", JUDGED_AT],
    ));
    assert!(timeline.contains("call-hc-0001"), "{timeline}");

    // And in `explain`, whole or as one obligation.
    let whole = ok(&run(
        dir,
        &["explain", &call_id, "--evaluated-at", JUDGED_AT],
    ));
    for rule in ["R-ANS-1", "R-ANS-2", "R-ESC-1"] {
        assert!(whole.contains(rule), "{rule} missing from\n{whole}");
    }
    let asked = format!("R-ESC-1:{call_id}");
    let screen = ok(&run(dir, &["explain", &asked, "--evaluated-at", JUDGED_AT]));
    for expected in [
        "R-ESC-1  urgent escalation initiated",
        "value in force   2 min",
        "agreement amendment esc-2min (a rule override) at position 1",
        "due              2026-10-06 14:06:00 BST (13:06:00 UTC)",
        "verdict          missed by 3 min 12 s",
        "evidence         #4 call-hc-0001, #7 escalation-esc-hc-0001",
        "times in Europe/London",
    ] {
        assert!(
            screen.contains(expected),
            "{expected:?} missing from\n{screen}"
        );
    }
    let json: Value = serde_json::from_str(&ok(&run(
        dir,
        &[
            "explain",
            &asked,
            "--evaluated-at",
            JUDGED_AT,
            "--format",
            "json",
        ],
    )))
    .unwrap();
    assert_eq!(
        json["obligations"][0]["value_source"]["event"]["position"],
        1
    );
    assert_eq!(
        json["obligations"][0]["obligation"]["verdict"]["by"]["amount"],
        192
    );

    let snapshot = repo().join("cli/tests/snapshots/explain_esc1.txt");
    let got = redacted(&screen, &json);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&snapshot, &got).unwrap();
    }
    let want = std::fs::read_to_string(&snapshot).expect("the snapshot (UPDATE_SNAPSHOTS=1)");
    assert_eq!(got, want, "the screen differs from {}", snapshot.display());
}

#[test]
fn an_unknown_id_gets_the_accepted_forms() {
    let dir = dispute_ledger();
    for command in ["explain", "timeline"] {
        let out = run(dir.path(), &[command, "hc-9999"]);
        assert!(!out.status.success(), "{command} accepted an unknown id");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("accepted forms"), "{command}: {stderr}");
        assert!(!stderr.contains("panicked"), "{command}: {stderr}");
    }
}
