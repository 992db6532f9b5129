//! The plan of a demo month: timed commands, recorded through `decide` in time order.
//!
//! Generating and recording are separate steps. The generator plans commands anywhere in the
//! month in whatever order is convenient (all calls of a client, then its reviews, then its
//! invoices); recording sorts them by instant, keeping planning order among equal instants, and
//! decides each against the state folded so far. So every fact is judged by the domain exactly
//! as if it had been recorded live, and a refusal is a generator bug reported as an error.

use chrono::{DateTime, Utc};
use opsledger_domain::command::Command;
use opsledger_domain::error::DomainError;
use opsledger_domain::ids::ClientId;
use opsledger_domain::{decide, DomainEvent, LedgerState};

use super::{DemoError, RefusedCommand};

/// What to do with a planned command.
#[derive(Debug)]
enum Step {
    /// Record it; a refusal is an error.
    Record(Command),
    /// A deliberate showcase: the domain must refuse it, and the refusal is reported.
    ExpectRefusal {
        /// Who it concerns.
        client_id: ClientId,
        /// What was attempted, in a sentence.
        attempted: String,
        /// The command.
        command: Command,
    },
}

#[derive(Debug)]
struct Planned {
    at: DateTime<Utc>,
    seq: u64,
    step: Step,
}

/// The commands of a month, in planning order until recorded.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    items: Vec<Planned>,
}

/// What recording a plan produced.
#[derive(Debug)]
pub(crate) struct Recorded {
    /// The events, in occurred order.
    pub events: Vec<DomainEvent>,
    /// The showcased refusals.
    pub refused: Vec<RefusedCommand>,
}

impl Plan {
    /// Plans a command at its instant (`at` must be the instant the command carries).
    pub(crate) fn record(&mut self, at: DateTime<Utc>, command: Command) {
        self.push(at, Step::Record(command));
    }

    /// Plans a command the domain must refuse, to show the refusal.
    pub(crate) fn expect_refusal(
        &mut self,
        at: DateTime<Utc>,
        client_id: ClientId,
        attempted: impl Into<String>,
        command: Command,
    ) {
        self.push(
            at,
            Step::ExpectRefusal {
                client_id,
                attempted: attempted.into(),
                command,
            },
        );
    }

    fn push(&mut self, at: DateTime<Utc>, step: Step) {
        let seq = u64::try_from(self.items.len()).unwrap_or(u64::MAX);
        self.items.push(Planned { at, seq, step });
    }

    /// Sorts by instant and decides every command against the state folded so far.
    pub(crate) fn record_all(mut self) -> Result<Recorded, DemoError> {
        self.items.sort_by_key(|p| (p.at, p.seq));
        let mut state = LedgerState::default();
        let mut events = Vec::with_capacity(self.items.len() + self.items.len() / 8);
        let mut refused = Vec::new();
        for planned in self.items {
            match planned.step {
                Step::Record(command) => {
                    let decided = decide(&state, command.clone());
                    let new_events = decided.map_err(|error| DemoError::Refused {
                        at: planned.at,
                        command: Box::new(command.clone()),
                        error,
                    })?;
                    if new_events.is_empty() {
                        // The generator never plans a duplicate, so a no-op means two planned
                        // facts collided on one id.
                        return Err(DemoError::DuplicateFact {
                            at: planned.at,
                            command: Box::new(command),
                        });
                    }
                    for event in new_events {
                        if event.occurred_at() != planned.at {
                            return Err(DemoError::MisplannedInstant {
                                planned: planned.at,
                                occurred: event.occurred_at(),
                                event_type: event.event_type(),
                            });
                        }
                        state.apply(&event);
                        events.push(event);
                    }
                }
                Step::ExpectRefusal {
                    client_id,
                    attempted,
                    command,
                } => match decide(&state, command) {
                    Err(error) => refused.push(RefusedCommand {
                        at: planned.at,
                        client_id,
                        attempted,
                        error,
                    }),
                    Ok(_) => return Err(DemoError::ShowcaseAccepted { attempted }),
                },
            }
        }
        Ok(Recorded { events, refused })
    }
}

/// The rule a showcased refusal names, for printing.
pub(crate) fn refusal_rule(error: &DomainError) -> String {
    error
        .rule()
        .map_or_else(|| "domain".to_owned(), |rule| rule.to_string())
}
