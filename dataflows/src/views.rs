//! The materialized issue views that the read side queries. The dataflow's sinks apply each
//! completed epoch's changes here; nothing else writes to it.
//!
//! Memory layout: one dense `Vec<GroupView>` holds everything about a group, a small
//! `GroupKey → index` map finds it, and ids (dense from 1) index a vector. A hash map of large
//! rows would keep up to half its slots empty after growing; this keeps ~24 bytes of overhead
//! per group.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use crate::model::{Micros, Symbol, SymbolDefinition};
use crate::state::{Counter, GroupKey, GroupRow};

mod blocks;
mod epoch;
mod group_index;
mod index;
pub mod retention;
use group_index::GroupIndex;
pub use index::{created_key, trends_score, SortIndex, SortIndexes, Walk};

/// Everything the read side knows about one group.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct GroupView {
    pub key: Option<GroupKey>,
    /// None until the group's row arrives, or after it is retracted. Not checkpointed: the
    /// ingest state holds the same rows, and a restore links them back (`restore_row`), so
    /// rows are written once and shared again after a restart.
    #[serde(skip)]
    pub row: Option<Arc<GroupRow>>,
    /// 0 until assigned.
    pub id: u64,
    /// Occurrences per hour (hours since the Unix epoch), ascending.
    pub hourly: Vec<(u32, u32)>,
    /// Distinct environments. Exact-size boxes: most groups have one or two, and a `Vec`
    /// would reserve four.
    pub environments: Box<[Symbol]>,
    /// Distinct releases (every release any of the group's occurrences carried).
    pub releases: Box<[Symbol]>,
}

#[derive(Default, Debug, serde::Serialize, serde::Deserialize)]
pub struct IssueViews {
    /// `GroupKey → index`; not checkpointed (rebuilt from `groups`, see [`GroupIndex`]).
    #[serde(skip)]
    index: GroupIndex,
    groups: Vec<GroupView>,
    /// `by_id[id]` is the index of group `id` (`u32::MAX` where unknown).
    by_id: Vec<u32>,
    pub symbols: HashMap<Symbol, String>,
    pub counters: BTreeMap<Counter, i64>,
    /// Merged groups: child → parent. Aggregates of a child that arrive after its merge (the
    /// sinks of one epoch apply in any order) go to the parent.
    merged: HashMap<GroupKey, GroupKey>,
    /// Every epoch before this one is fully applied.
    pub complete_through: u64,
    /// The input is exhausted and every epoch applied.
    pub finished: bool,
    /// When change sinks are configured: each group changed since the last drain, with its
    /// row before the first of those changes (None: it did not exist).
    #[serde(skip)]
    pub change_log: Option<HashMap<GroupKey, Option<Arc<GroupRow>>>>,
    /// Distinct users per hour, by group index (`UserHours::None` past the end):
    /// `[hour, user low 32 bits, user high 32 bits]`, sorted, 12 bytes each. Windowed
    /// `userCount` is the number of distinct users over the window's hours. A dense vector
    /// (16 bytes per group) rather than a hash map (~50 bytes per group with a user at 2M
    /// slots): most groups have users.
    user_hours: Vec<UserHours>,
    /// Occurrences per (environment, hour), sorted, by group index — only for groups whose
    /// occurrences span more than one environment key ("no environment" counting as a key).
    /// A group with one key needs nothing: its `hourly` *is* that environment's series (or no
    /// environment's, when `environments` is empty). Most groups see one environment, so
    /// requests with `environment=` cost no memory for them, and requests without one read
    /// `hourly` exactly as before. See `apply_activity` and docs/semantics.md §7.
    environment_hours: HashMap<u32, Vec<(Symbol, u32, u32)>>,
    /// Occurrences per (environment, release, level) and hour, for event-level conditions
    /// (`facets`): only an id for groups with one such facet.
    facets: crate::facets::FacetHours,
    /// Retention (`retention`): the newest hour of activity and of per-hour users seen, and
    /// the first hour each still keeps.
    newest_hour: u32,
    activity_cut: u32,
    newest_user_hour: u32,
    users_cut: u32,
    /// The greatest `last_seen` of any row: the API's clock when it follows the data
    /// (rebuilt by `restore_row` after a restore).
    #[serde(skip)]
    pub latest_event: Micros,
    /// Groups with a row by an upper bound of each sort's value (`index.rs`): the issues
    /// list walks them instead of scanning every group. Rebuilt from the rows after a restore.
    #[serde(skip)]
    sort_indexes: SortIndexes,
    /// How long the sinks held the write lock, recently (microseconds): what a reader can
    /// wait for (`/metrics`).
    #[serde(skip)]
    pub write_holds: LockTimes,
    /// `apply_groups`' rows retracted and not yet replaced, by group index (empty between
    /// batches; kept for its memory).
    #[serde(skip)]
    retracted_rows: HashMap<u32, Arc<GroupRow>>,
    /// Buffers reused by `apply_activity` from epoch to epoch.
    #[serde(skip)]
    epoch_scratch: epoch::EpochScratch,
}

/// The durations of a lock's holds or waits over the last 20 seconds, in microseconds.
#[derive(Debug, Default)]
pub struct LockTimes {
    recent: std::collections::VecDeque<(std::time::Instant, u32)>,
}

impl LockTimes {
    const KEEP: usize = 100_000;
    const SPAN: std::time::Duration = std::time::Duration::from_secs(20);

    pub fn record(&mut self, took: std::time::Duration) {
        let now = std::time::Instant::now();
        while self.recent.front().is_some_and(|(at, _)| now.duration_since(*at) > Self::SPAN) || self.recent.len() >= Self::KEEP {
            self.recent.pop_front();
        }
        self.recent.push_back((now, took.as_micros().min(u128::from(u32::MAX)) as u32));
    }

    /// `(count, p50, p99, max)` in seconds of the samples of the last 20 seconds.
    pub fn summary(&self) -> (usize, f64, f64, f64) {
        let now = std::time::Instant::now();
        let mut sorted: Vec<u32> = self
            .recent
            .iter()
            .filter(|(at, _)| now.duration_since(*at) <= Self::SPAN)
            .map(|(_, took)| *took)
            .collect();
        sorted.sort_unstable();
        let at = |q: f64| {
            sorted
                .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
                .map_or(0.0, |&v| f64::from(v) / 1e6)
        };
        (sorted.len(), at(0.5), at(0.99), at(1.0))
    }
}

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
}

/// A group's net change between two drains of the change log.
#[derive(Clone, Debug)]
pub struct GroupChange {
    pub key: GroupKey,
    pub id: u64,
    pub before: Option<Arc<GroupRow>>,
    pub after: Option<Arc<GroupRow>>,
}

impl IssueViews {
    fn view_mut(&mut self, key: GroupKey) -> &mut GroupView {
        let index = self.index_of(key);
        &mut self.groups[index as usize]
    }

    /// The group's index, creating its view if needed (one hash lookup).
    fn index_of(&mut self, key: GroupKey) -> u32 {
        self.index.get_or_insert(&mut self.groups, key)
    }

    /// The group's index, if it has a view.
    fn find(&self, key: GroupKey) -> Option<u32> {
        self.index.get(&self.groups, key)
    }

    pub fn get(&self, key: GroupKey) -> Option<&GroupView> {
        self.find(key).map(|i| &self.groups[i as usize])
    }

    pub fn by_id(&self, id: u64) -> Option<&GroupView> {
        let index = *self.by_id.get(usize::try_from(id).ok()?)?;
        self.groups.get(index as usize).filter(|v| v.row.is_some())
    }

    /// Groups with a row, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (GroupKey, &GroupView, &GroupRow)> {
        self.groups.iter().filter_map(|v| Some((v.key?, v, &**v.row.as_ref()?)))
    }

    /// Groups with a row and an id, in id order.
    pub fn iter_by_id(&self) -> impl Iterator<Item = (GroupKey, &GroupView, &GroupRow)> {
        self.by_id.iter().filter_map(|&i| {
            let view = self.groups.get(i as usize)?;
            Some((view.key?, view, &**view.row.as_ref()?))
        })
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn apply_groups(&mut self, mut updates: Vec<((GroupKey, Arc<GroupRow>), u64, isize)>) {
        // Retractions before insertions, so a key's old row leaves before its new row arrives.
        updates.sort_by_key(|(_, time, diff)| (*time, *diff));
        // A retracted row stays in the sort indexes until the batch has seen whether the key
        // gets a new one: then the indexes move it once, and keys that do not change (often
        // `first_seen`) are left alone instead of being removed and inserted again.
        let mut retracted = std::mem::take(&mut self.retracted_rows);
        for ((key, row), _, diff) in updates {
            let index = self.index_of(key);
            if let Some(log) = &mut self.change_log {
                log.entry(key).or_insert_with(|| self.groups[index as usize].row.clone());
            }
            if diff > 0 {
                self.latest_event = self.latest_event.max(row.last_seen);
            }
            let view = &mut self.groups[index as usize];
            if diff < 0 {
                if let Some(current) = view.row.take_if(|current| Arc::ptr_eq(current, &row) || **current == *row) {
                    retracted.insert(index, current);
                }
            } else {
                // The indexes hold the retracted row, if any, else the current one.
                let old = retracted.remove(&index).or_else(|| view.row.take());
                self.sort_indexes.update(index, old.as_deref(), Some(&row));
                view.row = Some(row);
            }
        }
        for (index, old) in retracted.drain() {
            self.sort_indexes.update(index, Some(&old), None);
        }
        self.retracted_rows = retracted;
    }

    /// Replaces a group's row, keeping the sort indexes in step.
    fn set_row(&mut self, index: u32, row: Option<Arc<GroupRow>>) {
        let view = &mut self.groups[index as usize];
        self.sort_indexes.update(index, view.row.as_deref(), row.as_deref());
        view.row = row;
    }

    /// Groups with a row by descending bound of a sort index, then creation order (see
    /// [`SortIndexes::walk`]), each with its bound and created key ([`created_key`]).
    pub fn walk(
        &self,
        index: SortIndex,
        unresolved_only: bool,
        at_most: Micros,
    ) -> impl Iterator<Item = (i64, u32, (GroupKey, &GroupView, &GroupRow))> {
        if index == SortIndex::Trends {
            let rows = self.groups.iter().enumerate();
            self.sort_indexes
                .build_trends(rows.filter_map(|(i, v)| Some((i as u32, &**v.row.as_ref()?))));
        }
        self.sort_indexes
            .walk(index, unresolved_only, at_most)
            .filter_map(|(bound, created, index)| {
                let view = &self.groups[index as usize];
                Some((bound, created, (view.key?, view, &**view.row.as_ref()?)))
            })
    }

    /// Approximate heap bytes of the views' parts (capacities, not the allocator's slack;
    /// rows are shared with the ingest state and not counted): what `/metrics` reports so
    /// that memory per group can be broken down.
    pub fn memory_parts(&self) -> Vec<(&'static str, usize)> {
        fn table<K, V>(map: &HashMap<K, V>) -> usize {
            // hashbrown: one control byte per bucket besides the entry.
            (map.capacity() * 8 / 7).next_power_of_two() * (std::mem::size_of::<(K, V)>() + 1)
        }
        let hourly: usize = self.groups.iter().map(|v| v.hourly.capacity() * 8).sum();
        let sets: usize = self.groups.iter().map(|v| (v.environments.len() + v.releases.len()) * 8).sum();
        let user_lists: usize = self
            .user_hours
            .iter()
            .map(|u| match u {
                UserHours::None | UserHours::One(_) => 0,
                UserHours::Many(list) => 24 + list.capacity() * 12,
            })
            .sum();
        vec![
            ("groups", self.groups.capacity() * std::mem::size_of::<GroupView>()),
            ("group_index", self.index.heap_bytes() + self.by_id.capacity() * 4),
            ("hourly", hourly),
            ("environment_release_sets", sets),
            (
                "user_hours",
                self.user_hours.capacity() * std::mem::size_of::<UserHours>() + user_lists,
            ),
            ("environment_hours", table(&self.environment_hours)),
            ("facets", self.facets.heap_bytes()),
            ("sort_indexes", self.sort_indexes.heap_bytes()),
            ("activity_scratch", self.epoch_scratch.heap_bytes()),
        ]
    }

    /// After a restore: the group's row, shared with the ingest state.
    pub fn restore_row(&mut self, key: GroupKey, row: Arc<GroupRow>) {
        self.latest_event = self.latest_event.max(row.last_seen);
        let index = self.index_of(key);
        self.set_row(index, Some(row));
    }

    /// Takes the net changes since the last drain, for groups that have their id (the others
    /// stay until it arrives). No-op changes are dropped.
    pub fn drain_changes(&mut self) -> Vec<GroupChange> {
        let Some(mut log) = self.change_log.take() else {
            return Vec::new();
        };
        let mut changes = Vec::new();
        log.retain(|key, before| {
            let Some(view) = self.get(*key) else { return false };
            if view.id == 0 {
                return true;
            }
            if before.as_deref() != view.row.as_deref() {
                changes.push(GroupChange {
                    key: *key,
                    id: view.id,
                    before: before.take(),
                    after: view.row.clone(),
                });
            }
            false
        });
        self.change_log = Some(log);
        changes.sort_by_key(|c| c.id);
        changes
    }

    pub fn apply_ids(&mut self, updates: Vec<((GroupKey, u64), u64, isize)>) {
        for ((key, id), _, diff) in updates {
            let Ok(slot) = usize::try_from(id) else { continue };
            let view = self.view_mut(key);
            view.id = if diff > 0 { id } else { 0 };
            let index = self.index_of(key);
            if self.by_id.len() <= slot {
                self.by_id.resize(slot + 1, u32::MAX);
            }
            self.by_id[slot] = if diff > 0 { index } else { u32::MAX };
        }
    }

    /// Where a group's aggregates live: its own view, or its merge parent's.
    fn owner(&self, mut key: GroupKey) -> GroupKey {
        while let Some(parent) = self.merged.get(&key) {
            key = *parent;
        }
        key
    }

    /// A group's environment keys (`None`: occurrences without environment) and its
    /// per-environment hours as they would be split.
    fn environment_series(&self, index: u32) -> (Vec<Option<Symbol>>, Vec<EnvironmentHourDiff>) {
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
            if let Some(users) = self.user_hours.get_mut(child_index as usize).map(std::mem::take) {
                let moved = users
                    .as_slice()
                    .iter()
                    .map(|e| ((parent, e[0], u64::from(e[1]) | (u64::from(e[2]) << 32)), 0, 1));
                self.apply_user_hours(moved.collect());
            }
            let (hourly, environments, releases) = {
                let view = self.view_mut(child);
                (
                    std::mem::take(&mut view.hourly),
                    std::mem::take(&mut view.environments),
                    std::mem::take(&mut view.releases),
                )
            };
            self.apply_hourly(hourly.into_iter().map(|(hour, n)| ((parent, hour), 0, n as isize)).collect());
            self.apply_environments(environments.iter().map(|e| ((parent, *e), 0, 1)).collect());
            self.apply_releases(releases.iter().map(|r| ((parent, *r), 0, 1)).collect());
        }
    }

    pub fn apply_hourly(&mut self, updates: Vec<((GroupKey, u32), u64, isize)>) {
        for ((key, hour), _, diff) in updates {
            let key = if self.merged.is_empty() { key } else { self.owner(key) };
            add_hour(&mut self.view_mut(key).hourly, hour, diff);
        }
    }

    pub fn apply_environments(&mut self, updates: Vec<((GroupKey, Symbol), u64, isize)>) {
        for ((key, env), _, diff) in updates {
            let key = if self.merged.is_empty() { key } else { self.owner(key) };
            apply_to_set(&mut self.view_mut(key).environments, env, diff);
        }
    }

    pub fn apply_releases(&mut self, updates: Vec<((GroupKey, Symbol), u64, isize)>) {
        for ((key, release), _, diff) in updates {
            let key = if self.merged.is_empty() { key } else { self.owner(key) };
            apply_to_set(&mut self.view_mut(key).releases, release, diff);
        }
    }

    pub fn apply_symbols(&mut self, updates: Vec<(SymbolDefinition, u64, isize)>) {
        for ((symbol, name), _, _) in updates {
            self.symbols.entry(symbol).or_insert(name);
        }
    }

    pub fn apply_counters(&mut self, updates: Vec<(Counter, u64, isize)>) {
        for (counter, _, diff) in updates {
            *self.counters.entry(counter).or_default() += diff as i64;
        }
    }

    /// Applies one or more epochs of hourly counts, environment sets and per-environment
    /// hours. Within an epoch the per-environment split is decided against the hourly counts
    /// and environment sets *before* the epoch, which is why the three arrive through one sink.
    pub fn apply_activity(&mut self, mut updates: Vec<(Activity, u64, isize)>) {
        updates.sort_by_key(|(_, time, _)| *time);
        while !updates.is_empty() {
            let time = updates[0].1;
            let end = updates.partition_point(|(_, t, _)| *t == time);
            let rest = updates.split_off(end);
            self.apply_activity_epoch(std::mem::replace(&mut updates, rest));
        }
    }

    fn apply_activity_epoch(&mut self, mut updates: Vec<(Activity, u64, isize)>) {
        let newest = updates
            .iter()
            .filter_map(|(u, _, diff)| match u {
                Activity::Hour(_, hour) if *diff > 0 => Some(*hour),
                _ => None,
            })
            .max();
        let cut = self.retain_activity(newest, retention::retention_hours());
        if cut > 0 {
            updates.retain(|(u, _, _)| match u {
                Activity::Hour(_, hour) | Activity::EnvironmentHour(_, _, hour) | Activity::Facet(_, _, hour) => *hour >= cut,
                Activity::Environment(..) => true,
            });
        }
        // Each update's group is looked up once; see `epoch.rs`.
        let mut scratch = std::mem::take(&mut self.epoch_scratch);
        for (update, _time, diff) in updates {
            // A merged group's late activity belongs to its parent.
            let key = match &update {
                Activity::Hour(key, ..)
                | Activity::Environment(key, ..)
                | Activity::EnvironmentHour(key, ..)
                | Activity::Facet(key, ..) => *key,
            };
            let key = if self.merged.is_empty() { key } else { self.owner(key) };
            let index = self.index_of(key);
            match update {
                Activity::Hour(_, hour) => scratch.hour(index, hour, diff),
                Activity::Environment(_, env) => scratch.environments.push((index, env, diff)),
                Activity::EnvironmentHour(_, env, hour) => scratch.environment_hour(index, (env, hour, diff)),
                Activity::Facet(_, facet, hour) => scratch.facet(index, (facet, hour, diff)),
            }
        }
        scratch.group();
        // The split and the facets are decided against the hours and environments before
        // the epoch, so they go first.
        for touched in &scratch.touched {
            if touched.hours {
                self.split_environments(touched.index, touched.total, scratch.env_hours_of(touched));
            }
        }
        for touched in &scratch.touched {
            let updates = scratch.facets_of(touched);
            if !updates.is_empty() {
                let index = touched.index;
                self.facets.apply(index, &self.groups[index as usize].hourly, updates);
            }
        }
        for &(index, hour, diff) in &scratch.hours {
            add_hour(&mut self.groups[index as usize].hourly, hour, diff);
        }
        for &(index, env, diff) in &scratch.environments {
            apply_to_set(&mut self.groups[index as usize].environments, env, diff);
        }
        scratch.clear();
        self.epoch_scratch = scratch;
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

    pub fn apply_user_hours(&mut self, mut updates: Vec<((GroupKey, u32, Symbol), u64, isize)>) {
        let newest = updates.iter().filter(|u| u.2 > 0).map(|u| u.0 .1).max();
        let cut = self.retain_users(newest, retention::retention_hours());
        updates.retain(|u| u.0 .1 >= cut);
        for ((key, hour, user), _, diff) in updates {
            let key = if self.merged.is_empty() { key } else { self.owner(key) };
            let index = self.index_of(key);
            let entry = [hour, user as u32, (user >> 32) as u32];
            let slot = index as usize;
            if self.user_hours.len() <= slot {
                if diff <= 0 {
                    continue;
                }
                self.user_hours.resize_with(slot + 1, UserHours::default);
            }
            let users = &mut self.user_hours[slot];
            if !users.apply(entry, diff) {
                *users = UserHours::None;
            }
        }
    }

    /// The group's distinct users per hour (`[hour, user low, user high]`, sorted), if it has any.
    pub fn user_hours(&self, key: GroupKey) -> Option<&[[u32; 3]]> {
        let users = self.user_hours.get(self.find(key)? as usize)?;
        (!matches!(users, UserHours::None)).then(|| users.as_slice())
    }

    /// The group's occurrences per (environment, hour), sorted, when it has more than one
    /// environment key (else its `hourly` belongs to its only environment, or to none).
    pub fn environment_hours(&self, key: GroupKey) -> Option<&[(Symbol, u32, u32)]> {
        self.environment_hours.get(&self.find(key)?).map(Vec::as_slice)
    }

    /// The group's occurrences per hour whose facet `accept`s, and whether that is all of
    /// them (see `facets::FacetHours::hours_matching`).
    pub fn facet_hours<'v>(
        &self,
        key: GroupKey,
        view: &'v GroupView,
        accept: impl Fn(&crate::facets::Facet) -> bool,
    ) -> (std::borrow::Cow<'v, [(u32, u32)]>, bool) {
        match self.find(key) {
            Some(index) => self.facets.hours_matching(index, &view.hourly, accept),
            None => (std::borrow::Cow::Borrowed(&view.hourly), true),
        }
    }

    pub fn counter(&self, counter: Counter) -> i64 {
        self.counters.get(&counter).copied().unwrap_or(0)
    }

    pub fn symbol_name(&self, symbol: Symbol) -> Option<&str> {
        self.symbols.get(&symbol).map(String::as_str)
    }
}

/// A group's `(hour, user)` entries: most groups have one, kept inline (16 bytes in all, a
/// third of a one-element `Vec` with its allocation).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
enum UserHours {
    /// No users (the group has none, or none left after retention).
    #[default]
    None,
    One([u32; 3]),
    /// Boxed so the enum stays 16 bytes (a bare `Vec` would make every entry 32).
    #[allow(clippy::box_collection)]
    Many(Box<Vec<[u32; 3]>>),
}

impl UserHours {
    /// Keeps the entries from hour `cut` on; false when none remain.
    fn retain_from(&mut self, cut: u32) -> bool {
        match self {
            UserHours::None => false,
            UserHours::One(entry) => entry[0] >= cut,
            UserHours::Many(list) => {
                list.retain(|e| e[0] >= cut);
                !list.is_empty()
            }
        }
    }

    fn as_slice(&self) -> &[[u32; 3]] {
        match self {
            UserHours::None => &[],
            UserHours::One(entry) => std::slice::from_ref(entry),
            UserHours::Many(list) => list,
        }
    }

    /// Adds (`diff > 0`) or removes an entry, keeping the order; false when none remain.
    fn apply(&mut self, entry: [u32; 3], diff: isize) -> bool {
        if let UserHours::None = self {
            if diff > 0 {
                *self = UserHours::One(entry);
            }
            return diff > 0;
        }
        if let UserHours::One(only) = *self {
            if diff > 0 && only != entry {
                let mut list = vec![only, entry];
                list.sort_unstable();
                *self = UserHours::Many(Box::new(list));
            }
            return !(diff < 0 && only == entry);
        }
        let UserHours::Many(list) = self else { return true };
        match list.binary_search(&entry) {
            Err(position) if diff > 0 => list.insert(position, entry),
            Ok(position) if diff < 0 => {
                list.remove(position);
            }
            _ => {}
        }
        !list.is_empty()
    }
}

/// Adds `diff` occurrences to a group's `hour`, dropping the hour at zero.
fn add_hour(hours: &mut Vec<(u32, u32)>, hour: u32, diff: isize) {
    let position = hours.partition_point(|(h, _)| *h < hour);
    match hours.get_mut(position) {
        Some((h, count)) if *h == hour => {
            *count = (i64::from(*count) + diff as i64).max(0) as u32;
            if *count == 0 {
                hours.remove(position);
            }
        }
        _ if diff > 0 => {
            // Exact size: most groups have a few hours, and a `Vec`'s first growth reserves
            // four (24 bytes of slack per group at one hour).
            hours.reserve_exact(1);
            hours.insert(position, (hour, diff as u32));
        }
        _ => {}
    }
}

/// `(environment, hour, occurrences added)`.
type EnvironmentHourDiff = (Symbol, u32, isize);

fn add_environment_hours(split: &mut Vec<(Symbol, u32, u32)>, updates: &[EnvironmentHourDiff]) {
    for &(env, hour, diff) in updates {
        let position = split.partition_point(|&(e, h, _)| (e, h) < (env, hour));
        match split.get_mut(position) {
            Some((e, h, count)) if (*e, *h) == (env, hour) => {
                *count = (i64::from(*count) + diff as i64).max(0) as u32;
                if *count == 0 {
                    split.remove(position);
                }
            }
            _ if diff > 0 => split.insert(position, (env, hour, diff as u32)),
            _ => {}
        }
    }
}

/// Adds (`diff > 0`) or removes a symbol of a small per-group set kept as a vector.
/// Updates carry occurrence counts per epoch; a symbol is a member once seen. Sets change only
/// on a first sighting, so rebuilding the box then is cheap.
fn apply_to_set(set: &mut Box<[Symbol]>, symbol: Symbol, diff: isize) {
    let present = set.contains(&symbol);
    if diff > 0 && !present {
        let mut grown = Vec::with_capacity(set.len() + 1);
        grown.extend_from_slice(set);
        grown.push(symbol);
        *set = grown.into_boxed_slice();
    } else if diff < 0 && present {
        *set = set.iter().copied().filter(|s| *s != symbol).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(times_seen: u64) -> Arc<GroupRow> {
        Arc::new(GroupRow {
            times_seen,
            ..GroupRow::sample()
        })
    }

    const KEY: GroupKey = GroupKey { project: 1, short_id: 1 };

    #[test]
    fn a_row_is_replaced_whatever_the_update_order_within_an_epoch() {
        let mut views = IssueViews::default();
        views.apply_groups(vec![((KEY, row(1)), 0, 1)]);
        // The insertion comes first in the batch; the retraction must still not remove it.
        views.apply_groups(vec![((KEY, row(2)), 1, 1), ((KEY, row(1)), 1, -1)]);
        assert_eq!(views.get(KEY).and_then(|v| v.row.as_ref()).map(|r| r.times_seen), Some(2));
        // Retracting a row that is not the current one changes nothing.
        views.apply_groups(vec![((KEY, row(7)), 2, -1)]);
        assert_eq!(views.len(), 1);
        views.apply_groups(vec![((KEY, row(2)), 3, -1)]);
        assert!(views.is_empty());
    }

    #[test]
    fn the_sort_indexes_follow_replaced_and_retracted_rows() {
        let other = GroupKey { project: 2, short_id: 1 };
        let at = |times_seen, last_seen_ms: i64, created_seq| {
            Arc::new(GroupRow {
                times_seen,
                first_seen: 1_000,
                last_seen: last_seen_ms * 1_000,
                created_seq,
                ..GroupRow::sample()
            })
        };
        let walk = |views: &IssueViews, index| -> Vec<(i64, GroupKey)> {
            views
                .walk(index, false, Micros::MAX)
                .map(|(bound, _, (key, _, _))| (bound, key))
                .collect()
        };
        let mut views = IssueViews::default();
        views.apply_groups(vec![((KEY, at(1, 5, 1)), 0, 1), ((other, at(3, 7, 2)), 0, 1)]);
        // Two epochs in one batch: KEY replaced twice, `other` retracted in the second.
        views.apply_groups(vec![
            ((KEY, at(1, 5, 1)), 1, -1),
            ((KEY, at(2, 9, 1)), 1, 1),
            ((KEY, at(2, 9, 1)), 2, -1),
            ((KEY, at(4, 11, 1)), 2, 1),
            ((other, at(3, 7, 2)), 2, -1),
        ]);
        assert_eq!(walk(&views, SortIndex::LastSeen), vec![(11, KEY)]);
        assert_eq!(walk(&views, SortIndex::FirstSeen), vec![(1, KEY)]);
        assert_eq!(walk(&views, SortIndex::Count), vec![(4, KEY)]);
        // A retraction then a re-insertion of the same row in later batches.
        views.apply_groups(vec![((KEY, at(4, 11, 1)), 3, -1)]);
        assert!(walk(&views, SortIndex::Count).is_empty());
        views.apply_groups(vec![((other, at(5, 8, 2)), 4, 1)]);
        assert_eq!(walk(&views, SortIndex::Count), vec![(5, other)]);
        assert_eq!(walk(&views, SortIndex::LastSeen), vec![(8, other)]);
    }

    #[test]
    fn hourly_counts_add_up_and_vanish_at_zero() {
        let mut views = IssueViews::default();
        views.apply_hourly(vec![((KEY, 10), 0, 2), ((KEY, 5), 0, 1), ((KEY, 10), 0, 1)]);
        assert_eq!(views.get(KEY).unwrap().hourly, vec![(5, 1), (10, 3)]);
        views.apply_hourly(vec![((KEY, 5), 1, -1)]);
        assert_eq!(views.get(KEY).unwrap().hourly, vec![(10, 3)]);
    }

    #[test]
    fn ids_index_groups_and_order_the_dump() {
        let mut views = IssueViews::default();
        let other = GroupKey { project: 2, short_id: 1 };
        views.apply_groups(vec![((KEY, row(1)), 0, 1), ((other, row(3)), 0, 1)]);
        views.apply_ids(vec![((other, 1), 0, 1), ((KEY, 2), 0, 1)]);
        assert_eq!(views.by_id(1).and_then(|v| v.key), Some(other));
        assert_eq!(views.by_id(2).map(|v| v.id), Some(2));
        assert!(views.by_id(3).is_none());
        let order: Vec<GroupKey> = views.iter_by_id().map(|(k, _, _)| k).collect();
        assert_eq!(order, vec![other, KEY]);
    }

    #[test]
    fn the_group_index_is_rebuilt_after_a_restore() {
        let mut views = IssueViews::default();
        let keys: Vec<GroupKey> = (1..=50u32)
            .map(|short_id| GroupKey {
                project: 1 + u64::from(short_id % 3),
                short_id,
            })
            .collect();
        for (n, key) in keys.iter().enumerate() {
            views.apply_hourly(vec![((*key, 10), 0, n as isize + 1)]);
        }
        let total = |views: &IssueViews, key| views.get(key).map(|v| v.hourly.clone());
        let expected: Vec<_> = keys.iter().map(|k| total(&views, *k)).collect();
        assert!(expected.iter().all(Option::is_some));
        // As after a checkpoint restore: the views without their index.
        views.index = GroupIndex::default();
        assert_eq!(keys.iter().map(|k| total(&views, *k)).collect::<Vec<_>>(), expected);
        let other = GroupKey { project: 9, short_id: 9 };
        assert!(views.get(other).is_none());
        // The first insertion rebuilds it; no group is created twice.
        views.apply_hourly(vec![((keys[3], 11), 0, 1), ((other, 11), 0, 1)]);
        assert_eq!(views.groups.len(), keys.len() + 1);
        assert_eq!(views.get(keys[3]).map(|v| v.hourly.clone()), Some(vec![(10, 4), (11, 1)]));
        assert_eq!(views.get(other).map(|v| v.hourly.clone()), Some(vec![(11, 1)]));
        assert_eq!(keys.iter().skip(4).map(|k| total(&views, *k)).collect::<Vec<_>>(), expected[4..]);
    }
}
