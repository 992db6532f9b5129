//! `opsledger import`: real call-center records into the ledger. Files are read here; the
//! pure parsers in `opsledger_domain::import` translate them into call events with
//! deterministic ids; every event is decided against the ledger's state (so a call for an
//! unknown client is refused, naming the rule) and appended in atomic batches.
//!
//! Importing the same file twice adds nothing (the ids are already recorded); an import
//! killed half-way is finished by running it again. A malformed line stops the import before
//! anything is appended, naming file, line and field; `--skip-invalid` records the rest and
//! lists what was skipped.
//!
//! Every import prints what became of every row read (the importers' dispositions, which add
//! up to the rows read), or returns it as JSON with `--format json`; `--report-file` writes
//! the per-row list, one `file:line` per row (see `docs/imports.md`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use opsledger_domain::command::Command;
use opsledger_domain::events::DomainEvent;
use opsledger_domain::ids::ClientId;
use opsledger_domain::import::accounting::{Accounting, Disposition};
use opsledger_domain::import::queue_log::{ImportedEvent, MalformedLines};
use opsledger_domain::import::{cdr_csv, csv_mapping, queue_log};
use opsledger_domain::state::LedgerState;
use opsledger_store::Metadata;
use serde::Serialize;

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
    /// Skip malformed lines, conflicting repeats and refused facts, report them, and import
    /// the rest.
    #[arg(long)]
    skip_invalid: bool,
    /// How to print the summary: a text table, or one JSON object.
    #[arg(long, value_enum, default_value = "text")]
    format: SummaryFormat,
    /// Write what became of every row, one `file:line<TAB>disposition<TAB>detail` line per
    /// row read, to this file.
    #[arg(long)]
    report_file: Option<PathBuf>,
}

/// How an import prints its summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SummaryFormat {
    /// Text, with a disposition table.
    Text,
    /// One JSON object.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ImportFormat {
    /// NDJSON of opsledger event envelopes (what `opsledger append` takes), in one atomic batch;
    /// envelopes already recorded are idempotent replays.
    Ndjson(crate::commands::AppendArgs),
    /// Asterisk queue_log files; rotated files (`queue_log-YYYYMMDD`) are read oldest first.
    /// A file may also be a CSV or TSV dump of the realtime `queue_log` table (a header naming
    /// `time, callid, queuename, agent, event, data1..data5`).
    QueueLog {
        #[command(flatten)]
        common: ImportCommon,
        /// The zone (IANA) of a realtime dump's `time` when it is timestamp text rather than
        /// epoch seconds.
        #[arg(long, default_value = "UTC")]
        zone: chrono_tz::Tz,
        /// The column layout of a vendor's dump whose parameters sit in columns of their own:
        /// `pbxware`, or a JSON layout file (see docs/imports.md).
        #[arg(long)]
        layout: Option<String>,
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

/// What the ledger did with an import's events.
#[derive(Debug, Serialize)]
struct LedgerSummary {
    appended: u64,
    already_recorded: u64,
    unchanged: u64,
    refused: Vec<String>,
}

/// The summary of one import, as `--format json` prints it.
#[derive(Debug, Serialize)]
struct ImportSummary {
    /// Rows (lines or records) read, blank lines and the header excluded.
    rows_read: u64,
    /// Rows per disposition; the counts add up to `rows_read`.
    dispositions: BTreeMap<&'static str, u64>,
    /// Distinct calls among the imported events.
    calls: u64,
    /// Calls without an outcome when the input ended (offered, unresolved).
    unresolved_calls: u64,
    /// Events the importer produced.
    events: u64,
    ledger: LedgerSummary,
    notes: Vec<String>,
}

/// What one importer produced, ready to record and summarise.
struct Parsed {
    common: ImportCommon,
    source_tag: &'static str,
    events: Vec<ImportedEvent>,
    accounting: Accounting,
    unresolved_calls: u64,
    notes: Vec<String>,
}

/// Writes the per-row list: `file:line`, disposition and detail, tab-separated.
fn write_report_file(path: &Path, accounting: &Accounting) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "place\tdisposition\tdetail")?;
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
        )?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

pub async fn run(target: &Target, args: ImportArgs) -> anyhow::Result<()> {
    let parsed = match args.format {
        ImportFormat::Ndjson(append) => return crate::commands::append(target, append).await,
        other => parse(target, other).await?,
    };
    let Parsed {
        common,
        source_tag,
        events,
        mut accounting,
        unresolved_calls,
        mut notes,
    } = parsed;
    let store = target.open().await?;
    let events = against_ledger(&store, events, &mut accounting, common.skip_invalid).await?;
    let calls = u64::try_from(cdr_csv::call_ids_of(&events).len()).unwrap_or(u64::MAX);
    let event_count = u64::try_from(events.len()).unwrap_or(u64::MAX);
    let facts = facts(events)?;
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
    mark_refused(&mut accounting, &done.refused);
    if let Some(path) = &common.report_file {
        write_report_file(path, &accounting)?;
    }
    if unresolved_calls > 0 {
        notes.push(format!(
            "{unresolved_calls} calls had no outcome when the input ended: they are recorded as offered and unresolved, and the SLA report's service level still counts them as offered (docs/imports.md)"
        ));
    }
    let summary = ImportSummary {
        rows_read: accounting.rows_read(),
        dispositions: accounting
            .counts()
            .into_iter()
            .map(|(d, n)| (d.name(), n))
            .collect(),
        calls,
        unresolved_calls,
        events: event_count,
        ledger: LedgerSummary {
            appended: done.appended,
            already_recorded: done.already_recorded,
            unchanged: done.unchanged,
            refused: done.refused,
        },
        notes,
    };
    match common.format {
        SummaryFormat::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        SummaryFormat::Text => print_summary(&summary, &accounting),
    }
    Ok(())
}

/// Marks the rows whose facts the ledger refused (with `--skip-invalid`), so that the table and
/// the per-row list show them. Refusals name their row as `file:line: refused: why`.
fn mark_refused(accounting: &mut Accounting, refused: &[String]) {
    let mut by_place: BTreeMap<&str, &str> = BTreeMap::new();
    for r in refused {
        if let Some((place, why)) = r.split_once(": refused: ") {
            by_place.entry(place).or_insert(why);
        }
    }
    if by_place.is_empty() {
        return;
    }
    for row in &mut accounting.rows {
        let place = format!("{}:{}", row.source.file, row.source.line);
        if let Some(why) = by_place.get(place.as_str()) {
            row.disposition = Disposition::RefusedByLedger;
            row.detail = format!("refused: {why}");
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
    store: &std::sync::Arc<dyn opsledger_store::EventStore>,
    events: Vec<ImportedEvent>,
    accounting: &mut Accounting,
    skip: bool,
) -> anyhow::Result<Vec<ImportedEvent>> {
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
                return Err(anyhow::Error::new(InputError {
                    file: event.source.file.clone(),
                    line: usize::try_from(event.source.line).unwrap_or(usize::MAX),
                    detail: format!("conflicts with the ledger: {detail}"),
                }));
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

fn print_summary(summary: &ImportSummary, accounting: &Accounting) {
    let ledger = &summary.ledger;
    println!(
        "imported {} events ({} already recorded, {} unchanged, {} refused)",
        ledger.appended,
        ledger.already_recorded,
        ledger.unchanged,
        ledger.refused.len()
    );
    println!(
        "  {} rows read: {} calls, {} events",
        summary.rows_read, summary.calls, summary.events
    );
    let counts = accounting.counts();
    for disposition in Disposition::ALL {
        let count = counts.get(&disposition).copied().unwrap_or(0);
        println!("    {:<32} {count:>8}", disposition.name());
    }
    for note in &summary.notes {
        println!("  {note}");
    }
    for refused in &ledger.refused {
        println!("  refused: {refused}");
    }
}

/// Reads the files of one import and runs its importer.
async fn parse(target: &Target, format: ImportFormat) -> anyhow::Result<Parsed> {
    Ok(match format {
        ImportFormat::Ndjson(_) => anyhow::bail!("NDJSON envelopes are appended, not parsed"),
        ImportFormat::QueueLog {
            common,
            zone,
            layout,
            mut files,
        } => {
            let layout = match layout.as_deref() {
                None => None,
                Some("pbxware") => Some(queue_log::pbxware_layout()),
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading layout {path}"))?;
                    Some(
                        queue_log::parse_dump_layout(&text)
                            .map_err(|e| anyhow::Error::new(input_error(format!("{path}: {e}"))))?,
                    )
                }
            };
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
            let dump = queue_log::DumpOptions { zone, layout };
            let parsed = queue_log::import_with(&sources, &options, &dump)
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
            Parsed {
                common,
                source_tag: "asterisk-queue-log",
                events: parsed.events,
                accounting: parsed.accounting,
                unresolved_calls: u64::try_from(parsed.incomplete_calls.len()).unwrap_or(u64::MAX),
                notes,
            }
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
            Parsed {
                common,
                source_tag: cdr_csv::SOURCE_TAG,
                events: parsed.events,
                accounting: parsed.accounting,
                unresolved_calls: 0,
                notes,
            }
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
            Parsed {
                common,
                source_tag: "csv-mapping",
                events: parsed.events,
                accounting: parsed.accounting,
                unresolved_calls: 0,
                notes,
            }
        }
    })
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
