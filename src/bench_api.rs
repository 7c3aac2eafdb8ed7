//! `occurrent bench-api` (hidden): issues-list and mutation latency through the HTTP API of a
//! running `occurrent run --follow`, while a steady load is appended to the file it follows.
//!
//! The load thread appends lines of `--load` to `--append` at `--rate` lines/s (in 10 ms
//! slices). Meanwhile the client alternates list requests (each query of `QUERIES` in turn)
//! with a mutation: `PUT ?id=<random id>` setting the priority to the other value, timed from
//! the request to the response, which the server sends once the views show the change; a
//! `GET` of the issue then checks the client reads its write.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::{Rng, SeedableRng};

use crate::bench_freshness::quantile;

/// The default query, filtered ones and every sort (issue 3's benchmark). The last is a
/// free-text search for a rare string: no index helps it.
pub const QUERIES: &[&str] = &[
    "?limit=100",
    "?query=is:unresolved%20level:error&sort=freq&limit=100",
    "?query=!issue.priority:low%20is:new&limit=25",
    "?query=is:unresolved&sort=new&limit=100",
    "?sort=user&limit=100",
    "?sort=trends&limit=100",
    "?environment=production&limit=100",
    "?query=issue.category:cron%20job-42&sort=new&limit=100",
];

pub struct ApiBenchOptions<'a> {
    pub api: &'a str,
    pub org: &'a str,
    pub load: &'a Path,
    pub append: &'a Path,
    pub rate: u64,
    pub seconds: u64,
    /// Mutations pick ids in 1..=max_id.
    pub max_id: u64,
}

/// A request's client latency (seconds) and the server's phases (name, milliseconds).
pub type Timed = (f64, Vec<(String, f64)>);

pub struct ApiBenchResult {
    /// Sorted latencies in seconds, per query of `QUERIES`.
    pub lists: Vec<Vec<f64>>,
    /// Per query of `QUERIES`, each request's latency (seconds) and the server's
    /// `Server-Timing` phases (milliseconds; none from a server without the header).
    pub timings: Vec<Vec<Timed>>,
    pub mutations: Vec<f64>,
    /// Mutations whose change the next GET did not show.
    pub stale_reads: u64,
    pub appended: u64,
    pub seconds: f64,
}

/// One HTTP/1.1 request on a fresh loopback connection: (status, body). The benchmark needs
/// no more, and the binary no HTTP client library.
pub fn http(address: &str, method: &str, path: &str, body: Option<&str>) -> std::io::Result<(u16, String)> {
    http_with_head(address, method, path, body).map(|(status, _, body)| (status, body))
}

/// [`http`], with the response's head (status line and headers) too.
pub fn http_with_head(address: &str, method: &str, path: &str, body: Option<&str>) -> std::io::Result<(u16, String, String)> {
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_nodelay(true)?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    Ok((status, head.to_string(), body.to_string()))
}

/// Appends `load` to `append` at `rate` lines/s until `stop`, counting the lines in
/// `appended`. Says `ready` once the load is read (700 MB for 1M lines): the requests start
/// then, so that all of them run under the load and the rate is that of the whole run.
fn append_load(
    load: &Path,
    append: &Path,
    rate: u64,
    stop: &AtomicBool,
    appended: &AtomicU64,
    ready: std::sync::mpsc::Sender<()>,
) -> anyhow::Result<()> {
    let text = std::fs::read(load).with_context(|| format!("cannot read {}", load.display()))?;
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    anyhow::ensure!(!lines.is_empty(), "{} is empty", load.display());
    // The receiver is gone only if the requests ended already.
    let _ = ready.send(());
    let mut out = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(append)
        .with_context(|| format!("cannot open {}", append.display()))?;
    let started = Instant::now();
    let mut next = 0usize;
    let mut buffer = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        let behind = due.saturating_sub(appended.load(Ordering::Relaxed));
        if behind == 0 {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        buffer.clear();
        for _ in 0..behind {
            buffer.extend_from_slice(lines[next % lines.len()]);
            buffer.push(b'\n');
            next += 1;
        }
        out.write_all(&buffer)?;
        appended.fetch_add(behind, Ordering::Relaxed);
    }
    Ok(())
}

pub fn run(options: &ApiBenchOptions<'_>) -> anyhow::Result<ApiBenchResult> {
    let stop = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicU64::new(0));
    let loader = {
        let (load, append) = (options.load.to_path_buf(), options.append.to_path_buf());
        let (stop, appended, rate) = (stop.clone(), appended.clone(), options.rate);
        let (ready, loaded) = std::sync::mpsc::channel();
        let loader = std::thread::spawn(move || append_load(&load, &append, rate, &stop, &appended, ready));
        if loaded.recv().is_err() {
            // The loader failed before it was ready: its error says why.
            loader.join().map_err(|_| anyhow::anyhow!("the load thread panicked"))??;
            anyhow::bail!("the load thread ended before the load was read");
        }
        loader
    };
    let base = format!("/api/0/organizations/{}/issues/", options.org);
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut lists: Vec<Vec<f64>> = vec![Vec::new(); QUERIES.len()];
    let mut timings: Vec<Vec<Timed>> = vec![Vec::new(); QUERIES.len()];
    let mut mutations = Vec::new();
    let mut stale_reads = 0;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let mut round = 0usize;
    let result = (|| -> anyhow::Result<()> {
        while Instant::now() < deadline {
            for (i, query) in QUERIES.iter().enumerate() {
                let at = Instant::now();
                let (status, head, _) = http_with_head(options.api, "GET", &format!("{base}{query}"), None)?;
                let took = at.elapsed().as_secs_f64();
                anyhow::ensure!(status == 200, "GET {query}: {status}");
                lists[i].push(took);
                let phases = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("server-timing")
                            .then(|| crate::api_timing::parse_header(value))
                    })
                    .unwrap_or_default();
                timings[i].push((took, phases));
            }
            let id = rng.random_range(1..=options.max_id.max(1));
            let priority = if round.is_multiple_of(2) { "low" } else { "high" };
            round += 1;
            let at = Instant::now();
            let (status, body) = http(
                options.api,
                "PUT",
                &format!("{base}?id={id}"),
                Some(&format!("{{\"priority\": \"{priority}\"}}")),
            )?;
            let took = at.elapsed().as_secs_f64();
            if status == 200 {
                mutations.push(took);
                let (_, issue) = http(options.api, "GET", &format!("{base}{id}/"), None)?;
                if !issue.contains(&format!("\"priority\":\"{priority}\"")) {
                    stale_reads += 1;
                }
            } else if status != 204 {
                anyhow::bail!("PUT: {status} {body}");
            }
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    loader.join().map_err(|_| anyhow::anyhow!("the load thread panicked"))??;
    result?;
    for list in &mut lists {
        list.sort_by(f64::total_cmp);
    }
    mutations.sort_by(f64::total_cmp);
    Ok(ApiBenchResult {
        lists,
        timings,
        mutations,
        stale_reads,
        appended: appended.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The result as a Markdown table (milliseconds).
pub fn report(result: &ApiBenchResult) -> String {
    let ms = |v: f64| v * 1000.0;
    let mut out = String::from("| request | n | p50 ms | p99 ms |\n|---|---|---|---|\n");
    for (query, latencies) in QUERIES.iter().zip(&result.lists) {
        out.push_str(&format!(
            "| `GET {query}` | {} | {:.1} | {:.1} |\n",
            latencies.len(),
            ms(quantile(latencies, 0.5)),
            ms(quantile(latencies, 0.99))
        ));
    }
    out.push_str(&format!(
        "| `PUT ?id=… {{priority}}` (request → visible) | {} | {:.1} | {:.1} |\n",
        result.mutations.len(),
        ms(quantile(&result.mutations, 0.5)),
        ms(quantile(&result.mutations, 0.99))
    ));
    out.push_str(&report_phases(result));
    out.push_str(&format!(
        "\nload appended: {} lines in {:.1} s ({:.0} lines/s); stale reads after a mutation: {}\n",
        result.appended,
        result.seconds,
        result.appended as f64 / result.seconds.max(1e-9),
        result.stale_reads
    ));
    out
}

/// The server's phases per query (`Server-Timing`, see `api_timing`): p50 and p99 of each,
/// and their means over the slowest 1% of requests by client latency (at or above its p99),
/// which says where the p99 goes. Empty when the server sent no phases.
fn report_phases(result: &ApiBenchResult) -> String {
    const PHASES: [&str; 8] = ["total", "wait", "hold", "eval", "build", "ser", "cpu", "runq"];
    if result.timings.iter().flatten().all(|(_, phases)| phases.is_empty()) {
        return String::new();
    }
    let mut out = String::from(
        "\nIn-process phases (ms), p50 / p99 of each, then `slow:` their means over the requests at or above the client p99:\n\n| request | client |",
    );
    for phase in PHASES {
        out.push_str(&format!(" {phase} |"));
    }
    out.push_str(&format!("\n|---|---|{}\n", "---|".repeat(PHASES.len())));
    for (query, requests) in QUERIES.iter().zip(&result.timings) {
        if requests.is_empty() {
            continue;
        }
        let value = |phases: &[(String, f64)], phase: &str| phases.iter().find(|(n, _)| n == phase).map_or(0.0, |(_, v)| *v);
        let mut client: Vec<f64> = requests.iter().map(|(t, _)| t * 1000.0).collect();
        client.sort_by(f64::total_cmp);
        let p99 = quantile(&client, 0.99);
        let slow: Vec<&Timed> = requests.iter().filter(|(t, _)| t * 1000.0 >= p99).collect();
        let mean = |f: &dyn Fn(&Timed) -> f64| slow.iter().map(|r| f(r)).sum::<f64>() / slow.len().max(1) as f64;
        out.push_str(&format!(
            "| `{query}` | {:.1} / {:.1}, slow: {:.1} |",
            quantile(&client, 0.5),
            p99,
            mean(&|r| r.0 * 1000.0)
        ));
        for phase in PHASES {
            let mut values: Vec<f64> = requests.iter().map(|(_, phases)| value(phases, phase)).collect();
            values.sort_by(f64::total_cmp);
            out.push_str(&format!(
                " {:.2} / {:.2}, slow: {:.2} |",
                quantile(&values, 0.5),
                quantile(&values, 0.99),
                mean(&|r| value(&r.1, phase))
            ));
        }
        out.push('\n');
    }
    out
}
