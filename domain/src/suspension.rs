//! R-BIL-3, the one definition of when a suspension for late payment is permitted, used by
//! `decide`, the obligation verdict and the billing status alike.
//!
//! The catalog's Readings: the written notice of payment default must precede the suspension
//! strictly (a suspension at the notice's own instant does not follow it), and an invoice the
//! notice cites must still be unpaid and past its due date at the suspension: past due means
//! the client-local due date has ended; unpaid means payments and credits had not yet reached
//! its total at that instant.

use chrono::{DateTime, NaiveDate, Utc};

use crate::calendar::BusinessCalendar;
use crate::ids::InvoiceId;

/// What R-BIL-3 needs to know of an invoice a notice cites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitedInvoice {
    /// Invoice.
    pub invoice_id: InvoiceId,
    /// Its printed due date (client-local).
    pub due_date: NaiveDate,
    /// When payments and credits reached its total, if they have.
    pub settled_at: Option<DateTime<Utc>>,
}

/// Why a suspension is not permitted under R-BIL-3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuspensionRefusal {
    /// No notice of payment default was given.
    NoNotice,
    /// The notice was given at or after the suspension.
    NoticeNotEarlier {
        /// When the notice was given.
        notice_at: DateTime<Utc>,
    },
    /// No invoice the notice cites was unpaid past its due date at the suspension.
    NothingUnpaidPastDue,
}

impl SuspensionRefusal {
    /// A sentence saying why, for refusals (which name the rule) and verdict notes.
    pub fn describe(&self, at: DateTime<Utc>) -> String {
        match self {
            SuspensionRefusal::NoNotice => {
                "no written notice of payment default precedes the suspension".to_owned()
            }
            SuspensionRefusal::NoticeNotEarlier { notice_at } => format!(
                "the payment default notice at {notice_at} does not precede the suspension at {at}"
            ),
            SuspensionRefusal::NothingUnpaidPastDue => {
                format!("no invoice the notice cites is unpaid past its due date at {at}")
            }
        }
    }
}

/// Whether a suspension at `at`, relying on a notice given at `notice_at` (if any) citing
/// `cited`, is permitted.
pub fn suspension_permitted(
    notice_at: Option<DateTime<Utc>>,
    cited: &[CitedInvoice],
    calendar: &BusinessCalendar,
    at: DateTime<Utc>,
) -> Result<(), SuspensionRefusal> {
    let notice_at = notice_at.ok_or(SuspensionRefusal::NoNotice)?;
    if notice_at >= at {
        return Err(SuspensionRefusal::NoticeNotEarlier { notice_at });
    }
    let unpaid_past_due = cited.iter().any(|i| {
        calendar.end_of_local_day(i.due_date) <= at && i.settled_at.map_or(true, |s| s > at)
    });
    if unpaid_past_due {
        Ok(())
    } else {
        Err(SuspensionRefusal::NothingUnpaidPastDue)
    }
}
