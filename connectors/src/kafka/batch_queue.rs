//! A partition's own librdkafka queue, read in batches.
//!
//! rdkafka's `PartitionQueue::poll` pops one message per call, and each call takes the
//! queue's lock, reads the clock and builds an event: at a million messages that cost the
//! feeder about as much CPU as copying the payloads (see docs/benchmark-history.md, Kafka). The batch call
//! (`rd_kafka_consume_batch_queue`) pops everything queued under one lock. Messages stay
//! owned by librdkafka until destroyed, so a message read past a chunk's end stays in the
//! batch for the next chunk instead of being copied aside, and a message taken into a chunk
//! ([`Message`]) keeps its payload where librdkafka decoded it until the chunk is dropped.

use std::collections::VecDeque;
use std::ffi::CString;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Messages popped per call: enough to amortise the call, few enough that one partition's
/// batch does not hold much of librdkafka's prefetched memory.
const BATCH: usize = 1024;

/// One message, borrowed from the batch it came in.
pub(crate) enum Polled<'a> {
    Message {
        offset: i64,
        payload: &'a [u8],
    },
    /// The partition's end (`enable.partition.eof`).
    Eof,
    Error(KafkaError),
}

/// A message taken from a queue: its payload stays valid until it is dropped. It must be
/// dropped before the client it came from is destroyed (the chunk holding it keeps the client).
pub(crate) struct Message(std::ptr::NonNull<rd::rd_kafka_message_t>);

// SAFETY: a taken message is read only (its payload and length), and librdkafka's message
// destruction is thread-safe (reference counts on the fetch buffer and the partition).
unsafe impl Send for Message {}
unsafe impl Sync for Message {}

impl Message {
    pub(crate) fn payload(&self) -> &[u8] {
        // SAFETY: valid until dropped.
        let message = unsafe { self.0.as_ref() };
        if message.payload.is_null() {
            &[]
        } else {
            // SAFETY: librdkafka's payload pointer and length describe one buffer that lives
            // as long as the message.
            unsafe { std::slice::from_raw_parts(message.payload as *const u8, message.len) }
        }
    }
}

impl Drop for Message {
    fn drop(&mut self) {
        // SAFETY: taken from a queue's pending messages, so owned here and destroyed once.
        unsafe { rd::rd_kafka_message_destroy(self.0.as_ptr()) };
    }
}

pub(crate) struct BatchQueue {
    queue: *mut rd::rd_kafka_queue_t,
    /// Popped and not yet consumed, in offset order; each is destroyed once consumed.
    pending: VecDeque<*mut rd::rd_kafka_message_t>,
    scratch: Vec<*mut rd::rd_kafka_message_t>,
}

// SAFETY: librdkafka queues and messages may be used from any thread (one at a time, which
// `&mut self` ensures).
unsafe impl Send for BatchQueue {}

impl BatchQueue {
    /// Detaches `partition`'s messages from the consumer's queue into a queue of their own
    /// (as rdkafka's `split_partition_queue` does). The queue must be dropped before the
    /// consumer is.
    pub(crate) fn split<C: ConsumerContext>(consumer: &BaseConsumer<C>, topic: &str, partition: i32) -> Option<BatchQueue> {
        let topic = CString::new(topic).ok()?;
        // SAFETY: the client pointer is valid while `consumer` is; a null answer is handled.
        let queue = unsafe { rd::rd_kafka_queue_get_partition(consumer.client().native_ptr(), topic.as_ptr(), partition) };
        if queue.is_null() {
            return None;
        }
        // SAFETY: `queue` is a valid queue handle; forwarding to null detaches it.
        unsafe { rd::rd_kafka_queue_forward(queue, std::ptr::null_mut()) };
        Some(BatchQueue {
            queue,
            pending: VecDeque::with_capacity(BATCH),
            scratch: vec![std::ptr::null_mut(); BATCH],
        })
    }

    /// The next message without consuming it, waiting up to `wait` when none is queued;
    /// None when nothing arrived.
    pub(crate) fn peek(&mut self, wait: Duration) -> Option<Polled<'_>> {
        if self.pending.is_empty() {
            // Whatever is queued, at once; failing that, wait for one message (a batch call
            // with a timeout waits for the whole batch).
            if self.fill(0, BATCH) == 0 && !wait.is_zero() {
                self.fill(wait.as_millis().clamp(1, i32::MAX as u128) as i32, 1);
            }
        }
        let &message = self.pending.front()?;
        // SAFETY: pending messages are valid until destroyed in `consume` or on drop.
        let message = unsafe { &*message };
        Some(match message.err {
            rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR => Polled::Message {
                offset: message.offset,
                payload: if message.payload.is_null() {
                    &[]
                } else {
                    // SAFETY: librdkafka's payload pointer and length describe one buffer
                    // that lives as long as the message.
                    unsafe { std::slice::from_raw_parts(message.payload as *const u8, message.len) }
                },
            },
            rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__PARTITION_EOF => Polled::Eof,
            code => Polled::Error(KafkaError::MessageConsumption(RDKafkaErrorCode::from(code))),
        })
    }

    /// Drops the message `peek` returned.
    pub(crate) fn consume(&mut self) {
        if let Some(message) = self.pending.pop_front() {
            // SAFETY: popped from `pending`, so not destroyed before.
            unsafe { rd::rd_kafka_message_destroy(message) };
        }
    }

    /// Takes the message `peek` returned, payload and all, instead of dropping it.
    pub(crate) fn take(&mut self) -> Option<Message> {
        self.pending.pop_front().and_then(std::ptr::NonNull::new).map(Message)
    }

    fn fill(&mut self, timeout_ms: i32, size: usize) -> usize {
        // SAFETY: `scratch` has room for `size` pointers; librdkafka writes that many at most.
        let count = unsafe { rd::rd_kafka_consume_batch_queue(self.queue, timeout_ms, self.scratch.as_mut_ptr(), size) };
        let count = usize::try_from(count).unwrap_or(0);
        self.pending.extend(&self.scratch[..count]);
        count
    }
}

impl Drop for BatchQueue {
    fn drop(&mut self) {
        while !self.pending.is_empty() {
            self.consume();
        }
        // SAFETY: the handle came from `rd_kafka_queue_get_partition` and is released once.
        unsafe { rd::rd_kafka_queue_destroy(self.queue) };
    }
}
