//! Billing state per client: invoices, payments, balance, days past due and status (R-BIL-*, R-TRM-2), and the R-LIA-1 liability cap.
//!
//! Money stays in integer minor units with its currency. Status, from the strongest:
//!
//! - `terminated`: the termination took effect at or before the evaluation instant;
//! - `termination-eligible`: an invoice is unpaid more than R-TRM-2's days past its due date;
//! - `suspended`: service is suspended and not resumed;
//! - `suspension-eligible`: a suspension at the evaluation instant would be permitted under
//!   R-BIL-3's one definition (`domain::suspension`, which `decide` and the verdict use too): a
//!   default notice strictly before it cites an invoice still unpaid past its due date;
//! - `default-noticed`: a notice citing a still-open invoice was sent, but a suspension is not
//!   permitted yet (at the notice's own instant, or before the invoice is past due);
//! - `overdue`: an invoice is open past its due date;
//! - `current`: nothing open past due.
//!
//! Days past due are counted on the client-local date of the evaluation instant against the due
//! date printed on the invoice.

use chrono::{DateTime, Months, NaiveDate, Utc};
use opsledger_domain::ids::{ClientId, InvoiceId, NoticeId};
use opsledger_domain::money::{Currency, Money};
use opsledger_domain::rules::{RuleId, RuleValue};
use opsledger_domain::rules_in_force::value_at;
use opsledger_domain::suspension::suspension_permitted;
use serde::{Deserialize, Serialize};

use crate::model::{ClientRecord, InvoiceRecord, ReadModel};
use crate::obligations::cited_invoices;
use crate::position::{AsOf, EventRef};
use crate::report::{resolve_client, ReportError};

/// A client's billing status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BillingStatus {
    /// Nothing open past due.
    Current,
    /// An invoice is open past its due date.
    Overdue,
    /// A default notice citing an open invoice went out; a suspension is not permitted yet.
    DefaultNoticed,
    /// A suspension would be permitted now (R-BIL-3).
    SuspensionEligible,
    /// Service is suspended.
    Suspended,
    /// An invoice is unpaid beyond R-TRM-2's days past due.
    TerminationEligible,
    /// Terminated.
    Terminated,
}

/// One invoice as the basis sees it on the evaluation date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceState {
    /// Invoice.
    pub invoice_id: InvoiceId,
    /// Invoice date.
    pub invoice_date: NaiveDate,
    /// First day billed.
    pub period_start: NaiveDate,
    /// Last day billed.
    pub period_end: NaiveDate,
    /// Due date.
    pub due_date: NaiveDate,
    /// Total.
    pub total: Money,
    /// Paid so far.
    pub paid: Money,
    /// Credited so far.
    pub credited: Money,
    /// Total less paid and credited (negative when overpaid as credit).
    pub outstanding: Money,
    /// Days past due while open; 0 when not yet due or settled.
    pub days_past_due: u64,
    /// Final invoice after termination (R-BIL-6).
    pub final_invoice: bool,
    /// The issue event, then payments and credits.
    pub evidence: Vec<EventRef>,
}

/// A default notice the basis sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeState {
    /// Notice.
    pub notice_id: NoticeId,
    /// When sent.
    pub sent_at: DateTime<Utc>,
    /// Cited invoices.
    pub invoice_ids: Vec<InvoiceId>,
    /// Whether a cited invoice is still open.
    pub cites_open_invoice: bool,
    /// The event.
    pub event: EventRef,
}

/// The R-LIA-1 cap for a claim arising at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiabilityCap {
    /// The event giving rise to the claim.
    pub claim_at: DateTime<Utc>,
    /// The R-LIA-1 value in force then.
    pub rule_value: RuleValue,
    /// Start of the trailing window (inclusive).
    pub from: DateTime<Utc>,
    /// End of the trailing window (exclusive: the claim instant).
    pub to: DateTime<Utc>,
    /// Fees paid in the window: the cap.
    pub fees_paid: Money,
    /// The payments counted.
    pub payments: Vec<EventRef>,
}

/// A client's billing state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingReport {
    /// Client.
    pub client_id: ClientId,
    /// Basis.
    pub as_of: AsOf,
    /// Projection checkpoint.
    pub checkpoint: u64,
    /// The instant judged.
    pub evaluated_at: DateTime<Utc>,
    /// Its client-local date, on which days past due are counted.
    pub on: NaiveDate,
    /// Billing currency (R-BIL-5).
    pub currency: Currency,
    /// Invoices in issue order.
    pub invoices: Vec<InvoiceState>,
    /// Sum of what is outstanding.
    pub balance: Money,
    /// The most days any open invoice is past due.
    pub max_days_past_due: u64,
    /// R-TRM-2's days past due permitting immediate termination.
    pub termination_after: RuleValue,
    /// Default notices sent.
    pub default_notices: Vec<NoticeState>,
    /// Whether service is suspended.
    pub suspended: bool,
    /// Status.
    pub status: BillingStatus,
    /// R-LIA-1 for a claim arising at the evaluation instant.
    pub liability_cap: LiabilityCap,
}

fn sum(currency: Currency, amounts: impl Iterator<Item = Money>) -> Result<Money, ReportError> {
    let mut total = Money::zero(currency);
    for m in amounts {
        total = total.checked_add(m)?;
    }
    Ok(total)
}

fn invoice_state(
    inv: &InvoiceRecord,
    as_of: &AsOf,
    at: DateTime<Utc>,
    on: NaiveDate,
) -> Result<InvoiceState, ReportError> {
    let seen = |e: &EventRef| as_of.sees(e) && e.occurred_at <= at;
    let currency = inv.total.currency;
    let paid = sum(
        currency,
        inv.payments
            .iter()
            .filter(|p| seen(&p.event))
            .map(|p| p.amount),
    )?;
    let credited = sum(
        currency,
        inv.credits
            .iter()
            .filter(|c| seen(&c.event))
            .map(|c| c.amount),
    )?;
    let outstanding = inv.total.checked_sub(paid)?.checked_sub(credited)?;
    let days_past_due = if outstanding.is_positive() {
        u64::try_from((on - inv.due_date).num_days()).unwrap_or(0)
    } else {
        0
    };
    let mut evidence = vec![inv.issued];
    evidence.extend(
        inv.payments
            .iter()
            .chain(inv.credits.iter())
            .filter(|s| seen(&s.event))
            .map(|s| s.event),
    );
    Ok(InvoiceState {
        invoice_id: inv.invoice_id.clone(),
        invoice_date: inv.invoice_date,
        period_start: inv.period_start,
        period_end: inv.period_end,
        due_date: inv.due_date,
        total: inv.total,
        paid,
        credited,
        outstanding,
        days_past_due,
        final_invoice: inv.final_invoice,
        evidence,
    })
}

/// The billing state of a client as of a basis, judged at `evaluated_at`.
pub fn report(
    model: &ReadModel,
    checkpoint: u64,
    client_id: &ClientId,
    as_of: AsOf,
    evaluated_at: DateTime<Utc>,
) -> Result<BillingReport, ReportError> {
    let client = resolve_client(model, checkpoint, client_id, &as_of)?;
    let rules = model.rules_view(client, &as_of);
    let agreement = rules.agreement_at(evaluated_at);
    let currency = agreement.currency;
    let on = agreement.calendar.local_date(evaluated_at);
    let seen = |e: &EventRef| as_of.sees(e) && e.occurred_at <= evaluated_at;

    let mut invoices = Vec::new();
    for slot in &client.invoices {
        let Some(inv) = model.invoices.get(*slot) else {
            continue;
        };
        if seen(&inv.issued) {
            invoices.push(invoice_state(inv, &as_of, evaluated_at, on)?);
        }
    }
    let balance = sum(currency, invoices.iter().map(|i| i.outstanding))?;
    let max_days_past_due = invoices.iter().map(|i| i.days_past_due).max().unwrap_or(0);
    let open = |id: &InvoiceId| {
        invoices
            .iter()
            .any(|i| &i.invoice_id == id && i.outstanding.is_positive())
    };
    let default_notices: Vec<NoticeState> = client
        .default_notices
        .iter()
        .filter(|n| seen(&n.event))
        .map(|n| NoticeState {
            notice_id: n.notice_id.clone(),
            sent_at: n.event.occurred_at,
            invoice_ids: n.invoice_ids.clone(),
            cites_open_invoice: n.invoice_ids.iter().any(open),
            event: n.event,
        })
        .collect();
    let suspended = client
        .suspensions
        .iter()
        .rev()
        .find(|s| seen(&s.event))
        .is_some_and(|s| !s.resumed.is_some_and(|r| seen(&r)));
    let termination_after = value_at(RuleId::Trm2, &rules.client_rules(), evaluated_at);
    let termination_eligible = match termination_after {
        RuleValue::Days(days) => max_days_past_due > days,
        _ => false,
    };
    let noticed = default_notices.iter().any(|n| n.cites_open_invoice);
    // R-BIL-3's one definition (`domain::suspension`): eligible when a suspension at the
    // evaluation instant would be permitted, exactly as `decide` and the verdict judge it.
    let suspension_eligible = client
        .default_notices
        .iter()
        .filter(|n| seen(&n.event))
        .any(|n| {
            let cited = cited_invoices(model, n, &as_of);
            suspension_permitted(
                Some(n.event.occurred_at),
                &cited,
                &agreement.calendar,
                evaluated_at,
            )
            .is_ok()
        });
    let status = if client.terminated.is_some_and(|t| seen(&t)) {
        BillingStatus::Terminated
    } else if termination_eligible {
        BillingStatus::TerminationEligible
    } else if suspended {
        BillingStatus::Suspended
    } else if suspension_eligible {
        BillingStatus::SuspensionEligible
    } else if noticed {
        BillingStatus::DefaultNoticed
    } else if max_days_past_due > 0 {
        BillingStatus::Overdue
    } else {
        BillingStatus::Current
    };
    let liability_cap = cap(model, client, &as_of, currency, evaluated_at)?;
    Ok(BillingReport {
        client_id: client_id.clone(),
        as_of,
        checkpoint,
        evaluated_at,
        on,
        currency,
        invoices,
        balance,
        max_days_past_due,
        termination_after,
        default_notices,
        suspended,
        status,
        liability_cap,
    })
}

/// R-LIA-1: fees paid by the client in the months (R-LIA-1's value) immediately preceding the
/// event giving rise to a claim at `claim_at`, as a basis sees the payments.
pub fn liability_cap(
    model: &ReadModel,
    checkpoint: u64,
    client_id: &ClientId,
    as_of: AsOf,
    claim_at: DateTime<Utc>,
) -> Result<LiabilityCap, ReportError> {
    let client = resolve_client(model, checkpoint, client_id, &as_of)?;
    let rules = model.rules_view(client, &as_of);
    let currency = rules.agreement_at(claim_at).currency;
    cap(model, client, &as_of, currency, claim_at)
}

fn cap(
    model: &ReadModel,
    client: &ClientRecord,
    as_of: &AsOf,
    currency: Currency,
    claim_at: DateTime<Utc>,
) -> Result<LiabilityCap, ReportError> {
    let rules = model.rules_view(client, as_of);
    let rule_value = value_at(RuleId::Lia1, &rules.client_rules(), claim_at);
    let months = match rule_value {
        RuleValue::TrailingFeesMonths(n) => u32::try_from(n).unwrap_or(u32::MAX),
        _ => 0,
    };
    let from = claim_at
        .checked_sub_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut fees_paid = Money::zero(currency);
    let mut payments = Vec::new();
    for slot in &client.invoices {
        let Some(inv) = model.invoices.get(*slot) else {
            continue;
        };
        for p in &inv.payments {
            let at = p.event.occurred_at;
            if as_of.sees(&p.event) && from <= at && at < claim_at {
                fees_paid = fees_paid.checked_add(p.amount)?;
                payments.push(p.event);
            }
        }
    }
    payments.sort();
    Ok(LiabilityCap {
        claim_at,
        rule_value,
        from,
        to: claim_at,
        fees_paid,
        payments,
    })
}
