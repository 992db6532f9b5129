//! Decisions about a client's lifecycle: onboarding, agreement amendments, credentials, change
//! notifications and communications awaiting the client's answer.

use super::{active_client, duplicate, esc_monotonic, invalid, known_client, unknown};
use crate::error::DomainError;
use crate::events::{
    AgreementAmended, ClientOnboarded, CommunicationAnswered, CommunicationSent,
    CredentialsExpired, CredentialsProvided, CredentialsRestored, CredentialsRevoked, DomainEvent,
    SignificantChangeNotified,
};
use crate::ids::ClientId;
use crate::state::{CredentialStatus, LedgerState};

/// Decides `Command::AmendAgreement`.
pub(super) fn amend_agreement(
    state: &LedgerState,
    e: AgreementAmended,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = active_client(state, &e.client_id, e.at, "agreement amendment")?;
    e.agreement.validate()?;
    if let Some(v) = client
        .agreements
        .iter()
        .find(|v| v.amendment_id.as_ref() == Some(&e.amendment_id))
    {
        let same =
            v.effective_at == e.effective_at && v.recorded_at == e.at && v.agreement == e.agreement;
        return duplicate(same, format!("client-{}", e.client_id));
    }
    if e.effective_at < client.onboarding.at {
        return Err(DomainError::Invalid(format!(
            "amendment {} takes effect at {}, before the client was onboarded at {}",
            e.amendment_id, e.effective_at, client.onboarding.at
        )));
    }
    Ok(vec![e.into()])
}

/// Decides `Command::ProvideCredentials`.
pub(super) fn provide_credentials(
    state: &LedgerState,
    e: CredentialsProvided,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = active_client(state, &e.client_id, e.at, "credentials")?;
    if client.credentials.contains_key(&e.credential_id) {
        return Err(invalid(
            &e.client_id,
            "provide credentials",
            "that credential id is already recorded",
        ));
    }
    Ok(vec![e.into()])
}

/// Decides `Command::ExpireCredentials`.
pub(super) fn expire_credentials(
    state: &LedgerState,
    e: CredentialsExpired,
) -> Result<Vec<DomainEvent>, DomainError> {
    credential_in(
        state,
        &e.client_id,
        &e.credential_id,
        &[CredentialStatus::Active],
        "expire credentials",
    )?;
    Ok(vec![e.into()])
}

/// Decides `Command::RevokeCredentials`.
pub(super) fn revoke_credentials(
    state: &LedgerState,
    e: CredentialsRevoked,
) -> Result<Vec<DomainEvent>, DomainError> {
    credential_in(
        state,
        &e.client_id,
        &e.credential_id,
        &[CredentialStatus::Active],
        "revoke credentials",
    )?;
    Ok(vec![e.into()])
}

/// Decides `Command::RestoreCredentials`.
pub(super) fn restore_credentials(
    state: &LedgerState,
    e: CredentialsRestored,
) -> Result<Vec<DomainEvent>, DomainError> {
    credential_in(
        state,
        &e.client_id,
        &e.credential_id,
        &[CredentialStatus::Expired, CredentialStatus::Revoked],
        "restore credentials",
    )?;
    Ok(vec![e.into()])
}

/// Decides `Command::NotifySignificantChange`.
pub(super) fn notify_significant_change(
    state: &LedgerState,
    e: SignificantChangeNotified,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = active_client(state, &e.client_id, e.at, "change notification")?;
    if client.changes.contains(&e.change_id) {
        return Err(invalid(
            &e.client_id,
            "notify a change",
            "that change id is already recorded",
        ));
    }
    Ok(vec![e.into()])
}

/// Decides `Command::SendCommunication`.
///
/// An agency communication awaits the client's answer [4 Timely Response]: the rules it names
/// as depending on the answer are excused until the answer is recorded.
pub(super) fn send_communication(
    state: &LedgerState,
    e: CommunicationSent,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = active_client(state, &e.client_id, e.at, "communication")?;
    if let Some((existing, _)) = client.communications.get(&e.communication_id) {
        return duplicate(*existing == e, format!("client-{}", e.client_id));
    }
    Ok(vec![e.into()])
}

/// Decides `Command::AnswerCommunication`.
pub(super) fn answer_communication(
    state: &LedgerState,
    e: CommunicationAnswered,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = known_client(state, &e.client_id)?;
    let (sent, answered) = client
        .communications
        .get(&e.communication_id)
        .ok_or_else(|| unknown("communication", e.communication_id.as_str()))?;
    if *answered == Some(e.at) {
        return Ok(vec![]);
    }
    if answered.is_some() {
        return Err(invalid(
            &e.client_id,
            "record the answer to a communication",
            "its answer is already recorded",
        ));
    }
    esc_monotonic(sent.at, e.at, &format!("client-{}", e.client_id))?;
    Ok(vec![e.into()])
}

pub(super) fn onboard(
    state: &LedgerState,
    e: ClientOnboarded,
) -> Result<Vec<DomainEvent>, DomainError> {
    if let Some(existing) = state.clients.get(&e.client_id) {
        return duplicate(existing.onboarding == e, format!("client-{}", e.client_id));
    }
    e.agreement.validate()?;
    Ok(vec![e.into()])
}

fn credential_in(
    state: &LedgerState,
    client_id: &ClientId,
    credential_id: &crate::ids::CredentialId,
    allowed: &[CredentialStatus],
    action: &'static str,
) -> Result<(), DomainError> {
    let client = known_client(state, client_id)?;
    let status = client
        .credentials
        .get(credential_id)
        .ok_or_else(|| unknown("credential", credential_id.as_str()))?;
    if allowed.contains(status) {
        Ok(())
    } else {
        Err(invalid(
            client_id,
            action,
            match status {
                CredentialStatus::Active => "the credentials are active",
                CredentialStatus::Expired => "the credentials are expired",
                CredentialStatus::Revoked => "the credentials are revoked",
            },
        ))
    }
}
