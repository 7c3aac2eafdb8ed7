//! The users' table of [`Details`]: entries carry a user's index (4 bytes) instead of its
//! 64-bit hash. Indexes are given in first-seen order; a retention cut drops the users no
//! entry names any more and renumbers the others in the same order, so every run, sorted by
//! user index within a second and facet, stays sorted.

use super::{Details, Packed, MANY};

/// `user → its index in Details::users`, for the users but the "no user" at index 0: open
/// addressing with linear probing, keyed by the user itself (a 64-bit hash already: its slot
/// is the top bits of one multiply), 0 marking an empty slot. A lookup reads one or two
/// adjacent slots, ~15 instructions where a `HashMap` entry was ~50 (per occurrence detail,
/// whose user is mostly not the last one's). Kept at most 5/8 full: about as many bytes per
/// user as the map's 16-byte entries and control bytes.
#[derive(Debug, Default)]
pub(super) struct UserIndex {
    users: Vec<u64>,
    indexes: Vec<u32>,
    len: usize,
    /// How many entries of `Details::users` (from index 0) the index stands for; it is
    /// rebuilt when that is not all of them (after a restore or a compaction).
    pub(super) covered: usize,
}

impl UserIndex {
    /// The index of `users` (whose entry 0 is "no user").
    fn of(users: &[u64]) -> UserIndex {
        let mut index = UserIndex::default();
        for (i, &user) in users.iter().enumerate().skip(1) {
            // Never 0 (`user_slot`); a 0 from elsewhere is not indexed.
            if user != 0 {
                index.get_or_insert(user, i as u32);
            }
        }
        index.covered = users.len();
        index
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.users.capacity() * 8 + self.indexes.capacity() * 4
    }

    /// `user`'s index, or `next` (then recorded as its index). `user` is not 0.
    #[inline]
    fn get_or_insert(&mut self, user: u64, next: u32) -> u32 {
        if (self.len + 1) * 8 > self.users.len() * 5 {
            self.grow();
        }
        let mask = self.users.len() - 1;
        let mut at = self.slot_of(user);
        loop {
            match self.users[at] {
                u if u == user => return self.indexes[at],
                0 => {
                    self.users[at] = user;
                    self.indexes[at] = next;
                    self.len += 1;
                    return next;
                }
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// Asks for the first slot of `user`'s probe run (both tables) ahead of a lookup.
    #[inline]
    pub(super) fn prefetch(&self, user: u64) {
        if self.users.is_empty() {
            return;
        }
        let at = self.slot_of(user);
        crate::views::prefetch((&self.users[at] as *const u64).cast());
        crate::views::prefetch((&self.indexes[at] as *const u32).cast());
    }

    /// The first slot of `user`'s probe run (the table's size is a power of two, ≥ 16).
    fn slot_of(&self, user: u64) -> usize {
        (user.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - self.users.len().trailing_zeros())) as usize
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let size = (self.users.len() * 2).max(16);
        let users = std::mem::replace(&mut self.users, vec![0; size]);
        let indexes = std::mem::replace(&mut self.indexes, vec![0; size]);
        let mask = size - 1;
        for (user, index) in users.into_iter().zip(indexes) {
            if user != 0 {
                let mut at = self.slot_of(user);
                while self.users[at] != 0 {
                    at = (at + 1) & mask;
                }
                self.users[at] = user;
                self.indexes[at] = index;
            }
        }
    }
}

impl Details {
    pub(super) fn user_slot(&mut self, user: u64) -> u32 {
        if user == 0 {
            return 0;
        }
        if let Some((last, index)) = self.last_user {
            if last == user {
                return index;
            }
        }
        if self.users.is_empty() {
            self.users.push(0);
        }
        // The index holds every user but the "no user" at index 0.
        if self.user_index.covered != self.users.len() {
            self.user_index = UserIndex::of(&self.users);
        }
        let next = self.users.len() as u32;
        let index = self.user_index.get_or_insert(user, next);
        if index == next {
            self.users.push(user);
            self.user_index.covered += 1;
        }
        self.last_user = Some((user, index));
        index
    }

    /// Drops the users no entry names, keeping the others' order (so every run stays
    /// sorted): after a retention cut, so that the table is bounded by the users of the
    /// retained entries.
    pub(super) fn compact_users(&mut self) {
        let mut used = vec![false; self.users.len()];
        let mut mark = |p: &Packed| {
            if let Some(u) = used.get_mut(p[3] as usize) {
                *u = true;
            }
        };
        for p in &self.first {
            if p[0] < MANY {
                mark(p);
            } else if p[0] == MANY {
                if let Some(runs) = self.many.get(p[1] as usize) {
                    runs.main.iter().chain(runs.side.iter().flatten()).for_each(&mut mark);
                }
            }
        }
        if used.iter().skip(1).all(|&u| u) {
            return;
        }
        // Old index → new index, increasing.
        let mut remap = vec![0u32; self.users.len()];
        let mut kept = Vec::new();
        for (i, (&user, &u)) in self.users.iter().zip(&used).enumerate() {
            if u || i == 0 {
                remap[i] = kept.len() as u32;
                kept.push(user);
            }
        }
        let apply = |p: &mut Packed| p[3] = remap.get(p[3] as usize).copied().unwrap_or(0);
        for p in self.first.iter_mut() {
            if p[0] < MANY {
                apply(p);
            } else if p[0] == MANY {
                if let Some(runs) = self.many.get_mut(p[1] as usize) {
                    runs.main.iter_mut().chain(runs.side.iter_mut().flatten()).for_each(apply);
                }
            }
        }
        kept.shrink_to_fit();
        self.users = kept;
        self.user_index = UserIndex::default();
        self.last_user = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index answers as a map of the same users does, through its growths, with users
    /// that collide in their top bits.
    #[test]
    fn the_user_index_answers_as_a_map() {
        let mut index = UserIndex::default();
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
        let rebuilt = UserIndex::of(&users);
        assert_eq!(rebuilt.covered, users.len());
        let mut copy = UserIndex::of(&users);
        for (i, &user) in users.iter().enumerate().skip(1) {
            assert_eq!(copy.get_or_insert(user, u32::MAX), i as u32);
        }
        assert_eq!(copy.len, rebuilt.len, "nothing inserted");
        assert!(rebuilt.heap_bytes() < users.len() * 40, "{} bytes", rebuilt.heap_bytes());
    }
}
