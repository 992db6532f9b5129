//! The timeline page: the CLI's timeline view of one stream (its events with occurred and
//! recorded times in the client's zone and UTC, then the obligations they opened) inside the
//! desk's layout, its obligations linking to their dispute views, with the stream's dispute
//! view and evidence bundle a click away.

use chrono_tz::Tz;
use opsledger_app::timeline::Timeline;
use opsledger_projections::profile::ClientProfile;
use opsledger_projections::YearMonth;

use super::{layout, Crumb, Links, Page, Viewer};
use crate::esc;
use crate::timeline::timeline_parts;

/// The categories of stream `explain` answers about.
const EXPLAINED: [&str; 3] = ["call-", "escalation-", "invoice-"];

/// The timeline of one stream; `profile` is its client's, if it belongs to one (times are then
/// in its zone, otherwise in UTC).
pub fn desk_timeline_page(
    links: &dyn Links,
    viewer: &Viewer<'_>,
    timeline: &Timeline,
    profile: Option<&ClientProfile>,
) -> String {
    let parts = timeline_parts(timeline, profile, Some(links));
    let stream = timeline.stream_id.as_str();
    let mut actions = String::from("<ul class=actions>");
    if EXPLAINED.iter().any(|c| stream.starts_with(c)) {
        actions.push_str(&format!(
            "<li><a href=\"{}\">Dispute view of {}</a></li>",
            esc(&links.explain(stream)),
            esc(stream)
        ));
    }
    if let Some(client) = &timeline.client_id {
        actions.push_str(&format!(
            "<li><a href=\"{}\" download>Download the evidence bundle of {}</a></li>",
            esc(&links.bundle(client, Some(stream))),
            esc(stream)
        ));
    }
    actions.push_str("</ul>");
    let zone = profile.map_or(Tz::UTC, |p| p.time_zone);
    let client_line = timeline
        .client_id
        .as_deref()
        .map(|id| format!(" · client id <code>{}</code>", esc(id)))
        .unwrap_or_default();
    let meta = format!("{}{client_line} · times in {zone}, UTC beneath", parts.meta);
    let mut trail = vec![Crumb::link("Clients", links.clients())];
    if let (Some(client), Some(first)) = (&timeline.client_id, timeline.events.first()) {
        let month = YearMonth::of(first.occurred_at.with_timezone(&zone).date_naive());
        let name = profile.map_or(client.as_str(), ClientProfile::display_name);
        trail.push(Crumb::link(
            format!("{name} · {}", month.first_day().format("%B %Y")),
            links.month(client, month),
        ));
    }
    trail.push(Crumb::here(format!("Timeline of {stream}")));
    layout(
        links,
        Some(viewer),
        &Page {
            title: parts.title,
            meta,
            trail,
            body: format!("{actions}{}", parts.body),
        },
    )
}
