//! Fuzzes envelope validation: NDJSON append lines (the `opsledger append` input shape) parsed
//! with serde_json into `NewEvent`s, validated one by one with `NewEvent::prepare` and together
//! with `prepare_batch`. Nothing may panic.
//!
//! It also checks that canonical JSON is a fixed point: for any JSON value `x` that can be
//! canonicalised, `canonical(parse(canonical(x))) == canonical(x)`, and the `data` of every
//! prepared event is itself canonical. A hash is computed over canonical text, so a value
//! whose canonical text changes when read back would make a stored event unverifiable.
//!
//! Each line also goes through `canonical::parse_strict`, the store's parser for raw append
//! input: what it accepts, serde_json reads to the same value, and it canonicalises.

#![no_main]

use libfuzzer_sys::fuzz_target;
use opsledger_store::canonical::{parse_strict, to_canonical_string};
use opsledger_store::envelope::{
    prepare_batch, ExpectedVersion, NewEvent, StreamAppend, StreamId, MAX_EVENT_DATA_BYTES,
    MAX_EVENT_DATA_DEPTH,
};

/// Asserts that canonical text reads back to a value with the same canonical text.
fn assert_fixed_point(canonical: &str) {
    let back: serde_json::Value =
        serde_json::from_str(canonical).expect("canonical text is valid JSON");
    let again = to_canonical_string(&back, MAX_EVENT_DATA_DEPTH)
        .expect("canonical text reads back within the depth limit");
    assert_eq!(again, canonical, "canonicalisation is not idempotent");
}

fuzz_target!(|data: &[u8]| {
    let mut batch: Vec<StreamAppend> = Vec::new();
    for (index, line) in data.split(|b| *b == b'\n').enumerate() {
        if let Ok(text) = std::str::from_utf8(line) {
            if let Ok(strict) = parse_strict(text) {
                let loose: serde_json::Value =
                    serde_json::from_str(text).expect("strict JSON is JSON");
                assert_eq!(strict, loose, "strict and serde_json parsing disagree");
                if let Ok(canonical) = to_canonical_string(&strict, MAX_EVENT_DATA_DEPTH) {
                    assert_fixed_point(&canonical);
                }
            }
        }
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if let Ok(canonical) = to_canonical_string(&value, MAX_EVENT_DATA_DEPTH) {
            assert_fixed_point(&canonical);
        }
        let direct = serde_json::from_slice::<NewEvent>(line);
        let Ok(event) = serde_json::from_value::<NewEvent>(value.clone()) else {
            continue;
        };
        if let Ok(direct) = direct {
            assert_eq!(direct, event, "parsing text and parsing a value disagree");
        }
        if let Ok(prepared) = event.prepare(index) {
            assert!(prepared.data.len() <= MAX_EVENT_DATA_BYTES);
            assert_fixed_point(&prepared.data);
        }
        let stream_id = value
            .get("stream_id")
            .and_then(serde_json::Value::as_str)
            .and_then(|s| StreamId::parse(s).ok())
            .unwrap_or_else(|| StreamId::parse("call-fuzz").expect("a valid stream id"));
        match batch.iter_mut().find(|s| s.stream_id == stream_id) {
            Some(stream) => stream.events.push(event),
            None => batch.push(StreamAppend {
                stream_id,
                expected_version: ExpectedVersion::Any,
                events: vec![event],
            }),
        }
    }
    if let Ok(prepared) = prepare_batch(&batch) {
        for stream in &prepared {
            for event in &stream.events {
                assert_fixed_point(&event.data);
            }
        }
    }
});
