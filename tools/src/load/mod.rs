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
//! and that the read model's stored checkpoint reached the head. It exits non-zero when a check fails; the figures
//! themselves are reported, never judged.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use opsledger_app::project::{self, Start};
use opsledger_app::store::{EventStore, ExpectedVersion, PositionRange, StoreError, VerifyReport};
use opsledger_app::{Progress, Target};
use uuid::Uuid;

use crate::bench;
use crate::error::{ToolError, ToolResult};

mod minutes;

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
/// Longest wait for one append before it counts as failed and is retried.
const APPEND_TIMEOUT: Duration = Duration::from_secs(30);
/// First pause after a failed append; it doubles up to [`MAX_RETRY_PAUSE`].
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(20);
/// Longest pause between retries, so a writer notices a restarted server within a second.
const MAX_RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Pause of a follower (subscriber, projection) after a failed read.
const FOLLOWER_RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Writer `w` uses event-id namespace `WRITER_NAMESPACE_BASE + w`, as the bench's writers do.
const WRITER_NAMESPACE_BASE: u64 = 100;
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

/// The kind of a store error for the error counts: its variant name.
fn error_kind(error: &StoreError) -> String {
    let debug = format!("{error:?}");
    debug
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or("Unknown")
        .to_owned()
}

fn new_histogram() -> Histogram<u64> {
    Histogram::<u64>::new(3).expect("3 significant figures is a valid precision")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// What one writer did.
#[derive(Debug)]
struct WriterReport {
    /// Latency of the attempt that succeeded, in microseconds.
    attempt_latency: Histogram<u64>,
    /// From the first attempt to the acknowledgement, retries included, in microseconds.
    ack_latency: Histogram<u64>,
    /// Acknowledged events and the positions they were acknowledged with.
    acked: Vec<(Uuid, u64)>,
    /// Acknowledgements that were idempotent replays: a retry of an append that had committed.
    replays: u64,
    /// The event the writer gave up on after the grace period, if any.
    abandoned: Option<Uuid>,
}

async fn writer(
    store: Arc<dyn EventStore>,
    shared: Arc<Shared>,
    w: u64,
    deadline: Instant,
    give_up: Instant,
) -> ToolResult<WriterReport> {
    let namespace = WRITER_NAMESPACE_BASE + w;
    let workload = bench::Workload::default();
    let mut report = WriterReport {
        attempt_latency: new_histogram(),
        ack_latency: new_histogram(),
        acked: Vec::new(),
        replays: 0,
        abandoned: None,
    };
    let mut i = 0u64;
    while Instant::now() < deadline {
        let event = workload.event(i, namespace);
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
                    report.acked.push((event.event_id, position));
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
                report.abandoned = Some(event.event_id);
                return Ok(report);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_RETRY_PAUSE);
        }
        i += 1;
    }
    Ok(report)
}

/// What the subscriber saw.
#[derive(Debug, Default)]
struct SubscriberReport {
    /// Event ids in delivery order.
    delivered: Vec<Uuid>,
    /// Failed reads (retried).
    errors: u64,
    /// The first delivery out of position order, if any.
    disorder: Option<String>,
}

async fn subscriber(store: Arc<dyn EventStore>, shared: Arc<Shared>) -> SubscriberReport {
    let mut report = SubscriberReport::default();
    let mut subscription = store.subscribe(0);
    let mut expected = 0u64;
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
                    if event.global_position != expected && report.disorder.is_none() {
                        report.disorder = Some(format!(
                            "expected position {expected}, got {}",
                            event.global_position
                        ));
                    }
                    expected = event.global_position.saturating_add(1);
                    report.delivered.push(event.event_id);
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
struct ProjectionReport {
    /// Catch-ups that failed (retried).
    errors: u64,
    /// The last failure, named by the check when the stored checkpoint falls short of the head.
    last_failure: Option<String>,
    /// The read model's stored checkpoint (next position) after the follower stopped.
    stored_checkpoint: Option<u64>,
}

/// Publishes each page a catch-up commits as the projection's checkpoint, so the sampler sees
/// the projection move during a long catch-up, not only when it returns.
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
async fn projection(store: Arc<dyn EventStore>, shared: Arc<Shared>) -> ProjectionReport {
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

/// Resident memory of one process, from `/proc/<pid>/status`.
#[derive(Debug, Default, Clone, Copy)]
struct ProcessMemory {
    parent: u32,
    rss_kib: u64,
    anon_kib: u64,
    peak_kib: u64,
}

fn process_memory(pid: &str) -> Option<ProcessMemory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mut memory = ProcessMemory::default();
    for line in status.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let number = || {
            value
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
        };
        match key {
            "PPid" => memory.parent = number().and_then(|n| u32::try_from(n).ok())?,
            "VmRSS" => memory.rss_kib = number()?,
            "RssAnon" => memory.anon_kib = number()?,
            "VmHWM" => memory.peak_kib = number()?,
            _ => {}
        }
    }
    Some(memory)
}

/// The PostgreSQL server's processes, found through its data directory's `postmaster.pid`
/// (re-read at every sample, so a restarted server is followed).
#[derive(Debug)]
struct PgServer {
    data_directory: PathBuf,
}

/// The summed memory of the server's processes at one instant.
#[derive(Debug, Default, Clone, Copy)]
struct ServerMemory {
    rss_kib: u64,
    anon_kib: u64,
    processes: u64,
}

impl PgServer {
    /// Asks the server for its data directory; `None` when it will not say (not a superuser)
    /// or is not on this machine.
    async fn find(url: &str) -> Option<Self> {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .ok()?;
        let driver = tokio::spawn(connection);
        let row = client.query_one("SHOW data_directory", &[]).await.ok();
        drop(client);
        driver.await.ok();
        let data_directory = PathBuf::from(row?.get::<_, String>(0));
        data_directory
            .join("postmaster.pid")
            .exists()
            .then_some(Self { data_directory })
    }

    fn sample(&self) -> Option<ServerMemory> {
        let pid_file = std::fs::read_to_string(self.data_directory.join("postmaster.pid")).ok()?;
        let postmaster: u32 = pid_file.lines().next()?.trim().parse().ok()?;
        let own = process_memory(&postmaster.to_string())?;
        let mut total = ServerMemory {
            rss_kib: own.rss_kib,
            anon_kib: own.anon_kib,
            processes: 1,
        };
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            if let Some(child) = process_memory(pid).filter(|m| m.parent == postmaster) {
                total.rss_kib += child.rss_kib;
                total.anon_kib += child.anon_kib;
                total.processes += 1;
            }
        }
        Some(total)
    }
}

/// What the sampler measured.
#[derive(Debug)]
struct SamplerReport {
    subscriber_lag: Histogram<u64>,
    projection_lag: Histogram<u64>,
    /// Samples where the head could not be read and the acknowledged head stood in.
    head_errors: u64,
    /// The largest summed server memory seen.
    server_peak: Option<ServerMemory>,
    /// The largest number of server processes seen.
    server_processes: u64,
}

async fn sampler(
    store: Arc<dyn EventStore>,
    shared: Arc<Shared>,
    server: Option<PgServer>,
) -> SamplerReport {
    let mut report = SamplerReport {
        subscriber_lag: new_histogram(),
        projection_lag: new_histogram(),
        head_errors: 0,
        server_peak: None,
        server_processes: 0,
    };
    let mut ticks = tokio::time::interval(SAMPLE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while !shared.stop_sampling.load(Ordering::Relaxed) {
        ticks.tick().await;
        let head_next = match tokio::time::timeout(SAMPLE_EVERY, store.head()).await {
            Ok(Ok(head)) => head.map_or(0, |h| h.position.saturating_add(1)),
            _ => {
                report.head_errors += 1;
                shared.acked_next.load(Ordering::Relaxed)
            }
        };
        let subscriber = shared.subscriber_next.load(Ordering::Relaxed);
        let projection = shared.projection_next.load(Ordering::Relaxed);
        report
            .subscriber_lag
            .record(head_next.saturating_sub(subscriber))
            .ok();
        report
            .projection_lag
            .record(head_next.saturating_sub(projection))
            .ok();
        if let Some(own) = process_memory("self") {
            shared.minutes.memory(shared.elapsed_ms(), own.rss_kib);
        }
        if let Some(memory) = server.as_ref().and_then(PgServer::sample) {
            report.server_processes = report.server_processes.max(memory.processes);
            let peak = report.server_peak.get_or_insert(memory);
            peak.rss_kib = peak.rss_kib.max(memory.rss_kib);
            peak.anon_kib = peak.anon_kib.max(memory.anon_kib);
        }
    }
    report
}

/// What the reader on the standby did.
#[derive(Debug, Default)]
struct StandbyReport {
    /// Events read, in position order.
    events: u64,
    /// Failed connects or reads (retried).
    errors: u64,
}

/// Follows the log on a hot standby while the writers run, as a reporting job there would,
/// and records how far behind the acknowledged head it is at every read.
async fn standby_reader(url: String, shared: Arc<Shared>) -> StandbyReport {
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

/// The whole log, read back in pages.
async fn read_log(store: &Arc<dyn EventStore>, until: Instant) -> ToolResult<Vec<(u64, Uuid)>> {
    let mut log = Vec::new();
    let mut from = 0u64;
    loop {
        let page = with_retries(until, || store.read_all(from, READ_PAGE)).await?;
        let Some(last) = page.last() else { break };
        from = last.global_position.saturating_add(1);
        log.extend(page.iter().map(|e| (e.global_position, e.event_id)));
    }
    Ok(log)
}

/// One check's verdict.
#[derive(Debug)]
struct Check {
    what: &'static str,
    problem: Option<String>,
}

impl Check {
    fn new(what: &'static str, problem: Option<String>) -> Self {
        Self { what, problem }
    }
}

fn vm_hwm_kib() -> Option<u64> {
    process_memory("self").map(|m| m.peak_kib)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib_to_mib(kib))
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

/// Runs the load against `target`, prints the figures and the checks, and fails when a check
/// fails.
pub async fn run(target: &Target, args: LoadOptions) -> ToolResult<()> {
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
    let subscriber_task = tokio::spawn(subscriber(Arc::clone(&store), Arc::clone(&shared)));
    let projection_task = tokio::spawn(projection(Arc::clone(&store), Arc::clone(&shared)));
    let sampler_task = tokio::spawn(sampler(Arc::clone(&store), Arc::clone(&shared), server));
    let standby_task = args
        .standby_url
        .clone()
        .map(|url| tokio::spawn(standby_reader(url, Arc::clone(&shared))));
    let mut writer_tasks = Vec::new();
    for w in 0..args.writers {
        writer_tasks.push(tokio::spawn(writer(
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
    let mut projected = projection_task
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
    let log = read_log(&store, checks_until).await?;
    projected.stored_checkpoint = with_retries(checks_until, || store.fact_checkpoint())
        .await?
        .map(|c| c.next_position);
    let verify = with_retries(checks_until, || store.verify(PositionRange::default())).await?;
    let whole_minutes = usize::try_from(args.secs / 60).unwrap_or(usize::MAX);
    let series = shared.minutes.series(whole_minutes);
    let steadiness = minutes::steadiness(&series);
    let mut checks = check(
        &log,
        final_next,
        &onboarding_ids,
        &writers,
        &verify,
        &subscribed,
        &projected,
    );
    if let Some(s) = steadiness {
        checks.push(Check::new(
            "throughput of the last minutes within 15 % of the first",
            (!s.holds()).then(|| {
                format!(
                    "{:.0} events/s in the first {w} minutes, {:.0} in the last {w} ({:+.1} %)",
                    s.first_per_sec,
                    s.last_per_sec,
                    s.change_percent,
                    w = minutes::STEADY_WINDOW_MINUTES
                )
            }),
        ));
    }
    if let Some(path) = &args.svg {
        let title = format!(
            "opsledger load: {} writers × {} min on {backend}",
            args.writers,
            series.len()
        );
        std::fs::write(path, minutes::svg(&series, &title))
            .map_err(|e| ToolError::io(format!("writing {}", path.display()), e))?;
    }
    print(&Printed {
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
        log_len: log.len(),
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

fn check(
    log: &[(u64, Uuid)],
    final_next: u64,
    onboarding: &HashSet<Uuid>,
    writers: &[WriterReport],
    verify: &VerifyReport,
    subscribed: &SubscriberReport,
    projected: &ProjectionReport,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let positions: HashMap<Uuid, u64> = log.iter().map(|(p, id)| (*id, *p)).collect();
    let log_next = u64::try_from(log.len()).unwrap_or(u64::MAX);

    let gap = log
        .iter()
        .zip(0u64..)
        .find(|((position, _), expected)| position != expected)
        .map(|((position, _), expected)| format!("position {expected} is followed by {position}"));
    checks.push(Check::new("positions are gap-free from 0", gap));

    let doubled = log.len() - positions.len();
    checks.push(Check::new(
        "no event id recorded twice",
        (doubled > 0).then(|| format!("{doubled} duplicate event ids")),
    ));

    let acked: Vec<&(Uuid, u64)> = writers.iter().flat_map(|w| &w.acked).collect();
    let misplaced: Vec<String> = acked
        .iter()
        .filter(|(id, position)| positions.get(id) != Some(position))
        .take(3)
        .map(|(id, position)| {
            format!(
                "{id} acknowledged at {position}, found at {:?}",
                positions.get(id)
            )
        })
        .collect();
    checks.push(Check::new(
        "every acknowledged event is in the log at its acknowledged position",
        (!misplaced.is_empty()).then(|| misplaced.join("; ")),
    ));

    let expected_ids: HashSet<Uuid> = acked
        .iter()
        .map(|(id, _)| *id)
        .chain(onboarding.iter().copied())
        .chain(writers.iter().filter_map(|w| w.abandoned))
        .collect();
    let unexpected = log
        .iter()
        .filter(|(_, id)| !expected_ids.contains(id))
        .count();
    checks.push(Check::new(
        "nothing was recorded that no writer sent",
        (unexpected > 0).then(|| format!("{unexpected} events no writer sent")),
    ));

    let chain = match verify {
        VerifyReport::Intact { events, .. } if *events == log_next => None,
        VerifyReport::Intact { events, .. } => {
            Some(format!("verified {events} events of {log_next}"))
        }
        broken => Some(format!("{broken:?}")),
    };
    checks.push(Check::new("the hash chain verifies", chain));

    let log_ids: Vec<Uuid> = log.iter().map(|(_, id)| *id).collect();
    let mut seen = subscribed.disorder.clone();
    if seen.is_none() && subscribed.delivered != log_ids {
        let first = subscribed
            .delivered
            .iter()
            .zip(&log_ids)
            .position(|(a, b)| a != b);
        seen = Some(format!(
            "delivered {} events, the log holds {}; first difference at {first:?}",
            subscribed.delivered.len(),
            log_ids.len()
        ));
    }
    checks.push(Check::new(
        "the subscriber saw every event exactly once, in order",
        seen,
    ));

    // The rows are what reports read, so the check asks the store, not the follower.
    let reached = projected.stored_checkpoint.unwrap_or(0);
    let projection = (reached != log_next).then(|| {
        let why = projected
            .last_failure
            .as_ref()
            .map(|f| format!(" (last failure: {f})"))
            .unwrap_or_default();
        format!("stored checkpoint {reached} of {log_next}{why}")
    });
    checks.push(Check::new("the projection reached the head", projection));

    checks.push(Check::new(
        "no event was appended after the run",
        (final_next != log_next)
            .then(|| format!("head was {final_next} after the run, {log_next} at the checks")),
    ));
    checks
}

/// Everything the report prints.
struct Printed<'a> {
    args: &'a LoadOptions,
    backend: &'a str,
    settings: &'a str,
    shared: &'a Shared,
    writers: &'a [WriterReport],
    writing: Duration,
    followed: Duration,
    subscribed: &'a SubscriberReport,
    projected: &'a ProjectionReport,
    sampled: &'a SamplerReport,
    log_len: usize,
    checks: &'a [Check],
    series: &'a [minutes::Minute],
    steadiness: Option<minutes::Steadiness>,
    standby: Option<&'a StandbyReport>,
}

fn print(p: &Printed<'_>) {
    let mut attempt = new_histogram();
    let mut ack = new_histogram();
    for w in p.writers {
        attempt.add(&w.attempt_latency).ok();
        ack.add(&w.ack_latency).ok();
    }
    let acked = attempt.len();
    let replays: u64 = p.writers.iter().map(|w| w.replays).sum();
    let abandoned = p.writers.iter().filter(|w| w.abandoned.is_some()).count();
    let errors = p
        .shared
        .errors
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let error_total: u64 = errors.values().sum();

    println!(
        "\n### load: {}, {} writers × {} s{}\n",
        p.backend,
        p.args.writers,
        p.args.secs,
        p.args
            .kill_server_at
            .map(|k| format!(", server killed (SIGKILL) and restarted at {k} s"))
            .unwrap_or_default()
    );
    println!("machine: {}; {}", bench::machine(), p.settings);
    println!(
        "workload: single-event appends of the bench's call events, one stream per call, ExpectedVersion::Any; a failed append is retried with the same event id\n"
    );
    println!("| measurement | value |");
    println!("|---|---|");
    println!(
        "| events acknowledged | {acked} in {:.1} s ({} idempotent replays of retried appends, {abandoned} abandoned) |",
        p.writing.as_secs_f64(),
        replays
    );
    println!("| throughput | {:.0} events/s |", per_sec(acked, p.writing));
    println!(
        "| append latency (successful attempt) | p50 {} µs, p99 {} µs, max {} µs |",
        attempt.value_at_quantile(0.5),
        attempt.value_at_quantile(0.99),
        attempt.max()
    );
    println!(
        "| acknowledgement latency (retries included) | p50 {} µs, p99 {} µs, max {} µs |",
        ack.value_at_quantile(0.5),
        ack.value_at_quantile(0.99),
        ack.max()
    );
    let error_text = if error_total == 0 {
        "none".to_owned()
    } else {
        let kinds: Vec<String> = errors.iter().map(|(k, n)| format!("{k} × {n}")).collect();
        format!(
            "{error_total} ({}), from {:.1} s to {:.1} s",
            kinds.join(", "),
            ms_to_secs(p.shared.first_error_ms.load(Ordering::Relaxed)),
            ms_to_secs(p.shared.last_error_ms.load(Ordering::Relaxed))
        )
    };
    println!("| failed appends, retried | {error_text} |");
    println!(
        "| longest time without an acknowledgement | {:.2} s |",
        ms_to_secs(p.shared.longest_stall_ms.load(Ordering::Relaxed))
    );
    println!(
        "| subscriber lag (head − subscriber, every 250 ms) | max {}, p99 {} events ({} read errors retried) |",
        p.sampled.subscriber_lag.max(),
        p.sampled.subscriber_lag.value_at_quantile(0.99),
        p.subscribed.errors
    );
    println!(
        "| read-model lag (head − stored checkpoint, every 250 ms) | max {}, p99 {} events ({} failed catch-ups retried) |",
        p.sampled.projection_lag.max(),
        p.sampled.projection_lag.value_at_quantile(0.99),
        p.projected.errors
    );
    println!(
        "| followers at the head | {:.1} s after the start ({} events in the log) |",
        p.followed.as_secs_f64(),
        p.log_len
    );
    println!(
        "| peak RSS of this process (VmHWM) | {} |",
        vm_hwm_kib().map_or_else(|| "unknown".to_owned(), mib)
    );
    let server = match (&p.sampled.server_peak, p.backend.starts_with("PostgreSQL")) {
        (Some(m), _) => format!(
            "{} summed RSS, {} of it private (RssAnon), up to {} processes; shared buffers count once per process that touched them",
            mib(m.rss_kib),
            mib(m.anon_kib),
            p.sampled.server_processes
        ),
        (None, true) => "not measured (server not local, or its data directory not readable)".to_owned(),
        (None, false) => "no server (embedded)".to_owned(),
    };
    println!("| PostgreSQL server memory (max of samples) | {server} |");
    if p.sampled.head_errors > 0 {
        println!(
            "| lag samples without a readable head | {} (the highest acknowledged position stood in) |",
            p.sampled.head_errors
        );
    }
    let run_buckets = usize::try_from(p.args.secs)
        .unwrap_or(usize::MAX)
        .div_ceil(TIMELINE_BUCKET_SECS);
    let bucket = Duration::from_secs(u64::try_from(TIMELINE_BUCKET_SECS).unwrap_or(1));
    let buckets: Vec<String> = p
        .shared
        .acks_per_sec
        .chunks(TIMELINE_BUCKET_SECS)
        .take(run_buckets)
        .map(|chunk| {
            let n: u64 = chunk.iter().map(|a| a.load(Ordering::Relaxed)).sum();
            format!("{:.0}", per_sec(n, bucket))
        })
        .collect();
    println!(
        "| events/s by {TIMELINE_BUCKET_SECS} s | {} |",
        buckets.join(" ")
    );
    if let Some(standby) = p.standby {
        println!(
            "| reader on the standby | {} events read, {} failed reads retried |",
            standby.events, standby.errors
        );
    }
    if let Some(s) = p.steadiness {
        println!(
            "| first {w} minutes against the last {w} | {:.0} → {:.0} events/s ({:+.1} %) |",
            s.first_per_sec,
            s.last_per_sec,
            s.change_percent,
            w = minutes::STEADY_WINDOW_MINUTES
        );
    }
    if !p.series.is_empty() {
        println!(
            "\n| minute | events/s | p99 append | max append | RSS (this process) | standby lag |"
        );
        println!("|---:|---:|---:|---:|---:|---:|");
        for m in p.series {
            println!(
                "| {} | {:.0} | {:.1} ms | {:.1} ms | {:.0} MiB | {} |",
                m.number,
                m.events_per_sec,
                ms_of_us(m.p99_us),
                ms_of_us(m.max_us),
                m.rss_mib,
                m.standby_lag_events
                    .map_or_else(|| "–".to_owned(), |lag| format!("{lag} events"))
            );
        }
    }
    println!("\nchecks:");
    for c in p.checks {
        match &c.problem {
            None => println!("- ok: {}", c.what),
            Some(problem) => println!("- FAILED: {}: {problem}", c.what),
        }
    }
}

fn ms_of_us(us: u64) -> f64 {
    // Display only: microsecond latencies are far below 2^52.
    #[allow(clippy::cast_precision_loss)]
    let us = us as f64;
    us / 1000.0
}

fn ms_to_secs(ms: u64) -> f64 {
    if ms == u64::MAX {
        return 0.0;
    }
    per_sec(ms, Duration::from_secs(1000))
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
    fn this_process_reports_its_memory() {
        let m = process_memory("self").unwrap();
        assert!(m.rss_kib > 0 && m.peak_kib >= m.rss_kib);
    }

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
