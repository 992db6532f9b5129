//! Every row accounted for: the importers give each row read one disposition, the counts add
//! up to the rows read (for every file in `../shared/data` and for generated files), no two
//! source ids become one call, a repeated identity is a repeat or a conflict, line numbers are
//! physical lines, the declared clock tolerance clamps, and a realtime `queue_log` dump gives
//! the same events as the pipe file it was made from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use opsledger_domain::events::DomainEvent;
use opsledger_domain::ids::{CallId, ClientId};
use opsledger_domain::import::accounting::{Accounting, Disposition};
use opsledger_domain::import::cdr_csv::{self, CdrOptions, CdrSource};
use opsledger_domain::import::csv_mapping::{
    self, anonymous_bank, parse_mapping, CsvImport, CsvImportError, CsvMapping, CsvOptions,
    CsvSource, RowError,
};
use opsledger_domain::import::queue_log::{
    self, ImportedEvent, MalformedLines, QueueLogError, QueueLogImport, QueueLogOptions,
    QueueLogSource,
};
use proptest::prelude::*;

/// The shared data sets, beside the workspace.
const DATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data");

const LAB: &str = "asterisk-issabel-lab-2022";

/// The lab's rotated queue_log files, oldest first.
const QUEUE_LOG_FILES: [&str; 5] = [
    "queue_log-20220707",
    "queue_log-20220801",
    "queue_log-20220901",
    "queue_log-20221005",
    "queue_log",
];

const SAMPLE: &str = include_str!("fixtures/anonymous_bank_sample.txt");

fn client() -> ClientId {
    ClientId::new("lab").unwrap()
}

fn ql_options(malformed: MalformedLines) -> QueueLogOptions {
    QueueLogOptions {
        client_id: client(),
        malformed,
    }
}

fn queue_log_of(named: &[(&str, &[u8])], malformed: MalformedLines) -> QueueLogImport {
    let sources: Vec<QueueLogSource<'_>> = named
        .iter()
        .map(|(name, bytes)| QueueLogSource { name, bytes })
        .collect();
    queue_log::import(&sources, &ql_options(malformed)).unwrap()
}

fn csv_of(
    bytes: &[u8],
    mapping: &CsvMapping,
    malformed: MalformedLines,
) -> Result<CsvImport, CsvImportError> {
    csv_mapping::import(
        &CsvSource {
            name: "calls.txt",
            bytes,
        },
        mapping,
        &CsvOptions {
            client_id: ClientId::new("bank").unwrap(),
            malformed,
        },
    )
}

/// The counts add up to the rows read, and every row is listed once, in input order per file.
fn assert_adds_up(accounting: &Accounting, rows_read: u64, what: &str) {
    let counts = accounting.counts();
    assert_eq!(
        counts.values().sum::<u64>(),
        rows_read,
        "{what}: {counts:?}"
    );
    assert_eq!(accounting.rows_read(), rows_read, "{what}");
    let mut by_file: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for row in &accounting.rows {
        by_file
            .entry(row.source.file.as_str())
            .or_default()
            .push(row.source.line);
    }
    for (file, lines) in by_file {
        assert!(
            lines.windows(2).all(|w| w[0] < w[1]),
            "{what}: {file} rows out of order or repeated"
        );
    }
}

/// Physical non-blank lines of a text file, NUL bytes ignored.
fn non_blank_lines(bytes: &[u8]) -> u64 {
    let text: Vec<u8> = bytes.iter().copied().filter(|b| *b != 0).collect();
    let count = text
        .split(|b| *b == b'\n')
        .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .count();
    u64::try_from(count).unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn every_row_of_every_shared_data_file_is_accounted_for() {
    let mut checked = 0;
    for path in files_under(Path::new(DATA_DIR)) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        if name.ends_with(".md") {
            continue;
        }
        if name.starts_with("queue_log") {
            let out = queue_log_of(&[(&name, &bytes)], MalformedLines::Skip);
            assert_adds_up(&out.accounting, out.lines_read, &name);
            assert_eq!(out.lines_read, non_blank_lines(&bytes), "{name}");
            checked += 1;
        } else if name.ends_with(".csv") {
            let out = cdr_csv::import(
                &CdrSource {
                    name: &name,
                    bytes: &bytes,
                },
                &CdrOptions {
                    client_id: client(),
                    server_zone: chrono_tz::UTC,
                    malformed: MalformedLines::Skip,
                    superseded_calls: BTreeSet::new(),
                },
            )
            .unwrap();
            assert_adds_up(&out.accounting, out.records_read, &name);
            checked += 1;
        } else {
            panic!("{name}: a data file no importer claims; add it to this test");
        }
    }
    assert!(checked >= 6, "only {checked} data files found");
}

#[test]
fn the_lab_queue_logs_read_together_give_the_documented_dispositions() {
    let files: Vec<(String, Vec<u8>)> = QUEUE_LOG_FILES
        .iter()
        .map(|f| {
            (
                (*f).to_owned(),
                std::fs::read(format!("{DATA_DIR}/{LAB}/{f}")).unwrap(),
            )
        })
        .collect();
    let named: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let out = queue_log_of(&named, MalformedLines::Fail);
    assert_adds_up(&out.accounting, out.lines_read, "lab");
    let counts = out.accounting.counts();
    // SOURCE.md: 33 ENTERQUEUE, 3 CONNECT, 3 completions, 30 ABANDON; 33 DID lines and one
    // RINGNOANSWER belong to those calls; every other line is system or member traffic.
    assert_eq!(counts[&Disposition::Imported], 33 + 3 + 3 + 30);
    assert_eq!(counts[&Disposition::NoCallFact], 33 + 1);
    assert_eq!(counts[&Disposition::NotQueueCall], 923 - 69 - 34);
    assert_eq!(counts[&Disposition::UnresolvedAtEnd], 0);
    assert_eq!(counts[&Disposition::SkippedInvalid], 0);
}

#[test]
fn the_anonymous_bank_sample_is_accounted_row_by_row() {
    let out = csv_of(SAMPLE.as_bytes(), &anonymous_bank(), MalformedLines::Fail).unwrap();
    assert_adds_up(&out.accounting, out.rows_read, "sample");
    let counts = out.accounting.counts();
    assert_eq!(counts[&Disposition::Imported], 10);
    assert_eq!(counts[&Disposition::NotOffered], 1);
    assert_eq!(counts[&Disposition::IgnoredByMapping], 1);
}

/// One Anonymous Bank row.
fn bank_row(
    vru_line: &str,
    call_id: &str,
    times: [&str; 5],
    outcome: &str,
    server: &str,
) -> String {
    let [vru_entry, q_start, q_exit, ser_start, ser_exit] = times;
    format!(
        "{vru_line}\t{call_id}\t0\t1\tPS\t990301\t{vru_entry}\t{q_start}\t5\t{q_start}\t{q_exit}\t0\t{outcome}\t{ser_start}\t{ser_exit}\t0\t{server}"
    )
}

fn bank_file(rows: &[String]) -> Vec<u8> {
    let header = SAMPLE.lines().next().unwrap();
    let mut text = format!("{header}\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text.into_bytes()
}

fn call_ids(events: &[ImportedEvent]) -> BTreeSet<CallId> {
    cdr_csv::call_ids_of(events)
}

#[test]
fn the_same_call_id_on_two_lines_is_two_calls() {
    let rows = [
        bank_row(
            "AA0101",
            "500",
            ["9:00:00", "9:00:05", "9:00:10", "9:00:10", "9:02:00"],
            "AGENT",
            "DORIT",
        ),
        bank_row(
            "AA0102",
            "500",
            ["9:00:00", "9:00:06", "9:00:20", "0:00:00", "0:00:00"],
            "HANG",
            "NO_SERVER",
        ),
    ];
    let out = csv_of(&bank_file(&rows), &anonymous_bank(), MalformedLines::Fail).unwrap();
    let ids: Vec<String> = call_ids(&out.events)
        .into_iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(ids, ["bank:AA0101:500", "bank:AA0102:500"]);
    assert_eq!(out.accounting.counts()[&Disposition::Imported], 2);
}

#[test]
fn look_alike_ids_stay_apart_in_every_importer() {
    // A generic export whose call ids differ only in characters outside the id alphabet.
    let mapping = parse_mapping(
        r#"{ "name": "generic", "has_header": false,
             "columns": { "call_id": 0, "queue_entry": 1, "queue_exit": 2, "outcome": 3 },
             "time": { "format": "%Y-%m-%d %H:%M:%S", "zone": "UTC" },
             "outcomes": { "gave up": "abandoned" } }"#,
    )
    .unwrap();
    let ids = ["m 1", "m_1", "mé1", "mè1", "m:1", "m/1", "m%201"];
    let mut text = String::new();
    for id in ids {
        text.push_str(&format!(
            "\"{id}\",2024-01-05 09:00:00,2024-01-05 09:00:30,gave up\n"
        ));
    }
    let out = csv_of(text.as_bytes(), &mapping, MalformedLines::Fail).unwrap();
    assert_eq!(call_ids(&out.events).len(), ids.len());
    assert_eq!(out.accounting.counts()[&Disposition::Imported], 7);

    // Two queue_log call ids that differ only in a non-ASCII character.
    let text = "100|ré.1|500|NONE|ENTERQUEUE||1001|1\n101|rè.1|500|NONE|ENTERQUEUE||1002|1\n\
                105|ré.1|500|NONE|ABANDON|1|1|5\n106|rè.1|500|NONE|ABANDON|1|1|5\n";
    let out = queue_log_of(&[("queue_log", text.as_bytes())], MalformedLines::Fail);
    assert_eq!(call_ids(&out.events).len(), 2);
    assert!(out.incomplete_calls.is_empty());
}

#[test]
fn a_repeated_row_is_an_exact_repeat_and_a_different_one_a_conflict_naming_both_lines() {
    let answered = bank_row(
        "AA0101",
        "700",
        ["9:00:00", "9:00:05", "9:00:10", "9:00:10", "9:02:00"],
        "AGENT",
        "DORIT",
    );
    let abandoned = bank_row(
        "AA0101",
        "700",
        ["9:00:00", "9:00:05", "9:00:40", "0:00:00", "0:00:00"],
        "HANG",
        "NO_SERVER",
    );
    // Lines: 1 header, 2 answered, 3 the same again, 4 abandoned with the same identity.
    let bytes = bank_file(&[answered.clone(), answered, abandoned]);
    let err = csv_of(&bytes, &anonymous_bank(), MalformedLines::Fail).unwrap_err();
    assert_eq!(
        err,
        CsvImportError::Row(RowError::Conflict {
            file: "calls.txt".to_owned(),
            line: 4,
            first_line: 2,
            identity: "AA0101:700".to_owned(),
        })
    );
    let message = err.to_string();
    assert!(
        message.contains("line 4") && message.contains("line 2"),
        "{message}"
    );

    let out = csv_of(&bytes, &anonymous_bank(), MalformedLines::Skip).unwrap();
    assert_adds_up(&out.accounting, out.rows_read, "repeats");
    let dispositions: Vec<(u64, Disposition)> = out
        .accounting
        .rows
        .iter()
        .map(|r| (r.source.line, r.disposition))
        .collect();
    assert_eq!(
        dispositions,
        [
            (2, Disposition::Imported),
            (3, Disposition::ExactRepeat),
            (4, Disposition::ConflictingRepeat),
        ]
    );
    // The first row's call stands: connected, answered, completed, nothing abandoned.
    assert_eq!(out.events.len(), 3);
    assert!(out
        .events
        .iter()
        .all(|e| !matches!(e.event, DomainEvent::CallAbandoned(_))));
    assert_eq!(out.skipped.len(), 1);
}

#[test]
fn a_queue_log_call_with_two_outcomes_is_a_conflict() {
    let text = "100|9.1|500|NONE|ENTERQUEUE||1001|1\n105|9.1|500|Bob|CONNECT|5|x|1\n\
                105|9.1|500|Bob|CONNECT|5|x|1\n110|9.1|500|NONE|ABANDON|1|1|10\n\
                120|9.1|500|Bob|COMPLETEAGENT|5|15|1\n";
    let sources = [QueueLogSource {
        name: "queue_log",
        bytes: text.as_bytes(),
    }];
    let err = queue_log::import(&sources, &ql_options(MalformedLines::Fail)).unwrap_err();
    assert!(
        matches!(
            &err,
            QueueLogError::Conflict {
                line: 4,
                first_line: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let out = queue_log_of(&[("queue_log", text.as_bytes())], MalformedLines::Skip);
    let dispositions: Vec<Disposition> =
        out.accounting.rows.iter().map(|r| r.disposition).collect();
    assert_eq!(
        dispositions,
        [
            Disposition::Imported,
            Disposition::Imported,
            Disposition::ExactRepeat,
            Disposition::ConflictingRepeat,
            Disposition::Imported,
        ]
    );
    assert_eq!(out.events.len(), 3);
}

/// The physical line `n` (1-based, header included) of a file.
fn physical_line(bytes: &[u8], n: u64) -> String {
    let text = String::from_utf8_lossy(bytes).into_owned();
    text.split('\n')
        .nth(usize::try_from(n - 1).unwrap())
        .unwrap()
        .to_owned()
}

#[test]
fn named_lines_are_physical_lines_holding_the_named_values() {
    // CRLF line ends, a blank line and a quoted cell spanning two lines before the bad row.
    let mapping = parse_mapping(
        r#"{ "name": "generic", "has_header": true,
             "columns": { "call_id": "id", "queue_entry": "in", "queue_exit": "out",
                          "outcome": "how", "queue": "note" },
             "time": { "format": "%Y-%m-%d %H:%M:%S", "zone": "UTC" },
             "outcomes": { "gave up": "abandoned" } }"#,
    )
    .unwrap();
    let text = "id,in,out,how,note\r\n\
                c1,2024-01-05 09:00:00,2024-01-05 09:00:30,gave up,plain\r\n\
                \r\n\
                c2,2024-01-05 09:01:00,2024-01-05 09:01:30,gave up,\"two\r\nlines\"\r\n\
                c3,2024-01-05 09:02:00,2024-01-05 09:0x:30,gave up,bad\r\n\
                c4,2024-01-05 09:03:00,2024-01-05 09:03:30,gave up,last\r\n";
    let bytes = text.as_bytes();
    let out = csv_of(bytes, &mapping, MalformedLines::Skip).unwrap();
    assert_adds_up(&out.accounting, out.rows_read, "crlf");
    for row in &out.accounting.rows {
        let line = physical_line(bytes, row.source.line);
        let id = out
            .events
            .iter()
            .find(|e| e.source.line == row.source.line)
            .map(|e| match &e.event {
                DomainEvent::CallConnected(c) => c.call_id.to_string(),
                DomainEvent::CallAbandoned(c) => c.call_id.to_string(),
                other => panic!("unexpected {other:?}"),
            });
        match id {
            Some(id) => assert!(
                line.starts_with(id.strip_prefix("bank:").unwrap()),
                "line {} is {line:?}, not call {id}",
                row.source.line
            ),
            None => assert_eq!(row.disposition, Disposition::SkippedInvalid),
        }
    }
    let RowError::Malformed { line, found, .. } = &out.skipped[0].error else {
        panic!("unexpected {:?}", out.skipped[0].error);
    };
    assert_eq!(*line, 6);
    assert!(physical_line(bytes, *line).contains(found.as_str()));

    // The same for the shipped mapping on the sample with a bad row appended.
    let mut bytes = SAMPLE.as_bytes().to_vec();
    bytes.extend_from_slice(
        bank_row(
            "AA0909",
            "900",
            ["9:00:00", "9:00:05", "9:0x:10", "0:00:00", "0:00:00"],
            "HANG",
            "NO_SERVER",
        )
        .as_bytes(),
    );
    let out = csv_of(&bytes, &anonymous_bank(), MalformedLines::Skip).unwrap();
    let error = &out.skipped[0].error;
    assert_eq!(error.line(), 14);
    assert!(physical_line(&bytes, 14).starts_with("AA0909\t900\t"));
    for event in &out.events {
        let DomainEvent::CallConnected(c) = &event.event else {
            continue;
        };
        let [_, vru, call] =
            <[&str; 3]>::try_from(c.call_id.as_str().split(':').collect::<Vec<_>>()).unwrap();
        assert!(
            physical_line(&bytes, event.source.line).starts_with(&format!("{vru}\t{call}\t")),
            "{c:?}"
        );
    }
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

#[test]
fn the_declared_tolerance_clamps_and_a_missing_service_start_answers_at_queue_exit() {
    let rows = [
        // Served 1 s before the recorded queue entry: within the 1 s tolerance.
        bank_row(
            "AA0101",
            "1",
            ["9:00:00", "9:00:05", "9:00:05", "9:00:04", "9:02:00"],
            "AGENT",
            "DORIT",
        ),
        // Served, with no service start: answered at q_exit, talk time unknown.
        bank_row(
            "AA0101",
            "2",
            ["9:10:00", "9:10:05", "9:10:25", "0:00:00", "0:00:00"],
            "AGENT",
            "NO_SERVER",
        ),
        // Served 2 s before the queue entry: beyond the tolerance.
        bank_row(
            "AA0101",
            "3",
            ["9:20:00", "9:20:05", "9:20:05", "9:20:03", "9:22:00"],
            "AGENT",
            "DORIT",
        ),
    ];
    let bytes = bank_file(&rows);
    let out = csv_of(&bytes, &anonymous_bank(), MalformedLines::Skip).unwrap();
    assert_adds_up(&out.accounting, out.rows_read, "tolerance");
    let dispositions: Vec<Disposition> =
        out.accounting.rows.iter().map(|r| r.disposition).collect();
    assert_eq!(
        dispositions,
        [
            Disposition::Clamped,
            Disposition::AnsweredWithoutServiceStart,
            Disposition::SkippedInvalid,
        ]
    );
    let answered: BTreeMap<String, DateTime<Utc>> = out
        .events
        .iter()
        .filter_map(|e| match &e.event {
            DomainEvent::CallAnswered(a) => Some((a.call_id.to_string(), a.at)),
            _ => None,
        })
        .collect();
    // Israel standard time is UTC+2 on 1 March 1999.
    assert_eq!(answered["bank:AA0101:1"], utc(1999, 3, 1, 7, 0, 5));
    assert_eq!(answered["bank:AA0101:2"], utc(1999, 3, 1, 7, 10, 25));
    let completed: BTreeSet<String> = out
        .events
        .iter()
        .filter_map(|e| match &e.event {
            DomainEvent::CallCompleted(c) => Some(c.call_id.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(completed, BTreeSet::from(["bank:AA0101:1".to_owned()]));

    // Without a declared tolerance the 1 s early service start is refused.
    let mut strict = anonymous_bank();
    strict.time.tolerance_secs = 0;
    let err = csv_of(&bank_file(&rows[..1]), &strict, MalformedLines::Fail).unwrap_err();
    assert!(err.to_string().contains("before the queue entry"), "{err}");
}

/// The pipe lines of `text` as a realtime dump: a header, then one row per non-blank line.
fn as_realtime_dump(text: &str, delimiter: char, time_as_text: bool) -> String {
    let d = delimiter;
    let mut out = format!(
        "id{d}time{d}callid{d}queuename{d}agent{d}event{d}data1{d}data2{d}data3{d}data4{d}data5\n"
    );
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let mut fields: Vec<String> = line.split('|').map(str::to_owned).collect();
        fields.resize(10, String::new());
        if time_as_text {
            let secs: i64 = fields[0].parse().unwrap();
            fields[0] = DateTime::<Utc>::from_timestamp(secs, 0)
                .unwrap()
                .format("%Y-%m-%d %H:%M:%S")
                .to_string();
        }
        let cells: Vec<String> = fields
            .iter()
            .map(|f| {
                if d == ',' {
                    format!("\"{}\"", f.replace('"', "\"\""))
                } else {
                    f.clone()
                }
            })
            .collect();
        out.push_str(&format!("{}{d}{}\n", i + 1, cells.join(&d.to_string())));
    }
    out
}

fn without_sources(events: &[ImportedEvent]) -> Vec<(uuid::Uuid, DomainEvent)> {
    events
        .iter()
        .map(|e| (e.event_id, e.event.clone()))
        .collect()
}

#[test]
fn a_realtime_dump_gives_the_same_events_as_the_pipe_files() {
    let pipe: String = QUEUE_LOG_FILES
        .iter()
        .map(|f| {
            let bytes = std::fs::read(format!("{DATA_DIR}/{LAB}/{f}")).unwrap();
            String::from_utf8(bytes.into_iter().filter(|b| *b != 0).collect()).unwrap()
        })
        .collect();
    let from_pipe = queue_log_of(&[("queue_log", pipe.as_bytes())], MalformedLines::Fail);
    assert_eq!(from_pipe.events.len(), 69);
    for (delimiter, time_as_text) in [(',', false), ('\t', true), (';', false)] {
        let dump = as_realtime_dump(&pipe, delimiter, time_as_text);
        let from_dump = queue_log_of(&[("queue_log.csv", dump.as_bytes())], MalformedLines::Fail);
        assert_eq!(
            without_sources(&from_dump.events),
            without_sources(&from_pipe.events),
            "delimiter {delimiter:?}"
        );
        assert_eq!(from_dump.accounting.counts(), from_pipe.accounting.counts());
        // Row n of the dump is on physical line n + 1, below the header.
        for (dump_row, pipe_row) in from_dump
            .accounting
            .rows
            .iter()
            .zip(&from_pipe.accounting.rows)
        {
            assert_eq!(dump_row.source.line, pipe_row.source.line + 1);
        }
    }
}

#[test]
fn realtime_rows_beyond_queue_calls_are_counted_not_refused() {
    let dump = "time\tcallid\tqueuename\tagent\tevent\tdata1\tdata2\tdata3\tdata4\tdata5\n\
                1700000000\t1700000000.1\tNONE\tSIP/1001\tOUTDIAL\t1002\t\t\t\t\n\
                1700000001\tNONE\tNONE\tSIP/1001\tPAUSE\tlunch\t\t\t\t\n\
                1700000002\tNONE\tsupport\tSIP/1001\tAGENTLOGIN\t\t\t\t\t\n\
                1700000003\t1700000003.2\tsupport\tNONE\tENTERQUEUE\t\t1003\t1\t\t\n\
                1700000004\t1700000003.2\tsupport\tSIP/1001\tRINGNOANSWER\t1000\t\t\t\t\n";
    let out = queue_log_of(&[("dump.tsv", dump.as_bytes())], MalformedLines::Fail);
    let dispositions: Vec<(u64, Disposition)> = out
        .accounting
        .rows
        .iter()
        .map(|r| (r.source.line, r.disposition))
        .collect();
    assert_eq!(
        dispositions,
        [
            (2, Disposition::NotQueueCall),
            (3, Disposition::NotQueueCall),
            (4, Disposition::NotQueueCall),
            (5, Disposition::UnresolvedAtEnd),
            (6, Disposition::NoCallFact),
        ]
    );
    assert_eq!(out.incomplete_calls.len(), 1);
}

#[test]
fn a_realtime_dump_missing_a_column_names_it() {
    let dump = "time,callid,queuename,event,data1\n1700000000,1.1,q,ENTERQUEUE,\n";
    let sources = [QueueLogSource {
        name: "dump.csv",
        bytes: dump.as_bytes(),
    }];
    let err = queue_log::import(&sources, &ql_options(MalformedLines::Fail)).unwrap_err();
    assert!(
        matches!(
            &err,
            QueueLogError::Malformed {
                line: 1,
                field: "agent",
                ..
            }
        ),
        "{err:?}"
    );
    // Skipping still never fails: every row is listed as invalid, by its own line.
    let out = queue_log_of(&[("dump.csv", dump.as_bytes())], MalformedLines::Skip);
    let rows: Vec<(u64, Disposition)> = out
        .accounting
        .rows
        .iter()
        .map(|r| (r.source.line, r.disposition))
        .collect();
    assert_eq!(rows, [(2, Disposition::SkippedInvalid)]);
    assert!(out.events.is_empty());
}

/// A generated queue_log line: a few call ids and every kind of event, some of it garbage.
fn line_strategy() -> impl Strategy<Value = String> {
    let event = prop::sample::select(vec![
        "ENTERQUEUE",
        "CONNECT",
        "COMPLETEAGENT",
        "TRANSFER",
        "ABANDON",
        "EXITWITHKEY",
        "DID",
        "RINGNOANSWER",
        "PAUSE",
        "OUTDIAL",
        "QUEUESTART",
        "",
    ]);
    let callid = prop::sample::select(vec!["1.1", "1.2", "é 3", "NONE", ""]);
    (
        0_i64..50,
        callid,
        event,
        prop::collection::vec("[0-9x]{0,2}", 0..5),
    )
        .prop_map(|(t, callid, event, data)| {
            format!("{}|{callid}|q|SIP/1|{event}|{}", 100 + t, data.join("|"))
        })
}

proptest! {
    #[test]
    fn generated_queue_logs_add_up(lines in prop::collection::vec(line_strategy(), 0..40)) {
        let text = lines.join("\n");
        let out = queue_log_of(&[("gen", text.as_bytes())], MalformedLines::Skip);
        let counts = out.accounting.counts();
        prop_assert_eq!(counts.values().sum::<u64>(), out.lines_read);
        prop_assert_eq!(out.lines_read, non_blank_lines(text.as_bytes()));
        let imported: u64 = counts.iter().filter(|(d, _)| d.is_imported()).map(|(_, n)| n).sum();
        let sources: BTreeSet<u64> = out.events.iter().map(|e| e.source.line).collect();
        prop_assert_eq!(imported, u64::try_from(sources.len()).unwrap());
    }

    #[test]
    fn generated_bank_files_add_up(
        rows in prop::collection::vec(
            (0_u8..3, 0_u8..4, prop::sample::select(vec!["AGENT", "HANG", "PHANTOM", "OTHER"]),
             0_u8..4),
            0..30,
        )
    ) {
        let rows: Vec<String> = rows
            .iter()
            .map(|(line, id, outcome, shape)| {
                let times = match shape {
                    0 => ["9:00:00", "9:00:05", "9:00:10", "9:00:10", "9:02:00"],
                    1 => ["9:00:00", "0:00:00", "0:00:00", "9:00:10", "9:02:00"],
                    2 => ["9:00:00", "9:00:05", "9:00:10", "9:00:04", "9:02:00"],
                    _ => ["9:00:00", "9:00:05", "9:00:10", "0:00:00", "0:00:00"],
                };
                bank_row(&format!("AA010{line}"), &format!("{id}"), times, outcome, "DORIT")
            })
            .collect();
        let bytes = bank_file(&rows);
        let out = csv_of(&bytes, &anonymous_bank(), MalformedLines::Skip).unwrap();
        let counts = out.accounting.counts();
        prop_assert_eq!(counts.values().sum::<u64>(), out.rows_read);
        prop_assert_eq!(out.rows_read, u64::try_from(rows.len()).unwrap());
        let calls = u64::try_from(call_ids(&out.events).len()).unwrap();
        let imported: u64 = counts.iter().filter(|(d, _)| d.is_imported()).map(|(_, n)| n).sum();
        prop_assert_eq!(imported, calls);
    }
}

/// The pipe lines of `text` as a PBXware queue_log table export, laid out as `FORMATS.md` §3
/// describes it (written from that text, not from the shipped layout).
fn as_pbxware_export(text: &str) -> String {
    let mut out = "uid,date_time,callid,queue_name,type,event,param1,param2,param3,entpos,expos,htime,ttime,time\n".to_owned();
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let mut f: Vec<&str> = line.split('|').collect();
        f.resize(10, "");
        let (d1, d2, d3) = (f[5], f[6], f[7]);
        // param1, param2, param3, entpos, expos, htime, ttime
        let cols: [&str; 7] = match f[4] {
            "ENTERQUEUE" => [d2, "", "", d3, "", "", ""],
            "CONNECT" => ["", d2, d3, "", "", d1, ""],
            "ABANDON" | "EXITWITHTIMEOUT" | "EXITEMPTY" => ["", "", "", d2, d1, d3, ""],
            "COMPLETEAGENT" | "COMPLETECALLER" => ["", "", "", d3, "", d1, d2],
            "RINGNOANSWER" => ["", "", "", "", "", d1, ""],
            _ => [d1, d2, d3, "", "", "", ""],
        };
        let secs: i64 = f[0].parse().unwrap();
        // The local-time column may be a second late; the layout reads `date_time`.
        let local = DateTime::<Utc>::from_timestamp(secs + 1, 0)
            .unwrap()
            .format("%Y-%m-%d %H:%M:%S");
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{local}\n",
            i + 1,
            f[0],
            f[1],
            f[2],
            f[3],
            f[4],
            cols.join(",")
        ));
    }
    out
}

#[test]
fn a_pbxware_export_read_with_its_layout_gives_the_same_events_as_the_pipe_files() {
    let pipe: String = QUEUE_LOG_FILES
        .iter()
        .map(|f| {
            let bytes = std::fs::read(format!("{DATA_DIR}/{LAB}/{f}")).unwrap();
            String::from_utf8(bytes.into_iter().filter(|b| *b != 0).collect()).unwrap()
        })
        .collect();
    let from_pipe = queue_log_of(&[("queue_log", pipe.as_bytes())], MalformedLines::Fail);
    let export = as_pbxware_export(&pipe);
    let sources = [QueueLogSource {
        name: "pbxware.csv",
        bytes: export.as_bytes(),
    }];
    let dump = queue_log::DumpOptions {
        zone: chrono_tz::UTC,
        layout: Some(queue_log::pbxware_layout()),
    };
    let from_export =
        queue_log::import_with(&sources, &ql_options(MalformedLines::Fail), &dump).unwrap();
    assert_eq!(
        without_sources(&from_export.events),
        without_sources(&from_pipe.events)
    );
    assert_eq!(
        from_export.accounting.counts(),
        from_pipe.accounting.counts()
    );
    // The logged waits, read from `htime`, agree with the timestamps as they do in the pipe
    // file, so the parameters landed where the pipe format has them.
    assert_eq!(
        from_export.duration_mismatches.len(),
        from_pipe.duration_mismatches.len()
    );
}
