//! A JSON topic producer for Occurrent's outgoing feeds (change feed, group-attributes).

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use super::{client_error, KafkaOptions, KafkaSourceError};

pub struct KafkaTopicSink {
    producer: ThreadedProducer<DefaultProducerContext>,
    topic: String,
}

impl KafkaTopicSink {
    pub fn new(options: &KafkaOptions, topic: &str) -> Result<Self, KafkaSourceError> {
        let mut config = options.client_config();
        config.set("linger.ms", "5").set("compression.type", "lz4");
        for (key, value) in &options.properties {
            config.set(key, value);
        }
        let producer = config
            .create()
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
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    record = returned;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err((error, _)) => return Err(std::io::Error::other(format!("cannot produce to {}: {error}", self.topic))),
            }
        }
    }

    pub fn flush(&self) -> std::io::Result<()> {
        self.producer
            .flush(Duration::from_secs(30))
            .map_err(|error| std::io::Error::other(format!("cannot flush {}: {error}", self.topic)))
    }
}
