//! `opsledger user`, `opsledger token` and `opsledger access-log`: the desk's users and bearer
//! tokens, and the read audit, converted into `opsledger_app::access` calls.

use std::io::{BufRead, Write};

use clap::{Args, Subcommand, ValueEnum};
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use opsledger_app::access::{self, AccessLogQuery, DeskLedger, DeskRole};
use opsledger_app::store::VerifyReport;
use opsledger_app::{AppError, SystemClock, Target};
use opsledger_domain::ids::ClientId;

use crate::render;
use crate::Usage;

/// The environment variable a script sets to give a new user's password without a prompt.
pub const PASSWORD_ENV: &str = "OPSLEDGER_DESK_PASSWORD";

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a desk user. The password comes from standard input (--password-stdin) or from
    /// the OPSLEDGER_DESK_PASSWORD environment variable; it is stored only as an argon2id hash.
    Add(UserAddArgs),
    /// Disable a desk user: its tokens and sessions stop working; it stays in the access log.
    Disable {
        /// The user's name.
        name: String,
    },
    /// List the desk users with their role, client and state.
    List,
}

/// A desk role as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RoleArg {
    /// Reads every client, and the access log.
    Auditor,
    /// Reads one client (--client).
    ClientReader,
    /// Reads every client and the operations views.
    Operator,
}

#[derive(Debug, Args)]
struct UserAddArgs {
    /// The user's name: 1-63 of a-z, 0-9 and '_', not starting with a digit (on PostgreSQL a
    /// client reader also gets a database role of this name).
    name: String,
    /// What the user may see.
    #[arg(long, value_enum)]
    role: RoleArg,
    /// The one client a client reader may see (required for it, refused for the others).
    #[arg(long)]
    client: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a bearer token for a user and print it, once: only its hash is kept.
    Create {
        /// The user the token acts as.
        user: String,
    },
    /// Revoke a token by its id (the 16 hex digits after `olt_`).
    Revoke {
        /// The token's id.
        id: String,
    },
}

/// How `access-log` prints entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct AccessLogArgs {
    /// Only reads of this client.
    #[arg(long)]
    client: Option<String>,
    /// Only reads by this user.
    #[arg(long)]
    user: Option<String>,
    /// The first entry to show (its sequence number).
    #[arg(long, default_value_t = 0)]
    from_seq: u64,
    /// At most this many entries.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    /// Output: a table or JSON (`{"entries": [...]}`).
    #[arg(long, value_enum, default_value = "table")]
    format: LogFormat,
    /// Walk the access log's hash chain instead; exits with status 3 and names the first bad
    /// entry if it breaks.
    #[arg(long, conflicts_with_all = ["client", "user", "from_seq", "limit", "format"])]
    verify: bool,
}

fn client_id(raw: &str) -> anyhow::Result<ClientId> {
    ClientId::new(raw).map_err(|error| {
        AppError::InvalidClient {
            given: raw.to_owned(),
            error,
        }
        .into()
    })
}

/// The new user's password: standard input's first line, or the environment variable.
fn password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    std::env::var(PASSWORD_ENV).map_err(|_| {
        Usage(format!(
            "give the password on standard input with --password-stdin, or in {PASSWORD_ENV}"
        ))
        .into()
    })
}

pub async fn user(target: &Target, args: UserArgs) -> anyhow::Result<()> {
    let ledger = DeskLedger::open(target).await?;
    match args.command {
        UserCommand::Add(add) => {
            let role = match (add.role, add.client.as_deref()) {
                (RoleArg::Auditor, None) => DeskRole::Auditor,
                (RoleArg::Operator, None) => DeskRole::Operator,
                (RoleArg::ClientReader, Some(client)) => DeskRole::ClientReader(client_id(client)?),
                (RoleArg::ClientReader, None) => {
                    return Err(Usage("a client reader needs --client ID".to_owned()).into())
                }
                (RoleArg::Auditor | RoleArg::Operator, Some(_)) => {
                    return Err(Usage(
                        "--client is for client readers; auditors and operators read every client"
                            .to_owned(),
                    )
                    .into())
                }
            };
            let password = password(add.password_stdin)?;
            let described = match role.client() {
                Some(client) => format!("client reader of {client}"),
                None => role.name().to_owned(),
            };
            ledger
                .add_user(&add.name, role, &password, &SystemClock)
                .await?;
            println!("added desk user {} ({described})", add.name);
        }
        UserCommand::Disable { name } => {
            access::disable_user(ledger.desk(), &name, &SystemClock).await?;
            println!("disabled desk user {name}");
        }
        UserCommand::List => {
            let mut table = Table::new();
            table
                .load_preset(UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_header(["user", "role", "client", "created", "disabled"]);
            for u in ledger.desk().users().await.map_err(AppError::Store)? {
                table.add_row([
                    u.name,
                    u.role,
                    u.client_id.unwrap_or_default(),
                    render::utc_time(u.created_at),
                    u.disabled_at.map(render::utc_time).unwrap_or_default(),
                ]);
            }
            println!("{table}");
        }
    }
    Ok(())
}

pub async fn token(target: &Target, args: TokenArgs) -> anyhow::Result<()> {
    let ledger = DeskLedger::open(target).await?;
    match args.command {
        TokenCommand::Create { user } => {
            let issued = access::create_token(ledger.desk(), &user, &SystemClock).await?;
            // The secret is printed here once and exists nowhere else: only its hash is kept.
            println!("{}", issued.bearer);
            eprintln!(
                "token {} for {}: keep it now, it cannot be shown again (revoke with `opsledger token revoke {}`)",
                issued.id, issued.user, issued.id
            );
        }
        TokenCommand::Revoke { id } => {
            access::revoke_token(ledger.desk(), &id, &SystemClock).await?;
            println!("revoked token {id}");
        }
    }
    Ok(())
}

pub async fn access_log(target: &Target, args: AccessLogArgs) -> anyhow::Result<()> {
    let ledger = DeskLedger::open(target).await?;
    if args.verify {
        let report = access::verify_access_log(ledger.desk()).await?;
        return match report {
            VerifyReport::Intact { events, head, .. } => {
                match head {
                    Some((seq, hash)) => {
                        println!("intact: {events} access-log entries, last {seq} hash {hash}")
                    }
                    None => println!("intact: the access log is empty"),
                }
                Ok(())
            }
            VerifyReport::Broken {
                position, reason, ..
            } => {
                println!("BROKEN at access-log entry {position}: {reason}");
                Err(AppError::ChainBroken {
                    position: Some(position),
                    reason: reason.to_string(),
                }
                .into())
            }
        };
    }
    let query = AccessLogQuery {
        client: args.client.as_deref().map(client_id).transpose()?,
        user: args.user,
        from_seq: args.from_seq,
        limit: args.limit,
    };
    let entries = access::access_log(ledger.desk(), &query).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        LogFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "entries": entries }))?;
            writeln!(out)?;
        }
        LogFormat::Table => {
            let mut table = Table::new();
            table
                .load_preset(UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_header(["#", "at", "user", "role", "client", "query", "rows"]);
            for e in &entries {
                table.add_row([
                    e.seq.to_string(),
                    render::utc_time(e.at),
                    e.user_name.clone(),
                    e.role.clone(),
                    e.client_id.clone().unwrap_or_else(|| "(all)".to_owned()),
                    render::cut(&e.query, render::CELL_CHARS),
                    e.rows.to_string(),
                ]);
            }
            writeln!(out, "{table}")?;
            let n = u64::try_from(entries.len()).unwrap_or(u64::MAX);
            writeln!(out, "{}", render::count(n, "entry", "entries"))?;
        }
    }
    out.flush()?;
    Ok(())
}
