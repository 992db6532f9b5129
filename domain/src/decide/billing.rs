//! Decisions about billing: invoices, payments, credit notes, default notices, suspension and price
//! changes.

use chrono::{DateTime, Utc};

use super::{
    active_client, client_rules, day_count, days_after, days_of, duplicate, esc_monotonic, invalid,
    known_client, known_invoice,
};
use crate::command::IssueInvoice;
use crate::error::DomainError;
use crate::events::{
    CreditNoteIssued, DomainEvent, InvoiceIssued, PaymentDefaultNoticeSent, PaymentReceived,
    PriceChangeNotified, ServiceResumed, ServiceSuspended,
};
use crate::money::{Currency, Money};
use crate::rules::{RuleId, RuleValue};
use crate::rules_in_force::value_at;
use crate::state::{ClientState, LedgerState};
use crate::suspension::{suspension_permitted, CitedInvoice};

/// Decides `Command::ReceivePayment`.
pub(super) fn receive_payment(
    state: &LedgerState,
    e: PaymentReceived,
) -> Result<Vec<DomainEvent>, DomainError> {
    let stream = format!("invoice-{}", e.invoice_id);
    let invoice = known_invoice(state, &e.invoice_id, &e.client_id)?;
    if let Some(existing) = invoice
        .payments
        .iter()
        .find(|p| p.payment_id == e.payment_id)
    {
        return duplicate(*existing == e, stream);
    }
    if !e.amount.is_positive() {
        return Err(DomainError::Invalid(
            "a payment must be positive".to_owned(),
        ));
    }
    same_currency(invoice.issued.total.currency, e.amount.currency)?;
    let last = invoice
        .payments
        .iter()
        .map(|p| p.at)
        .chain(invoice.credit_notes.iter().map(|c| c.at))
        .fold(invoice.issued.at, DateTime::max);
    esc_monotonic(last, e.at, &stream)?;
    let outstanding = invoice.outstanding()?;
    if e.amount.amount_minor > outstanding.amount_minor && !e.excess_as_credit {
        return Err(DomainError::Overpayment {
            invoice_id: e.invoice_id.to_string(),
            outstanding,
            amount: e.amount,
        });
    }
    Ok(vec![e.into()])
}

/// Decides `Command::IssueCreditNote`.
pub(super) fn issue_credit_note(
    state: &LedgerState,
    e: CreditNoteIssued,
) -> Result<Vec<DomainEvent>, DomainError> {
    let stream = format!("invoice-{}", e.invoice_id);
    let invoice = known_invoice(state, &e.invoice_id, &e.client_id)?;
    if let Some(existing) = invoice
        .credit_notes
        .iter()
        .find(|c| c.credit_note_id == e.credit_note_id)
    {
        return duplicate(*existing == e, stream);
    }
    if !e.amount.is_positive() {
        return Err(DomainError::Invalid(
            "a credit note must be positive".to_owned(),
        ));
    }
    same_currency(invoice.issued.total.currency, e.amount.currency)?;
    esc_monotonic(invoice.issued.at, e.at, &stream)?;
    let outstanding = invoice.outstanding()?;
    if e.amount.amount_minor > outstanding.amount_minor {
        return Err(DomainError::Invalid(format!(
            "credit note of {} exceeds the {} owed on invoice {}",
            e.amount, outstanding, e.invoice_id
        )));
    }
    Ok(vec![e.into()])
}

/// Decides `Command::SendPaymentDefaultNotice`.
pub(super) fn send_payment_default_notice(
    state: &LedgerState,
    e: PaymentDefaultNoticeSent,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = active_client(state, &e.client_id, e.at, "payment default notice")?;
    if let Some(existing) = client.default_notices.get(&e.notice_id) {
        return duplicate(*existing == e, format!("client-{}", e.client_id));
    }
    if e.invoice_ids.is_empty() {
        return Err(DomainError::rule_refused(
            RuleId::Bil3,
            "a payment default notice must cite at least one overdue invoice",
        ));
    }
    let today = client.agreement_or_first(e.at).calendar.local_date(e.at);
    for id in &e.invoice_ids {
        let invoice = known_invoice(state, id, &e.client_id)?;
        if invoice.days_past_due(today) <= 0 || !invoice.is_open() {
            return Err(DomainError::rule_refused(
                RuleId::Bil3,
                format!("invoice {id} is not overdue on {today}"),
            ));
        }
    }
    Ok(vec![e.into()])
}

/// Decides `Command::SuspendService`.
pub(super) fn suspend_service(
    state: &LedgerState,
    e: ServiceSuspended,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = active_client(state, &e.client_id, e.at, "suspension")?;
    if client.suspended_since.is_some() {
        return Err(invalid(
            &e.client_id,
            "suspend service",
            "it is already suspended",
        ));
    }
    // R-BIL-3: the one definition the verdict and the billing status use too.
    let notice = client.default_notices.get(&e.notice_id);
    let cited: Vec<CitedInvoice> = notice
        .map(|n| {
            n.invoice_ids
                .iter()
                .filter_map(|id| state.invoices.get(id))
                .map(|inv| CitedInvoice {
                    invoice_id: inv.issued.invoice_id.clone(),
                    due_date: inv.issued.due_date,
                    settled_at: inv.settled_at(),
                })
                .collect()
        })
        .unwrap_or_default();
    let calendar = &client.agreement_or_first(e.at).calendar;
    match suspension_permitted(notice.map(|n| n.at), &cited, calendar, e.at) {
        Ok(()) => Ok(vec![e.into()]),
        Err(refusal) => Err(DomainError::rule_refused(
            RuleId::Bil3,
            refusal.describe(e.at),
        )),
    }
}

/// Decides `Command::ResumeService`.
pub(super) fn resume_service(
    state: &LedgerState,
    e: ServiceResumed,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = known_client(state, &e.client_id)?;
    match client.suspended_since {
        Some(since) => {
            esc_monotonic(since, e.at, &format!("client-{}", e.client_id))?;
            Ok(vec![e.into()])
        }
        None => Err(invalid(
            &e.client_id,
            "resume service",
            "it is not suspended",
        )),
    }
}

/// Decides `Command::NotifyPriceChange`.
pub(super) fn notify_price_change(
    state: &LedgerState,
    e: PriceChangeNotified,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = active_client(state, &e.client_id, e.at, "price change")?;
    if client
        .price_changes
        .iter()
        .any(|p| p.notice_id == e.notice_id)
    {
        let same = client.price_changes.contains(&e);
        return duplicate(same, format!("client-{}", e.client_id));
    }
    let rules = client_rules(state, client);
    let value = value_at(RuleId::Bil4, &rules, e.at);
    let notice = day_count(RuleId::Bil4, &value)?;
    let calendar = &client.agreement_or_first(e.at).calendar;
    if e.effective_at < days_after(RuleId::Bil4, &value, calendar, e.at)? {
        return Err(DomainError::rule_refused(
                RuleId::Bil4,
                format!(
                    "the price change takes effect at {}, less than {} days after the written notice at {}",
                    e.effective_at,
                    notice,
                    e.at
                ),
            ));
    }
    let currency = billing_currency(state, client, e.at);
    for rate in &e.rates {
        same_currency(currency, rate.unit_price.currency)?;
    }
    Ok(vec![e.into()])
}

pub(super) fn issue_invoice(
    state: &LedgerState,
    c: IssueInvoice,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = known_client(state, &c.client_id)?;
    let rules = client_rules(state, client);
    match client.terminated_at {
        Some(t) if t <= c.at && !c.final_invoice => {
            return Err(DomainError::rule_refused(
                RuleId::Bil6,
                format!(
                "the termination took effect at {t}; only the final invoice may be issued after it"
            ),
            ))
        }
        Some(t) if c.final_invoice && c.at < t => {
            return Err(DomainError::rule_refused(
                RuleId::Bil6,
                format!(
                    "the final invoice cannot be issued before the termination takes effect at {t}"
                ),
            ))
        }
        None if c.final_invoice => {
            return Err(DomainError::rule_refused(
                RuleId::Bil6,
                "the final invoice can only be issued once the termination took effect",
            ))
        }
        _ => {}
    }
    if c.period_start > c.period_end {
        return Err(DomainError::Invalid(
            "invoice period ends before it starts".to_owned(),
        ));
    }
    let currency = billing_currency(state, client, c.at);
    same_currency(currency, c.total.currency)?;
    let mut sum = Money::zero(currency);
    for line in &c.lines {
        same_currency(currency, line.amount.currency)?;
        same_currency(currency, line.unit_price.currency)?;
        let quantity = i64::try_from(line.quantity).map_err(|_| {
            DomainError::Invalid(format!("quantity {} is too large", line.quantity))
        })?;
        let expected = line
            .unit_price
            .amount_minor
            .checked_mul(quantity)
            .ok_or(crate::money::MoneyError::Overflow)?;
        if expected != line.amount.amount_minor {
            return Err(DomainError::Invalid(format!(
                "line {:?}: {} × {} is not {}",
                line.description, line.quantity, line.unit_price, line.amount
            )));
        }
        sum = sum.checked_add(line.amount)?;
    }
    if sum != c.total {
        return Err(DomainError::Invalid(format!(
            "invoice total {} is not the sum of its lines {}",
            c.total, sum
        )));
    }
    let terms = days_of(RuleId::Bil2, &value_at(RuleId::Bil2, &rules, c.at))?;
    let earliest_due = c.invoice_date + terms;
    let due_date = match c.due_date {
        Some(d) if d < earliest_due => {
            return Err(DomainError::rule_refused(
                RuleId::Bil2,
                format!(
                    "due date {d} is earlier than the {} days payment terms allow ({earliest_due})",
                    terms.num_days()
                ),
            ))
        }
        Some(d) => d,
        None => earliest_due,
    };
    let event = InvoiceIssued {
        client_id: c.client_id,
        invoice_id: c.invoice_id,
        at: c.at,
        invoice_date: c.invoice_date,
        period_start: c.period_start,
        period_end: c.period_end,
        lines: c.lines,
        total: c.total,
        due_date,
        final_invoice: c.final_invoice,
    };
    if let Some(existing) = state.invoices.get(&event.invoice_id) {
        return duplicate(
            existing.issued == event,
            format!("invoice-{}", event.invoice_id),
        );
    }
    Ok(vec![event.into()])
}

fn billing_currency(state: &LedgerState, client: &ClientState, at: DateTime<Utc>) -> Currency {
    match value_at(RuleId::Bil5, &client_rules(state, client), at) {
        RuleValue::Currency(c) => c,
        _ => client.agreement_or_first(at).currency,
    }
}

fn same_currency(expected: Currency, found: Currency) -> Result<(), DomainError> {
    if expected == found {
        Ok(())
    } else {
        Err(DomainError::rule_refused(
            RuleId::Bil5,
            format!("amount is in {found}; the client is billed in {expected}"),
        ))
    }
}
