//! Duplicate suppression by message id over a window of event time (semantics.md §4.1).

use std::collections::hash_map::Entry;
use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;

use crate::model::Micros;

/// Remembers ids with the event time they were seen at. An id counts as seen while its time is
/// at least `watermark − window`; ids are forgotten from the front of an insertion-order queue
/// once the horizon passes them, so memory holds about the last window of event time. O(1)
/// amortised per record.
///
/// Why a queue and not a heap by time (what this was): the lookup compares the stored time
/// with the horizon, so *when* an expired id is forgotten never changes an answer, only
/// memory. An id whose time is already before the horizon is not stored at all (it would
/// count as new again either way), so every stored id is within the window when it is
/// queued, and one queued behind a later time waits at most until the watermark has moved a
/// window past that one. The heap's sift-down per expired id was ~1.5% of a backfill.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct DedupWindow {
    seen: HashMap<u128, Micros>,
    /// `(time, id)` in insertion order. Serialized as the heap was (a sequence of
    /// `(time, id)`), so checkpoints read either way.
    expiry: VecDeque<(Micros, u128)>,
}

impl DedupWindow {
    /// Returns true if `id` is a duplicate; otherwise remembers it at `time`.
    pub fn check_and_insert(&mut self, id: u128, time: Micros, watermark: Micros, window: Micros) -> bool {
        let horizon = watermark.saturating_sub(window);
        while let Some(&(t, old)) = self.expiry.front() {
            if t >= horizon {
                break;
            }
            self.expiry.pop_front();
            if self.seen.get(&old) == Some(&t) {
                self.seen.remove(&old);
            }
        }
        // One lookup: an id seen before the horizon (not yet expired from the queue) counts as new.
        match self.seen.entry(id) {
            Entry::Occupied(seen) if *seen.get() >= horizon => return true,
            Entry::Occupied(seen) if time < horizon => {
                seen.remove();
                return false;
            }
            Entry::Occupied(mut seen) => {
                seen.insert(time);
            }
            Entry::Vacant(_) if time < horizon => return false,
            Entry::Vacant(slot) => {
                slot.insert(time);
            }
        }
        self.expiry.push_back((time, id));
        false
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_after_the_window() {
        let mut d = DedupWindow::default();
        assert!(!d.check_and_insert(1, 0, 0, 600));
        assert!(d.check_and_insert(1, 0, 600, 600));
        assert!(!d.check_and_insert(1, 601, 601, 600));
        assert!(!d.check_and_insert(2, 10_000, 10_000, 600));
        assert_eq!(d.len(), 1);
    }

    /// The window's answers against a direct reading of the rule (seen while its time is at
    /// least watermark − window), on ids repeated at times out of order.
    #[test]
    fn answers_as_the_rule_says_with_late_times() {
        let window = 50;
        let mut d = DedupWindow::default();
        let mut last_seen: std::collections::HashMap<u128, Micros> = Default::default();
        let mut watermark = 0;
        let mut state: u64 = 7;
        for _ in 0..20_000 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let id = u128::from((state >> 33) % 40);
            let advance = ((state >> 20) % 3) as Micros;
            let late = ((state >> 10) % 120) as Micros;
            let time = (watermark + advance - late).max(0);
            watermark = watermark.max(time);
            let horizon = watermark - window;
            let expected = last_seen.get(&id).is_some_and(|&t| t >= horizon);
            assert_eq!(d.check_and_insert(id, time, watermark, window), expected);
            if !expected {
                last_seen.insert(id, time);
            }
            assert!(d.expiry.len() <= 200, "{} queued", d.expiry.len());
        }
    }

    #[test]
    fn checkpoints_of_the_heap_read_back() {
        use std::cmp::Reverse;
        #[derive(serde::Serialize)]
        struct Heap {
            seen: HashMap<u128, Micros>,
            expiry: std::collections::BinaryHeap<Reverse<(Micros, u128)>>,
        }
        let heap = Heap {
            seen: [(5, 100), (6, 90)].into_iter().collect(),
            expiry: [Reverse((100, 5)), Reverse((90, 6))].into_iter().collect(),
        };
        let bytes = postcard::to_allocvec(&heap).expect("serializes");
        let mut d: DedupWindow = postcard::from_bytes(&bytes).expect("reads a heap's checkpoint");
        assert_eq!(d.len(), 2);
        assert!(d.check_and_insert(6, 95, 100, 600));
        assert!(!d.check_and_insert(6, 800, 800, 600));
        assert_eq!(d.len(), 1);
    }
}
