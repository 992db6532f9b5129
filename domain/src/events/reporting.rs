//! Communication and reporting events: account issues and their notification, monthly reports, QA
//! summaries and quarterly reviews (R-COM-1, R-REP-*, R-QA-4).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountIssueId, ClientId, ReportId};

use super::EventPayload;

/// An account-related issue was identified: the R-COM-1 clock starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountIssueIdentified {
    /// Client.
    pub client_id: ClientId,
    /// Issue.
    pub issue_id: AccountIssueId,
    /// When.
    pub at: DateTime<Utc>,
    /// Personal data: free-text summary.
    pub summary: Option<String>,
}
payload!(
    AccountIssueIdentified,
    "communication.account_issue_identified",
    1,
    "accountissue",
    issue_id,
    ["/summary"]
);

/// The client was told about the issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientNotifiedOfIssue {
    /// Client.
    pub client_id: ClientId,
    /// Issue.
    pub issue_id: AccountIssueId,
    /// When.
    pub at: DateTime<Utc>,
    /// Channel.
    pub channel: String,
}
payload!(
    ClientNotifiedOfIssue,
    "communication.client_notified",
    1,
    "accountissue",
    issue_id,
    []
);

/// Kind of monthly report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonthlyReportKind {
    /// Performance report, Professional and Enterprise (R-REP-1).
    Performance,
    /// Summary report, Essential (R-REP-2).
    Summary,
}

/// A monthly report was delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthlyReportDelivered {
    /// Client.
    pub client_id: ClientId,
    /// Report.
    pub report_id: ReportId,
    /// When.
    pub at: DateTime<Utc>,
    /// Year reported.
    pub year: i32,
    /// Month reported, 1–12.
    pub month: u32,
    /// Kind.
    pub kind: MonthlyReportKind,
}
payload!(
    MonthlyReportDelivered,
    "reporting.monthly_report_delivered",
    1,
    "client",
    client_id,
    []
);

/// A monthly QA summary was delivered (R-QA-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QaSummaryDelivered {
    /// Client.
    pub client_id: ClientId,
    /// Report.
    pub report_id: ReportId,
    /// When.
    pub at: DateTime<Utc>,
    /// Year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u32,
}
payload!(
    QaSummaryDelivered,
    "reporting.qa_summary_delivered",
    1,
    "client",
    client_id,
    []
);

/// A quarterly business review was conducted (R-REP-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarterlyReviewConducted {
    /// Client.
    pub client_id: ClientId,
    /// Report.
    pub report_id: ReportId,
    /// When.
    pub at: DateTime<Utc>,
    /// Year.
    pub year: i32,
    /// Quarter, 1–4.
    pub quarter: u32,
}
payload!(
    QuarterlyReviewConducted,
    "reporting.quarterly_review_conducted",
    1,
    "client",
    client_id,
    []
);
