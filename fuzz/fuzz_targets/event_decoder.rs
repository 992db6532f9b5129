//! Fuzzes the event codec: bytes read as (event type, schema version, JSON text) go through
//! `codec::decode_str` and, when the text is JSON, `codec::decode`. Neither may panic.
//!
//! Input layout: the first byte picks a known event type (`EVENT_TYPES[b % len]`), except 255,
//! which takes the type name from the text up to the first newline (mostly unknown types).
//! The second byte picks the schema version (0, 1, 2, 3, or `u32::MAX` for 255). The rest is
//! the payload text, decoded lossily as UTF-8.
//!
//! Both functions promise the same event for the same input, so when both succeed they must
//! agree; and for canonical text (what the store actually holds) they must also agree on
//! whether the payload is valid.

#![no_main]

use libfuzzer_sys::fuzz_target;
use opsledger_domain::codec::{decode, decode_str};
use opsledger_domain::events::EVENT_TYPES;
use opsledger_store::canonical::to_canonical_string;
use opsledger_store::envelope::MAX_EVENT_DATA_DEPTH;

fuzz_target!(|data: &[u8]| {
    let [type_byte, version_byte, rest @ ..] = data else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (event_type, payload): (&str, &str) = if *type_byte == 255 {
        text.split_once('\n').unwrap_or((&text, ""))
    } else {
        let info = &EVENT_TYPES[usize::from(*type_byte) % EVENT_TYPES.len()];
        (info.event_type, &text)
    };
    let schema_version = match version_byte {
        255 => u32::MAX,
        b => u32::from(b % 4),
    };
    let from_text = decode_str(event_type, schema_version, payload);
    let Ok(value) = serde_json::from_str::<serde_json::Value>(payload) else {
        return;
    };
    let from_value = decode(event_type, schema_version, &value);
    if let (Ok(a), Ok(b)) = (&from_text, &from_value) {
        assert_eq!(a, b, "decode_str and decode disagree on the event");
    }
    if let Ok(canonical) = to_canonical_string(&value, MAX_EVENT_DATA_DEPTH) {
        if canonical == payload {
            assert_eq!(
                from_text.is_ok(),
                from_value.is_ok(),
                "decode_str and decode disagree on canonical text: {from_text:?} / {from_value:?}"
            );
        }
    }
});
