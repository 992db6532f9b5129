//! Import orchestration (`opsledger import`): real call-center records into the ledger. Files are read here; the
//! pure parsers in `opsledger_domain::import` translate them into call events with
//! deterministic ids; every event is decided against the ledger's state (so a call for an
//! unknown client is refused, naming the rule) and appended in atomic batches.
//!
//! Importing the same file twice adds nothing (the ids are already recorded); an import
//! killed half-way is finished by running it again. A malformed line stops the import before
//! anything is appended, naming file, line and field; `--skip-invalid` records the rest and
//! lists what was skipped.

use std::path::{Path, PathBuf};

use opsledger_domain::command::Command;
use opsledger_domain::events::DomainEvent;
use opsledger_domain::import::queue_log::{ImportedEvent, MalformedLines};
use opsledger_domain::import::{cdr_csv, csv_mapping, queue_log};
use opsledger_store::Metadata;

use crate::error::{AppError, AppResult, Origin};
use crate::ledger::Target;
use crate::progress::Progress;
use crate::record::{self, Fact, Recorded};
use crate::report::client_id;

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The client the calls belong to (it must be onboarded in the ledger).
    pub client: String,
    /// Skip malformed lines and refused facts, report them, and import the rest.
    pub skip_invalid: bool,
    pub source: ImportSource,
}

/// The files to import and their format.
#[derive(Debug, Clone)]
pub enum ImportSource {
    /// Asterisk queue_log files; rotated files (`queue_log-YYYYMMDD`) are read oldest first.
    QueueLog { files: Vec<PathBuf> },
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
    /// What the parser read and skipped, one line each.
    pub notes: Vec<String>,
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

/// Parses the files, decides every call event against the ledger's state and appends what the
/// domain accepts; `progress` hears of the appends.
pub async fn import(
    target: &Target,
    request: ImportRequest,
    progress: &dyn Progress,
) -> AppResult<Imported> {
    let ImportRequest {
        client,
        skip_invalid,
        source,
    } = request;
    let (source_tag, facts, notes) = match source {
        ImportSource::QueueLog { mut files } => {
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
                client_id: client_id(&client)?,
                malformed: malformed(skip_invalid),
            };
            let parsed =
                queue_log::import(&sources, &options).map_err(|e| input_error(e.to_string()))?;
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
            ("asterisk-queue-log", facts(parsed.events)?, notes)
        }
        ImportSource::Cdr { zone, file } => {
            let bytes = read(&file)?;
            let name = file.display().to_string();
            let client = client_id(&client)?;
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
            (cdr_csv::SOURCE_TAG, facts(parsed.events)?, notes)
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
                client_id: client_id(&client)?,
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
            ("csv-mapping", facts(parsed.events)?, notes)
        }
    };
    let store = target.open().await?;
    let metadata = Metadata {
        source: Some(source_tag.to_owned()),
        actor: Some("opsledger-import".to_owned()),
        correlation_id: None,
        causation_id: None,
    };
    let recorded = record::record(&store, facts, &metadata, skip_invalid, progress).await?;
    Ok(Imported { recorded, notes })
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
