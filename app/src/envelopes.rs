//! The seam between the store's envelopes and the domain's events: streams and payload checks.
//! Encoding for appends and decoding for reads go through [`crate::crypto::Sealer`], which seals
//! and opens the personal fields on the way.

use opsledger_domain::codec;
use opsledger_domain::events::DomainEvent;
use opsledger_store::StreamId;

use crate::error::{AppError, AppResult};

/// The stream a domain event belongs to.
pub fn stream_of(event: &DomainEvent) -> AppResult<StreamId> {
    let raw = event.stream_id();
    StreamId::parse(&raw)
        .map_err(|e| AppError::store_while(format!("the domain named stream {raw:?}"), e))
}

/// Refuses an envelope that claims a domain event type but does not hold a valid payload of
/// it: such an event would be recorded forever and break every projection. Types the domain
/// does not know are foreign facts and pass.
pub fn check_known_payload(
    event_type: &str,
    schema_version: u32,
    data: &serde_json::Value,
) -> Result<(), codec::DecodeError> {
    if codec::current_schema_version(event_type).is_none() {
        return Ok(());
    }
    codec::decode(event_type, schema_version, data).map(|_| ())
}
