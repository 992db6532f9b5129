//! The reporting area of the read model: monthly report, QA summary and quarterly review
//! deliveries, and folding in account issues and those deliveries.

use opsledger_domain::events::{
    AccountIssueIdentified, ClientNotifiedOfIssue, MonthlyReportDelivered, MonthlyReportKind,
    QaSummaryDelivered, QuarterlyReviewConducted,
};
use serde::{Deserialize, Serialize};

use super::{set_first, IssueRecord, ReadModel};
use crate::position::{EventRef, YearMonth};

/// A monthly report delivery (R-REP-1/2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthlyDelivery {
    /// The delivery event.
    pub event: EventRef,
    /// Month reported.
    pub month: YearMonth,
    /// Kind.
    pub kind: MonthlyReportKind,
}

/// A QA summary delivery (R-QA-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QaSummaryDelivery {
    /// The delivery event.
    pub event: EventRef,
    /// Month summarised.
    pub month: YearMonth,
}

/// A quarterly business review (R-REP-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarterlyReview {
    /// The event.
    pub event: EventRef,
    /// Year.
    pub year: i32,
    /// Quarter, 1–4.
    pub quarter: u32,
}

impl ReadModel {
    /// Folds in a `AccountIssueIdentified`.
    pub(super) fn apply_account_issue_identified(
        &mut self,
        r: EventRef,
        e: &AccountIssueIdentified,
    ) {
        let Some(client) = self.clients.slot(&e.client_id) else {
            return;
        };
        if let Some(slot) = self.account_issues.insert_new(IssueRecord {
            id: e.issue_id.clone(),
            client,
            identified: r,
            closed: None,
        }) {
            if let Some(c) = self.clients.get_slot_mut(client) {
                c.account_issues.push(slot);
            }
        }
    }

    /// Folds in a `ClientNotifiedOfIssue`.
    pub(super) fn apply_client_notified_of_issue(
        &mut self,
        r: EventRef,
        e: &ClientNotifiedOfIssue,
    ) {
        if let Some(i) = self.account_issues.get_mut(&e.issue_id) {
            set_first(&mut i.closed, r);
        }
    }

    /// Folds in a `MonthlyReportDelivered`.
    pub(super) fn apply_monthly_report_delivered(
        &mut self,
        r: EventRef,
        e: &MonthlyReportDelivered,
    ) {
        if let (Some((_, c)), Some(month)) = (
            self.client_mut(&e.client_id),
            YearMonth::new(e.year, e.month),
        ) {
            c.monthly_reports.push(MonthlyDelivery {
                event: r,
                month,
                kind: e.kind,
            });
        }
    }

    /// Folds in a `QaSummaryDelivered`.
    pub(super) fn apply_qa_summary_delivered(&mut self, r: EventRef, e: &QaSummaryDelivered) {
        if let (Some((_, c)), Some(month)) = (
            self.client_mut(&e.client_id),
            YearMonth::new(e.year, e.month),
        ) {
            c.qa_summaries.push(QaSummaryDelivery { event: r, month });
        }
    }

    /// Folds in a `QuarterlyReviewConducted`.
    pub(super) fn apply_quarterly_review_conducted(
        &mut self,
        r: EventRef,
        e: &QuarterlyReviewConducted,
    ) {
        if let Some((_, c)) = self.client_mut(&e.client_id) {
            c.quarterly_reviews.push(QuarterlyReview {
                event: r,
                year: e.year,
                quarter: e.quarter,
            });
        }
    }
}
