//! `opsledger record`: arguments, reading the commands' input, and the summary of what
//! `opsledger_app::record` recorded.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use opsledger_app::{record, NoProgress, Target};

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// NDJSON of commands, `{"command": "onboard", "args": {…}}` per line (optionally with an
    /// `"event_id"` for idempotent reruns); `-` or absent reads standard input.
    #[arg(long, short)]
    file: Option<PathBuf>,
    /// Record what the domain accepts and report refusals, instead of stopping at the first.
    #[arg(long)]
    skip_refused: bool,
}

pub async fn run(target: &Target, args: RecordArgs) -> anyhow::Result<()> {
    let (name, reader): (String, Box<dyn BufRead>) = match &args.file {
        Some(p) if p.as_os_str() != "-" => (
            p.display().to_string(),
            Box::new(std::io::BufReader::new(
                std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?,
            )),
        ),
        _ => ("<stdin>".into(), Box::new(std::io::stdin().lock())),
    };
    let facts = record::read_commands(&name, reader)?;
    let store = target.open().await?;
    let metadata = record::metadata("opsledger-record", &crate::actor());
    let done = record::record(&store, facts, &metadata, args.skip_refused, &NoProgress).await?;
    println!(
        "recorded {} events ({} already recorded, {} unchanged, {} refused)",
        done.appended,
        done.already_recorded,
        done.unchanged,
        done.refused.len()
    );
    for r in &done.refused {
        eprintln!("  {r}");
    }
    Ok(())
}
