//! The state decisions are made against, built by folding events with [`LedgerState::apply`].
//!
//! `LedgerState` is a map of aggregates keyed by id, so it can be built from the whole log or
//! from just the streams a command touches (`Command::streams`) plus the `sop` category. `apply`
//! never refuses: events reaching it were decided already. It tolerates a missing aggregate
//! (a stream that was not loaded) by ignoring follow-on events for it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::agreement::{AgreementVersion, ServiceAgreement};
use crate::events::{
    AccountIssueIdentified, CallClassified, CallConnected, CallDocumented, ClientOnboarded,
    CommunicationSent, ConductBreachIdentified, CorrectiveActionTaken, CreditNoteIssued,
    DigestDelivered, DomainEvent, EscalationOpened, ExcusedWindowOpened, ImmediateTermination,
    InvoiceIssued, LegalHoldPlaced, MonthlyReportDelivered, PaymentDefaultNoticeSent,
    PaymentReceived, PriceChangeNotified, QaSummaryDelivered, QualityIssueIdentified,
    QuarterlyReviewConducted, ReviewCompleted, ShiftStarted, SopAmendmentPublished,
    TerminationNoticeGiven,
};
use crate::ids::{
    AccountIssueId, AgentId, BreachId, CallId, ChangeId, ClientId, CommunicationId, CredentialId,
    DigestId, EscalationId, ExcusedWindowId, InvoiceId, LegalHoldId, NoticeId, QualityIssueId,
    ReportId, ReviewId, ShiftId,
};
use crate::money::{Money, MoneyError};
use crate::rules_in_force::ClientRules;

/// Status of one set of client credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialStatus {
    /// Working.
    Active,
    /// Expired.
    Expired,
    /// Revoked by the client.
    Revoked,
}

/// One client's stream, folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientState {
    /// The onboarding event, kept whole for idempotent retries.
    pub onboarding: ClientOnboarded,
    /// Agreement versions in recorded order.
    pub agreements: Vec<AgreementVersion>,
    /// Credentials and their status.
    pub credentials: BTreeMap<CredentialId, CredentialStatus>,
    /// Notified changes.
    pub changes: BTreeSet<ChangeId>,
    /// Agency communications awaiting or given the client's answer, with the answer's instant.
    #[serde(default)]
    pub communications: BTreeMap<CommunicationId, (CommunicationSent, Option<DateTime<Utc>>)>,
    /// Payment default notices sent.
    pub default_notices: BTreeMap<NoticeId, PaymentDefaultNoticeSent>,
    /// Since when service is suspended, if it is.
    pub suspended_since: Option<DateTime<Utc>>,
    /// Price changes notified.
    pub price_changes: Vec<PriceChangeNotified>,
    /// Monthly reports delivered.
    pub monthly_reports: BTreeMap<ReportId, MonthlyReportDelivered>,
    /// QA summaries delivered.
    pub qa_summaries: BTreeMap<ReportId, QaSummaryDelivered>,
    /// Quarterly business reviews conducted.
    pub quarterly_reviews: BTreeMap<ReportId, QuarterlyReviewConducted>,
    /// Active legal holds.
    pub legal_holds: BTreeMap<LegalHoldId, LegalHoldPlaced>,
    /// The termination notice, if one was given.
    pub termination_notice: Option<TerminationNoticeGiven>,
    /// The immediate termination, if one was recorded.
    pub immediate_termination: Option<ImmediateTermination>,
    /// When the termination took effect, if it has.
    pub terminated_at: Option<DateTime<Utc>>,
    /// When all client data was deleted, if it was.
    pub data_deleted_at: Option<DateTime<Utc>>,
}

impl ClientState {
    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.onboarding.client_id
    }

    /// The agreement in force at an instant.
    pub fn agreement_at(&self, at: DateTime<Utc>) -> Option<&ServiceAgreement> {
        crate::rules_in_force::agreement_at(&self.agreements, at)
    }

    /// The agreement in force at an instant, or the onboarding agreement before it took effect.
    pub fn agreement_or_first(&self, at: DateTime<Utc>) -> &ServiceAgreement {
        self.agreement_at(at).unwrap_or(&self.onboarding.agreement)
    }

    /// Whether a termination notice or immediate termination is on record.
    pub fn termination_pending_or_done(&self) -> bool {
        self.termination_notice.is_some()
            || self.immediate_termination.is_some()
            || self.terminated_at.is_some()
    }
}

/// One call's stream, folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallState {
    /// The connect event.
    pub connected: CallConnected,
    /// Pickup instant and agent.
    pub answered: Option<(DateTime<Utc>, AgentId)>,
    /// Voicemail routing instant.
    pub voicemail_at: Option<DateTime<Utc>>,
    /// Abandon instant.
    pub abandoned_at: Option<DateTime<Utc>>,
    /// Completion instant.
    pub completed_at: Option<DateTime<Utc>>,
    /// Latest classification.
    pub classification: Option<CallClassified>,
    /// Latest documentation.
    pub documentation: Option<CallDocumented>,
    /// First documentation delivery instant.
    pub documentation_delivered_at: Option<DateTime<Utc>>,
    /// Latest instant recorded on the stream.
    pub last_at: DateTime<Utc>,
}

/// One escalation's stream, folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationState {
    /// The open event.
    pub opened: EscalationOpened,
    /// Attempts as (tier, instant).
    pub attempts: Vec<(u32, DateTime<Utc>)>,
    /// Tiers marked unreachable, with the instant.
    pub unreachable: Vec<(u32, DateTime<Utc>)>,
    /// Acknowledgement (tier, instant).
    pub acknowledged: Option<(u32, DateTime<Utc>)>,
    /// Latest instant on the stream.
    pub last_at: DateTime<Utc>,
}

/// One review's stream, folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewState {
    /// Client.
    pub client_id: ClientId,
    /// Call.
    pub call_id: CallId,
    /// When selected or requested.
    pub opened_at: DateTime<Utc>,
    /// Whether the client requested it (R-QA-3) rather than internal selection.
    pub requested_by_client: bool,
    /// Completion.
    pub completed: Option<ReviewCompleted>,
}

/// One quality issue, folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityIssueState {
    /// The identification.
    pub identified: QualityIssueIdentified,
    /// When addressed.
    pub addressed_at: Option<DateTime<Utc>>,
}

/// One conduct breach, folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreachState {
    /// The identification.
    pub identified: ConductBreachIdentified,
    /// Corrective actions taken.
    pub actions: Vec<CorrectiveActionTaken>,
}

/// One shift, folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftState {
    /// The start.
    pub started: ShiftStarted,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
}

/// One account issue, folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountIssueState {
    /// The identification.
    pub identified: AccountIssueIdentified,
    /// When the client was first notified.
    pub notified_at: Option<DateTime<Utc>>,
}

/// One excused window, folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcusedWindowState {
    /// The opening.
    pub opened: ExcusedWindowOpened,
    /// When it closed.
    pub closed_at: Option<DateTime<Utc>>,
}

/// One invoice's stream, folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceState {
    /// The issue event.
    pub issued: InvoiceIssued,
    /// Payments.
    pub payments: Vec<PaymentReceived>,
    /// Credit notes.
    pub credit_notes: Vec<CreditNoteIssued>,
}

impl InvoiceState {
    /// What is still owed: total less payments and credits (negative when overpaid as credit).
    pub fn outstanding(&self) -> Result<Money, MoneyError> {
        let mut owed = self.issued.total;
        for p in &self.payments {
            owed = owed.checked_sub(p.amount)?;
        }
        for c in &self.credit_notes {
            owed = owed.checked_sub(c.amount)?;
        }
        Ok(owed)
    }

    /// Days past the due date on a client-local date (negative before it is due).
    pub fn days_past_due(&self, on: NaiveDate) -> i64 {
        (on - self.issued.due_date).num_days()
    }

    /// When payments and credits, in recorded order, first reached the total (R-BIL-3).
    pub fn settled_at(&self) -> Option<DateTime<Utc>> {
        let mut settlements: Vec<(DateTime<Utc>, i64)> = self
            .payments
            .iter()
            .map(|p| (p.at, p.amount.amount_minor))
            .chain(
                self.credit_notes
                    .iter()
                    .map(|c| (c.at, c.amount.amount_minor)),
            )
            .collect();
        settlements.sort_by_key(|(at, _)| *at);
        let mut paid: i64 = 0;
        settlements.into_iter().find_map(|(at, amount)| {
            paid = paid.saturating_add(amount);
            (paid >= self.issued.total.amount_minor).then_some(at)
        })
    }

    /// Whether anything is owed.
    pub fn is_open(&self) -> bool {
        self.outstanding().map_or(true, |m| m.is_positive())
    }
}

/// Every aggregate the decisions read, keyed by id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerState {
    /// Clients.
    pub clients: BTreeMap<ClientId, ClientState>,
    /// Calls.
    pub calls: BTreeMap<CallId, CallState>,
    /// Escalations.
    pub escalations: BTreeMap<EscalationId, EscalationState>,
    /// Digests.
    pub digests: BTreeMap<DigestId, DigestDelivered>,
    /// Reviews.
    pub reviews: BTreeMap<ReviewId, ReviewState>,
    /// Quality issues.
    pub quality_issues: BTreeMap<QualityIssueId, QualityIssueState>,
    /// Conduct breaches.
    pub breaches: BTreeMap<BreachId, BreachState>,
    /// Shifts.
    pub shifts: BTreeMap<ShiftId, ShiftState>,
    /// Account issues.
    pub account_issues: BTreeMap<AccountIssueId, AccountIssueState>,
    /// Excused windows.
    pub excused_windows: BTreeMap<ExcusedWindowId, ExcusedWindowState>,
    /// Invoices.
    pub invoices: BTreeMap<InvoiceId, InvoiceState>,
    /// SOP amendments in published order.
    pub sop_amendments: Vec<SopAmendmentPublished>,
}

/// Folds one event into a state (the functional form of [`LedgerState::apply`]).
pub fn evolve(mut state: LedgerState, event: &DomainEvent) -> LedgerState {
    state.apply(event);
    state
}

impl LedgerState {
    /// Folds a sequence of events.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a DomainEvent>) -> Self {
        let mut state = Self::default();
        for e in events {
            state.apply(e);
        }
        state
    }

    /// The rule history of a client, for [`crate::rules_in_force::value_at`].
    pub fn client_rules(&self, client_id: &ClientId) -> Option<ClientRules<'_>> {
        self.clients.get(client_id).map(|c| ClientRules {
            agreements: &c.agreements,
            sop_amendments: &self.sop_amendments,
        })
    }

    /// Folds one event in.
    pub fn apply(&mut self, event: &DomainEvent) {
        use DomainEvent as E;
        match event {
            E::ClientOnboarded(e) => {
                self.clients
                    .entry(e.client_id.clone())
                    .or_insert_with(|| ClientState {
                        onboarding: e.clone(),
                        agreements: vec![AgreementVersion {
                            effective_at: e.at,
                            recorded_at: e.at,
                            amendment_id: None,
                            agreement: e.agreement.clone(),
                        }],
                        credentials: BTreeMap::new(),
                        changes: BTreeSet::new(),
                        communications: BTreeMap::new(),
                        default_notices: BTreeMap::new(),
                        suspended_since: None,
                        price_changes: Vec::new(),
                        monthly_reports: BTreeMap::new(),
                        qa_summaries: BTreeMap::new(),
                        quarterly_reviews: BTreeMap::new(),
                        legal_holds: BTreeMap::new(),
                        termination_notice: None,
                        immediate_termination: None,
                        terminated_at: None,
                        data_deleted_at: None,
                    });
            }
            E::AgreementAmended(e) => self.with_client(&e.client_id, |c| {
                c.agreements.push(AgreementVersion {
                    effective_at: e.effective_at,
                    recorded_at: e.at,
                    amendment_id: Some(e.amendment_id.clone()),
                    agreement: e.agreement.clone(),
                });
            }),
            E::CredentialsProvided(e) => self.with_client(&e.client_id, |c| {
                c.credentials
                    .insert(e.credential_id.clone(), CredentialStatus::Active);
            }),
            E::CredentialsExpired(e) => self.with_client(&e.client_id, |c| {
                c.credentials
                    .insert(e.credential_id.clone(), CredentialStatus::Expired);
            }),
            E::CredentialsRevoked(e) => self.with_client(&e.client_id, |c| {
                c.credentials
                    .insert(e.credential_id.clone(), CredentialStatus::Revoked);
            }),
            E::CredentialsRestored(e) => self.with_client(&e.client_id, |c| {
                c.credentials
                    .insert(e.credential_id.clone(), CredentialStatus::Active);
            }),
            E::SignificantChangeNotified(e) => self.with_client(&e.client_id, |c| {
                c.changes.insert(e.change_id.clone());
            }),
            E::CommunicationSent(e) => self.with_client(&e.client_id, |c| {
                c.communications
                    .entry(e.communication_id.clone())
                    .or_insert_with(|| (e.clone(), None));
            }),
            E::CommunicationAnswered(e) => self.with_client(&e.client_id, |c| {
                if let Some((_, answered)) = c.communications.get_mut(&e.communication_id) {
                    answered.get_or_insert(e.at);
                }
            }),
            E::CallConnected(e) => {
                self.calls
                    .entry(e.call_id.clone())
                    .or_insert_with(|| CallState {
                        connected: e.clone(),
                        answered: None,
                        voicemail_at: None,
                        abandoned_at: None,
                        completed_at: None,
                        classification: None,
                        documentation: None,
                        documentation_delivered_at: None,
                        last_at: e.at,
                    });
            }
            E::CallAnswered(e) => self.with_call(&e.call_id, e.at, |c| {
                c.answered = Some((e.at, e.agent_id.clone()));
            }),
            E::CallRoutedToVoicemail(e) => self.with_call(&e.call_id, e.at, |c| {
                c.voicemail_at = Some(e.at);
            }),
            E::CallAbandoned(e) => self.with_call(&e.call_id, e.at, |c| {
                c.abandoned_at = Some(e.at);
            }),
            E::CallCompleted(e) => self.with_call(&e.call_id, e.at, |c| {
                c.completed_at = Some(e.at);
            }),
            E::CallClassified(e) => self.with_call(&e.call_id, e.at, |c| {
                c.classification = Some(e.clone());
            }),
            E::CallDocumented(e) => self.with_call(&e.call_id, e.at, |c| {
                c.documentation = Some(e.clone());
            }),
            E::DocumentationDelivered(e) => self.with_call(&e.call_id, e.at, |c| {
                c.documentation_delivered_at.get_or_insert(e.at);
            }),
            E::EscalationOpened(e) => {
                self.escalations
                    .entry(e.escalation_id.clone())
                    .or_insert_with(|| EscalationState {
                        opened: e.clone(),
                        attempts: Vec::new(),
                        unreachable: Vec::new(),
                        acknowledged: None,
                        last_at: e.at,
                    });
            }
            E::EscalationContactAttempted(e) => {
                self.with_escalation(&e.escalation_id, e.at, |s| s.attempts.push((e.tier, e.at)))
            }
            E::EscalationContactUnreachable(e) => {
                self.with_escalation(&e.escalation_id, e.at, |s| {
                    s.unreachable.push((e.tier, e.at))
                })
            }
            E::EscalationAcknowledged(e) => self.with_escalation(&e.escalation_id, e.at, |s| {
                s.acknowledged.get_or_insert((e.tier, e.at));
            }),
            E::DigestDelivered(e) => {
                self.digests
                    .entry(e.digest_id.clone())
                    .or_insert_with(|| e.clone());
            }
            E::CallSelectedForReview(e) => {
                self.reviews
                    .entry(e.review_id.clone())
                    .or_insert_with(|| ReviewState {
                        client_id: e.client_id.clone(),
                        call_id: e.call_id.clone(),
                        opened_at: e.at,
                        requested_by_client: false,
                        completed: None,
                    });
            }
            E::ClientReviewRequested(e) => {
                self.reviews
                    .entry(e.review_id.clone())
                    .or_insert_with(|| ReviewState {
                        client_id: e.client_id.clone(),
                        call_id: e.call_id.clone(),
                        opened_at: e.at,
                        requested_by_client: true,
                        completed: None,
                    });
            }
            E::ReviewCompleted(e) => {
                if let Some(r) = self.reviews.get_mut(&e.review_id) {
                    r.completed.get_or_insert_with(|| e.clone());
                }
            }
            E::QualityIssueIdentified(e) => {
                self.quality_issues
                    .entry(e.issue_id.clone())
                    .or_insert_with(|| QualityIssueState {
                        identified: e.clone(),
                        addressed_at: None,
                    });
            }
            E::QualityIssueAddressed(e) => {
                if let Some(i) = self.quality_issues.get_mut(&e.issue_id) {
                    i.addressed_at.get_or_insert(e.at);
                }
            }
            E::ConductBreachIdentified(e) => {
                self.breaches
                    .entry(e.breach_id.clone())
                    .or_insert_with(|| BreachState {
                        identified: e.clone(),
                        actions: Vec::new(),
                    });
            }
            E::CorrectiveActionTaken(e) => {
                if let Some(b) = self.breaches.get_mut(&e.breach_id) {
                    b.actions.push(e.clone());
                }
            }
            E::ShiftStarted(e) => {
                self.shifts
                    .entry(e.shift_id.clone())
                    .or_insert_with(|| ShiftState {
                        started: e.clone(),
                        ended_at: None,
                    });
            }
            E::ShiftEnded(e) => {
                if let Some(s) = self.shifts.get_mut(&e.shift_id) {
                    s.ended_at.get_or_insert(e.at);
                }
            }
            E::AccountIssueIdentified(e) => {
                self.account_issues
                    .entry(e.issue_id.clone())
                    .or_insert_with(|| AccountIssueState {
                        identified: e.clone(),
                        notified_at: None,
                    });
            }
            E::ClientNotifiedOfIssue(e) => {
                if let Some(i) = self.account_issues.get_mut(&e.issue_id) {
                    i.notified_at.get_or_insert(e.at);
                }
            }
            E::MonthlyReportDelivered(e) => self.with_client(&e.client_id, |c| {
                c.monthly_reports
                    .entry(e.report_id.clone())
                    .or_insert_with(|| e.clone());
            }),
            E::QaSummaryDelivered(e) => self.with_client(&e.client_id, |c| {
                c.qa_summaries
                    .entry(e.report_id.clone())
                    .or_insert_with(|| e.clone());
            }),
            E::QuarterlyReviewConducted(e) => self.with_client(&e.client_id, |c| {
                c.quarterly_reviews
                    .entry(e.report_id.clone())
                    .or_insert_with(|| e.clone());
            }),
            E::ExcusedWindowOpened(e) => {
                self.excused_windows
                    .entry(e.window_id.clone())
                    .or_insert_with(|| ExcusedWindowState {
                        opened: e.clone(),
                        closed_at: None,
                    });
            }
            E::ExcusedWindowClosed(e) => {
                if let Some(w) = self.excused_windows.get_mut(&e.window_id) {
                    w.closed_at.get_or_insert(e.at);
                }
            }
            E::SopAmendmentPublished(e) => {
                if !self
                    .sop_amendments
                    .iter()
                    .any(|a| a.amendment_id == e.amendment_id)
                {
                    self.sop_amendments.push(e.clone());
                }
            }
            E::LegalHoldPlaced(e) => self.with_client(&e.client_id, |c| {
                c.legal_holds.insert(e.hold_id.clone(), e.clone());
            }),
            E::LegalHoldReleased(e) => self.with_client(&e.client_id, |c| {
                c.legal_holds.remove(&e.hold_id);
            }),
            E::ClientDataDeleted(e) => self.with_client(&e.client_id, |c| {
                if matches!(e.scope, crate::events::DeletionScope::AllClientData) {
                    c.data_deleted_at.get_or_insert(e.at);
                }
            }),
            E::InvoiceIssued(e) => {
                self.invoices
                    .entry(e.invoice_id.clone())
                    .or_insert_with(|| InvoiceState {
                        issued: e.clone(),
                        payments: Vec::new(),
                        credit_notes: Vec::new(),
                    });
            }
            E::PaymentReceived(e) => {
                if let Some(i) = self.invoices.get_mut(&e.invoice_id) {
                    i.payments.push(e.clone());
                }
            }
            E::CreditNoteIssued(e) => {
                if let Some(i) = self.invoices.get_mut(&e.invoice_id) {
                    i.credit_notes.push(e.clone());
                }
            }
            E::PaymentDefaultNoticeSent(e) => self.with_client(&e.client_id, |c| {
                c.default_notices.insert(e.notice_id.clone(), e.clone());
            }),
            E::ServiceSuspended(e) => self.with_client(&e.client_id, |c| {
                c.suspended_since.get_or_insert(e.at);
            }),
            E::ServiceResumed(e) => self.with_client(&e.client_id, |c| {
                c.suspended_since = None;
            }),
            E::PriceChangeNotified(e) => self.with_client(&e.client_id, |c| {
                c.price_changes.push(e.clone());
            }),
            E::TerminationNoticeGiven(e) => self.with_client(&e.client_id, |c| {
                c.termination_notice.get_or_insert_with(|| e.clone());
            }),
            E::ImmediateTermination(e) => self.with_client(&e.client_id, |c| {
                c.immediate_termination.get_or_insert_with(|| e.clone());
            }),
            E::TerminationTookEffect(e) => self.with_client(&e.client_id, |c| {
                c.terminated_at.get_or_insert(e.at);
            }),
        }
    }

    fn with_client(&mut self, client_id: &ClientId, f: impl FnOnce(&mut ClientState)) {
        if let Some(c) = self.clients.get_mut(client_id) {
            f(c);
        }
    }

    fn with_call(&mut self, call_id: &CallId, at: DateTime<Utc>, f: impl FnOnce(&mut CallState)) {
        if let Some(c) = self.calls.get_mut(call_id) {
            debug_assert!(
                at >= c.connected.at,
                "decisions refuse events before connect"
            );
            f(c);
            c.last_at = c.last_at.max(at);
        }
    }

    fn with_escalation(
        &mut self,
        id: &EscalationId,
        at: DateTime<Utc>,
        f: impl FnOnce(&mut EscalationState),
    ) {
        if let Some(s) = self.escalations.get_mut(id) {
            f(s);
            s.last_at = s.last_at.max(at);
        }
    }
}
