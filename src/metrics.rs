//! Prometheus metrics, rendered in the text exposition format at `/metrics`.
//!
//! Hand-written rather than a registry crate: there are a dozen series, half of them read
//! from the views' counters at scrape time, and the hot path only bumps a few atomics once
//! per block, so a registry would add a dependency and nothing else.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use connectors::kafka::PartitionProgress;
use dataflows::state::Counter;
use dataflows::views::IssueViews;

/// Counters read from the views at scrape time: (metric, help, counter).
const VIEW_COUNTERS: &[(&str, &str, Counter)] = &[
    (
        "occurrent_occurrences_accepted_total",
        "Occurrences applied to groups.",
        Counter::OccurrencesAccepted,
    ),
    (
        "occurrent_status_changes_applied_total",
        "Status changes applied.",
        Counter::StatusChangesApplied,
    ),
    ("occurrent_duplicates_total", "Messages dropped as duplicates.", Counter::Duplicates),
    (
        "occurrent_dropped_noise_total",
        "Occurrences held back by the noise gate.",
        Counter::DroppedNoise,
    ),
    (
        "occurrent_dropped_quota_total",
        "Occurrences dropped by the creation quota.",
        Counter::DroppedQuota,
    ),
    ("occurrent_groups_created_total", "Groups created.", Counter::GroupsCreated),
    (
        "occurrent_dropped_discarded_total",
        "Occurrences dropped because their fingerprint was discarded.",
        Counter::DroppedDiscarded,
    ),
    (
        "occurrent_mutations_applied_total",
        "API mutations applied (one per project of a request).",
        Counter::MutationsApplied,
    ),
];

/// Upper bounds (seconds) of the epoch-latency histogram buckets.
const LATENCY_BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
pub struct Metrics {
    messages: AtomicU64,
    bytes: AtomicU64,
    /// Kafka partitions found at start-up with a log ending before the position (`KafkaSource::rewinds`).
    log_rewinds: AtomicU64,
    lag: Mutex<BTreeMap<(String, i32), i64>>,
    dead_letters: Mutex<BTreeMap<String, u64>>,
    checkpoint: Mutex<Option<CheckpointStats>>,
    /// Epochs handed to the workers and when, until the frontier passes them.
    in_flight: Mutex<VecDeque<(u64, Instant)>>,
    latency: Mutex<Histogram>,
    /// How long list requests waited for the views' read lock.
    list_lock_waits: Mutex<dataflows::views::LockTimes>,
}

struct CheckpointStats {
    at: Instant,
    seconds: f64,
    bytes: u64,
    count: u64,
}

#[derive(Default)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    pub fn record_list_lock_wait(&self, waited: std::time::Duration) {
        self.list_lock_waits.lock().unwrap_or_else(|p| p.into_inner()).record(waited);
    }

    /// The Kafka source's count of partition logs found gone back, so far.
    pub fn record_log_rewinds(&self, rewinds: u64) {
        self.log_rewinds.store(rewinds, Ordering::Relaxed);
    }

    pub fn record_read(&self, messages: u64, bytes: u64) {
        self.messages.fetch_add(messages, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Notes that `epoch` was handed to the workers now.
    pub fn epoch_sent(&self, epoch: u64) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if in_flight.len() < 100_000 {
            in_flight.push_back((epoch, Instant::now()));
        }
    }

    /// Every epoch before `through` is complete.
    pub fn epoch_completed(&self, through: u64) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let mut latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(&(epoch, sent)) = in_flight.front() {
            if epoch >= through {
                break;
            }
            in_flight.pop_front();
            let seconds = sent.elapsed().as_secs_f64();
            latency.count += 1;
            latency.sum += seconds;
            for (bucket, bound) in latency.buckets.iter_mut().zip(LATENCY_BUCKETS) {
                if seconds <= bound {
                    *bucket += 1;
                }
            }
        }
    }

    pub fn record_lag<'a>(&self, topic: &str, partitions: impl Iterator<Item = &'a PartitionProgress>) {
        let mut lag = self.lag.lock().unwrap_or_else(|p| p.into_inner());
        for p in partitions {
            lag.insert((topic.to_string(), p.partition), (p.high_watermark - p.next_offset).max(0));
        }
    }

    pub fn record_dead_letter(&self, reason: &str) {
        let kind = reason_kind(reason);
        let mut counts = self.dead_letters.lock().unwrap_or_else(|p| p.into_inner());
        // A kind seen before (all but a few letters) is counted without allocating its name.
        match counts.get_mut(kind) {
            Some(count) => *count += 1,
            None => {
                counts.insert(kind.to_owned(), 1);
            }
        }
    }

    pub fn record_checkpoint(&self, seconds: f64, bytes: u64) {
        let mut stats = self.checkpoint.lock().unwrap_or_else(|p| p.into_inner());
        let count = stats.as_ref().map_or(0, |s| s.count) + 1;
        *stats = Some(CheckpointStats {
            at: Instant::now(),
            seconds,
            bytes,
            count,
        });
    }

    pub fn render(&self, views: &IssueViews) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        counter(
            "occurrent_messages_consumed_total",
            "Input lines and Kafka messages read.",
            self.messages.load(Ordering::Relaxed),
        );
        counter(
            "occurrent_bytes_consumed_total",
            "Input bytes read.",
            self.bytes.load(Ordering::Relaxed),
        );
        counter(
            "occurrent_kafka_log_rewinds_total",
            "Kafka partitions found at start-up to have a log that ends before the checkpoint's position (topic recreated, messages lost on the broker); they were read from their start.",
            self.log_rewinds.load(Ordering::Relaxed),
        );
        for (name, help, which) in VIEW_COUNTERS {
            counter(name, help, views.counter(*which).max(0) as u64);
        }
        let _ = writeln!(
            out,
            "# HELP occurrent_groups Groups in the issue view.\n# TYPE occurrent_groups gauge\noccurrent_groups {}",
            views.len()
        );

        let _ = writeln!(
            out,
            "# HELP occurrent_dead_letters_total Rejected messages by reason.\n# TYPE occurrent_dead_letters_total counter"
        );
        for (reason, count) in self.dead_letters.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "occurrent_dead_letters_total{{reason=\"{}\"}} {count}", escape(reason));
        }
        let _ = writeln!(
            out,
            "# HELP occurrent_kafka_lag_messages Messages behind the high watermark.\n# TYPE occurrent_kafka_lag_messages gauge"
        );
        for ((topic, partition), lag) in self.lag.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "occurrent_kafka_lag_messages{{topic=\"{}\",partition=\"{partition}\"}} {lag}",
                escape(topic)
            );
        }
        if let Some(stats) = self.checkpoint.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let series = [
                (
                    "occurrent_checkpoint_age_seconds",
                    "Time since the last checkpoint was written.",
                    "gauge",
                    format!("{:.3}", stats.at.elapsed().as_secs_f64()),
                ),
                (
                    "occurrent_checkpoint_duration_seconds",
                    "How long the last checkpoint took (drain and write).",
                    "gauge",
                    format!("{:.6}", stats.seconds),
                ),
                (
                    "occurrent_checkpoint_bytes",
                    "Size of the last checkpoint.",
                    "gauge",
                    stats.bytes.to_string(),
                ),
                (
                    "occurrent_checkpoints_total",
                    "Checkpoints written.",
                    "counter",
                    stats.count.to_string(),
                ),
            ];
            for (name, help, kind, value) in series {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
            }
        }
        let latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(
            out,
            "# HELP occurrent_epoch_latency_seconds From handing an epoch to the workers to its changes being in the views.\n# TYPE occurrent_epoch_latency_seconds histogram"
        );
        for (bound, count) in LATENCY_BUCKETS.iter().zip(latency.buckets) {
            let _ = writeln!(out, "occurrent_epoch_latency_seconds_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "occurrent_epoch_latency_seconds_bucket{{le=\"+Inf\"}} {}", latency.count);
        let _ = writeln!(out, "occurrent_epoch_latency_seconds_sum {:.6}", latency.sum);
        let _ = writeln!(out, "occurrent_epoch_latency_seconds_count {}", latency.count);
        let waits = self.list_lock_waits.lock().unwrap_or_else(|p| p.into_inner()).summary();
        for (name, help, (count, p50, p99, max)) in [
            (
                "occurrent_list_lock_wait_seconds",
                "How long issues-list requests of the last 20 s waited for the views' read lock.",
                waits,
            ),
            (
                "occurrent_views_write_hold_seconds",
                "How long the sinks held the views' write lock per apply over the last 20 s.",
                views.write_holds.summary(),
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} summary");
            for (q, v) in [("0.5", p50), ("0.99", p99), ("1", max)] {
                let _ = writeln!(out, "{name}{{quantile=\"{q}\"}} {v:.6}");
            }
            let _ = writeln!(out, "{name}_count {count}");
        }
        let slow = views.write_holds.slow_holds();
        let _ = writeln!(
            out,
            "# HELP occurrent_views_write_hold_slowest_seconds The write holds of the last 20 s at or above their p99: mean duration, CPU time, run-queue wait (the sink preempted) and longest slice.\n# TYPE occurrent_views_write_hold_slowest_seconds gauge"
        );
        for (part, micros) in [
            ("hold", slow.took),
            ("cpu", slow.cpu),
            ("runqueue", slow.waiting),
            ("longest_slice", slow.longest_step),
        ] {
            let _ = writeln!(
                out,
                "occurrent_views_write_hold_slowest_seconds{{part=\"{part}\"}} {:.6}",
                micros / 1e6
            );
        }
        let _ = writeln!(out, "occurrent_views_write_hold_slowest_seconds_count {}", slow.count);
        let _ = writeln!(
            out,
            "# HELP occurrent_views_bytes Approximate heap bytes of the views' parts (capacities).\n# TYPE occurrent_views_bytes gauge"
        );
        for (part, bytes) in views.memory_parts() {
            let _ = writeln!(out, "occurrent_views_bytes{{part=\"{part}\"}} {bytes}");
        }
        out
    }
}

/// A reason without its particulars (`unknown group type 9999` → `unknown group type`), so
/// the label has few values.
fn reason_kind(reason: &str) -> &str {
    // The cut characters are ASCII, so a byte position is a character boundary.
    let cut = reason
        .bytes()
        .position(|b| b.is_ascii_digit() || matches!(b, b':' | b'`' | b'"' | b'\''))
        .unwrap_or(reason.len());
    let kind = reason[..cut].trim();
    let kind = if kind.is_empty() { "other" } else { kind };
    // At most 60 characters.
    match kind.char_indices().nth(60) {
        Some((end, _)) => &kind[..end],
        None => kind,
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_group_by_kind() {
        assert_eq!(reason_kind("unknown group type 9999"), "unknown group type");
        assert_eq!(reason_kind("missing field `issue_title`"), "missing field");
        assert_eq!(reason_kind("invalid JSON at column 17"), "invalid JSON at column");
        assert_eq!(reason_kind("42"), "other");
        let long = "é".repeat(70);
        assert_eq!(reason_kind(&long), "é".repeat(60), "60 characters, not bytes");
        assert_eq!(reason_kind(&"x".repeat(60)), "x".repeat(60));
    }

    #[test]
    fn renders_counters_lag_and_latency() {
        let metrics = Metrics::default();
        metrics.record_read(10, 700);
        metrics.record_dead_letter("unknown group type 1");
        metrics.record_dead_letter("unknown group type 2");
        metrics.epoch_sent(0);
        metrics.epoch_completed(1);
        let text = metrics.render(&IssueViews::default());
        assert!(text.contains("occurrent_messages_consumed_total 10\n"), "{text}");
        assert!(
            text.contains("occurrent_dead_letters_total{reason=\"unknown group type\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("occurrent_epoch_latency_seconds_count 1\n"), "{text}");
    }
}
