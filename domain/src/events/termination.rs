//! Termination events: notices, immediate termination and its taking effect (R-TRM-*).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ClientId, InvoiceId, NoticeId};

use super::EventPayload;

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
