//! The per-kind aggregate sinks (hourly counts, environment and release sets, merges) and
//! the small per-group sets they keep: moved out of `views.rs` unchanged.

use rustc_hash::FxHashMap as HashMap;

use super::activity::add_environment_hours;
use super::small::SmallSlice;
use super::IssueViews;
use crate::model::Symbol;
use crate::state::GroupKey;

impl IssueViews {
    /// Merges: each child's hourly counts, environments, releases, per-environment hours
    /// and per-hour users move to its parent.
    pub fn apply_merges(&mut self, updates: Vec<((GroupKey, GroupKey), u64, isize)>) {
        for ((child, parent), _, diff) in updates {
            if diff <= 0 || child == parent {
                continue;
            }
            self.merged.insert(child, parent);
            let parent = self.owner(parent);
            let (child_index, parent_index) = (self.index_of(child), self.index_of(parent));
            let (child_hourly, parent_hourly) = (
                &self.groups[child_index as usize].hourly,
                &self.groups[parent_index as usize].hourly,
            );
            self.facets.merge(child_index, child_hourly, parent_index, parent_hourly);
            // Per-environment hours: needed once the two together span two keys.
            let (mut keys, mut series) = self.environment_series(parent_index);
            let (child_keys, child_series) = self.environment_series(child_index);
            keys.extend(child_keys);
            keys.sort();
            keys.dedup();
            self.environment_hours.remove(&child_index);
            if keys.len() > 1 {
                series.extend(child_series);
                let mut split = Vec::new();
                add_environment_hours(&mut split, &series);
                self.environment_hours.insert(parent_index, split);
            }
            self.footprint();
            self.details.merge_into(child_index, parent_index);
            let (hourly, environments, releases) = {
                let view = self.view_mut(child);
                (
                    std::mem::take(&mut view.hourly),
                    std::mem::take(&mut view.environments),
                    std::mem::take(&mut view.releases),
                )
            };
            let footprint = self.footprint();
            footprint.hourly -= hourly.heap_bytes();
            footprint.sets -= environments.heap_bytes() + releases.heap_bytes();
            self.apply_hourly(hourly.iter().map(|&(hour, n)| ((parent, hour), 0, n as isize)).collect());
            self.apply_environments(environments.iter().map(|e| ((parent, *e), 0, 1)).collect());
            self.apply_releases(releases.iter().map(|r| ((parent, *r), 0, 1)).collect());
        }
    }

    pub fn apply_hourly(&mut self, updates: Vec<((GroupKey, u32), u64, isize)>) {
        self.footprint();
        let mut grown = 0;
        for ((key, hour), _, diff) in updates {
            if diff > 0 {
                self.activity_floor = self.activity_floor.min(hour);
            }
            let key = if self.merged.is_empty() { key } else { self.owner(key) };
            grown += add_hour(&mut self.view_mut(key).hourly, hour, diff);
        }
        let hourly = &mut self.footprint().hourly;
        *hourly = hourly.wrapping_add_signed(grown);
    }

    pub fn apply_environments(&mut self, updates: Vec<((GroupKey, Symbol), u64, isize)>) {
        self.footprint();
        for ((key, env), _, diff) in updates {
            let key = if self.merged.is_empty() { key } else { self.owner(key) };
            let (change, bytes) = apply_to_set(&mut self.view_mut(key).environments, env, diff);
            if change > 0 {
                note_environment(&mut self.environment_projects, key.project, env);
            }
            let sets = &mut self.footprint().sets;
            *sets = sets.wrapping_add_signed(bytes);
        }
    }

    pub fn apply_releases(&mut self, updates: Vec<((GroupKey, Symbol), u64, isize)>) {
        self.footprint();
        for ((key, release), _, diff) in updates {
            let key = if self.merged.is_empty() { key } else { self.owner(key) };
            let (_, bytes) = apply_to_set(&mut self.view_mut(key).releases, release, diff);
            let sets = &mut self.footprint().sets;
            *sets = sets.wrapping_add_signed(bytes);
        }
    }
}

/// Records that `project` has seen environment `env` (on a group's first sighting of it).
pub(super) fn note_environment(
    seen: &mut HashMap<Symbol, rustc_hash::FxHashSet<crate::model::ProjectId>>,
    project: crate::model::ProjectId,
    env: Symbol,
) {
    seen.entry(env).or_default().insert(project);
}

/// Adds `diff` occurrences to a group's `hour`, dropping the hour at zero; returns the change
/// of its heap bytes. The slice stays exact-size: an hour added reallocates it one entry
/// larger, as `reserve_exact(1)` on a `Vec` did; a group's first hour is kept inline.
pub(super) fn add_hour(hours: &mut SmallSlice<(u32, u32)>, hour: u32, diff: isize) -> isize {
    // Occurrences mostly come in time order: the newest hour, or one after it.
    let position = match hours.last() {
        Some(&(last, _)) if last < hour => hours.len(),
        _ => hours.partition_point(|(h, _)| *h < hour),
    };
    let before = hours.heap_bytes() as isize;
    match hours.get_mut(position) {
        Some((h, count)) if *h == hour => {
            *count = (i64::from(*count) + diff as i64).max(0) as u32;
            if *count == 0 {
                hours.remove(position);
                return hours.heap_bytes() as isize - before;
            }
            0
        }
        _ if diff > 0 => {
            hours.insert(position, (hour, diff as u32));
            hours.heap_bytes() as isize - before
        }
        _ => 0,
    }
}

/// Adds (`diff > 0`) or removes a symbol of a small per-group set (in order of first
/// sighting). Updates carry occurrence counts per epoch; a symbol is a member once seen. Sets
/// change only on a first sighting, so rebuilding the slice then is cheap. Returns the change
/// of its size and of its heap bytes.
pub(super) fn apply_to_set(set: &mut SmallSlice<Symbol>, symbol: Symbol, diff: isize) -> (isize, isize) {
    let present = set.iter().position(|s| *s == symbol);
    let before = set.heap_bytes() as isize;
    match present {
        None if diff > 0 => {
            set.insert(set.len(), symbol);
            (1, set.heap_bytes() as isize - before)
        }
        Some(at) if diff < 0 => {
            set.remove(at);
            (-1, set.heap_bytes() as isize - before)
        }
        _ => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each environment's projects, however often noted; a checkpoint of an earlier build
    /// (sorted lists of projects) reads back as the same sets.
    #[test]
    fn environments_note_each_project_once_and_read_back_from_older_checkpoints() {
        let mut seen: HashMap<Symbol, rustc_hash::FxHashSet<crate::model::ProjectId>> = HashMap::default();
        let pairs: Vec<(Symbol, u64)> = (0..500u64).map(|n| (n % 3 + 1, (n * 7919) % 40)).collect();
        for &(env, project) in &pairs {
            note_environment(&mut seen, project, env);
        }
        let mut older: std::collections::BTreeMap<Symbol, Vec<u64>> = Default::default();
        for env in 1..=3 {
            let mut expected: Vec<u64> = pairs.iter().filter(|p| p.0 == env).map(|p| p.1).collect();
            expected.sort_unstable();
            expected.dedup();
            let mut projects: Vec<u64> = seen[&env].iter().copied().collect();
            projects.sort_unstable();
            assert_eq!(projects, expected, "environment {env}");
            older.insert(env, expected);
        }
        let bytes = postcard::to_stdvec(&older).expect("encode");
        let read: HashMap<Symbol, rustc_hash::FxHashSet<crate::model::ProjectId>> = postcard::from_bytes(&bytes).expect("decode");
        assert_eq!(read, seen);
    }
}
