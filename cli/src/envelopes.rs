//! The seam between the store's envelopes and the domain's events: encoding for appends,
//! decoding (with upcasting) for projections and timelines.

use anyhow::Context;
use opsledger_domain::codec;
use opsledger_domain::events::DomainEvent;
use opsledger_projections::PositionedEvent;
use opsledger_store::{Metadata, NewEvent, RecordedEvent, StreamId};
use uuid::Uuid;

/// The envelope for a domain event: its stable type name, schema version and JSON payload,
/// its client and the instant it occurred.
pub fn to_new_event(event_id: Uuid, event: &DomainEvent, metadata: Metadata) -> NewEvent {
    let (event_type, schema_version, data) = codec::encode(event);
    NewEvent {
        event_id,
        event_type: event_type.to_owned(),
        schema_version,
        client_id: Some(event.client_id().to_owned()),
        occurred_at: event.occurred_at(),
        data,
        metadata,
    }
}

/// The stream a domain event belongs to.
pub fn stream_of(event: &DomainEvent) -> anyhow::Result<StreamId> {
    let raw = event.stream_id();
    StreamId::parse(&raw).with_context(|| format!("the domain named stream {raw:?}"))
}

/// Decodes a recorded envelope into the domain event it holds, upcasting old schema versions.
pub fn decode(recorded: &RecordedEvent) -> anyhow::Result<DomainEvent> {
    let data: serde_json::Value = serde_json::from_str(&recorded.data)
        .with_context(|| format!("position {}: data is not JSON", recorded.global_position))?;
    codec::decode(&recorded.event_type, recorded.schema_version, &data).with_context(|| {
        format!(
            "position {} ({} v{})",
            recorded.global_position, recorded.event_type, recorded.schema_version
        )
    })
}

/// A recorded envelope as the projections consume it; `None` for a foreign fact (an event type
/// the domain does not know), which the ledger keeps and verifies but does not project.
pub fn positioned(recorded: &RecordedEvent) -> anyhow::Result<Option<PositionedEvent>> {
    if codec::current_schema_version(&recorded.event_type).is_none() {
        return Ok(None);
    }
    Ok(Some(PositionedEvent {
        position: recorded.global_position,
        event_id: recorded.event_id,
        recorded_at: recorded.recorded_at,
        event: decode(recorded)?,
    }))
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
