//! Duplicate suppression by message id over a window of event time (semantics.md §4.1).

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap as HashMap;

use crate::model::Micros;

/// Remembers ids with the event time they were seen at. An id counts as seen while its time is
/// at least `watermark − window`; the heap lets expired ids be forgotten in time order, so
/// memory holds only the last window of event time. O(log n) per record.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct DedupWindow {
    seen: HashMap<u128, Micros>,
    expiry: BinaryHeap<Reverse<(Micros, u128)>>,
}

impl DedupWindow {
    /// Returns true if `id` is a duplicate; otherwise remembers it at `time`.
    pub fn check_and_insert(&mut self, id: u128, time: Micros, watermark: Micros, window: Micros) -> bool {
        let horizon = watermark.saturating_sub(window);
        while let Some(Reverse((t, old))) = self.expiry.peek().copied() {
            if t >= horizon {
                break;
            }
            self.expiry.pop();
            if self.seen.get(&old) == Some(&t) {
                self.seen.remove(&old);
            }
        }
        // One lookup: an id seen before the horizon (not yet expired from the heap) counts as new.
        match self.seen.entry(id) {
            Entry::Occupied(seen) if *seen.get() >= horizon => return true,
            Entry::Occupied(mut seen) => {
                seen.insert(time);
            }
            Entry::Vacant(slot) => {
                slot.insert(time);
            }
        }
        self.expiry.push(Reverse((time, id)));
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
}
