//! The access-log page, for auditors: who read what from the desk, when, for which client,
//! with how many rows, each entry with the hash that chains it to the one before. The server
//! shows it to auditors only; this page renders what it is given.
//!
//! It takes its own row type rather than the access helper's `AccessEntry` (in
//! `store::desk`, not yet on this branch), so the server maps one into the other.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{layout, Crumb, Links, Page, Viewer};
use crate::{esc, table};

/// One access-log entry as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRow {
    /// Its sequence number in the log.
    pub seq: u64,
    /// When the request was answered.
    pub at: DateTime<Utc>,
    /// Who asked.
    pub user_name: String,
    /// Their role then.
    pub role: String,
    /// The client whose data was returned, if one.
    pub client_id: Option<String>,
    /// The query, as the server describes it (route and parameters).
    pub query: String,
    /// How many events or rows the answer held.
    pub rows: u64,
    /// The entry's hash, in hex.
    pub hash: String,
}

/// The filter the page was asked with, refilled into its form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccessFilterShown<'a> {
    pub client: Option<&'a str>,
    pub user: Option<&'a str>,
}

/// The access-log page: `rows` in log order, `filter` as asked, and `chain` the result of
/// verifying the log's hash chain, in words, when the server checked it.
pub fn access_log_page(
    links: &dyn Links,
    viewer: &Viewer<'_>,
    rows: &[AccessRow],
    filter: AccessFilterShown<'_>,
    chain: Option<&str>,
) -> String {
    let mut body = format!(
        "<form class=filter method=get action=\"{}\"><label for=client>Client id<input id=client name=client type=text value=\"{}\"></label><label for=user>User name<input id=user name=user type=text value=\"{}\"></label><button type=submit>Filter</button></form>",
        esc(&links.access_log()),
        esc(filter.client.unwrap_or("")),
        esc(filter.user.unwrap_or(""))
    );
    if let Some(chain) = chain {
        let _ = write!(body, "<p>Hash chain: {}</p>", esc(chain));
    }
    body.push_str("<h2>Entries</h2>");
    if rows.is_empty() {
        body.push_str("<p>No entry matches.</p>");
    } else {
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.seq.to_string(),
                    esc(&r.at.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
                    esc(&r.user_name),
                    esc(&r.role),
                    r.client_id.as_deref().map_or_else(
                        || "all clients".to_owned(),
                        |c| format!("<code>{}</code>", esc(c)),
                    ),
                    format!("<code>{}</code>", esc(&r.query)),
                    r.rows.to_string(),
                    format!("<code>{}</code>", esc(&r.hash)),
                ]
            })
            .collect();
        body.push_str(&table(
            "Reads recorded, in log order",
            &[
                "entry", "at", "user", "role", "client", "query", "rows", "hash",
            ],
            &cells,
        ));
    }
    layout(
        links,
        Some(viewer),
        &Page {
            title: "Access log".to_owned(),
            meta: format!(
                "{} entr{} · times in UTC · append-only and hash-chained, kept apart from the event log",
                rows.len(),
                if rows.len() == 1 { "y" } else { "ies" }
            ),
            trail: vec![
                Crumb::link("Clients", links.clients()),
                Crumb::here("Access log"),
            ],
            body,
        },
    )
}
