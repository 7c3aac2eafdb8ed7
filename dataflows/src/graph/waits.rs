//! Where a thread waits instead of computing, per thread: a worker parked with nothing to run
//! (by the reason the worker loop gives), the views' writer blocked on the write lock (readers
//! hold it). Read once per thread when it finishes (`RUST_LOG=debug`, "worker finished",
//! "views writer finished"), to see where the cores sit idle during a backfill, and how long
//! the writer held the lock. Waits are measured only with debug logging on.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::views::ThreadTimes;

/// Why a worker waited.
#[derive(Clone, Copy, Debug)]
pub enum Wait {
    /// Parked with no block from the feeder.
    Feed,
    /// Parked until the dataflow completed enough epochs to take the next block.
    Horizon,
    /// Parked draining the dataflow (after the input, or for a checkpoint).
    Drain,
    /// Blocked on the views' write lock (readers hold it).
    ViewsLock,
}

const KINDS: usize = 4;

thread_local! {
    static WAITED: [Cell<Duration>; KINDS] = Default::default();
    static HELD: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

/// Counts time this thread held the views' write lock (the writer's holds).
pub fn count_held(took: Duration) {
    HELD.with(|h| h.set(h.get() + took));
}

/// This thread's views write-lock holds so far ([`count_held`]).
pub fn held() -> Duration {
    HELD.with(Cell::get)
}

/// Whether [`timed`] measures (two system calls per wait): set when debug logging is on.
static MEASURE: AtomicBool = AtomicBool::new(false);

/// Turns the measurements of [`timed`] on or off (for every thread).
pub fn measure(on: bool) {
    MEASURE.store(on, Ordering::Relaxed);
}

/// Runs `f`, counting the time it spent off its core by choice (parked or blocked: wall time
/// less CPU time and run-queue wait) as a wait of `kind`.
pub fn timed<R>(kind: Wait, f: impl FnOnce() -> R) -> R {
    if !MEASURE.load(Ordering::Relaxed) {
        return f();
    }
    let started = Instant::now();
    let before = ThreadTimes::now();
    let result = f();
    let took = started.elapsed();
    let busy = ThreadTimes::elapsed(before).map_or(Duration::ZERO, |t| t.cpu + t.waiting);
    WAITED.with(|w| {
        let cell = &w[kind as usize];
        cell.set(cell.get() + took.saturating_sub(busy));
    });
    result
}

/// This thread's waits so far: (feed, horizon, drain, views lock).
pub fn waited() -> [Duration; KINDS] {
    WAITED.with(|w| [w[0].get(), w[1].get(), w[2].get(), w[3].get()])
}
