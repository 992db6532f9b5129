//! The load's writers: each appends the bench's call events one at a time, retrying an event
//! with the same id until it is acknowledged, and keeps the position of each acknowledgement.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use opsledger_app::store::{EventStore, ExpectedVersion, StoreError};
use uuid::Uuid;

use super::{new_histogram, Shared};
use crate::bench;
use crate::error::{ToolError, ToolResult};

/// Longest wait for one append before it counts as failed and is retried.
const APPEND_TIMEOUT: Duration = Duration::from_secs(30);
/// First pause after a failed append; it doubles up to [`super::MAX_RETRY_PAUSE`].
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(20);
/// Writer `w` uses event-id namespace `WRITER_NAMESPACE_BASE + w`, as the bench's writers do.
const WRITER_NAMESPACE_BASE: u64 = 100;

/// The id of writer `w`'s `i`-th event: the bench's workload derives it from the writer's
/// namespace and the index alone, so the checks can tell whose event an id is without a list.
pub(super) fn writer_event_id(w: u64, i: u64) -> Uuid {
    Uuid::from_u64_pair(WRITER_NAMESPACE_BASE + w, i)
}

/// The writer and index an event id was made from by [`writer_event_id`], if it is one of
/// the first `writers` writers' ids.
pub(super) fn writer_of(id: Uuid, writers: usize) -> Option<(usize, u64)> {
    let (namespace, i) = id.as_u64_pair();
    let w = usize::try_from(namespace.checked_sub(WRITER_NAMESPACE_BASE)?).ok()?;
    (w < writers).then_some((w, i))
}

/// What one writer did.
#[derive(Debug)]
pub(super) struct WriterReport {
    /// Latency of the attempt that succeeded, in microseconds.
    pub(super) attempt_latency: Histogram<u64>,
    /// From the first attempt to the acknowledgement, retries included, in microseconds.
    pub(super) ack_latency: Histogram<u64>,
    /// The position each acknowledged event got. The writer sends its events in index order and
    /// waits for each acknowledgement, so the `i`-th entry is the position of
    /// `writer_event_id(w, i)`: 8 bytes per event say what a list of ids would.
    pub(super) positions: Vec<u64>,
    /// Acknowledgements that were idempotent replays: a retry of an append that had committed.
    pub(super) replays: u64,
    /// True when the writer gave up on its next event (index `positions.len()`) after the grace
    /// period; that event may or may not have been recorded.
    pub(super) abandoned: bool,
}

impl WriterReport {
    pub(super) fn new() -> Self {
        Self {
            attempt_latency: new_histogram(),
            ack_latency: new_histogram(),
            positions: Vec::new(),
            replays: 0,
            abandoned: false,
        }
    }

    /// How many of this writer's event ids may be in the log: the acknowledged ones and the
    /// one it gave up on.
    pub(super) fn sent(&self) -> u64 {
        u64::try_from(self.positions.len()).unwrap_or(u64::MAX) + u64::from(self.abandoned)
    }
}

/// The kind of a store error for the error counts: its variant name.
pub(super) fn error_kind(error: &StoreError) -> String {
    let debug = format!("{error:?}");
    debug
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or("Unknown")
        .to_owned()
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Writer `w`: appends its events until `deadline`, retrying a failed one until `give_up`.
pub(super) async fn writer(
    store: Arc<dyn EventStore>,
    shared: Arc<Shared>,
    w: u64,
    deadline: Instant,
    give_up: Instant,
) -> ToolResult<WriterReport> {
    let namespace = WRITER_NAMESPACE_BASE + w;
    let workload = bench::Workload::default();
    let mut report = WriterReport::new();
    let mut i = 0u64;
    while Instant::now() < deadline {
        let event = workload.event(i, namespace);
        debug_assert_eq!(event.event_id, writer_event_id(w, i));
        let stream = workload.call_stream(i / bench::EVENTS_PER_STREAM, namespace)?;
        let first_try = Instant::now();
        let mut pause = FIRST_RETRY_PAUSE;
        loop {
            let attempt = Instant::now();
            let result = tokio::time::timeout(
                APPEND_TIMEOUT,
                store.append(&stream, ExpectedVersion::Any, vec![event.clone()]),
            )
            .await;
            match result {
                Ok(Ok(outcome)) => {
                    let position = *outcome.positions.first().ok_or_else(|| {
                        ToolError::CheckFailed(
                            "an acknowledged append names no position for its event".to_owned(),
                        )
                    })?;
                    let attempt_us = micros(attempt.elapsed());
                    report.attempt_latency.record(attempt_us).ok();
                    report.ack_latency.record(micros(first_try.elapsed())).ok();
                    report.positions.push(position);
                    if outcome.idempotent_replay {
                        report.replays += 1;
                    }
                    shared.acknowledged(position, attempt_us);
                    break;
                }
                Ok(Err(e)) => shared.failed(error_kind(&e)),
                Err(_) => shared.failed("Timeout".to_owned()),
            }
            if Instant::now() >= give_up {
                report.abandoned = true;
                return Ok(report);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(super::MAX_RETRY_PAUSE);
        }
        i += 1;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_are_variant_names() {
        let e = StoreError::ConnectionLost {
            detail: "reset".into(),
        };
        assert_eq!(error_kind(&e), "ConnectionLost");
        assert_eq!(error_kind(&StoreError::EmptyAppend), "EmptyAppend");
    }

    #[test]
    fn the_workload_ids_are_the_ids_the_checks_decode() {
        let workload = bench::Workload::default();
        for (w, i) in [(0, 0), (3, 17), (31, 123_456)] {
            let id = workload.event(i, WRITER_NAMESPACE_BASE + w).event_id;
            assert_eq!(id, writer_event_id(w, i));
            let w = usize::try_from(w).unwrap();
            assert_eq!(writer_of(id, 32), Some((w, i)));
            // A writer beyond the run's count did not run, so its ids belong to no writer.
            assert_eq!(writer_of(id, w), None);
        }
        let onboarding = Uuid::from_u64_pair(u64::MAX, 0);
        assert_eq!(writer_of(onboarding, 32), None);
        assert_eq!(writer_of(Uuid::from_u64_pair(7, 0), 32), None);
    }
}
