//! What a pipeline runs on: inputs, Kafka, checkpoints, the cluster.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use connectors::events::InputDecoder;
use connectors::kafka::{EndAt, KafkaOptions, StartAt};
use dataflows::graph::DeadLetterSink;
use dataflows::state::IngestConfig;

use crate::metrics::Metrics;

pub struct PipelineOptions {
    pub inputs: Vec<PathBuf>,
    pub kafka: Option<KafkaInput>,
    pub workers: usize,
    pub follow: bool,
    pub block_lines: usize,
    pub decoder: InputDecoder,
    pub ingest: IngestConfig,
    pub dead_letters: DeadLetterSink,
    pub show_progress: bool,
    pub checkpoints: Option<CheckpointOptions>,
    pub cluster: Option<ClusterOptions>,
    pub metrics: Arc<Metrics>,
    /// Set by SIGTERM/SIGINT: stop reading, drain, checkpoint, exit.
    pub stop: Arc<AtomicBool>,
    /// Feeds of group changes (change feed, group-attributes); empty for none.
    pub changes: crate::changes::ChangeSinks,
    /// API mutations to sequence (a server); None for a batch run, which still replays
    /// the mutation log of its state directory.
    pub mutations: Option<crate::mutation_log::Inbox>,
}

#[derive(Clone)]
pub struct KafkaInput {
    pub options: KafkaOptions,
    pub start: StartAt,
    pub end: EndAt,
    /// Messages per chunk; chunks end at offsets that are multiples of it.
    pub chunk_messages: i64,
    /// Backpressure: rounds of chunks in flight before reading pauses for the dataflow.
    pub in_flight_rounds: u64,
}

#[derive(Clone)]
pub struct CheckpointOptions {
    pub dir: PathBuf,
    pub interval: Duration,
    /// The dead-letter file, cut back to its checkpointed length on restore.
    pub dead_letter_file: Option<PathBuf>,
    /// The change feed file (`--change-feed`), cut back to its checkpointed length on
    /// restore.
    pub change_feed_file: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct ClusterOptions {
    pub processes: usize,
    pub process: usize,
    pub addresses: Vec<String>,
    /// How long to wait for the other processes to connect.
    pub connect_timeout: std::time::Duration,
}
