//! The views' writer thread: applies the sinks' slices in the background, so a worker hands
//! an epoch's view changes over and goes on parsing and ingesting instead of applying them
//! under the views' write lock itself.
//!
//! Each worker's slices travel in the order its sinks queued them, through one channel, so
//! the views see each worker's changes in the same order as when the worker applied them
//! (only the interleaving of workers changes, which was never fixed). A sink keeps each
//! epoch's capability until the writer reports every slice before it applied
//! ([`Applied`]), so the probe — and with it readiness and checkpoints — still never
//! passes an epoch whose changes are not in the views.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use timely::scheduling::SyncActivator;

use crate::state::GroupRow;
use crate::views::IssueViews;

/// One slice of a sink's updates, applied on the writer thread.
pub(super) type SendSlice = Box<dyn FnOnce(&mut IssueViews) + Send>;

/// How many of one worker's slices the writer has applied (it counts up; the worker
/// compares it with the tickets of its held capabilities).
pub(super) type Applied = Arc<AtomicU64>;

/// Slices of one worker, in its order, and whom to tell when they are applied (nobody for
/// a [`ViewsWriter::run`] job).
pub(super) struct Batch {
    pub(super) slices: Vec<SendSlice>,
    pub(super) notify: Option<Notify>,
}

/// How the writer tells a worker that slices are applied.
pub(super) struct Notify {
    pub(super) applied: Applied,
    /// The sink operator that sent the batch: woken once it is applied, to release the
    /// capabilities it was waiting for.
    pub(super) wake: SyncActivator,
}

/// A handle on the views' writer thread: clone one into each worker. The thread ends once
/// every handle is dropped and what they sent is applied.
#[derive(Clone)]
pub struct ViewsWriter {
    pub(super) batches: Sender<Batch>,
}

impl ViewsWriter {
    /// Starts the writer thread of `views`.
    pub fn spawn(views: Arc<RwLock<IssueViews>>) -> std::io::Result<(ViewsWriter, std::thread::JoinHandle<()>)> {
        let (batches, received) = channel();
        let thread = std::thread::Builder::new().name("views-writer".to_owned()).spawn(move || {
            let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write_views(&views, &received)));
            if written.is_err() {
                // The sinks hold their epochs until the writer applies them: without it the
                // workers would wait forever, and the views miss changes. Stop loudly.
                tracing::error!("the views' writer panicked: stopping the process");
                std::process::abort();
            }
        })?;
        Ok((ViewsWriter { batches }, thread))
    }

    /// Runs `job` on the writer thread, after what was sent before; nobody waits for it.
    pub fn run(&self, job: impl FnOnce(&mut IssueViews) + Send + 'static) -> bool {
        let batch = Batch {
            slices: vec![Box::new(job)],
            notify: None,
        };
        self.batches.send(batch).is_ok()
    }
}

/// The writer thread: applies batches as they come, under write locks of about
/// [`crate::views::HOLD`], letting waiting readers in between holds.
fn write_views(views: &RwLock<IssueViews>, received: &Receiver<Batch>) {
    let mut tally = Tally {
        started: crate::views::ThreadTimes::now(),
        batches: 0,
        slices: 0,
    };
    let mut released: Vec<Arc<GroupRow>> = Vec::new();
    // The batch being applied (it may outlast a hold), and the batches finished in this
    // hold with how many of their slices it applied.
    let mut current: Option<(std::vec::IntoIter<SendSlice>, Option<Notify>)> = None;
    let mut done: Vec<(Notify, u64)> = Vec::new();
    loop {
        if current.is_none() {
            let Ok(batch) = received.recv() else { return };
            tally.batches += 1;
            current = Some((batch.slices.into_iter(), batch.notify));
        }
        let mut guard = super::super::waits::timed(super::super::waits::Wait::ViewsLock, || {
            views.write().unwrap_or_else(|poisoned| poisoned.into_inner())
        });
        // Only the sinks' slices are raised (`boost_write_holds`): a job (index building,
        // change feeds) may run for seconds, which it should not at a real-time priority.
        let of_sinks = |notify: &Option<Notify>| notify.is_some();
        let sinks_hold = current.as_ref().is_some_and(|(_, notify)| of_sinks(notify));
        let boost = sinks_hold.then(crate::views::boost_hold);
        let started = Instant::now();
        let times = crate::views::ThreadTimes::now();
        let mut longest = Duration::ZERO;
        let mut count = 0u64;
        // Whether the hold ended on its time rather than for want of work.
        let mut timed_out = false;
        loop {
            if let Some((slices, _)) = current.as_mut() {
                if let Some(slice) = slices.next() {
                    let step = Instant::now();
                    slice(&mut guard);
                    longest = longest.max(step.elapsed());
                    count += 1;
                    tally.slices += 1;
                }
                // A batch is done as soon as its last slice is applied, even if the hold
                // ends with it: its sink is woken after this hold, not after the next one.
                if slices.len() == 0 {
                    if let Some((_, Some(notify))) = current.take() {
                        done.push((notify, count));
                    }
                    count = 0;
                }
            }
            if started.elapsed() >= crate::views::HOLD {
                timed_out = true;
                break;
            }
            if current.is_none() {
                // More waiting: applied in the same hold while it lasts.
                match received.try_recv() {
                    Ok(batch) => {
                        tally.batches += 1;
                        let other_kind = of_sinks(&batch.notify) != sinks_hold;
                        current = Some((batch.slices.into_iter(), batch.notify));
                        if other_kind {
                            // A hold of its own, raised or not.
                            break;
                        }
                    }
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
        }
        let took = started.elapsed();
        super::super::waits::count_held(took);
        guard
            .write_holds
            .record_hold(took, crate::views::ThreadTimes::elapsed(times), longest);
        guard.released_rows(&mut released);
        drop(guard);
        drop(boost);
        released.clear();
        // A partly applied batch counts what it applied so far.
        if let Some((_, Some(notify))) = &current {
            notify.applied.fetch_add(count, Ordering::Release);
        }
        for (notify, count) in done.drain(..) {
            notify.applied.fetch_add(count, Ordering::Release);
            // Fails only once the dataflow is gone, when nothing waits any more.
            let _ = notify.wake.activate();
        }
        // More may be queued (or was left for a hold of its own): let the readers that
        // waited for this hold in before the next.
        if timed_out || current.is_some() {
            crate::views::let_readers_in();
        }
    }
}

/// The writer's work, logged (debug) when it ends: its CPU is the part of the views' upkeep
/// that one thread does for all workers.
struct Tally {
    started: Option<crate::views::ThreadTimes>,
    batches: u64,
    slices: u64,
}

impl Drop for Tally {
    fn drop(&mut self) {
        let times = crate::views::ThreadTimes::elapsed(self.started.take()).unwrap_or_default();
        let [.., lock] = super::super::waits::waited();
        tracing::debug!(
            cpu_ms = times.cpu.as_millis() as u64,
            waiting_ms = times.waiting.as_millis() as u64,
            views_lock_ms = lock.as_millis() as u64,
            views_held_ms = super::super::waits::held().as_millis() as u64,
            batches = self.batches,
            slices = self.slices,
            "views writer finished"
        );
    }
}
