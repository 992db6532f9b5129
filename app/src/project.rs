//! Keeping the read model current and reading it: fact rows derived from the log past their
//! checkpoint and written with it, and one client's view folded from its rows at query time.
//!
//! The read model is a set of fact rows, one per event (`projections::facts`), written only by
//! the projector. A report never folds every client: it reads its client's rows (and the
//! agency-wide ones) up to the checkpoint through the client index, and that client's events
//! past the checkpoint straight from the log, so a role that may not write rows (an auditor, a
//! client reader, the writer role on PostgreSQL) still sees the ledger up to its head.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use opsledger_domain::ids::{ClientId, AGENCY_SCOPE};
use opsledger_projections::facts::{
    call_entity, event_of, fact_of, needs_whole_call_history, referenced_call, standing_areas,
    ClientFold, Fact, CALL_RECORD_KIND, PERIOD_BOUNDED_AREA, PERIOD_MARGIN_HOURS,
};
use opsledger_projections::{Period, PositionedEvent, Projections, FACTS_VERSION};
use opsledger_store::{
    EventFilter, EventStore, FactCheckpoint, FactQuery, FactRow, PeriodQuery, RecordedEvent,
    StoreError,
};
use tokio::sync::mpsc;

use crate::crypto::{PersonalData, Sealer};
use crate::error::{AppError, AppResult};
use crate::progress::Progress;

/// Events read per page while catching up; each page's rows commit with the checkpoint. Big
/// pages make few transactions (each commit and index page is paid per page, not per row);
/// with [`PAGES_AHEAD`] pages queued at each stage a rebuild holds a few hundred MB at most.
const CATCH_UP_PAGE: usize = 20_000;
/// Pages the reader and the decoder may run ahead of the writer.
const PAGES_AHEAD: usize = 2;
/// Rows or events read per page when folding one client's view.
const VIEW_PAGE: usize = 20_000;

/// How to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// From the stored checkpoint (rows of an older version are rebuilt first; rows of a newer
    /// one are refused, see [`AppError::ReadModelFromTheFuture`]).
    Checkpoint,
    /// From position 0: every stored row is deleted and derived again.
    Rebuild,
}

/// What a catch-up did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    /// Log positions taken in (events and foreign facts).
    pub applied: u64,
    /// The read model's checkpoint afterwards.
    pub next_position: u64,
    /// False when this role or handle may not write rows: reports then fold the log past the
    /// stored checkpoint themselves.
    pub persisted: bool,
    /// True when stored rows of another version were discarded and rebuilt.
    pub rebuilt_for_version: bool,
}

fn cannot_write(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::ReadOnly | StoreError::PermissionDenied { .. } | StoreError::File { .. }
    )
}

/// The row the store keeps for a fact.
pub fn to_row(fact: Fact) -> FactRow {
    FactRow {
        position: fact.position,
        event_id: fact.event_id,
        client_id: fact.client_id,
        area: fact.area.as_str().to_owned(),
        entity: fact.entity,
        kind: fact.kind.to_owned(),
        occurred_at: fact.occurred_at,
        recorded_at: fact.recorded_at,
        body: fact.body,
    }
}

/// The event a stored row stands for.
pub fn from_row(row: &FactRow) -> AppResult<PositionedEvent> {
    event_of(
        row.position,
        row.event_id,
        row.recorded_at,
        &row.kind,
        &row.body,
    )
    .map_err(AppError::Fact)
}

async fn stored_checkpoint(store: &Arc<dyn EventStore>) -> AppResult<Option<FactCheckpoint>> {
    match store.fact_checkpoint().await {
        Err(StoreError::PermissionDenied { .. }) => Ok(None),
        other => Ok(other?),
    }
}

/// The position the stored rows of this version reach, but no further than `limit`: a view
/// up to `limit` reads its rows below it and the log from it. Rows of another version mean
/// something else (or nothing) to this build, so a view then reads the whole log: 0.
async fn rows_until(store: &Arc<dyn EventStore>, limit: u64) -> AppResult<u64> {
    Ok(match stored_checkpoint(store).await? {
        Some(c) if c.version == FACTS_VERSION => c.next_position.min(limit),
        _ => 0,
    })
}

/// How many times one catch-up starts again from the stored checkpoint after another projector
/// reset it under this one (or won the reset this one tried) before giving up. Each start
/// follows a reset another process committed, so only a `replay` loop can use them up: a
/// projector of an older `FACTS_VERSION` refuses the rows a newer one wrote instead of
/// resetting them, so two builds cannot reset each other's rows in turn.
const MAX_STARTS: u32 = 8;

/// Where a catch-up starts writing pages.
enum Starting {
    /// At this position; `reset` when this catch-up deleted the stored rows to get there.
    At { from: u64, reset: bool },
    /// This role or handle may not write rows.
    CannotWrite,
}

/// How a run of page writes ended.
enum Pages {
    /// The rows reach this position, the head when the run began.
    Done(u64),
    /// This role or handle may not write rows; they reach this position.
    CannotWrite(u64),
    /// Another projector reset the checkpoint under this one (a `replay`, or a projector of
    /// another version), so the next page would leave rows missing: start again from it.
    Moved(StoreError),
}

/// Brings the read model's rows up to the head of the log. A handle that may not write rows
/// (read-only, or a role other than the projector) leaves them as they are and says so.
///
/// Several projectors may catch up at once (two `report` runs, the server's follower): pages
/// written twice are idempotent by position and the checkpoint only moves forward. The one
/// destructive step, deleting rows of another version (or every row, for [`Start::Rebuild`]),
/// is a compare-and-set on the checkpoint this catch-up read, so a projector that read the old
/// version too late to win cannot delete the rows the winner is writing: it reads the
/// checkpoint again and continues from it. A page refused because another projector reset the
/// checkpoint under this one likewise starts again from the stored checkpoint. Rows written by
/// a newer build (a later `FACTS_VERSION`) are never deleted here:
/// [`AppError::ReadModelFromTheFuture`] tells the operator to upgrade this build.
pub async fn catch_up(
    store: &Arc<dyn EventStore>,
    start: Start,
    progress: &dyn Progress,
) -> AppResult<CatchUp> {
    let mut rebuilt_for_version = false;
    let mut applied = 0u64;
    let mut start = start;
    let mut moved = None;
    for _ in 0..MAX_STARTS {
        let from = match starting_point(store, start).await? {
            Starting::At { from, reset } => {
                rebuilt_for_version |= reset && start == Start::Checkpoint;
                from
            }
            Starting::CannotWrite => {
                return Ok(CatchUp {
                    applied,
                    next_position: 0,
                    persisted: false,
                    rebuilt_for_version: false,
                })
            }
        };
        match write_pages(store, from, progress, &mut applied).await? {
            Pages::Done(next_position) => {
                restore_indexes(store).await?;
                progress.finish();
                return Ok(CatchUp {
                    applied,
                    next_position,
                    persisted: true,
                    rebuilt_for_version,
                });
            }
            Pages::CannotWrite(next_position) => {
                progress.finish();
                return Ok(CatchUp {
                    applied,
                    next_position,
                    persisted: false,
                    rebuilt_for_version,
                });
            }
            // Whoever reset the checkpoint is rebuilding the rows of its version, which for a
            // `replay` is the rebuild asked for: continue from the stored checkpoint.
            Pages::Moved(e) => {
                moved = Some(e);
                start = Start::Checkpoint;
            }
        }
    }
    progress.finish();
    let e = moved.expect("the loop only runs out after a page write was refused");
    Err(AppError::store_while(
        format!("writing read-model rows (other projectors reset them {MAX_STARTS} times)"),
        e,
    ))
}

/// Where to start: the stored checkpoint when its rows are of this version, otherwise position
/// 0 after deleting the stored rows with a compare-and-set on the checkpoint read here. A lost
/// compare-and-set means another projector reset or moved the checkpoint meanwhile; the
/// checkpoint it found is judged again (for a catch-up, a reset to this version is a start).
/// Rows of a newer version than this build's are refused, for a catch-up and a rebuild alike.
async fn starting_point(store: &Arc<dyn EventStore>, start: Start) -> AppResult<Starting> {
    let mut stored = stored_checkpoint(store).await?;
    let mut lost = None;
    for _ in 0..MAX_STARTS {
        match (start, stored) {
            // A newer build wrote these rows and would delete ours in turn at its next
            // catch-up, each build undoing the other's work until its starts run out. Only
            // the newer build knows what its rows mean, so this one leaves them as they are.
            (_, Some(c)) if c.version > FACTS_VERSION => {
                return Err(AppError::ReadModelFromTheFuture {
                    found: c.version,
                    known: FACTS_VERSION,
                })
            }
            (Start::Checkpoint, Some(c)) if c.version == FACTS_VERSION => {
                return Ok(Starting::At {
                    from: c.next_position,
                    reset: false,
                })
            }
            // Nothing stored yet: rows commit only with their checkpoint, so there is nothing
            // to delete, and pages written twice are idempotent by position.
            (Start::Checkpoint, None) => {
                return Ok(Starting::At {
                    from: 0,
                    reset: false,
                })
            }
            (Start::Checkpoint, Some(_)) | (Start::Rebuild, _) => {}
        }
        match store.reset_facts(stored, FACTS_VERSION).await {
            Ok(()) => {
                return Ok(Starting::At {
                    from: 0,
                    reset: true,
                })
            }
            Err(StoreError::FactResetConflict { expected, found }) => {
                stored = found;
                lost = Some(StoreError::FactResetConflict { expected, found });
            }
            Err(e) if start == Start::Checkpoint && cannot_write(&e) => {
                return Ok(Starting::CannotWrite)
            }
            Err(source) => return Err(reset_failed(start, source)),
        }
    }
    let source = lost.expect("the loop only runs out after a lost reset");
    Err(reset_failed(start, source))
}

fn reset_failed(start: Start, source: StoreError) -> AppError {
    match start {
        Start::Rebuild => AppError::store_while(
            "deleting the read model's rows to rebuild them (only the projector, the ledger's owner, may)",
            source,
        ),
        Start::Checkpoint => AppError::store_while(
            "deleting read-model rows of another version to rebuild them",
            source,
        ),
    }
}

/// Writes the rows of the log from `from` up to the head as it is now, page by page, each with
/// its checkpoint, adding the positions written to `applied`.
async fn write_pages(
    store: &Arc<dyn EventStore>,
    mut from: u64,
    progress: &dyn Progress,
    applied: &mut u64,
) -> AppResult<Pages> {
    let head_next = head_next(store).await?;
    progress.start(head_next.saturating_sub(from));
    // The projections judge rules from non-personal fields only, so they read no keys: a
    // projector needs no access to personal data, and shredding cannot change a row.
    let sealer = Sealer::with_mode(Arc::clone(store), PersonalData::Withhold);
    let mut pages = decode_pipeline(Arc::clone(store), sealer, from, head_next);
    while let Some(page) = pages.recv().await {
        let (page_end, facts) = page?;
        let rows: Vec<FactRow> = facts.into_iter().map(to_row).collect();
        let checkpoint = FactCheckpoint {
            next_position: page_end,
            version: FACTS_VERSION,
        };
        match store.write_facts(from, checkpoint, rows).await {
            Ok(()) => {}
            Err(e) if cannot_write(&e) => return Ok(Pages::CannotWrite(from)),
            Err(e @ StoreError::FactCheckpointConflict { .. }) => return Ok(Pages::Moved(e)),
            Err(e) => return Err(AppError::store_while("writing read-model rows", e)),
        }
        *applied += page_end - from;
        progress.advance(page_end - from);
        from = page_end;
    }
    Ok(Pages::Done(from))
}

/// A rebuild dropped the secondary indexes (see `EventStore::reset_facts`); a rebuild that
/// crashed half-way left them dropped, so every catch-up that reaches the head restores them.
async fn restore_indexes(store: &Arc<dyn EventStore>) -> AppResult<()> {
    match store.restore_fact_indexes().await {
        Ok(()) => Ok(()),
        Err(e) if cannot_write(&e) => Ok(()),
        Err(e) => Err(AppError::store_while(
            "building the read model's indexes",
            e,
        )),
    }
}

/// One page of the log as facts, with the position after its last entry (foreign facts of
/// other systems take a position but add no row).
type FactPage = (u64, Vec<Fact>);

/// Pages of the log from `from` up to `target` (exclusive), read by one task and decoded by
/// another, delivered in order. An error ends the stream after it is delivered.
fn decode_pipeline(
    store: Arc<dyn EventStore>,
    mut sealer: Sealer,
    from: u64,
    target: u64,
) -> mpsc::Receiver<AppResult<FactPage>> {
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

async fn decode_page(sealer: &mut Sealer, page: &[RecordedEvent]) -> AppResult<FactPage> {
    let mut facts = Vec::with_capacity(page.len());
    let mut end = 0;
    for recorded in page {
        end = recorded.global_position + 1;
        if let Some(event) = sealer.positioned(recorded).await? {
            facts.push(fact_of(&event));
        }
    }
    Ok((end, facts))
}

/// The position after the head of the log (0 for an empty ledger).
pub async fn head_next(store: &Arc<dyn EventStore>) -> AppResult<u64> {
    Ok(store.head().await?.map_or(0, |h| h.position + 1))
}

/// One client's view of the ledger up to `before` (exclusive; `None`: the head): its stored
/// rows up to the read model's checkpoint, then its events past the checkpoint from the log.
/// Reports through the view cover this client alone and reflect exactly the positions below
/// the returned view's checkpoint.
pub async fn client_view(
    store: &Arc<dyn EventStore>,
    client: &ClientId,
    before: Option<u64>,
) -> AppResult<Projections> {
    let head = head_next(store).await?;
    let limit = before.map_or(head, |b| b.min(head));
    let rows_until = rows_until(store, limit).await?;
    let mut fold = ClientFold::new();
    let mut query = FactQuery {
        client_id: Some(client.as_str().to_owned()),
        entity: None,
        from_position: 0,
        before_position: Some(rows_until),
        areas: Vec::new(),
    };
    loop {
        let page = store.read_facts(&query, VIEW_PAGE).await?;
        for row in &page {
            fold.apply(&from_row(row)?).map_err(AppError::Fact)?;
        }
        match page.last() {
            Some(last) if page.len() == VIEW_PAGE => query.from_position = last.position + 1,
            _ => break,
        }
    }
    if rows_until < limit {
        let tail = client_log(store, client, rows_until, limit).await?;
        for event in &tail {
            fold.apply(event).map_err(AppError::Fact)?;
        }
    }
    Ok(Projections::for_client(fold, limit))
}

/// One client's view for the reports of one period, up to `before` (exclusive; `None`: the
/// head): what [`client_view`] folds, less the calls no report of the period looks at. It
/// reads the client's standing areas whole (and the agency-wide rows), the calls with a fact
/// within [`PERIOD_MARGIN_HOURS`] of `period` through the period index, every call another
/// fact refers to, and the client's events past the checkpoint from the log, and folds them in
/// position order; each call is read whole or not at all. `None` for `period` reads no call
/// but the referenced ones (the billing report judges no call). The SLA, obligation and
/// billing reports of the period are then those of the whole fold (the property test in
/// `app/tests/period_views.rs`); a client with a deletion of all its data folds whole, since
/// R-RET-1 judges it against the newest call ever.
pub async fn client_period_view(
    store: &Arc<dyn EventStore>,
    client: &ClientId,
    before: Option<u64>,
    period: Option<Period>,
) -> AppResult<Projections> {
    let head = head_next(store).await?;
    let limit = before.map_or(head, |b| b.min(head));
    let rows_until = rows_until(store, limit).await?;
    let mut events: Vec<PositionedEvent> = Vec::new();
    let mut query = FactQuery {
        client_id: Some(client.as_str().to_owned()),
        entity: None,
        from_position: 0,
        before_position: Some(rows_until),
        areas: standing_areas().into_iter().map(str::to_owned).collect(),
    };
    loop {
        let page = store.read_facts(&query, VIEW_PAGE).await?;
        for row in &page {
            events.push(from_row(row)?);
        }
        match page.last() {
            Some(last) if page.len() == VIEW_PAGE => query.from_position = last.position + 1,
            _ => break,
        }
    }
    let tail = if rows_until < limit {
        client_log(store, client, rows_until, limit).await?
    } else {
        Vec::new()
    };
    if events
        .iter()
        .chain(&tail)
        .any(|e| needs_whole_call_history(&e.event))
    {
        return client_view(store, client, before).await;
    }
    let mut referenced: Vec<String> = events
        .iter()
        .chain(&tail)
        .filter_map(|e| referenced_call(&e.event))
        .map(call_entity)
        .collect();
    referenced.sort_unstable();
    referenced.dedup();
    let margin = Duration::hours(PERIOD_MARGIN_HOURS);
    // Without a period the window is empty: only the referenced calls are read.
    let (occurred_from, occurred_before) = match period {
        Some(p) => (p.from - margin, p.to + margin),
        None => (DateTime::<Utc>::UNIX_EPOCH, DateTime::<Utc>::UNIX_EPOCH),
    };
    let calls = store
        .read_period_facts(&PeriodQuery {
            client_id: client.as_str().to_owned(),
            area: PERIOD_BOUNDED_AREA.as_str().to_owned(),
            occurred_from,
            occurred_before,
            entities: referenced,
            before_position: Some(rows_until),
        })
        .await?;
    // Each row is dropped once decoded, so the rows and their events are not all held at once.
    for row in calls {
        events.push(from_row(&row)?);
    }
    events.sort_by_key(|e| e.position);
    let mut fold = ClientFold::new();
    for event in events.iter().chain(&tail) {
        fold.apply(event).map_err(AppError::Fact)?;
    }
    Ok(Projections::for_client(fold, limit))
}

/// One client's view for its retention report, up to `before` (exclusive; `None`: the head):
/// the client's standing areas whole (and the agency-wide rows), of its calls only the row that
/// opens each call's record ([`CALL_RECORD_KIND`]), and its events past the checkpoint from the
/// log, folded in position order. The retention report lists every call record the client ever
/// had, so it cannot be bounded by its month; but of a call it reads only when it connected
/// (R-RET-1's minimum runs from the call, R-RET-2's deadline from the termination, holds and
/// deletions are standing facts), so the call's other rows change nothing in it and are
/// skipped before they are decoded (the test in `app/tests/period_views.rs` compares the
/// report with the whole fold's). Every other report of this view would be wrong.
pub async fn client_retention_view(
    store: &Arc<dyn EventStore>,
    client: &ClientId,
    before: Option<u64>,
) -> AppResult<Projections> {
    let head = head_next(store).await?;
    let limit = before.map_or(head, |b| b.min(head));
    let rows_until = rows_until(store, limit).await?;
    let mut events: Vec<PositionedEvent> = Vec::new();
    let standing: Vec<String> = standing_areas().into_iter().map(str::to_owned).collect();
    let calls = vec![PERIOD_BOUNDED_AREA.as_str().to_owned()];
    for (areas, only_records) in [(standing, false), (calls, true)] {
        let mut query = FactQuery {
            client_id: Some(client.as_str().to_owned()),
            entity: None,
            from_position: 0,
            before_position: Some(rows_until),
            areas,
        };
        loop {
            let page = store.read_facts(&query, VIEW_PAGE).await?;
            for row in &page {
                if !only_records || row.kind == CALL_RECORD_KIND {
                    events.push(from_row(row)?);
                }
            }
            match page.last() {
                Some(last) if page.len() == VIEW_PAGE => query.from_position = last.position + 1,
                _ => break,
            }
        }
    }
    events.sort_by_key(|e| e.position);
    let mut fold = ClientFold::new();
    for event in &events {
        fold.apply(event).map_err(AppError::Fact)?;
    }
    if rows_until < limit {
        for event in &client_log(store, client, rows_until, limit).await? {
            fold.apply(event).map_err(AppError::Fact)?;
        }
    }
    Ok(Projections::for_client(fold, limit))
}

/// A client's events and the agency-wide ones in `[from, before)`, decoded from the log in
/// position order (personal fields withheld, foreign facts skipped).
pub async fn client_log(
    store: &Arc<dyn EventStore>,
    client: &ClientId,
    from: u64,
    before: u64,
) -> AppResult<Vec<PositionedEvent>> {
    let mut sealer = Sealer::with_mode(Arc::clone(store), PersonalData::Withhold);
    let mut events = Vec::new();
    for scope in [client.as_str(), AGENCY_SCOPE] {
        let filter = EventFilter {
            client_id: Some(scope.to_owned()),
            ..EventFilter::default()
        };
        let mut next = from;
        while next < before {
            let page = store.read_filtered(&filter, next, VIEW_PAGE).await?;
            let full = page.len() == VIEW_PAGE;
            for recorded in page.iter().filter(|r| r.global_position < before) {
                if let Some(event) = sealer.positioned(recorded).await? {
                    events.push(event);
                }
            }
            match page.last() {
                Some(last) if full => next = last.global_position + 1,
                _ => break,
            }
        }
    }
    events.sort_by_key(|e| e.position);
    Ok(events)
}

/// Every client onboarded in the log, in onboarding order.
pub async fn clients(store: &Arc<dyn EventStore>) -> AppResult<Vec<ClientId>> {
    let filter = EventFilter {
        event_types: vec!["client.onboarded".to_owned()],
        ..EventFilter::default()
    };
    let mut out = Vec::new();
    let mut next = 0;
    loop {
        let page = store.read_filtered(&filter, next, VIEW_PAGE).await?;
        for recorded in &page {
            if let Some(id) = recorded.client_id.as_deref() {
                let id = ClientId::new(id).map_err(|error| AppError::InvalidClient {
                    given: id.to_owned(),
                    error,
                })?;
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
        match page.last() {
            Some(last) if page.len() == VIEW_PAGE => next = last.global_position + 1,
            _ => break,
        }
    }
    Ok(out)
}

/// The whole log folded in memory up to `before` (exclusive), saving nothing: a view of
/// history for `replay --as-of-position` and the benchmarks.
pub async fn log_view(store: &Arc<dyn EventStore>, before: u64) -> AppResult<Projections> {
    let mut projections = Projections::new();
    let mut sealer = Sealer::with_mode(Arc::clone(store), PersonalData::Withhold);
    let mut next = 0u64;
    while next < before {
        let want = usize::try_from(before - next).unwrap_or(usize::MAX);
        let page = store.read_all(next, want.min(CATCH_UP_PAGE)).await?;
        let Some(last) = page.last() else { break };
        next = last.global_position + 1;
        for recorded in &page {
            let position = recorded.global_position;
            match sealer.positioned(recorded).await? {
                Some(event) => projections.apply(&event),
                None => projections.skip(position, recorded.recorded_at),
            }
            .map_err(|source| AppError::Apply { position, source })?;
        }
    }
    Ok(projections)
}

/// Where the stored rows differ from the rows the verified log derives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowMismatch {
    /// The log derives a row that is not stored.
    Missing { position: u64 },
    /// A row is stored where the log derives none (a foreign fact, or past the checkpoint).
    Unexpected { position: u64 },
    /// A stored row differs from the derived one in a column.
    Differs { position: u64, column: &'static str },
}

impl std::fmt::Display for RowMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowMismatch::Missing { position } => {
                write!(f, "read-model row for position {position} is missing")
            }
            RowMismatch::Unexpected { position } => write!(
                f,
                "read-model row at position {position} does not come from the log"
            ),
            RowMismatch::Differs { position, column } => write!(
                f,
                "read-model row at position {position} differs from the log in `{column}`"
            ),
        }
    }
}

/// What re-deriving the read model found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadModelCheck {
    /// Rows compared.
    pub rows: u64,
    /// The read model's checkpoint.
    pub next_position: u64,
    /// The first difference, if any.
    pub first_mismatch: Option<RowMismatch>,
}

fn first_difference(stored: &FactRow, derived: &FactRow) -> Option<&'static str> {
    if stored.event_id != derived.event_id {
        Some("event_id")
    } else if stored.client_id != derived.client_id {
        Some("client_id")
    } else if stored.area != derived.area {
        Some("area")
    } else if stored.entity != derived.entity {
        Some("entity")
    } else if stored.kind != derived.kind {
        Some("kind")
    } else if stored.occurred_at != derived.occurred_at {
        Some("occurred_at")
    } else if stored.recorded_at != derived.recorded_at {
        Some("recorded_at")
    } else if stored.body != derived.body {
        Some("body")
    } else {
        None
    }
}

/// Re-derives every stored row from the log (which the caller has verified) and compares them
/// in position order; names the first row that differs, is missing or should not be there.
pub async fn check_read_model(store: &Arc<dyn EventStore>) -> AppResult<ReadModelCheck> {
    let next_position = rows_until(store, u64::MAX).await?;
    let sealer = Sealer::with_mode(Arc::clone(store), PersonalData::Withhold);
    let target = next_position.min(head_next(store).await?);
    let mut derived_pages = decode_pipeline(Arc::clone(store), sealer, 0, target);
    let mut stored_query = FactQuery::default();
    let mut stored: std::collections::VecDeque<FactRow> = std::collections::VecDeque::new();
    let mut stored_done = false;
    let mut rows = 0u64;
    let mismatch = 'walk: {
        while let Some(page) = derived_pages.recv().await {
            let (_, facts) = page?;
            for derived in facts.into_iter().map(to_row) {
                if stored.is_empty() && !stored_done {
                    let page = store.read_facts(&stored_query, VIEW_PAGE).await?;
                    stored_done = page.len() < VIEW_PAGE;
                    if let Some(last) = page.last() {
                        stored_query.from_position = last.position + 1;
                    }
                    stored.extend(page);
                }
                match stored.front() {
                    Some(row) if row.position < derived.position => {
                        break 'walk Some(RowMismatch::Unexpected {
                            position: row.position,
                        })
                    }
                    Some(row) if row.position == derived.position => {
                        if let Some(column) = first_difference(row, &derived) {
                            break 'walk Some(RowMismatch::Differs {
                                position: row.position,
                                column,
                            });
                        }
                        stored.pop_front();
                        rows += 1;
                    }
                    _ => {
                        break 'walk Some(RowMismatch::Missing {
                            position: derived.position,
                        })
                    }
                }
            }
        }
        // Anything stored beyond what the log derives (past the checkpoint, or rows added).
        if stored.is_empty() && !stored_done {
            stored.extend(store.read_facts(&stored_query, 1).await?);
        }
        stored.front().map(|row| RowMismatch::Unexpected {
            position: row.position,
        })
    };
    Ok(ReadModelCheck {
        rows,
        next_position,
        first_mismatch: mismatch,
    })
}
