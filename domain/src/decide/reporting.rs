//! Decisions about communication and reporting: account issues and their notification, monthly
//! reports, QA summaries and quarterly reviews.

use super::{duplicate, esc_monotonic, known_client, same_client, unknown};
use crate::error::DomainError;
use crate::events::{
    AccountIssueIdentified, ClientNotifiedOfIssue, DomainEvent, MonthlyReportDelivered,
    QaSummaryDelivered, QuarterlyReviewConducted,
};
use crate::state::LedgerState;

/// Decides `Command::IdentifyAccountIssue`.
pub(super) fn identify_account_issue(
    state: &LedgerState,
    e: AccountIssueIdentified,
) -> Result<Vec<DomainEvent>, DomainError> {
    known_client(state, &e.client_id)?;
    if let Some(existing) = state.account_issues.get(&e.issue_id) {
        return duplicate(
            existing.identified == e,
            format!("accountissue-{}", e.issue_id),
        );
    }
    Ok(vec![e.into()])
}

/// Decides `Command::NotifyClientOfIssue`.
pub(super) fn notify_client_of_issue(
    state: &LedgerState,
    e: ClientNotifiedOfIssue,
) -> Result<Vec<DomainEvent>, DomainError> {
    let stream = format!("accountissue-{}", e.issue_id);
    let issue = state
        .account_issues
        .get(&e.issue_id)
        .ok_or_else(|| unknown("account issue", e.issue_id.as_str()))?;
    same_client(&issue.identified.client_id, &e.client_id, &stream)?;
    esc_monotonic(issue.identified.at, e.at, &stream)?;
    Ok(vec![e.into()])
}

/// Decides `Command::DeliverMonthlyReport`.
pub(super) fn deliver_monthly_report(
    state: &LedgerState,
    e: MonthlyReportDelivered,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = known_client(state, &e.client_id)?;
    valid_month(e.month)?;
    if let Some(existing) = client.monthly_reports.get(&e.report_id) {
        return duplicate(*existing == e, format!("client-{}", e.client_id));
    }
    Ok(vec![e.into()])
}

/// Decides `Command::DeliverQaSummary`.
pub(super) fn deliver_qa_summary(
    state: &LedgerState,
    e: QaSummaryDelivered,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = known_client(state, &e.client_id)?;
    valid_month(e.month)?;
    if let Some(existing) = client.qa_summaries.get(&e.report_id) {
        return duplicate(*existing == e, format!("client-{}", e.client_id));
    }
    Ok(vec![e.into()])
}

/// Decides `Command::ConductQuarterlyReview`.
pub(super) fn conduct_quarterly_review(
    state: &LedgerState,
    e: QuarterlyReviewConducted,
) -> Result<Vec<DomainEvent>, DomainError> {
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

fn valid_month(month: u32) -> Result<(), DomainError> {
    if (1..=12).contains(&month) {
        Ok(())
    } else {
        Err(DomainError::Invalid(format!("month {month} is not 1–12")))
    }
}
