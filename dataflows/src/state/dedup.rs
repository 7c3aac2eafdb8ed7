//! Duplicate suppression by message id over a window of event time (semantics.md §4.1).

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap as HashMap;

use crate::model::Micros;

/// Remembers ids with the event time they were seen at. An id counts as seen while its time is
/// at least `watermark − window`. O(1) amortised per record.
///
/// The lookup compares the stored time with the horizon, so *when* an expired id is forgotten
/// never changes an answer, only memory; and the horizon only moves forward (the watermark is
/// the project's latest event time), so an expired id stays expired. Expired ids are therefore
/// dropped in bulk, by one sweep of the map ([`HashMap::retain`]) just before it would grow:
/// one hash and probe per record (an insertion-order queue of ids, what this was, cost a
/// second lookup of the oldest id and a removal per record, ~270 instructions a record). If
/// the sweep frees less than a quarter of the map, the map grows (doubles), so the next sweep
/// comes at least a quarter of its capacity of insertions later: O(1) amortised, and the map
/// holds at most about 4/3 of the ids within the window at its last growth, plus the ids
/// expired since its last sweep. An id whose time is already before the horizon is not stored.
#[derive(Default)]
pub struct DedupWindow {
    seen: HashMap<u128, Micros>,
}

impl DedupWindow {
    /// Returns true if `id` is a duplicate; otherwise remembers it at `time`.
    pub fn check_and_insert(&mut self, id: u128, time: Micros, watermark: Micros, window: Micros) -> bool {
        let horizon = watermark.saturating_sub(window);
        // An id to store in a full map: sweep the expired ones first, and grow only if that
        // frees too little. (`capacity` is what the map holds without growing.)
        if self.seen.len() >= self.seen.capacity() && time >= horizon {
            self.sweep(horizon);
        }
        // One lookup: an id seen before the horizon (not yet swept) counts as new.
        match self.seen.entry(id) {
            Entry::Occupied(seen) if *seen.get() >= horizon => true,
            Entry::Occupied(seen) if time < horizon => {
                seen.remove();
                false
            }
            Entry::Occupied(mut seen) => {
                seen.insert(time);
                false
            }
            Entry::Vacant(_) if time < horizon => false,
            Entry::Vacant(slot) => {
                slot.insert(time);
                false
            }
        }
    }

    /// Forgets the ids expired at `horizon`; reserves room to double if fewer than a quarter
    /// of the map's capacity was freed.
    fn sweep(&mut self, horizon: Micros) {
        let capacity = self.seen.capacity();
        self.seen.retain(|_, time| *time >= horizon);
        if self.seen.len() > capacity - capacity / 4 {
            self.seen.reserve(capacity.max(4));
        }
    }

    /// Ids held, including expired ones not swept yet.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// Serialized as the queue version was: the map, then a sequence of `(time, id)` (written
/// empty; read and dropped), so checkpoints of either version read with the other.
impl serde::Serialize for DedupWindow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("DedupWindow", 2)?;
        state.serialize_field("seen", &self.seen)?;
        state.serialize_field("expiry", &[] as &[(Micros, u128)])?;
        state.end()
    }
}

impl<'de> serde::Deserialize<'de> for DedupWindow {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(rename = "DedupWindow")]
        struct Stored {
            seen: HashMap<u128, Micros>,
            // Postcard is not self-describing: the sequence is read as what it is.
            #[allow(dead_code)]
            expiry: Vec<(Micros, u128)>,
        }
        let stored = Stored::deserialize(deserializer)?;
        Ok(DedupWindow { seen: stored.seen })
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
        assert!(!d.check_and_insert(1, 9_500, 10_000, 600), "expired, though not yet swept");
        assert!(d.check_and_insert(1, 9_400, 10_000, 600));
    }

    /// Ever-new ids: the map keeps about the ids within the window (swept before growing),
    /// and never forgets one inside it.
    #[test]
    fn memory_follows_the_window() {
        let window = 1_000;
        let mut d = DedupWindow::default();
        for i in 0..200_000i64 {
            // Each id once, then again half a window later (a duplicate), out of order a bit.
            let time = i - (i % 7);
            assert!(!d.check_and_insert(i as u128, time, i, window), "{i}");
            if i >= 500 {
                assert!(d.check_and_insert((i - 500) as u128, i - 500, i, window), "{i}");
            }
            assert!(d.seen.capacity() <= 4 * 1024, "capacity {} at {i}", d.seen.capacity());
        }
        assert!(d.len() >= 1_000);
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
            assert!(d.seen.capacity() <= 256, "capacity {}", d.seen.capacity());
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
        assert!(!d.check_and_insert(5, 800, 800, 600), "expired at the new watermark");
        assert!(d.check_and_insert(6, 800, 800, 600));
    }

    #[test]
    fn checkpoints_read_back() {
        let mut d = DedupWindow::default();
        for id in 0..100u128 {
            d.check_and_insert(id, id as Micros, id as Micros, 50);
        }
        let bytes = postcard::to_allocvec(&d).expect("serializes");
        let mut back: DedupWindow = postcard::from_bytes(&bytes).expect("reads back");
        for id in 0..100u128 {
            assert_eq!(back.check_and_insert(id, 100, 100, 50), id >= 50, "{id}");
        }
    }
}
