//! Keeping the projections up to date from the log: load the saved snapshot, apply what the
//! log holds beyond its checkpoint, save state and checkpoint together.

use std::sync::Arc;

use anyhow::Context;
use opsledger_projections::Projections;
use opsledger_store::{EventStore, ProjectionSnapshot, StoreError};

use crate::crypto::{PersonalData, Sealer};

/// The name the projection set's snapshot is saved under. The suffix is the state format
/// version: a new format rebuilds from zero under a new name instead of misreading the old.
pub const SNAPSHOT_NAME: &str = "projections.v1";
/// Events read per page while catching up.
const CATCH_UP_PAGE: usize = 10_000;
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
/// a replay of history). Returns them with the number of events applied.
pub async fn catch_up(
    store: &Arc<dyn EventStore>,
    start: Start,
    up_to: Option<u64>,
) -> anyhow::Result<(Projections, u64)> {
    // A role that may not read snapshots (a client reader) computes from zero.
    let saved = match store.load_projection(SNAPSHOT_NAME).await {
        Err(StoreError::PermissionDenied { .. }) => None,
        other => other?,
    };
    let mut saved_next = saved.as_ref().map(|s| s.next_position);
    let mut projections = match (&saved, start, up_to) {
        (Some(snapshot), Start::Snapshot, None) => Projections::from_json(&snapshot.state)
            .context("reading the saved projection snapshot (run `opsledger replay` to rebuild)")?,
        (Some(snapshot), Start::Snapshot, Some(limit)) if snapshot.next_position <= limit => {
            Projections::from_json(&snapshot.state)
                .context("reading the saved projection snapshot")?
        }
        _ => Projections::new(),
    };
    let head_next = store.head().await?.map_or(0, |h| h.position + 1);
    let target = up_to.map_or(head_next, |limit| limit.min(head_next));
    let total = target.saturating_sub(projections.checkpoint());
    let progress = indicatif::ProgressBar::new(total);
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "  projecting {bar:40} {pos}/{len} events {per_sec} eta {eta}",
        )
        .expect("a valid template"),
    );
    let persist = up_to.is_none();
    let mut applied = 0u64;
    let mut since_save = 0u64;
    // The projections judge rules from non-personal fields only, so they read no keys: a
    // projection runner needs no access to personal data, and shredding cannot change a report.
    let mut sealer = Sealer::with_mode(Arc::clone(store), PersonalData::Withhold);
    while projections.checkpoint() < target {
        let want = usize::try_from(target - projections.checkpoint()).unwrap_or(usize::MAX);
        let page = store
            .read_all(projections.checkpoint(), want.min(CATCH_UP_PAGE))
            .await?;
        if page.is_empty() {
            break;
        }
        for recorded in &page {
            let applied = match sealer.positioned(recorded).await? {
                Some(event) => projections.apply(&event),
                None => projections.skip(recorded.global_position, recorded.recorded_at),
            };
            applied.with_context(|| format!("applying position {}", recorded.global_position))?;
        }
        let n = u64::try_from(page.len()).unwrap_or(u64::MAX);
        applied += n;
        since_save += n;
        progress.inc(n);
        if persist && since_save >= SAVE_EVERY_EVENTS {
            saved_next = save(store, saved_next, &projections).await?;
            since_save = 0;
        }
    }
    progress.finish_and_clear();
    if persist && saved_next != Some(projections.checkpoint()) {
        save(store, saved_next, &projections).await?;
    }
    Ok((projections, applied))
}

/// Saves the snapshot; returns the checkpoint now saved. A ledger opened read-only (or a role
/// that may not write snapshots) keeps the old one: the projections computed here are still
/// right, they are just not kept for the next run.
async fn save(
    store: &Arc<dyn EventStore>,
    expected: Option<u64>,
    projections: &Projections,
) -> anyhow::Result<Option<u64>> {
    let next = projections.checkpoint();
    let saved = store
        .save_projection(
            SNAPSHOT_NAME,
            expected,
            ProjectionSnapshot {
                next_position: next,
                state: projections.to_json()?,
            },
        )
        .await;
    match saved {
        Ok(()) => Ok(Some(next)),
        Err(StoreError::ReadOnly | StoreError::PermissionDenied { .. }) => Ok(expected),
        Err(e) => Err(e.into()),
    }
}
