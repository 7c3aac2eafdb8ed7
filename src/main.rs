//! `occurrent`: Sentry-style issue tracking on timely/differential dataflow.

mod allocator;
mod api;
mod api_direct;
mod api_events;
mod api_expand;
mod api_list;
mod api_mutations;
mod api_window;
mod auth;
mod bench_api;
mod bench_freshness;
mod changes;
mod checkpoint;
mod config;
mod events_cli;
mod feed;
mod generate;
mod generate_groups;
mod list_index;
mod list_params;
mod metrics;
mod mutation_log;
mod openapi;
mod pipeline;
mod produce;
mod search;
mod search_syntax;
mod serialize;
mod serialize_triage;
mod short_id;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use connectors::kafka::{EndAt, KafkaDeadLetters, KafkaOptions, KafkaTopicSink};
use dataflows::graph::{DeadLetterSink, DeadLetterWriter, JsonLinesDeadLetters};
use dataflows::model::time::MICROS_PER_SECOND;
use dataflows::state::{Counter, IngestConfig};
use dataflows::views::IssueViews;

use crate::config::Catalog;
use crate::pipeline::{run_pipeline, CheckpointOptions, ClusterOptions, KafkaInput, PipelineOptions, Startup};

/// mimalloc: the pipeline allocates and frees many small strings and large blocks across
/// threads; glibc's allocator spent ~20% of the time there and returned block memory to the
/// kernel only to fault it in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "occurrent", version, about = "Sentry-compatible issue tracking on a differential dataflow.", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
struct ProduceArgs {
    #[arg(long, value_name = "BROKERS")]
    kafka: String,
    #[arg(long, default_value = "ingest-occurrences")]
    topic: String,
    /// JSON-lines file (`-` for stdin).
    #[arg(long)]
    input: PathBuf,
    /// A librdkafka property, `key=value` (repeatable).
    #[arg(long = "kafka-property", value_name = "KEY=VALUE")]
    kafka_properties: Vec<String>,
}

#[derive(Args)]
struct BenchFreshnessArgs {
    #[arg(long, value_name = "BROKERS")]
    kafka: String,
    #[arg(long, default_value = "ingest-occurrences")]
    topic: String,
    /// host:port of the API of the `occurrent run` under test.
    #[arg(long)]
    api: String,
    /// JSON lines replayed as the load.
    #[arg(long)]
    load: PathBuf,
    /// Offered load, messages per second.
    #[arg(long)]
    rate: u64,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
}

#[derive(Args)]
struct BenchApiArgs {
    /// host:port of the API of the `occurrent run --follow` under test.
    #[arg(long)]
    api: String,
    #[arg(long, default_value = "sentry")]
    org: String,
    /// JSON lines replayed as the load.
    #[arg(long)]
    load: PathBuf,
    /// The file the server follows (its last --input).
    #[arg(long)]
    append: PathBuf,
    /// Offered load, lines per second.
    #[arg(long)]
    rate: u64,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Mutations target ids 1..=MAX_ID.
    #[arg(long, default_value_t = 1000)]
    max_id: u64,
}

#[derive(Args)]
struct ConsumeOnlyArgs {
    #[arg(long, value_name = "BROKERS")]
    kafka: String,
    #[arg(long, default_value = "ingest-occurrences")]
    topic: String,
    #[arg(long = "kafka-property", value_name = "KEY=VALUE")]
    kafka_properties: Vec<String>,
}

#[derive(Args)]
struct ParseOnlyArgs {
    #[arg(long = "input", required = true, num_args = 1..)]
    inputs: Vec<PathBuf>,
    #[arg(long, default_value_t = default_workers())]
    workers: usize,
    #[arg(long, default_value_t = 16_384)]
    block_lines: usize,
    #[arg(long, default_value = "occurrences")]
    input_format: connectors::events::InputFormat,
}

#[derive(Args, Clone)]
struct InputArgs {
    /// JSON-lines inputs, read in order: files, directories (files in name order), `-` for
    /// stdin; `.gz` and `.zst` are decompressed. With --kafka too, the files are read first.
    #[arg(long = "input", num_args = 1.., required_unless_present = "kafka")]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    state: StateArgs,
    #[command(flatten)]
    changes: ChangeArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    events: events_cli::EventArgs,
    /// Worker threads.
    #[arg(long, default_value_t = default_workers())]
    workers: usize,
    /// TOML file declaring organizations and projects; without it every project id is
    /// accepted under organization `sentry`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where rejected lines go, as JSON lines with the original bytes, their position and the
    /// reason (created on the first rejection). Default: `dead-letters.jsonl`, or with
    /// --kafka the dead-letter topic.
    #[arg(long)]
    dead_letter: Option<PathBuf>,
    /// Window of event time, in seconds, within which a repeated message id is a duplicate.
    #[arg(long, default_value_t = 600)]
    dedup_window: i64,
    /// Lines per input block (the unit of parallel parsing and of dataflow time).
    #[arg(long, default_value_t = 16_384, hide = true)]
    block_lines: usize,
}

#[derive(Args, Clone)]
struct KafkaArgs {
    /// Kafka bootstrap servers: read occurrences from a topic.
    #[arg(long, value_name = "BROKERS")]
    kafka: Option<String>,
    /// Topic to read.
    #[arg(long, default_value = "ingest-occurrences")]
    topic: String,
    /// Consumer group that offsets are committed to (for lag monitoring; the checkpoint is
    /// the source of truth for positions).
    #[arg(long, default_value = "occurrent")]
    group: String,
    /// Dead-letter topic (default `<topic>-dlq`); rejected messages keep their bytes, with
    /// headers reason, source_topic, partition and offset.
    #[arg(long)]
    dead_letter_topic: Option<String>,
    /// A librdkafka property, `key=value` (repeatable): security.protocol, sasl.*, ssl.*, …
    #[arg(long = "kafka-property", value_name = "KEY=VALUE")]
    kafka_properties: Vec<String>,
    /// Where to start: earliest, latest, epoch seconds or an ISO 8601 date-time (positions
    /// in a checkpoint take precedence).
    #[arg(long, default_value = "earliest")]
    from: connectors::kafka::StartAt,
    /// Messages per chunk of a partition (chunks end at offsets that are multiples of it).
    #[arg(long, default_value_t = 8192, hide = true)]
    chunk_messages: i64,
    /// Backpressure: rounds of chunks (one per partition) in flight before reading pauses
    /// until the dataflow catches up; bounds memory under a burst.
    #[arg(long, default_value_t = 4)]
    max_in_flight_rounds: u64,
}

#[derive(Args, Clone)]
struct ChangeArgs {
    /// Write a JSON change feed of the issue view (`{group_id, before, after}` per changed
    /// group, after each completed epoch) to this file.
    #[arg(long)]
    change_feed: Option<PathBuf>,
    /// Produce the change feed to this topic (keyed by group id; needs --kafka).
    #[arg(long)]
    change_feed_topic: Option<String>,
    /// Produce Sentry's group-attributes snapshots on every group change to this topic
    /// (e.g. `group-attributes`; needs --kafka).
    #[arg(long)]
    group_attributes_topic: Option<String>,
}

#[derive(Args, Clone)]
struct StateArgs {
    /// Directory for checkpoints; with it, a restart resumes from the newest valid one.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Seconds between checkpoints (a cluster: by process 0's clock, for every process).
    #[arg(long, default_value_t = 10.0)]
    checkpoint_interval: f64,
}

#[derive(Args, Clone)]
struct ClusterArgs {
    /// Processes in the timely cluster.
    #[arg(long, default_value_t = 1)]
    processes: usize,
    /// This process's index in the cluster.
    #[arg(long, default_value_t = 0)]
    process: usize,
    /// File with one `host:port` per process, in process order.
    #[arg(long)]
    hostfile: Option<PathBuf>,
}

#[derive(Args)]
struct BackfillArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Write the final issue view as JSON lines (`-` for stdout), ordered by id.
    #[arg(long)]
    dump_issues: Option<PathBuf>,
    /// Also write the summary as a JSON object to this file.
    #[arg(long)]
    summary_json: Option<PathBuf>,
    /// Kafka: where to stop: latest (the end found at start-up), epoch seconds or an ISO
    /// 8601 date-time.
    #[arg(long, default_value = "latest")]
    to: connectors::kafka::EndAt,
    /// Kafka: once caught up, keep reading live (serving the API on --listen) instead of
    /// exiting: the same reader goes on, so there is no gap and no duplicate.
    #[arg(long, conflicts_with_all = ["dump_issues", "summary_json"])]
    then_follow: bool,
    /// Address of the HTTP API with --then-follow.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: String,
    /// With --then-follow: allow a non-loopback --listen address without API tokens.
    #[arg(long, requires = "then_follow")]
    insecure: bool,
    /// The API's "now" with --then-follow (see `run --help`).
    #[arg(long, default_value = "data")]
    api_now: list_params::ApiClock,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Keep reading the last input as lines are appended.
    #[arg(long)]
    follow: bool,
    /// Address of the HTTP API. Without [[tokens]] in --config the API is unauthenticated,
    /// so only loopback addresses are accepted unless --insecure is given.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: String,
    /// Serve the unauthenticated API (no [[tokens]] configured) on a non-loopback address.
    #[arg(long)]
    insecure: bool,
    /// The API's "now" for windows (`statsPeriod`, default 90 days), stats and relative
    /// dates: `data` (the newest event time ingested), `wall` (the system clock, as Sentry),
    /// or a fixed instant (epoch seconds or ISO 8601).
    #[arg(long, default_value = "data")]
    api_now: list_params::ApiClock,
}

#[derive(Args)]
struct GenerateArgs {
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Lines to write.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
    /// Distinct fingerprints.
    #[arg(long, default_value_t = 1_000)]
    fingerprints: u64,
    /// Distinct projects.
    #[arg(long, default_value_t = 10)]
    projects: u64,
    /// Share of deliberately malformed lines.
    #[arg(long, default_value_t = 0.002)]
    malformed_ratio: f64,
    /// Event time of the first line, epoch seconds.
    #[arg(long, default_value_t = 1_704_067_200)]
    start_time: i64,
    /// Event time the stream spans, in seconds (shorter spans make quotas bind).
    #[arg(long, default_value_t = 14 * 86_400)]
    span_seconds: i64,
    /// Output file (default stdout).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Instead: one new cron group per line (`--count` groups over `--projects`), for
    /// measuring the read side at a given number of groups.
    #[arg(long)]
    distinct_groups: bool,
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Backfill(args) => {
            // A bounded run: freed memory is kept for reuse (see `allocator`).
            if !args.then_follow {
                allocator::disable_purging();
            }
            backfill(args)
        }
        Command::Run(args) => run(args),
        Command::Generate(args) => generate_stream(args),
        Command::ParseOnly(args) => {
            // As for a backfill, so that the two rates compare like with like.
            allocator::disable_purging();
            parse_only(args)
        }
        Command::BenchApi(args) => {
            let result = bench_api::run(&bench_api::ApiBenchOptions {
                api: &args.api,
                org: &args.org,
                load: &args.load,
                append: &args.append,
                rate: args.rate,
                seconds: args.seconds,
                max_id: args.max_id,
            })?;
            print!("{}", bench_api::report(&result));
            Ok(())
        }
        Command::BenchFreshness(args) => {
            let latencies = bench_freshness::run(&bench_freshness::FreshnessOptions {
                brokers: &args.kafka,
                topic: &args.topic,
                api: &args.api,
                load: &args.load,
                rate: args.rate,
                seconds: args.seconds,
            })?;
            println!(
                "{{\"rate\":{},\"probes\":{},\"p50_ms\":{:.1},\"p99_ms\":{:.1},\"max_ms\":{:.1}}}",
                args.rate,
                latencies.len(),
                1000.0 * bench_freshness::quantile(&latencies, 0.5),
                1000.0 * bench_freshness::quantile(&latencies, 0.99),
                1000.0 * latencies.last().copied().unwrap_or(f64::NAN)
            );
            Ok(())
        }
        Command::ConsumeOnly(args) => {
            let properties = parse_properties(&args.kafka_properties)?;
            let started = Instant::now();
            let (messages, bytes) = produce::consume_only(&args.kafka, &args.topic, &properties)?;
            let seconds = started.elapsed().as_secs_f64();
            eprintln!(
                "consume-only: {messages} messages ({bytes} bytes) in {seconds:.2}s ({:.0} messages/s)",
                messages as f64 / seconds.max(1e-9)
            );
            Ok(())
        }
        Command::Grouping(args) => events_cli::grouping(args),
        Command::Produce(args) => {
            let properties = parse_properties(&args.kafka_properties)?;
            let sent = produce::produce(&args.kafka, &args.topic, &args.input, &properties)?;
            eprintln!("produced {sent} messages to {}", args.topic);
            Ok(())
        }
    }
}

/// A file created on the first write, so clean runs leave no empty dead-letter file. With
/// checkpoints it is appended to: the restore has cut it back to the checkpoint.
struct LazyFile {
    path: PathBuf,
    append: bool,
    file: Option<BufWriter<File>>,
}

impl Write for LazyFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.file.is_none() {
            let file = if self.append {
                std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?
            } else {
                File::create(&self.path)?
            };
            self.file = Some(BufWriter::new(file));
        }
        self.file.as_mut().map_or(Ok(0), |f| f.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

/// Counts dead letters by reason for /metrics on their way to the real destination.
struct CountedDeadLetters {
    inner: Box<dyn DeadLetterWriter>,
    metrics: Arc<metrics::Metrics>,
}

impl DeadLetterWriter for CountedDeadLetters {
    fn write(&mut self, letter: &dataflows::model::block::DeadLetter) -> std::io::Result<()> {
        self.metrics.record_dead_letter(&letter.reason);
        self.inner.write(letter)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Where dead letters go: the file given, else the dead-letter topic with --kafka, else
/// `dead-letters.jsonl`. Returns the sink and the file, if it is one.
fn dead_letter_sink(args: &InputArgs, metrics: &Arc<metrics::Metrics>) -> anyhow::Result<(DeadLetterSink, Option<PathBuf>)> {
    let (inner, file): (Box<dyn DeadLetterWriter>, Option<PathBuf>) = match (&args.dead_letter, &args.kafka.kafka) {
        (Some(path), _) if path.as_os_str() == "-" => (Box::new(JsonLinesDeadLetters(std::io::stderr())), None),
        (None, Some(_)) => {
            let topic = args
                .kafka
                .dead_letter_topic
                .clone()
                .unwrap_or_else(|| format!("{}-dlq", args.kafka.topic));
            (Box::new(KafkaDeadLetters::new(&kafka_options(args)?, &topic)?), None)
        }
        (path, _) => {
            let path = path.clone().unwrap_or_else(|| PathBuf::from("dead-letters.jsonl"));
            let file = LazyFile {
                path: path.clone(),
                append: args.state.state_dir.is_some(),
                file: None,
            };
            (Box::new(JsonLinesDeadLetters(file)), Some(path))
        }
    };
    let counted = CountedDeadLetters {
        inner,
        metrics: metrics.clone(),
    };
    Ok((Arc::new(Mutex::new(Some(Box::new(counted)))), file))
}

fn flush_sink(sink: &DeadLetterSink) -> anyhow::Result<()> {
    if let Some(writer) = sink.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        writer.flush().context("cannot write dead letters")?;
    }
    Ok(())
}

fn load_catalog(path: Option<&Path>) -> anyhow::Result<Catalog> {
    path.map_or_else(|| Ok(Catalog::default()), Catalog::load)
}

fn parse_properties(properties: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    properties
        .iter()
        .map(|property| {
            let (key, value) = property
                .split_once('=')
                .with_context(|| format!("--kafka-property {property}: expected key=value"))?;
            Ok((key.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

fn kafka_options(args: &InputArgs) -> anyhow::Result<KafkaOptions> {
    Ok(KafkaOptions {
        brokers: args.kafka.kafka.clone().unwrap_or_default(),
        topic: args.kafka.topic.clone(),
        group: args.kafka.group.clone(),
        properties: parse_properties(&args.kafka.kafka_properties)?,
    })
}

fn cluster_options(args: &ClusterArgs) -> anyhow::Result<Option<ClusterOptions>> {
    if args.processes <= 1 {
        return Ok(None);
    }
    if args.process >= args.processes {
        anyhow::bail!("--process {} is out of range for --processes {}", args.process, args.processes);
    }
    let hostfile = args.hostfile.as_ref().context("--processes needs --hostfile")?;
    let text = std::fs::read_to_string(hostfile).with_context(|| format!("cannot read {}", hostfile.display()))?;
    let addresses: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    if addresses.len() < args.processes {
        anyhow::bail!(
            "{} lists {} hosts, --processes is {}",
            hostfile.display(),
            addresses.len(),
            args.processes
        );
    }
    Ok(Some(ClusterOptions {
        processes: args.processes,
        process: args.process,
        addresses: addresses[..args.processes].to_vec(),
    }))
}

/// SIGTERM and SIGINT ask the pipeline to stop: it stops reading, drains, writes a final
/// checkpoint and exits.
fn stop_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone()).context("cannot install a signal handler")?;
    }
    Ok(stop)
}

struct Wiring {
    options: PipelineOptions,
    sink: DeadLetterSink,
    dead_letter_file: Option<PathBuf>,
    metrics: Arc<metrics::Metrics>,
    stop: Arc<AtomicBool>,
    event_store: Option<Arc<connectors::event_store::RedbEventStore>>,
}

fn wire(args: &InputArgs, catalog: &Catalog, follow: bool, end: EndAt) -> anyhow::Result<Wiring> {
    if args.dedup_window < 0 {
        anyhow::bail!("--dedup-window must not be negative");
    }
    if args.kafka.chunk_messages < 1 {
        anyhow::bail!("--chunk-messages must be positive");
    }
    if args.events.retention_days < 1 {
        anyhow::bail!("--retention-days must be at least 1");
    }
    dataflows::views::retention::set_retention_hours(args.events.retention_days.saturating_mul(24));
    let metrics = Arc::new(metrics::Metrics::default());
    let (sink, dead_letter_file) = dead_letter_sink(args, &metrics)?;
    let stop = stop_on_signals()?;
    let event_store = args.events.open_store(args.state.state_dir.as_deref())?;
    let kafka = match &args.kafka.kafka {
        Some(_) => Some(KafkaInput {
            options: kafka_options(args)?,
            start: args.kafka.from,
            end,
            chunk_messages: args.kafka.chunk_messages,
            in_flight_rounds: args.kafka.max_in_flight_rounds.max(1),
        }),
        None => None,
    };
    let checkpoints = args.state.state_dir.as_ref().map(|dir| CheckpointOptions {
        dir: dir.clone(),
        interval: Duration::from_secs_f64(args.state.checkpoint_interval.max(0.0)),
        dead_letter_file: dead_letter_file.clone(),
    });
    let options = PipelineOptions {
        inputs: args.inputs.clone(),
        kafka,
        workers: args.workers.max(1),
        follow,
        block_lines: args.block_lines.max(1),
        decoder: args.events.decoder(catalog.project_filter(), event_store.as_ref())?,
        ingest: IngestConfig {
            dedup_window: args.dedup_window * MICROS_PER_SECOND,
        },
        dead_letters: sink.clone(),
        show_progress: true,
        checkpoints,
        cluster: cluster_options(&args.cluster)?,
        metrics: metrics.clone(),
        stop: stop.clone(),
        changes: change_sinks(args, catalog)?,
        mutations: None,
    };
    Ok(Wiring {
        options,
        sink,
        dead_letter_file,
        metrics,
        stop,
        event_store,
    })
}

fn change_sinks(args: &InputArgs, catalog: &Catalog) -> anyhow::Result<changes::ChangeSinks> {
    let catalog = Arc::new(catalog.clone());
    let mut sinks: Vec<Box<dyn changes::ChangeWriter>> = Vec::new();
    if let Some(path) = &args.changes.change_feed {
        let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        sinks.push(Box::new(changes::JsonLinesChanges {
            out: BufWriter::new(file),
            catalog: catalog.clone(),
        }));
    }
    let topics = [&args.changes.change_feed_topic, &args.changes.group_attributes_topic];
    if topics.iter().any(|t| t.is_some()) && args.kafka.kafka.is_none() {
        anyhow::bail!("--change-feed-topic and --group-attributes-topic need --kafka");
    }
    if let Some(topic) = &args.changes.change_feed_topic {
        sinks.push(Box::new(changes::KafkaChanges {
            sink: KafkaTopicSink::new(&kafka_options(args)?, topic)?,
            catalog,
        }));
    }
    if let Some(topic) = &args.changes.group_attributes_topic {
        sinks.push(Box::new(changes::GroupAttributes {
            sink: KafkaTopicSink::new(&kafka_options(args)?, topic)?,
        }));
    }
    Ok(Arc::new(Mutex::new(sinks)))
}

const SUMMARY: &[(&str, Counter)] = &[
    ("lines_read", Counter::LinesRead),
    ("occurrences_accepted", Counter::OccurrencesAccepted),
    ("status_changes_applied", Counter::StatusChangesApplied),
    ("duplicates", Counter::Duplicates),
    ("dropped_noise", Counter::DroppedNoise),
    ("dropped_quota", Counter::DroppedQuota),
    ("groups_created", Counter::GroupsCreated),
    ("dead_lettered", Counter::DeadLettered),
    ("dropped_discarded", Counter::DroppedDiscarded),
    ("mutations_applied", Counter::MutationsApplied),
];

fn backfill(args: BackfillArgs) -> anyhow::Result<()> {
    if args.then_follow {
        if args.input.kafka.kafka.is_none() {
            anyhow::bail!("--then-follow needs --kafka (for files use `run --follow`)");
        }
        return run(RunArgs {
            input: args.input,
            follow: false,
            listen: args.listen,
            insecure: args.insecure,
            api_now: args.api_now,
        });
    }
    let catalog = load_catalog(args.input.config.as_deref())?;
    let wiring = wire(&args.input, &catalog, false, args.to)?;
    let (sink, dead_letter_file, stop) = (wiring.sink.clone(), wiring.dead_letter_file.clone(), wiring.stop.clone());
    let event_store = wiring.event_store.clone();
    let first_process = wiring.options.cluster.as_ref().is_none_or(|c| c.process == 0);
    let views = Arc::new(RwLock::new(IssueViews::default()));
    let started = Instant::now();
    run_pipeline(wiring.options, views.clone(), Arc::new(Startup::default()))?;
    let elapsed = started.elapsed();
    flush_sink(&sink)?;
    if let Some(store) = &event_store {
        events_cli::apply_retention(&**store, &args.input.events)?;
    }
    if stop.load(Ordering::Relaxed) {
        eprintln!("stopped by a signal; the state is checkpointed and the next run resumes from it");
        return Ok(());
    }
    if !first_process {
        return Ok(());
    }
    let views = views.read().unwrap_or_else(|p| p.into_inner());
    if let Some(out) = &args.dump_issues {
        let mut writer: Box<dyn Write> = if out.as_os_str() == "-" {
            Box::new(BufWriter::new(std::io::stdout().lock()))
        } else {
            Box::new(BufWriter::new(
                File::create(out).with_context(|| format!("cannot create {}", out.display()))?,
            ))
        };
        dump_issues(&views, &catalog, &mut writer)?;
        writer.flush()?;
    }
    let mut summary = serde_json::Map::new();
    let mut text = String::new();
    for (name, counter) in SUMMARY {
        let value = views.counter(*counter);
        summary.insert((*name).to_string(), value.into());
        text.push_str(&format!("  {:<24}{value}\n", name.replace('_', " ")));
    }
    let lines = views.counter(Counter::LinesRead);
    let rate = lines as f64 / elapsed.as_secs_f64().max(1e-9);
    eprintln!("backfill finished in {:.2}s ({rate:.0} lines/s)\n{text}", elapsed.as_secs_f64());
    if views.counter(Counter::DeadLettered) > 0 {
        match &dead_letter_file {
            Some(path) => eprintln!("  dead letters written to {}", path.display()),
            None => eprintln!("  dead letters written to the dead-letter output"),
        }
    }
    if let Some(path) = &args.summary_json {
        std::fs::write(path, serde_json::Value::Object(summary).to_string()).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn dump_issues(views: &IssueViews, catalog: &Catalog, writer: &mut dyn Write) -> anyhow::Result<()> {
    serialize::dump_issues(views, catalog, writer).context("cannot write the issue dump")?;
    Ok(())
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let catalog = Arc::new(load_catalog(args.input.config.as_deref())?);
    auth::check_listen_address(&args.listen, &catalog, args.insecure)?;
    let mut wiring = wire(&args.input, &catalog, args.follow, EndAt::Unbounded)?;
    let (sink, stop) = (wiring.sink.clone(), wiring.stop.clone());
    // Mutations are ordered by the one feeder of a single process, or of a checkpointing
    // cluster's process 0 (at mutation points every process takes part in).
    let orders_mutations = match &wiring.options.cluster {
        None => true,
        Some(cluster) => cluster.process == 0 && wiring.options.checkpoints.is_some(),
    };
    let mutations = if orders_mutations {
        let (sender, inbox) = mutation_log::channel();
        wiring.options.mutations = Some(inbox);
        Some(sender)
    } else {
        None
    };
    if wiring.options.checkpoints.is_none() {
        tracing::warn!("no --state-dir: API mutations are applied but not durable");
    }
    let views = Arc::new(RwLock::new(IssueViews::default()));
    let startup = Arc::new(Startup::default());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(&args.listen))
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "serving the issues API");
    let app = api::router(api::AppState {
        views: views.clone(),
        catalog,
        startup: startup.clone(),
        metrics: wiring.metrics.clone(),
        mutations,
        events: wiring
            .event_store
            .clone()
            .map(|s| s as Arc<dyn connectors::event_store::EventStore>),
        clock: args.api_now,
    });
    if let Some(store) = &wiring.event_store {
        events_cli::apply_retention(&**store, &args.input.events)?;
        events_cli::spawn_retention(store.clone(), args.input.events.clone())?;
    }
    let server = runtime.spawn(async move { axum::serve(listener, app).await });
    let pipeline_views = views.clone();
    let options = wiring.options;
    {
        // Say once when what existed at start-up is in the views (the backfill part).
        let (views, startup) = (views.clone(), startup.clone());
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(50));
            let views = views.read().unwrap_or_else(|p| p.into_inner());
            if startup.is_ready(&views) {
                let counters: Vec<String> = SUMMARY.iter().map(|(name, c)| format!("{name}={}", views.counter(*c))).collect();
                tracing::info!(summary = counters.join(" "), "caught up; following live input");
                return;
            }
        });
    }
    let pipeline = std::thread::Builder::new()
        .name("pipeline".into())
        .spawn(move || run_pipeline(options, pipeline_views, startup))?;
    let result = pipeline.join().map_err(|_| anyhow::anyhow!("pipeline panicked"))?;
    flush_sink(&sink)?;
    result?;
    if stop.load(Ordering::Relaxed) {
        tracing::info!("stopped by a signal after a final checkpoint");
        return Ok(());
    }
    tracing::info!("input exhausted; still serving (SIGTERM or Ctrl-C to stop)");
    runtime.block_on(async {
        loop {
            if stop.load(Ordering::Relaxed) || server.is_finished() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

fn generate_stream(args: GenerateArgs) -> anyhow::Result<()> {
    let options = generate::GenerateOptions {
        seed: args.seed,
        count: args.count,
        fingerprints: args.fingerprints.max(1),
        projects: args.projects.max(1),
        malformed_ratio: args.malformed_ratio,
        start_time: args.start_time,
        span_seconds: args.span_seconds.max(1),
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    if args.distinct_groups {
        generate_groups::generate_distinct_groups(args.count, args.projects, args.start_time, args.span_seconds, &mut out)?;
        out.flush()?;
        return Ok(());
    }
    let stats = generate::generate(&options, &mut out)?;
    out.flush()?;
    tracing::info!(
        lines = stats.lines,
        occurrences = stats.occurrences,
        status_changes = stats.status_changes,
        duplicates = stats.duplicates,
        malformed = stats.malformed,
        "generated"
    );
    Ok(())
}

fn parse_only(args: ParseOnlyArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let decoder = connectors::events::InputDecoder::new(args.input_format, Default::default(), Default::default(), None);
    let (lines, rejected) = pipeline::parse_only(&args.inputs, args.workers.max(1), args.block_lines.max(1), decoder)?;
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "parse-only: {lines} lines ({rejected} rejected) in {elapsed:.2}s ({:.0} lines/s)",
        lines as f64 / elapsed.max(1e-9)
    );
    Ok(())
}
