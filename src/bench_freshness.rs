//! `occurrent bench-freshness` (hidden): offers a steady load to a topic and measures how long
//! a new issue takes from being produced to being visible through the HTTP API.
//!
//! The load replays a JSON-lines file at `--rate` messages/s. Ten times a second a probe is
//! produced: an occurrence of a type without a noise gate, with a unique fingerprint, in a
//! project of its own, so it creates a group at once and the n-th probe is that project's
//! short id n; the probe's latency is the time until the issue-details endpoint (a direct
//! lookup, so the probe does not load the API) returns it.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

pub struct FreshnessOptions<'a> {
    pub brokers: &'a str,
    pub topic: &'a str,
    pub api: &'a str,
    pub load: &'a Path,
    pub rate: u64,
    pub seconds: u64,
}

fn send(producer: &ThreadedProducer<DefaultProducerContext>, topic: &str, payload: &[u8]) -> anyhow::Result<()> {
    let mut record: BaseRecord<'_, (), [u8]> = BaseRecord::to(topic).payload(payload);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((error, _)) => return Err(error).context("cannot produce"),
        }
    }
}

fn probe_message(project: u64, nonce: u64, n: u64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    serde_json::json!({
        "id": format!("{:032x}", (nonce << 32) | n),
        "event_id": format!("{:032x}", (nonce << 32) | n | (1 << 31)),
        "project_id": project,
        "fingerprint": [format!("freshness-probe-{nonce}-{n}")],
        "issue_title": format!("freshnessprobe{nonce}x{n}"),
        "subtitle": "probe",
        "type": 4001,
        "detection_time": now,
        "level": "error",
        "culprit": "probe",
    })
    .to_string()
}

/// Returns the probe latencies in seconds, sorted.
pub fn run(options: &FreshnessOptions<'_>) -> anyhow::Result<Vec<f64>> {
    let lines: Vec<Vec<u8>> = std::fs::read(options.load)
        .with_context(|| format!("cannot read {}", options.load.display()))?
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    anyhow::ensure!(!lines.is_empty(), "the load file is empty");
    let producer: Arc<ThreadedProducer<DefaultProducerContext>> = Arc::new(
        ClientConfig::new()
            .set("bootstrap.servers", options.brokers)
            .set("linger.ms", "1")
            .set("queue.buffering.max.messages", "1000000")
            .create()
            .context("cannot create a producer")?,
    );
    let done = Arc::new(AtomicBool::new(false));
    let load = {
        let (producer, done, topic, rate) = (producer.clone(), done.clone(), options.topic.to_string(), options.rate);
        std::thread::spawn(move || -> anyhow::Result<u64> {
            let started = Instant::now();
            let mut sent = 0u64;
            while !done.load(Ordering::Relaxed) {
                let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
                while sent < due {
                    send(&producer, &topic, &lines[(sent % lines.len() as u64) as usize])?;
                    sent += 1;
                }
                std::thread::sleep(Duration::from_micros(500));
            }
            Ok(sent)
        })
    };
    let nonce = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // A project no load message uses, new for each run, so probe n is its short id n.
    let project = 900_000 + nonce % 99_991;
    let mut latencies = Vec::new();
    let started = Instant::now();
    let mut n = 0;
    // Warm up for a second so the pipeline is in its steady state.
    std::thread::sleep(Duration::from_secs(1));
    while started.elapsed() < Duration::from_secs(options.seconds) {
        n += 1;
        let message = probe_message(project, nonce, n);
        let produced = Instant::now();
        send(&producer, options.topic, message.as_bytes())?;
        let short_id = crate::short_id::format_short_id(&format!("project-{project}"), n);
        let path = format!("/api/0/organizations/sentry/issues/{short_id}/");
        let title = format!("freshnessprobe{nonce}x{n}");
        loop {
            let found = http_get(options.api, &path).is_ok_and(|body| body.contains(&title));
            if found {
                latencies.push(produced.elapsed().as_secs_f64());
                break;
            }
            if produced.elapsed() > Duration::from_secs(30) {
                anyhow::bail!("probe {n} not visible after 30 s");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done.store(true, Ordering::Relaxed);
    let sent = load.join().map_err(|_| anyhow::anyhow!("load thread panicked"))??;
    producer.flush(Duration::from_secs(30))?;
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        sent,
        achieved_rate = sent as f64 / seconds,
        probes = latencies.len(),
        "load finished"
    );
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

/// A GET's body (empty on an error status).
fn http_get(address: &str, path: &str) -> std::io::Result<String> {
    crate::bench_api::http(address, "GET", path, None).map(|(_, body)| body)
}

/// The `q`-quantile of sorted values (nearest rank).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
