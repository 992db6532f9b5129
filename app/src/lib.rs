//! opsledger's application layer: the use cases every front end shares (the `opsledger`
//! command today, others later), on top of `domain`, `projections` and `store`. Time, the
//! acting person and progress reporting are parameters ([`Clock`], [`Actor`], [`Progress`]);
//! every failure is an [`AppError`]. Nothing here parses arguments or prints.

pub mod access;
pub mod actor;
pub mod append;
pub mod clients;
pub mod clock;
pub mod crypto;
pub mod envelopes;
pub mod error;
pub mod events;
pub mod explain;
pub mod export;
pub mod follow;
pub mod import;
pub mod ledger;
pub mod progress;
pub mod project;
pub mod publish;
pub mod record;
pub mod report;
pub mod retention;
pub mod timeline;

pub use actor::Actor;
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{AppError, AppResult, Origin};
pub use ledger::Target;
pub use progress::{NoProgress, Progress};

/// The store's types a front end needs to read what the use cases return (events, heads,
/// verify reports, store errors), so it depends on this crate alone.
pub use opsledger_store as store;
