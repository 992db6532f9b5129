//! Decisions about escalations: opening, contact attempts along the chain, unreachable contacts,
//! acknowledgements and digests.

use super::{
    active_client, call_stream, duplicate, esc_monotonic, known_call, known_client, same_client,
    unknown,
};
use crate::error::DomainError;
use crate::events::{
    DigestDelivered, DomainEvent, EscalationAcknowledged, EscalationContactAttempted,
    EscalationContactUnreachable, EscalationOpened, Urgency,
};
use crate::ids::ClientId;
use crate::rules::RuleId;
use crate::state::LedgerState;

/// Decides `Command::OpenEscalation`.
pub(super) fn open_escalation(
    state: &LedgerState,
    e: EscalationOpened,
) -> Result<Vec<DomainEvent>, DomainError> {
    active_client(state, &e.client_id, e.at, "escalation")?;
    if let Some(existing) = state.escalations.get(&e.escalation_id) {
        return duplicate(
            existing.opened == e,
            format!("escalation-{}", e.escalation_id),
        );
    }
    if let Some(call_id) = &e.call_id {
        let call = known_call(state, call_id, &e.client_id)?;
        if e.at < call.connected.at {
            return Err(DomainError::TimeRunsBackwards {
                stream: call_stream(call_id),
                last_at: call.connected.at,
                at: e.at,
            });
        }
    }
    Ok(vec![e.into()])
}

/// Decides `Command::AttemptContact`.
pub(super) fn attempt_contact(
    state: &LedgerState,
    e: EscalationContactAttempted,
) -> Result<Vec<DomainEvent>, DomainError> {
    let stream = format!("escalation-{}", e.escalation_id);
    let esc = known_escalation(state, &e.escalation_id, &e.client_id)?;
    esc_monotonic(esc.last_at, e.at, &stream)?;
    if esc.acknowledged.is_some() {
        return Err(DomainError::InvalidTransition {
            stream,
            action: "attempt a contact",
            state: "the escalation was acknowledged",
        });
    }
    let client = known_client(state, &e.client_id)?;
    let agreement = client.agreement_or_first(e.at);
    match agreement.contact_at_tier(e.tier) {
        None => Err(DomainError::rule_refused(
            RuleId::Esc2,
            format!("tier {} is not in the client's escalation chain", e.tier),
        )),
        Some(c) if c.contact_ref != e.contact_ref => Err(DomainError::rule_refused(
            RuleId::Esc2,
            format!(
                "tier {} of the escalation chain is {:?}, not {:?}",
                e.tier, c.contact_ref, e.contact_ref
            ),
        )),
        Some(_) => Ok(vec![e.into()]),
    }
}

/// Decides `Command::MarkContactUnreachable`.
pub(super) fn mark_contact_unreachable(
    state: &LedgerState,
    e: EscalationContactUnreachable,
) -> Result<Vec<DomainEvent>, DomainError> {
    let stream = format!("escalation-{}", e.escalation_id);
    let esc = known_escalation(state, &e.escalation_id, &e.client_id)?;
    esc_monotonic(esc.last_at, e.at, &stream)?;
    if !esc.attempts.iter().any(|(t, _)| *t == e.tier) {
        return Err(DomainError::InvalidTransition {
            stream,
            action: "mark a contact unreachable",
            state: "that tier was never attempted",
        });
    }
    Ok(vec![e.into()])
}

/// Decides `Command::AcknowledgeEscalation`.
pub(super) fn acknowledge_escalation(
    state: &LedgerState,
    e: EscalationAcknowledged,
) -> Result<Vec<DomainEvent>, DomainError> {
    let stream = format!("escalation-{}", e.escalation_id);
    let esc = known_escalation(state, &e.escalation_id, &e.client_id)?;
    if let Some(ack) = esc.acknowledged {
        return if ack == (e.tier, e.at) {
            Ok(vec![])
        } else {
            Err(DomainError::InvalidTransition {
                stream,
                action: "acknowledge",
                state: "the escalation was already acknowledged",
            })
        };
    }
    esc_monotonic(esc.last_at, e.at, &stream)?;
    if !esc.attempts.iter().any(|(t, _)| *t == e.tier) {
        return Err(DomainError::InvalidTransition {
            stream,
            action: "acknowledge",
            state: "that tier was never attempted",
        });
    }
    Ok(vec![e.into()])
}

/// Decides `Command::DeliverDigest`.
pub(super) fn deliver_digest(
    state: &LedgerState,
    e: DigestDelivered,
) -> Result<Vec<DomainEvent>, DomainError> {
    known_client(state, &e.client_id)?;
    if let Some(existing) = state.digests.get(&e.digest_id) {
        return duplicate(*existing == e, format!("digest-{}", e.digest_id));
    }
    if e.period_start > e.period_end {
        return Err(DomainError::Invalid(
            "digest period ends before it starts".to_owned(),
        ));
    }
    for id in &e.escalation_ids {
        let esc = known_escalation(state, id, &e.client_id)?;
        if esc.opened.urgency == Urgency::Urgent {
            return Err(DomainError::rule_refused(
                RuleId::Esc3,
                format!("escalation {id} is urgent and cannot be deferred to a digest"),
            ));
        }
    }
    Ok(vec![e.into()])
}

fn known_escalation<'a>(
    state: &'a LedgerState,
    id: &crate::ids::EscalationId,
    client_id: &ClientId,
) -> Result<&'a crate::state::EscalationState, DomainError> {
    let esc = state
        .escalations
        .get(id)
        .ok_or_else(|| unknown("escalation", id.as_str()))?;
    same_client(
        &esc.opened.client_id,
        client_id,
        &format!("escalation-{id}"),
    )?;
    Ok(esc)
}
