//! Import orchestration (`opsledger import`): real call-center records into the ledger. Files are read here; the
//! pure parsers in `opsledger_domain::import` translate them into call events with
//! deterministic ids; every event is decided against the ledger's state (so a call for an
//! unknown client is refused, naming the rule) and appended in atomic batches.
//!
//! Importing the same file twice adds nothing (the ids are already recorded); an import
//! killed half-way is finished by running it again. A malformed line stops the import before
//! anything is appended, naming file, line and field; `--skip-invalid` records the rest and
//! lists what was skipped.
//!
//! Every import accounts for every row read (the importers' dispositions, which add up to the
//! rows read), marks the rows the ledger refused or holds with other content, and can write
//! the per-row list, one `file:line` per row, to a report file (see `docs/imports.md`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use opsledger_domain::command::Command;
use opsledger_domain::events::DomainEvent;
use opsledger_domain::ids::ClientId;
use opsledger_domain::import::accounting::{Accounting, Disposition};
use opsledger_domain::import::queue_log::{ImportedEvent, MalformedLines};
use opsledger_domain::import::{cdr_csv, csv_mapping, queue_log};
use opsledger_domain::state::LedgerState;
use opsledger_store::{EventStore, Metadata};

use crate::error::{AppError, AppResult, Origin};
use crate::ledger::Target;
use crate::progress::Progress;
use crate::record::{self, Fact, Recorded, Refusal};
use crate::report::client_id;

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The client the calls belong to (it must be onboarded in the ledger).
    pub client: String,
    /// Skip malformed lines, conflicting repeats and refused facts, report them, and import
    /// the rest.
    pub skip_invalid: bool,
    /// Where to write what became of every row read, one
    /// `file:line<TAB>disposition<TAB>detail` line per row; none when `None`.
    pub report_file: Option<PathBuf>,
    pub source: ImportSource,
}

/// The files to import and their format.
#[derive(Debug, Clone)]
pub enum ImportSource {
    /// Asterisk queue_log files; rotated files (`queue_log-YYYYMMDD`) are read oldest first.
    /// A file may also be a CSV or TSV dump of the realtime `queue_log` table, whose `time`
    /// is read in `zone` when it is timestamp text; `layout` names a vendor's dump layout
    /// (`pbxware`, or a JSON layout file).
    QueueLog {
        zone: chrono_tz::Tz,
        layout: Option<String>,
        files: Vec<PathBuf>,
    },
    /// Asterisk CDR CSV (`Master.csv`), its local times written in the PBX's `zone`.
    Cdr { zone: chrono_tz::Tz, file: PathBuf },
    /// Any CSV export of call records, described by a JSON mapping file (or the built-in
    /// `anonymous-bank` mapping).
    Csv { mapping: String, file: PathBuf },
}

/// What an import did.
#[derive(Debug)]
pub struct Imported {
    pub recorded: Recorded,
    /// What became of every row read, with the rows the ledger refused or holds with other
    /// content marked so.
    pub accounting: Accounting,
    /// Distinct calls among the events recorded or offered to the ledger.
    pub calls: u64,
    /// Calls without an outcome when the input ended (recorded as offered, unresolved).
    pub unresolved_calls: u64,
    /// Events the importer produced and offered to the ledger.
    pub events: u64,
    /// What the parser read and skipped, one line each.
    pub notes: Vec<String>,
}

/// What one importer produced, ready to record and account for.
struct Parsed {
    source_tag: &'static str,
    events: Vec<ImportedEvent>,
    accounting: Accounting,
    unresolved_calls: u64,
    notes: Vec<String>,
}

fn read(path: &Path) -> AppResult<Vec<u8>> {
    std::fs::read(path).map_err(|source| AppError::Io {
        context: format!("reading {}", path.display()),
        source,
    })
}

/// Rotated queue_log files sort by their date suffix, and the live file comes last.
fn rotation_order(files: &mut [PathBuf]) {
    files.sort_by_key(|p| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match name.rsplit_once('-') {
            Some((_, suffix))
                if suffix.len() == 8 && suffix.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (0u8, suffix.to_owned(), name)
            }
            _ => (1u8, String::new(), name),
        }
    });
}

/// The command that records an imported call event through the domain.
fn command_for(event: DomainEvent) -> AppResult<Command> {
    Ok(match event {
        DomainEvent::CallConnected(e) => Command::ConnectCall(e),
        DomainEvent::CallAnswered(e) => Command::AnswerCall(e),
        DomainEvent::CallAbandoned(e) => Command::AbandonCall(e),
        DomainEvent::CallRoutedToVoicemail(e) => Command::RouteToVoicemail(e),
        DomainEvent::CallCompleted(e) => Command::CompleteCall(e),
        other => {
            return Err(AppError::Internal(format!(
                "an importer produced {}, which imports do not record",
                other.event_type()
            )))
        }
    })
}

fn facts(events: Vec<ImportedEvent>) -> AppResult<Vec<Fact>> {
    events
        .into_iter()
        .map(|i| {
            Ok(Fact {
                event_id: i.event_id,
                command: command_for(i.event)?,
                file: i.source.file,
                line: usize::try_from(i.source.line).unwrap_or(usize::MAX),
            })
        })
        .collect()
}

/// Parses the files, checks the events the ledger already holds against what it holds,
/// decides every call event against the ledger's state, appends what the domain accepts
/// (`progress` hears of the appends), and accounts for every row read.
pub async fn import(
    target: &Target,
    request: ImportRequest,
    progress: &dyn Progress,
) -> AppResult<Imported> {
    let ImportRequest {
        client,
        skip_invalid,
        report_file,
        source,
    } = request;
    let Parsed {
        source_tag,
        events,
        mut accounting,
        unresolved_calls,
        mut notes,
    } = parse(target, &client, skip_invalid, source).await?;
    let store = target.open().await?;
    let events = against_ledger(&store, events, &mut accounting, skip_invalid).await?;
    let calls = u64::try_from(cdr_csv::call_ids_of(&events).len()).unwrap_or(u64::MAX);
    let event_count = u64::try_from(events.len()).unwrap_or(u64::MAX);
    let facts = facts(events)?;
    let metadata = Metadata {
        source: Some(source_tag.to_owned()),
        actor: Some("opsledger-import".to_owned()),
        correlation_id: None,
        causation_id: None,
    };
    let recorded = record::record(&store, facts, &metadata, skip_invalid, progress).await?;
    mark_refused(&mut accounting, &recorded.refused);
    if let Some(path) = &report_file {
        write_report_file(path, &accounting)?;
    }
    if unresolved_calls > 0 {
        notes.push(format!(
            "{unresolved_calls} calls had no outcome when the input ended: they are recorded as offered and unresolved, and the SLA report leaves them out of its rates (docs/imports.md)"
        ));
    }
    Ok(Imported {
        recorded,
        accounting,
        calls,
        unresolved_calls,
        events: event_count,
        notes,
    })
}

/// Writes the per-row list: `file:line`, disposition and detail, tab-separated.
fn write_report_file(path: &Path, accounting: &Accounting) -> AppResult<()> {
    let io_error = |source: std::io::Error| AppError::Io {
        context: format!("writing {}", path.display()),
        source,
    };
    let file = std::fs::File::create(path).map_err(io_error)?;
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "place\tdisposition\tdetail").map_err(io_error)?;
    for row in &accounting.rows {
        // Tabs and line breaks in a detail would break the one-row-per-line layout.
        let detail: String = row
            .detail
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        writeln!(
            out,
            "{}:{}\t{}\t{}",
            row.source.file,
            row.source.line,
            row.disposition.name(),
            detail
        )
        .map_err(io_error)?;
    }
    out.flush().map_err(io_error)?;
    Ok(())
}

/// Marks the rows whose facts the ledger refused (with `--skip-invalid`), so that the table and
/// the per-row list show them. A refusal carries the file and line of its row.
fn mark_refused(accounting: &mut Accounting, refused: &[Refusal]) {
    let mut by_place: BTreeMap<(&str, u64), &Refusal> = BTreeMap::new();
    for r in refused {
        let line = u64::try_from(r.origin.line).unwrap_or(u64::MAX);
        by_place.entry((r.origin.file.as_str(), line)).or_insert(r);
    }
    if by_place.is_empty() {
        return;
    }
    for row in &mut accounting.rows {
        if let Some(r) = by_place.get(&(row.source.file.as_str(), row.source.line)) {
            row.disposition = Disposition::RefusedByLedger;
            row.detail = format!("refused: {}", r.refusal);
        }
    }
}

/// How the ledger's record of a call disagrees with an imported event of the same id, if it
/// does.
fn disagreement(state: &LedgerState, event: &DomainEvent) -> Option<String> {
    let (call_id, what) = match event {
        DomainEvent::CallConnected(e) => {
            let call = state.calls.get(&e.call_id)?;
            return (call.connected != *e).then(|| {
                format!(
                    "the ledger holds call {} connected at {} with other details",
                    e.call_id, call.connected.at
                )
            });
        }
        DomainEvent::CallAnswered(e) => (&e.call_id, Some((e.at, "answered"))),
        DomainEvent::CallRoutedToVoicemail(e) => (&e.call_id, Some((e.at, "routed to voicemail"))),
        DomainEvent::CallAbandoned(e) => (&e.call_id, Some((e.at, "abandoned"))),
        DomainEvent::CallCompleted(e) => (&e.call_id, Some((e.at, "completed"))),
        _ => return None,
    };
    let call = state.calls.get(call_id)?;
    let (at, kind) = what?;
    let recorded = match kind {
        "answered" => call.answered.as_ref().map(|(at, _)| *at),
        "routed to voicemail" => call.voicemail_at,
        "abandoned" => call.abandoned_at,
        _ => call.completed_at,
    };
    let agent_differs = match (event, &call.answered) {
        (DomainEvent::CallAnswered(e), Some((_, agent))) => *agent != e.agent_id,
        _ => false,
    };
    match recorded {
        Some(recorded) if recorded != at || agent_differs => Some(format!(
            "the ledger holds call {call_id} {kind} at {recorded}, this row says {at}"
        )),
        _ => None,
    }
}

/// Checks the events whose ids the ledger already holds against what it holds. The same id
/// with other content means the source row changed since it was imported (or another row now
/// has its identity); the store would keep the earlier event and drop this one without a
/// word, so such a row is a conflict: refused naming its line, or with `skip` counted as a
/// conflicting repeat and left out. Events with new ids are left to the domain, which refuses
/// a conflicting duplicate itself.
async fn against_ledger(
    store: &Arc<dyn EventStore>,
    events: Vec<ImportedEvent>,
    accounting: &mut Accounting,
    skip: bool,
) -> AppResult<Vec<ImportedEvent>> {
    let mut clients: Vec<ClientId> = events
        .iter()
        .filter_map(|e| ClientId::new(e.event.client_id()).ok())
        .collect();
    clients.sort();
    clients.dedup();
    if clients.is_empty() {
        return Ok(events);
    }
    let (state, seen) = record::load_state(store, &clients).await?;
    let mut conflicts: BTreeMap<(String, u64), String> = BTreeMap::new();
    for event in events.iter().filter(|e| seen.contains(&e.event_id)) {
        if let Some(detail) = disagreement(&state, &event.event) {
            if !skip {
                return Err(AppError::input(
                    Origin {
                        file: event.source.file.clone(),
                        line: usize::try_from(event.source.line).unwrap_or(usize::MAX),
                    },
                    None,
                    format!("conflicts with the ledger: {detail}"),
                ));
            }
            conflicts
                .entry((event.source.file.clone(), event.source.line))
                .or_insert(detail);
        }
    }
    if conflicts.is_empty() {
        return Ok(events);
    }
    for row in &mut accounting.rows {
        if let Some(detail) = conflicts.get(&(row.source.file.clone(), row.source.line)) {
            row.disposition = Disposition::ConflictingRepeat;
            row.detail = format!("conflicts with the ledger: {detail}");
        }
    }
    Ok(events
        .into_iter()
        .filter(|e| !conflicts.contains_key(&(e.source.file.clone(), e.source.line)))
        .collect())
}

/// Reads the files of one import and runs its importer.
async fn parse(
    target: &Target,
    client: &str,
    skip_invalid: bool,
    source: ImportSource,
) -> AppResult<Parsed> {
    Ok(match source {
        ImportSource::QueueLog {
            zone,
            layout,
            mut files,
        } => {
            let layout = match layout.as_deref() {
                None => None,
                Some("pbxware") => Some(queue_log::pbxware_layout()),
                Some(path) => {
                    let text = std::fs::read_to_string(path).map_err(|source| AppError::Io {
                        context: format!("reading layout {path}"),
                        source,
                    })?;
                    Some(
                        queue_log::parse_dump_layout(&text)
                            .map_err(|e| input_error(format!("{path}: {e}")))?,
                    )
                }
            };
            if files.is_empty() {
                return Err(AppError::InvalidRequest {
                    what: "queue_log".to_owned(),
                    detail: "name at least one queue_log file".to_owned(),
                });
            }
            rotation_order(&mut files);
            let contents: Vec<(String, Vec<u8>)> = files
                .iter()
                .map(|p| Ok((p.display().to_string(), read(p)?)))
                .collect::<AppResult<_>>()?;
            let sources: Vec<queue_log::QueueLogSource<'_>> = contents
                .iter()
                .map(|(name, bytes)| queue_log::QueueLogSource { name, bytes })
                .collect();
            let options = queue_log::QueueLogOptions {
                client_id: client_id(client)?,
                malformed: malformed(skip_invalid),
            };
            let dump = queue_log::DumpOptions { zone, layout };
            let parsed = queue_log::import_with(&sources, &options, &dump)
                .map_err(|e| input_error(e.to_string()))?;
            let mut notes = vec![format!(
                "{} lines read, {} NUL bytes stripped, {} calls cut off at the end of the input, {} lines skipped",
                parsed.lines_read,
                parsed.nul_bytes_stripped,
                parsed.incomplete_calls.len(),
                parsed.skipped.len()
            )];
            notes.extend(
                parsed
                    .skipped
                    .iter()
                    .map(|s| format!("skipped: {}", s.error)),
            );
            Parsed {
                source_tag: "asterisk-queue-log",
                events: parsed.events,
                accounting: parsed.accounting,
                unresolved_calls: u64::try_from(parsed.incomplete_calls.len()).unwrap_or(u64::MAX),
                notes,
            }
        }
        ImportSource::Cdr { zone, file } => {
            let bytes = read(&file)?;
            let name = file.display().to_string();
            let client = client_id(client)?;
            // Calls the ledger already holds (from queue_log, which knows when an agent picked
            // up) are not re-described by their CDRs, whose times are the PBX's, not the queue's.
            let store = target.open().await?;
            let (state, _) = record::load_state(&store, std::slice::from_ref(&client)).await?;
            let options = cdr_csv::CdrOptions {
                client_id: client,
                server_zone: zone,
                malformed: malformed(skip_invalid),
                superseded_calls: state.calls.keys().cloned().collect(),
            };
            let parsed = cdr_csv::import(
                &cdr_csv::CdrSource {
                    name: &name,
                    bytes: &bytes,
                },
                &options,
            )
            .map_err(|e| input_error(e.to_string()))?;
            let mut notes = vec![format!(
                "{} records read, {} queue calls ({} already in the ledger from the queue log), {} lines skipped",
                parsed.records_read,
                parsed.queue_calls.len(),
                parsed.superseded.len(),
                parsed.skipped.len()
            )];
            notes.extend(
                parsed
                    .skipped
                    .iter()
                    .map(|s| format!("skipped: {}", s.error)),
            );
            Parsed {
                source_tag: cdr_csv::SOURCE_TAG,
                events: parsed.events,
                accounting: parsed.accounting,
                unresolved_calls: 0,
                notes,
            }
        }
        ImportSource::Csv { mapping, file } => {
            let mapping = if mapping == "anonymous-bank" {
                csv_mapping::anonymous_bank()
            } else {
                let text = std::fs::read_to_string(&mapping).map_err(|source| AppError::Io {
                    context: format!("reading mapping {mapping}"),
                    source,
                })?;
                csv_mapping::parse_mapping(&text)
                    .map_err(|e| input_error(format!("{mapping}: {e}")))?
            };
            let bytes = read(&file)?;
            let name = file.display().to_string();
            let options = csv_mapping::CsvOptions {
                client_id: client_id(client)?,
                malformed: malformed(skip_invalid),
            };
            let parsed = csv_mapping::import(
                &csv_mapping::CsvSource {
                    name: &name,
                    bytes: &bytes,
                },
                &mapping,
                &options,
            )
            .map_err(|e| input_error(e.to_string()))?;
            let mut notes = vec![format!(
                "{} rows read, {} never reached the queue, {} rows skipped",
                parsed.rows_read,
                parsed.not_queued.len(),
                parsed.skipped.len()
            )];
            notes.extend(
                parsed
                    .skipped
                    .iter()
                    .map(|s| format!("skipped: {}", s.error)),
            );
            Parsed {
                source_tag: "csv-mapping",
                events: parsed.events,
                accounting: parsed.accounting,
                unresolved_calls: 0,
                notes,
            }
        }
    })
}

fn malformed(skip: bool) -> MalformedLines {
    if skip {
        MalformedLines::Skip
    } else {
        MalformedLines::Fail
    }
}

/// Parser errors already name file, line and field; they are refused input.
fn input_error(detail: String) -> AppError {
    AppError::input(Origin::default(), None, detail)
}
