//! Output people and jobs can trust, checked on the built binary: `events` says when it stops
//! at its limit and prints `data` as JSON, and a reader that closes the pipe early ends every
//! command quietly with status 0.

mod support;

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;

use serde_json::Value;

/// A ledger with the lab client onboarded and its July 2022 queue log imported.
use support::{bin, ledger_with, ok, repo, run};

fn lab_ledger() -> tempfile::TempDir {
    let dir = ledger_with("lab-client.ndjson");
    let queue_log = repo().join("../shared/data/asterisk-issabel-lab-2022/queue_log-20220801");
    ok(&run(
        dir.path(),
        &[
            "import",
            "queue-log",
            "--client",
            "issabel-lab",
            queue_log.to_str().unwrap(),
        ],
    ));
    dir
}

/// The demo's ledger and what `demo` printed, made once for every test of this file (it
/// takes a while).
fn demo() -> &'static (tempfile::TempDir, String) {
    static DEMO: OnceLock<(tempfile::TempDir, String)> = OnceLock::new();
    DEMO.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("demo");
        let printed = ok(&bin()
            .current_dir(dir.path())
            .args(["demo", "--out", out.to_str().unwrap()])
            .output()
            .unwrap());
        // The tests run with `--ledger <dir>/test.ledger`, as on the lab ledger.
        std::fs::rename(out.join("demo.ledger"), dir.path().join("test.ledger")).unwrap();
        (dir, printed)
    })
}

fn demo_ledger() -> &'static Path {
    demo().0.path()
}

#[test]
fn the_demo_narrative_says_what_its_reports_say() {
    let printed = &demo().1;
    // "QA reviewed 6 of 87 answered calls": the same figures as the table's R-QA-1 column.
    let note = printed
        .lines()
        .find(|l| l.contains("QA reviewed"))
        .unwrap_or_else(|| panic!("{printed}"));
    let figures = note
        .split("QA reviewed ")
        .nth(1)
        .and_then(|rest| rest.split(" answered").next())
        .unwrap();
    let row = printed
        .lines()
        .find(|l| l.contains("whitfield-legal") && l.contains(" of "))
        .unwrap_or_else(|| panic!("{printed}"));
    assert!(row.contains(&format!("{figures} (")), "{figures} in {row}");
    // The hint runs the same judgement as the table, whatever today is.
    let next = printed.lines().find(|l| l.starts_with("next: ")).unwrap();
    assert!(next.contains("--evaluated-at 2026-11-"), "{next}");
}

#[test]
fn the_demo_lists_its_credentials_window_once() {
    // Issue 16 derives the missing-credentials window from the credentials' expiry and
    // restoration; the demo recorded one of its own beside it, so Thames listed two.
    let report: Value = serde_json::from_str(&ok(&run(
        demo_ledger(),
        &[
            "report",
            "obligations",
            "--client",
            "thames-property",
            "--month",
            "2026-10",
            "--evaluated-at",
            "2026-11-11T00:00:00Z",
            "--format",
            "json",
        ],
    )))
    .unwrap();
    let windows = report["excused_windows"].as_array().unwrap();
    let credentials: Vec<&Value> = windows
        .iter()
        .filter(|w| w["cause"] == "missing_credentials")
        .collect();
    assert_eq!(credentials.len(), 1, "{windows:#?}");
    assert_eq!(windows.len(), 2, "credentials and the outage: {windows:#?}");
}

#[test]
fn clients_lists_each_client_with_name_zone_plan_and_standing() {
    let dir = demo_ledger();
    let table = ok(&run(dir, &["clients", "--at", "2026-11-10T00:00:00Z"]));
    assert!(table.starts_with("5 clients"), "{table}");
    for expected in [
        "acme-dental",
        "Acme Family Dental",
        "America/New_York",
        "professional",
        "whitfield-legal",
        "terminated",
    ] {
        assert!(table.contains(expected), "{expected} in\n{table}");
    }
    let json: Value = serde_json::from_str(&ok(&run(
        dir,
        &[
            "clients",
            "--format",
            "json",
            "--at",
            "2026-11-10T00:00:00Z",
        ],
    )))
    .unwrap();
    let clients = json["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 5);
    let acme = clients
        .iter()
        .find(|c| c["client_id"] == "acme-dental")
        .unwrap();
    assert_eq!(acme["standing"], "active");
    assert_eq!(acme["time_zone"], "America/New_York");
    assert!(
        acme["last_event"]["position"].as_u64().unwrap()
            > acme["first_event"]["position"].as_u64().unwrap()
    );
    let csv = ok(&run(dir, &["clients", "--format", "csv"]));
    assert_eq!(
        csv.lines().count(),
        6,
        "a header and one row per client:\n{csv}"
    );

    // One client is one client.
    let lab = lab_ledger();
    let one = ok(&run(lab.path(), &["clients"]));
    assert!(one.starts_with("1 client "), "{one}");
}

#[test]
fn all_clients_gives_one_report_per_client_and_refuses_forms_that_would_run_together() {
    let dir = demo_ledger();
    let json: Value = serde_json::from_str(&ok(&run(
        dir,
        &[
            "report",
            "billing",
            "--all-clients",
            "--format",
            "json",
            "--evaluated-at",
            "2026-11-10T00:00:00Z",
        ],
    )))
    .unwrap();
    let reports = json["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 5);
    let mut clients: Vec<&str> = reports
        .iter()
        .map(|r| r["provenance"]["request"]["client"].as_str().unwrap())
        .collect();
    clients.sort_unstable();
    assert_eq!(
        clients,
        [
            "acme-dental",
            "indus-telehealth",
            "northwind-hvac",
            "thames-property",
            "whitfield-legal"
        ]
    );
    let refused = run(
        dir,
        &["report", "billing", "--all-clients", "--format", "csv"],
    );
    assert_eq!(refused.status.code(), Some(64), "{refused:?}");
    assert!(refused.stdout.is_empty());
    let both = run(
        dir,
        &[
            "report",
            "billing",
            "--all-clients",
            "--client",
            "acme-dental",
        ],
    );
    assert_eq!(both.status.code(), Some(2), "clap refuses both: {both:?}");
}

/// One client's JSON report is written as it is serialized (its obligations one at a time);
/// `--all-clients` still builds each report as one JSON value. Printed alone, that value must
/// be byte for byte the one-client document: same keys in the same order, same layout.
#[test]
fn a_json_report_prints_the_bytes_of_its_whole_json_value() {
    let dir = demo_ledger();
    for kind in ["obligations", "sla", "billing", "retention"] {
        let mut args = vec!["report", kind];
        if kind != "billing" {
            args.extend(["--month", "2026-10"]);
        }
        args.extend(["--format", "json", "--evaluated-at", "2026-11-10T00:00:00Z"]);
        let mut all = args.clone();
        all.push("--all-clients");
        let mut one = args.clone();
        one.extend(["--client", "thames-property"]);
        let all: Value = serde_json::from_str(&ok(&run(dir, &all))).unwrap();
        let whole = all["reports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["provenance"]["request"]["client"] == "thames-property")
            .unwrap();
        let printed = ok(&run(dir, &one));
        if kind == "obligations" {
            assert!(
                whole["obligations"].as_array().unwrap().len() > 10,
                "the demo month has obligations to splice"
            );
        }
        assert_eq!(
            printed,
            format!("{}\n", serde_json::to_string_pretty(whole).unwrap()),
            "report {kind}"
        );
    }
}

#[test]
fn events_say_when_they_stop_at_the_limit_and_print_data_as_json() {
    let dir = lab_ledger();
    let cut = run(dir.path(), &["events", "--limit", "2"]);
    let lines: Vec<Value> = ok(&cut)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for event in &lines {
        assert!(event["data"].is_object(), "data is an object: {event}");
        assert!(event["event_type"].is_string());
    }
    let note = String::from_utf8_lossy(&cut.stderr);
    assert!(
        note.contains("stopped at the limit of 2 events; more follow from position 2"),
        "{note}"
    );

    let document: Value = serde_json::from_str(&ok(&run(
        dir.path(),
        &["events", "--limit", "1", "--format", "json"],
    )))
    .unwrap();
    assert_eq!(document["truncated"], true);
    assert_eq!(document["next_position"], 1);
    assert_eq!(document["events"].as_array().unwrap().len(), 1);
    assert!(document["events"][0]["data"].is_object());

    // Everything fits: nothing is said to be missing.
    let whole = run(dir.path(), &["events", "--format", "json"]);
    let document: Value = serde_json::from_str(&ok(&whole)).unwrap();
    assert_eq!(document["truncated"], false);
    assert_eq!(document["next_position"], Value::Null);
    assert!(document["events"].as_array().unwrap().len() > 2);
    assert!(whole.stderr.is_empty(), "{:?}", whole.stderr);

    let table = ok(&run(
        dir.path(),
        &["events", "--format", "table", "--limit", "3"],
    ));
    assert!(table.contains(" UTC"), "{table}");
    assert!(
        !table.contains("+00:00"),
        "instants to the second, zone named:\n{table}"
    );
}

/// Runs a command whose reader has gone before it writes anything.
fn with_closed_pipe(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut child = bin()
        .current_dir(dir)
        .arg("--ledger")
        .arg(dir.join("test.ledger"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (child.wait().unwrap().code(), stderr)
}

#[test]
fn a_closed_pipe_ends_every_command_quietly_with_status_0() {
    let dir = lab_ledger();
    for args in [
        &["events"][..],
        &["events", "--format", "table"],
        &["events", "--format", "csv"],
        &["timeline", "client-issabel-lab"],
        &[
            "timeline",
            "client-issabel-lab",
            "--format",
            "csv",
            "--section",
            "events",
        ],
        &[
            "report",
            "sla",
            "--client",
            "issabel-lab",
            "--month",
            "2022-07",
        ],
        &[
            "report",
            "obligations",
            "--client",
            "issabel-lab",
            "--month",
            "2022-07",
            "--format",
            "json",
        ],
        &["head"],
        &["verify"],
    ] {
        let (code, stderr) = with_closed_pipe(dir.path(), args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
    }
}

fn widest_line(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn report_and_timeline_tables_are_summaries_in_words_not_flattened_json() {
    let dir = demo_ledger();
    let at = "2026-11-10T00:00:00Z";
    let sla = ok(&run(
        dir,
        &[
            "report",
            "sla",
            "--client",
            "thames-property",
            "--month",
            "2026-10",
            "--evaluated-at",
            at,
        ],
    ));
    assert!(
        sla.starts_with("Thames Lettings & Property (thames-property)"),
        "{sla}"
    );
    assert!(sla.contains("Europe/London"), "{sla}");
    assert!(
        sla.contains("service level (R-ANS-1)") && sla.contains(" %"),
        "{sla}"
    );
    assert!(
        !sla.contains("rules.R-") && !sla.contains("_ms"),
        "no flattened keys:\n{sla}"
    );
    assert!(
        sla.lines().count() < 80,
        "a summary, not hundreds of rows:\n{sla}"
    );
    assert!(widest_line(&sla) <= 160, "{sla}");

    let obligations = ok(&run(
        dir,
        &[
            "report",
            "obligations",
            "--client",
            "acme-dental",
            "--month",
            "2026-10",
            "--evaluated-at",
            at,
        ],
    ));
    // Billing and retention: the standing first, money with its currency, times in words; no
    // flattened keys, raw minor units or instants to the nanosecond.
    let billing = ok(&run(
        dir,
        &[
            "report",
            "billing",
            "--client",
            "indus-telehealth",
            "--evaluated-at",
            at,
        ],
    ));
    assert!(
        billing.contains("(indus-telehealth) · billing"),
        "{billing}"
    );
    let standing = billing.find("status").expect("a status");
    let invoices = billing.find("invoices in issue order").expect("invoices");
    assert!(standing < invoices, "the standing comes first:\n{billing}");
    for expected in [
        "balance outstanding",
        "liability cap (R-LIA-1)",
        " PKR",
        "past due",
    ] {
        assert!(billing.contains(expected), "{expected} in\n{billing}");
    }
    assert!(
        !billing.contains("amount_minor") && !billing.contains("invoices.evidence"),
        "no flattened keys:\n{billing}"
    );
    assert!(widest_line(&billing) <= 160, "{billing}");
    let retention = ok(&run(
        dir,
        &[
            "report",
            "retention",
            "--client",
            "whitfield-legal",
            "--month",
            "2026-10",
            "--evaluated-at",
            at,
        ],
    ));
    for expected in [
        "took effect 2026-10-16",
        "confidentiality (R-RET-3)",
        "legal hold",
        "America/Chicago",
        "deletions due in 2026-10",
    ] {
        assert!(retention.contains(expected), "{expected} in\n{retention}");
    }
    assert!(
        !retention.contains("held_by") && !retention.contains("T05:00:00"),
        "no flattened keys or raw instants:\n{retention}"
    );
    assert!(retention.lines().count() < 60, "a summary:\n{retention}");
    assert!(widest_line(&retention) <= 160, "{retention}");

    let (summary, misses) = obligations
        .split_once("not met (times in America/New_York)")
        .unwrap();
    assert!(summary.contains("obligations by rule"), "{summary}");
    assert!(misses.contains("missed by "), "{misses}");
    assert!(
        !misses.contains("│ met"),
        "only what was not met is listed:\n{misses}"
    );
    assert!(
        !obligations.contains("{\""),
        "no raw JSON cells:\n{obligations}"
    );
    assert!(
        !obligations.contains(".000000"),
        "instants to the second:\n{obligations}"
    );
    assert!(
        widest_line(&obligations) <= 200,
        "{}",
        widest_line(&obligations)
    );

    let esc = ok(&run(
        dir,
        &[
            "report",
            "obligations",
            "--client",
            "thames-property",
            "--month",
            "2026-10",
            "--evaluated-at",
            at,
            "--rule",
            "R-ESC-3",
            "--verdict",
            "missed",
        ],
    ));
    let listed: Vec<&str> = esc.lines().filter(|l| l.starts_with("│ R-")).collect();
    assert!(listed.iter().all(|l| l.starts_with("│ R-ESC-3")), "{esc}");
    assert!(esc.contains("obligations missed"), "{esc}");

    // Filters choose what a table shows; the machine forms are the whole report.
    let refused = run(
        dir,
        &[
            "report",
            "obligations",
            "--client",
            "thames-property",
            "--month",
            "2026-10",
            "--rule",
            "R-ESC-3",
            "--format",
            "json",
        ],
    );
    assert_eq!(refused.status.code(), Some(64), "{refused:?}");

    let timeline = ok(&run(
        dir,
        &["timeline", "client-acme-dental", "--evaluated-at", at],
    ));
    assert!(timeline.contains("times in America/New_York"), "{timeline}");
    assert!(
        !timeline.contains("{\""),
        "the agreement is summarised:\n{timeline}"
    );
    assert!(widest_line(&timeline) <= 200, "{timeline}");
}

/// Reads a CSV file into its header and rows.
fn csv_file(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>());
    let header = lines.next().unwrap();
    (header, lines.collect())
}

#[test]
fn csv_is_one_file_per_section_or_refused_and_loses_nothing() {
    let dir = demo_ledger();
    let at = "2026-11-10T00:00:00Z";
    // Several sections cannot share one CSV document: refused, nothing printed.
    let refused = run(
        dir,
        &[
            "report",
            "sla",
            "--client",
            "thames-property",
            "--month",
            "2026-10",
            "--format",
            "csv",
            "--evaluated-at",
            at,
        ],
    );
    assert_eq!(refused.status.code(), Some(64), "{refused:?}");
    assert!(refused.stdout.is_empty());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("--out-dir") && message.contains("excused_windows"),
        "{message}"
    );

    // The SLA report of a client with excused windows: every section, not just that one.
    let out = tempfile::tempdir().unwrap();
    ok(&run(
        dir,
        &[
            "report",
            "sla",
            "--client",
            "thames-property",
            "--month",
            "2026-10",
            "--format",
            "csv",
            "--evaluated-at",
            at,
            "--out-dir",
            out.path().to_str().unwrap(),
        ],
    ));
    let json: Value = serde_json::from_str(&ok(&run(
        dir,
        &[
            "report",
            "sla",
            "--client",
            "thames-property",
            "--month",
            "2026-10",
            "--format",
            "json",
            "--evaluated-at",
            at,
        ],
    )))
    .unwrap();
    let (header, rows) = csv_file(&out.path().join("report.csv"));
    assert_eq!(rows.len(), 1);
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name} in {header:?}"))
    };
    assert_eq!(
        rows[0][column("calls.raw.offered")],
        json["calls"]["raw"]["offered"].to_string()
    );
    let (_, windows) = csv_file(&out.path().join("excused_windows.csv"));
    assert_eq!(
        windows.len(),
        json["excused_windows"].as_array().unwrap().len()
    );
    let (rules_header, rules) = csv_file(&out.path().join("rules.csv"));
    assert_eq!(rules.len(), json["rules"].as_object().unwrap().len());
    assert!(rules_header.starts_with(&["row".to_owned(), "key".to_owned()]));
    for file in std::fs::read_dir(out.path()).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        assert!(!text.contains("see below"), "{text}");
    }

    // Billing: the balance, status and liability cap are there, beside the invoices.
    let billing = tempfile::tempdir().unwrap();
    ok(&run(
        dir,
        &[
            "report",
            "billing",
            "--client",
            "whitfield-legal",
            "--format",
            "csv",
            "--evaluated-at",
            at,
            "--out-dir",
            billing.path().to_str().unwrap(),
        ],
    ));
    let (header, _) = csv_file(&billing.path().join("report.csv"));
    for figure in [
        "balance.amount_minor",
        "status",
        "liability_cap.fees_paid.amount_minor",
        "default_notices",
    ] {
        assert!(header.iter().any(|h| h == figure), "{figure} in {header:?}");
    }
    let (_, invoices) = csv_file(&billing.path().join("invoices.csv"));
    let (evidence_header, evidence) = csv_file(&billing.path().join("invoices.evidence.csv"));
    assert!(!invoices.is_empty() && evidence.len() >= invoices.len());
    assert_eq!(evidence_header[1], "parent_row");

    // One section on standard output when asked for by name.
    let obligations = ok(&run(
        dir,
        &[
            "report",
            "obligations",
            "--client",
            "acme-dental",
            "--month",
            "2026-10",
            "--format",
            "csv",
            "--section",
            "obligations",
            "--evaluated-at",
            at,
        ],
    ));
    assert!(obligations.starts_with("row,"), "{obligations}");
    let unknown = run(
        dir,
        &[
            "report",
            "billing",
            "--client",
            "acme-dental",
            "--format",
            "csv",
            "--section",
            "nope",
        ],
    );
    assert_eq!(unknown.status.code(), Some(64));

    // Every client's sections, one directory each.
    let all = tempfile::tempdir().unwrap();
    ok(&run(
        dir,
        &[
            "report",
            "billing",
            "--all-clients",
            "--format",
            "csv",
            "--out-dir",
            all.path().to_str().unwrap(),
        ],
    ));
    assert!(all.path().join("indus-telehealth/report.csv").exists());
}

#[test]
fn the_readme_lists_the_commands_help_lists_and_help_describes_each() {
    let help = ok(&bin().arg("--help").output().unwrap());
    let from_help: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    assert!(from_help.len() > 10, "{help}");
    assert!(
        !help.contains("query ") && !help.contains(" query,"),
        "no `query` command: {help}"
    );
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let from_readme: Vec<String> = readme
        .lines()
        .skip_while(|l| *l != "### Commands")
        .skip(1)
        .take_while(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("- `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    assert_eq!(
        from_readme, from_help,
        "README's command list and --help differ"
    );
    for word in ["opsledger query", "`query`"] {
        assert!(!readme.contains(word), "README names {word}");
    }
    // `--read-only` belongs to the commands that only read.
    let append_help = ok(&bin().args(["append", "--help"]).output().unwrap());
    assert!(!append_help.contains("--read-only"), "{append_help}");
    let refused = bin().args(["--read-only", "init"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(64), "{refused:?}");
    let import_help = ok(&bin().args(["import", "--help"]).output().unwrap());
    let demo_help = ok(&bin().args(["demo", "--help"]).output().unwrap());
    assert!(
        import_help.starts_with("Import call records"),
        "{import_help}"
    );
    assert!(
        demo_help.starts_with("Record a realistic month"),
        "{demo_help}"
    );
}

#[test]
fn a_timeline_in_json_has_data_objects_and_in_csv_tidy_sections() {
    let dir = lab_ledger();
    let json: Value = serde_json::from_str(&ok(&run(
        dir.path(),
        &["timeline", "client-issabel-lab", "--format", "json"],
    )))
    .unwrap();
    let events = json["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["data"].is_object()), "{json}");
    let refused = run(
        dir.path(),
        &["timeline", "client-issabel-lab", "--format", "csv"],
    );
    assert_eq!(refused.status.code(), Some(64), "{refused:?}");
    let csv = ok(&run(
        dir.path(),
        &[
            "timeline",
            "client-issabel-lab",
            "--format",
            "csv",
            "--section",
            "events",
        ],
    ));
    assert_eq!(csv.lines().count(), events.len() + 1, "{csv}");
    assert!(csv.starts_with("row,"), "{csv}");
}
