//! Decisions about calls: connecting, answering, voicemail, abandonment, completion,
//! classification, documentation (R-DOC-1) and its delivery.

use chrono::{DateTime, Utc};

use super::{active_client, call_stream, duplicate, esc_monotonic, known_call, same_client};
use crate::command::DocumentCall;
use crate::error::DomainError;
use crate::events::{
    CallAbandoned, CallAnswered, CallClassified, CallCompleted, CallConnected, CallDocumented,
    CallRoutedToVoicemail, DocumentationDelivered, DocumentedFields, DomainEvent,
};
use crate::ids::{CallId, ClientId};
use crate::state::{CallState, LedgerState};

/// Decides `Command::ConnectCall`.
pub(super) fn connect_call(
    state: &LedgerState,
    e: CallConnected,
) -> Result<Vec<DomainEvent>, DomainError> {
    active_client(state, &e.client_id, e.at, "call")?;
    if let Some(existing) = state.calls.get(&e.call_id) {
        return duplicate(existing.connected == e, format!("call-{}", e.call_id));
    }
    Ok(vec![e.into()])
}

/// Decides `Command::AnswerCall`.
pub(super) fn answer_call(
    state: &LedgerState,
    e: CallAnswered,
) -> Result<Vec<DomainEvent>, DomainError> {
    let call = state
        .calls
        .get(&e.call_id)
        .ok_or_else(|| DomainError::PickupBeforeConnect {
            call_id: e.call_id.to_string(),
        })?;
    same_client(
        &call.connected.client_id,
        &e.client_id,
        &call_stream(&e.call_id),
    )?;
    if e.at < call.connected.at {
        return Err(DomainError::PickupBeforeConnect {
            call_id: e.call_id.to_string(),
        });
    }
    if let Some((at, agent)) = &call.answered {
        return if *at == e.at && *agent == e.agent_id {
            Ok(vec![])
        } else {
            Err(invalid_call(
                &e.call_id,
                "answer",
                "it was already answered",
            ))
        };
    }
    not_ended(call, &e.call_id, "answer")?;
    monotonic(call, e.at, &e.call_id)?;
    Ok(vec![e.into()])
}

/// Decides `Command::RouteToVoicemail`.
pub(super) fn route_to_voicemail(
    state: &LedgerState,
    e: CallRoutedToVoicemail,
) -> Result<Vec<DomainEvent>, DomainError> {
    let call = known_call(state, &e.call_id, &e.client_id)?;
    if call.answered.is_some() {
        return Err(invalid_call(
            &e.call_id,
            "route to voicemail",
            "it was answered",
        ));
    }
    not_ended(call, &e.call_id, "route to voicemail")?;
    monotonic(call, e.at, &e.call_id)?;
    Ok(vec![e.into()])
}

/// Decides `Command::AbandonCall`.
pub(super) fn abandon_call(
    state: &LedgerState,
    e: CallAbandoned,
) -> Result<Vec<DomainEvent>, DomainError> {
    let call = known_call(state, &e.call_id, &e.client_id)?;
    if call.answered.is_some() {
        return Err(invalid_call(&e.call_id, "abandon", "it was answered"));
    }
    not_ended(call, &e.call_id, "abandon")?;
    monotonic(call, e.at, &e.call_id)?;
    Ok(vec![e.into()])
}

/// Decides `Command::CompleteCall`.
pub(super) fn complete_call(
    state: &LedgerState,
    e: CallCompleted,
) -> Result<Vec<DomainEvent>, DomainError> {
    let call = known_call(state, &e.call_id, &e.client_id)?;
    if call.completed_at == Some(e.at) {
        return Ok(vec![]);
    }
    if call.answered.is_none() && call.voicemail_at.is_none() {
        return Err(invalid_call(
            &e.call_id,
            "complete",
            "it was neither answered nor sent to voicemail",
        ));
    }
    if call.completed_at.is_some() || call.abandoned_at.is_some() {
        return Err(invalid_call(&e.call_id, "complete", "it already ended"));
    }
    monotonic(call, e.at, &e.call_id)?;
    Ok(vec![e.into()])
}

/// Decides `Command::ClassifyCall`.
pub(super) fn classify_call(
    state: &LedgerState,
    e: CallClassified,
) -> Result<Vec<DomainEvent>, DomainError> {
    let call = handled_call(state, &e.call_id, &e.client_id, "classify")?;
    if call.classification.as_ref() == Some(&e) {
        return Ok(vec![]);
    }
    monotonic(call, e.at, &e.call_id)?;
    Ok(vec![e.into()])
}

/// Decides `Command::DeliverDocumentation`.
pub(super) fn deliver_documentation(
    state: &LedgerState,
    e: DocumentationDelivered,
) -> Result<Vec<DomainEvent>, DomainError> {
    let call = known_call(state, &e.call_id, &e.client_id)?;
    if call.documentation.is_none() {
        return Err(invalid_call(
            &e.call_id,
            "deliver documentation",
            "the call is not documented",
        ));
    }
    monotonic(call, e.at, &e.call_id)?;
    Ok(vec![e.into()])
}

pub(super) fn document_call(
    state: &LedgerState,
    c: DocumentCall,
) -> Result<Vec<DomainEvent>, DomainError> {
    let call = handled_call(state, &c.call_id, &c.client_id, "document")?;
    let fields_present = DocumentedFields {
        caller_name: present(&c.caller_name),
        caller_contact: present(&c.caller_contact),
        nature_of_call: present(&c.nature_of_call),
        action_taken: present(&c.action_taken),
    };
    let event = CallDocumented {
        client_id: c.client_id,
        call_id: c.call_id,
        at: c.at,
        agent_id: c.agent_id,
        caller_name: c.caller_name,
        caller_contact: c.caller_contact,
        nature_of_call: c.nature_of_call,
        action_taken: c.action_taken,
        fields_present,
    };
    if call.documentation.as_ref() == Some(&event) {
        return Ok(vec![]);
    }
    monotonic(call, event.at, &event.call_id)?;
    Ok(vec![event.into()])
}

fn present(field: &Option<String>) -> bool {
    field.as_deref().is_some_and(|s| !s.trim().is_empty())
}

fn invalid_call(call_id: &CallId, action: &'static str, state: &'static str) -> DomainError {
    DomainError::InvalidTransition {
        stream: call_stream(call_id),
        action,
        state,
    }
}

fn handled_call<'a>(
    state: &'a LedgerState,
    call_id: &CallId,
    client_id: &ClientId,
    action: &'static str,
) -> Result<&'a CallState, DomainError> {
    let call = known_call(state, call_id, client_id)?;
    if call.answered.is_none() && call.voicemail_at.is_none() {
        return Err(invalid_call(
            call_id,
            action,
            "it was neither answered nor sent to voicemail",
        ));
    }
    Ok(call)
}

fn not_ended(call: &CallState, call_id: &CallId, action: &'static str) -> Result<(), DomainError> {
    if call.abandoned_at.is_some() {
        return Err(invalid_call(call_id, action, "it was abandoned"));
    }
    if call.voicemail_at.is_some() {
        return Err(invalid_call(call_id, action, "it was routed to voicemail"));
    }
    if call.completed_at.is_some() {
        return Err(invalid_call(call_id, action, "it was completed"));
    }
    Ok(())
}

fn monotonic(call: &CallState, at: DateTime<Utc>, call_id: &CallId) -> Result<(), DomainError> {
    esc_monotonic(call.last_at, at, &call_stream(call_id))
}
