//! The views' `GroupKey → group index` map (see [`GroupIndex`]).

use crate::state::GroupKey;

use super::GroupView;

/// `GroupKey → group index` as a table of bare `u32` indexes, hashed and compared through
/// the views' own keys (`groups[i].key`): ~5 bytes per slot instead of a map's 25 (key,
/// index and control byte), ~45 bytes per group at 1M groups. Every view is in it once it
/// holds as many entries as there are views; after a checkpoint restore it is empty, and is
/// rebuilt by the first lookup that may insert, and scanned linearly by those before it.
#[derive(Default, Debug)]
pub(super) struct GroupIndex {
    table: hashbrown::HashTable<u32>,
}

fn key_hash(key: &GroupKey) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(key)
}

fn view_hash(groups: &[GroupView], index: u32) -> u64 {
    groups[index as usize].key.as_ref().map_or(0, key_hash)
}

impl GroupIndex {
    fn complete(&self, groups: &[GroupView]) -> bool {
        self.table.len() == groups.len()
    }

    pub(super) fn get(&self, groups: &[GroupView], key: GroupKey) -> Option<u32> {
        if !self.complete(groups) {
            return groups.iter().position(|v| v.key == Some(key)).map(|i| i as u32);
        }
        self.table.find(key_hash(&key), |&i| groups[i as usize].key == Some(key)).copied()
    }

    pub(super) fn get_or_insert(&mut self, groups: &mut Vec<GroupView>, key: GroupKey) -> u32 {
        if !self.complete(groups) {
            self.table.clear();
            for i in 0..groups.len() as u32 {
                self.table.insert_unique(view_hash(groups, i), i, |&j| view_hash(groups, j));
            }
        }
        let hash = key_hash(&key);
        if let Some(&i) = self.table.find(hash, |&i| groups[i as usize].key == Some(key)) {
            return i;
        }
        let next = groups.len() as u32;
        groups.push(GroupView {
            key: Some(key),
            ..GroupView::default()
        });
        self.table.insert_unique(hash, next, |&j| view_hash(groups, j));
        next
    }

    pub(super) fn heap_bytes(&self) -> usize {
        (self.table.capacity() * 8 / 7).next_power_of_two() * 5
    }
}
