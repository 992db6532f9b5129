//! Decisions about quality: reviews, quality issues and conduct breaches with their corrective
//! actions.

use super::{duplicate, esc_monotonic, known_call, known_client, same_client, unknown};
use crate::error::DomainError;
use crate::events::{
    CallSelectedForReview, ClientReviewRequested, ConductBreachIdentified, CorrectiveActionTaken,
    DomainEvent, QualityIssueAddressed, QualityIssueIdentified, ReviewCompleted,
};
use crate::rules::RuleId;
use crate::state::LedgerState;

/// Decides `Command::SelectCallForReview`.
pub(super) fn select_call_for_review(
    state: &LedgerState,
    e: CallSelectedForReview,
) -> Result<Vec<DomainEvent>, DomainError> {
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

/// Decides `Command::RequestClientReview`.
pub(super) fn request_client_review(
    state: &LedgerState,
    e: ClientReviewRequested,
) -> Result<Vec<DomainEvent>, DomainError> {
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

/// Decides `Command::CompleteReview`.
pub(super) fn complete_review(
    state: &LedgerState,
    e: ReviewCompleted,
) -> Result<Vec<DomainEvent>, DomainError> {
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

/// Decides `Command::IdentifyQualityIssue`.
pub(super) fn identify_quality_issue(
    state: &LedgerState,
    e: QualityIssueIdentified,
) -> Result<Vec<DomainEvent>, DomainError> {
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

/// Decides `Command::AddressQualityIssue`.
pub(super) fn address_quality_issue(
    state: &LedgerState,
    e: QualityIssueAddressed,
) -> Result<Vec<DomainEvent>, DomainError> {
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

/// Decides `Command::IdentifyConductBreach`.
pub(super) fn identify_conduct_breach(
    state: &LedgerState,
    e: ConductBreachIdentified,
) -> Result<Vec<DomainEvent>, DomainError> {
    known_client(state, &e.client_id)?;
    if let Some(existing) = state.breaches.get(&e.breach_id) {
        return duplicate(existing.identified == e, format!("breach-{}", e.breach_id));
    }
    if let Some(call_id) = &e.call_id {
        known_call(state, call_id, &e.client_id)?;
    }
    Ok(vec![e.into()])
}

/// Decides `Command::TakeCorrectiveAction`.
pub(super) fn take_corrective_action(
    state: &LedgerState,
    e: CorrectiveActionTaken,
) -> Result<Vec<DomainEvent>, DomainError> {
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
