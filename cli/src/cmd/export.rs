//! `opsledger export` and `opsledger verify --bundle`: arguments, and what
//! `opsledger_app::export` wrote or found, printed.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use clap::{ArgGroup, Args};
use opsledger_app::export::{BundleCheck, ExportRequest, Exported, NotedHead};
use opsledger_app::store::bundle::BundleReport;
use opsledger_app::{AppError, SystemClock, Target};
use uuid::Uuid;

use crate::progress::Bar;

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("selection")
        .required(true)
        .args(["stream", "client", "correlation"])
))]
pub struct ExportArgs {
    /// Where to write the bundle (JSON). An existing file is refused unless --force is given.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Disclose the events of this stream.
    #[arg(long)]
    stream: Option<String>,
    /// Disclose the events of this client (narrow them with --from and --to).
    #[arg(long)]
    client: Option<String>,
    /// With --client: only events that occurred at or after this instant (RFC 3339).
    #[arg(long, requires = "client")]
    from: Option<DateTime<Utc>>,
    /// With --client: only events that occurred before this instant (RFC 3339).
    #[arg(long, requires = "client")]
    to: Option<DateTime<Utc>>,
    /// Disclose the events with this correlation id.
    #[arg(long)]
    correlation: Option<Uuid>,
    /// Prove the events up to this position (default: the ledger's head).
    #[arg(long, value_name = "POSITION")]
    head: Option<u64>,
    /// Cover the chain from this position if it is before the first disclosed event, e.g. a
    /// head an auditor noted earlier, so that `verify --bundle --noted-head` can check it.
    #[arg(long, value_name = "POSITION")]
    cover_from: Option<u64>,
    /// What the bundle is for, recorded in it (default: a description of the selection).
    #[arg(long, value_name = "TEXT")]
    created_for: Option<String>,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
}

impl From<ExportArgs> for ExportRequest {
    fn from(args: ExportArgs) -> Self {
        ExportRequest {
            out: args.out,
            stream: args.stream,
            client: args.client,
            from: args.from,
            to: args.to,
            correlation: args.correlation,
            head: args.head,
            cover_from: args.cover_from,
            created_for: args.created_for,
            force: args.force,
        }
    }
}

/// `opsledger export`.
pub async fn export(target: &Target, args: ExportArgs) -> anyhow::Result<()> {
    let exported =
        match opsledger_app::export::export(target, args.into(), &SystemClock, &Bar::projecting())
            .await
        {
            Ok(exported) => exported,
            Err(AppError::ChainBroken { position, reason }) => {
                // A broken ledger is the same finding `opsledger verify` reports, with its exit
                // status; the finding goes where verify prints it.
                match position {
                    Some(p) => println!("BROKEN at position {p}: {reason}; no bundle was written"),
                    None => println!("BROKEN: {reason}; no bundle was written"),
                }
                return Err(AppError::ChainBroken { position, reason }.into());
            }
            Err(e) => return Err(e.into()),
        };
    print_exported(&exported);
    Ok(())
}

/// The line that says what an export wrote.
pub fn print_exported(exported: &Exported) {
    println!(
        "wrote {}: positions {}..={}, {} events disclosed, {} withheld by digest; head position {} hash {}",
        exported.out.display(),
        exported.first_position,
        exported.head_position,
        exported.disclosed,
        exported.withheld,
        exported.head_position,
        exported.head_hash
    );
}

/// `opsledger verify --bundle FILE [--noted-head POSITION:HASH]`: verifies the bundle offline.
pub fn verify_bundle(path: &Path, noted: Option<NotedHead>, json: bool) -> anyhow::Result<()> {
    let BundleCheck {
        report,
        noted,
        annotated,
    } = opsledger_app::export::verify_bundle(path, noted)?;
    print_report(&report, annotated, noted, json)?;
    match report {
        BundleReport::Intact { .. } => Ok(()),
        BundleReport::Broken { position, reason } => Err(AppError::ChainBroken {
            position,
            reason: reason.to_string(),
        }
        .into()),
    }
}

fn print_report(
    report: &BundleReport,
    annotated: bool,
    noted: Option<NotedHead>,
    json: bool,
) -> anyhow::Result<()> {
    let BundleReport::Intact {
        disclosed,
        withheld,
        first_position,
        head_position,
        head_hash,
    } = report
    else {
        return print_broken(report, json);
    };
    if json {
        println!("{}", serde_json::to_string(report)?);
        return Ok(());
    }
    println!(
        "intact: positions {first_position}..={head_position}, {disclosed} events disclosed, {withheld} withheld by digest; head position {head_position} hash {head_hash}"
    );
    if let Some(n) = noted {
        println!(
            "extends the noted head: position {} has hash {}",
            n.position, n.hash
        );
    }
    if annotated {
        println!(
            "note: the annotations are sealed against edits, not proven by the chain; recompute them from the disclosed events and the rules"
        );
    }
    Ok(())
}

fn print_broken(report: &BundleReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
        return Ok(());
    }
    match report {
        BundleReport::Broken {
            position: Some(position),
            reason,
        } => println!("BROKEN at position {position}: {reason}"),
        BundleReport::Broken {
            position: None,
            reason,
        } => println!("BROKEN: {reason}"),
        BundleReport::Intact { .. } => unreachable!("only broken reports are printed here"),
    }
    Ok(())
}
