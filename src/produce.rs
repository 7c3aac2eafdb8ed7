//! `occurrent produce`: writes JSON lines to a Kafka topic, keyed as Sentry's producer keys
//! `ingest-occurrences` (`{fingerprint[0]}-{project_id}`), so a topic can be loaded from a
//! file (tests, benchmarks, replaying a dead-letter dump after a fix).

use std::io::BufRead;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rdkafka::client::ClientContext;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

/// Counts failed deliveries (librdkafka reports them asynchronously).
#[derive(Clone, Default)]
struct Deliveries {
    failed: Arc<AtomicU64>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            if self.failed.fetch_add(1, Ordering::Relaxed) < 5 {
                tracing::error!(%error, "a message was not delivered");
            }
        }
    }
}

/// The partition key Sentry uses, when the line has the fields; None otherwise (the broker
/// then spreads such lines round-robin).
fn sentry_key(line: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Keyed<'a> {
        #[serde(borrow)]
        fingerprint: Option<Vec<std::borrow::Cow<'a, str>>>,
        project_id: Option<serde_json::Value>,
    }
    let keyed: Keyed = serde_json::from_slice(line).ok()?;
    let first = keyed.fingerprint?.into_iter().next()?;
    Some(format!("{first}-{}", keyed.project_id?))
}

pub fn produce(brokers: &str, topic: &str, input: &Path, properties: &[(String, String)]) -> anyhow::Result<u64> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "10")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .set("compression.type", "lz4");
    for (key, value) in properties {
        config.set(key, value);
    }
    let deliveries = Deliveries::default();
    let producer: ThreadedProducer<Deliveries> = config.create_with_context(deliveries.clone()).context("cannot create a producer")?;
    let reader: Box<dyn BufRead> = if input.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(input).with_context(|| format!("cannot open {}", input.display()))?,
        ))
    };
    let started = Instant::now();
    let mut sent = 0u64;
    for line in reader.split(b'\n') {
        let line = line.context("cannot read input")?;
        if line.is_empty() {
            continue;
        }
        let key = sentry_key(&line);
        let mut record: BaseRecord<'_, str, [u8]> = BaseRecord::to(topic).payload(&line[..]);
        if let Some(key) = &key {
            record = record.key(key.as_str());
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    record = returned;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err((error, _)) => return Err(error).context("cannot produce"),
            }
        }
        sent += 1;
    }
    producer.flush(Duration::from_secs(120)).context("cannot flush the producer")?;
    let failed = deliveries.failed.load(Ordering::Relaxed);
    if failed > 0 {
        anyhow::bail!("{failed} of {sent} messages were not delivered");
    }
    tracing::info!(sent, seconds = started.elapsed().as_secs_f64(), topic, "produced");
    Ok(sent)
}

/// The benchmark baseline for Kafka: a bare consumer loop over every partition of `topic`
/// until it is caught up, reading each message's length (not its bytes). Returns (messages,
/// bytes).
pub fn consume_only(brokers: &str, topic: &str, properties: &[(String, String)]) -> anyhow::Result<(u64, u64)> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("group.id", "occurrent-consume-only")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true");
    // The same fetch settings as the Kafka source, so only the processing differs.
    for (key, value) in connectors::kafka::FETCH_SETTINGS {
        config.set(*key, *value);
    }
    for (key, value) in properties {
        config.set(key, value);
    }
    let consumer: BaseConsumer = config.create().context("cannot create a consumer")?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .context("cannot read metadata")?;
    let partitions = metadata.topics().first().map_or(0, |t| t.partitions().len());
    let mut list = rdkafka::TopicPartitionList::new();
    for partition in 0..partitions as i32 {
        list.add_partition_offset(topic, partition, rdkafka::Offset::Beginning)?;
    }
    consumer.assign(&list)?;
    let (mut messages, mut bytes) = (0u64, 0u64);
    let mut caught_up = std::collections::HashSet::new();
    while caught_up.len() < partitions {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                messages += 1;
                bytes += message.payload().map_or(0, |p| p.len() as u64);
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                caught_up.insert(partition);
            }
            Some(Err(error)) => tracing::warn!(%error, "consume error"),
            None => {}
        }
    }
    Ok((messages, bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_follow_sentry() {
        assert_eq!(
            super::sentry_key(br#"{"fingerprint":["a","b"],"project_id":7}"#).as_deref(),
            Some("a-7")
        );
        assert_eq!(super::sentry_key(b"not json"), None);
    }
}
