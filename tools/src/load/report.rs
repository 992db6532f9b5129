//! The load's printed report: the figures of the run as a Markdown table, the minute table
//! of the long mode, and the checks' verdicts.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::checks::Check;
use super::followers::{ProjectionReport, StandbyReport, SubscriberReport};
use super::sampler::{vm_hwm_kib, SamplerReport};
use super::writers::WriterReport;
use super::{
    kib_to_mib, minutes, new_histogram, per_sec, LoadOptions, Shared, TIMELINE_BUCKET_SECS,
};
use crate::bench;

/// Everything the report prints.
pub(super) struct Printed<'a> {
    pub(super) args: &'a LoadOptions,
    pub(super) backend: &'a str,
    pub(super) settings: &'a str,
    pub(super) shared: &'a Shared,
    pub(super) writers: &'a [WriterReport],
    pub(super) writing: Duration,
    pub(super) followed: Duration,
    pub(super) subscribed: &'a SubscriberReport,
    pub(super) projected: &'a ProjectionReport,
    pub(super) sampled: &'a SamplerReport,
    pub(super) log_len: u64,
    pub(super) checks: &'a [Check],
    pub(super) series: &'a [minutes::Minute],
    pub(super) steadiness: Option<minutes::Steadiness>,
    pub(super) standby: Option<&'a StandbyReport>,
}

/// Prints the figures as a Markdown table, the minute table if any, then the checks.
pub(super) fn print(p: &Printed<'_>) {
    let mut attempt = new_histogram();
    let mut ack = new_histogram();
    for w in p.writers {
        attempt.add(&w.attempt_latency).ok();
        ack.add(&w.ack_latency).ok();
    }
    let acked = attempt.len();
    let replays: u64 = p.writers.iter().map(|w| w.replays).sum();
    let abandoned = p.writers.iter().filter(|w| w.abandoned).count();
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
    print_minutes(p.series);
    println!("\nchecks:");
    for c in p.checks {
        match &c.problem {
            None => println!("- ok: {}", c.what),
            Some(problem) => println!("- FAILED: {}: {problem}", c.what),
        }
    }
}

/// The long mode's table, one row per whole minute; nothing for a run shorter than a minute.
fn print_minutes(series: &[minutes::Minute]) {
    if series.is_empty() {
        return;
    }
    println!(
        "\n| minute | events/s | p99 append | max append | RSS (this process) | standby lag |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for m in series {
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

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib_to_mib(kib))
}
