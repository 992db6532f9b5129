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

use crate::render::Format;

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
    /// Print at most this many events.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    /// Output: JSON lines (default, for piping), a table or CSV.
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
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
    let store = target.open().await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut pages = EventPages::new(store, filter, args.from_position, args.limit);
    // JSON lines stream page by page (for pipes); a table or CSV is laid out once at the end.
    let mut collected = Vec::new();
    while let Some(page) = pages.next_page().await? {
        if args.format == Format::Json {
            for e in &page {
                serde_json::to_writer(&mut out, e)?;
                out.write_all(b"\n")?;
            }
        } else {
            collected.extend(page);
        }
    }
    match args.format {
        Format::Json => {}
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record(EVENT_COLUMNS)?;
            for e in &collected {
                csv.write_record(event_row(e))?;
            }
            csv.flush()?;
        }
        Format::Table | Format::Html => {
            let mut table = comfy_table::Table::new();
            table
                .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
                .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
                .set_header(EVENT_COLUMNS);
            for e in &collected {
                table.add_row(event_row(e));
            }
            writeln!(out, "{table}")?;
        }
    }
    out.flush()?;
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
    match store.head().await.map_err(AppError::from)? {
        None => println!("empty ledger"),
        Some(h) => println!(
            "position {} hash {} recorded_at {}",
            h.position,
            h.hash,
            h.recorded_at.to_rfc3339()
        ),
    }
    Ok(())
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

pub async fn verify(target: &Target, args: VerifyArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.bundle {
        return crate::cmd::export::verify_bundle(path, args.noted_head, args.json);
    }
    let store = target.open().await?;
    let report = store
        .verify(PositionRange {
            from: args.from,
            to: args.to,
        })
        .await
        .map_err(AppError::from)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
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
    match report {
        VerifyReport::Intact { .. } => Ok(()),
        VerifyReport::Broken {
            position, reason, ..
        } => Err(AppError::ChainBroken {
            position: Some(position),
            reason: reason.to_string(),
        }
        .into()),
    }
}
