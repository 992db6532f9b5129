//! The coverage area of the read model: shift records, and folding in shifts starting and ending.

use opsledger_domain::events::{ShiftEnded, ShiftStarted};
use opsledger_domain::ids::{AgentId, ShiftId};
use serde::{Deserialize, Serialize};

use super::{set_first, ReadModel};
use crate::position::EventRef;

/// One agent shift (R-COV-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftRecord {
    /// Shift.
    pub shift_id: ShiftId,
    /// Client slot.
    pub client: u32,
    /// Agent.
    pub agent_id: AgentId,
    /// Start.
    pub started: EventRef,
    /// End.
    pub ended: Option<EventRef>,
}
row!(ShiftRecord, ShiftId, shift_id);

impl ReadModel {
    /// Folds in a `ShiftStarted`.
    pub(super) fn apply_shift_started(&mut self, r: EventRef, e: &ShiftStarted) {
        let Some(client) = self.clients.slot(&e.client_id) else {
            return;
        };
        if let Some(slot) = self.shifts.insert_new(ShiftRecord {
            shift_id: e.shift_id.clone(),
            client,
            agent_id: e.agent_id.clone(),
            started: r,
            ended: None,
        }) {
            if let Some(c) = self.clients.get_slot_mut(client) {
                c.shifts.push(slot);
            }
        }
    }

    /// Folds in a `ShiftEnded`.
    pub(super) fn apply_shift_ended(&mut self, r: EventRef, e: &ShiftEnded) {
        if let Some(s) = self.shifts.get_mut(&e.shift_id) {
            set_first(&mut s.ended, r);
        }
    }
}
