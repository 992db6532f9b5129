//! Why a command was refused: one typed error per refusal, naming the catalog rule where one refuses.

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::agreement::AgreementError;
use crate::calendar::CalendarError;
use crate::money::{Money, MoneyError};
use crate::rules::RuleId;

/// A refused command. Nothing is appended when a decision returns one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A catalog rule refused the command.
    #[error("{rule}: {reason}")]
    RuleRefused {
        /// The refusing rule.
        rule: RuleId,
        /// Why, in a sentence.
        reason: String,
    },
    /// The client is not known.
    #[error("unknown client {client_id}")]
    UnknownClient {
        /// Client.
        client_id: String,
    },
    /// The client's termination has taken effect.
    #[error(
        "client {client_id} was terminated at {terminated_at}; no further {what} may be recorded"
    )]
    ClientTerminated {
        /// Client.
        client_id: String,
        /// Effective instant of the termination.
        terminated_at: DateTime<Utc>,
        /// What was attempted.
        what: &'static str,
    },
    /// The call is not known.
    #[error("unknown call {call_id}")]
    UnknownCall {
        /// Call.
        call_id: String,
    },
    /// A pickup (or other handling) before the call connected.
    #[error("call {call_id}: pickup before the call connected")]
    PickupBeforeConnect {
        /// Call.
        call_id: String,
    },
    /// A payment or credit on an invoice that was never issued.
    #[error("unknown invoice {invoice_id}")]
    UnknownInvoice {
        /// Invoice.
        invoice_id: String,
    },
    /// Some other referenced entity is not known.
    #[error("unknown {kind} {id}")]
    UnknownEntity {
        /// Kind of entity.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The id was already recorded with different content.
    #[error("{stream}: id already recorded with different content")]
    ConflictingDuplicate {
        /// The stream of the id.
        stream: String,
    },
    /// An event would be earlier than the last one of its stream.
    #[error("{stream}: time runs backwards ({at} is before the last recorded {last_at})")]
    TimeRunsBackwards {
        /// Stream.
        stream: String,
        /// The last recorded instant.
        last_at: DateTime<Utc>,
        /// The refused instant.
        at: DateTime<Utc>,
    },
    /// The entity is in a state where the command makes no sense.
    #[error("{stream}: cannot {action} when {state}")]
    InvalidTransition {
        /// Stream.
        stream: String,
        /// What was attempted.
        action: &'static str,
        /// The state that forbids it.
        state: &'static str,
    },
    /// An entity referenced belongs to another client.
    #[error("{stream} belongs to client {owner}, not {client_id}")]
    ClientMismatch {
        /// Stream of the entity.
        stream: String,
        /// Its owner.
        owner: String,
        /// The client named by the command.
        client_id: String,
    },
    /// A payment larger than what the invoice owes, without an explicit credit.
    #[error("invoice {invoice_id}: payment of {amount} exceeds the {outstanding} owed and was not marked as credit")]
    Overpayment {
        /// Invoice.
        invoice_id: String,
        /// What is owed.
        outstanding: Money,
        /// The payment.
        amount: Money,
    },
    /// A second termination.
    #[error("client {client_id}: a termination was already {already}")]
    SecondTermination {
        /// Client.
        client_id: String,
        /// What was already recorded.
        already: &'static str,
    },
    /// The agreement is invalid.
    #[error("invalid agreement: {0}")]
    InvalidAgreement(#[from] AgreementError),
    /// Money arithmetic failed.
    #[error("money: {0}")]
    Money(#[from] MoneyError),
    /// A calendar computation failed.
    #[error("calendar: {0}")]
    Calendar(#[from] CalendarError),
    /// The command's own data is inconsistent.
    #[error("invalid command: {0}")]
    Invalid(String),
}

impl DomainError {
    /// The catalog rule that refused, if a catalog rule did.
    pub fn rule(&self) -> Option<RuleId> {
        match self {
            DomainError::RuleRefused { rule, .. } => Some(*rule),
            _ => None,
        }
    }

    pub(crate) fn rule_refused(rule: RuleId, reason: impl Into<String>) -> Self {
        DomainError::RuleRefused {
            rule,
            reason: reason.into(),
        }
    }
}
