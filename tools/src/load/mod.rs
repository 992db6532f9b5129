//! `opsledger load`: sustained concurrent appends with a live subscriber and a projection
//! following the log, then a check that nothing was lost, doubled or reordered.
//!
//! Each writer appends single call events (the bench's workload, one stream per call) for a
//! fixed time, waiting for each acknowledgement before the next event. After an error (for
//! instance while the PostgreSQL server is down and restarting) a writer retries the very same
//! event, same id, until it is acknowledged: the store's idempotent appends make a retry of an
//! append that did commit a no-op, so an unknown outcome is safe to repeat. Meanwhile a
//! subscriber follows the log from position 0, a projection follower keeps the read model's rows
//! at the head (`project::catch_up`, as the server's follower does), and a sampler measures how
//! far behind the head both are every 250 ms, with the memory of this process and of the
//! PostgreSQL server.
//!
//! At the end the tool checks that every acknowledged event is in the log at the position it
//! was acknowledged with, that no event id is recorded twice and nothing unacknowledged slipped
//! in, that the chain verifies, that the subscriber saw every event exactly once and in order,
//! and that the read model's stored checkpoint reached the head. It exits non-zero when a check
//! fails; the figures themselves are reported, never judged.
//!
//! The tool's own memory does not grow with the projected history: a writer keeps the position
//! of each acknowledgement (8 bytes per event; its ids follow from its namespace), the
//! subscriber a running digest, the read model lives in the store, and the checks page through
//! the log once with a bit per event (`checks`). The writers are in `writers`, the readers
//! beside them in `followers`, the lag and memory samples in `sampler`, the printed figures in
//! `report` and the long mode's minute series in `minutes`.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use opsledger_app::store::{EventStore, PositionRange, StoreError};
use opsledger_app::Target;
use uuid::Uuid;

use crate::bench;
use crate::error::{ToolError, ToolResult};
use sampler::PgServer;

mod checks;
mod followers;
mod minutes;
mod report;
mod sampler;
mod writers;

/// How hard and how long to load the ledger.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Concurrent writers, each appending one event at a time.
    pub writers: u64,
    /// Seconds the writers run.
    pub secs: u64,
    /// When the PostgreSQL server is killed, in seconds from the start of the run. The kill and
    /// restart are done from outside (`scripts/load` does both); this only labels the report.
    pub kill_server_at: Option<u64>,
    /// Seconds after the run in which a writer may still retry its last event and the
    /// subscriber and projection may still catch up, before the tool gives up on them.
    pub grace_secs: u64,
    /// A hot standby of the PostgreSQL primary for a reader that follows the log there while
    /// the writers run (its lag is reported per minute).
    pub standby_url: Option<String>,
    /// Where to write the per-minute series as an SVG chart.
    pub svg: Option<PathBuf>,
}

/// How often the sampler measures lag and memory.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// Longest pause between retries, so a writer notices a restarted server within a second.
const MAX_RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Pause of a follower (subscriber, projection) after a failed read.
const FOLLOWER_RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Events per page when the log is read back for the checks.
const READ_PAGE: usize = 10_000;
/// Seconds per bucket of the throughput timeline.
const TIMELINE_BUCKET_SECS: usize = 5;

/// Counters shared by every task of a run.
#[derive(Debug)]
struct Shared {
    started: Instant,
    /// One past the highest position acknowledged to a writer.
    acked_next: AtomicU64,
    /// The subscriber's next position.
    subscriber_next: AtomicU64,
    /// The read model's checkpoint (next position to derive rows from), as its follower last
    /// saw it committed.
    projection_next: AtomicU64,
    /// The position the followers must reach to finish; `u64::MAX` while writers run.
    final_next: AtomicU64,
    /// Milliseconds since the start after which the followers give up.
    followers_deadline_ms: AtomicU64,
    /// Set when the followers are done, to stop the sampler.
    stop_sampling: AtomicBool,
    /// Acknowledgements per second since the start.
    acks_per_sec: Vec<AtomicU64>,
    /// When the last acknowledgement came, in milliseconds since the start.
    last_ack_ms: AtomicU64,
    /// The longest time between two acknowledgements while writers ran, in milliseconds.
    longest_stall_ms: AtomicU64,
    first_error_ms: AtomicU64,
    last_error_ms: AtomicU64,
    /// Failed appends by kind (the store error's variant, or `Timeout`).
    errors: Mutex<BTreeMap<String, u64>>,
    /// Throughput, latency, memory and standby lag minute by minute.
    minutes: minutes::Minutes,
}

impl Shared {
    fn new(buckets: usize) -> Self {
        let minute_count = buckets.div_ceil(60);
        Self {
            started: Instant::now(),
            acked_next: AtomicU64::new(0),
            subscriber_next: AtomicU64::new(0),
            projection_next: AtomicU64::new(0),
            final_next: AtomicU64::new(u64::MAX),
            followers_deadline_ms: AtomicU64::new(u64::MAX),
            stop_sampling: AtomicBool::new(false),
            acks_per_sec: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
            last_ack_ms: AtomicU64::new(0),
            longest_stall_ms: AtomicU64::new(0),
            first_error_ms: AtomicU64::new(u64::MAX),
            last_error_ms: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            minutes: minutes::Minutes::new(minute_count),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn acknowledged(&self, position: u64, latency_us: u64) {
        let now = self.elapsed_ms();
        self.minutes.acknowledged(now, latency_us);
        self.acked_next
            .fetch_max(position.saturating_add(1), Ordering::Relaxed);
        let second = usize::try_from(now / 1000).unwrap_or(usize::MAX);
        if let Some(bucket) = self
            .acks_per_sec
            .get(second)
            .or_else(|| self.acks_per_sec.last())
        {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let previous = self.last_ack_ms.swap(now, Ordering::Relaxed);
        self.longest_stall_ms
            .fetch_max(now.saturating_sub(previous), Ordering::Relaxed);
    }

    fn failed(&self, kind: String) {
        let now = self.elapsed_ms();
        self.first_error_ms.fetch_min(now, Ordering::Relaxed);
        self.last_error_ms.fetch_max(now, Ordering::Relaxed);
        // A poisoned lock only means another writer panicked; its counts are still valid.
        let mut errors = self
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *errors.entry(kind).or_insert(0) += 1;
    }

    fn followers_should_stop(&self, next: u64) -> bool {
        next >= self.final_next.load(Ordering::Relaxed)
            || self.elapsed_ms() >= self.followers_deadline_ms.load(Ordering::Relaxed)
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::<u64>::new(3).expect("3 significant figures is a valid precision")
}

/// Retries `op` until it succeeds or `until` passes; the server may still be restarting.
async fn with_retries<T, F, Fut>(until: Instant, mut op: F) -> ToolResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(e) if Instant::now() >= until => return Err(e.into()),
            Err(_) => tokio::time::sleep(MAX_RETRY_PAUSE).await,
        }
    }
}

fn kib_to_mib(kib: u64) -> f64 {
    // Display only: kibibyte counts of a process are far below 2^52.
    #[allow(clippy::cast_precision_loss)]
    let kib = kib as f64;
    kib / 1024.0
}

fn per_sec(events: u64, d: Duration) -> f64 {
    let secs = d.as_secs_f64();
    if secs == 0.0 {
        return 0.0;
    }
    // Display only: event counts are far below 2^52.
    #[allow(clippy::cast_precision_loss)]
    let events = events as f64;
    events / secs
}

/// The ledger a run loads, freshly created and onboarded.
struct Prepared {
    backend: String,
    settings: String,
    server: Option<PgServer>,
    store: Arc<dyn EventStore>,
    onboarding_ids: HashSet<Uuid>,
}

/// Checks the options, creates the ledger (it must be empty) and onboards the workload's
/// clients.
async fn prepare(target: &Target, args: &LoadOptions) -> ToolResult<Prepared> {
    if args.writers == 0 {
        return Err(ToolError::Invalid(
            "--writers must be at least 1".to_owned(),
        ));
    }
    if args.secs == 0 {
        return Err(ToolError::Invalid("--secs must be at least 1".to_owned()));
    }
    let (backend, settings, server) = match target {
        Target::File(path) => (
            format!("embedded (SQLite file {})", path.display()),
            "journal_mode=WAL, synchronous=FULL".to_owned(),
            None,
        ),
        Target::Postgres(url) => (
            "PostgreSQL".to_owned(),
            bench::pg_settings(url)
                .await
                .unwrap_or_else(|e| format!("settings unknown: {e}")),
            PgServer::find(url).await,
        ),
        other => {
            return Err(ToolError::Invalid(format!(
                "the load test appends, so it needs a writable ledger, not {}",
                other.describe()
            )))
        }
    };
    let store = target.create().await?;
    if store.head().await?.is_some() {
        return Err(ToolError::Invalid(
            "the load test needs an empty ledger".to_owned(),
        ));
    }
    let onboarding = bench::Workload::default().onboarding_events()?;
    let onboarding_ids: HashSet<Uuid> = onboarding
        .iter()
        .flat_map(|s| s.events.iter().map(|e| e.event_id))
        .collect();
    store.append_batch(onboarding).await?;
    Ok(Prepared {
        backend,
        settings,
        server,
        store,
        onboarding_ids,
    })
}

/// Runs the load against `target`, prints the figures and the checks, and fails when a check
/// fails.
pub async fn run(target: &Target, args: LoadOptions) -> ToolResult<()> {
    let Prepared {
        backend,
        settings,
        server,
        store,
        onboarding_ids,
    } = prepare(target, &args).await?;
    let secs = usize::try_from(args.secs)
        .map_err(|_| ToolError::Invalid("--secs is too large".to_owned()))?;
    let grace = usize::try_from(args.grace_secs)
        .map_err(|_| ToolError::Invalid("--grace-secs is too large".to_owned()))?;
    let shared = Arc::new(Shared::new(secs.saturating_add(grace).saturating_add(1)));
    eprintln!(
        "load: {} writers for {} s on {backend}{}",
        args.writers,
        args.secs,
        args.kill_server_at
            .map(|k| format!(" (server to be killed at {k} s)"))
            .unwrap_or_default()
    );
    let deadline = shared.started + Duration::from_secs(args.secs);
    let give_up = deadline + Duration::from_secs(args.grace_secs);
    let subscriber_task = tokio::spawn(followers::subscriber(
        Arc::clone(&store),
        Arc::clone(&shared),
    ));
    let projection_task = tokio::spawn(followers::projection(
        Arc::clone(&store),
        Arc::clone(&shared),
    ));
    let sampler_task = tokio::spawn(sampler::sampler(
        Arc::clone(&store),
        Arc::clone(&shared),
        server,
    ));
    let standby_task = args
        .standby_url
        .clone()
        .map(|url| tokio::spawn(followers::standby_reader(url, Arc::clone(&shared))));
    let mut writer_tasks = Vec::new();
    for w in 0..args.writers {
        writer_tasks.push(tokio::spawn(writers::writer(
            Arc::clone(&store),
            Arc::clone(&shared),
            w,
            deadline,
            give_up,
        )));
    }
    let mut writers = Vec::new();
    for task in writer_tasks {
        writers.push(task.await.map_err(|source| ToolError::Panicked {
            what: "a writer",
            source,
        })??);
    }
    let writing = shared.started.elapsed();

    // The followers run to the final head, then stop; the checks read the log after them.
    let head = with_retries(give_up, || store.head()).await?;
    let final_next = head.map_or(0, |h| h.position.saturating_add(1));
    shared.followers_deadline_ms.store(
        shared.elapsed_ms() + args.grace_secs * 1000,
        Ordering::Relaxed,
    );
    shared.final_next.store(final_next, Ordering::Relaxed);
    let subscribed = subscriber_task
        .await
        .map_err(|source| ToolError::Panicked {
            what: "the subscriber",
            source,
        })?;
    let projected = projection_task
        .await
        .map_err(|source| ToolError::Panicked {
            what: "the projection",
            source,
        })?;
    let followed = shared.started.elapsed();
    shared.stop_sampling.store(true, Ordering::Relaxed);
    let sampled = sampler_task.await.map_err(|source| ToolError::Panicked {
        what: "the sampler",
        source,
    })?;
    let standby = match standby_task {
        Some(task) => Some(task.await.map_err(|source| ToolError::Panicked {
            what: "the standby reader",
            source,
        })?),
        None => None,
    };

    let checks_until = Instant::now() + Duration::from_secs(args.grace_secs);
    let mut checker = checks::LogChecker::new(&writers, &onboarding_ids);
    checks::read_log(&store, checks_until, &mut checker).await?;
    let log_len = checker.entries();
    let stored_checkpoint = with_retries(checks_until, || store.fact_checkpoint())
        .await?
        .map(|c| c.next_position);
    let verify = with_retries(checks_until, || store.verify(PositionRange::default())).await?;
    let mut checks = checker.finish(&checks::RunOutcome {
        final_next,
        verify: &verify,
        subscribed: &subscribed,
        projected: &projected,
        stored_checkpoint,
    });
    let whole_minutes = usize::try_from(args.secs / 60).unwrap_or(usize::MAX);
    let series = shared.minutes.series(whole_minutes);
    let steadiness = minutes::steadiness(&series);
    checks.extend(steadiness.map(checks::steadiness));
    if let Some(path) = &args.svg {
        let title = format!(
            "opsledger load: {} writers × {} min on {backend}",
            args.writers,
            series.len()
        );
        std::fs::write(path, minutes::svg(&series, &title))
            .map_err(|e| ToolError::io(format!("writing {}", path.display()), e))?;
    }
    report::print(&report::Printed {
        args: &args,
        backend: &backend,
        settings: &settings,
        shared: &shared,
        writers: &writers,
        writing,
        followed,
        subscribed: &subscribed,
        projected: &projected,
        sampled: &sampled,
        log_len,
        checks: &checks,
        series: &series,
        steadiness,
        standby: standby.as_ref(),
    });
    let failed = checks.iter().filter(|c| c.problem.is_some()).count();
    if failed > 0 {
        return Err(ToolError::CheckFailed(format!(
            "{failed} load check(s) failed"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_short_embedded_run_passes_its_checks() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::File(dir.path().join("load.ledger"));
        let args = LoadOptions {
            writers: 4,
            secs: 1,
            kill_server_at: None,
            grace_secs: 30,
            standby_url: None,
            svg: None,
        };
        run(&target, args).await.unwrap();
    }
}
