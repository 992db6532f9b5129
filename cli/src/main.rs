//! The `opsledger` command line: argument parsing, wiring, and the one place errors become
//! exit codes.

mod bench;
mod commands;
mod demo;
mod ledger;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// opsledger: the event-sourced operations ledger of an inbound call-center and dispatch agency.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// The embedded ledger file (the default backend).
    #[arg(
        long,
        global = true,
        default_value = "opsledger.ledger",
        env = "OPSLEDGER_LEDGER"
    )]
    ledger: PathBuf,
    /// A PostgreSQL connection string; when set, it is used instead of the ledger file.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new, empty ledger (fails if the file exists).
    Init,
    /// Append events given as NDJSON envelopes, from a file or standard input, in one atomic batch.
    Append(commands::AppendArgs),
    /// Query the log; prints JSON lines.
    Events(commands::EventsArgs),
    /// Print the head: last position and its hash.
    Head,
    /// Walk the hash chain; exits with status 3 and names the first bad position if it breaks.
    Verify(commands::VerifyArgs),
    /// Create a demo ledger, append a day of operations, read it back and verify it.
    Demo(demo::DemoArgs),
    /// Measure append, read and verify throughput on each backend.
    Bench(bench::BenchArgs),
}

/// Exit statuses, in one place. Scripts rely on them; never renumber.
mod exit {
    pub const FAILURE: u8 = 1;
    /// The hash chain is broken or an evidence bundle does not verify.
    pub const CHAIN_BROKEN: u8 = 3;
    /// An expected-version conflict: re-read and retry.
    pub const CONFLICT: u8 = 4;
    /// The input was refused (malformed file, invalid event); nothing was appended.
    pub const DATA_ERROR: u8 = 65;
    /// The ledger could not be reached or opened.
    pub const UNAVAILABLE: u8 = 69;
}

/// The chain walk found a break; the report was already printed.
#[derive(Debug)]
pub struct ChainBroken;

impl std::fmt::Display for ChainBroken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the hash chain is broken")
    }
}

impl std::error::Error for ChainBroken {}

fn exit_code(error: &anyhow::Error) -> u8 {
    use opsledger_store::StoreError;
    if error.downcast_ref::<ChainBroken>().is_some() {
        return exit::CHAIN_BROKEN;
    }
    for cause in error.chain() {
        if let Some(store) = cause.downcast_ref::<StoreError>() {
            return match store {
                StoreError::WrongExpectedVersion { .. } => exit::CONFLICT,
                StoreError::InvalidStreamId { .. }
                | StoreError::InvalidEvent { .. }
                | StoreError::EmptyAppend
                | StoreError::AppendTooLarge { .. }
                | StoreError::DuplicateEventId { .. } => exit::DATA_ERROR,
                StoreError::ConnectionLost { .. }
                | StoreError::Unavailable(_)
                | StoreError::File { .. }
                | StoreError::SchemaFromTheFuture { .. } => exit::UNAVAILABLE,
                _ => exit::FAILURE,
            };
        }
        if cause.downcast_ref::<commands::InputError>().is_some() {
            return exit::DATA_ERROR;
        }
    }
    exit::FAILURE
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("opsledger: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.downcast_ref::<ChainBroken>().is_none() {
                eprintln!("opsledger: {e:#}");
            }
            ExitCode::from(exit_code(&e))
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let target = ledger::Target::from_args(&cli.ledger, cli.database_url.as_deref());
    match cli.command {
        Command::Init => commands::init(&target).await,
        Command::Append(args) => commands::append(&target, args).await,
        Command::Events(args) => commands::events(&target, args).await,
        Command::Head => commands::head(&target).await,
        Command::Verify(args) => commands::verify(&target, args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Bench(args) => bench::run(args, cli.database_url.as_deref()).await,
    }
}
