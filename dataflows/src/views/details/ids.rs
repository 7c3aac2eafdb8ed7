//! [`IdIndex`]: the users' and the facets' tables of [`super::Details`] give each 64-bit id a
//! 4-byte index that entries carry; this finds an id's index.

/// `id → its index` in a table of ids (`Details::users`, `Details::facets`), for the ids
/// but 0 (the "no user" at `users[0]`): open addressing with linear probing, keyed by the
/// id itself (a 64-bit hash already: its slot is the top bits of one multiply), 0 marking
/// an empty slot. A lookup reads one or two adjacent slots, ~15 instructions where a
/// `HashMap` entry was ~50 (per occurrence detail, whose user is mostly not the last one's),
/// and its slot is known before it is read (the sinks prefetch it: `batch.rs`). Kept at
/// most 5/8 full: about as many bytes per id as the map's 16-byte entries and control bytes.
#[derive(Debug, Default)]
pub(super) struct IdIndex {
    ids: Vec<u64>,
    indexes: Vec<u32>,
    len: usize,
    /// How many ids of its table (from index 0) the index stands for; it is rebuilt when
    /// that is not all of them (after a restore or a compaction).
    pub(super) covered: usize,
}

impl IdIndex {
    /// The index of `ids`: each id but 0 at its position (the first, if repeated).
    pub(super) fn of(ids: &[u64]) -> IdIndex {
        let mut index = IdIndex::default();
        for (i, &id) in ids.iter().enumerate() {
            if id != 0 {
                index.get_or_insert(id, i as u32);
            }
        }
        index.covered = ids.len();
        index
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.ids.capacity() * 8 + self.indexes.capacity() * 4
    }

    /// `id`'s index, or `next` (then recorded as its index). `id` is not 0.
    #[inline]
    pub(super) fn get_or_insert(&mut self, id: u64, next: u32) -> u32 {
        if (self.len + 1) * 8 > self.ids.len() * 5 {
            self.grow();
        }
        let mask = self.ids.len() - 1;
        let mut at = self.slot_of(id);
        loop {
            match self.ids[at] {
                u if u == id => return self.indexes[at],
                0 => {
                    self.ids[at] = id;
                    self.indexes[at] = next;
                    self.len += 1;
                    return next;
                }
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// Asks for the first slot of `id`'s probe run (both tables) ahead of a lookup (a prefetch
    /// reads nothing and cannot fault, whatever the address).
    #[inline]
    pub(super) fn prefetch(&self, id: u64) {
        if self.ids.is_empty() {
            return;
        }
        let at = self.slot_of(id);
        crate::views::prefetch((&self.ids[at] as *const u64).cast());
        crate::views::prefetch((&self.indexes[at] as *const u32).cast());
    }

    /// The first slot of `id`'s probe run (the table's size is a power of two, ≥ 16).
    fn slot_of(&self, id: u64) -> usize {
        (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - self.ids.len().trailing_zeros())) as usize
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let size = (self.ids.len() * 2).max(16);
        let ids = std::mem::replace(&mut self.ids, vec![0; size]);
        let indexes = std::mem::replace(&mut self.indexes, vec![0; size]);
        let mask = size - 1;
        for (id, index) in ids.into_iter().zip(indexes) {
            if id != 0 {
                let mut at = self.slot_of(id);
                while self.ids[at] != 0 {
                    at = (at + 1) & mask;
                }
                self.ids[at] = id;
                self.indexes[at] = index;
            }
        }
    }
}

impl super::Details {
    /// The index of facet `id` in the facets' table, given the next one if it is new.
    pub(super) fn facet_slot(&mut self, id: u64) -> u32 {
        if let Some((last, index)) = self.last_facet {
            if last == id {
                return index;
            }
        }
        if self.facet_index.covered != self.facets.len() {
            self.facet_index = IdIndex::of(&self.facets);
        }
        let next = self.facets.len() as u32;
        // The index holds no 0, which `Facet::id` never is: only a hand-made one is looked
        // for in the table.
        let index = match id {
            0 => self.facets.iter().position(|&f| f == 0).map_or(next, |i| i as u32),
            _ => self.facet_index.get_or_insert(id, next),
        };
        if index == next {
            self.facets.push(id);
            self.facet_index.covered += 1;
        }
        self.last_facet = Some((id, index));
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index answers as a map of the same users does, through its growths, with users
    /// that collide in their top bits.
    #[test]
    fn the_id_index_answers_as_a_map() {
        let mut index = IdIndex::default();
        let mut map: std::collections::HashMap<u64, u32> = Default::default();
        let mut users = vec![0u64];
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for n in 0..20_000u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Repeats, neighbours in the low bits and in the high bits.
            let user = match n % 4 {
                0 => state,
                1 => users[(state % users.len() as u64) as usize].max(1),
                2 => (n << 40) | 1,
                _ => n + 1,
            };
            let next = users.len() as u32;
            let expected = *map.entry(user).or_insert(next);
            assert_eq!(index.get_or_insert(user, next), expected, "{user:#x}");
            if expected == next {
                users.push(user);
            }
        }
        assert_eq!(index.len, users.len() - 1);
        let rebuilt = IdIndex::of(&users);
        assert_eq!(rebuilt.covered, users.len());
        let mut copy = IdIndex::of(&users);
        for (i, &user) in users.iter().enumerate().skip(1) {
            assert_eq!(copy.get_or_insert(user, u32::MAX), i as u32);
        }
        assert_eq!(copy.len, rebuilt.len, "nothing inserted");
        assert!(rebuilt.heap_bytes() < users.len() * 40, "{} bytes", rebuilt.heap_bytes());
    }

    /// Facets get their indexes in first-seen order, 0 (never a `Facet::id`, but allowed)
    /// included, before and after a restore (an index rebuilt from the table).
    #[test]
    fn facet_slots_are_first_seen_indexes() {
        let mut next = crate::test_rng::below(0x1234_5678_9ABC_DEF1);
        let mut details = super::super::Details::default();
        let mut map: std::collections::HashMap<u64, u32> = Default::default();
        for n in 0..5_000 {
            if n == 2_500 {
                // As after a restore: the table without its index.
                details.facet_index = IdIndex::default();
                details.last_facet = None;
            }
            let id = match next(3) {
                0 => next(4),
                1 => next(300) << 40,
                _ => next(u64::MAX),
            };
            let expected = map.len() as u32;
            let expected = *map.entry(id).or_insert(expected);
            assert_eq!(details.facet_slot(id), expected, "{id:#x}");
            assert_eq!(details.facets[expected as usize], id);
        }
        assert_eq!(details.facets.len(), map.len());
    }
}
