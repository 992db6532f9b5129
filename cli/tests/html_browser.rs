//! The HTML views checked in a real browser: the demo ledger's SLA, obligations, billing and
//! timeline pages are opened in headless Chromium at 1280 and 390 px, and what the browser laid
//! out is asserted: the title names the client, the tiles say met or missed, the page never
//! scrolls sideways, every chart has axis titles, and no text spills out of its box.
//!
//! Chromium runs each page with a probe script appended to a copy of it (the pages themselves
//! carry no script); the probe measures the laid-out page and writes its findings into the DOM,
//! which `--dump-dom` prints. Chromium missing is a failure naming how to install it, never a
//! skip.

use std::process::{Command, Output};

use opsledger_tests::browser::{assert_laid_out, chromium, probe};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_opsledger");

fn run(args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run opsledger");
    assert!(
        out.status.success(),
        "opsledger {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_html_reports_read_well_in_a_real_browser() {
    let chromium = chromium();
    let version = Command::new(&chromium).arg("--version").output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "{} does not run: {version:?}",
        chromium.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    run(&["demo", "--out", demo.to_str().unwrap()]);
    let ledger = demo.join("demo.ledger");
    let ledger = ledger.to_str().unwrap();
    let (client, name, month) = ("northwind-hvac", "Northwind Heating & Cooling", "2026-10");

    let sla = demo.join(format!("{client}-{month}.sla.html"));
    let obligations = dir.path().join("obligations.html");
    let billing = dir.path().join("billing.html");
    let timeline = dir.path().join("timeline.html");
    run(&[
        "--ledger",
        ledger,
        "report",
        "obligations",
        "--client",
        client,
        "--month",
        month,
        "--format",
        "html",
        "--out",
        obligations.to_str().unwrap(),
    ]);
    run(&[
        "--ledger",
        ledger,
        "report",
        "billing",
        "--client",
        client,
        "--format",
        "html",
        "--out",
        billing.to_str().unwrap(),
    ]);
    // The timeline of a call that missed R-ESC-1, as the dispute would ask for it.
    let report: Value = serde_json::from_slice(
        &std::fs::read(demo.join(format!("{client}-{month}.obligations.json"))).unwrap(),
    )
    .unwrap();
    let call = report["obligations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["rule"] == "R-ESC-1" && o["verdict"]["verdict"] == "missed")
        .and_then(|o| o["subject"]["call_id"].as_str())
        .expect("the demo has an R-ESC-1 miss")
        .to_owned();
    let out = run(&[
        "--ledger",
        ledger,
        "timeline",
        &format!("call-{call}"),
        "--format",
        "html",
    ]);
    std::fs::write(&timeline, &out.stdout).unwrap();

    for width in [1280, 390] {
        let found = probe(dir.path(), &sla, width);
        assert_laid_out("SLA report", width, &found, name);
        let tiles = found["tiles"].as_array().unwrap();
        assert_eq!(tiles.len(), 5, "SLA tiles: {tiles:?}");
        for (tile, label) in tiles.iter().zip([
            "Service level",
            "Average speed of answer",
            "Abandon rate",
            "R-ANS-2 breaches",
            "QA coverage",
        ]) {
            let text = tile["text"].as_str().unwrap();
            assert!(text.starts_with(label), "tile {text:?} is not {label}");
        }
        let state = |i: usize| tiles[i]["text"].as_str().unwrap().to_owned();
        // Northwind's month has late answers and waits over 45 s, and enough reviews.
        assert!(
            state(0).contains("Missed"),
            "service level tile: {}",
            state(0)
        );
        assert!(state(3).contains("Missed"), "R-ANS-2 tile: {}", state(3));
        assert!(state(4).contains("Met"), "QA tile: {}", state(4));
        assert!(tiles[0]["cls"].as_str().unwrap().contains("missed"));
        let charts: Vec<&str> = found["charts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["label"].as_str().unwrap())
            .collect();
        assert_eq!(
            charts,
            [
                "wait-time distribution",
                "service level by day",
                "obligations by rule"
            ],
            "one drawing of each chart at {width} px"
        );

        let found = probe(dir.path(), &obligations, width);
        assert_laid_out("obligations", width, &found, name);
        let found = probe(dir.path(), &billing, width);
        assert_laid_out("billing", width, &found, name);
        assert_eq!(found["tiles"].as_array().unwrap().len(), 4);
        let found = probe(dir.path(), &timeline, width);
        assert_laid_out("timeline", width, &found, name);
    }

    // What the pages say, beyond the layout.
    let sla_html = std::fs::read_to_string(&sla).unwrap();
    assert!(!sla_html.contains("{\""), "raw JSON on the SLA page");
    assert!(
        sla_html.contains("America/"),
        "the SLA page names the client's zone"
    );
    assert!(
        sla_html.contains("head hash"),
        "the SLA page names the head it reflects"
    );
    assert!(
        !sla_html.contains("All queues"),
        "one queue, yet an All queues table"
    );
    assert!(
        sla_html.contains(&format!("call {call}")),
        "the misses name the R-ESC-1 call"
    );
}

#[test]
fn html_is_a_usage_error_where_no_html_view_exists() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("empty.ledger");
    let ledger = ledger.to_str().unwrap();
    run(&["--ledger", ledger, "init"]);
    for args in [
        vec!["events", "--format", "html"],
        vec![
            "report",
            "retention",
            "--client",
            "acme-dental",
            "--month",
            "2026-10",
            "--format",
            "html",
        ],
    ] {
        let out = Command::new(BIN)
            .args(["--ledger", ledger])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {stderr}");
        assert!(
            stderr.contains("report obligations") && stderr.contains("timeline"),
            "{args:?} does not say where HTML exists: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?} wrote output");
    }
}
