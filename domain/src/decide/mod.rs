//! Decisions: a command checked against the state of the streams it touches becomes events, or a
//! typed refusal naming the rule. Pure: time and ids come in with the command.
//!
//! Creating an entity whose id is already recorded is an idempotent no-op (no events) when the
//! recorded fact is identical, and a `ConflictingDuplicate` refusal when it differs.

use chrono::{DateTime, Duration, Utc};

use crate::command::Command;
use crate::error::DomainError;
use crate::events::DomainEvent;
use crate::ids::{CallId, ClientId, InvoiceId};
use crate::rules::{RuleId, RuleValue};
use crate::state::{CallState, ClientState, InvoiceState, LedgerState};

// One module per business area, the same area names as in `events` and in the projections;
// `decide` only dispatches, and the helpers below are the checks several areas share.
mod billing;
mod calls;
mod client;
mod coverage;
mod escalations;
mod operations;
mod quality;
mod reporting;
mod retention;
mod termination;

/// Decides a command against the state: the events to append, or why not.
pub fn decide(state: &LedgerState, command: Command) -> Result<Vec<DomainEvent>, DomainError> {
    use Command as C;
    match command {
        // client
        C::Onboard(c) => client::onboard(state, c),
        C::AmendAgreement(c) => client::amend_agreement(state, c),
        C::ProvideCredentials(c) => client::provide_credentials(state, c),
        C::ExpireCredentials(c) => client::expire_credentials(state, c),
        C::RevokeCredentials(c) => client::revoke_credentials(state, c),
        C::RestoreCredentials(c) => client::restore_credentials(state, c),
        C::NotifySignificantChange(c) => client::notify_significant_change(state, c),
        C::SendCommunication(c) => client::send_communication(state, c),
        C::AnswerCommunication(c) => client::answer_communication(state, c),
        // calls
        C::ConnectCall(c) => calls::connect_call(state, c),
        C::AnswerCall(c) => calls::answer_call(state, c),
        C::RouteToVoicemail(c) => calls::route_to_voicemail(state, c),
        C::AbandonCall(c) => calls::abandon_call(state, c),
        C::CompleteCall(c) => calls::complete_call(state, c),
        C::ClassifyCall(c) => calls::classify_call(state, c),
        C::DocumentCall(c) => calls::document_call(state, c),
        C::DeliverDocumentation(c) => calls::deliver_documentation(state, c),
        // escalations
        C::OpenEscalation(c) => escalations::open_escalation(state, c),
        C::AttemptContact(c) => escalations::attempt_contact(state, c),
        C::MarkContactUnreachable(c) => escalations::mark_contact_unreachable(state, c),
        C::AcknowledgeEscalation(c) => escalations::acknowledge_escalation(state, c),
        C::DeliverDigest(c) => escalations::deliver_digest(state, c),
        // quality
        C::SelectCallForReview(c) => quality::select_call_for_review(state, c),
        C::RequestClientReview(c) => quality::request_client_review(state, c),
        C::CompleteReview(c) => quality::complete_review(state, c),
        C::IdentifyQualityIssue(c) => quality::identify_quality_issue(state, c),
        C::AddressQualityIssue(c) => quality::address_quality_issue(state, c),
        C::IdentifyConductBreach(c) => quality::identify_conduct_breach(state, c),
        C::TakeCorrectiveAction(c) => quality::take_corrective_action(state, c),
        // coverage
        C::StartShift(c) => coverage::start_shift(state, c),
        C::EndShift(c) => coverage::end_shift(state, c),
        // reporting
        C::IdentifyAccountIssue(c) => reporting::identify_account_issue(state, c),
        C::NotifyClientOfIssue(c) => reporting::notify_client_of_issue(state, c),
        C::DeliverMonthlyReport(c) => reporting::deliver_monthly_report(state, c),
        C::DeliverQaSummary(c) => reporting::deliver_qa_summary(state, c),
        C::ConductQuarterlyReview(c) => reporting::conduct_quarterly_review(state, c),
        // operations
        C::OpenExcusedWindow(c) => operations::open_excused_window(state, c),
        C::CloseExcusedWindow(c) => operations::close_excused_window(state, c),
        C::PublishSopAmendment(c) => operations::publish_sop_amendment(state, c),
        // retention
        C::PlaceLegalHold(c) => retention::place_legal_hold(state, c),
        C::ReleaseLegalHold(c) => retention::release_legal_hold(state, c),
        C::RecordDataDeletion(c) => retention::record_data_deletion(state, c),
        // billing
        C::IssueInvoice(c) => billing::issue_invoice(state, c),
        C::ReceivePayment(c) => billing::receive_payment(state, c),
        C::IssueCreditNote(c) => billing::issue_credit_note(state, c),
        C::SendPaymentDefaultNotice(c) => billing::send_payment_default_notice(state, c),
        C::SuspendService(c) => billing::suspend_service(state, c),
        C::ResumeService(c) => billing::resume_service(state, c),
        C::NotifyPriceChange(c) => billing::notify_price_change(state, c),
        // termination
        C::GiveTerminationNotice(c) => termination::give_termination_notice(state, c),
        C::TerminateImmediately(c) => termination::terminate_immediately(state, c),
        C::RecordTerminationEffective(c) => termination::record_termination_effective(state, c),
    }
}

// ---------------------------------------------------------------- helpers shared by the areas

fn duplicate(same: bool, stream: String) -> Result<Vec<DomainEvent>, DomainError> {
    if same {
        Ok(vec![])
    } else {
        Err(DomainError::ConflictingDuplicate { stream })
    }
}

fn unknown(kind: &'static str, id: &str) -> DomainError {
    DomainError::UnknownEntity {
        kind,
        id: id.to_owned(),
    }
}

fn invalid(client_id: &ClientId, action: &'static str, state: &'static str) -> DomainError {
    DomainError::InvalidTransition {
        stream: format!("client-{client_id}"),
        action,
        state,
    }
}

fn call_stream(call_id: &CallId) -> String {
    format!("call-{call_id}")
}

fn known_client<'a>(
    state: &'a LedgerState,
    client_id: &ClientId,
) -> Result<&'a ClientState, DomainError> {
    state
        .clients
        .get(client_id)
        .ok_or_else(|| DomainError::UnknownClient {
            client_id: client_id.to_string(),
        })
}

fn active_client<'a>(
    state: &'a LedgerState,
    client_id: &ClientId,
    at: DateTime<Utc>,
    what: &'static str,
) -> Result<&'a ClientState, DomainError> {
    let client = known_client(state, client_id)?;
    match client.terminated_at {
        Some(t) if t <= at => Err(DomainError::ClientTerminated {
            client_id: client_id.to_string(),
            terminated_at: t,
            what,
        }),
        _ => Ok(client),
    }
}

fn same_client(owner: &ClientId, named: &ClientId, stream: &str) -> Result<(), DomainError> {
    if owner == named {
        Ok(())
    } else {
        Err(DomainError::ClientMismatch {
            stream: stream.to_owned(),
            owner: owner.to_string(),
            client_id: named.to_string(),
        })
    }
}

fn known_call<'a>(
    state: &'a LedgerState,
    call_id: &CallId,
    client_id: &ClientId,
) -> Result<&'a CallState, DomainError> {
    let call = state
        .calls
        .get(call_id)
        .ok_or_else(|| DomainError::UnknownCall {
            call_id: call_id.to_string(),
        })?;
    same_client(&call.connected.client_id, client_id, &call_stream(call_id))?;
    Ok(call)
}

/// Refuses an instant earlier than the last one recorded on a stream.
fn esc_monotonic(
    last_at: DateTime<Utc>,
    at: DateTime<Utc>,
    stream: &str,
) -> Result<(), DomainError> {
    if at < last_at {
        Err(DomainError::TimeRunsBackwards {
            stream: stream.to_owned(),
            last_at,
            at,
        })
    } else {
        Ok(())
    }
}

fn known_invoice<'a>(
    state: &'a LedgerState,
    invoice_id: &InvoiceId,
    client_id: &ClientId,
) -> Result<&'a InvoiceState, DomainError> {
    let invoice = state
        .invoices
        .get(invoice_id)
        .ok_or_else(|| DomainError::UnknownInvoice {
            invoice_id: invoice_id.to_string(),
        })?;
    same_client(
        &invoice.issued.client_id,
        client_id,
        &format!("invoice-{invoice_id}"),
    )?;
    Ok(invoice)
}

fn client_rules<'a>(
    state: &'a LedgerState,
    client: &'a ClientState,
) -> crate::rules_in_force::ClientRules<'a> {
    crate::rules_in_force::ClientRules {
        agreements: &client.agreements,
        sop_amendments: &state.sop_amendments,
    }
}

/// A rule value's number of days; any other shape is a configuration error.
fn day_count(rule: RuleId, value: &RuleValue) -> Result<u64, DomainError> {
    match value {
        RuleValue::Days(d) => Ok(*d),
        other => Err(DomainError::Invalid(format!(
            "{rule} is configured as {other:?}; a number of days is needed"
        ))),
    }
}

/// The instant a rule counted in days falls after `at`, in the client's local calendar days:
/// the same definition the verdicts use (`deadlines::rule_due_at`).
fn days_after(
    rule: RuleId,
    value: &RuleValue,
    calendar: &crate::calendar::BusinessCalendar,
    at: DateTime<Utc>,
) -> Result<DateTime<Utc>, DomainError> {
    day_count(rule, value)?;
    crate::deadlines::rule_due_at(rule, value, calendar, at)?
        .ok_or_else(|| DomainError::Invalid(format!("{rule} value {value:?} has no deadline")))
}

/// A rule value in calendar days, as a duration; any other shape is a configuration error.
fn days_of(rule: RuleId, value: &RuleValue) -> Result<Duration, DomainError> {
    match value {
        RuleValue::Days(d) => i64::try_from(*d)
            .ok()
            .and_then(Duration::try_days)
            .ok_or_else(|| {
                DomainError::Invalid(format!(
                    "{rule} is configured as {d} days, which is out of range"
                ))
            }),
        other => Err(DomainError::Invalid(format!(
            "{rule} is configured as {other:?}; a number of days is needed"
        ))),
    }
}
