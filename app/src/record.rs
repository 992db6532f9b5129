//! Recording facts through the domain: load the state the commands touch from the ledger,
//! decide each command (a refusal names the rule), and append the resulting events in atomic
//! batches. `opsledger record` and the importers share this one path.

use std::collections::HashSet;
use std::io::BufRead;
use std::sync::Arc;

use opsledger_domain::command::Command;
use opsledger_domain::decide::decide;
use opsledger_domain::error::DomainError;
use opsledger_domain::events::DomainEvent;
use opsledger_domain::ids::{ClientId, AGENCY_SCOPE};
use opsledger_domain::rules::RuleId;
use opsledger_domain::state::LedgerState;
use opsledger_store::{EventFilter, EventStore, ExpectedVersion, Metadata, StreamAppend};
use serde::Deserialize;
use uuid::Uuid;

use crate::actor::Actor;
use crate::crypto::Sealer;
use crate::envelopes;
use crate::error::{AppError, AppResult, Origin};
use crate::progress::Progress;

/// Events per atomic append when recording many facts (an import is atomic per batch and
/// resumable: a rerun skips what earlier batches recorded).
pub const RECORD_BATCH_EVENTS: usize = 1000;
/// Events read per page while loading state.
const STATE_PAGE: usize = 10_000;

/// Loads the decision state of the given clients plus every agency-wide fact (SOP amendments).
/// Returns it with the ids of every event already recorded for them.
pub async fn load_state(
    store: &Arc<dyn EventStore>,
    clients: &[ClientId],
) -> AppResult<(LedgerState, HashSet<Uuid>)> {
    let mut events = Vec::new();
    let scopes = clients
        .iter()
        .map(|c| c.as_str().to_owned())
        .chain(std::iter::once(AGENCY_SCOPE.to_owned()));
    for scope in scopes {
        let filter = EventFilter {
            client_id: Some(scope),
            ..EventFilter::default()
        };
        let mut next = 0u64;
        loop {
            let page = store.read_filtered(&filter, next, STATE_PAGE).await?;
            let Some(last) = page.last() else { break };
            next = last.global_position + 1;
            events.extend(page);
        }
    }
    // The state is folded in log order whatever order the scopes were read in.
    events.sort_by_key(|e| e.global_position);
    let mut state = LedgerState::default();
    let mut seen = HashSet::with_capacity(events.len());
    // The decision state holds personal fields in the clear: deciding whether a repeated fact
    // is an idempotent duplicate compares them.
    let mut sealer = Sealer::new(Arc::clone(store));
    for recorded in &events {
        if let Some(event) = sealer.positioned(recorded).await? {
            state.apply(&event.event);
        }
        seen.insert(recorded.event_id);
    }
    Ok((state, seen))
}

/// One fact to record, with where it came from (for error messages) and its event id.
#[derive(Debug, Clone)]
pub struct Fact {
    pub event_id: Uuid,
    pub command: Command,
    /// The input it came from and its 1-based line (0 when not line-based).
    pub file: String,
    pub line: usize,
}

impl Fact {
    /// Where the fact came from.
    pub fn origin(&self) -> Origin {
        Origin {
            file: self.file.clone(),
            line: self.line,
        }
    }
}

/// A fact the domain refused, kept as data: where it came from and the rule that refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub origin: Origin,
    /// The refusing catalog rule, when a rule refused (rather than, say, an unknown client).
    pub rule: Option<RuleId>,
    pub refusal: DomainError,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}refused: {}", self.origin, self.refusal)
    }
}

/// What recording did.
#[derive(Debug, Default)]
pub struct Recorded {
    pub appended: u64,
    pub already_recorded: u64,
    pub unchanged: u64,
    pub refused: Vec<Refusal>,
}

/// The metadata of events recorded by `source` on behalf of `actor`.
pub fn metadata(source: &str, actor: &Actor) -> Metadata {
    Metadata {
        source: Some(source.to_owned()),
        actor: actor.to_metadata(),
        ..Metadata::default()
    }
}

/// Decides every fact against the ledger's state and appends what the domain accepts, in
/// batches of [`RECORD_BATCH_EVENTS`]. Facts whose event id is already recorded are skipped
/// (a rerun of an interrupted import). Without `skip_refused`, the first refusal stops before
/// anything is appended; with it, refusals are collected and the rest is recorded.
pub async fn record(
    store: &Arc<dyn EventStore>,
    facts: Vec<Fact>,
    metadata: &Metadata,
    skip_refused: bool,
    progress: &dyn Progress,
) -> AppResult<Recorded> {
    let mut clients: Vec<ClientId> = facts
        .iter()
        .filter_map(|f| f.command.client_id().cloned())
        .collect();
    clients.sort();
    clients.dedup();
    let (mut state, seen) = load_state(store, &clients).await?;
    let mut out = Recorded::default();
    let mut accepted: Vec<(Uuid, DomainEvent)> = Vec::with_capacity(facts.len());
    for fact in facts {
        if seen.contains(&fact.event_id) {
            out.already_recorded += 1;
            continue;
        }
        match decide(&state, fact.command) {
            Ok(events) if events.is_empty() => out.unchanged += 1,
            Ok(events) => {
                for (i, event) in events.into_iter().enumerate() {
                    // A command that yields several events gives each a distinct id derived
                    // from the fact's own, so reruns stay idempotent.
                    let id = if i == 0 {
                        fact.event_id
                    } else {
                        Uuid::new_v5(&fact.event_id, &i.to_be_bytes())
                    };
                    state.apply(&event);
                    accepted.push((id, event));
                }
            }
            Err(refusal) => {
                let origin = Origin {
                    file: fact.file,
                    line: fact.line,
                };
                if skip_refused {
                    out.refused.push(Refusal {
                        origin,
                        rule: refusal.rule(),
                        refusal,
                    });
                } else {
                    return Err(AppError::refused(origin, refusal));
                }
            }
        }
    }
    progress.start(u64::try_from(accepted.len()).unwrap_or(u64::MAX));
    let mut sealer = Sealer::new(Arc::clone(store));
    for chunk in accepted.chunks(RECORD_BATCH_EVENTS) {
        let mut batch: Vec<StreamAppend> = Vec::new();
        for (id, event) in chunk {
            let stream_id = envelopes::stream_of(event)?;
            let envelope = sealer.seal(*id, event, metadata.clone()).await?;
            match batch.iter_mut().find(|s| s.stream_id == stream_id) {
                Some(s) => s.events.push(envelope),
                None => batch.push(StreamAppend {
                    stream_id,
                    expected_version: ExpectedVersion::Any,
                    events: vec![envelope],
                }),
            }
        }
        let outcomes = store.append_batch(batch).await?;
        out.appended += outcomes
            .iter()
            .filter(|o| !o.idempotent_replay)
            .map(|o| u64::try_from(o.positions.len()).unwrap_or(0))
            .sum::<u64>();
        progress.advance(u64::try_from(chunk.len()).unwrap_or(0));
    }
    progress.finish();
    Ok(out)
}

#[derive(Debug, Deserialize)]
struct CommandLine {
    #[serde(default)]
    event_id: Option<Uuid>,
    #[serde(flatten)]
    command: Command,
}

/// Reads NDJSON commands, `{"command": "onboard", "args": {…}}` per line (optionally with an
/// `"event_id"` for idempotent reruns; without one a fresh id is drawn). `name` names the
/// input in errors. A malformed line refuses the whole input.
pub fn read_commands(name: &str, reader: impl BufRead) -> AppResult<Vec<Fact>> {
    let mut facts = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let number = i + 1;
        let line = line.map_err(|source| AppError::Io {
            context: format!("reading {name}"),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: CommandLine = serde_json::from_str(&line).map_err(|e| {
            AppError::input(
                Origin {
                    file: name.to_owned(),
                    line: number,
                },
                None,
                e.to_string(),
            )
        })?;
        facts.push(Fact {
            event_id: parsed.event_id.unwrap_or_else(Uuid::new_v4),
            command: parsed.command,
            file: name.to_owned(),
            line: number,
        });
    }
    Ok(facts)
}
