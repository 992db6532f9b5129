//! `opsledger import`: arguments, and the summary of what `opsledger_app::import` imported:
//! a text table of what became of every row read, or one JSON object with `--format json`
//! (`import ndjson` is `opsledger append`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use opsledger_app::import::{ImportRequest, ImportSource, Imported};
use opsledger_app::Target;
use opsledger_domain::import::accounting::Disposition;
use serde::Serialize;

use crate::progress::Bar;

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
        /// The queue_log files to read (current and rotated, in any order).
        #[arg(value_name = "FILE")]
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
        /// The CDR CSV file (Asterisk's `Master.csv`).
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
        /// The CSV (or TSV) export of call records the mapping describes.
        file: PathBuf,
    },
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

impl ImportSummary {
    fn of(imported: &Imported) -> Self {
        let done = &imported.recorded;
        ImportSummary {
            rows_read: imported.accounting.rows_read(),
            dispositions: imported
                .accounting
                .counts()
                .into_iter()
                .map(|(d, n)| (d.name(), n))
                .collect(),
            calls: imported.calls,
            unresolved_calls: imported.unresolved_calls,
            events: imported.events,
            ledger: LedgerSummary {
                appended: done.appended,
                already_recorded: done.already_recorded,
                unchanged: done.unchanged,
                refused: done.refused.iter().map(ToString::to_string).collect(),
            },
            notes: imported.notes.clone(),
        }
    }
}

pub async fn run(target: &Target, args: ImportArgs) -> anyhow::Result<()> {
    let (common, source) = match args.format {
        ImportFormat::Ndjson(append) => return crate::commands::append(target, append).await,
        ImportFormat::QueueLog {
            common,
            zone,
            layout,
            files,
        } => (
            common,
            ImportSource::QueueLog {
                zone,
                layout,
                files,
            },
        ),
        ImportFormat::Cdr { common, zone, file } => (common, ImportSource::Cdr { zone, file }),
        ImportFormat::Csv {
            common,
            mapping,
            file,
        } => (common, ImportSource::Csv { mapping, file }),
    };
    let request = ImportRequest {
        client: common.client,
        skip_invalid: common.skip_invalid,
        report_file: common.report_file,
        source,
    };
    let progress = Bar::new("  importing {bar:40} {pos}/{len} events");
    let imported = opsledger_app::import::import(target, request, &progress).await?;
    let summary = ImportSummary::of(&imported);
    match common.format {
        SummaryFormat::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        SummaryFormat::Text => print_summary(&summary, &imported),
    }
    Ok(())
}

fn print_summary(summary: &ImportSummary, imported: &Imported) {
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
    let counts = imported.accounting.counts();
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
