//! Sharing the views between the sinks, which write them, and the read side.
//!
//! A sink applies an epoch's changes in slices of a few hundred updates (`graph::sink`),
//! releasing the write lock about every millisecond, so a reader waits at most about that
//! long rather than for a whole epoch (tens of milliseconds at 100K occurrences/s). The
//! standard `RwLock` lets a writer that unlocks and relocks at once barge ahead of readers
//! it has just woken, so readers say that they wait ([`read`]) and a sink lets them in
//! between slices ([`let_readers_in`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

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

/// The durations of a lock's holds or waits over the last 20 seconds, in microseconds.
#[derive(Debug, Default)]
pub struct LockTimes {
    recent: VecDeque<(Instant, u32)>,
}

impl LockTimes {
    const KEEP: usize = 100_000;
    const SPAN: Duration = Duration::from_secs(20);

    pub fn record(&mut self, took: Duration) {
        let now = Instant::now();
        while self.recent.front().is_some_and(|(at, _)| now.duration_since(*at) > Self::SPAN) || self.recent.len() >= Self::KEEP {
            self.recent.pop_front();
        }
        self.recent.push_back((now, took.as_micros().min(u128::from(u32::MAX)) as u32));
    }

    /// `(count, p50, p99, max)` in seconds of the samples of the last 20 seconds.
    pub fn summary(&self) -> (usize, f64, f64, f64) {
        let now = Instant::now();
        let mut sorted: Vec<u32> = self
            .recent
            .iter()
            .filter(|(at, _)| now.duration_since(*at) <= Self::SPAN)
            .map(|(_, took)| *took)
            .collect();
        sorted.sort_unstable();
        let at = |q: f64| {
            sorted
                .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
                .map_or(0.0, |&v| f64::from(v) / 1e6)
        };
        (sorted.len(), at(0.5), at(0.99), at(1.0))
    }
}
