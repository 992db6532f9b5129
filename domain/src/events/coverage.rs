//! Coverage events: agents going on and off duty on an account (R-COV-1).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, ClientId, ShiftId};

use super::EventPayload;

/// An agent went on duty on an account (R-COV-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftStarted {
    /// Client.
    pub client_id: ClientId,
    /// Shift.
    pub shift_id: ShiftId,
    /// When.
    pub at: DateTime<Utc>,
    /// Agent.
    pub agent_id: AgentId,
}
payload!(
    ShiftStarted,
    "coverage.shift_started",
    1,
    "shift",
    shift_id,
    []
);

/// An agent went off duty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftEnded {
    /// Client.
    pub client_id: ClientId,
    /// Shift.
    pub shift_id: ShiftId,
    /// When.
    pub at: DateTime<Utc>,
    /// Agent.
    pub agent_id: AgentId,
}
payload!(ShiftEnded, "coverage.shift_ended", 1, "shift", shift_id, []);
