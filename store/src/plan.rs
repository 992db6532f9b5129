//! Append planning shared by both backends: expected-version checks, idempotent replays,
//! position and version assignment, and hash chaining, all in memory under the head lock.
//!
//! A backend opens its write transaction, locks the head, loads the last version of every
//! stream the group touches (and, on the slow path, the already-recorded events with the
//! group's event ids), then asks a [`GroupPlanner`] for the rows to write. The database's
//! unique constraints stay the last word: a duplicate `event_id` the planner could not know
//! about comes back as a unique violation, and the backend retries the group on the slow path.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::envelope::{
    to_micros_precision, AppendOutcome, ExpectedVersion, Head, PreparedAppend, RecordedEvent,
};
use crate::error::StoreError;
use crate::hash::{compute_hash, Hash};

/// Why a request could not be planned.
#[derive(Debug)]
pub(crate) enum PlanError {
    /// An expected-version conflict found without looking up event ids: it may be a retried
    /// append that already succeeded, so the backend retries it with the lookup.
    MaybeReplay,
    /// A final answer for the caller.
    Refused(StoreError),
}

/// Plans the appends of one write transaction.
#[derive(Debug)]
pub(crate) struct GroupPlanner {
    next_position: u64,
    prev_hash: Hash,
    recorded_at: DateTime<Utc>,
    /// The last version of each stream touched so far; absent means the stream has no events.
    versions: HashMap<String, u64>,
}

/// The rows and outcomes of one planned request.
#[derive(Debug)]
pub(crate) struct PlannedRequest {
    pub rows: Vec<RecordedEvent>,
    pub outcomes: Vec<AppendOutcome>,
}

impl GroupPlanner {
    /// `versions` holds the stored last version of every stream the group touches that exists.
    /// `recorded_at` never runs backwards: it is at least the head's, so recorded-at order
    /// is position order and "as of an instant" maps to a position.
    pub fn new(head: Option<Head>, now: DateTime<Utc>, versions: HashMap<String, u64>) -> Self {
        let now = to_micros_precision(now);
        let (next_position, prev_hash, recorded_at) = match head {
            None => (0, Hash::GENESIS, now),
            Some(h) => (h.position + 1, h.hash, now.max(h.recorded_at)),
        };
        Self {
            next_position,
            prev_hash,
            recorded_at,
            versions,
        }
    }

    /// The head after everything planned so far; `None` if nothing was ever recorded.
    pub fn head(&self) -> Option<Head> {
        self.next_position.checked_sub(1).map(|position| Head {
            position,
            hash: self.prev_hash,
            recorded_at: self.recorded_at,
        })
    }

    pub fn next_position(&self) -> u64 {
        self.next_position
    }

    /// Plans one atomic request. On error nothing of it is planned. `existing` is the slow
    /// path: the recorded events whose ids the request uses.
    pub fn plan_request(
        &mut self,
        request: &[PreparedAppend],
        existing: Option<&HashMap<Uuid, RecordedEvent>>,
    ) -> Result<PlannedRequest, PlanError> {
        let saved_position = self.next_position;
        let saved_hash = self.prev_hash;
        let mut saved_versions: Vec<(String, Option<u64>)> = Vec::new();
        let result = self.plan_inner(request, existing, &mut saved_versions);
        if result.is_err() {
            self.next_position = saved_position;
            self.prev_hash = saved_hash;
            for (stream, old) in saved_versions.into_iter().rev() {
                match old {
                    Some(v) => self.versions.insert(stream, v),
                    None => self.versions.remove(&stream),
                };
            }
        }
        result
    }

    fn plan_inner(
        &mut self,
        request: &[PreparedAppend],
        existing: Option<&HashMap<Uuid, RecordedEvent>>,
        saved_versions: &mut Vec<(String, Option<u64>)>,
    ) -> Result<PlannedRequest, PlanError> {
        let mut rows = Vec::new();
        let mut outcomes = Vec::with_capacity(request.len());
        for append in request {
            if let Some(existing) = existing {
                if let Some(outcome) = replayed_outcome(append, existing)? {
                    outcomes.push(outcome);
                    continue;
                }
            }
            let stream = append.stream_id.as_str();
            let current = self.versions.get(stream).copied();
            let satisfied = match append.expected_version {
                ExpectedVersion::Any => true,
                ExpectedVersion::NoStream => current.is_none(),
                ExpectedVersion::Exact(v) => current == Some(v),
                ExpectedVersion::StreamExists => current.is_some(),
            };
            if !satisfied {
                return Err(match existing {
                    None => PlanError::MaybeReplay,
                    Some(_) => PlanError::Refused(StoreError::WrongExpectedVersion {
                        stream_id: stream.to_owned(),
                        expected: append.expected_version,
                        actual: current
                            .map_or_else(|| "no stream".to_owned(), |v| format!("version {v}")),
                    }),
                });
            }
            let mut version = current.map_or(0, |v| v + 1);
            let mut positions = Vec::with_capacity(append.events.len());
            for e in &append.events {
                let mut row = RecordedEvent {
                    global_position: self.next_position,
                    event_id: e.event_id,
                    stream_id: append.stream_id.clone(),
                    stream_version: version,
                    event_type: e.event_type.clone(),
                    schema_version: e.schema_version,
                    client_id: e.client_id.clone(),
                    occurred_at: e.occurred_at,
                    recorded_at: self.recorded_at,
                    data: e.data.clone(),
                    metadata: e.metadata.clone(),
                    prev_hash: self.prev_hash,
                    hash: Hash::GENESIS,
                };
                row.hash = compute_hash(&row);
                self.prev_hash = row.hash;
                positions.push(self.next_position);
                self.next_position += 1;
                version += 1;
                rows.push(row);
            }
            let last_version = version - 1;
            saved_versions.push((stream.to_owned(), current));
            self.versions.insert(stream.to_owned(), last_version);
            outcomes.push(AppendOutcome {
                stream_id: append.stream_id.clone(),
                positions,
                last_version,
                idempotent_replay: false,
            });
        }
        Ok(PlannedRequest { rows, outcomes })
    }
}

/// If every event of `append` is already recorded with identical content, the outcome of that
/// earlier append; if none is, `None`; anything in between is a refusal.
fn replayed_outcome(
    append: &PreparedAppend,
    existing: &HashMap<Uuid, RecordedEvent>,
) -> Result<Option<AppendOutcome>, PlanError> {
    let mut found = 0usize;
    for e in &append.events {
        if let Some(recorded) = existing.get(&e.event_id) {
            if !recorded.same_content_as(&append.stream_id, e) {
                return Err(PlanError::Refused(StoreError::DuplicateEventId {
                    event_id: e.event_id,
                    position: recorded.global_position,
                }));
            }
            found += 1;
        }
    }
    if found == 0 {
        return Ok(None);
    }
    if found < append.events.len() {
        // Part of the stream's events are recorded and part are not: no earlier atomic append
        // produced this, so it is a different write reusing ids.
        let first = append
            .events
            .iter()
            .find_map(|e| existing.get(&e.event_id))
            .expect("found > 0");
        return Err(PlanError::Refused(StoreError::DuplicateEventId {
            event_id: first.event_id,
            position: first.global_position,
        }));
    }
    let recorded: Vec<&RecordedEvent> = append
        .events
        .iter()
        .map(|e| &existing[&e.event_id])
        .collect();
    Ok(Some(AppendOutcome {
        stream_id: append.stream_id.clone(),
        positions: recorded.iter().map(|r| r.global_position).collect(),
        last_version: recorded
            .iter()
            .map(|r| r.stream_version)
            .max()
            .expect("non-empty"),
        idempotent_replay: true,
    }))
}

/// Every event id of a group of requests, for the slow-path lookup.
pub(crate) fn event_ids<'a>(requests: impl IntoIterator<Item = &'a [PreparedAppend]>) -> Vec<Uuid> {
    requests
        .into_iter()
        .flat_map(|r| r.iter())
        .flat_map(|a| a.events.iter().map(|e| e.event_id))
        .collect()
}

/// Every distinct stream id of a group of requests.
pub(crate) fn stream_ids<'a>(
    requests: impl IntoIterator<Item = &'a [PreparedAppend]>,
) -> Vec<String> {
    let mut out: Vec<String> = requests
        .into_iter()
        .flat_map(|r| r.iter())
        .map(|a| a.stream_id.as_str().to_owned())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}
