//! `occurrent`: Sentry-style issue tracking on timely/differential dataflow.

mod api;
mod config;
mod generate;
mod generate_groups;
mod pipeline;
mod search;
mod search_syntax;
mod serialize;
mod short_id;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use connectors::decode::OccurrenceDecoder;
use dataflows::graph::DeadLetterSink;
use dataflows::model::time::MICROS_PER_SECOND;
use dataflows::state::{Counter, IngestConfig};
use dataflows::views::IssueViews;

use crate::config::Catalog;
use crate::pipeline::{run_pipeline, PipelineOptions, Startup};

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
    /// Process the input (and, with --follow, lines appended later) and serve the issues API.
    Run(RunArgs),
    /// Write a realistic synthetic stream of occurrences and status changes as JSON lines.
    Generate(GenerateArgs),
    /// Benchmark baseline: read and decode the input on N threads, with no dataflow.
    #[command(hide = true)]
    ParseOnly(ParseOnlyArgs),
}

#[derive(Args)]
struct ParseOnlyArgs {
    #[arg(long = "input", required = true, num_args = 1..)]
    inputs: Vec<PathBuf>,
    #[arg(long, default_value_t = default_workers())]
    workers: usize,
    #[arg(long, default_value_t = 16_384)]
    block_lines: usize,
}

#[derive(Args, Clone)]
struct InputArgs {
    /// JSON-lines inputs, read in order: files, directories (files in name order), `-` for
    /// stdin; `.gz` and `.zst` are decompressed.
    #[arg(long = "input", required = true, num_args = 1..)]
    inputs: Vec<PathBuf>,
    /// Worker threads.
    #[arg(long, default_value_t = default_workers())]
    workers: usize,
    /// TOML file declaring organizations and projects; without it every project id is
    /// accepted under organization `sentry`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where rejected lines go, as JSON lines with the original bytes, their position and the
    /// reason (created on the first rejection).
    #[arg(long, default_value = "dead-letters.jsonl")]
    dead_letter: PathBuf,
    /// Window of event time, in seconds, within which a repeated message id is a duplicate.
    #[arg(long, default_value_t = 600)]
    dedup_window: i64,
    /// Lines per input block (the unit of parallel parsing and of dataflow time).
    #[arg(long, default_value_t = 16_384, hide = true)]
    block_lines: usize,
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
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Keep reading the last input as lines are appended.
    #[arg(long)]
    follow: bool,
    /// Address of the HTTP API.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: String,
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
        Command::Backfill(args) => backfill(args),
        Command::Run(args) => run(args),
        Command::Generate(args) => generate_stream(args),
        Command::ParseOnly(args) => parse_only(args),
    }
}

/// A file created on the first write, so clean runs leave no empty dead-letter file.
struct LazyFile {
    path: PathBuf,
    file: Option<BufWriter<File>>,
}

impl Write for LazyFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.file.is_none() {
            self.file = Some(BufWriter::new(File::create(&self.path)?));
        }
        self.file.as_mut().map_or(Ok(0), |f| f.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

fn dead_letter_sink(path: &Path) -> DeadLetterSink {
    let writer: Box<dyn Write + Send> = if path.as_os_str() == "-" {
        Box::new(std::io::stderr())
    } else {
        Box::new(LazyFile {
            path: path.to_path_buf(),
            file: None,
        })
    };
    Arc::new(Mutex::new(Some(writer)))
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

fn pipeline_options(args: &InputArgs, catalog: &Catalog, sink: DeadLetterSink, follow: bool) -> anyhow::Result<PipelineOptions> {
    if args.dedup_window < 0 {
        anyhow::bail!("--dedup-window must not be negative");
    }
    Ok(PipelineOptions {
        inputs: args.inputs.clone(),
        workers: args.workers.max(1),
        follow,
        block_lines: args.block_lines.max(1),
        decoder: OccurrenceDecoder::new(catalog.project_filter()),
        ingest: IngestConfig {
            dedup_window: args.dedup_window * MICROS_PER_SECOND,
        },
        dead_letters: sink,
        show_progress: true,
    })
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
];

fn backfill(args: BackfillArgs) -> anyhow::Result<()> {
    let catalog = load_catalog(args.input.config.as_deref())?;
    let sink = dead_letter_sink(&args.input.dead_letter);
    let options = pipeline_options(&args.input, &catalog, sink.clone(), false)?;
    let views = Arc::new(RwLock::new(IssueViews::default()));
    let started = Instant::now();
    run_pipeline(options, views.clone(), Arc::new(Startup::default()))?;
    let elapsed = started.elapsed();
    flush_sink(&sink)?;
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
        eprintln!("  dead letters written to {}", args.input.dead_letter.display());
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
    let sink = dead_letter_sink(&args.input.dead_letter);
    let options = pipeline_options(&args.input, &catalog, sink.clone(), args.follow)?;
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
    });
    let server = runtime.spawn(async move { axum::serve(listener, app).await });
    let pipeline_views = views.clone();
    let pipeline = std::thread::Builder::new()
        .name("pipeline".into())
        .spawn(move || run_pipeline(options, pipeline_views, startup))?;
    let result = pipeline.join().map_err(|_| anyhow::anyhow!("pipeline panicked"))?;
    flush_sink(&sink)?;
    result?;
    tracing::info!("input exhausted; still serving (Ctrl-C to stop)");
    runtime.block_on(async {
        tokio::select! {
            served = server => served.map_err(anyhow::Error::from)?.map_err(anyhow::Error::from),
            _ = tokio::signal::ctrl_c() => Ok(()),
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
    let (lines, rejected) = pipeline::parse_only(&args.inputs, args.workers.max(1), args.block_lines.max(1))?;
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "parse-only: {lines} lines ({rejected} rejected) in {elapsed:.2}s ({:.0} lines/s)",
        lines as f64 / elapsed.max(1e-9)
    );
    Ok(())
}
