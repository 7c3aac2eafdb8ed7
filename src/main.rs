//! `occurrent`: Sentry-style issue tracking on timely/differential dataflow.

#[cfg(feature = "alloc-census")]
mod alloc_census;
mod allocator;
mod api;
mod api_direct;
mod api_environments;
mod api_events;
mod api_expand;
mod api_group_json;
mod api_list;
mod api_mutations;
mod api_timing;
mod api_window;
mod auth;
mod bench_api;
mod bench_freshness;
mod changes;
mod checkpoint;
mod cli;
mod config;
mod events_cli;
mod feed;
mod generate;
mod generate_groups;
mod list_index;
mod list_params;
mod list_snapshot;
mod metrics;
mod mutation_log;
mod openapi;
mod outputs;
mod pipeline;
mod priority;
mod produce;
mod search;
mod search_syntax;
mod serialize;
mod serialize_triage;
mod short_id;
#[cfg(test)]
mod test_support;
mod wiring;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use connectors::kafka::EndAt;
use dataflows::state::Counter;
use dataflows::views::IssueViews;

use crate::cli::*;
use crate::config::Catalog;
use crate::pipeline::{run_pipeline, Startup};
use crate::wiring::*;

/// mimalloc: the pipeline allocates and frees many small strings and large blocks across
/// threads; glibc's allocator spent ~20% of the time there and returned block memory to the
/// kernel only to fault it in again.
#[cfg(not(feature = "alloc-census"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The same allocator, counting live allocations by size (see `alloc_census`).
#[cfg(feature = "alloc-census")]
#[global_allocator]
static ALLOCATOR: alloc_census::CensusAllocator = alloc_census::CensusAllocator(alloc_census::Census::new());

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    #[cfg(feature = "alloc-census")]
    alloc_census::start(&ALLOCATOR.0);
    match Cli::parse().command {
        Command::Backfill(args) => {
            // A bounded run: freed memory is kept for reuse (see `allocator`).
            if !args.then_follow {
                allocator::disable_purging();
                allocator::keep_c_heap();
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
            // As for a backfill: the baseline runs librdkafka as the source does.
            allocator::keep_c_heap();
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
            ingest_nice: args.ingest_nice,
            realtime_writes: args.realtime_writes,
            api_nice: args.api_nice,
            realtime_api: args.realtime_api,
        });
    }
    let catalog = load_catalog(args.input.config.as_deref())?;
    let outputs = [
        ("--dump-issues", args.dump_issues.as_deref()),
        ("--summary-json", args.summary_json.as_deref()),
    ];
    let wiring = wire(&args.input, &catalog, false, args.to, &outputs)?;
    let (sink, dead_letter_file, stop) = (wiring.sink.clone(), wiring.dead_letter_file.clone(), wiring.stop.clone());
    let event_store = wiring.event_store.clone();
    let first_process = wiring.options.cluster.as_ref().is_none_or(|c| c.process == 0);
    // Nothing queries a backfill's views: the sort indexes and the text column are never
    // built (the dump, the summary and checkpoints do not read them). Without checkpoints,
    // nothing ever will, so the windows' details and facet hours are not kept either. A
    // cluster keeps them (a choice, not a need: it is not measured without).
    let mut views = IssueViews::default();
    views.defer_indexes();
    if wiring.options.checkpoints.is_none() && wiring.options.cluster.is_none() {
        tracing::info!("no --state-dir: the views keep no windows (occurrence details, per-facet hours), which only queries read");
        views.drop_windows();
    }
    let views = Arc::new(RwLock::new(views));
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
    // The process ends after this: the views are never freed (a leaked reference), since
    // their teardown freed every group's view, row and details one by one (~450
    // instructions a group, 2.7 % of a backfill of distinct groups) for the OS to take back.
    std::mem::forget(Arc::clone(&views));
    let views = views.read().unwrap_or_else(|p| p.into_inner());
    if let Some(out) = &args.dump_issues {
        let mut writer: Box<dyn Write> = if out.as_os_str() == "-" {
            Box::new(BufWriter::new(std::io::stdout().lock()))
        } else {
            Box::new(BufWriter::new(
                File::create(out).with_context(|| format!("cannot create {}", out.display()))?,
            ))
        };
        // Formatted on as many threads as the dataflow had workers (they are idle now).
        let threads = args.input.workers.min(cli::default_workers());
        dump_issues(&views, &catalog, &mut writer, threads)?;
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

fn dump_issues(views: &IssueViews, catalog: &Catalog, writer: &mut dyn Write, threads: usize) -> anyhow::Result<()> {
    serialize::dump_issues(views, catalog, writer, threads).context("cannot write the issue dump")?;
    Ok(())
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    priority::set_ingest_nice(args.ingest_nice);
    dataflows::views::boost_write_holds(args.realtime_writes);
    let catalog = Arc::new(load_catalog(args.input.config.as_deref())?);
    auth::check_listen_address(&args.listen, &catalog, args.insecure)?;
    let mut wiring = wire(&args.input, &catalog, args.follow, EndAt::Unbounded, &[])?;
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
    // The sort indexes and the text column are built once caught up, before /readyz says
    // ready (requests before that read the rows: same answers, slower).
    let mut views = IssueViews::default();
    views.defer_indexes();
    let views = Arc::new(RwLock::new(views));
    let startup = Arc::new(Startup::building_indexes());
    let (api_nice, realtime_api) = (args.api_nice, args.realtime_api);
    let warned = Arc::new(std::sync::Once::new());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .on_thread_start(move || {
            let raised = if realtime_api {
                dataflows::views::set_thread_realtime(true)
            } else {
                priority::raise_api_thread(api_nice)
            };
            if !raised {
                warned.call_once(|| {
                    tracing::warn!(
                        nice = api_nice,
                        realtime_api,
                        "cannot raise the API threads' priority (needs CAP_SYS_NICE)"
                    )
                });
            }
        })
        .build()?;
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
            // The pipeline builds the indexes as the epoch that catches up completes; here
            // in case it was complete before the feeder said where start-up's input ends.
            if startup.indexes_due(&views.read().unwrap_or_else(|p| p.into_inner())) {
                startup.build_indexes_when_caught_up(&mut views.write().unwrap_or_else(|p| p.into_inner()));
            }
            let views = views.read().unwrap_or_else(|p| p.into_inner());
            if startup.is_ready(&views) {
                let counters: Vec<String> = SUMMARY.iter().map(|(name, c)| format!("{name}={}", views.counter(*c))).collect();
                tracing::info!(summary = counters.join(" "), "caught up; following live input");
                return;
            }
        });
    }
    let checkpointed = args.input.state.state_dir.is_some();
    let pipeline = std::thread::Builder::new()
        .name("pipeline".into())
        .spawn(move || run_pipeline(options, pipeline_views, startup))?;
    let result = pipeline.join().map_err(|_| anyhow::anyhow!("pipeline panicked"))?;
    flush_sink(&sink)?;
    result?;
    if stop.load(Ordering::Relaxed) {
        match checkpointed {
            true => tracing::info!("stopped by a signal after a final checkpoint"),
            false => tracing::info!("stopped by a signal (no --state-dir: nothing is kept for a restart)"),
        }
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
    if args.start_time.saturating_add(args.span_seconds) > cli::LAST_GENERATED_SECOND {
        anyhow::bail!("--start-time plus --span-seconds passes the year 9999");
    }
    let options = generate::GenerateOptions {
        seed: args.seed,
        count: args.count,
        fingerprints: args.fingerprints,
        projects: args.projects,
        malformed_ratio: args.malformed_ratio,
        start_time: args.start_time,
        span_seconds: args.span_seconds,
    };
    if args.distinct_groups {
        // One group per line only while no project creates more than the cron type's quota
        // in any window: past it the quota drops lines, and they make no group.
        let (limit, window) = generate_groups::cron_quota();
        let per_project = args.count.div_ceil(args.projects);
        let in_a_window = (u128::from(per_project) * window.max(1) as u128)
            .div_ceil(args.span_seconds.max(1) as u128)
            .min(u128::from(per_project));
        if in_a_window > u128::from(limit) {
            anyhow::bail!(
                "--distinct-groups: {in_a_window} new groups in {window} s in one project pass the cron type's quota of {limit}; \
                 give more --projects or a longer --span-seconds"
            );
        }
    }
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
