//! Decisions: a command checked against the state of the streams it touches becomes events, or a
//! typed refusal naming the rule. Pure: time and ids come in with the command.
//!
//! Creating an entity whose id is already recorded is an idempotent no-op (no events) when the
//! recorded fact is identical, and a `ConflictingDuplicate` refusal when it differs.

use chrono::{DateTime, Duration, Utc};

use crate::command::{
    Command, DocumentCall, GiveTerminationNotice, IssueInvoice, TerminateImmediately,
};
use crate::error::DomainError;
use crate::events::{
    CallDocumented, ClientOnboarded, DeletionScope, DocumentedFields, DomainEvent, ExcuseCause,
    ImmediateCause, ImmediateTermination, InvoiceIssued, TerminationNoticeGiven,
    TerminationTookEffect, Urgency,
};
use crate::ids::{CallId, ClientId, InvoiceId};
use crate::money::{Currency, Money};
use crate::rules::{RuleId, RuleValue};
use crate::rules_in_force::value_at;
use crate::state::{CallState, ClientState, CredentialStatus, InvoiceState, LedgerState};
use crate::suspension::{suspension_permitted, CitedInvoice};

/// Decides a command against the state: the events to append, or why not.
pub fn decide(state: &LedgerState, command: Command) -> Result<Vec<DomainEvent>, DomainError> {
    use Command as C;
    match command {
        C::Onboard(e) => onboard(state, e),
        C::AmendAgreement(e) => {
            let client = active_client(state, &e.client_id, e.at, "agreement amendment")?;
            e.agreement.validate()?;
            if let Some(v) = client
                .agreements
                .iter()
                .find(|v| v.amendment_id.as_ref() == Some(&e.amendment_id))
            {
                let same = v.effective_at == e.effective_at
                    && v.recorded_at == e.at
                    && v.agreement == e.agreement;
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
        C::ProvideCredentials(e) => {
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
        C::ExpireCredentials(e) => {
            credential_in(
                state,
                &e.client_id,
                &e.credential_id,
                &[CredentialStatus::Active],
                "expire credentials",
            )?;
            Ok(vec![e.into()])
        }
        C::RevokeCredentials(e) => {
            credential_in(
                state,
                &e.client_id,
                &e.credential_id,
                &[CredentialStatus::Active],
                "revoke credentials",
            )?;
            Ok(vec![e.into()])
        }
        C::RestoreCredentials(e) => {
            credential_in(
                state,
                &e.client_id,
                &e.credential_id,
                &[CredentialStatus::Expired, CredentialStatus::Revoked],
                "restore credentials",
            )?;
            Ok(vec![e.into()])
        }
        C::NotifySignificantChange(e) => {
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

        // An agency communication awaiting the client's answer [4 Timely Response]: the rules
        // it names as depending on the answer are excused until the answer is recorded.
        C::SendCommunication(e) => {
            let client = active_client(state, &e.client_id, e.at, "communication")?;
            if let Some((existing, _)) = client.communications.get(&e.communication_id) {
                return duplicate(*existing == e, format!("client-{}", e.client_id));
            }
            Ok(vec![e.into()])
        }
        C::AnswerCommunication(e) => {
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

        // ------------------------------------------------------------ calls
        C::ConnectCall(e) => {
            active_client(state, &e.client_id, e.at, "call")?;
            if let Some(existing) = state.calls.get(&e.call_id) {
                return duplicate(existing.connected == e, format!("call-{}", e.call_id));
            }
            Ok(vec![e.into()])
        }
        C::AnswerCall(e) => {
            let call =
                state
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
        C::RouteToVoicemail(e) => {
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
        C::AbandonCall(e) => {
            let call = known_call(state, &e.call_id, &e.client_id)?;
            if call.answered.is_some() {
                return Err(invalid_call(&e.call_id, "abandon", "it was answered"));
            }
            not_ended(call, &e.call_id, "abandon")?;
            monotonic(call, e.at, &e.call_id)?;
            Ok(vec![e.into()])
        }
        C::CompleteCall(e) => {
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
        C::ClassifyCall(e) => {
            let call = handled_call(state, &e.call_id, &e.client_id, "classify")?;
            if call.classification.as_ref() == Some(&e) {
                return Ok(vec![]);
            }
            monotonic(call, e.at, &e.call_id)?;
            Ok(vec![e.into()])
        }
        C::DocumentCall(c) => document_call(state, c),
        C::DeliverDocumentation(e) => {
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

        // ------------------------------------------------------------ escalations
        C::OpenEscalation(e) => {
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
        C::AttemptContact(e) => {
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
        C::MarkContactUnreachable(e) => {
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
        C::AcknowledgeEscalation(e) => {
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
        C::DeliverDigest(e) => {
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

        // ------------------------------------------------------------ quality
        C::SelectCallForReview(e) => {
            known_client(state, &e.client_id)?;
            known_call(state, &e.call_id, &e.client_id)?;
            if let Some(r) = state.reviews.get(&e.review_id) {
                let same = !r.requested_by_client
                    && r.client_id == e.client_id
                    && r.call_id == e.call_id
                    && r.opened_at == e.at;
                return duplicate(same, format!("review-{}", e.review_id));
            }
            Ok(vec![e.into()])
        }
        C::RequestClientReview(e) => {
            known_client(state, &e.client_id)?;
            known_call(state, &e.call_id, &e.client_id)?;
            if let Some(r) = state.reviews.get(&e.review_id) {
                let same = r.requested_by_client
                    && r.client_id == e.client_id
                    && r.call_id == e.call_id
                    && r.opened_at == e.at;
                return duplicate(same, format!("review-{}", e.review_id));
            }
            Ok(vec![e.into()])
        }
        C::CompleteReview(e) => {
            let stream = format!("review-{}", e.review_id);
            let review = state
                .reviews
                .get(&e.review_id)
                .ok_or_else(|| unknown("review", e.review_id.as_str()))?;
            same_client(&review.client_id, &e.client_id, &stream)?;
            if review.call_id != e.call_id {
                return Err(DomainError::Invalid(format!(
                    "review {} is of call {}, not {}",
                    e.review_id, review.call_id, e.call_id
                )));
            }
            if let Some(done) = &review.completed {
                return duplicate(*done == e, stream);
            }
            esc_monotonic(review.opened_at, e.at, &stream)?;
            Ok(vec![e.into()])
        }
        C::IdentifyQualityIssue(e) => {
            known_client(state, &e.client_id)?;
            if let Some(existing) = state.quality_issues.get(&e.issue_id) {
                return duplicate(
                    existing.identified == e,
                    format!("qualityissue-{}", e.issue_id),
                );
            }
            if let Some(call_id) = &e.call_id {
                known_call(state, call_id, &e.client_id)?;
            }
            Ok(vec![e.into()])
        }
        C::AddressQualityIssue(e) => {
            let stream = format!("qualityissue-{}", e.issue_id);
            let issue = state
                .quality_issues
                .get(&e.issue_id)
                .ok_or_else(|| unknown("quality issue", e.issue_id.as_str()))?;
            same_client(&issue.identified.client_id, &e.client_id, &stream)?;
            if issue.addressed_at == Some(e.at) {
                return Ok(vec![]);
            }
            if issue.addressed_at.is_some() {
                return Err(DomainError::InvalidTransition {
                    stream,
                    action: "address the issue",
                    state: "it was already addressed",
                });
            }
            if issue.identified.agent_id != e.agent_id {
                return Err(DomainError::rule_refused(
                    RuleId::Qa2,
                    format!(
                        "issue {} concerns agent {}, so it must be addressed with that agent, not {}",
                        e.issue_id, issue.identified.agent_id, e.agent_id
                    ),
                ));
            }
            esc_monotonic(issue.identified.at, e.at, &stream)?;
            Ok(vec![e.into()])
        }
        C::IdentifyConductBreach(e) => {
            known_client(state, &e.client_id)?;
            if let Some(existing) = state.breaches.get(&e.breach_id) {
                return duplicate(existing.identified == e, format!("breach-{}", e.breach_id));
            }
            if let Some(call_id) = &e.call_id {
                known_call(state, call_id, &e.client_id)?;
            }
            Ok(vec![e.into()])
        }
        C::TakeCorrectiveAction(e) => {
            let stream = format!("breach-{}", e.breach_id);
            let breach = state
                .breaches
                .get(&e.breach_id)
                .ok_or_else(|| unknown("breach", e.breach_id.as_str()))?;
            same_client(&breach.identified.client_id, &e.client_id, &stream)?;
            if breach.actions.contains(&e) {
                return Ok(vec![]);
            }
            if breach.identified.agent_id != e.agent_id {
                return Err(DomainError::rule_refused(
                    RuleId::Qa5,
                    format!(
                        "breach {} was by agent {}, not {}",
                        e.breach_id, breach.identified.agent_id, e.agent_id
                    ),
                ));
            }
            let last = breach.actions.last().map_or(breach.identified.at, |a| a.at);
            esc_monotonic(last, e.at, &stream)?;
            Ok(vec![e.into()])
        }

        // ------------------------------------------------------------ coverage
        C::StartShift(e) => {
            active_client(state, &e.client_id, e.at, "shift")?;
            if let Some(existing) = state.shifts.get(&e.shift_id) {
                return duplicate(existing.started == e, format!("shift-{}", e.shift_id));
            }
            Ok(vec![e.into()])
        }
        C::EndShift(e) => {
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

        // ------------------------------------------------------------ communication and reporting
        C::IdentifyAccountIssue(e) => {
            known_client(state, &e.client_id)?;
            if let Some(existing) = state.account_issues.get(&e.issue_id) {
                return duplicate(
                    existing.identified == e,
                    format!("accountissue-{}", e.issue_id),
                );
            }
            Ok(vec![e.into()])
        }
        C::NotifyClientOfIssue(e) => {
            let stream = format!("accountissue-{}", e.issue_id);
            let issue = state
                .account_issues
                .get(&e.issue_id)
                .ok_or_else(|| unknown("account issue", e.issue_id.as_str()))?;
            same_client(&issue.identified.client_id, &e.client_id, &stream)?;
            esc_monotonic(issue.identified.at, e.at, &stream)?;
            Ok(vec![e.into()])
        }
        C::DeliverMonthlyReport(e) => {
            let client = known_client(state, &e.client_id)?;
            valid_month(e.month)?;
            if let Some(existing) = client.monthly_reports.get(&e.report_id) {
                return duplicate(*existing == e, format!("client-{}", e.client_id));
            }
            Ok(vec![e.into()])
        }
        C::DeliverQaSummary(e) => {
            let client = known_client(state, &e.client_id)?;
            valid_month(e.month)?;
            if let Some(existing) = client.qa_summaries.get(&e.report_id) {
                return duplicate(*existing == e, format!("client-{}", e.client_id));
            }
            Ok(vec![e.into()])
        }
        C::ConductQuarterlyReview(e) => {
            let client = known_client(state, &e.client_id)?;
            if !(1..=4).contains(&e.quarter) {
                return Err(DomainError::Invalid(format!(
                    "quarter {} is not 1–4",
                    e.quarter
                )));
            }
            if let Some(existing) = client.quarterly_reviews.get(&e.report_id) {
                return duplicate(*existing == e, format!("client-{}", e.client_id));
            }
            Ok(vec![e.into()])
        }

        // ------------------------------------------------------------ operations
        C::OpenExcusedWindow(e) => {
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
        C::CloseExcusedWindow(e) => {
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
        C::PublishSopAmendment(e) => {
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
        C::PlaceLegalHold(e) => {
            let client = known_client(state, &e.client_id)?;
            if let Some(existing) = client.legal_holds.get(&e.hold_id) {
                return duplicate(*existing == e, format!("client-{}", e.client_id));
            }
            Ok(vec![e.into()])
        }
        C::ReleaseLegalHold(e) => {
            let client = known_client(state, &e.client_id)?;
            let hold = client
                .legal_holds
                .get(&e.hold_id)
                .ok_or_else(|| unknown("active legal hold", e.hold_id.as_str()))?;
            esc_monotonic(hold.at, e.at, &format!("client-{}", e.client_id))?;
            Ok(vec![e.into()])
        }
        C::RecordDataDeletion(e) => {
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

        // ------------------------------------------------------------ billing
        C::IssueInvoice(c) => issue_invoice(state, c),
        C::ReceivePayment(e) => {
            let stream = format!("invoice-{}", e.invoice_id);
            let invoice = known_invoice(state, &e.invoice_id, &e.client_id)?;
            if let Some(existing) = invoice
                .payments
                .iter()
                .find(|p| p.payment_id == e.payment_id)
            {
                return duplicate(*existing == e, stream);
            }
            if !e.amount.is_positive() {
                return Err(DomainError::Invalid(
                    "a payment must be positive".to_owned(),
                ));
            }
            same_currency(invoice.issued.total.currency, e.amount.currency)?;
            let last = invoice
                .payments
                .iter()
                .map(|p| p.at)
                .chain(invoice.credit_notes.iter().map(|c| c.at))
                .fold(invoice.issued.at, DateTime::max);
            esc_monotonic(last, e.at, &stream)?;
            let outstanding = invoice.outstanding()?;
            if e.amount.amount_minor > outstanding.amount_minor && !e.excess_as_credit {
                return Err(DomainError::Overpayment {
                    invoice_id: e.invoice_id.to_string(),
                    outstanding,
                    amount: e.amount,
                });
            }
            Ok(vec![e.into()])
        }
        C::IssueCreditNote(e) => {
            let stream = format!("invoice-{}", e.invoice_id);
            let invoice = known_invoice(state, &e.invoice_id, &e.client_id)?;
            if let Some(existing) = invoice
                .credit_notes
                .iter()
                .find(|c| c.credit_note_id == e.credit_note_id)
            {
                return duplicate(*existing == e, stream);
            }
            if !e.amount.is_positive() {
                return Err(DomainError::Invalid(
                    "a credit note must be positive".to_owned(),
                ));
            }
            same_currency(invoice.issued.total.currency, e.amount.currency)?;
            esc_monotonic(invoice.issued.at, e.at, &stream)?;
            let outstanding = invoice.outstanding()?;
            if e.amount.amount_minor > outstanding.amount_minor {
                return Err(DomainError::Invalid(format!(
                    "credit note of {} exceeds the {} owed on invoice {}",
                    e.amount, outstanding, e.invoice_id
                )));
            }
            Ok(vec![e.into()])
        }
        C::SendPaymentDefaultNotice(e) => {
            let client = active_client(state, &e.client_id, e.at, "payment default notice")?;
            if let Some(existing) = client.default_notices.get(&e.notice_id) {
                return duplicate(*existing == e, format!("client-{}", e.client_id));
            }
            if e.invoice_ids.is_empty() {
                return Err(DomainError::rule_refused(
                    RuleId::Bil3,
                    "a payment default notice must cite at least one overdue invoice",
                ));
            }
            let today = client.agreement_or_first(e.at).calendar.local_date(e.at);
            for id in &e.invoice_ids {
                let invoice = known_invoice(state, id, &e.client_id)?;
                if invoice.days_past_due(today) <= 0 || !invoice.is_open() {
                    return Err(DomainError::rule_refused(
                        RuleId::Bil3,
                        format!("invoice {id} is not overdue on {today}"),
                    ));
                }
            }
            Ok(vec![e.into()])
        }
        C::SuspendService(e) => {
            let client = active_client(state, &e.client_id, e.at, "suspension")?;
            if client.suspended_since.is_some() {
                return Err(invalid(
                    &e.client_id,
                    "suspend service",
                    "it is already suspended",
                ));
            }
            // R-BIL-3: the one definition the verdict and the billing status use too.
            let notice = client.default_notices.get(&e.notice_id);
            let cited: Vec<CitedInvoice> = notice
                .map(|n| {
                    n.invoice_ids
                        .iter()
                        .filter_map(|id| state.invoices.get(id))
                        .map(|inv| CitedInvoice {
                            invoice_id: inv.issued.invoice_id.clone(),
                            due_date: inv.issued.due_date,
                            settled_at: inv.settled_at(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let calendar = &client.agreement_or_first(e.at).calendar;
            match suspension_permitted(notice.map(|n| n.at), &cited, calendar, e.at) {
                Ok(()) => Ok(vec![e.into()]),
                Err(refusal) => Err(DomainError::rule_refused(
                    RuleId::Bil3,
                    refusal.describe(e.at),
                )),
            }
        }
        C::ResumeService(e) => {
            let client = known_client(state, &e.client_id)?;
            match client.suspended_since {
                Some(since) => {
                    esc_monotonic(since, e.at, &format!("client-{}", e.client_id))?;
                    Ok(vec![e.into()])
                }
                None => Err(invalid(
                    &e.client_id,
                    "resume service",
                    "it is not suspended",
                )),
            }
        }
        C::NotifyPriceChange(e) => {
            let client = active_client(state, &e.client_id, e.at, "price change")?;
            if client
                .price_changes
                .iter()
                .any(|p| p.notice_id == e.notice_id)
            {
                let same = client.price_changes.contains(&e);
                return duplicate(same, format!("client-{}", e.client_id));
            }
            let rules = client_rules(state, client);
            let value = value_at(RuleId::Bil4, &rules, e.at);
            let notice = day_count(RuleId::Bil4, &value)?;
            let calendar = &client.agreement_or_first(e.at).calendar;
            if e.effective_at < days_after(RuleId::Bil4, &value, calendar, e.at)? {
                return Err(DomainError::rule_refused(
                    RuleId::Bil4,
                    format!(
                        "the price change takes effect at {}, less than {} days after the written notice at {}",
                        e.effective_at,
                        notice,
                        e.at
                    ),
                ));
            }
            let currency = billing_currency(state, client, e.at);
            for rate in &e.rates {
                same_currency(currency, rate.unit_price.currency)?;
            }
            Ok(vec![e.into()])
        }

        // ------------------------------------------------------------ termination
        C::GiveTerminationNotice(c) => give_termination_notice(state, c),
        C::TerminateImmediately(c) => terminate_immediately(state, c),
        C::RecordTerminationEffective(e) => {
            let client = known_client(state, &e.client_id)?;
            if client.terminated_at.is_some() {
                return Err(DomainError::SecondTermination {
                    client_id: e.client_id.to_string(),
                    already: "recorded as effective",
                });
            }
            let notice = client.termination_notice.as_ref().ok_or_else(|| {
                invalid(
                    &e.client_id,
                    "record the termination as effective",
                    "no termination notice was given",
                )
            })?;
            if e.at < notice.effective_at {
                return Err(DomainError::rule_refused(
                    RuleId::Trm1,
                    format!(
                        "notice {} takes effect at {}; the termination cannot take effect at {}",
                        notice.notice_id, notice.effective_at, e.at
                    ),
                ));
            }
            Ok(vec![e.into()])
        }
    }
}

// ---------------------------------------------------------------- specialised decisions

fn onboard(state: &LedgerState, e: ClientOnboarded) -> Result<Vec<DomainEvent>, DomainError> {
    if let Some(existing) = state.clients.get(&e.client_id) {
        return duplicate(existing.onboarding == e, format!("client-{}", e.client_id));
    }
    e.agreement.validate()?;
    Ok(vec![e.into()])
}

fn present(field: &Option<String>) -> bool {
    field.as_deref().is_some_and(|s| !s.trim().is_empty())
}

fn document_call(state: &LedgerState, c: DocumentCall) -> Result<Vec<DomainEvent>, DomainError> {
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

fn issue_invoice(state: &LedgerState, c: IssueInvoice) -> Result<Vec<DomainEvent>, DomainError> {
    let client = known_client(state, &c.client_id)?;
    let rules = client_rules(state, client);
    match client.terminated_at {
        Some(t) if t <= c.at && !c.final_invoice => {
            return Err(DomainError::rule_refused(
                RuleId::Bil6,
                format!(
                "the termination took effect at {t}; only the final invoice may be issued after it"
            ),
            ))
        }
        Some(t) if c.final_invoice && c.at < t => {
            return Err(DomainError::rule_refused(
                RuleId::Bil6,
                format!(
                    "the final invoice cannot be issued before the termination takes effect at {t}"
                ),
            ))
        }
        None if c.final_invoice => {
            return Err(DomainError::rule_refused(
                RuleId::Bil6,
                "the final invoice can only be issued once the termination took effect",
            ))
        }
        _ => {}
    }
    if c.period_start > c.period_end {
        return Err(DomainError::Invalid(
            "invoice period ends before it starts".to_owned(),
        ));
    }
    let currency = billing_currency(state, client, c.at);
    same_currency(currency, c.total.currency)?;
    let mut sum = Money::zero(currency);
    for line in &c.lines {
        same_currency(currency, line.amount.currency)?;
        same_currency(currency, line.unit_price.currency)?;
        let quantity = i64::try_from(line.quantity).map_err(|_| {
            DomainError::Invalid(format!("quantity {} is too large", line.quantity))
        })?;
        let expected = line
            .unit_price
            .amount_minor
            .checked_mul(quantity)
            .ok_or(crate::money::MoneyError::Overflow)?;
        if expected != line.amount.amount_minor {
            return Err(DomainError::Invalid(format!(
                "line {:?}: {} × {} is not {}",
                line.description, line.quantity, line.unit_price, line.amount
            )));
        }
        sum = sum.checked_add(line.amount)?;
    }
    if sum != c.total {
        return Err(DomainError::Invalid(format!(
            "invoice total {} is not the sum of its lines {}",
            c.total, sum
        )));
    }
    let terms = days_of(RuleId::Bil2, &value_at(RuleId::Bil2, &rules, c.at))?;
    let earliest_due = c.invoice_date + terms;
    let due_date = match c.due_date {
        Some(d) if d < earliest_due => {
            return Err(DomainError::rule_refused(
                RuleId::Bil2,
                format!(
                    "due date {d} is earlier than the {} days payment terms allow ({earliest_due})",
                    terms.num_days()
                ),
            ))
        }
        Some(d) => d,
        None => earliest_due,
    };
    let event = InvoiceIssued {
        client_id: c.client_id,
        invoice_id: c.invoice_id,
        at: c.at,
        invoice_date: c.invoice_date,
        period_start: c.period_start,
        period_end: c.period_end,
        lines: c.lines,
        total: c.total,
        due_date,
        final_invoice: c.final_invoice,
    };
    if let Some(existing) = state.invoices.get(&event.invoice_id) {
        return duplicate(
            existing.issued == event,
            format!("invoice-{}", event.invoice_id),
        );
    }
    Ok(vec![event.into()])
}

fn give_termination_notice(
    state: &LedgerState,
    c: GiveTerminationNotice,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = active_client(state, &c.client_id, c.at, "termination notice")?;
    if let Some(existing) = &client.termination_notice {
        if existing.notice_id == c.notice_id
            && existing.at == c.at
            && existing.by == c.by
            && c.effective_at.map_or(true, |e| e == existing.effective_at)
        {
            return Ok(vec![]);
        }
        return Err(DomainError::SecondTermination {
            client_id: c.client_id.to_string(),
            already: "noticed",
        });
    }
    if client.immediate_termination.is_some() {
        return Err(DomainError::SecondTermination {
            client_id: c.client_id.to_string(),
            already: "made immediate",
        });
    }
    let rules = client_rules(state, client);
    let value = value_at(RuleId::Trm1, &rules, c.at);
    let notice = day_count(RuleId::Trm1, &value)?;
    let calendar = &client.agreement_or_first(c.at).calendar;
    let earliest = days_after(RuleId::Trm1, &value, calendar, c.at)?;
    let effective_at = match c.effective_at {
        Some(e) if e < earliest => {
            return Err(DomainError::rule_refused(
                RuleId::Trm1,
                format!(
                    "termination would take effect at {e}, before the {} days notice period ends at {earliest}",
                    notice
                ),
            ))
        }
        Some(e) => e,
        None => earliest,
    };
    Ok(vec![TerminationNoticeGiven {
        client_id: c.client_id,
        notice_id: c.notice_id,
        at: c.at,
        by: c.by,
        effective_at,
    }
    .into()])
}

fn terminate_immediately(
    state: &LedgerState,
    c: TerminateImmediately,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = known_client(state, &c.client_id)?;
    if let Some(existing) = &client.immediate_termination {
        if existing.at == c.at && existing.cause == c.cause {
            return Ok(vec![]);
        }
        return Err(DomainError::SecondTermination {
            client_id: c.client_id.to_string(),
            already: "made immediate",
        });
    }
    if client.terminated_at.is_some() {
        return Err(DomainError::SecondTermination {
            client_id: c.client_id.to_string(),
            already: "recorded as effective",
        });
    }
    // A pending notice does not prevent an immediate termination: the cause supersedes it.
    if let ImmediateCause::NonPayment { invoice_ids } = &c.cause {
        let rules = client_rules(state, client);
        let threshold = days_of(RuleId::Trm2, &value_at(RuleId::Trm2, &rules, c.at))?.num_days();
        let today = client.agreement_or_first(c.at).calendar.local_date(c.at);
        let mut details = Vec::new();
        let mut qualifies = false;
        for id in invoice_ids {
            let invoice = known_invoice(state, id, &c.client_id)?;
            let days = invoice.days_past_due(today);
            let open = invoice.is_open();
            qualifies |= open && days > threshold;
            let paid = if open { "" } else { ", paid" };
            details.push(format!("{id} is {} days past due{paid}", days.max(0)));
        }
        if !qualifies {
            let detail = if details.is_empty() {
                "no invoice was cited".to_owned()
            } else {
                details.join("; ")
            };
            return Err(DomainError::rule_refused(
                RuleId::Trm2,
                format!(
                    "immediate termination for non-payment needs an invoice unpaid more than {threshold} days past its due date, and none is ({detail})"
                ),
            ));
        }
    }
    let termination = ImmediateTermination::from(c);
    let took_effect = TerminationTookEffect {
        client_id: termination.client_id.clone(),
        at: termination.at,
    };
    Ok(vec![termination.into(), took_effect.into()])
}

// ---------------------------------------------------------------- helpers

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

fn invalid_call(call_id: &CallId, action: &'static str, state: &'static str) -> DomainError {
    DomainError::InvalidTransition {
        stream: call_stream(call_id),
        action,
        state,
    }
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

fn billing_currency(state: &LedgerState, client: &ClientState, at: DateTime<Utc>) -> Currency {
    match value_at(RuleId::Bil5, &client_rules(state, client), at) {
        RuleValue::Currency(c) => c,
        _ => client.agreement_or_first(at).currency,
    }
}

fn same_currency(expected: Currency, found: Currency) -> Result<(), DomainError> {
    if expected == found {
        Ok(())
    } else {
        Err(DomainError::rule_refused(
            RuleId::Bil5,
            format!("amount is in {found}; the client is billed in {expected}"),
        ))
    }
}

fn valid_month(month: u32) -> Result<(), DomainError> {
    if (1..=12).contains(&month) {
        Ok(())
    } else {
        Err(DomainError::Invalid(format!("month {month} is not 1–12")))
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
