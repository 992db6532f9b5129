//! The self-contained HTML views a client's operations manager keeps: the SLA report, the
//! obligations, billing and a stream's timeline. Each is one document with its styles inline,
//! charts as inline SVG, no scripts and nothing fetched, so it opens offline and can be
//! attached to a dispute.
//!
//! The crate is pure: every view is a function from report models to a `String`, with no I/O
//! and no clock, so the CLI prints what it returns and a server sends it.
//!
//! Every view reads the public report models of `opsledger_projections` (and the app's
//! timeline and provenance), never the read model's tables: what the page shows is what the
//! JSON form of the same report says. Times are printed to the second in the client's zone,
//! which is named, with UTC beside them where a dispute needs it.

mod billing;
mod charts;
pub mod desk;
mod obligations;
mod sla;
mod timeline;

pub use billing::billing_page;
pub use obligations::obligations_page;
pub use sla::sla_page;
pub use timeline::timeline_page;

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use opsledger_app::report::Provenance;
use opsledger_domain::money::Money;
use opsledger_domain::rules::RuleValue;
use opsledger_projections::obligations::Subject;
use opsledger_projections::profile::ClientProfile;
use opsledger_projections::verdict::{Shortfall, Unit, Verdict};
use opsledger_projections::{AsOf, EventRef, Period};

/// A page's title, the line under its heading (already escaped) and its body (HTML), before
/// it is put into a document: the CLI's self-contained file or the desk's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parts {
    pub title: String,
    pub meta: String,
    pub body: String,
}

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// An instant in the client's zone, to the second, with the zone's abbreviation.
pub fn local(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%a %-d %b %Y, %H:%M:%S %Z")
        .to_string()
}

/// An instant in the client's zone and, smaller beside it, in UTC.
pub fn local_and_utc(at: DateTime<Utc>, zone: Tz) -> String {
    format!(
        "{}<br><span class=utc>{}</span>",
        esc(&local(at, zone)),
        at.format("%Y-%m-%d %H:%M:%S UTC")
    )
}

/// A client-local period `[from, to)` as the days it covers, with the zone named.
pub fn period_words(period: &Period, zone: Tz) -> String {
    let from = period.from.with_timezone(&zone).date_naive();
    // The end is exclusive: the last day covered is the one just before it.
    let last = (period.to - chrono::Duration::seconds(1))
        .with_timezone(&zone)
        .date_naive();
    format!(
        "{} to {} ({zone})",
        from.format("%-d %B %Y"),
        last.format("%-d %B %Y")
    )
}

/// A number of seconds for people: "45 s", "2 min 32 s", "3 h 5 min", "2 d 4 h".
pub fn duration_words(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) if s == 0 => format!("{m} min"),
        (0, 0, _) => format!("{m} min {s} s"),
        (0, _, 0) => format!("{h} h"),
        (0, _, _) => format!("{h} h {m} min"),
        (_, 0, _) => format!("{d} d"),
        _ => format!("{d} d {h} h"),
    }
}

/// Milliseconds as seconds with one decimal ("7.4 s"), or a dash when there is no figure.
pub fn ms_words(ms: Option<u64>) -> String {
    ms.map_or_else(
        || "–".to_owned(),
        // A no-break space keeps a figure and its unit on one line in a narrow cell.
        |ms| format!("{}.{}\u{a0}s", ms / 1000, (ms % 1000 + 50).min(999) / 100),
    )
}

/// Basis points as a percentage with one decimal, or a dash.
pub fn pct(basis_points: Option<u64>) -> String {
    basis_points.map_or_else(
        || "–".to_owned(),
        |bp| {
            // Rounded half up to one decimal: 8 749 bp is 87.5 %.
            let tenths = (bp + 5) / 10;
            format!("{}.{}\u{a0}%", tenths / 10, tenths % 10)
        },
    )
}

/// Money in major units with two decimals and its currency ("1,234.50 USD").
pub fn money(m: &Money) -> String {
    let sign = if m.amount_minor < 0 { "−" } else { "" };
    let abs = m.amount_minor.unsigned_abs();
    let major = abs / 100;
    let mut grouped = String::new();
    let digits = major.to_string();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02} {}", abs % 100, m.currency)
}

/// By how much an obligation was missed, in words.
pub fn shortfall_words(by: &Shortfall) -> String {
    match by.unit {
        Unit::Seconds => duration_words(by.amount),
        Unit::Days if by.amount == 1 => "1 day".to_owned(),
        Unit::Days => format!("{} days", by.amount),
        Unit::BasisPoints => format!(
            "{} percentage points",
            pct(Some(by.amount)).trim_end_matches(" %")
        ),
        Unit::Findings if by.amount == 1 => "1 finding or field".to_owned(),
        Unit::Findings => format!("{} findings or fields", by.amount),
    }
}

/// A verdict's CSS class and its words ("missed by 2 min 32 s").
pub fn verdict_words(verdict: &Verdict, zone: Tz) -> (&'static str, String) {
    match verdict {
        Verdict::Met { met_at } => ("met", format!("met at {}", local(*met_at, zone))),
        Verdict::Missed { by, met_at } => (
            "missed",
            match met_at {
                Some(at) => format!(
                    "missed by {} (came at {})",
                    shortfall_words(by),
                    local(*at, zone)
                ),
                None => format!("missed by {}", shortfall_words(by)),
            },
        ),
        Verdict::Pending { due_at, held_by } => (
            "pending",
            match (due_at, held_by.is_empty()) {
                (_, false) => format!("pending: held by {}", held_by.join(", ")),
                (Some(due), true) => format!("pending, due {}", local(*due, zone)),
                (None, true) => "pending".to_owned(),
            },
        ),
        Verdict::Excused {
            window_ids,
            reading,
        } => (
            "excused",
            format!(
                "excused by {}{}",
                window_ids
                    .iter()
                    .map(|w| w.as_str().to_owned())
                    .collect::<Vec<_>>()
                    .join(", "),
                reading
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        ),
        Verdict::ChainExhausted { last_tier } => (
            "neutral",
            format!("chain exhausted: tier {last_tier}, the last, was unreachable"),
        ),
        Verdict::NoData { family, .. } => (
            "neutral",
            format!(
                "no data recorded: no {} in the ledger yet",
                family.label().replace('_', " ")
            ),
        ),
        Verdict::NotApplicable { reason } => ("neutral", format!("not applicable: {reason}")),
        Verdict::Unconfigured { missing } => ("missed", format!("unconfigured: {missing}")),
        Verdict::NotComputable { reason } => ("neutral", format!("not computable: {reason}")),
    }
}

/// A rule value in words ("8 s", "3 business days").
pub fn rule_value_words(value: &RuleValue) -> String {
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    match value {
        RuleValue::Seconds(s) => duration_words(*s),
        RuleValue::Minutes(m) => plural(*m, "minute", "minutes"),
        RuleValue::Hours(h) => plural(*h, "hour", "hours"),
        RuleValue::Days(d) => plural(*d, "day", "days"),
        RuleValue::Years(y) => plural(*y, "year", "years"),
        RuleValue::BusinessDays(d) => plural(*d, "business day", "business days"),
        RuleValue::BusinessHours(h) => plural(*h, "business hour", "business hours"),
        RuleValue::BusinessHoursElseFirstHourOfNextPeriod(h) => format!(
            "{} (after hours: the first hour of the next business period)",
            plural(*h, "business hour", "business hours")
        ),
        RuleValue::NthBusinessDayOfNextMonth(n) => {
            format!("by business day {n} of the next month")
        }
        RuleValue::WithinCalendarQuarter => "within the calendar quarter".to_owned(),
        RuleValue::Immediate => "immediately".to_owned(),
        RuleValue::SameBusinessDay => "the same business day".to_owned(),
        RuleValue::BasisPoints(bp) => format!("at least {}", pct(Some(*bp))),
        RuleValue::Agents(n) => plural(*n, "agent", "agents"),
        RuleValue::WithMonthlyReport => "with the monthly report".to_owned(),
        RuleValue::NoLaterThanPeriodStart => "no later than the period's first day".to_owned(),
        RuleValue::NoticeMustPrecede => "a written notice first".to_owned(),
        RuleValue::OnOrAfterTerminationDate => "on or after the termination date".to_owned(),
        RuleValue::TrailingFeesMonths(n) => format!("fees paid in the preceding {n} months"),
        RuleValue::Currency(c) => c.to_string(),
        RuleValue::Languages(l) => l.join(", "),
        RuleValue::Qualitative => "judged by QA findings".to_owned(),
        RuleValue::NotApplicable => "not applicable".to_owned(),
        RuleValue::Unconfigured => "unconfigured".to_owned(),
    }
}

/// What an obligation is about, in words. A call's, escalation's or invoice's stream (what
/// `timeline` takes) is its id with the kind in front: `call-<id>`.
pub fn subject_words(subject: &Subject, zone: Tz) -> String {
    match subject {
        Subject::Call { call_id } => format!("call {call_id}"),
        Subject::Escalation {
            escalation_id,
            tier,
        } => match tier {
            Some(t) => format!("escalation {escalation_id}, tier {t}"),
            None => format!("escalation {escalation_id}"),
        },
        Subject::Review { review_id } => format!("review {review_id}"),
        Subject::QualityIssue { issue_id } => format!("quality issue {issue_id}"),
        Subject::Breach { breach_id } => format!("conduct breach {breach_id}"),
        Subject::AccountIssue { issue_id } => format!("account issue {issue_id}"),
        Subject::Month { month } => format!("month {month}"),
        Subject::Quarter { year, quarter } => format!("Q{quarter} {year}"),
        Subject::Coverage {
            from,
            to,
            agents_on_duty,
        } => format!(
            "coverage {} to {}, {agents_on_duty} on duty",
            local(*from, zone),
            local(*to, zone)
        ),
        Subject::Invoice { invoice_id } => format!("invoice {invoice_id}"),
        Subject::Suspension => "suspension of service".to_owned(),
        Subject::PriceChange => "price change notice".to_owned(),
        Subject::TerminationNotice => "termination notice".to_owned(),
        Subject::ImmediateTermination => "immediate termination".to_owned(),
        Subject::Termination => "termination".to_owned(),
        Subject::Deletion => "deletion of client data".to_owned(),
        Subject::SopAmendment { amendment_id } => format!("SOP amendment {amendment_id}"),
        Subject::Client => "the client".to_owned(),
    }
}

/// The evidence of a verdict: each event's position and event id (the times are in the
/// clock start and verdict beside it, and in the timeline).
pub fn evidence_html(evidence: &[EventRef]) -> String {
    let mut out = String::from("<ul class=evidence>");
    for e in evidence {
        let _ = write!(
            out,
            "<li>position {} · event <code>{}</code></li>",
            e.position, e.event_id
        );
    }
    out.push_str("</ul>");
    out
}

/// The basis of a report in words.
pub fn basis_words(as_of: &AsOf, zone: Tz) -> String {
    match as_of {
        AsOf::Head => "everything the ledger has recorded".to_owned(),
        AsOf::Position(p) => format!("the ledger up to position {p}"),
        AsOf::RecordedAt(t) => format!("what the ledger had recorded by {}", local(*t, zone)),
        AsOf::OccurredAt(t) => format!(
            "the facts that had occurred by {}, as known now",
            local(*t, zone)
        ),
    }
}

/// The line naming the state of the chain a page reflects, for an auditor to compare with
/// `opsledger head`.
pub fn provenance_html(provenance: &Provenance) -> String {
    match (provenance.position, provenance.head_hash.as_deref()) {
        (Some(p), Some(h)) => format!(
            "<p class=provenance>This page reflects the ledger up to position <strong>{p}</strong>, head hash <code>{}</code>. Compare with <code>opsledger head</code>; <code>opsledger verify --report</code> recomputes the JSON form of this report from the log.</p>",
            esc(h)
        ),
        _ => "<p class=provenance>This page reflects an empty ledger.</p>".to_owned(),
    }
}

/// A table with a caption and column headers scoped to their columns; `rows` are cells
/// already escaped, the first one the row's header.
pub fn table(caption: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    // Wide tables turn into one card per row on a phone; each cell then names its column.
    let class = if headers.len() > 4 {
        " class=cards"
    } else {
        ""
    };
    let mut t = format!(
        "<div class=table-wrap><table{class}><caption>{}</caption><thead><tr>",
        esc(caption)
    );
    for h in headers {
        let _ = write!(t, "<th scope=col>{}</th>", esc(h));
    }
    t.push_str("</tr></thead><tbody>");
    for row in rows {
        t.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let label = esc(headers.get(i).copied().unwrap_or(""));
            if i == 0 {
                let _ = write!(t, "<th scope=row data-label=\"{label}\">{cell}</th>");
            } else {
                let _ = write!(t, "<td data-label=\"{label}\">{cell}</td>");
            }
        }
        t.push_str("</tr>");
    }
    t.push_str("</tbody></table></div>");
    t
}

/// One headline figure with its judgement: `state` is `met`, `missed`, `pending`, `neutral`
/// (no target to judge it against) or `info` (a state, not a performance), shown in words as
/// well as colour.
pub fn tile(label: &str, figure: &str, state: &str, judgement: &str) -> String {
    let word = match state {
        "met" => "Met",
        "missed" => "Missed",
        "pending" => "Pending",
        "info" => "For information",
        _ => "No target",
    };
    format!(
        "<div class=\"tile {state}\"><div class=tile-label>{}</div><div class=tile-figure>{}</div><div class=tile-state><strong>{word}</strong> · {}</div></div>",
        esc(label),
        esc(figure),
        esc(judgement)
    )
}

/// The whole document: `title` for the tab and the heading, `meta` under it.
pub fn document(title: &str, profile: &ClientProfile, meta: &str, body: &str) -> String {
    document_for(
        title,
        Some(profile.client_id.as_str()),
        profile.time_zone,
        meta,
        body,
    )
}

/// The whole document for a page that may belong to no client (an agency-wide stream).
pub fn document_for(
    title: &str,
    client_id: Option<&str>,
    zone: Tz,
    meta: &str,
    body: &str,
) -> String {
    let client = client_id
        .map(|id| format!(" · client id <code>{}</code>", esc(id)))
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width, initial-scale=1\"><title>{t}</title><style>{STYLE}</style></head><body><header><h1>{t}</h1><p class=meta>{meta}{client} · times in {zone}</p></header><main>{body}</main><footer><p>Generated by opsledger from the hash-chained event log.</p></footer></body></html>",
        t = esc(title),
    )
}

/// Colours pass WCAG AA against their backgrounds (text #1a1a1a and #4a4a4a on white, the
/// state colours on their tints). Tables wrap long ids rather than widen the page, so a phone
/// never scrolls sideways; charts come in a wide and a narrow drawing, one shown per width.
pub(crate) const STYLE: &str = "\
*{box-sizing:border-box}\
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1a1a1a;background:#fff;margin:0 auto;max-width:960px;padding:1em}\
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ccc;padding-bottom:.2em}\
.meta,.provenance,footer{color:#4a4a4a;font-size:.9em}\
code{font-size:.9em;overflow-wrap:anywhere}\
.utc{color:#4a4a4a;font-size:.85em}\
.table-wrap{max-width:100%}\
table{border-collapse:collapse;margin:.5em 0;width:100%}\
caption{text-align:left;font-weight:600;padding:.3em 0}\
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:break-word}\
thead th{background:#eef1f5}tbody th{font-weight:600;background:#fafafa}table.cards tbody th{white-space:nowrap}\
td.num{text-align:right;font-variant-numeric:tabular-nums}\
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:.7em;margin:1em 0}\
.tile{border:1px solid #ccc;border-left:6px solid #6b6b6b;border-radius:4px;padding:.6em .8em;background:#f6f6f6}\
.tile-label{font-size:.85em;color:#333}.tile-figure{font-size:1.6em;font-weight:700}.tile-state{font-size:.85em}\
.tile.met{border-left-color:#1e7d3a;background:#eaf5ed}.tile.met .tile-state strong{color:#1e6b33}\
.tile.missed{border-left-color:#b3261e;background:#fbeceb}.tile.missed .tile-state strong{color:#a1221b}\
.tile.pending{border-left-color:#8a6d00;background:#fbf5e0}.tile.pending .tile-state strong{color:#6e5700}\
.met-text{color:#1e6b33}.missed-text{color:#a1221b;font-weight:600}.excused-text{color:#4a4a4a}.pending-text{color:#6e5700}\
ul.evidence{margin:0;padding-left:1.1em;font-size:.9em}\
figure.chart{margin:1em 0}figure.chart svg[role=img]{width:100%;height:auto;display:block}\
figcaption{font-size:.9em;color:#333;margin-bottom:.3em}\
.legend{display:flex;flex-wrap:wrap;gap:.3em 1.2em;font-size:.85em;margin:.3em 0;padding:0;list-style:none}\
.legend svg.key{display:inline-block;margin-right:.35em;vertical-align:-.1em}\
.narrow{display:none}\
@media (max-width:640px){body{font-size:14px;padding:.6em}.wide{display:none}.narrow{display:block}td,th{padding:3px 5px}table.cards,table.cards tbody,table.cards tr,table.cards td,table.cards th{display:block;width:100%}table.cards caption{display:block}table.cards thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}table.cards tr{border:1px solid #ccc;margin:.5em 0}table.cards td,table.cards th{border:0;border-top:1px solid #e6e6e6;white-space:normal}table.cards td::before,table.cards th::before{content:attr(data-label) ': ';font-weight:600;color:#333}}\
dl.data{margin:0;display:grid;grid-template-columns:minmax(6em,max-content) 1fr;gap:0 .6em;font-size:.9em}\
dl.data dt{color:#4a4a4a}dl.data dd{margin:0;overflow-wrap:anywhere}\
details summary{cursor:pointer;font-weight:600}";
