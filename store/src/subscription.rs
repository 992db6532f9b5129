//! Catch-up subscriptions: replay from a position, then follow live appends, exactly once and
//! in order.
//!
//! Correctness rests on the ordering invariant of both backends: an event is visible only
//! once every lower position is visible (appends are serialized under the head lock, see
//! `docs/adr/0001-ordering.md`). So a subscriber can simply ask for "everything from my next
//! position" and never skip anything. The wake-up signal only shortens the wait; a periodic
//! poll covers writers in other processes. On a PostgreSQL hot standby, which can neither
//! LISTEN nor receive the primary's NOTIFY, the wake-ups come from polling the replicated head
//! (`postgres::standby`); replay keeps the same ordering, so nothing else changes there.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::watch;

use crate::api::EventStore;
use crate::envelope::RecordedEvent;
use crate::error::{Result, StoreError};

/// Events fetched per read while catching up.
pub const SUBSCRIPTION_PAGE_EVENTS: usize = 4096;
/// How long a caught-up subscriber waits for a wake-up before polling anyway.
pub const SUBSCRIPTION_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// A live, ordered feed of the log from a position on. Obtain it from [`EventStore::subscribe`].
#[derive(Debug)]
pub struct Subscription {
    store: Box<dyn EventStore>,
    next_position: u64,
    buffer: VecDeque<RecordedEvent>,
    wake: watch::Receiver<u64>,
}

impl Subscription {
    /// Builds a subscription reading through `store`, woken by `wake` (which carries the
    /// writer's latest next-position; its value is only a hint).
    pub fn new(store: Box<dyn EventStore>, from_position: u64, wake: watch::Receiver<u64>) -> Self {
        Self {
            store,
            next_position: from_position,
            buffer: VecDeque::new(),
            wake,
        }
    }

    /// The position of the next event this subscription will deliver.
    pub fn next_position(&self) -> u64 {
        self.next_position
    }

    /// The next event, waiting for one to be appended if the subscriber is caught up.
    pub async fn next(&mut self) -> Result<RecordedEvent> {
        loop {
            if let Some(e) = self.buffer.pop_front() {
                return Ok(e);
            }
            let page = self.next_page().await?;
            self.buffer.extend(page);
        }
    }

    /// The next run of events (at least one), waiting if caught up. Events already buffered
    /// by [`Subscription::next`] come first.
    pub async fn next_page(&mut self) -> Result<Vec<RecordedEvent>> {
        if !self.buffer.is_empty() {
            return Ok(self.buffer.drain(..).collect());
        }
        loop {
            // Mark the current signal as seen *before* reading, so an append that commits
            // between the read and the wait still wakes us.
            self.wake.borrow_and_update();
            let page = self
                .store
                .read_all(self.next_position, SUBSCRIPTION_PAGE_EVENTS)
                .await?;
            if !page.is_empty() {
                for e in &page {
                    if e.global_position != self.next_position {
                        return Err(StoreError::Gap {
                            expected: self.next_position,
                            found: e.global_position,
                        });
                    }
                    self.next_position += 1;
                }
                return Ok(page);
            }
            tokio::select! {
                changed = self.wake.changed() => {
                    if changed.is_err() {
                        // The writer is gone (store dropped elsewhere); keep polling.
                        tokio::time::sleep(SUBSCRIPTION_POLL_INTERVAL).await;
                    }
                }
                () = tokio::time::sleep(SUBSCRIPTION_POLL_INTERVAL) => {}
            }
        }
    }

    /// Waits at most `timeout` for the next event; `None` if none arrived in time.
    pub async fn next_timeout(&mut self, timeout: Duration) -> Result<Option<RecordedEvent>> {
        match tokio::time::timeout(timeout, self.next()).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }
}
