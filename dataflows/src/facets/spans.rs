//! The first and last hour of each facet of a split group (`FacetHours::split`), so that the
//! issues list's existence test (`FacetHours::any_hour_matching`) answers most groups from
//! a few contiguous entries. Without it every visited busy group cost a hash lookup of its
//! series and a gallop across the runs of the facets the query rejects — thousands of
//! entries, mostly cache misses (5–6 ms of a `level:error sort=freq` request at 1M groups).
//!
//! A span is exact, not a hint: an entry of the facet exists at `first` and at `last`
//! (entries that drop to zero are removed), and none outside `[first, last]`. Additions
//! widen a span; any removal (a negative update, a merge, retention) recounts the group's
//! spans from its series. Spans are not written to checkpoints (they are derived): reading a
//! checkpoint rebuilds them from the series (`StoredFacetHours`), so a restored group is
//! answered from its spans at once. A split group without spans is still answered, from its
//! series (the test below checks both).

use rustc_hash::FxHashMap as HashMap;

use super::Facet;
use crate::model::Level;

/// One facet's hours in a split group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    pub id: u64,
    pub first: u32,
    pub last: u32,
    /// The facet's level (None: no such facet), so that a query whose facet conditions
    /// are all on the level decides without reading the facets table.
    pub level: Option<Level>,
}

fn span(facets: &HashMap<u64, Facet>, id: u64, hour: u32) -> Span {
    Span {
        id,
        first: hour,
        last: hour,
        level: facets.get(&id).map(|f| f.level),
    }
}

/// Spans by group index, each group's sorted by facet id.
#[derive(Default, Debug)]
pub(super) struct Spans {
    by_group: HashMap<u32, Vec<Span>>,
    /// Heap bytes of the span vectors (measurements, kept as they change).
    bytes: usize,
}

fn vec_bytes(spans: &Vec<Span>) -> usize {
    24 + spans.capacity() * std::mem::size_of::<Span>()
}

impl Spans {
    pub fn get(&self, index: u32) -> Option<&[Span]> {
        self.by_group.get(&index).map(Vec::as_slice)
    }

    /// See `FacetHours::warm`. `update` binary-searches the spans (~20 on average, 24 bytes
    /// each): the lines of its first probes (the middle, then a quarter either side) are
    /// fetched with the first.
    #[inline]
    pub fn warm(&self, index: u32) {
        if let Some(spans) = self.by_group.get(&index) {
            let n = spans.len();
            crate::views::prefetch(spans.as_ptr().cast());
            if n > 4 {
                for at in [n / 4, n / 2, n - n / 4] {
                    crate::views::prefetch((&spans[at] as *const Span).cast());
                }
            }
        }
    }

    #[cfg(test)]
    pub fn by_group_for_tests(&self) -> impl Iterator<Item = (u32, &[Span])> {
        self.by_group.iter().map(|(i, s)| (*i, s.as_slice()))
    }

    pub fn heap_bytes(&self) -> usize {
        self.by_group.capacity() * 8 / 7 * 29 + self.bytes
    }

    pub fn remove(&mut self, index: u32) {
        if let Some(gone) = self.by_group.remove(&index) {
            self.bytes -= vec_bytes(&gone);
        }
    }

    pub fn clear(&mut self) {
        self.by_group.clear();
        self.bytes = 0;
    }

    /// Recounts the group's spans from its `series` (sorted by hour, then facet id).
    pub fn rebuild(&mut self, index: u32, series: &[(u64, u32, u32)], facets: &HashMap<u64, Facet>) {
        let mut by_facet: Vec<(u64, u32)> = series.iter().map(|&(id, hour, _)| (id, hour)).collect();
        by_facet.sort_unstable();
        let mut spans: Vec<Span> = Vec::new();
        for (id, hour) in by_facet {
            match spans.last_mut() {
                Some(span) if span.id == id => span.last = hour,
                _ => spans.push(span(facets, id, hour)),
            }
        }
        spans.shrink_to_fit();
        self.bytes += vec_bytes(&spans);
        if let Some(old) = self.by_group.insert(index, spans) {
            self.bytes -= vec_bytes(&old);
        }
    }

    /// Follows updates `(facet id, hour, diff)` already added to the group's `series`: widens
    /// the spans by the additions, or recounts them when an entry went (`removed`; a
    /// decrement that leaves the entry changes no span). Only additions that inserted an
    /// entry need passing: an entry that was there already lies within its facet's span.
    pub fn update(
        &mut self,
        index: u32,
        series: &[(u64, u32, u32)],
        updates: &[(u64, u32, isize)],
        removed: bool,
        facets: &HashMap<u64, Facet>,
    ) {
        let Some(spans) = self.by_group.get_mut(&index).filter(|_| !removed) else {
            return self.rebuild(index, series, facets);
        };
        let before = vec_bytes(spans);
        for &(id, hour, _) in updates.iter().filter(|u| u.2 > 0) {
            match spans.binary_search_by_key(&id, |s| s.id) {
                Ok(i) => {
                    let span = &mut spans[i];
                    span.first = span.first.min(hour);
                    span.last = span.last.max(hour);
                }
                Err(i) => {
                    crate::views::details::reserve(spans);
                    spans.insert(i, span(facets, id, hour));
                }
            }
        }
        self.bytes = self.bytes + vec_bytes(spans) - before;
    }
}

/// Whether `entries` (ascending by hour, counts positive) have an hour in `[lo, hi]`.
pub(super) fn any_hour_in<T>(entries: &[T], hour: impl Fn(&T) -> u32, (lo, hi): (u32, u32)) -> bool {
    let at = entries.partition_point(|e| hour(e) < lo);
    entries.get(at).is_some_and(|e| hour(e) <= hi)
}
