//! Keeping the projections up to date from the log: load the saved snapshot, apply what the
//! log holds beyond its checkpoint, save state and checkpoint together.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use opsledger_projections::{PositionedEvent, Projections};
use opsledger_store::{EventStore, ProjectionSnapshot, RecordedEvent, StoreError};
use tokio::sync::mpsc;

use crate::crypto::{PersonalData, Sealer};
use crate::error::{AppError, AppResult};
use crate::progress::Progress;

/// The name the projection set's snapshot is saved under. The suffix is the state format
/// version: a new format rebuilds from zero under a new name instead of misreading the old.
pub const SNAPSHOT_NAME: &str = "projections.v1";
/// Events read per page while catching up.
const CATCH_UP_PAGE: usize = 10_000;
/// Pages the reader and the decoder may run ahead of the fold.
const PAGES_AHEAD: usize = 2;
/// Events applied between snapshot saves during a long catch-up, so a killed rebuild resumes
/// near where it stopped.
const SAVE_EVERY_EVENTS: u64 = 200_000;

/// How to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// From the saved snapshot (or from zero if there is none).
    Snapshot,
    /// From position 0, replacing the saved snapshot at the end.
    Rebuild,
}

/// Brings the projections up to the head of the log (or to `up_to`, exclusive, without saving:
/// a replay of history). Returns them with the number of events applied; `progress` hears of
/// every page folded.
pub async fn catch_up(
    store: &Arc<dyn EventStore>,
    start: Start,
    up_to: Option<u64>,
    progress: &dyn Progress,
) -> AppResult<(Projections, u64)> {
    // A role that may not read snapshots (a client reader) computes from zero.
    let saved = match store.load_projection(SNAPSHOT_NAME).await {
        Err(StoreError::PermissionDenied { .. }) => None,
        other => other?,
    };
    let mut saved_next = saved.as_ref().map(|s| s.next_position);
    let mut projections = match (&saved, start, up_to) {
        (Some(snapshot), Start::Snapshot, None) => {
            Projections::from_json(&snapshot.state).map_err(AppError::Snapshot)?
        }
        (Some(snapshot), Start::Snapshot, Some(limit)) if snapshot.next_position <= limit => {
            Projections::from_json(&snapshot.state).map_err(AppError::Snapshot)?
        }
        _ => Projections::new(),
    };
    let head_next = store.head().await?.map_or(0, |h| h.position + 1);
    let target = up_to.map_or(head_next, |limit| limit.min(head_next));
    let total = target.saturating_sub(projections.checkpoint());
    progress.start(total);
    let persist = up_to.is_none();
    let mut applied = 0u64;
    let mut since_save = 0u64;
    // The projections judge rules from non-personal fields only, so they read no keys: a
    // projection runner needs no access to personal data, and shredding cannot change a report.
    let sealer = Sealer::with_mode(Arc::clone(store), PersonalData::Withhold);
    // Reading, decoding and folding run as a pipeline (a reader task, a decoder task, this
    // loop), so a rebuild takes about as long as its slowest stage, not the sum of the three.
    // Every stage keeps log order, so the fold sees exactly the sequence a plain loop would.
    let mut decoded = decode_pipeline(Arc::clone(store), sealer, projections.checkpoint(), target);
    while let Some(batch) = decoded.recv().await {
        let batch = batch?;
        for item in &batch {
            let (position, result) = match item {
                Decoded::Event(event) => (event.position, projections.apply(event)),
                Decoded::Foreign {
                    position,
                    recorded_at,
                } => (*position, projections.skip(*position, *recorded_at)),
            };
            result.map_err(|source| AppError::Apply { position, source })?;
        }
        let n = u64::try_from(batch.len()).unwrap_or(u64::MAX);
        applied += n;
        since_save += n;
        progress.advance(n);
        if persist && since_save >= SAVE_EVERY_EVENTS {
            saved_next = save(store, saved_next, &projections).await?;
            since_save = 0;
        }
    }
    progress.finish();
    if persist && saved_next != Some(projections.checkpoint()) {
        save(store, saved_next, &projections).await?;
    }
    Ok((projections, applied))
}

/// One log position as the fold consumes it.
// Nearly every position is an event, so boxing it to shrink the rare foreign fact would add
// an allocation per event and save no memory.
#[allow(clippy::large_enum_variant)]
enum Decoded {
    Event(PositionedEvent),
    /// A foreign fact: the checkpoint moves past it, nothing is applied.
    Foreign {
        position: u64,
        recorded_at: DateTime<Utc>,
    },
}

/// Pages of the log from `from` up to `target` (exclusive), read by one task and decoded by
/// another, delivered in order. An error ends the stream after it is delivered.
fn decode_pipeline(
    store: Arc<dyn EventStore>,
    mut sealer: Sealer,
    from: u64,
    target: u64,
) -> mpsc::Receiver<AppResult<Vec<Decoded>>> {
    let (pages_tx, mut pages) = mpsc::channel::<AppResult<Vec<RecordedEvent>>>(PAGES_AHEAD);
    let (decoded_tx, decoded) = mpsc::channel(PAGES_AHEAD);
    tokio::spawn(async move {
        let mut next = from;
        while next < target {
            let want = usize::try_from(target - next).unwrap_or(usize::MAX);
            let page = match store.read_all(next, want.min(CATCH_UP_PAGE)).await {
                Ok(page) => page,
                Err(e) => {
                    let _ = pages_tx.send(Err(e.into())).await;
                    return;
                }
            };
            let Some(last) = page.last() else { return };
            next = last.global_position + 1;
            if pages_tx.send(Ok(page)).await.is_err() {
                return;
            }
        }
    });
    tokio::spawn(async move {
        while let Some(page) = pages.recv().await {
            let batch = match page {
                Ok(page) => decode_page(&mut sealer, &page).await,
                Err(e) => Err(e),
            };
            let failed = batch.is_err();
            if decoded_tx.send(batch).await.is_err() || failed {
                return;
            }
        }
    });
    decoded
}

async fn decode_page(sealer: &mut Sealer, page: &[RecordedEvent]) -> AppResult<Vec<Decoded>> {
    let mut out = Vec::with_capacity(page.len());
    for recorded in page {
        out.push(match sealer.positioned(recorded).await? {
            Some(event) => Decoded::Event(event),
            None => Decoded::Foreign {
                position: recorded.global_position,
                recorded_at: recorded.recorded_at,
            },
        });
    }
    Ok(out)
}

/// Saves the snapshot; returns the checkpoint now saved. A ledger opened read-only (or a role
/// that may not write snapshots) keeps the old one: the projections computed here are still
/// right, they are just not kept for the next run.
async fn save(
    store: &Arc<dyn EventStore>,
    expected: Option<u64>,
    projections: &Projections,
) -> AppResult<Option<u64>> {
    let next = projections.checkpoint();
    let saved = store
        .save_projection(
            SNAPSHOT_NAME,
            expected,
            ProjectionSnapshot {
                next_position: next,
                state: projections.to_json().map_err(AppError::Snapshot)?,
            },
        )
        .await;
    match saved {
        Ok(()) => Ok(Some(next)),
        Err(StoreError::ReadOnly | StoreError::PermissionDenied { .. }) => Ok(expected),
        Err(e) => Err(e.into()),
    }
}
