//! The mapped call-record CSV importer: the shipped Anonymous Bank mapping on a hand-written
//! sample, a comma-separated export mapped by index, and malformed rows.
//!
//! `fixtures/anonymous_bank_sample.txt` was written by hand following FORMATS.md §4 (there is
//! no real Anonymous Bank file in `shared/data`): 12 rows on 12–13 January 1999 (Israel
//! standard time, UTC+2) with a queue wait of 8 s, one of 0 s, a HANG after 52 s, a PHANTOM, a
//! VRU-only HANG (q_start 0:00:00), a call served straight from the VRU (q_start 0:00:00,
//! AGENT), a wait crossing midnight (q_start 23:59:52, ser_start 0:00:47), a call whose VRU
//! stage crosses midnight (vru_entry 23:59:55, q_start 0:00:04), NO_SERVER on every HANG and
//! PHANTOM, and single-digit hours.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use opsledger_domain::events::{AbandonReason, DomainEvent};
use opsledger_domain::ids::ClientId;
use opsledger_domain::import::csv_mapping::{
    anonymous_bank, import, parse_mapping, CsvImport, CsvImportError, CsvMapping, CsvOptions,
    CsvSource, MappingError, RowError,
};
use opsledger_domain::import::queue_log::MalformedLines;

const SAMPLE: &str = include_str!("fixtures/anonymous_bank_sample.txt");

fn options(malformed: MalformedLines) -> CsvOptions {
    CsvOptions {
        client_id: ClientId::new("bank").unwrap(),
        malformed,
    }
}

fn run(
    bytes: &[u8],
    mapping: &CsvMapping,
    malformed: MalformedLines,
) -> Result<CsvImport, CsvImportError> {
    import(
        &CsvSource {
            name: "sample.txt",
            bytes,
        },
        mapping,
        &options(malformed),
    )
}

/// Per call: connected, answered/abandoned/voicemail and completed instants.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Call {
    connected: Option<DateTime<Utc>>,
    answered: Option<(DateTime<Utc>, String)>,
    abandoned: Option<(DateTime<Utc>, AbandonReason)>,
    voicemail: Option<DateTime<Utc>>,
    completed: Option<DateTime<Utc>>,
}

impl Call {
    fn wait_secs(&self) -> i64 {
        let end = self
            .answered
            .as_ref()
            .map(|a| a.0)
            .or(self.abandoned.map(|a| a.0))
            .or(self.voicemail)
            .unwrap();
        (end - self.connected.unwrap()).num_seconds()
    }
}

fn calls(out: &CsvImport) -> BTreeMap<String, Call> {
    let mut calls: BTreeMap<String, Call> = BTreeMap::new();
    for e in &out.events {
        match &e.event {
            DomainEvent::CallConnected(c) => {
                calls.entry(c.call_id.to_string()).or_default().connected = Some(c.at);
            }
            DomainEvent::CallAnswered(c) => {
                calls.entry(c.call_id.to_string()).or_default().answered =
                    Some((c.at, c.agent_id.to_string()));
            }
            DomainEvent::CallAbandoned(c) => {
                calls.entry(c.call_id.to_string()).or_default().abandoned = Some((c.at, c.reason));
            }
            DomainEvent::CallRoutedToVoicemail(c) => {
                calls.entry(c.call_id.to_string()).or_default().voicemail = Some(c.at);
            }
            DomainEvent::CallCompleted(c) => {
                calls.entry(c.call_id.to_string()).or_default().completed = Some(c.at);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    calls
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

#[test]
fn the_anonymous_bank_sample_gives_the_documented_calls() {
    let out = run(SAMPLE.as_bytes(), &anonymous_bank(), MalformedLines::Fail).unwrap();
    assert_eq!(out.rows_read, 12);
    assert!(out.skipped.is_empty());
    assert!(out.duplicate_calls.is_empty());
    assert_eq!(out.ignored, BTreeMap::from([("PHANTOM".to_owned(), 1)]));
    assert_eq!(out.not_queued.len(), 1);
    assert_eq!(out.not_queued[0].call_id, "AA0301:33120");
    assert_eq!(out.not_queued[0].outcome, "HANG");

    let calls = calls(&out);
    assert_eq!(calls.len(), 10);
    let answered = calls.values().filter(|c| c.answered.is_some()).count();
    let abandoned = calls.values().filter(|c| c.abandoned.is_some()).count();
    assert_eq!((answered, abandoned), (7, 3));
    // 10 connected + 7 answered + 7 completed + 3 abandoned.
    assert_eq!(out.events.len(), 27);
    assert!(calls
        .values()
        .all(|c| c.answered.is_some() == c.completed.is_some()));
    assert!(calls.values().all(|c| c.voicemail.is_none()));
    assert!(calls
        .values()
        .filter_map(|c| c.abandoned)
        .all(|(_, reason)| reason == AbandonReason::CallerHungUp));

    let waits: BTreeMap<&str, i64> = calls
        .iter()
        .map(|(id, c)| (id.strip_prefix("bank:").unwrap(), c.wait_secs()))
        .collect();
    assert_eq!(
        waits,
        BTreeMap::from([
            ("AA0101:33116", 8),
            ("AA0102:33117", 0),
            ("AA0201:33118", 52),
            ("AA0104:33121", 0),
            ("AA0105:33122", 55),
            ("AA0402:33123", 26),
            ("AA0106:33124", 30),
            ("AA0202:33125", 3),
            ("AA0203:33126", 70),
            ("AA0107:33127", 12),
        ])
    );
}

#[test]
fn waits_agree_with_the_files_own_q_time() {
    // The data set's q_time column is the wait in seconds, computed by the bank's system; the
    // importer derives waits from the instants, so the two must agree for every queued call.
    let out = run(SAMPLE.as_bytes(), &anonymous_bank(), MalformedLines::Fail).unwrap();
    let calls = calls(&out);
    let mut checked = 0;
    for line in SAMPLE.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (call_id, q_start, q_time) = (format!("{}:{}", f[0], f[1]), f[9], f[11]);
        if q_start == "0:00:00" {
            continue;
        }
        let Some(call) = calls.get(&format!("bank:{call_id}")) else {
            continue;
        };
        assert_eq!(call.wait_secs().to_string(), q_time, "call {call_id}");
        checked += 1;
    }
    assert_eq!(checked, 9);
}

#[test]
fn instants_are_israeli_local_time_with_the_midnight_wrap() {
    let out = run(SAMPLE.as_bytes(), &anonymous_bank(), MalformedLines::Fail).unwrap();
    let calls = calls(&out);
    // Israel standard time is UTC+2 in January (checked with Python's zoneinfo).
    let first = &calls["bank:AA0101:33116"];
    assert_eq!(first.connected, Some(utc(1999, 1, 12, 8, 2, 17)));
    assert_eq!(
        first.answered,
        Some((utc(1999, 1, 12, 8, 2, 25), "DORIT".to_owned()))
    );
    assert_eq!(first.completed, Some(utc(1999, 1, 12, 8, 5, 40)));

    // Queued 23:59:52 on the 12th, served 0:00:47 on the 13th.
    let wrapped = &calls["bank:AA0105:33122"];
    assert_eq!(wrapped.connected, Some(utc(1999, 1, 12, 21, 59, 52)));
    assert_eq!(
        wrapped.answered.as_ref().unwrap().0,
        utc(1999, 1, 12, 22, 0, 47)
    );
    assert_eq!(wrapped.completed, Some(utc(1999, 1, 12, 22, 5, 10)));

    // Entered the VRU at 23:59:55 on the 12th and the queue at 0:00:04 on the 13th.
    let late = &calls["bank:AA0402:33123"];
    assert_eq!(late.connected, Some(utc(1999, 1, 12, 22, 0, 4)));

    // Served straight from the VRU: offered and answered at ser_start.
    let direct = &calls["bank:AA0104:33121"];
    assert_eq!(direct.connected, Some(utc(1999, 1, 12, 9, 0, 20)));
    assert_eq!(
        direct.answered,
        Some((utc(1999, 1, 12, 9, 0, 20), "SHIRA".to_owned()))
    );

    let DomainEvent::CallConnected(c) = &out.events[0].event else {
        panic!("unexpected {:?}", out.events[0].event);
    };
    assert_eq!(c.queue.as_deref(), Some("PS"));
    assert_eq!(out.events[0].source.line, 2);
}

#[test]
fn reimporting_gives_the_same_ids_and_ids_differ_by_kind() {
    let a = run(SAMPLE.as_bytes(), &anonymous_bank(), MalformedLines::Fail).unwrap();
    let b = run(SAMPLE.as_bytes(), &anonymous_bank(), MalformedLines::Fail).unwrap();
    assert_eq!(a, b);
    let ids: std::collections::BTreeSet<_> = a.events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), a.events.len());
}

/// A comma-separated export without a header, columns by index, full date-times in UTC+1.
const GENERIC_MAPPING: &str = r#"{
  "name": "generic-acd",
  "has_header": false,
  "columns": {
    "call_id": 0, "queue": 1, "queue_entry": 2, "queue_exit": 3, "answer": 4, "end": 5,
    "outcome": 6, "agent": 7
  },
  "time": { "format": "%d/%m/%Y %H:%M:%S", "zone": "Europe/Paris", "absent": ["-"] },
  "outcomes": { "served": "answered", "gave up": "abandoned", "timeout": "abandoned_queue_timeout",
                "vm": "voicemail", "test": "ignore" }
}"#;

const GENERIC: &str = "\
a1,sales,05/01/2024 09:00:00,05/01/2024 09:00:07,05/01/2024 09:00:07,05/01/2024 09:03:00,served,\"Smith, J\"
a2,sales,05/01/2024 09:01:00,05/01/2024 09:01:30,-,-,gave up,
a3,support,05/01/2024 09:02:00,05/01/2024 09:03:00,-,05/01/2024 09:04:00,vm,
a4,support,05/01/2024 09:02:00,05/01/2024 09:02:45,-,,timeout,
a5,support,05/01/2024 09:02:00,,,,test,
";

#[test]
fn a_generic_export_mapped_by_index() {
    let mapping = parse_mapping(GENERIC_MAPPING).unwrap();
    assert_eq!(mapping.delimiter, ',');
    let out = run(GENERIC.as_bytes(), &mapping, MalformedLines::Fail).unwrap();
    let calls = calls(&out);
    assert_eq!(calls.len(), 4);
    // Paris is UTC+1 in January.
    assert_eq!(
        calls["bank:a1"].answered,
        Some((utc(2024, 1, 5, 8, 0, 7), "Smith_2C_20J".to_owned()))
    );
    assert_eq!(calls["bank:a1"].wait_secs(), 7);
    assert_eq!(
        calls["bank:a2"].abandoned,
        Some((utc(2024, 1, 5, 8, 1, 30), AbandonReason::CallerHungUp))
    );
    assert_eq!(calls["bank:a3"].voicemail, Some(utc(2024, 1, 5, 8, 3, 0)));
    assert_eq!(calls["bank:a3"].completed, Some(utc(2024, 1, 5, 8, 4, 0)));
    assert_eq!(
        calls["bank:a4"].abandoned,
        Some((utc(2024, 1, 5, 8, 2, 45), AbandonReason::QueueTimeout))
    );
    assert_eq!(out.ignored.get("test"), Some(&1));
}

#[test]
fn a_mapping_that_does_not_fit_the_header_is_refused() {
    let mut mapping = anonymous_bank();
    mapping.columns.agent = Some(opsledger_domain::import::csv_mapping::ColumnRef::Name(
        "agent_name".to_owned(),
    ));
    let err = run(SAMPLE.as_bytes(), &mapping, MalformedLines::Fail).unwrap_err();
    assert_eq!(
        err,
        CsvImportError::Mapping(MappingError::UnknownColumn {
            role: "agent",
            name: "agent_name".to_owned(),
        })
    );
}

fn sample_with(bad_rows: &[&[u8]]) -> Vec<u8> {
    let mut bytes = SAMPLE.as_bytes().to_vec();
    for row in bad_rows {
        bytes.extend_from_slice(row);
        bytes.push(b'\n');
    }
    bytes
}

fn field_of(error: &RowError) -> (u64, String) {
    match error {
        RowError::MissingColumn { line, field, .. }
        | RowError::NotUtf8 { line, field, .. }
        | RowError::Malformed { line, field, .. } => (*line, field.clone()),
        RowError::Csv { line, .. } => (*line, "(csv)".to_owned()),
        RowError::Conflict { line, .. } => (*line, "(conflict)".to_owned()),
    }
}

#[test]
fn malformed_rows_name_line_and_field_or_are_skipped() {
    let bad: [&[u8]; 5] = [
        // Line 14: truncated after q_start.
        b"AA0101\t40001\t0\t1\tPS\t990113\t9:30:00\t9:30:05\t5\t9:30:05",
        // Line 15: not a time.
        b"AA0101\t40002\t0\t1\tPS\t990113\t9:31:00\t9:31:05\t5\t9:3x:05\t9:31:10\t5\tAGENT\t9:31:10\t9:32:00\t50\tDORIT",
        // Line 16: an outcome the mapping does not know.
        b"AA0101\t40003\t0\t1\tPS\t990113\t9:32:00\t9:32:05\t5\t9:32:05\t9:32:10\t5\tTRANSFER\t9:32:10\t9:33:00\t50\tDORIT",
        // Line 17: binary junk in the agent column.
        b"AA0101\t40004\t0\t1\tPS\t990113\t9:33:00\t9:33:05\t5\t9:33:05\t9:33:10\t5\tAGENT\t9:33:10\t9:34:00\t50\t\xff\xfe\x00\x01",
        // Line 18: served 2 s before the queue entry, beyond the mapping's 1 s tolerance.
        b"AA0101\t40005\t0\t1\tPS\t990113\t9:34:00\t9:34:05\t5\t9:34:05\t9:34:10\t5\tAGENT\t9:34:03\t9:35:00\t57\tDORIT",
    ];
    let bytes = sample_with(&bad);
    let err = run(&bytes, &anonymous_bank(), MalformedLines::Fail).unwrap_err();
    let CsvImportError::Row(row) = &err else {
        panic!("unexpected {err:?}");
    };
    assert_eq!(field_of(row), (14, "queue_exit (q_exit)".to_owned()));
    assert_eq!(
        err.to_string(),
        "sample.txt: line 14, field `queue_exit (q_exit)`: missing; the row has 10 columns, the mapping needs at least 17"
    );

    let out = run(&bytes, &anonymous_bank(), MalformedLines::Skip).unwrap();
    let problems: Vec<(u64, String)> = out.skipped.iter().map(|s| field_of(&s.error)).collect();
    assert_eq!(
        problems,
        [
            (14, "queue_exit (q_exit)".to_owned()),
            (15, "queue_entry (q_start)".to_owned()),
            (16, "outcome (outcome)".to_owned()),
            (17, "agent (server)".to_owned()),
            (18, "answer (ser_start)".to_owned()),
        ]
    );
    assert!(matches!(
        &out.skipped[3].error,
        RowError::NotUtf8 { line: 17, .. }
    ));
    // The good rows are all still there.
    assert_eq!(out.events.len(), 27);
    assert_eq!(out.rows_read, 17);
}
