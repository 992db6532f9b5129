//! The server's use of the application's follower ([`opsledger_app::follow`]): each head it
//! reaches is published to the handlers and the head's event stream, and its failures are
//! logged.

use std::sync::Arc;

use opsledger_app::follow::{self, FollowFailure};
use opsledger_app::store::EventStore;
use tokio::sync::watch;

use crate::state::Reflects;

/// Follows the log from `next_position` until the task is aborted, publishing each new head.
pub async fn follow(store: Arc<dyn EventStore>, next_position: u64, head: watch::Sender<Reflects>) {
    follow::follow(
        store,
        next_position,
        move |reached| {
            head.send_replace(Reflects::from(Some(&reached)));
        },
        |failure| match failure {
            FollowFailure::Subscription(e) => {
                tracing::warn!(error = %e, "following the log failed; subscribing again");
            }
            FollowFailure::CatchUp(e) => {
                tracing::warn!(error = %e, "bringing the read model up to the head failed");
            }
        },
    )
    .await;
}
