//! `opsledger report` and `opsledger replay`: arguments, and rendering of what
//! `opsledger_app::report` produces.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use opsledger_app::report::{self, Basis};
use opsledger_app::{SystemClock, Target};
use opsledger_projections::YearMonth;

use crate::progress::Bar;
use crate::render::{self, Format};

/// What every report takes.
#[derive(Debug, Args)]
pub struct Common {
    /// The client (tenant) to report on.
    #[arg(long)]
    client: String,
    /// Report on the log up to and including this global position.
    #[arg(long, conflicts_with_all = ["as_of_recorded", "as_of_occurred"])]
    as_of_position: Option<u64>,
    /// Report on what the ledger had recorded by this instant (RFC 3339): "what did we know then?".
    #[arg(long, conflicts_with = "as_of_occurred")]
    as_of_recorded: Option<DateTime<Utc>>,
    /// Report on the facts that had occurred by this instant (RFC 3339), as known now.
    #[arg(long)]
    as_of_occurred: Option<DateTime<Utc>>,
    /// The instant pending deadlines are judged at (default: now, or the as-of instant).
    #[arg(long)]
    evaluated_at: Option<DateTime<Utc>>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Write to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

impl Common {
    fn basis(&self) -> Basis {
        Basis {
            as_of_position: self.as_of_position,
            as_of_recorded: self.as_of_recorded,
            as_of_occurred: self.as_of_occurred,
            evaluated_at: self.evaluated_at,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ReportKind {
    /// Service levels of one client-local month: answer times (R-ANS-1/2), escalations, QA,
    /// documentation, communication, coverage and report deliveries.
    Sla {
        #[command(flatten)]
        common: Common,
        /// The month, YYYY-MM (client-local).
        #[arg(long)]
        month: YearMonth,
    },
    /// Every obligation opened in a month with its verdict and the events behind it.
    Obligations {
        #[command(flatten)]
        common: Common,
        /// The month, YYYY-MM (client-local).
        #[arg(long)]
        month: YearMonth,
    },
    /// Retention windows (R-RET-*) of the client's records and the deletions due in a month.
    Retention {
        #[command(flatten)]
        common: Common,
        /// The month whose due deletions to list, YYYY-MM (UTC).
        #[arg(long)]
        month: YearMonth,
    },
    /// Billing state (R-BIL-*, R-TRM-2): invoices, payments, balance, status, liability cap.
    Billing {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    kind: ReportKind,
}

fn output(path: Option<&PathBuf>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

pub async fn run(target: &Target, args: ReportArgs) -> anyhow::Result<()> {
    let (_store, projections) = report::up_to_date(target, &Bar::projecting()).await?;
    let common = match &args.kind {
        ReportKind::Sla { common, .. }
        | ReportKind::Obligations { common, .. }
        | ReportKind::Retention { common, .. }
        | ReportKind::Billing { common } => common,
    };
    let client = report::client_id(&common.client)?;
    let basis = common.basis();
    let clock = SystemClock;
    let mut out = output(common.out.as_ref())?;
    match &args.kind {
        ReportKind::Sla { month, .. } => {
            let sla = report::sla(&projections, &client, *month, &basis, &clock)?;
            if common.format == Format::Html {
                let obligations =
                    report::obligations(&projections, &client, sla.period, &basis, &clock)?;
                crate::html::write_sla_with_model(
                    projections.model(),
                    &sla,
                    &obligations,
                    &mut out,
                )?;
            } else {
                render::write(&sla, common.format, &mut out)?;
            }
        }
        ReportKind::Obligations { month, .. } => {
            let obligations =
                report::obligations_in_month(&projections, &client, *month, &basis, &clock)?;
            render::write(&obligations, common.format, &mut out)?;
        }
        ReportKind::Retention { month, .. } => {
            let retention = report::retention(&projections, &client, *month, &basis, &clock)?;
            render::write(&retention, common.format, &mut out)?;
        }
        ReportKind::Billing { .. } => {
            let billing = report::billing(&projections, &client, &basis, &clock)?;
            render::write(&billing, common.format, &mut out)?;
        }
    }
    out.flush()?;
    Ok(())
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Rebuild up to and including this global position, without saving: a view of history.
    #[arg(long)]
    as_of_position: Option<u64>,
}

/// `opsledger replay`: rebuilds the projections from position 0. With `--as-of-position` it
/// stops there and saves nothing; without, it replaces the saved snapshot.
pub async fn replay(target: &Target, args: ReplayArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let replayed = report::replay(target, args.as_of_position, &Bar::projecting()).await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "rebuilt projections from position 0: {} events applied in {secs:.2} s; checkpoint {}{}",
        replayed.applied,
        replayed.checkpoint,
        if replayed.saved {
            " (saved)"
        } else {
            " (not saved: a view of history)"
        }
    );
    Ok(())
}
