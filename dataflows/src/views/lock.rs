//! Sharing the views between the sinks, which write them, and the read side.
//!
//! A sink applies an epoch's changes in slices of a few hundred updates (`graph::sink`),
//! releasing the write lock about every millisecond, so a reader waits at most about that
//! long rather than for a whole epoch (tens of milliseconds at 100K occurrences/s). The
//! standard `RwLock` lets a writer that unlocks and relocks at once barge ahead of readers
//! it has just woken, so readers say that they wait ([`read`]) and a sink lets them in
//! between slices ([`let_readers_in`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use super::thread_time::ThreadTimes;
use super::IssueViews;

/// Readers waiting for a views' read lock, in this process (one views per process; in
/// tests with several, a sink at worst yields to another views' reader for a moment).
static READERS_WAITING: AtomicUsize = AtomicUsize::new(0);

/// How long a sink holds the write lock before it lets waiting readers in.
pub const HOLD: Duration = Duration::from_millis(1);

/// The views' read lock, counted as waiting until granted so that sinks let it in.
pub fn read(views: &RwLock<IssueViews>) -> RwLockReadGuard<'_, IssueViews> {
    READERS_WAITING.fetch_add(1, Ordering::SeqCst);
    let guard = views.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    READERS_WAITING.fetch_sub(1, Ordering::SeqCst);
    guard
}

/// After releasing the write lock between slices: waits (briefly) until the readers that
/// were waiting have the lock. Bounded, so a reader stuck behind another writer does not
/// stall ingest.
pub fn let_readers_in() {
    let since = Instant::now();
    while READERS_WAITING.load(Ordering::SeqCst) > 0 && since.elapsed() < 5 * HOLD {
        std::thread::yield_now();
    }
}

/// Whether sinks raise themselves to a real-time priority while they hold the write lock
/// ([`boost_write_holds`]).
static HOLD_BOOST: AtomicU8 = AtomicU8::new(BOOST_OFF);
const BOOST_OFF: u8 = 0;
const BOOST_ON: u8 = 1;
/// The system refused (no privilege): not asked again.
const BOOST_REFUSED: u8 = 2;

/// Makes sinks run each write hold at a real-time priority (`SCHED_FIFO` 1, Linux), so
/// that no ordinary thread preempts one while readers wait behind it: on a machine with
/// more runnable threads than cores, the holds that outlast the slice budget were almost
/// entirely run-queue wait (docs/benchmark-history.md, session 6). A hold is about [`HOLD`] of work, so
/// the boost cannot starve the machine (and the kernel caps real-time threads at 95 % of a
/// core). Needs `CAP_SYS_NICE` (or an `RLIMIT_RTPRIO` of 1); without it the first hold
/// logs a warning and holds run at the thread's own priority, as before.
pub fn boost_write_holds(on: bool) {
    HOLD_BOOST.store(if on { BOOST_ON } else { BOOST_OFF }, Ordering::Relaxed);
}

/// A write hold's priority boost, undone when dropped (after the lock is released).
#[must_use]
pub struct HoldBoost {
    boosted: bool,
}

/// Raises the calling thread for a write hold, if [`boost_write_holds`] asked for it.
pub fn boost_hold() -> HoldBoost {
    if HOLD_BOOST.load(Ordering::Relaxed) != BOOST_ON {
        return HoldBoost { boosted: false };
    }
    let boosted = sched::set_realtime(true);
    if !boosted && HOLD_BOOST.swap(BOOST_REFUSED, Ordering::Relaxed) == BOOST_ON {
        tracing::warn!("cannot raise the views' writers to a real-time priority (needs CAP_SYS_NICE); their write holds may be preempted");
    }
    HoldBoost { boosted }
}

impl Drop for HoldBoost {
    fn drop(&mut self) {
        if self.boosted {
            sched::set_realtime(false);
        }
    }
}

/// Puts the calling thread under `SCHED_FIFO` 1 (`true`) or back under `SCHED_OTHER` at
/// its niceness; false when the system refuses (no `CAP_SYS_NICE`) or off Linux.
pub fn set_thread_realtime(on: bool) -> bool {
    sched::set_realtime(on)
}

#[cfg(target_os = "linux")]
mod sched {
    use std::ffi::c_int;

    #[repr(C)]
    struct SchedParam {
        sched_priority: c_int,
    }

    extern "C" {
        fn sched_setscheduler(pid: c_int, policy: c_int, param: *const SchedParam) -> c_int;
    }

    const SCHED_OTHER: c_int = 0;
    const SCHED_FIFO: c_int = 1;

    /// `SCHED_FIFO` 1, or back to `SCHED_OTHER` (which keeps the thread's niceness).
    pub fn set_realtime(on: bool) -> bool {
        let (policy, priority) = if on { (SCHED_FIFO, 1) } else { (SCHED_OTHER, 0) };
        let param = SchedParam { sched_priority: priority };
        // Safety: a plain system call wrapper with a valid parameter; pid 0 is the calling
        // thread.
        unsafe { sched_setscheduler(0, policy, &param) == 0 }
    }
}

#[cfg(not(target_os = "linux"))]
mod sched {
    pub fn set_realtime(_: bool) -> bool {
        false
    }
}

/// The durations of a lock's holds or waits over the last 20 seconds, in microseconds; for
/// holds, also how much of each was CPU time and run-queue wait (the holding thread
/// preempted) and the longest single step inside it (one slice's apply).
#[derive(Debug, Default)]
pub struct LockTimes {
    recent: VecDeque<Sample>,
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    at: Instant,
    took: u32,
    /// `u32::MAX` where not measured.
    cpu: u32,
    waiting: u32,
    longest_step: u32,
}

/// Where the slowest holds' time went: the holds at or above the 99th percentile, and the
/// means over them (microseconds).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SlowHolds {
    pub count: usize,
    pub took: f64,
    pub cpu: f64,
    pub waiting: f64,
    pub longest_step: f64,
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX - 1)) as u32
}

impl LockTimes {
    const KEEP: usize = 100_000;
    const SPAN: Duration = Duration::from_secs(20);

    pub fn record(&mut self, took: Duration) {
        self.push(Sample {
            at: Instant::now(),
            took: micros(took),
            cpu: u32::MAX,
            waiting: u32::MAX,
            longest_step: u32::MAX,
        });
    }

    /// A hold of `took`, of which the thread spent `times` on a CPU and on a run queue, the
    /// longest step inside it taking `longest_step`.
    pub fn record_hold(&mut self, took: Duration, times: Option<ThreadTimes>, longest_step: Duration) {
        self.push(Sample {
            at: Instant::now(),
            took: micros(took),
            cpu: times.map_or(u32::MAX, |t| micros(t.cpu)),
            waiting: times.map_or(u32::MAX, |t| micros(t.waiting)),
            longest_step: micros(longest_step),
        });
    }

    fn push(&mut self, sample: Sample) {
        while self.recent.front().is_some_and(|s| sample.at.duration_since(s.at) > Self::SPAN) || self.recent.len() >= Self::KEEP {
            self.recent.pop_front();
        }
        self.recent.push_back(sample);
    }

    fn current(&self) -> impl Iterator<Item = &Sample> {
        let now = Instant::now();
        self.recent.iter().filter(move |s| now.duration_since(s.at) <= Self::SPAN)
    }

    /// `(count, p50, p99, max)` in seconds of the samples of the last 20 seconds.
    pub fn summary(&self) -> (usize, f64, f64, f64) {
        let mut sorted: Vec<u32> = self.current().map(|s| s.took).collect();
        sorted.sort_unstable();
        let at = |q: f64| sorted.get(quantile_index(sorted.len(), q)).map_or(0.0, |&v| f64::from(v) / 1e6);
        (sorted.len(), at(0.5), at(0.99), at(1.0))
    }

    /// The holds of the last 20 seconds at or above their 99th percentile, with the split of
    /// their time (only those measured with [`LockTimes::record_hold`]).
    pub fn slow_holds(&self) -> SlowHolds {
        let mut samples: Vec<Sample> = self.current().filter(|s| s.cpu != u32::MAX).copied().collect();
        if samples.is_empty() {
            return SlowHolds::default();
        }
        samples.sort_unstable_by_key(|s| s.took);
        let slow = &samples[quantile_index(samples.len(), 0.99)..];
        let mean = |f: fn(&Sample) -> u32| slow.iter().map(|s| f64::from(f(s))).sum::<f64>() / slow.len() as f64;
        SlowHolds {
            count: slow.len(),
            took: mean(|s| s.took),
            cpu: mean(|s| s.cpu),
            waiting: mean(|s| s.waiting),
            longest_step: mean(|s| s.longest_step),
        }
    }
}

fn quantile_index(len: usize, q: f64) -> usize {
    ((len.saturating_sub(1)) as f64 * q).round() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_holds_are_the_top_percent_with_their_split() {
        let mut times = LockTimes::default();
        for i in 0..200u64 {
            let took = Duration::from_micros(100 + i);
            let split = ThreadTimes {
                cpu: Duration::from_micros(90 + i),
                waiting: Duration::from_micros(i % 7),
            };
            times.record_hold(took, Some(split), Duration::from_micros(50));
        }
        // Two far slower holds: one preempted, one computing.
        let preempted = ThreadTimes {
            cpu: Duration::from_micros(800),
            waiting: Duration::from_micros(9_000),
        };
        times.record_hold(Duration::from_micros(10_000), Some(preempted), Duration::from_micros(9_500));
        let computing = ThreadTimes {
            cpu: Duration::from_micros(7_900),
            waiting: Duration::ZERO,
        };
        times.record_hold(Duration::from_micros(8_000), Some(computing), Duration::from_micros(7_000));
        // Waits carry no split and are left out.
        times.record(Duration::from_secs(1));
        let slow = times.slow_holds();
        // 202 holds: index round(201 × 0.99) = 199 onwards, the two slow ones and the
        // slowest ordinary hold (299 µs).
        assert_eq!(slow.count, 3);
        assert_eq!(slow.took, (10_000.0 + 8_000.0 + 299.0) / 3.0);
        assert_eq!(slow.cpu, (800.0 + 7_900.0 + 289.0) / 3.0);
        assert_eq!(slow.waiting, (9_000.0 + 0.0 + f64::from(199 % 7)) / 3.0);
        assert_eq!(slow.longest_step, (9_500.0 + 7_000.0 + 50.0) / 3.0);
        assert_eq!(times.summary().0, 203);
        assert_eq!(LockTimes::default().slow_holds(), SlowHolds::default());
    }
}
