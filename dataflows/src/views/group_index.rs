//! The views' `GroupKey → group index` map (see [`GroupIndex`]).

use rustc_hash::FxHashMap as HashMap;

use crate::model::ProjectId;
use crate::state::GroupKey;

use super::GroupView;

/// Slot value of a short id without a view.
const NONE: u32 = u32::MAX;

/// How far past a project's table a short id may land and still get a slot in it: the ingest
/// state numbers a project's groups 1, 2, 3, … in creation order, so a new group is at most
/// a few past the table's end (its groups may reach the views out of order by a slice or an
/// epoch). Keys far out (none from the ingest state) go to `sparse`, so a stray short id
/// cannot make a table of billions.
const DENSE_REACH: usize = 1 << 16;

/// `GroupKey → index` as a table per project indexed by short id (the ingest state assigns
/// short ids densely from 1 per project). A sink's lookup reads one `u32` of its project's
/// table (plus the project's entry, cached across a run of one project), where a hash table
/// of all groups read a control group, a slot and the candidate view's key: two or three
/// cache misses per lookup at 1M groups, made by each of three sinks for the same group.
/// ~4–8 bytes per group (a table's growth slack) instead of ~6–11.
///
/// Every view is in it once it has indexed as many views as there are; after a checkpoint
/// restore it is empty, and is rebuilt by the first lookup that may insert, and scanned
/// linearly by those before it.
#[derive(Default, Debug)]
pub(super) struct GroupIndex {
    /// Per project: `dense[short_id]` is the group's index, [`NONE`] if it has no view.
    projects: HashMap<ProjectId, Vec<u32>>,
    /// Keys whose short id lies beyond [`DENSE_REACH`] of their project's table when they
    /// were inserted.
    sparse: HashMap<GroupKey, u32>,
    /// How many views (a prefix of `groups`) are indexed.
    indexed: usize,
}

impl GroupIndex {
    fn complete(&self, groups: &[GroupView]) -> bool {
        self.indexed == groups.len()
    }

    /// The indexed group's index; the index must be complete.
    #[inline]
    fn lookup(&self, key: GroupKey) -> Option<u32> {
        let dense = self
            .projects
            .get(&key.project)
            .and_then(|table| table.get(key.short_id as usize))
            .copied()
            .filter(|&i| i != NONE);
        if dense.is_some() || self.sparse.is_empty() {
            return dense;
        }
        self.sparse.get(&key).copied()
    }

    /// Asks for `key`'s slot in its project's table ahead of a lookup (a hint: nothing if
    /// the key is not in a table yet).
    #[inline]
    pub(super) fn prefetch(&self, key: GroupKey) {
        if let Some(slot) = self.projects.get(&key.project).and_then(|table| table.get(key.short_id as usize)) {
            super::prefetch((slot as *const u32).cast());
        }
    }

    fn insert(&mut self, key: GroupKey, index: u32) {
        let table = self.projects.entry(key.project).or_default();
        let slot = key.short_id as usize;
        if slot >= table.len() + DENSE_REACH {
            self.sparse.insert(key, index);
            return;
        }
        if slot >= table.len() {
            table.resize(slot + 1, NONE);
        }
        table[slot] = index;
    }

    pub(super) fn get(&self, groups: &[GroupView], key: GroupKey) -> Option<u32> {
        if !self.complete(groups) {
            return groups.iter().position(|v| v.key == Some(key)).map(|i| i as u32);
        }
        self.lookup(key)
    }

    /// The group's index if the index is complete and holds it: the sinks' common case,
    /// inlined into them (a call of `get_or_insert` per update cost ~20 instructions of
    /// call and register saves alone).
    #[inline]
    pub(super) fn find_complete(&self, groups: &[GroupView], key: GroupKey) -> Option<u32> {
        if self.complete(groups) {
            self.lookup(key)
        } else {
            None
        }
    }

    /// [`GroupIndex::get_or_insert`] of a key that [`GroupIndex::find_complete`] did not find
    /// (not looked up again when the index was complete).
    #[inline(never)]
    pub(super) fn insert_missing(&mut self, groups: &mut Vec<GroupView>, key: GroupKey) -> u32 {
        if self.complete(groups) {
            return self.push(groups, key);
        }
        self.get_or_insert(groups, key)
    }

    pub(super) fn get_or_insert(&mut self, groups: &mut Vec<GroupView>, key: GroupKey) -> u32 {
        if !self.complete(groups) {
            *self = GroupIndex::default();
            for (i, view) in groups.iter().enumerate() {
                if let Some(key) = view.key {
                    self.insert(key, i as u32);
                }
            }
            self.indexed = groups.len();
        }
        if let Some(i) = self.lookup(key) {
            return i;
        }
        self.push(groups, key)
    }

    /// Gives `key` (not in the complete index) a new view.
    fn push(&mut self, groups: &mut Vec<GroupView>, key: GroupKey) -> u32 {
        let next = groups.len() as u32;
        groups.push(GroupView {
            key: Some(key),
            ..GroupView::default()
        });
        self.insert(key, next);
        self.indexed = groups.len();
        next
    }

    pub(super) fn heap_bytes(&self) -> usize {
        // hashbrown: one control byte per bucket besides the entry.
        fn buckets(capacity: usize) -> usize {
            if capacity == 0 {
                0
            } else {
                (capacity * 8 / 7).next_power_of_two()
            }
        }
        let tables: usize = self.projects.values().map(|t| t.capacity() * 4).sum();
        let projects = buckets(self.projects.capacity()) * (std::mem::size_of::<(ProjectId, Vec<u32>)>() + 1);
        let sparse = buckets(self.sparse.capacity()) * (std::mem::size_of::<(GroupKey, u32)>() + 1);
        tables + projects + sparse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(key: GroupKey) -> GroupView {
        GroupView {
            key: Some(key),
            ..GroupView::default()
        }
    }

    #[test]
    fn dense_far_and_odd_short_ids_each_find_their_view() {
        let mut index = GroupIndex::default();
        let mut groups = Vec::new();
        let keys: Vec<GroupKey> = [
            (1, 1),
            (1, 3),
            (2, 1),
            (1, 0),
            (1, 2),
            (1, u32::MAX),
            (2, 1 << 20),
            (1, 70_000),
            (3, 5),
        ]
        .into_iter()
        .map(|(project, short_id)| GroupKey { project, short_id })
        .collect();
        for (n, key) in keys.iter().enumerate() {
            assert_eq!(index.get(&groups, *key), None);
            assert_eq!(index.get_or_insert(&mut groups, *key), n as u32);
        }
        assert_eq!(groups.len(), keys.len());
        for (n, key) in keys.iter().enumerate() {
            assert_eq!(index.get(&groups, *key), Some(n as u32));
            assert_eq!(index.get_or_insert(&mut groups, *key), n as u32, "no second view");
        }
        assert_eq!(groups.len(), keys.len());
        for (project, short_id) in [(1, 4), (2, 2), (4, 1), (1, 69_999), (2, (1 << 20) - 1)] {
            assert_eq!(index.get(&groups, GroupKey { project, short_id }), None);
        }
        // The far keys did not make tables of their short ids' size.
        assert!(index.heap_bytes() < 1 << 12, "{} bytes", index.heap_bytes());
        assert!(groups.iter().all(|v| v.key.is_some()));
    }

    /// The sinks' path (`IssueViews::index_of`) gives what `get_or_insert` gives, before
    /// and after a restore.
    #[test]
    fn the_inlined_lookup_and_the_insertion_agree_with_get_or_insert() {
        let keys: Vec<GroupKey> = (0..300u32)
            .map(|n| GroupKey {
                project: u64::from(n % 7),
                short_id: if n == 11 { u32::MAX } else { n / 7 + 1 },
            })
            .collect();
        let index_of = |index: &mut GroupIndex, groups: &mut Vec<GroupView>, key: GroupKey| match index.find_complete(groups, key) {
            Some(i) => i,
            None => index.insert_missing(groups, key),
        };
        let (mut a, mut b) = (GroupIndex::default(), GroupIndex::default());
        let (mut ga, mut gb) = (Vec::new(), Vec::new());
        for key in keys.iter().chain(keys.iter().rev()) {
            assert_eq!(index_of(&mut a, &mut ga, *key), b.get_or_insert(&mut gb, *key), "{key:?}");
        }
        assert_eq!(ga.len(), keys.len());
        // A restored index (empty) is rebuilt by the first insertion.
        let mut restored = GroupIndex::default();
        assert_eq!(restored.find_complete(&ga, keys[3]), None, "not complete");
        let new = GroupKey {
            project: 3,
            short_id: 1000,
        };
        assert_eq!(index_of(&mut restored, &mut ga, keys[3]), 3);
        assert_eq!(index_of(&mut restored, &mut ga, new), keys.len() as u32);
        for (n, key) in keys.iter().enumerate() {
            assert_eq!(restored.find_complete(&ga, *key), Some(n as u32));
        }
    }

    #[test]
    fn a_restored_index_is_scanned_then_rebuilt() {
        let keys: Vec<GroupKey> = (0..40u32)
            .map(|n| GroupKey {
                project: u64::from(n % 3),
                short_id: if n == 7 { u32::MAX - 1 } else { n / 3 + 1 },
            })
            .collect();
        let mut groups: Vec<GroupView> = keys.iter().map(|k| view(*k)).collect();
        let mut index = GroupIndex::default();
        for (n, key) in keys.iter().enumerate() {
            assert_eq!(index.get(&groups, *key), Some(n as u32), "scanned");
        }
        let new = GroupKey { project: 1, short_id: 100 };
        assert_eq!(index.get_or_insert(&mut groups, keys[5]), 5);
        assert_eq!(index.get_or_insert(&mut groups, new), 40);
        for (n, key) in keys.iter().chain([&new]).enumerate() {
            assert_eq!(index.get(&groups, *key), Some(n as u32), "indexed");
        }
    }
}
