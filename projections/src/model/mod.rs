//! The read model: every fact the reports judge, folded from events, each stamped with the event it
//! came from.
//!
//! Why stamps instead of running totals: a report may be asked as of an earlier position, an
//! earlier recorded-at instant or an occurred-at instant, and an excused window opened or closed
//! late changes which calls ran under normal operating conditions. Keeping each fact with its
//! [`EventRef`] lets every report filter by its [`crate::AsOf`] basis and judge with the windows
//! it sees, while `apply` stays O(1) amortized: a hash lookup and a push, with no per-event
//! allocation beyond the new entity's own id.
//!
//! Rows live in [`Table`]s (a `Vec` in first-seen order plus a hash index rebuilt after
//! deserialization), and every client keeps the slots of its rows, calls bucketed by its local
//! month, so a monthly report touches only that month's calls.
//!
//! Like `domain::state`, `apply` never refuses: events reaching it were decided already.
//! Follow-on events for an entity that is unknown (its start event never arrived) are ignored.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use chrono::{DateTime, Utc};
use opsledger_domain::agreement::{AgreementVersion, ServiceAgreement};
use opsledger_domain::events::{DomainEvent, SopAmendmentPublished};
use opsledger_domain::ids::{AccountIssueId, ClientId, QualityIssueId};
use opsledger_domain::rules::{RuleId, RuleValue};
use opsledger_domain::rules_in_force::{agreement_at, sop_amendment_takes_effect_for, value_at};
use serde::{Deserialize, Serialize};

use crate::position::{EventRef, PositionedEvent, YearMonth};

/// A row of a [`Table`]: it knows its own key, so the index can be rebuilt.
pub trait Row {
    /// The key type.
    type Key: Clone + Eq + Hash;
    /// The row's key.
    fn key(&self) -> &Self::Key;
}

/// Rows in first-seen order with a hash index by key (not serialized; rebuilt on load).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(serialize = "R: Serialize", deserialize = "R: Deserialize<'de>"))]
pub struct Table<R: Row> {
    rows: Vec<R>,
    #[serde(skip)]
    index: HashMap<R::Key, u32>,
}

impl<R: Row> Default for Table<R> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<R: Row> Table<R> {
    /// All rows in first-seen order.
    pub fn rows(&self) -> &[R] {
        &self.rows
    }

    /// The row at a slot.
    pub fn get(&self, slot: u32) -> Option<&R> {
        self.rows.get(usize::try_from(slot).ok()?)
    }

    /// The slot of a key.
    pub fn slot(&self, key: &R::Key) -> Option<u32> {
        self.index.get(key).copied()
    }

    /// The row with a key.
    pub fn by_key(&self, key: &R::Key) -> Option<&R> {
        self.slot(key).and_then(|s| self.get(s))
    }

    fn get_mut(&mut self, key: &R::Key) -> Option<&mut R> {
        let slot = usize::try_from(*self.index.get(key)?).ok()?;
        self.rows.get_mut(slot)
    }

    fn get_slot_mut(&mut self, slot: u32) -> Option<&mut R> {
        self.rows.get_mut(usize::try_from(slot).ok()?)
    }

    /// Inserts a row unless its key is known; returns its new slot, or `None` if it existed.
    fn insert_new(&mut self, row: R) -> Option<u32> {
        if self.index.contains_key(row.key()) {
            return None;
        }
        let slot = u32::try_from(self.rows.len()).expect("fewer than 2^32 rows per table");
        self.index.insert(row.key().clone(), slot);
        self.rows.push(row);
        Some(slot)
    }

    fn reindex(&mut self) {
        self.index = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let slot = u32::try_from(i).expect("fewer than 2^32 rows per table");
                (r.key().clone(), slot)
            })
            .collect();
    }
}

macro_rules! row {
    ($ty:ty, $key:ty, $field:ident) => {
        impl $crate::model::Row for $ty {
            type Key = $key;
            fn key(&self) -> &$key {
                &self.$field
            }
        }
    };
}

// One module per business area, the same area names as in `domain::events` and
// `domain::decide`: each holds its area's records and the `apply_*` methods folding its events in.
// `row!` is defined above them because a `macro_rules!` macro is visible only to the modules
// declared after it.
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

pub use billing::{
    DefaultNoticeRecord, InvoiceRecord, PriceChangeRecord, Settlement, SuspensionRecord,
};
pub use calls::{Abandonment, CallRecord, Classification, Documentation};
pub use client::AgreementRecord;
pub use coverage::ShiftRecord;
pub use escalations::{EscalationRecord, TierEvent};
pub use operations::{SopRecord, WindowRecord, WindowSource};
pub use quality::{BreachRecord, ReviewRecord};
pub use reporting::{MonthlyDelivery, QaSummaryDelivery, QuarterlyReview};
pub use retention::{DeletionRecord, HoldRecord};
pub use termination::{ImmediateTerminationRecord, TerminationNoticeRecord};

/// Everything known about one client, with the slots of its rows in the model's tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// Client.
    pub client_id: ClientId,
    /// The onboarding event.
    pub onboarded: EventRef,
    /// Agreement versions in recorded order.
    pub agreements: Vec<AgreementRecord>,
    /// Call slots by client-local month of connection.
    pub calls_by_month: BTreeMap<YearMonth, Vec<u32>>,
    /// Escalation slots.
    pub escalations: Vec<u32>,
    /// Review slots.
    pub reviews: Vec<u32>,
    /// Quality issue slots.
    pub quality_issues: Vec<u32>,
    /// Conduct breach slots.
    pub breaches: Vec<u32>,
    /// Shift slots.
    pub shifts: Vec<u32>,
    /// Account issue slots.
    pub account_issues: Vec<u32>,
    /// Excused window slots.
    pub excused_windows: Vec<u32>,
    /// Legal hold slots.
    pub legal_holds: Vec<u32>,
    /// Invoice slots.
    pub invoices: Vec<u32>,
    /// Monthly reports delivered.
    pub monthly_reports: Vec<MonthlyDelivery>,
    /// QA summaries delivered.
    pub qa_summaries: Vec<QaSummaryDelivery>,
    /// Quarterly reviews conducted.
    pub quarterly_reviews: Vec<QuarterlyReview>,
    /// Deletions.
    pub deletions: Vec<DeletionRecord>,
    /// Payment default notices.
    pub default_notices: Vec<DefaultNoticeRecord>,
    /// Suspensions.
    pub suspensions: Vec<SuspensionRecord>,
    /// Price change notices.
    pub price_changes: Vec<PriceChangeRecord>,
    /// Termination notices.
    pub termination_notices: Vec<TerminationNoticeRecord>,
    /// Immediate terminations.
    pub immediate_terminations: Vec<ImmediateTerminationRecord>,
    /// The termination taking effect, if it has.
    pub terminated: Option<EventRef>,
}
row!(ClientRecord, ClientId, client_id);

impl ClientRecord {
    /// The agreement in force at an instant among all known versions, or the first one.
    pub fn agreement_or_first(&self, at: DateTime<Utc>) -> &ServiceAgreement {
        // Versions are few, so a reverse scan is cheaper than keeping a sorted copy.
        self.agreements
            .iter()
            .rev()
            .find(|a| a.version.effective_at <= at)
            .or_else(|| self.agreements.first())
            .map(|a| &a.version.agreement)
            .expect("a client record always has its onboarding agreement")
    }
}

/// An identified item and the event that closed it (quality issue, breach, account issue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueRecord<K> {
    /// Id.
    pub id: K,
    /// Client slot.
    pub client: u32,
    /// Identification (clock start).
    pub identified: EventRef,
    /// First closing event (addressed, corrective action, client notified).
    pub closed: Option<EventRef>,
}

impl<K: Clone + Eq + Hash> Row for IssueRecord<K> {
    type Key = K;
    fn key(&self) -> &K {
        &self.id
    }
}

/// Every fact the reports read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReadModel {
    /// Clients in onboarding order.
    pub clients: Table<ClientRecord>,
    /// SOP amendments in published order.
    pub sop_amendments: Vec<SopRecord>,
    /// Queue names, interned; calls refer to them by slot.
    pub queues: Vec<String>,
    #[serde(skip)]
    queue_index: HashMap<String, u32>,
    /// Calls.
    pub calls: Table<CallRecord>,
    /// Escalations.
    pub escalations: Table<EscalationRecord>,
    /// Reviews.
    pub reviews: Table<ReviewRecord>,
    /// Quality issues (R-QA-2).
    pub quality_issues: Table<IssueRecord<QualityIssueId>>,
    /// Conduct breaches (R-QA-5).
    pub breaches: Table<BreachRecord>,
    /// Account issues (R-COM-1).
    pub account_issues: Table<IssueRecord<AccountIssueId>>,
    /// Shifts.
    pub shifts: Table<ShiftRecord>,
    /// Excused windows.
    pub excused_windows: Table<WindowRecord>,
    /// Legal holds.
    pub legal_holds: Table<HoldRecord>,
    /// Invoices.
    pub invoices: Table<InvoiceRecord>,
}

fn set_first(slot: &mut Option<EventRef>, event: EventRef) {
    if slot.is_none() {
        *slot = Some(event);
    }
}

impl ReadModel {
    /// Rebuilds the hash indexes after deserialization.
    pub(crate) fn reindex(&mut self) {
        self.clients.reindex();
        self.queue_index = self
            .queues
            .iter()
            .enumerate()
            .map(|(i, q)| (q.clone(), u32::try_from(i).expect("fewer than 2^32 queues")))
            .collect();
        self.calls.reindex();
        self.escalations.reindex();
        self.reviews.reindex();
        self.quality_issues.reindex();
        self.breaches.reindex();
        self.account_issues.reindex();
        self.shifts.reindex();
        self.excused_windows.reindex();
        self.legal_holds.reindex();
        self.invoices.reindex();
    }

    /// The slot of a client.
    pub fn client_slot(&self, client_id: &ClientId) -> Option<u32> {
        self.clients.slot(client_id)
    }

    /// A client by slot.
    pub fn client(&self, slot: u32) -> &ClientRecord {
        self.clients
            .get(slot)
            .expect("slots stored in rows always name an existing client")
    }

    fn client_mut(&mut self, client_id: &ClientId) -> Option<(u32, &mut ClientRecord)> {
        let slot = self.clients.slot(client_id)?;
        self.clients.get_slot_mut(slot).map(|c| (slot, c))
    }

    fn queue_slot(&mut self, name: &str) -> u32 {
        if let Some(slot) = self.queue_index.get(name) {
            return *slot;
        }
        let slot = u32::try_from(self.queues.len()).expect("fewer than 2^32 queues");
        self.queues.push(name.to_owned());
        self.queue_index.insert(name.to_owned(), slot);
        slot
    }

    /// Folds one event in.
    pub fn apply(&mut self, positioned: &PositionedEvent) {
        use DomainEvent as E;
        let r = positioned.reference();
        match &positioned.event {
            // client
            E::ClientOnboarded(e) => self.apply_client_onboarded(r, e),
            E::AgreementAmended(e) => self.apply_agreement_amended(r, e),
            E::CredentialsExpired(e) => self.apply_credentials_expired(r, e),
            E::CredentialsRevoked(e) => self.apply_credentials_revoked(r, e),
            E::CredentialsRestored(e) => self.apply_credentials_restored(r, e),
            E::CredentialsProvided(e) => self.apply_credentials_provided(r, e),
            E::SignificantChangeNotified(e) => self.apply_significant_change_notified(r, e),
            E::CommunicationSent(e) => self.apply_communication_sent(r, e),
            E::CommunicationAnswered(e) => self.apply_communication_answered(r, e),
            // calls
            E::CallConnected(e) => self.apply_call_connected(r, e),
            E::CallAnswered(e) => self.apply_call_answered(r, e),
            E::CallRoutedToVoicemail(e) => self.apply_call_routed_to_voicemail(r, e),
            E::CallAbandoned(e) => self.apply_call_abandoned(r, e),
            E::CallCompleted(e) => self.apply_call_completed(r, e),
            E::CallClassified(e) => self.apply_call_classified(r, e),
            E::CallDocumented(e) => self.apply_call_documented(r, e),
            E::DocumentationDelivered(e) => self.apply_documentation_delivered(r, e),
            // escalations
            E::EscalationOpened(e) => self.apply_escalation_opened(r, e),
            E::EscalationContactAttempted(e) => self.apply_escalation_contact_attempted(r, e),
            E::EscalationContactUnreachable(e) => self.apply_escalation_contact_unreachable(r, e),
            E::EscalationAcknowledged(_) => {}
            E::DigestDelivered(e) => self.apply_digest_delivered(r, e),
            // quality
            E::CallSelectedForReview(e) => self.apply_call_selected_for_review(r, e),
            E::ClientReviewRequested(e) => self.apply_client_review_requested(r, e),
            E::ReviewCompleted(e) => self.apply_review_completed(r, e),
            E::QualityIssueIdentified(e) => self.apply_quality_issue_identified(r, e),
            E::QualityIssueAddressed(e) => self.apply_quality_issue_addressed(r, e),
            E::ConductBreachIdentified(e) => self.apply_conduct_breach_identified(r, e),
            E::CorrectiveActionTaken(e) => self.apply_corrective_action_taken(r, e),
            // coverage
            E::ShiftStarted(e) => self.apply_shift_started(r, e),
            E::ShiftEnded(e) => self.apply_shift_ended(r, e),
            // reporting
            E::AccountIssueIdentified(e) => self.apply_account_issue_identified(r, e),
            E::ClientNotifiedOfIssue(e) => self.apply_client_notified_of_issue(r, e),
            E::MonthlyReportDelivered(e) => self.apply_monthly_report_delivered(r, e),
            E::QaSummaryDelivered(e) => self.apply_qa_summary_delivered(r, e),
            E::QuarterlyReviewConducted(e) => self.apply_quarterly_review_conducted(r, e),
            // operations
            E::ExcusedWindowOpened(e) => self.apply_excused_window_opened(r, e),
            E::ExcusedWindowClosed(e) => self.apply_excused_window_closed(r, e),
            E::SopAmendmentPublished(e) => self.apply_sop_amendment_published(r, e),
            // retention
            E::LegalHoldPlaced(e) => self.apply_legal_hold_placed(r, e),
            E::LegalHoldReleased(e) => self.apply_legal_hold_released(r, e),
            E::ClientDataDeleted(e) => self.apply_client_data_deleted(r, e),
            // billing
            E::InvoiceIssued(e) => self.apply_invoice_issued(r, e),
            E::PaymentReceived(e) => self.apply_payment_received(r, e),
            E::CreditNoteIssued(e) => self.apply_credit_note_issued(r, e),
            E::PaymentDefaultNoticeSent(e) => self.apply_payment_default_notice_sent(r, e),
            E::ServiceSuspended(e) => self.apply_service_suspended(r, e),
            E::ServiceResumed(e) => self.apply_service_resumed(r, e),
            E::PriceChangeNotified(e) => self.apply_price_change_notified(r, e),
            // termination
            E::TerminationNoticeGiven(e) => self.apply_termination_notice_given(r, e),
            E::ImmediateTermination(e) => self.apply_immediate_termination(r, e),
            E::TerminationTookEffect(e) => self.apply_termination_took_effect(r, e),
        }
    }

    /// The agreement versions and SOP amendments an `AsOf` basis sees, for rule lookups.
    pub fn rules_view(&self, client: &ClientRecord, as_of: &crate::AsOf) -> RulesView {
        RulesView::new(
            client
                .agreements
                .iter()
                .filter(|a| as_of.sees(&a.event))
                .map(|a| a.version.clone())
                .collect(),
            self.sop_amendments
                .iter()
                .filter(|s| as_of.sees(&s.event))
                .map(|s| s.amendment.clone())
                .collect(),
            client
                .agreements
                .first()
                .map(|a| a.version.agreement.clone())
                .expect("a client record always has its onboarding agreement"),
        )
    }
}

/// The rule history one report judges with: the agreement versions and SOP amendments its
/// `AsOf` basis sees (later amendments, even backdated ones, are unknown to an earlier basis).
///
/// Rule values are piecewise constant in time: they change only where an agreement version or an
/// SOP amendment takes effect. The view computes every rule's value once per such segment with
/// `domain::rules_in_force::value_at` and answers lookups by binary search, so judging a month of
/// calls costs a few comparisons per call rather than a full lookup.
#[derive(Debug, Clone)]
pub struct RulesView {
    /// Agreement versions in recorded order.
    pub agreements: Vec<AgreementVersion>,
    /// SOP amendments in published order.
    pub sop_amendments: Vec<SopAmendmentPublished>,
    /// The onboarding agreement, used for the calendar before any version is in force.
    pub first_agreement: ServiceAgreement,
    /// Instants where some value may change, sorted and distinct.
    boundaries: Vec<DateTime<Utc>>,
    /// `values[segment][rule index]`; segment 0 is before the first boundary.
    values: Vec<Vec<RuleValue>>,
}

impl RulesView {
    /// Builds the view and its per-segment values.
    pub fn new(
        agreements: Vec<AgreementVersion>,
        sop_amendments: Vec<SopAmendmentPublished>,
        first_agreement: ServiceAgreement,
    ) -> Self {
        // Each SOP amendment takes effect for this client after its own R-AMD-1 notice.
        let client_rules = opsledger_domain::rules_in_force::ClientRules {
            agreements: &agreements,
            sop_amendments: &sop_amendments,
        };
        let mut boundaries: Vec<DateTime<Utc>> = agreements
            .iter()
            .map(|a| a.effective_at)
            .chain(
                sop_amendments
                    .iter()
                    .map(|a| sop_amendment_takes_effect_for(a, &client_rules)),
            )
            .collect();
        boundaries.sort();
        boundaries.dedup();
        let mut view = Self {
            agreements,
            sop_amendments,
            first_agreement,
            boundaries: Vec::new(),
            values: Vec::new(),
        };
        let probes: Vec<DateTime<Utc>> = boundaries
            .first()
            .map(|b| *b - chrono::Duration::nanoseconds(1))
            .into_iter()
            .chain(boundaries.iter().copied())
            .collect();
        let values = if probes.is_empty() {
            vec![RuleId::ALL
                .iter()
                .map(|r| value_at(*r, &view.client_rules(), DateTime::<Utc>::MIN_UTC))
                .collect()]
        } else {
            probes
                .iter()
                .map(|at| {
                    RuleId::ALL
                        .iter()
                        .map(|r| value_at(*r, &view.client_rules(), *at))
                        .collect()
                })
                .collect()
        };
        view.boundaries = boundaries;
        view.values = values;
        view
    }

    /// The borrowed form `domain::rules_in_force::value_at` takes.
    pub fn client_rules(&self) -> opsledger_domain::rules_in_force::ClientRules<'_> {
        opsledger_domain::rules_in_force::ClientRules {
            agreements: &self.agreements,
            sop_amendments: &self.sop_amendments,
        }
    }

    /// The value of a rule at an instant: `value_at(rule, rules, at)`, memoized per segment.
    pub fn value(&self, rule: RuleId, at: DateTime<Utc>) -> &RuleValue {
        let segment = self.boundaries.partition_point(|b| *b <= at);
        let index = RuleId::ALL
            .iter()
            .position(|r| *r == rule)
            .expect("every rule id is in the catalog");
        &self.values[segment][index]
    }

    /// The instants strictly inside `(from, to)` where some rule value may change (an agreement
    /// version or an SOP amendment taking effect), in time order.
    pub fn changes_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        self.boundaries
            .iter()
            .copied()
            .filter(|b| from < *b && *b < to)
            .collect()
    }

    /// The agreement in force at an instant, or the onboarding agreement before any.
    pub fn agreement_at(&self, at: DateTime<Utc>) -> &ServiceAgreement {
        agreement_at(&self.agreements, at).unwrap_or(&self.first_agreement)
    }
}
