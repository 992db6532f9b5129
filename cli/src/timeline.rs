//! `opsledger timeline`: the whole story of one call, escalation, invoice or client, in log
//! order, with the obligations its events opened, their verdicts and the rule values in force.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use opsledger_domain::ids::ClientId;
use opsledger_projections::obligations::Obligation;
use opsledger_projections::{AsOf, Period};
use opsledger_store::{Direction, RecordedEvent, StreamId};
use serde::Serialize;

use crate::crypto::Sealer;
use crate::ledger::Target;
use crate::render::Format;

/// Events read per page of a stream.
const STREAM_PAGE: usize = 10_000;

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

#[derive(Debug, Serialize)]
struct Timeline {
    stream_id: String,
    client_id: Option<String>,
    events: Vec<RecordedEvent>,
    obligations: Vec<Obligation>,
}

pub async fn run(target: &Target, args: TimelineArgs) -> anyhow::Result<()> {
    let stream = StreamId::parse(&args.stream)?;
    let store = crate::report::up_to_date(target).await?;
    let mut events = Vec::new();
    let mut next = 0u64;
    loop {
        let page = store
            .read_stream(&stream, next, Direction::Forward, STREAM_PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        next = last.stream_version + 1;
        let full = page.len() == STREAM_PAGE;
        events.extend(page);
        if !full {
            break;
        }
    }
    // The timeline is read by people: personal fields are shown opened (or as "[shredded]"),
    // not as the ciphertext the log stores and hashes.
    let mut sealer = Sealer::new(Arc::clone(&store));
    for event in &mut events {
        let opened = sealer.open_data(event).await?;
        event.data = serde_json::to_string(&opened)?;
    }
    let client_id = events.iter().find_map(|e| e.client_id.clone());
    let positions: HashSet<u64> = events.iter().map(|e| e.global_position).collect();
    let mut obligations = Vec::new();
    if let (Some(client), Some(first), Some(last)) = (&client_id, events.first(), events.last()) {
        let client = ClientId::new(client).with_context(|| format!("client {client:?}"))?;
        // Obligations opened by these events may fall due well after them (a month-end report,
        // a retention deadline), so the window reaches a quarter past the last event.
        let period = Period {
            from: first.occurred_at - Duration::days(1),
            to: last.occurred_at.max(last.recorded_at) + Duration::days(92),
        };
        let evaluated_at = args.evaluated_at.unwrap_or_else(Utc::now);
        let projections = crate::project::client_view(&store, &client, None).await?;
        let report = projections.obligation_report(&client, period, AsOf::Head, evaluated_at)?;
        obligations = report
            .obligations
            .into_iter()
            .filter(|o| o.evidence.iter().any(|e| positions.contains(&e.position)))
            .collect();
    }
    let timeline = Timeline {
        stream_id: stream.to_string(),
        client_id,
        events,
        obligations,
    };
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
