//! Fact rows: the pure function from one positioned event to the read-model row it adds, and back.
//!
//! The read model is persisted as facts, not as a folded state: each event the projections read
//! becomes exactly one row keyed by its global position, carrying its client, business area,
//! entity, occurred-at and recorded-at instants and the decoded payload (personal fields
//! withheld). Verdicts are never stored; a report reads the rows of its client and folds them
//! into a [`ReadModel`] at query time, because verdicts depend on `evaluated_at` and on
//! agreements amended late. Because a row is a function of its event alone, a rebuild and a
//! catch-up write the same rows, a replay after a crash is a no-op, and an auditor can
//! re-derive every stored row from the verified log and compare them
//! (`docs/adr/0006-read-model-facts.md`).

use chrono::{DateTime, Utc};
use opsledger_domain::codec;
use opsledger_domain::events::{CallConnected, DomainEvent, EventPayload};
use opsledger_domain::ids::{CallId, AGENCY_SCOPE};
use thiserror::Error;
use uuid::Uuid;

use crate::model::ReadModel;
use crate::position::PositionedEvent;

/// The version of the fact rows' meaning. Bump it whenever [`fact_of`] or the meaning of a
/// row's body changes: stored rows of another version are then rebuilt, never served.
pub const FACTS_VERSION: u32 = 1;

/// The business areas facts are grouped by; the same names cut `domain`, `projections` and the
/// application library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Area {
    /// Onboarding, agreements, credentials, change notices, communications, SOP amendments.
    Client,
    /// Calls and their facts.
    Calls,
    /// Escalations, attempts, acknowledgements, digests.
    Escalations,
    /// Reviews, quality issues, conduct breaches, client review requests.
    Quality,
    /// Shifts and excused windows.
    Coverage,
    /// Monthly reports, QA summaries, quarterly reviews.
    Reporting,
    /// Invoices, payments, credits, notices, suspensions.
    Billing,
    /// Termination, legal holds, data deletion.
    Termination,
}

impl Area {
    /// Every area, in a fixed order.
    pub const ALL: [Area; 8] = [
        Area::Client,
        Area::Calls,
        Area::Escalations,
        Area::Quality,
        Area::Coverage,
        Area::Reporting,
        Area::Billing,
        Area::Termination,
    ];

    /// The stable name stored in rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Client => "client",
            Area::Calls => "calls",
            Area::Escalations => "escalations",
            Area::Quality => "quality",
            Area::Coverage => "coverage",
            Area::Reporting => "reporting",
            Area::Billing => "billing",
            Area::Termination => "termination",
        }
    }

    /// The area an event type belongs to, from its stable name's prefix.
    pub fn of_event_type(event_type: &str) -> Area {
        match event_type.split('.').next().unwrap_or_default() {
            "call" => Area::Calls,
            "escalation" => Area::Escalations,
            "quality" => Area::Quality,
            "coverage" => Area::Coverage,
            "operations" if event_type.contains("excused_window") => Area::Coverage,
            "reporting" => Area::Reporting,
            "billing" => Area::Billing,
            "termination" | "retention" => Area::Termination,
            // client.*, communication.*, operations.sop_amendment_published.
            _ => Area::Client,
        }
    }
}

/// One read-model row, as the projections define it (the store keeps it without knowing this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    /// The event's global position (the row's key).
    pub position: u64,
    /// The event's id.
    pub event_id: Uuid,
    /// The client, `None` for an agency-wide fact.
    pub client_id: Option<String>,
    /// The business area.
    pub area: Area,
    /// The entity: the event's stream.
    pub entity: String,
    /// The event's stable type name.
    pub kind: &'static str,
    /// When the fact occurred.
    pub occurred_at: DateTime<Utc>,
    /// When the log recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The payload as JSON text (personal fields as the reader decoded them: withheld).
    pub body: String,
}

/// Why a stored row does not decode back into an event.
#[derive(Debug, Error)]
pub enum FactError {
    /// The row's kind or body is not a payload this build reads.
    #[error("read-model row at position {position} ({kind}) does not decode: {source}")]
    Undecodable {
        /// The row's position.
        position: u64,
        /// The row's kind.
        kind: String,
        /// The decoder's reason.
        source: codec::DecodeError,
    },
    /// Rows of one client arrived out of position order.
    #[error("read-model rows out of order: position {found} after {previous}")]
    OutOfOrder {
        /// The position before.
        previous: u64,
        /// The position found.
        found: u64,
    },
}

/// The row an event adds to the read model.
pub fn fact_of(event: &PositionedEvent) -> Fact {
    let (kind, _version, payload) = codec::encode(&event.event);
    let scope = event.event.client_id();
    Fact {
        position: event.position,
        event_id: event.event_id,
        client_id: (scope != AGENCY_SCOPE).then(|| scope.to_owned()),
        area: Area::of_event_type(kind),
        entity: event.event.stream_id(),
        kind,
        occurred_at: event.event.occurred_at(),
        recorded_at: event.recorded_at,
        // A `Value` serializes with sorted keys, so equal events give equal bytes.
        body: payload.to_string(),
    }
}

/// The event a stored row stands for. `kind` and `body` are the row's; the decoder reads the
/// current schema version, which is what [`FACTS_VERSION`] rows hold.
pub fn event_of(
    position: u64,
    event_id: Uuid,
    recorded_at: DateTime<Utc>,
    kind: &str,
    body: &str,
) -> Result<PositionedEvent, FactError> {
    let undecodable = |source| FactError::Undecodable {
        position,
        kind: kind.to_owned(),
        source,
    };
    let version = codec::current_schema_version(kind)
        .ok_or_else(|| undecodable(codec::DecodeError::UnknownEventType(kind.to_owned())))?;
    let event = codec::decode_str(kind, version, body).map_err(undecodable)?;
    Ok(PositionedEvent {
        position,
        event_id,
        recorded_at,
        event,
    })
}

/// The area a period-bounded view reads by entity rather than whole: calls are where a
/// client's volume is (several facts per call, every day), and a monthly report judges only
/// the calls of its month (plus the calls other facts refer to, see [`referenced_call`]).
/// Every other area is small and standing (agreements, holds, invoices, notices, windows,
/// escalations, reviews, issues, shifts, deliveries) and is read whole.
pub const PERIOD_BOUNDED_AREA: Area = Area::Calls;

/// How far around a UTC month a period-bounded view looks for calls, in hours. A call belongs
/// to the month of its connection in the client's zone in force (offsets are within ±14 h),
/// and the SLA and obligation reports of a month read the calls bucketed in it; three days
/// take every such call in, and taking a few calls of the neighbouring months in changes no
/// figure of the month (they are bucketed elsewhere).
pub const PERIOD_MARGIN_HOURS: i64 = 72;

/// The kind of the one row of a call that its retention record needs: the call's connection,
/// which opens the record (R-RET-1 counts from the call) and buckets it in its month.
pub const CALL_RECORD_KIND: &str = <CallConnected as EventPayload>::EVENT_TYPE;

/// The areas a period-bounded view reads whole.
pub fn standing_areas() -> Vec<&'static str> {
    Area::ALL
        .iter()
        .filter(|a| **a != PERIOD_BOUNDED_AREA)
        .map(|a| a.as_str())
        .collect()
}

/// The call a fact outside the calls area refers to. The fold links an escalation or a review
/// to its call when it folds them (the escalation's urgent attempt and the review's
/// completion are marked on the call), so a period-bounded view reads the whole history of
/// every call referred to, whatever month it was connected in: then each escalation and
/// review folds exactly as in the client's whole history.
pub fn referenced_call(event: &DomainEvent) -> Option<&CallId> {
    match event {
        DomainEvent::EscalationOpened(e) => e.call_id.as_ref(),
        DomainEvent::CallSelectedForReview(e) => Some(&e.call_id),
        DomainEvent::ClientReviewRequested(e) => Some(&e.call_id),
        DomainEvent::ReviewCompleted(e) => Some(&e.call_id),
        DomainEvent::QualityIssueIdentified(e) => e.call_id.as_ref(),
        DomainEvent::ConductBreachIdentified(e) => e.call_id.as_ref(),
        _ => None,
    }
}

/// The entity (stream) of a call's facts.
pub fn call_entity(call_id: &CallId) -> String {
    format!("{}-{}", CallConnected::STREAM_CATEGORY, call_id.as_str())
}

/// Whether a fact makes a client's reports depend on its whole call history, so no
/// period-bounded view may serve them: R-RET-1 judges a deletion of all client data against
/// the client's newest call, whenever that was.
pub fn needs_whole_call_history(event: &DomainEvent) -> bool {
    matches!(event, DomainEvent::ClientDataDeleted(_))
}

/// Folds a client's events (its own and the agency-wide ones), in position order, into a read
/// model. Unlike the log-wide [`crate::Projections`], positions need not be contiguous: other
/// clients' events are simply not there.
#[derive(Debug, Default)]
pub struct ClientFold {
    model: ReadModel,
    last: Option<u64>,
}

impl ClientFold {
    /// An empty fold.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies the next event; positions must increase.
    pub fn apply(&mut self, event: &PositionedEvent) -> Result<(), FactError> {
        if let Some(previous) = self.last {
            if event.position <= previous {
                return Err(FactError::OutOfOrder {
                    previous,
                    found: event.position,
                });
            }
        }
        self.model.apply(event);
        self.last = Some(event.position);
        Ok(())
    }

    /// The position of the last event applied.
    pub fn last_position(&self) -> Option<u64> {
        self.last
    }

    /// The folded read model.
    pub fn into_model(self) -> ReadModel {
        self.model
    }

    /// The folded read model, borrowed.
    pub fn model(&self) -> &ReadModel {
        &self.model
    }
}
