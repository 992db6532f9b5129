//! Timelines: the whole story of one call, escalation, invoice or client, in log order, with
//! the obligations its events opened, their verdicts and the rule values in force.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use opsledger_projections::obligations::Obligation;
use opsledger_projections::{AsOf, Period};
use opsledger_store::{Direction, EventStore, RecordedEvent};
use serde::Serialize;

use crate::clock::Clock;
use crate::crypto::{Sealer, Unreadable};
use crate::error::AppResult;
use crate::ledger::Target;
use crate::progress::Progress;

/// The stream categories a bare id is looked up in, in this order.
const TIMELINE_CATEGORIES: [&str; 9] = [
    "call",
    "escalation",
    "invoice",
    "review",
    "qualityissue",
    "breach",
    "accountissue",
    "excusedwindow",
    "client",
];

/// What `timeline` accepts, for the hint on an unknown id.
const TIMELINE_FORMS: &str = "a stream id (call-…, escalation-…, invoice-…, client-…, any \
     stream `opsledger events` prints), a call, escalation, invoice, review, issue, breach, \
     excused window or client id as reports print it (e.g. 1656680400.12), or an obligation id as reports print \
     it (RULE:SUBJECT, e.g. R-ESC-1:1656680400.12 or R-QA-1:acme-dental/2026-10: the stream of \
     its record, or its client's)";

/// Events read per page of a stream.
const STREAM_PAGE: usize = 10_000;

/// One stream's story.
#[derive(Debug, Serialize)]
pub struct Timeline {
    pub stream_id: String,
    pub client_id: Option<String>,
    /// The stream's events in order, personal fields opened (or `[shredded]`).
    pub events: Vec<RecordedEvent>,
    /// The obligations these events opened, judged at the evaluation instant.
    pub obligations: Vec<Obligation>,
    /// Personal fields that did not open (shown as `[unreadable]` in `events`).
    pub unreadable: Vec<Unreadable>,
}

/// The timeline of `stream`; pending deadlines are judged at `evaluated_at` (default: the
/// clock's now).
pub async fn timeline(
    target: &Target,
    stream: &str,
    evaluated_at: Option<DateTime<Utc>>,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> AppResult<Timeline> {
    let store = crate::report::up_to_date(target, progress).await?;
    timeline_in(&store, stream, evaluated_at, clock).await
}

/// [`timeline`] on a store already open (a server keeps one open and its read model current).
pub async fn timeline_in(
    store: &Arc<dyn EventStore>,
    stream: &str,
    evaluated_at: Option<DateTime<Utc>>,
    clock: &dyn Clock,
) -> AppResult<Timeline> {
    // Ids as printed anywhere are accepted: reports print a call's bare id, not its stream.
    let stream = crate::explain::printed_stream(store, stream, &TIMELINE_CATEGORIES)
        .await?
        .ok_or_else(|| crate::explain::unknown_id(stream, TIMELINE_FORMS))?;
    let mut events = Vec::new();
    let mut next = 0u64;
    loop {
        let page = store
            .read_stream(&stream, next, Direction::Forward, STREAM_PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        next = last.stream_version + 1;
        let full = page.len() == STREAM_PAGE;
        events.extend(page);
        if !full {
            break;
        }
    }
    // The timeline is read by people: personal fields are shown opened (or as "[shredded]"),
    // not as the ciphertext the log stores and hashes.
    let mut sealer = Sealer::new(Arc::clone(store));
    for event in &mut events {
        let opened = sealer.open_data(event).await?;
        event.data = serde_json::to_string(&opened)?;
    }
    let unreadable = sealer.take_unreadable();
    let client_id = events.iter().find_map(|e| e.client_id.clone());
    let positions: HashSet<u64> = events.iter().map(|e| e.global_position).collect();
    let mut obligations = Vec::new();
    if let (Some(client), Some(first), Some(last)) = (&client_id, events.first(), events.last()) {
        let client = crate::report::client_id(client)?;
        // Obligations opened by these events may fall due well after them (a month-end report,
        // a retention deadline), so the window reaches a quarter past the last event.
        let period = Period {
            from: first.occurred_at - Duration::days(1),
            to: last.occurred_at.max(last.recorded_at) + Duration::days(92),
        };
        let evaluated_at = evaluated_at.unwrap_or_else(|| clock.now());
        // The client's view alone: its rows and its events past the checkpoint.
        let projections = crate::project::client_view(store, &client, None).await?;
        let report = projections.obligation_report(&client, period, AsOf::Head, evaluated_at)?;
        obligations = report
            .obligations
            .into_iter()
            .filter(|o| o.evidence.iter().any(|e| positions.contains(&e.position)))
            .collect();
    }
    Ok(Timeline {
        stream_id: stream.to_string(),
        client_id,
        events,
        obligations,
        unreadable,
    })
}
