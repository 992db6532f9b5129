//! Domain events: every fact the rule catalog judges, as permanent, versioned payload types.
//!
//! Each payload is a plain struct serialized as a JSON object with snake_case fields. Its stable
//! type name (`area.fact`), schema version, stream category and personal fields are declared
//! once, next to the struct, through [`EventPayload`]. Every payload carries the `client_id` it
//! belongs to (except agency-wide SOP amendments) and `at`, the instant the fact occurred.
//!
//! Personal data (caller names, contact details, free-text notes) is always `Option<String>`,
//! so a record whose key was destroyed (crypto-shredding, R-RET-2) still decodes, with `None`.
//! No rule is judged from personal fields: where a rule needs to know that a personal field was
//! filled in (R-DOC-1), the event also carries a non-personal flag for it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::agreement::{Rate, RuleOverride, ServiceAgreement};
use crate::ids::{
    AccountIssueId, AgentId, AgreementAmendmentId, BreachId, CallId, ChangeId, ClientId,
    CommunicationId, CredentialId, CreditNoteId, DeletionId, DigestId, EscalationId,
    ExcusedWindowId, InvoiceId, LegalHoldId, NoticeId, PaymentId, QualityIssueId, ReportId,
    ReviewId, ShiftId, SopAmendmentId, AGENCY_SCOPE,
};
use crate::money::Money;
use crate::rules::RuleId;

/// What every event payload declares about itself.
pub trait EventPayload {
    /// The stable type name, `area.fact`.
    const EVENT_TYPE: &'static str;
    /// The current schema version of the payload (starts at 1).
    const SCHEMA_VERSION: u32;
    /// The stream category (lowercase letters only).
    const STREAM_CATEGORY: &'static str;
    /// JSON pointers of the personal fields; `*` stands for every element of an array.
    const PERSONAL_FIELDS: &'static [&'static str];
    /// The id part of the stream name.
    fn stream_key(&self) -> &str;
    /// The client the event belongs to, or [`AGENCY_SCOPE`] for agency-wide events.
    fn client_scope(&self) -> &str;
    /// When the fact occurred.
    fn occurred_at(&self) -> DateTime<Utc>;
}

macro_rules! payload {
    ($ty:ident, $etype:literal, $version:literal, $category:literal, $key:ident, [$($personal:literal),*]) => {
        impl EventPayload for $ty {
            const EVENT_TYPE: &'static str = $etype;
            const SCHEMA_VERSION: u32 = $version;
            const STREAM_CATEGORY: &'static str = $category;
            const PERSONAL_FIELDS: &'static [&'static str] = &[$($personal),*];
            fn stream_key(&self) -> &str {
                self.$key.as_str()
            }
            fn client_scope(&self) -> &str {
                self.client_id.as_str()
            }
            fn occurred_at(&self) -> DateTime<Utc> {
                self.at
            }
        }
    };
}

// ---------------------------------------------------------------- client lifecycle

/// A client was onboarded under a Service Agreement, effective at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientOnboarded {
    /// Client.
    pub client_id: ClientId,
    /// Signing instant; the agreement governs from here.
    pub at: DateTime<Utc>,
    /// The agreement.
    pub agreement: ServiceAgreement,
}
payload!(
    ClientOnboarded,
    "client.onboarded",
    1,
    "client",
    client_id,
    [
        "/agreement/escalation_chain/*/name",
        "/agreement/escalation_chain/*/contact"
    ]
);

/// The agreement was amended; the new full agreement governs from `effective_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementAmended {
    /// Client.
    pub client_id: ClientId,
    /// Amendment.
    pub amendment_id: AgreementAmendmentId,
    /// When the amendment was agreed.
    pub at: DateTime<Utc>,
    /// When it governs from (may be before or after `at`).
    pub effective_at: DateTime<Utc>,
    /// The complete amended agreement (not a patch).
    pub agreement: ServiceAgreement,
}
payload!(
    AgreementAmended,
    "client.agreement_amended",
    1,
    "client",
    client_id,
    [
        "/agreement/escalation_chain/*/name",
        "/agreement/escalation_chain/*/contact"
    ]
);

/// The client provided software access credentials [4].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsProvided {
    /// Client.
    pub client_id: ClientId,
    /// Credential set (the secret itself is never in the ledger).
    pub credential_id: CredentialId,
    /// When provided.
    pub at: DateTime<Utc>,
    /// The system the credentials open, e.g. `"dispatch-crm"`.
    pub system: String,
    /// Known expiry, if any.
    pub expires_at: Option<DateTime<Utc>>,
}
payload!(
    CredentialsProvided,
    "client.credentials_provided",
    1,
    "client",
    client_id,
    []
);

/// Credentials expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsExpired {
    /// Client.
    pub client_id: ClientId,
    /// Credential set.
    pub credential_id: CredentialId,
    /// When.
    pub at: DateTime<Utc>,
}
payload!(
    CredentialsExpired,
    "client.credentials_expired",
    1,
    "client",
    client_id,
    []
);

/// Credentials were revoked by the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsRevoked {
    /// Client.
    pub client_id: ClientId,
    /// Credential set.
    pub credential_id: CredentialId,
    /// When.
    pub at: DateTime<Utc>,
}
payload!(
    CredentialsRevoked,
    "client.credentials_revoked",
    1,
    "client",
    client_id,
    []
);

/// Expired or revoked credentials work again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsRestored {
    /// Client.
    pub client_id: ClientId,
    /// Credential set.
    pub credential_id: CredentialId,
    /// When.
    pub at: DateTime<Utc>,
}
payload!(
    CredentialsRestored,
    "client.credentials_restored",
    1,
    "client",
    client_id,
    []
);

/// What kind of material change the client notified [4 Change Notification].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Significant change in call volume.
    CallVolume,
    /// Software change.
    Software,
    /// Protocol update.
    Protocol,
    /// Personnel change affecting escalation contacts.
    EscalationContacts,
    /// Anything else material.
    Other,
}

/// The client notified us of a material change to its operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignificantChangeNotified {
    /// Client.
    pub client_id: ClientId,
    /// Change.
    pub change_id: ChangeId,
    /// When notified.
    pub at: DateTime<Utc>,
    /// Kind of change.
    pub kind: ChangeKind,
    /// When the change happens, if said.
    pub effective_at: Option<DateTime<Utc>>,
    /// Personal data: free-text details.
    pub details: Option<String>,
}
payload!(
    SignificantChangeNotified,
    "client.significant_change_notified",
    1,
    "client",
    client_id,
    ["/details"]
);

/// The agency sent the client a communication about the service engagement that needs the
/// client's answer [4 Timely Response]. Until the client answers, performance of the rules named
/// in `affects` is excused (an excused window of cause `awaiting_client_response` opened by this
/// event and closed by [`CommunicationAnswered`]); other rules are judged as usual.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunicationSent {
    /// Client.
    pub client_id: ClientId,
    /// Communication.
    pub communication_id: CommunicationId,
    /// When sent.
    pub at: DateTime<Utc>,
    /// The rules whose obligations depend on the answer (e.g. R-DOC-2 while the client has not
    /// said where documentation goes); none means the communication excuses nothing.
    pub affects: Vec<RuleId>,
    /// Personal data: what was asked.
    pub subject: Option<String>,
}
payload!(
    CommunicationSent,
    "client.communication_sent",
    1,
    "client",
    client_id,
    ["/subject"]
);

/// The client answered an agency communication: the wait it excused ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunicationAnswered {
    /// Client.
    pub client_id: ClientId,
    /// Communication answered.
    pub communication_id: CommunicationId,
    /// When the answer came.
    pub at: DateTime<Utc>,
}
payload!(
    CommunicationAnswered,
    "client.communication_answered",
    1,
    "client",
    client_id,
    []
);

// ---------------------------------------------------------------- calls

/// A call entered the queue: the R-ANS-1 and R-ANS-2 clocks start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallConnected {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// When it entered the queue.
    pub at: DateTime<Utc>,
    /// Queue name, if known.
    pub queue: Option<String>,
    /// Personal data: the caller's number (caller id).
    pub caller_number: Option<String>,
}
payload!(
    CallConnected,
    "call.connected",
    1,
    "call",
    call_id,
    ["/caller_number"]
);

/// An agent picked the call up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallAnswered {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// Pickup instant.
    pub at: DateTime<Utc>,
    /// Agent.
    pub agent_id: AgentId,
}
payload!(CallAnswered, "call.answered", 1, "call", call_id, []);

/// The call was routed to voicemail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRoutedToVoicemail {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// When.
    pub at: DateTime<Utc>,
}
payload!(
    CallRoutedToVoicemail,
    "call.routed_to_voicemail",
    1,
    "call",
    call_id,
    []
);

/// Why a queued call ended without pickup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbandonReason {
    /// The caller hung up.
    CallerHungUp,
    /// The queue's own timeout removed the caller.
    QueueTimeout,
    /// No agent could take calls.
    QueueEmpty,
    /// The caller pressed a key to leave.
    CallerLeftWithKey,
}

/// The call left the queue without pickup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallAbandoned {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// When.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: AbandonReason,
}
payload!(CallAbandoned, "call.abandoned", 1, "call", call_id, []);

/// The answered (or voicemail) call ended: the R-DOC-*, R-ESC-1 clocks start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCompleted {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// When.
    pub at: DateTime<Utc>,
}
payload!(CallCompleted, "call.completed", 1, "call", call_id, []);

/// What a call resulted in [11.2].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// An action was taken or is required.
    Action,
    /// An inquiry.
    Inquiry,
    /// A booking.
    Booking,
    /// Nothing to document (wrong number, hang-up after pickup).
    NoAction,
}

impl CallOutcome {
    /// Whether R-DOC-1 requires documentation for this outcome.
    pub fn requires_documentation(self) -> bool {
        !matches!(self, CallOutcome::NoAction)
    }
}

/// The agent classified the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallClassified {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// When.
    pub at: DateTime<Utc>,
    /// Nature of the call, as a category of the client's list (not free text).
    pub nature: String,
    /// Whether it is urgent under the client's definitions.
    pub urgent: bool,
    /// What it resulted in.
    pub outcome: CallOutcome,
}
payload!(CallClassified, "call.classified", 1, "call", call_id, []);

/// Which of the four R-DOC-1 fields were filled in; not personal, so it survives shredding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct DocumentedFields {
    /// Caller name present.
    pub caller_name: bool,
    /// Contact information present.
    pub caller_contact: bool,
    /// Nature of call present.
    pub nature_of_call: bool,
    /// Action taken or required present.
    pub action_taken: bool,
}

impl DocumentedFields {
    /// Whether all four fields are present (R-DOC-1 met).
    pub fn all_present(self) -> bool {
        self.caller_name && self.caller_contact && self.nature_of_call && self.action_taken
    }
}

/// The call was documented [11.2].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallDocumented {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// When.
    pub at: DateTime<Utc>,
    /// The documenting agent.
    pub agent_id: AgentId,
    /// Personal data: caller name.
    pub caller_name: Option<String>,
    /// Personal data: caller contact information.
    pub caller_contact: Option<String>,
    /// Personal data: nature of the call, in the agent's words.
    pub nature_of_call: Option<String>,
    /// Personal data: action taken or required.
    pub action_taken: Option<String>,
    /// Which fields were present when documented (computed by the decision, not by the caller).
    pub fields_present: DocumentedFields,
}
payload!(
    CallDocumented,
    "call.documented",
    1,
    "call",
    call_id,
    [
        "/caller_name",
        "/caller_contact",
        "/nature_of_call",
        "/action_taken"
    ]
);

/// Documentation reached the client's designated system or channel (R-DOC-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentationDelivered {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// When.
    pub at: DateTime<Utc>,
    /// The channel, e.g. `"crm"` or `"email"`.
    pub channel: String,
}
payload!(
    DocumentationDelivered,
    "call.documentation_delivered",
    1,
    "call",
    call_id,
    []
);

// ---------------------------------------------------------------- escalations

/// Urgency of an escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Urgent: escalate within R-ESC-1.
    Urgent,
    /// Non-urgent: goes into the next digest (R-ESC-3).
    NonUrgent,
}

/// An escalation was opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationOpened {
    /// Client.
    pub client_id: ClientId,
    /// Escalation.
    pub escalation_id: EscalationId,
    /// The call it escalates, if any.
    pub call_id: Option<CallId>,
    /// When.
    pub at: DateTime<Utc>,
    /// Urgency.
    pub urgency: Urgency,
    /// Personal data: free-text summary.
    pub summary: Option<String>,
}
payload!(
    EscalationOpened,
    "escalation.opened",
    1,
    "escalation",
    escalation_id,
    ["/summary"]
);

/// A contact of the chain was attempted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationContactAttempted {
    /// Client.
    pub client_id: ClientId,
    /// Escalation.
    pub escalation_id: EscalationId,
    /// When.
    pub at: DateTime<Utc>,
    /// Tier of the chain.
    pub tier: u32,
    /// Non-personal reference of the contact.
    pub contact_ref: String,
}
payload!(
    EscalationContactAttempted,
    "escalation.contact_attempted",
    1,
    "escalation",
    escalation_id,
    []
);

/// The attempted contact was unreachable: the R-ESC-2 clock starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationContactUnreachable {
    /// Client.
    pub client_id: ClientId,
    /// Escalation.
    pub escalation_id: EscalationId,
    /// When.
    pub at: DateTime<Utc>,
    /// Tier.
    pub tier: u32,
    /// Contact.
    pub contact_ref: String,
}
payload!(
    EscalationContactUnreachable,
    "escalation.contact_unreachable",
    1,
    "escalation",
    escalation_id,
    []
);

/// A contact acknowledged the escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationAcknowledged {
    /// Client.
    pub client_id: ClientId,
    /// Escalation.
    pub escalation_id: EscalationId,
    /// When.
    pub at: DateTime<Utc>,
    /// Tier.
    pub tier: u32,
    /// Contact.
    pub contact_ref: String,
}
payload!(
    EscalationAcknowledged,
    "escalation.acknowledged",
    1,
    "escalation",
    escalation_id,
    []
);

/// A digest of non-urgent items was delivered (R-ESC-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestDelivered {
    /// Client.
    pub client_id: ClientId,
    /// Digest.
    pub digest_id: DigestId,
    /// When delivered.
    pub at: DateTime<Utc>,
    /// Start of the interval covered.
    pub period_start: DateTime<Utc>,
    /// End of the interval covered.
    pub period_end: DateTime<Utc>,
    /// The non-urgent escalations it covers.
    pub escalation_ids: Vec<EscalationId>,
    /// Delivery channel.
    pub channel: String,
}
payload!(
    DigestDelivered,
    "escalation.digest_delivered",
    1,
    "digest",
    digest_id,
    []
);

// ---------------------------------------------------------------- quality

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

// ---------------------------------------------------------------- coverage

/// An agent went on duty on an account (R-COV-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftStarted {
    /// Client.
    pub client_id: ClientId,
    /// Shift.
    pub shift_id: ShiftId,
    /// When.
    pub at: DateTime<Utc>,
    /// Agent.
    pub agent_id: AgentId,
}
payload!(
    ShiftStarted,
    "coverage.shift_started",
    1,
    "shift",
    shift_id,
    []
);

/// An agent went off duty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftEnded {
    /// Client.
    pub client_id: ClientId,
    /// Shift.
    pub shift_id: ShiftId,
    /// When.
    pub at: DateTime<Utc>,
    /// Agent.
    pub agent_id: AgentId,
}
payload!(ShiftEnded, "coverage.shift_ended", 1, "shift", shift_id, []);

// ---------------------------------------------------------------- communication and reporting

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

// ---------------------------------------------------------------- operations

/// Why performance is excused during a window [4, 8].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExcuseCause {
    /// Force majeure (infrastructure failure, disaster).
    ForceMajeure,
    /// Client credentials missing, expired or revoked.
    MissingCredentials,
    /// A significant call-volume change the client did not notify.
    UnnotifiedVolumeChange,
    /// Awaiting the client's answer to an agency communication [4 Timely Response]; opened and
    /// closed by `CommunicationSent` / `CommunicationAnswered` only, never by an excused-window
    /// event, since it excuses just the rules the communication names. Added as a new value; no
    /// existing value changed.
    AwaitingClientResponse,
}

/// An excused window opened: time outside normal operating conditions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcusedWindowOpened {
    /// Client.
    pub client_id: ClientId,
    /// Window.
    pub window_id: ExcusedWindowId,
    /// When it began.
    pub at: DateTime<Utc>,
    /// Cause.
    pub cause: ExcuseCause,
    /// Personal data: free-text note.
    pub note: Option<String>,
}
payload!(
    ExcusedWindowOpened,
    "operations.excused_window_opened",
    1,
    "excusedwindow",
    window_id,
    ["/note"]
);

/// The excused window closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcusedWindowClosed {
    /// Client.
    pub client_id: ClientId,
    /// Window.
    pub window_id: ExcusedWindowId,
    /// When it ended.
    pub at: DateTime<Utc>,
}
payload!(
    ExcusedWindowClosed,
    "operations.excused_window_closed",
    1,
    "excusedwindow",
    window_id,
    []
);

/// The agency published an SOP amendment and notified active clients at `at` (R-AMD-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SopAmendmentPublished {
    /// Amendment.
    pub amendment_id: SopAmendmentId,
    /// When published and notified to clients.
    pub at: DateTime<Utc>,
    /// When it takes effect.
    pub effective_at: DateTime<Utc>,
    /// Whether it is a material change affecting active engagements.
    pub material: bool,
    /// New SOP defaults.
    pub changes: Vec<RuleOverride>,
    /// Summary of the change (agency text, not personal).
    pub summary: String,
}

impl EventPayload for SopAmendmentPublished {
    const EVENT_TYPE: &'static str = "operations.sop_amendment_published";
    const SCHEMA_VERSION: u32 = 1;
    const STREAM_CATEGORY: &'static str = "sop";
    const PERSONAL_FIELDS: &'static [&'static str] = &[];
    fn stream_key(&self) -> &str {
        self.amendment_id.as_str()
    }
    fn client_scope(&self) -> &str {
        AGENCY_SCOPE
    }
    fn occurred_at(&self) -> DateTime<Utc> {
        self.at
    }
}

/// A legal hold was placed on client data; it suspends deletion (R-RET-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHoldPlaced {
    /// Client.
    pub client_id: ClientId,
    /// Hold.
    pub hold_id: LegalHoldId,
    /// When.
    pub at: DateTime<Utc>,
    /// The matter or authority requiring it.
    pub matter: String,
}
payload!(
    LegalHoldPlaced,
    "retention.legal_hold_placed",
    1,
    "client",
    client_id,
    []
);

/// The legal hold was released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHoldReleased {
    /// Client.
    pub client_id: ClientId,
    /// Hold.
    pub hold_id: LegalHoldId,
    /// When.
    pub at: DateTime<Utc>,
}
payload!(
    LegalHoldReleased,
    "retention.legal_hold_released",
    1,
    "client",
    client_id,
    []
);

/// What a deletion covered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DeletionScope {
    /// All personal data of the client (its key destroyed).
    AllClientData,
    /// Call records of calls connected before an instant (R-RET-1 schedule).
    CallRecordsBefore {
        /// Calls connected before this instant.
        before: DateTime<Utc>,
    },
}

/// Client data was deleted (by destroying its key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientDataDeleted {
    /// Client.
    pub client_id: ClientId,
    /// Deletion.
    pub deletion_id: DeletionId,
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub scope: DeletionScope,
}
payload!(
    ClientDataDeleted,
    "retention.client_data_deleted",
    1,
    "client",
    client_id,
    []
);

// ---------------------------------------------------------------- billing

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// What is billed.
    pub description: String,
    /// Units.
    pub quantity: u64,
    /// Price per unit.
    pub unit_price: Money,
    /// Line amount (quantity × unit price).
    pub amount: Money,
}

/// An invoice was issued (R-BIL-1, R-BIL-2, R-BIL-6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceIssued {
    /// Client.
    pub client_id: ClientId,
    /// Invoice.
    pub invoice_id: InvoiceId,
    /// Issue instant.
    pub at: DateTime<Utc>,
    /// Invoice date (client-local).
    pub invoice_date: NaiveDate,
    /// First day of the service period billed.
    pub period_start: NaiveDate,
    /// Last day of the service period billed.
    pub period_end: NaiveDate,
    /// Lines.
    pub lines: Vec<InvoiceLine>,
    /// Total, the sum of the lines.
    pub total: Money,
    /// Due date (client-local).
    pub due_date: NaiveDate,
    /// Whether this is the final invoice after termination.
    pub final_invoice: bool,
}
payload!(
    InvoiceIssued,
    "billing.invoice_issued",
    1,
    "invoice",
    invoice_id,
    []
);

/// A payment was received against an invoice (partial allowed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentReceived {
    /// Client.
    pub client_id: ClientId,
    /// Invoice.
    pub invoice_id: InvoiceId,
    /// Payment.
    pub payment_id: PaymentId,
    /// When.
    pub at: DateTime<Utc>,
    /// Amount.
    pub amount: Money,
    /// Whether any amount beyond what is owed is explicitly kept as client credit.
    pub excess_as_credit: bool,
}
payload!(
    PaymentReceived,
    "billing.payment_received",
    1,
    "invoice",
    invoice_id,
    []
);

/// A credit note reduced what an invoice owes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditNoteIssued {
    /// Client.
    pub client_id: ClientId,
    /// Invoice.
    pub invoice_id: InvoiceId,
    /// Credit note.
    pub credit_note_id: CreditNoteId,
    /// When.
    pub at: DateTime<Utc>,
    /// Amount credited.
    pub amount: Money,
    /// Reason.
    pub reason: String,
}
payload!(
    CreditNoteIssued,
    "billing.credit_note_issued",
    1,
    "invoice",
    invoice_id,
    []
);

/// A written notice of payment default was sent (R-BIL-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentDefaultNoticeSent {
    /// Client.
    pub client_id: ClientId,
    /// Notice.
    pub notice_id: NoticeId,
    /// When.
    pub at: DateTime<Utc>,
    /// The overdue invoices it cites.
    pub invoice_ids: Vec<InvoiceId>,
}
payload!(
    PaymentDefaultNoticeSent,
    "billing.payment_default_notice_sent",
    1,
    "client",
    client_id,
    []
);

/// Service was suspended for late payment, after the cited notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSuspended {
    /// Client.
    pub client_id: ClientId,
    /// When.
    pub at: DateTime<Utc>,
    /// The default notice relied on.
    pub notice_id: NoticeId,
}
payload!(
    ServiceSuspended,
    "billing.service_suspended",
    1,
    "client",
    client_id,
    []
);

/// Service resumed after a suspension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceResumed {
    /// Client.
    pub client_id: ClientId,
    /// When.
    pub at: DateTime<Utc>,
}
payload!(
    ServiceResumed,
    "billing.service_resumed",
    1,
    "client",
    client_id,
    []
);

/// A price change was notified in writing (R-BIL-4, R-AMD-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceChangeNotified {
    /// Client.
    pub client_id: ClientId,
    /// Notice.
    pub notice_id: NoticeId,
    /// When notified.
    pub at: DateTime<Utc>,
    /// When the new prices apply.
    pub effective_at: DateTime<Utc>,
    /// The new rates.
    pub rates: Vec<Rate>,
}
payload!(
    PriceChangeNotified,
    "billing.price_change_notified",
    1,
    "client",
    client_id,
    []
);

// ---------------------------------------------------------------- termination

/// Who gave a termination notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The agency.
    Agency,
    /// The client.
    Client,
}

/// Written notice of termination was given (R-TRM-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminationNoticeGiven {
    /// Client.
    pub client_id: ClientId,
    /// Notice.
    pub notice_id: NoticeId,
    /// When given.
    pub at: DateTime<Utc>,
    /// Who gave it.
    pub by: Party,
    /// When the termination takes effect.
    pub effective_at: DateTime<Utc>,
}
payload!(
    TerminationNoticeGiven,
    "termination.notice_given",
    1,
    "client",
    client_id,
    []
);

/// A cause permitting immediate termination (R-TRM-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ImmediateCause {
    /// Non-payment beyond 30 days of the due date, citing the invoices.
    NonPayment {
        /// The overdue invoices.
        invoice_ids: Vec<InvoiceId>,
    },
    /// Client conduct that violates applicable law.
    UnlawfulClientConduct,
    /// Client requests requiring illegal or unethical conduct of agents.
    IllegalOrUnethicalRequest,
}

/// The agency terminated immediately, citing a cause (R-TRM-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImmediateTermination {
    /// Client.
    pub client_id: ClientId,
    /// When.
    pub at: DateTime<Utc>,
    /// The cited cause.
    pub cause: ImmediateCause,
}
payload!(
    ImmediateTermination,
    "termination.immediate",
    1,
    "client",
    client_id,
    []
);

/// Termination took effect at `at`: the R-RET-2, R-RET-3 and R-BIL-6 clocks start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminationTookEffect {
    /// Client.
    pub client_id: ClientId,
    /// The effective instant.
    pub at: DateTime<Utc>,
}
payload!(
    TerminationTookEffect,
    "termination.took_effect",
    1,
    "client",
    client_id,
    []
);

// ---------------------------------------------------------------- the sum type

macro_rules! domain_events {
    ($($variant:ident),* $(,)?) => {
        /// Every domain event. The codec (`crate::codec`) is its one permanent format.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum DomainEvent {
            $(
                #[allow(missing_docs)]
                $variant($variant),
            )*
        }

        impl DomainEvent {
            /// The stable type name, e.g. `"call.connected"`.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $(DomainEvent::$variant(_) => <$variant as EventPayload>::EVENT_TYPE,)*
                }
            }

            /// The schema version this build writes for the event's type.
            pub fn schema_version(&self) -> u32 {
                match self {
                    $(DomainEvent::$variant(_) => <$variant as EventPayload>::SCHEMA_VERSION,)*
                }
            }

            /// The stream the event belongs to, `category-id`.
            pub fn stream_id(&self) -> String {
                let (category, key) = match self {
                    $(DomainEvent::$variant(p) => (<$variant as EventPayload>::STREAM_CATEGORY, p.stream_key()),)*
                };
                debug_assert!(!key.is_empty(), "ids are validated non-empty");
                format!("{category}-{key}")
            }

            /// The client the event belongs to; [`AGENCY_SCOPE`] for agency-wide events.
            pub fn client_id(&self) -> &str {
                match self {
                    $(DomainEvent::$variant(p) => p.client_scope(),)*
                }
            }

            /// When the fact occurred.
            pub fn occurred_at(&self) -> DateTime<Utc> {
                match self {
                    $(DomainEvent::$variant(p) => p.occurred_at(),)*
                }
            }

            /// JSON pointers of the personal fields of this event's type.
            pub fn personal_fields(&self) -> &'static [&'static str] {
                match self {
                    $(DomainEvent::$variant(_) => <$variant as EventPayload>::PERSONAL_FIELDS,)*
                }
            }

            /// The payload as a JSON object.
            pub(crate) fn payload_json(&self) -> serde_json::Value {
                let value = match self {
                    $(DomainEvent::$variant(p) => serde_json::to_value(p),)*
                };
                // Payloads hold only strings, numbers, dates and string-keyed structs.
                value.expect("domain payloads always serialize to JSON")
            }
        }

        $(
            impl From<$variant> for DomainEvent {
                fn from(value: $variant) -> Self {
                    DomainEvent::$variant(value)
                }
            }
        )*

        /// Every event type this build knows, with its current schema version, stream
        /// category and personal fields.
        pub const EVENT_TYPES: &[EventTypeInfo] = &[
            $(EventTypeInfo {
                event_type: <$variant as EventPayload>::EVENT_TYPE,
                schema_version: <$variant as EventPayload>::SCHEMA_VERSION,
                stream_category: <$variant as EventPayload>::STREAM_CATEGORY,
                personal_fields: <$variant as EventPayload>::PERSONAL_FIELDS,
            },)*
        ];

        /// Deserializes a payload already upcast to the current schema of its type.
        pub(crate) fn decode_current(
            event_type: &str,
            data: serde_json::Value,
        ) -> Option<Result<DomainEvent, serde_json::Error>> {
            $(
                if event_type == <$variant as EventPayload>::EVENT_TYPE {
                    return Some(serde_json::from_value::<$variant>(data).map(DomainEvent::$variant));
                }
            )*
            None
        }

        /// Deserializes a current-schema payload straight from its JSON text, without an
        /// intermediate `Value` (the hot path of every projection rebuild).
        pub(crate) fn decode_current_str(
            event_type: &str,
            text: &str,
        ) -> Option<Result<DomainEvent, serde_json::Error>> {
            $(
                if event_type == <$variant as EventPayload>::EVENT_TYPE {
                    return Some(serde_json::from_str::<$variant>(text).map(DomainEvent::$variant));
                }
            )*
            None
        }
    };
}

/// What the codec knows about one event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTypeInfo {
    /// Stable type name.
    pub event_type: &'static str,
    /// Current schema version.
    pub schema_version: u32,
    /// Stream category.
    pub stream_category: &'static str,
    /// JSON pointers of personal fields.
    pub personal_fields: &'static [&'static str],
}

domain_events!(
    ClientOnboarded,
    AgreementAmended,
    CredentialsProvided,
    CredentialsExpired,
    CredentialsRevoked,
    CredentialsRestored,
    SignificantChangeNotified,
    CommunicationSent,
    CommunicationAnswered,
    CallConnected,
    CallAnswered,
    CallRoutedToVoicemail,
    CallAbandoned,
    CallCompleted,
    CallClassified,
    CallDocumented,
    DocumentationDelivered,
    EscalationOpened,
    EscalationContactAttempted,
    EscalationContactUnreachable,
    EscalationAcknowledged,
    DigestDelivered,
    CallSelectedForReview,
    ClientReviewRequested,
    ReviewCompleted,
    QualityIssueIdentified,
    QualityIssueAddressed,
    ConductBreachIdentified,
    CorrectiveActionTaken,
    ShiftStarted,
    ShiftEnded,
    AccountIssueIdentified,
    ClientNotifiedOfIssue,
    MonthlyReportDelivered,
    QaSummaryDelivered,
    QuarterlyReviewConducted,
    ExcusedWindowOpened,
    ExcusedWindowClosed,
    SopAmendmentPublished,
    LegalHoldPlaced,
    LegalHoldReleased,
    ClientDataDeleted,
    InvoiceIssued,
    PaymentReceived,
    CreditNoteIssued,
    PaymentDefaultNoticeSent,
    ServiceSuspended,
    ServiceResumed,
    PriceChangeNotified,
    TerminationNoticeGiven,
    ImmediateTermination,
    TerminationTookEffect,
);

impl DomainEvent {
    /// Whether the event is agency-wide rather than about one client.
    pub fn is_agency_wide(&self) -> bool {
        matches!(self, DomainEvent::SopAmendmentPublished(_))
    }
}
