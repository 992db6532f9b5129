//! `opsledger explain` end to end on the embedded backend: a recorded R-ESC-1 miss is answered
//! by one command (rule, value source position, due, "missed by", evidence in two streams),
//! the bare call id `report obligations` prints works in `timeline` and `explain`, an unknown
//! id gets the accepted forms, and the rendered screen matches its snapshot
//! (`tests/snapshots/explain_esc1.txt`; `UPDATE_SNAPSHOTS=1` rewrites it); and on a demo
//! ledger, every obligation id `report obligations` prints (JSON, CSV, table) is explained as
//! that very obligation and taken by `timeline`.

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

/// The demo's clients, in onboarding order.
const DEMO_CLIENTS: [&str; 5] = [
    "acme-dental",
    "northwind-hvac",
    "thames-property",
    "whitfield-legal",
    "indus-telehealth",
];

const DEMO_JUDGED_AT: &str = "2026-11-11T00:00:00Z";

/// Every obligation `report obligations` prints for the demo ledger carries its id `RULE:SUBJECT`
/// in JSON, CSV and (for those not met) the table, and `explain` and `timeline` accept each one
/// as printed, answering about that very obligation.
#[test]
fn every_obligation_id_the_demo_reports_print_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // One call per client per day keeps the run short; the demo's story (misses, suspension,
    // termination, legal hold, coverage gap, …) is recorded whatever the volume.
    ok(&support::bin()
        .current_dir(dir)
        .args(["demo", "--calls-per-client-per-day", "1", "--out", "demo"])
        .output()
        .unwrap());
    let ledger = dir.join("demo/demo.ledger");
    let report = |client: &str, extra: &[&str]| {
        let mut args = vec![
            "--ledger",
            ledger.to_str().unwrap(),
            "report",
            "obligations",
            "--client",
            client,
            "--month",
            "2026-10",
            "--evaluated-at",
            DEMO_JUDGED_AT,
        ];
        args.extend_from_slice(extra);
        ok(&support::bin()
            .current_dir(dir)
            .args(&args)
            .output()
            .unwrap())
    };
    let mut ids: Vec<(String, String)> = Vec::new();
    for client in DEMO_CLIENTS {
        let json: Value = serde_json::from_str(&report(client, &["--format", "json"])).unwrap();
        let obligations = json["obligations"].as_array().unwrap();
        let table = report(client, &[]);
        let csv = report(client, &["--format", "csv", "--section", "obligations"]);
        let mut rows = csv::Reader::from_reader(csv.as_bytes());
        let column = rows
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "id")
            .expect("the obligations CSV has an id column");
        let csv_ids: Vec<String> = rows
            .records()
            .map(|r| r.unwrap()[column].to_owned())
            .collect();
        let json_ids: Vec<String> = obligations
            .iter()
            .map(|o| {
                o["id"]
                    .as_str()
                    .expect("every obligation has an id")
                    .to_owned()
            })
            .collect();
        assert_eq!(csv_ids, json_ids, "{client}: CSV and JSON ids differ");
        for o in obligations {
            let id = o["id"].as_str().unwrap();
            assert!(
                id.starts_with(&format!("{}:", o["rule"].as_str().unwrap())),
                "{id} does not start with its rule"
            );
            if !matches!(
                o["verdict"]["verdict"].as_str(),
                Some("met" | "not_applicable")
            ) {
                assert!(
                    table.contains(id),
                    "{client}: the table does not print {id}"
                );
            }
            ids.push((
                id.to_owned(),
                o["verdict"]["verdict"].as_str().unwrap().to_owned(),
            ));
        }
    }
    let unique: std::collections::BTreeSet<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(unique.len(), ids.len(), "an id names two obligations");
    // The SLA report's coverage gaps print the ids of their R-COV-1 obligations.
    let sla: Value = serde_json::from_str(&ok(&support::bin()
        .current_dir(dir)
        .args([
            "--ledger",
            ledger.to_str().unwrap(),
            "report",
            "sla",
            "--client",
            "northwind-hvac",
            "--month",
            "2026-10",
            "--evaluated-at",
            DEMO_JUDGED_AT,
            "--format",
            "json",
        ])
        .output()
        .unwrap()))
    .unwrap();
    let gaps = sla["coverage_gaps"].as_array().unwrap();
    assert!(!gaps.is_empty(), "the demo plants a coverage gap");
    for gap in gaps {
        let id = gap["id"].as_str().unwrap();
        assert!(unique.contains(id), "the gap's {id} is no obligation's");
    }
    // Every kind of subject the catalog judges is among them.
    for form in [
        "/2026-10",
        "/2026-Q4",
        "/tier-",
        "/suspension@",
        "/termination@",
        "Z/20",
    ] {
        assert!(
            ids.iter().any(|(id, _)| id.contains(form)),
            "no id of the form {form:?} among {} ids",
            ids.len()
        );
    }

    let target = opsledger_app::Target::File(ledger);
    let basis = opsledger_app::report::Basis {
        evaluated_at: Some(DEMO_JUDGED_AT.parse().unwrap()),
        ..Default::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let clock = opsledger_app::SystemClock;
        let quiet = opsledger_app::NoProgress;
        for (id, verdict) in &ids {
            let e = opsledger_app::explain::explain(&target, id, &basis, &clock, &quiet)
                .await
                .unwrap_or_else(|err| panic!("explain {id}: {err}"));
            assert_eq!(
                e.obligations.len(),
                1,
                "explain {id} answers about one obligation"
            );
            let o = &e.obligations[0].obligation;
            assert_eq!(&o.id, id, "explain {id} answered about another obligation");
            let judged = serde_json::to_value(&o.verdict).unwrap();
            assert_eq!(
                judged["verdict"],
                verdict.as_str(),
                "explain {id} judges differently"
            );
        }
        // Timeline shows the story of the id's record (or, for a client-level obligation, its
        // client's stream), once per form of subject.
        let mut forms = std::collections::BTreeSet::new();
        for (id, _) in &ids {
            let rule = id.split_once(':').map_or("", |(r, _)| r);
            let form = id.rsplit_once('/').map_or("record", |(_, scope)| {
                scope.split(['@', '-']).next().unwrap_or("")
            });
            if !forms.insert((rule.to_owned(), form.to_owned())) {
                continue;
            }
            let t = opsledger_app::timeline::timeline(&target, id, None, &clock, &quiet)
                .await
                .unwrap_or_else(|err| panic!("timeline {id}: {err}"));
            assert!(!t.events.is_empty(), "timeline {id} is empty");
        }
    });
}
