//! Commands: what the agency (or an importer) asks the ledger to record, with time and ids passed in.
//!
//! Most commands carry the fact they propose to record, as its event payload; `decide` checks it
//! against the state and records it unchanged. A few compute part of the fact (documentation
//! flags, an invoice's due date, a notice's effective date) or record more than one event
//! (an immediate termination also takes effect), and have their own command structs.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::events::{
    AccountIssueIdentified, AgreementAmended, CallAbandoned, CallAnswered, CallClassified,
    CallCompleted, CallConnected, CallRoutedToVoicemail, CallSelectedForReview, ClientDataDeleted,
    ClientNotifiedOfIssue, ClientOnboarded, ClientReviewRequested, CommunicationAnswered,
    CommunicationSent, ConductBreachIdentified, CorrectiveActionTaken, CredentialsExpired,
    CredentialsProvided, CredentialsRestored, CredentialsRevoked, CreditNoteIssued,
    DigestDelivered, DocumentationDelivered, EscalationAcknowledged, EscalationContactAttempted,
    EscalationContactUnreachable, EscalationOpened, ExcusedWindowClosed, ExcusedWindowOpened,
    ImmediateCause, ImmediateTermination, InvoiceLine, LegalHoldPlaced, LegalHoldReleased,
    MonthlyReportDelivered, Party, PaymentDefaultNoticeSent, PaymentReceived, PriceChangeNotified,
    QaSummaryDelivered, QualityIssueAddressed, QualityIssueIdentified, QuarterlyReviewConducted,
    ReviewCompleted, ServiceResumed, ServiceSuspended, ShiftEnded, ShiftStarted,
    SignificantChangeNotified, SopAmendmentPublished, TerminationTookEffect,
};
use crate::ids::{AgentId, CallId, ClientId, InvoiceId, NoticeId};
use crate::money::Money;

/// Document a call; the decision records which of the four R-DOC-1 fields are present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentCall {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// When.
    pub at: DateTime<Utc>,
    /// Agent.
    pub agent_id: AgentId,
    /// Caller name.
    pub caller_name: Option<String>,
    /// Caller contact information.
    pub caller_contact: Option<String>,
    /// Nature of the call.
    pub nature_of_call: Option<String>,
    /// Action taken or required.
    pub action_taken: Option<String>,
}

/// Issue an invoice; without a due date the decision applies the payment terms in force (R-BIL-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueInvoice {
    /// Client.
    pub client_id: ClientId,
    /// Invoice.
    pub invoice_id: InvoiceId,
    /// Issue instant.
    pub at: DateTime<Utc>,
    /// Invoice date (client-local).
    pub invoice_date: NaiveDate,
    /// First day billed.
    pub period_start: NaiveDate,
    /// Last day billed.
    pub period_end: NaiveDate,
    /// Lines.
    pub lines: Vec<InvoiceLine>,
    /// Total.
    pub total: Money,
    /// Due date; none applies the payment terms.
    pub due_date: Option<NaiveDate>,
    /// Whether this is the final invoice (R-BIL-6).
    pub final_invoice: bool,
}

/// Give written notice of termination; without an effective instant the decision applies the
/// notice period in force (R-TRM-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiveTerminationNotice {
    /// Client.
    pub client_id: ClientId,
    /// Notice.
    pub notice_id: NoticeId,
    /// When given.
    pub at: DateTime<Utc>,
    /// Who gives it.
    pub by: Party,
    /// When it takes effect; none means exactly the notice period after `at`.
    pub effective_at: Option<DateTime<Utc>>,
}

/// Terminate immediately, citing a permitted cause (R-TRM-2); takes effect at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminateImmediately {
    /// Client.
    pub client_id: ClientId,
    /// When.
    pub at: DateTime<Utc>,
    /// The cited cause.
    pub cause: ImmediateCause,
}

impl From<TerminateImmediately> for ImmediateTermination {
    fn from(c: TerminateImmediately) -> Self {
        ImmediateTermination {
            client_id: c.client_id,
            at: c.at,
            cause: c.cause,
        }
    }
}

/// Everything the ledger can be asked to record. As JSON: `{"command": "connect_call",
/// "args": {…the payload…}}`, so scripts and the CLI's `record` command can submit commands.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", content = "args", rename_all = "snake_case")]
pub enum Command {
    Onboard(ClientOnboarded),
    AmendAgreement(AgreementAmended),
    ProvideCredentials(CredentialsProvided),
    ExpireCredentials(CredentialsExpired),
    RevokeCredentials(CredentialsRevoked),
    RestoreCredentials(CredentialsRestored),
    NotifySignificantChange(SignificantChangeNotified),
    SendCommunication(CommunicationSent),
    AnswerCommunication(CommunicationAnswered),
    ConnectCall(CallConnected),
    AnswerCall(CallAnswered),
    RouteToVoicemail(CallRoutedToVoicemail),
    AbandonCall(CallAbandoned),
    CompleteCall(CallCompleted),
    ClassifyCall(CallClassified),
    DocumentCall(DocumentCall),
    DeliverDocumentation(DocumentationDelivered),
    OpenEscalation(EscalationOpened),
    AttemptContact(EscalationContactAttempted),
    MarkContactUnreachable(EscalationContactUnreachable),
    AcknowledgeEscalation(EscalationAcknowledged),
    DeliverDigest(DigestDelivered),
    SelectCallForReview(CallSelectedForReview),
    RequestClientReview(ClientReviewRequested),
    CompleteReview(ReviewCompleted),
    IdentifyQualityIssue(QualityIssueIdentified),
    AddressQualityIssue(QualityIssueAddressed),
    IdentifyConductBreach(ConductBreachIdentified),
    TakeCorrectiveAction(CorrectiveActionTaken),
    StartShift(ShiftStarted),
    EndShift(ShiftEnded),
    IdentifyAccountIssue(AccountIssueIdentified),
    NotifyClientOfIssue(ClientNotifiedOfIssue),
    DeliverMonthlyReport(MonthlyReportDelivered),
    DeliverQaSummary(QaSummaryDelivered),
    ConductQuarterlyReview(QuarterlyReviewConducted),
    OpenExcusedWindow(ExcusedWindowOpened),
    CloseExcusedWindow(ExcusedWindowClosed),
    PublishSopAmendment(SopAmendmentPublished),
    PlaceLegalHold(LegalHoldPlaced),
    ReleaseLegalHold(LegalHoldReleased),
    RecordDataDeletion(ClientDataDeleted),
    IssueInvoice(IssueInvoice),
    ReceivePayment(PaymentReceived),
    IssueCreditNote(CreditNoteIssued),
    SendPaymentDefaultNotice(PaymentDefaultNoticeSent),
    SuspendService(ServiceSuspended),
    ResumeService(ServiceResumed),
    NotifyPriceChange(PriceChangeNotified),
    GiveTerminationNotice(GiveTerminationNotice),
    TerminateImmediately(TerminateImmediately),
    RecordTerminationEffective(TerminationTookEffect),
}

fn client_stream(c: &ClientId) -> String {
    format!("client-{c}")
}

impl Command {
    /// The client the command is about, or `None` for agency-wide commands.
    pub fn client_id(&self) -> Option<&ClientId> {
        use Command as C;
        Some(match self {
            C::Onboard(e) => &e.client_id,
            C::AmendAgreement(e) => &e.client_id,
            C::ProvideCredentials(e) => &e.client_id,
            C::ExpireCredentials(e) => &e.client_id,
            C::RevokeCredentials(e) => &e.client_id,
            C::RestoreCredentials(e) => &e.client_id,
            C::NotifySignificantChange(e) => &e.client_id,
            C::SendCommunication(e) => &e.client_id,
            C::AnswerCommunication(e) => &e.client_id,
            C::ConnectCall(e) => &e.client_id,
            C::AnswerCall(e) => &e.client_id,
            C::RouteToVoicemail(e) => &e.client_id,
            C::AbandonCall(e) => &e.client_id,
            C::CompleteCall(e) => &e.client_id,
            C::ClassifyCall(e) => &e.client_id,
            C::DocumentCall(e) => &e.client_id,
            C::DeliverDocumentation(e) => &e.client_id,
            C::OpenEscalation(e) => &e.client_id,
            C::AttemptContact(e) => &e.client_id,
            C::MarkContactUnreachable(e) => &e.client_id,
            C::AcknowledgeEscalation(e) => &e.client_id,
            C::DeliverDigest(e) => &e.client_id,
            C::SelectCallForReview(e) => &e.client_id,
            C::RequestClientReview(e) => &e.client_id,
            C::CompleteReview(e) => &e.client_id,
            C::IdentifyQualityIssue(e) => &e.client_id,
            C::AddressQualityIssue(e) => &e.client_id,
            C::IdentifyConductBreach(e) => &e.client_id,
            C::TakeCorrectiveAction(e) => &e.client_id,
            C::StartShift(e) => &e.client_id,
            C::EndShift(e) => &e.client_id,
            C::IdentifyAccountIssue(e) => &e.client_id,
            C::NotifyClientOfIssue(e) => &e.client_id,
            C::DeliverMonthlyReport(e) => &e.client_id,
            C::DeliverQaSummary(e) => &e.client_id,
            C::ConductQuarterlyReview(e) => &e.client_id,
            C::OpenExcusedWindow(e) => &e.client_id,
            C::CloseExcusedWindow(e) => &e.client_id,
            C::PublishSopAmendment(_) => return None,
            C::PlaceLegalHold(e) => &e.client_id,
            C::ReleaseLegalHold(e) => &e.client_id,
            C::RecordDataDeletion(e) => &e.client_id,
            C::IssueInvoice(e) => &e.client_id,
            C::ReceivePayment(e) => &e.client_id,
            C::IssueCreditNote(e) => &e.client_id,
            C::SendPaymentDefaultNotice(e) => &e.client_id,
            C::SuspendService(e) => &e.client_id,
            C::ResumeService(e) => &e.client_id,
            C::NotifyPriceChange(e) => &e.client_id,
            C::GiveTerminationNotice(e) => &e.client_id,
            C::TerminateImmediately(e) => &e.client_id,
            C::RecordTerminationEffective(e) => &e.client_id,
        })
    }

    /// The streams whose state the decision reads, besides the `sop` category, which every
    /// decision about rules in force needs (load all `sop-*` streams).
    pub fn streams(&self) -> Vec<String> {
        use Command as C;
        let mut streams: Vec<String> = self.client_id().map(client_stream).into_iter().collect();
        let call = |c: &CallId| format!("call-{c}");
        let invoice = |i: &InvoiceId| format!("invoice-{i}");
        match self {
            C::ConnectCall(e) => streams.push(call(&e.call_id)),
            C::AnswerCall(e) => streams.push(call(&e.call_id)),
            C::RouteToVoicemail(e) => streams.push(call(&e.call_id)),
            C::AbandonCall(e) => streams.push(call(&e.call_id)),
            C::CompleteCall(e) => streams.push(call(&e.call_id)),
            C::ClassifyCall(e) => streams.push(call(&e.call_id)),
            C::DocumentCall(e) => streams.push(call(&e.call_id)),
            C::DeliverDocumentation(e) => streams.push(call(&e.call_id)),
            C::OpenEscalation(e) => {
                streams.push(format!("escalation-{}", e.escalation_id));
                streams.extend(e.call_id.iter().map(call));
            }
            C::AttemptContact(e) => streams.push(format!("escalation-{}", e.escalation_id)),
            C::MarkContactUnreachable(e) => streams.push(format!("escalation-{}", e.escalation_id)),
            C::AcknowledgeEscalation(e) => streams.push(format!("escalation-{}", e.escalation_id)),
            C::DeliverDigest(e) => {
                streams.push(format!("digest-{}", e.digest_id));
                streams.extend(e.escalation_ids.iter().map(|x| format!("escalation-{x}")));
            }
            C::SelectCallForReview(e) => {
                streams.push(format!("review-{}", e.review_id));
                streams.push(call(&e.call_id));
            }
            C::RequestClientReview(e) => {
                streams.push(format!("review-{}", e.review_id));
                streams.push(call(&e.call_id));
            }
            C::CompleteReview(e) => streams.push(format!("review-{}", e.review_id)),
            C::IdentifyQualityIssue(e) => {
                streams.push(format!("qualityissue-{}", e.issue_id));
                streams.extend(e.call_id.iter().map(call));
            }
            C::AddressQualityIssue(e) => streams.push(format!("qualityissue-{}", e.issue_id)),
            C::IdentifyConductBreach(e) => {
                streams.push(format!("breach-{}", e.breach_id));
                streams.extend(e.call_id.iter().map(call));
            }
            C::TakeCorrectiveAction(e) => streams.push(format!("breach-{}", e.breach_id)),
            C::StartShift(e) => streams.push(format!("shift-{}", e.shift_id)),
            C::EndShift(e) => streams.push(format!("shift-{}", e.shift_id)),
            C::IdentifyAccountIssue(e) => streams.push(format!("accountissue-{}", e.issue_id)),
            C::NotifyClientOfIssue(e) => streams.push(format!("accountissue-{}", e.issue_id)),
            C::OpenExcusedWindow(e) => streams.push(format!("excusedwindow-{}", e.window_id)),
            C::CloseExcusedWindow(e) => streams.push(format!("excusedwindow-{}", e.window_id)),
            C::PublishSopAmendment(e) => streams.push(format!("sop-{}", e.amendment_id)),
            C::IssueInvoice(e) => streams.push(invoice(&e.invoice_id)),
            C::ReceivePayment(e) => streams.push(invoice(&e.invoice_id)),
            C::IssueCreditNote(e) => streams.push(invoice(&e.invoice_id)),
            C::SendPaymentDefaultNotice(e) => streams.extend(e.invoice_ids.iter().map(invoice)),
            C::TerminateImmediately(TerminateImmediately {
                cause: ImmediateCause::NonPayment { invoice_ids },
                ..
            }) => streams.extend(invoice_ids.iter().map(invoice)),
            _ => {}
        }
        streams
    }
}
