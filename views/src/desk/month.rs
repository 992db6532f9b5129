//! The month report page: the SLA report of one client-local month (the content of the CLI's
//! HTML report) inside the desk's layout, with the way on: the month's obligations by
//! verdict, the neighbouring months, and the client's evidence bundle. Each miss links to its
//! dispute view and each call or escalation to its timeline.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use opsledger_app::report::Provenance;
use opsledger_projections::obligations::ObligationReport;
use opsledger_projections::profile::ClientProfile;
use opsledger_projections::sla::SlaReport;
use opsledger_projections::YearMonth;

use super::{layout, Crumb, Links, Page, VerdictKind, Viewer};
use crate::esc;
use crate::sla::sla_parts;

/// What the month page shows: the SLA report and the obligation report of the same month,
/// basis and evaluation instant (as the CLI's `report sla --format html` computes them), the
/// client's profile and the provenance of the reports.
#[derive(Debug, Clone, Copy)]
pub struct MonthReport<'a> {
    pub sla: &'a SlaReport,
    pub obligations: &'a ObligationReport,
    pub profile: &'a ClientProfile,
    pub provenance: &'a Provenance,
}

/// The month before.
fn previous(month: YearMonth) -> Option<YearMonth> {
    if month.month == 1 {
        YearMonth::new(month.year - 1, 12)
    } else {
        YearMonth::new(month.year, month.month - 1)
    }
}

/// The links to the month's obligations: one per verdict that occurs, with its count, then
/// all of them.
pub(super) fn verdict_links(
    links: &dyn Links,
    client: &str,
    month: YearMonth,
    report: &ObligationReport,
    current: Option<Option<VerdictKind>>,
) -> String {
    let mut counts: BTreeMap<VerdictKind, usize> = BTreeMap::new();
    for o in &report.obligations {
        *counts.entry(VerdictKind::of(&o.verdict)).or_default() += 1;
    }
    let mut out = String::from("<ul class=actions>");
    let mut item = |verdict: Option<VerdictKind>, words: String| {
        let href = esc(&links.obligations(client, month, verdict));
        if current == Some(verdict) {
            let _ = write!(
                out,
                "<li><a href=\"{href}\" aria-current=page><strong>{words}</strong></a></li>"
            );
        } else {
            let _ = write!(out, "<li><a href=\"{href}\">{words}</a></li>");
        }
    };
    for (kind, n) in &counts {
        item(Some(*kind), format!("{} {n}", kind.words()));
    }
    item(None, format!("all {}", report.obligations.len()));
    out.push_str("</ul>");
    out
}

/// The month report page.
pub fn month_page(links: &dyn Links, viewer: &Viewer<'_>, report: MonthReport<'_>) -> String {
    let parts = sla_parts(
        report.sla,
        report.obligations,
        report.profile,
        report.provenance,
        Some(links),
    );
    let client = report.profile.client_id.as_str();
    let month = report.sla.month;
    let mut body = String::from("<h2>Obligations of the month by verdict</h2>");
    body.push_str(&verdict_links(
        links,
        client,
        month,
        report.obligations,
        None,
    ));
    body.push_str("<ul class=actions>");
    if let Some(prev) = previous(month) {
        let _ = write!(
            body,
            "<li><a href=\"{}\">Previous month ({})</a></li>",
            esc(&links.month(client, prev)),
            prev.first_day().format("%B %Y")
        );
    }
    let next = month.next();
    let _ = write!(
        body,
        "<li><a href=\"{}\">Next month ({})</a></li><li><a href=\"{}\" download>Download the client's evidence bundle</a></li>",
        esc(&links.month(client, next)),
        next.first_day().format("%B %Y"),
        esc(&links.bundle(client, None))
    );
    if viewer.sees_retention {
        let _ = write!(
            body,
            "<li><a href=\"{}\">What retention apply would delete or keep (dry run)</a></li>",
            esc(&links.retention(client, month))
        );
    }
    body.push_str("</ul>");
    body.push_str(&parts.body);
    let month_words = month.first_day().format("%B %Y").to_string();
    layout(
        links,
        Some(viewer),
        &Page {
            title: parts.title,
            meta: parts.meta,
            trail: vec![
                Crumb::link("Clients", links.clients()),
                Crumb::here(format!("{} · {month_words}", report.profile.display_name())),
            ],
            body,
        },
    )
}
