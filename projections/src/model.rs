//! The read model: every fact the reports judge, folded from events, each stamped with the event it came from.
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

use chrono::{DateTime, NaiveDate, Utc};
use opsledger_domain::agreement::{AgreementVersion, ServiceAgreement};
use opsledger_domain::events::{
    AbandonReason, BreachKind, CallOutcome, ChangeKind, DeletionScope, DomainEvent, ExcuseCause,
    ImmediateCause, MonthlyReportKind, Party, ReviewFindings, SopAmendmentPublished, Urgency,
};
use opsledger_domain::ids::{
    AccountIssueId, AgentId, BreachId, CallId, ClientId, CommunicationId, CredentialId,
    EscalationId, ExcusedWindowId, InvoiceId, LegalHoldId, NoticeId, QualityIssueId, ReviewId,
    ShiftId,
};
use opsledger_domain::money::Money;
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
        impl Row for $ty {
            type Key = $key;
            fn key(&self) -> &$key {
                &self.$field
            }
        }
    };
}

/// One agreement version and the event that brought it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementRecord {
    /// The onboarding or amendment event.
    pub event: EventRef,
    /// The version.
    pub version: AgreementVersion,
}

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

/// A deletion of client data (R-RET-*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionRecord {
    /// The event.
    pub event: EventRef,
    /// What it covered.
    pub scope: DeletionScope,
}

/// A payment default notice (R-BIL-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultNoticeRecord {
    /// The event.
    pub event: EventRef,
    /// Notice.
    pub notice_id: NoticeId,
    /// The invoices it cites.
    pub invoice_ids: Vec<InvoiceId>,
}

/// A suspension and its end (R-BIL-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspensionRecord {
    /// The suspension event.
    pub event: EventRef,
    /// The notice it relied on.
    pub notice_id: NoticeId,
    /// The resumption, if any.
    pub resumed: Option<EventRef>,
}

/// A price change notice (R-BIL-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceChangeRecord {
    /// The event.
    pub event: EventRef,
    /// When the new prices apply.
    pub effective_at: DateTime<Utc>,
}

/// A termination notice (R-TRM-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminationNoticeRecord {
    /// The event.
    pub event: EventRef,
    /// Who gave it.
    pub by: Party,
    /// When the termination takes effect.
    pub effective_at: DateTime<Utc>,
}

/// An immediate termination (R-TRM-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImmediateTerminationRecord {
    /// The event.
    pub event: EventRef,
    /// The cited cause.
    pub cause: ImmediateCause,
}

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

/// The agent's classification of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    /// The event.
    pub event: EventRef,
    /// Urgent for R-ESC-1: the nature is on the urgent list of the agreement in force at the
    /// classification, or the agent flagged it urgent.
    pub urgent: bool,
    /// Urgent because the nature is on the client's list, whatever the agent's flag said (so
    /// the report can say which reading made it urgent).
    #[serde(default)]
    pub urgent_by_nature: bool,
    /// What the call resulted in.
    pub outcome: CallOutcome,
}

/// A documentation event and how many of the four R-DOC-1 fields it lacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Documentation {
    /// The event.
    pub event: EventRef,
    /// Of caller name, contact, nature and action, how many were missing (0 = complete).
    pub missing_fields: u64,
}

/// How a queued call left the queue without pickup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Abandonment {
    /// The event.
    pub event: EventRef,
    /// Why.
    pub reason: AbandonReason,
}

/// One call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Call.
    pub call_id: CallId,
    /// Client slot.
    pub client: u32,
    /// Queue slot in [`ReadModel::queues`], if the call named one.
    pub queue: Option<u32>,
    /// Entered the queue (R-ANS-1/2 clock start).
    pub connected: EventRef,
    /// Agent pickup.
    pub answered: Option<EventRef>,
    /// Voicemail routing.
    pub voicemail: Option<EventRef>,
    /// Left the queue without pickup.
    pub abandoned: Option<Abandonment>,
    /// Completed (R-DOC-*, R-ESC-1 clock start).
    pub completed: Option<EventRef>,
    /// Every classification, in log order. All are kept (not only the first and the latest)
    /// because an as-of basis may see any prefix of them and must get the latest it sees.
    pub classifications: Vec<Classification>,
    /// First documentation.
    pub first_documentation: Option<Documentation>,
    /// First documentation with all four fields (R-DOC-1).
    pub complete_documentation: Option<EventRef>,
    /// First documentation delivery (R-DOC-2).
    pub documentation_delivered: Option<EventRef>,
    /// First contact attempt of an urgent escalation of this call (R-ESC-1).
    pub urgent_escalation_attempt: Option<EventRef>,
    /// First completed review of this call (R-QA-1).
    pub reviewed: Option<EventRef>,
}
row!(CallRecord, CallId, call_id);

impl CallRecord {
    /// The latest classification an `AsOf` basis sees.
    pub fn classification(&self, as_of: &crate::AsOf) -> Option<Classification> {
        self.classifications
            .iter()
            .rev()
            .find(|c| as_of.sees(&c.event))
            .copied()
    }
}

/// A contact attempt or unreachable mark at a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierEvent {
    /// Tier of the chain.
    pub tier: u32,
    /// The event.
    pub event: EventRef,
}

/// One escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationRecord {
    /// Escalation.
    pub escalation_id: EscalationId,
    /// Client slot.
    pub client: u32,
    /// Call slot, if it escalates a known call.
    pub call: Option<u32>,
    /// Urgency.
    pub urgency: Urgency,
    /// Opening.
    pub opened: EventRef,
    /// Contact attempts in log order.
    pub attempts: Vec<TierEvent>,
    /// Unreachable marks in log order (R-ESC-2 clock starts).
    pub unreachable: Vec<TierEvent>,
    /// First digest listing it (R-ESC-3).
    pub digest: Option<EventRef>,
    /// First digest listing it whose period also holds the instant it was raised: the one that
    /// meets R-ESC-3 (the catalog's Readings).
    #[serde(default)]
    pub digest_covering: Option<EventRef>,
}
row!(EscalationRecord, EscalationId, escalation_id);

/// One review (internal selection or client request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRecord {
    /// Review.
    pub review_id: ReviewId,
    /// Client slot.
    pub client: u32,
    /// Call slot, if the call is known.
    pub call: Option<u32>,
    /// Selection or request.
    pub opened: EventRef,
    /// Requested by the client (R-QA-3) rather than selected internally.
    pub requested_by_client: bool,
    /// Completion.
    pub completed: Option<EventRef>,
    /// Findings of the completion.
    pub findings: Option<ReviewFindings>,
}
row!(ReviewRecord, ReviewId, review_id);

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

/// A conduct breach: its kind besides the issue data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreachRecord {
    /// The breach as an issue.
    pub issue: IssueRecord<BreachId>,
    /// Kind.
    pub kind: BreachKind,
}

impl Row for BreachRecord {
    type Key = BreachId;
    fn key(&self) -> &BreachId {
        &self.issue.id
    }
}

/// One agent shift (R-COV-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftRecord {
    /// Shift.
    pub shift_id: ShiftId,
    /// Client slot.
    pub client: u32,
    /// Agent.
    pub agent_id: AgentId,
    /// Start.
    pub started: EventRef,
    /// End.
    pub ended: Option<EventRef>,
}
row!(ShiftRecord, ShiftId, shift_id);

/// One excused window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowRecord {
    /// Window.
    pub window_id: ExcusedWindowId,
    /// Client slot.
    pub client: u32,
    /// Cause.
    pub cause: ExcuseCause,
    /// Opening.
    pub opened: EventRef,
    /// Closing.
    pub closed: Option<EventRef>,
    /// The only rules it excuses, for a window awaiting the client's answer (the rules its
    /// communication named); empty for the other causes, which excuse every rule they concern.
    #[serde(default)]
    pub rules: Vec<RuleId>,
    /// The fact that opened it when that was not an excused-window event: the credential set or
    /// the communication, so that the restoration or the answer closes it.
    #[serde(default)]
    pub opened_by: Option<WindowSource>,
}
row!(WindowRecord, ExcusedWindowId, window_id);

/// The fact behind a window opened by an event other than an excused-window event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum WindowSource {
    /// Credentials expired or revoked; restored or provided again, the window closes.
    Credentials(CredentialId),
    /// An agency communication awaiting the client's answer; answered, the window closes.
    Communication(CommunicationId),
}

/// One legal hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldRecord {
    /// Hold.
    pub hold_id: LegalHoldId,
    /// Client slot.
    pub client: u32,
    /// Placement.
    pub placed: EventRef,
    /// Release.
    pub released: Option<EventRef>,
}
row!(HoldRecord, LegalHoldId, hold_id);

/// A payment or credit against an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// The event.
    pub event: EventRef,
    /// Amount.
    pub amount: Money,
}

/// One invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRecord {
    /// Invoice.
    pub invoice_id: InvoiceId,
    /// Client slot.
    pub client: u32,
    /// Issue event.
    pub issued: EventRef,
    /// Invoice date (client-local).
    pub invoice_date: NaiveDate,
    /// First day billed.
    pub period_start: NaiveDate,
    /// Last day billed.
    pub period_end: NaiveDate,
    /// Due date stated on the invoice (client-local).
    pub due_date: NaiveDate,
    /// Total.
    pub total: Money,
    /// Final invoice after termination (R-BIL-6).
    pub final_invoice: bool,
    /// Payments.
    pub payments: Vec<Settlement>,
    /// Credit notes.
    pub credits: Vec<Settlement>,
}
row!(InvoiceRecord, InvoiceId, invoice_id);

/// An SOP amendment and its event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SopRecord {
    /// The event.
    pub event: EventRef,
    /// The amendment.
    pub amendment: SopAmendmentPublished,
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

impl ReadModel {
    /// Opens a window for a fact other than an excused-window event, unless one for the same
    /// fact is still open (credentials expired, then revoked, make one window). Its id is
    /// `credentials:<id>:<position>` or `communication:<id>:<position>` (just the prefix and
    /// position when that would be too long); should a recorded window already use that id,
    /// the recorded one is kept, as for any repeated window id.
    fn open_derived_window(
        &mut self,
        client_id: &ClientId,
        cause: ExcuseCause,
        source: WindowSource,
        rules: Vec<RuleId>,
        r: EventRef,
    ) {
        let Some(client) = self.clients.slot(client_id) else {
            return;
        };
        if self.open_derived(client, &source).is_some() {
            return;
        }
        let (prefix, key) = match &source {
            WindowSource::Credentials(c) => ("credentials", c.as_str()),
            WindowSource::Communication(c) => ("communication", c.as_str()),
        };
        let id = ExcusedWindowId::new(format!("{prefix}:{key}:{}", r.position))
            .or_else(|_| ExcusedWindowId::new(format!("{prefix}:{}", r.position)));
        let Ok(window_id) = id else {
            return;
        };
        if let Some(slot) = self.excused_windows.insert_new(WindowRecord {
            window_id,
            client,
            cause,
            opened: r,
            closed: None,
            rules,
            opened_by: Some(source),
        }) {
            if let Some(c) = self.clients.get_slot_mut(client) {
                c.excused_windows.push(slot);
            }
        }
    }

    /// The slot of the open window a fact opened for a client, if any.
    fn open_derived(&self, client: u32, source: &WindowSource) -> Option<u32> {
        let record = self.clients.get(client)?;
        record.excused_windows.iter().copied().find(|slot| {
            self.excused_windows
                .get(*slot)
                .is_some_and(|w| w.closed.is_none() && w.opened_by.as_ref() == Some(source))
        })
    }

    /// Closes the open window a fact opened, if there is one.
    fn close_derived_window(&mut self, client_id: &ClientId, source: &WindowSource, r: EventRef) {
        let Some(client) = self.clients.slot(client_id) else {
            return;
        };
        if let Some(slot) = self.open_derived(client, source) {
            if let Some(w) = self.excused_windows.get_slot_mut(slot) {
                set_first(&mut w.closed, r);
            }
        }
    }

    /// Closes every open window of a cause for a client.
    fn close_windows_of_cause(&mut self, client_id: &ClientId, cause: ExcuseCause, r: EventRef) {
        let Some(client) = self.clients.slot(client_id) else {
            return;
        };
        let slots: Vec<u32> = self
            .clients
            .get(client)
            .map(|c| c.excused_windows.clone())
            .unwrap_or_default();
        for slot in slots {
            if let Some(w) = self.excused_windows.get_slot_mut(slot) {
                if w.cause == cause && w.opened.occurred_at <= r.occurred_at {
                    set_first(&mut w.closed, r);
                }
            }
        }
    }
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
            E::ClientOnboarded(e) => {
                let version = AgreementVersion {
                    effective_at: e.at,
                    recorded_at: e.at,
                    amendment_id: None,
                    agreement: e.agreement.clone(),
                };
                self.clients.insert_new(ClientRecord {
                    client_id: e.client_id.clone(),
                    onboarded: r,
                    agreements: vec![AgreementRecord { event: r, version }],
                    calls_by_month: BTreeMap::new(),
                    escalations: Vec::new(),
                    reviews: Vec::new(),
                    quality_issues: Vec::new(),
                    breaches: Vec::new(),
                    shifts: Vec::new(),
                    account_issues: Vec::new(),
                    excused_windows: Vec::new(),
                    legal_holds: Vec::new(),
                    invoices: Vec::new(),
                    monthly_reports: Vec::new(),
                    qa_summaries: Vec::new(),
                    quarterly_reviews: Vec::new(),
                    deletions: Vec::new(),
                    default_notices: Vec::new(),
                    suspensions: Vec::new(),
                    price_changes: Vec::new(),
                    termination_notices: Vec::new(),
                    immediate_terminations: Vec::new(),
                    terminated: None,
                });
            }
            E::AgreementAmended(e) => {
                if let Some((_, c)) = self.client_mut(&e.client_id) {
                    c.agreements.push(AgreementRecord {
                        event: r,
                        version: AgreementVersion {
                            effective_at: e.effective_at,
                            recorded_at: e.at,
                            amendment_id: Some(e.amendment_id.clone()),
                            agreement: e.agreement.clone(),
                        },
                    });
                }
            }
            // Credentials, change notices and communications open and close excused windows
            // themselves (the catalog's Readings: windows come from these events). Expired or
            // revoked credentials open a `missing_credentials` window until the same set is
            // restored or provided again.
            E::CredentialsExpired(e) => {
                self.open_derived_window(
                    &e.client_id,
                    ExcuseCause::MissingCredentials,
                    WindowSource::Credentials(e.credential_id.clone()),
                    Vec::new(),
                    r,
                );
            }
            E::CredentialsRevoked(e) => {
                self.open_derived_window(
                    &e.client_id,
                    ExcuseCause::MissingCredentials,
                    WindowSource::Credentials(e.credential_id.clone()),
                    Vec::new(),
                    r,
                );
            }
            E::CredentialsRestored(e) => self.close_derived_window(
                &e.client_id,
                &WindowSource::Credentials(e.credential_id.clone()),
                r,
            ),
            E::CredentialsProvided(e) => self.close_derived_window(
                &e.client_id,
                &WindowSource::Credentials(e.credential_id.clone()),
                r,
            ),
            // A call-volume change is unnotified until the client notifies it [4 Change
            // Notification]: the notice closes every open `unnotified_volume_change` window of
            // the client. A notice opens none, since a notified change is the agency's to plan for.
            E::SignificantChangeNotified(e) => {
                if e.kind == ChangeKind::CallVolume {
                    self.close_windows_of_cause(
                        &e.client_id,
                        ExcuseCause::UnnotifiedVolumeChange,
                        r,
                    );
                }
            }
            // Awaiting the client's answer [4 Timely Response] excuses the rules the
            // communication names, from sending to the answer.
            E::CommunicationSent(e) => {
                if !e.affects.is_empty() {
                    self.open_derived_window(
                        &e.client_id,
                        ExcuseCause::AwaitingClientResponse,
                        WindowSource::Communication(e.communication_id.clone()),
                        e.affects.clone(),
                        r,
                    );
                }
            }
            E::CommunicationAnswered(e) => self.close_derived_window(
                &e.client_id,
                &WindowSource::Communication(e.communication_id.clone()),
                r,
            ),
            E::CallConnected(e) => {
                let Some(client) = self.clients.slot(&e.client_id) else {
                    return;
                };
                let queue = e.queue.as_deref().map(|q| self.queue_slot(q));
                let Some(slot) = self.calls.insert_new(CallRecord {
                    call_id: e.call_id.clone(),
                    client,
                    queue,
                    connected: r,
                    answered: None,
                    voicemail: None,
                    abandoned: None,
                    completed: None,
                    classifications: Vec::new(),
                    first_documentation: None,
                    complete_documentation: None,
                    documentation_delivered: None,
                    urgent_escalation_attempt: None,
                    reviewed: None,
                }) else {
                    return;
                };
                if let Some(c) = self.clients.get_slot_mut(client) {
                    let zone = c.agreement_or_first(e.at).calendar.time_zone;
                    let month = YearMonth::of(e.at.with_timezone(&zone).date_naive());
                    c.calls_by_month.entry(month).or_default().push(slot);
                }
            }
            E::CallAnswered(e) => {
                if let Some(c) = self.calls.get_mut(&e.call_id) {
                    set_first(&mut c.answered, r);
                }
            }
            E::CallRoutedToVoicemail(e) => {
                if let Some(c) = self.calls.get_mut(&e.call_id) {
                    set_first(&mut c.voicemail, r);
                }
            }
            E::CallAbandoned(e) => {
                if let Some(c) = self.calls.get_mut(&e.call_id) {
                    if c.abandoned.is_none() {
                        c.abandoned = Some(Abandonment {
                            event: r,
                            reason: e.reason,
                        });
                    }
                }
            }
            E::CallCompleted(e) => {
                if let Some(c) = self.calls.get_mut(&e.call_id) {
                    set_first(&mut c.completed, r);
                }
            }
            E::CallClassified(e) => {
                if let Some(c) = self.calls.get_mut(&e.call_id) {
                    // R-ESC-1: urgency is the agreement's (in force at the classification) or
                    // the agent's flag, which may add urgency but never remove it.
                    let urgent_by_nature = self.clients.get(c.client).is_some_and(|client| {
                        client.agreement_or_first(e.at).is_urgent_nature(&e.nature)
                    });
                    let class = Classification {
                        event: r,
                        urgent: e.urgent || urgent_by_nature,
                        urgent_by_nature,
                        outcome: e.outcome,
                    };
                    c.classifications.push(class);
                }
            }
            E::CallDocumented(e) => {
                if let Some(c) = self.calls.get_mut(&e.call_id) {
                    let f = e.fields_present;
                    let missing_fields = [
                        f.caller_name,
                        f.caller_contact,
                        f.nature_of_call,
                        f.action_taken,
                    ]
                    .iter()
                    .filter(|present| !**present)
                    .map(|_| 1_u64)
                    .sum();
                    c.first_documentation.get_or_insert(Documentation {
                        event: r,
                        missing_fields,
                    });
                    if f.all_present() {
                        set_first(&mut c.complete_documentation, r);
                    }
                }
            }
            E::DocumentationDelivered(e) => {
                if let Some(c) = self.calls.get_mut(&e.call_id) {
                    set_first(&mut c.documentation_delivered, r);
                }
            }
            E::EscalationOpened(e) => {
                let Some(client) = self.clients.slot(&e.client_id) else {
                    return;
                };
                let call = e.call_id.as_ref().and_then(|id| self.calls.slot(id));
                if let Some(slot) = self.escalations.insert_new(EscalationRecord {
                    escalation_id: e.escalation_id.clone(),
                    client,
                    call,
                    urgency: e.urgency,
                    opened: r,
                    attempts: Vec::new(),
                    unreachable: Vec::new(),
                    digest: None,
                    digest_covering: None,
                }) {
                    if let Some(c) = self.clients.get_slot_mut(client) {
                        c.escalations.push(slot);
                    }
                }
            }
            E::EscalationContactAttempted(e) => {
                let Some(esc) = self.escalations.get_mut(&e.escalation_id) else {
                    return;
                };
                esc.attempts.push(TierEvent {
                    tier: e.tier,
                    event: r,
                });
                let urgent_call = (esc.urgency == Urgency::Urgent)
                    .then_some(esc.call)
                    .flatten();
                if let Some(call) = urgent_call.and_then(|s| self.calls.get_slot_mut(s)) {
                    set_first(&mut call.urgent_escalation_attempt, r);
                }
            }
            E::EscalationContactUnreachable(e) => {
                if let Some(esc) = self.escalations.get_mut(&e.escalation_id) {
                    esc.unreachable.push(TierEvent {
                        tier: e.tier,
                        event: r,
                    });
                }
            }
            E::EscalationAcknowledged(_) => {}
            E::DigestDelivered(e) => {
                for id in &e.escalation_ids {
                    if let Some(esc) = self.escalations.get_mut(id) {
                        set_first(&mut esc.digest, r);
                        let raised = esc.opened.occurred_at;
                        if e.period_start <= raised && raised <= e.period_end {
                            set_first(&mut esc.digest_covering, r);
                        }
                    }
                }
            }
            E::CallSelectedForReview(e) => {
                self.open_review(&e.client_id, &e.review_id, &e.call_id, r, false);
            }
            E::ClientReviewRequested(e) => {
                self.open_review(&e.client_id, &e.review_id, &e.call_id, r, true);
            }
            E::ReviewCompleted(e) => {
                let Some(review) = self.reviews.get_mut(&e.review_id) else {
                    return;
                };
                if review.completed.is_some() {
                    return;
                }
                review.completed = Some(r);
                review.findings = Some(e.findings);
                if let Some(call) = review.call.and_then(|s| self.calls.get_slot_mut(s)) {
                    set_first(&mut call.reviewed, r);
                }
            }
            E::QualityIssueIdentified(e) => {
                let Some(client) = self.clients.slot(&e.client_id) else {
                    return;
                };
                if let Some(slot) = self.quality_issues.insert_new(IssueRecord {
                    id: e.issue_id.clone(),
                    client,
                    identified: r,
                    closed: None,
                }) {
                    if let Some(c) = self.clients.get_slot_mut(client) {
                        c.quality_issues.push(slot);
                    }
                }
            }
            E::QualityIssueAddressed(e) => {
                if let Some(i) = self.quality_issues.get_mut(&e.issue_id) {
                    set_first(&mut i.closed, r);
                }
            }
            E::ConductBreachIdentified(e) => {
                let Some(client) = self.clients.slot(&e.client_id) else {
                    return;
                };
                if let Some(slot) = self.breaches.insert_new(BreachRecord {
                    issue: IssueRecord {
                        id: e.breach_id.clone(),
                        client,
                        identified: r,
                        closed: None,
                    },
                    kind: e.kind,
                }) {
                    if let Some(c) = self.clients.get_slot_mut(client) {
                        c.breaches.push(slot);
                    }
                }
            }
            E::CorrectiveActionTaken(e) => {
                if let Some(b) = self.breaches.get_mut(&e.breach_id) {
                    set_first(&mut b.issue.closed, r);
                }
            }
            E::ShiftStarted(e) => {
                let Some(client) = self.clients.slot(&e.client_id) else {
                    return;
                };
                if let Some(slot) = self.shifts.insert_new(ShiftRecord {
                    shift_id: e.shift_id.clone(),
                    client,
                    agent_id: e.agent_id.clone(),
                    started: r,
                    ended: None,
                }) {
                    if let Some(c) = self.clients.get_slot_mut(client) {
                        c.shifts.push(slot);
                    }
                }
            }
            E::ShiftEnded(e) => {
                if let Some(s) = self.shifts.get_mut(&e.shift_id) {
                    set_first(&mut s.ended, r);
                }
            }
            E::AccountIssueIdentified(e) => {
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
            E::ClientNotifiedOfIssue(e) => {
                if let Some(i) = self.account_issues.get_mut(&e.issue_id) {
                    set_first(&mut i.closed, r);
                }
            }
            E::MonthlyReportDelivered(e) => {
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
            E::QaSummaryDelivered(e) => {
                if let (Some((_, c)), Some(month)) = (
                    self.client_mut(&e.client_id),
                    YearMonth::new(e.year, e.month),
                ) {
                    c.qa_summaries.push(QaSummaryDelivery { event: r, month });
                }
            }
            E::QuarterlyReviewConducted(e) => {
                if let Some((_, c)) = self.client_mut(&e.client_id) {
                    c.quarterly_reviews.push(QuarterlyReview {
                        event: r,
                        year: e.year,
                        quarter: e.quarter,
                    });
                }
            }
            E::ExcusedWindowOpened(e) => {
                let Some(client) = self.clients.slot(&e.client_id) else {
                    return;
                };
                if let Some(slot) = self.excused_windows.insert_new(WindowRecord {
                    window_id: e.window_id.clone(),
                    client,
                    cause: e.cause,
                    opened: r,
                    closed: None,
                    rules: Vec::new(),
                    opened_by: None,
                }) {
                    if let Some(c) = self.clients.get_slot_mut(client) {
                        c.excused_windows.push(slot);
                    }
                }
            }
            E::ExcusedWindowClosed(e) => {
                if let Some(w) = self.excused_windows.get_mut(&e.window_id) {
                    set_first(&mut w.closed, r);
                }
            }
            E::SopAmendmentPublished(e) => {
                if !self
                    .sop_amendments
                    .iter()
                    .any(|a| a.amendment.amendment_id == e.amendment_id)
                {
                    self.sop_amendments.push(SopRecord {
                        event: r,
                        amendment: e.clone(),
                    });
                }
            }
            E::LegalHoldPlaced(e) => {
                let Some(client) = self.clients.slot(&e.client_id) else {
                    return;
                };
                if let Some(slot) = self.legal_holds.insert_new(HoldRecord {
                    hold_id: e.hold_id.clone(),
                    client,
                    placed: r,
                    released: None,
                }) {
                    if let Some(c) = self.clients.get_slot_mut(client) {
                        c.legal_holds.push(slot);
                    }
                }
            }
            E::LegalHoldReleased(e) => {
                if let Some(h) = self.legal_holds.get_mut(&e.hold_id) {
                    set_first(&mut h.released, r);
                }
            }
            E::ClientDataDeleted(e) => {
                if let Some((_, c)) = self.client_mut(&e.client_id) {
                    c.deletions.push(DeletionRecord {
                        event: r,
                        scope: e.scope.clone(),
                    });
                }
            }
            E::InvoiceIssued(e) => {
                let Some(client) = self.clients.slot(&e.client_id) else {
                    return;
                };
                if let Some(slot) = self.invoices.insert_new(InvoiceRecord {
                    invoice_id: e.invoice_id.clone(),
                    client,
                    issued: r,
                    invoice_date: e.invoice_date,
                    period_start: e.period_start,
                    period_end: e.period_end,
                    due_date: e.due_date,
                    total: e.total,
                    final_invoice: e.final_invoice,
                    payments: Vec::new(),
                    credits: Vec::new(),
                }) {
                    if let Some(c) = self.clients.get_slot_mut(client) {
                        c.invoices.push(slot);
                    }
                }
            }
            E::PaymentReceived(e) => {
                if let Some(i) = self.invoices.get_mut(&e.invoice_id) {
                    i.payments.push(Settlement {
                        event: r,
                        amount: e.amount,
                    });
                }
            }
            E::CreditNoteIssued(e) => {
                if let Some(i) = self.invoices.get_mut(&e.invoice_id) {
                    i.credits.push(Settlement {
                        event: r,
                        amount: e.amount,
                    });
                }
            }
            E::PaymentDefaultNoticeSent(e) => {
                if let Some((_, c)) = self.client_mut(&e.client_id) {
                    c.default_notices.push(DefaultNoticeRecord {
                        event: r,
                        notice_id: e.notice_id.clone(),
                        invoice_ids: e.invoice_ids.clone(),
                    });
                }
            }
            E::ServiceSuspended(e) => {
                if let Some((_, c)) = self.client_mut(&e.client_id) {
                    c.suspensions.push(SuspensionRecord {
                        event: r,
                        notice_id: e.notice_id.clone(),
                        resumed: None,
                    });
                }
            }
            E::ServiceResumed(e) => {
                if let Some((_, c)) = self.client_mut(&e.client_id) {
                    if let Some(s) = c.suspensions.iter_mut().rev().find(|s| s.resumed.is_none()) {
                        s.resumed = Some(r);
                    }
                }
            }
            E::PriceChangeNotified(e) => {
                if let Some((_, c)) = self.client_mut(&e.client_id) {
                    c.price_changes.push(PriceChangeRecord {
                        event: r,
                        effective_at: e.effective_at,
                    });
                }
            }
            E::TerminationNoticeGiven(e) => {
                if let Some((_, c)) = self.client_mut(&e.client_id) {
                    c.termination_notices.push(TerminationNoticeRecord {
                        event: r,
                        by: e.by,
                        effective_at: e.effective_at,
                    });
                }
            }
            E::ImmediateTermination(e) => {
                if let Some((_, c)) = self.client_mut(&e.client_id) {
                    c.immediate_terminations.push(ImmediateTerminationRecord {
                        event: r,
                        cause: e.cause.clone(),
                    });
                }
            }
            E::TerminationTookEffect(e) => {
                if let Some((_, c)) = self.client_mut(&e.client_id) {
                    set_first(&mut c.terminated, r);
                }
            }
        }
    }

    fn open_review(
        &mut self,
        client_id: &ClientId,
        review_id: &ReviewId,
        call_id: &CallId,
        r: EventRef,
        requested_by_client: bool,
    ) {
        let Some(client) = self.clients.slot(client_id) else {
            return;
        };
        let call = self.calls.slot(call_id);
        if let Some(slot) = self.reviews.insert_new(ReviewRecord {
            review_id: review_id.clone(),
            client,
            call,
            opened: r,
            requested_by_client,
            completed: None,
            findings: None,
        }) {
            if let Some(c) = self.clients.get_slot_mut(client) {
                c.reviews.push(slot);
            }
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
