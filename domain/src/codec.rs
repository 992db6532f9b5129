//! The permanent event format: encode, decode, upcast older schema versions, personal fields.
//!
//! Stored events are `(event_type, schema_version, data)`. Decoding an older version runs the
//! registered upcasters one version step at a time until the current version is reached, then
//! deserializes the typed payload. Unknown types and versions newer than this build are typed
//! errors, never guesses.

use serde_json::Value;
use thiserror::Error;

use crate::events::{decode_current, DomainEvent, EVENT_TYPES};

/// Why stored event data could not be decoded.
#[derive(Debug, Error)]
pub enum DecodeError {
    /// The type name is not one this build knows.
    #[error("unknown event type {0:?}")]
    UnknownEventType(String),
    /// The data was written by a newer build.
    #[error("{event_type} schema version {found} is newer than this build's {current}")]
    FutureSchemaVersion {
        /// Type.
        event_type: String,
        /// Stored version.
        found: u32,
        /// Newest version this build knows.
        current: u32,
    },
    /// No upcaster lifts this older version.
    #[error("{event_type} schema version {from_version} has no upcaster to version {}", from_version + 1)]
    MissingUpcaster {
        /// Type.
        event_type: String,
        /// The version with no step up.
        from_version: u32,
    },
    /// An upcaster refused the data.
    #[error("{event_type} upcast from version {from_version} failed: {reason}")]
    UpcastFailed {
        /// Type.
        event_type: String,
        /// The version being lifted.
        from_version: u32,
        /// Why.
        reason: String,
    },
    /// The data does not match the payload schema.
    #[error("{event_type} payload is invalid: {source}")]
    InvalidPayload {
        /// Type.
        event_type: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}

/// One step of schema evolution: lifts `event_type` data from `from_version` to the next version.
#[derive(Debug, Clone, Copy)]
pub struct Upcaster {
    /// Type it applies to.
    pub event_type: &'static str,
    /// The version it reads; it writes `from_version + 1`.
    pub from_version: u32,
    /// The transformation; an `Err` carries the reason.
    pub upcast: fn(Value) -> Result<Value, String>,
}

/// The upcasters of this build. Every type is at version 1, so none are needed yet; add one
/// entry per version step when a payload schema changes, and never edit a shipped one.
pub const UPCASTERS: &[Upcaster] = &[];

/// Encodes an event: its stable type name, its schema version and its JSON object.
pub fn encode(event: &DomainEvent) -> (&'static str, u32, Value) {
    (
        event.event_type(),
        event.schema_version(),
        event.payload_json(),
    )
}

/// Decodes stored data of any known schema version with this build's upcasters.
pub fn decode(
    event_type: &str,
    schema_version: u32,
    data: &Value,
) -> Result<DomainEvent, DecodeError> {
    decode_with(UPCASTERS, event_type, schema_version, data)
}

/// Decodes stored JSON text. A payload of the current schema version is deserialized straight
/// from the text; older versions are parsed and upcast as in [`decode`]. Both give the same
/// event for the same input.
pub fn decode_str(
    event_type: &str,
    schema_version: u32,
    text: &str,
) -> Result<DomainEvent, DecodeError> {
    let info = EVENT_TYPES
        .iter()
        .find(|t| t.event_type == event_type)
        .ok_or_else(|| DecodeError::UnknownEventType(event_type.to_owned()))?;
    if schema_version != info.schema_version {
        let value: Value =
            serde_json::from_str(text).map_err(|source| DecodeError::InvalidPayload {
                event_type: event_type.to_owned(),
                source,
            })?;
        return decode(event_type, schema_version, &value);
    }
    crate::events::decode_current_str(event_type, text)
        .expect("the type was found in EVENT_TYPES")
        .map_err(|source| DecodeError::InvalidPayload {
            event_type: event_type.to_owned(),
            source,
        })
}

/// Decodes with an explicit upcaster table (for tests and for tools that replay old formats).
pub fn decode_with(
    upcasters: &[Upcaster],
    event_type: &str,
    schema_version: u32,
    data: &Value,
) -> Result<DomainEvent, DecodeError> {
    let info = EVENT_TYPES
        .iter()
        .find(|t| t.event_type == event_type)
        .ok_or_else(|| DecodeError::UnknownEventType(event_type.to_owned()))?;
    if schema_version > info.schema_version {
        return Err(DecodeError::FutureSchemaVersion {
            event_type: event_type.to_owned(),
            found: schema_version,
            current: info.schema_version,
        });
    }
    let mut value = data.clone();
    let mut version = schema_version;
    while version < info.schema_version {
        let step = upcasters
            .iter()
            .find(|u| u.event_type == event_type && u.from_version == version)
            .ok_or_else(|| DecodeError::MissingUpcaster {
                event_type: event_type.to_owned(),
                from_version: version,
            })?;
        value = (step.upcast)(value).map_err(|reason| DecodeError::UpcastFailed {
            event_type: event_type.to_owned(),
            from_version: version,
            reason,
        })?;
        version += 1;
    }
    decode_current(event_type, value)
        .expect("the type was found in EVENT_TYPES")
        .map_err(|source| DecodeError::InvalidPayload {
            event_type: event_type.to_owned(),
            source,
        })
}

/// JSON pointers of the personal fields of an event type (`*` = every array element), or
/// `None` for a type this build does not know (a store must then refuse, not guess).
pub fn personal_fields(event_type: &str) -> Option<&'static [&'static str]> {
    EVENT_TYPES
        .iter()
        .find(|t| t.event_type == event_type)
        .map(|t| t.personal_fields)
}

/// The current schema version of an event type, if known.
pub fn current_schema_version(event_type: &str) -> Option<u32> {
    EVENT_TYPES
        .iter()
        .find(|t| t.event_type == event_type)
        .map(|t| t.schema_version)
}
