//! `opsledger timeline`: arguments, and the timeline `opsledger_app::timeline` builds as
//! JSON, CSV or tables.

use chrono::{DateTime, Utc};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use opsledger_app::events::EventPages;
use opsledger_app::store::EventFilter;
use opsledger_app::{SystemClock, Target};
use serde_json::Value;

use crate::progress::Bar;
use crate::render::{self, Format};
use crate::tables::{self, ClientContext};

#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// The stream: `call-…`, `escalation-…`, `invoice-…`, `client-…`, … (see `opsledger events`).
    stream: String,
    /// The instant pending deadlines are judged at (default: now).
    #[arg(long)]
    evaluated_at: Option<DateTime<Utc>>,
    /// Output format (table, json or csv).
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
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
    if args.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&timeline)?);
        return Ok(());
    }
    if args.format == Format::Csv {
        // One CSV document for a job: the events, then one row per obligation they opened,
        // told apart by the first column.
        let mut csv = csv::Writer::from_writer(std::io::stdout().lock());
        csv.write_record([
            "kind",
            "position_or_rule",
            "type_or_value",
            "occurred_or_due",
            "detail",
        ])?;
        for e in &timeline.events {
            csv.write_record([
                "event".to_owned(),
                e.global_position.to_string(),
                e.event_type.clone(),
                e.occurred_at.to_rfc3339(),
                e.data.clone(),
            ])?;
        }
        for o in &timeline.obligations {
            csv.write_record([
                "obligation".to_owned(),
                o.rule.as_str().to_owned(),
                serde_json::to_string(&o.rule_value)?,
                o.due_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                serde_json::to_string(&o.verdict)?,
            ])?;
        }
        csv.flush()?;
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
