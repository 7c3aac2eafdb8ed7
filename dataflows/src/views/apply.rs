//! The details and group-row sinks' applies, in batches whose cache misses overlap.
//!
//! Under the views' write lock an update of either sink mostly waits for memory: its group's
//! slot in the group index, then (rows) its view and the row it replaces, or (details) its
//! group's entries (`details/batch.rs`). Each address is known only once the one before it
//! is loaded, so one update at a time waits for a chain of misses, then the next update's
//! chain. Here a batch of updates asks for every address of one level (a prefetch) before
//! reading any, then the next level's, and applies last: the batch waits about once per
//! level, not once per update and level. Results are those of applying one at a time, in
//! order: the group index inserts new groups in the same order, and only hints run ahead.

use std::sync::Arc;

use super::{details, prefetch, retention, IssueViews};
use crate::state::{GroupKey, GroupRow};

#[cfg(test)]
mod tests;

/// Updates per batch: enough to keep the CPU's outstanding misses busy (about 10–20 at
/// once), few enough that the lines of the first update are still in the L1 cache when it
/// is applied. 32, 64 and 128 measured alike (details sink on 10M/1M, within the noise).
const BATCH: usize = 64;

/// Released rows kept for a sink to drop ([`IssueViews::released_rows`]) at most: past
/// this, nobody takes them, and they are dropped in place.
const RELEASED_AT_MOST: usize = 1 << 14;

/// Asks for the cache line of `value`.
#[inline(always)]
fn prefetch_of<T>(value: &T) {
    prefetch((value as *const T).cast());
}

impl IssueViews {
    pub fn apply_groups(&mut self, mut updates: Vec<((GroupKey, Arc<GroupRow>), u64, isize)>) {
        // Retractions before insertions, so a key's old row leaves before its new row arrives.
        // (The ingest operator sends them in that order: no sort, and no sort buffer.) An
        // insertion without a retraction replaces the key's row: the ingest operator retracts
        // only the rows of groups that are gone.
        if !updates.is_sorted_by_key(|(_, time, diff)| (*time, *diff)) {
            updates.sort_by_key(|(_, time, diff)| (*time, *diff));
        }
        // A retracted row stays in the sort indexes until the batch has seen whether the key
        // gets a new one: then the indexes move it once, and keys that do not change (often
        // `first_seen`) are left alone instead of being removed and inserted again. (A sink
        // keeps a group's updates in one batch: `graph::sink::Slicing::ByGroup`.)
        let mut retracted = std::mem::take(&mut self.retracted_rows);
        let present = retention::present_limit();
        let mut indexes: Vec<u32> = Vec::with_capacity(BATCH.min(updates.len()));
        let mut rest = updates.into_iter();
        while !rest.as_slice().is_empty() {
            let batch = &rest.as_slice()[..BATCH.min(rest.as_slice().len())];
            for ((key, row), _, _) in batch {
                self.index.prefetch(*key);
                prefetch_of(&row.last_seen);
            }
            // In order, so that new groups get their views in the order they did.
            indexes.clear();
            for ((key, _), _, _) in batch {
                let index = self.index_of(*key);
                prefetch_of(&self.groups[index as usize].row);
                indexes.push(index);
            }
            for &index in &indexes {
                let Some(((key, row), _, diff)) = rest.next() else { break };
                self.apply_group_row(&mut retracted, index, (key, row, diff), present);
            }
        }
        for (index, old) in retracted.drain() {
            if !self.indexes_deferred {
                self.sort_indexes.update(index, Some(&old), None);
                self.texts.update(index, Some(&old), None);
            }
            self.released_rows.push(old);
        }
        self.retracted_rows = retracted;
        if self.released_rows.len() > RELEASED_AT_MOST {
            // A caller other than a sink: nobody takes them.
            self.released_rows.clear();
        }
    }

    /// Hands the rows the group-row applies let go of to `spare` (empty), for the caller to
    /// drop once it has released the write lock: a replaced row is mostly its last
    /// reference, and freeing it reads its counts, its texts' counts and the allocator's
    /// page (cache misses, about a third of the sink's time at 1M groups) under the lock.
    pub fn released_rows(&mut self, spare: &mut Vec<Arc<GroupRow>>) {
        std::mem::swap(&mut self.released_rows, spare);
    }

    /// One update of [`IssueViews::apply_groups`] to the group at `index` (`key`'s).
    #[inline]
    fn apply_group_row(
        &mut self,
        retracted: &mut rustc_hash::FxHashMap<u32, Arc<GroupRow>>,
        index: u32,
        (key, row, diff): (GroupKey, Arc<GroupRow>, isize),
        present: crate::model::Micros,
    ) {
        if let Some(log) = &mut self.change_log {
            log.entry(key).or_insert_with(|| self.groups[index as usize].row.clone());
        }
        if diff > 0 && row.last_seen <= present {
            self.latest_event = self.latest_event.max(row.last_seen);
        }
        let view = &mut self.groups[index as usize];
        if diff < 0 {
            if let Some(current) = view.row.take_if(|current| Arc::ptr_eq(current, &row) || **current == *row) {
                retracted.insert(index, current);
            }
        } else if self.indexes_deferred {
            if let Some(old) = view.row.replace(row) {
                self.released_rows.push(old);
            }
        } else {
            // The indexes hold the retracted row, if any, else the current one.
            let old = retracted.remove(&index).or_else(|| view.row.take());
            self.sort_indexes.update(index, old.as_deref(), Some(&row));
            self.texts.update(index, old.as_deref(), Some(&row));
            view.row = Some(row);
            self.released_rows.extend(old);
        }
    }

    /// Each accepted occurrence's `(group, hour, second, facet id, user)` (`details.rs`).
    pub fn apply_details(&mut self, updates: Vec<(details::Detail, u64, isize)>) {
        self.apply_details_within(updates, retention::details_hours());
    }

    /// [`IssueViews::apply_details`] keeping `hours` of details (the process-wide setting
    /// in production; tests pass their own).
    pub(crate) fn apply_details_within(&mut self, updates: Vec<(details::Detail, u64, isize)>, hours: u32) {
        if self.windows_dropped {
            return;
        }
        let present = retention::present_hour();
        let newest = updates
            .iter()
            .filter(|u| u.2 > 0)
            .map(|u| u.0 .1)
            .filter(|&hour| hour <= present)
            .max();
        let cut = self.retain_details(newest, hours);
        let mut last: Option<(GroupKey, u32)> = None;
        let mut resolved: Vec<(u32, details::Entry, isize)> = Vec::with_capacity(BATCH.min(updates.len()));
        let mut packed = Vec::with_capacity(resolved.capacity());
        // The first level of each batch is asked for a batch ahead, while the batch before
        // it is applied, so that those misses overlap the applies too.
        let ahead = |views: &Self, batch: Option<&[(details::Detail, u64, isize)]>| {
            for ((key, hour, _, facet, user), _, _) in batch.into_iter().flatten() {
                if *hour >= cut {
                    views.index.prefetch(*key);
                    views.details.prefetch_ids(*facet, *user);
                }
            }
        };
        let mut batches = updates.chunks(BATCH).peekable();
        ahead(self, batches.peek().copied());
        while let Some(batch) = batches.next() {
            ahead(self, batches.peek().copied());
            // In order: a skipped occurrence creates no view, and new groups get their views
            // in the order they did.
            resolved.clear();
            for &((key, hour, second, facet, user), _, diff) in batch {
                if hour < cut {
                    continue;
                }
                if diff > 0 {
                    self.details_floor = self.details_floor.min(hour);
                }
                let index = self.run_index(&mut last, key);
                self.details.prefetch_first(index);
                resolved.push((index, details::entry(hour, second, facet, user), diff));
            }
            self.details.add_batch(&resolved, &mut packed);
        }
    }
}
