//! Sinks: apply each completed epoch to the views, and write dead letters in log order.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;
use timely::scheduling::{Activator, SyncActivator};

use super::epoch_of;

pub use super::dead_letters::dead_letter_json;
use crate::model::block::DeadLetter;
use crate::state::GroupKey;
use crate::views::IssueViews;
pub use writer::ViewsWriter;

/// How a sink may cut an epoch's updates into slices applied under separate write locks.
pub enum Slicing<D> {
    /// All at once (small collections: symbols, counters, merges).
    Whole,
    /// Between groups: every update of one group (by this key) stays in one slice, in its
    /// order, so a reader never sees half of a group's change (a row retracted but its new
    /// row not yet inserted, or hours without their per-environment split).
    ByGroup(fn(&D) -> GroupKey),
}

// By hand: a derive would ask `D: Copy`.
impl<D> Clone for Slicing<D> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<D> Copy for Slicing<D> {}

/// Updates per slice: a slice applies in well under [`crate::views::HOLD`].
const SLICE: usize = 256;

/// Cuts one epoch's updates (its containers, in arrival order) into slices (see
/// [`Slicing`]); done before taking the lock. Groups are spread over the slices by a hash of
/// their key, so every update of a group lands in the same slice, in arrival order, without
/// sorting the epoch (a stable sort of every update was ~5% of a backfill's time, half of it
/// the kernel zeroing its scratch buffer). Slices hold about [`SLICE`] updates each.
fn slices<D>(containers: Vec<Vec<(D, u64, isize)>>, slicing: Slicing<D>) -> Vec<Vec<(D, u64, isize)>> {
    let total: usize = containers.iter().map(Vec::len).sum();
    let key_of = match slicing {
        Slicing::ByGroup(key_of) if total > SLICE => key_of,
        _ => return vec![concat(containers)],
    };
    let count = total.div_ceil(SLICE);
    // Each update's slice first, so that every slice is allocated at its size: a group with
    // many updates (a busy group's details) overflowed a slice's estimate and regrew it.
    let mut sizes = vec![0usize; count];
    let mut which: Vec<u32> = Vec::with_capacity(total);
    for container in &containers {
        for update in container {
            let slice = slice_of(key_of(&update.0), count);
            sizes[slice] += 1;
            which.push(slice as u32);
        }
    }
    let mut out: Vec<Vec<(D, u64, isize)>> = sizes.iter().map(|&n| Vec::with_capacity(n)).collect();
    let mut from = 0;
    for container in containers {
        let to = from + container.len();
        // Zipped with a slice (not an iterator over `which`): the pair is indexed in step.
        for (update, &slice) in container.into_iter().zip(&which[from..to]) {
            out[slice as usize].push(update);
        }
        from = to;
    }
    out.retain(|slice| !slice.is_empty());
    out
}

/// Which of `count` slices group `key` goes to.
fn slice_of(key: GroupKey, count: usize) -> usize {
    let mixed = (key.project ^ ((u64::from(key.short_id) << 32) | u64::from(key.short_id))).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (((mixed >> 32) * count as u64) >> 32) as usize
}

/// The slices of one worker's sinks, in the order the sinks found them ready, on their way
/// to the views' writer ([`ViewsWriter`]), and the capabilities that wait for them: a sink
/// keeps each epoch's capability until the writer has applied every slice queued before
/// it, so the probe never passes an epoch whose changes are not in the views. The worker
/// itself never waits for the write lock.
#[derive(Clone)]
pub struct ApplyQueue(Rc<RefCell<Queue>>);

struct Queue {
    writer: ViewsWriter,
    /// Slices queued and not yet sent.
    pending: Vec<writer::SendSlice>,
    /// How many slices this worker has queued.
    queued: u64,
    /// How many of them the writer has applied.
    applied: writer::Applied,
    /// Each ended epoch's capability, with the count of slices queued before it (its ticket)
    /// and its sink's activator (a capability dropped elsewhere reaches the progress tracking
    /// when its own operator next runs).
    waiting: VecDeque<(u64, Capability<u64>, Activator)>,
}

impl ApplyQueue {
    /// A queue whose slices `writer` applies.
    pub fn new(writer: ViewsWriter) -> Self {
        Self(Rc::new(RefCell::new(Queue {
            writer,
            pending: Vec::new(),
            queued: 0,
            applied: Default::default(),
            waiting: VecDeque::new(),
        })))
    }

    /// Queues one sink's epoch: its slices, then its capability, held until they are applied.
    fn queue_epoch(&self, slices: impl IntoIterator<Item = writer::SendSlice>, cap: Capability<u64>, activator: Activator) {
        let mut queue = self.0.borrow_mut();
        for slice in slices {
            queue.pending.push(slice);
            queue.queued += 1;
        }
        let ticket = queue.queued;
        queue.waiting.push_back((ticket, cap, activator));
    }

    /// Whether capabilities wait for the writer.
    fn busy(&self) -> bool {
        !self.0.borrow().waiting.is_empty()
    }

    /// Hands the queued slices to the writer and releases the capabilities whose slices it
    /// has applied; `wake` is the calling sink, woken when its batch is applied.
    fn hand_over(&self, wake: &SyncActivator) {
        let mut queue = self.0.borrow_mut();
        if !queue.pending.is_empty() {
            let batch = writer::Batch {
                slices: std::mem::take(&mut queue.pending),
                notify: Some(writer::Notify {
                    applied: queue.applied.clone(),
                    wake: wake.clone(),
                }),
            };
            // The writer ends only once every sender is gone, or aborts the process.
            queue
                .writer
                .batches
                .send(batch)
                .expect("the views' writer runs as long as a sink can send");
        }
        let applied = queue.applied.load(std::sync::atomic::Ordering::Acquire);
        while queue.waiting.front().is_some_and(|(ticket, ..)| *ticket <= applied) {
            if let Some((_, cap, activator)) = queue.waiting.pop_front() {
                drop(cap);
                activator.activate();
            }
        }
    }
}

/// Applies a collection's updates to the views once their epoch is complete, in time order.
/// An epoch is applied in slices ([`Slicing`]) under write locks of about
/// [`crate::views::HOLD`] each, waiting readers let in between them, so a reader waits for
/// a slice rather than an epoch. Readers can see an epoch partly applied — as they could
/// already between the sinks of one epoch — but never a group half-changed by this sink.
/// Emits nothing; probe it to know what is applied (only once every slice is). In a
/// multi-process cluster the updates travel to the first worker, whose process serves the
/// views; within one process every worker hands its own share to the views' writer, through
/// `queue` (one per worker, shared by its sinks: [`ApplyQueue`]).
pub fn apply_at_frontier<'scope, D: timely::ExchangeData>(
    updates: Stream<'scope, u64, Vec<(D, u64, isize)>>,
    apply: fn(&mut IssueViews, Vec<(D, u64, isize)>),
    slicing: Slicing<D>,
    to_first_process: bool,
    queue: &ApplyQueue,
) -> Stream<'scope, u64, Vec<()>> {
    let scope = updates.scope();
    let queue = queue.clone();
    // One operator body for both channel kinds (their closure types differ).
    macro_rules! applier {
        () => {
            move |_, info: timely::dataflow::operators::generic::OperatorInfo| {
                let wake = scope.worker().sync_activator_for(info.address.to_vec());
                let activator = scope.activator_for(info.address);
                // Each stashed epoch keeps a capability until it is applied, so the probe (and
                // with it readiness and checkpoints) cannot pass an epoch whose changes are
                // not yet in the views.
                // The containers are kept as they arrive and joined once, at their exact total
                // size: appending each to the epoch's vector regrew (and re-faulted) it.
                let mut pending: super::Stash<Capability<u64>, Vec<(D, u64, isize)>> = BTreeMap::new();
                move |(input, frontier), _output| {
                    input.for_each(|cap, data| {
                        pending
                            .entry(epoch_of(&cap))
                            .or_insert_with(|| (cap.retain_least(0).expect("an input stamp has a time"), Vec::new()))
                            .1
                            .push(std::mem::take(data))
                    });
                    let mut closed = false;
                    while let Some((_, (cap, containers))) = super::pop_closed(&mut pending, |e| frontier.less_equal(e)) {
                        let sliced = slices(containers, slicing).into_iter();
                        let boxed =
                            sliced.map(|slice| -> writer::SendSlice { Box::new(move |views: &mut IssueViews| apply(views, slice)) });
                        queue.queue_epoch(boxed, cap, activator.clone());
                        closed = true;
                    }
                    if closed || queue.busy() {
                        queue.hand_over(&wake);
                    }
                }
            }
        };
    }
    type Unit = timely::container::CapacityContainerBuilder<Vec<()>>;
    if to_first_process {
        updates.unary_frontier::<Unit, _, _, _>(Exchange::new(|_: &(D, u64, isize)| 0), "ApplyToViews", applier!())
    } else {
        updates.unary_frontier::<Unit, _, _, _>(Pipeline, "ApplyToViews", applier!())
    }
}

/// The containers' updates in order, in one vector.
fn concat<T>(mut containers: Vec<Vec<T>>) -> Vec<T> {
    if containers.len() == 1 {
        return containers.pop().unwrap_or_default();
    }
    let mut all = Vec::with_capacity(containers.iter().map(Vec::len).sum());
    for mut container in containers {
        all.append(&mut container);
    }
    all
}

/// A destination for dead letters (a JSON-lines file, a Kafka topic).
pub trait DeadLetterWriter: Send {
    fn write(&mut self, letter: &DeadLetter) -> std::io::Result<()>;
    fn flush(&mut self) -> std::io::Result<()>;

    /// Flushes and makes the letters written so far durable; a file says its length, which
    /// a checkpoint records and a restart cuts the file back to.
    fn sync(&mut self) -> std::io::Result<Option<u64>> {
        self.flush().map(|()| None)
    }

    /// Whether the letters may come rendered as JSON lines ([`dead_letter_json`] and a
    /// newline; see [`DeadLetterWriter::write_json_line`]): then the worker that rejected a
    /// line renders it, and the first worker, which writes every letter, only writes.
    fn writes_json_lines(&self) -> bool {
        false
    }

    /// Writes `letter`, rendered as `line` (what `writes_json_lines` asks for).
    fn write_json_line(&mut self, letter: &DeadLetter, line: &[u8]) -> std::io::Result<()> {
        let _ = line;
        self.write(letter)
    }
}

/// Where dead letters go, shared by the workers (only worker 0 writes).
pub type DeadLetterSink = Arc<Mutex<Option<Box<dyn DeadLetterWriter>>>>;

/// Dead letters as JSON lines `{"source", "line", "offset", "reason", "raw"}` (`raw_base64`
/// when the bytes are not UTF-8; for a Kafka message `partition` and `offset`, its Kafka
/// offset, and no `line`).
pub struct JsonLinesDeadLetters<W: Write + Send>(pub W);

impl<W: Write + Send> DeadLetterWriter for JsonLinesDeadLetters<W> {
    fn write(&mut self, letter: &DeadLetter) -> std::io::Result<()> {
        self.0.write_all(&json_line(letter))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }

    fn writes_json_lines(&self) -> bool {
        true
    }

    fn write_json_line(&mut self, _letter: &DeadLetter, line: &[u8]) -> std::io::Result<()> {
        self.0.write_all(line)
    }
}

/// A dead letter's JSON line, newline included.
fn json_line(letter: &DeadLetter) -> Vec<u8> {
    let mut line = dead_letter_json(letter);
    line.push(b'\n');
    line
}

pub fn write_dead_letters<'scope>(letters: Stream<'scope, u64, Vec<DeadLetter>>, sink: DeadLetterSink) -> Stream<'scope, u64, Vec<()>> {
    // Rendered where the line was rejected: the first worker writes every letter, and
    // rendering them all there kept the other workers waiting for it.
    let render = sink
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .as_ref()
        .is_some_and(|writer| writer.writes_json_lines());
    let letters = letters.map(move |letter| {
        let line = render.then(|| json_line(&letter));
        (letter, line)
    });
    letters.unary_frontier::<timely::container::CapacityContainerBuilder<Vec<()>>, _, _, _>(
        Exchange::new(|_: &(DeadLetter, Option<Vec<u8>>)| 0),
        "WriteDeadLetters",
        move |_, _| {
            // Capabilities held until written, as in `apply_at_frontier`: a checkpoint must not
            // pass dead letters that are not yet written.
            let mut pending: super::Stash<Capability<u64>, (DeadLetter, Option<Vec<u8>>)> = BTreeMap::new();
            // After a failed write (an unwritable path, a full disk) the writer refuses every
            // later one, and the run fails at its next flush with that first error: it is
            // logged once, not once per rejected line.
            let mut failed = false;
            move |(input, frontier), _output| {
                input.for_each(|cap, data| {
                    pending
                        .entry(epoch_of(&cap))
                        .or_insert_with(|| (cap.retain_least(0).expect("an input stamp has a time"), Vec::new()))
                        .1
                        .append(data)
                });
                while let Some((_, (_cap, mut letters))) = super::pop_closed(&mut pending, |e| frontier.less_equal(e)) {
                    letters.sort_unstable_by_key(|(l, _)| l.seq);
                    // One line per epoch at `info`; each letter (already in the dead-letter
                    // file) at `debug`: formatting a log line per letter was ~1.5% of a
                    // backfill with 2% bad lines.
                    if let Some((first, _)) = letters.first() {
                        tracing::info!(count = letters.len(), source = %first.source, first_line = first.line, first_reason = %first.reason, "dead letters");
                    }
                    for (letter, _) in &letters {
                        tracing::debug!(source = %letter.source, partition = ?letter.partition, line = letter.line, reason = %letter.reason, "dead letter");
                    }
                    let mut guard = sink.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    if let Some(writer) = guard.as_mut() {
                        for (letter, line) in &letters {
                            let written = match line {
                                Some(line) => writer.write_json_line(letter, line),
                                None => writer.write(letter),
                            };
                            if let Err(error) = written {
                                if !failed {
                                    tracing::error!(%error, "cannot write dead letters");
                                }
                                failed = true;
                            }
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests;
mod writer;
