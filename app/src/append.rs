//! Appending envelopes as given (`opsledger append`, `import ndjson`): NDJSON lines checked
//! one by one (a domain type must hold a valid payload; a type the domain does not know is
//! refused unless foreign facts are allowed) and appended in one atomic batch.

use std::io::BufRead;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use opsledger_store::{
    EventStore, ExpectedVersion, Metadata, NewEvent, StoreError, StreamAppend, StreamId,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::envelopes;
use crate::error::{AppError, AppResult, Origin};

/// One NDJSON line of `opsledger append`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputLine {
    stream_id: String,
    #[serde(default)]
    expected_version: Option<InputExpected>,
    event_id: Uuid,
    event_type: String,
    schema_version: u32,
    #[serde(default)]
    client_id: Option<String>,
    occurred_at: DateTime<Utc>,
    data: serde_json::Value,
    #[serde(default)]
    metadata: Metadata,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum InputExpected {
    Exact(u64),
    Named(String),
}

fn expected_from(input: Option<InputExpected>) -> Result<ExpectedVersion, String> {
    Ok(match input {
        None => ExpectedVersion::Any,
        Some(InputExpected::Exact(v)) => ExpectedVersion::Exact(v),
        Some(InputExpected::Named(name)) => match name.as_str() {
            "any" => ExpectedVersion::Any,
            "no_stream" => ExpectedVersion::NoStream,
            "stream_exists" => ExpectedVersion::StreamExists,
            other => {
                return Err(format!(
                "{other:?} is not a version number, \"any\", \"no_stream\" or \"stream_exists\""
            ))
            }
        },
    })
}

/// Envelopes read from one input, grouped by stream in first-seen order.
#[derive(Debug)]
pub struct EnvelopeBatch {
    /// The input's name, for errors.
    pub name: String,
    pub streams: Vec<StreamAppend>,
    /// `lines[i]` is the input line of the i-th event of the batch (streams flattened in
    /// order), so a refusal by the store can name the line.
    pub lines: Vec<usize>,
}

/// Reads NDJSON envelopes from `reader` (named `name` in errors). Without
/// `allow_foreign_types`, an event type the domain does not know is refused. The first bad
/// line refuses the whole input; an input without events is refused too.
pub fn read_envelopes(
    name: &str,
    reader: impl BufRead,
    allow_foreign_types: bool,
) -> AppResult<EnvelopeBatch> {
    let mut streams: Vec<StreamAppend> = Vec::new();
    let mut lines_of: Vec<Vec<usize>> = Vec::new();
    for (i, line) in reader.split(b'\n').enumerate() {
        let number = i + 1;
        let origin = || Origin {
            file: name.to_owned(),
            line: number,
        };
        let bytes = line.map_err(|source| AppError::Io {
            context: format!("reading {name}"),
            source,
        })?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| AppError::input(origin(), None, format!("not UTF-8 text ({e})")))?;
        if text.trim().is_empty() {
            continue;
        }
        let parsed: InputLine = serde_json::from_str(text)
            .map_err(|e| AppError::input(origin(), None, e.to_string()))?;
        let stream = StreamId::parse(&parsed.stream_id)
            .map_err(|e| AppError::input(origin(), Some("stream_id"), e.to_string()))?;
        let expected = expected_from(parsed.expected_version)
            .map_err(|e| AppError::input(origin(), Some("expected_version"), e))?;
        if !allow_foreign_types
            && opsledger_domain::codec::current_schema_version(&parsed.event_type).is_none()
        {
            return Err(AppError::input(
                origin(),
                Some("event_type"),
                format!(
                    "{:?} is not an event type opsledger knows (pass --allow-foreign-types to record facts from other systems)",
                    parsed.event_type
                ),
            ));
        }
        envelopes::check_known_payload(&parsed.event_type, parsed.schema_version, &parsed.data)
            .map_err(|e| AppError::input(origin(), Some("data"), e.to_string()))?;
        let event = NewEvent {
            event_id: parsed.event_id,
            event_type: parsed.event_type,
            schema_version: parsed.schema_version,
            client_id: parsed.client_id,
            occurred_at: parsed.occurred_at,
            data: parsed.data,
            metadata: parsed.metadata,
        };
        match streams.iter().position(|s| s.stream_id == stream) {
            Some(k) => {
                streams[k].events.push(event);
                lines_of[k].push(number);
            }
            None => {
                streams.push(StreamAppend {
                    stream_id: stream,
                    expected_version: expected,
                    events: vec![event],
                });
                lines_of.push(vec![number]);
            }
        }
    }
    if streams.is_empty() {
        return Err(AppError::input(
            Origin {
                file: name.to_owned(),
                line: 0,
            },
            None,
            "no events in the input",
        ));
    }
    Ok(EnvelopeBatch {
        name: name.to_owned(),
        streams,
        lines: lines_of.into_iter().flatten().collect(),
    })
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Events newly recorded.
    pub recorded: usize,
    /// Events that were already recorded (idempotent replays).
    pub already_recorded: usize,
    /// Streams the batch touched.
    pub streams: usize,
}

/// Appends the batch atomically. An event the store refuses is reported at its input line.
pub async fn append(store: &Arc<dyn EventStore>, batch: EnvelopeBatch) -> AppResult<Appended> {
    let EnvelopeBatch {
        name,
        streams,
        lines,
    } = batch;
    match store.append_batch(streams).await {
        Ok(outcomes) => {
            let recorded: usize = outcomes
                .iter()
                .filter(|o| !o.idempotent_replay)
                .map(|o| o.positions.len())
                .sum();
            let total: usize = outcomes.iter().map(|o| o.positions.len()).sum();
            Ok(Appended {
                recorded,
                already_recorded: total - recorded,
                streams: outcomes.len(),
            })
        }
        Err(StoreError::InvalidEvent {
            index,
            event_id,
            problem,
        }) => Err(AppError::input(
            Origin {
                file: name,
                line: lines.get(index).copied().unwrap_or(0),
            },
            None,
            format!("event {event_id}: {problem}"),
        )),
        Err(e) => Err(AppError::store_while(format!("appending {name}"), e)),
    }
}
