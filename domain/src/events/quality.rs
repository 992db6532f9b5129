//! Quality events: reviews, quality issues and conduct breaches with their corrective actions
//! (R-QA-*, R-ANS-3/4).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, BreachId, CallId, ClientId, QualityIssueId, ReviewId};
use crate::rules::RuleId;

use super::EventPayload;

/// The agency selected a call for internal review (R-QA-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallSelectedForReview {
    /// Client.
    pub client_id: ClientId,
    /// Review.
    pub review_id: ReviewId,
    /// Call.
    pub call_id: CallId,
    /// When.
    pub at: DateTime<Utc>,
}
payload!(
    CallSelectedForReview,
    "quality.call_selected_for_review",
    1,
    "review",
    review_id,
    []
);

/// The client requested a review of a call: the R-QA-3 clock starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientReviewRequested {
    /// Client.
    pub client_id: ClientId,
    /// Review.
    pub review_id: ReviewId,
    /// Call.
    pub call_id: CallId,
    /// When the request was received.
    pub at: DateTime<Utc>,
}
payload!(
    ClientReviewRequested,
    "quality.client_review_requested",
    1,
    "review",
    review_id,
    []
);

/// One finding of a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// Met.
    Pass,
    /// Not met.
    Fail,
    /// Not applicable to this call.
    NotApplicable,
}

/// Findings of a review [11.1, 11.4].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReviewFindings {
    /// Script adherence.
    pub script_adherence: Finding,
    /// Documentation accuracy (R-DOC-1).
    pub documentation_accuracy: Finding,
    /// Escalation compliance (R-ESC-*).
    pub escalation_compliance: Finding,
    /// Greeting under the client's name (R-ANS-3).
    pub greeting: Finding,
    /// Language as agreed (R-ANS-4).
    pub language: Finding,
}

/// A review was completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewCompleted {
    /// Client.
    pub client_id: ClientId,
    /// Review.
    pub review_id: ReviewId,
    /// Call.
    pub call_id: CallId,
    /// When.
    pub at: DateTime<Utc>,
    /// Reviewer.
    pub reviewer_id: AgentId,
    /// Findings.
    pub findings: ReviewFindings,
    /// Personal data: reviewer notes.
    pub notes: Option<String>,
}
payload!(
    ReviewCompleted,
    "quality.review_completed",
    1,
    "review",
    review_id,
    ["/notes"]
);

/// A quality issue was identified: the R-QA-2 clock starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityIssueIdentified {
    /// Client.
    pub client_id: ClientId,
    /// Issue.
    pub issue_id: QualityIssueId,
    /// When.
    pub at: DateTime<Utc>,
    /// The agent concerned.
    pub agent_id: AgentId,
    /// The call, if any.
    pub call_id: Option<CallId>,
    /// The review that found it, if any.
    pub review_id: Option<ReviewId>,
    /// The rule the issue concerns, if one.
    pub rule: Option<RuleId>,
    /// Personal data: notes.
    pub notes: Option<String>,
}
payload!(
    QualityIssueIdentified,
    "quality.issue_identified",
    1,
    "qualityissue",
    issue_id,
    ["/notes"]
);

/// The issue was addressed with the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityIssueAddressed {
    /// Client.
    pub client_id: ClientId,
    /// Issue.
    pub issue_id: QualityIssueId,
    /// When.
    pub at: DateTime<Utc>,
    /// The agent it was addressed with.
    pub agent_id: AgentId,
}
payload!(
    QualityIssueAddressed,
    "quality.issue_addressed",
    1,
    "qualityissue",
    issue_id,
    []
);

/// Kind of agent conduct breach [11.5].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreachKind {
    /// Affiliation with the agency disclosed without authorisation.
    AffiliationDisclosed,
    /// Information beyond the agent's scope of authority.
    OutOfScopeInformation,
    /// Caller information used or disclosed outside service delivery.
    Confidentiality,
    /// Off brand voice or script.
    OffBrand,
    /// Caller information not handled as the client's intake protocol directs [11.8]: on legal
    /// (and medical) accounts a conduct breach under R-QA-5, listed apart in reports. A breach of
    /// the agreement's privacy protocol is recorded as `Confidentiality`. Added after schema
    /// version 1 of `quality.conduct_breach_identified`: a new value, no existing value changed.
    IntakeProtocol,
}

/// A conduct breach was identified: the R-QA-5 clock starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConductBreachIdentified {
    /// Client.
    pub client_id: ClientId,
    /// Breach.
    pub breach_id: BreachId,
    /// When.
    pub at: DateTime<Utc>,
    /// Agent.
    pub agent_id: AgentId,
    /// Call, if any.
    pub call_id: Option<CallId>,
    /// Kind.
    pub kind: BreachKind,
    /// Personal data: notes.
    pub notes: Option<String>,
}
payload!(
    ConductBreachIdentified,
    "quality.conduct_breach_identified",
    1,
    "breach",
    breach_id,
    ["/notes"]
);

/// Corrective action for a conduct breach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectiveAction {
    /// Coaching session.
    Coaching,
    /// Written warning.
    Warning,
    /// Reassignment from the account.
    Reassignment,
}

/// Corrective action was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectiveActionTaken {
    /// Client.
    pub client_id: ClientId,
    /// Breach.
    pub breach_id: BreachId,
    /// When.
    pub at: DateTime<Utc>,
    /// Agent.
    pub agent_id: AgentId,
    /// Action.
    pub action: CorrectiveAction,
}
payload!(
    CorrectiveActionTaken,
    "quality.corrective_action_taken",
    1,
    "breach",
    breach_id,
    []
);
