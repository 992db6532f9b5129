//! `opsledger bench`: throughput of bulk append, concurrent single appends, read-all and
//! verify on each backend, printed with the machine and durability settings they ran under.
//!
//! A benchmark, not a test: nothing here asserts a figure.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use hdrhistogram::Histogram;
use opsledger_app::store::postgres::baseline::PlainCopy;
use opsledger_app::store::{
    EventStore, ExpectedVersion, Metadata, NewEvent, PgStore, PositionRange, SqliteStore,
    StreamAppend, StreamId,
};
use opsledger_app::Progress;
use uuid::Uuid;

use crate::error::{ToolError, ToolResult};

/// Which backends to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Postgres,
    All,
}

/// What to measure, and how much.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Which backends to measure (PostgreSQL needs a database URL).
    pub backend: Backend,
    /// Events in the bulk append.
    pub events: u64,
    /// What the bulk append generates: how many clients its calls are spread over.
    pub workload: Workload,
    /// Events per bulk append call.
    pub batch: u64,
    /// Concurrent writers in the single-append test.
    pub writers: u64,
    /// Seconds the concurrent writers run.
    pub concurrent_secs: u64,
    /// On PostgreSQL, also measure the yardsticks (a plain `COPY` of the same rows and
    /// `pgbench` single-row inserts); a run that only wants the ledger skips them.
    pub yardsticks: bool,
    /// Directory for the embedded ledger file (deleted and recreated).
    pub dir: PathBuf,
    /// The instant the measured report judges pending deadlines at.
    pub evaluated_at: DateTime<Utc>,
}

/// Events per stream in the bulk workload (a call: connected, answered, completed, documented).
pub(crate) const EVENTS_PER_STREAM: u64 = 4;
/// Events per page when reading the whole log back.
const READ_PAGE: usize = 10_000;
/// Events appended after the rebuild for the catch-up measurement.
const CATCH_UP_EVENTS: u64 = 1_000;
/// At most this many decoded events are held for the fold-alone measurement (the whole log of
/// the default 1 M-event run fits under it).
const FOLD_SAMPLE_EVENTS: usize = 2_000_000;

#[derive(Debug, Default)]
struct Figures {
    bulk_events: u64,
    bulk: Duration,
    concurrent_events: u64,
    concurrent: Duration,
    p50_us: u64,
    p99_us: u64,
    read_events: u64,
    read: Duration,
    verify_events: u64,
    verify: Duration,
    plain_copy: Option<(u64, Duration)>,
    /// The bulk append's and the COPY's time in each fifth of the run.
    bulk_segments: [(Duration, Duration); BULK_SEGMENTS],
    pgbench: Option<crate::pgbench::PgbenchFigures>,
    /// Each round's concurrent appends per second and pgbench's transactions per second.
    concurrent_rounds: Vec<(f64, f64)>,
    pgbench_missing: bool,
    rebuild_events: u64,
    rebuild: Duration,
    catch_up_events: u64,
    catch_up: Duration,
    fold_events: u64,
    fold: Duration,
    sla_report: Duration,
    sla_calls: u64,
}

fn rate(events: u64, d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs == 0.0 {
        return "-".into();
    }
    // The figure is for display only; f64 holds any realistic count exactly enough.
    #[allow(clippy::cast_precision_loss)]
    let per_sec = events as f64 / secs;
    format!("{per_sec:>12.0}")
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .single()
        .expect("a valid instant")
}

/// Seconds between successive calls of the workload: 250,000 calls (1 M events) span about a
/// month whatever the number of clients, so a client's month holds the same calls at 1 M
/// events and at 10 M.
const SECS_BETWEEN_CALLS: i64 = 10;

/// The generated workload: calls of four events each, one every [`SECS_BETWEEN_CALLS`] from
/// 2026-10-01, dealt to `clients` clients in turn (`bench00`, `bench01` …). Deterministic: the
/// same index gives the same event, ids included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    clients: u64,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            clients: Workload::DEFAULT_CLIENTS,
        }
    }
}

impl Workload {
    /// The clients of the workload unless told otherwise: the published figures at 1 M events
    /// were measured with 20.
    pub const DEFAULT_CLIENTS: u64 = 20;

    /// A workload spread over `clients` clients; at least one is needed to deal calls to.
    pub fn new(clients: u64) -> ToolResult<Self> {
        if clients == 0 {
            return Err(ToolError::Invalid(
                "the workload needs at least one client".to_owned(),
            ));
        }
        Ok(Workload { clients })
    }

    /// How many clients the calls are spread over.
    pub fn clients(&self) -> u64 {
        self.clients
    }

    /// The client of the `call`-th call.
    pub(crate) fn client_of(&self, call: u64) -> String {
        format!("bench{:02}", call % self.clients)
    }

    /// The onboarding of every workload client, so the log is a valid history the projections
    /// can rebuild: the same agreement as `examples/lab-client.ndjson`.
    pub(crate) fn onboarding_events(&self) -> ToolResult<Vec<StreamAppend>> {
        let template = include_str!("../../examples/lab-client.ndjson");
        let line: serde_json::Value = serde_json::from_str(template.trim())
            .map_err(|e| ToolError::Invalid(format!("examples/lab-client.ndjson: {e}")))?;
        let mut out = Vec::new();
        for c in 0..self.clients {
            let client = self.client_of(c);
            let mut args = line["args"].clone();
            args["client_id"] = serde_json::Value::String(client.clone());
            args["at"] = serde_json::Value::String("2026-09-01T00:00:00Z".into());
            args["agreement"]["go_live_date"] = serde_json::Value::String("2026-09-01".into());
            out.push(StreamAppend {
                stream_id: StreamId::new("client", &client)?,
                expected_version: ExpectedVersion::NoStream,
                events: vec![NewEvent {
                    event_id: Uuid::from_u64_pair(u64::MAX, c),
                    event_type: "client.onboarded".into(),
                    schema_version: 1,
                    client_id: Some(client),
                    occurred_at: base_time() - chrono::Duration::days(30),
                    data: args,
                    metadata: Metadata::default(),
                }],
            });
        }
        Ok(out)
    }

    /// The i-th event of the workload: calls of four events each (connected, answered,
    /// completed, documented with personal fields, as the domain defines them), about 200
    /// bytes of JSON on average.
    pub(crate) fn event(&self, i: u64, namespace: u64) -> NewEvent {
        let call = i / EVENTS_PER_STREAM;
        let client = self.client_of(call);
        let call_id = format!("{client}:{namespace}-{call}");
        let connected = base_time()
            + chrono::Duration::seconds(i64::try_from(call).expect("fits") * SECS_BETWEEN_CALLS);
        let wait_secs = i64::try_from((call * 7) % 40).expect("small");
        let agent = format!("agent-{:03}", call % 97);
        let (event_type, at, data) = match i % EVENTS_PER_STREAM {
            0 => (
                "call.connected",
                connected,
                serde_json::json!({"client_id": client, "call_id": call_id, "at": connected,
                    "queue": "support-general-english", "caller_number": sealed(call, 1)}),
            ),
            1 => {
                let at = connected + chrono::Duration::seconds(wait_secs);
                (
                    "call.answered",
                    at,
                    serde_json::json!({"client_id": client, "call_id": call_id, "at": at, "agent_id": agent}),
                )
            }
            2 => {
                let at = connected + chrono::Duration::seconds(wait_secs + 180);
                (
                    "call.completed",
                    at,
                    serde_json::json!({"client_id": client, "call_id": call_id, "at": at}),
                )
            }
            _ => {
                let at = connected + chrono::Duration::seconds(wait_secs + 240);
                (
                    "call.documented",
                    at,
                    serde_json::json!({"client_id": client, "call_id": call_id, "at": at, "agent_id": agent,
                        "caller_name": sealed(call, 2), "caller_contact": sealed(call, 3),
                        "nature_of_call": "billing inquiry about the October invoice",
                        "action_taken": "explained the late fee, booked a callback with the account manager",
                        "fields_present": {"caller_name": true, "caller_contact": true, "nature_of_call": true, "action_taken": true}}),
                )
            }
        };
        NewEvent {
            event_id: Uuid::from_u64_pair(namespace, i),
            event_type: event_type.to_owned(),
            schema_version: 1,
            client_id: Some(client),
            occurred_at: at,
            data,
            metadata: Metadata {
                correlation_id: None,
                causation_id: None,
                actor: Some("bench".into()),
                source: Some("opsledger-bench".into()),
            },
        }
    }

    /// The stream of the `call`-th call in `namespace`.
    pub(crate) fn call_stream(&self, call: u64, namespace: u64) -> ToolResult<StreamId> {
        Ok(StreamId::new(
            "call",
            &format!("{}:{namespace}-{call}", self.client_of(call)),
        )?)
    }

    /// Events `first..first + size` of `namespace`, one stream append per call.
    fn bulk_batch(&self, first: u64, size: u64, namespace: u64) -> ToolResult<Vec<StreamAppend>> {
        let mut streams: Vec<StreamAppend> = Vec::new();
        for i in first..first + size {
            let stream_id = self.call_stream(i / EVENTS_PER_STREAM, namespace)?;
            match streams.last_mut() {
                Some(s) if s.stream_id == stream_id => s.events.push(self.event(i, namespace)),
                _ => streams.push(StreamAppend {
                    stream_id,
                    expected_version: ExpectedVersion::NoStream,
                    events: vec![self.event(i, namespace)],
                }),
            }
        }
        Ok(streams)
    }
}

/// Stands in for an encrypted personal field as issue 6 will store it: a version tag and the
/// base64 of a 12-byte nonce, the ciphertext and a 16-byte tag (about 64 characters).
fn sealed(call: u64, field: u64) -> String {
    let a = call.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ field;
    let b = a.rotate_left(17).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    format!("enc:v1:{a:016x}{b:016x}{:016x}{:08x}", a ^ b, field)
}

/// Rounds in which the concurrent writers and pgbench take turns.
const YARDSTICK_ROUNDS: u64 = 3;
/// Parts of the bulk append whose ratios to the COPY are printed beside the whole run's, to
/// show how much the ratio moved while the run lasted.
const BULK_SEGMENTS: usize = 5;
/// Event indexes of one concurrent round start this far apart, so rounds never reuse an id: far
/// more than one writer appends in a round, and small enough that the workload's instants
/// (a call every 10 s per index/4) stay within a few years of 2026.
const ROUND_INDEX_STRIDE: u64 = 1 << 24;

/// Which fifth of the bulk append the batch starting at `next` belongs to.
fn segment_of(next: u64, events: u64) -> usize {
    let segments = u64::try_from(BULK_SEGMENTS).expect("small");
    usize::try_from(next.saturating_mul(segments) / events.max(1))
        .map_or(BULK_SEGMENTS - 1, |s| s.min(BULK_SEGMENTS - 1))
}

/// Events per second; for display and ratios only.
fn per_sec(events: u64, d: Duration) -> f64 {
    // f64 holds any realistic count exactly enough for a printed rate.
    #[allow(clippy::cast_precision_loss)]
    let events = events as f64;
    events / d.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// One round of `writers` concurrent single appends for `secs`; the events appended and the
/// time they took, each append's latency recorded in `hist`.
async fn concurrent_round(
    store: &Arc<dyn EventStore>,
    workload: Workload,
    writers: u64,
    round: u64,
    secs: u64,
    hist: &mut Histogram<u64>,
) -> ToolResult<(u64, Duration)> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = Arc::clone(store);
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).expect("valid precision");
            let stream = StreamId::new("load", &format!("w{w}")).expect("valid");
            let mut i = round * ROUND_INDEX_STRIDE;
            while Instant::now() < deadline {
                let t = Instant::now();
                store
                    .append(
                        &stream,
                        ExpectedVersion::Any,
                        vec![workload.event(i, 100 + w)],
                    )
                    .await?;
                let micros = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                hist.record(micros).ok();
                i += 1;
            }
            Ok::<_, ToolError>(hist)
        }));
    }
    let mut events = 0u64;
    for t in tasks {
        let writer = t.await.map_err(|source| ToolError::Panicked {
            what: "a writer",
            source,
        })??;
        events += writer.len();
        hist.add(writer)
            .map_err(|e| ToolError::Histogram(e.to_string()))?;
    }
    Ok((events, started.elapsed()))
}

async fn measure(
    store: Arc<dyn EventStore>,
    args: &BenchOptions,
    plain_copy_url: Option<&str>,
    progress: &dyn Progress,
) -> ToolResult<Figures> {
    if store.head().await?.is_some() {
        return Err(ToolError::Invalid(
            "the benchmark needs an empty ledger".to_owned(),
        ));
    }
    let mut f = Figures::default();
    progress.start(args.events);
    let workload = args.workload;
    store.append_batch(workload.onboarding_events()?).await?;
    // The yardstick COPYs each batch right after the store appended it, so both meet the same
    // moments of a shared machine (whose speed drifts by tens of percent from one minute to the
    // next here) and their ratio measures the store, not the drift. Each side is timed from
    // rows in memory to COMMIT: generating the workload is the benchmark's, not the store's.
    let mut copy = match plain_copy_url {
        Some(url) => Some(PlainCopy::new(url).await?),
        None => None,
    };
    let mut copy_from = store.head().await?.map_or(0, |h| h.position + 1);
    let mut next = 0u64;
    while next < args.events {
        let size = args.batch.min(args.events - next);
        let batch = workload.bulk_batch(next, size, 1)?;
        let started = Instant::now();
        store.append_batch(batch).await?;
        let ours = started.elapsed();
        f.bulk += ours;
        if let Some(copy) = copy.as_mut() {
            let rows = store
                .read_all(
                    copy_from,
                    usize::try_from(size).expect("a batch fits in memory"),
                )
                .await?;
            let Some(last) = rows.last() else { break };
            copy_from = last.global_position + 1;
            let before = copy.totals().1;
            copy.copy_batch(&rows).await?;
            let segment = segment_of(next, args.events);
            f.bulk_segments[segment].0 += ours;
            f.bulk_segments[segment].1 += copy.totals().1 - before;
        }
        next += size;
        progress.advance(size);
    }
    f.bulk_events = args.events;
    progress.finish();
    if let Some(copy) = copy {
        f.plain_copy = Some(copy.totals());
        copy.cleanup().await?;
    }

    // The concurrent writers and pgbench take turns, a round each, for the same reason the
    // bulk append and its COPY alternate.
    let rounds = if plain_copy_url.is_some() {
        YARDSTICK_ROUNDS
    } else {
        1
    };
    let round_secs = (args.concurrent_secs / rounds).max(1);
    let data = serde_json::to_string(&workload.event(1, 100).data)
        .map_err(|e| ToolError::Invalid(format!("the workload event: {e}")))?;
    let mut hist = Histogram::<u64>::new(3).expect("valid precision");
    let mut pgbench_rounds: Vec<crate::pgbench::PgbenchFigures> = Vec::new();
    for round in 0..rounds {
        eprintln!(
            "  {} concurrent writers for {round_secs} s (round {} of {rounds}) ...",
            args.writers,
            round + 1
        );
        let (events, took) =
            concurrent_round(&store, workload, args.writers, round, round_secs, &mut hist).await?;
        f.concurrent += took;
        f.concurrent_events += events;
        let Some(url) = plain_copy_url else { continue };
        eprintln!(
            "  pgbench baseline: {} clients for {round_secs} s (round {} of {rounds}) ...",
            args.writers,
            round + 1
        );
        match crate::pgbench::run(url, args.writers, round_secs, &data, &workload.client_of(0))
            .await?
        {
            Some(p) => {
                f.concurrent_rounds.push((per_sec(events, took), p.tps));
                pgbench_rounds.push(p);
            }
            None => f.pgbench_missing = true,
        }
    }
    if !pgbench_rounds.is_empty() {
        f.pgbench = Some(crate::pgbench::PgbenchFigures {
            rows: pgbench_rounds.iter().map(|p| p.rows).sum(),
            duration: pgbench_rounds.iter().map(|p| p.duration).sum(),
            // Rounds of equal length: the mean of their rates is the rate of the whole.
            tps: pgbench_rounds.iter().map(|p| p.tps).sum::<f64>()
                / f64::from(u32::try_from(pgbench_rounds.len()).unwrap_or(u32::MAX)),
        });
    }
    f.p50_us = hist.value_at_quantile(0.5);
    f.p99_us = hist.value_at_quantile(0.99);

    eprintln!("  read all ...");
    let started = Instant::now();
    let mut from = 0u64;
    loop {
        let page = store.read_all(from, READ_PAGE).await?;
        let Some(last) = page.last() else { break };
        from = last.global_position + 1;
        f.read_events += u64::try_from(page.len()).expect("fits");
    }
    f.read = started.elapsed();

    eprintln!("  verify ...");
    let started = Instant::now();
    let report = store.verify(PositionRange::default()).await?;
    f.verify = started.elapsed();
    match report {
        opsledger_app::store::VerifyReport::Intact { events, .. } => f.verify_events = events,
        broken => {
            return Err(ToolError::CheckFailed(format!(
                "the benchmark ledger does not verify: {broken:?}"
            )))
        }
    }

    eprintln!("  rebuild projections ...");
    let started = Instant::now();
    let rebuilt =
        opsledger_app::project::catch_up(&store, opsledger_app::project::Start::Rebuild, progress)
            .await?;
    f.rebuild = started.elapsed();
    f.rebuild_events = rebuilt.applied;

    // Catch-up as a command after a small import meets it: a thousand new events on top of the
    // whole read model, derived and written with the checkpoint.
    store
        .append_batch(workload.bulk_batch(0, CATCH_UP_EVENTS, 3)?)
        .await?;
    let started = Instant::now();
    let caught_up = opsledger_app::project::catch_up(
        &store,
        opsledger_app::project::Start::Checkpoint,
        &opsledger_app::NoProgress,
    )
    .await?;
    f.catch_up = started.elapsed();
    f.catch_up_events = caught_up.applied;
    // The in-memory fold alone, over events already decoded, for the projection's own rate.
    // Every decoded event is held at once, so the sample is bounded: at 10 M events the whole
    // log would take several GB of memory on a shared machine.
    let mut from = 0u64;
    let mut decoded = Vec::new();
    // The workload's personal fields are placeholders, not real ciphertexts: they are withheld,
    // as the projections' own reads do.
    let mut sealer = opsledger_app::crypto::Sealer::with_mode(
        Arc::clone(&store),
        opsledger_app::crypto::PersonalData::Withhold,
    );
    while decoded.len() < FOLD_SAMPLE_EVENTS {
        let page = store.read_all(from, READ_PAGE).await?;
        let Some(last) = page.last() else { break };
        from = last.global_position + 1;
        for e in &page {
            if let Some(p) = sealer.positioned(e).await? {
                decoded.push(p);
            }
        }
    }
    let fresh_started = Instant::now();
    let mut fresh = opsledger_projections::Projections::new();
    let mut next_position = 0u64;
    for p in &decoded {
        while next_position < p.position {
            fresh.skip(next_position, p.recorded_at)?;
            next_position += 1;
        }
        fresh.apply(p)?;
        next_position += 1;
    }
    f.fold = fresh_started.elapsed();
    f.fold_events = u64::try_from(decoded.len()).unwrap_or(0);
    drop(fresh);
    let client = opsledger_domain::ids::ClientId::new(workload.client_of(0))?;
    let month = opsledger_projections::YearMonth::new(2026, 10)
        .ok_or_else(|| ToolError::Invalid("2026-10 is not a month".to_owned()))?;
    // A report as a command runs it: the client's rows read and folded, then the report.
    let started = Instant::now();
    let projections = opsledger_app::project::client_view(&store, &client, None).await?;
    let report = projections.sla_report(
        &client,
        month,
        opsledger_projections::AsOf::Head,
        args.evaluated_at,
    )?;
    f.sla_report = started.elapsed();
    f.sla_calls = report.calls.raw.offered;
    Ok(f)
}

pub(crate) fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|k| k.parse::<u64>().ok())
                })
        })
        .map_or_else(|| "?".into(), |kib| format!("{} GiB", kib / 1024 / 1024));
    format!("{cores} cores, {mem} memory")
}

pub(crate) async fn pg_settings(url: &str) -> ToolResult<String> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let mut parts = Vec::new();
    for setting in [
        "server_version",
        "fsync",
        "synchronous_commit",
        "wal_sync_method",
        "shared_buffers",
    ] {
        let row = client.query_one(&format!("SHOW {setting}"), &[]).await?;
        parts.push(format!("{setting}={}", row.get::<_, String>(0)));
    }
    Ok(parts.join(", "))
}

fn print(name: &str, settings: &str, f: &Figures, args: &BenchOptions) {
    let size = (0..EVENTS_PER_STREAM)
        .map(|i| serde_json::to_string(&args.workload.event(i, 1).data).map_or(0, |s| s.len()))
        .sum::<usize>()
        / usize::try_from(EVENTS_PER_STREAM).expect("small");
    println!("\n### {name}\n");
    println!("machine: {}; {settings}", machine());
    println!(
        "workload: {} call events (connected, answered, completed, documented) of {} clients, {} per append, {} per stream, data ≈ {size} bytes JSON on average; {} writers × {:.0} s single appends\n",
        args.events, args.workload.clients(), args.batch, EVENTS_PER_STREAM, args.writers, f.concurrent.as_secs_f64()
    );
    println!("| measurement | events | seconds | events/s |");
    println!("|---|---:|---:|---:|");
    let row = |what: &str, n: u64, d: Duration| {
        println!(
            "| {what} | {n} | {:.2} | {} |",
            d.as_secs_f64(),
            rate(n, d).trim()
        );
    };
    row("bulk append (batches)", f.bulk_events, f.bulk);
    if let Some((n, d)) = f.plain_copy {
        row("plain COPY, same rows and indexes", n, d);
        let ratio = d.as_secs_f64() / f.bulk.as_secs_f64();
        let parts: Vec<f64> = f
            .bulk_segments
            .iter()
            .filter(|(ours, _)| !ours.is_zero())
            .map(|(ours, copy)| copy.as_secs_f64() / ours.as_secs_f64())
            .collect();
        println!(
            "| bulk append / plain COPY (each batch COPYed right after it was appended) | | | {ratio:.2}×{} |",
            spread(&parts, "fifths of the run")
        );
    }
    row(
        "concurrent single appends",
        f.concurrent_events,
        f.concurrent,
    );
    if let Some(p) = f.pgbench {
        row(
            "pgbench single-row inserts, same clients, same indexes",
            p.rows,
            p.duration,
        );
        let ours = per_sec(f.concurrent_events, f.concurrent);
        let rounds: Vec<f64> = f
            .concurrent_rounds
            .iter()
            .map(|(ours, theirs)| ours / theirs)
            .collect();
        println!(
            "| concurrent single appends / pgbench ({:.0} tps by its own count; {} rounds each, taken in turn) | | | {:.2}×{} |",
            p.tps,
            rounds.len(),
            ours / p.tps,
            spread(&rounds, "rounds")
        );
    } else if f.pgbench_missing {
        println!("| pgbench single-row inserts | | | not measured: no pgbench found |");
    }
    println!(
        "| single append latency | | | p50 {} µs, p99 {} µs |",
        f.p50_us, f.p99_us
    );
    row("read all in order", f.read_events, f.read);
    row("verify chain", f.verify_events, f.verify);
    row(
        "rebuild the read model from zero (read, decode, derive, write every row)",
        f.rebuild_events,
        f.rebuild,
    );
    println!(
        "| catch-up after appending {} events | {} | {:.0} ms | |",
        CATCH_UP_EVENTS,
        f.catch_up_events,
        f.catch_up.as_secs_f64() * 1000.0
    );
    row(
        "projection fold alone (decoded events, at most the first 2,000,000)",
        f.fold_events,
        f.fold,
    );
    println!(
        "| monthly SLA report, one client ({} calls) | | {:.1} ms | |",
        f.sla_calls,
        f.sla_report.as_secs_f64() * 1000.0
    );
}

/// `", 0.61–0.80× over the rounds"`: the lowest and highest of the parts' ratios, or nothing
/// when there are fewer than two.
fn spread(ratios: &[f64], over: &str) -> String {
    let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let high = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if ratios.len() < 2 {
        return String::new();
    }
    format!(" ({low:.2}–{high:.2}× over the {over})")
}

/// Measures the backends `args` names (PostgreSQL at `database_url`) and prints a table per
/// backend; `progress` hears of the bulk append and of the rebuild.
pub async fn run(
    args: BenchOptions,
    database_url: Option<&str>,
    progress: &dyn Progress,
) -> ToolResult<()> {
    if matches!(args.backend, Backend::Embedded | Backend::All) {
        std::fs::create_dir_all(&args.dir)
            .map_err(|e| ToolError::io(format!("creating {}", args.dir.display()), e))?;
        let path = args.dir.join("bench.ledger");
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", path.display()));
            if p.exists() {
                std::fs::remove_file(&p)
                    .map_err(|e| ToolError::io(format!("removing {}", p.display()), e))?;
            }
        }
        eprintln!("embedded (SQLite) at {}", path.display());
        let store: Arc<dyn EventStore> = Arc::new(SqliteStore::create_new(&path)?);
        let figures = measure(store, &args, None, progress).await?;
        print(
            "embedded (SQLite file)",
            "journal_mode=WAL, synchronous=FULL",
            &figures,
            &args,
        );
    }
    if matches!(args.backend, Backend::Postgres | Backend::All) {
        let Some(url) = database_url else {
            return Err(ToolError::Invalid("the PostgreSQL benchmark needs --database-url (or run scripts/bench, which starts a server)".to_owned()));
        };
        eprintln!("PostgreSQL");
        let store: Arc<dyn EventStore> = Arc::new(PgStore::connect(url).await?);
        let yardstick_url = args.yardsticks.then_some(url);
        let figures = measure(store, &args, yardstick_url, progress).await?;
        let settings = pg_settings(url).await?;
        print("PostgreSQL", &settings, &figures, &args);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use opsledger_domain::command::{Command, DocumentCall};
    use opsledger_domain::{DomainEvent, LedgerState};

    use super::*;

    /// The command whose decision records `event` as the workload wrote it (the call events
    /// the workload generates, and onboarding).
    fn command_of(event: DomainEvent) -> Command {
        match event {
            DomainEvent::ClientOnboarded(e) => Command::Onboard(e),
            DomainEvent::CallConnected(e) => Command::ConnectCall(e),
            DomainEvent::CallAnswered(e) => Command::AnswerCall(e),
            DomainEvent::CallCompleted(e) => Command::CompleteCall(e),
            DomainEvent::CallDocumented(e) => Command::DocumentCall(DocumentCall {
                client_id: e.client_id,
                call_id: e.call_id,
                at: e.at,
                agent_id: e.agent_id,
                caller_name: e.caller_name,
                caller_contact: e.caller_contact,
                nature_of_call: e.nature_of_call,
                action_taken: e.action_taken,
            }),
            other => panic!("the workload generates no {}", other.event_type()),
        }
    }

    /// Decodes `e`, checks the envelope names the client its payload does, has the domain
    /// decide it against `state` (it must record exactly this event) and folds it in.
    fn decide_and_fold(state: &mut LedgerState, e: &NewEvent) {
        let decoded = opsledger_domain::decode(&e.event_type, e.schema_version, &e.data)
            .unwrap_or_else(|err| panic!("{}: {err}", e.event_type));
        assert_eq!(
            e.client_id.as_deref(),
            Some(decoded.client_id()),
            "{}",
            e.event_type
        );
        let decided = opsledger_domain::decide(state, command_of(decoded.clone()))
            .unwrap_or_else(|err| panic!("{} refused: {err}", e.event_type));
        assert_eq!(decided, vec![decoded], "{}", e.event_type);
        state.apply(&decided[0]);
    }

    /// Folds the onboarding and the first `calls` calls of `workload` through the domain's
    /// decisions; returns the calls each client got.
    fn decided_history(workload: Workload, calls: u64) -> BTreeMap<String, u64> {
        let mut state = LedgerState::default();
        for append in workload.onboarding_events().unwrap() {
            for e in &append.events {
                decide_and_fold(&mut state, e);
            }
        }
        let mut per_client = BTreeMap::new();
        for append in workload
            .bulk_batch(0, calls * EVENTS_PER_STREAM, 1)
            .unwrap()
        {
            assert_eq!(append.events.len(), 4, "one stream append per call");
            let client = append.events[0].client_id.clone().unwrap();
            assert!(append.stream_id.as_str().contains(&client));
            for e in &append.events {
                decide_and_fold(&mut state, e);
            }
            *per_client.entry(client).or_insert(0u64) += 1;
        }
        per_client
    }

    #[test]
    fn the_workload_is_a_valid_domain_history() {
        for append in Workload::default().onboarding_events().unwrap() {
            for e in &append.events {
                opsledger_app::envelopes::check_known_payload(
                    &e.event_type,
                    e.schema_version,
                    &e.data,
                )
                .unwrap();
            }
        }
        for i in 0..8 {
            let e = Workload::default().event(i, 1);
            opsledger_app::envelopes::check_known_payload(&e.event_type, e.schema_version, &e.data)
                .unwrap_or_else(|err| panic!("{}: {err}", e.event_type));
        }
    }

    #[test]
    fn the_workload_with_n_clients_is_decided_by_the_domain_and_deals_calls_in_turn() {
        for clients in [1, Workload::DEFAULT_CLIENTS, 50] {
            let workload = Workload::new(clients).unwrap();
            assert_eq!(
                u64::try_from(workload.onboarding_events().unwrap().len()).unwrap(),
                clients
            );
            let per_client = decided_history(workload, 3 * clients);
            assert_eq!(
                u64::try_from(per_client.len()).unwrap(),
                clients,
                "{clients} clients"
            );
            assert!(
                per_client.values().all(|&n| n == 3),
                "{clients} clients: {per_client:?}"
            );
        }
    }

    #[test]
    fn the_workload_is_deterministic_and_a_clients_month_does_not_depend_on_the_client_count() {
        let fifty = Workload::new(50).unwrap();
        assert_eq!(fifty.event(12_345, 1), fifty.event(12_345, 1));
        assert_eq!(fifty.client_of(0), "bench00");
        assert_eq!(fifty.client_of(49), "bench49");
        assert_eq!(fifty.client_of(50), "bench00");
        // A call every ten seconds: October 2026 holds 31 × 8,640 calls, whoever they belong
        // to, and bench00 gets every 50th of them.
        let october_end = base_time() + chrono::Duration::days(31);
        let bench00_in_october = (0u64..)
            .step_by(50)
            .map(|call| fifty.event(call * EVENTS_PER_STREAM, 1))
            .take_while(|e| e.occurred_at < october_end)
            .inspect(|e| assert_eq!(e.client_id.as_deref(), Some("bench00")))
            .count();
        assert_eq!(bench00_in_october, (31 * 8_640usize).div_ceil(50));
        assert!(Workload::new(0).is_err());
    }
}
