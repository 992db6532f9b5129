//! The dispute view of one call, escalation or invoice, or one obligation of it, from
//! `opsledger_app::explain`: for each obligation the rule and its catalog text, the value in
//! force and the record that set it, clock start, due instant, verdict and by how much, the
//! excused windows that bore on it and its evidence; then every event shown, with occurred and
//! recorded times in the client's zone and UTC, each stream linking to its timeline, and the
//! evidence bundle to download.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use opsledger_app::explain::{EntityKind, ExplainedObligation, Explanation, ShownEvent};
use opsledger_projections::obligations::Subject;
use opsledger_projections::source::ValueSource;
use opsledger_projections::verdict::Verdict;
use opsledger_projections::YearMonth;

use super::{anchor, layout, Crumb, Links, Page, Viewer};
use crate::timeline::data_value_html;
use crate::{basis_words, esc, local, local_and_utc, table, verdict_words};

/// A link to an event shown further down the page, or its position in words when it is not
/// among them.
fn event_link(e: &Explanation, position: u64) -> String {
    match e.events.iter().find(|x| x.position == position) {
        Some(shown) => format!(
            "<a href=\"#event-{position}\">position {position}</a> in {}",
            esc(&shown.stream_id)
        ),
        None => format!("position {position}"),
    }
}

/// Where the value in force came from, in words, the recording event linked.
fn source_html(e: &Explanation, o: &ExplainedObligation, zone: Tz) -> String {
    match &o.value_source {
        ValueSource::SopDefault => {
            "the SOP's default: no agreement or SOP amendment sets it".to_owned()
        }
        ValueSource::SopAmendment {
            amendment_id,
            event,
            takes_effect_at,
        } => format!(
            "SOP amendment <code>{}</code>, recorded at {} (event <code>{}</code>), in effect for this client from {}",
            esc(amendment_id.as_str()),
            event_link(e, event.position),
            event.event_id,
            esc(&local(*takes_effect_at, zone))
        ),
        ValueSource::Agreement {
            amendment_id,
            event,
            effective_at,
            explicit_override,
        } => {
            let which = amendment_id.as_ref().map_or_else(
                || "the onboarding agreement".to_owned(),
                |a| format!("agreement amendment <code>{}</code>", esc(a.as_str())),
            );
            let how = if *explicit_override {
                "an explicit rule override"
            } else {
                "its terms"
            };
            format!(
                "{which} ({how}), recorded at {} (event <code>{}</code>), governing from {}",
                event_link(e, event.position),
                event.event_id,
                esc(&local(*effective_at, zone))
            )
        }
    }
}

/// One obligation as a section of facts.
fn obligation_html(e: &Explanation, o: &ExplainedObligation, index: usize, zone: Tz) -> String {
    let ob = &o.obligation;
    let mut dl = String::from("<dl class=facts>");
    let mut fact = |term: &str, value: String| {
        let _ = write!(dl, "<dt>{term}</dt><dd>{value}</dd>");
    };
    fact("Value in force", esc(&o.value_text));
    fact("Set by", source_html(e, o, zone));
    if let Some(start) = ob.clock_start {
        fact("Clock start", local_and_utc(start, zone));
    }
    if let Some(due) = ob.due_at {
        fact("Due", local_and_utc(due, zone));
    }
    let (class, _) = verdict_words(&ob.verdict, zone);
    fact(
        "Verdict",
        format!("<span class={class}-text>{}</span>", esc(&o.outcome)),
    );
    if let Verdict::Met { met_at }
    | Verdict::Missed {
        met_at: Some(met_at),
        ..
    } = &ob.verdict
    {
        fact("Performed", local_and_utc(*met_at, zone));
    }
    if o.windows_applied.is_empty() {
        fact(
            "Excused windows",
            format!(
                "none bore on it ({} seen for the client)",
                e.excused_windows_seen.len()
            ),
        );
    } else {
        let items: Vec<String> = o
            .windows_applied
            .iter()
            .map(|w| {
                format!(
                    "<li>window <code>{}</code> (reading {}): {}</li>",
                    esc(w.window.window_id.as_str()),
                    esc(&w.reading.to_string()),
                    esc(&w.explanation)
                )
            })
            .collect();
        fact("Excused windows", format!("<ul>{}</ul>", items.concat()));
    }
    let evidence: Vec<String> = ob
        .evidence
        .iter()
        // Month- and quarter-level obligations cite a synthetic clock start with no event.
        .filter(|r| r.position != u64::MAX)
        .map(|r| event_link(e, r.position))
        .collect();
    fact(
        "Evidence",
        if evidence.is_empty() {
            "none recorded".to_owned()
        } else {
            evidence.join("; ")
        },
    );
    if let Some(note) = &ob.note {
        fact("Note", esc(note));
    }
    dl.push_str("</dl>");
    format!(
        "<section class=obligation aria-labelledby=ob-{index}><h2 id=ob-{index}>{} — {}</h2>{dl}</section>",
        esc(o.rule.as_str()),
        esc(&o.rule_text)
    )
}

/// The events shown, in log order, each its own anchor.
fn events_html(links: &dyn Links, e: &Explanation, zone: Tz) -> String {
    let rows: Vec<Vec<String>> = e
        .events
        .iter()
        .map(|ev: &ShownEvent| {
            let mut details = format!("event <code>{}</code>", ev.event_id);
            if let Some(c) = ev.correlation_id {
                let _ = write!(details, "<br>correlation <code>{c}</code>");
            }
            if let Some(p) = ev.caused_by_position {
                let _ = write!(
                    details,
                    "<br>caused by <a href=\"#event-{p}\">position {p}</a>"
                );
            }
            if let Some(actor) = &ev.actor {
                let _ = write!(details, "<br>recorded by {}", esc(actor));
            }
            if let Some(source) = &ev.source {
                let _ = write!(details, " · source {}", esc(source));
            }
            details.push_str(&data_value_html(&ev.data, zone));
            vec![
                format!("<span id=event-{p}>{p}</span>", p = ev.position),
                format!(
                    "{}<br>in {}<details><summary>ids and data</summary>{details}</details>",
                    esc(&ev.event_type),
                    anchor(
                        &links.timeline(&ev.stream_id),
                        &esc(&ev.stream_id),
                        "timeline of this stream"
                    )
                ),
                esc(&ev.roles.join("; ")),
                local_and_utc(ev.occurred_at, zone),
                local_and_utc(ev.recorded_at, zone),
            ]
        })
        .collect();
    table(
        "The events the answer rests on, in log order",
        &[
            "position",
            "event and stream",
            "why it is shown",
            "occurred",
            "recorded",
        ],
        &rows,
    )
}

/// The record asked about, as the heading names it: a call, escalation or invoice by kind and
/// id; the client's own records (a month, a quarter, an interval of it) by the client's name
/// and the period, since their id only repeats the client's id.
fn record_words(e: &Explanation, client: &str) -> String {
    if e.asked.kind != EntityKind::Client {
        return format!("{} {}", e.asked.kind.words(), e.asked.id);
    }
    let period = e
        .obligations
        .iter()
        .find_map(|o| match &o.obligation.subject {
            Subject::Month { month } => Some(month.first_day().format("%B %Y").to_string()),
            Subject::Quarter { year, quarter } => Some(format!("Q{quarter} {year}")),
            _ => None,
        });
    let rest = e
        .asked
        .id
        .strip_prefix(e.client_id.as_str())
        .unwrap_or(&e.asked.id)
        .trim_start_matches('/');
    match period {
        Some(p) => format!("{client}, {p}"),
        None if rest.is_empty() => client.to_owned(),
        None => format!("{client}, {rest}"),
    }
}

/// The month the record belongs to, for the trail: a month-, quarter- or interval-level
/// obligation's own period (its clock starts when the period ends, so the clock would name the
/// month after), else the month of its first clock start, else of its first event.
fn record_month(e: &Explanation, zone: Tz) -> Option<YearMonth> {
    let local_month = |at: DateTime<Utc>| YearMonth::of(at.with_timezone(&zone).date_naive());
    e.obligations
        .iter()
        .find_map(|o| match &o.obligation.subject {
            Subject::Month { month } => Some(*month),
            Subject::Quarter { year, quarter } => {
                YearMonth::new(*year, quarter.saturating_mul(3).saturating_sub(2))
            }
            Subject::Coverage { from, .. } => Some(local_month(*from)),
            _ => None,
        })
        .or_else(|| {
            e.obligations
                .iter()
                .find_map(|o| o.obligation.clock_start)
                .map(local_month)
        })
        .or_else(|| e.events.first().map(|ev| local_month(ev.occurred_at)))
}

/// Why no event is listed: the obligations of the record cite none as evidence (a month's
/// review share counts reviews that were never recorded, for instance), so the page says so
/// instead of showing an empty table.
fn no_events_html(e: &Explanation) -> String {
    if e.obligations.is_empty() {
        return "<p>No event recorded: the ledger holds no event of this record.</p>".to_owned();
    }
    let items: Vec<String> = e
        .obligations
        .iter()
        .map(|o| {
            format!(
                "<li>{} is judged on the absence of the events that would meet it: {}.</li>",
                esc(o.rule.as_str()),
                esc(&o.outcome)
            )
        })
        .collect();
    format!(
        "<p>No event recorded: no obligation of this record cites an event as evidence, so there is none to list.</p><ul>{}</ul>",
        items.concat()
    )
}

/// The dispute view of one record. `client_name` is the client's name under its agreement,
/// when it has one (the explanation carries its id).
pub fn dispute_page(
    links: &dyn Links,
    viewer: &Viewer<'_>,
    e: &Explanation,
    client_name: Option<&str>,
) -> String {
    // The explanation names a zone it parsed from the ledger; UTC only guards a malformed one.
    let zone: Tz = e.time_zone.parse().unwrap_or(Tz::UTC);
    let client = client_name.unwrap_or(&e.client_id);
    let record = record_words(e, client);
    let title = match e.asked.rule {
        Some(rule) => format!("{rule} of {record} — dispute view"),
        None => format!("{record} — dispute view"),
    };
    let meta = format!(
        "Client {} (id <code>{}</code>) · basis: {} · pending deadlines judged at {} · times in {zone}, UTC beneath",
        esc(client),
        esc(&e.client_id),
        esc(&basis_words(&e.as_of, zone)),
        esc(&local(e.evaluated_at, zone))
    );
    let mut body = format!(
        "<ul class=actions><li>{}</li><li><a href=\"{}\" download>Download the evidence bundle of {}</a></li><li><a href=\"{}\" download>Download the client's evidence bundle</a></li></ul>",
        anchor(
            &links.timeline(&e.asked.stream_id),
            &format!("Timeline of {}", esc(&e.asked.stream_id)),
            ""
        ),
        esc(&links.bundle(&e.client_id, Some(&e.asked.stream_id))),
        esc(&e.asked.stream_id),
        esc(&links.bundle(&e.client_id, None)),
    );
    if e.obligations.is_empty() {
        body.push_str(
            "<h2>Obligations</h2><p>No obligation of this record falls due under the rules.</p>",
        );
    }
    for (i, o) in e.obligations.iter().enumerate() {
        body.push_str(&obligation_html(e, o, i + 1, zone));
    }
    let streams: Vec<String> = e
        .streams
        .iter()
        .map(|s| {
            format!(
                "<li>{}</li>",
                anchor(&links.timeline(s), &esc(s), "timeline of this stream")
            )
        })
        .collect();
    if e.events.is_empty() {
        let _ = write!(body, "<h2>Events</h2>{}", no_events_html(e));
    } else {
        let _ = write!(
            body,
            "<h2>Events</h2><p>{} events in {} streams. Each stream opens its timeline.</p><ul>{}</ul>",
            e.events.len(),
            e.streams.len(),
            streams.concat()
        );
        body.push_str(&events_html(links, e, zone));
    }
    if !e.notes.is_empty() {
        body.push_str("<h2>Not followed</h2><ul>");
        for n in &e.notes {
            let _ = write!(body, "<li>{}</li>", esc(n));
        }
        body.push_str("</ul>");
    }
    match (e.position, e.head_hash.as_deref()) {
        (Some(p), Some(h)) => {
            let _ = write!(
                body,
                "<p class=provenance>This answer reflects the ledger up to position <strong>{p}</strong>, head hash <code>{}</code>. <code>opsledger explain {}</code> gives the same answer at the shell.</p>",
                esc(h),
                esc(&e.asked.given)
            );
        }
        _ => body.push_str("<p class=provenance>This answer reflects an empty ledger.</p>"),
    }
    let mut trail = vec![Crumb::link("Clients", links.clients())];
    if let Some(month) = record_month(e, zone) {
        trail.push(Crumb::link(
            format!("{client} · {}", month.first_day().format("%B %Y")),
            links.month(&e.client_id, month),
        ));
    }
    trail.push(Crumb::here(format!("Dispute view of {record}")));
    layout(
        links,
        Some(viewer),
        &Page {
            title,
            meta,
            trail,
            body,
        },
    )
}
