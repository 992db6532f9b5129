//! Decisions about operations: excused windows and the agency's SOP amendments.

use super::{duplicate, esc_monotonic, invalid, known_client, same_client, unknown};
use crate::error::DomainError;
use crate::events::{
    DomainEvent, ExcuseCause, ExcusedWindowClosed, ExcusedWindowOpened, SopAmendmentPublished,
};
use crate::rules::RuleId;
use crate::state::LedgerState;

/// Decides `Command::OpenExcusedWindow`.
pub(super) fn open_excused_window(
    state: &LedgerState,
    e: ExcusedWindowOpened,
) -> Result<Vec<DomainEvent>, DomainError> {
    known_client(state, &e.client_id)?;
    // Awaiting the client's answer excuses only the rules a communication names, so its
    // windows come from `SendCommunication`, never from a free-standing window.
    if e.cause == ExcuseCause::AwaitingClientResponse {
        return Err(invalid(
            &e.client_id,
            "open an excused window awaiting the client's answer",
            "such windows are opened by sending the communication (send_communication)",
        ));
    }
    if let Some(existing) = state.excused_windows.get(&e.window_id) {
        return duplicate(
            existing.opened == e,
            format!("excusedwindow-{}", e.window_id),
        );
    }
    Ok(vec![e.into()])
}

/// Decides `Command::CloseExcusedWindow`.
pub(super) fn close_excused_window(
    state: &LedgerState,
    e: ExcusedWindowClosed,
) -> Result<Vec<DomainEvent>, DomainError> {
    let stream = format!("excusedwindow-{}", e.window_id);
    let window = state
        .excused_windows
        .get(&e.window_id)
        .ok_or_else(|| unknown("excused window", e.window_id.as_str()))?;
    same_client(&window.opened.client_id, &e.client_id, &stream)?;
    if window.closed_at == Some(e.at) {
        return Ok(vec![]);
    }
    if window.closed_at.is_some() {
        return Err(DomainError::InvalidTransition {
            stream,
            action: "close the window",
            state: "it is already closed",
        });
    }
    esc_monotonic(window.opened.at, e.at, &stream)?;
    Ok(vec![e.into()])
}

/// Decides `Command::PublishSopAmendment`.
pub(super) fn publish_sop_amendment(
    state: &LedgerState,
    e: SopAmendmentPublished,
) -> Result<Vec<DomainEvent>, DomainError> {
    if let Some(existing) = state
        .sop_amendments
        .iter()
        .find(|a| a.amendment_id == e.amendment_id)
    {
        return duplicate(*existing == e, format!("sop-{}", e.amendment_id));
    }
    if e.material {
        // The agency-wide floor, from the one place R-AMD-1's period is read; each
        // client's own (longer) notice is applied by the rules in force.
        let earliest = crate::rules_in_force::sop_amendment_floor(
            &crate::events::SopAmendmentPublished {
                effective_at: e.at,
                ..e.clone()
            },
            &state.sop_amendments,
        );
        let notice_days =
            crate::rules_in_force::amendment_notice_days(None, &state.sop_amendments, e.at);
        if e.effective_at < earliest {
            return Err(DomainError::rule_refused(
                    RuleId::Amd1,
                    format!(
                        "material SOP amendment {} takes effect at {}, earlier than {} days after notice ({})",
                        e.amendment_id,
                        e.effective_at,
                        notice_days,
                        earliest
                    ),
                ));
        }
    } else if e.effective_at < e.at {
        return Err(DomainError::Invalid(format!(
            "SOP amendment {} cannot take effect before it is published",
            e.amendment_id
        )));
    }
    Ok(vec![e.into()])
}
