//! Kafka: a partition-ordered source for `ingest-occurrences` and a dead-letter topic sink.
//!
//! The source does not let the consumer group assign partitions. Occurrent's checkpoints are
//! the source of truth for positions, and its epochs interleave partitions in a fixed order
//! (see `docs/semantics.md` §7), so each process reads the partitions that map to its workers
//! with `assign` and commits offsets to the group only so that lag shows in the usual tools.

mod batch_queue;
mod dead_letters;
mod delivery;
mod source;
mod topic_sink;

pub use dead_letters::KafkaDeadLetters;
pub use source::{Chunk, ChunkEnd, ChunkMessages, KafkaSource, PartitionProgress};
pub use topic_sink::KafkaTopicSink;

use rdkafka::config::ClientConfig;

/// Where a Kafka input starts and ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAt {
    Earliest,
    Latest,
    /// The first message with a timestamp at or after this many milliseconds since the epoch.
    Timestamp(i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndAt {
    /// Keep reading as messages arrive.
    Unbounded,
    /// The high watermark found at start-up.
    Latest,
    /// Before the first message with a timestamp at or after this (milliseconds).
    Timestamp(i64),
}

impl std::str::FromStr for StartAt {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "earliest" => Ok(StartAt::Earliest),
            "latest" => Ok(StartAt::Latest),
            other => parse_timestamp_ms(other).map(StartAt::Timestamp),
        }
    }
}

impl std::str::FromStr for EndAt {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "latest" => Ok(EndAt::Latest),
            "never" => Ok(EndAt::Unbounded),
            other => parse_timestamp_ms(other).map(EndAt::Timestamp),
        }
    }
}

/// Epoch seconds (with fraction) or an ISO 8601 date-time.
fn parse_timestamp_ms(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() {
            return Ok((seconds * 1000.0).round() as i64);
        }
    }
    dataflows::model::time::parse_iso(text, true)
        .map(|micros| micros.div_euclid(1000))
        .map_err(|_| format!("`{text}` is neither earliest/latest, epoch seconds nor an ISO 8601 date-time"))
}

/// How the source fetches, shared with the benchmark's bare consume loop (`occurrent
/// consume-only`) so that the two differ only in what they do with the messages.
pub const FETCH_SETTINGS: &[(&str, &str)] = &[
    // Large fetches: the source copies each message once into a block anyway.
    ("fetch.max.bytes", "52428800"),
    ("queued.max.messages.kbytes", "262144"),
    // Answer fetches promptly: a broker holding an empty-handed fetch for the default 500 ms
    // stalls backfills against brokers that wait out the timeout (tansu does, even with data
    // at hand: this bounds every fetch's round trip).
    ("fetch.wait.max.ms", "10"),
    // A backfill reads slower than the broker serves, so a partition's prefetch queue fills
    // up to `queued.min.messages` (100,000); librdkafka then stops fetching it for this long
    // (default 1 s), which at 100,000 messages/s per partition drains the queue and stalls
    // the reader.
    ("fetch.queue.backoff.ms", "10"),
    // Prefetch 10,000 messages per partition, not the default 100,000: a backfill's queues
    // are always full, and librdkafka's buffers for 400,000 messages (~300 MB here) came from
    // glibc's heap, grown and given back over and over: ~110,000 page faults per 1M messages
    // in librdkafka's broker thread, against ~45,000 (docs/benchmark-history.md, Kafka, session 6).
    ("queued.min.messages", "10000"),
];

#[derive(Clone, Debug)]
pub struct KafkaOptions {
    /// `bootstrap.servers`.
    pub brokers: String,
    pub topic: String,
    /// Consumer group that offsets are committed to (for lag monitoring only).
    pub group: String,
    /// Extra librdkafka properties (`security.protocol`, `sasl.*`, `ssl.*`, …), applied last.
    pub properties: Vec<(String, String)>,
}

impl KafkaOptions {
    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KafkaSourceError {
    #[error("kafka: {context}: {source}")]
    Client {
        context: String,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    #[error("kafka: {0}")]
    Other(String),
}

pub(crate) fn client_error(context: impl Into<String>) -> impl FnOnce(rdkafka::error::KafkaError) -> KafkaSourceError {
    let context = context.into();
    move |source| KafkaSourceError::Client { context, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse() {
        assert_eq!("earliest".parse::<StartAt>(), Ok(StartAt::Earliest));
        assert_eq!("1700000000".parse::<StartAt>(), Ok(StartAt::Timestamp(1_700_000_000_000)));
        assert_eq!("2023-11-14T22:13:20Z".parse::<EndAt>(), Ok(EndAt::Timestamp(1_700_000_000_000)));
        assert!("yesterday".parse::<EndAt>().unwrap_err().contains("yesterday"));
    }
}
