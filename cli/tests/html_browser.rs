//! The HTML views checked in a real browser: the demo ledger's SLA, obligations, billing and
//! timeline pages are opened in headless Chromium at 1280 and 390 px, and what the browser laid
//! out is asserted: the title names the client, the tiles say met or missed, the page never
//! scrolls sideways, every chart has axis titles, and no text spills out of its box.
//!
//! Chromium runs each page with a probe script appended to a copy of it (the pages themselves
//! carry no script); the probe measures the laid-out page and writes its findings into the DOM,
//! which `--dump-dom` prints. Chromium missing is a failure naming how to install it, never a
//! skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_opsledger");

/// A page holding the report in a frame of the width under test (a headless window cannot be
/// made narrower than 500 px, a frame can), and the probe that measures the report once it
/// is laid out and writes its findings into the DOM for `--dump-dom`.
const WRAPPER: &str = r#"<!doctype html><html><body style="margin:0">
<iframe id=page src="PAGE" style="width:WIDTHpx;height:900px;border:0"></iframe>
<script>
window.addEventListener('load', function () {
  const w = document.getElementById('page').contentWindow;
  const d = w.document;
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1 || w.getComputedStyle(el).visibility === 'hidden') return false;
    // Visually hidden headers (kept for screen readers) sit in a 1 px box: not text to read.
    for (let a = el.parentElement; a; a = a.parentElement) {
      const ar = a.getBoundingClientRect();
      if (ar.width <= 1 || ar.height <= 1) return false;
    }
    return true;
  };
  const describe = (el) => (el.tagName + ' ' + (el.textContent || '').trim().slice(0, 60));
  const out = {
    title: d.title,
    innerWidth: w.innerWidth,
    docScrollWidth: d.documentElement.scrollWidth,
    bodyScrollWidth: d.body.scrollWidth,
    tiles: [...d.querySelectorAll('.tile')].map((t) => ({
      cls: t.className,
      text: t.textContent.trim(),
    })),
    charts: [],
    clipped: [],
    outside: [],
  };
  for (const fig of d.querySelectorAll('figure.chart')) {
    const svgs = [...fig.querySelectorAll('svg')].filter(visible);
    for (const svg of svgs) {
      const box = svg.getBoundingClientRect();
      const x = svg.querySelector('.axis-title.x');
      const y = svg.querySelector('.axis-title.y');
      out.charts.push({
        label: svg.getAttribute('aria-label'),
        x: x ? x.textContent : null,
        y: y ? y.textContent : null,
        ticks: svg.querySelectorAll('.tick').length,
        legend: fig.querySelectorAll('.legend li').length,
      });
      for (const t of svg.querySelectorAll('text')) {
        const r = t.getBoundingClientRect();
        if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1) {
          out.clipped.push('svg text cut at the chart edge: ' + describe(t));
        }
      }
    }
    if (svgs.length !== 1) out.clipped.push('chart shows ' + svgs.length + ' drawings: ' + describe(fig));
  }
  const texty = 'h1,h2,p,li,td,th,caption,figcaption,summary,dt,dd,.tile-label,.tile-figure,.tile-state';
  for (const el of d.querySelectorAll(texty)) {
    if (!visible(el)) continue;
    if (el.scrollWidth > el.clientWidth + 1) out.clipped.push('text overflows its box: ' + describe(el));
    const r = el.getBoundingClientRect();
    if (r.right > w.innerWidth + 1) out.outside.push('beyond the window: ' + describe(el));
  }
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script></body></html>"#;

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("OPSLEDGER_CHROMIUM") {
        return PathBuf::from(path);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(name).output() {
            if out.status.success() {
                return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            }
        }
    }
    panic!(
        "Chromium is missing: the HTML reports are checked in a real headless browser and this \
         test is never skipped. Run scripts/setup as root (it installs Debian's chromium and \
         chromium-driver), or `apt-get install chromium`, or set OPSLEDGER_CHROMIUM to a \
         Chromium or Chrome binary."
    );
}

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

/// Chromium's flags as root in a container: headless, sandbox off, nothing fetched, and a
/// fresh profile per run.
fn browser(profile: &Path, width: u32) -> Command {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--window-size={width},900"));
    cmd
}

/// Opens `page` at `width` px with the probe and returns its findings.
fn probe(dir: &Path, page: &Path, width: u32) -> Value {
    let html = std::fs::read_to_string(page).expect("read page");
    assert!(
        !html.contains("<script"),
        "{} carries a script; the reports must open with scripts off",
        page.display()
    );
    let wrapper = dir.join(format!(
        "probe-{width}-{}",
        page.file_name().unwrap().to_string_lossy()
    ));
    let src = format!("file://{}", page.display());
    std::fs::write(
        &wrapper,
        WRAPPER
            .replace("PAGE", &src)
            .replace("WIDTH", &width.to_string()),
    )
    .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = browser(profile.path(), 1400)
        .arg("--allow-file-access-from-files")
        .arg("--dump-dom")
        .arg(format!("file://{}", wrapper.display()))
        .output()
        .expect("start Chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("<pre id=\"probe\">").unwrap_or_else(|| {
        panic!(
            "Chromium printed no probe for {} at {width} px (status {}): {}",
            page.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    }) + "<pre id=\"probe\">".len();
    let end = start + dom[start..].find("</pre>").expect("probe end");
    let json = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("probe JSON {e}: {json}"))
}

/// What holds on every page at every width.
fn assert_laid_out(name: &str, width: u32, found: &Value, client_name: &str) {
    let title = found["title"].as_str().unwrap();
    assert!(
        title.contains(client_name),
        "{name}: the title {title:?} does not name the client {client_name:?}"
    );
    let inner = found["innerWidth"].as_u64().unwrap();
    assert_eq!(
        inner,
        u64::from(width),
        "{name}: the window is not {width} px wide"
    );
    for key in ["docScrollWidth", "bodyScrollWidth"] {
        let w = found[key].as_u64().unwrap();
        assert!(
            w <= inner,
            "{name} at {width} px: {key} {w} > window {inner}: the page scrolls sideways"
        );
    }
    assert_eq!(
        found["outside"],
        Value::Array(vec![]),
        "{name} at {width} px: text beyond the window"
    );
    assert_eq!(
        found["clipped"],
        Value::Array(vec![]),
        "{name} at {width} px: clipped text"
    );
    for chart in found["charts"].as_array().unwrap() {
        for axis in ["x", "y"] {
            let text = chart[axis].as_str().unwrap_or("");
            assert!(
                !text.trim().is_empty(),
                "{name} at {width} px: chart {chart} has no {axis} axis title"
            );
        }
        assert!(
            chart["ticks"].as_u64().unwrap() >= 2,
            "{name}: chart {chart} has no tick labels"
        );
        assert!(
            chart["legend"].as_u64().unwrap() >= 1,
            "{name}: chart {chart} has no legend"
        );
    }
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
