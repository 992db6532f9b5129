//! `opsledger bench`: arguments for `opsledger_tools::bench`, which measures and prints.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use opsledger_app::{Clock, SystemClock};
use opsledger_tools::bench::{self, BenchOptions};

use crate::progress::Bar;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Embedded,
    Postgres,
    All,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which backends to measure (PostgreSQL needs --database-url; `scripts/bench` starts one).
    #[arg(long, value_enum, default_value = "all")]
    backend: Backend,
    /// Events in the bulk append.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Clients the bulk append deals its calls to in turn (`bench00`, `bench01` …).
    #[arg(long, default_value_t = bench::Workload::DEFAULT_CLIENTS,
          value_parser = clap::value_parser!(u64).range(1..))]
    clients: u64,
    /// Events per bulk append call.
    #[arg(long, default_value_t = 1000)]
    batch: u64,
    /// Concurrent writers in the single-append test.
    #[arg(long, default_value_t = 16)]
    writers: u64,
    /// Seconds the concurrent writers run in all; on PostgreSQL they run in three rounds, each
    /// followed by a round of pgbench as long.
    #[arg(long, default_value_t = 15)]
    concurrent_secs: u64,
    /// On PostgreSQL, skip the yardsticks (a plain COPY of the same rows, pgbench single-row
    /// inserts), e.g. when the run only builds a ledger for `scripts/bench-read-models`.
    #[arg(long)]
    no_yardsticks: bool,
    /// Directory for the embedded ledger file (deleted and recreated).
    #[arg(long, default_value = "target/bench")]
    dir: PathBuf,
}

pub async fn run(args: BenchArgs, database_url: Option<&str>) -> anyhow::Result<()> {
    let options = BenchOptions {
        backend: match args.backend {
            Backend::Embedded => bench::Backend::Embedded,
            Backend::Postgres => bench::Backend::Postgres,
            Backend::All => bench::Backend::All,
        },
        events: args.events,
        workload: bench::Workload::new(args.clients)?,
        batch: args.batch,
        writers: args.writers,
        concurrent_secs: args.concurrent_secs,
        yardsticks: !args.no_yardsticks,
        dir: args.dir,
        evaluated_at: SystemClock.now(),
    };
    let progress = Bar::new("  {bar:40} {pos}/{len} {per_sec}");
    bench::run(options, database_url, &progress).await?;
    Ok(())
}
