//! Decisions about retention: legal holds and the deletion of client data (R-RET-2).

use super::{client_rules, day_count, duplicate, esc_monotonic, invalid, known_client, unknown};
use crate::error::DomainError;
use crate::events::{
    ClientDataDeleted, DeletionScope, DomainEvent, LegalHoldPlaced, LegalHoldReleased,
};
use crate::rules::RuleId;
use crate::rules_in_force::value_at;
use crate::state::LedgerState;

/// Decides `Command::PlaceLegalHold`.
pub(super) fn place_legal_hold(
    state: &LedgerState,
    e: LegalHoldPlaced,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = known_client(state, &e.client_id)?;
    if let Some(existing) = client.legal_holds.get(&e.hold_id) {
        return duplicate(*existing == e, format!("client-{}", e.client_id));
    }
    Ok(vec![e.into()])
}

/// Decides `Command::ReleaseLegalHold`.
pub(super) fn release_legal_hold(
    state: &LedgerState,
    e: LegalHoldReleased,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = known_client(state, &e.client_id)?;
    let hold = client
        .legal_holds
        .get(&e.hold_id)
        .ok_or_else(|| unknown("active legal hold", e.hold_id.as_str()))?;
    esc_monotonic(hold.at, e.at, &format!("client-{}", e.client_id))?;
    Ok(vec![e.into()])
}

/// Decides `Command::RecordDataDeletion`.
pub(super) fn record_data_deletion(
    state: &LedgerState,
    e: ClientDataDeleted,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = known_client(state, &e.client_id)?;
    if let Some(hold) = client.legal_holds.values().next() {
        return Err(DomainError::rule_refused(
            RuleId::Ret2,
            format!(
                "legal hold {} ({}) is active; deletion is suspended until it is released",
                hold.hold_id, hold.matter
            ),
        ));
    }
    match &e.scope {
        DeletionScope::AllClientData => {
            if client.data_deleted_at.is_some() {
                return Err(invalid(
                    &e.client_id,
                    "delete all client data",
                    "it was already deleted",
                ));
            }
            match client.terminated_at {
                Some(t) if t <= e.at => {}
                _ => {
                    return Err(invalid(
                        &e.client_id,
                        "delete all client data",
                        "the engagement has not terminated",
                    ))
                }
            }
        }
        DeletionScope::CallRecordsBefore { before } => {
            let rules = client_rules(state, client);
            let keep = day_count(RuleId::Ret1, &value_at(RuleId::Ret1, &rules, e.at))?;
            let calendar = &client.agreement_or_first(e.at).calendar;
            let latest_allowed = calendar.sub_local_days(e.at, keep)?;
            if *before > latest_allowed {
                return Err(DomainError::rule_refused(
                        RuleId::Ret1,
                        format!(
                            "call records must be kept {} days; records up to {} may not be deleted at {}",
                            keep,
                            before,
                            e.at
                        ),
                    ));
            }
        }
    }
    Ok(vec![e.into()])
}
