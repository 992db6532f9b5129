//! Read models rebuilt from the event log: obligations, SLA reports, retention windows, billing state.
//!
//! Pure: no I/O, no clock, no randomness. The caller reads the log in position order, applies
//! each [`PositionedEvent`] to [`Projections`], persists [`Projections::to_json`] with
//! [`Projections::checkpoint`] in one transaction, and asks for reports with an [`AsOf`] basis
//! and, where verdicts depend on it, the instant to judge pending obligations at.

pub mod billing;
pub mod facts;
pub mod model;
pub mod obligation_id;
pub mod obligations;
pub mod position;
pub mod profile;
pub mod report;
pub mod retention;
pub mod set;
pub mod sla;
pub mod source;
pub mod verdict;

pub use facts::{ClientFold, Fact, FactError, FACTS_VERSION};
pub use position::{AsOf, EventRef, Period, PositionedEvent, YearMonth};
pub use report::ReportError;
pub use set::{Applied, ApplyError, PersistError, Projections, STATE_VERSION};
