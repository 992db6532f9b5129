//! The one error type of the tools: a failure of the application layer or the store beneath
//! a run, bad options, or a run whose own checks failed.

use opsledger_app::store::StoreError;
use opsledger_app::AppError;

use crate::demo_data::DemoError;

/// Why a tool run failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// A use case of the application layer failed.
    #[error(transparent)]
    App(#[from] AppError),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The benchmark's direct PostgreSQL session (for its settings) failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The demo month could not be generated.
    #[error(transparent)]
    Demo(#[from] DemoError),
    /// A file or directory could not be created, read or removed.
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The options cannot make a run (no writers, no database URL, a non-empty ledger …).
    #[error("{0}")]
    Invalid(String),
    /// The run finished but what it checks does not hold (a ledger that does not verify,
    /// load checks that failed).
    #[error("{0}")]
    CheckFailed(String),
    /// A task of the run panicked.
    #[error("{what} panicked")]
    Panicked {
        what: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
    /// The benchmark's own fold of the log failed.
    #[error(transparent)]
    Apply(#[from] opsledger_projections::ApplyError),
    /// The benchmark's report could not be produced.
    #[error(transparent)]
    Report(#[from] opsledger_projections::ReportError),
    /// A generated id is not a valid one.
    #[error(transparent)]
    Id(#[from] opsledger_domain::ids::IdError),
    /// Latency histograms could not be merged.
    #[error("merging latencies: {0}")]
    Histogram(String),
}

impl ToolError {
    /// A failed file operation.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ToolError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Short for results of the tools.
pub type ToolResult<T> = Result<T, ToolError>;
