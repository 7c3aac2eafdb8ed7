//! Per-hour activity: hourly counts, environment sets, per-environment and per-facet hours
//! of each epoch, applied together ([`IssueViews::apply_activity`]).

use super::{retention, IssueViews};
use crate::model::Symbol;
use crate::state::GroupKey;

/// The per-hour activity of the ingest operator, applied together so that each epoch's
/// hourly counts, environment sets and per-environment hours are seen consistently (see
/// `apply_activity`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Activity {
    Hour(GroupKey, u32),
    Environment(GroupKey, Symbol),
    EnvironmentHour(GroupKey, Symbol, u32),
    /// Occurrences of a facet (environment, release, level) in an hour.
    Facet(GroupKey, crate::facets::Facet, u32),
    /// Occurrences of a facet in an hour, standing for all of the above and the release set:
    /// `Hour`, `Facet`, and with an environment `Environment` and `EnvironmentHour`, with a
    /// release the group's release set (`apply_releases`). What the ingest operator sends:
    /// one update per (group, facet, hour) instead of four or five. With the facet's id
    /// ([`crate::facets::Facet::id`], which the ingest state has computed): the views need
    /// not hash the facet again ([`Activity::occurrences`] computes it).
    Occurrences(GroupKey, crate::facets::Facet, u64, u32),
}

impl Activity {
    /// [`Activity::Occurrences`] of `facet`, its id computed.
    pub fn occurrences(key: GroupKey, facet: crate::facets::Facet, hour: u32) -> Activity {
        Activity::Occurrences(key, facet, facet.id(), hour)
    }

    /// The group the activity is of.
    pub fn key(&self) -> GroupKey {
        match self {
            Activity::Hour(key, _)
            | Activity::Environment(key, _)
            | Activity::EnvironmentHour(key, ..)
            | Activity::Facet(key, ..)
            | Activity::Occurrences(key, ..) => *key,
        }
    }
}

impl IssueViews {
    /// A group's environment keys (`None`: occurrences without environment) and its
    /// per-environment hours as they would be split.
    pub(super) fn environment_series(&self, index: u32) -> (Vec<Option<Symbol>>, Vec<EnvironmentHourDiff>) {
        let view = &self.groups[index as usize];
        if let Some(split) = self.environment_hours.get(&index) {
            let with: u64 = split.iter().map(|e| u64::from(e.2)).sum();
            let total: u64 = view.hourly.iter().map(|h| u64::from(h.1)).sum();
            let mut keys: Vec<Option<Symbol>> = view.environments.iter().map(|e| Some(*e)).collect();
            if total > with {
                keys.push(None);
            }
            return (keys, split.iter().map(|&(e, h, n)| (e, h, n as isize)).collect());
        }
        match (view.hourly.is_empty(), view.environments.first()) {
            (true, _) => (Vec::new(), Vec::new()),
            (false, Some(&env)) => (vec![Some(env)], view.hourly.iter().map(|&(h, n)| (env, h, n as isize)).collect()),
            (false, None) => (vec![None], Vec::new()),
        }
    }

    /// Applies one or more epochs of hourly counts, environment sets and per-environment
    /// hours. Within an epoch the per-environment split is decided against the hourly counts
    /// and environment sets *before* the epoch, which is why the three arrive through one sink.
    pub fn apply_activity(&mut self, mut updates: Vec<(Activity, u64, isize)>) {
        // A sink's slice is one epoch: no sort (a stable sort allocates a buffer the size of
        // the updates) and no split.
        let one_epoch = match (updates.first(), updates.last()) {
            (Some(first), Some(last)) => first.1 == last.1 && updates.iter().all(|u| u.1 == first.1),
            _ => return,
        };
        if one_epoch {
            self.apply_activity_epoch(updates);
            return;
        }
        updates.sort_by_key(|(_, time, _)| *time);
        while !updates.is_empty() {
            let time = updates[0].1;
            let end = updates.partition_point(|(_, t, _)| *t == time);
            let rest = updates.split_off(end);
            self.apply_activity_epoch(std::mem::replace(&mut updates, rest));
        }
    }

    fn apply_activity_epoch(&mut self, updates: Vec<(Activity, u64, isize)>) {
        let present = retention::present_hour();
        let newest = updates
            .iter()
            .filter_map(|(u, _, diff)| match u {
                Activity::Hour(_, hour) | Activity::Occurrences(_, _, _, hour) if *diff > 0 => Some(*hour),
                _ => None,
            })
            .filter(|&hour| hour <= present)
            .max();
        let cut = self.retain_activity(newest, retention::retention_hours());
        // After the retention (whose scan resets it from what is held), the floor goes down
        // to the hours this epoch adds (below).
        let mut floor = self.activity_floor;
        // Each update's group is looked up once; see `epoch.rs`.
        let mut scratch = std::mem::take(&mut self.epoch_scratch);
        // The ingest operator sends each group's updates together: one lookup per run.
        let mut last: Option<(GroupKey, u32)> = None;
        let only_additions = updates.iter().all(|u| u.2 > 0);
        for (update, _time, diff) in updates {
            let hour = match update {
                Activity::Hour(_, hour) | Activity::EnvironmentHour(_, _, hour) | Activity::Facet(_, _, hour) => {
                    // Hours before the cut are ignored: not even their group is looked up.
                    if hour < cut {
                        continue;
                    }
                    hour
                }
                // Sets are not pruned: an old occurrence still adds its environment and
                // release (below), only its hours are dropped.
                Activity::Occurrences(_, _, _, hour) => hour,
                Activity::Environment(..) => u32::MAX,
            };
            if diff > 0 && hour >= cut {
                floor = floor.min(hour);
            }
            let key = update.key();
            let index = self.run_index(&mut last, key);
            match update {
                Activity::Hour(_, hour) => scratch.hour(index, hour, diff),
                Activity::Environment(_, env) => scratch.environments.push((index, env, diff)),
                Activity::EnvironmentHour(_, env, hour) => scratch.environment_hour(index, (env, hour, diff)),
                Activity::Facet(_, facet, hour) => {
                    if !self.windows_dropped {
                        scratch.facet(index, (self.facets.intern(&facet), hour, diff));
                    }
                }
                Activity::Occurrences(_, facet, id, hour) => {
                    // Sets only grow in an epoch of additions: a member already there needs
                    // no update (most occurrences repeat their group's environment).
                    let view = &self.groups[index as usize];
                    if let Some(env) = facet.environment {
                        if !(only_additions && view.environments.contains(&env)) {
                            scratch.environments.push((index, env, diff));
                        }
                    }
                    if let Some(release) = facet.release {
                        if !(only_additions && view.releases.contains(&release)) {
                            scratch.releases.push((index, release, diff));
                        }
                    }
                    if hour >= cut {
                        let id = (!self.windows_dropped).then(|| {
                            self.facets.intern_as(&facet, id);
                            id
                        });
                        scratch.occurrences(index, facet.environment, id, hour, diff);
                    }
                }
            }
        }
        self.activity_floor = floor;
        scratch.group();
        // The split and the facets are decided against the hours and environments before
        // the epoch, so they go first.
        for batch in scratch.touched.chunks(super::WARM_BATCH) {
            for touched in batch.iter().filter(|t| t.hours) {
                self.warm_environment_hours(touched.index);
            }
            for touched in batch.iter().filter(|t| t.hours) {
                self.split_environments(touched.index, touched.total, scratch.env_hours_of(touched));
            }
        }
        // In batches whose state is asked for first, so that its cache misses overlap.
        for batch in scratch.touched.chunks(super::WARM_BATCH) {
            for touched in batch {
                if !scratch.facets_of(touched).is_empty() {
                    self.facets.warm(touched.index);
                }
            }
            for touched in batch {
                let updates = scratch.facets_of(touched);
                if !updates.is_empty() {
                    let index = touched.index;
                    self.facets.apply_ids(index, &self.groups[index as usize].hourly, updates);
                }
            }
        }
        self.footprint();
        let mut grown = 0;
        for &(index, hour, diff) in &scratch.hours {
            grown += super::sets::add_hour(&mut self.groups[index as usize].hourly, hour, diff);
        }
        let mut sets = 0;
        for &(index, env, diff) in &scratch.environments {
            let view = &mut self.groups[index as usize];
            let (change, bytes) = super::sets::apply_to_set(&mut view.environments, env, diff);
            if change > 0 {
                if let Some(key) = view.key {
                    super::sets::note_environment(&mut self.environment_projects, key.project, env);
                }
            }
            sets += bytes;
        }
        for &(index, release, diff) in &scratch.releases {
            sets += super::sets::apply_to_set(&mut self.groups[index as usize].releases, release, diff).1;
        }
        let footprint = self.footprint();
        footprint.hourly = footprint.hourly.wrapping_add_signed(grown);
        footprint.sets = footprint.sets.wrapping_add_signed(sets);
        scratch.clear();
        self.epoch_scratch = scratch;
    }

    /// Asks for the cache lines `split_environments` reads first: the group's view and,
    /// for a group split by environment, the end of its series (see `FacetHours::warm`).
    #[inline]
    fn warm_environment_hours(&self, index: u32) {
        if let Some(view) = self.groups.get(index as usize) {
            super::prefetch((view as *const super::GroupView).cast());
            if !view.environments.is_empty() {
                if let Some(last) = self.environment_hours.get(&index).and_then(|series| series.last()) {
                    super::prefetch((last as *const (Symbol, u32, u32)).cast());
                }
            }
        }
    }

    /// Keeps `environment_hours` for group `index` once its occurrences span two environment
    /// keys: on the transition the single key's history is the group's `hourly` so far.
    fn split_environments(&mut self, index: u32, total: isize, updates: &[EnvironmentHourDiff]) {
        let view = &self.groups[index as usize];
        // No environment before and none now: one key ("no environment"), nothing to keep.
        // A split group always has an environment, so the others need no lookup either.
        if view.environments.is_empty() && updates.is_empty() {
            return;
        }
        if !view.environments.is_empty() {
            if let Some(split) = self.environment_hours.get_mut(&index) {
                add_environment_hours(split, updates);
                return;
            }
        }
        let with_environment: isize = updates.iter().map(|u| u.2).sum();
        // The one key before this epoch: None without history, Some(None) for "no environment".
        // Environments are never pruned, hours are (`retention`): a group with an
        // environment has history even when its hours are gone.
        let before: Option<Option<Symbol>> = match view.environments.first() {
            Some(&env) => Some(Some(env)),
            None => (!view.hourly.is_empty()).then_some(None),
        };
        let mut only = before;
        let mut several = false;
        let seen = updates.iter().filter(|u| u.2 > 0).map(|u| Some(u.0));
        let without = (total > with_environment).then_some(None);
        for key in seen.chain(without) {
            match only {
                None => only = Some(key),
                Some(first) if first != key => several = true,
                Some(_) => {}
            }
        }
        if !several {
            return;
        }
        let mut split: Vec<(Symbol, u32, u32)> = match before {
            Some(Some(env)) => view.hourly.iter().map(|&(hour, n)| (env, hour, n)).collect(),
            _ => Vec::new(),
        };
        add_environment_hours(&mut split, updates);
        self.environment_hours.insert(index, split);
    }
}

/// Per-environment hours by group index (`IssueViews::environment_hours`).
pub(super) type EnvironmentHours = rustc_hash::FxHashMap<u32, Vec<(Symbol, u32, u32)>>;

/// `(environment, hour, occurrences added)`.
pub(super) type EnvironmentHourDiff = (Symbol, u32, isize);

pub(super) fn add_environment_hours(split: &mut Vec<(Symbol, u32, u32)>, updates: &[EnvironmentHourDiff]) {
    for &(env, hour, diff) in updates {
        crate::hour_series::add(split, env, hour, diff);
    }
}

/// `environment_hours` as a checkpoint holds it, each series sorted hour-major (earlier
/// builds wrote them by environment, then hour).
pub(super) fn environment_hours_read<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<EnvironmentHours, D::Error> {
    let mut by_group: EnvironmentHours = serde::Deserialize::deserialize(deserializer)?;
    for series in by_group.values_mut() {
        crate::hour_series::sort_hour_major(series);
    }
    Ok(by_group)
}
