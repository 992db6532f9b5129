//! `opsledger bench-serve`: arguments for `opsledger_tools::serve_bench`, which plans, runs
//! and measures; this prints its table.

use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use opsledger_tools::serve_bench::{self, PlanOptions, RunOptions};

use crate::Usage;

/// The environment variable holding the bearer token, so that it need not appear in a
/// process listing.
pub const TOKEN_ENV: &str = "OPSLEDGER_BENCH_TOKEN";

#[derive(Debug, Args)]
pub struct BenchServeArgs {
    /// The server's base URL; only loopback (127.0.0.1, ::1, localhost) over http is accepted.
    #[arg(long)]
    url: String,
    /// The bearer token of a desk user who may read every client (an auditor); read from
    /// OPSLEDGER_BENCH_TOKEN when not given.
    #[arg(long, env = TOKEN_ENV, hide_env_values = true)]
    token: Option<String>,
    /// A month (YYYY-MM) whose sla, obligations and retention reports are asked for; repeat
    /// for several.
    #[arg(long = "month", required = true)]
    months: Vec<String>,
    /// How many of the clients the API lists are asked about.
    #[arg(long, default_value_t = 5)]
    report_clients: usize,
    /// How many obligation ids of the first obligations report are explained.
    #[arg(long, default_value_t = 20)]
    explain_ids: usize,
    /// Judge pending deadlines at this instant (RFC 3339) in every request; the server's clock
    /// when not given.
    #[arg(long)]
    evaluated_at: Option<DateTime<Utc>>,
    /// Concurrent clients, each with one request in flight.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Seconds during which requests are started.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// Seconds after which a request is abandoned and counted as an error.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    /// The server's process id: its resident memory is sampled during the run (Linux /proc).
    #[arg(long)]
    server_pid: Option<u32>,
}

pub async fn run(args: BenchServeArgs) -> anyhow::Result<()> {
    let Some(token) = args.token else {
        return Err(Usage(format!(
            "give the bearer token with --token or in {TOKEN_ENV}"
        ))
        .into());
    };
    let plan = serve_bench::plan(&PlanOptions {
        base: args.url,
        token: token.clone(),
        months: args.months,
        report_clients: args.report_clients,
        explain_ids: args.explain_ids,
        evaluated_at: args.evaluated_at,
    })
    .await?;
    eprintln!(
        "bench-serve: {} requests planned; {} clients for {} s ...",
        plan.len(),
        args.clients,
        args.secs
    );
    let figures = serve_bench::run(
        &plan,
        &RunOptions {
            token,
            concurrency: args.clients,
            duration: Duration::from_secs(args.secs),
            request_timeout: Duration::from_secs(args.timeout_secs),
            server_pid: args.server_pid,
        },
    )
    .await?;
    print!("{}", figures.table());
    Ok(())
}
