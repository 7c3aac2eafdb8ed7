//! The command line: every subcommand's flags (clap derive), documented for `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::{events_cli, list_params};

#[derive(Parser)]
#[command(name = "occurrent", version, about = "Sentry-compatible issue tracking on a differential dataflow.", long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Process a bounded input to completion, then print a summary and optionally dump the
    /// final issue view.
    Backfill(BackfillArgs),
    /// Process the inputs continuously (files, with --follow what is appended; a Kafka topic
    /// with --kafka) and serve the issues API and /metrics.
    Run(RunArgs),
    /// Write a realistic synthetic stream of occurrences and status changes as JSON lines.
    Generate(GenerateArgs),
    /// Write JSON lines to a Kafka topic, keyed like Sentry's producer (for loading a topic
    /// from a file, or replaying dead letters after a fix).
    Produce(ProduceArgs),
    /// Benchmark: offer a steady load to a topic and measure produce → visible in the API.
    #[command(hide = true)]
    BenchFreshness(BenchFreshnessArgs),
    /// Benchmark baseline for Kafka: a bare consumer loop over a topic, no processing.
    #[command(hide = true)]
    ConsumeOnly(ConsumeOnlyArgs),
    /// Benchmark: issues-list and mutation latency while a load is appended to a followed file.
    #[command(hide = true)]
    BenchApi(BenchApiArgs),
    /// Group Sentry events (one JSON per stdin line) and print their hashes (one JSON per
    /// line); a bad line prints `{"error": …}` and the others continue.
    Grouping(events_cli::GroupingArgs),
    /// Benchmark baseline: read and decode the input on N threads, with no dataflow.
    #[command(hide = true)]
    ParseOnly(ParseOnlyArgs),
}

#[derive(Args)]
pub(crate) struct ProduceArgs {
    #[arg(long, value_name = "BROKERS")]
    pub(crate) kafka: String,
    #[arg(long, default_value = "ingest-occurrences")]
    pub(crate) topic: String,
    /// JSON-lines file (`-` for stdin).
    #[arg(long)]
    pub(crate) input: PathBuf,
    /// A librdkafka property, `key=value` (repeatable).
    #[arg(long = "kafka-property", value_name = "KEY=VALUE")]
    pub(crate) kafka_properties: Vec<String>,
}

#[derive(Args)]
pub(crate) struct BenchFreshnessArgs {
    #[arg(long, value_name = "BROKERS")]
    pub(crate) kafka: String,
    #[arg(long, default_value = "ingest-occurrences")]
    pub(crate) topic: String,
    /// host:port of the API of the `occurrent run` under test.
    #[arg(long)]
    pub(crate) api: String,
    /// JSON lines replayed as the load.
    #[arg(long)]
    pub(crate) load: PathBuf,
    /// Offered load, messages per second.
    #[arg(long)]
    pub(crate) rate: u64,
    #[arg(long, default_value_t = 20)]
    pub(crate) seconds: u64,
}

#[derive(Args)]
pub(crate) struct BenchApiArgs {
    /// host:port of the API of the `occurrent run --follow` under test.
    #[arg(long)]
    pub(crate) api: String,
    #[arg(long, default_value = "sentry")]
    pub(crate) org: String,
    /// JSON lines replayed as the load.
    #[arg(long)]
    pub(crate) load: PathBuf,
    /// The file the server follows (its last --input).
    #[arg(long)]
    pub(crate) append: PathBuf,
    /// Offered load, lines per second.
    #[arg(long)]
    pub(crate) rate: u64,
    #[arg(long, default_value_t = 20)]
    pub(crate) seconds: u64,
    /// Mutations target ids 1..=MAX_ID.
    #[arg(long, default_value_t = 1000)]
    pub(crate) max_id: u64,
}

#[derive(Args)]
pub(crate) struct ConsumeOnlyArgs {
    #[arg(long, value_name = "BROKERS")]
    pub(crate) kafka: String,
    #[arg(long, default_value = "ingest-occurrences")]
    pub(crate) topic: String,
    #[arg(long = "kafka-property", value_name = "KEY=VALUE")]
    pub(crate) kafka_properties: Vec<String>,
}

#[derive(Args)]
pub(crate) struct ParseOnlyArgs {
    #[arg(long = "input", required = true, num_args = 1..)]
    pub(crate) inputs: Vec<PathBuf>,
    #[arg(long, default_value_t = default_workers(), value_parser = parse_workers)]
    pub(crate) workers: usize,
    #[arg(long, default_value_t = 16_384)]
    pub(crate) block_lines: usize,
    #[arg(long, default_value = "occurrences")]
    pub(crate) input_format: connectors::events::InputFormat,
}

#[derive(Args, Clone)]
pub(crate) struct InputArgs {
    /// JSON-lines inputs, read in order: files, directories (files in name order), `-` for
    /// stdin; `.gz` and `.zst` are decompressed. With --kafka too, the files are read first.
    #[arg(long = "input", num_args = 1.., required_unless_present = "kafka")]
    pub(crate) inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) kafka: KafkaArgs,
    #[command(flatten)]
    pub(crate) state: StateArgs,
    #[command(flatten)]
    pub(crate) changes: ChangeArgs,
    #[command(flatten)]
    pub(crate) cluster: ClusterArgs,
    #[command(flatten)]
    pub(crate) events: events_cli::EventArgs,
    /// Worker threads.
    #[arg(long, default_value_t = default_workers(), value_parser = parse_workers)]
    pub(crate) workers: usize,
    /// TOML file declaring organizations and projects; without it every project id is
    /// accepted under organization `sentry`.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Where rejected lines go, as JSON lines with the original bytes, their position and the
    /// reason (created on the first rejection). Default: `dead-letters.jsonl`, or with
    /// --kafka the dead-letter topic.
    #[arg(long)]
    pub(crate) dead_letter: Option<PathBuf>,
    /// Window of event time, in seconds, within which a repeated message id is a duplicate
    /// (0 to 100 years).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(i64).range(0..=MAX_DEDUP_WINDOW))]
    pub(crate) dedup_window: i64,
    /// Lines per input block (the unit of parallel parsing and of dataflow time).
    #[arg(long, default_value_t = 16_384, hide = true)]
    pub(crate) block_lines: usize,
}

#[derive(Args, Clone)]
pub(crate) struct KafkaArgs {
    /// Kafka bootstrap servers: read occurrences from a topic.
    #[arg(long, value_name = "BROKERS")]
    pub(crate) kafka: Option<String>,
    /// Topic to read.
    #[arg(long, default_value = "ingest-occurrences")]
    pub(crate) topic: String,
    /// Consumer group that offsets are committed to (for lag monitoring; the checkpoint is
    /// the source of truth for positions).
    #[arg(long, default_value = "occurrent")]
    pub(crate) group: String,
    /// Dead-letter topic (default `<topic>-dlq`); rejected messages keep their bytes, with
    /// headers reason, source_topic, partition and offset.
    #[arg(long)]
    pub(crate) dead_letter_topic: Option<String>,
    /// A librdkafka property, `key=value` (repeatable): security.protocol, sasl.*, ssl.*, …
    #[arg(long = "kafka-property", value_name = "KEY=VALUE")]
    pub(crate) kafka_properties: Vec<String>,
    /// Where to start: earliest, latest, epoch seconds or an ISO 8601 date-time (positions
    /// in a checkpoint take precedence).
    #[arg(long, default_value = "earliest")]
    pub(crate) from: connectors::kafka::StartAt,
    /// Messages per chunk of a partition (chunks end at offsets that are multiples of it).
    #[arg(long, default_value_t = 8192, hide = true)]
    pub(crate) chunk_messages: i64,
    /// Backpressure: rounds of chunks (one per partition) in flight before reading pauses
    /// until the dataflow catches up; bounds memory under a burst.
    #[arg(long, default_value_t = 4)]
    pub(crate) max_in_flight_rounds: u64,
}

#[derive(Args, Clone)]
pub(crate) struct ChangeArgs {
    /// Write a JSON change feed of the issue view (`{group_id, project_id, short_id, before,
    /// after}` per changed group, after each completed epoch) to this file.
    #[arg(long)]
    pub(crate) change_feed: Option<PathBuf>,
    /// Produce the change feed to this topic (keyed by group id; needs --kafka).
    #[arg(long)]
    pub(crate) change_feed_topic: Option<String>,
    /// Produce Sentry's group-attributes snapshots on every group change to this topic
    /// (e.g. `group-attributes`; needs --kafka).
    #[arg(long)]
    pub(crate) group_attributes_topic: Option<String>,
}

#[derive(Args, Clone)]
pub(crate) struct StateArgs {
    /// Directory for checkpoints; with it, a restart resumes from the newest valid one.
    #[arg(long)]
    pub(crate) state_dir: Option<PathBuf>,
    /// Seconds between checkpoints (a cluster: by process 0's clock, for every process).
    #[arg(long, default_value_t = 10.0)]
    pub(crate) checkpoint_interval: f64,
}

#[derive(Args, Clone)]
pub(crate) struct ClusterArgs {
    /// Processes in the timely cluster.
    #[arg(long, default_value_t = 1)]
    pub(crate) processes: usize,
    /// This process's index in the cluster.
    #[arg(long, default_value_t = 0)]
    pub(crate) process: usize,
    /// File with one `host:port` per process, in process order.
    #[arg(long)]
    pub(crate) hostfile: Option<PathBuf>,
    /// Seconds a cluster process waits for every other process to connect before it gives
    /// up with an error (a peer that failed at start-up would otherwise be waited for
    /// forever).
    #[arg(long, default_value_t = 300.0)]
    pub(crate) connect_timeout: f64,
}

#[derive(Args)]
pub(crate) struct BackfillArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    /// Write the final issue view as JSON lines (`-` for stdout), ordered by id.
    #[arg(long)]
    pub(crate) dump_issues: Option<PathBuf>,
    /// Also write the summary as a JSON object to this file.
    #[arg(long)]
    pub(crate) summary_json: Option<PathBuf>,
    /// Kafka: where to stop: latest (the end found at start-up), epoch seconds or an ISO
    /// 8601 date-time.
    #[arg(long, default_value = "latest")]
    pub(crate) to: connectors::kafka::EndAt,
    /// Kafka: once caught up, keep reading live (serving the API on --listen) instead of
    /// exiting: the same reader goes on, so there is no gap and no duplicate.
    #[arg(long, conflicts_with_all = ["dump_issues", "summary_json"])]
    pub(crate) then_follow: bool,
    /// Address of the HTTP API with --then-follow.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub(crate) listen: String,
    /// With --then-follow: allow a non-loopback --listen address without API tokens.
    #[arg(long, requires = "then_follow")]
    pub(crate) insecure: bool,
    /// The API's "now" with --then-follow (see `run --help`).
    #[arg(long, default_value = "data")]
    pub(crate) api_now: list_params::ApiClock,
    /// With --then-follow: the ingest threads' niceness (see `run --help`).
    #[arg(long, default_value_t = 0, requires = "then_follow", value_parser = clap::value_parser!(i32).range(0..=19))]
    pub(crate) ingest_nice: i32,
    /// With --then-follow: the views' writers' priority (see `run --help`).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub(crate) realtime_writes: bool,
    /// With --then-follow: the API threads' niceness (see `run --help`).
    #[arg(long, default_value_t = -10, allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(-20..=0))]
    pub(crate) api_nice: i32,
    /// With --then-follow: the API thread at a real-time priority (see `run --help`).
    #[arg(long, requires = "then_follow")]
    pub(crate) realtime_api: bool,
}

#[derive(Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    /// Keep reading the last input as lines are appended (through rotations). When the last
    /// input is a directory: its last file, then the files created in it later that sort
    /// after it (the directory may start empty).
    #[arg(long)]
    pub(crate) follow: bool,
    /// Address of the HTTP API. Without [[tokens]] in --config the API is unauthenticated,
    /// so only loopback addresses are accepted unless --insecure is given.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub(crate) listen: String,
    /// Serve the unauthenticated API (no [[tokens]] configured) on a non-loopback address.
    #[arg(long)]
    pub(crate) insecure: bool,
    /// The API's "now" for windows (`statsPeriod`, default 90 days), stats and relative
    /// dates: `data` (the newest event time ingested), `wall` (the system clock, as Sentry),
    /// or a fixed instant (epoch seconds or ISO 8601).
    #[arg(long, default_value = "data")]
    pub(crate) api_now: list_params::ApiClock,
    /// Run the ingest threads (the feeder and the dataflow workers) at this niceness (0-19),
    /// so that API requests get a core first on a busy machine; ingest keeps whatever CPU
    /// the requests leave. 0 (default): the process's own priority.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i32).range(0..=19))]
    pub(crate) ingest_nice: i32,
    /// Run the views' writers at a real-time priority while they hold the write lock
    /// (about a millisecond at a time), so that requests waiting for it do not wait for a
    /// preempted writer to get a core back. Needs CAP_SYS_NICE; without it a warning is
    /// logged and writers keep their priority.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub(crate) realtime_writes: bool,
    /// Run the API's threads at this niceness (-20 to 0), above the ingest threads, so that
    /// a request gets a core before ingest work on a busy machine. Needs CAP_SYS_NICE below
    /// 0; without it a warning is logged and they keep the process's priority.
    #[arg(long, default_value_t = -10, allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(-20..=0))]
    pub(crate) api_nice: i32,
    /// Run the API's thread at a real-time priority (SCHED_FIFO 1) instead of --api-nice:
    /// a request preempts any ordinary thread at once, but a long one (a free-text scan of
    /// every group) then keeps a core from ingest for its whole duration. Needs CAP_SYS_NICE.
    #[arg(long)]
    pub(crate) realtime_api: bool,
}

#[derive(Args)]
pub(crate) struct GenerateArgs {
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Lines to write.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) count: u64,
    /// Distinct fingerprints (1 to 100,000,000; each takes ~50 bytes of memory while writing).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub(crate) fingerprints: u64,
    /// Distinct projects (1 to 1,000,000).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub(crate) projects: u64,
    /// Share of deliberately malformed lines, from 0 to 1.
    #[arg(long, default_value_t = 0.002, value_parser = parse_ratio)]
    pub(crate) malformed_ratio: f64,
    /// Event time of the first line, epoch seconds (1970 to 9999).
    #[arg(long, default_value_t = 1_704_067_200, value_parser = clap::value_parser!(i64).range(0..=LAST_GENERATED_SECOND))]
    pub(crate) start_time: i64,
    /// Event time the stream spans, in seconds (at least 1; shorter spans make quotas bind).
    #[arg(long, default_value_t = 14 * 86_400, value_parser = clap::value_parser!(i64).range(1..=LAST_GENERATED_SECOND))]
    pub(crate) span_seconds: i64,
    /// Output file (default stdout).
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
    /// Instead: one new cron group per line (`--count` groups over `--projects`), for
    /// measuring the read side at a given number of groups.
    #[arg(long)]
    pub(crate) distinct_groups: bool,
}

/// The last second `generate` writes: 9999-12-31T23:59:59Z, the last ISO 8601 date-time with
/// a four-digit year (Sentry's and Occurrent's times go no further).
pub(crate) const LAST_GENERATED_SECOND: i64 = 253_402_300_799;
/// The longest `--dedup-window`, in seconds (100 years): its microseconds fit in an i64
/// with room for event times (the window was added to times and overflowed).
const MAX_DEDUP_WINDOW: i64 = 100 * 365 * 86_400;

fn parse_ratio(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err("expected a share from 0 to 1".to_string()),
    }
}

/// Most worker threads per process: each is a thread with its own dataflow (a typo such as
/// `--workers 20000` would otherwise spawn them all before failing).
const MAX_WORKERS: usize = 1024;

fn parse_workers(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(workers @ 1..=MAX_WORKERS) => Ok(workers),
        _ => Err(format!("expected a number of worker threads from 1 to {MAX_WORKERS}")),
    }
}

pub(crate) fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
