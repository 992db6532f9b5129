//! Domain events: every fact the rule catalog judges, as permanent, versioned payload types.
//!
//! Each payload is a plain struct serialized as a JSON object with snake_case fields. Its stable
//! type name (`area.fact`), schema version, stream category and personal fields are declared
//! once, next to the struct, through [`EventPayload`]. Every payload carries the `client_id` it
//! belongs to (except agency-wide SOP amendments) and `at`, the instant the fact occurred.
//!
//! Personal data (caller names, contact details, free-text notes) is always `Option<String>`,
//! so a record whose key was destroyed (crypto-shredding, R-RET-2) still decodes, with `None`.
//! No rule is judged from personal fields: where a rule needs to know that a personal field was
//! filled in (R-DOC-1), the event also carries a non-personal flag for it.

use chrono::{DateTime, Utc};

/// What every event payload declares about itself.
pub trait EventPayload {
    /// The stable type name, `area.fact`.
    const EVENT_TYPE: &'static str;
    /// The current schema version of the payload (starts at 1).
    const SCHEMA_VERSION: u32;
    /// The stream category (lowercase letters only).
    const STREAM_CATEGORY: &'static str;
    /// JSON pointers of the personal fields; `*` stands for every element of an array.
    const PERSONAL_FIELDS: &'static [&'static str];
    /// The id part of the stream name.
    fn stream_key(&self) -> &str;
    /// The client the event belongs to, or [`AGENCY_SCOPE`](crate::ids::AGENCY_SCOPE) for agency-wide events.
    fn client_scope(&self) -> &str;
    /// When the fact occurred.
    fn occurred_at(&self) -> DateTime<Utc>;
}

macro_rules! payload {
    ($ty:ident, $etype:literal, $version:literal, $category:literal, $key:ident, [$($personal:literal),*]) => {
        impl EventPayload for $ty {
            const EVENT_TYPE: &'static str = $etype;
            const SCHEMA_VERSION: u32 = $version;
            const STREAM_CATEGORY: &'static str = $category;
            const PERSONAL_FIELDS: &'static [&'static str] = &[$($personal),*];
            fn stream_key(&self) -> &str {
                self.$key.as_str()
            }
            fn client_scope(&self) -> &str {
                self.client_id.as_str()
            }
            fn occurred_at(&self) -> DateTime<Utc> {
                self.at
            }
        }
    };
}

mod billing;
mod calls;
// The payload types live in one module per business area, the same area names as in `decide`
// and in the projections. `payload!` is defined above them because a `macro_rules!` macro is
// visible only to the modules declared after it.
mod client;
mod coverage;
mod escalations;
mod operations;
mod quality;
mod reporting;
mod retention;
mod termination;

pub use billing::{
    CreditNoteIssued, InvoiceIssued, InvoiceLine, PaymentDefaultNoticeSent, PaymentReceived,
    PriceChangeNotified, ServiceResumed, ServiceSuspended,
};
pub use calls::{
    AbandonReason, CallAbandoned, CallAnswered, CallClassified, CallCompleted, CallConnected,
    CallDocumented, CallOutcome, CallRoutedToVoicemail, DocumentationDelivered, DocumentedFields,
};
pub use client::{
    AgreementAmended, ChangeKind, ClientOnboarded, CommunicationAnswered, CommunicationSent,
    CredentialsExpired, CredentialsProvided, CredentialsRestored, CredentialsRevoked,
    SignificantChangeNotified,
};
pub use coverage::{ShiftEnded, ShiftStarted};
pub use escalations::{
    DigestDelivered, EscalationAcknowledged, EscalationContactAttempted,
    EscalationContactUnreachable, EscalationOpened, Urgency,
};
pub use operations::{
    ExcuseCause, ExcusedWindowClosed, ExcusedWindowOpened, SopAmendmentPublished,
};
pub use quality::{
    BreachKind, CallSelectedForReview, ClientReviewRequested, ConductBreachIdentified,
    CorrectiveAction, CorrectiveActionTaken, Finding, QualityIssueAddressed,
    QualityIssueIdentified, ReviewCompleted, ReviewFindings,
};
pub use reporting::{
    AccountIssueIdentified, ClientNotifiedOfIssue, MonthlyReportDelivered, MonthlyReportKind,
    QaSummaryDelivered, QuarterlyReviewConducted,
};
pub use retention::{ClientDataDeleted, DeletionScope, LegalHoldPlaced, LegalHoldReleased};
pub use termination::{
    ImmediateCause, ImmediateTermination, Party, TerminationNoticeGiven, TerminationTookEffect,
};

// ---------------------------------------------------------------- the sum type

macro_rules! domain_events {
    ($($variant:ident),* $(,)?) => {
        /// Every domain event. The codec (`crate::codec`) is its one permanent format.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum DomainEvent {
            $(
                #[allow(missing_docs)]
                $variant($variant),
            )*
        }

        impl DomainEvent {
            /// The stable type name, e.g. `"call.connected"`.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $(DomainEvent::$variant(_) => <$variant as EventPayload>::EVENT_TYPE,)*
                }
            }

            /// The schema version this build writes for the event's type.
            pub fn schema_version(&self) -> u32 {
                match self {
                    $(DomainEvent::$variant(_) => <$variant as EventPayload>::SCHEMA_VERSION,)*
                }
            }

            /// The stream the event belongs to, `category-id`.
            pub fn stream_id(&self) -> String {
                let (category, key) = match self {
                    $(DomainEvent::$variant(p) => (<$variant as EventPayload>::STREAM_CATEGORY, p.stream_key()),)*
                };
                debug_assert!(!key.is_empty(), "ids are validated non-empty");
                format!("{category}-{key}")
            }

            /// The client the event belongs to; [`AGENCY_SCOPE`](crate::ids::AGENCY_SCOPE) for agency-wide events.
            pub fn client_id(&self) -> &str {
                match self {
                    $(DomainEvent::$variant(p) => p.client_scope(),)*
                }
            }

            /// When the fact occurred.
            pub fn occurred_at(&self) -> DateTime<Utc> {
                match self {
                    $(DomainEvent::$variant(p) => p.occurred_at(),)*
                }
            }

            /// JSON pointers of the personal fields of this event's type.
            pub fn personal_fields(&self) -> &'static [&'static str] {
                match self {
                    $(DomainEvent::$variant(_) => <$variant as EventPayload>::PERSONAL_FIELDS,)*
                }
            }

            /// The payload as a JSON object.
            pub(crate) fn payload_json(&self) -> serde_json::Value {
                let value = match self {
                    $(DomainEvent::$variant(p) => serde_json::to_value(p),)*
                };
                // Payloads hold only strings, numbers, dates and string-keyed structs.
                value.expect("domain payloads always serialize to JSON")
            }
        }

        $(
            impl From<$variant> for DomainEvent {
                fn from(value: $variant) -> Self {
                    DomainEvent::$variant(value)
                }
            }
        )*

        /// Every event type this build knows, with its current schema version, stream
        /// category and personal fields.
        pub const EVENT_TYPES: &[EventTypeInfo] = &[
            $(EventTypeInfo {
                event_type: <$variant as EventPayload>::EVENT_TYPE,
                schema_version: <$variant as EventPayload>::SCHEMA_VERSION,
                stream_category: <$variant as EventPayload>::STREAM_CATEGORY,
                personal_fields: <$variant as EventPayload>::PERSONAL_FIELDS,
            },)*
        ];

        /// Deserializes a payload already upcast to the current schema of its type.
        pub(crate) fn decode_current(
            event_type: &str,
            data: serde_json::Value,
        ) -> Option<Result<DomainEvent, serde_json::Error>> {
            $(
                if event_type == <$variant as EventPayload>::EVENT_TYPE {
                    return Some(serde_json::from_value::<$variant>(data).map(DomainEvent::$variant));
                }
            )*
            None
        }

        /// Deserializes a current-schema payload straight from its JSON text, without an
        /// intermediate `Value` (the hot path of every projection rebuild).
        pub(crate) fn decode_current_str(
            event_type: &str,
            text: &str,
        ) -> Option<Result<DomainEvent, serde_json::Error>> {
            $(
                if event_type == <$variant as EventPayload>::EVENT_TYPE {
                    return Some(serde_json::from_str::<$variant>(text).map(DomainEvent::$variant));
                }
            )*
            None
        }
    };
}

/// What the codec knows about one event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTypeInfo {
    /// Stable type name.
    pub event_type: &'static str,
    /// Current schema version.
    pub schema_version: u32,
    /// Stream category.
    pub stream_category: &'static str,
    /// JSON pointers of personal fields.
    pub personal_fields: &'static [&'static str],
}

domain_events!(
    ClientOnboarded,
    AgreementAmended,
    CredentialsProvided,
    CredentialsExpired,
    CredentialsRevoked,
    CredentialsRestored,
    SignificantChangeNotified,
    CommunicationSent,
    CommunicationAnswered,
    CallConnected,
    CallAnswered,
    CallRoutedToVoicemail,
    CallAbandoned,
    CallCompleted,
    CallClassified,
    CallDocumented,
    DocumentationDelivered,
    EscalationOpened,
    EscalationContactAttempted,
    EscalationContactUnreachable,
    EscalationAcknowledged,
    DigestDelivered,
    CallSelectedForReview,
    ClientReviewRequested,
    ReviewCompleted,
    QualityIssueIdentified,
    QualityIssueAddressed,
    ConductBreachIdentified,
    CorrectiveActionTaken,
    ShiftStarted,
    ShiftEnded,
    AccountIssueIdentified,
    ClientNotifiedOfIssue,
    MonthlyReportDelivered,
    QaSummaryDelivered,
    QuarterlyReviewConducted,
    ExcusedWindowOpened,
    ExcusedWindowClosed,
    SopAmendmentPublished,
    LegalHoldPlaced,
    LegalHoldReleased,
    ClientDataDeleted,
    InvoiceIssued,
    PaymentReceived,
    CreditNoteIssued,
    PaymentDefaultNoticeSent,
    ServiceSuspended,
    ServiceResumed,
    PriceChangeNotified,
    TerminationNoticeGiven,
    ImmediateTermination,
    TerminationTookEffect,
);

impl DomainEvent {
    /// Whether the event is agency-wide rather than about one client.
    pub fn is_agency_wide(&self) -> bool {
        matches!(self, DomainEvent::SopAmendmentPublished(_))
    }
}
