//! Approximate heap bytes of the views' parts, for `/metrics`. The per-group parts (hourly
//! counts, environment and release sets) are counted as they change
//! ([`Footprint`]), so a scrape costs O(1) under the read lock instead of a walk of every
//! group (tens of milliseconds at 1M groups, which the sinks and then the readers behind
//! them would wait for).

use rustc_hash::FxHashMap as HashMap;

use super::{GroupView, IssueViews};

/// Heap bytes of the per-group parts (exact-size slices; one element is inline).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Footprint {
    pub hourly: usize,
    pub sets: usize,
}

pub(super) fn hourly_bytes(view: &GroupView) -> usize {
    view.hourly.heap_bytes()
}

pub(super) fn set_bytes(view: &GroupView) -> usize {
    view.environments.heap_bytes() + view.releases.heap_bytes()
}

impl IssueViews {
    /// The per-group parts counted by walking every group.
    pub(super) fn count_footprint(&self) -> Footprint {
        Footprint {
            hourly: self.groups.iter().map(hourly_bytes).sum(),
            sets: self.groups.iter().map(set_bytes).sum(),
        }
    }

    /// The running footprint, counted first if unknown (after a restore or a retention
    /// pass). Every change of a per-group part calls this before it changes anything.
    pub(super) fn footprint(&mut self) -> &mut Footprint {
        if self.footprint.is_none() {
            self.footprint = Some(self.count_footprint());
        }
        self.footprint.get_or_insert_with(Footprint::default)
    }

    /// Approximate heap bytes of the views' parts (capacities, not the allocator's slack;
    /// rows are shared with the ingest state and not counted): what `/metrics` reports so
    /// that memory per group can be broken down. O(1) once the footprint is counted.
    pub fn memory_parts(&self) -> Vec<(&'static str, usize)> {
        fn table<K, V>(map: &HashMap<K, V>) -> usize {
            // hashbrown: one control byte per bucket besides the entry.
            (map.capacity() * 8 / 7).next_power_of_two() * (std::mem::size_of::<(K, V)>() + 1)
        }
        let parts = self.footprint.unwrap_or_else(|| self.count_footprint());
        vec![
            ("groups", self.groups.capacity() * std::mem::size_of::<GroupView>()),
            ("group_index", self.index.heap_bytes() + self.by_id.capacity() * 4),
            ("hourly", parts.hourly),
            ("environment_release_sets", parts.sets),
            ("environment_hours", table(&self.environment_hours)),
            ("occurrence_details", self.details.heap_bytes()),
            ("facets", self.facets.heap_bytes()),
            ("sort_indexes", self.sort_indexes.heap_bytes()),
            ("text_column", self.texts.heap_bytes()),
            ("activity_scratch", self.epoch_scratch.heap_bytes()),
        ]
    }
}
