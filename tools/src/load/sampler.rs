//! What the sampler measures every 250 ms while the load runs: how far the subscriber and the
//! read model are behind the head, and the memory of this process and of the PostgreSQL
//! server's processes (from `/proc`).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use hdrhistogram::Histogram;
use opsledger_app::store::EventStore;

use super::{new_histogram, Shared, SAMPLE_EVERY};

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
pub(super) struct PgServer {
    data_directory: PathBuf,
}

/// The summed memory of the server's processes at one instant.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct ServerMemory {
    pub(super) rss_kib: u64,
    pub(super) anon_kib: u64,
    pub(super) processes: u64,
}

impl PgServer {
    /// Asks the server for its data directory; `None` when it will not say (not a superuser)
    /// or is not on this machine.
    pub(super) async fn find(url: &str) -> Option<Self> {
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
pub(super) struct SamplerReport {
    /// Head − subscriber's next position, in events.
    pub(super) subscriber_lag: Histogram<u64>,
    /// Head − the read model's checkpoint, in events.
    pub(super) projection_lag: Histogram<u64>,
    /// Samples where the head could not be read and the acknowledged head stood in.
    pub(super) head_errors: u64,
    /// The largest summed server memory seen.
    pub(super) server_peak: Option<ServerMemory>,
    /// The largest number of server processes seen.
    pub(super) server_processes: u64,
}

/// Samples lag and memory until the followers are done.
pub(super) async fn sampler(
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

/// The peak resident memory of this process (VmHWM).
pub(super) fn vm_hwm_kib() -> Option<u64> {
    process_memory("self").map(|m| m.peak_kib)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_reports_its_memory() {
        let m = process_memory("self").unwrap();
        assert!(m.rss_kib > 0 && m.peak_kib >= m.rss_kib);
    }
}
