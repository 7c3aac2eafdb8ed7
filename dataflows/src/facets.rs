//! A group's occurrences per *facet* — the (environment, release, level, tag set) an
//! occurrence carries — and hour, so that the read side can count exactly the occurrences
//! that satisfy a query's event-level conditions on those, in any combination (the
//! `filtered` object of issue-platform.md §7.5, and Sentry's event-level matching of
//! `release:`, `level:`, `environment:` and custom tags, §7.2).
//!
//! Memory follows the per-environment hours (`views::IssueViews::environment_hours`): a
//! group whose occurrences all share one facet — most groups — keeps only that facet's id
//! (8 bytes, in a dense vector by group index); its `hourly` *is* that facet's series. Only
//! when a second facet appears are the group's hours split per facet (16 bytes per
//! facet-hour), its history so far going to the first facet. Facets themselves are
//! interned once for all groups (there are few distinct combinations).

use std::borrow::Cow;

use rustc_hash::FxHashMap as HashMap;

use crate::hour_series;
use crate::model::{Level, Symbol};

mod spans;
use spans::{any_hour_in, Spans};

/// What an occurrence carries that event-level conditions test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Facet {
    pub environment: Option<Symbol>,
    pub release: Option<Symbol>,
    pub level: Level,
    /// The occurrence's tag set (`model::tags`), for custom tag search.
    pub tags: Option<Symbol>,
}

impl Facet {
    /// A 64-bit id (never 0, which marks "no facet yet"); a collision would merge two
    /// combinations' counts, with probability about n²/2⁶⁵ for n distinct combinations.
    pub fn id(&self) -> u64 {
        let mut bytes = [0u8; 19];
        bytes[0] = u8::from(self.environment.is_some());
        bytes[1..9].copy_from_slice(&self.environment.unwrap_or(0).to_le_bytes());
        bytes[9] = u8::from(self.release.is_some());
        bytes[10..18].copy_from_slice(&self.release.unwrap_or(0).to_le_bytes());
        bytes[18] = self.level as u8;
        // Without tags, the id of the facet before tags were one of its parts.
        let Some(tags) = self.tags else {
            return xxhash_rust::xxh3::xxh3_64(&bytes).max(1);
        };
        let mut tagged = [0u8; 27];
        tagged[..19].copy_from_slice(&bytes);
        tagged[19..].copy_from_slice(&tags.to_le_bytes());
        xxhash_rust::xxh3::xxh3_64(&tagged).max(1)
    }
}

/// `(facet, hour, occurrences added)` of one epoch.
pub type FacetHourDiff = (Facet, u32, isize);

/// `(facet id, hour, occurrences added)` of one epoch: a [`FacetHourDiff`] whose facet was
/// interned ([`FacetHours::intern`]).
pub type FacetIdHourDiff = (u64, u32, isize);

#[derive(Default, Debug, serde::Serialize, serde::Deserialize)]
#[serde(from = "StoredFacetHours")]
pub struct FacetHours {
    /// Every facet seen, by id.
    facets: HashMap<u64, Facet>,
    /// By group index: the group's only facet (0: none yet, or split).
    only: Vec<u64>,
    /// By group index, for groups with more than one facet: occurrences per (facet id,
    /// hour), sorted by hour, then facet id (`hour_series`).
    split: HashMap<u32, Vec<(u64, u32, u32)>>,
    /// Heap bytes of the `split` series, kept as they change so that `/metrics` need not
    /// walk them; None until counted (after a restore: at the first change).
    #[serde(skip)]
    split_bytes: Option<usize>,
    /// `apply`'s updates with facet ids, kept between calls (it runs per group and epoch).
    #[serde(skip)]
    ids: Vec<(u64, u32, isize)>,
    /// The updates of an `apply_ids` that added an entry (the only ones that can widen a
    /// span), kept between calls.
    #[serde(skip)]
    inserted: Vec<(u64, u32, isize)>,
    /// Each split group's facets with their first and last hour (`spans.rs`). Derived
    /// from `split`, so not written to checkpoints: rebuilt when they are read.
    #[serde(skip)]
    spans: Spans,
}

/// What a checkpoint holds of [`FacetHours`] (its serialized fields, in order): the spans
/// are rebuilt from the series on the way in, so a restored split group answers the
/// `level:` test from its spans at once, not only after its next update.
#[derive(serde::Deserialize)]
struct StoredFacetHours {
    facets: HashMap<u64, Facet>,
    only: Vec<u64>,
    split: HashMap<u32, Vec<(u64, u32, u32)>>,
}

impl From<StoredFacetHours> for FacetHours {
    fn from(mut stored: StoredFacetHours) -> FacetHours {
        let mut spans = Spans::default();
        for (&index, series) in &mut stored.split {
            hour_series::sort_hour_major(series);
            spans.rebuild(index, series, &stored.facets);
        }
        FacetHours {
            facets: stored.facets,
            only: stored.only,
            split: stored.split,
            split_bytes: None,
            ids: Vec::new(),
            inserted: Vec::new(),
            spans,
        }
    }
}

fn series_bytes(series: &Vec<(u64, u32, u32)>) -> usize {
    24 + series.capacity() * 16
}

impl FacetHours {
    /// Approximate heap bytes (measurements).
    pub fn heap_bytes(&self) -> usize {
        let split = self.split_bytes.unwrap_or_else(|| self.split.values().map(series_bytes).sum());
        self.only.capacity() * 8
            + self.split.capacity() * 8 / 7 * 29
            + split
            + self.facets.capacity() * 8 / 7 * 33
            + self.spans.heap_bytes()
    }

    /// The `split_bytes` counter, counted first if needed.
    fn split_bytes(&mut self) -> &mut usize {
        let split = &self.split;
        self.split_bytes.get_or_insert_with(|| split.values().map(series_bytes).sum())
    }

    /// The facet of an id seen in `apply`.
    pub fn facet(&self, id: u64) -> Option<&Facet> {
        self.facets.get(&id)
    }

    /// Asks for the cache lines [`FacetHours::apply_ids`] will read first for group `index`:
    /// its only facet and, for a split group, the end of its series (where a new hour
    /// goes) and its spans. The maps are probed here (hashbrown has no prefetch): a pass of
    /// these over a batch of groups overlaps their misses.
    #[inline]
    pub fn warm(&self, index: u32) {
        // A split group may lie past the end of `only` (it never had an only facet).
        if let Some(only) = self.only.get(index as usize) {
            crate::views::prefetch((only as *const u64).cast());
        }
        if let Some(series) = self.split.get(&index) {
            if let Some(last) = series.last() {
                crate::views::prefetch((last as *const (u64, u32, u32)).cast());
            }
        }
        self.spans.warm(index);
    }

    fn only(&self, index: u32) -> u64 {
        self.only.get(index as usize).copied().unwrap_or(0)
    }

    fn set_only(&mut self, index: u32, id: u64) {
        let slot = index as usize;
        if self.only.len() <= slot {
            if id == 0 {
                return;
            }
            self.only.resize(slot + 1, 0);
        }
        self.only[slot] = id;
    }

    /// The facet's id, recording the facet under it (what `apply_ids` takes). (A cache of
    /// the last facet interned hit 7 % of the calls on a 100K-line slice: not kept.)
    pub fn intern(&mut self, facet: &Facet) -> u64 {
        let id = facet.id();
        self.intern_as(facet, id);
        id
    }

    /// [`FacetHours::intern`] of a facet whose id (`facet.id()`) is known.
    pub fn intern_as(&mut self, facet: &Facet, id: u64) {
        debug_assert_eq!(id, facet.id());
        self.facets.entry(id).or_insert(*facet);
    }

    /// Applies one epoch's facet hours of the group at `index`; `hourly` is the group's
    /// hourly counts *before* the epoch (the first facet's history when it splits).
    pub fn apply(&mut self, index: u32, hourly: &[(u32, u32)], updates: &[FacetHourDiff]) {
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        for (facet, hour, diff) in updates {
            let id = self.intern(facet);
            ids.push((id, *hour, *diff));
        }
        self.apply_ids(index, hourly, &ids);
        self.ids = ids;
    }

    /// [`FacetHours::apply`] of updates whose facets were interned.
    pub fn apply_ids(&mut self, index: u32, hourly: &[(u32, u32)], ids: &[FacetIdHourDiff]) {
        self.split_bytes();
        let first = self.only(index);
        // A group with an only facet is not split: no probe of `split`.
        let split = if first == 0 { self.split.get_mut(&index) } else { None };
        if let Some(split) = split {
            let before = series_bytes(split);
            let mut inserted = std::mem::take(&mut self.inserted);
            inserted.clear();
            let removed = add(split, ids, &mut inserted);
            let after = series_bytes(split);
            self.spans.update(index, split, &inserted, removed, &self.facets);
            self.inserted = inserted;
            *self.split_bytes() += after - before;
            return;
        }
        let mut keys = ids.iter().filter(|u| u.2 > 0).map(|u| u.0);
        let single = match first {
            0 => keys.next().filter(|k| keys.all(|other| other == *k)),
            first => keys.all(|k| k == first).then_some(first),
        };
        match single {
            Some(id) => self.set_only(index, id),
            None if first == 0 && ids.iter().all(|u| u.2 <= 0) => {}
            None => {
                let mut split: Vec<(u64, u32, u32)> = if first == 0 {
                    Vec::new()
                } else {
                    hourly.iter().map(|&(h, n)| (first, h, n)).collect()
                };
                add(&mut split, ids, &mut Vec::new());
                self.set_only(index, 0);
                *self.split_bytes() += series_bytes(&split);
                self.spans.rebuild(index, &split, &self.facets);
                self.split.insert(index, split);
            }
        }
    }

    /// The series of the group at `index` as (facet id, hour, occurrences), given its hourly.
    fn series(&self, index: u32, hourly: &[(u32, u32)]) -> Vec<(u64, u32, isize)> {
        if let Some(split) = self.split.get(&index) {
            return split.iter().map(|&(f, h, n)| (f, h, n as isize)).collect();
        }
        match self.only(index) {
            0 => Vec::new(),
            only => hourly.iter().map(|&(h, n)| (only, h, n as isize)).collect(),
        }
    }

    /// A merge: the child's facet hours join the parent's (both given with their hourly
    /// counts before the merge moves them).
    pub fn merge(&mut self, child: u32, child_hourly: &[(u32, u32)], parent: u32, parent_hourly: &[(u32, u32)]) {
        self.split_bytes();
        let (child_only, parent_only) = (self.only(child), self.only(parent));
        let child_series = self.series(child, child_hourly);
        if let Some(gone) = self.split.remove(&child) {
            *self.split_bytes() -= series_bytes(&gone);
        }
        self.spans.remove(child);
        self.set_only(child, 0);
        if child_series.is_empty() {
            return;
        }
        let both_single = !self.split.contains_key(&parent) && child_only != 0;
        if both_single && (parent_only == child_only || (parent_only == 0 && parent_hourly.is_empty())) {
            self.set_only(parent, child_only);
            return;
        }
        if let Some(gone) = self.split.get(&parent).map(series_bytes) {
            *self.split_bytes() -= gone;
        }
        let mut split = self.split.remove(&parent).unwrap_or_else(|| {
            let series = self.series(parent, parent_hourly);
            let mut split = Vec::new();
            add(&mut split, &series, &mut Vec::new());
            split
        });
        add(&mut split, &child_series, &mut Vec::new());
        self.set_only(parent, 0);
        *self.split_bytes() += series_bytes(&split);
        self.spans.rebuild(parent, &split, &self.facets);
        self.split.insert(parent, split);
    }

    /// The group's occurrences per hour whose facet `accept`s, from its `hourly` (all its
    /// occurrences). `complete` when every occurrence is accepted.
    pub fn hours_matching<'v>(
        &self,
        index: u32,
        hourly: &'v [(u32, u32)],
        accept: impl Fn(&Facet) -> bool,
    ) -> (Cow<'v, [(u32, u32)]>, bool) {
        if let Some(split) = self.split.get(&index) {
            // One verdict per facet: an hour's entries take turns between the same few.
            let mut verdicts: HashMap<u64, bool> = HashMap::default();
            let (hours, all) = hour_series::hours_of(split, |id| {
                *verdicts.entry(id).or_insert_with(|| self.facets.get(&id).is_some_and(&accept))
            });
            return (Cow::Owned(hours), all);
        }
        match self.facets.get(&self.only(index)) {
            Some(facet) if !accept(facet) => (Cow::Borrowed(&[]), false),
            // One facet, accepted (or none recorded: every occurrence counts).
            _ => (Cow::Borrowed(hourly), true),
        }
    }

    /// Whether the group has an occurrence of an accepted facet in an hour of `hours`
    /// (inclusive), given its `hourly`: what `hours_matching` answers, without building the
    /// hours (the issues list asks this of every group it visits). `accept` gets a facet's
    /// id, and its level when known without a lookup, and says whether the facet is
    /// accepted (None: no such facet, see [`Self::facet`]): callers decide by the level or
    /// remember verdicts by id, so that the facets table (tens of thousands of entries,
    /// mostly cache misses) is not read per group.
    pub fn any_hour_matching(
        &self,
        index: u32,
        hourly: &[(u32, u32)],
        mut accept: impl FnMut(u64, Option<Level>) -> Option<bool>,
        hours: (u32, u32),
    ) -> bool {
        let only = self.only(index);
        if only == 0 {
            if let Some(spans) = self.spans.get(index) {
                return self.any_span_matching(index, spans, accept, hours);
            }
            if let Some(split) = self.split.get(&index) {
                // Only the entries of the hours asked for are read (callers remember
                // verdicts by id).
                return hour_series::in_hours(split, hours).iter().any(|e| accept(e.0, None) == Some(true));
            }
        }
        // One facet (or none recorded: every occurrence counts).
        (only == 0 || accept(only, None) != Some(false)) && any_hour_in(hourly, |e| e.0, hours)
    }

    /// `any_hour_matching` of a split group from its spans: an accepted facet whose first or
    /// last hour is in `hours` answers yes, one whose span misses `hours` is skipped, and only
    /// a span that straddles `hours` (both ends outside, on either side) reads its run.
    fn any_span_matching(
        &self,
        index: u32,
        spans: &[spans::Span],
        mut accept: impl FnMut(u64, Option<Level>) -> Option<bool>,
        (lo, hi): (u32, u32),
    ) -> bool {
        let mut straddling = false;
        for span in spans {
            if span.last < lo || span.first > hi || accept(span.id, span.level) != Some(true) {
                continue;
            }
            if span.first >= lo || span.last <= hi {
                return true;
            }
            straddling = true;
        }
        if !straddling {
            return false;
        }
        let Some(split) = self.split.get(&index) else { return false };
        // Any accepted facet with an entry in `[lo, hi]` is a straddling one (the others
        // answered above), so the entries of those hours are checked against them.
        let straddling: Vec<u64> = spans
            .iter()
            .filter(|s| s.first < lo && s.last > hi && accept(s.id, s.level) == Some(true))
            .map(|s| s.id)
            .collect();
        // Spans are sorted by facet id, and so is `straddling`.
        hour_series::in_hours(split, (lo, hi))
            .iter()
            .any(|e| straddling.binary_search(&e.0).is_ok())
    }

    /// Drops every facet-hour before `cut` (retention); returns the oldest hour left
    /// (`u32::MAX`: none). An emptied split stays a split.
    pub fn retain_from(&mut self, cut: u32) -> u32 {
        self.spans.clear();
        let mut oldest = u32::MAX;
        for (index, split) in self.split.iter_mut() {
            oldest = oldest.min(hour_series::retain_from(split, cut));
            self.spans.rebuild(*index, split, &self.facets);
        }
        oldest
    }

    /// The group's facets (for tests and diagnostics).
    pub fn facets_of(&self, index: u32) -> Vec<Facet> {
        let mut ids: Vec<u64> = match self.split.get(&index) {
            Some(split) => split.iter().map(|e| e.0).collect(),
            None => vec![self.only(index)],
        };
        ids.sort_unstable();
        ids.dedup();
        ids.iter().filter_map(|id| self.facets.get(id).copied()).collect()
    }

    /// Whether the group at `index` keeps per-facet hours.
    pub fn is_split(&self, index: u32) -> bool {
        self.split.contains_key(&index)
    }
}

/// Adds `updates` to `split`; true if an entry dropped to zero and went. The updates that
/// added an entry go to `inserted`.
fn add(split: &mut Vec<(u64, u32, u32)>, updates: &[(u64, u32, isize)], inserted: &mut Vec<(u64, u32, isize)>) -> bool {
    let mut removed = false;
    for &(id, hour, diff) in updates {
        match hour_series::add(split, id, hour, diff) {
            hour_series::Change::Inserted => inserted.push((id, hour, diff)),
            hour_series::Change::Removed => removed = true,
            hour_series::Change::Counted | hour_series::Change::Nothing => {}
        }
    }
    removed
}

#[cfg(test)]
mod tests;
