//! `opsledger bench`: throughput of bulk append, concurrent single appends, read-all and
//! verify on each backend, printed with the machine and durability settings they ran under.
//!
//! A benchmark, not a test: nothing here asserts a figure.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use clap::{Args, ValueEnum};
use hdrhistogram::Histogram;
use opsledger_store::postgres::baseline::PlainCopy;
use opsledger_store::{
    EventStore, ExpectedVersion, Metadata, NewEvent, PgStore, PositionRange, SqliteStore,
    StreamAppend, StreamId,
};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Embedded,
    Postgres,
    All,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which backends to measure (PostgreSQL needs --database-url; `scripts/bench` starts one).
    #[arg(long, value_enum, default_value = "all")]
    backend: Backend,
    /// Events in the bulk append.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Events per bulk append call.
    #[arg(long, default_value_t = 1000)]
    batch: u64,
    /// Concurrent writers in the single-append test.
    #[arg(long, default_value_t = 16)]
    writers: u64,
    /// Seconds the concurrent writers run.
    #[arg(long, default_value_t = 10)]
    concurrent_secs: u64,
    /// Directory for the embedded ledger file (deleted and recreated).
    #[arg(long, default_value = "target/bench")]
    dir: PathBuf,
}

/// Events per stream in the bulk workload (a call: connected, answered, completed, documented).
const EVENTS_PER_STREAM: u64 = 4;
/// Events per page when reading the whole log back.
const READ_PAGE: usize = 10_000;

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

const EVENT_TYPES: [&str; 4] = [
    "call.connected",
    "call.answered",
    "call.completed",
    "call.documented",
];

/// The i-th event of the workload: about 300 bytes of JSON data.
fn workload_event(i: u64, namespace: u64) -> NewEvent {
    let call = i / EVENTS_PER_STREAM;
    let step = usize::try_from(i % EVENTS_PER_STREAM).expect("small");
    NewEvent {
        event_id: Uuid::from_u64_pair(namespace, i),
        event_type: EVENT_TYPES[step].to_owned(),
        schema_version: 1,
        client_id: Some(format!("client{:02}", call % 20)),
        occurred_at: base_time()
            + chrono::Duration::milliseconds(i64::try_from(i).expect("fits") * 250),
        data: serde_json::json!({
            "call_id": format!("bench-{namespace}-{call}"),
            "client_id": format!("client{:02}", call % 20),
            "queue": "support-general",
            "agent_id": format!("agent-{:03}", i % 97),
            "wait_secs": i % 60,
            "talk_secs": (i * 7) % 600,
            "disposition": "answered",
            "caller_ref": format!("enc:v1:{:016x}{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15), call),
            "note": "routine inquiry about account status, resolved on first contact",
        }),
        metadata: Metadata {
            correlation_id: None,
            causation_id: None,
            actor: Some("bench".into()),
            source: Some("opsledger-bench".into()),
        },
    }
}

fn bulk_batch(first: u64, size: u64, namespace: u64) -> anyhow::Result<Vec<StreamAppend>> {
    let mut streams: Vec<StreamAppend> = Vec::new();
    for i in first..first + size {
        let call = i / EVENTS_PER_STREAM;
        let stream_id = StreamId::new("call", &format!("bench{namespace}-{call}"))?;
        match streams.last_mut() {
            Some(s) if s.stream_id == stream_id => s.events.push(workload_event(i, namespace)),
            _ => streams.push(StreamAppend {
                stream_id,
                expected_version: ExpectedVersion::NoStream,
                events: vec![workload_event(i, namespace)],
            }),
        }
    }
    Ok(streams)
}

async fn measure(
    store: Arc<dyn EventStore>,
    args: &BenchArgs,
    plain_copy_url: Option<&str>,
) -> anyhow::Result<Figures> {
    anyhow::ensure!(
        store.head().await?.is_none(),
        "the benchmark needs an empty ledger"
    );
    let mut f = Figures::default();
    let progress = indicatif::ProgressBar::new(args.events);
    progress.set_style(
        indicatif::ProgressStyle::with_template("  bulk append {bar:40} {pos}/{len} {per_sec}")
            .expect("a valid template"),
    );
    let started = Instant::now();
    let mut next = 0u64;
    while next < args.events {
        let size = args.batch.min(args.events - next);
        let batch = bulk_batch(next, size, 1)?;
        store.append_batch(batch).await?;
        next += size;
        progress.set_position(next);
    }
    f.bulk = started.elapsed();
    f.bulk_events = args.events;
    progress.finish_and_clear();

    if let Some(url) = plain_copy_url {
        eprintln!("  plain COPY baseline ...");
        let mut copy = PlainCopy::new(url).await?;
        let mut from = 0u64;
        while from < args.events {
            let rows = store
                .read_all(from, usize::try_from(args.batch).expect("fits"))
                .await?;
            let Some(last) = rows.last() else { break };
            from = last.global_position + 1;
            copy.copy_batch(&rows).await?;
        }
        f.plain_copy = Some(copy.totals());
        copy.cleanup().await?;
    }

    eprintln!(
        "  {} concurrent writers for {} s ...",
        args.writers, args.concurrent_secs
    );
    let deadline = Instant::now() + Duration::from_secs(args.concurrent_secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.writers {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).expect("valid precision");
            let stream = StreamId::new("load", &format!("w{w}")).expect("valid");
            let mut i = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                store
                    .append(
                        &stream,
                        ExpectedVersion::Any,
                        vec![workload_event(i, 100 + w)],
                    )
                    .await?;
                let micros = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                hist.record(micros).ok();
                i += 1;
            }
            anyhow::Ok(hist)
        }));
    }
    let mut hist = Histogram::<u64>::new(3).expect("valid precision");
    for t in tasks {
        hist.add(t.await??).context("merging latencies")?;
    }
    f.concurrent = started.elapsed();
    f.concurrent_events = hist.len();
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
        opsledger_store::VerifyReport::Intact { events, .. } => f.verify_events = events,
        broken => anyhow::bail!("the benchmark ledger does not verify: {broken:?}"),
    }
    Ok(f)
}

fn machine() -> String {
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

async fn pg_settings(url: &str) -> anyhow::Result<String> {
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

fn print(name: &str, settings: &str, f: &Figures, args: &BenchArgs) {
    let size = serde_json::to_string(&workload_event(0, 1).data).map_or(0, |s| s.len());
    println!("\n### {name}\n");
    println!("machine: {}; {settings}", machine());
    println!(
        "workload: {} events, {} per append, {} per stream, data ≈ {size} bytes JSON; {} writers × {} s single appends\n",
        args.events, args.batch, EVENTS_PER_STREAM, args.writers, args.concurrent_secs
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
        println!("| bulk append / plain COPY | | | {ratio:.2}× |");
    }
    row(
        "concurrent single appends",
        f.concurrent_events,
        f.concurrent,
    );
    println!(
        "| single append latency | | | p50 {} µs, p99 {} µs |",
        f.p50_us, f.p99_us
    );
    row("read all in order", f.read_events, f.read);
    row("verify chain", f.verify_events, f.verify);
}

pub async fn run(args: BenchArgs, database_url: Option<&str>) -> anyhow::Result<()> {
    if matches!(args.backend, Backend::Embedded | Backend::All) {
        std::fs::create_dir_all(&args.dir)
            .with_context(|| format!("creating {}", args.dir.display()))?;
        let path = args.dir.join("bench.ledger");
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", path.display()));
            if p.exists() {
                std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
        eprintln!("embedded (SQLite) at {}", path.display());
        let store: Arc<dyn EventStore> = Arc::new(SqliteStore::create_new(&path)?);
        let figures = measure(store, &args, None).await?;
        print(
            "embedded (SQLite file)",
            "journal_mode=WAL, synchronous=FULL",
            &figures,
            &args,
        );
    }
    if matches!(args.backend, Backend::Postgres | Backend::All) {
        let Some(url) = database_url else {
            anyhow::bail!("the PostgreSQL benchmark needs --database-url (or run scripts/bench, which starts a server)");
        };
        eprintln!("PostgreSQL");
        let store: Arc<dyn EventStore> = Arc::new(PgStore::connect(url).await?);
        let figures = measure(store, &args, Some(url)).await?;
        let settings = pg_settings(url).await?;
        print("PostgreSQL", &settings, &figures, &args);
    }
    Ok(())
}
