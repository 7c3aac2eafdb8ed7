//! The ingest state's memory by owner: entries and bytes of each table of a worker's
//! projects, from the tables' capacities and entry sizes (what the allocator holds for them,
//! without its rounding). Logged at debug level when the ingest operator finishes, so that
//! `RUST_LOG=dataflows=debug` shows which structure grows with the input (docs/benchmark-history.md,
//! session 15, s15-ingest).

use std::collections::VecDeque;
use std::mem::size_of;

use rustc_hash::FxHashMap as HashMap;

use super::project::{GroupState, HashState, ProjectState};
use crate::model::ProjectId;

/// One owner's entries (in use) and bytes (allocated).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    pub entries: usize,
    pub bytes: usize,
}

impl Owner {
    fn add(&mut self, entries: usize, bytes: usize) {
        self.entries += entries;
        self.bytes += bytes;
    }
}

/// A worker's projects' state by owner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    pub projects: Owner,
    /// The grouphash table: every entry, linked, gate or discarded.
    pub hashes: Owner,
    /// Of `hashes`: entries that are noise gates (hashes that never created a group).
    pub gates: usize,
    pub dedup: Owner,
    /// `GroupState`s (the vector) and the rows they point at (an `Arc<GroupRow>` each, its
    /// texts and event group not counted).
    pub groups: Owner,
    pub rows: Owner,
    /// The rows' texts (one shared allocation each) and event groups (metadata, hashes).
    pub texts: Owner,
    pub users: Owner,
    pub quotas: Owner,
    pub releases: Owner,
}

/// Bytes of a hashbrown table of `capacity` with entries of `entry` bytes: its buckets
/// (a power of two, 8/7 of the capacity from 8 up), one control byte each plus a group's
/// worth (16) of trailing control bytes.
pub fn table_bytes(capacity: usize, entry: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 7 { capacity + 1 } else { capacity / 7 * 8 };
    buckets * (entry + 1) + 16
}

fn deque_bytes<T>(deque: &VecDeque<T>) -> usize {
    deque.capacity() * size_of::<T>()
}

impl Footprint {
    pub fn of(projects: &HashMap<ProjectId, ProjectState>) -> Footprint {
        let mut f = Footprint::default();
        f.projects.add(
            projects.len(),
            table_bytes(projects.capacity(), size_of::<(ProjectId, ProjectState)>()),
        );
        for project in projects.values() {
            project.add_footprint(&mut f);
        }
        f
    }

    /// All owners' bytes.
    pub fn total(&self) -> usize {
        [
            self.projects,
            self.hashes,
            self.dedup,
            self.groups,
            self.rows,
            self.texts,
            self.users,
            self.quotas,
            self.releases,
        ]
        .iter()
        .map(|o| o.bytes)
        .sum()
    }
}

impl ProjectState {
    pub(super) fn add_footprint(&self, f: &mut Footprint) {
        f.hashes.add(
            self.hashes.len(),
            table_bytes(self.hashes.capacity(), size_of::<(crate::model::GroupHash, HashState)>()),
        );
        f.gates += self.hashes.values().filter(|s| matches!(s, HashState::Gate { .. })).count();
        let (ids, bytes) = self.dedup.footprint();
        f.dedup.add(ids, bytes);
        f.groups.add(self.groups.len(), self.groups.capacity() * size_of::<GroupState>());
        // An `Arc`'s allocation: two counts and the row.
        f.rows
            .add(self.groups.len(), self.groups.len() * (16 + size_of::<super::GroupRow>()));
        for group in &self.groups {
            let event_group = group.row.event_group.as_ref().map_or(0, |e| {
                16 + size_of::<super::EventGroup>()
                    + e.metadata.as_ref().map_or(0, |m| m.len())
                    + e.hashes.capacity() * size_of::<crate::model::GroupHash>()
            });
            f.texts.add(1, group.row.texts.heap_bytes() + event_group);
        }
        let (pairs, bytes) = self.users.footprint();
        f.users.add(pairs, bytes);
        let quota_bytes: usize = self.quotas.values().map(|q| deque_bytes(q.creations())).sum();
        f.quotas.add(
            self.quotas.len(),
            table_bytes(self.quotas.capacity(), size_of::<(u32, super::creation_quota::QuotaWindow)>()) + quota_bytes,
        );
        let (releases, bytes) = self.releases.footprint();
        f.releases.add(releases, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_bytes_follow_hashbrowns_buckets() {
        assert_eq!(table_bytes(0, 32), 0);
        assert_eq!(table_bytes(3, 32), 4 * 33 + 16);
        assert_eq!(table_bytes(7, 32), 8 * 33 + 16);
        assert_eq!(table_bytes(14, 32), 16 * 33 + 16);
        assert_eq!(table_bytes(114_688, 32), 131_072 * 33 + 16);
        // The capacities hashbrown reports are exactly these bucket counts.
        for n in [1usize, 5, 7, 8, 100, 5_000] {
            let map: HashMap<u128, u64> = (0..n as u128).map(|i| (i, 0)).collect();
            let cap = map.capacity();
            let buckets = (table_bytes(cap, 24) - 16) / 25;
            assert!(buckets.is_power_of_two(), "{n}: capacity {cap}, buckets {buckets}");
            assert!(buckets >= n, "{n}");
        }
    }
}
