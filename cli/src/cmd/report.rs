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
use crate::tables;

/// What every report takes.
#[derive(Debug, Args)]
pub struct Common {
    /// The client (tenant) to report on (`opsledger clients` lists them).
    #[arg(long, required_unless_present = "all_clients")]
    client: Option<String>,
    /// One report per client in the ledger, in onboarding order (for jobs): JSON prints
    /// `{"reports": [...]}`, a table prints each client's under its id.
    #[arg(long, conflicts_with = "client")]
    all_clients: bool,
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
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// CSV: write each section of the report (`report.csv` for its figures, then one file per
    /// list, e.g. `obligations.csv`, `obligations.evidence.csv`) into this directory; with
    /// --all-clients, one subdirectory per client.
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    out_dir: Option<PathBuf>,
    /// CSV: print this one section (e.g. `obligations`) on standard output; a report of several
    /// sections is otherwise refused, as one CSV document cannot hold them losslessly.
    #[arg(long, value_name = "NAME", conflicts_with = "out_dir")]
    section: Option<String>,
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
        /// Table only: the figures of this queue alone.
        #[arg(long)]
        queue: Option<String>,
    },
    /// Every obligation opened in a month with its verdict and the events behind it. The table
    /// gives the per-rule summary, then the obligations not met as a list; JSON and CSV give
    /// every obligation.
    Obligations {
        #[command(flatten)]
        common: Common,
        /// The month, YYYY-MM (client-local).
        #[arg(long)]
        month: YearMonth,
        /// Table only: list this rule's obligations (e.g. R-ESC-1).
        #[arg(long)]
        rule: Option<String>,
        /// Table only: list the obligations with this verdict (default: those not met).
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(VERDICTS))]
        verdict: Option<String>,
        /// Table only: list the obligations of calls in this queue.
        #[arg(long)]
        queue: Option<String>,
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

/// The verdicts `--verdict` takes, as the JSON names them.
const VERDICTS: [&str; 8] = [
    "met",
    "missed",
    "excused",
    "pending",
    "not_applicable",
    "unconfigured",
    "not_computable",
    "chain_exhausted",
];

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
        ReportKind::Sla { common, month, .. } => (common, "sla", Some(*month)),
        ReportKind::Obligations { common, month, .. } => (common, "obligations", Some(*month)),
        ReportKind::Retention { common, month } => (common, "retention", Some(*month)),
        ReportKind::Billing { common } => (common, "billing", None),
    };
    let filter = match &args.kind {
        ReportKind::Obligations {
            rule,
            verdict,
            queue,
            ..
        } => tables::ObligationFilter {
            rule: rule.clone(),
            verdict: verdict.clone(),
            queue: queue.clone(),
        },
        ReportKind::Sla { queue, .. } => tables::ObligationFilter {
            queue: queue.clone(),
            ..tables::ObligationFilter::default()
        },
        _ => tables::ObligationFilter::default(),
    };
    let filtered = filter.rule.is_some() || filter.verdict.is_some() || filter.queue.is_some();
    if filtered && common.format != Format::Table {
        // JSON and CSV are the full model (and `verify --report` recomputes JSON reports), so
        // a filtered one would be a different document under the same name.
        return Err(crate::Usage(
            "--rule, --verdict and --queue select what a table shows; JSON and CSV give the \
             whole report (filter those with a JSON or CSV tool)"
                .to_owned(),
        )
        .into());
    }
    let clients = match &common.client {
        Some(raw) => vec![report::client_id(raw)?],
        None => opsledger_app::project::clients(&store).await?,
    };
    if (common.out_dir.is_some() || common.section.is_some()) && common.format != Format::Csv {
        return Err(crate::Usage("--out-dir and --section are for --format csv".to_owned()).into());
    }
    // Several CSV documents or HTML pages run together in one stream cannot be read back.
    if common.all_clients && common.format == Format::Csv && common.out_dir.is_none() {
        return Err(crate::Usage(
            "--all-clients --format csv writes one directory per client: give --out-dir DIR"
                .to_owned(),
        )
        .into());
    }
    if common.all_clients && common.format == Format::Html {
        return Err(crate::Usage(
            "--all-clients prints JSON, tables or CSV files; ask HTML one --client at a time"
                .to_owned(),
        )
        .into());
    }
    let basis = common.basis();
    let clock = SystemClock;
    let mut out = output(common.out.as_ref())?;
    let mut reports = Vec::new();
    for client in &clients {
        // Reads only what the report's period needs (the HTML page shows the SLA report and
        // the obligations of its month: the same period).
        let projections =
            report::view_for_report(&store, client, basis.as_of(), kind, month).await?;
        let request = report::ReportRequest {
            report: kind.to_owned(),
            client: client.as_str().to_owned(),
            month,
            as_of: basis.as_of(),
            evaluated_at: basis.evaluated_at(&clock),
        };
        let provenance = report::provenance(&store, &projections, request.clone()).await?;
        if common.format == Format::Html {
            let (as_of, at) = (request.as_of, request.evaluated_at);
            match &args.kind {
                ReportKind::Sla { month, .. } => {
                    // One evaluation instant for both reports, so the page agrees with itself.
                    let sla = projections.sla_report(client, *month, as_of, at)?;
                    let obligations =
                        projections.obligation_report(client, sla.period, as_of, at)?;
                    let profile = projections.client_profile(client, as_of, sla.period.from)?;
                    out.write_all(
                        opsledger_views::sla_page(&sla, &obligations, &profile, &provenance)
                            .as_bytes(),
                    )?;
                }
                ReportKind::Obligations { month, .. } => {
                    let period = projections.month_period(client, *month, as_of)?;
                    let obligations = projections.obligation_report(client, period, as_of, at)?;
                    let profile = projections.client_profile(client, as_of, period.from)?;
                    out.write_all(
                        opsledger_views::obligations_page(&obligations, &profile, &provenance)
                            .as_bytes(),
                    )?;
                }
                ReportKind::Billing { .. } => {
                    let billing = projections.billing_report(client, as_of, at)?;
                    let profile =
                        projections.client_profile(client, as_of, billing.evaluated_at)?;
                    out.write_all(
                        opsledger_views::billing_page(&billing, &profile, &provenance).as_bytes(),
                    )?;
                }
                ReportKind::Retention { .. } => {
                    unreachable!("--format html for retention is refused on entry")
                }
            }
            continue;
        }
        let format = common.format;
        let computed = report::compute_report(&projections, &request)?;
        if format == Format::Json && !common.all_clients {
            // Written as it is serialized: a month's obligations held as one JSON value cost
            // most of the command's time and memory.
            report::write_pretty(computed, &provenance, &mut out)?;
            continue;
        }
        let value = report::with_provenance(computed.to_value()?, &provenance)?;
        if common.all_clients && format == Format::Json {
            reports.push(value);
            continue;
        }
        if common.all_clients {
            writeln!(out, "== {client}")?;
        }
        match (&args.kind, format) {
            (ReportKind::Sla { .. }, Format::Table) => {
                let ctx = context(&projections, client, request.evaluated_at)?;
                tables::sla(&value, &ctx, filter.queue.as_deref(), &mut out)?;
            }
            (ReportKind::Obligations { .. }, Format::Table) => {
                let ctx = context(&projections, client, request.evaluated_at)?;
                let model = projections.model();
                let queue_of = |call: &str| {
                    let id = opsledger_domain::ids::CallId::new(call).ok()?;
                    let slot = model.calls.by_key(&id)?.queue?;
                    model.queues.get(usize::try_from(slot).ok()?).cloned()
                };
                tables::obligations(&value, &ctx, &filter, &queue_of, &mut out)?;
            }
            (ReportKind::Billing { .. }, Format::Table) => {
                let ctx = context(&projections, client, request.evaluated_at)?;
                tables::billing::write(&value, &ctx, &mut out)?;
            }
            (ReportKind::Retention { month, .. }, Format::Table) => {
                let ctx = context(&projections, client, request.evaluated_at)?;
                tables::retention::write(&value, &ctx, &month.to_string(), &mut out)?;
            }
            (_, Format::Csv) => {
                let dir = common.out_dir.as_ref().map(|d| {
                    if common.all_clients {
                        d.join(client.as_str())
                    } else {
                        d.clone()
                    }
                });
                csv_sections(&value, dir.as_deref(), common.section.as_deref(), &mut out)?;
            }
            _ => render::write(&value, format, &mut out)?,
        }
    }
    if common.all_clients && common.format == Format::Json {
        serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "reports": reports }))?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(())
}

/// A report as tidy CSV: every section as its own file in `dir`, or the one section asked
/// for (or the only one there is) on `out`; several sections without a choice are refused.
pub(crate) fn csv_sections(
    report: &serde_json::Value,
    dir: Option<&std::path::Path>,
    section: Option<&str>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let found = render::sections(report);
    let names = || {
        found
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for s in &found {
            let path = dir.join(format!("{}.csv", s.name));
            let mut file = std::io::BufWriter::new(
                std::fs::File::create(&path)
                    .with_context(|| format!("creating {}", path.display()))?,
            );
            render::write_csv(s, &mut file)?;
            file.flush()?;
        }
        writeln!(
            out,
            "wrote {} to {}: {}",
            render::count(
                u64::try_from(found.len()).unwrap_or(u64::MAX),
                "section",
                "sections"
            ),
            dir.display(),
            names()
        )?;
        return Ok(());
    }
    let chosen = match section {
        Some(name) => found.iter().find(|s| s.name == name).ok_or_else(|| {
            crate::Usage(format!(
                "the output has no section {name:?}; its sections: {}",
                names()
            ))
        })?,
        None if found.len() == 1 => &found[0],
        None => {
            return Err(crate::Usage(format!(
                "the output has {} sections ({}); one CSV document cannot hold them: choose one \
                 with --section NAME, or write them all with --out-dir DIR",
                found.len(),
                names()
            ))
            .into())
        }
    };
    render::write_csv(chosen, out)
}

/// Who a client is for its tables: its name and zone from the agreement in force at `at`.
fn context(
    projections: &opsledger_projections::Projections,
    client: &opsledger_domain::ids::ClientId,
    at: DateTime<Utc>,
) -> anyhow::Result<tables::ClientContext> {
    let model = projections.model();
    let record = model
        .client_slot(client)
        .map(|slot| model.client(slot))
        .with_context(|| format!("client {client} is not onboarded in this view"))?;
    let agreement = record.agreement_or_first(at);
    Ok(tables::ClientContext {
        client_id: client.as_str().to_owned(),
        name: agreement.client_name.clone(),
        zone: agreement.calendar.time_zone,
    })
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
