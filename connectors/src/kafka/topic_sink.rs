//! A JSON topic producer for Occurrent's outgoing feeds (change feed, group-attributes).

use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};

use super::delivery::{flush_and_check, CountingContext, DeliveryTally};
use super::{client_error, KafkaOptions, KafkaSourceError};

pub struct KafkaTopicSink {
    producer: ThreadedProducer<CountingContext>,
    topic: String,
}

impl KafkaTopicSink {
    pub fn new(options: &KafkaOptions, topic: &str) -> Result<Self, KafkaSourceError> {
        let mut config = options.client_config();
        config.set("linger.ms", "5").set("compression.type", "lz4");
        for (key, value) in &options.properties {
            config.set(key, value);
        }
        // Every message's report is counted (`super::delivery`): with reports of errors
        // only, no flush could ever tell that everything was delivered.
        config.set("delivery.report.only.error", "false");
        let producer = config
            .create_with_context(CountingContext(Arc::new(DeliveryTally::default())))
            .map_err(client_error(format!("cannot create a producer for {topic}")))?;
        Ok(KafkaTopicSink {
            producer,
            topic: topic.to_string(),
        })
    }

    pub fn send(&self, key: Option<&str>, payload: &[u8]) -> std::io::Result<()> {
        let mut record: BaseRecord<'_, str, [u8]> = BaseRecord::to(&self.topic).payload(payload);
        if let Some(key) = key {
            record = record.key(key);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => {
                    self.producer.context().0.sent();
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    record = returned;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err((error, _)) => return Err(std::io::Error::other(format!("cannot produce to {}: {error}", self.topic))),
            }
        }
    }

    /// Waits (up to 30 s) until every message sent is delivered; fails if one was not, and
    /// from then on (see [`super::delivery`]).
    pub fn flush(&self) -> std::io::Result<()> {
        flush_and_check(&self.producer, &self.topic, Duration::from_secs(30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No broker listens: the message expires in the queue, the queue empties, and the flush
    /// must still fail (rdkafka's default context let it succeed).
    #[test]
    fn a_message_that_expires_undelivered_fails_the_flush() {
        let options = KafkaOptions {
            brokers: "127.0.0.1:1".into(),
            topic: "in".into(),
            group: "g".into(),
            properties: vec![("message.timeout.ms".into(), "200".into())],
        };
        let sink = KafkaTopicSink::new(&options, "changes").unwrap();
        sink.send(Some("1"), b"{}").unwrap();
        let error = sink.flush().unwrap_err().to_string();
        assert!(error.starts_with("changes: 1 message(s) not delivered"), "{error}");
        // The message is gone: later flushes fail too, so no checkpoint can cover it.
        let error = sink.flush().unwrap_err().to_string();
        assert!(error.contains("not delivered"), "{error}");
    }

    /// Every message delivered (librdkafka's mock cluster): the flush passes, even when the
    /// user's properties ask for reports of errors only, which would leave the deliveries
    /// uncounted and every flush failing.
    #[test]
    fn delivered_messages_pass_the_flush_whatever_the_report_properties() {
        let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
        let options = KafkaOptions {
            brokers: cluster.bootstrap_servers(),
            topic: "in".into(),
            group: "g".into(),
            properties: vec![("delivery.report.only.error".into(), "true".into())],
        };
        let sink = KafkaTopicSink::new(&options, "changes").unwrap();
        for key in ["1", "2", "3"] {
            sink.send(Some(key), b"{}").unwrap();
        }
        sink.flush().unwrap();
    }
}
