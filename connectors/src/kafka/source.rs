//! Reading assigned partitions chunk by chunk, each in offset order, from a position the caller
//! chooses (the checkpoint's) to an optional end.
//!
//! Chunks end at offsets that are multiples of the chunk size (or at the end bound), so a
//! replay from any chunk boundary cuts the log exactly as the first reading did. Only at the
//! live edge (caught up, or nothing arrived within the wait) is a chunk cut early.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dataflows::model::block::{LineBuffers, LineInfo};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::batch_queue::{BatchQueue, Message, Polled};
use super::{client_error, EndAt, KafkaOptions, KafkaSourceError, StartAt};

const METADATA_TIMEOUT: Duration = Duration::from_secs(30);

/// How far before a resume position the consumer starts fetching (what is before the
/// position is skipped). Kafka returns the record batch that contains the requested offset,
/// but some brokers (tansu 0.6) return the first batch that starts after it, which would
/// silently skip the rest of the batch the position is in. librdkafka's producers batch at
/// most 10,000 messages.
const REFETCH: i64 = 10_000;

/// Where one assigned partition stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionProgress {
    pub partition: i32,
    /// The next offset to read.
    pub next_offset: i64,
    /// Exclusive end bound, for bounded reads.
    pub end: Option<i64>,
    /// The high watermark last seen (for lag).
    pub high_watermark: i64,
    /// Bounded and everything before `end` has been read.
    pub finished: bool,
    /// Bounded by the log end: read until first caught up (`end` is set then).
    pub until_caught_up: bool,
    /// Streaming and caught up at least once since start: from here on a chunk ends when
    /// nothing more is queued. Before, the backlog is cut only at aligned offsets, whatever
    /// the fetch timing, so its interleaving is the same on every run.
    pub live: bool,
    /// The last thing read was the partition's end: its log ends at `next_offset` (until a
    /// message arrives). A logged mutation's offset above it may never come (the messages
    /// were deleted or the topic recreated), so it counts as reached (see `mutation_log`).
    pub at_end: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkEnd {
    /// Reached the chunk's aligned end offset.
    Boundary,
    /// Reached the end bound: nothing more will be read from this partition.
    Finished,
    /// Caught up with the partition's log end (streaming only).
    CaughtUp,
    /// Nothing arrived within the wait (streaming only).
    Waited,
}

/// Messages of one partition, each line one message (its offset as the line number).
#[derive(Debug)]
pub struct Chunk {
    pub partition: i32,
    pub messages: ChunkMessages,
    /// `start` is the message's index in `messages`.
    pub lines: Vec<LineInfo>,
    /// The payloads' total length.
    pub bytes: u64,
    pub end: ChunkEnd,
}

/// A chunk's messages, held as librdkafka decoded them (decompressed fetch buffers) until the
/// workers are done with its blocks: copying them into one buffer cost the reader a copy and
/// a first touch of every byte (most of the feeder's CPU; docs/benchmark-history.md, Kafka, session 7).
#[derive(Default)]
pub struct ChunkMessages {
    // Dropped before the client: librdkafka wants every message destroyed before the client
    // is, and a chunk can outlive the source that read it (workers finish after the feeder).
    messages: Vec<Message>,
    client: Option<Arc<BaseConsumer<QuietContext>>>,
}

impl ChunkMessages {
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

impl LineBuffers for ChunkMessages {
    fn line(&self, index: usize) -> &[u8] {
        match self.messages.get(index) {
            Some(message) => message.payload(),
            None => &[],
        }
    }
}

impl std::fmt::Debug for ChunkMessages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ChunkMessages({} messages, client {})",
            self.messages.len(),
            self.client.is_some()
        )
    }
}

struct Assigned {
    progress: PartitionProgress,
    /// Holds, unconsumed, a message read past the current chunk's end (offsets can jump over
    /// control records) until the next chunk.
    queue: BatchQueue,
    /// Whether a message at or after the start position has arrived yet.
    seen_any: bool,
    /// Chunks end at this offset (something else is due there); see [`KafkaSource::stop_at`].
    stop: Option<i64>,
}

pub struct KafkaSource {
    // Declared before the consumer, so dropped first: librdkafka wants every queue and
    // message released before the client is destroyed.
    partitions: Vec<Assigned>,
    consumer: Arc<BaseConsumer<QuietContext>>,
    topic: String,
    /// Totals for metrics.
    pub messages_read: u64,
    pub bytes_read: u64,
    /// Partitions found at start-up with a log that ends before the position read.
    pub rewinds: u64,
}

impl KafkaSource {
    /// The number of partitions of the topic.
    pub fn partition_count(options: &KafkaOptions) -> Result<usize, KafkaSourceError> {
        Self::topic_partitions(options, &options.topic)
    }

    /// The partition count of `name` on the brokers of `options`; an error if it does not
    /// exist (so that an output topic is checked before anything is read, not at the first
    /// flush).
    pub fn topic_partitions(options: &KafkaOptions, name: &str) -> Result<usize, KafkaSourceError> {
        let consumer: BaseConsumer<QuietContext> = consumer_config(options)
            .create_with_context(QuietContext)
            .map_err(client_error("cannot create a consumer"))?;
        let metadata = consumer
            .fetch_metadata(Some(name), METADATA_TIMEOUT)
            .map_err(client_error(format!("cannot read the metadata of topic {name}")))?;
        let topic = metadata
            .topics()
            .iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| KafkaSourceError::Other(format!("topic {name} not found")))?;
        if let Some(error) = topic.error() {
            return Err(KafkaSourceError::Other(format!("topic {name}: {error:?}")));
        }
        if topic.partitions().is_empty() {
            return Err(KafkaSourceError::Other(format!("topic {name} has no partitions")));
        }
        Ok(topic.partitions().len())
    }

    /// Assigns `partitions`, each from its position in `resume` or else from `start`.
    pub fn open(
        options: &KafkaOptions,
        partitions: &[i32],
        start: StartAt,
        end: EndAt,
        resume: &BTreeMap<i32, i64>,
    ) -> Result<KafkaSource, KafkaSourceError> {
        let consumer: Arc<BaseConsumer<QuietContext>> = Arc::new(
            consumer_config(options)
                .create_with_context(QuietContext)
                .map_err(client_error("cannot create a consumer"))?,
        );
        let topic = options.topic.clone();
        let mut progress = Vec::new();
        let mut lows = std::collections::HashMap::new();
        let mut rewinds = 0;
        for &partition in partitions {
            let (low, high) = consumer
                .fetch_watermarks(&topic, partition, METADATA_TIMEOUT)
                .map_err(client_error(format!("cannot read the watermarks of {topic}/{partition}")))?;
            let first = match resume.get(&partition) {
                Some(&offset) if offset > high.saturating_add(REFETCH) => {
                    // Past the log's end by more than any batch (Kafka's answer is exact;
                    // some brokers, tansu 0.6, give the start of the last batch): the log
                    // went back (topic recreated, messages lost on the broker). Read it from
                    // its start, as a Kafka consumer whose position is out of range does.
                    tracing::error!(
                        topic = %topic,
                        partition,
                        position = offset,
                        log_end = high,
                        "the partition's log ends before the position read (topic recreated, or messages lost on the broker): reading it from its start"
                    );
                    rewinds += 1;
                    low
                }
                Some(&offset) => {
                    if offset > high {
                        tracing::warn!(
                            topic = %topic,
                            partition,
                            position = offset,
                            log_end = high,
                            "the partition's log may end before the position read: if the topic was recreated or lost messages, its messages before the position are skipped"
                        );
                    }
                    offset
                }
                None => match start {
                    StartAt::Earliest => low,
                    StartAt::Latest => high,
                    StartAt::Timestamp(ms) => offset_for_time(&consumer, &topic, partition, ms)?.unwrap_or(high),
                },
            };
            // `latest` is where the reader first catches up (the partition-EOF event), not the
            // ListOffsets answer: some brokers (tansu 0.6) answer with the start of the last
            // batch there, which would cut a backfill short.
            let end_offset = match end {
                EndAt::Unbounded | EndAt::Latest => None,
                EndAt::Timestamp(ms) => Some(offset_for_time(&consumer, &topic, partition, ms)?.unwrap_or(high)),
            };
            tracing::debug!(partition, low, high, first, "assigning");
            lows.insert(partition, low);
            progress.push(PartitionProgress {
                partition,
                next_offset: first.max(low),
                end: end_offset,
                high_watermark: high,
                finished: end_offset.is_some_and(|end| first >= end),
                until_caught_up: matches!(end, EndAt::Latest),
                live: false,
                at_end: false,
            });
        }
        let mut assignment = TopicPartitionList::new();
        for p in &progress {
            let fetch_from = (p.next_offset - REFETCH).max(lows[&p.partition]);
            assignment
                .add_partition_offset(&topic, p.partition, Offset::Offset(fetch_from))
                .map_err(client_error("cannot build the assignment"))?;
        }
        consumer.assign(&assignment).map_err(client_error("cannot assign partitions"))?;
        let mut assigned = Vec::new();
        for p in progress {
            let queue = BatchQueue::split(&consumer, &topic, p.partition)
                .ok_or_else(|| KafkaSourceError::Other(format!("cannot open a queue for {topic}/{}", p.partition)))?;
            assigned.push(Assigned {
                progress: p,
                queue,
                seen_any: false,
                stop: None,
            });
        }
        Ok(KafkaSource {
            partitions: assigned,
            consumer,
            topic,
            messages_read: 0,
            rewinds,
            bytes_read: 0,
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn progress(&self) -> impl Iterator<Item = &PartitionProgress> {
        self.partitions.iter().map(|p| &p.progress)
    }

    /// The partitions read to their end (for now, or for good): no offset beyond where they
    /// stand is known to exist.
    pub fn ended(&self) -> std::collections::BTreeSet<i32> {
        self.progress().filter(|p| p.at_end || p.finished).map(|p| p.partition).collect()
    }

    /// Serves the consumer's own events (errors, statistics); reading does not need it, but
    /// librdkafka expects the main queue to be polled.
    pub fn serve_events(&self) {
        while let Some(event) = self.consumer.poll(Duration::ZERO) {
            if let Err(error) = event {
                tracing::warn!(%error, topic = %self.topic, "kafka consumer event");
            }
        }
    }

    /// Reads the next chunk of the `index`-th assigned partition: messages up to the next
    /// offset that is a multiple of `chunk_messages` (or up to the end bound). Bounded reads
    /// wait as long as it takes; streaming reads return early when caught up or when nothing
    /// arrives within `wait`.
    /// Ends chunks at these next offsets (by partition; others unbounded) until changed: a
    /// logged mutation is due once every partition is there, so no partition may read past
    /// it first, whatever chunk boundaries a restart has.
    pub fn stop_at(&mut self, stops: Option<&std::collections::BTreeMap<i32, i64>>) {
        for assigned in &mut self.partitions {
            assigned.stop = stops.and_then(|s| s.get(&assigned.progress.partition).copied());
        }
    }

    pub fn read_chunk(&mut self, index: usize, chunk_messages: i64, wait: Duration) -> Result<Chunk, KafkaSourceError> {
        let topic = self.topic.clone();
        let assigned = &mut self.partitions[index];
        let progress = &mut assigned.progress;
        let expected =
            (chunk_messages.clamp(1, 1 << 16) as u64).min((progress.end.unwrap_or(i64::MAX) - progress.next_offset).max(1) as u64);
        let mut chunk = Chunk {
            partition: progress.partition,
            messages: ChunkMessages {
                messages: Vec::with_capacity(expected as usize),
                client: Some(self.consumer.clone()),
            },
            lines: Vec::with_capacity(expected as usize),
            bytes: 0,
            end: ChunkEnd::Finished,
        };
        if progress.finished {
            return Ok(chunk);
        }
        let aligned = (progress.next_offset.div_euclid(chunk_messages) + 1) * chunk_messages;
        let target = progress.end.map_or(aligned, |end| end.min(aligned));
        let target = match assigned.stop {
            Some(stop) if stop > progress.next_offset => target.min(stop),
            Some(_) => {
                // At the stop: nothing to read until the mutation is applied.
                chunk.end = ChunkEnd::Boundary;
                return Ok(chunk);
            }
            None => target,
        };
        let mut last_warning = Instant::now();
        loop {
            if progress.next_offset >= target {
                chunk.end = if progress.end.is_some_and(|end| progress.next_offset >= end) {
                    progress.finished = true;
                    ChunkEnd::Finished
                } else {
                    ChunkEnd::Boundary
                };
                return Ok(chunk);
            }
            let (offset, len) = match assigned.queue.peek(if progress.live { Duration::ZERO } else { wait }) {
                Some(Polled::Message { offset, payload }) => (offset, payload.len()),
                Some(Polled::Eof) => {
                    assigned.queue.consume();
                    progress.at_end = true;
                    if progress.until_caught_up {
                        progress.end = Some(progress.next_offset);
                    }
                    if progress.end.is_some() {
                        tracing::debug!(partition = progress.partition, next = progress.next_offset, end = ?progress.end, "end of partition");
                        // The end bound is at most the high watermark seen at start, and
                        // the log end only grows: everything before the bound is read
                        // (what is left are offsets without messages, such as markers).
                        progress.finished = true;
                        progress.next_offset = progress.next_offset.max(progress.end.unwrap_or(0));
                        chunk.end = ChunkEnd::Finished;
                        return Ok(chunk);
                    }
                    progress.high_watermark = progress.high_watermark.max(progress.next_offset);
                    progress.live = true;
                    chunk.end = ChunkEnd::CaughtUp;
                    return Ok(chunk);
                }
                Some(Polled::Error(error)) => {
                    tracing::warn!(%error, topic = %topic, partition = progress.partition, "kafka fetch error");
                    assigned.queue.consume();
                    continue;
                }
                None => {
                    if progress.live {
                        chunk.end = ChunkEnd::Waited;
                        return Ok(chunk);
                    }
                    if last_warning.elapsed() > Duration::from_secs(10) {
                        last_warning = Instant::now();
                        tracing::warn!(topic = %topic, partition = progress.partition, offset = progress.next_offset, "waiting for messages from the broker");
                    }
                    continue;
                }
            };
            if offset < progress.next_offset {
                // Refetched before the start position (see `REFETCH`). A consumer reset to
                // the log's start while reading (the log went back) is not told apart from
                // this: telling them apart misread a cluster's restarts as resets (tansu).
                assigned.queue.consume();
                continue;
            }
            if offset > progress.next_offset && !assigned.seen_any {
                tracing::warn!(
                    partition = progress.partition,
                    expected = progress.next_offset,
                    got = offset,
                    "the first message after (re)starting is past the start position; offsets in between are missing from the log"
                );
            }
            assigned.seen_any = true;
            if offset >= target {
                // Belongs to a later chunk (or past the end bound): it stays queued for then.
                progress.next_offset = target;
                continue;
            }
            let Some(message) = assigned.queue.take() else {
                continue;
            };
            chunk.lines.push(LineInfo {
                start: chunk.messages.messages.len(),
                len,
                line_number: offset as u64,
                byte_offset: 0,
            });
            chunk.messages.messages.push(message);
            chunk.bytes += len as u64;
            self.messages_read += 1;
            self.bytes_read += len as u64;
            progress.at_end = false;
            progress.next_offset = offset + 1;
            progress.high_watermark = progress.high_watermark.max(progress.next_offset);
        }
    }

    /// Updates the high watermarks (for lag) from the last fetch responses: librdkafka keeps
    /// them, so this costs no round trip to the broker (asking the broker stalled the feeder
    /// once a second for one round trip per partition).
    pub fn refresh_watermarks(&mut self) {
        let Ok(topic) = std::ffi::CString::new(self.topic.as_str()) else {
            return;
        };
        for assigned in &mut self.partitions {
            let (mut low, mut high) = (-1i64, -1i64);
            // SAFETY: the client pointer is valid while `self.consumer` is; librdkafka writes
            // the two offsets (-1 or an invalid marker when no fetch has answered yet).
            let error = unsafe {
                rdkafka::bindings::rd_kafka_get_watermark_offsets(
                    self.consumer.client().native_ptr(),
                    topic.as_ptr(),
                    assigned.progress.partition,
                    &mut low,
                    &mut high,
                )
            };
            if error == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0 {
                assigned.progress.high_watermark = assigned.progress.high_watermark.max(high);
            }
        }
    }

    /// Commits `positions` to the consumer group, asynchronously: the checkpoint, not the
    /// group, is the source of truth, so a lost commit only delays the lag figure.
    pub fn commit(&self, positions: &BTreeMap<i32, i64>) {
        let mut list = TopicPartitionList::new();
        for (&partition, &offset) in positions {
            if list.add_partition_offset(&self.topic, partition, Offset::Offset(offset)).is_err() {
                return;
            }
        }
        if let Err(error) = self.consumer.commit(&list, CommitMode::Async) {
            tracing::debug!(%error, "cannot commit offsets to the consumer group");
        }
    }
}

/// Reports client errors through `tracing`, except partition-EOF: reaching the end of a
/// partition is how the source knows it caught up, not an error.
pub struct QuietContext;

impl rdkafka::client::ClientContext for QuietContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if !matches!(error, KafkaError::PartitionEOF(_)) {
            tracing::warn!(%error, reason, "kafka client error");
        }
    }
}

impl rdkafka::consumer::ConsumerContext for QuietContext {}

fn consumer_config(options: &KafkaOptions) -> rdkafka::config::ClientConfig {
    let mut config = options.client_config();
    config
        .set("group.id", &options.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest");
    for (key, value) in super::FETCH_SETTINGS {
        config.set(*key, *value);
    }
    for (key, value) in &options.properties {
        config.set(key, value);
    }
    config
}

/// The first offset at or after `ms`, or None when every message is older.
fn offset_for_time(consumer: &BaseConsumer<QuietContext>, topic: &str, partition: i32, ms: i64) -> Result<Option<i64>, KafkaSourceError> {
    let mut query = TopicPartitionList::new();
    query
        .add_partition_offset(topic, partition, Offset::Offset(ms))
        .map_err(client_error("cannot build a time query"))?;
    let answer = consumer
        .offsets_for_times(query, METADATA_TIMEOUT)
        .map_err(client_error(format!("cannot look up offsets by time in {topic}/{partition}")))?;
    Ok(answer.find_partition(topic, partition).and_then(|element| match element.offset() {
        Offset::Offset(offset) => Some(offset),
        _ => None,
    }))
}
