//! `opsledger demo`: the README's first command. Creates a ledger on the embedded default,
//! records a realistic month of operations for five clients (generated and recorded by
//! `opsledger_tools::demo`), brings the projections up to date, prints each client's service
//! levels and obligations, writes the HTML and JSON reports, verifies the chain and exports an
//! evidence bundle that is then verified offline.

use std::path::PathBuf;

use anyhow::Context;
use chrono::Datelike;
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use opsledger_app::access::{DeskLedger, DeskRole};
use opsledger_app::project::{self, Start};
use opsledger_app::store::{PositionRange, VerifyReport};
use opsledger_app::{SystemClock, Target};
use opsledger_projections::{AsOf, YearMonth};
use opsledger_tools::demo::{self, DemoLedger};
use opsledger_tools::demo_data::{self, DemoScale};

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

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let ledger = demo::ledger_path(&args.out);
    println!("opsledger demo: ledger {}", ledger.display());
    let DemoLedger {
        store,
        month,
        recording,
    } = demo::record_month(
        &args.out,
        args.seed,
        DemoScale {
            calls_per_client_per_day: args.calls_per_client_per_day,
        },
        &Bar::new("  recording {bar:40} {pos}/{len} events"),
    )
    .await?;
    println!(
        "recorded {} events in {:.2} s, every fact decided by the domain",
        month.events.len(),
        recording.as_secs_f64(),
    );
    println!("{}", month.summary_text());

    let done = project::catch_up(&store, Start::Checkpoint, &Bar::projecting()).await?;
    println!(
        "read model: {} events derived into per-client fact rows, checkpoint {}",
        done.applied, done.next_position
    );

    let month_start = demo_data::demo_month_start();
    let ym = YearMonth::new(month_start.year(), month_start.month()).context("a valid month")?;
    // Judge the month as its reports would be read: ten days into the next month, after the
    // 5th/7th-business-day report deadlines, not at whatever today is.
    let evaluated_at = demo::evaluation_instant(ym)?;
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
        let projections = project::client_view(&store, &client.client_id, None).await?;
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
        let profile = projections.client_profile(&client.client_id, AsOf::Head, sla.period.from)?;
        let provenance = opsledger_app::report::provenance(
            &store,
            &projections,
            opsledger_app::report::ReportRequest {
                report: "sla".to_owned(),
                client: client.client_id.as_str().to_owned(),
                month: Some(ym),
                as_of: AsOf::Head,
                evaluated_at,
            },
        )
        .await?;
        std::fs::write(
            base.with_extension("sla.html"),
            opsledger_views::sla_page(&sla, &obligations, &profile, &provenance),
        )?;
        std::fs::write(
            base.with_extension("obligations.json"),
            serde_json::to_vec_pretty(&obligations)?,
        )?;
    }
    println!("\nservice levels for {ym} (raw figures; the HTML reports also show them under normal operating conditions):\n{table}");
    desk_users(&args.out, &ledger, &target, &month).await?;

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
    // The same instant as the table above, so the next command shows the same verdicts
    // whatever today's date is.
    println!(
        "next: opsledger --ledger {} report obligations --client {} --month {ym} --evaluated-at {}",
        ledger.display(),
        month.clients.first().map_or("…", |c| c.client_id.as_str()),
        evaluated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    Ok(())
}

/// Adds the demo's desk users (an auditor, and a client reader of the client whose dispute the
/// demo exports) with fresh random passwords, writes them beside the ledger for
/// `opsledger serve` to print, and says how to try the desk.
async fn desk_users(
    out: &std::path::Path,
    ledger: &std::path::Path,
    target: &Target,
    month: &demo_data::DemoMonth,
) -> anyhow::Result<()> {
    let password = || -> anyhow::Result<String> {
        // 16 hex digits: 64 random bits, short enough to type.
        let secret = opsledger_app::access::secrets::new_session_secret()?;
        Ok(secret.chars().take(16).collect())
    };
    let Some(client) = month
        .clients
        .iter()
        .find(|c| c.client_id.as_str().contains("northwind"))
        .or(month.clients.first())
    else {
        return Ok(());
    };
    let desk = DeskLedger::open(target).await?;
    let reader = format!("reader_{}", client.client_id.as_str().replace('-', "_"));
    let (auditor_password, reader_password) = (password()?, password()?);
    desk.add_user(
        "auditor",
        DeskRole::Auditor,
        &auditor_password,
        &SystemClock,
    )
    .await?;
    desk.add_user(
        &reader,
        DeskRole::ClientReader(client.client_id.clone()),
        &reader_password,
        &SystemClock,
    )
    .await?;
    let credentials = format!(
        "user auditor, password {auditor_password}: auditor, reads every client and the access log\n\
         user {reader}, password {reader_password}: client reader of {}, reads that client only\n",
        client.client_id
    );
    let file = out.join(demo::DESK_CREDENTIALS_FILE);
    std::fs::write(&file, &credentials).with_context(|| format!("writing {}", file.display()))?;
    println!(
        "\ndesk users (also in {}):\n{credentials}try the desk: opsledger serve --ledger {}",
        file.display(),
        ledger.display()
    );
    Ok(())
}
