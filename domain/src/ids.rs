//! Identifiers of clients, calls, invoices and every other entity the ledger routes events by.
//!
//! Ids are passed in by the caller (the domain never generates them), so they are validated
//! here once: an id is non-empty, at most [`MAX_ID_LEN`] characters, and uses only ASCII
//! letters, digits and `-`, `_`, `.`, `:`. That keeps stream names (`category-id`) unambiguous
//! and safe to print.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The longest id accepted, in characters; long enough for a UUID with a prefix.
pub const MAX_ID_LEN: usize = 128;

/// The scope named by agency-wide events (SOP amendments) in place of a client id.
///
/// It is reserved: no client may be onboarded under this id.
pub const AGENCY_SCOPE: &str = "agency";

/// Why a string was refused as an id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// The id was empty.
    #[error("{kind} id must not be empty")]
    Empty {
        /// Which kind of id.
        kind: &'static str,
    },
    /// The id was longer than [`MAX_ID_LEN`].
    #[error("{kind} id is {len} characters long; the limit is {MAX_ID_LEN}")]
    TooLong {
        /// Which kind of id.
        kind: &'static str,
        /// Its length.
        len: usize,
    },
    /// The id contained a character outside the allowed set.
    #[error("{kind} id {id:?} contains {ch:?}; only ASCII letters, digits, '-', '_', '.', ':' are allowed")]
    InvalidChar {
        /// Which kind of id.
        kind: &'static str,
        /// The refused id.
        id: String,
        /// The first refused character.
        ch: char,
    },
    /// The id is reserved for agency-wide events.
    #[error("{kind} id {id:?} is reserved")]
    Reserved {
        /// Which kind of id.
        kind: &'static str,
        /// The refused id.
        id: String,
    },
}

fn validate_id(kind: &'static str, value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    let len = value.chars().count();
    if len > MAX_ID_LEN {
        return Err(IdError::TooLong { kind, len });
    }
    if let Some(ch) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        return Err(IdError::InvalidChar {
            kind,
            id: value.to_owned(),
            ch,
        });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The kind of id, as used in error messages.
            pub const KIND: &'static str = $kind;

            /// Validates and wraps an id.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                Self::check(&value)?;
                Ok(Self(value))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(value: &str) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A client account.
    ClientId,
    "client"
);
string_id!(
    /// One inbound call.
    CallId,
    "call"
);
string_id!(
    /// An agent of the agency.
    AgentId,
    "agent"
);
string_id!(
    /// An escalation of a call or item to the client's contacts.
    EscalationId,
    "escalation"
);
string_id!(
    /// A delivered digest of non-urgent items.
    DigestId,
    "digest"
);
string_id!(
    /// A quality review of one call (internal selection or client request).
    ReviewId,
    "review"
);
string_id!(
    /// A quality issue found in review.
    QualityIssueId,
    "quality issue"
);
string_id!(
    /// An agent conduct breach.
    BreachId,
    "breach"
);
string_id!(
    /// An agent shift on an account.
    ShiftId,
    "shift"
);
string_id!(
    /// An account-related issue to communicate to the client.
    AccountIssueId,
    "account issue"
);
string_id!(
    /// A delivered report (monthly report, QA summary, quarterly review).
    ReportId,
    "report"
);
string_id!(
    /// An excused window (time outside normal operating conditions).
    ExcusedWindowId,
    "excused window"
);
string_id!(
    /// A published SOP amendment.
    SopAmendmentId,
    "sop amendment"
);
string_id!(
    /// An amendment of a client's Service Agreement.
    AgreementAmendmentId,
    "agreement amendment"
);
string_id!(
    /// A legal hold on client data.
    LegalHoldId,
    "legal hold"
);
string_id!(
    /// An invoice.
    InvoiceId,
    "invoice"
);
string_id!(
    /// A payment received against an invoice.
    PaymentId,
    "payment"
);
string_id!(
    /// A credit note against an invoice.
    CreditNoteId,
    "credit note"
);
string_id!(
    /// A written notice (payment default, price change, termination).
    NoticeId,
    "notice"
);
string_id!(
    /// A set of client software credentials.
    CredentialId,
    "credential"
);
string_id!(
    /// A significant change the client notified.
    ChangeId,
    "change"
);
string_id!(
    /// An agency communication awaiting the client's answer [4 Timely Response].
    CommunicationId,
    "communication"
);
string_id!(
    /// A performed deletion of client data.
    DeletionId,
    "deletion"
);

impl ClientId {
    fn check(value: &str) -> Result<(), IdError> {
        validate_id(Self::KIND, value)?;
        if value == AGENCY_SCOPE {
            return Err(IdError::Reserved {
                kind: Self::KIND,
                id: value.to_owned(),
            });
        }
        Ok(())
    }
}

macro_rules! plain_check {
    ($($name:ident),*) => {
        $(impl $name {
            fn check(value: &str) -> Result<(), IdError> {
                validate_id(Self::KIND, value)
            }
        })*
    };
}

plain_check!(
    CallId,
    AgentId,
    EscalationId,
    DigestId,
    ReviewId,
    QualityIssueId,
    BreachId,
    ShiftId,
    AccountIssueId,
    ReportId,
    ExcusedWindowId,
    SopAmendmentId,
    AgreementAmendmentId,
    LegalHoldId,
    InvoiceId,
    PaymentId,
    CreditNoteId,
    NoticeId,
    CredentialId,
    ChangeId,
    CommunicationId,
    DeletionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_asterisk_unique_ids_and_uuids() {
        assert!(CallId::new("1658129428.1048").is_ok());
        assert!(ClientId::new("3f2b8c1e-0000-4000-8000-000000000001").is_ok());
    }

    #[test]
    fn refuses_empty_spaced_and_reserved_ids() {
        assert_eq!(CallId::new(""), Err(IdError::Empty { kind: "call" }));
        assert!(matches!(
            CallId::new("a b"),
            Err(IdError::InvalidChar { ch: ' ', .. })
        ));
        assert!(matches!(
            ClientId::new(AGENCY_SCOPE),
            Err(IdError::Reserved { .. })
        ));
        assert!(matches!(
            InvoiceId::new("x".repeat(MAX_ID_LEN + 1)),
            Err(IdError::TooLong { .. })
        ));
    }

    #[test]
    fn serde_validates_on_the_way_in() {
        let ok: CallId = serde_json::from_str("\"c-1\"").unwrap();
        assert_eq!(ok.as_str(), "c-1");
        assert!(serde_json::from_str::<CallId>("\"\"").is_err());
    }
}
