//! `opsledger report` and `opsledger replay`: bring the projections up to date (or rebuild
//! them to a point in history) and produce a report as of a position or an instant.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use clap::{Args, Subcommand};
use opsledger_domain::ids::ClientId;
use opsledger_projections::{AsOf, Period, Projections, YearMonth};
use opsledger_store::EventStore;

use crate::ledger::Target;
use crate::project::{self, Start};
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
    fn as_of(&self) -> AsOf {
        match (
            self.as_of_position,
            self.as_of_recorded,
            self.as_of_occurred,
        ) {
            (Some(p), _, _) => AsOf::Position(p),
            (_, Some(t), _) => AsOf::RecordedAt(t),
            (_, _, Some(t)) => AsOf::OccurredAt(t),
            _ => AsOf::Head,
        }
    }

    /// Pending deadlines are judged at the as-of instant when one is given, so a report "as of
    /// 3 October" does not call a deadline of 4 October missed.
    fn evaluated_at(&self) -> DateTime<Utc> {
        self.evaluated_at
            .or(self.as_of_recorded)
            .or(self.as_of_occurred)
            .unwrap_or_else(Utc::now)
    }

    fn client_id(&self) -> anyhow::Result<ClientId> {
        ClientId::new(&self.client).with_context(|| format!("--client {:?}", self.client))
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

fn utc_month(month: YearMonth) -> anyhow::Result<Period> {
    let start = |d: NaiveDate| -> anyhow::Result<DateTime<Utc>> {
        Ok(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).context("midnight exists")?))
    };
    Ok(Period {
        from: start(month.first_day())?,
        to: start(month.next().first_day())?,
    })
}

/// Opens the ledger and brings the read model's rows up to its head (when this role may write
/// them; otherwise reports fold the log past the stored checkpoint themselves).
pub async fn up_to_date(target: &Target) -> anyhow::Result<Arc<dyn EventStore>> {
    let store = target.open().await?;
    project::catch_up(&store, Start::Checkpoint).await?;
    Ok(store)
}

/// One client's view for a report basis: as of a position, only the rows and events up to it
/// are read at all.
pub async fn view_for(
    store: &Arc<dyn EventStore>,
    client: &ClientId,
    as_of: AsOf,
) -> anyhow::Result<Projections> {
    let before = match as_of {
        AsOf::Position(p) => Some(p.checked_add(1).with_context(|| {
            format!("--as-of-position {p} is past the last representable position")
        })?),
        _ => None,
    };
    let view = project::client_view(store, client, before).await?;
    if let AsOf::Position(p) = as_of {
        anyhow::ensure!(
            p < view.checkpoint(),
            "--as-of-position {p} is past the head of the log (last position {})",
            view.checkpoint().saturating_sub(1)
        );
    }
    Ok(view)
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
    let store = up_to_date(target).await?;
    let common = match &args.kind {
        ReportKind::Sla { common, .. }
        | ReportKind::Obligations { common, .. }
        | ReportKind::Retention { common, .. }
        | ReportKind::Billing { common } => common,
    };
    let client = common.client_id()?;
    let as_of = common.as_of();
    let projections = view_for(&store, &client, as_of).await?;
    let evaluated_at = common.evaluated_at();
    let mut out = output(common.out.as_ref())?;
    match &args.kind {
        ReportKind::Sla { month, .. } => {
            let report = projections.sla_report(&client, *month, as_of, evaluated_at)?;
            if common.format == Format::Html {
                let obligations =
                    projections.obligation_report(&client, report.period, as_of, evaluated_at)?;
                crate::html::write_sla_with_model(
                    projections.model(),
                    &report,
                    &obligations,
                    &mut out,
                )?;
            } else {
                render::write(&report, common.format, &mut out)?;
            }
        }
        ReportKind::Obligations { month, .. } => {
            let period = projections
                .sla_report(&client, *month, as_of, evaluated_at)?
                .period;
            let report = projections.obligation_report(&client, period, as_of, evaluated_at)?;
            render::write(&report, common.format, &mut out)?;
        }
        ReportKind::Retention { month, .. } => {
            let report =
                projections.retention_report(&client, as_of, evaluated_at, utc_month(*month)?)?;
            render::write(&report, common.format, &mut out)?;
        }
        ReportKind::Billing { .. } => {
            let report = projections.billing_report(&client, as_of, evaluated_at)?;
            render::write(&report, common.format, &mut out)?;
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

/// `opsledger replay`: deletes the read model's rows and derives them again from position 0,
/// whatever the stored checkpoint says (so an edited row is always replaced). With
/// `--as-of-position` it folds the log up to there in memory and saves nothing.
pub async fn replay(target: &Target, args: ReplayArgs) -> anyhow::Result<()> {
    let store = target.open().await?;
    let started = std::time::Instant::now();
    if let Some(p) = args.as_of_position {
        let before = p.checked_add(1).with_context(|| {
            format!("--as-of-position {p} is past the last representable position")
        })?;
        let head = project::head_next(&store).await?;
        anyhow::ensure!(
            p < head,
            "--as-of-position {p} is past the head of the log (last position {})",
            head.saturating_sub(1)
        );
        let view = project::log_view(&store, before).await?;
        println!(
            "folded positions 0..={p} in {:.2} s; checkpoint {} (not saved: a view of history)",
            started.elapsed().as_secs_f64(),
            view.checkpoint()
        );
        return Ok(());
    }
    let done = project::catch_up(&store, Start::Rebuild).await?;
    println!(
        "rebuilt the read model from position 0: {} positions derived in {:.2} s; checkpoint {} (saved)",
        done.applied,
        started.elapsed().as_secs_f64(),
        done.next_position
    );
    Ok(())
}
