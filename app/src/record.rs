//! Recording facts through the domain: load the state the commands touch from the ledger,
//! decide each command (a refusal names the rule), and append the resulting events in atomic
//! batches. `opsledger record` and the importers share this one path.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::sync::Arc;

use opsledger_domain::command::Command;
use opsledger_domain::decide::decide;
use opsledger_domain::error::DomainError;
use opsledger_domain::events::DomainEvent;
use opsledger_domain::ids::{ClientId, AGENCY_SCOPE};
use opsledger_domain::rules::RuleId;
use opsledger_domain::state::LedgerState;
use opsledger_store::{
    EventFilter, EventStore, ExpectedVersion, InvalidEvent, Metadata, NewEvent, StoreError,
    StreamAppend, StreamId,
};
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

/// Times a batch is decided again when another writer changed a stream it decided on between
/// loading the state and appending (issue 12, finding 3). Each retry reloads the state, so a
/// contradictory fact that won the race is refused; a writer that loses this many times in a
/// row reports the conflict instead of retrying for ever.
pub const RECORD_CONFLICT_RETRIES: usize = 16;

/// What decisions are taken against: the folded state of the clients a batch touches (plus
/// every agency-wide fact), the ids already recorded for them, and the last version of every
/// stream they hold, which the append then expects.
#[derive(Debug, Default)]
pub struct DecisionState {
    pub state: LedgerState,
    pub seen: HashSet<Uuid>,
    /// The last version of every stream among the events read.
    pub versions: HashMap<String, u64>,
    /// With `keep_events`: every domain event read, by id, so a repeated id can be compared.
    pub events: HashMap<Uuid, DomainEvent>,
    /// Personal fields that did not open while loading (read as `[unreadable]`).
    pub unreadable: Vec<crate::crypto::Unreadable>,
}

/// Loads the decision state of the given clients plus every agency-wide fact (SOP amendments).
/// Returns it with the ids of every event already recorded for them.
pub async fn load_state(
    store: &Arc<dyn EventStore>,
    clients: &[ClientId],
) -> AppResult<(LedgerState, HashSet<Uuid>)> {
    let loaded = load_decision_state(store, clients, false).await?;
    Ok((loaded.state, loaded.seen))
}

/// Loads the [`DecisionState`] of the given clients; `keep_events` also keeps the decoded
/// events by id.
pub async fn load_decision_state(
    store: &Arc<dyn EventStore>,
    clients: &[ClientId],
    keep_events: bool,
) -> AppResult<DecisionState> {
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
    let mut out = DecisionState {
        seen: HashSet::with_capacity(events.len()),
        ..DecisionState::default()
    };
    // The decision state holds personal fields in the clear: deciding whether a repeated fact
    // is an idempotent duplicate compares them.
    let mut sealer = Sealer::new(Arc::clone(store));
    for recorded in &events {
        if let Some(event) = sealer.positioned(recorded).await? {
            out.state.apply(&event.event);
            if keep_events {
                out.events.insert(recorded.event_id, event.event);
            }
        }
        out.seen.insert(recorded.event_id);
        let version = out
            .versions
            .entry(recorded.stream_id.as_str().to_owned())
            .or_insert(recorded.stream_version);
        *version = (*version).max(recorded.stream_version);
    }
    out.unreadable = sealer.take_unreadable();
    Ok(out)
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
    /// Streams appended to.
    pub streams: u64,
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
///
/// Every batch expects the versions of its streams that the decisions saw; when another
/// writer got there first, the state is reloaded and the remaining facts decided again (at
/// most [`RECORD_CONFLICT_RETRIES`] times), so a contradictory fact is refused, never
/// interleaved.
pub async fn record(
    store: &Arc<dyn EventStore>,
    facts: Vec<Fact>,
    metadata: &Metadata,
    skip_refused: bool,
    progress: &dyn Progress,
) -> AppResult<Recorded> {
    let proposals = facts
        .into_iter()
        .map(|fact| Proposal::Decide {
            event_id: fact.event_id,
            command: Box::new(fact.command),
            origin: Origin {
                file: fact.file,
                line: fact.line,
            },
            given: None,
        })
        .collect();
    decide_and_append(
        store,
        proposals,
        metadata,
        skip_refused,
        RECORD_BATCH_EVENTS,
        progress,
    )
    .await
}

/// A domain event given whole from outside (a raw envelope): the decision must record exactly
/// it, under its own metadata.
#[derive(Debug, Clone)]
pub(crate) struct Given {
    pub event: DomainEvent,
    pub metadata: Metadata,
    /// The input's precondition on the event's stream, checked against the state the
    /// decision saw (for the first envelope of each stream, as the store would).
    pub expected_version: ExpectedVersion,
}

/// One thing to append: a command for the domain to decide, or a foreign fact (an event type
/// the domain does not know, opted in), appended as given and never decided on.
#[derive(Debug, Clone)]
pub(crate) enum Proposal {
    Decide {
        event_id: Uuid,
        command: Box<Command>,
        origin: Origin,
        given: Option<Box<Given>>,
    },
    Foreign {
        stream_id: StreamId,
        expected_version: ExpectedVersion,
        event: Box<NewEvent>,
        origin: Origin,
    },
}

/// What one accepted proposal appends.
enum Accepted {
    Domain {
        id: Uuid,
        event: Box<DomainEvent>,
        metadata: Option<Metadata>,
        origin: Origin,
    },
    Foreign {
        stream_id: StreamId,
        expected_version: ExpectedVersion,
        event: NewEvent,
        origin: Origin,
    },
}

/// Why one attempt stopped.
enum AttemptError {
    /// Another writer changed a stream this attempt decided on: decide again.
    Conflict(AppError),
    Failed(AppError),
}

impl From<AppError> for AttemptError {
    fn from(e: AppError) -> Self {
        AttemptError::Failed(e)
    }
}

/// The one path every domain-typed event takes into the log: decide against the current
/// state, seal personal fields, append with the expected versions the decisions saw, and on
/// a conflict decide again. `chunk_events` bounds an atomic append (`usize::MAX`: the whole
/// input in one batch).
pub(crate) async fn decide_and_append(
    store: &Arc<dyn EventStore>,
    proposals: Vec<Proposal>,
    metadata: &Metadata,
    skip_refused: bool,
    chunk_events: usize,
    progress: &dyn Progress,
) -> AppResult<Recorded> {
    let mut clients: Vec<ClientId> = proposals
        .iter()
        .filter_map(|p| match p {
            Proposal::Decide { command, .. } => command.client_id().cloned(),
            Proposal::Foreign { .. } => None,
        })
        .collect();
    clients.sort();
    clients.dedup();
    let keep_events = proposals
        .iter()
        .any(|p| matches!(p, Proposal::Decide { given: Some(_), .. }));
    // Events this call appended in an attempt that later lost a race: the next attempt finds
    // them recorded, and must not count them as recorded by someone else.
    let mut ours: HashSet<Uuid> = HashSet::new();
    let mut appended = 0u64;
    let mut attempt = 0usize;
    loop {
        let result = attempt_once(
            store,
            &proposals,
            &clients,
            keep_events,
            metadata,
            skip_refused,
            chunk_events,
            progress,
            attempt == 0,
            &mut ours,
            &mut appended,
        )
        .await;
        match result {
            Ok(mut out) => {
                out.appended = appended;
                progress.finish();
                return Ok(out);
            }
            Err(AttemptError::Conflict(e)) if attempt < RECORD_CONFLICT_RETRIES => {
                let _ = e;
                attempt += 1;
            }
            Err(AttemptError::Conflict(e) | AttemptError::Failed(e)) => {
                progress.finish();
                return Err(e);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn attempt_once(
    store: &Arc<dyn EventStore>,
    proposals: &[Proposal],
    clients: &[ClientId],
    keep_events: bool,
    metadata: &Metadata,
    skip_refused: bool,
    chunk_events: usize,
    progress: &dyn Progress,
    first: bool,
    ours: &mut HashSet<Uuid>,
    appended: &mut u64,
) -> Result<Recorded, AttemptError> {
    let DecisionState {
        mut state,
        seen,
        mut versions,
        events: recorded_events,
        ..
    } = load_decision_state(store, clients, keep_events).await?;
    let mut out = Recorded::default();
    let mut accepted: Vec<Accepted> = Vec::with_capacity(proposals.len());
    let mut preconditions_checked: HashSet<String> = HashSet::new();
    for proposal in proposals {
        let (event_id, command, origin, given) = match proposal {
            Proposal::Foreign {
                stream_id,
                expected_version,
                event,
                origin,
            } => {
                // Foreign facts are not decided on: the store keeps them as given, and its own
                // idempotency check answers a rerun.
                if !ours.contains(&event.event_id) {
                    accepted.push(Accepted::Foreign {
                        stream_id: stream_id.clone(),
                        expected_version: *expected_version,
                        event: (**event).clone(),
                        origin: origin.clone(),
                    });
                }
                continue;
            }
            Proposal::Decide {
                event_id,
                command,
                origin,
                given,
            } => (*event_id, command, origin, given),
        };
        if seen.contains(&event_id) {
            if let (Some(given), Some(recorded)) = (given, recorded_events.get(&event_id)) {
                if given.event != *recorded {
                    return Err(AppError::input(
                        origin.clone(),
                        None,
                        format!("event {event_id} is already recorded with different content"),
                    )
                    .into());
                }
            }
            if !ours.contains(&event_id) {
                out.already_recorded += 1;
            }
            continue;
        }
        if let Some(given) = given {
            check_precondition(given, &versions, &mut preconditions_checked, origin)?;
        }
        match decide(&state, (**command).clone()) {
            Ok(events) if events.is_empty() => out.unchanged += 1,
            Ok(mut events) => {
                if let Some(given) = given {
                    // A raw envelope records what it says or nothing: a decision that would
                    // record something else (other documentation flags, another due date) is
                    // a refusal of the envelope, not a silent rewrite of it. Only the given
                    // event is kept: the events a command adds (an immediate termination's
                    // taking effect) come as envelopes of their own in such an input.
                    if events.first() != Some(&given.event) {
                        return Err(AppError::input(
                            origin.clone(),
                            Some("data"),
                            format!(
                                "the domain would record this {} differently (a field it computes does not match); record it with `opsledger record` instead",
                                given.event.event_type()
                            ),
                        )
                        .into());
                    }
                    events.truncate(1);
                }
                for (i, event) in events.into_iter().enumerate() {
                    // A command that yields several events gives each a distinct id derived
                    // from the fact's own, so reruns stay idempotent.
                    let id = if i == 0 {
                        event_id
                    } else {
                        Uuid::new_v5(&event_id, &i.to_be_bytes())
                    };
                    state.apply(&event);
                    accepted.push(Accepted::Domain {
                        id,
                        event: Box::new(event),
                        metadata: given.as_ref().map(|g| g.metadata.clone()),
                        origin: origin.clone(),
                    });
                }
            }
            Err(refusal) => {
                if skip_refused {
                    out.refused.push(Refusal {
                        origin: origin.clone(),
                        rule: refusal.rule(),
                        refusal,
                    });
                } else {
                    return Err(AppError::refused(origin.clone(), refusal).into());
                }
            }
        }
    }
    // Every envelope is sealed and checked as the store will check it before the first
    // append, so a bad value anywhere in the input (a year past 9999 on its last row, an
    // oversized field) is refused while "nothing was appended" is still true (finding 4).
    let mut sealer = Sealer::new(Arc::clone(store));
    let mut ready: Vec<(StreamId, Option<ExpectedVersion>, NewEvent)> =
        Vec::with_capacity(accepted.len());
    for item in accepted {
        let (stream_id, expected, envelope, origin) = match item {
            Accepted::Domain {
                id,
                event,
                metadata: own,
                origin,
            } => {
                let stream_id = envelopes::stream_of(&event)?;
                let envelope = sealer
                    .seal(id, &event, own.unwrap_or_else(|| metadata.clone()))
                    .await
                    .map_err(|e| at_origin(&origin, e))?;
                (stream_id, None, envelope, origin)
            }
            Accepted::Foreign {
                stream_id,
                expected_version,
                event,
                origin,
            } => (stream_id, Some(expected_version), event, origin),
        };
        if let Err(StoreError::InvalidEvent { problem, .. }) = envelope.prepare(0) {
            return Err(AppError::input(
                origin,
                invalid_field(&problem),
                format!("event {}: {problem}", envelope.event_id),
            )
            .into());
        }
        // `None`: the version the decision saw, filled in per chunk below.
        ready.push((stream_id, expected, envelope));
    }
    if first {
        progress.start(u64::try_from(ready.len()).unwrap_or(u64::MAX));
    }
    let mut streams: HashSet<String> = HashSet::new();
    let mut rest = ready.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: Vec<_> = rest.by_ref().take(chunk_events.max(1)).collect();
        let count = chunk.len();
        let mut batch: Vec<StreamAppend> = Vec::new();
        for (stream_id, expected, envelope) in chunk {
            match batch.iter_mut().find(|s| s.stream_id == stream_id) {
                Some(s) => s.events.push(envelope),
                None => {
                    // The version the decisions saw (or the chunk before this one left), so a
                    // writer that changed the stream since makes this append fail instead of
                    // interleaving (finding 3).
                    let expected =
                        expected.unwrap_or_else(|| match versions.get(stream_id.as_str()) {
                            Some(v) => ExpectedVersion::Exact(*v),
                            None => ExpectedVersion::NoStream,
                        });
                    batch.push(StreamAppend {
                        stream_id,
                        expected_version: expected,
                        events: vec![envelope],
                    });
                }
            }
        }
        let ids: Vec<Uuid> = batch
            .iter()
            .flat_map(|s| s.events.iter().map(|e| e.event_id))
            .collect();
        let outcomes = match store.append_batch(batch).await {
            Ok(outcomes) => outcomes,
            Err(e) if e.is_conflict() => {
                return Err(AttemptError::Conflict(AppError::store_while(
                    format!(
                        "appending: another writer kept changing the streams these facts were decided on ({RECORD_CONFLICT_RETRIES} retries)"
                    ),
                    e,
                )))
            }
            Err(e) => return Err(AppError::from(e).into()),
        };
        for o in &outcomes {
            versions.insert(o.stream_id.as_str().to_owned(), o.last_version);
            streams.insert(o.stream_id.as_str().to_owned());
            if o.idempotent_replay {
                out.already_recorded += u64::try_from(o.positions.len()).unwrap_or(0);
            }
        }
        *appended += outcomes
            .iter()
            .filter(|o| !o.idempotent_replay)
            .map(|o| u64::try_from(o.positions.len()).unwrap_or(0))
            .sum::<u64>();
        ours.extend(ids);
        progress.advance(u64::try_from(count).unwrap_or(0));
    }
    out.streams = u64::try_from(streams.len()).unwrap_or(u64::MAX);
    Ok(out)
}

/// Checks an input's own precondition on the stream of a given event, once per stream.
fn check_precondition(
    given: &Given,
    versions: &HashMap<String, u64>,
    checked: &mut HashSet<String>,
    origin: &Origin,
) -> Result<(), AttemptError> {
    let stream = given.event.stream_id();
    if !checked.insert(stream.clone()) {
        return Ok(());
    }
    let current = versions.get(&stream).copied();
    let satisfied = match given.expected_version {
        ExpectedVersion::Any => true,
        ExpectedVersion::NoStream => current.is_none(),
        ExpectedVersion::Exact(v) => current == Some(v),
        ExpectedVersion::StreamExists => current.is_some(),
    };
    if satisfied {
        return Ok(());
    }
    Err(AppError::store_while(
        format!("{origin}the input's expected_version does not hold"),
        StoreError::WrongExpectedVersion {
            stream_id: stream,
            expected: given.expected_version,
            actual: current.map_or_else(|| "no stream".to_owned(), |v| format!("version {v}")),
        },
    )
    .into())
}

/// The envelope field a store refusal is about, for `file:line:field` messages.
fn invalid_field(problem: &InvalidEvent) -> Option<&'static str> {
    Some(match *problem {
        InvalidEvent::OccurredAtOutOfRange { .. } => "occurred_at",
        InvalidEvent::Data(_) | InvalidEvent::DataTooLarge { .. } | InvalidEvent::DataNotObject => {
            "data"
        }
        InvalidEvent::ClientId => "client_id",
        InvalidEvent::MetadataText { field } => field,
        InvalidEvent::SchemaVersionZero | InvalidEvent::SchemaVersionTooLarge { .. } => {
            "schema_version"
        }
        InvalidEvent::EventType => "event_type",
        InvalidEvent::NilEventId | InvalidEvent::EventIdRepeatedInAppend => "event_id",
    })
}

/// A sealing failure of the fact read at `origin`, placed there when it is refused input.
fn at_origin(origin: &Origin, error: AppError) -> AppError {
    match error {
        AppError::Crypto { error, .. } => AppError::input(origin.clone(), None, error.to_string()),
        other => other,
    }
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
