//! The event envelope: what the store records around every event, and the rules for valid input.
//!
//! The store knows envelopes, never domain types: `data` is an opaque JSON object to it.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::canonical;
use crate::error::{InvalidEvent, StoreError};
use crate::hash::Hash;

/// Longest stream id, in bytes. Stream ids are keys in every index; keep them short.
pub const MAX_STREAM_ID_BYTES: usize = 200;
/// Longest event type name, in bytes.
pub const MAX_EVENT_TYPE_BYTES: usize = 100;
/// Longest client id, in bytes.
pub const MAX_CLIENT_ID_BYTES: usize = 128;
/// Longest actor or source string in metadata, in bytes.
pub const MAX_METADATA_TEXT_BYTES: usize = 256;
/// Largest canonical `data` document, in bytes. Events are facts, not file uploads.
pub const MAX_EVENT_DATA_BYTES: usize = 256 * 1024;
/// Deepest nesting of objects and arrays accepted in `data`.
pub const MAX_EVENT_DATA_DEPTH: usize = 32;
/// Most events accepted in one append call (all streams of a batch together).
pub const MAX_EVENTS_PER_APPEND: usize = 100_000;
/// Largest schema version accepted: PostgreSQL keeps it in an `integer` column.
pub const MAX_SCHEMA_VERSION: u32 = 0x7fff_ffff;
/// Earliest and latest year an `occurred_at` may name; outside them a time is a typo.
pub const MIN_YEAR: i32 = 1970;
pub const MAX_YEAR: i32 = 9999;

/// A stream name of the form `category-id`: the category is lowercase ASCII letters, digits or
/// `_` starting with a letter; the id is any non-empty printable text without whitespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamId(String);

impl StreamId {
    pub fn parse(raw: &str) -> Result<Self, StoreError> {
        let invalid = |reason: &'static str| StoreError::InvalidStreamId {
            stream_id: raw.chars().take(MAX_STREAM_ID_BYTES).collect(),
            reason,
        };
        if raw.is_empty() {
            return Err(invalid("is empty"));
        }
        if raw.len() > MAX_STREAM_ID_BYTES {
            return Err(invalid("is longer than 200 bytes"));
        }
        let Some((category, id)) = raw.split_once('-') else {
            return Err(invalid("has no '-' between category and id"));
        };
        let mut chars = category.chars();
        if !chars.next().is_some_and(|c| c.is_ascii_lowercase()) {
            return Err(invalid("category must start with a lowercase letter"));
        }
        if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(invalid("category may hold only a-z, 0-9 and _"));
        }
        if id.is_empty() {
            return Err(invalid("id after the category is empty"));
        }
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("id holds whitespace or control characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A stream id for `category` and `id`, validated like [`StreamId::parse`].
    pub fn new(category: &str, id: &str) -> Result<Self, StoreError> {
        Self::parse(&format!("{category}-{id}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the first `-`.
    pub fn category(&self) -> &str {
        self.0.split_once('-').map_or("", |(category, _)| category)
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for StreamId {
    type Error = StoreError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<StreamId> for String {
    fn from(value: StreamId) -> Self {
        value.0
    }
}

/// Who and what caused an event; recorded and hashed with it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Groups every event of one business transaction (an import run, a dispute, a call).
    pub correlation_id: Option<Uuid>,
    /// The event or command that directly caused this one.
    pub causation_id: Option<Uuid>,
    /// The person or job that recorded it.
    pub actor: Option<String>,
    /// The system the fact came from (`asterisk-queue-log`, `opsledger-cli`, …).
    pub source: Option<String>,
}

/// An event as a caller hands it to `append`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u32,
    /// The client (tenant) the event belongs to; `None` for agency-wide facts.
    pub client_id: Option<String>,
    /// When it happened in the world.
    pub occurred_at: DateTime<Utc>,
    /// A JSON object; the store canonicalises it before hashing and storing. Read from text,
    /// an object naming a key twice or a number that cannot be kept exactly is refused
    /// ([`canonical::parse_strict`]'s rules), never silently resolved.
    #[serde(deserialize_with = "canonical::deserialize_strict")]
    pub data: serde_json::Value,
    #[serde(default)]
    pub metadata: Metadata,
}

/// One stream's part of an append.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamAppend {
    pub stream_id: StreamId,
    pub expected_version: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

/// The optimistic-concurrency precondition of an append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// No precondition.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last version must be exactly this.
    Exact(u64),
    /// The stream must already hold at least one event.
    StreamExists,
}

impl std::fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::NoStream => f.write_str("no stream"),
            Self::Exact(v) => write!(f, "version {v}"),
            Self::StreamExists => f.write_str("stream exists"),
        }
    }
}

/// What an append recorded for one stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendOutcome {
    pub stream_id: StreamId,
    /// Global positions of the stream's events, in order.
    pub positions: Vec<u64>,
    /// The stream's last version after the append.
    pub last_version: u64,
    /// True when every event was already recorded with identical content: nothing was written.
    pub idempotent_replay: bool,
}

/// An event as the ledger recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedEvent {
    pub global_position: u64,
    pub event_id: Uuid,
    pub stream_id: StreamId,
    pub stream_version: u64,
    pub event_type: String,
    pub schema_version: u32,
    pub client_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// The canonical JSON text of the data, byte for byte what was hashed.
    pub data: String,
    pub metadata: Metadata,
    pub prev_hash: Hash,
    pub hash: Hash,
}

impl RecordedEvent {
    /// Parses `data` into a JSON value.
    pub fn data_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(&self.data)
    }

    /// True when `other` records the same fact: everything a caller supplied is equal.
    /// Positions, versions, `recorded_at` and hashes are the ledger's, not the caller's.
    pub fn same_content_as(&self, stream_id: &StreamId, other: &PreparedEvent) -> bool {
        self.event_id == other.event_id
            && &self.stream_id == stream_id
            && self.event_type == other.event_type
            && self.schema_version == other.schema_version
            && self.client_id == other.client_id
            && self.occurred_at == other.occurred_at
            && self.data == other.data
            && self.metadata == other.metadata
    }
}

/// The last recorded event's position and hash: what an auditor writes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub position: u64,
    pub hash: Hash,
    pub recorded_at: DateTime<Utc>,
}

/// A validated event with canonical data, ready to be positioned and hashed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u32,
    pub client_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub data: String,
    pub metadata: Metadata,
}

/// A validated stream append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedAppend {
    pub stream_id: StreamId,
    pub expected_version: ExpectedVersion,
    pub events: Vec<PreparedEvent>,
}

/// Truncates to whole microseconds: both backends store microseconds, and a hash must be
/// recomputable from what is read back.
pub fn to_micros_precision(t: DateTime<Utc>) -> DateTime<Utc> {
    let micros = t.timestamp_micros();
    Utc.timestamp_micros(micros)
        .single()
        .expect("a timestamp's own microseconds are in range")
}

impl NewEvent {
    /// Validates the event and canonicalises its data. `index` is its place in the append.
    pub fn prepare(&self, index: usize) -> Result<PreparedEvent, StoreError> {
        let invalid = |problem: InvalidEvent| StoreError::InvalidEvent {
            index,
            event_id: self.event_id,
            problem,
        };
        if self.event_id.is_nil() {
            return Err(invalid(InvalidEvent::NilEventId));
        }
        validate_event_type(&self.event_type).map_err(invalid)?;
        if self.schema_version == 0 {
            return Err(invalid(InvalidEvent::SchemaVersionZero));
        }
        if self.schema_version > MAX_SCHEMA_VERSION {
            // Refused here, on both backends, so that the PostgreSQL writer never meets a
            // version its `integer` column cannot hold.
            return Err(invalid(InvalidEvent::SchemaVersionTooLarge {
                version: self.schema_version,
                limit: MAX_SCHEMA_VERSION,
            }));
        }
        if let Some(client) = &self.client_id {
            if client.is_empty()
                || client.len() > MAX_CLIENT_ID_BYTES
                || client.chars().any(|c| c.is_control())
            {
                return Err(invalid(InvalidEvent::ClientId));
            }
        }
        let year = self.occurred_at.year();
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return Err(invalid(InvalidEvent::OccurredAtOutOfRange { year }));
        }
        for (field, text) in [
            ("actor", &self.metadata.actor),
            ("source", &self.metadata.source),
        ] {
            if let Some(text) = text {
                if text.len() > MAX_METADATA_TEXT_BYTES || text.chars().any(|c| c.is_control()) {
                    return Err(invalid(InvalidEvent::MetadataText { field }));
                }
            }
        }
        if !self.data.is_object() {
            return Err(invalid(InvalidEvent::DataNotObject));
        }
        let data = canonical::to_canonical_string(&self.data, MAX_EVENT_DATA_DEPTH)
            .map_err(|e| invalid(InvalidEvent::Data(e)))?;
        if data.len() > MAX_EVENT_DATA_BYTES {
            return Err(invalid(InvalidEvent::DataTooLarge {
                bytes: data.len(),
                limit: MAX_EVENT_DATA_BYTES,
            }));
        }
        Ok(PreparedEvent {
            event_id: self.event_id,
            event_type: self.event_type.clone(),
            schema_version: self.schema_version,
            client_id: self.client_id.clone(),
            occurred_at: to_micros_precision(self.occurred_at),
            data,
            metadata: self.metadata.clone(),
        })
    }
}

fn validate_event_type(event_type: &str) -> Result<(), InvalidEvent> {
    let ok = !event_type.is_empty()
        && event_type.len() <= MAX_EVENT_TYPE_BYTES
        && event_type.starts_with(|c: char| c.is_ascii_alphabetic())
        && event_type
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(InvalidEvent::EventType)
    }
}

/// Validates a whole append: every stream id, every event, no event id twice.
pub fn prepare_batch(batch: &[StreamAppend]) -> Result<Vec<PreparedAppend>, StoreError> {
    if batch.is_empty() {
        return Err(StoreError::EmptyAppend);
    }
    let total: usize = batch.iter().map(|s| s.events.len()).sum();
    if total > MAX_EVENTS_PER_APPEND {
        return Err(StoreError::AppendTooLarge {
            events: total,
            limit: MAX_EVENTS_PER_APPEND,
        });
    }
    let mut seen = std::collections::HashSet::with_capacity(total);
    let mut index = 0usize;
    let mut prepared = Vec::with_capacity(batch.len());
    for stream in batch {
        if stream.events.is_empty() {
            return Err(StoreError::EmptyAppend);
        }
        let mut events = Vec::with_capacity(stream.events.len());
        for event in &stream.events {
            if !seen.insert(event.event_id) {
                return Err(StoreError::InvalidEvent {
                    index,
                    event_id: event.event_id,
                    problem: InvalidEvent::EventIdRepeatedInAppend,
                });
            }
            events.push(event.prepare(index)?);
            index += 1;
        }
        prepared.push(PreparedAppend {
            stream_id: stream.stream_id.clone(),
            expected_version: stream.expected_version,
            events,
        });
    }
    Ok(prepared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_are_category_dash_id() {
        let s = StreamId::parse("call-1658129428.1048").unwrap();
        assert_eq!(s.category(), "call");
        assert!(StreamId::parse("client-acme-east").is_ok());
        assert_eq!(
            StreamId::parse("client-acme-east").unwrap().category(),
            "client"
        );
        for bad in [
            "", "call", "call-", "Call-1", "1call-2", "ca ll-1", "call-a b",
        ] {
            assert!(StreamId::parse(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(StreamId::parse(&format!("call-{}", "x".repeat(300))).is_err());
    }

    fn event() -> NewEvent {
        NewEvent {
            event_id: Uuid::from_u128(1),
            event_type: "call.connected".into(),
            schema_version: 1,
            client_id: Some("acme".into()),
            occurred_at: Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 0).unwrap(),
            data: serde_json::json!({"b": 1, "a": [true, null]}),
            metadata: Metadata::default(),
        }
    }

    #[test]
    fn prepare_canonicalises_data() {
        let p = event().prepare(0).unwrap();
        assert_eq!(p.data, r#"{"a":[true,null],"b":1}"#);
    }

    #[test]
    fn prepare_refuses_bad_events_with_the_field_named() {
        let mut e = event();
        e.data = serde_json::json!([1]);
        assert!(matches!(
            e.prepare(3),
            Err(StoreError::InvalidEvent {
                index: 3,
                problem: InvalidEvent::DataNotObject,
                ..
            })
        ));
        let mut e = event();
        e.schema_version = 0;
        assert!(matches!(
            e.prepare(0),
            Err(StoreError::InvalidEvent {
                problem: InvalidEvent::SchemaVersionZero,
                ..
            })
        ));
        for version in [MAX_SCHEMA_VERSION + 1, u32::MAX] {
            let mut e = event();
            e.schema_version = version;
            assert!(
                matches!(
                    e.prepare(0),
                    Err(StoreError::InvalidEvent {
                        problem: InvalidEvent::SchemaVersionTooLarge { .. },
                        ..
                    })
                ),
                "{version}"
            );
        }
        let mut e = event();
        e.schema_version = MAX_SCHEMA_VERSION;
        assert!(e.prepare(0).is_ok());
        let mut e = event();
        e.occurred_at = Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).unwrap();
        assert!(matches!(
            e.prepare(0),
            Err(StoreError::InvalidEvent {
                problem: InvalidEvent::OccurredAtOutOfRange { year: 1900 },
                ..
            })
        ));
        let mut e = event();
        e.data = serde_json::json!({"blob": "x".repeat(MAX_EVENT_DATA_BYTES)});
        assert!(matches!(
            e.prepare(0),
            Err(StoreError::InvalidEvent {
                problem: InvalidEvent::DataTooLarge { .. },
                ..
            })
        ));
        let mut e = event();
        e.event_type = "bad type".into();
        assert!(e.prepare(0).is_err());
    }

    #[test]
    fn an_envelope_read_from_text_refuses_repeated_keys_and_inexact_numbers() {
        let line = |data: &str| {
            format!(
                r#"{{"event_id":"00000000-0000-0000-0000-000000000001","event_type":"x.y","schema_version":1,"client_id":null,"occurred_at":"2026-10-01T09:00:00Z","data":{data}}}"#
            )
        };
        assert!(serde_json::from_str::<NewEvent>(&line(r#"{"a":1}"#)).is_ok());
        let err = serde_json::from_str::<NewEvent>(&line(r#"{"name":"x","name":"y"}"#))
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"name\" appears twice"), "{err}");
        let err = serde_json::from_str::<NewEvent>(&line(r#"{"n":99999999999999999999999}"#))
            .unwrap_err()
            .to_string();
        assert!(err.contains("$.n"), "{err}");
        // A value built in code reaches `prepare`, which refuses the inexact number by path.
        let mut e = event();
        e.data = serde_json::from_str(r#"{"n":[99999999999999999999999]}"#).unwrap();
        assert!(matches!(
            e.prepare(0),
            Err(StoreError::InvalidEvent {
                problem: InvalidEvent::Data(canonical::CanonicalError::InexactNumber { ref path }),
                ..
            }) if path == "$.n[0]"
        ));
    }

    #[test]
    fn a_batch_may_not_repeat_an_event_id() {
        let s = StreamId::parse("call-1").unwrap();
        let batch = vec![StreamAppend {
            stream_id: s,
            expected_version: ExpectedVersion::Any,
            events: vec![event(), event()],
        }];
        assert!(matches!(
            prepare_batch(&batch),
            Err(StoreError::InvalidEvent {
                index: 1,
                problem: InvalidEvent::EventIdRepeatedInAppend,
                ..
            })
        ));
    }
}
