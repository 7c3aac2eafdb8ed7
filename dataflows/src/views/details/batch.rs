//! [`Details::add_batch`]: a sink's slice of details added in passes, so that the cache
//! misses of its occurrences overlap instead of following one another.
//!
//! At 1M groups an occurrence's add reads its group's inline entry, for a group with runs
//! its slot in `many` and the main run's tail, and its facet's and user's slots in their
//! indexes:
//! each a cache miss, each known only once the one before it is loaded. One at a time, the
//! CPU waits for them in turn (most of the details sink's time under the views' write
//! lock). Here every update's address of one level is asked for (a prefetch) before any is
//! read, then the next level's, so a batch waits about once per level.

use super::{Details, Entry, MANY};
use crate::views::prefetch;

impl Details {
    /// Asks for the index slots of `facet` and `user` ahead of packing them (a hint: the
    /// indexes may yet grow or be rebuilt before the pack).
    #[inline]
    pub(crate) fn prefetch_ids(&self, facet: u64, user: u64) {
        if self.last_facet.is_none_or(|(last, _)| last != facet) {
            self.facet_index.prefetch(facet);
        }
        if user != 0 && self.last_user.is_none_or(|(last, _)| last != user) {
            self.user_index.prefetch(user);
        }
    }

    /// Asks for the inline entry of the group at `index` (the first of an add's reads).
    #[inline]
    pub(crate) fn prefetch_first(&self, index: u32) {
        if let Some(first) = self.first.get(index as usize) {
            prefetch((first as *const super::Packed).cast());
        }
    }

    /// Adds each `(group index, entry, diff)` as [`Details::add`] would, in order.
    pub(crate) fn add_batch(&mut self, batch: &[(u32, Entry, isize)], packed: &mut Vec<(u32, super::Packed, isize)>) {
        // Packing gives facets and users their indexes in first-seen order, as `add` does:
        // only the groups' entries wait for the passes below.
        packed.clear();
        for &(index, e, diff) in batch {
            let p = self.pack(&e);
            // Its inline entry was asked for as its index was found (`prefetch_first`).
            if let Some(runs) = self.runs_of(index) {
                let at: *const u8 = (runs as *const super::Runs).cast();
                prefetch(at);
                prefetch(at.wrapping_add(std::mem::size_of::<super::Runs>() - 1));
            }
            packed.push((index, p, diff));
        }
        for &(index, _, _) in packed.iter() {
            if let Some(runs) = self.runs_of(index) {
                // Where an in-order occurrence lands: the last entry (its key may be the
                // same) and the one after it.
                let tail = runs.main.as_ptr().wrapping_add(runs.main.len().saturating_sub(1));
                prefetch(tail.cast());
                prefetch(tail.wrapping_add(1).cast());
            }
        }
        for &(index, p, diff) in packed.iter() {
            self.add_packed(index, p, diff);
        }
    }

    /// The runs of the group at `index`, if it has runs (without a hint's side effects).
    #[inline]
    fn runs_of(&self, index: u32) -> Option<&super::Runs> {
        let e = self.first.get(index as usize)?;
        if e[0] != MANY {
            return None;
        }
        self.many.get(e[1] as usize)
    }
}
