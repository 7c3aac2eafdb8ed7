//! The feeder's link to the workers of its process: what it sends them, and what they send
//! back at a checkpoint (their state and, in a checkpointing cluster, the processes' reports).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, SendError, Sender, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use dataflows::model::block::InputBlock;

/// What the feeder sends a worker.
pub enum Feed {
    /// A block to process once the dataflow has completed every epoch before `horizon`
    /// (this bounds the epochs in flight, and so memory).
    Block { block: Arc<InputBlock>, horizon: u64 },
    /// The worker will receive no block before this epoch.
    Advance(u64),
    /// Announce a cluster cut (or with `point`, a mutation point) at this epoch to every
    /// process (sent at the worker's current input time, which the announcing feeder keeps at
    /// least a lookahead before it).
    Announce { epoch: u64, point: bool },
    /// Tell every process this process's partition offsets at a mutation point.
    Offsets { point: u64, offsets: Vec<PartitionAt> },
    /// The logged mutations to replay (each as every partition's offsets), from process 0 to
    /// every process; every worker closes the plan's input after it.
    Plan(Vec<Vec<(i32, i64)>>),
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
    pub(crate) fn record(&mut self, cut: u64, code: u8) {
        let entry = self.by_cut.entry(cut).or_default();
        if code & STATUS_FINISHED != 0 {
            entry.0 += 1;
        }
        entry.1 |= code & STATUS_STOPPING != 0;
        entry.2 |= code & STATUS_SENT != 0;
    }

    /// Whether some process sent blocks before `cut` since the previous cut (complete once
    /// the cut's drain is).
    pub(crate) fn active(&self, cut: u64) -> bool {
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

pub(crate) const STATUS_FINISHED: u8 = 1;
pub(crate) const STATUS_STOPPING: u8 = 2;
pub(crate) const STATUS_SENT: u8 = 4;

pub struct WorkerSnapshot {
    pub worker: usize,
    pub projects: anyhow::Result<Vec<u8>>,
    pub next_id: u64,
    /// A cluster cut where no process sent anything since the previous cut: nothing to write.
    pub unchanged: bool,
}

/// The feeder's channel to one worker. An idle worker parks for up to [`IDLE_PARK_MAX`]
/// (see the worker loop), so every send unparks it: a block or a checkpoint's drain never
/// waits for the park to time out.
pub struct WorkerLink {
    sender: SyncSender<Feed>,
    /// The worker's thread, set by the worker before it first looks at its channel (a send
    /// before that finds the message there without a wake-up).
    thread: Arc<OnceLock<Thread>>,
}

impl WorkerLink {
    /// A link and the worker's end of it (its channel and the slot for its thread).
    pub fn new(bound: usize) -> (WorkerLink, Receiver<Feed>, Arc<OnceLock<Thread>>) {
        let (sender, receiver) = sync_channel(bound);
        let thread = Arc::new(OnceLock::new());
        (
            WorkerLink {
                sender,
                thread: thread.clone(),
            },
            receiver,
            thread,
        )
    }

    fn send(&self, feed: Feed) -> Result<(), SendError<Feed>> {
        let sent = self.sender.send(feed);
        self.wake();
        sent
    }

    /// Closes the channel, then wakes the worker to see it.
    fn close(self) {
        drop(self.sender);
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }

    fn wake(&self) {
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }
}

/// How long an idle worker parks at most between looks at its channel ([`IdlePark`]).
pub const IDLE_PARK_MAX: Duration = Duration::from_millis(64);
const IDLE_PARK_FIRST: Duration = Duration::from_millis(1);

/// The parks of a worker with nothing in its channel: 1 ms, doubling up to [`IDLE_PARK_MAX`]
/// while each runs out, and 1 ms again once something woke it early (a send, another
/// worker's data, the views' writer) or came through its channel. At 1 ms throughout, an
/// idle `run` woke each worker 1,000 times a second, ~3.4 % of a core each. Every wake-up
/// the loop needs comes as an unpark ([`WorkerLink`], timely's channels and activators), so
/// the longer parks cost no latency; one that did not would wait at most the current park.
pub struct IdlePark {
    next: Duration,
}

impl Default for IdlePark {
    fn default() -> Self {
        IdlePark { next: IDLE_PARK_FIRST }
    }
}

impl IdlePark {
    /// Something came: the next park is short again.
    pub fn reset(&mut self) {
        self.next = IDLE_PARK_FIRST;
    }

    /// Runs `park` (which steps the dataflow, parking at most the duration given), then
    /// decides the next park by whether it ran out.
    pub fn wait(&mut self, park: impl FnOnce(Duration)) {
        let started = std::time::Instant::now();
        park(self.next);
        self.parked_for(started.elapsed());
    }

    /// The next park after one of `parked` (of at most `self.next`).
    fn parked_for(&mut self, parked: Duration) {
        self.next = if parked < self.next {
            IDLE_PARK_FIRST
        } else {
            (self.next * 2).min(IDLE_PARK_MAX)
        };
    }
}

/// The process's link to its workers.
pub struct Dispatch {
    pub(crate) senders: Vec<WorkerLink>,
    /// The global dataflow frontier as seen by this process (published by its first worker).
    pub frontier: Arc<AtomicU64>,
    /// Cluster checkpoints: the statuses processes reported at each cut.
    pub reports: Arc<Mutex<CutReports>>,
    /// Cluster checkpoints: the cut epochs announced so far, by any process.
    pub announced: Arc<Mutex<BTreeSet<u64>>>,
    /// Every announcement made before this epoch is in `announced` and `points`.
    pub announced_through: Arc<AtomicU64>,
    /// Cluster mutation points announced so far (by process 0).
    pub points: Arc<Mutex<BTreeSet<u64>>>,
    /// Each process's partition offsets at each mutation point, as received.
    pub point_offsets: Arc<Mutex<PointOffsets>>,
    /// The replay plan as received (index, offsets), and whether it is complete.
    pub plan: Arc<Mutex<Vec<PlanEntry>>>,
    pub plan_complete: Arc<AtomicBool>,
    /// The epoch of the last [`Dispatch::advance_all`]: every worker's input is there (or
    /// later, as blocks advance it too), so advancing to it again would be a no-op that only
    /// wakes the workers (an idle Kafka feeder advances after every poll).
    pub advanced: AtomicU64,
}

/// A logged mutation to replay: its index in the plan, every partition's offsets.
pub type PlanEntry = (u64, Vec<(i32, i64)>);
/// Where a partition stands at a mutation point: (partition, next offset, read to its end).
pub type PartitionAt = (i32, i64, bool);
/// (point, process, its partitions' positions): a process's report at a mutation point.
pub type OffsetsReport = (u64, u64, Vec<PartitionAt>);

/// Offsets reported at mutation points: point → process → its partitions' positions.
pub type PointOffsets = BTreeMap<u64, BTreeMap<u64, Vec<PartitionAt>>>;

impl Dispatch {
    pub fn local_workers(&self) -> usize {
        self.senders.len()
    }

    pub fn block(&self, worker: usize, block: Arc<InputBlock>, horizon: u64) -> anyhow::Result<()> {
        // A wrapped sequence number would misorder the log and lose its dead letters.
        dataflows::model::check_block(block.index).map_err(anyhow::Error::msg)?;
        self.senders[worker]
            .send(Feed::Block { block, horizon })
            .map_err(|_| anyhow::anyhow!("worker {worker} stopped"))
    }

    /// Announces a cluster cut or mutation point (through the first local worker).
    pub fn announce(&self, epoch: u64, point: bool) -> anyhow::Result<()> {
        let set = if point { &self.points } else { &self.announced };
        set.lock().unwrap_or_else(|p| p.into_inner()).insert(epoch);
        self.senders[0]
            .send(Feed::Announce { epoch, point })
            .map_err(|_| anyhow::anyhow!("worker 0 stopped"))
    }

    /// The first announced mutation point after `after`, if any.
    pub fn next_point(&self, after: u64) -> Option<u64> {
        let points = self.points.lock().unwrap_or_else(|p| p.into_inner());
        points.range(after + 1..).next().copied()
    }

    /// Sends this process's offsets at a mutation point to every process.
    pub fn report_offsets(&self, point: u64, offsets: Vec<PartitionAt>) -> anyhow::Result<()> {
        self.senders[0]
            .send(Feed::Offsets { point, offsets })
            .map_err(|_| anyhow::anyhow!("worker 0 stopped"))
    }

    /// Sends the replay plan (process 0; empty elsewhere) and closes every worker's plan input.
    pub fn send_plan(&self, plan: Vec<Vec<(i32, i64)>>) -> anyhow::Result<()> {
        let mut plan = Some(plan);
        for (worker, sender) in self.senders.iter().enumerate() {
            sender
                .send(Feed::Plan(plan.take().unwrap_or_default()))
                .map_err(|_| anyhow::anyhow!("worker {worker} stopped"))?;
        }
        Ok(())
    }

    /// The first announced cut after `after`, if any.
    pub fn next_announced(&self, after: u64) -> Option<u64> {
        let announced = self.announced.lock().unwrap_or_else(|p| p.into_inner());
        announced.range(after + 1..).next().copied()
    }

    pub fn advance_all(&self, epoch: u64) -> anyhow::Result<()> {
        if self.advanced.fetch_max(epoch, Ordering::Relaxed) >= epoch {
            return Ok(());
        }
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

/// Blocks queued per worker (the feeder's channels, and parse-only's).
pub const IN_FLIGHT_PER_WORKER: u64 = 4;

impl Drop for Dispatch {
    /// The channels close first, then their workers wake to see it.
    fn drop(&mut self) {
        for link in self.senders.drain(..) {
            link.close();
        }
    }
}

/// Epochs a file or mutation block may run ahead of the dataflow, per worker: a worker sends
/// block `e` only once every epoch before `e − HORIZON_PER_WORKER × workers` is in the views.
/// Each epoch in flight holds its records' containers, text chunks and line list, so a
/// shallower pipeline touches fewer fresh pages (at 1, a 1M-line backfill's peak anonymous
/// memory was 13–15 % lower), but the workers then wait on each other: at 1 and at 2 the
/// backfill's rate fell 6–20 % against 4 (docs/benchmark-history.md, session 14). With the
/// views' writer thread (session 20) the workers also wait for it, whose work comes in
/// bursts: at 4 each worker of a 2-worker 10M-line backfill still waited 0.8–1.4 s on the
/// horizon, at 16 not at all, and the rate rose ~9 % (BENCHMARKS.md) for ~4 % more peak
/// memory. Epochs (one per block) do not depend on it.
pub const HORIZON_PER_WORKER: u64 = 16;

#[cfg(test)]
mod tests {
    use super::*;

    fn dispatch_to(link: WorkerLink) -> Dispatch {
        Dispatch {
            senders: vec![link],
            frontier: Default::default(),
            reports: Default::default(),
            announced: Default::default(),
            announced_through: Default::default(),
            points: Default::default(),
            point_offsets: Default::default(),
            plan: Default::default(),
            plan_complete: Default::default(),
            advanced: Default::default(),
        }
    }

    /// Advancing to an epoch the workers have reached sends nothing: every send wakes them,
    /// and an idle Kafka feeder advances after each poll.
    #[test]
    fn only_advances_to_a_later_epoch_are_sent() {
        let (link, receiver, _thread) = WorkerLink::new(16);
        let dispatch = dispatch_to(link);
        for epoch in [3, 3, 2, 4, 4, 9, 0] {
            dispatch.advance_all(epoch).expect("the receiver is there");
        }
        let sent: Vec<u64> = receiver
            .try_iter()
            .map(|feed| match feed {
                Feed::Advance(epoch) => epoch,
                _ => panic!("only advances are sent"),
            })
            .collect();
        assert_eq!(sent, [3, 4, 9]);
    }

    /// A worker parked for long (as `IdlePark` lets it) is woken by each send and by the
    /// channel's close: it acknowledges each before the next is sent, within 10 s, where
    /// without the unparks it would sleep out its 60 s parks.
    #[test]
    fn sends_and_the_close_wake_a_parked_worker() {
        let (link, receiver, thread) = WorkerLink::new(4);
        let (ack, acks) = channel();
        let worker = std::thread::spawn(move || {
            let _ = thread.set(std::thread::current());
            loop {
                match receiver.try_recv() {
                    Ok(Feed::Advance(epoch)) => ack.send(Some(epoch)).expect("the test waits"),
                    Ok(_) => panic!("only advances are sent"),
                    Err(std::sync::mpsc::TryRecvError::Empty) => std::thread::park_timeout(Duration::from_secs(60)),
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => return ack.send(None).expect("the test waits"),
                }
            }
        });
        let dispatch = dispatch_to(link);
        let within = Duration::from_secs(10);
        for epoch in 1..=3 {
            // Time to park before each send.
            std::thread::sleep(Duration::from_millis(50));
            dispatch.advance_all(epoch).expect("the worker is there");
            assert_eq!(acks.recv_timeout(within), Ok(Some(epoch)), "the worker saw epoch {epoch}");
        }
        std::thread::sleep(Duration::from_millis(50));
        drop(dispatch);
        assert_eq!(acks.recv_timeout(within), Ok(None), "the worker saw the close");
        worker.join().expect("the worker ends");
    }

    #[test]
    fn idle_parks_double_until_something_wakes_the_worker() {
        let mut idle = IdlePark::default();
        let mut asked = Vec::new();
        for _ in 0..9 {
            // Each park runs out.
            asked.push(idle.next.as_millis());
            idle.parked_for(idle.next);
        }
        assert_eq!(asked, vec![1, 2, 4, 8, 16, 32, 64, 64, 64]);
        // Woken before the time was up: short again.
        idle.parked_for(idle.next / 2);
        assert_eq!(idle.next, IDLE_PARK_FIRST);
        idle.parked_for(idle.next);
        idle.reset();
        assert_eq!(idle.next, IDLE_PARK_FIRST);
        // `wait` hands the park its duration.
        let mut given = None;
        idle.wait(|park| given = Some(park));
        assert_eq!(given, Some(IDLE_PARK_FIRST));
    }
}
