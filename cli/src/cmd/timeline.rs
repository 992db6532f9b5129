//! `opsledger timeline`: arguments, and the timeline `opsledger_app::timeline` builds as
//! JSON, CSV or tables.

use std::io::Write;

use chrono::{DateTime, Utc};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use opsledger_app::events::EventPages;
use opsledger_app::report;
use opsledger_app::store::EventFilter;
use opsledger_app::{SystemClock, Target};
use opsledger_projections::AsOf;
use serde_json::Value;

use crate::progress::Bar;
use crate::render::{self, Format};
use crate::tables::{self, ClientContext};

#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// The stream: `call-…`, `escalation-…`, `invoice-…`, `client-…`, … (see `opsledger events`),
    /// or a call, escalation, invoice or client id as reports print it, without the prefix.
    stream: String,
    /// The instant pending deadlines are judged at (default: now).
    #[arg(long)]
    evaluated_at: Option<DateTime<Utc>>,
    /// Output format: a table, JSON (events' `data` as objects), CSV sections or an HTML page.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// CSV: write each section (`report.csv`, `events.csv`, `obligations.csv`, …) into this
    /// directory.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<std::path::PathBuf>,
    /// CSV: print this one section (e.g. `events`) on standard output.
    #[arg(long, value_name = "NAME", conflicts_with = "out_dir")]
    section: Option<String>,
}

/// The timeline as an HTML page, its times in the zone of the stream's client.
async fn write_html(
    target: &Target,
    timeline: &opsledger_app::timeline::Timeline,
) -> anyhow::Result<()> {
    let profile = match (&timeline.client_id, timeline.events.last()) {
        (Some(client), Some(last)) => {
            let client = report::client_id(client)?;
            let store = report::up_to_date(target, &Bar::projecting()).await?;
            let view = report::view_for(&store, &client, AsOf::Head).await?;
            Some(view.client_profile(&client, AsOf::Head, last.occurred_at)?)
        }
        _ => None,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    out.write_all(opsledger_views::timeline_page(timeline, profile.as_ref()).as_bytes())?;
    out.flush()?;
    Ok(())
}

pub async fn run(target: &Target, args: TimelineArgs) -> anyhow::Result<()> {
    let timeline = opsledger_app::timeline::timeline(
        target,
        &args.stream,
        args.evaluated_at,
        &SystemClock,
        &Bar::projecting(),
    )
    .await?;
    if args.format != Format::Csv && (args.out_dir.is_some() || args.section.is_some()) {
        return Err(crate::Usage("--out-dir and --section are for --format csv".to_owned()).into());
    }
    if args.format == Format::Html {
        return write_html(target, &timeline).await;
    }
    let mut value = serde_json::to_value(&timeline)?;
    if args.format == Format::Csv {
        // Tidy sections (`report`, `events`, `obligations`, `obligations.evidence`), each event's
        // data as its JSON text in one cell, as the events CSV has it.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        crate::cmd::report::csv_sections(
            &value,
            args.out_dir.as_deref(),
            args.section.as_deref(),
            &mut out,
        )?;
        out.flush()?;
        return Ok(());
    }
    if args.format == Format::Json {
        // `data` as the JSON object it is, not a string inside JSON.
        if let Some(events) = value["events"].as_array_mut() {
            for event in events {
                if let Some(text) = event["data"].as_str() {
                    event["data"] = serde_json::from_str(text)?;
                }
            }
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    // People read the table: instants in the client's zone to the second, each event's data
    // as a short summary (the JSON form has it whole), verdicts and rule values in words.
    let zone = match &timeline.client_id {
        Some(client) => client_zone(target, client).await?,
        None => chrono_tz::UTC,
    };
    let ctx = ClientContext {
        client_id: timeline.client_id.clone().unwrap_or_default(),
        name: None,
        zone,
    };
    let time = |t: DateTime<Utc>| {
        t.with_timezone(&zone)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec![
            "pos",
            "v",
            "occurred",
            "recorded",
            "event",
            "data (summary)",
        ]);
    for e in &timeline.events {
        table.add_row(vec![
            e.global_position.to_string(),
            e.stream_version.to_string(),
            time(e.occurred_at),
            time(e.recorded_at),
            e.event_type.clone(),
            summary(&e.data, &timeline.stream_id),
        ]);
    }
    let n = u64::try_from(timeline.events.len()).unwrap_or(u64::MAX);
    println!(
        "{} ({}; times in {})\n{table}",
        timeline.stream_id,
        render::count(n, "event", "events"),
        zone.name()
    );
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec![
            "rule",
            "value in force",
            "clock start",
            "due",
            "verdict",
            "evidence",
        ]);
    for o in &timeline.obligations {
        table.add_row(vec![
            o.rule.as_str().to_owned(),
            tables::rule_value(&serde_json::to_value(&o.rule_value)?),
            o.clock_start.map(time).unwrap_or_default(),
            o.due_at.map(time).unwrap_or_default(),
            render::cut(
                &tables::verdict(&serde_json::to_value(&o.verdict)?, &ctx),
                render::CELL_CHARS,
            ),
            o.evidence
                .iter()
                .map(|e| format!("#{}", e.position))
                .collect::<Vec<_>>()
                .join(" "),
        ]);
    }
    let n = u64::try_from(timeline.obligations.len()).unwrap_or(u64::MAX);
    println!(
        "\n{} opened\n{table}",
        render::count(n, "obligation", "obligations")
    );
    Ok(())
}

/// The zone of the client's latest agreement (onboarding or amendment), read from those few
/// events rather than by folding the client's whole history again.
async fn client_zone(target: &Target, client: &str) -> anyhow::Result<chrono_tz::Tz> {
    let store = target.open().await?;
    let filter = EventFilter {
        event_types: vec![
            "client.onboarded".to_owned(),
            "client.agreement_amended".to_owned(),
        ],
        client_id: Some(client.to_owned()),
        ..EventFilter::default()
    };
    let mut pages = EventPages::new(store, filter, 0, usize::MAX);
    let mut zone = chrono_tz::UTC;
    while let Some(page) = pages.next_page().await? {
        for e in &page {
            let data = e.data_json()?;
            if let Some(tz) = data["agreement"]["calendar"]["time_zone"]
                .as_str()
                .and_then(|z| z.parse().ok())
            {
                zone = tz;
            }
        }
    }
    Ok(zone)
}

/// An event's data in one short line: its scalar fields as `key value`, nested objects and
/// lists by their size; what the row already says (the client, the instant, the stream's own
/// id) left out; cut with a marker.
fn summary(data: &str, stream: &str) -> String {
    let own_id = format!("{}_id", stream.split('-').next().unwrap_or_default());
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(data) else {
        return render::cut(data, render::CELL_CHARS);
    };
    let parts: Vec<String> = map
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "client_id" | "at") && **k != own_id)
        .map(|(k, v)| match v {
            Value::Object(inner) => format!("{k} {{{} fields}}", inner.len()),
            Value::Array(items) => format!("{k} [{}]", items.len()),
            Value::String(s) => format!("{k} {s}"),
            Value::Null => format!("{k} –"),
            other => format!("{k} {other}"),
        })
        .collect();
    render::cut(&parts.join(", "), render::CELL_CHARS)
}
