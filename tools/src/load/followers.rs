//! The load's readers beside the writers: the subscriber (every event once, in order, kept as
//! a running digest), the projection follower (the read model's rows at the head, through
//! `project::catch_up`) and the reader on a hot standby. Each keeps constant memory however
//! long the run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use opsledger_app::project::{self, Start};
use opsledger_app::store::{EventStore, StoreError};
use opsledger_app::{Progress, Target};

use super::checks::LogDigest;
use super::{Shared, FOLLOWER_RETRY_PAUSE, READ_PAGE, SAMPLE_EVERY};

/// What the subscriber saw.
#[derive(Debug, Default)]
pub(super) struct SubscriberReport {
    /// The digest of the (position, event id) sequence delivered, in delivery order.
    pub(super) delivered: LogDigest,
    /// Failed reads (retried).
    pub(super) errors: u64,
    /// The first delivery out of position order, if any.
    pub(super) disorder: Option<String>,
}

impl SubscriberReport {
    /// Takes in one delivered event: its position must be the one after the last delivered.
    pub(super) fn record_delivery(&mut self, position: u64, id: uuid::Uuid) {
        let expected = self.delivered.events();
        if position != expected && self.disorder.is_none() {
            self.disorder = Some(format!("expected position {expected}, got {position}"));
        }
        self.delivered.push(position, id);
    }
}

/// Follows the log from position 0 until the followers are told to stop.
pub(super) async fn subscriber(
    store: Arc<dyn EventStore>,
    shared: Arc<Shared>,
) -> SubscriberReport {
    let mut report = SubscriberReport::default();
    let mut subscription = store.subscribe(0);
    while !shared.followers_should_stop(subscription.next_position()) {
        // Dropping `next_page` on timeout is safe: it moves its position only after a read
        // has returned, so an abandoned wait loses nothing.
        match tokio::time::timeout(SAMPLE_EVERY, subscription.next_page()).await {
            Err(_) => {}
            Ok(Err(e)) => {
                report.errors += 1;
                if matches!(e, StoreError::Gap { .. }) && report.disorder.is_none() {
                    report.disorder = Some(e.to_string());
                }
                tokio::time::sleep(FOLLOWER_RETRY_PAUSE).await;
            }
            Ok(Ok(page)) => {
                for event in page {
                    report.record_delivery(event.global_position, event.event_id);
                }
                shared
                    .subscriber_next
                    .store(subscription.next_position(), Ordering::Relaxed);
            }
        }
    }
    report
}

/// What the projection follower did.
#[derive(Debug, Default)]
pub(super) struct ProjectionReport {
    /// Catch-ups that failed (retried).
    pub(super) errors: u64,
    /// The last failure, named by the check when the stored checkpoint falls short of the head.
    pub(super) last_failure: Option<String>,
}

/// Publishes each page a catch-up commits as the projection's checkpoint, so the sampler sees
/// the projection move during a long catch-up, not only when it returns.
#[derive(Debug)]
struct CheckpointProgress<'a> {
    next: &'a AtomicU64,
}

impl Progress for CheckpointProgress<'_> {
    fn start(&self, _total: u64) {}

    fn advance(&self, n: u64) {
        self.next.fetch_add(n, Ordering::Relaxed);
    }

    fn finish(&self) {}
}

/// Keeps the read model's rows at the head while the writers run, as the server's follower
/// does: each round writes the rows of the log past the stored checkpoint with it, so this
/// process holds a few pages at a time, never the projected history. The workload's personal
/// fields are placeholders, not ciphertexts; `catch_up` withholds personal fields without
/// touching a key, so they are never opened. The onboarding events are ordinary
/// `client.onboarded` events and become rows like any other.
pub(super) async fn projection(
    store: Arc<dyn EventStore>,
    shared: Arc<Shared>,
) -> ProjectionReport {
    let mut report = ProjectionReport::default();
    let progress = CheckpointProgress {
        next: &shared.projection_next,
    };
    while !shared.followers_should_stop(shared.projection_next.load(Ordering::Relaxed)) {
        match project::catch_up(&store, Start::Checkpoint, &progress).await {
            Ok(caught_up) => {
                shared
                    .projection_next
                    .store(caught_up.next_position, Ordering::Relaxed);
                if !caught_up.persisted {
                    report.last_failure =
                        Some("this ledger handle may not write read-model rows".to_owned());
                }
                // At the head: wait for the writers rather than asking for it again at once.
                if caught_up.applied == 0 {
                    tokio::time::sleep(FOLLOWER_RETRY_PAUSE).await;
                }
            }
            Err(e) => {
                report.errors += 1;
                report.last_failure = Some(e.to_string());
                tokio::time::sleep(FOLLOWER_RETRY_PAUSE).await;
            }
        }
    }
    report
}

/// What the reader on the standby did.
#[derive(Debug, Default)]
pub(super) struct StandbyReport {
    /// Events read, in position order.
    pub(super) events: u64,
    /// Failed connects or reads (retried).
    pub(super) errors: u64,
}

/// Follows the log on a hot standby while the writers run, as a reporting job there would,
/// and records how far behind the acknowledged head it is at every read.
pub(super) async fn standby_reader(url: String, shared: Arc<Shared>) -> StandbyReport {
    let mut report = StandbyReport::default();
    let target = Target::PostgresReadOnly(url);
    let mut store = None;
    let mut next = 0u64;
    while !shared.stop_sampling.load(Ordering::Relaxed) {
        let Some(standby) = store.as_ref() else {
            match target.open().await {
                Ok(opened) => store = Some(opened),
                Err(_) => {
                    report.errors += 1;
                    tokio::time::sleep(FOLLOWER_RETRY_PAUSE).await;
                }
            }
            continue;
        };
        match standby.read_all(next, READ_PAGE).await {
            Ok(page) => {
                if let Some(last) = page.last() {
                    next = last.global_position.saturating_add(1);
                    report.events += u64::try_from(page.len()).unwrap_or(u64::MAX);
                }
                let head = shared.acked_next.load(Ordering::Relaxed);
                shared
                    .minutes
                    .standby(shared.elapsed_ms(), head.saturating_sub(next));
                if page.len() < READ_PAGE {
                    tokio::time::sleep(FOLLOWER_RETRY_PAUSE).await;
                }
            }
            Err(_) => {
                report.errors += 1;
                tokio::time::sleep(FOLLOWER_RETRY_PAUSE).await;
            }
        }
    }
    report
}
