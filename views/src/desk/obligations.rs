//! The obligations page: one client-local month's obligations of one verdict (or all of them),
//! every one listed with its value in force, clock start, due instant, verdict in words and
//! evidence, its rule linking to its dispute view and its call, escalation or invoice to its
//! timeline.

use opsledger_app::report::Provenance;
use opsledger_projections::obligations::{Obligation, ObligationReport};
use opsledger_projections::profile::ClientProfile;
use opsledger_projections::YearMonth;

use super::month::verdict_links;
use super::{layout, Crumb, Links, Page, VerdictKind, Viewer};
use crate::sla::misses_table;
use crate::{basis_words, esc, local, period_words, provenance_html};

/// Obligations listed on one page at most: a month of a busy client holds thousands of met
/// ones, and a page of them all would be megabytes no one reads; the misses are far fewer.
pub const OBLIGATIONS_LISTED: usize = 500;

/// The obligations of `report` (one client-local month) whose verdict is `verdict`, or all.
pub fn obligations_page(
    links: &dyn Links,
    viewer: &Viewer<'_>,
    report: &ObligationReport,
    profile: &ClientProfile,
    provenance: &Provenance,
    verdict: Option<VerdictKind>,
) -> String {
    let zone = profile.time_zone;
    let client = profile.client_id.as_str();
    let month = YearMonth::of(report.period.from.with_timezone(&zone).date_naive());
    let month_words = month.first_day().format("%B %Y").to_string();
    let shown: Vec<&Obligation> = report
        .obligations
        .iter()
        .filter(|o| verdict.map_or(true, |v| VerdictKind::of(&o.verdict) == v))
        .collect();
    let which = verdict.map_or("All", VerdictKind::words);
    let title = format!(
        "{} — {} obligations, {month_words}",
        profile.display_name(),
        which.to_lowercase()
    );
    let meta = format!(
        "Period {} · basis: {} · pending deadlines judged at {} · client id <code>{}</code> · times in {zone}",
        esc(&period_words(&report.period, zone)),
        esc(&basis_words(&report.as_of, zone)),
        esc(&local(report.evaluated_at, zone)),
        esc(client)
    );
    let mut body = String::from("<h2>Filter by verdict</h2>");
    body.push_str(&verdict_links(links, client, month, report, Some(verdict)));
    body.push_str("<h2>Obligations</h2>");
    if shown.is_empty() {
        body.push_str("<p>No obligation of the month has this verdict.</p>");
    } else {
        let listed = &shown[..shown.len().min(OBLIGATIONS_LISTED)];
        let cut = if listed.len() < shown.len() {
            format!(
                " The first {} are listed; the JSON form of the report lists every one.",
                listed.len()
            )
        } else {
            String::new()
        };
        body.push_str(&format!(
            "<p>{} obligation{}.{cut} The rule opens the dispute view: the value in force and where it came from, and the events that prove the verdict.</p>",
            shown.len(),
            if shown.len() == 1 { "" } else { "s" }
        ));
        body.push_str(&misses_table(
            &format!("{which} obligations of the month"),
            listed,
            zone,
            Some(links),
        ));
    }
    body.push_str(&provenance_html(provenance));
    layout(
        links,
        Some(viewer),
        &Page {
            title,
            meta,
            trail: vec![
                Crumb::link("Clients", links.clients()),
                Crumb::link(
                    format!("{} · {month_words}", profile.display_name()),
                    links.month(client, month),
                ),
                Crumb::here(format!("{which} obligations")),
            ],
            body,
        },
    )
}
