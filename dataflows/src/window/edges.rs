//! The details side of windows: which occurrence details a selection counts, and the counts
//! and seconds of the hours a window cuts.

use super::{Window, HOUR_MICROS};
use crate::model::{Micros, Symbol};
use crate::state::{GroupKey, GroupRow};
use crate::views::details::{self, Entry, GroupDetails};
use crate::views::{GroupView, IssueViews};

/// Which of a group's occurrences count, by their facet.
#[derive(Clone, Copy)]
pub enum Select<'v> {
    /// All of them.
    All,
    /// Those in one of these environments.
    Environments(&'v [Symbol]),
    /// Those whose facet (by id) passes.
    Facets(&'v dyn Fn(u64) -> bool),
}

/// A [`Select`] applied to entries, remembering the verdicts of the last few facet ids (a
/// group's entries mostly share a handful, and a busy group's details interleave them: one
/// lookup of the facet table per entry was most of a scan of its details).
pub(super) struct Selector<'v> {
    select: Select<'v>,
    views: &'v IssueViews,
    /// Facet ids by their low bits (ids are hashes), with their verdicts in `verdicts`;
    /// `filled` says which slots hold one.
    seen: [u64; SEEN],
    verdicts: u32,
    filled: u32,
}

const SEEN: usize = 32;

impl<'v> Select<'v> {
    pub(super) fn selector(self, views: &'v IssueViews) -> Selector<'v> {
        Selector {
            select: self,
            views,
            seen: [0; SEEN],
            verdicts: 0,
            filled: 0,
        }
    }
}

impl Selector<'_> {
    pub(super) fn accepts(&mut self, facet: u64) -> bool {
        let slot = facet as usize % SEEN;
        if self.filled & (1 << slot) != 0 && self.seen[slot] == facet {
            return self.verdicts & (1 << slot) != 0;
        }
        let verdict = match self.select {
            Select::All => true,
            Select::Environments(wanted) => self
                .views
                .facet(facet)
                .is_some_and(|f| super::environment_wanted(f.environment, wanted)),
            Select::Facets(accept) => accept(facet),
        };
        self.seen[slot] = facet;
        self.filled |= 1 << slot;
        self.verdicts = (self.verdicts & !(1 << slot)) | (u32::from(verdict) << slot);
        verdict
    }
}

/// The entries of one hour, in time order.
pub(super) fn hour_entries<'v>(all: GroupDetails<'v>, hour: u32) -> details::Iter<'v> {
    all.hour(hour)
}

/// Whether an entry is selected and within the window's epoch seconds `(first, last)`
/// ([`Window::seconds`], computed once per scan).
pub(super) fn counts(e: &Entry, selector: &mut Selector, (first, last): (i64, i64)) -> bool {
    let second = details::epoch_second(e);
    first <= second && second <= last && selector.accepts(details::facet(e))
}

/// The selected occurrences of `entries` within the window's seconds.
pub(super) fn count_in(entries: details::Iter, selector: &mut Selector, seconds: (i64, i64)) -> u64 {
    entries
        .filter(|e| counts(e, selector, seconds))
        .map(|e| u64::from(details::count(&e)))
        .sum()
}

/// The hours `range` (inclusive microseconds) covers whole: from the first hour starting at or
/// after its start to the last ending at or before its end; None when it covers none.
fn whole_hours(range: Window) -> Option<(u32, u32)> {
    let first = range.start.div_euclid(HOUR_MICROS) + i64::from(range.start.rem_euclid(HOUR_MICROS) != 0);
    let last = range.end.saturating_add(1).div_euclid(HOUR_MICROS) - 1;
    let (first, last) = (first.max(0), last.min(i64::from(u32::MAX)));
    (first <= last).then_some((first as u32, last as u32))
}

/// Whether the group has an occurrence within `range` whose facet `accept`s: the hours
/// inside the range from the hourly (or per-facet) counts, the (at most two) hours it cuts
/// from the details. Without details for a cut hour (a view caught between two sinks), that
/// hour counts when it overlaps the range within the group's lifetime.
pub fn any_in(
    views: &IssueViews,
    key: GroupKey,
    view: &GroupView,
    row: &GroupRow,
    range: Window,
    mut accept: impl FnMut(u64, Option<crate::model::Level>) -> Option<bool>,
) -> bool {
    let range = range.whole_seconds();
    if row.last_seen < range.start || row.first_seen > range.end {
        return false;
    }
    // No occurrence lies outside the group's lifetime, so a window reaching past its first
    // (last) occurrence covers every hour from there on whole, however it cuts that hour.
    let whole = whole_hours(Window {
        start: if range.start <= row.first_seen { Micros::MIN } else { range.start },
        end: if range.end >= row.last_seen { Micros::MAX } else { range.end },
    });
    if whole.is_some_and(|hours| views.any_facet_hour(key, view, &mut accept, hours)) {
        return true;
    }
    let entries = views.details_of(key, view);
    let (first, last) = range.seconds();
    let hour_of = |t: Micros| t.div_euclid(HOUR_MICROS) as u32;
    let cut_hours = [hour_of(range.start.max(row.first_seen)), hour_of(range.end.min(row.last_seen))];
    for (i, &hour) in cut_hours.iter().enumerate() {
        if i == 1 && hour == cut_hours[0] {
            break;
        }
        if whole.is_some_and(|(lo, hi)| (lo..=hi).contains(&hour)) {
            continue;
        }
        let cut = hour_entries(entries, hour);
        if cut.is_empty() {
            let (start, end) = super::span(hour, row);
            let overlaps = start.max(range.start) <= end.min(range.end);
            if overlaps && views.any_facet_hour(key, view, &mut accept, (hour, hour)) {
                return true;
            }
            continue;
        }
        for e in cut {
            let second = details::epoch_second(&e);
            let id = details::facet(&e);
            if first <= second && second <= last && accept(id, views.facet(id).map(|f| f.level)) == Some(true) {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_hours_are_the_hours_inside_the_range() {
        let mut next = crate::test_rng::below(0x9e37_79b9_7f4a_7c15u64);
        let base = 470_000 * HOUR_MICROS;
        for case in 0..3_000 {
            let spread = [10 * HOUR_MICROS as u64, 3 * HOUR_MICROS as u64, 5_000][case % 3];
            let a = base + next(spread) as Micros;
            let b = base + next(spread) as Micros;
            let range = match case % 5 {
                0 => Window {
                    start: a.min(b),
                    end: Micros::MAX,
                },
                1 => Window {
                    start: (a.min(b)).div_euclid(HOUR_MICROS) * HOUR_MICROS,
                    end: a.max(b).div_euclid(HOUR_MICROS) * HOUR_MICROS - 1,
                },
                _ => Window {
                    start: a.min(b),
                    end: a.max(b),
                },
            };
            let hours = whole_hours(range);
            for hour in 469_990..470_020u32 {
                let start = Micros::from(hour) * HOUR_MICROS;
                let inside = range.start <= start && start + HOUR_MICROS - 1 <= range.end;
                let listed = hours.is_some_and(|(lo, hi)| (lo..=hi).contains(&hour));
                assert_eq!(listed, inside, "case {case} hour {hour} {range:?}");
            }
        }
    }
}
