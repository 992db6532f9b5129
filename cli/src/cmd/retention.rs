//! `opsledger retention apply`: arguments and the list of what
//! `opsledger_app::retention::apply` did or would do.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use opsledger_app::{Clock, SystemClock, Target};

use crate::progress::Bar;

#[derive(Debug, Args)]
pub struct RetentionArgs {
    #[command(subcommand)]
    action: RetentionAction,
}

#[derive(Debug, Subcommand)]
enum RetentionAction {
    /// Destroy the data keys of clients whose deletion deadline has passed and no legal hold
    /// applies, and record each deletion. Safe to run repeatedly (e.g. daily from a scheduler).
    Apply(ApplyArgs),
}

#[derive(Debug, Args)]
struct ApplyArgs {
    /// List what would be done and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// The instant deadlines are judged at and deletions are recorded at (default: now).
    #[arg(long)]
    as_of: Option<DateTime<Utc>>,
}

pub async fn run(target: &Target, args: RetentionArgs) -> anyhow::Result<()> {
    let RetentionAction::Apply(args) = args.action;
    let store = target.open().await?;
    let evaluated_at = args.as_of.unwrap_or_else(|| SystemClock.now());
    let actions = opsledger_app::retention::apply(
        &store,
        evaluated_at,
        args.dry_run,
        &crate::actor(),
        &Bar::projecting(),
    )
    .await?;
    if actions.is_empty() {
        println!(
            "nothing to do at {evaluated_at}: no client's deletion deadline has passed with its data still readable"
        );
        return Ok(());
    }
    if args.dry_run {
        println!("dry run at {evaluated_at}: nothing was changed");
    }
    for action in &actions {
        println!("{action}");
    }
    let failed = actions.iter().filter(|a| a.failed()).count();
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} clients failed (listed above); the others were handled, and a rerun retries the failed ones",
            actions.len()
        );
    }
    Ok(())
}
