//! The Asterisk `queue_log` importer: pipe-separated app_queue lines to domain call events.
//!
//! Format (see `shared/data/FORMATS.md` §1): `timestamp|callid|queue|agent|event|data1|data2|...`
//! with `timestamp` in UNIX epoch seconds (UTC). The caller passes the rotated files in
//! chronological order (oldest first); they are read as one stream, so a call that starts in one
//! file and ends in the next is joined up.
//!
//! Translation, per call (Asterisk `callid`):
//!
//! | queue_log line | domain event | instant |
//! |---|---|---|
//! | `ENTERQUEUE(url\|callerid\|position)` | `call.connected` (R-ANS-1/2 clocks start) | line timestamp |
//! | `CONNECT(holdtime\|bridged\|ringtime)` | `call.answered` | line timestamp |
//! | `COMPLETEAGENT`, `COMPLETECALLER`, `TRANSFER`, `BLINDTRANSFER`, `ATTENDEDTRANSFER` | `call.completed` | line timestamp |
//! | `ABANDON` | `call.abandoned`, reason `caller_hung_up` | line timestamp |
//! | `EXITWITHTIMEOUT` | `call.abandoned`, reason `queue_timeout` | line timestamp |
//! | `EXITEMPTY` | `call.abandoned`, reason `queue_empty` | line timestamp |
//! | `EXITWITHKEY` | `call.abandoned`, reason `caller_left_with_key` | line timestamp |
//!
//! The domain derives the wait from the instants (answered or abandoned minus connected) and the
//! talk time from completed minus answered. Asterisk also logs its own durations (holdtime,
//! waittime, calltime); where they disagree with the timestamps the import reports a
//! [`DurationMismatch`] rather than silently preferring one.
//!
//! Everything else is noise for the SLA (`DID`, `QUEUESTART`, `CONFIGRELOAD`, member and pause
//! lines, `RINGNOANSWER`, outbound `OUT*` lines, unknown events) and is counted in
//! [`QueueLogImport::ignored`].
//!
//! Layouts: the pipe-separated file Asterisk writes, or a dump of the realtime `queue_log`
//! table (CSV or TSV with a header naming `time`, `callid`, `queuename`, `agent`, `event`,
//! `data1` … `data5` or one `data` column; `time` in epoch seconds or as a timestamp), read
//! by [`import_in_zone`]. The columns are found by their header names; both layouts give the
//! same events for the same lines. A vendor's dump that moves parameters into columns of its
//! own is read with a [`DumpLayout`] ([`import_with`]; PBXware's is shipped, [`pbxware_layout`]).
//!
//! Accounting: every non-blank line gets one [`Disposition`] in
//! [`QueueLogImport::accounting`], named by its physical line: imported; unresolved at end
//! (the lines of a call without an outcome when the input ends); cut off at start (a call
//! line whose `ENTERQUEUE` is not in the input); no call fact (`DID`, `RINGNOANSWER` … of a
//! call); not a queue call (system, member, pause, agent session and outbound lines, unknown
//! event types); an exact repeat (the same call line again, as when exports overlap); a
//! conflicting repeat (a line contradicting what the call's earlier lines said, such as an
//! abandon after an answer: a [`QueueLogError::Conflict`] naming both lines unless skipping);
//! skipped invalid.
//!
//! Robustness: NUL bytes (left by an unclean shutdown, often as a run prefixing a line) are
//! stripped before a line is parsed; blank lines are skipped. A call whose outcome is missing at
//! the end of the input is reported in [`QueueLogImport::incomplete_calls`] with the events that
//! did happen, and no outcome is invented. A call line whose call never entered the queue in the
//! input (its start was cut off before the first file) is reported as an orphan. A malformed
//! line is a [`QueueLogError`] naming file, line and field, or is skipped and reported when the
//! caller asks for [`MalformedLines::Skip`].
//!
//! Ids: the domain call id is `<client>:<asterisk callid>` with the callid escaped by
//! [`escape_id`] (never folded, so different callids stay different calls), and a call that
//! re-enters a queue gets `:<n>` appended for its n-th visit; every event id is a UUID v5 of
//! the client, the Asterisk call id as written, the visit and the event kind, so the same lines
//! always give the same ids.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::events::{
    AbandonReason, CallAbandoned, CallAnswered, CallCompleted, CallConnected, DomainEvent,
};
use crate::ids::{AgentId, CallId, ClientId, IdError};
use crate::import::accounting::{escape_agent_id, escape_id, Accounting, Disposition};

/// The namespace of the UUID v5 event ids this importer derives.
pub const QUEUE_LOG_NAMESPACE: Uuid = Uuid::from_u128(0x6f70_736c_6564_6765_7271_6c6f_6731_0001);

/// The agent id used when a `CONNECT` line names no member.
const UNKNOWN_AGENT: &str = "unknown";

/// One input file, already read by the caller.
#[derive(Debug, Clone, Copy)]
pub struct QueueLogSource<'a> {
    /// A name for error messages, e.g. the file name.
    pub name: &'a str,
    /// The raw bytes, NULs and all.
    pub bytes: &'a [u8],
}

/// What to do with a malformed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MalformedLines {
    /// Stop with a [`QueueLogError`] (the default).
    #[default]
    Fail,
    /// Skip the line and report it in [`QueueLogImport::skipped`].
    Skip,
}

/// Import options.
#[derive(Debug, Clone)]
pub struct QueueLogOptions {
    /// The client the calls belong to.
    pub client_id: ClientId,
    /// What to do with malformed lines.
    pub malformed: MalformedLines,
}

/// A line of an input file, 1-based.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRef {
    /// The source name.
    pub file: String,
    /// The 1-based line number within that source.
    pub line: u64,
}

/// Why a line could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QueueLogError {
    /// A field is missing or unreadable.
    #[error("{file}:{line}: field {field}: {reason} (found {found:?})")]
    Malformed {
        /// The source name.
        file: String,
        /// The 1-based line number.
        line: u64,
        /// The field, named as in FORMATS.md (`timestamp`, `callid`, `event`, `data1` …).
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
        /// The offending text (empty when the field is missing).
        found: String,
    },
    /// A call line contradicts what an earlier line of the same call said (a second outcome,
    /// an answer after the call ended).
    #[error("{file}:{line}: {what} conflicts with {first_file}:{first_line}, which already gave the call {state}")]
    Conflict {
        /// The source name.
        file: String,
        /// The 1-based line of the conflicting line.
        line: u64,
        /// The line's event and call (`ABANDON of call 1658129428.1048`).
        what: String,
        /// The source of the earlier line.
        first_file: String,
        /// The 1-based line of the earlier line.
        first_line: u64,
        /// What the earlier line established (`an answer`, `an outcome`).
        state: &'static str,
    },
}

/// A malformed line that was skipped on request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    /// Why it was skipped (the error it would have raised).
    pub error: QueueLogError,
}

/// One translated event with its deterministic id and the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedEvent {
    /// UUID v5 of client, Asterisk call id, visit and event kind.
    pub event_id: Uuid,
    /// The domain event.
    pub event: DomainEvent,
    /// The line it was translated from.
    pub source: LineRef,
}

/// How far a call had got when the input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallProgress {
    /// Entered the queue; neither answered nor abandoned.
    InQueue,
    /// Answered; not completed.
    Answered,
}

/// A call without an outcome at the end of the input (cut off by the end of the last file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompleteCall {
    /// The domain call id.
    pub call_id: CallId,
    /// How far it got.
    pub progress: CallProgress,
    /// Its last line.
    pub last_line: LineRef,
}

/// A call line for a call that never entered the queue in the input, or in the wrong order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphanLine {
    /// The Asterisk call id.
    pub asterisk_call_id: String,
    /// The event name.
    pub event: String,
    /// The line.
    pub line: LineRef,
}

/// Asterisk's own duration disagrees with the difference of the line timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationMismatch {
    /// The domain call id.
    pub call_id: CallId,
    /// Which field (`holdtime`, `waittime`, `calltime`).
    pub field: &'static str,
    /// What Asterisk logged, in seconds.
    pub logged_secs: i64,
    /// The difference of the timestamps, in seconds.
    pub timestamps_secs: i64,
    /// The line.
    pub line: LineRef,
}

/// The result of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueLogImport {
    /// Domain events in input order.
    pub events: Vec<ImportedEvent>,
    /// Calls without an outcome at the end of the input.
    pub incomplete_calls: Vec<IncompleteCall>,
    /// Call lines with no matching call start.
    pub orphan_lines: Vec<OrphanLine>,
    /// Malformed lines skipped on request.
    pub skipped: Vec<SkippedLine>,
    /// Logged durations that disagree with the timestamps.
    pub duration_mismatches: Vec<DurationMismatch>,
    /// Lines that carry no call fact, counted by event name.
    pub ignored: BTreeMap<String, u64>,
    /// Non-blank lines read.
    pub lines_read: u64,
    /// NUL bytes stripped.
    pub nul_bytes_stripped: u64,
    /// Every non-blank line read, with what became of it.
    pub accounting: Accounting,
}

/// One call visit in progress.
#[derive(Debug)]
struct Visit {
    call_id: CallId,
    asterisk_call_id: String,
    visit: u32,
    progress: Progress,
    entered_at: i64,
    answered_at: i64,
    last_line: LineRef,
    /// The accounting rows of the lines this visit imported.
    rows: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    InQueue,
    Answered,
    Done,
}

/// The fields of one line (a pipe line or a row of a realtime dump).
struct Fields {
    timestamp: i64,
    callid: String,
    queue: String,
    agent: String,
    event: String,
    /// `data1`, `data2` … with trailing empty fields dropped, so that a pipe line and the same
    /// row of a realtime dump give the same fields.
    data: Vec<String>,
}

impl Fields {
    /// The text two lines share exactly when they record the same event.
    fn repeat_key(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}|{}",
            self.timestamp,
            self.callid.trim(),
            self.queue.trim(),
            self.agent.trim(),
            self.event,
            self.data.join("|")
        )
    }
}

/// How a vendor's dump of the queue_log table lays out its columns, when it is not the
/// realtime table's own `time, callid, queuename, agent, event, data1..data5`: the header
/// names of the five fields, and per event type the columns that give its parameters
/// `data1`, `data2` … in the order the pipe format has them (`""` for a parameter the dump
/// does not keep). Vendors move some parameters into columns of their own (PBXware keeps the
/// wait in `htime` and the talk time in `ttime`, `FORMATS.md` §3); the layout puts them back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DumpLayout {
    /// What the layout is for.
    pub name: String,
    /// Notes on the layout (where each parameter comes from, what is assumed).
    #[serde(default)]
    pub description: String,
    /// The column of the instant (epoch seconds or timestamp text).
    pub time: String,
    /// The column of the Asterisk call id.
    pub callid: String,
    /// The column of the queue name.
    pub queuename: String,
    /// The column of the agent.
    pub agent: String,
    /// The column of the event type.
    pub event: String,
    /// Per event type, the columns of its `data1`, `data2` …; the key `*` for every other
    /// event type.
    pub data: BTreeMap<String, Vec<String>>,
}

/// The layout of a PBXware queue_log table export (`FORMATS.md` §3), shipped with the crate.
const PBXWARE_JSON: &str = include_str!("mappings/pbxware_queue_log.json");

/// Why a dump layout cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LayoutError {
    /// The layout file is not a valid layout.
    #[error("layout file: {0}")]
    Json(String),
}

/// Reads a JSON dump layout.
pub fn parse_dump_layout(json: &str) -> Result<DumpLayout, LayoutError> {
    serde_json::from_str(json).map_err(|e| LayoutError::Json(e.to_string()))
}

/// The layout of PBXware's queue_log table export.
pub fn pbxware_layout() -> DumpLayout {
    // The file is part of the crate and a test parses it, so it cannot fail at run time.
    parse_dump_layout(PBXWARE_JSON).expect("the shipped pbxware_queue_log.json is valid")
}

/// How realtime dumps are read.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// The zone of timestamp text in a dump's time column (epoch seconds need none).
    pub zone: Tz,
    /// The dump's layout; the realtime table's own when `None`.
    pub layout: Option<DumpLayout>,
}

/// Translates queue_log files (oldest first) into domain call events for one client. Realtime
/// dumps whose `time` column holds timestamp text are read as UTC; see [`import_in_zone`].
pub fn import(
    sources: &[QueueLogSource<'_>],
    options: &QueueLogOptions,
) -> Result<QueueLogImport, QueueLogError> {
    import_in_zone(sources, options, chrono_tz::UTC)
}

/// Translates queue_log files (oldest first) into domain call events for one client, reading
/// the timestamp text of a realtime dump's `time` column as wall-clock time in `zone` (epoch
/// seconds need no zone).
///
/// Each source is either the pipe-separated file Asterisk writes, or a dump of the realtime
/// `queue_log` table: CSV or TSV whose first line names the columns `time`, `callid`,
/// `queuename`, `agent`, `event` and `data1` … `data5` (or one `data` column holding the
/// pipe-separated parameters), in any order and with any further columns, which are ignored.
/// A source is read as a dump when its first non-blank line names at least `callid` and
/// `event`. Both layouts give the same events for the same calls.
pub fn import_in_zone(
    sources: &[QueueLogSource<'_>],
    options: &QueueLogOptions,
    zone: Tz,
) -> Result<QueueLogImport, QueueLogError> {
    import_with(sources, options, &DumpOptions { zone, layout: None })
}

/// As [`import_in_zone`], reading dumps with the given layout: a source is a dump when its
/// first line names the layout's `callid` and `event` columns.
pub fn import_with(
    sources: &[QueueLogSource<'_>],
    options: &QueueLogOptions,
    dump: &DumpOptions,
) -> Result<QueueLogImport, QueueLogError> {
    let mut out = QueueLogImport::default();
    let mut importer = Importer {
        client_id: &options.client_id,
        visits: HashMap::new(),
        order: Vec::new(),
        seen_lines: HashMap::new(),
    };
    for source in sources {
        let nuls = source.bytes.iter().filter(|b| **b == 0).count();
        out.nul_bytes_stripped = out
            .nul_bytes_stripped
            .saturating_add(u64::try_from(nuls).unwrap_or(u64::MAX));
        // NUL bytes are never line breaks, so stripping them keeps every line's number.
        let cleaned: Vec<u8> = source.bytes.iter().copied().filter(|b| *b != 0).collect();
        match realtime::detect(&cleaned, dump.layout.as_ref()) {
            Some(delimiter) => realtime::read(
                source.name,
                &cleaned,
                delimiter,
                dump,
                options.malformed,
                &mut importer,
                &mut out,
            )?,
            None => read_pipe(
                source.name,
                &cleaned,
                options.malformed,
                &mut importer,
                &mut out,
            )?,
        }
    }
    importer.finish(&mut out);
    Ok(out)
}

/// Reads the pipe-separated layout, one event per physical line.
fn read_pipe(
    name: &str,
    bytes: &[u8],
    policy: MalformedLines,
    importer: &mut Importer<'_>,
    out: &mut QueueLogImport,
) -> Result<(), QueueLogError> {
    for (index, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line_no = u64::try_from(index).map_or(u64::MAX, |i| i.saturating_add(1));
        let line_ref = LineRef {
            file: name.to_owned(),
            line: line_no,
        };
        let parsed = match std::str::from_utf8(raw) {
            Ok(t) => {
                let text = t.trim_end_matches('\r');
                if text.trim().is_empty() {
                    continue;
                }
                parse_fields(text, &line_ref)
            }
            Err(_) => Err(malformed(&line_ref, "line", "is not UTF-8", "")),
        };
        importer.take(parsed, line_ref, policy, out)?;
    }
    Ok(())
}

fn malformed(
    line: &LineRef,
    field: &'static str,
    reason: &'static str,
    found: &str,
) -> QueueLogError {
    QueueLogError::Malformed {
        file: line.file.clone(),
        line: line.line,
        field,
        reason,
        found: found.to_owned(),
    }
}

/// Checks that epoch seconds are within the range of instants the ledger can hold.
fn checked_epoch(secs: i64, line: &LineRef, found: &str) -> Result<i64, QueueLogError> {
    if DateTime::<Utc>::from_timestamp(secs, 0).is_none() {
        return Err(malformed(line, "timestamp", "is out of range", found));
    }
    Ok(secs)
}

/// The data fields with trailing empty ones dropped.
fn data_fields<'t>(parts: impl Iterator<Item = &'t str>) -> Vec<String> {
    let mut data: Vec<String> = parts.map(str::to_owned).collect();
    while data.last().is_some_and(|d| d.trim().is_empty()) {
        data.pop();
    }
    data
}

fn parse_fields(text: &str, line: &LineRef) -> Result<Fields, QueueLogError> {
    let mut parts = text.split('|');
    let ts_text = parts.next().unwrap_or("");
    let timestamp: i64 = ts_text.trim().parse().map_err(|_| {
        malformed(
            line,
            "timestamp",
            "is not an integer of epoch seconds",
            ts_text,
        )
    })?;
    let timestamp = checked_epoch(timestamp, line, ts_text)?;
    let mut next = |field: &'static str| {
        parts
            .next()
            .map(str::to_owned)
            .ok_or_else(|| malformed(line, field, "is missing", ""))
    };
    let callid = next("callid")?;
    let queue = next("queue")?;
    let agent = next("agent")?;
    let event = next("event")?;
    if event.is_empty() {
        return Err(malformed(line, "event", "is empty", ""));
    }
    Ok(Fields {
        timestamp,
        callid,
        queue,
        agent,
        event,
        data: data_fields(parts),
    })
}

/// Reading dumps of the Asterisk realtime `queue_log` table.
mod realtime {
    use std::collections::BTreeMap;

    use super::{
        checked_epoch, data_fields, malformed, DumpLayout, DumpOptions, Fields, Importer, LineRef,
        MalformedLines, QueueLogError, QueueLogImport,
    };
    use chrono::NaiveDateTime;
    use chrono_tz::Tz;

    use crate::import::accounting::LineIndex;
    use crate::import::cdr_csv::local_to_utc;

    /// The delimiter of a realtime dump, or `None` for the pipe layout: the first non-blank
    /// line is a header naming `callid` and `event` when split on its most frequent of tab,
    /// comma and semicolon.
    pub(super) fn detect(bytes: &[u8], layout: Option<&DumpLayout>) -> Option<u8> {
        let first = bytes
            .split(|b| *b == b'\n')
            .find(|l| l.iter().any(|b| !b.is_ascii_whitespace()))?;
        let text = std::str::from_utf8(first).ok()?;
        let delimiter = [b'\t', b',', b';']
            .into_iter()
            .max_by_key(|d| first.iter().filter(|b| *b == d).count())?;
        let names: Vec<String> = text.split(char::from(delimiter)).map(header_name).collect();
        let (callid, event) = match layout {
            Some(l) => (l.callid.to_ascii_lowercase(), l.event.to_ascii_lowercase()),
            None => ("callid".to_owned(), "event".to_owned()),
        };
        (names.contains(&callid) && names.contains(&event)).then_some(delimiter)
    }

    /// A header cell as a lower-case name, without quotes and byte-order mark.
    fn header_name(cell: &str) -> String {
        cell.trim()
            .trim_start_matches('\u{feff}')
            .trim_matches('"')
            .trim()
            .to_ascii_lowercase()
    }

    /// Where the fields are in a row.
    #[derive(Clone)]
    struct Layout {
        time: usize,
        callid: usize,
        queue: usize,
        agent: usize,
        event: usize,
        data: Data,
    }

    #[derive(Clone)]
    enum Data {
        /// `data1` … `data5`, each possibly absent.
        Columns(Vec<Option<usize>>),
        /// One `data` column holding the parameters separated by `|`.
        Piped(usize),
        /// Per event type (`*` for the rest), the columns of `data1`, `data2` …
        PerEvent(BTreeMap<String, Vec<Option<usize>>>),
    }

    /// Resolves a vendor layout against the header.
    fn vendor_layout(
        spec: &DumpLayout,
        names: &[String],
        header: &LineRef,
    ) -> Result<Layout, QueueLogError> {
        let find = |field: &'static str, name: &str| {
            let lower = name.trim().to_ascii_lowercase();
            names
                .iter()
                .position(|n| *n == lower)
                .ok_or_else(|| malformed(header, field, "is not a column of the header", name))
        };
        let mut per_event = BTreeMap::new();
        for (event, columns) in &spec.data {
            let mut resolved = Vec::with_capacity(columns.len());
            for column in columns {
                resolved.push(if column.trim().is_empty() {
                    None
                } else {
                    Some(find("data", column)?)
                });
            }
            per_event.insert(event.clone(), resolved);
        }
        Ok(Layout {
            time: find("time", &spec.time)?,
            callid: find("callid", &spec.callid)?,
            queue: find("queuename", &spec.queuename)?,
            agent: find("agent", &spec.agent)?,
            event: find("event", &spec.event)?,
            data: Data::PerEvent(per_event),
        })
    }

    fn layout(names: &[String], header: &LineRef) -> Result<Layout, QueueLogError> {
        let find = |field: &'static str, aliases: &[&str]| {
            names
                .iter()
                .position(|n| aliases.contains(&n.as_str()))
                .ok_or_else(|| malformed(header, field, "is not a column of the header", ""))
        };
        let data_columns: Vec<Option<usize>> = (1..=5)
            .map(|i| names.iter().position(|n| *n == format!("data{i}")))
            .collect();
        let data = if data_columns.iter().any(Option::is_some) {
            Data::Columns(data_columns)
        } else {
            Data::Piped(find("data", &["data"])?)
        };
        Ok(Layout {
            time: find("time", &["time", "timestamp"])?,
            callid: find("callid", &["callid"])?,
            queue: find("queuename", &["queuename", "queue_name", "queue"])?,
            agent: find("agent", &["agent"])?,
            event: find("event", &["event"])?,
            data,
        })
    }

    /// Epoch seconds (an integer, or with a fraction that is dropped) or a
    /// `YYYY-MM-DD HH:MM:SS[.ffffff]` timestamp in `zone`.
    fn timestamp(text: &str, zone: Tz, line: &LineRef) -> Result<i64, QueueLogError> {
        let t = text.trim();
        let whole = t.split_once('.').map_or(t, |(w, f)| {
            if f.bytes().all(|b| b.is_ascii_digit()) {
                w
            } else {
                t
            }
        });
        if let Ok(secs) = whole.parse::<i64>() {
            return checked_epoch(secs, line, text);
        }
        let naive = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f"))
            .map_err(|_| {
                malformed(
                    line,
                    "time",
                    "is neither epoch seconds nor a YYYY-MM-DD HH:MM:SS timestamp",
                    text,
                )
            })?;
        let at = local_to_utc(&naive, &zone).ok_or_else(|| {
            malformed(
                line,
                "time",
                "does not exist in the dump's time zone (a daylight-saving gap)",
                text,
            )
        })?;
        Ok(at.timestamp())
    }

    fn fields(
        record: &csv::ByteRecord,
        layout: &Layout,
        zone: Tz,
        line: &LineRef,
    ) -> Result<Fields, QueueLogError> {
        let cell = |index: usize, field: &'static str| -> Result<String, QueueLogError> {
            match record.get(index) {
                None => Ok(String::new()),
                Some(bytes) => std::str::from_utf8(bytes)
                    .map(str::to_owned)
                    .map_err(|_| malformed(line, field, "is not UTF-8", "")),
            }
        };
        let time_text = cell(layout.time, "time")?;
        let event = cell(layout.event, "event")?.trim().to_owned();
        if event.is_empty() {
            return Err(malformed(line, "event", "is empty", ""));
        }
        let data = match &layout.data {
            Data::Columns(columns) => {
                let mut texts = Vec::with_capacity(columns.len());
                for (i, column) in columns.iter().enumerate() {
                    let name = super::DATA_FIELDS.get(i).copied().unwrap_or("data");
                    texts.push(match column {
                        Some(index) => cell(*index, name)?,
                        None => String::new(),
                    });
                }
                data_fields(texts.iter().map(String::as_str))
            }
            Data::Piped(index) => {
                let text = cell(*index, "data")?;
                data_fields(text.split('|'))
            }
            Data::PerEvent(by_event) => {
                let columns = by_event
                    .get(&event)
                    .or_else(|| by_event.get("*"))
                    .map_or(&[][..], Vec::as_slice);
                let mut texts = Vec::with_capacity(columns.len());
                for column in columns {
                    texts.push(match column {
                        Some(index) => cell(*index, "data")?,
                        None => String::new(),
                    });
                }
                data_fields(texts.iter().map(String::as_str))
            }
        };
        Ok(Fields {
            timestamp: timestamp(&time_text, zone, line)?,
            callid: cell(layout.callid, "callid")?,
            queue: cell(layout.queue, "queuename")?,
            agent: cell(layout.agent, "agent")?,
            event,
            data,
        })
    }

    /// Reads a realtime dump: the header, then one event per row, each row named by the
    /// physical line it starts on (the header is line 1).
    pub(super) fn read(
        name: &str,
        bytes: &[u8],
        delimiter: u8,
        dump: &DumpOptions,
        policy: MalformedLines,
        importer: &mut Importer<'_>,
        out: &mut QueueLogImport,
    ) -> Result<(), QueueLogError> {
        let lines = LineIndex::new(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut record = csv::ByteRecord::new();
        // `None` until the header is read; then the layout, or (when skipping) why the header
        // gives none, which every row then shares.
        let mut layout: Option<Result<Layout, QueueLogError>> = None;
        loop {
            let before = lines.line_at(reader.position().byte());
            let line_of = |position: Option<&csv::Position>| LineRef {
                file: name.to_owned(),
                line: position.map_or(before, |p| lines.line_at(p.byte())),
            };
            match reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    let line = line_of(record.position());
                    if record.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
                        continue;
                    }
                    let Some(layout) = &layout else {
                        // The first row is the header (`detect` found it), not an event.
                        let names: Vec<String> = record
                            .iter()
                            .map(|c| header_name(&String::from_utf8_lossy(c)))
                            .collect();
                        let found = match &dump.layout {
                            Some(spec) => vendor_layout(spec, &names, &line),
                            None => super::realtime::layout(&names, &line),
                        };
                        if policy == MalformedLines::Fail {
                            found.clone()?;
                        }
                        layout = Some(found);
                        continue;
                    };
                    let parsed = match layout {
                        Ok(layout) => fields(&record, layout, dump.zone, &line),
                        Err(header) => Err(malformed(
                            &line,
                            "header",
                            "cannot be read because the header is unusable",
                            &header.to_string(),
                        )),
                    };
                    importer.take(parsed, line, policy, out)?;
                }
                Err(e) => {
                    // Reading `&[u8]` cannot fail on I/O and a flexible reader accepts any
                    // shape, so this is unexpected; reading stops because the reader's
                    // position after an error is not guaranteed to advance.
                    let line = line_of(e.position());
                    let error = malformed(&line, "line", "is unreadable CSV", &e.to_string());
                    importer.take(Err(error), line, policy, out)?;
                    break;
                }
            }
        }
        Ok(())
    }
}
/// The names FORMATS.md gives the data fields, for error messages.
const DATA_FIELDS: [&str; 5] = ["data1", "data2", "data3", "data4", "data5"];

/// Events of a queue call that change none of the facts the ledger records for it.
const CALL_INFO_EVENTS: [&str; 5] = [
    "DID",
    "RINGNOANSWER",
    "RINGCANCELED",
    "SYSCOMPAT",
    "AGENTDUMP",
];

fn data_secs(fields: &Fields, index: usize, line: &LineRef) -> Result<i64, QueueLogError> {
    let name = DATA_FIELDS.get(index).copied().unwrap_or("data");
    let text = fields
        .data
        .get(index)
        .ok_or_else(|| malformed(line, name, "is missing", ""))?;
    let secs: i64 = text
        .trim()
        .parse()
        .map_err(|_| malformed(line, name, "is not an integer of seconds", text))?;
    if secs < 0 {
        return Err(malformed(line, name, "is negative", text));
    }
    Ok(secs)
}

fn id_error(line: &LineRef, field: &'static str, found: &str, _e: IdError) -> QueueLogError {
    malformed(line, field, "does not make a valid id", found)
}

fn at(secs: i64) -> DateTime<Utc> {
    // Timestamps out of chrono's range were refused when the line was read.
    DateTime::<Utc>::from_timestamp(secs, 0).expect("timestamp range checked when parsed")
}

/// Whether a `callid` names a call rather than the system.
fn names_a_call(callid: &str) -> bool {
    let id = callid.trim();
    !(id.is_empty() || matches!(id, "NONE" | "MANAGER" | "CLI" | "REALTIME"))
}

struct Importer<'c> {
    client_id: &'c ClientId,
    /// Asterisk call id to the index of its current visit in `order`.
    visits: HashMap<String, usize>,
    /// Every visit, in the order calls entered the queue.
    order: Vec<Visit>,
    /// The call-fact lines imported so far, by their content, with where they were.
    seen_lines: HashMap<String, LineRef>,
}

impl Importer<'_> {
    fn event_id(&self, visit: &Visit, kind: &str) -> Uuid {
        let name = format!(
            "opsledger/queue_log/{}/{}/{}/{}",
            self.client_id, visit.asterisk_call_id, visit.visit, kind
        );
        Uuid::new_v5(&QUEUE_LOG_NAMESPACE, name.as_bytes())
    }

    /// Takes one row: translates it and lists it in the accounting, or stops with its error,
    /// or (when asked to skip) lists it as skipped.
    fn take(
        &mut self,
        parsed: Result<Fields, QueueLogError>,
        line_ref: LineRef,
        policy: MalformedLines,
        out: &mut QueueLogImport,
    ) -> Result<(), QueueLogError> {
        out.lines_read = out.lines_read.saturating_add(1);
        let row = out.accounting.rows.len();
        match parsed.and_then(|f| self.line(&f, &line_ref, row, out)) {
            Ok((disposition, detail)) => {
                out.accounting.push(line_ref, disposition, detail);
                Ok(())
            }
            Err(error) => match policy {
                MalformedLines::Fail => Err(error),
                MalformedLines::Skip => {
                    let disposition = match error {
                        QueueLogError::Conflict { .. } => Disposition::ConflictingRepeat,
                        QueueLogError::Malformed { .. } => Disposition::SkippedInvalid,
                    };
                    out.accounting
                        .push(line_ref, disposition, error.to_string());
                    out.skipped.push(SkippedLine { error });
                    Ok(())
                }
            },
        }
    }

    fn line(
        &mut self,
        f: &Fields,
        line: &LineRef,
        row: usize,
        out: &mut QueueLogImport,
    ) -> Result<(Disposition, String), QueueLogError> {
        let event = f.event.as_str();
        let is_fact = matches!(
            event,
            "ENTERQUEUE"
                | "CONNECT"
                | "COMPLETEAGENT"
                | "COMPLETECALLER"
                | "TRANSFER"
                | "BLINDTRANSFER"
                | "ATTENDEDTRANSFER"
                | "ABANDON"
                | "EXITWITHTIMEOUT"
                | "EXITEMPTY"
                | "EXITWITHKEY"
        );
        if !is_fact {
            *out.ignored.entry(event.to_owned()).or_insert(0) += 1;
            let disposition = if names_a_call(&f.callid) && CALL_INFO_EVENTS.contains(&event) {
                Disposition::NoCallFact
            } else {
                Disposition::NotQueueCall
            };
            return Ok((disposition, event.to_owned()));
        }
        // The same line twice (overlapping exports, a file passed twice) records nothing new.
        let key = f.repeat_key();
        if let Some(first) = self.seen_lines.get(&key) {
            return Ok((
                Disposition::ExactRepeat,
                format!("{event}, as {}:{}", first.file, first.line),
            ));
        }
        let imported = match event {
            "ENTERQUEUE" => self.enter(f, line, row, out),
            "CONNECT" => self.connect(f, line, row, out),
            "COMPLETEAGENT" | "COMPLETECALLER" => self.complete(f, 1, line, row, out),
            "TRANSFER" | "BLINDTRANSFER" | "ATTENDEDTRANSFER" => {
                self.complete(f, 3, line, row, out)
            }
            "ABANDON" => self.leave(f, AbandonReason::CallerHungUp, 2, line, row, out),
            "EXITWITHTIMEOUT" => self.leave(f, AbandonReason::QueueTimeout, 2, line, row, out),
            "EXITEMPTY" => self.leave(f, AbandonReason::QueueEmpty, 2, line, row, out),
            _ => self.leave(f, AbandonReason::CallerLeftWithKey, 3, line, row, out),
        }?;
        if !imported {
            return Ok((Disposition::CutOffAtStart, event.to_owned()));
        }
        self.seen_lines.insert(key, line.clone());
        Ok((Disposition::Imported, event.to_owned()))
    }

    fn callid<'l>(f: &'l Fields, line: &LineRef) -> Result<&'l str, QueueLogError> {
        if !names_a_call(&f.callid) {
            return Err(malformed(line, "callid", "does not name a call", &f.callid));
        }
        Ok(f.callid.trim())
    }

    fn enter(
        &mut self,
        f: &Fields,
        line: &LineRef,
        row: usize,
        out: &mut QueueLogImport,
    ) -> Result<bool, QueueLogError> {
        let asterisk = Self::callid(f, line)?;
        let previous = self.visits.get(asterisk).map(|i| &self.order[*i]);
        let visit_no = previous.map_or(1, |v| v.visit.saturating_add(1));
        let base = format!("{}:{}", self.client_id, escape_id(asterisk));
        let call_text = if visit_no == 1 {
            base
        } else {
            format!("{base}:{visit_no}")
        };
        let call_id =
            CallId::new(call_text.clone()).map_err(|e| id_error(line, "callid", &call_text, e))?;
        let queue = Some(f.queue.trim())
            .filter(|q| !q.is_empty() && *q != "NONE")
            .map(str::to_owned);
        let caller_number = f
            .data
            .get(1)
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        let visit = Visit {
            call_id: call_id.clone(),
            asterisk_call_id: asterisk.to_owned(),
            visit: visit_no,
            progress: Progress::InQueue,
            entered_at: f.timestamp,
            answered_at: f.timestamp,
            last_line: line.clone(),
            rows: vec![row],
        };
        let event_id = self.event_id(&visit, "connected");
        out.events.push(ImportedEvent {
            event_id,
            event: DomainEvent::CallConnected(CallConnected {
                client_id: self.client_id.clone(),
                call_id,
                at: at(f.timestamp),
                queue,
                caller_number,
            }),
            source: line.clone(),
        });
        self.visits.insert(asterisk.to_owned(), self.order.len());
        self.order.push(visit);
        Ok(true)
    }

    /// The current visit of a call if it is in `expected` progress. A call never seen is an
    /// orphan (its start lies before the input), recorded and `None`; a call seen in another
    /// progress is a conflict with the line that put it there.
    fn visit_in(
        &mut self,
        f: &Fields,
        expected: Progress,
        line: &LineRef,
        out: &mut QueueLogImport,
    ) -> Result<Option<usize>, QueueLogError> {
        let asterisk = Self::callid(f, line)?;
        match self.visits.get(asterisk) {
            Some(i) if self.order[*i].progress == expected => Ok(Some(*i)),
            Some(i) => {
                let visit = &self.order[*i];
                Err(QueueLogError::Conflict {
                    file: line.file.clone(),
                    line: line.line,
                    what: format!("{} of call {asterisk}", f.event),
                    first_file: visit.last_line.file.clone(),
                    first_line: visit.last_line.line,
                    state: match visit.progress {
                        Progress::InQueue => "no answer yet",
                        Progress::Answered => "an answer",
                        Progress::Done => "an outcome",
                    },
                })
            }
            None => {
                out.orphan_lines.push(OrphanLine {
                    asterisk_call_id: asterisk.to_owned(),
                    event: f.event.clone(),
                    line: line.clone(),
                });
                Ok(None)
            }
        }
    }

    fn check(
        out: &mut QueueLogImport,
        visit: &Visit,
        field: &'static str,
        logged_secs: i64,
        since: i64,
        now: i64,
        line: &LineRef,
    ) {
        let timestamps_secs = now.saturating_sub(since);
        if logged_secs != timestamps_secs {
            out.duration_mismatches.push(DurationMismatch {
                call_id: visit.call_id.clone(),
                field,
                logged_secs,
                timestamps_secs,
                line: line.clone(),
            });
        }
    }

    fn connect(
        &mut self,
        f: &Fields,
        line: &LineRef,
        row: usize,
        out: &mut QueueLogImport,
    ) -> Result<bool, QueueLogError> {
        let holdtime = data_secs(f, 0, line)?;
        let Some(i) = self.visit_in(f, Progress::InQueue, line, out)? else {
            return Ok(false);
        };
        let agent_text = match f.agent.trim() {
            "" | "NONE" => UNKNOWN_AGENT.to_owned(),
            name => escape_agent_id(name),
        };
        let agent_id = AgentId::new(agent_text.clone())
            .map_err(|e| id_error(line, "agent", &agent_text, e))?;
        let event_id = self.event_id(&self.order[i], "answered");
        let visit = &mut self.order[i];
        Self::check(
            out,
            visit,
            "holdtime",
            holdtime,
            visit.entered_at,
            f.timestamp,
            line,
        );
        visit.progress = Progress::Answered;
        visit.answered_at = f.timestamp;
        visit.last_line = line.clone();
        visit.rows.push(row);
        out.events.push(ImportedEvent {
            event_id,
            event: DomainEvent::CallAnswered(CallAnswered {
                client_id: self.client_id.clone(),
                call_id: visit.call_id.clone(),
                at: at(f.timestamp),
                agent_id,
            }),
            source: line.clone(),
        });
        Ok(true)
    }

    fn complete(
        &mut self,
        f: &Fields,
        calltime_index: usize,
        line: &LineRef,
        row: usize,
        out: &mut QueueLogImport,
    ) -> Result<bool, QueueLogError> {
        self.end_visit(
            f,
            (Progress::Answered, "completed"),
            ("calltime", calltime_index, |v: &Visit| v.answered_at),
            (line, row),
            out,
            |client_id, call_id, at| {
                DomainEvent::CallCompleted(CallCompleted {
                    client_id,
                    call_id,
                    at,
                })
            },
        )
    }

    fn leave(
        &mut self,
        f: &Fields,
        reason: AbandonReason,
        waittime_index: usize,
        line: &LineRef,
        row: usize,
        out: &mut QueueLogImport,
    ) -> Result<bool, QueueLogError> {
        self.end_visit(
            f,
            (Progress::InQueue, "abandoned"),
            ("waittime", waittime_index, |v: &Visit| v.entered_at),
            (line, row),
            out,
            |client_id, call_id, at| {
                DomainEvent::CallAbandoned(CallAbandoned {
                    client_id,
                    call_id,
                    at,
                    reason,
                })
            },
        )
    }

    /// Ends the visit this line belongs to, if it is at `expected` progress: checks the
    /// logged duration (`field`, at data index `index`) against the timestamps since the
    /// instant `since` gives, marks the visit done and records the event `make` builds, with
    /// the id of event `kind`. Returns whether the line had a visit to end.
    fn end_visit(
        &mut self,
        f: &Fields,
        (expected, kind): (Progress, &'static str),
        (field, index, since): (&'static str, usize, fn(&Visit) -> i64),
        (line, row): (&LineRef, usize),
        out: &mut QueueLogImport,
        make: impl FnOnce(ClientId, CallId, DateTime<Utc>) -> DomainEvent,
    ) -> Result<bool, QueueLogError> {
        let logged = data_secs(f, index, line)?;
        let Some(i) = self.visit_in(f, expected, line, out)? else {
            return Ok(false);
        };
        let event_id = self.event_id(&self.order[i], kind);
        let visit = &mut self.order[i];
        let started = since(visit);
        Self::check(out, visit, field, logged, started, f.timestamp, line);
        visit.progress = Progress::Done;
        visit.last_line = line.clone();
        visit.rows.push(row);
        out.events.push(ImportedEvent {
            event_id,
            event: make(
                self.client_id.clone(),
                visit.call_id.clone(),
                at(f.timestamp),
            ),
            source: line.clone(),
        });
        Ok(true)
    }

    fn finish(self, out: &mut QueueLogImport) {
        for visit in self.order {
            let progress = match visit.progress {
                Progress::InQueue => CallProgress::InQueue,
                Progress::Answered => CallProgress::Answered,
                Progress::Done => continue,
            };
            for row in &visit.rows {
                out.accounting.set(*row, Disposition::UnresolvedAtEnd);
            }
            out.incomplete_calls.push(IncompleteCall {
                call_id: visit.call_id,
                progress,
                last_line: visit.last_line,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(malformed: MalformedLines) -> QueueLogOptions {
        QueueLogOptions {
            client_id: ClientId::new("lab").unwrap(),
            malformed,
        }
    }

    fn run(text: &[u8], malformed: MalformedLines) -> Result<QueueLogImport, QueueLogError> {
        import(
            &[QueueLogSource {
                name: "queue_log",
                bytes: text,
            }],
            &options(malformed),
        )
    }

    const ANSWERED: &str = "1658814329|1658814295.0|500|NONE|DID|7777\n\
        1658814329|1658814295.0|500|NONE|ENTERQUEUE||1001|1\n\
        1658814335|1658814295.0|500|Sathish|CONNECT|6|1658814329.3|5\n\
        1658814342|1658814295.0|500|Sathish|COMPLETEAGENT|6|7|1\n";

    #[test]
    fn an_answered_call_becomes_connected_answered_completed() {
        let out = run(ANSWERED.as_bytes(), MalformedLines::Fail).unwrap();
        let types: Vec<&str> = out.events.iter().map(|e| e.event.event_type()).collect();
        assert_eq!(types, ["call.connected", "call.answered", "call.completed"]);
        assert_eq!(out.ignored.get("DID"), Some(&1));
        assert!(out.incomplete_calls.is_empty());
        assert!(out.duration_mismatches.is_empty());
        match &out.events[1].event {
            DomainEvent::CallAnswered(a) => {
                assert_eq!(a.call_id.as_str(), "lab:1658814295.0");
                assert_eq!(a.agent_id.as_str(), "Sathish");
                assert_eq!(a.at.timestamp(), 1_658_814_335);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(out.events[1].source.line, 3);
    }

    #[test]
    fn importing_twice_gives_the_same_ids_and_ids_differ_by_kind() {
        let a = run(ANSWERED.as_bytes(), MalformedLines::Fail).unwrap();
        let b = run(ANSWERED.as_bytes(), MalformedLines::Fail).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.events[0].event_id, a.events[1].event_id);
    }

    #[test]
    fn nul_runs_are_stripped_and_cut_off_calls_are_incomplete() {
        let mut bytes = vec![0_u8; 40];
        bytes.extend_from_slice(b"1658226847|NONE|NONE|NONE|QUEUESTART|\n");
        bytes.extend_from_slice(b"1658814329|77.1|500|NONE|ENTERQUEUE||1001|1\n");
        let out = run(&bytes, MalformedLines::Fail).unwrap();
        assert_eq!(out.nul_bytes_stripped, 40);
        assert_eq!(out.ignored.get("QUEUESTART"), Some(&1));
        assert_eq!(out.events.len(), 1);
        assert_eq!(out.incomplete_calls.len(), 1);
        assert_eq!(out.incomplete_calls[0].progress, CallProgress::InQueue);
    }

    #[test]
    fn a_call_spanning_two_files_is_joined() {
        let first = b"100|9.1|500|NONE|ENTERQUEUE||1001|1\n";
        let second = b"110|9.1|500|NONE|EXITWITHKEY|5|1|1|10\n";
        let out = import(
            &[
                QueueLogSource {
                    name: "queue_log-1",
                    bytes: first,
                },
                QueueLogSource {
                    name: "queue_log",
                    bytes: second,
                },
            ],
            &options(MalformedLines::Fail),
        )
        .unwrap();
        assert_eq!(out.events.len(), 2);
        assert!(matches!(
            &out.events[1].event,
            DomainEvent::CallAbandoned(CallAbandoned {
                reason: AbandonReason::CallerLeftWithKey,
                ..
            })
        ));
        assert!(out.incomplete_calls.is_empty());
    }

    #[test]
    fn malformed_lines_name_line_and_field_or_are_skipped() {
        let text = b"100|9.1|500|NONE|ENTERQUEUE||1001|1\nxx|9.1|500|NONE|ABANDON|1|1|3\n\
            105|9.1|500|NONE|ABANDON|1|1\n";
        let err = run(text, MalformedLines::Fail).unwrap_err();
        assert_eq!(
            err,
            QueueLogError::Malformed {
                file: "queue_log".to_owned(),
                line: 2,
                field: "timestamp",
                reason: "is not an integer of epoch seconds",
                found: "xx".to_owned(),
            }
        );
        let out = run(text, MalformedLines::Skip).unwrap();
        assert_eq!(out.skipped.len(), 2);
        let fields: Vec<&str> = out
            .skipped
            .iter()
            .map(|s| match &s.error {
                QueueLogError::Malformed { field, .. } => *field,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(fields, ["timestamp", "data3"]);
        assert_eq!(out.incomplete_calls.len(), 1);
    }

    #[test]
    fn orphans_and_duration_mismatches_are_reported_not_invented() {
        let text = b"100|1.1|500|Bob|CONNECT|3|x|1\n200|2.2|500|NONE|ENTERQUEUE||1|1\n\
            209|2.2|500|SIP/1001|CONNECT|7|x|1\n";
        let out = run(text, MalformedLines::Fail).unwrap();
        assert_eq!(out.orphan_lines.len(), 1);
        let dispositions: Vec<Disposition> =
            out.accounting.rows.iter().map(|r| r.disposition).collect();
        assert_eq!(
            dispositions,
            [
                Disposition::CutOffAtStart,
                Disposition::UnresolvedAtEnd,
                Disposition::UnresolvedAtEnd
            ]
        );
        assert_eq!(out.duration_mismatches.len(), 1);
        assert_eq!(out.duration_mismatches[0].logged_secs, 7);
        assert_eq!(out.duration_mismatches[0].timestamps_secs, 9);
        match &out.events[1].event {
            DomainEvent::CallAnswered(a) => assert_eq!(a.agent_id.as_str(), "SIP:1001"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_second_visit_of_the_same_call_gets_its_own_call_id() {
        let text = b"100|5.5|a|NONE|ENTERQUEUE||1|1\n103|5.5|a|NONE|EXITEMPTY|1|1|3\n\
            104|5.5|b|NONE|ENTERQUEUE||1|1\n";
        let out = run(text, MalformedLines::Fail).unwrap();
        let ids: Vec<String> = out
            .events
            .iter()
            .map(|e| match &e.event {
                DomainEvent::CallConnected(c) => c.call_id.to_string(),
                DomainEvent::CallAbandoned(c) => c.call_id.to_string(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(ids, ["lab:5.5", "lab:5.5", "lab:5.5:2"]);
    }
}
