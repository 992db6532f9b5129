//! `opsledger serve`: the desk over HTTP (`opsledger_server`), listening until Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;
use opsledger_app::{SystemClock, Target};
use opsledger_server::{Limits, ServeConfig};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on (port 0: any free port, printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Mark the session cookie Secure: set it when a TLS-terminating proxy serves the desk
    /// (browsers drop a Secure cookie over plain HTTP).
    #[arg(long)]
    secure_cookies: bool,
}

pub async fn run(target: &Target, args: ServeArgs) -> anyhow::Result<()> {
    let running = opsledger_server::start(ServeConfig {
        target: target.clone(),
        listen: args.listen,
        clock: Arc::new(SystemClock),
        limits: Limits::default(),
        secure_cookies: args.secure_cookies,
    })
    .await?;
    let url = running.url();
    println!("opsledger serve: {} at {url}/", target.describe());
    println!("  log in at {url}/login; the API is described at {url}/api/v1/openapi.json");
    println!(
        "  users and tokens: `opsledger user add`, `opsledger token create`; stop with Ctrl-C"
    );
    if let Target::File(path) = target {
        // A demo ledger's users, as `opsledger demo` wrote them beside it.
        let credentials = path.with_file_name(opsledger_tools::demo::DESK_CREDENTIALS_FILE);
        if let Ok(text) = std::fs::read_to_string(&credentials) {
            println!("  demo credentials ({}):", credentials.display());
            for line in text.lines() {
                println!("    {line}");
            }
        }
    }
    running
        .until(async {
            // Without a signal handler the server runs until killed, which also stops it.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await?;
    Ok(())
}
