//! Operations events: excused windows and the agency's SOP amendments (R-AMD-1).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::EventPayload;
use crate::agreement::RuleOverride;
use crate::ids::{ClientId, ExcusedWindowId, SopAmendmentId, AGENCY_SCOPE};

/// Why performance is excused during a window [4, 8].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExcuseCause {
    /// Force majeure (infrastructure failure, disaster).
    ForceMajeure,
    /// Client credentials missing, expired or revoked.
    MissingCredentials,
    /// A significant call-volume change the client did not notify.
    UnnotifiedVolumeChange,
    /// Awaiting the client's answer to an agency communication [4 Timely Response]; opened and
    /// closed by `CommunicationSent` / `CommunicationAnswered` only, never by an excused-window
    /// event, since it excuses just the rules the communication names. Added as a new value; no
    /// existing value changed.
    AwaitingClientResponse,
}

/// An excused window opened: time outside normal operating conditions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcusedWindowOpened {
    /// Client.
    pub client_id: ClientId,
    /// Window.
    pub window_id: ExcusedWindowId,
    /// When it began.
    pub at: DateTime<Utc>,
    /// Cause.
    pub cause: ExcuseCause,
    /// Personal data: free-text note.
    pub note: Option<String>,
}
payload!(
    ExcusedWindowOpened,
    "operations.excused_window_opened",
    1,
    "excusedwindow",
    window_id,
    ["/note"]
);

/// The excused window closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcusedWindowClosed {
    /// Client.
    pub client_id: ClientId,
    /// Window.
    pub window_id: ExcusedWindowId,
    /// When it ended.
    pub at: DateTime<Utc>,
}
payload!(
    ExcusedWindowClosed,
    "operations.excused_window_closed",
    1,
    "excusedwindow",
    window_id,
    []
);

/// The agency published an SOP amendment and notified active clients at `at` (R-AMD-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SopAmendmentPublished {
    /// Amendment.
    pub amendment_id: SopAmendmentId,
    /// When published and notified to clients.
    pub at: DateTime<Utc>,
    /// When it takes effect.
    pub effective_at: DateTime<Utc>,
    /// Whether it is a material change affecting active engagements.
    pub material: bool,
    /// New SOP defaults.
    pub changes: Vec<RuleOverride>,
    /// Summary of the change (agency text, not personal).
    pub summary: String,
}

impl EventPayload for SopAmendmentPublished {
    const EVENT_TYPE: &'static str = "operations.sop_amendment_published";
    const SCHEMA_VERSION: u32 = 1;
    const STREAM_CATEGORY: &'static str = "sop";
    const PERSONAL_FIELDS: &'static [&'static str] = &[];
    fn stream_key(&self) -> &str {
        self.amendment_id.as_str()
    }
    fn client_scope(&self) -> &str {
        AGENCY_SCOPE
    }
    fn occurred_at(&self) -> DateTime<Utc> {
        self.at
    }
}
