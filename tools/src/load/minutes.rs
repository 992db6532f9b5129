//! The load run minute by minute: throughput, append latency (p99, max), this process's
//! resident memory and the standby reader's lag per minute, whether the run held steady (the
//! last minutes against the first), and the series drawn as an SVG chart.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use hdrhistogram::Histogram;

/// Minutes compared at each end of a run for the steadiness verdict.
pub(crate) const STEADY_WINDOW_MINUTES: usize = 5;
/// The largest change of throughput between the first and the last minutes still called steady.
pub(crate) const STEADY_TOLERANCE_PERCENT: f64 = 15.0;

const MS_PER_MINUTE: u64 = 60_000;

/// Per-minute accumulators, shared by the writers, the sampler and the standby reader.
#[derive(Debug)]
pub(crate) struct Minutes {
    acks: Vec<AtomicU64>,
    latency_us: Vec<Mutex<Histogram<u64>>>,
    rss_kib: Vec<AtomicU64>,
    standby_lag: Vec<AtomicU64>,
    standby_samples: Vec<AtomicU64>,
}

/// One minute of the run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Minute {
    /// Minute number from 1.
    pub number: usize,
    pub events_per_sec: f64,
    pub p99_us: u64,
    pub max_us: u64,
    /// The largest resident memory of this process sampled in the minute, in MiB.
    pub rss_mib: f64,
    /// The standby reader's largest distance behind the acknowledged head in the minute, in
    /// events; `None` without a standby reader.
    pub standby_lag_events: Option<u64>,
}

/// The steadiness verdict: mean throughput of the first and the last minutes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Steadiness {
    pub first_per_sec: f64,
    pub last_per_sec: f64,
    /// `(last − first) / first`, in percent.
    pub change_percent: f64,
}

impl Steadiness {
    pub(crate) fn holds(&self) -> bool {
        self.change_percent.abs() <= STEADY_TOLERANCE_PERCENT
    }
}

fn minute_of(ms: u64) -> usize {
    usize::try_from(ms / MS_PER_MINUTE).unwrap_or(usize::MAX)
}

fn histogram() -> Histogram<u64> {
    Histogram::<u64>::new(3).expect("3 significant figures is a valid precision")
}

impl Minutes {
    /// Accumulators for a run of `minutes` whole or partial minutes (later samples land in the
    /// last one).
    pub(crate) fn new(minutes: usize) -> Self {
        let minutes = minutes.max(1);
        Self {
            acks: (0..minutes).map(|_| AtomicU64::new(0)).collect(),
            latency_us: (0..minutes).map(|_| Mutex::new(histogram())).collect(),
            rss_kib: (0..minutes).map(|_| AtomicU64::new(0)).collect(),
            standby_lag: (0..minutes).map(|_| AtomicU64::new(0)).collect(),
            standby_samples: (0..minutes).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn index(&self, ms: u64) -> usize {
        minute_of(ms).min(self.acks.len() - 1)
    }

    /// An append acknowledged `ms` after the start, its successful attempt taking `latency_us`.
    pub(crate) fn acknowledged(&self, ms: u64, latency_us: u64) {
        let i = self.index(ms);
        self.acks[i].fetch_add(1, Ordering::Relaxed);
        // A poisoned lock only means another writer panicked; the histogram is still valid.
        let mut h = self.latency_us[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        h.record(latency_us).ok();
    }

    /// This process's resident memory sampled `ms` after the start.
    pub(crate) fn memory(&self, ms: u64, rss_kib: u64) {
        self.rss_kib[self.index(ms)].fetch_max(rss_kib, Ordering::Relaxed);
    }

    /// The standby reader was `lag` events behind the acknowledged head `ms` after the start.
    pub(crate) fn standby(&self, ms: u64, lag: u64) {
        let i = self.index(ms);
        self.standby_lag[i].fetch_max(lag, Ordering::Relaxed);
        self.standby_samples[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The first `whole_minutes` minutes (those the writers ran through entirely).
    pub(crate) fn series(&self, whole_minutes: usize) -> Vec<Minute> {
        (0..whole_minutes.min(self.acks.len()))
            .map(|i| {
                let h = self.latency_us[i]
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let acks = self.acks[i].load(Ordering::Relaxed);
                Minute {
                    number: i + 1,
                    events_per_sec: super::per_sec(acks, std::time::Duration::from_secs(60)),
                    p99_us: h.value_at_quantile(0.99),
                    max_us: h.max(),
                    rss_mib: super::kib_to_mib(self.rss_kib[i].load(Ordering::Relaxed)),
                    standby_lag_events: (self.standby_samples[i].load(Ordering::Relaxed) > 0)
                        .then(|| self.standby_lag[i].load(Ordering::Relaxed)),
                }
            })
            .collect()
    }
}

/// Mean throughput of the first and the last [`STEADY_WINDOW_MINUTES`] minutes; `None` when
/// the run is too short for the two windows not to overlap.
pub(crate) fn steadiness(series: &[Minute]) -> Option<Steadiness> {
    let w = STEADY_WINDOW_MINUTES;
    if series.len() < 2 * w {
        return None;
    }
    // Display only: the window is a handful of minutes.
    #[allow(clippy::cast_precision_loss)]
    let width = w as f64;
    let mean = |ms: &[Minute]| ms.iter().map(|m| m.events_per_sec).sum::<f64>() / width;
    let first = mean(&series[..w]);
    let last = mean(&series[series.len() - w..]);
    let change_percent = if first > 0.0 {
        (last - first) / first * 100.0
    } else {
        f64::INFINITY
    };
    Some(Steadiness {
        first_per_sec: first,
        last_per_sec: last,
        change_percent,
    })
}

/// Chart geometry, in SVG user units.
const WIDTH: f64 = 720.0;
const PANEL_HEIGHT: f64 = 140.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 60.0;
const GAP: f64 = 50.0;

/// The series as a self-contained SVG: three panels sharing the minute axis (events/s, p99
/// append latency in ms, resident memory in MiB), each with its axis labelled at zero and at
/// its largest value.
pub(crate) fn svg(series: &[Minute], title: &str) -> String {
    let panels: [(&str, Vec<f64>, &str); 3] = [
        (
            "events/s",
            series.iter().map(|m| m.events_per_sec).collect(),
            "#1f5fa8",
        ),
        (
            "p99 append latency (ms)",
            // Display only: microsecond latencies are far below 2^52.
            #[allow(clippy::cast_precision_loss)]
            series.iter().map(|m| m.p99_us as f64 / 1000.0).collect(),
            "#b3531b",
        ),
        (
            "RSS of the load process, which keeps each acknowledged position (8 bytes) for its checks (MiB)",
            series.iter().map(|m| m.rss_mib).collect(),
            "#2f7d32",
        ),
    ];
    let height = TOP + 3.0 * PANEL_HEIGHT + 3.0 * GAP;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{LEFT}" y="22" font-size="14" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let plot_width = WIDTH - LEFT - RIGHT;
    let n = series.len().max(2) - 1;
    // Display only: minute counts are tiny.
    #[allow(clippy::cast_precision_loss)]
    let x_of = |i: usize| LEFT + plot_width * (i as f64) / (n as f64);
    for (p, (label, values, colour)) in panels.iter().enumerate() {
        // Display only: three panels.
        #[allow(clippy::cast_precision_loss)]
        let top = TOP + (p as f64) * (PANEL_HEIGHT + GAP);
        let bottom = top + PANEL_HEIGHT;
        let max = values.iter().copied().fold(0.0_f64, f64::max);
        let scale = if max > 0.0 { max * 1.1 } else { 1.0 };
        let _ = writeln!(
            out,
            r##"<text x="{LEFT}" y="{}" fill="#333">{}</text><line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{bottom}" stroke="#555"/><line x1="{LEFT}" y1="{bottom}" x2="{}" y2="{bottom}" stroke="#555"/>"##,
            top - 6.0,
            escape(label),
            WIDTH - RIGHT
        );
        let y_of = |v: f64| bottom - PANEL_HEIGHT * v / scale;
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" text-anchor="end">{max:.0}</text><text x="{}" y="{bottom}" text-anchor="end">0</text><line x1="{LEFT}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>"##,
            LEFT - 6.0,
            y_of(max) + 4.0,
            LEFT - 6.0,
            y_of(max),
            WIDTH - RIGHT,
            y_of(max)
        );
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x_of(i), y_of(*v)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let _ = writeln!(
            out,
            r#"<text x="{LEFT}" y="{}">1</text><text x="{}" y="{}" text-anchor="end">minute {}</text>"#,
            bottom + 14.0,
            WIDTH - RIGHT,
            bottom + 14.0,
            series.len()
        );
    }
    out.push_str("</svg>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(number: usize, events_per_sec: f64) -> Minute {
        Minute {
            number,
            events_per_sec,
            p99_us: 2_000,
            max_us: 9_000,
            rss_mib: 50.0,
            standby_lag_events: None,
        }
    }

    #[test]
    fn acknowledgements_land_in_their_minute() {
        let m = Minutes::new(3);
        m.acknowledged(1_000, 100);
        m.acknowledged(61_000, 300);
        m.acknowledged(62_000, 5_000);
        // Past the last minute: counted in the last one rather than lost.
        m.acknowledged(500_000, 7);
        m.memory(61_500, 2048);
        let s = m.series(2);
        assert_eq!(s.len(), 2);
        assert!((s[0].events_per_sec - 1.0 / 60.0).abs() < 1e-9);
        assert!((s[1].events_per_sec - 2.0 / 60.0).abs() < 1e-9);
        assert!(s[1].max_us >= 4_995 && s[1].max_us <= 5_005);
        assert!((s[1].rss_mib - 2.0).abs() < 1e-9);
        assert_eq!(s[0].standby_lag_events, None);
        m.standby(0, 40);
        m.standby(10, 12);
        assert_eq!(m.series(1)[0].standby_lag_events, Some(40));
        assert_eq!(m.series(3)[2].events_per_sec * 60.0, 1.0);
    }

    #[test]
    fn a_run_is_steady_when_its_last_minutes_keep_within_the_tolerance() {
        let mut series: Vec<Minute> = (1..=10).map(|n| minute(n, 1000.0)).collect();
        let steady = steadiness(&series).unwrap();
        assert!(steady.holds(), "{steady:?}");
        for m in &mut series[5..] {
            m.events_per_sec = 800.0;
        }
        let fell = steadiness(&series).unwrap();
        assert!((fell.change_percent + 20.0).abs() < 1e-9);
        assert!(!fell.holds());
        assert_eq!(steadiness(&series[..9]), None, "windows would overlap");
    }

    #[test]
    fn the_chart_draws_every_minute_in_each_panel() {
        let series: Vec<Minute> = (1..=4).map(|n| minute(n, 100.0 * n as f64)).collect();
        let svg = svg(&series, "soak <test>");
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("soak &lt;test&gt;"));
        assert_eq!(svg.matches("<polyline").count(), 3);
        let first = svg.split("points=\"").nth(1).unwrap();
        let points = first.split('"').next().unwrap();
        assert_eq!(points.split(' ').count(), 4);
        assert!(
            svg.contains(">400<"),
            "the throughput axis names its largest value"
        );
    }
}
