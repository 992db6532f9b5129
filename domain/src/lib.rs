//! The agency's Terms and SOP as typed events, commands, rules in force and business calendars.
//!
//! Everything here is pure: no I/O, no clock reads, no randomness. Time and ids are passed in.

pub mod agreement;
pub mod calendar;
pub mod codec;
pub mod command;
pub mod deadlines;
pub mod decide;
pub mod error;
pub mod events;
pub mod excuses;
pub mod ids;
pub mod import;
pub mod money;
pub mod rules;
pub mod rules_in_force;
pub mod state;
pub mod suspension;

pub use codec::{decode, encode, personal_fields};
pub use decide::decide;
pub use events::DomainEvent;
pub use rules::{RuleId, RuleValue};
pub use rules_in_force::value_at;
pub use state::{evolve, LedgerState};
