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
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// What a report was asked for: enough to compute it again from the log (`verify --report`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRequest {
    /// `sla`, `obligations`, `retention` or `billing`.
    pub report: String,
    /// The client.
    pub client: String,
    /// The month, for the monthly reports and the retention report's due deletions.
    pub month: Option<YearMonth>,
    /// The basis.
    pub as_of: AsOf,
    /// The instant pending deadlines were judged at.
    pub evaluated_at: DateTime<Utc>,
}

/// What a report reflects: the request and the log position and hash it was computed up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The request.
    pub request: ReportRequest,
    /// The last log position the report reflects (`None` for an empty ledger).
    pub position: Option<u64>,
    /// The hash of the event at that position: with `opsledger head` noted by an auditor, it
    /// ties the report to one state of the chain.
    pub head_hash: Option<String>,
}

/// The report a request asks for, computed from a client's view, as JSON.
pub fn compute(view: &Projections, request: &ReportRequest) -> anyhow::Result<Value> {
    let client =
        ClientId::new(&request.client).with_context(|| format!("client {:?}", request.client))?;
    let (as_of, evaluated_at) = (request.as_of, request.evaluated_at);
    let month = || {
        request
            .month
            .with_context(|| format!("the {} report needs a month", request.report))
    };
    Ok(match request.report.as_str() {
        "sla" => serde_json::to_value(view.sla_report(&client, month()?, as_of, evaluated_at)?)?,
        "obligations" => {
            let period = view.month_period(&client, month()?, as_of)?;
            serde_json::to_value(view.obligation_report(&client, period, as_of, evaluated_at)?)?
        }
        "retention" => serde_json::to_value(view.retention_report(
            &client,
            as_of,
            evaluated_at,
            utc_month(month()?)?,
        )?)?,
        "billing" => serde_json::to_value(view.billing_report(&client, as_of, evaluated_at)?)?,
        other => anyhow::bail!("unknown report kind {other:?}"),
    })
}

/// The provenance of a report computed from `view`.
async fn provenance(
    store: &Arc<dyn EventStore>,
    view: &Projections,
    request: ReportRequest,
) -> anyhow::Result<Provenance> {
    let position = view.checkpoint().checked_sub(1);
    let head_hash = match position {
        Some(p) => store.read_all(p, 1).await?.first().map(|e| e.hash.to_hex()),
        None => None,
    };
    Ok(Provenance {
        request,
        position,
        head_hash,
    })
}

/// A report as JSON with its provenance under `"provenance"`.
fn with_provenance(mut report: Value, provenance: &Provenance) -> anyhow::Result<Value> {
    if let Value::Object(map) = &mut report {
        map.insert("provenance".to_owned(), serde_json::to_value(provenance)?);
    }
    Ok(report)
}

pub async fn run(target: &Target, args: ReportArgs) -> anyhow::Result<()> {
    let store = up_to_date(target).await?;
    let (common, kind, month) = match &args.kind {
        ReportKind::Sla { common, month } => (common, "sla", Some(*month)),
        ReportKind::Obligations { common, month } => (common, "obligations", Some(*month)),
        ReportKind::Retention { common, month } => (common, "retention", Some(*month)),
        ReportKind::Billing { common } => (common, "billing", None),
    };
    let client = common.client_id()?;
    let as_of = common.as_of();
    let projections = view_for(&store, &client, as_of).await?;
    let request = ReportRequest {
        report: kind.to_owned(),
        client: client.as_str().to_owned(),
        month,
        as_of,
        evaluated_at: common.evaluated_at(),
    };
    let evaluated_at = request.evaluated_at;
    let mut out = output(common.out.as_ref())?;
    if let (ReportKind::Sla { month, .. }, Format::Html) = (&args.kind, common.format) {
        let report = projections.sla_report(&client, *month, as_of, evaluated_at)?;
        let obligations =
            projections.obligation_report(&client, report.period, as_of, evaluated_at)?;
        crate::html::write_sla_with_model(projections.model(), &report, &obligations, &mut out)?;
    } else {
        anyhow::ensure!(
            common.format != Format::Html,
            "--format html is available for `report sla` only"
        );
        let provenance = provenance(&store, &projections, request.clone()).await?;
        let report = with_provenance(compute(&projections, &request)?, &provenance)?;
        render::write(&report, common.format, &mut out)?;
    }
    out.flush()?;
    Ok(())
}

/// Where a report file and the report recomputed from the log part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportCheck {
    /// Every figure is the one the log gives.
    Identical { position: Option<u64> },
    /// The first figure (a JSON pointer) whose value differs, with both values.
    Differs {
        pointer: String,
        in_file: String,
        from_log: String,
    },
    /// The report's head is not this ledger's event at that position.
    OtherLedger { position: u64 },
}

/// The first JSON pointer at which two values differ.
fn first_difference(path: &str, a: &Value, b: &Value) -> Option<(String, String, String)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let child = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => first_difference(&child, p, q),
                    (p, q) => Some((
                        child,
                        p.map_or("(absent)".to_owned(), Value::to_string),
                        q.map_or("(absent)".to_owned(), Value::to_string),
                    )),
                }
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(&format!("{path}/{i}"), p, q)),
        (p, q) if p == q => None,
        (p, q) => Some((path.to_owned(), p.to_string(), q.to_string())),
    }
}

/// `opsledger verify --report FILE`: recomputes a JSON report from the log itself (the client's
/// events read through the client index and folded in memory; no read-model row is read) up
/// to the position it states, and compares figure by figure.
pub async fn verify_report(
    store: &Arc<dyn EventStore>,
    path: &std::path::Path,
) -> anyhow::Result<ReportCheck> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the report {}", path.display()))?;
    let in_file: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a JSON report (use --format json)", path.display()))?;
    let provenance: Provenance = serde_json::from_value(
        in_file
            .get("provenance")
            .cloned()
            .with_context(|| format!("{}: the report states no provenance", path.display()))?,
    )
    .with_context(|| format!("{}: field provenance", path.display()))?;
    let before = provenance.position.map_or(0, |p| p.saturating_add(1));
    if let (Some(p), Some(hash)) = (provenance.position, &provenance.head_hash) {
        let here = store.read_all(p, 1).await?;
        if here.first().map(|e| e.hash.to_hex()).as_deref() != Some(hash.as_str()) {
            return Ok(ReportCheck::OtherLedger { position: p });
        }
    }
    let client = ClientId::new(&provenance.request.client)
        .with_context(|| format!("client {:?}", provenance.request.client))?;
    let mut fold = opsledger_projections::ClientFold::new();
    for event in project::client_log(store, &client, 0, before).await? {
        fold.apply(&event)?;
    }
    let view = Projections::for_client(fold, before);
    let from_log = with_provenance(compute(&view, &provenance.request)?, &provenance)?;
    Ok(match first_difference("", &in_file, &from_log) {
        None => ReportCheck::Identical {
            position: provenance.position,
        },
        Some((pointer, in_file, from_log)) => ReportCheck::Differs {
            pointer,
            in_file,
            from_log,
        },
    })
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
