//! Headless Chromium for the tests that check HTML pages in a real browser (the CLI's views
//! in `cli/tests/html_browser.rs`, the desk's pages in `views/tests/desk_browser.rs`): finding
//! Chromium (missing is a failure naming how to install it, never a skip), opening a page at a
//! width with a probe that measures what the browser laid out, and the assertions every page
//! must pass at every width.
//!
//! Chromium runs each page in a frame of a wrapper page carrying the probe script (the pages
//! themselves carry no script); the probe writes its findings into the DOM, which
//! `--dump-dom` prints.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

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
    const svgs = [...fig.querySelectorAll('svg[role=img]')].filter(visible);
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

/// The Chromium binary: `OPSLEDGER_CHROMIUM`, else the first of the usual names on the path.
pub fn chromium() -> PathBuf {
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

/// Chromium's flags as root in a container: headless, sandbox off, nothing fetched, and a
/// fresh profile per run.
pub fn browser(profile: &Path, width: u32) -> Command {
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
pub fn probe(dir: &Path, page: &Path, width: u32) -> Value {
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

/// What holds on every page at every width; `client_name` is what the title must contain (the
/// client's name on a report).
pub fn assert_laid_out(name: &str, width: u32, found: &Value, client_name: &str) {
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
