//! The billing area of the read model: invoices with their settlements, default notices,
//! suspensions and price changes, and folding in the billing events.

use chrono::{DateTime, NaiveDate, Utc};
use opsledger_domain::events::{
    CreditNoteIssued, InvoiceIssued, PaymentDefaultNoticeSent, PaymentReceived,
    PriceChangeNotified, ServiceResumed, ServiceSuspended,
};
use opsledger_domain::ids::{InvoiceId, NoticeId};
use opsledger_domain::money::Money;
use serde::{Deserialize, Serialize};

use super::ReadModel;
use crate::position::EventRef;

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

impl ReadModel {
    /// Folds in a `InvoiceIssued`.
    pub(super) fn apply_invoice_issued(&mut self, r: EventRef, e: &InvoiceIssued) {
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

    /// Folds in a `PaymentReceived`.
    pub(super) fn apply_payment_received(&mut self, r: EventRef, e: &PaymentReceived) {
        if let Some(i) = self.invoices.get_mut(&e.invoice_id) {
            i.payments.push(Settlement {
                event: r,
                amount: e.amount,
            });
        }
    }

    /// Folds in a `CreditNoteIssued`.
    pub(super) fn apply_credit_note_issued(&mut self, r: EventRef, e: &CreditNoteIssued) {
        if let Some(i) = self.invoices.get_mut(&e.invoice_id) {
            i.credits.push(Settlement {
                event: r,
                amount: e.amount,
            });
        }
    }

    /// Folds in a `PaymentDefaultNoticeSent`.
    pub(super) fn apply_payment_default_notice_sent(
        &mut self,
        r: EventRef,
        e: &PaymentDefaultNoticeSent,
    ) {
        if let Some((_, c)) = self.client_mut(&e.client_id) {
            c.default_notices.push(DefaultNoticeRecord {
                event: r,
                notice_id: e.notice_id.clone(),
                invoice_ids: e.invoice_ids.clone(),
            });
        }
    }

    /// Folds in a `ServiceSuspended`.
    pub(super) fn apply_service_suspended(&mut self, r: EventRef, e: &ServiceSuspended) {
        if let Some((_, c)) = self.client_mut(&e.client_id) {
            c.suspensions.push(SuspensionRecord {
                event: r,
                notice_id: e.notice_id.clone(),
                resumed: None,
            });
        }
    }

    /// Folds in a `ServiceResumed`.
    pub(super) fn apply_service_resumed(&mut self, r: EventRef, e: &ServiceResumed) {
        if let Some((_, c)) = self.client_mut(&e.client_id) {
            if let Some(s) = c.suspensions.iter_mut().rev().find(|s| s.resumed.is_none()) {
                s.resumed = Some(r);
            }
        }
    }

    /// Folds in a `PriceChangeNotified`.
    pub(super) fn apply_price_change_notified(&mut self, r: EventRef, e: &PriceChangeNotified) {
        if let Some((_, c)) = self.client_mut(&e.client_id) {
            c.price_changes.push(PriceChangeRecord {
                event: r,
                effective_at: e.effective_at,
            });
        }
    }
}
