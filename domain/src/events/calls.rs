//! Call events: a call's way through the queue, its completion, classification, documentation and
//! delivery (R-ANS-*, R-DOC-*).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, CallId, ClientId};

use super::EventPayload;

/// A call entered the queue: the R-ANS-1 and R-ANS-2 clocks start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallConnected {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// When it entered the queue.
    pub at: DateTime<Utc>,
    /// Queue name, if known.
    pub queue: Option<String>,
    /// Personal data: the caller's number (caller id).
    pub caller_number: Option<String>,
}
payload!(
    CallConnected,
    "call.connected",
    1,
    "call",
    call_id,
    ["/caller_number"]
);

/// An agent picked the call up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallAnswered {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// Pickup instant.
    pub at: DateTime<Utc>,
    /// Agent.
    pub agent_id: AgentId,
}
payload!(CallAnswered, "call.answered", 1, "call", call_id, []);

/// The call was routed to voicemail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRoutedToVoicemail {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// When.
    pub at: DateTime<Utc>,
}
payload!(
    CallRoutedToVoicemail,
    "call.routed_to_voicemail",
    1,
    "call",
    call_id,
    []
);

/// Why a queued call ended without pickup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbandonReason {
    /// The caller hung up.
    CallerHungUp,
    /// The queue's own timeout removed the caller.
    QueueTimeout,
    /// No agent could take calls.
    QueueEmpty,
    /// The caller pressed a key to leave.
    CallerLeftWithKey,
}

/// The call left the queue without pickup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallAbandoned {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// When.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: AbandonReason,
}
payload!(CallAbandoned, "call.abandoned", 1, "call", call_id, []);

/// The answered (or voicemail) call ended: the R-DOC-*, R-ESC-1 clocks start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCompleted {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// When.
    pub at: DateTime<Utc>,
}
payload!(CallCompleted, "call.completed", 1, "call", call_id, []);

/// What a call resulted in [11.2].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// An action was taken or is required.
    Action,
    /// An inquiry.
    Inquiry,
    /// A booking.
    Booking,
    /// Nothing to document (wrong number, hang-up after pickup).
    NoAction,
}

impl CallOutcome {
    /// Whether R-DOC-1 requires documentation for this outcome.
    pub fn requires_documentation(self) -> bool {
        !matches!(self, CallOutcome::NoAction)
    }
}

/// The agent classified the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallClassified {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// When.
    pub at: DateTime<Utc>,
    /// Nature of the call, as a category of the client's list (not free text).
    pub nature: String,
    /// Whether it is urgent under the client's definitions.
    pub urgent: bool,
    /// What it resulted in.
    pub outcome: CallOutcome,
}
payload!(CallClassified, "call.classified", 1, "call", call_id, []);

/// Which of the four R-DOC-1 fields were filled in; not personal, so it survives shredding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct DocumentedFields {
    /// Caller name present.
    pub caller_name: bool,
    /// Contact information present.
    pub caller_contact: bool,
    /// Nature of call present.
    pub nature_of_call: bool,
    /// Action taken or required present.
    pub action_taken: bool,
}

impl DocumentedFields {
    /// Whether all four fields are present (R-DOC-1 met).
    pub fn all_present(self) -> bool {
        self.caller_name && self.caller_contact && self.nature_of_call && self.action_taken
    }
}

/// The call was documented [11.2].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallDocumented {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// When.
    pub at: DateTime<Utc>,
    /// The documenting agent.
    pub agent_id: AgentId,
    /// Personal data: caller name.
    pub caller_name: Option<String>,
    /// Personal data: caller contact information.
    pub caller_contact: Option<String>,
    /// Personal data: nature of the call, in the agent's words.
    pub nature_of_call: Option<String>,
    /// Personal data: action taken or required.
    pub action_taken: Option<String>,
    /// Which fields were present when documented (computed by the decision, not by the caller).
    pub fields_present: DocumentedFields,
}
payload!(
    CallDocumented,
    "call.documented",
    1,
    "call",
    call_id,
    [
        "/caller_name",
        "/caller_contact",
        "/nature_of_call",
        "/action_taken"
    ]
);

/// Documentation reached the client's designated system or channel (R-DOC-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentationDelivered {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// When.
    pub at: DateTime<Utc>,
    /// The channel, e.g. `"crm"` or `"email"`.
    pub channel: String,
}
payload!(
    DocumentationDelivered,
    "call.documentation_delivered",
    1,
    "call",
    call_id,
    []
);
