//! The ledger commands: init, append, events, head, verify.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;
use opsledger_app::events::EventPages;
use opsledger_app::store::{EventFilter, PositionRange, StreamId, TimeRange, VerifyReport};
use opsledger_app::{AppError, Target};
use uuid::Uuid;

pub async fn init(target: &Target) -> anyhow::Result<()> {
    target.create().await?;
    println!("created {}", target.describe());
    Ok(())
}

#[derive(Debug, Args)]
pub struct AppendArgs {
    /// NDJSON file of event envelopes; `-` or absent reads standard input.
    #[arg(long, short)]
    file: Option<PathBuf>,
    /// Also record event types the domain does not know (facts from other systems: kept,
    /// hashed and verified, skipped by the projections). Without it they are refused.
    #[arg(long)]
    allow_foreign_types: bool,
}

pub async fn append(target: &Target, args: AppendArgs) -> anyhow::Result<()> {
    let (name, reader): (String, Box<dyn BufRead>) = match &args.file {
        None => ("<stdin>".into(), Box::new(std::io::stdin().lock())),
        Some(p) if p.as_os_str() == "-" => ("<stdin>".into(), Box::new(std::io::stdin().lock())),
        Some(p) => (
            p.display().to_string(),
            Box::new(std::io::BufReader::new(
                std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?,
            )),
        ),
    };
    let batch = opsledger_app::append::read_envelopes(&name, reader, args.allow_foreign_types)?;
    let store = target.open().await?;
    let appended = opsledger_app::append::append(&store, batch).await?;
    println!(
        "appended {} events to {} streams ({} already recorded)",
        appended.recorded, appended.streams, appended.already_recorded
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only this stream.
    #[arg(long)]
    stream: Option<String>,
    /// Only these categories (the part of the stream id before the first `-`).
    #[arg(long = "category")]
    categories: Vec<String>,
    /// Only these event types.
    #[arg(long = "type")]
    event_types: Vec<String>,
    /// Only this client's events.
    #[arg(long)]
    client: Option<String>,
    /// Only events with this correlation id.
    #[arg(long)]
    correlation: Option<Uuid>,
    /// Occurred at or after this instant (RFC 3339).
    #[arg(long)]
    occurred_from: Option<DateTime<Utc>>,
    /// Occurred before this instant (RFC 3339).
    #[arg(long)]
    occurred_to: Option<DateTime<Utc>>,
    /// Recorded at or after this instant (RFC 3339).
    #[arg(long)]
    recorded_from: Option<DateTime<Utc>>,
    /// Recorded before this instant (RFC 3339).
    #[arg(long)]
    recorded_to: Option<DateTime<Utc>>,
    /// Start at this global position.
    #[arg(long, default_value_t = 0)]
    from_position: u64,
    /// Print at most this many events; when more match, standard error says where they go on.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    /// Output: `ndjson` (one event per line, streamed, for pipes), `json` (one document with
    /// `truncated` and `next_position`), a table or CSV. `data` is a JSON object in both JSON
    /// forms.
    #[arg(long, value_enum, default_value = "ndjson")]
    format: EventsFormat,
}

/// The forms `opsledger events` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventsFormat {
    Ndjson,
    Json,
    Table,
    Csv,
    /// Accepted so that the refusal names where HTML views exist (exit status 64).
    Html,
}

/// An event as the machine forms print it: the envelope as recorded, with `data` as the JSON
/// object it is rather than the canonical text the chain hashes (that text is re-derived by
/// canonicalising the object; `verify` and bundles work on the stored text).
fn event_json(e: &opsledger_app::store::RecordedEvent) -> anyhow::Result<serde_json::Value> {
    let mut value = serde_json::to_value(e)?;
    value["data"] = e
        .data_json()
        .with_context(|| format!("the data of position {}", e.global_position))?;
    Ok(value)
}

pub async fn events(target: &Target, args: EventsArgs) -> anyhow::Result<()> {
    let filter = EventFilter {
        categories: args.categories,
        event_types: args.event_types,
        client_id: args.client,
        stream_id: args
            .stream
            .as_deref()
            .map(StreamId::parse)
            .transpose()
            .map_err(AppError::from)?,
        correlation_id: args.correlation,
        occurred: TimeRange {
            from: args.occurred_from,
            to: args.occurred_to,
        },
        recorded: TimeRange {
            from: args.recorded_from,
            to: args.recorded_to,
        },
    };
    if args.format == EventsFormat::Html {
        return Err(crate::html::NoHtmlView { command: "events" }.into());
    }
    let store = target.open().await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut pages = EventPages::new(store, filter, args.from_position, args.limit);
    // Every format but the one-document JSON streams page by page, so memory stays bounded by
    // one page whatever the log's size (issue 12, finding 10: a table of 116 k events took
    // 838 MB). A table is laid out per page, each page a table with its header repeated. The
    // JSON document holds at most `--limit` events.
    let mut json_events = Vec::new();
    match args.format {
        EventsFormat::Ndjson => {
            while let Some(page) = pages.next_page().await? {
                for e in &page {
                    serde_json::to_writer(&mut out, &event_json(e)?)?;
                    out.write_all(b"\n")?;
                }
            }
        }
        EventsFormat::Json => {
            while let Some(page) = pages.next_page().await? {
                for e in &page {
                    json_events.push(event_json(e)?);
                }
            }
        }
        EventsFormat::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record(EVENT_COLUMNS)?;
            while let Some(page) = pages.next_page().await? {
                for e in &page {
                    csv.write_record(event_row(e))?;
                }
            }
            csv.flush()?;
        }
        EventsFormat::Html => unreachable!("refused before the store is opened"),
        EventsFormat::Table => {
            while let Some(page) = pages.next_page().await? {
                let mut table = comfy_table::Table::new();
                table
                    .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
                    .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
                    .set_header(EVENT_COLUMNS);
                for e in &page {
                    // For people: instants to the second in UTC, named (the log spans clients
                    // and zones), long data cut with a marker; CSV and JSON keep them whole.
                    let mut row = event_row(e);
                    row[5] = crate::render::utc_time(e.occurred_at);
                    row[6] = crate::render::utc_time(e.recorded_at);
                    row[8] = crate::render::cut(&row[8], crate::render::CELL_CHARS);
                    table.add_row(row);
                }
                writeln!(out, "{table}")?;
            }
        }
    }
    let next_position = pages.continues_at().await?;
    if args.format == EventsFormat::Json {
        let document = serde_json::json!({
            "events": json_events,
            "truncated": next_position.is_some(),
            "next_position": next_position,
        });
        serde_json::to_writer_pretty(&mut out, &document)?;
        writeln!(out)?;
    }
    out.flush()?;
    if let Some(next) = next_position {
        eprintln!(
            "opsledger: stopped at the limit of {}; more follow from position {next} \
             (--from-position {next}, or a higher --limit)",
            crate::render::count(
                u64::try_from(args.limit).unwrap_or(u64::MAX),
                "event",
                "events"
            ),
        );
    }
    Ok(())
}

/// Columns of `opsledger events` as a table or CSV.
const EVENT_COLUMNS: [&str; 9] = [
    "position",
    "stream",
    "version",
    "type",
    "client",
    "occurred_at",
    "recorded_at",
    "event_id",
    "data",
];

fn event_row(e: &opsledger_app::store::RecordedEvent) -> [String; 9] {
    [
        e.global_position.to_string(),
        e.stream_id.to_string(),
        e.stream_version.to_string(),
        e.event_type.clone(),
        e.client_id.clone().unwrap_or_default(),
        e.occurred_at.to_rfc3339(),
        e.recorded_at.to_rfc3339(),
        e.event_id.to_string(),
        e.data.clone(),
    ]
}

pub async fn head(target: &Target) -> anyhow::Result<()> {
    let store = target.open().await?;
    let head = store.head().await.map_err(AppError::from)?;
    // Read after the head, so the lag covers at least the head just printed.
    let lag = store.replica_lag().await.map_err(AppError::from)?;
    match head {
        None => println!("empty ledger"),
        Some(h) => println!(
            "position {} hash {} recorded_at {}",
            h.position,
            h.hash,
            h.recorded_at.to_rfc3339()
        ),
    }
    if let Some(lag) = lag {
        print_replica_lag(&lag, head.map(|h| h.position));
    }
    Ok(())
}

/// The replica's half of `head`: what this server can see and how far behind its primary it
/// may be, each figure named by where it comes from.
fn print_replica_lag(lag: &opsledger_app::store::ReplicaLag, visible: Option<u64>) {
    let unknown = || "unknown".to_owned();
    println!("replica: this server is a hot standby; reads here see the log as replayed");
    match visible {
        Some(p) => println!("replica: last position visible here: {p}"),
        None => println!("replica: last position visible here: none (nothing replayed yet)"),
    }
    println!(
        "replica: WAL received {}, replayed {}, received but not replayed {}",
        lag.received_lsn.clone().unwrap_or_else(unknown),
        lag.replayed_lsn.clone().unwrap_or_else(unknown),
        lag.unreplayed_wal_bytes
            .map_or_else(unknown, |b| format!("{b} bytes")),
    );
    match (lag.last_replayed_commit_at, lag.since_last_replayed_commit_ms) {
        (Some(at), Some(ms)) => println!(
            "replica: last replayed commit at {} ({ms} ms ago by this server's clock; \
             an upper bound on the lag while the primary is writing, it grows when the primary is idle)",
            at.to_rfc3339()
        ),
        _ => println!("replica: no commit replayed since this standby started"),
    }
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// First position to check.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// Last position to check (default: the head).
    #[arg(long)]
    to: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Do not re-derive the read model's rows from the log (checked by default when the
    /// whole log is verified).
    #[arg(long)]
    skip_read_models: bool,
    /// Recompute this JSON report (from `report … --format json`) from the log up to the
    /// position it states, and say identical or name the first figure that differs.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["from", "to", "bundle"])]
    report: Option<PathBuf>,
    /// Verify this evidence bundle offline instead of a ledger; no ledger is opened.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["from", "to"])]
    bundle: Option<PathBuf>,
    /// With --bundle: also check that the bundle extends a head noted earlier.
    #[arg(
        long,
        value_name = "POSITION:HASH",
        requires = "bundle",
        value_parser = opsledger_app::export::parse_noted_head
    )]
    noted_head: Option<opsledger_app::export::NotedHead>,
}

async fn verify_report(
    store: &std::sync::Arc<dyn opsledger_app::store::EventStore>,
    path: &std::path::Path,
    json: bool,
) -> anyhow::Result<()> {
    use opsledger_app::report::ReportCheck;
    let check = opsledger_app::report::verify_report(store, path).await?;
    let message = match &check {
        ReportCheck::Identical { position } => format!(
            "identical: every figure of {} is what the log gives up to position {}",
            path.display(),
            position.map_or_else(|| "(empty)".to_owned(), |p| p.to_string())
        ),
        ReportCheck::Differs {
            pointer,
            in_file,
            from_log,
        } => format!("DIFFERS at {pointer}: the report says {in_file}, the log gives {from_log}"),
        ReportCheck::OtherLedger { position } => format!(
            "NOT THIS LEDGER: the report's head hash is not the hash at position {position}"
        ),
    };
    if json {
        println!(
            "{}",
            serde_json::json!({"report": path.display().to_string(),
                "identical": matches!(check, ReportCheck::Identical { .. }),
                "message": message})
        );
    } else {
        println!("{message}");
    }
    match check {
        ReportCheck::Identical { .. } => Ok(()),
        _ => Err(AppError::NotDerived { finding: message }.into()),
    }
}

pub async fn verify(target: &Target, args: VerifyArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.bundle {
        return crate::cmd::export::verify_bundle(path, args.noted_head, args.json);
    }
    let store = target.open().await?;
    if let Some(path) = &args.report {
        return verify_report(&store, path, args.json).await;
    }
    let report = store
        .verify(PositionRange {
            from: args.from,
            to: args.to,
        })
        .await
        .map_err(AppError::from)?;
    // With --json, one document is printed at the end: the chain's verdict and, when the
    // read model is checked, its verdict beside it, so a machine reads one value.
    if !args.json {
        match &report {
            VerifyReport::Intact { events, head, .. } => match head {
                Some((p, h)) => println!("intact: {events} events, head position {p} hash {h}"),
                None => println!("intact: {events} events (empty range)"),
            },
            VerifyReport::Broken {
                position, reason, ..
            } => println!("BROKEN at position {position}: {reason}"),
        }
    }
    let chain = serde_json::to_value(&report)?;
    if let VerifyReport::Broken {
        position, reason, ..
    } = report
    {
        if args.json {
            println!("{}", serde_json::json!({ "chain": chain }));
        }
        return Err(AppError::ChainBroken {
            position: Some(position),
            reason: reason.to_string(),
        }
        .into());
    }
    // The read model is derived data: once the log it comes from is proven intact, every
    // stored row is derived again and compared, so an edited row cannot pass for the log's.
    if args.from != 0 || args.to.is_some() || args.skip_read_models {
        if args.json {
            println!("{}", serde_json::json!({ "chain": chain }));
        }
        return Ok(());
    }
    {
        let check = opsledger_app::project::check_read_model(&store).await?;
        match (&check.first_mismatch, args.json) {
            (None, false) => println!(
                "read model: {} rows re-derived from the log, identical (checkpoint {})",
                check.rows, check.next_position
            ),
            (Some(m), false) => println!("READ MODEL DIFFERS: {m}; `opsledger replay` rebuilds it"),
            (found, true) => println!(
                "{}",
                serde_json::json!({
                    "chain": chain,
                    "read_model": {
                        "rows": check.rows,
                        "next_position": check.next_position,
                        "identical": found.is_none(),
                        "first_mismatch": found.as_ref().map(ToString::to_string),
                    }
                })
            ),
        }
        if let Some(m) = check.first_mismatch {
            return Err(AppError::NotDerived {
                finding: m.to_string(),
            }
            .into());
        }
    }
    Ok(())
}
