//! The self-contained HTML SLA report: figures, charts as inline SVG (wait-time distribution
//! against the R-ANS-1 and R-ANS-2 marks, service level by day, obligations by rule), no
//! scripts and nothing fetched, so it opens offline and can be attached to a dispute.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};
use opsledger_projections::model::ReadModel;
use opsledger_projections::obligations::ObligationReport;
use opsledger_projections::sla::{CallFigures, SlaReport};
use opsledger_projections::AsOf;

/// Width of one wait-time histogram bucket, in seconds.
const WAIT_BUCKET_SECS: i64 = 3;
/// Waits at or beyond this many seconds share the last bucket.
const WAIT_CHART_MAX_SECS: i64 = 90;
/// The R-ANS-1 and R-ANS-2 SOP defaults drawn on the chart when the rule value is not plain seconds.
const DEFAULT_ANSWER_TARGET_SECS: i64 = 8;
const DEFAULT_MAX_QUEUE_SECS: i64 = 45;

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn pct(basis_points: Option<u64>) -> String {
    basis_points.map_or_else(
        || "–".to_owned(),
        |bp| format!("{}.{:02} %", bp / 100, bp % 100),
    )
}

fn secs(ms: Option<u64>) -> String {
    ms.map_or_else(
        || "–".to_owned(),
        |ms| format!("{}.{:01} s", ms / 1000, (ms % 1000) / 100),
    )
}

fn rule_secs(value: &opsledger_domain::rules::RuleValue, fallback: i64) -> i64 {
    match value {
        opsledger_domain::rules::RuleValue::Seconds(s) => i64::try_from(*s).unwrap_or(fallback),
        _ => fallback,
    }
}

/// One call's outcome for the charts.
struct CallPoint {
    day: NaiveDate,
    wait_secs: i64,
    answered: bool,
    within_target: bool,
}

fn call_points(model: &ReadModel, report: &SlaReport) -> Vec<CallPoint> {
    let Some(slot) = model.client_slot(&report.client_id) else {
        return Vec::new();
    };
    let client = model.client(slot);
    let zone = client
        .agreement_or_first(report.period.from)
        .calendar
        .time_zone;
    let target = rule_secs(&report.answer_target, DEFAULT_ANSWER_TARGET_SECS);
    let as_of: &AsOf = &report.as_of;
    let slots = client
        .calls_by_month
        .get(&report.month)
        .cloned()
        .unwrap_or_default();
    let mut points = Vec::new();
    for call_slot in slots {
        let Some(call) = model.calls.get(call_slot) else {
            continue;
        };
        if !as_of.sees(&call.connected) {
            continue;
        }
        let start = call.connected.occurred_at;
        let answered = call.answered.filter(|e| as_of.sees(e));
        let end: Option<DateTime<Utc>> = answered
            .map(|e| e.occurred_at)
            .or_else(|| {
                call.voicemail
                    .filter(|e| as_of.sees(e))
                    .map(|e| e.occurred_at)
            })
            .or_else(|| {
                call.abandoned
                    .as_ref()
                    .filter(|a| as_of.sees(&a.event))
                    .map(|a| a.event.occurred_at)
            });
        let Some(end) = end else { continue };
        let wait_secs = (end - start).num_seconds().max(0);
        points.push(CallPoint {
            day: start.with_timezone(&zone).date_naive(),
            wait_secs,
            answered: answered.is_some(),
            within_target: answered.is_some() && wait_secs <= target,
        });
    }
    points
}

fn wait_chart(points: &[CallPoint], target_secs: i64, max_secs: i64) -> String {
    let buckets = usize::try_from(WAIT_CHART_MAX_SECS / WAIT_BUCKET_SECS + 1).unwrap_or(1);
    let mut answered = vec![0u64; buckets];
    let mut other = vec![0u64; buckets];
    for p in points {
        let i =
            usize::try_from(p.wait_secs.min(WAIT_CHART_MAX_SECS) / WAIT_BUCKET_SECS).unwrap_or(0);
        if p.answered {
            answered[i] += 1;
        } else {
            other[i] += 1;
        }
    }
    let tallest = answered
        .iter()
        .zip(&other)
        .map(|(a, o)| a + o)
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, h, left, bottom) = (720i64, 240i64, 40i64, 30i64);
    let plot_w = w - left - 10;
    let plot_h = h - bottom - 10;
    let bar_w = plot_w / i64::try_from(buckets).unwrap_or(1);
    let scale = |n: u64| -> i64 {
        i64::try_from(n).unwrap_or(0) * plot_h / i64::try_from(tallest).unwrap_or(1)
    };
    let x_of = |secs: i64| left + secs * plot_w / (WAIT_CHART_MAX_SECS + WAIT_BUCKET_SECS);
    let mut svg =
        format!(r#"<svg viewBox="0 0 {w} {h}" role="img" aria-label="wait-time distribution">"#);
    for (i, (a, o)) in answered.iter().zip(&other).enumerate() {
        let x = left + i64::try_from(i).unwrap_or(0) * bar_w;
        let ha = scale(*a);
        let ho = scale(*o);
        let base = h - bottom;
        let _ = write!(
            svg,
            r##"<rect x="{x}" y="{}" width="{}" height="{ha}" fill="#3b7dd8"><title>{a} answered</title></rect>"##,
            base - ha,
            bar_w - 1
        );
        let _ = write!(
            svg,
            r##"<rect x="{x}" y="{}" width="{}" height="{ho}" fill="#d8893b"><title>{o} not answered</title></rect>"##,
            base - ha - ho,
            bar_w - 1
        );
    }
    for (secs, label, colour) in [
        (target_secs, "R-ANS-1", "#2a9d4b"),
        (max_secs, "R-ANS-2", "#c0392b"),
    ] {
        let x = x_of(secs);
        let _ = write!(
            svg,
            r#"<line x1="{x}" x2="{x}" y1="10" y2="{}" stroke="{colour}" stroke-width="2" stroke-dasharray="4 3"/><text x="{}" y="20" fill="{colour}" font-size="11">{label} {secs} s</text>"#,
            h - bottom,
            x + 3
        );
    }
    let mut s = 0;
    while s <= WAIT_CHART_MAX_SECS {
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" font-size="10" fill="#555">{s}</text>"##,
            x_of(s),
            h - bottom + 14
        );
        s += 15;
    }
    let _ = write!(
        svg,
        r##"<text x="{}" y="{}" font-size="10" fill="#555">wait (s; last bar: {WAIT_CHART_MAX_SECS} s or more)</text></svg>"##,
        left + plot_w / 2 - 60,
        h - 2
    );
    svg
}

fn daily_chart(points: &[CallPoint]) -> String {
    let mut days: BTreeMap<NaiveDate, (u64, u64)> = BTreeMap::new();
    for p in points {
        let entry = days.entry(p.day).or_default();
        entry.0 += 1;
        if p.within_target {
            entry.1 += 1;
        }
    }
    let (w, h, left, bottom) = (720i64, 200i64, 40i64, 30i64);
    let n = i64::try_from(days.len()).unwrap_or(0).max(1);
    let bar_w = (w - left - 10) / n;
    let plot_h = h - bottom - 10;
    let mut svg =
        format!(r#"<svg viewBox="0 0 {w} {h}" role="img" aria-label="service level by day">"#);
    for pct_line in [50i64, 80, 100] {
        let y = h - bottom - pct_line * plot_h / 100;
        let _ = write!(
            svg,
            r##"<line x1="{left}" x2="{}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="4" y="{}" font-size="10" fill="#555">{pct_line}%</text>"##,
            w - 10,
            y + 3
        );
    }
    for (i, (day, (offered, within))) in days.iter().enumerate() {
        let x = left + i64::try_from(i).unwrap_or(0) * bar_w;
        let height = i64::try_from(*within * 100 / (*offered).max(1)).unwrap_or(0) * plot_h / 100;
        let _ = write!(
            svg,
            r##"<rect x="{x}" y="{}" width="{}" height="{height}" fill="#3b7dd8"><title>{day}: {within} of {offered} answered within target</title></rect>"##,
            h - bottom - height,
            (bar_w - 1).max(1)
        );
        if i % 5 == 0 {
            let _ = write!(
                svg,
                r##"<text x="{x}" y="{}" font-size="10" fill="#555">{}</text>"##,
                h - bottom + 14,
                day.format("%d %b")
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn obligations_chart(report: &ObligationReport) -> String {
    let rows: Vec<_> = report
        .rules
        .iter()
        .filter(|r| r.tally.met + r.tally.missed + r.tally.pending + r.tally.excused > 0)
        .collect();
    let row_h = 18i64;
    let (w, left) = (720i64, 90i64);
    let h = row_h * i64::try_from(rows.len()).unwrap_or(0) + 20;
    let widest = rows
        .iter()
        .map(|r| r.tally.met + r.tally.missed + r.tally.pending + r.tally.excused)
        .max()
        .unwrap_or(1)
        .max(1);
    let mut svg =
        format!(r#"<svg viewBox="0 0 {w} {h}" role="img" aria-label="obligations by rule">"#);
    for (i, r) in rows.iter().enumerate() {
        let y = i64::try_from(i).unwrap_or(0) * row_h;
        let _ = write!(
            svg,
            r##"<text x="0" y="{}" font-size="11" fill="#222">{}</text>"##,
            y + 13,
            esc(r.rule.as_str())
        );
        let mut x = left;
        for (n, colour, label) in [
            (r.tally.met, "#2a9d4b", "met"),
            (r.tally.missed, "#c0392b", "missed"),
            (r.tally.excused, "#999", "excused"),
            (r.tally.pending, "#e0b000", "pending"),
        ] {
            let width = i64::try_from(n).unwrap_or(0) * (w - left - 60)
                / i64::try_from(widest).unwrap_or(1);
            if width > 0 {
                let _ = write!(
                    svg,
                    r#"<rect x="{x}" y="{}" width="{width}" height="{}" fill="{colour}"><title>{n} {label}</title></rect>"#,
                    y + 2,
                    row_h - 4
                );
            }
            x += width;
        }
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" font-size="10" fill="#555">{} met / {} missed</text>"##,
            x + 4,
            y + 13,
            r.tally.met,
            r.tally.missed
        );
    }
    svg.push_str("</svg>");
    svg
}

fn figures_table(title: &str, raw: &CallFigures, normal: &CallFigures) -> String {
    let mut t = format!("<h3>{}</h3><table><tr><th>figure</th><th>raw</th><th>normal operating conditions</th></tr>", esc(title));
    let rows: [(&str, String, String); 9] = [
        (
            "offered",
            raw.offered.to_string(),
            normal.offered.to_string(),
        ),
        (
            "answered",
            raw.answered.to_string(),
            normal.answered.to_string(),
        ),
        (
            "abandoned",
            raw.abandoned.to_string(),
            normal.abandoned.to_string(),
        ),
        (
            "voicemail",
            raw.voicemail.to_string(),
            normal.voicemail.to_string(),
        ),
        (
            "service level (R-ANS-1)",
            pct(raw.service_level_basis_points),
            pct(normal.service_level_basis_points),
        ),
        (
            "average speed of answer",
            secs(raw.average_speed_of_answer_ms),
            secs(normal.average_speed_of_answer_ms),
        ),
        (
            "longest wait",
            secs(raw.longest_wait_ms),
            secs(normal.longest_wait_ms),
        ),
        (
            "R-ANS-2 breaches",
            raw.max_queue_breaches.to_string(),
            normal.max_queue_breaches.to_string(),
        ),
        (
            "average talk time",
            secs(raw.average_talk_ms),
            secs(normal.average_talk_ms),
        ),
    ];
    for (name, r, n) in rows {
        let _ = write!(t, "<tr><td>{name}</td><td>{r}</td><td>{n}</td></tr>");
    }
    t.push_str("</table>");
    t
}

/// Writes the SLA report with its charts as one HTML document.
pub fn write_sla_with_model(
    model: &ReadModel,
    report: &SlaReport,
    obligations: &ObligationReport,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let points = call_points(model, report);
    let target = rule_secs(&report.answer_target, DEFAULT_ANSWER_TARGET_SECS);
    let max_q = rule_secs(&report.max_queue_time, DEFAULT_MAX_QUEUE_SECS);
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>SLA report — {} — {}</h1><p class=meta>as of {} · checkpoint {} · pending deadlines judged at {} · generated by opsledger</p>",
        esc(report.client_id.as_str()),
        report.month,
        esc(&serde_json::to_string(&report.as_of)?),
        report.checkpoint,
        report.evaluated_at.to_rfc3339()
    );
    body.push_str(&figures_table(
        "All queues",
        &report.calls.raw,
        &report.calls.normal,
    ));
    for (queue, figures) in &report.by_queue {
        body.push_str(&figures_table(
            &format!("Queue {queue}"),
            &figures.raw,
            &figures.normal,
        ));
    }
    let _ = write!(body, "<h2>Wait-time distribution</h2><p>Calls of the month by time in queue; dashed lines mark the answer target (R-ANS-1, {target} s) and the maximum queue time (R-ANS-2, {max_q} s).</p>{}", wait_chart(&points, target, max_q));
    let _ = write!(
        body,
        "<h2>Service level by day</h2><p>Share of each day's calls answered within R-ANS-1.</p>{}",
        daily_chart(&points)
    );
    let _ = write!(
        body,
        "<h2>Obligations by rule</h2>{}",
        obligations_chart(obligations)
    );
    body.push_str("<h2>Excused windows</h2>");
    if report.excused_windows.is_empty() {
        body.push_str("<p>None: every figure above was under normal operating conditions.</p>");
    } else {
        body.push_str("<table><tr><th>window</th><th>cause</th><th>from</th><th>to</th></tr>");
        for w in &report.excused_windows {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&serde_json::to_string(&w.window_id)?),
                esc(&serde_json::to_string(&w.cause)?),
                w.from.to_rfc3339(),
                w.to.map_or_else(|| "open".to_owned(), |t| t.to_rfc3339())
            );
        }
        body.push_str("</table>");
    }
    let _ = write!(
        body,
        "<h2>QA coverage (R-QA-1)</h2><p>{} of {} answered calls reviewed ({}).</p>",
        report.qa_coverage.reviewed,
        report.qa_coverage.answered,
        pct(report.qa_coverage.reviewed_basis_points)
    );
    body.push_str("<h2>Definitions</h2><p>A call is offered when it enters the queue; its wait runs from then to agent pickup, voicemail routing or abandonment. A call answered after exactly the target meets R-ANS-1; R-ANS-2 is breached only by a wait longer than the maximum. Figures under normal operating conditions leave out calls whose wait overlaps an excused window whose cause concerns answer times (force majeure, an unnotified volume change); missing client credentials do not. An excused window excuses a performance that had to happen inside it, or extends a deadline falling inside it by the time the clock stood still in it, and only for rules its cause concerns. R-QA-1 counts answered calls reviewed by the month's QA summary deadline.</p>");
    write!(
        out,
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>SLA report {} {}</title><style>{}</style></head><body>{body}</body></html>",
        esc(report.client_id.as_str()),
        report.month,
        STYLE
    )?;
    Ok(())
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;max-width:780px;margin:2em auto;color:#222;padding:0 1em}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}\
th{background:#f4f4f4}.meta{color:#666;font-size:.9em}svg{width:100%;height:auto;background:#fafafa}";
