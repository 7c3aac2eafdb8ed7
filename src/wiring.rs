//! Wiring the command line to the pipeline: dead-letter outputs, Kafka and cluster options,
//! change sinks, signals, and the project catalog.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use connectors::kafka::{EndAt, KafkaDeadLetters, KafkaOptions, KafkaTopicSink};
use dataflows::graph::{DeadLetterSink, DeadLetterWriter, JsonLinesDeadLetters};
use dataflows::model::time::MICROS_PER_SECOND;
use dataflows::state::IngestConfig;

use crate::changes;
use crate::cli::*;
use crate::config::Catalog;
use crate::metrics;
use crate::outputs::{sync_file, sync_parent, FirstFailure};
use crate::pipeline::{CheckpointOptions, ClusterOptions, KafkaInput, PipelineOptions};

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
            sync_parent(&self.path)?;
            self.file = Some(BufWriter::new(file));
        }
        self.file.as_mut().map_or(Ok(0), |f| f.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

impl LazyFile {
    /// Flushes and syncs the file; its length from the open file (not whatever the path
    /// names now), or, not written in this run, the length at the path (0: none).
    fn sync(&mut self) -> std::io::Result<u64> {
        match self.file.as_mut() {
            Some(file) => {
                file.flush()?;
                sync_file(file.get_ref())
            }
            None => match std::fs::metadata(&self.path) {
                Ok(meta) => Ok(meta.len()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(0),
                Err(error) => Err(error),
            },
        }
    }
}

/// Dead letters to a file, which a checkpoint syncs and measures.
struct FileDeadLetters(JsonLinesDeadLetters<LazyFile>);

impl DeadLetterWriter for FileDeadLetters {
    fn write(&mut self, letter: &dataflows::model::block::DeadLetter) -> std::io::Result<()> {
        self.0.write(letter)
    }

    fn writes_json_lines(&self) -> bool {
        self.0.writes_json_lines()
    }

    fn write_json_line(&mut self, letter: &dataflows::model::block::DeadLetter, line: &[u8]) -> std::io::Result<()> {
        self.0.write_json_line(letter, line)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }

    fn sync(&mut self) -> std::io::Result<Option<u64>> {
        self.0 .0.sync().map(Some)
    }
}

/// Counts dead letters by reason for /metrics on their way to the real destination; a
/// failed write (a full disk, a letter the producer refused) fails every later one
/// ([`FirstFailure`]), as [`changes::FailStop`] does for the feeds.
struct CountedDeadLetters {
    inner: Box<dyn DeadLetterWriter>,
    metrics: Arc<metrics::Metrics>,
    failed: FirstFailure,
}

impl DeadLetterWriter for CountedDeadLetters {
    fn write(&mut self, letter: &dataflows::model::block::DeadLetter) -> std::io::Result<()> {
        self.metrics.record_dead_letter(&letter.reason);
        self.failed.guard(|| self.inner.write(letter))
    }

    fn writes_json_lines(&self) -> bool {
        self.inner.writes_json_lines()
    }

    fn write_json_line(&mut self, letter: &dataflows::model::block::DeadLetter, line: &[u8]) -> std::io::Result<()> {
        self.metrics.record_dead_letter(&letter.reason);
        self.failed.guard(|| self.inner.write_json_line(letter, line))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.failed.guard(|| self.inner.flush())
    }

    fn sync(&mut self) -> std::io::Result<Option<u64>> {
        self.failed.guard(|| self.inner.sync())
    }
}

/// Refuses an output topic that does not exist before anything is read: its producer would
/// find out only at the first flush, after the whole input (a backfill then lost its result).
fn require_topic(options: &connectors::kafka::KafkaOptions, topic: &str, what: &str) -> anyhow::Result<()> {
    connectors::kafka::KafkaSource::topic_partitions(options, topic)
        .map(|_| ())
        .with_context(|| format!("{what}: topic {topic} cannot be written (create it first)"))
}

/// Where dead letters go: the file given, else the dead-letter topic with --kafka, else
/// `dead-letters.jsonl`. Returns the sink and the file, if it is one.
pub(crate) fn dead_letter_sink(args: &InputArgs, metrics: &Arc<metrics::Metrics>) -> anyhow::Result<(DeadLetterSink, Option<PathBuf>)> {
    let (inner, file): (Box<dyn DeadLetterWriter>, Option<PathBuf>) = match (&args.dead_letter, &args.kafka.kafka) {
        (Some(path), _) if path.as_os_str() == "-" => (Box::new(JsonLinesDeadLetters(std::io::stderr())), None),
        (None, Some(_)) => {
            let topic = args
                .kafka
                .dead_letter_topic
                .clone()
                .unwrap_or_else(|| format!("{}-dlq", args.kafka.topic));
            let options = kafka_options(args)?;
            require_topic(
                &options,
                &topic,
                "the dead-letter topic (--dead-letter-topic; or --dead-letter FILE)",
            )?;
            (Box::new(KafkaDeadLetters::new(&options, &topic)?), None)
        }
        (path, _) => {
            let path = path.clone().unwrap_or_else(|| PathBuf::from("dead-letters.jsonl"));
            let file = LazyFile {
                path: path.clone(),
                append: args.state.state_dir.is_some(),
                file: None,
            };
            (Box::new(FileDeadLetters(JsonLinesDeadLetters(file))), Some(path))
        }
    };
    let counted = CountedDeadLetters {
        inner,
        failed: FirstFailure::of("a write of dead letters"),
        metrics: metrics.clone(),
    };
    Ok((Arc::new(Mutex::new(Some(Box::new(counted)))), file))
}

pub(crate) fn flush_sink(sink: &DeadLetterSink) -> anyhow::Result<()> {
    if let Some(writer) = sink.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        writer.flush().context("cannot write dead letters")?;
    }
    Ok(())
}

pub(crate) fn load_catalog(path: Option<&Path>) -> anyhow::Result<Catalog> {
    path.map_or_else(|| Ok(Catalog::default()), Catalog::load)
}

pub(crate) fn parse_properties(properties: &[String]) -> anyhow::Result<Vec<(String, String)>> {
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

pub(crate) fn kafka_options(args: &InputArgs) -> anyhow::Result<KafkaOptions> {
    Ok(KafkaOptions {
        brokers: args.kafka.kafka.clone().unwrap_or_default(),
        topic: args.kafka.topic.clone(),
        group: args.kafka.group.clone(),
        properties: parse_properties(&args.kafka.kafka_properties)?,
    })
}

pub(crate) fn cluster_options(args: &ClusterArgs) -> anyhow::Result<Option<ClusterOptions>> {
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
        connect_timeout: Duration::try_from_secs_f64(args.connect_timeout)
            .ok()
            .filter(|limit| !limit.is_zero())
            .context("--connect-timeout must be a positive number of seconds")?,
    }))
}

/// SIGTERM and SIGINT ask the pipeline to stop: it stops reading, drains, writes a final
/// checkpoint and exits.
pub(crate) fn stop_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone()).context("cannot install a signal handler")?;
    }
    Ok(stop)
}

pub(crate) struct Wiring {
    pub(crate) options: PipelineOptions,
    pub(crate) sink: DeadLetterSink,
    pub(crate) dead_letter_file: Option<PathBuf>,
    pub(crate) metrics: Arc<metrics::Metrics>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) event_store: Option<Arc<connectors::event_store::RedbEventStore>>,
}

/// `outputs`: the command's own output files (beside the dead letters and change feed), all
/// checked together before anything is opened.
pub(crate) fn wire(
    args: &InputArgs,
    catalog: &Catalog,
    follow: bool,
    end: EndAt,
    outputs: &[(&str, Option<&Path>)],
) -> anyhow::Result<Wiring> {
    if follow {
        // A compressed stream cannot be followed: an appended gzip member or zstd frame after
        // the end already read would be ignored without a word.
        let inputs = connectors::jsonl::expand_followed_inputs(&args.inputs)?;
        if let Some(last) = inputs.last().filter(|last| connectors::jsonl::is_compressed(last)) {
            anyhow::bail!(
                "--follow follows the last input, and {} is compressed: decompress it, or list a plain file last",
                last.display()
            );
        }
    }
    if args.state.state_dir.is_some() && args.kafka.kafka.is_none() && args.inputs.iter().any(|i| i.as_os_str() == "-") {
        // Every restart would fail: what was read of a pipe cannot be read again (before a
        // Kafka input, a restart once it is read skips it).
        anyhow::bail!("standard input (--input -) cannot be resumed from a checkpoint: --state-dir needs files or Kafka as inputs");
    }
    if follow && args.kafka.kafka.is_none() {
        if let Some(directory) = args.inputs.last().filter(|i| std::fs::metadata(i).is_ok_and(|m| m.is_dir())) {
            tracing::info!(
                directory = %directory.display(),
                "following the directory's last file, then the files created in it that sort after it"
            );
        }
    }
    if args.dedup_window < 0 {
        anyhow::bail!("--dedup-window must not be negative");
    }
    // Checked before the outputs, whose topics need the brokers.
    let cluster = cluster_options(&args.cluster)?;
    if args.kafka.chunk_messages < 1 {
        anyhow::bail!("--chunk-messages must be positive");
    }
    if args.events.retention_days < 1 {
        anyhow::bail!("--retention-days must be at least 1");
    }
    dataflows::views::retention::set_retention_hours(args.events.retention_days.saturating_mul(24));
    match args.events.details_days {
        Some(0) => anyhow::bail!("--details-days must be at least 1"),
        Some(days) if days > args.events.retention_days => {
            anyhow::bail!("--details-days {days} is more than --retention-days {}", args.events.retention_days)
        }
        Some(days) => dataflows::views::retention::set_details_hours(days.saturating_mul(24)),
        None => dataflows::views::retention::set_details_hours(u32::MAX),
    }
    if args.kafka.kafka.is_some() {
        // The input topic first: a missing one is the error to report, not its missing
        // dead-letter topic.
        connectors::kafka::KafkaSource::partition_count(&kafka_options(args)?)
            .with_context(|| format!("cannot read topic {}", args.kafka.topic))?;
    }
    let metrics = Arc::new(metrics::Metrics::default());
    let (sink, dead_letter_file) = dead_letter_sink(args, &metrics)?;
    let mut all = vec![
        ("--dead-letter", dead_letter_file.as_deref()),
        ("--change-feed", args.changes.change_feed.as_deref()),
    ];
    all.extend_from_slice(outputs);
    crate::outputs::check_outputs(&args.inputs, &all)?;
    if let (true, None, Some(last)) = (follow, &args.kafka.kafka, args.inputs.last()) {
        if std::fs::metadata(last).is_ok_and(|m| m.is_dir()) {
            let mut outputs = all.clone();
            outputs.push(("--state-dir", args.state.state_dir.as_deref()));
            crate::outputs::check_outside_followed(last, &outputs)?;
        }
    }
    if let (Some(path), None, true) = (&dead_letter_file, &args.state.state_dir, writes_outputs(args)) {
        crate::outputs::clear_stale(path, "--dead-letter")?;
    }
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
    let checkpoints = checkpoint_options(args, &dead_letter_file);
    let options = PipelineOptions {
        inputs: args.inputs.clone(),
        kafka,
        workers: args.workers.max(1),
        follow,
        block_lines: args.block_lines.max(1),
        decoder: args.events.decoder(catalog.project_filter(), event_store.as_ref())?,
        ingest: IngestConfig {
            dedup_window: args.dedup_window * MICROS_PER_SECOND,
            ..IngestConfig::default()
        },
        dead_letters: sink.clone(),
        show_progress: true,
        checkpoints,
        cluster,
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

/// Whether this process writes the dead letters and change feeds: a single process (whatever
/// its `--process`, which a single process ignores), or process 0 of a cluster.
fn writes_outputs(args: &InputArgs) -> bool {
    args.cluster.processes <= 1 || args.cluster.process == 0
}

fn checkpoint_options(args: &InputArgs, dead_letter_file: &Option<PathBuf>) -> Option<CheckpointOptions> {
    // In a cluster, process 0 writes every dead letter (the first worker does) and holds the
    // views: the other processes' files stay unwritten, so they neither record nor cut them
    // (a path shared on one host would be cut to another process's length).
    let writes_outputs = writes_outputs(args);
    args.state.state_dir.as_ref().map(|dir| CheckpointOptions {
        dir: dir.clone(),
        interval: Duration::from_secs_f64(args.state.checkpoint_interval.max(0.0)),
        dead_letter_file: dead_letter_file.clone().filter(|_| writes_outputs),
        change_feed_file: args.changes.change_feed.clone().filter(|_| writes_outputs),
    })
}

pub(crate) fn change_sinks(args: &InputArgs, catalog: &Catalog) -> anyhow::Result<changes::ChangeSinks> {
    let catalog = Arc::new(catalog.clone());
    let mut sinks: Vec<Box<dyn changes::ChangeWriter>> = Vec::new();
    let topics = [&args.changes.change_feed_topic, &args.changes.group_attributes_topic];
    if !writes_outputs(args) {
        // Only process 0 of a cluster holds the views, so only it has changes to send.
        if args.changes.change_feed.is_some() || topics.iter().any(|t| t.is_some()) {
            tracing::info!("the change feeds are written by process 0 of the cluster; this process leaves them alone");
        }
        return Ok(Arc::new(Mutex::new(sinks)));
    }
    if let Some(path) = &args.changes.change_feed {
        // With checkpoints the feed continues: the restore cuts it back to what the
        // checkpoint covers, and the replay appends the rest.
        let file = if args.state.state_dir.is_some() {
            std::fs::OpenOptions::new().create(true).append(true).open(path)
        } else {
            File::create(path)
        }
        .with_context(|| format!("cannot create {}", path.display()))?;
        sync_parent(path).with_context(|| format!("cannot sync the directory of {}", path.display()))?;
        sinks.push(Box::new(changes::FailStop::new(Box::new(changes::JsonLinesChanges {
            out: BufWriter::new(file),
            catalog: catalog.clone(),
        }))));
    }
    if topics.iter().any(|t| t.is_some()) && args.kafka.kafka.is_none() {
        anyhow::bail!("--change-feed-topic and --group-attributes-topic need --kafka");
    }
    if let Some(topic) = &args.changes.change_feed_topic {
        let options = kafka_options(args)?;
        require_topic(&options, topic, "--change-feed-topic")?;
        sinks.push(Box::new(changes::FailStop::new(Box::new(changes::KafkaChanges {
            sink: KafkaTopicSink::new(&options, topic)?,
            catalog,
        }))));
    }
    if let Some(topic) = &args.changes.group_attributes_topic {
        let options = kafka_options(args)?;
        require_topic(&options, topic, "--group-attributes-topic")?;
        sinks.push(Box::new(changes::FailStop::new(Box::new(changes::GroupAttributes {
            sink: KafkaTopicSink::new(&options, topic)?,
        }))));
    }
    Ok(Arc::new(Mutex::new(sinks)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        input: InputArgs,
    }

    /// Every process of a cluster may get one command line: only process 0 opens, records
    /// and cuts the change feed and dead-letter files, which a shared path on one host
    /// would otherwise see cut to another process's length.
    #[test]
    fn only_process_0_of_a_cluster_owns_the_output_files() {
        let dir = tempfile::tempdir().unwrap();
        let feed = dir.path().join("feed.jsonl");
        std::fs::write(&feed, b"kept\n").unwrap();
        let dead = Some(dir.path().join("dead.jsonl"));
        let args = |process: &str| {
            let (feed, state) = (feed.display().to_string(), dir.path().display().to_string());
            let line = [
                "t",
                "--input",
                "-",
                "--processes",
                "2",
                "--process",
                process,
                "--change-feed",
                &feed,
                "--state-dir",
                &state,
            ];
            Command::try_parse_from(line).unwrap().input
        };
        let first = checkpoint_options(&args("0"), &dead).unwrap();
        assert_eq!((first.dead_letter_file, first.change_feed_file), (dead.clone(), Some(feed.clone())));
        assert_eq!(change_sinks(&args("0"), &Catalog::default()).unwrap().lock().unwrap().len(), 1);
        let other = checkpoint_options(&args("1"), &dead).unwrap();
        assert_eq!((other.dead_letter_file, other.change_feed_file), (None, None));
        assert!(change_sinks(&args("1"), &Catalog::default()).unwrap().lock().unwrap().is_empty());
        assert_eq!(std::fs::read(&feed).unwrap(), b"kept\n");
        // A single process ignores `--process`: it writes its outputs whatever the index.
        let mut single = args("1");
        single.cluster.processes = 1;
        let own = checkpoint_options(&single, &dead).unwrap();
        assert_eq!((own.dead_letter_file, own.change_feed_file), (dead.clone(), Some(feed.clone())));
        assert_eq!(change_sinks(&single, &Catalog::default()).unwrap().lock().unwrap().len(), 1);
    }

    /// Refuses its first letter (a full disk, a letter the producer refused).
    struct RefusesOnce(usize);

    impl DeadLetterWriter for RefusesOnce {
        fn write(&mut self, _letter: &dataflows::model::block::DeadLetter) -> std::io::Result<()> {
            self.0 += 1;
            match self.0 {
                1 => Err(std::io::Error::other("Broker: Message size too large")),
                _ => Ok(()),
            }
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_dead_letter_that_was_not_written_fails_every_later_flush() {
        let mut letters = CountedDeadLetters {
            inner: Box::new(RefusesOnce(0)),
            metrics: Arc::new(metrics::Metrics::default()),
            failed: FirstFailure::of("a write of dead letters"),
        };
        let letter = dataflows::model::block::DeadLetter {
            seq: Default::default(),
            source: "in.jsonl".into(),
            partition: None,
            line: 1,
            offset: 0,
            reason: "invalid JSON at column 1".into(),
            raw: b"{".to_vec(),
        };
        assert!(letters.flush().is_ok());
        assert!(letters.write(&letter).is_err());
        assert!(letters.write(&letter).is_err(), "later letters are skipped");
        assert_eq!(
            letters.sync().unwrap_err().to_string(),
            "a write of dead letters failed: Broker: Message size too large"
        );
        assert!(letters.flush().is_err());
    }
}
