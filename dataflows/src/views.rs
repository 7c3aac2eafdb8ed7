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

mod activity;
mod apply;
mod blocks;
mod bulk;
pub mod details;
mod epoch;
mod footprint;
mod group_index;
mod index;
mod lock;
pub mod retention;
mod sets;
mod small;

#[cfg(test)]
mod tests;
mod texts;
mod thread_time;
pub use activity::Activity;
use bulk::texts_of;
use group_index::GroupIndex;
pub use index::{created_key, trends_score, SortIndex, SortIndexes, Walk};
pub use lock::{boost_hold, boost_write_holds, let_readers_in, read, set_thread_realtime, HoldBoost, LockTimes, SlowHolds, HOLD};
pub use small::SmallSlice;
pub use texts::Candidates;
use texts::TextColumn;
pub use thread_time::ThreadTimes;

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
    /// Occurrences per hour (hours since the Unix epoch), ascending. An exact-size slice (8
    /// bytes less per group than a `Vec`: a `Vec` grown by one entry at a time was exact-size
    /// anyway, `add_hour`), whose only hour, if one, is kept inline (`small.rs`).
    pub hourly: SmallSlice<(u32, u32)>,
    /// Distinct environments. Exact-size slices: most groups have one (kept inline) or two,
    /// and a `Vec` would reserve four.
    pub environments: SmallSlice<Symbol>,
    /// Distinct releases (every release any of the group's occurrences carried).
    pub releases: SmallSlice<Symbol>,
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
    /// Occurrences per (environment, hour) by group index — only for groups whose
    /// occurrences span more than one environment key ("no environment" counting as a key).
    /// A group with one key needs nothing: its `hourly` *is* that environment's series (or no
    /// environment's, when `environments` is empty). Most groups see one environment, so
    /// requests with `environment=` cost no memory for them, and requests without one read
    /// `hourly` exactly as before. See `apply_activity` and docs/semantics.md §7. Each
    /// series is sorted by hour, then environment (`hour_series`).
    #[serde(deserialize_with = "activity::environment_hours_read")]
    environment_hours: activity::EnvironmentHours,
    /// Occurrences per (environment, release, level) and hour, for event-level conditions
    /// (`facets`): only an id for groups with one such facet.
    facets: crate::facets::FacetHours,
    /// Every environment ever seen, with the projects it was seen in: Sentry's
    /// `Environment` rows, which outlive the groups (an unknown `environment=` is a 404).
    /// A set per environment: noting a pair is one probe (a group gaining an environment
    /// notes it), and checkpoints of sorted lists read back as sets.
    environment_projects: HashMap<Symbol, rustc_hash::FxHashSet<crate::model::ProjectId>>,
    /// Each occurrence's second, facet and user, for the edges of windows and users under
    /// facet selections (`details.rs`).
    details: details::Details,
    /// Retention of `details`: the newest hour seen, and the first hour kept.
    newest_detail_hour: u32,
    details_cut: u32,
    /// Retention (`retention`): the newest hour of activity seen, and the first hour kept.
    newest_hour: u32,
    activity_cut: u32,
    /// No hour of the activity (`hourly`, `environment_hours`, `facets`) is older than this;
    /// the details' likewise. Retention scans only when its cut passes the floor
    /// (`retention.rs`). Not checkpointed: 0 (unknown) after a restore.
    #[serde(skip)]
    activity_floor: u32,
    #[serde(skip)]
    details_floor: u32,
    /// The greatest `last_seen` of any row, times past the present left out
    /// (`retention::present_limit`): the API's clock when it follows the data
    /// (rebuilt by `restore_row` after a restore).
    #[serde(skip)]
    pub latest_event: Micros,
    /// Groups with a row by an upper bound of each sort's value (`index.rs`): the issues
    /// list walks them instead of scanning every group. Rebuilt from the rows after a restore.
    #[serde(skip)]
    sort_indexes: SortIndexes,
    /// Every row's texts, lowercased, for free-text search (`texts.rs`). Kept with the
    /// sort indexes, so also rebuilt from the rows after a restore.
    #[serde(skip)]
    texts: TextColumn,
    /// The sort indexes and the text column are not maintained (a catch-up): they are built
    /// in one pass by [`IssueViews::build_indexes`]; until then walks and text searches read
    /// the rows (exact, slower). Set by [`IssueViews::defer_indexes`].
    #[serde(skip)]
    indexes_deferred: bool,
    /// `details` and `facets` are not kept (they stay empty): nothing will ask these views
    /// for a window (a backfill that only dumps). Set by [`IssueViews::drop_windows`].
    #[serde(skip)]
    windows_dropped: bool,
    /// How long the sinks held the write lock, recently (microseconds): what a reader can
    /// wait for (`/metrics`).
    #[serde(skip)]
    pub write_holds: LockTimes,
    /// Heap bytes of the per-group parts (`footprint.rs`), None until counted.
    #[serde(skip)]
    footprint: Option<footprint::Footprint>,
    /// `apply_groups`' rows retracted and not yet replaced, by group index (empty between
    /// batches; kept for its memory).
    #[serde(skip)]
    retracted_rows: HashMap<u32, Arc<GroupRow>>,
    /// Rows `apply_groups` replaced or retracted, mostly their last reference: freed by the
    /// sink once it has let go of the write lock (`released_rows`), not under it.
    #[serde(skip)]
    released_rows: Vec<Arc<GroupRow>>,
    /// Buffers reused by `apply_activity` from epoch to epoch.
    #[serde(skip)]
    epoch_scratch: epoch::EpochScratch,
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
    #[inline]
    fn index_of(&mut self, key: GroupKey) -> u32 {
        match self.index.find_complete(&self.groups, key) {
            Some(index) => index,
            None => self.index.insert_missing(&mut self.groups, key),
        }
    }

    /// The group's index, if it has a view.
    fn find(&self, key: GroupKey) -> Option<u32> {
        self.index.get(&self.groups, key)
    }

    /// The index of a view handed out by these views, from its address: no hash lookup,
    /// and no read of another group's key (a cache miss at 1M groups), for the per-group
    /// checks of a list walk. Falls back to the key for a view from elsewhere.
    fn index_of_view(&self, key: GroupKey, view: &GroupView) -> Option<u32> {
        let size = std::mem::size_of::<GroupView>();
        let offset = (view as *const GroupView as usize).wrapping_sub(self.groups.as_ptr() as usize);
        if offset.is_multiple_of(size) && offset / size < self.groups.len() {
            return Some((offset / size) as u32);
        }
        self.find(key)
    }

    pub fn get(&self, key: GroupKey) -> Option<&GroupView> {
        self.find(key).map(|i| &self.groups[i as usize])
    }

    /// How many group slots exist. Slots are only appended (a deleted group keeps its
    /// slot), so a group whose [`IssueViews::slot_of`] is at or past an earlier reading of
    /// this was created after it (exactly-once paging pins group existence with it).
    pub fn slots(&self) -> usize {
        self.groups.len()
    }

    /// The group's slot index, if it has a view.
    pub fn slot_of(&self, key: GroupKey) -> Option<u32> {
        self.find(key)
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

    /// Groups with a row (each is in the sort indexes exactly then, once they are built).
    pub fn len(&self) -> usize {
        if self.indexes_deferred {
            return self.groups.iter().filter(|v| v.row.is_some()).count();
        }
        self.sort_indexes.len()
    }

    /// Replaces a group's row, keeping the sort indexes in step.
    fn set_row(&mut self, index: u32, row: Option<Arc<GroupRow>>) {
        let view = &mut self.groups[index as usize];
        if !self.indexes_deferred {
            self.sort_indexes.update(index, view.row.as_deref(), row.as_deref());
            self.texts.update(index, view.row.as_deref(), row.as_deref());
        }
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
        self.index_walk(index, unresolved_only, at_most)
            .filter_map(|(bound, created, index)| {
                let view = &self.groups[index as usize];
                Some((bound, created, (view.key?, view, &**view.row.as_ref()?)))
            })
    }

    /// The groups whose lowercased title, subtitle or culprit may contain one of `needles`
    /// (lowercase, not empty): a superset of those that do (`texts.rs`).
    pub fn text_candidates(&self, needles: &[&str]) -> Candidates {
        if self.indexes_deferred {
            return texts_of(self.indexed_rows()).candidates(needles);
        }
        self.texts.candidates(needles)
    }

    /// Like [`IssueViews::walk`], reading only the groups whose index `keep`s (a walk that
    /// rejects most groups then reads only their index entries).
    pub fn walk_filtered<'a>(
        &'a self,
        index: SortIndex,
        unresolved_only: bool,
        at_most: Micros,
        keep: impl Fn(u32) -> bool + 'a,
    ) -> impl Iterator<Item = (i64, u32, (GroupKey, &'a GroupView, &'a GroupRow))> + 'a {
        self.index_walk(index, unresolved_only, at_most)
            .filter(move |e| keep(e.2))
            .filter_map(|(bound, created, index)| {
                let view = &self.groups[index as usize];
                Some((bound, created, (view.key?, view, &**view.row.as_ref()?)))
            })
    }

    /// Asks the CPU to load group `index`'s view into the cache ahead of reading it: a read of
    /// scattered groups (free-text candidates) waits for a cache miss or two per group, and
    /// overlapping them is most of what such a read can save.
    pub fn prefetch_view(&self, index: u32) {
        if let Some(view) = self.groups.get(index as usize) {
            prefetch((view as *const GroupView).cast());
        }
    }

    /// Like [`IssueViews::prefetch_view`] for the group's row (which reads its view: ask for
    /// that first).
    pub fn prefetch_row(&self, index: u32) {
        if let Some(row) = self.groups.get(index as usize).and_then(|v| v.row.as_deref()) {
            let start: *const u8 = (row as *const GroupRow).cast();
            for line in 0..std::mem::size_of::<GroupRow>().div_ceil(64) {
                prefetch(start.wrapping_add(line * 64));
            }
        }
    }

    /// The group at `index` with its row, if it has one.
    pub fn at_index(&self, index: u32) -> Option<(GroupKey, &GroupView, &GroupRow)> {
        let view = self.groups.get(index as usize)?;
        Some((view.key?, view, &**view.row.as_ref()?))
    }

    /// After a restore: the group's row, shared with the ingest state.
    pub fn restore_row(&mut self, key: GroupKey, row: Arc<GroupRow>) {
        if row.last_seen <= retention::present_limit() {
            self.latest_event = self.latest_event.max(row.last_seen);
        }
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
            // One lookup of the group for its view and its slot in `by_id`.
            let index = self.index_of(key);
            self.groups[index as usize].id = if diff > 0 { id } else { 0 };
            if self.by_id.len() <= slot {
                self.by_id.resize(slot + 1, u32::MAX);
            }
            self.by_id[slot] = if diff > 0 { index } else { u32::MAX };
        }
    }

    /// Where a group's aggregates live: its own view, or its merge parent's.
    /// The index of the group that receives `key`'s activity (its merge parent, if any), for
    /// a stream of updates grouped by group: looked up once per run of one key (`last`).
    #[inline]
    fn run_index(&mut self, last: &mut Option<(GroupKey, u32)>, key: GroupKey) -> u32 {
        match *last {
            Some((last_key, index)) if last_key == key => index,
            _ => {
                // A merged group's late activity belongs to its parent.
                let owner = if self.merged.is_empty() { key } else { self.owner(key) };
                let index = self.index_of(owner);
                *last = Some((key, index));
                index
            }
        }
    }

    fn owner(&self, mut key: GroupKey) -> GroupKey {
        while let Some(parent) = self.merged.get(&key) {
            key = *parent;
        }
        key
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

    /// The occurrence details of a group (see [`details`]), read by hour in time order.
    pub fn details_of(&self, key: GroupKey, view: &GroupView) -> details::GroupDetails<'_> {
        debug_assert!(self.keeps_windows(), "a window read from views that keep none");
        self.index_of_view(key, view)
            .map_or_else(details::GroupDetails::empty, |index| self.details.of(index))
    }

    /// The facet of an id (what `details` entries carry).
    pub fn facet(&self, id: u64) -> Option<&crate::facets::Facet> {
        self.facets.facet(id)
    }

    /// The group's occurrences per (environment, hour), sorted, when it has more than one
    /// environment key (else its `hourly` belongs to its only environment, or to none).
    pub fn environment_hours(&self, key: GroupKey) -> Option<&[(Symbol, u32, u32)]> {
        self.environment_hours.get(&self.find(key)?).map(Vec::as_slice)
    }

    /// [`IssueViews::environment_hours`] of a view handed out by these views, found by its
    /// address rather than by its key (no read of another group's key: a list walk asks this
    /// of thousands of groups).
    pub fn environment_hours_of(&self, key: GroupKey, view: &GroupView) -> Option<&[(Symbol, u32, u32)]> {
        if self.environment_hours.is_empty() {
            return None;
        }
        self.environment_hours.get(&self.index_of_view(key, view)?).map(Vec::as_slice)
    }

    /// The group's occurrences per hour whose facet `accept`s, and whether that is all of
    /// them (see `facets::FacetHours::hours_matching`).
    pub fn facet_hours<'v>(
        &self,
        key: GroupKey,
        view: &'v GroupView,
        accept: impl Fn(&crate::facets::Facet) -> bool,
    ) -> (std::borrow::Cow<'v, [(u32, u32)]>, bool) {
        debug_assert!(self.keeps_windows(), "a window read from views that keep none");
        match self.index_of_view(key, view) {
            Some(index) => self.facets.hours_matching(index, &view.hourly, accept),
            None => (std::borrow::Cow::Borrowed(&view.hourly), true),
        }
    }

    /// Whether the group has an occurrence of an accepted facet in an hour of `hours`,
    /// inclusive; `accept(id, level)` is the verdict on facet `id` (its level given when
    /// known without a lookup), None if there is no such facet (see
    /// `facets::FacetHours::any_hour_matching`).
    pub fn any_facet_hour(
        &self,
        key: GroupKey,
        view: &GroupView,
        accept: impl FnMut(u64, Option<crate::model::Level>) -> Option<bool>,
        (lo, hi): (u32, u32),
    ) -> bool {
        debug_assert!(self.keeps_windows(), "a window read from views that keep none");
        match self.index_of_view(key, view) {
            Some(index) => self.facets.any_hour_matching(index, &view.hourly, accept, (lo, hi)),
            None => view.hourly.iter().any(|&(hour, n)| n > 0 && (lo..=hi).contains(&hour)),
        }
    }

    pub fn counter(&self, counter: Counter) -> i64 {
        self.counters.get(&counter).copied().unwrap_or(0)
    }

    /// The projects environment `env` was ever seen in, in no order (none: an unknown
    /// environment).
    pub fn environment_projects(&self, env: Symbol) -> impl Iterator<Item = crate::model::ProjectId> + '_ {
        self.environment_projects.get(&env).into_iter().flatten().copied()
    }

    pub fn symbol_name(&self, symbol: Symbol) -> Option<&str> {
        self.symbols.get(&symbol).map(String::as_str)
    }
}

/// Records or groups per batch whose state's cache lines are asked for (`prefetch`, or a
/// probe) before they are applied: the ingest operator's and the activity sink's passes.
/// Enough for their misses to overlap, few enough that the first is still cached when used.
pub(crate) const WARM_BATCH: usize = 16;

/// A cache prefetch hint (a no-op off x86-64).
#[inline(always)]
pub(crate) fn prefetch(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it reads nothing and never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}
