//! The Asterisk CDR importer against the real lab `Master.csv`, its queue_log, and bad input.

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use opsledger_domain::events::DomainEvent;
use opsledger_domain::ids::{CallId, ClientId};
use opsledger_domain::import::cdr_csv::{
    call_ids_of, import, parse_records, CdrError, CdrImport, CdrOptions, CdrSource, Disposition,
    FIELD_COUNT,
};
use opsledger_domain::import::queue_log::{self, MalformedLines, QueueLogOptions, QueueLogSource};

/// The lab data set, beside the workspace.
const DATA_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/asterisk-issabel-lab-2022"
);

/// The rotated queue_log files, oldest first.
const QUEUE_LOG_FILES: [&str; 5] = [
    "queue_log-20220707",
    "queue_log-20220801",
    "queue_log-20220901",
    "queue_log-20221005",
    "queue_log",
];

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DATA_DIR}/{name}")).unwrap()
}

fn client() -> ClientId {
    ClientId::new("lab").unwrap()
}

fn options(malformed: MalformedLines) -> CdrOptions {
    CdrOptions {
        client_id: client(),
        server_zone: chrono_tz::UTC,
        malformed,
        superseded_calls: BTreeSet::new(),
    }
}

fn run(bytes: &[u8], malformed: MalformedLines) -> Result<CdrImport, CdrError> {
    import(
        &CdrSource {
            name: "Master.csv",
            bytes,
        },
        &options(malformed),
    )
}

fn connected_call_ids(out: &CdrImport) -> BTreeSet<CallId> {
    call_ids_of(&out.events)
}

/// The Asterisk call ids of every `ENTERQUEUE` line, read without the queue_log importer:
/// NULs stripped, split on `|`, the event in field 5 and the callid in field 2.
fn enterqueue_callids() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for name in QUEUE_LOG_FILES {
        let bytes: Vec<u8> = read(name).into_iter().filter(|b| *b != 0).collect();
        for line in String::from_utf8(bytes).unwrap().lines() {
            let fields: Vec<&str> = line.split('|').collect();
            if fields.get(4) == Some(&"ENTERQUEUE") {
                ids.insert(fields[1].to_owned());
            }
        }
    }
    ids
}

#[test]
fn the_lab_master_csv_has_736_records_and_33_queue_calls() {
    let bytes = read("Master.csv");
    let parsed = parse_records(
        &CdrSource {
            name: "Master.csv",
            bytes: &bytes,
        },
        chrono_tz::UTC,
        MalformedLines::Fail,
    )
    .unwrap();
    // Counted independently: `wc -l < Master.csv` gives 736 (no field holds a newline).
    assert_eq!(parsed.records.len(), 736);
    assert!(parsed.skipped.is_empty());
    assert_eq!(parsed.nul_bytes_stripped, 0);
    // Counted independently, as SOURCE.md says:
    // awk -F'","' '$8=="Queue"' Master.csv | wc -l   # 33
    // (fields 1..9 are always quoted, so splitting on `","` keeps lastapp in column 8).
    let queue_records = parsed
        .records
        .iter()
        .filter(|r| r.lastapp == "Queue")
        .count();
    assert_eq!(queue_records, 33);

    let first = &parsed.records[0];
    assert_eq!(first.line, 1);
    assert_eq!(first.src, "1001");
    assert_eq!(first.clid, "\"karthik\" <1001>");
    assert_eq!(first.answer, None);
    assert_eq!(first.disposition, Disposition::Congestion);
    assert_eq!(first.uniqueid, "1655439214.5");
    assert_eq!(
        first.start,
        Utc.with_ymd_and_hms(2022, 6, 17, 4, 13, 34).unwrap()
    );

    let out = run(&bytes, MalformedLines::Fail).unwrap();
    assert_eq!(out.records_read, 736);
    assert_eq!(out.queue_calls.len(), 33);
    assert_eq!(out.events.len(), 33);
    assert!(out.duplicate_queue_records.is_empty());
    assert_eq!(out.ignored.values().sum::<u64>(), 736 - 33);
    assert!(!out.ignored.contains_key("Queue"));
}

#[test]
fn cdr_queue_calls_are_offered_only_never_answered_or_completed() {
    let out = run(&read("Master.csv"), MalformedLines::Fail).unwrap();
    // The CDR cannot tell an agent pickup from the PBX answering to queue the caller, nor an
    // abandon from a completed call, so it yields only the offer.
    assert!(out
        .events
        .iter()
        .all(|e| e.event.event_type() == "call.connected"));
    // 32 of the 33 queue CDRs say ANSWERED although queue_log shows 30 abandons: the
    // disposition is the PBX's and is reported, not translated.
    let answered = out
        .queue_calls
        .iter()
        .filter(|c| c.disposition == Disposition::Answered)
        .count();
    assert_eq!(answered, 32);

    let call = out
        .queue_calls
        .iter()
        .find(|c| c.uniqueid == "1658129428.1048")
        .unwrap();
    assert_eq!(call.call_id.as_str(), "lab:1658129428.1048");
    assert_eq!(call.duration_secs, 28);
    let DomainEvent::CallConnected(c) = &out.events[0].event else {
        panic!("unexpected {:?}", out.events[0].event);
    };
    assert_eq!(c.call_id.as_str(), "lab:1658129428.1048");
    assert_eq!(c.at, Utc.with_ymd_and_hms(2022, 7, 18, 7, 30, 31).unwrap());
    assert_eq!(c.queue.as_deref(), Some("500"));
    assert_eq!(c.caller_number.as_deref(), Some("1001"));
}

#[test]
fn cdr_uniqueids_are_the_queue_log_callids_and_the_call_ids_line_up() {
    let cdr = run(&read("Master.csv"), MalformedLines::Fail).unwrap();
    let uniqueids: BTreeSet<String> = cdr.queue_calls.iter().map(|c| c.uniqueid.clone()).collect();
    assert_eq!(uniqueids.len(), 33);
    assert_eq!(uniqueids, enterqueue_callids());

    let files: Vec<Vec<u8>> = QUEUE_LOG_FILES.iter().map(|n| read(n)).collect();
    let sources: Vec<QueueLogSource<'_>> = QUEUE_LOG_FILES
        .iter()
        .zip(&files)
        .map(|(name, bytes)| QueueLogSource { name, bytes })
        .collect();
    let qlog = queue_log::import(
        &sources,
        &QueueLogOptions {
            client_id: client(),
            malformed: MalformedLines::Fail,
        },
    )
    .unwrap();
    assert_eq!(call_ids_of(&qlog.events), connected_call_ids(&cdr));

    // Different facts, different event ids: no CDR event id is a queue_log one.
    let qlog_ids: BTreeSet<_> = qlog.events.iter().map(|e| e.event_id).collect();
    assert!(cdr.events.iter().all(|e| !qlog_ids.contains(&e.event_id)));

    // With queue_log's calls declared, the CDR adds nothing that could contradict them.
    let mut with_qlog = options(MalformedLines::Fail);
    with_qlog.superseded_calls = call_ids_of(&qlog.events);
    let bytes = read("Master.csv");
    let out = import(
        &CdrSource {
            name: "Master.csv",
            bytes: &bytes,
        },
        &with_qlog,
    )
    .unwrap();
    assert!(out.events.is_empty());
    assert_eq!(out.superseded.len(), 33);
    assert_eq!(out.queue_calls.len(), 33);
}

#[test]
fn reimporting_gives_the_same_event_ids() {
    let bytes = read("Master.csv");
    let a = run(&bytes, MalformedLines::Fail).unwrap();
    let b = run(&bytes, MalformedLines::Fail).unwrap();
    assert_eq!(a, b);
    let ids: BTreeSet<_> = a.events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), a.events.len());
}

#[test]
fn times_are_read_in_the_server_zone() {
    let line = br#""","1001","500","ext-queues","""karthik"" <1001>","SIP/1001-00000069","","Queue","500,t,,,,,,,,","2022-07-18 07:30:31","2022-07-18 07:30:31","2022-07-18 07:30:59",28,28,"ANSWERED","DOCUMENTATION","1658129428.1048",""
"#;
    let mut opts = options(MalformedLines::Fail);
    opts.server_zone = chrono_tz::Europe::Berlin;
    let out = import(
        &CdrSource {
            name: "Master.csv",
            bytes: line,
        },
        &opts,
    )
    .unwrap();
    // Berlin is UTC+2 in July.
    assert_eq!(
        out.queue_calls[0].start,
        Utc.with_ymd_and_hms(2022, 7, 18, 5, 30, 31).unwrap()
    );
}

/// A well-formed queue record, then the bad line under test, then another good one.
fn with_bad_line(bad: &[u8]) -> Vec<u8> {
    let good = br#""","1001","500","ext-queues","""karthik"" <1001>","SIP/1001-00000069","","Queue","500,t,,,,,,,,","2022-07-18 07:30:31","2022-07-18 07:30:31","2022-07-18 07:30:59",28,28,"ANSWERED","DOCUMENTATION","1.1",""
"#;
    let good2 = br#""","1002","500","ext-queues","""ram"" <1002>","SIP/1002-0000006a","","Queue","500,t,,,,,,,,","2022-07-18 08:30:31",,"2022-07-18 08:30:59",28,0,"NO ANSWER","DOCUMENTATION","3.3",""
"#;
    let mut bytes = good.to_vec();
    bytes.extend_from_slice(bad);
    bytes.extend_from_slice(b"\n");
    bytes.extend_from_slice(good2);
    bytes
}

fn field_of(error: &CdrError) -> &'static str {
    match error {
        CdrError::Malformed { field, .. } | CdrError::NotUtf8 { field, .. } => field,
        CdrError::ColumnCount { .. } => "(column count)",
        CdrError::Csv { .. } => "(csv)",
        CdrError::Conflict { .. } => "(conflict)",
    }
}

#[test]
fn a_truncated_line_is_a_column_count_error() {
    // The file ends in the middle of a record, inside a quoted field, as after a crash.
    let bytes = [
        with_bad_line(b"").split(|b| *b == b'\n').next().unwrap(),
        b"\n",
        br#""","1001","500","ext-queues","""karthik"" <1001>","SIP/10"#,
    ]
    .concat();
    let err = run(&bytes, MalformedLines::Fail).unwrap_err();
    assert_eq!(
        err,
        CdrError::ColumnCount {
            file: "Master.csv".to_owned(),
            line: 2,
            expected: FIELD_COUNT,
            found: 6,
        }
    );
    assert_eq!(
        err.to_string(),
        "Master.csv: line 2: expected 18 fields, found 6"
    );
}

#[test]
fn an_extra_column_names_expected_and_found() {
    let bytes = with_bad_line(
        br#""","1","500","c","x","SIP/1","","Queue","500","2022-07-18 07:30:31","","2022-07-18 07:30:59",28,28,"ANSWERED","D","2.2","","extra""#,
    );
    let err = run(&bytes, MalformedLines::Fail).unwrap_err();
    assert!(matches!(
        err,
        CdrError::ColumnCount {
            line: 2,
            expected: 18,
            found: 19,
            ..
        }
    ));
}

#[test]
fn an_invalid_time_names_line_and_field() {
    let bytes = with_bad_line(
        br#""","1","500","c","x","SIP/1","","Queue","500","2022-07-18 25:30:31","","2022-07-18 07:30:59",28,28,"ANSWERED","D","2.2","""#,
    );
    let err = run(&bytes, MalformedLines::Fail).unwrap_err();
    assert_eq!(field_of(&err), "start");
    assert_eq!(
        err.to_string(),
        "Master.csv: line 2, field `start`: is not a time (YYYY-MM-DD HH:MM:SS) (found \"2022-07-18 25:30:31\")"
    );

    let bytes = with_bad_line(
        br#""","1","500","c","x","SIP/1","","Queue","500","2022-07-18 07:30:31","","2022-07-18 07:30:59",28,-1,"ANSWERED","D","2.2","""#,
    );
    let err = run(&bytes, MalformedLines::Fail).unwrap_err();
    assert_eq!(field_of(&err), "billsec");
}

#[test]
fn binary_junk_is_an_error_not_a_panic() {
    let junk: Vec<u8> = (0_u8..=255).cycle().skip(7).step_by(13).take(300).collect();
    let bytes = with_bad_line(&junk);
    let err = run(&bytes, MalformedLines::Fail).unwrap_err();
    assert!(
        matches!(
            err,
            CdrError::NotUtf8 { line: 2, .. } | CdrError::ColumnCount { line: 2, .. }
        ),
        "{err:?}"
    );
    // Whatever the junk, skipping it keeps both good records.
    let out = run(&bytes, MalformedLines::Skip).unwrap();
    assert_eq!(out.queue_calls.len(), 2);
    assert!(!out.skipped.is_empty());
}

#[test]
fn invalid_utf8_names_the_field() {
    let mut bad = br#""","1","500","c",""#.to_vec();
    bad.extend_from_slice(&[0xC3, 0x28, 0xFF]);
    bad.extend_from_slice(
        br#"","SIP/1","","Queue","500","2022-07-18 07:30:31","","2022-07-18 07:30:59",28,28,"ANSWERED","D","2.2","""#,
    );
    let err = run(&with_bad_line(&bad), MalformedLines::Fail).unwrap_err();
    assert_eq!(
        err,
        CdrError::NotUtf8 {
            file: "Master.csv".to_owned(),
            line: 2,
            field: "clid",
        }
    );
}

#[test]
fn skip_mode_reports_every_bad_line_and_keeps_the_rest() {
    let mut bytes = with_bad_line(br#""","1001","500","ext-queues""#);
    bytes.extend_from_slice(
        br#""","1","500","c","x","SIP/1","","Queue","500","yesterday","","2022-07-18 07:30:59",28,28,"ANSWERED","D","4.4",""
"","1","500","c","x","SIP/1","","Queue","500","2022-07-18 07:30:31","","2022-07-18 07:30:59",28,28,"MAYBE","D","5.5",""
"#,
    );
    bytes.extend_from_slice(&[0, 0, 0]);
    let out = run(&bytes, MalformedLines::Skip).unwrap();
    let problems: Vec<(u64, &str)> = out
        .skipped
        .iter()
        .map(|s| match &s.error {
            CdrError::Malformed { line, field, .. } | CdrError::NotUtf8 { line, field, .. } => {
                (*line, *field)
            }
            CdrError::ColumnCount { line, .. } => (*line, "(column count)"),
            CdrError::Csv { line, .. } => (*line, "(csv)"),
            CdrError::Conflict { line, .. } => (*line, "(conflict)"),
        })
        .collect();
    assert_eq!(
        problems,
        [(2, "(column count)"), (4, "start"), (5, "disposition")]
    );
    assert_eq!(out.records_read, 5);
    assert_eq!(out.nul_bytes_stripped, 3);
    let ids: Vec<&str> = out
        .queue_calls
        .iter()
        .map(|c| c.uniqueid.as_str())
        .collect();
    assert_eq!(ids, ["1.1", "3.3"]);
    // Fail mode stops at the first.
    assert_eq!(
        field_of(&run(&bytes, MalformedLines::Fail).unwrap_err()),
        "(column count)"
    );
}

#[test]
fn a_repeated_queue_record_is_reported_not_duplicated() {
    let good = with_bad_line(b"");
    let mut bytes = good.clone();
    bytes.extend_from_slice(&good);
    let out = run(&bytes, MalformedLines::Fail).unwrap();
    assert_eq!(out.events.len(), 2);
    assert_eq!(out.duplicate_queue_records.len(), 2);
}
