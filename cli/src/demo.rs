//! `opsledger demo`: the README's first command. Creates a ledger on the embedded default,
//! records a realistic month of operations for five clients (every fact decided by the domain),
//! brings the projections up to date, prints each client's service levels and obligations,
//! writes the HTML and JSON reports, verifies the chain and exports an evidence bundle that is
//! then verified offline.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chrono::{Datelike, Utc};

use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use opsledger_projections::{AsOf, YearMonth};
use opsledger_store::{
    EventStore, ExpectedVersion, Metadata, PositionRange, SqliteStore, StreamAppend, VerifyReport,
};
use uuid::Uuid;

use opsledger_app::crypto::Sealer;
use opsledger_app::envelopes;
use opsledger_app::project::{self, Start};
use opsledger_app::{SystemClock, Target};

use crate::demo_data::{self, DemoScale};
use crate::progress::Bar;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for the demo ledger and its reports (a previous demo there is replaced).
    #[arg(long, default_value = "opsledger-demo")]
    out: PathBuf,
    /// Seed of the generated month: the same seed gives the same month.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Calls per client per day.
    #[arg(long, default_value_t = DemoScale::default().calls_per_client_per_day)]
    calls_per_client_per_day: u32,
}

/// Namespace of the demo's event ids (UUID v5 of the seed and the event's index), so a rerun
/// with the same seed records the same ids.
const DEMO_NAMESPACE: Uuid = Uuid::from_u128(0x6f70_736c_6564_6765_7200_6465_6d6f_0001);
/// Events per atomic append while recording the month.
const DEMO_BATCH_EVENTS: usize = 1000;

/// Ten days into the month after `ym`, UTC.
fn evaluation_instant(ym: YearMonth) -> anyhow::Result<chrono::DateTime<Utc>> {
    let day = ym.next().first_day() + chrono::Duration::days(10);
    Ok(day
        .and_hms_opt(0, 0, 0)
        .context("midnight exists")?
        .and_utc())
}

fn remove_ledger(path: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", path.display()));
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    Ok(())
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let ledger = args.out.join("demo.ledger");
    remove_ledger(&ledger)?;
    let store: Arc<dyn EventStore> = Arc::new(SqliteStore::create_new(&ledger)?);
    println!("opsledger demo: ledger {}", ledger.display());

    let month_start = demo_data::demo_month_start();
    let month = demo_data::generate_month(
        args.seed,
        month_start,
        DemoScale {
            calls_per_client_per_day: args.calls_per_client_per_day,
        },
    )?;
    let metadata = Metadata {
        correlation_id: Some(Uuid::new_v5(&DEMO_NAMESPACE, &args.seed.to_be_bytes())),
        causation_id: None,
        actor: Some("opsledger-demo".into()),
        source: Some("demo-generator".into()),
    };
    let progress = indicatif::ProgressBar::new(u64::try_from(month.events.len()).unwrap_or(0));
    progress.set_style(
        indicatif::ProgressStyle::with_template("  recording {bar:40} {pos}/{len} events")
            .expect("a valid template"),
    );
    let started = std::time::Instant::now();
    let mut sealer = Sealer::new(Arc::clone(&store));
    for (chunk_index, chunk) in month.events.chunks(DEMO_BATCH_EVENTS).enumerate() {
        let mut batch: Vec<StreamAppend> = Vec::new();
        for (i, event) in chunk.iter().enumerate() {
            let index = chunk_index * DEMO_BATCH_EVENTS + i;
            let mut name = args.seed.to_be_bytes().to_vec();
            name.extend_from_slice(&index.to_be_bytes());
            let envelope = sealer
                .seal(
                    Uuid::new_v5(&DEMO_NAMESPACE, &name),
                    event,
                    metadata.clone(),
                )
                .await?;
            let stream_id = envelopes::stream_of(event)?;
            match batch.iter_mut().find(|s| s.stream_id == stream_id) {
                Some(s) => s.events.push(envelope),
                None => batch.push(StreamAppend {
                    stream_id,
                    expected_version: ExpectedVersion::Any,
                    events: vec![envelope],
                }),
            }
        }
        store.append_batch(batch).await?;
        progress.inc(u64::try_from(chunk.len()).unwrap_or(0));
    }
    progress.finish_and_clear();
    println!(
        "recorded {} events in {:.2} s, every fact decided by the domain",
        month.events.len(),
        started.elapsed().as_secs_f64(),
    );
    println!("{}", month.summary_text());

    let (projections, applied) =
        project::catch_up(&store, Start::Snapshot, None, &Bar::projecting()).await?;
    println!(
        "projections: {applied} events applied, snapshot saved with checkpoint {}",
        projections.checkpoint()
    );

    let ym = YearMonth::new(month_start.year(), month_start.month()).context("a valid month")?;
    // Judge the month as its reports would be read: ten days into the next month, after the
    // 5th/7th-business-day report deadlines, not at whatever today is.
    let evaluated_at = evaluation_instant(ym)?;
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec![
            "client",
            "tier",
            "offered",
            "answered",
            "abandoned",
            "voicemail",
            "service level (R-ANS-1)",
            "ASA",
            "longest wait",
            "R-ANS-2 breaches",
            "QA reviewed (R-QA-1)",
            "obligations met / missed / pending",
            "billing",
        ]);
    let target = Target::File(ledger.clone());
    for client in &month.clients {
        let sla = projections.sla_report(&client.client_id, ym, AsOf::Head, evaluated_at)?;
        let obligations = projections.obligation_report(
            &client.client_id,
            sla.period,
            AsOf::Head,
            evaluated_at,
        )?;
        let billing = projections.billing_report(&client.client_id, AsOf::Head, evaluated_at)?;
        let (mut met, mut missed, mut pending) = (0u64, 0u64, 0u64);
        for r in &obligations.rules {
            met += r.tally.met;
            missed += r.tally.missed;
            pending += r.tally.pending;
        }
        let raw = &sla.calls.raw;
        let pct = |bp: Option<u64>| {
            bp.map_or_else(
                || "–".to_owned(),
                |bp| format!("{}.{:02} %", bp / 100, bp % 100),
            )
        };
        let secs = |ms: Option<u64>| {
            ms.map_or_else(
                || "–".to_owned(),
                |ms| {
                    format!(
                        "{:.1} s",
                        f64::from(u32::try_from(ms).unwrap_or(u32::MAX)) / 1000.0
                    )
                },
            )
        };
        table.add_row(vec![
            client.client_id.as_str().to_owned(),
            format!("{:?}", client.tier),
            raw.offered.to_string(),
            raw.answered.to_string(),
            raw.abandoned.to_string(),
            raw.voicemail.to_string(),
            pct(raw.service_level_basis_points),
            secs(raw.average_speed_of_answer_ms),
            secs(raw.longest_wait_ms),
            raw.max_queue_breaches.to_string(),
            format!(
                "{} of {} ({})",
                sla.qa_coverage.reviewed,
                sla.qa_coverage.answered,
                pct(sla.qa_coverage.reviewed_basis_points)
            ),
            format!("{met} / {missed} / {pending}"),
            serde_json::to_value(billing.status)?
                .as_str()
                .map_or_else(|| format!("{:?}", billing.status), str::to_owned),
        ]);
        let base = args.out.join(format!("{}-{ym}", client.client_id.as_str()));
        let mut html =
            std::io::BufWriter::new(std::fs::File::create(base.with_extension("sla.html"))?);
        crate::html::write_sla_with_model(projections.model(), &sla, &obligations, &mut html)?;
        std::fs::write(
            base.with_extension("obligations.json"),
            serde_json::to_vec_pretty(&obligations)?,
        )?;
    }
    println!("\nservice levels for {ym} (raw figures; the HTML reports also show them under normal operating conditions):\n{table}");

    match store.verify(PositionRange::default()).await? {
        VerifyReport::Intact { events, head, .. } => {
            let (p, h) = head.context("a non-empty ledger has a head")?;
            println!("verify: intact, {events} events; note the head for later audits: position {p} hash {h}");
        }
        broken => anyhow::bail!("the demo ledger does not verify: {broken:?}"),
    }
    // An evidence bundle for one client's late-escalation dispute, checked offline.
    if let Some(client) = month
        .clients
        .iter()
        .find(|c| c.client_id.as_str().contains("northwind"))
        .or(month.clients.first())
    {
        let bundle = args.out.join("evidence-bundle.json");
        let exported = opsledger_app::export::export_client(
            &target,
            client.client_id.as_str(),
            &bundle,
            &SystemClock,
            &Bar::projecting(),
        )
        .await?;
        crate::cmd::export::print_exported(&exported);
        crate::cmd::export::verify_bundle(&bundle, None, false)?;
    }
    println!(
        "\nwritten to {}: demo.ledger, <client>-{ym}.sla.html (open in a browser, works offline), <client>-{ym}.obligations.json, evidence-bundle.json",
        args.out.display()
    );
    println!(
        "next: opsledger --ledger {} report obligations --client {} --month {ym}",
        ledger.display(),
        month.clients.first().map_or("…", |c| c.client_id.as_str())
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsledger_projections::{PositionedEvent, Projections};

    /// The generator counts what it planted as it plans each call; the projections compute the
    /// same figures from the recorded events. They are independent computations and must agree.
    #[test]
    fn projected_sla_figures_equal_what_the_generator_planted() {
        let month =
            demo_data::generate_month(1, demo_data::demo_month_start(), DemoScale::default())
                .unwrap();
        let recorded_at = chrono::DateTime::parse_from_rfc3339("2026-11-20T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let events: Vec<PositionedEvent> = month
            .events
            .iter()
            .enumerate()
            .map(|(i, event)| PositionedEvent {
                position: u64::try_from(i).unwrap(),
                event_id: Uuid::from_u128(u128::try_from(i).unwrap() + 1),
                recorded_at,
                event: event.clone(),
            })
            .collect();
        let projections = Projections::rebuild(&events).unwrap();
        let ym = YearMonth::new(2026, 10).unwrap();
        let at = evaluation_instant(ym).unwrap();
        for client in &month.clients {
            let raw = projections
                .sla_report(&client.client_id, ym, AsOf::Head, at)
                .unwrap()
                .calls
                .raw;
            let id = client.client_id.as_str();
            assert_eq!(raw.offered, client.calls_offered, "{id} offered");
            assert_eq!(raw.answered, client.calls_answered, "{id} answered");
            assert_eq!(
                raw.answered_within_target, client.answered_within_8_secs,
                "{id} within 8 s"
            );
            assert_eq!(raw.voicemail, client.calls_to_voicemail, "{id} voicemail");
            assert_eq!(raw.abandoned, client.calls_abandoned, "{id} abandoned");
            assert_eq!(
                raw.longest_wait_ms,
                Some(u64::from(client.longest_wait_secs) * 1000),
                "{id} longest wait"
            );
        }
    }
}
