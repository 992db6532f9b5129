//! `opsledger bench-serve`: a bounded load client for the desk's JSON API (`opsledger serve`)
//! on loopback. It plans the requests from the API itself (reports of several clients and
//! months, and the dispute view of obligation ids a first obligations report prints), runs N
//! concurrent clients for S seconds, and gives per-route counts, errors, latency percentiles,
//! the request rate and, when told the server's process id, the server's resident memory.
//!
//! A benchmark, not a test: nothing here asserts a figure.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use hdrhistogram::Histogram;
use reqwest::Url;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::error::{ToolError, ToolResult};

/// The kinds of API call measured, each a row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    Sla,
    Obligations,
    Billing,
    Retention,
    Explain,
}

impl RouteKind {
    /// Every kind, in the table's order.
    pub const ALL: [RouteKind; 5] = [
        RouteKind::Sla,
        RouteKind::Obligations,
        RouteKind::Billing,
        RouteKind::Retention,
        RouteKind::Explain,
    ];

    /// How the table names it.
    pub fn name(self) -> &'static str {
        match self {
            RouteKind::Sla => "report sla",
            RouteKind::Obligations => "report obligations",
            RouteKind::Billing => "report billing",
            RouteKind::Retention => "report retention",
            RouteKind::Explain => "explain (dispute view)",
        }
    }

    fn index(self) -> usize {
        match self {
            RouteKind::Sla => 0,
            RouteKind::Obligations => 1,
            RouteKind::Billing => 2,
            RouteKind::Retention => 3,
            RouteKind::Explain => 4,
        }
    }
}

/// One request of the plan: its kind and its full URL.
#[derive(Debug, Clone)]
pub struct Planned {
    pub kind: RouteKind,
    pub url: Url,
}

/// What to plan: which server, as whom, and which clients, months and obligations to ask for.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The server's base URL (`http://127.0.0.1:PORT`); anything but loopback is refused.
    pub base: String,
    /// The bearer token the plan is discovered with.
    pub token: String,
    /// The months (`YYYY-MM`) the monthly reports are asked for.
    pub months: Vec<String>,
    /// How many of the clients the API lists are asked about (the first ones it lists).
    pub report_clients: usize,
    /// How many obligation ids of the first obligations report are explained.
    pub explain_ids: usize,
    /// Pending deadlines are judged at this instant (`evaluated_at`), so every run of the same
    /// plan asks the same questions; the server's clock when not given.
    pub evaluated_at: Option<DateTime<Utc>>,
}

/// How to run the plan.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The bearer token every request carries (a wrong one makes every request an error).
    pub token: String,
    /// Concurrent clients, each with one request in flight at a time.
    pub concurrency: usize,
    /// How long new requests are started; those in flight then finish.
    pub duration: Duration,
    /// A request that takes longer is abandoned and counted as an error.
    pub request_timeout: Duration,
    /// The server's process id, to sample its resident memory (`/proc/PID/status`).
    pub server_pid: Option<u32>,
}

/// The figures of one kind of call.
#[derive(Debug, Clone)]
pub struct RouteFigures {
    pub kind: RouteKind,
    /// Requests answered 2xx with their whole body read.
    pub ok: u64,
    /// Requests answered otherwise, or failed in transport (timeouts included).
    pub errors: u64,
    /// Latency of the 2xx answers in microseconds, from sending to the last body byte.
    pub latency: Histogram<u64>,
    /// The first error seen, as a sentence.
    pub first_error: Option<String>,
}

/// The server's resident memory as sampled during the run, in kB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RssFigures {
    /// VmRSS before the first request.
    pub before_kb: u64,
    /// The largest VmRSS sampled (every 200 ms).
    pub max_sampled_kb: u64,
    /// VmHWM at the end: the peak the kernel saw, samples or not.
    pub peak_kb: u64,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Figures {
    pub routes: Vec<RouteFigures>,
    pub concurrency: usize,
    /// From the first request to the last answer (requests in flight at the deadline finish).
    pub elapsed: Duration,
    pub requests_planned: usize,
    pub rss: Option<RssFigures>,
    /// The 1-minute load average when the run started and when it ended.
    pub load_before: Option<String>,
    pub load_after: Option<String>,
}

/// The base URL, refused unless it names a loopback address over plain HTTP: the client
/// exists to measure a local server and must not load anything else.
pub fn loopback_base(base: &str) -> ToolResult<Url> {
    let url = Url::parse(base)
        .map_err(|e| ToolError::Invalid(format!("the base URL {base:?} is not a URL: {e}")))?;
    // An IPv6 host comes bracketed (`[::1]`).
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if url.scheme() != "http" || !loopback {
        return Err(ToolError::Invalid(format!(
            "the load client only runs against a server on loopback over http (127.0.0.1, ::1, localhost), not {base}"
        )));
    }
    Ok(url)
}

/// The URL of `segments` under `/api/v1` of `base`, each segment percent-encoded as needed
/// (obligation ids hold `:`), with `query` pairs.
fn api_url(base: &Url, segments: &[&str], query: &[(&str, String)]) -> ToolResult<Url> {
    let mut url = base.clone();
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|()| ToolError::Invalid(format!("{base} cannot be a base URL")))?;
        path.pop_if_empty();
        path.extend(["api", "v1"]);
        path.extend(segments);
    }
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in query {
            pairs.append_pair(name, value);
        }
    }
    Ok(url)
}

fn http_client(concurrency: usize, timeout: Duration) -> ToolResult<reqwest::Client> {
    // One connection per concurrent client at most: each has one request in flight, and the
    // pool keeps as many idle ones for the next. No proxy: loopback is asked directly.
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(concurrency)
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ToolError::Invalid(format!("building the HTTP client: {e}")))
}

/// A JSON answer of the planning requests, which must succeed.
async fn get_json(client: &reqwest::Client, token: &str, url: &Url) -> ToolResult<Value> {
    let failed = |detail: String| ToolError::CheckFailed(format!("planning: GET {url}: {detail}"));
    let response = client
        .get(url.clone())
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| failed(e.to_string()))?;
    if !status.is_success() {
        return Err(failed(format!(
            "{status}: {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(300)
                .collect::<String>()
        )));
    }
    serde_json::from_slice(&body).map_err(|e| failed(format!("not JSON: {e}")))
}

/// Spreads `count` picks evenly over `items` (all of them when there are fewer).
fn spread<T: Clone>(items: &[T], count: usize) -> Vec<T> {
    if items.len() <= count {
        return items.to_vec();
    }
    (0..count)
        .map(|i| items[i * items.len() / count].clone())
        .collect()
}

/// The requests to run, discovered through the API: the first clients it lists, every
/// monthly report of each given month and the billing report per client, and the dispute
/// view of obligation ids the first client's first obligations report prints, spread over
/// the report.
pub async fn plan(options: &PlanOptions) -> ToolResult<Vec<Planned>> {
    if options.months.is_empty() || options.report_clients == 0 {
        return Err(ToolError::Invalid(
            "the plan needs at least one month and one client".to_owned(),
        ));
    }
    let base = loopback_base(&options.base)?;
    let client = http_client(1, Duration::from_secs(120))?;
    let listed = get_json(&client, &options.token, &api_url(&base, &["clients"], &[])?).await?;
    let ids: Vec<String> = listed["clients"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["client_id"].as_str())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() {
        return Err(ToolError::CheckFailed(format!(
            "planning: the API lists no client: {listed}"
        )));
    }
    let evaluated: Vec<(&str, String)> = options
        .evaluated_at
        .map(|at| {
            (
                "evaluated_at",
                at.to_rfc3339_opts(SecondsFormat::Secs, true),
            )
        })
        .into_iter()
        .collect();
    let with_month = |month: &str| {
        let mut q = evaluated.clone();
        q.push(("month", month.to_owned()));
        q
    };
    let mut planned = Vec::new();
    for id in ids.iter().take(options.report_clients) {
        for month in &options.months {
            for (kind, name) in [
                (RouteKind::Sla, "sla"),
                (RouteKind::Obligations, "obligations"),
                (RouteKind::Retention, "retention"),
            ] {
                let url = api_url(&base, &["clients", id, "reports", name], &with_month(month))?;
                planned.push(Planned { kind, url });
            }
        }
        let url = api_url(&base, &["clients", id, "reports", "billing"], &evaluated)?;
        planned.push(Planned {
            kind: RouteKind::Billing,
            url,
        });
    }
    let first = planned
        .iter()
        .find(|p| p.kind == RouteKind::Obligations)
        .map(|p| p.url.clone())
        .ok_or_else(|| ToolError::Invalid("no obligations report planned".to_owned()))?;
    let report = get_json(&client, &options.token, &first).await?;
    let obligation_ids: Vec<String> = report["report"]["obligations"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for id in spread(&obligation_ids, options.explain_ids) {
        let url = api_url(&base, &["explain", &id], &evaluated)?;
        planned.push(Planned {
            kind: RouteKind::Explain,
            url,
        });
    }
    Ok(planned)
}

/// An empty latency histogram: 1 µs to 10 minutes at three significant figures, so any
/// answer a bounded request timeout lets through fits.
fn latencies() -> ToolResult<Histogram<u64>> {
    Histogram::new_with_bounds(1, 600_000_000, 3).map_err(|e| ToolError::Histogram(e.to_string()))
}

/// One client's counts, merged into the run's at the end (no lock on the hot path).
#[derive(Debug)]
struct Tally {
    routes: Vec<RouteFigures>,
}

impl Tally {
    fn new() -> ToolResult<Self> {
        let routes = RouteKind::ALL
            .iter()
            .map(|&kind| {
                Ok(RouteFigures {
                    kind,
                    ok: 0,
                    errors: 0,
                    latency: latencies()?,
                    first_error: None,
                })
            })
            .collect::<ToolResult<Vec<_>>>()?;
        Ok(Self { routes })
    }

    fn merge(&mut self, other: Tally) -> ToolResult<()> {
        for (mine, theirs) in self.routes.iter_mut().zip(other.routes) {
            mine.ok += theirs.ok;
            mine.errors += theirs.errors;
            mine.latency
                .add(&theirs.latency)
                .map_err(|e| ToolError::Histogram(format!("{e:?}")))?;
            if mine.first_error.is_none() {
                mine.first_error = theirs.first_error;
            }
        }
        Ok(())
    }
}

/// One request: the whole body read on success, the reason otherwise.
async fn fetch(client: &reqwest::Client, token: &str, url: &Url) -> Result<(), String> {
    let response = client
        .get(url.clone())
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("GET {url}: reading the body: {e}"))?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "GET {url}: {status}: {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(200)
                .collect::<String>()
        ))
    }
}

/// One concurrent client: walks the plan from its own starting point, one request at a time,
/// until the deadline.
async fn client_loop(
    client: reqwest::Client,
    token: Arc<str>,
    plan: Arc<[Planned]>,
    start: usize,
    deadline: Instant,
) -> ToolResult<Tally> {
    let mut tally = Tally::new()?;
    let mut next = start;
    while Instant::now() < deadline {
        let planned = &plan[next % plan.len()];
        next += 1;
        let sent = Instant::now();
        let outcome = fetch(&client, &token, &planned.url).await;
        let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
        let route = &mut tally.routes[planned.kind.index()];
        match outcome {
            Ok(()) => {
                route.ok += 1;
                route.latency.saturating_record(micros.max(1));
            }
            Err(reason) => {
                route.errors += 1;
                route.first_error.get_or_insert(reason);
            }
        }
    }
    Ok(tally)
}

/// A field of `/proc/PID/status` in kB (`VmRSS`, `VmHWM`).
fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
}

/// Samples the server's VmRSS every 200 ms until told to stop; answers the largest sample.
async fn sample_rss(pid: u32, mut stop: oneshot::Receiver<()>) -> u64 {
    let mut max = 0;
    let mut every = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = every.tick() => {
                if let Some(kb) = proc_status_kb(pid, "VmRSS") {
                    max = max.max(kb);
                }
            }
            _ = &mut stop => return max,
        }
    }
}

fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next().map(str::to_owned)
}

/// Runs the plan with `options.concurrency` clients for `options.duration`.
pub async fn run(plan: &[Planned], options: &RunOptions) -> ToolResult<Figures> {
    if plan.is_empty() || options.concurrency == 0 {
        return Err(ToolError::Invalid(
            "the run needs at least one planned request and one client".to_owned(),
        ));
    }
    for planned in plan {
        loopback_base(planned.url.as_str())?;
    }
    let client = http_client(options.concurrency, options.request_timeout)?;
    let shared: Arc<[Planned]> = plan.to_vec().into();
    let token: Arc<str> = options.token.as_str().into();
    let rss_before = options
        .server_pid
        .and_then(|pid| proc_status_kb(pid, "VmRSS"));
    let sampler = options.server_pid.map(|pid| {
        let (stop, stopped) = oneshot::channel();
        (stop, tokio::spawn(sample_rss(pid, stopped)), pid)
    });
    let load_before = load_average();
    let started = Instant::now();
    let deadline = started + options.duration;
    // Each client starts at its own place in the plan, so the kinds of call are mixed at
    // every moment rather than arriving in waves.
    let tasks: Vec<_> = (0..options.concurrency)
        .map(|i| {
            let start = i * plan.len() / options.concurrency;
            tokio::spawn(client_loop(
                client.clone(),
                Arc::clone(&token),
                Arc::clone(&shared),
                start,
                deadline,
            ))
        })
        .collect();
    let mut total = Tally::new()?;
    for task in tasks {
        let tally = task.await.map_err(|source| ToolError::Panicked {
            what: "a load client",
            source,
        })??;
        total.merge(tally)?;
    }
    let elapsed = started.elapsed();
    let rss = match sampler {
        Some((stop, task, pid)) => {
            // The sampler may have ended already; then there is nobody to tell.
            let _ = stop.send(());
            let max_sampled_kb = task.await.map_err(|source| ToolError::Panicked {
                what: "the memory sampler",
                source,
            })?;
            match (rss_before, proc_status_kb(pid, "VmHWM")) {
                (Some(before_kb), Some(peak_kb)) => Some(RssFigures {
                    before_kb,
                    max_sampled_kb,
                    peak_kb,
                }),
                _ => None,
            }
        }
        None => None,
    };
    Ok(Figures {
        routes: total.routes,
        concurrency: options.concurrency,
        elapsed,
        requests_planned: plan.len(),
        rss,
        load_before,
        load_after: load_average(),
    })
}

/// Microseconds as milliseconds with one decimal, without a float.
fn ms(micros: u64) -> String {
    format!("{}.{} ms", micros / 1000, (micros % 1000) / 100)
}

fn per_sec(count: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs == 0.0 {
        return "-".to_owned();
    }
    // The figure is for display only; f64 holds any realistic count exactly enough.
    #[allow(clippy::cast_precision_loss)]
    let rate = count as f64 / secs;
    format!("{rate:.1}")
}

fn mb(kb: u64) -> String {
    format!("{} MB", kb / 1024)
}

impl Figures {
    /// Requests answered 2xx, over every kind.
    pub fn ok(&self) -> u64 {
        self.routes.iter().map(|r| r.ok).sum()
    }

    /// Requests that failed, over every kind.
    pub fn errors(&self) -> u64 {
        self.routes.iter().map(|r| r.errors).sum()
    }

    /// The figures of one kind.
    pub fn route(&self, kind: RouteKind) -> &RouteFigures {
        &self.routes[kind.index()]
    }

    /// The run as a markdown table, with the first error of each kind below it.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let load = |l: &Option<String>| l.clone().unwrap_or_else(|| "?".to_owned());
        let _ = writeln!(
            out,
            "| route ({} concurrent clients, {:.1} s, {} planned requests; load average {} at start, {} at end) | requests | errors | p50 | p99 | max | requests/s |",
            self.concurrency,
            self.elapsed.as_secs_f64(),
            self.requests_planned,
            load(&self.load_before),
            load(&self.load_after),
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
        let mut all = latencies().ok();
        for route in &self.routes {
            if route.ok + route.errors == 0 {
                continue;
            }
            let _ = writeln!(
                out,
                "{}",
                self.row(route.kind.name(), route.ok, route.errors, &route.latency)
            );
            // Both histograms have the same bounds, so adding cannot fail; were it to, the
            // "all" row would be left out rather than wrong.
            if let Some(h) = all.as_mut() {
                if h.add(&route.latency).is_err() {
                    all = None;
                }
            }
        }
        if let Some(all) = all {
            let _ = writeln!(out, "{}", self.row("all", self.ok(), self.errors(), &all));
        }
        if let Some(rss) = self.rss {
            let _ = writeln!(
                out,
                "\nserver RSS: {} before the run, at most {} sampled every 200 ms, peak (VmHWM) {}",
                mb(rss.before_kb),
                mb(rss.max_sampled_kb),
                mb(rss.peak_kb),
            );
        }
        for route in &self.routes {
            if let Some(error) = &route.first_error {
                let _ = writeln!(out, "\nfirst error of {}: {error}", route.kind.name());
            }
        }
        out
    }

    /// A row of the table: latencies are of the 2xx answers only.
    fn row(&self, name: &str, ok: u64, errors: u64, latency: &Histogram<u64>) -> String {
        let at = |q: f64| {
            if ok == 0 {
                "-".to_owned()
            } else {
                ms(latency.value_at_quantile(q))
            }
        };
        format!(
            "| {name} | {} | {errors} | {} | {} | {} | {} |",
            ok + errors,
            at(0.5),
            at(0.99),
            at(1.0),
            per_sec(ok + errors, self.elapsed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_over_http_is_accepted() {
        assert!(loopback_base("http://127.0.0.1:8080").is_ok());
        assert!(loopback_base("http://[::1]:8080/").is_ok());
        assert!(loopback_base("http://localhost:8080").is_ok());
        assert!(loopback_base("http://10.0.0.1:8080").is_err());
        assert!(loopback_base("http://example.com").is_err());
        assert!(loopback_base("https://127.0.0.1:8443").is_err());
    }

    #[test]
    fn api_urls_encode_obligation_ids_as_one_segment() {
        let base = loopback_base("http://127.0.0.1:1/").unwrap();
        let url = api_url(&base, &["explain", "R-ANS-1:call/x y"], &[]).unwrap();
        assert_eq!(url.path(), "/api/v1/explain/R-ANS-1:call%2Fx%20y");
        let url = api_url(
            &base,
            &["clients", "acme", "reports", "sla"],
            &[("month", "2026-10".to_owned())],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:1/api/v1/clients/acme/reports/sla?month=2026-10"
        );
    }

    #[test]
    fn spread_picks_evenly_and_keeps_short_lists() {
        let items: Vec<u32> = (0..10).collect();
        assert_eq!(spread(&items, 5), vec![0, 2, 4, 6, 8]);
        assert_eq!(spread(&items[..3], 5), vec![0, 1, 2]);
    }

    #[test]
    fn proc_status_fields_are_read_for_this_process() {
        let pid = std::process::id();
        let rss = proc_status_kb(pid, "VmRSS").unwrap();
        let hwm = proc_status_kb(pid, "VmHWM").unwrap();
        assert!(rss > 0 && hwm >= rss, "VmRSS {rss} kB, VmHWM {hwm} kB");
    }
}
