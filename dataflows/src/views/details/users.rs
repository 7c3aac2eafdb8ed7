//! The users' table of [`Details`]: entries carry a user's index (4 bytes) instead of its
//! 64-bit hash. Indexes are given in first-seen order; a retention cut drops the users no
//! entry names any more and renumbers the others in the same order, so every run, sorted by
//! user index within a second and facet, stays sorted.

use super::ids::IdIndex;
use super::{Details, Packed, MANY};

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
            self.user_index = IdIndex::of(&self.users);
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
        self.user_index = IdIndex::default();
        self.last_user = None;
    }
}
