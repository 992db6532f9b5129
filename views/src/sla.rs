//! The SLA report page a client's operations manager keeps: headline tiles judged against
//! their rules, the month's figures, charts of waits, daily service level and obligations by
//! rule, the calls and escalations that missed with their evidence, and the excused windows.
//!
//! Per-call waits come from the R-ANS-1 obligations of the obligation report (clock start to
//! the event that ended the wait, both in the evidence), so the charts show exactly what the
//! verdicts judged and nothing read from the read model's tables.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use chrono_tz::Tz;
use opsledger_app::report::Provenance;
use opsledger_domain::events::ExcuseCause;
use opsledger_domain::rules::{RuleId, RuleValue};
use opsledger_projections::obligations::{Obligation, ObligationReport, Subject};
use opsledger_projections::profile::ClientProfile;
use opsledger_projections::sla::{CallFigures, SlaReport};
use opsledger_projections::verdict::{ExcusedWindow, Tally, Verdict};

use super::charts::{HBars, HRow, Mark, Series, VBars};
use super::desk::{anchor, explain_id, subject_stream, Links};
use super::{
    basis_words, document, duration_words, esc, evidence_html, local, ms_words, pct, period_words,
    provenance_html, rule_value_words, subject_words, table, tile, verdict_words, Parts,
};

/// Width of one wait-time histogram bucket, in seconds.
const WAIT_BUCKET_SECS: u64 = 3;
/// Waits at or beyond this many seconds share the last bucket.
const WAIT_CHART_MAX_SECS: u64 = 90;

const BLUE: &str = "#2f6db5";
const ORANGE: &str = "#c25e00";
const GREY: &str = "#8c8c8c";
const GREEN: &str = "#1e7d3a";
const RED: &str = "#b3261e";
const AMBER: &str = "#b58a00";

/// How one call's wait ended, as its R-ANS-1 verdict and evidence say.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Picked up (in time or late).
    Answered,
    /// Left the queue without pickup: abandoned or routed to voicemail.
    Left,
    /// Excused by a window: the verdict does not say how the wait ended.
    Excused,
}

/// One resolved call for the charts.
struct CallPoint {
    day: NaiveDate,
    wait_secs: u64,
    ending: Ending,
    within_target: bool,
}

fn call_points(obligations: &ObligationReport, zone: Tz) -> Vec<CallPoint> {
    obligations
        .obligations
        .iter()
        .filter(|o| o.rule == RuleId::Ans1 && matches!(o.subject, Subject::Call { .. }))
        .filter_map(|o| {
            // The evidence is the clock start, then the event that ended the wait; a call still
            // queued (or cut off by an import) has only the first and is left out, as the
            // service level leaves it out.
            let (start, end) = (o.evidence.first()?, o.evidence.get(1)?);
            let wait_secs =
                u64::try_from((end.occurred_at - start.occurred_at).num_seconds()).unwrap_or(0);
            let ending = match &o.verdict {
                Verdict::Met { .. }
                | Verdict::Missed {
                    met_at: Some(_), ..
                } => Ending::Answered,
                Verdict::Excused { .. } => Ending::Excused,
                _ => Ending::Left,
            };
            Some(CallPoint {
                day: start.occurred_at.with_timezone(&zone).date_naive(),
                wait_secs,
                ending,
                within_target: matches!(o.verdict, Verdict::Met { .. }),
            })
        })
        .collect()
}

fn secs_of(value: &RuleValue) -> Option<u64> {
    match value {
        RuleValue::Seconds(s) => Some(*s),
        RuleValue::Minutes(m) => Some(m * 60),
        _ => None,
    }
}

fn wait_chart(points: &[CallPoint], target: Option<u64>, max: Option<u64>) -> String {
    let buckets = usize::try_from(WAIT_CHART_MAX_SECS / WAIT_BUCKET_SECS + 1).unwrap_or(1);
    let mut series = [
        Series {
            name: "answered".to_owned(),
            colour: BLUE,
            values: vec![0; buckets],
        },
        Series {
            name: "left the queue unanswered (abandoned or voicemail)".to_owned(),
            colour: ORANGE,
            values: vec![0; buckets],
        },
        Series {
            name: "excused by a window".to_owned(),
            colour: GREY,
            values: vec![0; buckets],
        },
    ];
    for p in points {
        let i = usize::try_from(p.wait_secs.min(WAIT_CHART_MAX_SECS) / WAIT_BUCKET_SECS)
            .unwrap_or(0)
            .min(buckets - 1);
        let s = match p.ending {
            Ending::Answered => 0,
            Ending::Left => 1,
            Ending::Excused => 2,
        };
        series[s].values[i] += 1;
    }
    let categories = (0..buckets)
        .map(|i| {
            let from = u64::try_from(i).unwrap_or(0) * WAIT_BUCKET_SECS;
            if from >= WAIT_CHART_MAX_SECS {
                format!("{from}+ s")
            } else {
                format!("{from} s")
            }
        })
        .collect();
    let span = i64::try_from(WAIT_BUCKET_SECS * u64::try_from(buckets).unwrap_or(1)).unwrap_or(1);
    let mut vmarks = Vec::new();
    for (secs, rule, colour) in [
        (target, "R-ANS-1 answer target", GREEN),
        (max, "R-ANS-2 maximum queue time", RED),
    ] {
        if let Some(s) = secs {
            vmarks.push(Mark {
                label: format!("{rule}: {}", duration_words(s)),
                colour,
                num: i64::try_from(s).unwrap_or(0),
                den: span,
            });
        }
    }
    VBars {
        title: "wait-time distribution".to_owned(),
        categories,
        label_every_wide: 5,
        label_every_narrow: 10,
        series: series.into_iter().collect(),
        x_title: format!("time in queue ({WAIT_BUCKET_SECS} s per bar; the last bar is {WAIT_CHART_MAX_SECS} s or more)"),
        y_title: "calls".to_owned(),
        y_max: None,
        y_suffix: "",
        vmarks,
        hmarks: Vec::new(),
    }
    .figure("Resolved calls of the month by time in queue. Dashed lines: the answer target and the maximum queue time in force.")
}

fn daily_chart(points: &[CallPoint], month_bp: Option<u64>, target: &str) -> String {
    let mut days: BTreeMap<NaiveDate, (u64, u64)> = BTreeMap::new();
    for p in points {
        let entry = days.entry(p.day).or_default();
        entry.0 += 1;
        if p.within_target {
            entry.1 += 1;
        }
    }
    let categories = days
        .keys()
        .map(|d| d.format("%-d %b").to_string())
        .collect();
    let values = days
        .values()
        .map(|(offered, within)| within * 100 / (*offered).max(1))
        .collect();
    let mut hmarks = vec![Mark {
        label: format!("R-ANS-1 target: every call answered within {target} (100 %)"),
        colour: GREEN,
        num: 100,
        den: 100,
    }];
    if let Some(bp) = month_bp {
        hmarks.push(Mark {
            label: format!("the month's service level ({})", pct(Some(bp))),
            colour: AMBER,
            num: i64::try_from(bp).unwrap_or(0),
            den: 10_000,
        });
    }
    VBars {
        title: "service level by day".to_owned(),
        categories,
        label_every_wide: 5,
        label_every_narrow: 7,
        series: vec![Series {
            name: format!("share of the day's resolved calls answered within {target}"),
            colour: BLUE,
            values,
        }],
        x_title: "day (client's time zone)".to_owned(),
        y_title: "service level".to_owned(),
        y_max: Some(100),
        y_suffix: "%",
        vmarks: Vec::new(),
        hmarks,
    }
    .figure("Each day's service level under R-ANS-1 (raw figures).")
}

fn obligations_chart(report: &ObligationReport) -> String {
    let rows: Vec<HRow> = report
        .rules
        .iter()
        .filter(|r| r.tally.met + r.tally.missed + r.tally.pending + r.tally.excused > 0)
        .map(|r| {
            let t = &r.tally;
            let note = if t.missed > 0 {
                format!("{} missed", t.missed)
            } else if t.excused > 0 {
                format!("{} excused", t.excused)
            } else if t.pending > 0 {
                format!("{} pending", t.pending)
            } else {
                "all met".to_owned()
            };
            HRow {
                label: r.rule.as_str().to_owned(),
                values: vec![t.met, t.missed, t.excused, t.pending],
                note,
                alert: t.missed > 0,
            }
        })
        .collect();
    if rows.is_empty() {
        return "<p>No obligation of the period has a verdict yet.</p>".to_owned();
    }
    HBars {
        title: "obligations by rule".to_owned(),
        segments: vec![
            ("met".to_owned(), GREEN),
            ("missed".to_owned(), RED),
            ("excused by a window".to_owned(), GREY),
            ("pending".to_owned(), AMBER),
        ],
        rows,
        x_title: "obligations".to_owned(),
        y_title: "rule".to_owned(),
    }
    .figure("Verdicts of the period's obligations, per rule. A missed obligation is always drawn, however few.")
}

fn figure_rows(raw: &CallFigures, normal: &CallFigures) -> Vec<Vec<String>> {
    let abandon = |f: &CallFigures| {
        opsledger_domain::rules::BASIS_POINTS_PER_WHOLE
            .checked_mul(f.abandoned)
            .and_then(|n| n.checked_div(f.offered.saturating_sub(f.unresolved)))
    };
    let row = |name: &str, r: String, n: String| vec![esc(name), r, n];
    vec![
        row(
            "offered",
            raw.offered.to_string(),
            normal.offered.to_string(),
        ),
        row(
            "answered",
            raw.answered.to_string(),
            normal.answered.to_string(),
        ),
        row(
            "abandoned",
            raw.abandoned.to_string(),
            normal.abandoned.to_string(),
        ),
        row(
            "voicemail",
            raw.voicemail.to_string(),
            normal.voicemail.to_string(),
        ),
        row(
            "unresolved (outcome not known yet)",
            raw.unresolved.to_string(),
            normal.unresolved.to_string(),
        ),
        row(
            "service level (R-ANS-1)",
            pct(raw.service_level_basis_points),
            pct(normal.service_level_basis_points),
        ),
        row("abandon rate", pct(abandon(raw)), pct(abandon(normal))),
        row(
            "average speed of answer",
            ms_words(raw.average_speed_of_answer_ms),
            ms_words(normal.average_speed_of_answer_ms),
        ),
        row(
            "longest wait",
            ms_words(raw.longest_wait_ms),
            ms_words(normal.longest_wait_ms),
        ),
        row(
            "R-ANS-2 breaches",
            raw.max_queue_breaches.to_string(),
            normal.max_queue_breaches.to_string(),
        ),
        row(
            "average talk time",
            ms_words(raw.average_talk_ms),
            ms_words(normal.average_talk_ms),
        ),
    ]
}

fn cause_words(cause: ExcuseCause) -> &'static str {
    match cause {
        ExcuseCause::ForceMajeure => "force majeure",
        ExcuseCause::MissingCredentials => "the client's credentials were missing",
        ExcuseCause::UnnotifiedVolumeChange => "an unnotified change in call volume",
        ExcuseCause::AwaitingClientResponse => "awaiting the client's response",
    }
}

/// The excused windows in words, in the client's zone.
pub(super) fn windows_html(windows: &[ExcusedWindow], zone: Tz) -> String {
    if windows.is_empty() {
        return "<p>None: every figure above was under normal operating conditions.</p>".to_owned();
    }
    let mut out = String::from("<ul>");
    for w in windows {
        let span = match w.to {
            Some(to) => format!(
                "from {} to {} ({})",
                local(w.from, zone),
                local(to, zone),
                duration_words(u64::try_from((to - w.from).num_seconds()).unwrap_or(0))
            ),
            None => format!("from {}, still open", local(w.from, zone)),
        };
        let positions: Vec<String> = w.evidence.iter().map(|e| e.position.to_string()).collect();
        let _ = write!(
            out,
            "<li>Because {}, {span}. Window <code>{}</code>, recorded at position{} {}.</li>",
            cause_words(w.cause),
            esc(w.window_id.as_str()),
            if positions.len() == 1 { "" } else { "s" },
            positions.join(" and ")
        );
    }
    out.push_str("</ul>");
    out
}

/// The misses of calls and escalations, with their evidence. With `links` (the desk's pages),
/// each rule links to the obligation's dispute view and each call, escalation or invoice to
/// its stream's timeline; without (the CLI's self-contained files) nothing links.
pub(super) fn misses_table(
    caption: &str,
    misses: &[&Obligation],
    zone: Tz,
    links: Option<&dyn Links>,
) -> String {
    let rows: Vec<Vec<String>> = misses
        .iter()
        .map(|o| {
            let (class, words) = verdict_words(&o.verdict, zone);
            let rule = esc(o.rule.as_str());
            let what = esc(&subject_words(&o.subject, zone));
            let (rule, what) = match links {
                Some(links) => (
                    explain_id(o).map_or(rule.clone(), |id| {
                        anchor(
                            &links.explain(&id),
                            &rule,
                            "dispute view of this obligation",
                        )
                    }),
                    subject_stream(&o.subject).map_or(what.clone(), |stream| {
                        anchor(&links.timeline(&stream), &what, "timeline")
                    }),
                ),
                None => (rule, what),
            };
            vec![
                rule,
                what,
                esc(&rule_value_words(&o.rule_value)),
                o.clock_start
                    .map(|t| esc(&local(t, zone)))
                    .unwrap_or_default(),
                o.due_at.map(|t| esc(&local(t, zone))).unwrap_or_default(),
                format!(
                    "<span class={class}-text>{}</span>{}",
                    esc(&words),
                    o.note
                        .as_deref()
                        .map(|n| format!("<br>{}", esc(n)))
                        .unwrap_or_default()
                ),
                evidence_html(&o.evidence),
            ]
        })
        .collect();
    table(
        caption,
        &[
            "rule",
            "what",
            "value in force",
            "clock start",
            "due",
            "verdict",
            "evidence",
        ],
        &rows,
    )
}

fn tally_of(report: &SlaReport, rule: RuleId) -> Tally {
    report.rules.get(&rule).copied().unwrap_or_default()
}

fn tiles(report: &SlaReport) -> String {
    let raw = &report.calls.raw;
    let target = rule_value_words(&report.answer_target);
    let max = rule_value_words(&report.max_queue_time);
    let ans1 = tally_of(report, RuleId::Ans1);
    let ans2 = tally_of(report, RuleId::Ans2);
    let qa1 = tally_of(report, RuleId::Qa1);
    let resolved = raw.offered.saturating_sub(raw.unresolved);
    let abandon_bp = opsledger_domain::rules::BASIS_POINTS_PER_WHOLE
        .checked_mul(raw.abandoned)
        .and_then(|n| n.checked_div(resolved));
    let mut out = String::from("<section class=tiles aria-label=\"headline figures\">");
    out.push_str(&if ans1.missed > 0 {
        tile(
            &format!("Service level (R-ANS-1: answered within {target})"),
            &pct(raw.service_level_basis_points),
            "missed",
            &format!(
                "{} of {resolved} resolved calls missed the {target} target",
                ans1.missed
            ),
        )
    } else if resolved == 0 {
        tile(
            "Service level (R-ANS-1)",
            "–",
            "pending",
            "no resolved call yet",
        )
    } else {
        tile(
            &format!("Service level (R-ANS-1: answered within {target})"),
            &pct(raw.service_level_basis_points),
            "met",
            "no call answered after the target",
        )
    });
    out.push_str(&tile(
        "Average speed of answer",
        &ms_words(raw.average_speed_of_answer_ms),
        "neutral",
        &format!("the SOP sets no average; the answer target is {target}"),
    ));
    out.push_str(&tile(
        "Abandon rate",
        &pct(abandon_bp),
        "neutral",
        &format!(
            "{} of {resolved} resolved calls; the SOP sets no rate",
            raw.abandoned
        ),
    ));
    out.push_str(&if ans2.missed > 0 {
        tile(
            &format!("R-ANS-2 breaches (waits over {max})"),
            &raw.max_queue_breaches.to_string(),
            "missed",
            &format!(
                "{} missed, {} excused by a window",
                ans2.missed, ans2.excused
            ),
        )
    } else {
        tile(
            &format!("R-ANS-2 breaches (waits over {max})"),
            &raw.max_queue_breaches.to_string(),
            "met",
            &if ans2.excused > 0 {
                format!("none outside excused windows ({} excused)", ans2.excused)
            } else {
                "no wait over the maximum".to_owned()
            },
        )
    });
    let qa = &report.qa_coverage;
    let required = rule_value_words(&qa.required);
    let (state, judgement) = if qa1.missed > 0 {
        (
            "missed",
            format!(
                "{} of {} answered reviewed; required {required}",
                qa.reviewed, qa.answered
            ),
        )
    } else if qa1.met > 0 {
        (
            "met",
            format!(
                "{} of {} answered reviewed; required {required}",
                qa.reviewed, qa.answered
            ),
        )
    } else if qa1.excused > 0 {
        ("neutral", "excused by a window".to_owned())
    } else {
        (
            "pending",
            format!("judged at the month's QA summary deadline; required {required}"),
        )
    };
    out.push_str(&tile(
        "QA coverage (R-QA-1)",
        &pct(qa.reviewed_basis_points),
        state,
        &judgement,
    ));
    out.push_str("</section>");
    out
}

/// The SLA report of one client-local month as one HTML document. `obligations` is
/// the obligation report of the same period, basis and evaluation instant.
pub fn sla_page(
    report: &SlaReport,
    obligations: &ObligationReport,
    profile: &ClientProfile,
    provenance: &Provenance,
) -> String {
    let page = sla_parts(report, obligations, profile, provenance, None);
    document(&page.title, profile, &page.meta, &page.body)
}

/// The SLA report's title, line under it and body, for a self-contained file (`links` none)
/// or embedded in the desk's month page (misses linking to their dispute views).
pub(crate) fn sla_parts(
    report: &SlaReport,
    obligations: &ObligationReport,
    profile: &ClientProfile,
    provenance: &Provenance,
    links: Option<&dyn Links>,
) -> Parts {
    let zone = profile.time_zone;
    let month = report.month.first_day().format("%B %Y").to_string();
    let title = format!("{} — SLA report, {month}", profile.display_name());
    let meta = format!(
        "Period {} · basis: {} · pending deadlines judged at {}",
        esc(&period_words(&report.period, zone)),
        esc(&basis_words(&report.as_of, zone)),
        esc(&local(report.evaluated_at, zone))
    );
    let mut body = tiles(report);
    let headers = ["figure", "raw", "normal operating conditions"];
    if report.by_queue.len() > 1 {
        body.push_str("<h2>Figures</h2>");
        body.push_str(&table(
            "All queues",
            &headers,
            &figure_rows(&report.calls.raw, &report.calls.normal),
        ));
        for (queue, figures) in &report.by_queue {
            body.push_str(&table(
                &format!("Queue {queue}"),
                &headers,
                &figure_rows(&figures.raw, &figures.normal),
            ));
        }
    } else {
        // One queue: its table would repeat the month's, so the month's names the queue.
        let caption = report.by_queue.keys().next().map_or_else(
            || "All calls".to_owned(),
            |q| format!("All calls (one queue: {q})"),
        );
        body.push_str("<h2>Figures</h2>");
        body.push_str(&table(
            &caption,
            &headers,
            &figure_rows(&report.calls.raw, &report.calls.normal),
        ));
    }
    let points = call_points(obligations, zone);
    let target_secs = secs_of(&report.answer_target);
    let max_secs = secs_of(&report.max_queue_time);
    body.push_str("<h2>Wait-time distribution</h2>");
    body.push_str(&wait_chart(&points, target_secs, max_secs));
    body.push_str("<h2>Service level by day</h2>");
    body.push_str(&daily_chart(
        &points,
        report.calls.raw.service_level_basis_points,
        &rule_value_words(&report.answer_target),
    ));
    body.push_str("<h2>Obligations by rule</h2>");
    body.push_str(&obligations_chart(obligations));

    let is_call_or_escalation =
        |o: &&Obligation| matches!(o.subject, Subject::Call { .. } | Subject::Escalation { .. });
    let missed: Vec<&Obligation> = obligations
        .obligations
        .iter()
        .filter(is_call_or_escalation)
        .filter(|o| matches!(o.verdict, Verdict::Missed { .. }))
        .collect();
    let excused: Vec<&Obligation> = obligations
        .obligations
        .iter()
        .filter(is_call_or_escalation)
        .filter(|o| matches!(o.verdict, Verdict::Excused { .. }))
        .collect();
    let story = if links.is_some() {
        "each rule opens its dispute view, each call or escalation its timeline"
    } else {
        "<code>opsledger timeline call-&lt;id&gt;</code> (or <code>escalation-&lt;id&gt;</code>) tells its whole story"
    };
    let _ = write!(
        body,
        "<h2>Calls and escalations that missed</h2><p>{} missed, {} excused by a window. Each lists the events behind its verdict; {story}.</p>",
        missed.len(),
        excused.len()
    );
    if !missed.is_empty() {
        body.push_str(&misses_table("Missed", &missed, zone, links));
    }
    if !excused.is_empty() {
        body.push_str("<details><summary>Excused by a window</summary>");
        body.push_str(&misses_table("Excused", &excused, zone, links));
        body.push_str("</details>");
    }
    body.push_str("<h2>Excused windows</h2>");
    body.push_str(&windows_html(&report.excused_windows, zone));
    body.push_str("<h2>Definitions</h2><p>A call is offered when it enters the queue; its wait runs from then to agent pickup, voicemail routing or abandonment. The service level is the share of resolved calls (offered minus those whose outcome is not known yet) answered within the R-ANS-1 target; a call answered after exactly the target meets it. R-ANS-2 is breached only by a wait longer than the maximum. Figures under normal operating conditions leave out calls whose wait overlaps an excused window whose cause concerns answer times (force majeure, an unnotified volume change); missing client credentials do not. An excused window excuses a performance that had to happen inside it, or extends a deadline falling inside it by the time the clock stood still in it, and only for rules its cause concerns. R-QA-1 counts answered calls reviewed by the month's QA summary deadline.</p>");
    body.push_str(&provenance_html(provenance));
    Parts { title, meta, body }
}
