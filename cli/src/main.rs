//! The `opsledger` command line: argument parsing, wiring, and the one place errors become
//! exit codes.

mod cmd;
mod commands;
mod html;
mod progress;
mod render;
mod tables;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use opsledger_app::store::StoreError;
use opsledger_app::{Actor, AppError, Target};
use opsledger_server::ServerError;
use opsledger_tools::ToolError;

use crate::cmd::{
    bench, bench_serve, clients, demo, desk, explain, export, import, load, publish, record,
    report, retention, serve, timeline,
};

/// opsledger: the event-sourced operations ledger of an inbound call-center and dispatch agency.
#[derive(Debug, Parser)]
#[command(version, long_about = None)]
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
    /// Open the ledger without migrating or writing (auditors, read-only database roles), for
    /// the commands that only read: events, clients, head, verify, export, timeline, report
    /// (which then computes projections in memory without saving them). Refused for the others.
    #[arg(long)]
    read_only: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new, empty ledger (fails if the file exists).
    Init,
    /// Append events given as NDJSON envelopes, from a file or standard input, in one atomic batch.
    Append(commands::AppendArgs),
    /// Query the log as recorded, filtered: JSON lines (default), a JSON document, a table or
    /// CSV; says so when --limit cuts the answer.
    Events(commands::EventsArgs),
    /// List the clients: id, name, time zone, plan, standing, first and last event.
    Clients(clients::ClientsArgs),
    /// Print the head: last position and its hash.
    Head,
    /// Walk the hash chain; exits with status 3 and names the first bad position if it breaks.
    Verify(commands::VerifyArgs),
    /// Write an evidence bundle: the selected events, and the proof that they sit in the chain
    /// up to a head, with every other event in between given by digest only.
    Export(export::ExportArgs),
    /// Import call records: Asterisk queue_log, Asterisk CDR CSV, or any CSV with a mapping;
    /// rows already recorded are recognised and not appended twice.
    Import(import::ImportArgs),
    /// Record facts as domain commands (NDJSON), decided against the ledger's state: a refusal
    /// names the rule and nothing of the file is appended.
    Record(record::RecordArgs),
    /// The whole story of one stream (a call, escalation, invoice or client) with the
    /// obligations it opened, their verdicts and the rule values in force.
    Timeline(timeline::TimelineArgs),
    /// The dispute view of one call, escalation, invoice or obligation: the rule, the value in
    /// force and the record that set it, clock start, due, verdict and by how much, excused
    /// windows, and the events that prove it with occurred and recorded times.
    Explain(explain::ExplainArgs),
    /// Reports from the projections, as of a position or an instant: sla, obligations,
    /// retention, billing; as a table, JSON, CSV or (sla, obligations, billing) a
    /// self-contained HTML page.
    Report(report::ReportArgs),
    /// Retention duties: `apply` destroys the data keys of clients whose R-RET-2 deletion
    /// deadline has passed (unless a legal hold applies) and records each deletion.
    Retention(retention::RetentionArgs),
    /// Publish each client's reports as its own read models (on PostgreSQL, readable by that
    /// client's readers only).
    Publish(publish::PublishArgs),
    /// Serve the desk over HTTP: a read-only JSON API under /api/v1 and pages for auditors and
    /// client readers (login by token or password), following the log live; every read is
    /// recorded in the access log.
    Serve(serve::ServeArgs),
    /// Rebuild the projections from position 0 (to a point in history with --as-of-position).
    Replay(report::ReplayArgs),
    /// Record a realistic month of operations for five clients into a fresh demo ledger, then
    /// report, verify and export it (the first command to try).
    Demo(demo::DemoArgs),
    /// Measure append, read and verify throughput on each backend.
    Bench(bench::BenchArgs),
    /// Sustained load: concurrent single appends with a live subscriber and projection, then
    /// checks that every acknowledged event is recorded once, in order, in a verifying chain.
    Load(load::LoadArgs),
    /// Load the desk's JSON API (`opsledger serve`, on loopback only) with concurrent clients
    /// asking for reports and dispute views; prints per-route counts, errors, p50/p99/max
    /// latency, requests/s and the server's memory as a markdown table.
    BenchServe(bench_serve::BenchServeArgs),
    /// Desk users (`opsledger serve`): add (auditor, client reader of one client, operator),
    /// disable, list.
    User(desk::UserArgs),
    /// Desk bearer tokens: create (the secret is printed once; only its hash is kept), revoke.
    Token(desk::TokenArgs),
    /// The read audit: who read which client's data, with which request, and how many rows;
    /// `--verify` walks its hash chain.
    AccessLog(desk::AccessLogArgs),
}

/// Exit statuses, in one place. Scripts rely on them; never renumber.
mod exit {
    pub const FAILURE: u8 = 1;
    /// The hash chain is broken or an evidence bundle does not verify.
    pub const CHAIN_BROKEN: u8 = 3;
    /// An expected-version conflict: re-read and retry.
    pub const CONFLICT: u8 = 4;
    /// The command was asked for something it cannot give as asked (a form that would lose
    /// data, a view that does not exist); nothing was done.
    pub const USAGE: u8 = 64;
    /// The input was refused (malformed file, invalid event); nothing was appended.
    pub const DATA_ERROR: u8 = 65;
    /// The ledger could not be reached or opened.
    pub const UNAVAILABLE: u8 = 69;
    /// The database role may not do this (or the ledger was opened read-only).
    pub const NO_PERMISSION: u8 = 77;
}

/// A request the command refuses as asked (exit status 64, as `sysexits.h`'s `EX_USAGE`):
/// the message says what to ask instead.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// The exit status of a failure: the first application or store error in its chain decides.
fn exit_code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.downcast_ref::<Usage>().is_some()
            || cause.downcast_ref::<html::NoHtmlView>().is_some()
        {
            return exit::USAGE;
        }
        if let Some(server) = cause.downcast_ref::<ServerError>() {
            return server_exit(server);
        }
        if let Some(tool) = cause.downcast_ref::<ToolError>() {
            return tool_exit(tool);
        }
        if let Some(app) = cause.downcast_ref::<AppError>() {
            return app_exit(app);
        }
        if let Some(store) = cause.downcast_ref::<StoreError>() {
            return store_exit(store);
        }
    }
    exit::FAILURE
}

/// Every application error's exit status. Exhaustive on purpose: a new kind of failure must
/// be given its status here.
fn app_exit(error: &AppError) -> u8 {
    match error {
        AppError::ChainBroken { .. } | AppError::NotDerived { .. } => exit::CHAIN_BROKEN,
        AppError::Store(store) | AppError::StoreWhile { source: store, .. } => store_exit(store),
        AppError::Input { .. } | AppError::Refused { .. } | AppError::UnreadableBundle { .. } => {
            exit::DATA_ERROR
        }
        // A ledger this build can open but not serve: its read model is a newer build's.
        AppError::NoLedger { .. } | AppError::ReadModelFromTheFuture { .. } => exit::UNAVAILABLE,
        // A desk user the ledger cannot identify, or one asking past its role.
        AppError::Unauthenticated { .. } | AppError::Forbidden { .. } => exit::NO_PERMISSION,
        AppError::KeyDestroyedDeletionNotRecorded { source, .. } => app_exit(source),
        // A bundle that could not be built because the store failed has the store's status.
        AppError::Bundle(bundle) => {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(bundle);
            while let Some(e) = cause {
                if let Some(store) = e.downcast_ref::<StoreError>() {
                    return store_exit(store);
                }
                cause = e.source();
            }
            exit::FAILURE
        }
        AppError::Io { .. }
        | AppError::InvalidRequest { .. }
        | AppError::InvalidClient { .. }
        | AppError::Crypto { .. }
        | AppError::NotJson { .. }
        | AppError::Decode { .. }
        | AppError::Apply { .. }
        | AppError::Fact(_)
        | AppError::Report(_)
        | AppError::Json(_)
        | AppError::Internal(_) => exit::FAILURE,
    }
}

/// The tools' errors' exit statuses: what the application layer or the store beneath them
/// says, otherwise a plain failure. Exhaustive, as [`app_exit`].
fn tool_exit(error: &ToolError) -> u8 {
    match error {
        ToolError::App(app) => app_exit(app),
        ToolError::Store(store) => store_exit(store),
        ToolError::Postgres(_)
        | ToolError::Demo(_)
        | ToolError::Io { .. }
        | ToolError::Invalid(_)
        | ToolError::CheckFailed(_)
        | ToolError::Panicked { .. }
        | ToolError::Apply(_)
        | ToolError::Report(_)
        | ToolError::Id(_)
        | ToolError::Histogram(_) => exit::FAILURE,
    }
}

/// The server's errors' exit statuses. Exhaustive, as [`app_exit`].
fn server_exit(error: &ServerError) -> u8 {
    match error {
        ServerError::Ledger(app) => app_exit(app),
        ServerError::Bind { .. } => exit::UNAVAILABLE,
        ServerError::Serve(_) => exit::FAILURE,
    }
}

/// The store's errors' exit statuses (the store's enum grows with its backends; what is not
/// named here is a plain failure).
fn store_exit(store: &StoreError) -> u8 {
    match store {
        StoreError::WrongExpectedVersion { .. } => exit::CONFLICT,
        StoreError::InvalidStreamId { .. }
        | StoreError::InvalidEvent { .. }
        | StoreError::EmptyAppend
        | StoreError::AppendTooLarge { .. }
        | StoreError::DuplicateEventId { .. }
        | StoreError::InvalidDeskField { .. }
        | StoreError::DeskUserExists { .. }
        | StoreError::DeskTokenExists { .. } => exit::DATA_ERROR,
        StoreError::ConnectionLost { .. }
        | StoreError::Unavailable(_)
        | StoreError::File { .. }
        | StoreError::SchemaFromTheFuture { .. } => exit::UNAVAILABLE,
        StoreError::PermissionDenied { .. } | StoreError::ReadOnly => exit::NO_PERMISSION,
        _ => exit::FAILURE,
    }
}

/// Whether the failure's finding was already printed (a broken chain is reported on standard
/// output, as the result of the check, not as an error).
fn already_reported(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<AppError>(),
        Some(AppError::ChainBroken { .. } | AppError::NotDerived { .. })
    )
}

/// The person running the command, recorded as the actor of what it appends.
pub fn actor() -> Actor {
    std::env::var("USER").map_or_else(|_| Actor::unknown(), Actor::named)
}

/// A reader that stopped reading (`opsledger events | head`) is not a failure. The write
/// error may come wrapped by the JSON or CSV writer, which do not expose it as a source.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .is_some_and(|json| json.io_error_kind() == Some(BrokenPipe))
            || cause.downcast_ref::<csv::Error>().is_some_and(
                |csv| matches!(csv.kind(), csv::ErrorKind::Io(io) if io.kind() == BrokenPipe),
            )
    })
}

/// `println!` panics when standard output is a pipe whose reader has gone
/// (`opsledger timeline … | head`). That is the reader's choice, not a failure: every command
/// then ends quietly with status 0, here in one place rather than in each command's prints.
fn end_quietly_when_the_reader_leaves() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.to_string();
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        report(info);
    }));
}

fn main() -> ExitCode {
    end_quietly_when_the_reader_leaves();
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
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            if !already_reported(&e) {
                eprintln!("opsledger: {e:#}");
            }
            ExitCode::from(exit_code(&e))
        }
    }
}

/// Whether a command only reads the ledger, so that `--read-only` can serve it.
fn only_reads(command: &Command) -> bool {
    match command {
        Command::Events(_)
        | Command::Clients(_)
        | Command::Head
        | Command::Verify(_)
        | Command::Export(_)
        | Command::Timeline(_)
        | Command::Explain(_)
        | Command::Report(_)
        | Command::AccessLog(_) => true,
        Command::Init
        | Command::Append(_)
        | Command::Import(_)
        | Command::Record(_)
        | Command::Retention(_)
        | Command::Publish(_)
        | Command::Serve(_)
        | Command::Replay(_)
        | Command::Demo(_)
        | Command::Bench(_)
        | Command::Load(_)
        | Command::BenchServe(_)
        | Command::User(_)
        | Command::Token(_) => false,
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.read_only && !only_reads(&cli.command) {
        return Err(Usage(
            "--read-only is for the commands that only read (events, clients, head, verify, \
             export, timeline, explain, report, access-log); this one writes"
                .to_owned(),
        )
        .into());
    }
    let target = Target::choose(&cli.ledger, cli.database_url.as_deref(), cli.read_only);
    match cli.command {
        Command::Init => commands::init(&target).await,
        Command::Append(args) => commands::append(&target, args).await,
        Command::Events(args) => commands::events(&target, args).await,
        Command::Clients(args) => clients::run(&target, args).await,
        Command::Head => commands::head(&target).await,
        Command::Verify(args) => commands::verify(&target, args).await,
        Command::Export(args) => export::export(&target, args).await,
        Command::Import(args) => import::run(&target, args).await,
        Command::Record(args) => record::run(&target, args).await,
        Command::Timeline(args) => timeline::run(&target, args).await,
        Command::Explain(args) => explain::run(&target, args).await,
        Command::Report(args) => report::run(&target, args).await,
        Command::Retention(args) => retention::run(&target, args).await,
        Command::Publish(args) => publish::run(&target, args).await,
        Command::Serve(args) => serve::run(&target, args).await,
        Command::Replay(args) => report::replay(&target, args).await,
        Command::Demo(args) => {
            // The demo always writes a fresh ledger file under --out; a database URL given
            // with it would otherwise be ignored in silence (issue 12, finding 10).
            if cli.database_url.is_some() {
                return Err(AppError::InvalidRequest {
                    what: "--database-url".to_owned(),
                    detail: "the demo writes a new ledger file under --out and never a database; run it without --database-url (or unset DATABASE_URL)".to_owned(),
                }
                .into());
            }
            demo::run(args).await
        }
        Command::Bench(args) => bench::run(args, cli.database_url.as_deref()).await,
        Command::Load(args) => load::run(&target, args).await,
        Command::BenchServe(args) => bench_serve::run(args).await,
        Command::User(args) => desk::user(&target, args).await,
        Command::Token(args) => desk::token(&target, args).await,
        Command::AccessLog(args) => desk::access_log(&target, args).await,
    }
}

#[cfg(test)]
mod arg_values;

#[cfg(test)]
mod tests {
    use opsledger_app::store::ExpectedVersion;
    use opsledger_app::Origin;
    use opsledger_domain::error::DomainError;

    use super::*;

    fn code(error: impl Into<anyhow::Error>) -> u8 {
        exit_code(&error.into())
    }

    /// Commands and arguments without a description, as `--help` would show them.
    fn undescribed(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if arg.is_hide_set() || id == "help" || id == "version" {
                continue;
            }
            if arg
                .get_help()
                .map_or(true, |h| h.to_string().trim().is_empty())
            {
                missing.push(format!("{path} <{id}>"));
            }
        }
        for sub in cmd.get_subcommands() {
            let sub_path = format!("{path} {}", sub.get_name());
            if sub
                .get_about()
                .map_or(true, |h| h.to_string().trim().is_empty())
            {
                missing.push(sub_path.clone());
            }
            undescribed(sub, &sub_path, missing);
        }
    }

    #[test]
    fn every_command_and_argument_says_what_it_is_for() {
        use clap::CommandFactory;
        let mut missing = Vec::new();
        undescribed(&Cli::command(), "opsledger", &mut missing);
        assert!(missing.is_empty(), "no description: {missing:#?}");
    }

    #[test]
    fn application_errors_keep_the_documented_exit_statuses() {
        let refused = AppError::refused(
            Origin::default(),
            DomainError::UnknownClient {
                client_id: "x".into(),
            },
        );
        assert_eq!(code(refused), exit::DATA_ERROR);
        assert_eq!(
            code(AppError::input(Origin::default(), Some("data"), "bad")),
            exit::DATA_ERROR
        );
        assert_eq!(
            code(AppError::NoLedger {
                path: "missing.ledger".into()
            }),
            exit::UNAVAILABLE
        );
        assert_eq!(
            code(AppError::ChainBroken {
                position: Some(3),
                reason: "hash mismatch".into()
            }),
            exit::CHAIN_BROKEN
        );
        let conflict = StoreError::WrongExpectedVersion {
            stream_id: "client-a".into(),
            expected: ExpectedVersion::NoStream,
            actual: "0".into(),
        };
        assert_eq!(
            code(AppError::store_while("appending", conflict)),
            exit::CONFLICT
        );
        assert_eq!(
            code(AppError::Store(StoreError::ReadOnly)),
            exit::NO_PERMISSION
        );
        assert_eq!(code(AppError::Internal("a bug".into())), exit::FAILURE);
        assert_eq!(
            code(AppError::ReadModelFromTheFuture { found: 9, known: 8 }),
            exit::UNAVAILABLE
        );
        assert_eq!(
            code(AppError::Unauthenticated {
                reason: opsledger_app::access::AuthFailure::TokenRevoked
            }),
            exit::NO_PERMISSION
        );
        assert_eq!(
            code(AppError::Forbidden {
                user: "cleo".into(),
                client: None
            }),
            exit::NO_PERMISSION
        );
        assert_eq!(
            code(AppError::Store(StoreError::DeskUserExists {
                name: "ann".into()
            })),
            exit::DATA_ERROR
        );
    }

    #[test]
    fn wrapped_errors_take_the_status_of_what_they_wrap() {
        let unrecorded = AppError::KeyDestroyedDeletionNotRecorded {
            client_id: "a".into(),
            source: Box::new(AppError::Store(StoreError::Unavailable("down".into()))),
        };
        assert_eq!(code(unrecorded), exit::UNAVAILABLE);
        let tool = ToolError::App(AppError::input(Origin::default(), None, "bad"));
        assert_eq!(code(tool), exit::DATA_ERROR);
        assert_eq!(
            code(ToolError::Store(StoreError::ReadOnly)),
            exit::NO_PERMISSION
        );
        let with_context =
            anyhow::Error::new(AppError::NoLedger { path: "x".into() }).context("while reporting");
        assert_eq!(exit_code(&with_context), exit::UNAVAILABLE);
        assert!(already_reported(&anyhow::Error::new(
            AppError::ChainBroken {
                position: None,
                reason: "r".into()
            }
        )));
    }
}
