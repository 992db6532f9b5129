//! Escalation events: escalations opened, contacts attempted, unreachable or acknowledging, digests
//! delivered (R-ESC-*).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CallId, ClientId, DigestId, EscalationId};

use super::EventPayload;

/// Urgency of an escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Urgent: escalate within R-ESC-1.
    Urgent,
    /// Non-urgent: goes into the next digest (R-ESC-3).
    NonUrgent,
}

/// An escalation was opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationOpened {
    /// Client.
    pub client_id: ClientId,
    /// Escalation.
    pub escalation_id: EscalationId,
    /// The call it escalates, if any.
    pub call_id: Option<CallId>,
    /// When.
    pub at: DateTime<Utc>,
    /// Urgency.
    pub urgency: Urgency,
    /// Personal data: free-text summary.
    pub summary: Option<String>,
}
payload!(
    EscalationOpened,
    "escalation.opened",
    1,
    "escalation",
    escalation_id,
    ["/summary"]
);

/// A contact of the chain was attempted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationContactAttempted {
    /// Client.
    pub client_id: ClientId,
    /// Escalation.
    pub escalation_id: EscalationId,
    /// When.
    pub at: DateTime<Utc>,
    /// Tier of the chain.
    pub tier: u32,
    /// Non-personal reference of the contact.
    pub contact_ref: String,
}
payload!(
    EscalationContactAttempted,
    "escalation.contact_attempted",
    1,
    "escalation",
    escalation_id,
    []
);

/// The attempted contact was unreachable: the R-ESC-2 clock starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationContactUnreachable {
    /// Client.
    pub client_id: ClientId,
    /// Escalation.
    pub escalation_id: EscalationId,
    /// When.
    pub at: DateTime<Utc>,
    /// Tier.
    pub tier: u32,
    /// Contact.
    pub contact_ref: String,
}
payload!(
    EscalationContactUnreachable,
    "escalation.contact_unreachable",
    1,
    "escalation",
    escalation_id,
    []
);

/// A contact acknowledged the escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationAcknowledged {
    /// Client.
    pub client_id: ClientId,
    /// Escalation.
    pub escalation_id: EscalationId,
    /// When.
    pub at: DateTime<Utc>,
    /// Tier.
    pub tier: u32,
    /// Contact.
    pub contact_ref: String,
}
payload!(
    EscalationAcknowledged,
    "escalation.acknowledged",
    1,
    "escalation",
    escalation_id,
    []
);

/// A digest of non-urgent items was delivered (R-ESC-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestDelivered {
    /// Client.
    pub client_id: ClientId,
    /// Digest.
    pub digest_id: DigestId,
    /// When delivered.
    pub at: DateTime<Utc>,
    /// Start of the interval covered.
    pub period_start: DateTime<Utc>,
    /// End of the interval covered.
    pub period_end: DateTime<Utc>,
    /// The non-urgent escalations it covers.
    pub escalation_ids: Vec<EscalationId>,
    /// Delivery channel.
    pub channel: String,
}
payload!(
    DigestDelivered,
    "escalation.digest_delivered",
    1,
    "digest",
    digest_id,
    []
);
