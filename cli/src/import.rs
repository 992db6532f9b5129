//! `opsledger import`: real call-center records into the ledger. Files are read here; the
//! pure parsers in `opsledger_domain::import` translate them into call events with
//! deterministic ids; every event is decided against the ledger's state (so a call for an
//! unknown client is refused, naming the rule) and appended in atomic batches.
//!
//! Importing the same file twice adds nothing (the ids are already recorded); an import
//! killed half-way is finished by running it again. A malformed line stops the import before
//! anything is appended, naming file, line and field; `--skip-invalid` records the rest and
//! lists what was skipped.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use opsledger_domain::command::Command;
use opsledger_domain::events::DomainEvent;
use opsledger_domain::ids::ClientId;
use opsledger_domain::import::queue_log::{ImportedEvent, MalformedLines};
use opsledger_domain::import::{cdr_csv, csv_mapping, queue_log};
use opsledger_store::Metadata;

use crate::commands::InputError;
use crate::ledger::Target;
use crate::record::{self, Fact};

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    format: ImportFormat,
}

/// What every import takes.
#[derive(Debug, Args)]
pub struct ImportCommon {
    /// The client the calls belong to (it must be onboarded in the ledger).
    #[arg(long)]
    client: String,
    /// Skip malformed lines and refused facts, report them, and import the rest.
    #[arg(long)]
    skip_invalid: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImportFormat {
    /// NDJSON of opsledger event envelopes (what `opsledger append` takes), in one atomic batch;
    /// envelopes already recorded are idempotent replays.
    Ndjson(crate::commands::AppendArgs),
    /// Asterisk queue_log files; rotated files (`queue_log-YYYYMMDD`) are read oldest first.
    QueueLog {
        #[command(flatten)]
        common: ImportCommon,
        files: Vec<PathBuf>,
    },
    /// Asterisk CDR CSV (`Master.csv`). Import queue_log first when you have it: CDRs cannot
    /// tell an abandoned queue call from an answered one, so only their queue entry is used.
    Cdr {
        #[command(flatten)]
        common: ImportCommon,
        /// The PBX's time zone (IANA), in which the CDR's local times are written.
        #[arg(long, default_value = "UTC")]
        zone: chrono_tz::Tz,
        file: PathBuf,
    },
    /// Any CSV export of call records, described by a JSON mapping file (or the built-in
    /// `anonymous-bank` mapping).
    Csv {
        #[command(flatten)]
        common: ImportCommon,
        /// A mapping file, or `anonymous-bank`.
        #[arg(long)]
        mapping: String,
        file: PathBuf,
    },
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
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
fn command_for(event: DomainEvent) -> anyhow::Result<Command> {
    Ok(match event {
        DomainEvent::CallConnected(e) => Command::ConnectCall(e),
        DomainEvent::CallAnswered(e) => Command::AnswerCall(e),
        DomainEvent::CallAbandoned(e) => Command::AbandonCall(e),
        DomainEvent::CallRoutedToVoicemail(e) => Command::RouteToVoicemail(e),
        DomainEvent::CallCompleted(e) => Command::CompleteCall(e),
        other => anyhow::bail!(
            "an importer produced {}, which imports do not record",
            other.event_type()
        ),
    })
}

fn facts(events: Vec<ImportedEvent>) -> anyhow::Result<Vec<Fact>> {
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

pub async fn run(target: &Target, args: ImportArgs) -> anyhow::Result<()> {
    let (common, source_tag, facts, mut notes) = match args.format {
        ImportFormat::Ndjson(append) => return crate::commands::append(target, append).await,
        ImportFormat::QueueLog { common, mut files } => {
            anyhow::ensure!(!files.is_empty(), "name at least one queue_log file");
            rotation_order(&mut files);
            let contents: Vec<(String, Vec<u8>)> = files
                .iter()
                .map(|p| Ok((p.display().to_string(), read(p)?)))
                .collect::<anyhow::Result<_>>()?;
            let sources: Vec<queue_log::QueueLogSource<'_>> = contents
                .iter()
                .map(|(name, bytes)| queue_log::QueueLogSource { name, bytes })
                .collect();
            let options = queue_log::QueueLogOptions {
                client_id: client_id(&common.client)?,
                malformed: malformed(common.skip_invalid),
            };
            let parsed = queue_log::import(&sources, &options)
                .map_err(|e| anyhow::Error::new(input_error(e.to_string())))?;
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
            (common, "asterisk-queue-log", facts(parsed.events)?, notes)
        }
        ImportFormat::Cdr { common, zone, file } => {
            let bytes = read(&file)?;
            let name = file.display().to_string();
            let client = client_id(&common.client)?;
            // Calls the ledger already holds (from queue_log, which knows when an agent picked
            // up) are not re-described by their CDRs, whose times are the PBX's, not the queue's.
            let store = target.open().await?;
            let (state, _) = record::load_state(&store, std::slice::from_ref(&client)).await?;
            let options = cdr_csv::CdrOptions {
                client_id: client,
                server_zone: zone,
                malformed: malformed(common.skip_invalid),
                superseded_calls: state.calls.keys().cloned().collect(),
            };
            let parsed = cdr_csv::import(
                &cdr_csv::CdrSource {
                    name: &name,
                    bytes: &bytes,
                },
                &options,
            )
            .map_err(|e| anyhow::Error::new(input_error(e.to_string())))?;
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
            (common, cdr_csv::SOURCE_TAG, facts(parsed.events)?, notes)
        }
        ImportFormat::Csv {
            common,
            mapping,
            file,
        } => {
            let mapping = if mapping == "anonymous-bank" {
                csv_mapping::anonymous_bank()
            } else {
                let text = std::fs::read_to_string(&mapping)
                    .with_context(|| format!("reading mapping {mapping}"))?;
                csv_mapping::parse_mapping(&text)
                    .map_err(|e| anyhow::Error::new(input_error(format!("{mapping}: {e}"))))?
            };
            let bytes = read(&file)?;
            let name = file.display().to_string();
            let options = csv_mapping::CsvOptions {
                client_id: client_id(&common.client)?,
                malformed: malformed(common.skip_invalid),
            };
            let parsed = csv_mapping::import(
                &csv_mapping::CsvSource {
                    name: &name,
                    bytes: &bytes,
                },
                &mapping,
                &options,
            )
            .map_err(|e| anyhow::Error::new(input_error(e.to_string())))?;
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
            (common, "csv-mapping", facts(parsed.events)?, notes)
        }
    };
    let store = target.open().await?;
    let metadata = Metadata {
        source: Some(source_tag.to_owned()),
        actor: Some("opsledger-import".to_owned()),
        correlation_id: None,
        causation_id: None,
    };
    let progress = indicatif::ProgressBar::new(0);
    progress.set_style(
        indicatif::ProgressStyle::with_template("  importing {bar:40} {pos}/{len} events")
            .expect("a valid template"),
    );
    let done = record::record(&store, facts, &metadata, common.skip_invalid, &progress).await?;
    println!(
        "imported {} events ({} already recorded, {} unchanged, {} refused)",
        done.appended,
        done.already_recorded,
        done.unchanged,
        done.refused.len()
    );
    notes.extend(done.refused.iter().map(|r| format!("refused: {r}")));
    for note in notes {
        println!("  {note}");
    }
    Ok(())
}

fn client_id(raw: &str) -> anyhow::Result<ClientId> {
    ClientId::new(raw).with_context(|| format!("--client {raw:?}"))
}

fn malformed(skip: bool) -> MalformedLines {
    if skip {
        MalformedLines::Skip
    } else {
        MalformedLines::Fail
    }
}

/// Parser errors already name file, line and field; they are refused input.
fn input_error(detail: String) -> InputError {
    InputError {
        file: String::new(),
        line: 0,
        detail,
    }
}
