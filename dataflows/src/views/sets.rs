//! The per-kind aggregate sinks (hourly counts, environment and release sets, merges) and
//! the small per-group sets they keep: moved out of `views.rs` unchanged.

use rustc_hash::FxHashMap as HashMap;

use super::activity::add_environment_hours;
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
            footprint.hourly -= hourly.len() * 8;
            footprint.sets -= (environments.len() + releases.len()) * 8;
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
            let change = apply_to_set(&mut self.view_mut(key).environments, env, diff);
            if change > 0 {
                note_environment(&mut self.environment_projects, key.project, env);
            }
            let sets = &mut self.footprint().sets;
            *sets = sets.wrapping_add_signed(change * 8);
        }
    }

    pub fn apply_releases(&mut self, updates: Vec<((GroupKey, Symbol), u64, isize)>) {
        self.footprint();
        for ((key, release), _, diff) in updates {
            let key = if self.merged.is_empty() { key } else { self.owner(key) };
            let change = apply_to_set(&mut self.view_mut(key).releases, release, diff);
            let sets = &mut self.footprint().sets;
            *sets = sets.wrapping_add_signed(change * 8);
        }
    }
}

/// Records that `project` has seen environment `env` (on a group's first sighting of it).
pub(super) fn note_environment(seen: &mut HashMap<Symbol, Vec<crate::model::ProjectId>>, project: crate::model::ProjectId, env: Symbol) {
    let projects = seen.entry(env).or_default();
    if let Err(at) = projects.binary_search(&project) {
        projects.insert(at, project);
    }
}

/// Adds (`diff > 0`) or removes a symbol of a small per-group set kept as a vector.
/// Updates carry occurrence counts per epoch; a symbol is a member once seen. Sets change only
/// on a first sighting, so rebuilding the box then is cheap. Returns the change of its size.
/// Adds `diff` occurrences to a group's `hour`, dropping the hour at zero; returns the change
/// of its heap bytes. The box stays exact-size: an hour added reallocates it one entry larger,
/// as `reserve_exact(1)` on a `Vec` did (the allocator mostly grows it in place).
pub(super) fn add_hour(hours: &mut Box<[(u32, u32)]>, hour: u32, diff: isize) -> isize {
    // Occurrences mostly come in time order: the newest hour, or one after it.
    let position = match hours.last() {
        Some(&(last, _)) if last < hour => hours.len(),
        _ => hours.partition_point(|(h, _)| *h < hour),
    };
    match hours.get_mut(position) {
        Some((h, count)) if *h == hour => {
            *count = (i64::from(*count) + diff as i64).max(0) as u32;
            if *count == 0 {
                let mut vec = std::mem::take(hours).into_vec();
                vec.remove(position);
                *hours = vec.into_boxed_slice();
                return -8;
            }
            0
        }
        _ if diff > 0 => {
            let mut vec = std::mem::take(hours).into_vec();
            vec.reserve_exact(1);
            vec.insert(position, (hour, diff as u32));
            *hours = vec.into_boxed_slice();
            8
        }
        _ => 0,
    }
}

pub(super) fn apply_to_set(set: &mut Box<[Symbol]>, symbol: Symbol, diff: isize) -> isize {
    let present = set.contains(&symbol);
    if diff > 0 && !present {
        let mut grown = Vec::with_capacity(set.len() + 1);
        grown.extend_from_slice(set);
        grown.push(symbol);
        *set = grown.into_boxed_slice();
        1
    } else if diff < 0 && present {
        *set = set.iter().copied().filter(|s| *s != symbol).collect();
        -1
    } else {
        0
    }
}
