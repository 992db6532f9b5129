//! `opsledger import`: arguments, and the summary of what `opsledger_app::import` imported
//! (`import ndjson` is `opsledger append`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use opsledger_app::import::{ImportRequest, ImportSource};
use opsledger_app::Target;

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

pub async fn run(target: &Target, args: ImportArgs) -> anyhow::Result<()> {
    let (common, source) = match args.format {
        ImportFormat::Ndjson(append) => return crate::commands::append(target, append).await,
        ImportFormat::QueueLog { common, files } => (common, ImportSource::QueueLog { files }),
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
        source,
    };
    let progress = Bar::new("  importing {bar:40} {pos}/{len} events");
    let imported = opsledger_app::import::import(target, request, &progress).await?;
    let done = &imported.recorded;
    println!(
        "imported {} events ({} already recorded, {} unchanged, {} refused)",
        done.appended,
        done.already_recorded,
        done.unchanged,
        done.refused.len()
    );
    for note in &imported.notes {
        println!("  {note}");
    }
    for refusal in &done.refused {
        println!("  refused: {refusal}");
    }
    Ok(())
}
