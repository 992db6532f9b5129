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
    // Refused before the ledger is read or a file is written: a usage error, not a failure.
    if let ReportKind::Retention { common, .. } = &args.kind {
        if common.format == Format::Html {
            return Err(crate::html::NoHtmlView {
                command: "report retention",
            }
            .into());
        }
    }
    let store = report::up_to_date(target, &Bar::projecting()).await?;
    let (common, kind, month) = match &args.kind {
        ReportKind::Sla { common, month } => (common, "sla", Some(*month)),
        ReportKind::Obligations { common, month } => (common, "obligations", Some(*month)),
        ReportKind::Retention { common, month } => (common, "retention", Some(*month)),
        ReportKind::Billing { common } => (common, "billing", None),
    };
    let client = report::client_id(&common.client)?;
    let basis = common.basis();
    let clock = SystemClock;
    let projections = report::view_for(&store, &client, basis.as_of()).await?;
    let request = report::ReportRequest {
        report: kind.to_owned(),
        client: client.as_str().to_owned(),
        month,
        as_of: basis.as_of(),
        evaluated_at: basis.evaluated_at(&clock),
    };
    if common.format == Format::Html {
        let provenance = report::provenance(&store, &projections, request.clone()).await?;
        let (as_of, at) = (request.as_of, request.evaluated_at);
        let mut out = output(common.out.as_ref())?;
        match &args.kind {
            ReportKind::Sla { month, .. } => {
                // One evaluation instant for both reports, so the page agrees with itself.
                let sla = projections.sla_report(&client, *month, as_of, at)?;
                let obligations = projections.obligation_report(&client, sla.period, as_of, at)?;
                let profile = projections.client_profile(&client, as_of, sla.period.from)?;
                crate::html::write_sla(&sla, &obligations, &profile, &provenance, &mut out)?;
            }
            ReportKind::Obligations { month, .. } => {
                let period = projections.month_period(&client, *month, as_of)?;
                let obligations = projections.obligation_report(&client, period, as_of, at)?;
                let profile = projections.client_profile(&client, as_of, period.from)?;
                crate::html::write_obligations(&obligations, &profile, &provenance, &mut out)?;
            }
            ReportKind::Billing { .. } => {
                let billing = projections.billing_report(&client, as_of, at)?;
                let profile = projections.client_profile(&client, as_of, billing.evaluated_at)?;
                crate::html::write_billing(&billing, &profile, &provenance, &mut out)?;
            }
            ReportKind::Retention { .. } => {
                unreachable!("--format html for retention is refused on entry")
            }
        }
        out.flush()?;
        return Ok(());
    }
    let mut out = output(common.out.as_ref())?;
    let provenance = report::provenance(&store, &projections, request.clone()).await?;
    let value = report::with_provenance(report::compute(&projections, &request)?, &provenance)?;
    render::write(&value, common.format, &mut out)?;
    out.flush()?;
    Ok(())
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Rebuild up to and including this global position, without saving: a view of history.
    #[arg(long)]
    as_of_position: Option<u64>,
}

/// `opsledger replay`: deletes the read model's rows and derives them again from position 0.
/// With `--as-of-position` it folds the log to there in memory and saves nothing.
pub async fn replay(target: &Target, args: ReplayArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let replayed = report::replay(target, args.as_of_position, &Bar::projecting()).await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "rebuilt the read model from position 0: {} positions derived in {secs:.2} s; checkpoint {}{}",
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
