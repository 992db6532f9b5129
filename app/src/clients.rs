//! The clients a ledger holds, as a person picking one to report on needs them: id, name,
//! time zone, plan, standing, and the span of their events.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use opsledger_projections::AsOf;
use opsledger_store::{EventFilter, EventStore};
use serde::Serialize;

use crate::error::{AppError, AppResult};

/// Events read per page while looking for a client's last event.
const SCAN_PAGE: usize = 10_000;

/// Where a client's agreement stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Served under its agreement.
    Active,
    /// Service suspended for non-payment (R-BIL-3) and not yet resumed.
    Suspended,
    /// A termination notice (R-TRM-1) was given; it has not taken effect.
    NoticeGiven,
    /// The termination has taken effect.
    Terminated,
}

impl Standing {
    /// The word a table prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::NoticeGiven => "notice given",
            Self::Terminated => "terminated",
        }
    }
}

/// One event's place: position and when it occurred and was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventMark {
    pub position: u64,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

/// One client as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientSummary {
    pub client_id: String,
    /// The name its agreement gives, if it gives one.
    pub name: Option<String>,
    /// The IANA zone of its business calendar: the zone its reports are read in.
    pub time_zone: String,
    /// The service tier of the agreement in force at the instant asked about.
    pub tier: String,
    pub standing: Standing,
    /// Its onboarding.
    pub first_event: EventMark,
    /// Its latest event in the log.
    pub last_event: EventMark,
}

/// Every client onboarded in the log, in onboarding order, as things stand at `at`.
pub async fn list(store: &Arc<dyn EventStore>, at: DateTime<Utc>) -> AppResult<Vec<ClientSummary>> {
    let mut out = Vec::new();
    for id in crate::project::clients(store).await? {
        let view = crate::report::view_for(store, &id, AsOf::Head).await?;
        let model = view.model();
        let record = model
            .client_slot(&id)
            .map(|slot| model.client(slot))
            .ok_or_else(|| AppError::Internal(format!("client {id} has no record")))?;
        let agreement = record.agreement_or_first(at);
        let standing = if record.terminated.is_some_and(|t| t.occurred_at <= at) {
            Standing::Terminated
        } else if record.suspensions.last().is_some_and(|s| {
            s.event.occurred_at <= at && s.resumed.map_or(true, |r| r.occurred_at > at)
        }) {
            Standing::Suspended
        } else if record
            .termination_notices
            .iter()
            .any(|n| n.event.occurred_at <= at)
        {
            Standing::NoticeGiven
        } else {
            Standing::Active
        };
        let first_event = EventMark {
            position: record.onboarded.position,
            occurred_at: record.onboarded.occurred_at,
            recorded_at: record.onboarded.recorded_at,
        };
        let last_event = last_event(store, id.as_str(), first_event).await?;
        out.push(ClientSummary {
            client_id: id.as_str().to_owned(),
            name: agreement.client_name.clone(),
            time_zone: agreement.calendar.time_zone.name().to_owned(),
            tier: serde_json::to_value(agreement.tier)?
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            standing,
            first_event,
            last_event,
        });
    }
    Ok(out)
}

/// The client's last event in the log (at least its onboarding).
async fn last_event(
    store: &Arc<dyn EventStore>,
    client: &str,
    onboarded: EventMark,
) -> AppResult<EventMark> {
    let filter = EventFilter {
        client_id: Some(client.to_owned()),
        ..EventFilter::default()
    };
    let mut last = onboarded;
    let mut next = onboarded.position;
    loop {
        let page = store.read_filtered(&filter, next, SCAN_PAGE).await?;
        if let Some(e) = page.last() {
            last = EventMark {
                position: e.global_position,
                occurred_at: e.occurred_at,
                recorded_at: e.recorded_at,
            };
            next = e.global_position + 1;
        }
        if page.len() < SCAN_PAGE {
            return Ok(last);
        }
    }
}
