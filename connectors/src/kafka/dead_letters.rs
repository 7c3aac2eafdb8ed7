//! The dead-letter topic: each rejected message's original bytes, with headers `reason`,
//! `source_topic`, `partition` and `offset`, so a fixed consumer can reprocess it.
//!
//! Delivery is at least once: after a crash, the rejections between the last checkpoint and
//! the crash are produced again by the replay. Each dead letter is keyed by its source
//! position (`topic/partition/offset`, or `file:line`), so a consumer, or a compacted
//! topic, can drop the repeats.

use std::sync::Arc;
use std::time::Duration;

use dataflows::graph::DeadLetterWriter;
use dataflows::model::block::DeadLetter;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};

use super::delivery::{flush_and_check, CountingContext, DeliveryTally};
use super::{client_error, KafkaOptions, KafkaSourceError};

pub struct KafkaDeadLetters {
    producer: ThreadedProducer<CountingContext>,
    topic: String,
    pub written: u64,
}

impl KafkaDeadLetters {
    pub fn new(options: &KafkaOptions, topic: &str) -> Result<Self, KafkaSourceError> {
        let mut config = options.client_config();
        // Dead letters must not be lost or reordered by retries.
        config.set("enable.idempotence", "true").set("linger.ms", "20");
        for (key, value) in &options.properties {
            config.set(key, value);
        }
        // Every message's report is counted (`super::delivery`): with reports of errors
        // only, no flush could ever tell that everything was delivered.
        config.set("delivery.report.only.error", "false");
        let producer = config
            .create_with_context(CountingContext(Arc::new(DeliveryTally::default())))
            .map_err(client_error("cannot create the dead-letter producer"))?;
        Ok(KafkaDeadLetters {
            producer,
            topic: topic.to_string(),
            written: 0,
        })
    }
}

impl DeadLetterWriter for KafkaDeadLetters {
    fn write(&mut self, letter: &DeadLetter) -> std::io::Result<()> {
        let partition = letter.partition.map(|p| p.to_string());
        let offset = letter.line.to_string();
        let mut headers = OwnedHeaders::new()
            .insert(Header {
                key: "reason",
                value: Some(letter.reason.as_bytes()),
            })
            .insert(Header {
                key: "source_topic",
                value: Some(letter.source.as_bytes()),
            });
        if let Some(partition) = &partition {
            headers = headers
                .insert(Header {
                    key: "partition",
                    value: Some(partition.as_bytes()),
                })
                .insert(Header {
                    key: "offset",
                    value: Some(offset.as_bytes()),
                });
        } else {
            headers = headers.insert(Header {
                key: "line",
                value: Some(offset.as_bytes()),
            });
        }
        let key = match &partition {
            Some(partition) => format!("{}/{partition}/{offset}", letter.source),
            None => format!("{}:{offset}", letter.source),
        };
        let mut record: BaseRecord<'_, str, [u8]> = BaseRecord::to(&self.topic)
            .key(key.as_str())
            .payload(&letter.raw[..])
            .headers(headers);
        loop {
            match self.producer.send(record) {
                Ok(()) => {
                    self.producer.context().0.sent();
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    // The background thread drains the queue; wait for room.
                    record = returned;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((error, _)) => return Err(std::io::Error::other(format!("cannot produce a dead letter: {error}"))),
            }
        }
        self.written += 1;
        Ok(())
    }

    /// Fails when a dead letter was not delivered (see [`super::delivery`]).
    fn flush(&mut self) -> std::io::Result<()> {
        flush_and_check(
            &self.producer,
            &format!("the dead-letter topic {}", self.topic),
            Duration::from_secs(30),
        )
    }
}
