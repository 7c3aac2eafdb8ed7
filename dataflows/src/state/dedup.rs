//! Duplicate suppression by message id over a window of event time (semantics.md §4.1).

use rustc_hash::FxHashMap as HashMap;

use crate::model::Micros;

/// Remembers ids with the event time they were seen at. An id counts as seen while its time is
/// at least `watermark − window`. O(1) amortised per record.
///
/// The lookup compares the stored time with the horizon, so *when* an expired id is forgotten
/// never changes an answer, only memory; and the horizon only moves forward (the watermark is
/// the project's latest event time), so an expired id stays expired. An id whose time is
/// already before the horizon is not stored.
///
/// The ids are kept in one open-addressing table of 24-byte slots (the id's two halves and its
/// time), probed linearly from a slot chosen by a multiplicative hash of the id (ids are
/// UUIDs, mostly random already): one hash of a few instructions and, at the table's load,
/// one or two adjacent slots read per record (`hashbrown` with its SIMD control groups and a
/// 32-byte `(u128, i64)` entry was ~160 instructions a record). An expired slot is reused by
/// the next id stored along its probe run (after the run is checked for the id itself), and
/// slots are never emptied one by one, so a probe run only ends at a slot never used since the
/// last sweep. When the used slots (live or expired) reach 5/8 of the table, it is swept: the
/// live ids are placed again into an emptied table, which doubles first if they fill more than
/// half of the limit. The next sweep is then at least a quarter of the table's slots of
/// insertions away: O(1) amortised, and memory about 3.2 slots (77 bytes) per id within the
/// window at the last growth.
#[derive(Default)]
pub struct DedupWindow {
    /// A power of two of slots, or none before the first id.
    slots: Vec<Slot>,
    /// Slots holding an id, live or expired.
    used: usize,
}

/// An id and its time; `time == EMPTY`: a slot not used since the last sweep.
#[derive(Clone, Copy)]
struct Slot {
    id: [u64; 2],
    time: Micros,
}

/// The time of an empty slot. No id is ever stored at this time: a project's watermark is
/// never negative (it starts at 0), so its horizon `watermark − window` is above `i64::MIN`
/// and an id at `i64::MIN` is always before it (see `check_and_insert`).
const EMPTY: Micros = Micros::MIN;

const EMPTY_SLOT: Slot = Slot { id: [0, 0], time: EMPTY };

/// Slots of the first table.
const MIN_SLOTS: usize = 16;

impl DedupWindow {
    /// Returns true if `id` is a duplicate; otherwise remembers it at `time`.
    ///
    /// The horizon is at least `i64::MIN + 1` (for the watermarks a project has, never
    /// negative, it is anyway), so that [`EMPTY`] never counts as a live time.
    #[inline]
    pub fn check_and_insert(&mut self, id: u128, time: Micros, watermark: Micros, window: Micros) -> bool {
        let horizon = watermark.saturating_sub(window).max(EMPTY + 1);
        let key = [id as u64, (id >> 64) as u64];
        if self.slots.is_empty() {
            if time < horizon {
                return false;
            }
            self.start();
        }
        let mask = self.slots.len() - 1;
        let mut at = slot_of(key, self.slots.len());
        // The first expired slot of the run, where a new id goes.
        let mut free = usize::MAX;
        loop {
            let slot = &mut self.slots[at];
            if slot.time == EMPTY {
                break;
            }
            if slot.id == key {
                if slot.time >= horizon {
                    return true;
                }
                // Expired: stored again at its new time if that is within the window.
                if time >= horizon {
                    slot.time = time;
                }
                return false;
            }
            if free == usize::MAX && slot.time < horizon {
                free = at;
            }
            at = (at + 1) & mask;
        }
        if time < horizon {
            return false;
        }
        if free != usize::MAX {
            self.slots[free] = Slot { id: key, time };
            return false;
        }
        self.slots[at] = Slot { id: key, time };
        self.used += 1;
        if self.used >= limit(self.slots.len()) {
            self.sweep(horizon);
        }
        false
    }

    /// Asks for the cache line of `id`'s first slot (see `ProjectState::warm`).
    #[inline]
    pub fn prefetch(&self, id: u128) {
        if !self.slots.is_empty() {
            let at = slot_of([id as u64, (id >> 64) as u64], self.slots.len());
            crate::views::prefetch((&self.slots[at] as *const Slot).cast());
        }
    }

    /// The first table.
    #[cold]
    #[inline(never)]
    fn start(&mut self) {
        self.slots = vec![EMPTY_SLOT; MIN_SLOTS];
    }

    /// Forgets the ids expired at `horizon` by placing the live ones again into an emptied
    /// table, twice as large if they fill more than half of the sweep limit.
    #[cold]
    #[inline(never)]
    fn sweep(&mut self, horizon: Micros) {
        let live: Vec<Slot> = self
            .slots
            .iter()
            .copied()
            .filter(|s| s.time != EMPTY && s.time >= horizon)
            .collect();
        let mut len = self.slots.len();
        if live.len() > limit(len) / 2 {
            len *= 2;
            self.slots = vec![EMPTY_SLOT; len];
        } else {
            self.slots.fill(EMPTY_SLOT);
        }
        self.used = 0;
        for slot in live {
            self.place(slot);
        }
    }

    /// Puts `slot` (an id not in the table) at the end of its probe run.
    fn place(&mut self, slot: Slot) {
        let mask = self.slots.len() - 1;
        let mut at = slot_of(slot.id, self.slots.len());
        while self.slots[at].time != EMPTY {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
        self.used += 1;
    }

    /// Ids held, including expired ones not swept yet.
    pub fn len(&self) -> usize {
        self.used
    }

    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// Ids held (live or expired) and the table's bytes.
    pub fn footprint(&self) -> (usize, usize) {
        (self.used, self.slots.capacity() * std::mem::size_of::<Slot>())
    }

    /// Every id held, with its time (expired ones not swept yet included).
    fn entries(&self) -> impl Iterator<Item = (u128, Micros)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.time != EMPTY)
            .map(|s| (u128::from(s.id[0]) | (u128::from(s.id[1]) << 64), s.time))
    }
}

/// The used slots at which a table of `slots` is swept (5/8 of it).
fn limit(slots: usize) -> usize {
    slots / 8 * 5
}

/// The first slot of `id`'s probe run in a table of `slots` (a power of two, at least 2): the
/// top bits of a multiplicative hash of both halves. (`trailing_zeros` is one instruction
/// where `count_ones` of the mask, without `popcnt` in the baseline target, was ~15.)
#[inline]
fn slot_of(id: [u64; 2], slots: usize) -> usize {
    let mixed = (id[0] ^ id[1].rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> (64 - slots.trailing_zeros())) as usize
}

/// Serialized as the queue version was: the map, then a sequence of `(time, id)` (written
/// empty; read and dropped), so checkpoints of either version read with the other.
impl serde::Serialize for DedupWindow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("DedupWindow", 2)?;
        state.serialize_field("seen", &Entries(self))?;
        state.serialize_field("expiry", &[] as &[(Micros, u128)])?;
        state.end()
    }
}

/// The held ids as the map `HashMap<u128, Micros>` serialized.
struct Entries<'a>(&'a DedupWindow);

impl serde::Serialize for Entries<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        // `used` counts the slots `entries` yields: the length is known (postcard needs it).
        let mut map = serializer.serialize_map(Some(self.0.used))?;
        for (id, time) in self.0.entries() {
            map.serialize_entry(&id, &time)?;
        }
        map.end()
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
        let mut window = DedupWindow::default();
        // Ids at `EMPTY` were never live (see `EMPTY`).
        let ids: Vec<Slot> = stored
            .seen
            .into_iter()
            .filter(|(_, time)| *time != EMPTY)
            .map(|(id, time)| Slot {
                id: [id as u64, (id >> 64) as u64],
                time,
            })
            .collect();
        if !ids.is_empty() {
            let mut len = MIN_SLOTS;
            while limit(len) / 2 < ids.len() {
                len *= 2;
            }
            window.slots = vec![EMPTY_SLOT; len];
            for slot in ids {
                window.place(slot);
            }
        }
        Ok(window)
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
            assert!(d.slots.len() <= 4 * 1024, "slots {} at {i}", d.slots.len());
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
            assert!(d.slots.len() <= 256, "slots {}", d.slots.len());
        }
    }

    /// Many ids (sweeps, doublings, expired slots reused along probe runs), some differing
    /// only in their high half or only in a few low bits, at times out of order: every answer
    /// as the rule says, and the ids held bounded by the window.
    #[test]
    fn answers_as_the_rule_says_with_many_ids() {
        let window = 400;
        let mut d = DedupWindow::default();
        let mut last_seen: std::collections::HashMap<u128, Micros> = Default::default();
        let mut watermark = 0;
        let mut state: u64 = 11;
        for step in 0..200_000u64 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let n = u128::from((state >> 33) % 3_000);
            let id = match step % 3 {
                0 => n,
                1 => n << 64,
                _ => (n << 64) | (n * 0x1_0000_0001),
            };
            let advance = ((state >> 20) % 2) as Micros;
            let late = ((state >> 8) % 600) as Micros;
            let time = (watermark + advance - late).max(0);
            watermark = watermark.max(time);
            let horizon = watermark - window;
            let expected = last_seen.get(&id).is_some_and(|&t| t >= horizon);
            assert_eq!(d.check_and_insert(id, time, watermark, window), expected, "step {step}");
            if !expected && time >= horizon {
                last_seen.insert(id, time);
            }
            assert!(d.slots.len() <= 32 * 1024, "slots {} at {step}", d.slots.len());
        }
        let bytes = postcard::to_allocvec(&d).expect("serializes");
        let mut back: DedupWindow = postcard::from_bytes(&bytes).expect("reads back");
        let horizon = watermark - window;
        for (id, time) in &last_seen {
            assert_eq!(back.check_and_insert(*id, watermark, watermark, window), *time >= horizon, "{id}");
        }
    }

    /// An id first seen before the horizon is not stored; seen again inside the window it
    /// is new, then a duplicate.
    #[test]
    fn an_id_late_beyond_the_window_is_not_stored() {
        let mut d = DedupWindow::default();
        assert!(!d.check_and_insert(7, 0, 1_000, 100));
        assert!(d.is_empty());
        assert!(!d.check_and_insert(7, 0, 1_000, 100));
        assert!(!d.check_and_insert(7, 950, 1_000, 100));
        assert!(d.check_and_insert(7, 0, 1_000, 100));
        assert_eq!(d.len(), 1);
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
