//! The client list, the desk's home: each client the viewer may read, with its zone, tier and
//! standing, linking to its months' reports (the latest first) and, for operators, to its
//! retention dry run.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use opsledger_app::clients::ClientSummary;
use opsledger_projections::YearMonth;

use super::{layout, Crumb, Links, Page, Viewer};
use crate::{esc, local, table};

/// Months linked per client: a year back from its latest event.
const MONTHS_LISTED: usize = 12;

/// The client-local month of an instant.
fn month_of(at: DateTime<Utc>, zone: Tz) -> YearMonth {
    YearMonth::of(at.with_timezone(&zone).date_naive())
}

/// The months from the client's first event to its last, newest first, at most
/// [`MONTHS_LISTED`] of them.
fn months(client: &ClientSummary, zone: Tz) -> Vec<YearMonth> {
    let first = month_of(client.first_event.occurred_at, zone);
    let last = month_of(client.last_event.occurred_at, zone);
    let mut out = Vec::new();
    let mut m = first;
    while m <= last {
        out.push(m);
        m = m.next();
    }
    out.reverse();
    out.truncate(MONTHS_LISTED);
    out
}

/// The client list; `clients` are those the viewer may read, in the order to show them.
pub fn clients_page(links: &dyn Links, viewer: &Viewer<'_>, clients: &[ClientSummary]) -> String {
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|c| {
            // A zone the ledger holds is a valid IANA name; UTC only guards a malformed one.
            let zone: Tz = c.time_zone.parse().unwrap_or(Tz::UTC);
            let name = esc(c.name.as_deref().unwrap_or(&c.client_id));
            let months = months(c, zone);
            let name = match months.first() {
                Some(latest) => format!(
                    "<a href=\"{}\">{name}</a>",
                    esc(&links.month(&c.client_id, *latest))
                ),
                None => name,
            };
            let month_links: Vec<String> = months
                .iter()
                .map(|m| {
                    format!(
                        "<a href=\"{}\" aria-label=\"{} {}\">{}</a>",
                        esc(&links.month(&c.client_id, *m)),
                        esc(c.name.as_deref().unwrap_or(&c.client_id)),
                        m.first_day().format("%B %Y"),
                        m.first_day().format("%b %Y")
                    )
                })
                .collect();
            let mut standing = esc(c.standing.as_str());
            // Operators reach the retention dry run from here too: a terminated client's
            // deletion is what they come for.
            if let (true, Some(latest)) = (viewer.sees_retention, months.first()) {
                standing.push_str(&format!(
                    "<br><a href=\"{}\" aria-label=\"Retention dry run of {}\">retention dry run</a>",
                    esc(&links.retention(&c.client_id, *latest)),
                    esc(c.name.as_deref().unwrap_or(&c.client_id))
                ));
            }
            vec![
                format!("{name}<br><code>{}</code>", esc(&c.client_id)),
                esc(&c.time_zone),
                esc(&c.tier),
                standing,
                month_links.join(" · "),
                esc(&local(c.last_event.occurred_at, zone)),
            ]
        })
        .collect();
    let body = if clients.is_empty() {
        "<p>No client you may read has been onboarded in this ledger.</p>".to_owned()
    } else {
        table(
            "Clients, in onboarding order",
            &[
                "client and id",
                "time zone",
                "tier",
                "standing",
                "monthly reports",
                "latest event",
            ],
            &rows,
        )
    };
    layout(
        links,
        Some(viewer),
        &Page {
            title: "Clients".to_owned(),
            meta: format!(
                "{} client{} · choose a month to see its report",
                clients.len(),
                if clients.len() == 1 { "" } else { "s" }
            ),
            trail: vec![Crumb::here("Clients")],
            body,
        },
    )
}
