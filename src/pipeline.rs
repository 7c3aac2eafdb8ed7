//! Wiring: a feeder thread turns the inputs (files, then Kafka) into numbered blocks and hands
//! them to the timely workers of this process, which run the ingest dataflow and apply its
//! output to the shared views. The feeder also decides when to checkpoint: it pauses, every
//! worker drains to the same epoch and hands back its state, and the state is written with the
//! input positions that produced it. A checkpointing cluster restores inside the timely
//! cluster: the processes first agree on the newest cut they hold between them, written by any
//! number of processes (`restore_cluster`), and the feeder starts from that cut's positions.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, TryRecvError};
use std::sync::{Arc, Barrier, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context;
use connectors::jsonl::{expand_followed_inputs, expand_inputs};
use dataflows::graph::waits::{timed, Wait};
use dataflows::graph::{build_ingest, OperatorState, Outputs, Routes};
use dataflows::model::block::InputBlock;
use dataflows::model::ProjectId;
use dataflows::state::ProjectState;
use dataflows::views::IssueViews;
use rustc_hash::FxHashMap as HashMap;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};

use crate::checkpoint::{self, Positions};
use crate::feed::{ClusterCuts, Feeder};
use crate::mutation_log::Sequencer;

mod connect;
mod dispatch;
mod options;
mod parse_only;
mod restore;
mod startup;

pub use dispatch::*;
pub use options::{CheckpointOptions, ClusterOptions, KafkaInput, PipelineOptions};
pub use parse_only::parse_only;
use restore::{cut_appended_files, restore_cluster, ClusterRestore, StatusRecord, VecInput};
pub use startup::Startup;

/// Runs to the end of the inputs (forever when following or streaming). Errors from reading
/// stop the run.
pub fn run_pipeline(options: PipelineOptions, views: Arc<RwLock<IssueViews>>, startup: Arc<Startup>) -> anyhow::Result<()> {
    // The views say whether they keep windows; checked before a restore touches any file: a
    // checkpoint of views without them would answer windows wrongly once restored.
    let keeps_windows = views.read().unwrap_or_else(|p| p.into_inner()).keeps_windows();
    anyhow::ensure!(
        keeps_windows || options.checkpoints.is_none(),
        "views without windows cannot be checkpointed"
    );
    let files = if options.follow && options.kafka.is_none() {
        expand_followed_inputs(&options.inputs)?
    } else {
        expand_inputs(&options.inputs)?
    };
    let local_workers = options.workers.max(1);
    let (process, processes) = options.cluster.as_ref().map_or((0, 1), |c| (c.process, c.processes));
    if processes > 1 && (!files.is_empty() || options.kafka.is_none()) {
        anyhow::bail!("a multi-process cluster reads Kafka only");
    }
    let total_workers = local_workers * processes;
    let has_change_sinks = !options.changes.lock().unwrap_or_else(|p| p.into_inner()).is_empty();
    if has_change_sinks {
        views.write().unwrap_or_else(|p| p.into_inner()).change_log = Some(Default::default());
    }

    // A cluster restores inside the dataflow (the processes first agree on a common cut); a
    // single process restores here, before anything runs: views here, each worker's
    // projects in its slot.
    let shape = checkpoint::ClusterShape { processes, process };
    let cluster_restore = match (&options.checkpoints, processes) {
        (Some(checkpoints), 2..) => Some(Arc::new(ClusterRestore {
            dir: checkpoints.dir.clone(),
            shape,
            available: checkpoint::valid_parts(&checkpoints.dir)?,
            dead_letter_file: checkpoints.dead_letter_file.clone(),
            change_feed_file: checkpoints.change_feed_file.clone(),
            views: views.clone(),
            next_id: AtomicU64::new(1),
            barrier: Barrier::new(local_workers),
            error: Mutex::new(None),
        })),
        _ => None,
    };
    // Where each project's state machine lives, the same map on every worker: by volume in a
    // sample of the first input, so one large project does not load one worker (a 45/55
    // split on the benchmark inputs by hash). A cluster hashes: its processes read different
    // partitions and would have to agree on a sample.
    let by_volume = std::env::var("OCCURRENT_PLACE_BY_VOLUME").map_or(true, |v| v != "0");
    let routes = match files.first() {
        Some(first) if processes == 1 && total_workers > 1 && by_volume => Routes::balanced(
            connectors::sample::project_volumes(first, connectors::sample::SAMPLE_BYTES),
            total_workers,
        ),
        _ => Routes::hashed(),
    };
    tracing::debug!(placed = routes.placed(), "projects placed on workers by volume");
    let mut positions = Positions::default();
    let mut next_id = 1;
    let mut initial: Vec<Option<HashMap<ProjectId, ProjectState>>> = (0..local_workers).map(|_| Some(HashMap::default())).collect();
    let restored = match (&options.checkpoints, &cluster_restore) {
        (Some(checkpoints), None) => {
            let restored = checkpoint::load_newest(&checkpoints.dir)?;
            // Parts after the cut resumed from (or all, starting afresh) would otherwise
            // outrank the cuts this run writes at lower epochs.
            checkpoint::discard_after(&checkpoints.dir, restored.as_ref().map(|r| r.positions.next_epoch))?;
            checkpoint::remove_stale_temporaries(&checkpoints.dir, checkpoint::ClusterShape { processes: 1, process: 0 })?;
            restored
        }
        _ => None,
    };
    let resumed = restored.is_some();
    if let Some(mut restored) = restored {
        positions = restored.positions;
        next_id = restored.next_id;
        if views.read().unwrap_or_else(|p| p.into_inner()).indexes_deferred() {
            restored.views.defer_indexes();
        }
        for (project, state) in &restored.projects {
            for (short_id, row) in state.rows() {
                restored.views.restore_row(
                    dataflows::state::GroupKey {
                        project: *project,
                        short_id,
                    },
                    row.clone(),
                );
            }
        }
        for (project, state) in restored.projects {
            let worker = routes.worker_of(project, total_workers);
            if let Some(Some(map)) = initial.get_mut(worker) {
                map.insert(project, state);
            }
        }
        if let Some(checkpoints) = &options.checkpoints {
            cut_appended_files(&checkpoints.dead_letter_file, &checkpoints.change_feed_file, Some(&positions))?;
        }
        let mut views = views.write().unwrap_or_else(|p| p.into_inner());
        let change_log = views.change_log.take();
        *views = restored.views;
        views.change_log = change_log;
        views.complete_through = positions.next_epoch;
        views.finished = false;
        tracing::info!(checkpoint = %restored.path.display(), next_epoch = positions.next_epoch, "resuming from checkpoint");
    } else if cluster_restore.is_none() {
        if let Some(checkpoints) = &options.checkpoints {
            // A fresh start: what an earlier, checkpoint-less run wrote is not ours.
            cut_appended_files(&checkpoints.dead_letter_file, &checkpoints.change_feed_file, None)?;
        }
    }
    // A cluster's process 0 opens its log once the cluster has agreed on a cut (the feeder).
    let (mutations, cluster_inbox) = if processes == 1 {
        let dir = options.checkpoints.as_ref().map(|c| c.dir.as_path());
        let log = Sequencer::open(dir, positions.mutations_applied, options.mutations)?;
        (Some(std::cell::RefCell::new(log)), None)
    } else {
        (None, options.mutations)
    };
    let initial = Arc::new(Mutex::new(initial));
    let change_sinks = options.changes.clone();
    let partition_count = match (&options.kafka, processes) {
        (Some(kafka), 2..) => connectors::kafka::KafkaSource::partition_count(&kafka.options)?,
        _ => 1,
    };

    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..local_workers {
        // The feeder runs ahead of the workers by this many messages per worker (a block and,
        // for every block, an `Advance` to each worker): two blocks or so with two workers.
        // Each queued block of a mapped file holds its pages (~11 MB) in the process, so more
        // lookahead only raised peak RSS (16 messages: 50–100 MiB more on the 10M-line inputs,
        // at the same CPU time; docs/benchmark-history.md, session 7).
        let (link, rx, thread) = WorkerLink::new(2 * IN_FLIGHT_PER_WORKER as usize);
        senders.push(link);
        receivers.push(Some((rx, thread)));
    }
    type WorkerEnd = (Receiver<Feed>, Arc<std::sync::OnceLock<std::thread::Thread>>);
    let receivers: Arc<Mutex<Vec<Option<WorkerEnd>>>> = Arc::new(Mutex::new(receivers));
    let frontier = Arc::new(AtomicU64::new(positions.next_epoch));
    // The first epoch, apart from `frontier`: the first worker overwrites `frontier` with the
    // probe's frontier (0 until progress propagates) as soon as it runs, and a worker that
    // started its input there would hold the whole dataflow at 0.
    let start_epoch = Arc::new(AtomicU64::new(positions.next_epoch));
    let reports = Arc::new(Mutex::new(CutReports::default()));
    let announced = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let announced_through = Arc::new(AtomicU64::new(0));
    let points = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let point_offsets = Arc::new(Mutex::new(Default::default()));
    let plan = Arc::new(Mutex::new(Vec::new()));
    let plan_complete = Arc::new(AtomicBool::new(false));
    let dispatch = Dispatch {
        senders,
        frontier: frontier.clone(),
        reports: reports.clone(),
        announced: announced.clone(),
        announced_through: announced_through.clone(),
        points: points.clone(),
        point_offsets: point_offsets.clone(),
        plan: plan.clone(),
        plan_complete: plan_complete.clone(),
        advanced: Default::default(),
    };

    let feeder = Feeder {
        files,
        kafka: options.kafka.clone(),
        block_lines: options.block_lines,
        follow: options.follow,
        followed_directory: options
            .inputs
            .last()
            .filter(|input| options.follow && options.kafka.is_none() && std::fs::metadata(input).is_ok_and(|m| m.is_dir()))
            .cloned(),
        show_progress: options.show_progress,
        process,
        processes,
        checkpoints: options.checkpoints.clone(),
        cluster_cuts: cluster_restore.as_ref().map(|_| ClusterCuts { shape }),
        views: views.clone(),
        dead_letters: options.dead_letters.clone(),
        changes: options.changes.clone(),
        metrics: options.metrics.clone(),
        startup: startup.clone(),
        stop: options.stop.clone(),
        mutations,
        cluster_inbox,
        resumed,
    };
    // The feeder starts once it knows where: at once for one process, after the cluster's
    // agreement on a cut otherwise.
    let (start_feeder, feeder_start) = channel::<Positions>();
    let feeder = std::thread::Builder::new()
        .name("feeder".into())
        .spawn(move || match feeder_start.recv() {
            Ok(positions) => {
                crate::priority::lower_ingest_thread();
                let fed = feeder.run(dispatch, positions);
                if let (Err(error), true) = (&fed, processes > 1) {
                    // The other processes would wait for this one's input (and its part of
                    // their cuts) forever, and its workers for theirs: end the process, and
                    // they fail on the lost connection.
                    connect::stop_cluster_process(format_args!(
                        "the feeder failed: {error:#} (a restart resumes from the last cut, its outputs cut back to it)"
                    ));
                }
                fed
            }
            // The workers stopped before the restore finished; they report why.
            Err(_) => Ok(()),
        })?;
    let start_feeder = Mutex::new(match &cluster_restore {
        None => {
            // Cannot fail: the feeder waits on the other end.
            let _ = start_feeder.send(positions);
            None
        }
        Some(_) => Some(start_feeder),
    });

    let config = match &options.cluster {
        None => timely::Config::process(local_workers),
        Some(cluster) => timely::Config {
            communication: timely::CommunicationConfig::Cluster {
                threads: local_workers,
                process: cluster.process,
                addresses: cluster.addresses.clone(),
                report: false,
                zerocopy: false,
            },
            worker: timely::WorkerConfig::default(),
        },
    };
    let decoder = options.decoder;
    let mut ingest = options.ingest;
    ingest.details = keeps_windows;
    let sink = options.dead_letters;
    let worker_startup = startup.clone();
    let metrics = options.metrics.clone();
    let to_first_process = processes > 1;
    let worker_restore = cluster_restore.clone();
    let announcing = cluster_restore.is_some();
    dataflows::graph::waits::measure(tracing::enabled!(tracing::Level::DEBUG));
    // The views' writer: the workers hand it their view changes instead of applying them
    // under the write lock themselves (`ViewsWriter`).
    let (writer, writer_thread) = dataflows::graph::ViewsWriter::spawn(views.clone())?;
    let connected = match &options.cluster {
        Some(cluster) => {
            connect::stop_on_lost_peer();
            Some(connect::give_up_unless_connected(cluster)?)
        }
        None => None,
    };
    let guards = timely::execute(config, move |worker| {
        if let Some(connected) = &connected {
            connected.store(true, Ordering::Release);
        }
        crate::priority::lower_ingest_thread();
        let worker_started = std::time::Instant::now();
        let index = worker.index();
        let local = index - process * local_workers;
        let (receiver, thread) = receivers.lock().unwrap_or_else(|p| p.into_inner())[local]
            .take()
            .expect("one receiver per worker");
        // Before the first look at the channel: the feeder wakes this thread from now on.
        let _ = thread.set(std::thread::current());
        let state = OperatorState::default();
        if let Some(restore) = &worker_restore {
            let (positions, projects) = restore_cluster(worker, restore, local);
            if let (0, Some(positions)) = (local, &positions) {
                frontier.store(positions.next_epoch, Ordering::Relaxed);
                start_epoch.store(positions.next_epoch, Ordering::Relaxed);
            }
            restore.barrier.wait();
            if let Some(error) = restore.error.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                if processes > 1 {
                    // The other processes go on to build the ingest dataflow and would wait
                    // for this one's part of it forever: end the process (they then fail on
                    // the lost connection), saying why.
                    connect::stop_cluster_process(format_args!("cannot restore the cluster's checkpoint: {error:#}"));
                }
                return;
            }
            // Only a restore without error starts the feeder (whose failure would hide it).
            if let (0, Some(positions)) = (local, positions) {
                if let Some(sender) = start_feeder.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    let _ = sender.send(positions);
                }
            }
            *state.projects.borrow_mut() = projects;
            if index == 0 {
                state.next_id.set(restore.next_id.load(Ordering::Relaxed));
            }
        } else {
            if let Some(projects) = initial.lock().unwrap_or_else(|p| p.into_inner())[local].take() {
                *state.projects.borrow_mut() = projects;
            }
            if index == 0 {
                state.next_id.set(next_id);
            }
        }
        let mut input: InputHandle<u64, CapacityContainerBuilder<Vec<Arc<InputBlock>>>> = InputHandle::new();
        // Cluster checkpoints: (cut, process, status) records, broadcast so every process
        // learns every status by the time the cut completes.
        let mut status_input: VecInput<StatusRecord> = InputHandle::new();
        let status_probe = ProbeHandle::new();
        // Cluster checkpoints: cut epochs announced by any process, broadcast. This input
        // advances with the blocks' input, so its frontier tells every feeder up to which
        // time every announcement is known (see `feed::kafka`).
        let mut announce_input: VecInput<(u64, bool)> = InputHandle::new();
        let announce_probe = ProbeHandle::new();
        // Cluster mutations: offsets at mutation points, and the replay plan (see
        // `feed::points`). Neither waits on its frontier, so neither advances.
        let mut offsets_input: VecInput<OffsetsReport> = InputHandle::new();
        let mut plan_input: VecInput<PlanEntry> = InputHandle::new();
        let plan_probe = ProbeHandle::new();
        let publish_writer = writer.clone();
        let (decoder, sink) = (decoder.clone(), sink.clone());
        // Blocks are read by local worker `epoch % workers` of the process owning the epoch's
        // partition (see `feed`): the dead-letter stage sends rejections back there.
        let owner = move |epoch: u64| {
            let local = epoch % local_workers as u64;
            if processes == 1 {
                return local;
            }
            let partition = (epoch / local_workers as u64) % partition_count as u64;
            (partition % processes as u64) * local_workers as u64 + local
        };
        let cut_reports = reports.clone();
        let cut_announced = announced.clone();
        let (point_announced, reported, planned) = (points.clone(), point_offsets.clone(), plan.clone());
        let probe = worker.dataflow::<u64, _, _>(|scope| {
            let blocks = scope.input_from(&mut input);
            let outputs = Outputs {
                dead_letters: sink,
                views_in_first_process: to_first_process,
                writer: publish_writer.clone(),
            };
            scope
                .input_from(&mut status_input)
                .broadcast()
                .inspect(move |(cut, _process, status)| {
                    // Every worker receives every status; one per process keeps the count.
                    if local == 0 {
                        cut_reports.lock().unwrap_or_else(|p| p.into_inner()).record(*cut, *status);
                    }
                })
                .probe_with(&status_probe);
            scope
                .input_from(&mut announce_input)
                .broadcast()
                .inspect(move |(epoch, point)| {
                    if local == 0 {
                        let set = if *point { &point_announced } else { &cut_announced };
                        set.lock().unwrap_or_else(|p| p.into_inner()).insert(*epoch);
                    }
                })
                .probe_with(&announce_probe);
            scope
                .input_from(&mut offsets_input)
                .broadcast()
                .inspect(move |(point, process, offsets)| {
                    if local == 0 {
                        let mut reported = reported.lock().unwrap_or_else(|p| p.into_inner());
                        reported.entry(*point).or_default().insert(*process, offsets.clone());
                    }
                });
            scope
                .input_from(&mut plan_input)
                .broadcast()
                .inspect(move |entry| {
                    if local == 0 {
                        planned.lock().unwrap_or_else(|p| p.into_inner()).push(entry.clone());
                    }
                })
                .probe_with(&plan_probe);
            build_ingest(blocks, decoder, ingest, routes.clone(), owner, outputs, &state)
        });
        let start = start_epoch.load(Ordering::Relaxed);
        input.advance_to(start);
        status_input.advance_to(start);
        // Only a checkpointing cluster announces cuts: elsewhere the input closes at once and
        // costs no progress updates per epoch.
        let (mut announce_input, mut offsets_input, mut plan_input) = if announcing {
            announce_input.advance_to(start);
            offsets_input.advance_to(start);
            plan_input.advance_to(start);
            (Some(announce_input), Some(offsets_input), Some(plan_input))
        } else {
            (None, None, None)
        };
        let mut published = u64::MAX - 1;
        let mut publish = |probe: &timely::dataflow::ProbeHandle<u64>| {
            if local != 0 {
                return;
            }
            // Announcements are inspected before this probe: every one earlier than its
            // frontier is in `announced` by now.
            let known = announce_probe.with_frontier(|f| f.first().copied()).unwrap_or(u64::MAX);
            announced_through.store(known, Ordering::Relaxed);
            if plan_probe.done() {
                plan_complete.store(true, Ordering::Relaxed);
            }
            let through = probe.with_frontier(|f| f.first().copied()).unwrap_or(u64::MAX);
            if through != published {
                published = through;
                frontier.store(through, Ordering::Relaxed);
                metrics.epoch_completed(through);
                if index == 0 {
                    // Through the writer, after the changes it applies: every change before
                    // `through` is in the views already (the probe passed it), and worker 0
                    // does not wait for the write lock.
                    let startup = worker_startup.clone();
                    let change_sinks = change_sinks.clone();
                    publish_writer.run(move |views| {
                        views.complete_through = through;
                        views.finished = through == u64::MAX;
                        startup.build_indexes_when_caught_up(views);
                        if has_change_sinks {
                            crate::changes::publish(views, &change_sinks);
                        }
                    });
                }
            }
        };
        let mut idle = IdlePark::default();
        loop {
            let received = receiver.try_recv();
            if received.is_ok() {
                idle.reset();
            }
            match received {
                Ok(Feed::Block { block, horizon }) => {
                    // Nothing earlier will come from this worker: say so before waiting, so
                    // the frontier the wait depends on never waits for this input.
                    let epoch = block.index;
                    if epoch > *input.time() {
                        input.advance_to(epoch);
                        if let Some(announce) = &mut announce_input {
                            announce.advance_to(epoch);
                        }
                    }
                    // Parks rather than spins while waiting: on two cores a spinning worker
                    // takes time from the feeder and the other worker, whose data wakes it.
                    while probe.less_than(&horizon) {
                        timed(Wait::Horizon, || worker.step_or_park(Some(Duration::from_millis(1))));
                        publish(&probe);
                    }
                    input.send(block);
                    worker.step();
                }
                Ok(Feed::Advance(epoch)) => {
                    if epoch > *input.time() {
                        input.advance_to(epoch);
                        if let Some(announce) = &mut announce_input {
                            announce.advance_to(epoch);
                        }
                    }
                }
                Ok(Feed::Announce { epoch, point }) => {
                    if let Some(announce) = &mut announce_input {
                        announce.send((epoch, point));
                        announce.flush();
                    }
                }
                Ok(Feed::Offsets { point, offsets }) => {
                    if let Some(input) = &mut offsets_input {
                        // This input never advances: only a flush sends what it buffers.
                        input.send((point, process as u64, offsets));
                        input.flush();
                    }
                }
                Ok(Feed::Plan(entries)) => {
                    if let Some(mut input) = plan_input.take() {
                        for (index, entry) in entries.into_iter().enumerate() {
                            input.send((index as u64, entry));
                        }
                    }
                }
                Ok(Feed::Snapshot { through, cut, reply }) => {
                    // The status input stays at the previous cut between cuts, so a report
                    // sent now is at an earlier time than `through` and arrives everywhere
                    // before the drain below completes.
                    if let (Some(cut), 0) = (cut, local) {
                        let code = match cut.status {
                            Some(CutStatus::Finished) => STATUS_FINISHED,
                            Some(CutStatus::Stopping) => STATUS_STOPPING,
                            None => 0,
                        } | if cut.sent { STATUS_SENT } else { 0 };
                        status_input.send((through, process as u64, code));
                    }
                    if through > *input.time() {
                        input.advance_to(through);
                        if let Some(announce) = &mut announce_input {
                            announce.advance_to(through);
                        }
                    }
                    if through > *status_input.time() {
                        status_input.advance_to(through);
                    }
                    while probe.less_than(&through) || status_probe.less_than(&through) {
                        timed(Wait::Drain, || worker.step_or_park(Some(Duration::from_millis(1))));
                        publish(&probe);
                    }
                    // An idle cut: every state is the previous cut's, not worth encoding.
                    let unchanged = cut.is_some() && !reports.lock().unwrap_or_else(|p| p.into_inner()).active(through);
                    let projects = if unchanged {
                        Ok(Vec::new())
                    } else {
                        checkpoint::encode_projects(&state.projects.borrow())
                    };
                    let _ = reply.send(WorkerSnapshot {
                        worker: local,
                        projects,
                        next_id: state.next_id.get(),
                        unchanged,
                    });
                }
                Err(TryRecvError::Empty) => idle.wait(|park| {
                    timed(Wait::Feed, || worker.step_or_park(Some(park)));
                }),
                Err(TryRecvError::Disconnected) => break,
            }
            publish(&probe);
        }
        drop(input);
        drop(status_input);
        drop(announce_input);
        drop(offsets_input);
        drop(plan_input);
        while !probe.done() {
            timed(Wait::Drain, || worker.step_or_park(Some(Duration::from_millis(1))));
            publish(&probe);
        }
        publish(&probe);
        // The workers' shares of the work: the wall clock is set by the busiest one.
        if let Some(times) = dataflows::views::ThreadTimes::now() {
            let [feed, horizon, drain, _] = dataflows::graph::waits::waited();
            tracing::debug!(
                worker = index,
                cpu_ms = times.cpu.as_millis() as u64,
                waiting_ms = times.waiting.as_millis() as u64,
                wall_ms = worker_started.elapsed().as_millis() as u64,
                feed_ms = feed.as_millis() as u64,
                horizon_ms = horizon.as_millis() as u64,
                drain_ms = drain.as_millis() as u64,
                "worker finished"
            );
        }
    })
    .map_err(|e| anyhow::anyhow!("cannot start workers: {e}"))?;
    let outcomes = guards.join();
    // Every worker has dropped its handle: the writer ends once it has applied what they
    // sent.
    if writer_thread.join().is_err() {
        anyhow::bail!("the views' writer thread panicked");
    }
    if let Some(error) = cluster_restore
        .as_ref()
        .and_then(|r| r.error.lock().unwrap_or_else(|p| p.into_inner()).take())
    {
        return Err(error.context("cannot restore the cluster's checkpoint"));
    }
    let fed = feeder.join().map_err(|_| anyhow::anyhow!("feeder thread panicked"))?;
    fed.context("reading input")?;
    for outcome in outcomes {
        outcome.map_err(|e| anyhow::anyhow!("worker failed: {e}"))?;
    }
    crate::changes::flush(&options.changes).context("cannot flush the change feeds")?;
    let mut views = views.write().unwrap_or_else(|p| p.into_inner());
    views.finished = true;
    startup.build_indexes_when_caught_up(&mut views);
    Ok(())
}
