//! `opsledger timeline`: arguments, and the timeline `opsledger_app::timeline` builds as
//! JSON, CSV or tables.

use chrono::{DateTime, Utc};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use opsledger_app::{SystemClock, Target};

use crate::progress::Bar;
use crate::render::Format;

#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// The stream: `call-…`, `escalation-…`, `invoice-…`, `client-…`, … (see `opsledger events`),
    /// or a call, escalation, invoice or client id as reports print it, without the prefix.
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
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec!["pos", "v", "occurred", "recorded", "event", "data"]);
    for e in &timeline.events {
        table.add_row(vec![
            e.global_position.to_string(),
            e.stream_version.to_string(),
            e.occurred_at.to_rfc3339(),
            e.recorded_at.to_rfc3339(),
            e.event_type.clone(),
            e.data.clone(),
        ]);
    }
    println!(
        "{} ({} events)\n{table}",
        timeline.stream_id,
        timeline.events.len()
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
            serde_json::to_string(&o.rule_value)?,
            o.clock_start.map(|t| t.to_rfc3339()).unwrap_or_default(),
            o.due_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            serde_json::to_string(&o.verdict)?,
            o.evidence
                .iter()
                .map(|e| e.position.to_string())
                .collect::<Vec<_>>()
                .join(" "),
        ]);
    }
    println!("\nobligations ({})\n{table}", timeline.obligations.len());
    Ok(())
}
