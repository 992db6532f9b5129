//! The generic call-record CSV importer: any ACD export with one row per call, read through a
//! small JSON mapping file ([`CsvMapping`]) into domain call events.
//!
//! An ACD's ordinary data export is a CSV (or tab-separated) file with one row per call: when
//! the caller entered the queue, when an agent started serving, when the call ended, how it
//! ended and who served it. Column names, time formats and outcome codes differ per vendor, so
//! they are described in a mapping file rather than in code. The mapping is JSON, read with
//! `serde_json` (already a dependency of this crate, and the format the rest of the ledger
//! speaks); unknown keys are refused so that a typo is not silently ignored.
//!
//! # Mapping file
//!
//! ```json
//! {
//!   "name": "anonymous-bank",            // id text; part of every event id
//!   "description": "free text",          // optional
//!   "delimiter": "\t",                   // one ASCII character; default ","
//!   "has_header": true,
//!   "columns": {                          // header name ("q_start") or 0-based index (9)
//!     "call_id": ["vru+line", "call_id"], // one column, or a list that together identify a call
//!     "date": "date",                     // optional: a date column apart from the times
//!     "day_anchor": "vru_entry",          // optional: the time the date belongs to
//!     "queue_entry": "q_start",
//!     "queue_exit": "q_exit",             // optional: when an abandoned caller left
//!     "answer": "ser_start",              // optional: service start (agent pickup)
//!     "end": "ser_exit",                  // optional: end of service
//!     "outcome": "outcome",
//!     "agent": "server",                  // optional
//!     "queue": "type"                     // optional
//!   },
//!   "time": {
//!     "format": "%H:%M:%S",               // chrono strftime of the time columns
//!     "date_format": "%y%m%d",            // required with a date column
//!     "zone": "Asia/Jerusalem",           // IANA zone of the wall-clock times
//!     "absent": ["0:00:00"],              // values meaning "did not happen" (empty always does)
//!     "tolerance_secs": 1                 // optional: how far the export's clocks may disagree
//!   },
//!   "outcomes": { "AGENT": "answered", "HANG": "abandoned", "PHANTOM": "ignore" },
//!   "no_agent": ["NO_SERVER"],            // agent values meaning "no agent"
//!   "queue_entry_absent": "served_directly" // or "skip" (the default)
//! }
//! ```
//!
//! (JSON has no comments; they are here for the reader.) Outcome kinds: `answered`,
//! `abandoned` (the caller hung up), `abandoned_queue_timeout`, `abandoned_queue_empty`,
//! `abandoned_with_key`, `voicemail`, `ignore`. Without a date column the time format must
//! describe a full date and time (e.g. `%Y-%m-%d %H:%M:%S`). With one, each time column holds
//! a time of day on the row's date; a time of day earlier than the day anchor's (the
//! `day_anchor` column if given, else the queue entry) is on the next day, because a call
//! crosses midnight at most once and the date is the day it began.
//!
//! # Translation, per row
//!
//! | outcome | events (instants) |
//! |---|---|
//! | answered | `call.connected` (queue entry), `call.answered` (answer, agent), `call.completed` (end, if present) |
//! | abandoned (any reason) | `call.connected` (queue entry), `call.abandoned` (queue exit, else end) |
//! | voicemail | `call.connected` (queue entry), `call.routed_to_voicemail` (queue exit, else end), `call.completed` (end, if queue exit and end are both present) |
//! | ignore | nothing; counted in [`CsvImport::ignored`] by outcome value |
//!
//! A row whose queue entry is absent never reached the queue. With `queue_entry_absent:
//! "served_directly"`, such a row whose outcome is answered was served without queueing: it is
//! offered and answered at its service start, a zero wait, because leaving it out would drop a
//! call the center did answer at once. Any other such row (with `"skip"`, every such row) left
//! before being offered to an agent (e.g. from the VRU) and is not a call for the SLA: it is
//! listed in [`CsvImport::not_queued`] and yields no event. An answered row with no agent, or
//! with a `no_agent` value, is answered by agent `unknown`.
//!
//! Real exports are written by clocks read to the second, so a mapping declares how far they
//! may disagree (`time.tolerance_secs`, 0 when absent): an instant up to that much before the
//! instant it must follow (a service start before the queue entry, a queue exit before the
//! entry, an end before the answer) is read as that instant and the row is counted as
//! clamped; further is a malformed row. An answered row without a service start was served
//! but its pickup time is lost: it is answered at its queue exit (at its queue entry when it
//! has no exit), no `call.completed` is recorded because its talk time is unknown, and it is
//! counted as answered without service start. Such a row with neither queue entry nor
//! service start has no instant at all and is malformed.
//!
//! Identity and ids: a call is identified by the `call_id` column, or by several columns
//! together (`["vru+line", "call_id"]`; a date column may be one of them). Each cell is
//! escaped into the id alphabet without folding ([`escape_id`]: `m 1`, `m_1` and `mé1` stay
//! three calls) and the parts are joined with `:`; the call id is `<client>:<identity>`. Every
//! event id is a UUID v5 of the mapping name, the client, the call id and the event kind
//! ([`CSV_MAPPING_NAMESPACE`]), so re-importing a file is a no-op. A row whose identity an
//! earlier row had is an exact repeat when every cell is the same (nothing new is imported),
//! and otherwise a conflict: a [`RowError::Conflict`] naming both lines, or with
//! [`MalformedLines::Skip`] the later row is listed and counted as a conflicting repeat and
//! the earlier row stands. Changing a mapping's identity columns changes the call ids, and so
//! the event ids, of the calls it imports from then on.
//!
//! Accounting: every data row gets one [`Disposition`] in [`CsvImport::accounting`]
//! (imported, clamped, answered without service start, not offered, ignored by the mapping,
//! exact or conflicting repeat, skipped invalid), with its physical line (the header is line
//! 1), so the counts add up to [`CsvImport::rows_read`].
//!
//! Errors: a mapping that cannot be read or does not fit the file's header is a
//! [`MappingError`]; a malformed row is a [`RowError`] naming the line, the mapped field and
//! its column, or is skipped and reported in [`CsvImport::skipped`] with
//! [`MalformedLines::Skip`], as the queue_log importer does.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::events::{
    AbandonReason, CallAbandoned, CallAnswered, CallCompleted, CallConnected,
    CallRoutedToVoicemail, DomainEvent,
};
use crate::ids::{AgentId, CallId, ClientId};
use crate::import::accounting::{escape_agent_id, escape_id, Accounting, Disposition, LineIndex};
use crate::import::cdr_csv::local_to_utc;
use crate::import::queue_log::{ImportedEvent, LineRef, MalformedLines};

/// The namespace of the UUID v5 event ids this importer derives.
pub const CSV_MAPPING_NAMESPACE: Uuid = Uuid::from_u128(0x6f70_736c_6564_6765_6373_766d_6170_0001);

/// The agent id used when an answered row names no agent.
const UNKNOWN_AGENT: &str = "unknown";

/// The mapping of the Technion "Anonymous Bank" call records, shipped with the crate.
const ANONYMOUS_BANK_JSON: &str = include_str!("mappings/anonymous_bank.json");

/// The mapping for the Technion "Anonymous Bank" layout (FORMATS.md §4).
pub fn anonymous_bank() -> CsvMapping {
    // The file is part of the crate and a unit test parses it, so it cannot fail at run time.
    parse_mapping(ANONYMOUS_BANK_JSON).expect("the shipped anonymous_bank.json is valid")
}

/// A column, by header name or 0-based index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ColumnRef {
    /// The 0-based index of the column.
    Index(usize),
    /// The header name of the column.
    Name(String),
}

/// The columns that together identify a call: one column, or a list of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Identity {
    /// One column is the call's identity.
    One(ColumnRef),
    /// The call's identity is these columns together (e.g. a line and a per-line call id,
    /// or a call id and the date), in this order.
    Many(Vec<ColumnRef>),
}

impl Identity {
    fn columns(&self) -> Vec<&ColumnRef> {
        match self {
            Identity::One(c) => vec![c],
            Identity::Many(cs) => cs.iter().collect(),
        }
    }
}

/// Which columns hold what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    /// The column, or columns together, that identify a call.
    pub call_id: Identity,
    /// A date column, when the time columns hold only a time of day.
    #[serde(default)]
    pub date: Option<ColumnRef>,
    /// The time of day the date column belongs to (the first time of the call), for the
    /// midnight wrap; the queue entry when not given.
    #[serde(default)]
    pub day_anchor: Option<ColumnRef>,
    /// When the caller entered the queue.
    pub queue_entry: ColumnRef,
    /// When the caller left the queue.
    #[serde(default)]
    pub queue_exit: Option<ColumnRef>,
    /// When an agent started serving the call.
    #[serde(default)]
    pub answer: Option<ColumnRef>,
    /// When the call ended.
    #[serde(default)]
    pub end: Option<ColumnRef>,
    /// How the call ended, a key of [`CsvMapping::outcomes`].
    pub outcome: ColumnRef,
    /// The agent who served the call.
    #[serde(default)]
    pub agent: Option<ColumnRef>,
    /// The queue (service type, skill).
    #[serde(default)]
    pub queue: Option<ColumnRef>,
}

/// How times are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeSpec {
    /// The chrono strftime format of the time columns.
    pub format: String,
    /// The chrono strftime format of the date column.
    #[serde(default)]
    pub date_format: Option<String>,
    /// The IANA zone of the wall-clock times.
    pub zone: Tz,
    /// Values of a time column that mean "did not happen" (an empty cell always does).
    #[serde(default)]
    pub absent: Vec<String>,
    /// How far, in seconds, the export's clocks may disagree: a time up to this much before
    /// the instant it must follow (a service start before the queue entry, say) is read as
    /// that instant and the row is counted as clamped; further is an error. 0 when absent.
    #[serde(default)]
    pub tolerance_secs: u32,
}

/// What an outcome value means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// An agent served the call.
    Answered,
    /// The caller hung up while queued.
    Abandoned,
    /// The queue's timeout removed the caller.
    AbandonedQueueTimeout,
    /// No agent could take calls.
    AbandonedQueueEmpty,
    /// The caller pressed a key to leave.
    AbandonedWithKey,
    /// The call was routed to voicemail.
    Voicemail,
    /// Not a real call (e.g. a test or virtual call); no event.
    Ignore,
}

/// What to do with a row whose queue entry time is absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueEntryAbsent {
    /// The call was never offered: skip it (reported in [`CsvImport::not_queued`]).
    #[default]
    Skip,
    /// An answered row was served without queueing (zero wait at its service start); any
    /// other row is skipped.
    ServedDirectly,
}

/// A mapping file: how to read one ACD's call-record export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvMapping {
    /// The mapping's name (id alphabet); part of every event id.
    pub name: String,
    /// What the mapping is for.
    #[serde(default)]
    pub description: String,
    /// The field delimiter, one ASCII character.
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    /// Whether the first line names the columns.
    pub has_header: bool,
    /// Which columns hold what.
    pub columns: Columns,
    /// How times are written.
    pub time: TimeSpec,
    /// Outcome values and what they mean.
    pub outcomes: BTreeMap<String, OutcomeKind>,
    /// Agent values that mean "no agent".
    #[serde(default)]
    pub no_agent: Vec<String>,
    /// What to do with a row that never entered the queue.
    #[serde(default)]
    pub queue_entry_absent: QueueEntryAbsent,
}

fn default_delimiter() -> char {
    ','
}

/// Why a mapping cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MappingError {
    /// The mapping file is not a valid mapping.
    #[error("mapping file: {0}")]
    Json(String),
    /// The name is not usable in ids.
    #[error("mapping name {0:?} must be non-empty ASCII letters, digits, '-', '_' or '.'")]
    Name(String),
    /// The delimiter is not one ASCII character.
    #[error("mapping delimiter {0:?} is not an ASCII character")]
    Delimiter(char),
    /// A date column is mapped without a date format.
    #[error("mapping has a `date` column but no `time.date_format`")]
    DateFormatMissing,
    /// A column is named but the file has no header.
    #[error("column `{role}` is named {name:?} but the mapping says there is no header")]
    NameWithoutHeader {
        /// The mapped field.
        role: &'static str,
        /// The name given.
        name: String,
    },
    /// A named column is not in the header.
    #[error("column `{role}`: the header has no column named {name:?}")]
    UnknownColumn {
        /// The mapped field.
        role: &'static str,
        /// The name given.
        name: String,
    },
    /// The header line cannot be read.
    #[error("{file}: the header line is not UTF-8 CSV")]
    Header {
        /// The source name.
        file: String,
    },
}

/// Why a row could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RowError {
    /// The row is shorter than a mapped column needs.
    #[error("{file}: line {line}, field `{field}`: missing; the row has {found} columns, the mapping needs at least {expected}")]
    MissingColumn {
        /// The source name.
        file: String,
        /// The 1-based line the row starts on.
        line: u64,
        /// The mapped field and its column.
        field: String,
        /// The number of columns the mapping needs.
        expected: usize,
        /// The number of columns in the row.
        found: usize,
    },
    /// A mapped cell holds bytes that are not UTF-8.
    #[error("{file}: line {line}, field `{field}`: is not UTF-8")]
    NotUtf8 {
        /// The source name.
        file: String,
        /// The 1-based line the row starts on.
        line: u64,
        /// The mapped field and its column.
        field: String,
    },
    /// A mapped cell is unreadable or contradicts the others.
    #[error("{file}: line {line}, field `{field}`: {reason} (found {found:?})")]
    Malformed {
        /// The source name.
        file: String,
        /// The 1-based line the row starts on.
        line: u64,
        /// The mapped field and its column.
        field: String,
        /// What is wrong with it.
        reason: &'static str,
        /// The offending text.
        found: String,
    },
    /// The CSV reader itself failed; reading stops there.
    #[error("{file}: line {line}: unreadable CSV: {message}")]
    Csv {
        /// The source name.
        file: String,
        /// The 1-based line where reading failed.
        line: u64,
        /// The reader's message.
        message: String,
    },
    /// A row has the identity of an earlier row but different content.
    #[error("{file}: line {line}: call {identity:?} conflicts with line {first_line}, which has the same identity and different content")]
    Conflict {
        /// The source name.
        file: String,
        /// The 1-based line of the later row.
        line: u64,
        /// The 1-based line of the earlier row.
        first_line: u64,
        /// The identity both rows have (escaped, without the client).
        identity: String,
    },
}

impl RowError {
    /// The line the error is about.
    pub fn line(&self) -> u64 {
        match self {
            RowError::MissingColumn { line, .. }
            | RowError::NotUtf8 { line, .. }
            | RowError::Malformed { line, .. }
            | RowError::Csv { line, .. }
            | RowError::Conflict { line, .. } => *line,
        }
    }
}

/// Why an import stopped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CsvImportError {
    /// The mapping does not fit.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// A row is malformed (and malformed rows are not skipped).
    #[error(transparent)]
    Row(#[from] RowError),
}

/// A malformed row that was skipped on request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRow {
    /// Why it was skipped (the error it would have raised).
    pub error: RowError,
}

/// A row that never reached the queue and so is not an offered call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotQueued {
    /// The row's call identity (its identity cells, escaped and joined with `:`).
    pub call_id: String,
    /// Its outcome value.
    pub outcome: String,
    /// The row.
    pub source: LineRef,
}

/// One input file, already read by the caller.
#[derive(Debug, Clone, Copy)]
pub struct CsvSource<'a> {
    /// A name for error messages, e.g. the file name.
    pub name: &'a str,
    /// The raw bytes.
    pub bytes: &'a [u8],
}

/// Import options.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// The client the calls belong to.
    pub client_id: ClientId,
    /// What to do with malformed rows.
    pub malformed: MalformedLines,
}

/// The result of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsvImport {
    /// Domain events in row order.
    pub events: Vec<ImportedEvent>,
    /// Rows that never reached the queue.
    pub not_queued: Vec<NotQueued>,
    /// Rows with an `ignore` outcome, counted by outcome value.
    pub ignored: BTreeMap<String, u64>,
    /// Rows whose call identity an earlier row already had (exact and conflicting repeats).
    pub duplicate_calls: Vec<LineRef>,
    /// Malformed rows skipped on request.
    pub skipped: Vec<SkippedRow>,
    /// Data rows read (header excluded).
    pub rows_read: u64,
    /// Every data row, with what became of it.
    pub accounting: Accounting,
}

/// Reads and checks a JSON mapping file.
pub fn parse_mapping(json: &str) -> Result<CsvMapping, MappingError> {
    let mapping: CsvMapping =
        serde_json::from_str(json).map_err(|e| MappingError::Json(e.to_string()))?;
    let name_ok = !mapping.name.is_empty()
        && mapping
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !name_ok {
        return Err(MappingError::Name(mapping.name));
    }
    if u8::try_from(mapping.delimiter).map_or(true, |b| !b.is_ascii()) {
        return Err(MappingError::Delimiter(mapping.delimiter));
    }
    if mapping.columns.date.is_some() && mapping.time.date_format.is_none() {
        return Err(MappingError::DateFormatMissing);
    }
    Ok(mapping)
}

/// A mapped column resolved to its index, with a label for error messages.
#[derive(Debug, Clone)]
struct Col {
    index: usize,
    /// `role (header name)` or `role (#index)`.
    label: String,
}

/// Every mapped column, resolved against the header.
#[derive(Debug)]
struct Resolved {
    call_id: Vec<Col>,
    date: Option<Col>,
    day_anchor: Option<Col>,
    queue_entry: Col,
    queue_exit: Option<Col>,
    answer: Option<Col>,
    end: Option<Col>,
    outcome: Col,
    agent: Option<Col>,
    queue: Option<Col>,
    /// The number of columns a row needs.
    width: usize,
}

fn resolve_one(
    role: &'static str,
    column: &ColumnRef,
    header: Option<&[String]>,
) -> Result<Col, MappingError> {
    match column {
        ColumnRef::Index(index) => {
            let label = match header.and_then(|h| h.get(*index)) {
                Some(name) => format!("{role} ({name})"),
                None => format!("{role} (#{index})"),
            };
            Ok(Col {
                index: *index,
                label,
            })
        }
        ColumnRef::Name(name) => {
            let Some(header) = header else {
                return Err(MappingError::NameWithoutHeader {
                    role,
                    name: name.clone(),
                });
            };
            let index = header
                .iter()
                .position(|h| h == name.trim())
                .ok_or_else(|| MappingError::UnknownColumn {
                    role,
                    name: name.clone(),
                })?;
            Ok(Col {
                index,
                label: format!("{role} ({name})"),
            })
        }
    }
}

fn resolve(columns: &Columns, header: Option<&[String]>) -> Result<Resolved, MappingError> {
    let opt = |role: &'static str, c: &Option<ColumnRef>| {
        c.as_ref().map(|c| resolve_one(role, c, header)).transpose()
    };
    let call_id = columns
        .call_id
        .columns()
        .into_iter()
        .map(|c| resolve_one("call_id", c, header))
        .collect::<Result<Vec<Col>, MappingError>>()?;
    if call_id.is_empty() {
        return Err(MappingError::Json(
            "columns.call_id: name at least one column".to_owned(),
        ));
    }
    let mut resolved = Resolved {
        call_id,
        date: opt("date", &columns.date)?,
        day_anchor: opt("day_anchor", &columns.day_anchor)?,
        queue_entry: resolve_one("queue_entry", &columns.queue_entry, header)?,
        queue_exit: opt("queue_exit", &columns.queue_exit)?,
        answer: opt("answer", &columns.answer)?,
        end: opt("end", &columns.end)?,
        outcome: resolve_one("outcome", &columns.outcome, header)?,
        agent: opt("agent", &columns.agent)?,
        queue: opt("queue", &columns.queue)?,
        width: 0,
    };
    resolved.width = resolved
        .call_id
        .iter()
        .chain(
            [
                resolved.date.as_ref(),
                resolved.day_anchor.as_ref(),
                Some(&resolved.queue_entry),
                resolved.queue_exit.as_ref(),
                resolved.answer.as_ref(),
                resolved.end.as_ref(),
                Some(&resolved.outcome),
                resolved.agent.as_ref(),
                resolved.queue.as_ref(),
            ]
            .into_iter()
            .flatten(),
        )
        .map(|c| c.index.saturating_add(1))
        .max()
        .unwrap_or(0);
    Ok(resolved)
}

/// Translates one call-record export into domain call events for one client.
pub fn import(
    source: &CsvSource<'_>,
    mapping: &CsvMapping,
    options: &CsvOptions,
) -> Result<CsvImport, CsvImportError> {
    let delimiter =
        u8::try_from(mapping.delimiter).map_err(|_| MappingError::Delimiter(mapping.delimiter))?;
    let lines = LineIndex::new(source.bytes);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(mapping.has_header)
        .flexible(true)
        .from_reader(source.bytes);
    let header: Option<Vec<String>> = if mapping.has_header {
        let raw = reader.byte_headers().map_err(|_| MappingError::Header {
            file: source.name.to_owned(),
        })?;
        let names = raw
            .iter()
            .map(|h| {
                std::str::from_utf8(h)
                    // A spreadsheet often prefixes the first header with a byte-order mark.
                    .map(|s| s.trim_start_matches('\u{feff}').trim().to_owned())
            })
            .collect::<Result<Vec<String>, _>>()
            .map_err(|_| MappingError::Header {
                file: source.name.to_owned(),
            })?;
        Some(names)
    } else {
        None
    };
    let columns = resolve(&mapping.columns, header.as_deref())?;
    let mut importer = Importer {
        file: source.name,
        mapping,
        columns: &columns,
        client_id: &options.client_id,
        seen: BTreeMap::new(),
        out: CsvImport::default(),
    };
    let mut raw = csv::ByteRecord::new();
    loop {
        let line = lines.line_at(reader.position().byte());
        match reader.read_byte_record(&mut raw) {
            Ok(false) => break,
            Ok(true) => {
                importer.out.rows_read = importer.out.rows_read.saturating_add(1);
                let line = raw.position().map_or(line, |p| lines.line_at(p.byte()));
                match importer.row(&raw, line) {
                    Ok((disposition, detail)) => {
                        let source = LineRef {
                            file: source.name.to_owned(),
                            line,
                        };
                        importer.out.accounting.push(source, disposition, detail);
                    }
                    Err(error) => importer.skip_or_fail(options.malformed, error, line)?,
                }
            }
            Err(e) => {
                // Reading `&[u8]` cannot fail on I/O and a flexible byte reader accepts any
                // shape, so this is unexpected; reading stops because the reader's position
                // after an error is not guaranteed to advance.
                let line = e.position().map_or(line, |p| lines.line_at(p.byte()));
                let error = RowError::Csv {
                    file: source.name.to_owned(),
                    line,
                    message: e.to_string(),
                };
                importer.out.rows_read = importer.out.rows_read.saturating_add(1);
                importer.skip_or_fail(options.malformed, error, line)?;
                break;
            }
        }
    }
    Ok(importer.out)
}

/// The cells of one row, decoded as the mapping needs them.
struct Row<'r> {
    raw: &'r csv::ByteRecord,
    file: &'r str,
    line: u64,
}

impl Row<'_> {
    fn malformed(&self, col: &Col, reason: &'static str, found: &str) -> RowError {
        RowError::Malformed {
            file: self.file.to_owned(),
            line: self.line,
            field: col.label.clone(),
            reason,
            found: found.to_owned(),
        }
    }

    /// The trimmed text of a cell.
    fn text(&self, col: &Col) -> Result<&str, RowError> {
        let bytes = self
            .raw
            .get(col.index)
            .ok_or_else(|| RowError::MissingColumn {
                file: self.file.to_owned(),
                line: self.line,
                field: col.label.clone(),
                expected: col.index.saturating_add(1),
                found: self.raw.len(),
            })?;
        std::str::from_utf8(bytes)
            .map(str::trim)
            .map_err(|_| RowError::NotUtf8 {
                file: self.file.to_owned(),
                line: self.line,
                field: col.label.clone(),
            })
    }
}

struct Importer<'a> {
    file: &'a str,
    mapping: &'a CsvMapping,
    columns: &'a Resolved,
    client_id: &'a ClientId,
    /// The identities of the rows read so far, with the line and cells of the first.
    seen: BTreeMap<String, (u64, Vec<Vec<u8>>)>,
    out: CsvImport,
}

/// A present time cell and the column it came from.
struct Cell<'c> {
    col: &'c Col,
    text: String,
}

/// The instants of one row, in UTC, each `None` when absent.
struct Instants {
    queue_entry: Option<DateTime<Utc>>,
    queue_exit: Option<DateTime<Utc>>,
    answer: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
}

impl Importer<'_> {
    /// Stops with the row's error, or (when asked to skip) lists the row as skipped, as a
    /// conflicting repeat for a conflict and as invalid otherwise.
    fn skip_or_fail(
        &mut self,
        policy: MalformedLines,
        error: RowError,
        line: u64,
    ) -> Result<(), RowError> {
        match policy {
            MalformedLines::Fail => Err(error),
            MalformedLines::Skip => {
                let disposition = match error {
                    RowError::Conflict { .. } => Disposition::ConflictingRepeat,
                    _ => Disposition::SkippedInvalid,
                };
                self.out.accounting.push(
                    LineRef {
                        file: self.file.to_owned(),
                        line,
                    },
                    disposition,
                    error.to_string(),
                );
                self.out.skipped.push(SkippedRow { error });
                Ok(())
            }
        }
    }

    fn event_id(&self, call_id: &CallId, kind: &str) -> Uuid {
        let name = format!(
            "opsledger/csv/{}/{}/{}/{}",
            self.mapping.name, self.client_id, call_id, kind
        );
        Uuid::new_v5(&CSV_MAPPING_NAMESPACE, name.as_bytes())
    }

    fn is_absent(&self, text: &str) -> bool {
        text.is_empty() || self.mapping.time.absent.iter().any(|a| a.trim() == text)
    }

    /// The text of an optional time cell, `None` when unmapped or absent.
    fn cell<'c>(&self, row: &Row<'_>, col: Option<&'c Col>) -> Result<Option<Cell<'c>>, RowError> {
        match col {
            None => Ok(None),
            Some(col) => {
                let text = row.text(col)?;
                Ok((!self.is_absent(text)).then(|| Cell {
                    col,
                    text: text.to_owned(),
                }))
            }
        }
    }

    /// Reads every mapped time of a row, applying the date column and the midnight wrap.
    fn instants(&self, row: &Row<'_>) -> Result<Instants, RowError> {
        let c = self.columns;
        let entry = self.cell(row, Some(&c.queue_entry))?;
        let exit = self.cell(row, c.queue_exit.as_ref())?;
        let answer = self.cell(row, c.answer.as_ref())?;
        let end = self.cell(row, c.end.as_ref())?;
        let day = match (&c.date, &self.mapping.time.date_format) {
            (Some(date_col), Some(date_format)) => {
                let date_text = row.text(date_col)?;
                let date = NaiveDate::parse_from_str(date_text, date_format).map_err(|_| {
                    row.malformed(
                        date_col,
                        "is not a date in the mapping's date_format",
                        date_text,
                    )
                })?;
                // The anchor is the first time of the call, on the row's date; every later
                // time of day smaller than it is past midnight.
                let anchor_cell = self.cell(row, c.day_anchor.as_ref())?;
                let anchor = match anchor_cell.as_ref().or(entry.as_ref()).or(answer.as_ref()) {
                    Some(cell) => Some(self.time_of_day(row, cell)?),
                    None => None,
                };
                Some((date, anchor))
            }
            _ => None,
        };
        Ok(Instants {
            queue_entry: self.instant(row, entry.as_ref(), day)?,
            queue_exit: self.instant(row, exit.as_ref(), day)?,
            answer: self.instant(row, answer.as_ref(), day)?,
            end: self.instant(row, end.as_ref(), day)?,
        })
    }

    fn time_of_day(&self, row: &Row<'_>, cell: &Cell<'_>) -> Result<NaiveTime, RowError> {
        NaiveTime::parse_from_str(&cell.text, &self.mapping.time.format).map_err(|_| {
            row.malformed(
                cell.col,
                "is not a time of day in the mapping's format",
                &cell.text,
            )
        })
    }

    /// One time cell in UTC: a time of day on `day` (the row's date and the anchor's time of
    /// day), or a full date and time when the mapping has no date column.
    fn instant(
        &self,
        row: &Row<'_>,
        cell: Option<&Cell<'_>>,
        day: Option<(NaiveDate, Option<NaiveTime>)>,
    ) -> Result<Option<DateTime<Utc>>, RowError> {
        let Some(cell) = cell else {
            return Ok(None);
        };
        let naive = match day {
            Some((date, anchor)) => {
                let t = self.time_of_day(row, cell)?;
                let date = if anchor.is_some_and(|a| t < a) {
                    date.checked_add_days(Days::new(1))
                        .ok_or_else(|| row.malformed(cell.col, "is out of range", &cell.text))?
                } else {
                    date
                };
                date.and_time(t)
            }
            None => NaiveDateTime::parse_from_str(&cell.text, &self.mapping.time.format).map_err(
                |_| {
                    row.malformed(
                        cell.col,
                        "is not a date and time in the mapping's format",
                        &cell.text,
                    )
                },
            )?,
        };
        local_to_utc(&naive, &self.mapping.time.zone)
            .map(Some)
            .ok_or_else(|| {
                row.malformed(
                    cell.col,
                    "does not exist in the mapping's zone (a daylight-saving gap)",
                    &cell.text,
                )
            })
    }

    /// The identity of a row: its identity cells, each escaped, joined with `:` (escaping
    /// leaves no `:` in a part, so different cells never give the same identity).
    fn identity(&self, row: &Row<'_>) -> Result<String, RowError> {
        let mut parts = Vec::with_capacity(self.columns.call_id.len());
        for col in &self.columns.call_id {
            parts.push(escape_id(row.text(col)?));
        }
        if parts.iter().all(String::is_empty) {
            let col = &self.columns.call_id[0];
            return Err(row.malformed(col, "is empty", ""));
        }
        Ok(parts.join(":"))
    }

    /// An instant that must not be before `since`: as it is when it is not, `since` (and a
    /// clamp noted) when it is no more than the mapping's tolerance before, else an error.
    fn not_before(
        &self,
        row: &Row<'_>,
        col: Option<&Col>,
        (instant, since): (DateTime<Utc>, DateTime<Utc>),
        reason: &'static str,
        clamped: &mut Vec<String>,
    ) -> Result<DateTime<Utc>, RowError> {
        if instant >= since {
            return Ok(instant);
        }
        let col = col.unwrap_or(&self.columns.queue_entry);
        let early_secs = (since - instant).num_seconds();
        if early_secs <= i64::from(self.mapping.time.tolerance_secs) {
            clamped.push(format!("{} {early_secs} s early", col.label));
            return Ok(since);
        }
        let found = row.text(col).unwrap_or("").to_owned();
        Err(row.malformed(col, reason, &found))
    }

    /// Translates one row; returns what became of it, or why it cannot be imported.
    fn row(&mut self, raw: &csv::ByteRecord, line: u64) -> Result<(Disposition, String), RowError> {
        let row = Row {
            raw,
            file: self.file,
            line,
        };
        let c = self.columns;
        if raw.len() < c.width {
            // Name the first mapped column the row lacks.
            let missing = c
                .call_id
                .iter()
                .chain(
                    [
                        c.date.as_ref(),
                        c.day_anchor.as_ref(),
                        Some(&c.queue_entry),
                        c.queue_exit.as_ref(),
                        c.answer.as_ref(),
                        c.end.as_ref(),
                        Some(&c.outcome),
                        c.agent.as_ref(),
                        c.queue.as_ref(),
                    ]
                    .into_iter()
                    .flatten(),
                )
                .filter(|col| col.index >= raw.len())
                .min_by_key(|col| col.index);
            if let Some(col) = missing {
                return Err(RowError::MissingColumn {
                    file: self.file.to_owned(),
                    line,
                    field: col.label.clone(),
                    expected: c.width,
                    found: raw.len(),
                });
            }
        }
        let source = LineRef {
            file: self.file.to_owned(),
            line,
        };
        let identity = self.identity(&row)?;
        // A row whose identity an earlier row had: the same row again adds nothing; a
        // different one is a conflict, because both would claim the same call and event ids.
        let content: Vec<Vec<u8>> = raw.iter().map(<[u8]>::to_vec).collect();
        if let Some((first_line, first_content)) = self.seen.get(&identity) {
            let first_line = *first_line;
            self.out.duplicate_calls.push(source);
            if *first_content == content {
                return Ok((Disposition::ExactRepeat, format!("as line {first_line}")));
            }
            return Err(RowError::Conflict {
                file: self.file.to_owned(),
                line,
                first_line,
                identity,
            });
        }
        self.seen.insert(identity.clone(), (line, content));
        let outcome_text = row.text(&c.outcome)?;
        let outcome = *self.mapping.outcomes.get(outcome_text).ok_or_else(|| {
            row.malformed(&c.outcome, "is not in the mapping's outcomes", outcome_text)
        })?;
        if outcome == OutcomeKind::Ignore {
            *self.out.ignored.entry(outcome_text.to_owned()).or_insert(0) += 1;
            return Ok((Disposition::IgnoredByMapping, outcome_text.to_owned()));
        }
        let call_text = format!("{}:{}", self.client_id, identity);
        let id_col = &c.call_id[0];
        let call_id = CallId::new(call_text.clone())
            .map_err(|_| row.malformed(id_col, "does not make a valid call id", &call_text))?;
        let at = self.instants(&row)?;
        let entered_at = match (
            at.queue_entry,
            self.mapping.queue_entry_absent,
            outcome,
            at.answer,
        ) {
            (Some(entry), _, _, _) => entry,
            (None, QueueEntryAbsent::ServedDirectly, OutcomeKind::Answered, Some(answer)) => answer,
            (None, QueueEntryAbsent::ServedDirectly, OutcomeKind::Answered, None) => {
                let answer_col = c.answer.as_ref().unwrap_or(&c.outcome);
                return Err(row.malformed(
                    answer_col,
                    "is absent, and so is the queue entry: the answered call has no instant",
                    "",
                ));
            }
            (None, _, _, _) => {
                self.out.not_queued.push(NotQueued {
                    call_id: identity,
                    outcome: outcome_text.to_owned(),
                    source,
                });
                return Ok((Disposition::NotOffered, outcome_text.to_owned()));
            }
        };
        let queue = match &c.queue {
            Some(col) => Some(row.text(col)?)
                .filter(|q| !q.is_empty())
                .map(str::to_owned),
            None => None,
        };
        let mut events: Vec<(&'static str, DomainEvent)> = vec![(
            "connected",
            DomainEvent::CallConnected(CallConnected {
                client_id: self.client_id.clone(),
                call_id: call_id.clone(),
                at: entered_at,
                queue,
                caller_number: None,
            }),
        )];
        let mut clamped: Vec<String> = Vec::new();
        let mut without_service_start = false;
        match outcome {
            OutcomeKind::Answered => {
                let answered_at = match at.answer {
                    Some(answer) => self.not_before(
                        &row,
                        c.answer.as_ref(),
                        (answer, entered_at),
                        "is before the queue entry",
                        &mut clamped,
                    )?,
                    // Served, but the service start is missing: the caller stopped waiting
                    // when they left the queue (or at once, when never queued), so the answer
                    // is placed there; the talk time is unknown.
                    None => {
                        without_service_start = true;
                        match at.queue_exit {
                            Some(exit) => self.not_before(
                                &row,
                                c.queue_exit.as_ref(),
                                (exit, entered_at),
                                "is before the queue entry",
                                &mut clamped,
                            )?,
                            None => entered_at,
                        }
                    }
                };
                let agent_text = match &c.agent {
                    Some(col) => row.text(col)?,
                    None => "",
                };
                let agent_text = if agent_text.is_empty()
                    || self.mapping.no_agent.iter().any(|n| n.trim() == agent_text)
                {
                    UNKNOWN_AGENT.to_owned()
                } else {
                    escape_agent_id(agent_text)
                };
                let agent_col = c.agent.as_ref().unwrap_or(&c.outcome);
                let agent_id = AgentId::new(agent_text.clone()).map_err(|_| {
                    row.malformed(agent_col, "does not make a valid agent id", &agent_text)
                })?;
                events.push((
                    "answered",
                    DomainEvent::CallAnswered(CallAnswered {
                        client_id: self.client_id.clone(),
                        call_id: call_id.clone(),
                        at: answered_at,
                        agent_id,
                    }),
                ));
                // Without a service start the end of service alone says nothing reliable
                // about talk time, so no completion is recorded.
                if let (Some(end), false) = (at.end, without_service_start) {
                    let end = self.not_before(
                        &row,
                        c.end.as_ref(),
                        (end, answered_at),
                        "is before the answer",
                        &mut clamped,
                    )?;
                    events.push(("completed", self.completed(&call_id, end)));
                }
            }
            OutcomeKind::Abandoned
            | OutcomeKind::AbandonedQueueTimeout
            | OutcomeKind::AbandonedQueueEmpty
            | OutcomeKind::AbandonedWithKey => {
                let reason = match outcome {
                    OutcomeKind::AbandonedQueueTimeout => AbandonReason::QueueTimeout,
                    OutcomeKind::AbandonedQueueEmpty => AbandonReason::QueueEmpty,
                    OutcomeKind::AbandonedWithKey => AbandonReason::CallerLeftWithKey,
                    _ => AbandonReason::CallerHungUp,
                };
                let (left_col, left_at) = self.queue_exit_or_end(&row, &at)?;
                let left_at = self.not_before(
                    &row,
                    left_col,
                    (left_at, entered_at),
                    "is before the queue entry",
                    &mut clamped,
                )?;
                events.push((
                    "abandoned",
                    DomainEvent::CallAbandoned(CallAbandoned {
                        client_id: self.client_id.clone(),
                        call_id: call_id.clone(),
                        at: left_at,
                        reason,
                    }),
                ));
            }
            OutcomeKind::Voicemail => {
                let (left_col, left_at) = self.queue_exit_or_end(&row, &at)?;
                let left_at = self.not_before(
                    &row,
                    left_col,
                    (left_at, entered_at),
                    "is before the queue entry",
                    &mut clamped,
                )?;
                events.push((
                    "routed_to_voicemail",
                    DomainEvent::CallRoutedToVoicemail(CallRoutedToVoicemail {
                        client_id: self.client_id.clone(),
                        call_id: call_id.clone(),
                        at: left_at,
                    }),
                ));
                if let (Some(_), Some(end)) = (at.queue_exit, at.end) {
                    let end = self.not_before(
                        &row,
                        c.end.as_ref(),
                        (end, left_at),
                        "is before the queue exit",
                        &mut clamped,
                    )?;
                    events.push(("completed", self.completed(&call_id, end)));
                }
            }
            // Handled before the times were read.
            OutcomeKind::Ignore => {
                return Ok((Disposition::IgnoredByMapping, outcome_text.to_owned()))
            }
        }
        for (kind, event) in events {
            self.out.events.push(ImportedEvent {
                event_id: self.event_id(&call_id, kind),
                event,
                source: source.clone(),
            });
        }
        let mut detail = outcome_text.to_owned();
        if !clamped.is_empty() {
            detail = format!("{detail}; clamped: {}", clamped.join(", "));
        }
        Ok(if without_service_start {
            (
                Disposition::AnsweredWithoutServiceStart,
                format!("{detail}; no service start, answered at queue exit, talk time unknown"),
            )
        } else if !clamped.is_empty() {
            (Disposition::Clamped, detail)
        } else {
            (Disposition::Imported, detail)
        })
    }

    fn completed(&self, call_id: &CallId, at: DateTime<Utc>) -> DomainEvent {
        DomainEvent::CallCompleted(CallCompleted {
            client_id: self.client_id.clone(),
            call_id: call_id.clone(),
            at,
        })
    }

    /// When the caller left the queue: the queue exit, else the end of the call.
    fn queue_exit_or_end<'c>(
        &'c self,
        row: &Row<'_>,
        at: &Instants,
    ) -> Result<(Option<&'c Col>, DateTime<Utc>), RowError> {
        let c = self.columns;
        match (at.queue_exit, at.end) {
            (Some(exit), _) => Ok((c.queue_exit.as_ref(), exit)),
            (None, Some(end)) => Ok((c.end.as_ref(), end)),
            (None, None) => {
                let col = c
                    .queue_exit
                    .as_ref()
                    .or(c.end.as_ref())
                    .unwrap_or(&c.outcome);
                Err(row.malformed(col, "is absent, so the queue exit is unknown", ""))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_anonymous_bank_mapping_parses() {
        let mapping = parse_mapping(ANONYMOUS_BANK_JSON).unwrap();
        assert_eq!(mapping.delimiter, '\t');
        assert_eq!(mapping.time.zone, chrono_tz::Asia::Jerusalem);
        assert_eq!(mapping.outcomes.get("PHANTOM"), Some(&OutcomeKind::Ignore));
        assert_eq!(anonymous_bank(), mapping);
    }

    #[test]
    fn bad_mappings_are_refused() {
        let base = anonymous_bank();
        let mut json = serde_json::to_value(&base).unwrap();
        json["time"]["date_format"] = serde_json::Value::Null;
        assert_eq!(
            parse_mapping(&json.to_string()),
            Err(MappingError::DateFormatMissing)
        );
        let mut json = serde_json::to_value(&base).unwrap();
        json["surprise"] = serde_json::Value::Bool(true);
        assert!(matches!(
            parse_mapping(&json.to_string()),
            Err(MappingError::Json(_))
        ));
        let mut json = serde_json::to_value(&base).unwrap();
        json["delimiter"] = serde_json::Value::String("é".to_owned());
        assert_eq!(
            parse_mapping(&json.to_string()),
            Err(MappingError::Delimiter('é'))
        );
    }
}
