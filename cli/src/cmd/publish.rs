//! `opsledger publish`: arguments and the summary of what `opsledger_app::publish` published.

use chrono::{DateTime, Utc};
use clap::Args;
use opsledger_app::{SystemClock, Target};

use crate::progress::Bar;

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The instant pending deadlines are judged at (default: now).
    #[arg(long)]
    evaluated_at: Option<DateTime<Utc>>,
}

pub async fn run(target: &Target, args: PublishArgs) -> anyhow::Result<()> {
    let published = opsledger_app::publish::publish(
        target,
        args.evaluated_at,
        &SystemClock,
        &Bar::projecting(),
    )
    .await?;
    println!(
        "published {} read models for {} clients at checkpoint {}",
        published.read_models, published.clients, published.checkpoint
    );
    Ok(())
}
