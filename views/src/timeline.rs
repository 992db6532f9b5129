//! The timeline page: one stream's events in log order, each with its occurred and recorded
//! times in the client's zone and UTC and its data as named fields, then the obligations these
//! events opened with their verdicts in words.

use std::fmt::Write as _;

use chrono_tz::Tz;
use opsledger_app::timeline::Timeline;
use opsledger_projections::profile::ClientProfile;
use serde_json::Value;

use super::desk::Links;
use super::sla::misses_table;
use super::{document_for, esc, local, local_and_utc, table, Parts};

/// Data fields shown open; an event with more (an agreement) folds them away.
const OPEN_FIELDS: usize = 8;

/// Flattens event data into `(path, text)` pairs: people read fields, not JSON.
/// Instants in the data are shown in the client's zone, like every other time on the page.
fn fields(prefix: &str, value: &Value, zone: Tz, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.replace('_', " ")
                } else {
                    format!("{prefix} › {}", k.replace('_', " "))
                };
                fields(&path, v, zone, out);
            }
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            let text: Vec<String> = items.iter().map(|i| scalar(i, zone)).collect();
            out.push((
                prefix.to_owned(),
                if text.is_empty() {
                    "none".to_owned()
                } else {
                    text.join(", ")
                },
            ));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                fields(&format!("{prefix} {}", i + 1), item, zone, out);
            }
        }
        other => out.push((prefix.to_owned(), scalar(other, zone))),
    }
}

fn scalar(value: &Value, zone: Tz) -> String {
    match value {
        Value::Null => "none".to_owned(),
        Value::String(s) => match chrono::DateTime::parse_from_rfc3339(s) {
            Ok(at) => local(at.with_timezone(&chrono::Utc), zone),
            Err(_) => s.clone(),
        },
        other => other.to_string(),
    }
}

fn data_html(data: &str, zone: Tz) -> String {
    match serde_json::from_str::<Value>(data) {
        Ok(value) => data_value_html(&value, zone),
        Err(_) => esc(data),
    }
}

/// An event's data as named fields (instants in the client's zone), folded away when long.
pub(crate) fn data_value_html(value: &Value, zone: Tz) -> String {
    let mut pairs = Vec::new();
    fields("", value, zone, &mut pairs);
    let mut dl = String::from("<dl class=data>");
    for (k, v) in &pairs {
        let _ = write!(dl, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    }
    dl.push_str("</dl>");
    if pairs.len() > OPEN_FIELDS {
        format!(
            "<details><summary>{} fields</summary>{dl}</details>",
            pairs.len()
        )
    } else {
        dl
    }
}

/// A stream's timeline as one HTML document; `profile` is the stream's client's, if
/// it belongs to one (times are then in its zone, otherwise in UTC).
pub fn timeline_page(timeline: &Timeline, profile: Option<&ClientProfile>) -> String {
    let zone = profile.map_or(Tz::UTC, |p| p.time_zone);
    let page = timeline_parts(timeline, profile, None);
    document_for(
        &page.title,
        timeline.client_id.as_deref(),
        zone,
        &page.meta,
        &page.body,
    )
}

/// The timeline's title, line and body; with `links` (the desk) its obligations link to
/// their dispute views.
pub(crate) fn timeline_parts(
    timeline: &Timeline,
    profile: Option<&ClientProfile>,
    links: Option<&dyn Links>,
) -> Parts {
    let zone = profile.map_or(Tz::UTC, |p| p.time_zone);
    let title = match profile {
        Some(p) => format!("{} — timeline of {}", p.display_name(), timeline.stream_id),
        None => format!("Timeline of {}", timeline.stream_id),
    };
    let meta = format!("{} events", timeline.events.len());
    let rows: Vec<Vec<String>> = timeline
        .events
        .iter()
        .map(|e| {
            vec![
                e.global_position.to_string(),
                format!(
                    "{}<br><span class=utc>version {}</span>",
                    esc(&e.event_type),
                    e.stream_version
                ),
                local_and_utc(e.occurred_at, zone),
                local_and_utc(e.recorded_at, zone),
                data_html(&e.data, zone),
            ]
        })
        .collect();
    let mut body = String::from("<h2>Events</h2>");
    body.push_str(&table(
        "The stream's events in log order",
        &["position", "event", "occurred", "recorded", "data"],
        &rows,
    ));
    let _ = write!(
        body,
        "<h2>Obligations</h2><p>{} obligations opened by these events, judged now.</p>",
        timeline.obligations.len()
    );
    if !timeline.obligations.is_empty() {
        let all: Vec<_> = timeline.obligations.iter().collect();
        body.push_str(&misses_table("Obligations and verdicts", &all, zone, links));
    }
    if let Some(last) = timeline.events.last() {
        let _ = write!(
            body,
            "<p class=provenance>The stream's last event is at position <strong>{}</strong> with hash <code>{}</code>; <code>opsledger verify</code> checks the chain up to the head.</p>",
            last.global_position,
            esc(&last.hash.to_hex())
        );
    }
    Parts { title, meta, body }
}
