//! The follower: one task that reads the log through the store's subscription for as long as
//! the server runs, brings the read model's rows up to each new head (as `report` does on
//! every run of the CLI) and tells the handlers and the head's event stream where the head is.
//!
//! Reports do not depend on it for being current: a client's view folds its rows plus the log
//! past their checkpoint. The follower keeps that tail short and moves the head pages watch.

use std::sync::Arc;
use std::time::Duration;

use opsledger_app::project::{self, Start};
use opsledger_app::store::{EventStore, Head};
use opsledger_app::NoProgress;
use tokio::sync::watch;

use crate::state::Reflects;

/// How long the follower waits before subscribing again after the store failed.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Follows the log from `next_position` until the task is aborted, publishing each new head.
pub async fn follow(store: Arc<dyn EventStore>, next_position: u64, head: watch::Sender<Reflects>) {
    let mut next = next_position;
    loop {
        let mut subscription = store.subscribe(next);
        loop {
            let page = match subscription.next_page().await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "following the log failed; subscribing again");
                    break;
                }
            };
            let Some(last) = page.last() else { continue };
            next = last.global_position + 1;
            // The rows are a cache of the log; failing to write them slows reports, it does
            // not make them wrong, so the head is published whatever happens here.
            if let Err(e) = project::catch_up(&store, Start::Checkpoint, &NoProgress).await {
                tracing::warn!(error = %e, "bringing the read model up to the head failed");
            }
            let reflects = Reflects::from(Some(&Head {
                position: last.global_position,
                hash: last.hash,
                recorded_at: last.recorded_at,
            }));
            head.send_replace(reflects);
        }
        tokio::time::sleep(RETRY_AFTER_FAILURE).await;
    }
}
