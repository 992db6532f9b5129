//! Billing events: invoices, payments, credit notes, default notices, suspensions and price changes
//! (R-BIL-*).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::agreement::Rate;
use crate::ids::{ClientId, CreditNoteId, InvoiceId, NoticeId, PaymentId};
use crate::money::Money;

use super::EventPayload;

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
