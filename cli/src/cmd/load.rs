//! `opsledger load`: arguments for `opsledger_tools::load`, which runs, checks and prints.

use clap::Args;
use opsledger_app::Target;
use opsledger_tools::load::{self, LoadOptions};

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Concurrent writers, each appending one event at a time.
    #[arg(long, default_value_t = 32)]
    writers: u64,
    /// Seconds the writers run.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// When the PostgreSQL server is killed, in seconds from the start of the run. The kill and
    /// restart are done from outside (`scripts/load` does both); this only labels the report.
    #[arg(long)]
    kill_server_at: Option<u64>,
    /// Seconds after the run in which a writer may still retry its last event and the
    /// subscriber and projection may still catch up, before the tool gives up on them.
    #[arg(long, default_value_t = 120)]
    grace_secs: u64,
    /// A hot standby of the PostgreSQL primary: a reader follows the log there while the
    /// writers run, and its lag is reported per minute.
    #[arg(long, value_name = "URL")]
    standby_url: Option<String>,
    /// Write the per-minute throughput, p99 latency and memory as an SVG chart to this file.
    #[arg(long, value_name = "FILE")]
    svg: Option<std::path::PathBuf>,
}

pub async fn run(target: &Target, args: LoadArgs) -> anyhow::Result<()> {
    let options = LoadOptions {
        writers: args.writers,
        secs: args.secs,
        kill_server_at: args.kill_server_at,
        grace_secs: args.grace_secs,
        standby_url: args.standby_url,
        svg: args.svg,
    };
    load::run(target, options).await?;
    Ok(())
}
