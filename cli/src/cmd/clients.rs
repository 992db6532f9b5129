//! `opsledger clients`: the clients a ledger holds, with the zone their reports are read in,
//! their plan and standing, and the span of their events.

use std::io::Write;

use chrono::{DateTime, Utc};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use opsledger_app::clients::ClientSummary;
use opsledger_app::{Clock, SystemClock, Target};

use crate::render::{self, Format};

#[derive(Debug, Args)]
pub struct ClientsArgs {
    /// The instant standing and plan are given at (RFC 3339; default: now).
    #[arg(long)]
    at: Option<DateTime<Utc>>,
    /// Output: a table, JSON (`{"clients": [...]}`) or CSV (one row per client).
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// An event's place for the table: when it occurred in the client's zone (named in the
/// zone column, so not repeated here), to the second, and its position.
fn mark(at: DateTime<Utc>, position: u64, zone: &str) -> String {
    let when = match zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => at
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => render::utc_time(at),
    };
    format!("{when} (#{position})")
}

const COLUMNS: [&str; 7] = [
    "client",
    "name",
    "zone",
    "plan",
    "standing",
    "first event (#position)",
    "last event (#position)",
];

fn row(c: &ClientSummary) -> [String; 7] {
    [
        c.client_id.clone(),
        c.name.clone().unwrap_or_default(),
        c.time_zone.clone(),
        c.tier.clone(),
        c.standing.as_str().to_owned(),
        mark(
            c.first_event.occurred_at,
            c.first_event.position,
            &c.time_zone,
        ),
        mark(
            c.last_event.occurred_at,
            c.last_event.position,
            &c.time_zone,
        ),
    ]
}

pub async fn run(target: &Target, args: ClientsArgs) -> anyhow::Result<()> {
    let store =
        opsledger_app::report::up_to_date(target, &crate::progress::Bar::projecting()).await?;
    let at = args.at.unwrap_or_else(|| SystemClock.now());
    let clients = opsledger_app::clients::list(&store, at).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "clients": clients }))?;
            writeln!(out)?;
        }
        Format::Csv => {
            // Machine form: instants in UTC (RFC 3339), one row per client.
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record([
                "client_id",
                "name",
                "time_zone",
                "tier",
                "standing",
                "first_position",
                "first_occurred_at",
                "first_recorded_at",
                "last_position",
                "last_occurred_at",
                "last_recorded_at",
            ])?;
            for c in &clients {
                csv.write_record([
                    c.client_id.clone(),
                    c.name.clone().unwrap_or_default(),
                    c.time_zone.clone(),
                    c.tier.clone(),
                    c.standing.as_str().to_owned(),
                    c.first_event.position.to_string(),
                    c.first_event.occurred_at.to_rfc3339(),
                    c.first_event.recorded_at.to_rfc3339(),
                    c.last_event.position.to_string(),
                    c.last_event.occurred_at.to_rfc3339(),
                    c.last_event.recorded_at.to_rfc3339(),
                ])?;
            }
            csv.flush()?;
        }
        Format::Table => {
            let mut table = Table::new();
            table
                .load_preset(UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_header(COLUMNS);
            for c in &clients {
                table.add_row(row(c));
            }
            let n = u64::try_from(clients.len()).unwrap_or(u64::MAX);
            writeln!(
                out,
                "{} (times as they occurred in each client's zone)\n{table}",
                render::count(n, "client", "clients")
            )?;
        }
        Format::Html => {
            return Err(
                crate::Usage("`clients` has no HTML view; use table, json or csv".into()).into(),
            )
        }
    }
    out.flush()?;
    Ok(())
}
