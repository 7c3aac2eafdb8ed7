//! Wiring: a feeder thread turns the inputs (files, then Kafka) into numbered blocks and hands
//! them to the timely workers of this process, which run the ingest dataflow and apply its
//! output to the shared views. The feeder also decides when to checkpoint: it pauses, every
//! worker drains to the same epoch and hands back its state, and the state is written with the
//! input positions that produced it. A checkpointing cluster restores inside the timely
//! cluster: the processes first agree on their newest common cut (`restore_cluster`), and the
//! feeder starts from that cut's positions.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Barrier, Mutex, RwLock};
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
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Exchange, Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};

use crate::checkpoint::{self, Positions};
use crate::feed::{ClusterCuts, Feeder};
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
    /// Clusters with checkpoints: rounds between cuts (see `feed`).
    pub checkpoint_rounds: u64,
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
    /// Drain every epoch before `through`, then hand back this worker's state. `cut`: in a
    /// checkpointing cluster, what this process tells the others at this cut (its first
    /// worker sends it; every process learns every report before the cut completes).
    Snapshot {
        through: u64,
        cut: Option<CutReport>,
        reply: Sender<WorkerSnapshot>,
    },
}

/// A process's report at a cut of a checkpointing cluster.
#[derive(Clone, Copy, Debug, Default)]
pub struct CutReport {
    pub status: Option<CutStatus>,
    /// It sent blocks since the previous cut. When no process did, every state is the one of
    /// the previous cut, and nobody serializes or writes it again (an idle cluster at the
    /// live edge crosses cuts quickly).
    pub sent: bool,
}

/// What a process of a checkpointing cluster reports at a cut. A cut where some process is
/// stopping, or where every process has finished reading, is the cluster's last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutStatus {
    /// Its inputs are exhausted (a bounded read); it only follows the others' cuts.
    Finished,
    /// It was asked to stop (SIGTERM/SIGINT).
    Stopping,
}

/// The reports made at each cut, as learnt by this process: (processes finished, some
/// process stopping, some process sent blocks).
#[derive(Default)]
pub struct CutReports {
    by_cut: std::collections::BTreeMap<u64, (usize, bool, bool)>,
}

impl CutReports {
    fn record(&mut self, cut: u64, code: u8) {
        let entry = self.by_cut.entry(cut).or_default();
        if code & STATUS_FINISHED != 0 {
            entry.0 += 1;
        }
        entry.1 |= code & STATUS_STOPPING != 0;
        entry.2 |= code & STATUS_SENT != 0;
    }

    /// Whether some process sent blocks before `cut` since the previous cut (complete once
    /// the cut's drain is).
    fn active(&self, cut: u64) -> bool {
        self.by_cut.get(&cut).is_some_and(|entry| entry.2)
    }

    /// Whether `cut` (completed) is the cluster's last, and if so whether because a process
    /// is stopping; forgets it and older cuts.
    pub fn last(&mut self, cut: u64, processes: usize) -> Option<CutStatus> {
        let (finished, stopping, _) = self.by_cut.get(&cut).copied().unwrap_or_default();
        self.by_cut = self.by_cut.split_off(&(cut + 1));
        if stopping {
            Some(CutStatus::Stopping)
        } else {
            (finished >= processes).then_some(CutStatus::Finished)
        }
    }
}

const STATUS_FINISHED: u8 = 1;
const STATUS_STOPPING: u8 = 2;
const STATUS_SENT: u8 = 4;

pub struct WorkerSnapshot {
    pub worker: usize,
    pub projects: anyhow::Result<Vec<u8>>,
    pub next_id: u64,
    /// A cluster cut where no process sent anything since the previous cut: nothing to write.
    pub unchanged: bool,
}

/// The process's link to its workers.
pub struct Dispatch {
    senders: Vec<SyncSender<Feed>>,
    /// The global dataflow frontier as seen by this process (published by its first worker).
    pub frontier: Arc<AtomicU64>,
    /// Cluster checkpoints: the statuses processes reported at each cut.
    pub reports: Arc<Mutex<CutReports>>,
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
    pub fn snapshot(&self, through: u64, cut: Option<CutReport>) -> anyhow::Result<Vec<WorkerSnapshot>> {
        let (reply, replies) = channel();
        for (worker, sender) in self.senders.iter().enumerate() {
            sender
                .send(Feed::Snapshot {
                    through,
                    cut,
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
            available: checkpoint::cluster_epochs(&checkpoints.dir, shape)?,
            dead_letter_file: checkpoints.dead_letter_file.clone(),
            views: views.clone(),
            next_id: AtomicU64::new(1),
            barrier: Barrier::new(local_workers),
            error: Mutex::new(None),
        })),
        _ => None,
    };
    let mut positions = Positions::default();
    let mut next_id = 1;
    let mut initial: Vec<Option<HashMap<ProjectId, ProjectState>>> = (0..local_workers).map(|_| Some(HashMap::default())).collect();
    let restored = match (&options.checkpoints, &cluster_restore) {
        (Some(checkpoints), None) => checkpoint::load_newest(&checkpoints.dir)?,
        _ => None,
    };
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
        let change_log = views.change_log.take();
        *views = restored.views;
        views.change_log = change_log;
        views.complete_through = positions.next_epoch;
        views.finished = false;
        tracing::info!(checkpoint = %restored.path.display(), next_epoch = positions.next_epoch, "resuming from checkpoint");
    } else if cluster_restore.is_none() {
        if let Some(path) = options.checkpoints.as_ref().and_then(|c| c.dead_letter_file.as_ref()) {
            // A fresh start: dead letters of an earlier, checkpoint-less run are not ours.
            cut_dead_letters(path, 0)?;
        }
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
    // The first epoch, apart from `frontier`: the first worker overwrites `frontier` with the
    // probe's frontier (0 until progress propagates) as soon as it runs, and a worker that
    // started its input there would hold the whole dataflow at 0.
    let start_epoch = Arc::new(AtomicU64::new(positions.next_epoch));
    let reports = Arc::new(Mutex::new(CutReports::default()));
    let dispatch = Dispatch {
        senders,
        frontier: frontier.clone(),
        reports: reports.clone(),
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
        cluster_cuts: cluster_restore.as_ref().map(|_| ClusterCuts {
            shape,
            rounds: options.checkpoint_rounds.max(1),
        }),
        views: views.clone(),
        dead_letters: options.dead_letters.clone(),
        metrics: options.metrics.clone(),
        startup: startup.clone(),
        stop: options.stop.clone(),
        mutations,
    };
    // The feeder starts once it knows where: at once for one process, after the cluster's
    // agreement on a cut otherwise.
    let (start_feeder, feeder_start) = channel::<Positions>();
    let feeder = std::thread::Builder::new()
        .name("feeder".into())
        .spawn(move || match feeder_start.recv() {
            Ok(positions) => feeder.run(dispatch, positions),
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
    let ingest = options.ingest;
    let sink = options.dead_letters;
    let worker_views = views.clone();
    let metrics = options.metrics.clone();
    let to_first_process = processes > 1;
    let worker_restore = cluster_restore.clone();
    let guards = timely::execute(config, move |worker| {
        let index = worker.index();
        let local = index - process * local_workers;
        let receiver = receivers.lock().unwrap_or_else(|p| p.into_inner())[local]
            .take()
            .expect("one receiver per worker");
        let state = OperatorState::default();
        if let Some(restore) = &worker_restore {
            let (positions, projects) = restore_cluster(worker, restore, local);
            if local == 0 {
                if let Some(positions) = positions {
                    frontier.store(positions.next_epoch, Ordering::Relaxed);
                    start_epoch.store(positions.next_epoch, Ordering::Relaxed);
                    if let Some(sender) = start_feeder.lock().unwrap_or_else(|p| p.into_inner()).take() {
                        let _ = sender.send(positions);
                    }
                }
            }
            restore.barrier.wait();
            if restore.error.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
                return;
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
        let cut_reports = reports.clone();
        let probe = worker.dataflow::<u64, _, _>(|scope| {
            let blocks = scope.input_from(&mut input);
            let outputs = Outputs {
                views,
                dead_letters: sink,
                views_in_first_process: to_first_process,
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
            build_ingest(blocks, decoder, ingest, owner, outputs, &state)
        });
        let start = start_epoch.load(Ordering::Relaxed);
        input.advance_to(start);
        status_input.advance_to(start);
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
                    // Nothing earlier will come from this worker: say so before waiting, so
                    // the frontier the wait depends on never waits for this input.
                    let epoch = block.index;
                    if epoch > *input.time() {
                        input.advance_to(epoch);
                    }
                    // Parks rather than spins while waiting: on two cores a spinning worker
                    // takes time from the feeder and the other worker, whose data wakes it.
                    while probe.less_than(&horizon) {
                        worker.step_or_park(Some(Duration::from_millis(1)));
                        publish(&probe);
                    }
                    input.send(block);
                    worker.step();
                }
                Ok(Feed::Advance(epoch)) => {
                    if epoch > *input.time() {
                        input.advance_to(epoch);
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
                    }
                    if through > *status_input.time() {
                        status_input.advance_to(through);
                    }
                    while probe.less_than(&through) || status_probe.less_than(&through) {
                        worker.step_or_park(Some(Duration::from_millis(1)));
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
                Err(TryRecvError::Empty) => {
                    worker.step_or_park(Some(Duration::from_millis(1)));
                }
                Err(TryRecvError::Disconnected) => break,
            }
            publish(&probe);
        }
        drop(input);
        drop(status_input);
        while !probe.done() {
            worker.step_or_park(Some(Duration::from_millis(1)));
            publish(&probe);
        }
        publish(&probe);
    })
    .map_err(|e| anyhow::anyhow!("cannot start workers: {e}"))?;
    let outcomes = guards.join();
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
    Ok(())
}

/// A dataflow input of vectors of `D` at epochs.
type VecInput<D> = InputHandle<u64, CapacityContainerBuilder<Vec<D>>>;
/// Records a worker's inspect operator collects for it.
type Collected<D> = Rc<RefCell<Vec<D>>>;
/// A project and its postcard-encoded state, on its way to its owner.
type EncodedProject = (ProjectId, Vec<u8>);
/// (cut, process, status code): a process's status at a cut.
type StatusRecord = (u64, u64, u8);

/// What a checkpointing cluster's restore shares between a process's workers.
struct ClusterRestore {
    dir: PathBuf,
    shape: checkpoint::ClusterShape,
    /// This process's valid checkpoint epochs.
    available: Vec<u64>,
    dead_letter_file: Option<PathBuf>,
    views: Arc<RwLock<IssueViews>>,
    next_id: AtomicU64,
    /// Local workers wait here until the process's restore is complete.
    barrier: Barrier,
    error: Mutex<Option<anyhow::Error>>,
}

impl ClusterRestore {
    fn fail(&self, error: anyhow::Error) {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(error);
    }
}

/// The restore of a checkpointing cluster, run by every worker before the ingest dataflow:
/// (1) a small dataflow broadcasts each process's valid checkpoint epochs and every worker
/// picks the newest common one ([`checkpoint::agree`]); (2) each process's first worker loads
/// its checkpoint of that cut and a second dataflow sends every project's state to the
/// worker that owns it now (by project route over all workers, so the worker count may
/// change) and a copy to worker 0, which rebuilds the views' rows. Returns the process's
/// positions on its first worker (None elsewhere or on failure).
fn restore_cluster(
    worker: &mut timely::worker::Worker,
    restore: &ClusterRestore,
    local: usize,
) -> (Option<Positions>, HashMap<ProjectId, ProjectState>) {
    let index = worker.index();
    let shape = restore.shape;
    // (1) Agree on the cut.
    let lists: Collected<(u64, Vec<u64>)> = Default::default();
    let mut list_input: VecInput<(u64, Vec<u64>)> = InputHandle::new();
    let probe = ProbeHandle::new();
    let seen = lists.clone();
    worker.dataflow::<u64, _, _>(|scope| {
        scope
            .input_from(&mut list_input)
            .broadcast()
            .inspect(move |list| seen.borrow_mut().push(list.clone()))
            .probe_with(&probe);
    });
    if local == 0 {
        list_input.send((shape.process as u64, restore.available.clone()));
    }
    drop(list_input);
    while !probe.done() {
        worker.step_or_park(Some(Duration::from_millis(1)));
    }
    let mut lists = lists.take();
    lists.sort();
    let available: Vec<Vec<u64>> = lists.into_iter().map(|(_, list)| list).collect();
    let chosen = checkpoint::agree(&available);

    // (2) Load this process's part of the cut and send every project to its owner.
    let mut positions = None;
    let mut outgoing = Vec::new();
    if local == 0 {
        match load_cluster_part(restore, chosen, &available) {
            Ok((loaded, projects)) => {
                positions = Some(loaded);
                outgoing = projects;
            }
            Err(error) => restore.fail(error),
        }
    }
    let owned: Collected<EncodedProject> = Default::default();
    let rows: Collected<EncodedProject> = Default::default();
    let mut state_input: VecInput<EncodedProject> = InputHandle::new();
    let probe = ProbeHandle::new();
    let (to_owner, to_first) = (owned.clone(), rows.clone());
    worker.dataflow::<u64, _, _>(|scope| {
        let states = scope.input_from(&mut state_input);
        states
            .clone()
            .exchange(|(project, _)| project_route(*project))
            .inspect(move |state| to_owner.borrow_mut().push(state.clone()))
            .probe_with(&probe);
        // Worker 0 holds the views, whose rows are rebuilt from the project states.
        states
            .exchange(|_| 0)
            .inspect(move |state| to_first.borrow_mut().push(state.clone()))
            .probe_with(&probe);
    });
    for item in outgoing {
        state_input.send(item);
    }
    drop(state_input);
    while !probe.done() {
        worker.step_or_park(Some(Duration::from_millis(1)));
    }
    let mut projects = HashMap::default();
    for (project, bytes) in owned.take() {
        match postcard::from_bytes::<ProjectState>(&bytes) {
            Ok(state) => {
                projects.insert(project, state);
            }
            Err(error) => restore.fail(anyhow::anyhow!("project {project}'s checkpointed state does not decode: {error}")),
        }
    }
    if index == 0 {
        let mut views = restore.views.write().unwrap_or_else(|p| p.into_inner());
        for (project, bytes) in rows.take() {
            // A state that does not decode was reported above, by its owner.
            let Ok(state) = postcard::from_bytes::<ProjectState>(&bytes) else {
                continue;
            };
            for (short_id, row) in state.rows() {
                views.restore_row(dataflows::state::GroupKey { project, short_id }, row.clone());
            }
        }
    }
    (positions, projects)
}

/// Loads this process's checkpoint of the chosen cut (discarding newer ones), cuts the
/// dead-letter file back, and on process 0 restores the views and the id counter. Returns
/// the positions and every project's encoded state.
fn load_cluster_part(
    restore: &ClusterRestore,
    chosen: Option<u64>,
    available: &[Vec<u64>],
) -> anyhow::Result<(Positions, Vec<EncodedProject>)> {
    if chosen.is_none() && available.iter().any(|list| !list.is_empty()) {
        tracing::warn!(
            ?available,
            "no checkpoint is common to every process of the cluster: starting afresh"
        );
    }
    checkpoint::discard_cluster_after(&restore.dir, restore.shape, chosen)?;
    let Some(epoch) = chosen else {
        if let Some(path) = &restore.dead_letter_file {
            cut_dead_letters(path, 0)?;
        }
        return Ok((Positions::default(), Vec::new()));
    };
    let restored = checkpoint::load_cluster(&restore.dir, restore.shape, epoch)?;
    if restored.positions.next_epoch != epoch {
        anyhow::bail!(
            "{} holds epoch {}, not the {epoch} its name says",
            restored.path.display(),
            restored.positions.next_epoch
        );
    }
    if let Some(path) = &restore.dead_letter_file {
        cut_dead_letters(path, restored.positions.dead_letter_bytes.unwrap_or(0))?;
    }
    if restore.shape.process == 0 {
        restore.next_id.store(restored.next_id, Ordering::Relaxed);
        let mut views = restore.views.write().unwrap_or_else(|p| p.into_inner());
        let change_log = views.change_log.take();
        *views = restored.views;
        views.change_log = change_log;
        views.complete_through = epoch;
        views.finished = false;
    }
    let mut outgoing = Vec::with_capacity(restored.projects.len());
    for (project, state) in &restored.projects {
        outgoing.push((*project, postcard::to_stdvec(state).context("cannot encode a project's state")?));
    }
    tracing::info!(checkpoint = %restored.path.display(), next_epoch = epoch, "the cluster resumes from a common checkpoint");
    Ok((restored.positions, outgoing))
}

/// Cuts the dead-letter file back to what the checkpoint covers: rejections after it are
/// produced again by the replay.
fn cut_dead_letters(path: &std::path::Path, length: u64) -> anyhow::Result<()> {
    match std::fs::OpenOptions::new().write(true).open(path) {
        // A device or pipe (`/dev/null`, a FIFO) keeps nothing to cut back.
        Ok(file) if !file.metadata().is_ok_and(|m| m.is_file()) => Ok(()),
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
