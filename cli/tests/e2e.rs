//! End-to-end tests of the built `opsledger` binary on the embedded backend: imports of the
//! real files in `../shared/data`, reports checked against figures computed independently from
//! those files, tampering caught by `verify`, and bad input refused with nothing appended.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;

use support::{bin, ledger_with, ok, repo, run};

fn data(name: &str) -> PathBuf {
    repo()
        .join("../shared/data/asterisk-issabel-lab-2022")
        .join(name)
}

const QUEUE_LOGS: [&str; 5] = [
    "queue_log",
    "queue_log-20220707",
    "queue_log-20220801",
    "queue_log-20220901",
    "queue_log-20221005",
];

/// A ledger with the lab client onboarded.
fn lab_ledger() -> tempfile::TempDir {
    ledger_with("lab-client.ndjson")
}

fn import_queue_logs(dir: &Path) -> String {
    let mut args = vec![
        "import".to_owned(),
        "queue-log".into(),
        "--client".into(),
        "issabel-lab".into(),
    ];
    args.extend(QUEUE_LOGS.iter().map(|f| data(f).display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&run(dir, &args))
}

fn head_position(dir: &Path) -> String {
    ok(&run(dir, &["head"]))
}

fn sla(dir: &Path, month: &str) -> Value {
    let text = ok(&run(
        dir,
        &[
            "report",
            "sla",
            "--client",
            "issabel-lab",
            "--month",
            month,
            "--format",
            "json",
        ],
    ));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn real_asterisk_files_import_once_and_give_the_independent_sla_figures() {
    let dir = lab_ledger();
    let first = import_queue_logs(dir.path());
    // 33 calls: 33 connected + 3 answered + 30 abandoned + 3 completed.
    assert!(first.contains("imported 69 events"), "{first}");
    let again = import_queue_logs(dir.path());
    assert!(
        again.contains("imported 0 events (69 already recorded"),
        "{again}"
    );

    // The CDRs describe the same 33 queue calls; the ledger keeps the queue log's account.
    let cdr = ok(&run(
        dir.path(),
        &[
            "import",
            "cdr",
            "--client",
            "issabel-lab",
            "--zone",
            "UTC",
            data("Master.csv").to_str().unwrap(),
        ],
    ));
    assert!(cdr.contains("imported 0 events"), "{cdr}");
    assert!(
        cdr.contains("736 records read, 33 queue calls (33 already in the ledger"),
        "{cdr}"
    );

    // Figures computed from the raw files, independently of opsledger:
    //   cat queue_log-2022* queue_log | tr -d '\000' | awk -F'|' '$5=="ABANDON"||$5=="CONNECT"{...}'
    // by UTC month: July 30 entered, 3 CONNECT (holdtime 5, 6, 6), 27 ABANDON, longest wait
    // 83 s, 4 waits over 45 s (50, 70, 82, 83); September 1 (abandoned after 7 s);
    // October 2 (abandoned, longest 20 s).
    let july = sla(dir.path(), "2022-07");
    let raw = &july["calls"]["raw"];
    assert_eq!(raw["offered"], 30);
    assert_eq!(raw["answered"], 3);
    assert_eq!(raw["abandoned"], 27);
    assert_eq!(raw["answered_within_target"], 3);
    assert_eq!(raw["average_speed_of_answer_ms"], 5667);
    assert_eq!(raw["longest_wait_ms"], 83_000);
    assert_eq!(raw["max_queue_breaches"], 4);
    assert_eq!(raw["average_talk_ms"], 7333);
    assert_eq!(raw["service_level_basis_points"], 1000);
    let september = sla(dir.path(), "2022-09");
    assert_eq!(september["calls"]["raw"]["offered"], 1);
    assert_eq!(september["calls"]["raw"]["abandoned"], 1);
    assert_eq!(september["calls"]["raw"]["longest_wait_ms"], 7000);
    let october = sla(dir.path(), "2022-10");
    assert_eq!(october["calls"]["raw"]["offered"], 2);
    assert_eq!(october["calls"]["raw"]["longest_wait_ms"], 20_000);
    assert_eq!(sla(dir.path(), "2022-08")["calls"]["raw"]["offered"], 0);

    // The same report as CSV (one file per section) and as a self-contained HTML page.
    let csv_dir = dir.path().join("sla-csv");
    ok(&run(
        dir.path(),
        &[
            "report",
            "sla",
            "--client",
            "issabel-lab",
            "--month",
            "2022-07",
            "--format",
            "csv",
            "--out-dir",
            csv_dir.to_str().unwrap(),
        ],
    ));
    let figures = std::fs::read_to_string(csv_dir.join("report.csv")).unwrap();
    assert_eq!(figures.lines().count(), 2, "{figures}");
    let rules = std::fs::read_to_string(csv_dir.join("rules.csv")).unwrap();
    assert!(rules.lines().any(|l| l.contains("R-ANS-1")), "{rules}");
    let html_path = dir.path().join("sla.html");
    ok(&run(
        dir.path(),
        &[
            "report",
            "sla",
            "--client",
            "issabel-lab",
            "--month",
            "2022-07",
            "--format",
            "html",
            "--out",
            html_path.to_str().unwrap(),
        ],
    ));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("<svg") && html.contains("R-ANS-1") && html.contains("R-ANS-2"));
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
}

#[test]
fn a_tampered_ledger_fails_verify_naming_the_position() {
    let dir = lab_ledger();
    import_queue_logs(dir.path());
    assert!(ok(&run(dir.path(), &["verify"])).starts_with("intact: 70 events"));
    {
        let conn = rusqlite::Connection::open(dir.path().join("test.ledger")).unwrap();
        // What someone with the file and a SQLite shell could do: drop the guard and edit.
        conn.execute_batch(
            "DROP TRIGGER events_refuse_update;
             UPDATE events SET occurred_at = occurred_at - 60000000 WHERE global_position = 10;",
        )
        .unwrap();
    }
    let out = run(dir.path(), &["verify"]);
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("BROKEN at position 10"), "{stdout}");
}

#[test]
fn bad_input_is_refused_with_its_place_named_and_nothing_appended() {
    let dir = lab_ledger();
    let before = head_position(dir.path());
    let bad = dir.path().join("queue_log-bad");
    // A good call, then a line whose timestamp is not a number.
    std::fs::write(
        &bad,
        "1658129431|1658129428.1048|500|NONE|ENTERQUEUE||1001|1\n\
         1658129459|1658129428.1048|500|NONE|ABANDON|1|1|28\n\
         16581x9500|1658129499.1|500|NONE|ENTERQUEUE||1001|1\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &[
            "import",
            "queue-log",
            "--client",
            "issabel-lab",
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("queue_log-bad:3") && stderr.contains("timestamp"),
        "{stderr}"
    );
    assert_eq!(head_position(dir.path()), before, "nothing may be appended");

    // With --skip-invalid the good call goes in and the bad line is reported.
    let out = ok(&run(
        dir.path(),
        &[
            "import",
            "queue-log",
            "--client",
            "issabel-lab",
            "--skip-invalid",
            bad.to_str().unwrap(),
        ],
    ));
    assert!(
        out.contains("imported 2 events") && out.contains("skipped"),
        "{out}"
    );

    // A CDR file with the wrong number of columns, and binary junk.
    let wrong = dir.path().join("wrong.csv");
    std::fs::write(&wrong, "\"a\",\"b\",\"c\"\n").unwrap();
    let out = run(
        dir.path(),
        &[
            "import",
            "cdr",
            "--client",
            "issabel-lab",
            wrong.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 1"),
        "{out:?}"
    );
    let junk = dir.path().join("junk.csv");
    std::fs::write(&junk, [0xff, 0xfe, 0x00, 0x9f, b'\n', 0xc3, 0x28]).unwrap();
    let out = run(
        dir.path(),
        &[
            "import",
            "csv",
            "--client",
            "issabel-lab",
            "--mapping",
            "anonymous-bank",
            junk.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    let after = head_position(dir.path());
    let out = run(
        dir.path(),
        &[
            "import",
            "cdr",
            "--client",
            "issabel-lab",
            junk.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    assert_eq!(head_position(dir.path()), after);

    // Envelopes of a type opsledger does not know, or of a schema version from the future,
    // are refused with the field named, and nothing is appended.
    let envelopes = dir.path().join("envelopes.ndjson");
    for (line, field) in [
        (
            r#"{"stream_id":"note-1","event_id":"6f1c2a0e-0000-4000-8000-000000000001","event_type":"made.up","schema_version":1,"occurred_at":"2026-10-01T09:00:00Z","data":{}}"#,
            "event_type",
        ),
        (
            r#"{"stream_id":"call-x","event_id":"6f1c2a0e-0000-4000-8000-000000000002","event_type":"call.connected","schema_version":9,"occurred_at":"2026-10-01T09:00:00Z","data":{}}"#,
            "newer than this build",
        ),
    ] {
        std::fs::write(&envelopes, format!("{line}\n")).unwrap();
        let out = run(
            dir.path(),
            &["append", "--file", envelopes.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(65), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("envelopes.ndjson:1") && stderr.contains(field),
            "{stderr}"
        );
        assert_eq!(head_position(dir.path()), after);
    }

    // A call for a client the ledger does not know is refused by the domain, naming why.
    let out = run(
        dir.path(),
        &[
            "import",
            "queue-log",
            "--client",
            "nobody",
            data("queue_log").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused"),
        "{out:?}"
    );
    assert_eq!(head_position(dir.path()), after);
}

#[test]
fn the_demo_records_a_month_reports_it_and_proves_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let stdout = ok(&bin()
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .args(["demo", "--out", out.to_str().unwrap()])
        .output()
        .unwrap());
    assert!(
        stdout.contains("every fact decided by the domain"),
        "{stdout}"
    );
    assert!(stdout.contains("Refused, as the ledger must"), "{stdout}");
    assert!(stdout.contains("verify: intact"), "{stdout}");
    for client in [
        "acme-dental",
        "northwind-hvac",
        "thames-property",
        "whitfield-legal",
        "indus-telehealth",
    ] {
        let html = std::fs::read_to_string(out.join(format!("{client}-2026-10.sla.html"))).unwrap();
        assert!(html.contains("<svg") && !html.contains("<script") && !html.contains("https://"));
        let obligations: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(format!("{client}-2026-10.obligations.json")))
                .unwrap(),
        )
        .unwrap();
        assert!(!obligations["obligations"].as_array().unwrap().is_empty());
    }
    // Each client's reports are published as its own read models: a month's SLA and
    // obligations, billing and retention, for five clients.
    let published = ok(&bin()
        .args([
            "--ledger",
            out.join("demo.ledger").to_str().unwrap(),
            "publish",
            "--evaluated-at",
            "2026-11-10T00:00:00Z",
        ])
        .output()
        .unwrap());
    assert!(
        published.starts_with("published 20 read models for 5 clients"),
        "{published}"
    );
    // The bundle it wrote verifies offline, without the ledger.
    let bundle = out.join("evidence-bundle.json");
    let verified = bin()
        .args([
            "--ledger",
            "/nonexistent/ledger",
            "verify",
            "--bundle",
            bundle.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(verified.status.success(), "{verified:?}");
    // Running it again replaces the demo instead of failing or doubling it.
    let again = ok(&bin()
        .current_dir(dir.path())
        .args(["demo", "--out", out.to_str().unwrap()])
        .output()
        .unwrap());
    let first_head = stdout
        .lines()
        .find(|l| l.starts_with("verify:"))
        .unwrap()
        .to_owned();
    let second_head = again
        .lines()
        .find(|l| l.starts_with("verify:"))
        .unwrap()
        .to_owned();
    assert_eq!(
        first_head
            .split("position")
            .nth(1)
            .map(|s| s.split_whitespace().next()),
        second_head
            .split("position")
            .nth(1)
            .map(|s| s.split_whitespace().next())
    );
}

/// Runs an import with `--format json` and returns its summary.
fn import_json(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let text = ok(&run(dir, &all));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn disposition_sum(summary: &Value) -> u64 {
    summary["dispositions"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum()
}

#[test]
fn every_import_accounts_for_every_row_and_the_report_file_names_each_line() {
    let dir = lab_ledger();
    let report = dir.path().join("rows.tsv");
    let mut args = vec![
        "queue-log".to_owned(),
        "--client".into(),
        "issabel-lab".into(),
        "--report-file".into(),
        report.display().to_string(),
    ];
    args.extend(QUEUE_LOGS.iter().map(|f| data(f).display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let summary = import_json(dir.path(), &args);
    assert_eq!(summary["rows_read"], 923, "{summary}");
    assert_eq!(disposition_sum(&summary), 923);
    assert_eq!(summary["dispositions"]["imported"], 69);
    assert_eq!(summary["calls"], 33);
    assert_eq!(summary["ledger"]["appended"], 69);

    // One line per row, and each named line holds the event it is listed for.
    let rows = std::fs::read_to_string(&report).unwrap();
    let rows: Vec<&str> = rows.lines().skip(1).collect();
    assert_eq!(rows.len(), 923);
    for row in rows {
        let [place, disposition, detail] =
            <[&str; 3]>::try_from(row.split('\t').collect::<Vec<_>>()).unwrap();
        let (file, line) = place.rsplit_once(':').unwrap();
        let bytes: Vec<u8> = std::fs::read(file)
            .unwrap()
            .into_iter()
            .filter(|b| *b != 0)
            .collect();
        let text = String::from_utf8(bytes).unwrap();
        let physical = text
            .split('\n')
            .nth(line.parse::<usize>().unwrap() - 1)
            .unwrap();
        let event = detail.split(',').next().unwrap();
        assert!(
            physical.split('|').nth(4) == Some(event),
            "{place} ({disposition}) is {physical:?}, not {event}"
        );
    }

    // Importing again adds nothing, and says so in the same table.
    let mut text_args = vec!["import"];
    text_args.extend_from_slice(&args);
    let again = ok(&run(dir.path(), &text_args));
    assert!(
        again.contains("imported 0 events (69 already recorded"),
        "{again}"
    );
    assert!(
        again.contains("923 rows read: 33 calls") && again.contains("not_queue_call"),
        "{again}"
    );

    // Facts the ledger refuses (no client "nobody") are counted and listed by row.
    let mut nobody = vec![
        "queue-log",
        "--client",
        "nobody",
        "--skip-invalid",
        "--report-file",
        report.to_str().unwrap(),
    ];
    let files: Vec<String> = QUEUE_LOGS
        .iter()
        .map(|f| data(f).display().to_string())
        .collect();
    nobody.extend(files.iter().map(String::as_str));
    let refused = import_json(dir.path(), &nobody);
    assert_eq!(disposition_sum(&refused), 923, "{refused}");
    assert_eq!(
        refused["dispositions"]["refused_by_ledger"], 69,
        "{refused}"
    );
    assert_eq!(refused["ledger"]["appended"], 0);
    let listed = std::fs::read_to_string(&report).unwrap();
    assert_eq!(listed.matches("\trefused_by_ledger\t").count(), 69);

    // The CDRs: every record accounted for, the queue calls superseded by the queue log.
    let master = data("Master.csv");
    let cdr = import_json(
        dir.path(),
        &["cdr", "--client", "issabel-lab", master.to_str().unwrap()],
    );
    assert_eq!(cdr["rows_read"], 736);
    assert_eq!(disposition_sum(&cdr), 736);
    assert_eq!(cdr["dispositions"]["superseded"], 33);
}

/// An Anonymous Bank row of 1 July 2022 (after the lab client's onboarding).
fn bank_row(vru_line: &str, call_id: &str, q_exit: &str, outcome: &str, ser: [&str; 2]) -> String {
    let server = if outcome == "AGENT" {
        "DORIT"
    } else {
        "NO_SERVER"
    };
    format!(
        "{vru_line}\t{call_id}\t0\t1\tPS\t220701\t9:00:00\t9:00:05\t5\t9:00:05\t{q_exit}\t0\t{outcome}\t{}\t{}\t0\t{server}\n",
        ser[0], ser[1]
    )
}

const BANK_HEADER: &str = "vru+line\tcall_id\tcustomer_id\tpriority\ttype\tdate\tvru_entry\tvru_exit\tvru_time\tq_start\tq_exit\tq_time\toutcome\tser_start\tser_exit\tser_time\tserver\n";

#[test]
fn anonymous_bank_calls_sharing_a_call_id_are_kept_and_conflicts_are_named() {
    let dir = lab_ledger();
    let file = dir.path().join("bank.txt");
    // Lines 2-3: call 500 on two lines; line 4: line 2 again; line 5: served 1 s before its
    // queue entry; line 6: served without a service start.
    let rows = [
        bank_row("AA0101", "500", "9:00:09", "AGENT", ["9:00:09", "9:03:00"]),
        bank_row("AA0102", "500", "9:00:30", "HANG", ["0:00:00", "0:00:00"]),
        bank_row("AA0101", "500", "9:00:09", "AGENT", ["9:00:09", "9:03:00"]),
        bank_row("AA0103", "501", "9:00:05", "AGENT", ["9:00:04", "9:02:00"]),
        bank_row("AA0104", "502", "9:00:20", "AGENT", ["0:00:00", "0:00:00"]),
    ];
    std::fs::write(&file, format!("{BANK_HEADER}{}", rows.concat())).unwrap();
    let args = [
        "csv",
        "--client",
        "issabel-lab",
        "--mapping",
        "anonymous-bank",
        file.to_str().unwrap(),
    ];
    let summary = import_json(dir.path(), &args);
    assert_eq!(summary["rows_read"], 5, "{summary}");
    assert_eq!(disposition_sum(&summary), 5);
    assert_eq!(summary["calls"], 4);
    let d = &summary["dispositions"];
    assert_eq!(
        (
            &d["imported"],
            &d["exact_repeat"],
            &d["clamped"],
            &d["answered_without_service_start"]
        ),
        (
            &Value::from(2),
            &Value::from(1),
            &Value::from(1),
            &Value::from(1)
        )
    );
    // Re-importing adds nothing.
    let again = import_json(dir.path(), &args);
    assert_eq!(again["ledger"]["appended"], 0, "{again}");

    // The same file edited afterwards: call AA0101/500 now answered two seconds earlier. Its
    // events keep their ids, so the store alone would keep the first version without a word;
    // the import refuses it naming the line, or counts it as a conflicting repeat.
    let mut edited = rows.clone();
    edited[0] = bank_row("AA0101", "500", "9:00:09", "AGENT", ["9:00:07", "9:03:00"]);
    edited[2] = edited[0].clone();
    std::fs::write(&file, format!("{BANK_HEADER}{}", edited.concat())).unwrap();
    let before = head_position(dir.path());
    let mut refused_args = vec!["import"];
    refused_args.extend_from_slice(&args);
    let out = run(dir.path(), &refused_args);
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bank.txt:2") && stderr.contains("conflicts with the ledger"),
        "{stderr}"
    );
    assert_eq!(head_position(dir.path()), before);
    let mut skipping_args = args.to_vec();
    skipping_args.push("--skip-invalid");
    let summary = import_json(dir.path(), &skipping_args);
    assert_eq!(disposition_sum(&summary), 5, "{summary}");
    assert_eq!(
        summary["dispositions"]["conflicting_repeat"], 1,
        "{summary}"
    );
    assert_eq!(summary["ledger"]["appended"], 0, "{summary}");
    assert_eq!(head_position(dir.path()), before);

    // The same identity with another outcome is refused, naming both lines.
    let conflicting = dir.path().join("conflict.txt");
    std::fs::write(
        &conflicting,
        format!(
            "{BANK_HEADER}{}{}",
            bank_row("AA0201", "600", "9:00:09", "AGENT", ["9:00:09", "9:03:00"]),
            bank_row("AA0201", "600", "9:00:30", "HANG", ["0:00:00", "0:00:00"]),
        ),
    )
    .unwrap();
    let before = head_position(dir.path());
    let conflict_args = [
        "import",
        "csv",
        "--client",
        "issabel-lab",
        "--mapping",
        "anonymous-bank",
        conflicting.to_str().unwrap(),
    ];
    let out = run(dir.path(), &conflict_args);
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("line 2"),
        "{stderr}"
    );
    assert_eq!(head_position(dir.path()), before);
    let mut skipping = conflict_args[1..].to_vec();
    skipping.push("--skip-invalid");
    let summary = import_json(dir.path(), &skipping);
    assert_eq!(
        summary["dispositions"]["conflicting_repeat"], 1,
        "{summary}"
    );
    assert_eq!(summary["dispositions"]["imported"], 1);
}
