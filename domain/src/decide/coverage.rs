//! Decisions about coverage: shifts starting and ending.

use super::{active_client, duplicate, esc_monotonic, same_client, unknown};
use crate::error::DomainError;
use crate::events::{DomainEvent, ShiftEnded, ShiftStarted};
use crate::state::LedgerState;

/// Decides `Command::StartShift`.
pub(super) fn start_shift(
    state: &LedgerState,
    e: ShiftStarted,
) -> Result<Vec<DomainEvent>, DomainError> {
    active_client(state, &e.client_id, e.at, "shift")?;
    if let Some(existing) = state.shifts.get(&e.shift_id) {
        return duplicate(existing.started == e, format!("shift-{}", e.shift_id));
    }
    Ok(vec![e.into()])
}

/// Decides `Command::EndShift`.
pub(super) fn end_shift(
    state: &LedgerState,
    e: ShiftEnded,
) -> Result<Vec<DomainEvent>, DomainError> {
    let stream = format!("shift-{}", e.shift_id);
    let shift = state
        .shifts
        .get(&e.shift_id)
        .ok_or_else(|| unknown("shift", e.shift_id.as_str()))?;
    same_client(&shift.started.client_id, &e.client_id, &stream)?;
    if shift.started.agent_id != e.agent_id {
        return Err(DomainError::Invalid(format!(
            "shift {} is agent {}'s, not {}'s",
            e.shift_id, shift.started.agent_id, e.agent_id
        )));
    }
    if shift.ended_at == Some(e.at) {
        return Ok(vec![]);
    }
    if shift.ended_at.is_some() {
        return Err(DomainError::InvalidTransition {
            stream,
            action: "end the shift",
            state: "it already ended",
        });
    }
    esc_monotonic(shift.started.at, e.at, &stream)?;
    Ok(vec![e.into()])
}
