//! The one error type of the application layer: every way a use case can fail, typed, so a
//! front end maps each to its own answer (the CLI to an exit status) in one place.

use std::path::PathBuf;

use opsledger_domain::codec::DecodeError;
use opsledger_domain::error::DomainError;
use opsledger_domain::ids::{ClientId, IdError};
use opsledger_domain::rules::RuleId;
use opsledger_projections::{ApplyError, FactError, ReportError};
use opsledger_store::bundle::BundleError;
use opsledger_store::StoreError;

use crate::access::AuthFailure;
use crate::crypto::CryptoError;

/// Where refused input came from: a file (or `<stdin>`) and a 1-based line, both optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The input's name; empty when the message already names it (parser errors do).
    pub file: String,
    /// The 1-based line; 0 when the input is not line-based.
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.file.is_empty(), self.line) {
            (true, _) => Ok(()),
            (false, 0) => write!(f, "{}: ", self.file),
            (false, line) => write!(f, "{}:{line}: ", self.file),
        }
    }
}

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The ledger file named does not exist.
    #[error("no ledger at {}: create one with `opsledger init` or pass --ledger", path.display())]
    NoLedger { path: PathBuf },
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store failed or refused while doing what `context` says.
    #[error("{context}")]
    StoreWhile {
        context: String,
        #[source]
        source: StoreError,
    },
    /// Input that was refused (malformed line, invalid field, invalid event); nothing of it
    /// was appended.
    #[error("{origin}{}{detail}; nothing was appended", field.as_deref().map(|f| format!("{f}: ")).unwrap_or_default())]
    Input {
        origin: Origin,
        /// The field at fault, when one is.
        field: Option<String>,
        detail: String,
    },
    /// The domain refused a command; `rule` names the catalog rule when one refused it.
    #[error("{origin}refused: {refusal}; nothing was appended")]
    Refused {
        rule: Option<RuleId>,
        origin: Origin,
        /// The domain's refusal, whole (its message is part of this error's).
        refusal: DomainError,
    },
    /// The hash chain (of the ledger or of an evidence bundle) is broken; `position` is the
    /// first bad position when one is known.
    #[error("the hash chain is broken{}: {reason}", position.map(|p| format!(" at position {p}")).unwrap_or_default())]
    ChainBroken {
        position: Option<u64>,
        reason: String,
    },
    /// A derived figure does not follow from the verified log: a read-model row that differs,
    /// or a report whose figures the log does not give. `finding` says which.
    #[error("not derived from the log: {finding}")]
    NotDerived { finding: String },
    /// A file that should be an evidence bundle could not be read as one.
    #[error("{file}: {detail}")]
    UnreadableBundle { file: String, detail: String },
    /// A file could not be read or written.
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A request named something invalid (a client id, an output that exists, no input files).
    #[error("{what}: {detail}")]
    InvalidRequest { what: String, detail: String },
    /// A client id given by the caller is not a valid one.
    #[error("{error}")]
    InvalidClient {
        given: String,
        /// Why it is not valid (its message names the id).
        error: IdError,
    },
    /// A personal field could not be sealed or opened.
    #[error("{}{error}", position.map(|p| format!("position {p}: ")).unwrap_or_default())]
    Crypto {
        position: Option<u64>,
        /// What went wrong (its message is part of this error's).
        error: CryptoError,
    },
    /// A recorded event's data is not JSON (the store checks it is on the way in).
    #[error("position {position}: data is not JSON")]
    NotJson {
        position: u64,
        #[source]
        source: serde_json::Error,
    },
    /// A recorded envelope does not decode into the domain event it claims to be.
    #[error("position {position} ({event_type} v{schema_version})")]
    Decode {
        position: u64,
        event_type: String,
        schema_version: u32,
        #[source]
        source: DecodeError,
    },
    /// The projections could not apply a position of the log.
    #[error("applying position {position}")]
    Apply {
        position: u64,
        #[source]
        source: ApplyError,
    },
    /// The read model's rows were written by a newer opsledger, of a later `FACTS_VERSION`
    /// than this build's. Rebuilding them here would delete them, and the newer build would
    /// delete this one's rows in turn, so nothing was reset or deleted.
    #[error("the read model's rows are of version {found}, written by a newer opsledger than this one (which knows version {known}); upgrade this opsledger (nothing was reset or deleted)")]
    ReadModelFromTheFuture { found: u32, known: u32 },
    /// A read-model row does not decode back into its event (run `opsledger replay`).
    #[error("the read model (run `opsledger replay` to rebuild it)")]
    Fact(#[source] FactError),
    /// A report could not be produced.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// An evidence bundle could not be built.
    #[error("building the bundle")]
    Bundle(#[source] BundleError),
    /// A value could not be serialized.
    #[error("serializing: {0}")]
    Json(#[from] serde_json::Error),
    /// Retention destroyed a client's data key but could not record the deletion; running it
    /// again records it.
    #[error(
        "recording the deletion of {client_id}'s data (its key is destroyed; rerun to record it)"
    )]
    KeyDestroyedDeletionNotRecorded {
        client_id: String,
        #[source]
        source: Box<AppError>,
    },
    /// A desk request could not be tied to a user (no such user or token, a wrong password
    /// or secret, a revoked token, an expired session, a disabled user).
    #[error("not authenticated: {reason}")]
    Unauthenticated { reason: AuthFailure },
    /// A desk user asked for what its role may not see: `client`'s data, or (`None`)
    /// agency-wide data or the access log.
    #[error("{user} may not read {}", client.as_ref().map_or_else(|| "this (it is not one client's)".to_owned(), |c| format!("client {c}'s data")))]
    Forbidden {
        user: String,
        client: Option<ClientId>,
    },
    /// Something this program should never do happened (a bug, not bad input).
    #[error("internal error: {0}")]
    Internal(String),
}

/// The most characters of one input value an error message quotes: a field of 200 MB must
/// not be copied whole into a message (issue 12, finding 4).
pub const EXCERPT_CHARS: usize = 120;
/// The most characters of a whole refusal's detail; parser messages quote values, and a
/// message stays readable in a terminal only when it is bounded.
pub const MAX_DETAIL_CHARS: usize = 600;

/// `text` cut to at most `limit` characters; a cut text ends with how long it was.
pub fn excerpt(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &text[..cut], text.len()),
    }
}

impl AppError {
    /// Refused input at `origin`; the detail is cut to [`MAX_DETAIL_CHARS`].
    pub fn input(origin: Origin, field: Option<&str>, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        AppError::Input {
            origin,
            field: field.map(str::to_owned),
            detail: excerpt(&detail, MAX_DETAIL_CHARS),
        }
    }

    /// The store failed while doing `context`.
    pub fn store_while(context: impl Into<String>, source: StoreError) -> Self {
        AppError::StoreWhile {
            context: context.into(),
            source,
        }
    }

    /// A refusal by the domain of the command read at `origin`.
    pub fn refused(origin: Origin, refusal: DomainError) -> Self {
        AppError::Refused {
            rule: refusal.rule(),
            origin,
            refusal,
        }
    }

    /// The store error underneath, if the failure is the store's.
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            AppError::Store(e) | AppError::StoreWhile { source: e, .. } => Some(e),
            _ => None,
        }
    }
}

impl From<CryptoError> for AppError {
    fn from(error: CryptoError) -> Self {
        AppError::Crypto {
            position: None,
            error,
        }
    }
}

/// Short for results of the application layer.
pub type AppResult<T> = Result<T, AppError>;
