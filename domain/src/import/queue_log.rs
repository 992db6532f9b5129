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
//! lines, `RINGNOANSWER`, unknown events) and is counted in [`QueueLogImport::ignored`].
//!
//! Robustness: NUL bytes (left by an unclean shutdown, often as a run prefixing a line) are
//! stripped before a line is parsed; blank lines are skipped. A call whose outcome is missing at
//! the end of the input is reported in [`QueueLogImport::incomplete_calls`] with the events that
//! did happen, and no outcome is invented. A call line whose call never entered the queue in the
//! input (its start was cut off before the first file) is reported as an orphan. A malformed
//! line is a [`QueueLogError`] naming file, line and field, or is skipped and reported when the
//! caller asks for [`MalformedLines::Skip`].
//!
//! Ids: the domain call id is `<client>:<asterisk callid>` (a call that re-enters a queue gets
//! `:<n>` appended for its n-th visit), and every event id is a UUID v5 of the client, the
//! Asterisk call id, the visit and the event kind, so the same lines always give the same ids.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::events::{
    AbandonReason, CallAbandoned, CallAnswered, CallCompleted, CallConnected, DomainEvent,
};
use crate::ids::{AgentId, CallId, ClientId, IdError};

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    InQueue,
    Answered,
    Done,
}

/// The fields of one line, borrowed.
struct Fields<'l> {
    timestamp: i64,
    callid: &'l str,
    queue: &'l str,
    agent: &'l str,
    event: &'l str,
    data: Vec<&'l str>,
}

/// Translates queue_log files (oldest first) into domain call events for one client.
pub fn import(
    sources: &[QueueLogSource<'_>],
    options: &QueueLogOptions,
) -> Result<QueueLogImport, QueueLogError> {
    let mut out = QueueLogImport::default();
    let mut importer = Importer {
        client_id: &options.client_id,
        visits: HashMap::new(),
        order: Vec::new(),
    };
    for source in sources {
        for (index, raw) in source.bytes.split(|b| *b == b'\n').enumerate() {
            let line_no = u64::try_from(index).map_or(u64::MAX, |i| i.saturating_add(1));
            let nuls = raw.iter().filter(|b| **b == 0).count();
            out.nul_bytes_stripped = out
                .nul_bytes_stripped
                .saturating_add(u64::try_from(nuls).unwrap_or(u64::MAX));
            let cleaned: Vec<u8> = raw.iter().copied().filter(|b| *b != 0).collect();
            let line_ref = LineRef {
                file: source.name.to_owned(),
                line: line_no,
            };
            let text = match std::str::from_utf8(&cleaned) {
                Ok(t) => t.trim_end_matches('\r'),
                Err(_) => {
                    let error = malformed(&line_ref, "line", "is not UTF-8", "");
                    skip_or_fail(&mut out, options.malformed, error)?;
                    continue;
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            out.lines_read = out.lines_read.saturating_add(1);
            match parse_fields(text, &line_ref)
                .and_then(|fields| importer.line(&fields, &line_ref, &mut out))
            {
                Ok(()) => {}
                Err(error) => skip_or_fail(&mut out, options.malformed, error)?,
            }
        }
    }
    importer.finish(&mut out);
    Ok(out)
}

fn skip_or_fail(
    out: &mut QueueLogImport,
    policy: MalformedLines,
    error: QueueLogError,
) -> Result<(), QueueLogError> {
    match policy {
        MalformedLines::Fail => Err(error),
        MalformedLines::Skip => {
            out.skipped.push(SkippedLine { error });
            Ok(())
        }
    }
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

fn parse_fields<'l>(text: &'l str, line: &LineRef) -> Result<Fields<'l>, QueueLogError> {
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
    if DateTime::<Utc>::from_timestamp(timestamp, 0).is_none() {
        return Err(malformed(line, "timestamp", "is out of range", ts_text));
    }
    let mut next = |field: &'static str| {
        parts
            .next()
            .ok_or_else(|| malformed(line, field, "is missing", ""))
    };
    let callid = next("callid")?;
    let queue = next("queue")?;
    let agent = next("agent")?;
    let event = next("event")?;
    if event.is_empty() {
        return Err(malformed(line, "event", "is empty", ""));
    }
    let data = parts.collect();
    Ok(Fields {
        timestamp,
        callid,
        queue,
        agent,
        event,
        data,
    })
}

/// The names FORMATS.md gives the data fields, for error messages.
const DATA_FIELDS: [&str; 5] = ["data1", "data2", "data3", "data4", "data5"];

fn data_secs(fields: &Fields<'_>, index: usize, line: &LineRef) -> Result<i64, QueueLogError> {
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

/// Maps text to the id alphabet (ASCII letters, digits, `-_.:`): `/` becomes `:` so that
/// `SIP/1001` stays readable as `SIP:1001`; any other character becomes `_`.
/// Turns foreign id text into the id alphabet. Every importer must use this one function, so
/// that the same call gets the same id whichever file it is imported from.
pub(crate) fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':') => c,
            '/' => ':',
            _ => '_',
        })
        .collect()
}

fn id_error(line: &LineRef, field: &'static str, found: &str, _e: IdError) -> QueueLogError {
    malformed(line, field, "does not make a valid id", found)
}

fn at(secs: i64) -> DateTime<Utc> {
    // `parse_fields` refused timestamps out of chrono's range.
    DateTime::<Utc>::from_timestamp(secs, 0).expect("timestamp range checked when parsed")
}

struct Importer<'c> {
    client_id: &'c ClientId,
    /// Asterisk call id to the index of its current visit in `order`.
    visits: HashMap<String, usize>,
    /// Every visit, in the order calls entered the queue.
    order: Vec<Visit>,
}

impl Importer<'_> {
    fn event_id(&self, visit: &Visit, kind: &str) -> Uuid {
        let name = format!(
            "opsledger/queue_log/{}/{}/{}/{}",
            self.client_id, visit.asterisk_call_id, visit.visit, kind
        );
        Uuid::new_v5(&QUEUE_LOG_NAMESPACE, name.as_bytes())
    }

    fn line(
        &mut self,
        f: &Fields<'_>,
        line: &LineRef,
        out: &mut QueueLogImport,
    ) -> Result<(), QueueLogError> {
        match f.event {
            "ENTERQUEUE" => self.enter(f, line, out),
            "CONNECT" => self.connect(f, line, out),
            "COMPLETEAGENT" | "COMPLETECALLER" => self.complete(f, 1, line, out),
            "TRANSFER" | "BLINDTRANSFER" | "ATTENDEDTRANSFER" => self.complete(f, 3, line, out),
            "ABANDON" => self.leave(f, AbandonReason::CallerHungUp, 2, line, out),
            "EXITWITHTIMEOUT" => self.leave(f, AbandonReason::QueueTimeout, 2, line, out),
            "EXITEMPTY" => self.leave(f, AbandonReason::QueueEmpty, 2, line, out),
            "EXITWITHKEY" => self.leave(f, AbandonReason::CallerLeftWithKey, 3, line, out),
            other => {
                *out.ignored.entry(other.to_owned()).or_insert(0) += 1;
                Ok(())
            }
        }
    }

    fn callid<'l>(f: &Fields<'l>, line: &LineRef) -> Result<&'l str, QueueLogError> {
        let id = f.callid.trim();
        if id.is_empty() || matches!(id, "NONE" | "MANAGER" | "CLI" | "REALTIME") {
            return Err(malformed(line, "callid", "does not name a call", f.callid));
        }
        Ok(id)
    }

    fn enter(
        &mut self,
        f: &Fields<'_>,
        line: &LineRef,
        out: &mut QueueLogImport,
    ) -> Result<(), QueueLogError> {
        let asterisk = Self::callid(f, line)?;
        let previous = self.visits.get(asterisk).map(|i| &self.order[*i]);
        let visit_no = previous.map_or(1, |v| v.visit.saturating_add(1));
        let base = format!("{}:{}", self.client_id, sanitize(asterisk));
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
        Ok(())
    }

    /// The current visit of a call if it is in `expected` progress; else records an orphan.
    fn visit_in(
        &mut self,
        f: &Fields<'_>,
        expected: Progress,
        line: &LineRef,
        out: &mut QueueLogImport,
    ) -> Result<Option<usize>, QueueLogError> {
        let asterisk = Self::callid(f, line)?;
        match self.visits.get(asterisk) {
            Some(i) if self.order[*i].progress == expected => Ok(Some(*i)),
            _ => {
                out.orphan_lines.push(OrphanLine {
                    asterisk_call_id: asterisk.to_owned(),
                    event: f.event.to_owned(),
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
        f: &Fields<'_>,
        line: &LineRef,
        out: &mut QueueLogImport,
    ) -> Result<(), QueueLogError> {
        let holdtime = data_secs(f, 0, line)?;
        let Some(i) = self.visit_in(f, Progress::InQueue, line, out)? else {
            return Ok(());
        };
        let agent_text = match f.agent.trim() {
            "" | "NONE" => UNKNOWN_AGENT.to_owned(),
            name => sanitize(name),
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
        Ok(())
    }

    fn complete(
        &mut self,
        f: &Fields<'_>,
        calltime_index: usize,
        line: &LineRef,
        out: &mut QueueLogImport,
    ) -> Result<(), QueueLogError> {
        self.end_visit(
            f,
            (Progress::Answered, "completed"),
            ("calltime", calltime_index, |v: &Visit| v.answered_at),
            line,
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
        f: &Fields<'_>,
        reason: AbandonReason,
        waittime_index: usize,
        line: &LineRef,
        out: &mut QueueLogImport,
    ) -> Result<(), QueueLogError> {
        self.end_visit(
            f,
            (Progress::InQueue, "abandoned"),
            ("waittime", waittime_index, |v: &Visit| v.entered_at),
            line,
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
    /// the id of event `kind`.
    fn end_visit(
        &mut self,
        f: &Fields<'_>,
        (expected, kind): (Progress, &'static str),
        (field, index, since): (&'static str, usize, fn(&Visit) -> i64),
        line: &LineRef,
        out: &mut QueueLogImport,
        make: impl FnOnce(ClientId, CallId, DateTime<Utc>) -> DomainEvent,
    ) -> Result<(), QueueLogError> {
        let logged = data_secs(f, index, line)?;
        let Some(i) = self.visit_in(f, expected, line, out)? else {
            return Ok(());
        };
        let event_id = self.event_id(&self.order[i], kind);
        let visit = &mut self.order[i];
        let started = since(visit);
        Self::check(out, visit, field, logged, started, f.timestamp, line);
        visit.progress = Progress::Done;
        visit.last_line = line.clone();
        out.events.push(ImportedEvent {
            event_id,
            event: make(
                self.client_id.clone(),
                visit.call_id.clone(),
                at(f.timestamp),
            ),
            source: line.clone(),
        });
        Ok(())
    }

    fn finish(self, out: &mut QueueLogImport) {
        for visit in self.order {
            let progress = match visit.progress {
                Progress::InQueue => CallProgress::InQueue,
                Progress::Answered => CallProgress::Answered,
                Progress::Done => continue,
            };
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
