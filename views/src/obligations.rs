//! The obligations page: every rule's tally first, then the obligations that missed, were
//! excused or are pending, each with its value in force, clock start, due instant, verdict in
//! words and the events behind it. Met and not-applicable obligations are counted, not listed:
//! the JSON form lists every one.

use std::fmt::Write as _;

use opsledger_app::report::Provenance;
use opsledger_projections::obligations::{Obligation, ObligationReport};
use opsledger_projections::profile::ClientProfile;
use opsledger_projections::verdict::Verdict;

use super::sla::{misses_table, windows_html};
use super::{basis_words, document, esc, local, period_words, provenance_html, table};

/// The obligation report of a period as one HTML document.
pub fn obligations_page(
    report: &ObligationReport,
    profile: &ClientProfile,
    provenance: &Provenance,
) -> String {
    let zone = profile.time_zone;
    let title = format!(
        "{} — obligations, {}",
        profile.display_name(),
        report.period.from.with_timezone(&zone).format("%B %Y")
    );
    let meta = format!(
        "Period {} · basis: {} · pending deadlines judged at {}",
        esc(&period_words(&report.period, zone)),
        esc(&basis_words(&report.as_of, zone)),
        esc(&local(report.evaluated_at, zone))
    );
    let rows: Vec<Vec<String>> = report
        .rules
        .iter()
        .map(|r| {
            let t = &r.tally;
            let missed = if t.missed > 0 {
                format!("<span class=missed-text>{}</span>", t.missed)
            } else {
                "0".to_owned()
            };
            vec![
                esc(r.rule.as_str()),
                t.met.to_string(),
                missed,
                t.excused.to_string(),
                t.pending.to_string(),
                t.not_applicable.to_string(),
                esc(r.note.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    let mut body = String::from("<h2>Summary by rule</h2>");
    body.push_str(&table(
        "Verdicts per rule, in catalog order",
        &[
            "rule",
            "met",
            "missed",
            "excused",
            "pending",
            "not applicable",
            "note",
        ],
        &rows,
    ));
    let pick = |f: fn(&Verdict) -> bool| -> Vec<&Obligation> {
        report
            .obligations
            .iter()
            .filter(|o| f(&o.verdict))
            .collect()
    };
    let missed = pick(|v| matches!(v, Verdict::Missed { .. } | Verdict::Unconfigured { .. }));
    let excused = pick(|v| matches!(v, Verdict::Excused { .. }));
    let pending = pick(|v| matches!(v, Verdict::Pending { .. }));
    let _ = write!(
        body,
        "<h2>Missed</h2><p>{} obligations missed (or could not be judged because the agreement lacks a value).</p>",
        missed.len()
    );
    if !missed.is_empty() {
        body.push_str(&misses_table("Missed obligations", &missed, zone, None));
    }
    let _ = write!(body, "<h2>Excused</h2><p>{} obligations would have been missed but an excused window excused them.</p>", excused.len());
    if !excused.is_empty() {
        body.push_str(&misses_table("Excused obligations", &excused, zone, None));
    }
    let _ = write!(
        body,
        "<h2>Pending</h2><p>{} obligations are not due yet, or held.</p>",
        pending.len()
    );
    if !pending.is_empty() {
        body.push_str("<details><summary>Show the pending obligations</summary>");
        body.push_str(&misses_table("Pending obligations", &pending, zone, None));
        body.push_str("</details>");
    }
    body.push_str("<p>Met and not-applicable obligations are counted in the summary; <code>--format json</code> lists every obligation with its evidence.</p>");
    body.push_str("<h2>Excused windows</h2>");
    body.push_str(&windows_html(&report.excused_windows, zone));
    body.push_str(&provenance_html(provenance));
    document(&title, profile, &meta, &body)
}
