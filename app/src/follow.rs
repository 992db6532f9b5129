//! The follower: one long-lived task that reads the log through the store's subscription,
//! brings the read model's rows up to each new head and tells its owner where the head is.
//!
//! Any front end that stays up (the desk's server today) runs it, so that what it serves
//! folds a short tail past the rows' checkpoint, not everything since the process started.
//! Reports do not depend on it for being correct: a client's view folds its rows plus the log
//! past their checkpoint.

use std::sync::Arc;
use std::time::Duration;

use opsledger_store::{EventStore, Head, StoreError};

use crate::error::AppError;
use crate::progress::NoProgress;
use crate::project::{self, Start};

/// How long the follower waits before subscribing again after the store failed.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// What went wrong while following; the follower goes on after each.
#[derive(Debug)]
pub enum FollowFailure {
    /// Reading the log failed; the follower subscribes again after [`RETRY_AFTER_FAILURE`].
    Subscription(StoreError),
    /// Writing the read model's rows failed; the head is published anyway, because the rows
    /// are a cache of the log: failing to write them slows reports, it does not make them wrong.
    CatchUp(AppError),
}

/// Follows the log from `next_position` until the task is aborted. After each page of new
/// events it catches the read model up and calls `on_head` with the last event's head;
/// `on_failure` hears of every failure (the owner decides whether and how to log it).
pub async fn follow(
    store: Arc<dyn EventStore>,
    next_position: u64,
    mut on_head: impl FnMut(Head) + Send,
    on_failure: impl Fn(FollowFailure) + Send,
) {
    let mut next = next_position;
    loop {
        let mut subscription = store.subscribe(next);
        loop {
            let page = match subscription.next_page().await {
                Ok(page) => page,
                Err(e) => {
                    on_failure(FollowFailure::Subscription(e));
                    break;
                }
            };
            let Some(last) = page.last() else { continue };
            next = last.global_position + 1;
            if let Err(e) = project::catch_up(&store, Start::Checkpoint, &NoProgress).await {
                on_failure(FollowFailure::CatchUp(e));
            }
            on_head(Head {
                position: last.global_position,
                hash: last.hash,
                recorded_at: last.recorded_at,
            });
        }
        tokio::time::sleep(RETRY_AFTER_FAILURE).await;
    }
}
