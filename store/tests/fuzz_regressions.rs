//! Inputs the `envelope` fuzz target (`fuzz/fuzz_targets/envelope.rs`) found, kept as tests.
//!
//! Canonical JSON must be a fixed point: reading canonical text back and canonicalising it
//! again must give the same bytes, or an event read back from the log and appended again (an
//! export re-imported, a retried append rebuilt from stored data) would no longer match what
//! was hashed. serde_json's default float parser may be off by one unit in the last place, so
//! a float printed in its shortest form could read back as a neighbouring float and print
//! differently. The store enables serde_json's `float_roundtrip` feature for that reason.
//!
//! Every one of these numbers is 2^53 or more in magnitude, which the store now refuses as
//! inexact (the first is an integer past u64::MAX that serde_json turned into a float): the
//! tests check that they are refused with the field named, and that the same digits at small
//! magnitudes (exponent negated) are still a fixed point.

use opsledger_store::canonical::{to_canonical_string, CanonicalError};
use opsledger_store::envelope::{NewEvent, MAX_EVENT_DATA_DEPTH};

/// Numbers from minimized fuzz crashes: the first is the raw minimized input, the others are
/// the canonical texts that did not survive a round trip.
const FLOATS: [&str; 8] = [
    "85555555555555555555555555555555555555555555555555558888",
    "8.888888888888889e+72",
    "1.1111111111111109e+44",
    "4.444444444450408e+23",
    "2.222222222222222e+44",
    "1.11111111111e+65",
    "2.2222222222222226e+42",
    "8.555555555555556e+55",
];

fn try_canonical(text: &str) -> Result<String, CanonicalError> {
    let value: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
    to_canonical_string(&value, MAX_EVENT_DATA_DEPTH)
}

fn canonical(text: &str) -> String {
    try_canonical(text).expect("shallow and exact")
}

/// The same digits at a small magnitude: `e+72` becomes `e-72`, and the integer becomes a
/// fraction.
fn small(text: &str) -> String {
    if text.contains('e') {
        text.replace("e+", "e-")
    } else {
        format!("0.{text}")
    }
}

#[test]
fn numbers_too_large_to_keep_exactly_are_refused_by_path() {
    for text in FLOATS {
        assert_eq!(
            try_canonical(&format!(r#"{{"amount":{{"due":[0,{text}]}}}}"#)),
            Err(CanonicalError::InexactNumber {
                path: "$.amount.due[1]".into()
            }),
            "{text}"
        );
    }
}

#[test]
fn canonical_floats_are_a_fixed_point() {
    for text in FLOATS.map(small) {
        let text = text.as_str();
        let once = canonical(text);
        assert_eq!(canonical(&once), once, "from {text}");
        let wrapped = canonical(&format!(r#"{{"amount":{text},"list":[{text}]}}"#));
        assert_eq!(canonical(&wrapped), wrapped, "from {text} inside data");
    }
}

#[test]
fn prepared_data_with_such_floats_reads_back_to_the_same_text() {
    for text in FLOATS.map(small) {
        let line = format!(
            r#"{{"event_id":"00000000-0000-0000-0000-000000000001","event_type":"foreign.fact","schema_version":1,"client_id":null,"occurred_at":"2026-10-01T09:00:00Z","data":{{"x":{text}}}}}"#
        );
        let event: NewEvent = serde_json::from_str(&line).expect("a valid envelope");
        let prepared = event.prepare(0).expect("a valid event");
        assert_eq!(canonical(&prepared.data), prepared.data, "from {text}");
    }
}
