//! Fuzzes the Asterisk cdr_csv importer: any bytes, in both malformed-line modes, under a
//! server time zone chosen by the first byte (zones with DST gaps and half-hour shifts).
//!
//! Besides "never panics", it checks that skipping malformed records never fails, and that
//! re-importing with every call of the first import marked superseded yields no events.

#![no_main]

use std::collections::BTreeSet;

use chrono_tz::Tz;
use libfuzzer_sys::fuzz_target;
use opsledger_domain::ids::ClientId;
use opsledger_domain::import::cdr_csv::{call_ids_of, import, CdrOptions, CdrSource};
use opsledger_domain::import::queue_log::MalformedLines;

/// Zones with a DST gap and overlap, a southern-hemisphere DST, a half-hour DST and none.
const ZONES: [Tz; 5] = [
    chrono_tz::UTC,
    chrono_tz::Europe::Berlin,
    chrono_tz::America::Sao_Paulo,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Asia::Jerusalem,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let zone = ZONES[usize::from(selector) % ZONES.len()];
    let client_id = ClientId::new("fuzz").expect("a valid client id");
    let options = |malformed, superseded_calls| CdrOptions {
        client_id: client_id.clone(),
        server_zone: zone,
        malformed,
        superseded_calls,
    };
    let source = CdrSource {
        name: "Master.csv",
        bytes,
    };
    let _ = import(&source, &options(MalformedLines::Fail, BTreeSet::new()));
    let first = import(&source, &options(MalformedLines::Skip, BTreeSet::new()))
        .expect("skipping malformed records never fails");
    let superseded = call_ids_of(&first.events);
    let second = import(&source, &options(MalformedLines::Skip, superseded))
        .expect("skipping malformed records never fails");
    assert!(
        second.events.is_empty(),
        "every call is superseded, so no event is left"
    );
});
