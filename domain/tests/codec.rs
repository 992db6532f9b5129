//! The permanent event format: type names, versions, streams, personal fields, upcasting.

mod support;

use opsledger_domain::agreement::Tier;
use opsledger_domain::codec::{
    decode, decode_with, encode, personal_fields, DecodeError, Upcaster,
};
use opsledger_domain::events::{
    CallDocumented, CommunicationAnswered, CommunicationSent, DocumentedFields, DomainEvent,
    EscalationOpened, SopAmendmentPublished, Urgency, EVENT_TYPES,
};
use opsledger_domain::ids::{CommunicationId, EscalationId, SopAmendmentId};
use serde_json::{json, Value};
use support::*;

fn samples() -> Vec<DomainEvent> {
    vec![
        onboarded(Tier::Enterprise),
        connected("c1", "2024-03-04T15:00:00Z"),
        answered("c1", "2024-03-04T15:00:05Z"),
        completed("c1", "2024-03-04T15:01:00Z"),
        CallDocumented {
            client_id: client(),
            call_id: call("c1"),
            at: t("2024-03-04T15:02:00Z"),
            agent_id: agent("a1"),
            caller_name: Some("Jo".to_owned()),
            caller_contact: None,
            nature_of_call: Some("leak".to_owned()),
            action_taken: Some("dispatched".to_owned()),
            fields_present: DocumentedFields {
                caller_name: true,
                caller_contact: false,
                nature_of_call: true,
                action_taken: true,
            },
        }
        .into(),
        EscalationOpened {
            client_id: client(),
            escalation_id: EscalationId::new("e1").unwrap(),
            call_id: Some(call("c1")),
            at: t("2024-03-04T15:02:00Z"),
            urgency: Urgency::Urgent,
            summary: None,
        }
        .into(),
        invoice(
            "inv-1",
            "2024-03-01T12:00:00Z",
            d(2024, 3, 1),
            d(2024, 3, 15),
            100,
        ),
        CommunicationSent {
            client_id: client(),
            communication_id: CommunicationId::new("m1").unwrap(),
            at: t("2024-03-04T16:00:00Z"),
            affects: vec![opsledger_domain::rules::RuleId::Doc2],
            subject: Some("where should call notes go?".to_owned()),
        }
        .into(),
        CommunicationAnswered {
            client_id: client(),
            communication_id: CommunicationId::new("m1").unwrap(),
            at: t("2024-03-05T09:00:00Z"),
        }
        .into(),
        SopAmendmentPublished {
            amendment_id: SopAmendmentId::new("s1").unwrap(),
            at: t("2024-03-01T00:00:00Z"),
            effective_at: t("2024-03-20T00:00:00Z"),
            material: true,
            changes: vec![],
            summary: "x".to_owned(),
        }
        .into(),
    ]
}

#[test]
fn samples_round_trip_through_the_codec() {
    for event in samples() {
        let (event_type, version, data) = encode(&event);
        assert!(data.is_object());
        assert_eq!(version, 1);
        let back = decode(event_type, version, &data).unwrap();
        assert_eq!(back, event);
        // The text fast path used by rebuilds decodes to the same event.
        let text = serde_json::to_string(&data).unwrap();
        assert_eq!(
            opsledger_domain::codec::decode_str(event_type, version, &text).unwrap(),
            event
        );
    }
}

#[test]
fn type_names_are_dotted_lowercase_unique_and_categories_are_lowercase_letters() {
    let mut names: Vec<&str> = EVENT_TYPES.iter().map(|t| t.event_type).collect();
    for info in EVENT_TYPES {
        let (area, fact) = info.event_type.split_once('.').expect("area.fact");
        assert!(
            area.chars().all(|c| c.is_ascii_lowercase()),
            "{}",
            info.event_type
        );
        assert!(
            fact.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{}",
            info.event_type
        );
        assert!(!info.stream_category.is_empty());
        assert!(info.stream_category.chars().all(|c| c.is_ascii_lowercase()));
        assert!(info.schema_version >= 1);
        for pointer in info.personal_fields {
            assert!(pointer.starts_with('/'), "{pointer}");
        }
    }
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count, "duplicate event type names");
    // 52 since `client.communication_sent` and `client.communication_answered` (issue 16).
    assert_eq!(count, 52);
}

#[test]
fn routing_ids_and_stream_names() {
    let e = connected("c1", "2024-03-04T15:00:00Z");
    assert_eq!(e.stream_id(), "call-c1");
    assert_eq!(e.client_id(), "acme");
    assert_eq!(e.occurred_at(), t("2024-03-04T15:00:00Z"));
    assert_eq!(onboarded(Tier::Essential).stream_id(), "client-acme");
    assert_eq!(
        invoice(
            "inv-1",
            "2024-03-01T12:00:00Z",
            d(2024, 3, 1),
            d(2024, 3, 15),
            1
        )
        .stream_id(),
        "invoice-inv-1"
    );
}

fn resolve<'a>(value: &'a Value, pointer: &str) -> Vec<&'a Value> {
    // Expands `*` over arrays, so each personal pointer can be checked against real JSON.
    let mut current = vec![value];
    for part in pointer.trim_start_matches('/').split('/') {
        let mut next = Vec::new();
        for v in current {
            if part == "*" {
                if let Some(items) = v.as_array() {
                    next.extend(items.iter());
                }
            } else if let Some(child) = v.get(part) {
                next.push(child);
            }
        }
        current = next;
    }
    current
}

#[test]
fn personal_fields_point_at_real_fields_and_are_nullable() {
    for event in samples() {
        let (event_type, _, data) = encode(&event);
        let pointers = personal_fields(event_type).unwrap();
        for pointer in pointers {
            let found = resolve(&data, pointer);
            assert!(
                !found.is_empty() || data.pointer(pointer).is_some(),
                "{event_type}: {pointer} not found in {data}"
            );
            for v in &found {
                assert!(
                    v.is_string() || v.is_null(),
                    "{event_type}: {pointer} is not text"
                );
            }
        }
        // Shredding (personal fields replaced by null) must still decode.
        let mut shredded = data.clone();
        for pointer in pointers {
            let paths: Vec<String> = if pointer.contains('*') {
                let (head, tail) = pointer.split_once("/*").unwrap();
                let len = shredded
                    .pointer(head)
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                (0..len).map(|i| format!("{head}/{i}{tail}")).collect()
            } else {
                vec![(*pointer).to_owned()]
            };
            for p in paths {
                if let Some(slot) = shredded.pointer_mut(&p) {
                    *slot = Value::Null;
                }
            }
        }
        decode(event_type, 1, &shredded).unwrap();
    }
    assert_eq!(
        personal_fields("call.connected"),
        Some(&["/caller_number"][..])
    );
    assert_eq!(personal_fields("no.such"), None);
}

#[test]
fn unknown_types_and_future_versions_are_typed_errors() {
    let data = json!({});
    assert!(matches!(
        decode("call.teleported", 1, &data),
        Err(DecodeError::UnknownEventType(_))
    ));
    assert!(matches!(
        decode("call.connected", 2, &data),
        Err(DecodeError::FutureSchemaVersion {
            found: 2,
            current: 1,
            ..
        })
    ));
    assert!(matches!(
        decode("call.connected", 0, &data),
        Err(DecodeError::MissingUpcaster {
            from_version: 0,
            ..
        })
    ));
    assert!(matches!(
        decode("call.connected", 1, &data),
        Err(DecodeError::InvalidPayload { .. })
    ));
}

fn connected_v0_to_v1(mut v: Value) -> Result<Value, String> {
    // Synthetic history: version 0 named the instant `connected_at` and had no queue.
    let obj = v.as_object_mut().ok_or("not an object")?;
    let at = obj.remove("connected_at").ok_or("connected_at missing")?;
    obj.insert("at".to_owned(), at);
    obj.entry("queue").or_insert(Value::Null);
    obj.entry("caller_number").or_insert(Value::Null);
    Ok(v)
}

#[test]
fn upcasters_lift_old_versions_step_by_step() {
    let upcasters = [Upcaster {
        event_type: "call.connected",
        from_version: 0,
        upcast: connected_v0_to_v1,
    }];
    let v0 = json!({"client_id": "acme", "call_id": "c1", "connected_at": "2024-03-04T15:00:00Z"});
    let event = decode_with(&upcasters, "call.connected", 0, &v0).unwrap();
    assert_eq!(event.stream_id(), "call-c1");
    assert_eq!(event.occurred_at(), t("2024-03-04T15:00:00Z"));
    let broken = json!({"client_id": "acme", "call_id": "c1"});
    assert!(matches!(
        decode_with(&upcasters, "call.connected", 0, &broken),
        Err(DecodeError::UpcastFailed { .. })
    ));
}

#[test]
fn payloads_serialize_with_snake_case_fields() {
    let (_, _, data) = encode(&invoice(
        "inv-1",
        "2024-03-01T12:00:00Z",
        d(2024, 3, 1),
        d(2024, 3, 15),
        100,
    ));
    assert_eq!(
        data["total"],
        json!({"amount_minor": 100, "currency": "USD"})
    );
    assert_eq!(data["due_date"], json!("2024-03-15"));
    assert_eq!(data["final_invoice"], json!(false));
}

#[test]
fn an_agreement_without_a_client_name_keeps_its_recorded_bytes() {
    // Agreements recorded before the name existed have no such key: they must decode, and
    // encode again without gaining one, or their hashes would no longer match.
    let unnamed = agreement(Tier::Professional);
    let value = serde_json::to_value(&unnamed).unwrap();
    assert!(value.get("client_name").is_none(), "{value}");
    let back: opsledger_domain::agreement::ServiceAgreement =
        serde_json::from_value(value).unwrap();
    assert_eq!(back, unnamed);
    let mut named = unnamed;
    named.client_name = Some("Acme Family Dental".to_owned());
    let value = serde_json::to_value(&named).unwrap();
    assert_eq!(value["client_name"], "Acme Family Dental");
    let back: opsledger_domain::agreement::ServiceAgreement =
        serde_json::from_value(value).unwrap();
    assert_eq!(back, named);
}
