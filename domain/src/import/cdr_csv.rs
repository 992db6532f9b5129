//! The Asterisk CDR importer: `cdr-csv/Master.csv` records to typed records and queue calls.
//!
//! Format (see `shared/data/FORMATS.md` §2): RFC 4180 CSV, no header, 18 quoted fields per
//! record: `accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start,
//! answer, end, duration, billsec, disposition, amaflags, uniqueid, userfield`. The three times
//! are the PBX server's local wall-clock time (`YYYY-MM-DD HH:MM:SS`), so the caller names the
//! server's zone; `answer` is empty when the channel was never answered. Quoting is handled by
//! the `csv` crate, which reads the bytes the caller passes and does no I/O of its own.
//!
//! # What a CDR can and cannot say about a queue call
//!
//! A CDR describes a channel, not a queue visit. To queue a caller the PBX answers the channel
//! itself (to play hold music), so a queue call's `answer` is the PBX's answer, its disposition
//! is `ANSWERED` and its `billsec` runs from that answer, whether an agent ever picked up or the
//! caller abandoned. In the lab data 29 of the 30 calls queue_log shows abandoned have CDR
//! disposition `ANSWERED`, and `start` precedes `ENTERQUEUE` by 0 to 68 s of dialplan.
//! The CDR therefore knows that a call was offered to a queue, roughly when, and when the
//! channel ended; it does not know when an agent picked up, whether one did, or how long the
//! caller waited. The translation emits only what it knows:
//!
//! | CDR | domain event | instant |
//! |---|---|---|
//! | a record with `lastapp == "Queue"` | `call.connected` (queue = first argument of `lastdata`, caller = `src`) | `start` |
//!
//! and nothing else. In particular:
//!
//! - **No `call.answered`** is derived from the CDR `answer` time, because that is the PBX
//!   answering to queue the caller, not an agent picking up; deriving one would report every
//!   queued call as answered at once, a perfect and false service level.
//! - **No `call.completed`** either, although the CDR has an `end`: in this ledger
//!   `call.completed` means "the answered (or voicemail) call ended" and starts the R-DOC-* and
//!   R-ESC-1 clocks, so emitting it for a call whose outcome is unknown (and was in fact an
//!   abandon for 30 of the 33 lab calls) would open documentation obligations for calls no
//!   agent handled. The CDR's own end, duration and disposition are returned beside the events
//!   in [`CdrImport::queue_calls`] for reconciliation reports.
//! - **No `call.abandoned`**, for the same reason.
//!
//! A call imported from the CDR alone is therefore *offered* with its outcome unresolved: the
//! SLA report counts it as offered and unresolved, never as answered or abandoned, so the SLA
//! from a CDR alone reads as unknown rather than wrong. Its clock start (`start`) is at or
//! before the true queue entry. Records of other applications (`Dial`, `Busy`, `Playback`, …)
//! are internal or outbound traffic and are counted in [`CdrImport::ignored`] by `lastapp`.
//!
//! # Lining up with queue_log
//!
//! The domain call id is `<client>:<uniqueid>`, the same id the queue_log importer gives the
//! first queue visit of the call whose queue_log `callid` equals the CDR `uniqueid`, so both
//! sources describe one call stream. Event ids are UUID v5 of the client, the uniqueid and the
//! event kind in a namespace of this importer ([`CDR_CSV_NAMESPACE`]), so re-importing a CDR
//! file yields the same ids (a no-op in the store) and never collides with a queue_log event id:
//! the CDR's `call.connected` at `start` is a different (earlier, coarser) fact than queue_log's
//! `call.connected` at `ENTERQUEUE`. Because the projections keep the first `call.connected` of
//! a call, the two must not both be recorded: pass the call ids queue_log already produced in
//! [`CdrOptions::superseded_calls`] (see [`call_ids_of`]) and the CDR importer emits nothing
//! for those calls, listing them in [`CdrImport::superseded`].
//!
//! # Errors
//!
//! A malformed record is a [`CdrError`] naming the source, the line the record starts on and
//! the field (e.g. "line 17, field \`start\`: is not a time"); a record with the wrong number
//! of fields names the expected and found counts; bytes that are not UTF-8 are an error of the
//! field that holds them, never a panic. With [`MalformedLines::Skip`] such records are skipped
//! and reported in [`CdrImport::skipped`], the same shape as the queue_log importer's report.
//! NUL bytes (an unclean shutdown's leftovers) are stripped and counted, as queue_log does.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use thiserror::Error;
use uuid::Uuid;

use crate::events::{CallConnected, DomainEvent};
use crate::ids::{CallId, ClientId};
use crate::import::accounting::{self, escape_id, Accounting, LineIndex};
use crate::import::queue_log::{ImportedEvent, LineRef, MalformedLines};

/// The namespace of the UUID v5 event ids this importer derives.
pub const CDR_CSV_NAMESPACE: Uuid = Uuid::from_u128(0x6f70_736c_6564_6765_7263_6472_6373_0001);

/// The origin tag of events from this importer, for the store's event metadata.
pub const SOURCE_TAG: &str = "asterisk-cdr";

/// The number of fields of a cdr_csv record.
pub const FIELD_COUNT: usize = 18;

/// The field names, in file order, as FORMATS.md names them (used in error messages).
pub const FIELD_NAMES: [&str; FIELD_COUNT] = [
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "uniqueid",
    "userfield",
];

/// The `lastapp` of a record whose channel was put in a queue.
const QUEUE_APP: &str = "Queue";

/// The wall-clock format of cdr_csv times.
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// One input file, already read by the caller.
#[derive(Debug, Clone, Copy)]
pub struct CdrSource<'a> {
    /// A name for error messages, e.g. the file name.
    pub name: &'a str,
    /// The raw bytes.
    pub bytes: &'a [u8],
}

/// Import options.
#[derive(Debug, Clone)]
pub struct CdrOptions {
    /// The client the calls belong to.
    pub client_id: ClientId,
    /// The PBX server's time zone, in which cdr_csv writes its times.
    pub server_zone: Tz,
    /// What to do with malformed records.
    pub malformed: MalformedLines,
    /// Calls already described by a finer source (queue_log): the CDR adds nothing for them.
    pub superseded_calls: BTreeSet<CallId>,
}

/// Why a CDR record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CdrError {
    /// The record does not have the 18 fields of cdr_csv.
    #[error("{file}: line {line}: expected {expected} fields, found {found}")]
    ColumnCount {
        /// The source name.
        file: String,
        /// The 1-based line the record starts on.
        line: u64,
        /// The number of fields cdr_csv writes.
        expected: usize,
        /// The number of fields in the record.
        found: usize,
    },
    /// A field holds bytes that are not UTF-8 (binary junk or a foreign encoding).
    #[error("{file}: line {line}, field `{field}`: is not UTF-8")]
    NotUtf8 {
        /// The source name.
        file: String,
        /// The 1-based line the record starts on.
        line: u64,
        /// The field, named as in FORMATS.md.
        field: &'static str,
    },
    /// A field is unreadable.
    #[error("{file}: line {line}, field `{field}`: {reason} (found {found:?})")]
    Malformed {
        /// The source name.
        file: String,
        /// The 1-based line the record starts on.
        line: u64,
        /// The field, named as in FORMATS.md.
        field: &'static str,
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
    /// A second `Queue` record of the same uniqueid says something else than the first.
    #[error("{file}: line {line}: the Queue record of uniqueid {uniqueid:?} conflicts with line {first_line}, which differs from it")]
    Conflict {
        /// The source name.
        file: String,
        /// The 1-based line of the later record.
        line: u64,
        /// The 1-based line of the earlier record.
        first_line: u64,
        /// The uniqueid both records have.
        uniqueid: String,
    },
}

impl CdrError {
    /// The line the error is about.
    pub fn line(&self) -> u64 {
        match self {
            CdrError::ColumnCount { line, .. }
            | CdrError::NotUtf8 { line, .. }
            | CdrError::Malformed { line, .. }
            | CdrError::Csv { line, .. }
            | CdrError::Conflict { line, .. } => *line,
        }
    }
}

/// A malformed record that was skipped on request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedCdrLine {
    /// Why it was skipped (the error it would have raised).
    pub error: CdrError,
}

/// The call's disposition as cdr_csv writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// `ANSWERED`: the channel was answered (by the PBX itself for a queue call).
    Answered,
    /// `NO ANSWER`.
    NoAnswer,
    /// `BUSY`.
    Busy,
    /// `FAILED`.
    Failed,
    /// `CONGESTION`.
    Congestion,
}

impl Disposition {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "ANSWERED" => Some(Self::Answered),
            "NO ANSWER" => Some(Self::NoAnswer),
            "BUSY" => Some(Self::Busy),
            "FAILED" => Some(Self::Failed),
            "CONGESTION" => Some(Self::Congestion),
            _ => None,
        }
    }
}

/// One cdr_csv record, typed. Times are converted from the server's zone to UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrRecord {
    /// The 1-based line the record starts on.
    pub line: u64,
    /// Account code.
    pub accountcode: String,
    /// Caller id number.
    pub src: String,
    /// Destination extension.
    pub dst: String,
    /// Destination context.
    pub dcontext: String,
    /// Caller id with name (personal data).
    pub clid: String,
    /// The caller's channel.
    pub channel: String,
    /// The channel it was bridged to, if any.
    pub dstchannel: String,
    /// The last dialplan application run (`Queue` for a queued call).
    pub lastapp: String,
    /// Its arguments (for `Queue`, the queue name first).
    pub lastdata: String,
    /// When the channel was created.
    pub start: DateTime<Utc>,
    /// When the channel was answered (by anyone, the PBX included), if it was.
    pub answer: Option<DateTime<Utc>>,
    /// When the channel ended.
    pub end: DateTime<Utc>,
    /// Seconds from start to end.
    pub duration_secs: u64,
    /// Seconds from answer to end.
    pub billsec_secs: u64,
    /// How the channel ended.
    pub disposition: Disposition,
    /// AMA flags.
    pub amaflags: String,
    /// The channel's unique id (queue_log's `callid`).
    pub uniqueid: String,
    /// User field.
    pub userfield: String,
}

/// The records of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CdrParse {
    /// Well-formed records in file order.
    pub records: Vec<CdrRecord>,
    /// Malformed records skipped on request.
    pub skipped: Vec<SkippedCdrLine>,
    /// NUL bytes stripped.
    pub nul_bytes_stripped: u64,
}

/// What the CDR says about one queue call, beyond the event it yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrQueueCall {
    /// The domain call id.
    pub call_id: CallId,
    /// The Asterisk uniqueid.
    pub uniqueid: String,
    /// Channel created (the `call.connected` instant).
    pub start: DateTime<Utc>,
    /// Channel ended (the caller left the queue or the call ended; the CDR cannot say which).
    pub end: DateTime<Utc>,
    /// Seconds from start to end, as logged.
    pub duration_secs: u64,
    /// The disposition, as logged (the PBX's, not the queue outcome).
    pub disposition: Disposition,
    /// The record's line.
    pub source: LineRef,
}

/// The result of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CdrImport {
    /// Domain events in file order (one `call.connected` per queue call not superseded).
    pub events: Vec<ImportedEvent>,
    /// Every queue call read, superseded ones included, with the CDR's own figures.
    pub queue_calls: Vec<CdrQueueCall>,
    /// Queue calls for which no event was emitted because a finer source covers them.
    pub superseded: Vec<CallId>,
    /// Further `Queue` records of a uniqueid already seen; the first one wins.
    pub duplicate_queue_records: Vec<LineRef>,
    /// Malformed records skipped on request.
    pub skipped: Vec<SkippedCdrLine>,
    /// Records that are not queue calls, counted by `lastapp`.
    pub ignored: BTreeMap<String, u64>,
    /// Records read (well-formed or skipped).
    pub records_read: u64,
    /// NUL bytes stripped.
    pub nul_bytes_stripped: u64,
    /// Every record read, with what became of it, in file order.
    pub accounting: Accounting,
}

/// Parses a cdr_csv file into typed records.
pub fn parse_records(
    source: &CdrSource<'_>,
    server_zone: Tz,
    malformed: MalformedLines,
) -> Result<CdrParse, CdrError> {
    let mut out = CdrParse::default();
    let nuls = source.bytes.iter().filter(|b| **b == 0).count();
    out.nul_bytes_stripped = u64::try_from(nuls).unwrap_or(u64::MAX);
    let cleaned: Vec<u8> = source.bytes.iter().copied().filter(|b| *b != 0).collect();
    let lines = LineIndex::new(cleaned.as_slice());
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(cleaned.as_slice());
    let mut raw = csv::ByteRecord::new();
    loop {
        let line = lines.line_at(reader.position().byte());
        match reader.read_byte_record(&mut raw) {
            Ok(false) => break,
            Ok(true) => {
                let line = raw.position().map_or(line, |p| lines.line_at(p.byte()));
                match parse_record(&raw, source.name, line, server_zone) {
                    Ok(record) => out.records.push(record),
                    Err(error) => skip_or_fail(&mut out.skipped, malformed, error)?,
                }
            }
            Err(e) => {
                // Reading `&[u8]` cannot fail on I/O and a flexible byte reader accepts any
                // shape, so this is unexpected; it is reported, and reading stops because the
                // reader's position after an error is not guaranteed to advance.
                let error = CdrError::Csv {
                    file: source.name.to_owned(),
                    line: e.position().map_or(line, |p| lines.line_at(p.byte())),
                    message: e.to_string(),
                };
                skip_or_fail(&mut out.skipped, malformed, error)?;
                break;
            }
        }
    }
    Ok(out)
}

/// Parses a cdr_csv file and translates its queue calls into domain events for one client.
pub fn import(source: &CdrSource<'_>, options: &CdrOptions) -> Result<CdrImport, CdrError> {
    use accounting::Disposition;
    let parsed = parse_records(source, options.server_zone, options.malformed)?;
    let mut out = CdrImport {
        nul_bytes_stripped: parsed.nul_bytes_stripped,
        ..CdrImport::default()
    };
    out.records_read = u64::try_from(parsed.records.len().saturating_add(parsed.skipped.len()))
        .unwrap_or(u64::MAX);
    // Rows are listed in file order: the skipped ones are merged in by line.
    let mut skipped = parsed.skipped.into_iter().peekable();
    let mut seen: BTreeMap<&str, &CdrRecord> = BTreeMap::new();
    for record in &parsed.records {
        while let Some(s) = skipped.next_if(|s| s.error.line() < record.line) {
            out.accounting.push(
                LineRef {
                    file: source.name.to_owned(),
                    line: s.error.line(),
                },
                Disposition::SkippedInvalid,
                s.error.to_string(),
            );
            out.skipped.push(s);
        }
        let line = LineRef {
            file: source.name.to_owned(),
            line: record.line,
        };
        if record.lastapp != QUEUE_APP {
            *out.ignored.entry(record.lastapp.clone()).or_insert(0) += 1;
            out.accounting
                .push(line, Disposition::NotQueueCall, record.lastapp.clone());
            continue;
        }
        if let Some(first) = seen.get(record.uniqueid.as_str()) {
            let same = CdrRecord {
                line: first.line,
                ..record.clone()
            } == **first;
            if same {
                out.duplicate_queue_records.push(line.clone());
                out.accounting.push(
                    line,
                    Disposition::ExactRepeat,
                    format!("as line {}", first.line),
                );
                continue;
            }
            let error = CdrError::Conflict {
                file: source.name.to_owned(),
                line: record.line,
                first_line: first.line,
                uniqueid: record.uniqueid.clone(),
            };
            skip_or_fail(&mut out.skipped, options.malformed, error.clone())?;
            out.duplicate_queue_records.push(line.clone());
            out.accounting
                .push(line, Disposition::ConflictingRepeat, error.to_string());
            continue;
        }
        seen.insert(record.uniqueid.as_str(), record);
        let call_text = format!("{}:{}", options.client_id, escape_id(&record.uniqueid));
        let call_id = match CallId::new(call_text.clone()) {
            Ok(id) => id,
            Err(_) => {
                let error = malformed_field(
                    source.name,
                    record.line,
                    "uniqueid",
                    "does not make a valid call id",
                    &call_text,
                );
                skip_or_fail(&mut out.skipped, options.malformed, error.clone())?;
                out.accounting
                    .push(line, Disposition::SkippedInvalid, error.to_string());
                continue;
            }
        };
        out.queue_calls.push(CdrQueueCall {
            call_id: call_id.clone(),
            uniqueid: record.uniqueid.clone(),
            start: record.start,
            end: record.end,
            duration_secs: record.duration_secs,
            disposition: record.disposition,
            source: line.clone(),
        });
        if options.superseded_calls.contains(&call_id) {
            out.superseded.push(call_id);
            out.accounting.push(
                line,
                Disposition::Superseded,
                "already described by the queue log".to_owned(),
            );
            continue;
        }
        out.accounting
            .push(line.clone(), Disposition::Imported, QUEUE_APP.to_owned());
        out.events.push(ImportedEvent {
            event_id: event_id(&options.client_id, &record.uniqueid, "connected"),
            event: DomainEvent::CallConnected(CallConnected {
                client_id: options.client_id.clone(),
                call_id,
                at: record.start,
                queue: queue_name(record),
                caller_number: Some(record.src.trim())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            }),
            source: line,
        });
    }
    for s in skipped {
        out.accounting.push(
            LineRef {
                file: source.name.to_owned(),
                line: s.error.line(),
            },
            Disposition::SkippedInvalid,
            s.error.to_string(),
        );
        out.skipped.push(s);
    }
    Ok(out)
}

/// The call ids of the call events among `events`, e.g. those a queue_log import produced, to
/// pass as [`CdrOptions::superseded_calls`].
pub fn call_ids_of(events: &[ImportedEvent]) -> BTreeSet<CallId> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            DomainEvent::CallConnected(c) => Some(c.call_id.clone()),
            DomainEvent::CallAnswered(c) => Some(c.call_id.clone()),
            DomainEvent::CallRoutedToVoicemail(c) => Some(c.call_id.clone()),
            DomainEvent::CallAbandoned(c) => Some(c.call_id.clone()),
            DomainEvent::CallCompleted(c) => Some(c.call_id.clone()),
            _ => None,
        })
        .collect()
}

/// The UUID v5 of one event of one call: the same record always gives the same id.
fn event_id(client_id: &ClientId, uniqueid: &str, kind: &str) -> Uuid {
    let name = format!("opsledger/cdr_csv/{client_id}/{uniqueid}/{kind}");
    Uuid::new_v5(&CDR_CSV_NAMESPACE, name.as_bytes())
}

/// The queue a `Queue` record names: the first argument of `lastdata` (`500,t,,,` is queue
/// `500`), else the dialled extension.
fn queue_name(record: &CdrRecord) -> Option<String> {
    let from_data = record.lastdata.split(',').next().unwrap_or("").trim();
    let name = if from_data.is_empty() {
        record.dst.trim()
    } else {
        from_data
    };
    Some(name).filter(|n| !n.is_empty()).map(str::to_owned)
}

fn skip_or_fail(
    skipped: &mut Vec<SkippedCdrLine>,
    policy: MalformedLines,
    error: CdrError,
) -> Result<(), CdrError> {
    match policy {
        MalformedLines::Fail => Err(error),
        MalformedLines::Skip => {
            skipped.push(SkippedCdrLine { error });
            Ok(())
        }
    }
}

fn malformed_field(
    file: &str,
    line: u64,
    field: &'static str,
    reason: &'static str,
    found: &str,
) -> CdrError {
    CdrError::Malformed {
        file: file.to_owned(),
        line,
        field,
        reason,
        found: found.to_owned(),
    }
}

/// Reads the 18 fields of one record.
fn parse_record(
    raw: &csv::ByteRecord,
    file: &str,
    line: u64,
    zone: Tz,
) -> Result<CdrRecord, CdrError> {
    if raw.len() != FIELD_COUNT {
        return Err(CdrError::ColumnCount {
            file: file.to_owned(),
            line,
            expected: FIELD_COUNT,
            found: raw.len(),
        });
    }
    let mut texts: Vec<&str> = Vec::with_capacity(FIELD_COUNT);
    for (bytes, field) in raw.iter().zip(FIELD_NAMES) {
        let text = std::str::from_utf8(bytes).map_err(|_| CdrError::NotUtf8 {
            file: file.to_owned(),
            line,
            field,
        })?;
        texts.push(text);
    }
    // The column count was checked above, so every index below exists.
    let text = |index: usize| texts[index];
    let time = |index: usize| -> Result<DateTime<Utc>, CdrError> {
        let found = text(index);
        let naive = NaiveDateTime::parse_from_str(found.trim(), TIME_FORMAT).map_err(|_| {
            malformed_field(
                file,
                line,
                FIELD_NAMES[index],
                "is not a time (YYYY-MM-DD HH:MM:SS)",
                found,
            )
        })?;
        local_to_utc(&naive, &zone).ok_or_else(|| {
            malformed_field(
                file,
                line,
                FIELD_NAMES[index],
                "does not exist in the server's time zone (a daylight-saving gap)",
                found,
            )
        })
    };
    let secs = |index: usize| -> Result<u64, CdrError> {
        let found = text(index);
        found.trim().parse::<u64>().map_err(|_| {
            malformed_field(
                file,
                line,
                FIELD_NAMES[index],
                "is not a whole number of seconds",
                found,
            )
        })
    };
    let start = time(9)?;
    let answer = if text(10).trim().is_empty() {
        None
    } else {
        Some(time(10)?)
    };
    let end = time(11)?;
    if end < start {
        return Err(malformed_field(
            file,
            line,
            "end",
            "is before start",
            text(11),
        ));
    }
    let duration_secs = secs(12)?;
    let billsec_secs = secs(13)?;
    let disposition = Disposition::parse(text(14).trim()).ok_or_else(|| {
        malformed_field(
            file,
            line,
            "disposition",
            "is not ANSWERED, NO ANSWER, BUSY, FAILED or CONGESTION",
            text(14),
        )
    })?;
    let uniqueid = text(16).trim();
    if uniqueid.is_empty() {
        return Err(malformed_field(file, line, "uniqueid", "is empty", ""));
    }
    Ok(CdrRecord {
        line,
        accountcode: text(0).to_owned(),
        src: text(1).to_owned(),
        dst: text(2).to_owned(),
        dcontext: text(3).to_owned(),
        clid: text(4).to_owned(),
        channel: text(5).to_owned(),
        dstchannel: text(6).to_owned(),
        lastapp: text(7).to_owned(),
        lastdata: text(8).to_owned(),
        start,
        answer,
        end,
        duration_secs,
        billsec_secs,
        disposition,
        amaflags: text(15).to_owned(),
        uniqueid: uniqueid.to_owned(),
        userfield: text(17).to_owned(),
    })
}

/// Converts a wall-clock time in `zone` to UTC. A time repeated by a daylight-saving fall-back
/// is read as its earlier occurrence, because neither format records the offset and a record
/// in the repeated hour is more often the first pass than not; a time skipped by a spring-
/// forward gap never occurred, so it is `None`.
///
/// Shared by the CSV importers of this crate.
pub(crate) fn local_to_utc(naive: &NaiveDateTime, zone: &Tz) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(naive) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, _) => Some(earlier.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}
