//! Wiring: a feeder thread turns the inputs (files, then Kafka) into numbered blocks and hands
//! them to the timely workers of this process, which run the ingest dataflow and apply its
//! output to the shared views. The feeder also decides when to checkpoint: it pauses, every
//! worker drains to the same epoch and hands back its state, and the state is written with the
//! input positions that produced it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context;
use connectors::events::InputDecoder;
use connectors::jsonl::{expand_inputs, BlockOptions, LineSource};
use connectors::kafka::{EndAt, KafkaOptions, StartAt};
use dataflows::graph::ingest::project_route;
use dataflows::graph::{build_ingest, DeadLetterSink, OperatorState, Outputs};
use dataflows::model::block::InputBlock;
use dataflows::model::ProjectId;
use dataflows::state::{IngestConfig, ProjectState};
use dataflows::views::IssueViews;
use rustc_hash::FxHashMap as HashMap;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::Input;
use timely::dataflow::InputHandle;

use crate::checkpoint::{self, Positions};
use crate::feed::Feeder;
use crate::metrics::Metrics;
use crate::mutation_log::Sequencer;

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
    pub mutations: Option<std::sync::mpsc::Receiver<crate::mutation_log::Pending>>,
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
}

#[derive(Clone, Debug)]
pub struct ClusterOptions {
    pub processes: usize,
    pub process: usize,
    pub addresses: Vec<String>,
}

/// Readiness: set once the feeder has reached the end of what existed at start-up; the views
/// are ready when every epoch before that point is applied.
#[derive(Default)]
pub struct Startup {
    ready_after_epoch: Mutex<Option<u64>>,
}

impl Startup {
    pub fn is_ready(&self, views: &IssueViews) -> bool {
        match *self.ready_after_epoch.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(epoch) => views.finished || views.complete_through >= epoch,
            None => false,
        }
    }

    pub(crate) fn mark(&self, epoch: u64) {
        let mut guard = self.ready_after_epoch.lock().unwrap_or_else(|p| p.into_inner());
        guard.get_or_insert(epoch);
    }
}

/// What the feeder sends a worker.
pub enum Feed {
    /// A block to process once the dataflow has completed every epoch before `horizon`
    /// (this bounds the epochs in flight, and so memory).
    Block { block: Arc<InputBlock>, horizon: u64 },
    /// The worker will receive no block before this epoch.
    Advance(u64),
    /// Drain every epoch before `through`, then hand back this worker's state.
    Snapshot { through: u64, reply: Sender<WorkerSnapshot> },
}

pub struct WorkerSnapshot {
    pub worker: usize,
    pub projects: anyhow::Result<Vec<u8>>,
    pub next_id: u64,
}

/// The process's link to its workers.
pub struct Dispatch {
    senders: Vec<SyncSender<Feed>>,
    /// The global dataflow frontier as seen by this process (published by its first worker).
    pub frontier: Arc<AtomicU64>,
}

impl Dispatch {
    pub fn local_workers(&self) -> usize {
        self.senders.len()
    }

    pub fn block(&self, worker: usize, block: Arc<InputBlock>, horizon: u64) -> anyhow::Result<()> {
        self.senders[worker]
            .send(Feed::Block { block, horizon })
            .map_err(|_| anyhow::anyhow!("worker {worker} stopped"))
    }

    pub fn advance_all(&self, epoch: u64) -> anyhow::Result<()> {
        for (worker, sender) in self.senders.iter().enumerate() {
            sender
                .send(Feed::Advance(epoch))
                .map_err(|_| anyhow::anyhow!("worker {worker} stopped"))?;
        }
        Ok(())
    }

    /// Every worker drains to `through` and returns its state, in worker order.
    pub fn snapshot(&self, through: u64) -> anyhow::Result<Vec<WorkerSnapshot>> {
        let (reply, replies) = channel();
        for (worker, sender) in self.senders.iter().enumerate() {
            sender
                .send(Feed::Snapshot {
                    through,
                    reply: reply.clone(),
                })
                .map_err(|_| anyhow::anyhow!("worker {worker} stopped"))?;
        }
        drop(reply);
        let mut snapshots: Vec<WorkerSnapshot> = replies.iter().collect();
        if snapshots.len() != self.senders.len() {
            anyhow::bail!("a worker stopped during a checkpoint");
        }
        snapshots.sort_by_key(|s| s.worker);
        Ok(snapshots)
    }
}

/// Blocks in flight per worker before the worker waits for the dataflow to catch up.
pub const IN_FLIGHT_PER_WORKER: u64 = 4;

/// Runs to the end of the inputs (forever when following or streaming). Errors from reading
/// stop the run.
pub fn run_pipeline(options: PipelineOptions, views: Arc<RwLock<IssueViews>>, startup: Arc<Startup>) -> anyhow::Result<()> {
    let files = expand_inputs(&options.inputs)?;
    let local_workers = options.workers.max(1);
    let (process, processes) = options.cluster.as_ref().map_or((0, 1), |c| (c.process, c.processes));
    if processes > 1 && (!files.is_empty() || options.checkpoints.is_some()) {
        anyhow::bail!("a multi-process cluster reads Kafka only and does not checkpoint yet");
    }

    // Restore before anything runs: views here, each worker's projects in its slot.
    let restored = match &options.checkpoints {
        Some(checkpoints) => checkpoint::load_newest(&checkpoints.dir)?,
        None => None,
    };
    let mut positions = Positions::default();
    let mut next_id = 1;
    let total_workers = local_workers * processes;
    let mut initial: Vec<Option<HashMap<ProjectId, ProjectState>>> = (0..local_workers).map(|_| Some(HashMap::default())).collect();
    if let Some(mut restored) = restored {
        positions = restored.positions;
        next_id = restored.next_id;
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
            let worker = (project_route(project) % total_workers as u64) as usize;
            if let Some(Some(map)) = initial.get_mut(worker) {
                map.insert(project, state);
            }
        }
        if let Some(path) = options.checkpoints.as_ref().and_then(|c| c.dead_letter_file.as_ref()) {
            cut_dead_letters(path, positions.dead_letter_bytes.unwrap_or(0))?;
        }
        let mut views = views.write().unwrap_or_else(|p| p.into_inner());
        *views = restored.views;
        views.complete_through = positions.next_epoch;
        views.finished = false;
        tracing::info!(checkpoint = %restored.path.display(), next_epoch = positions.next_epoch, "resuming from checkpoint");
    } else if let Some(path) = options.checkpoints.as_ref().and_then(|c| c.dead_letter_file.as_ref()) {
        // A fresh start: dead letters of an earlier, checkpoint-less run are not ours.
        cut_dead_letters(path, 0)?;
    }
    let mutations = if processes == 1 {
        let dir = options.checkpoints.as_ref().map(|c| c.dir.as_path());
        Some(std::cell::RefCell::new(Sequencer::open(
            dir,
            positions.mutations_applied,
            options.mutations,
        )?))
    } else {
        None
    };
    let initial = Arc::new(Mutex::new(initial));
    let has_change_sinks = !options.changes.lock().unwrap_or_else(|p| p.into_inner()).is_empty();
    if has_change_sinks {
        views.write().unwrap_or_else(|p| p.into_inner()).change_log = Some(Default::default());
    }
    let change_sinks = options.changes.clone();
    let partition_count = match (&options.kafka, processes) {
        (Some(kafka), 2..) => connectors::kafka::KafkaSource::partition_count(&kafka.options)?,
        _ => 1,
    };

    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..local_workers {
        let (tx, rx) = sync_channel::<Feed>(4 * IN_FLIGHT_PER_WORKER as usize);
        senders.push(tx);
        receivers.push(Some(rx));
    }
    let receivers: Arc<Mutex<Vec<Option<Receiver<Feed>>>>> = Arc::new(Mutex::new(receivers));
    let frontier = Arc::new(AtomicU64::new(positions.next_epoch));
    let dispatch = Dispatch {
        senders,
        frontier: frontier.clone(),
    };

    let feeder = Feeder {
        files,
        kafka: options.kafka.clone(),
        block_lines: options.block_lines,
        follow: options.follow,
        show_progress: options.show_progress,
        process,
        processes,
        checkpoints: options.checkpoints.clone(),
        views: views.clone(),
        dead_letters: options.dead_letters.clone(),
        metrics: options.metrics.clone(),
        startup: startup.clone(),
        stop: options.stop.clone(),
        mutations,
    };
    let feeder = std::thread::Builder::new()
        .name("feeder".into())
        .spawn(move || feeder.run(dispatch, positions))?;

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
    let ingest = options.ingest;
    let sink = options.dead_letters;
    let worker_views = views.clone();
    let metrics = options.metrics.clone();
    let to_first_process = processes > 1;
    let guards = timely::execute(config, move |worker| {
        let index = worker.index();
        let local = index - process * local_workers;
        let receiver = receivers.lock().unwrap_or_else(|p| p.into_inner())[local]
            .take()
            .expect("one receiver per worker");
        let state = OperatorState::default();
        if let Some(projects) = initial.lock().unwrap_or_else(|p| p.into_inner())[local].take() {
            *state.projects.borrow_mut() = projects;
        }
        if index == 0 {
            state.next_id.set(next_id);
        }
        let mut input: InputHandle<u64, CapacityContainerBuilder<Vec<Arc<InputBlock>>>> = InputHandle::new();
        let views = worker_views.clone();
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
        let probe = worker.dataflow::<u64, _, _>(|scope| {
            let blocks = scope.input_from(&mut input);
            let outputs = Outputs {
                views,
                dead_letters: sink,
                views_in_first_process: to_first_process,
            };
            build_ingest(blocks, decoder, ingest, owner, outputs, &state)
        });
        let start = frontier.load(Ordering::Relaxed);
        input.advance_to(start);
        let mut published = u64::MAX - 1;
        let mut publish = |probe: &timely::dataflow::ProbeHandle<u64>| {
            if local != 0 {
                return;
            }
            let through = probe.with_frontier(|f| f.first().copied()).unwrap_or(u64::MAX);
            if through != published {
                published = through;
                frontier.store(through, Ordering::Relaxed);
                metrics.epoch_completed(through);
                if index == 0 {
                    let mut views = worker_views.write().unwrap_or_else(|p| p.into_inner());
                    views.complete_through = through;
                    views.finished = through == u64::MAX;
                    if has_change_sinks {
                        crate::changes::publish(&mut views, &change_sinks);
                    }
                }
            }
        };
        loop {
            match receiver.try_recv() {
                Ok(Feed::Block { block, horizon }) => {
                    // Parks rather than spins while waiting: on two cores a spinning worker
                    // takes time from the feeder and the other worker, whose data wakes it.
                    while probe.less_than(&horizon) {
                        worker.step_or_park(Some(Duration::from_millis(1)));
                        publish(&probe);
                    }
                    let epoch = block.index;
                    if epoch > *input.time() {
                        input.advance_to(epoch);
                    }
                    input.send(block);
                    worker.step();
                }
                Ok(Feed::Advance(epoch)) => {
                    if epoch > *input.time() {
                        input.advance_to(epoch);
                    }
                }
                Ok(Feed::Snapshot { through, reply }) => {
                    if through > *input.time() {
                        input.advance_to(through);
                    }
                    while probe.less_than(&through) {
                        worker.step_or_park(Some(Duration::from_millis(1)));
                        publish(&probe);
                    }
                    let projects = checkpoint::encode_projects(&state.projects.borrow());
                    let _ = reply.send(WorkerSnapshot {
                        worker: local,
                        projects,
                        next_id: state.next_id.get(),
                    });
                }
                Err(TryRecvError::Empty) => {
                    worker.step_or_park(Some(Duration::from_millis(1)));
                }
                Err(TryRecvError::Disconnected) => break,
            }
            publish(&probe);
        }
        drop(input);
        while !probe.done() {
            worker.step_or_park(Some(Duration::from_millis(1)));
            publish(&probe);
        }
        publish(&probe);
    })
    .map_err(|e| anyhow::anyhow!("cannot start workers: {e}"))?;
    let outcomes = guards.join();
    let fed = feeder.join().map_err(|_| anyhow::anyhow!("feeder thread panicked"))?;
    fed.context("reading input")?;
    for outcome in outcomes {
        outcome.map_err(|e| anyhow::anyhow!("worker failed: {e}"))?;
    }
    crate::changes::flush(&options.changes).context("cannot flush the change feeds")?;
    let mut views = views.write().unwrap_or_else(|p| p.into_inner());
    views.finished = true;
    Ok(())
}

/// Cuts the dead-letter file back to what the checkpoint covers: rejections after it are
/// produced again by the replay.
fn cut_dead_letters(path: &std::path::Path, length: u64) -> anyhow::Result<()> {
    match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(file) => file.set_len(length).with_context(|| format!("cannot truncate {}", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error).with_context(|| format!("cannot open {}", path.display())),
    }
}

/// The benchmark baseline: the same reader and decoder, no dataflow. Returns (lines, rejected).
pub fn parse_only(inputs: &[PathBuf], workers: usize, block_lines: usize, decoder: InputDecoder) -> anyhow::Result<(u64, u64)> {
    let files = expand_inputs(inputs)?;
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (tx, rx) = sync_channel::<InputBlock>(IN_FLIGHT_PER_WORKER as usize);
        senders.push(tx);
        let decoder = decoder.clone();
        handles.push(std::thread::spawn(move || {
            let (mut lines, mut rejected) = (0u64, 0u64);
            for block in rx {
                for i in 0..block.lines.len() {
                    lines += 1;
                    if decoder.decode(block.line(i), block.seq(i), &mut |_, _| {}).is_err() {
                        rejected += 1;
                    }
                }
            }
            (lines, rejected)
        }));
    }
    let mut source = LineSource::new(
        files,
        BlockOptions {
            max_lines: block_lines,
            ..BlockOptions::default()
        },
    );
    while let Some(block) = source.next_block()? {
        let worker = (block.index % workers as u64) as usize;
        senders[worker].send(block).map_err(|_| anyhow::anyhow!("decoder thread stopped"))?;
    }
    drop(senders);
    let mut totals = (0, 0);
    for handle in handles {
        let (lines, rejected) = handle.join().map_err(|_| anyhow::anyhow!("decoder thread panicked"))?;
        totals.0 += lines;
        totals.1 += rejected;
    }
    Ok(totals)
}
