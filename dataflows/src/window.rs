//! Windowed aggregates of one group over the views: occurrences, distinct users, first and
//! last seen within a time window and a set of environments or facets, and stats buckets
//! (issue-platform.md §7.5, docs/semantics.md §7).
//!
//! Windows are exact to the second: the hourly counts answer the hours a window covers whole,
//! and the occurrence details (`views::details`: each occurrence's second, facet and user)
//! answer the hours it cuts, the first and last counted second and the distinct users.

use std::borrow::Cow;

use crate::model::{Micros, Symbol};
use crate::state::{GroupKey, GroupRow};
use crate::views::details::{self, GroupDetails};
use crate::views::{GroupView, IssueViews};

mod edges;
mod environments;
pub use edges::{any_in, Select};
use environments::environments_with_hours;
pub use environments::{environment_wanted, hours_in, no_environment};

pub const HOUR_MICROS: Micros = 3_600_000_000;
const SECOND_MICROS: Micros = 1_000_000;

/// An inclusive time range in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: Micros,
    pub end: Micros,
}

impl Window {
    pub const ALL: Window = Window {
        start: Micros::MIN,
        end: Micros::MAX,
    };

    pub fn intersect(self, other: Window) -> Window {
        Window {
            start: self.start.max(other.start),
            end: self.end.min(other.end),
        }
    }

    /// The window widened to whole seconds: an occurrence is in it when its timestamp's whole
    /// second is in the window's (what the details can tell; Sentry stores seconds too).
    pub fn whole_seconds(self) -> Window {
        let start = self.start.div_euclid(SECOND_MICROS).saturating_mul(SECOND_MICROS);
        let end = self
            .end
            .div_euclid(SECOND_MICROS)
            .saturating_mul(SECOND_MICROS)
            .saturating_add(SECOND_MICROS - 1);
        Window {
            start: if self.start == Micros::MIN { Micros::MIN } else { start },
            end: if self.end == Micros::MAX { Micros::MAX } else { end },
        }
    }

    pub fn contains(&self, t: Micros) -> bool {
        self.start <= t && t <= self.end
    }

    /// Epoch seconds `[first, last]` of the whole-second window.
    pub fn seconds(&self) -> (i64, i64) {
        (self.start.div_euclid(SECOND_MICROS), self.end.div_euclid(SECOND_MICROS))
    }
}

/// A group's aggregate over a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aggregate {
    pub count: u64,
    pub first_seen: Micros,
    pub last_seen: Micros,
    /// First and last hour counted (`(0, u32::MAX)`: every hour).
    pub hours: (u32, u32),
}

/// A group's selected occurrences: per hour, ascending, and which of its details they are.
pub struct GroupHours<'v> {
    pub hours: Cow<'v, [(u32, u32)]>,
    /// These are all the group's occurrences (its `hourly`): lifetime values apply.
    pub complete: bool,
    /// The group's occurrence details, all of them (`select` picks the counted ones).
    pub details: GroupDetails<'v>,
    pub select: Select<'v>,
}

impl<'v> GroupHours<'v> {
    /// Nothing selected.
    pub fn none() -> GroupHours<'v> {
        GroupHours {
            hours: Cow::Borrowed(&[]),
            complete: false,
            details: GroupDetails::empty(),
            select: Select::All,
        }
    }
}

/// Whether `window` holds all of `(start, end)`.
fn covers(window: Window, (start, end): (Micros, Micros)) -> bool {
    window.start <= start && end <= window.end
}

/// An hour's span clipped to the group's lifetime (unclipped if that leaves nothing, which
/// only a transiently inconsistent view could produce).
fn span(hour: u32, row: &GroupRow) -> (Micros, Micros) {
    let start = Micros::from(hour) * HOUR_MICROS;
    let end = start + HOUR_MICROS - 1;
    let clipped = (start.max(row.first_seen), end.min(row.last_seen));
    if clipped.0 <= clipped.1 {
        clipped
    } else {
        (start, end)
    }
}

/// The selected occurrences of one hour `(hour, n)` within `window` (whole seconds, and its
/// `seconds`): the hour's count when the window holds it whole (or holds every second of it
/// the group's lifetime reaches), else its details' count. (Should the details lack the
/// hour — a view caught between the sinks of one epoch — the hour counts whole.)
fn hour_count(
    hours: &GroupHours,
    row: &GroupRow,
    window: Window,
    seconds: (i64, i64),
    selector: &mut edges::Selector,
    (hour, n): (u32, u32),
) -> u64 {
    let start = Micros::from(hour) * HOUR_MICROS;
    let end = start + HOUR_MICROS - 1;
    if n == 0 {
        0
    } else if covers(window, span(hour, row)) || (window.start <= start && end <= window.end) {
        // Every occurrence of the hour lies within the group's lifetime, so an hour the
        // window cuts only outside the lifetime (the current hour, under a window that
        // ends now) counts whole without reading its details.
        u64::from(n)
    } else {
        let entries = edges::hour_entries(hours.details, hour);
        if entries.is_empty() {
            u64::from(n)
        } else {
            edges::count_in(entries, selector, seconds)
        }
    }
}

/// Occurrences, first and last seen of the selected occurrences within `window`; None
/// without any. Hours inside the window count whole; the hours it cuts, and the first and
/// last second counted, come from the details. (Should the details lack an hour — a view
/// caught between the sinks of one epoch — that hour counts whole, clipped to the window.)
pub fn aggregate(views: &IssueViews, hours: &GroupHours, row: &GroupRow, window: Window) -> Option<Aggregate> {
    let window = window.whole_seconds();
    let seconds = window.seconds();
    let mut selector = hours.select.selector(views);
    let mut count = 0u64;
    let mut counted: Option<(u32, u32)> = None;
    let from = hours
        .hours
        .partition_point(|&(h, _)| Micros::from(h) * HOUR_MICROS + HOUR_MICROS - 1 < window.start);
    for &(hour, n) in &hours.hours[from..] {
        if Micros::from(hour) * HOUR_MICROS > window.end {
            break;
        }
        let n = hour_count(hours, row, window, seconds, &mut selector, (hour, n));
        if n == 0 {
            continue;
        }
        count += n;
        counted = Some(counted.map_or((hour, hour), |(first, _)| (first, hour)));
    }
    let (first, last) = counted?;
    let first_seen = if hours.complete && window.contains(row.first_seen) {
        row.first_seen
    } else {
        let mut entries = edges::hour_entries(hours.details, first);
        match entries.find(|e| edges::counts(e, &mut selector, seconds)) {
            Some(e) => details::epoch_second(&e) * SECOND_MICROS,
            None => span(first, row).0.max(window.start),
        }
    };
    Some(Aggregate {
        count,
        first_seen,
        // Within one second an exact first seen can pass the last's whole second.
        last_seen: last_second(hours, row, window, &mut selector, last).max(first_seen),
        hours: (first, last),
    })
}

/// The last selected second within `window` (whole seconds), `last` being the last hour with
/// a counted occurrence.
fn last_second(hours: &GroupHours, row: &GroupRow, window: Window, selector: &mut edges::Selector, last: u32) -> Micros {
    if hours.complete && window.contains(row.last_seen) {
        return row.last_seen;
    }
    let mut entries = edges::hour_entries(hours.details, last);
    match entries.rfind(|e| edges::counts(e, selector, window.seconds())) {
        Some(e) => details::epoch_second(&e) * SECOND_MICROS,
        None => span(last, row).1.min(window.end),
    }
}

/// What a caller that needs no count learns from the group's last counted hour: whether it
/// has a selected occurrence in `window`, and the last one's time, read backwards from the
/// window's end (no sum over its hours, no first second). `count` is then only a lower
/// bound (1) and `first_seen` the window's start or the lifetime first seen, as in
/// [`last_seen_in`], which answers first when it can.
pub fn last_seen_view(
    views: &IssueViews,
    key: GroupKey,
    view: &GroupView,
    row: &GroupRow,
    environments: Option<&[Symbol]>,
    window: Window,
) -> Option<Aggregate> {
    if let Some(aggregate) = last_seen_in(row, environments, window) {
        return Some(aggregate);
    }
    let window = window.whole_seconds();
    if row.last_seen < window.start || row.first_seen > window.end {
        return None;
    }
    // One requested environment among several of the group's: its entries of the
    // per-environment hours are read backwards in place (no copy of the group's hours).
    let one_run = match (environments, views.environment_hours_of(key, view)) {
        (Some(wanted), Some(split)) if !wanted.contains(&no_environment()) && view.environments.iter().any(|e| wanted.contains(e)) => {
            (environments_with_hours(split, wanted) == 1).then_some((split, wanted))
        }
        _ => None,
    };
    let hours = match one_run {
        Some((_, wanted)) => GroupHours {
            hours: Cow::Borrowed(&[]),
            complete: false,
            details: views.details_of(key, view),
            select: Select::Environments(wanted),
        },
        None => hours_in(views, key, view, environments),
    };
    if hours.complete && window.contains(row.last_seen) {
        // Every occurrence is selected and the last is in the window (what `aggregate_group`
        // answers from the row): the hours are not read (a cache miss per group).
        return Some(Aggregate {
            count: 1,
            first_seen: row.first_seen.max(window.start),
            last_seen: row.last_seen,
            hours: (0, u32::MAX),
        });
    }
    let mut selector = hours.select.selector(views);
    let in_window = |&(h, _): &(u32, u32)| (Micros::from(h) + 1) * HOUR_MICROS > window.start;
    let last = match one_run {
        Some((split, wanted)) => split
            .iter()
            .rev()
            .filter(|e| wanted.contains(&e.0))
            .map(|&(_, hour, n)| (hour, n))
            .skip_while(|&(h, _)| Micros::from(h) * HOUR_MICROS > window.end)
            .take_while(in_window)
            .find(|&hour| hour_count(&hours, row, window, window.seconds(), &mut selector, hour) > 0)?,
        None => hours
            .hours
            .iter()
            .rev()
            .copied()
            .skip_while(|&(h, _)| Micros::from(h) * HOUR_MICROS > window.end)
            .take_while(in_window)
            .find(|&hour| hour_count(&hours, row, window, window.seconds(), &mut selector, hour) > 0)?,
    }
    .0;
    let first_seen = row.first_seen.max(window.start);
    Some(Aggregate {
        count: 1,
        first_seen,
        last_seen: last_second(&hours, row, window, &mut selector, last).max(first_seen),
        hours: (0, u32::MAX),
    })
}

/// [`aggregate`] with fast paths: a group whose lifetime misses the window has nothing in
/// it, and when `hours` are all the group's occurrences a window covering the whole lifetime
/// is the lifetime (no scan of the hours).
pub fn aggregate_group(views: &IssueViews, hours: &GroupHours, row: &GroupRow, window: Window) -> Option<Aggregate> {
    let window = window.whole_seconds();
    if row.last_seen < window.start || row.first_seen > window.end {
        return None;
    }
    if hours.complete && window.start <= row.first_seen && row.last_seen <= window.end {
        // Every hour counts; the hours themselves are not read (a cache miss per group).
        return Some(Aggregate {
            count: row.times_seen,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            hours: (0, u32::MAX),
        });
    }
    aggregate(views, hours, row, window)
}

/// The group's aggregate in `window` and `environments` (None: all) without reading its
/// hours when the window covers its lifetime (the list's common case: one row read per group).
pub fn aggregate_view(
    views: &IssueViews,
    key: GroupKey,
    view: &GroupView,
    row: &GroupRow,
    environments: Option<&[Symbol]>,
    window: Window,
) -> Option<Aggregate> {
    let window = window.whole_seconds();
    if row.last_seen < window.start || row.first_seen > window.end {
        return None;
    }
    if environments.is_none() && window.start <= row.first_seen && row.last_seen <= window.end {
        return Some(Aggregate {
            count: row.times_seen,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            hours: (0, u32::MAX),
        });
    }
    aggregate_group(views, &hours_in(views, key, view, environments), row, window)
}

/// What a caller that needs no count learns from the row alone: a group whose last
/// occurrence lies in the window has an occurrence there, and that is its windowed last
/// seen (every occurrence selected: no `environment=`). `count` is then only a lower
/// bound (1) and `first_seen` the window's start or the lifetime first seen; the issues
/// list uses this when neither its sort nor a `timesSeen` filter reads the count.
pub fn last_seen_in(row: &GroupRow, environments: Option<&[Symbol]>, window: Window) -> Option<Aggregate> {
    let window = window.whole_seconds();
    (environments.is_none() && window.contains(row.last_seen)).then(|| Aggregate {
        count: 1,
        first_seen: row.first_seen.max(window.start),
        last_seen: row.last_seen,
        hours: (0, u32::MAX),
    })
}

/// Distinct users of the selected occurrences within `window`, given their `aggregate` there
/// (from [`aggregate_group`]): the lifetime count when that is every occurrence. The entries
/// are read run by run (distinct users need no time order), a facet's verdict is
/// remembered by its index in the details' facet table, and the read stops once the users
/// found are the group's lifetime distinct users (`user_count`, which no selection of its
/// occurrences exceeds: a busy group's few users are mostly all found in its first entries).
pub fn users_of(views: &IssueViews, hours: &GroupHours, row: &GroupRow, aggregate: &Aggregate, window: Window) -> u64 {
    if hours.complete && aggregate.count == row.times_seen {
        return row.user_count;
    }
    let (first, last_second) = window.whole_seconds().seconds();
    let mut selector = hours.select.selector(views);
    let all = matches!(hours.select, Select::All);
    let details = hours.details;
    let mut verdicts = FacetVerdicts::default();
    let mut users = UserSet::default();
    let mut last = 0;
    let most = row.user_count;
    if most == 0 {
        return 0;
    }
    details.for_each_unordered(aggregate.hours, |second, facet, user| {
        // Runs of one user (a burst) are tested once.
        if user == 0 || user == last || second < first || second > last_second {
            return true;
        }
        if all || verdicts.accepts(facet, |index| selector.accepts(details.facet_id(index))) {
            users.insert(user);
            last = user;
        }
        users.len < most
    });
    users.len
}

/// The verdicts of the last few facet indexes seen (by their low bits).
struct FacetVerdicts {
    /// `index + 1` per slot (0: empty).
    seen: [u32; FACET_SLOTS],
    verdicts: u64,
}

const FACET_SLOTS: usize = 64;

impl Default for FacetVerdicts {
    fn default() -> FacetVerdicts {
        FacetVerdicts {
            seen: [0; FACET_SLOTS],
            verdicts: 0,
        }
    }
}

impl FacetVerdicts {
    fn accepts(&mut self, index: u32, decide: impl FnOnce(u32) -> bool) -> bool {
        let slot = index as usize % FACET_SLOTS;
        if self.seen[slot] == index.wrapping_add(1) {
            return self.verdicts & (1 << slot) != 0;
        }
        let verdict = decide(index);
        self.seen[slot] = index.wrapping_add(1);
        self.verdicts = (self.verdicts & !(1 << slot)) | (u64::from(verdict) << slot);
        verdict
    }
}

/// Distinct non-zero users, in an open-addressing table kept at most half full: a busy
/// group's details name a few distinct users thousands of times, so the table grows with
/// the distinct users, not with the entries (sized by the entries, zeroing it was a tenth
/// of an `environment=` page).
struct UserSet {
    slots: Vec<u64>,
    /// `64 - log2(slots)`: a user's home slot is the top bits of its Fibonacci hash.
    shift: u32,
    len: u64,
}

impl Default for UserSet {
    fn default() -> UserSet {
        UserSet::with_slots(64)
    }
}

impl UserSet {
    fn with_slots(slots: usize) -> UserSet {
        UserSet {
            slots: vec![0; slots],
            shift: 64 - slots.trailing_zeros(),
            len: 0,
        }
    }

    /// Adds `user` (not 0, which marks an empty slot).
    fn insert(&mut self, user: u64) {
        if self.put(user) && 2 * self.len > self.slots.len() as u64 {
            let mut grown = UserSet::with_slots(2 * self.slots.len());
            for &u in self.slots.iter().filter(|&&u| u != 0) {
                grown.put(u);
            }
            *self = grown;
        }
    }

    /// Adds `user` to a table with room; whether it was new.
    fn put(&mut self, user: u64) -> bool {
        let mask = self.slots.len() - 1;
        let mut slot = (user.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize;
        loop {
            match self.slots[slot] {
                0 => {
                    self.slots[slot] = user;
                    self.len += 1;
                    return true;
                }
                u if u == user => return false,
                _ => slot = (slot + 1) & mask,
            }
        }
    }
}

/// Stats buckets: `count` buckets of `size` seconds from `start` (epoch seconds; `start` and
/// `size` whole hours, so that each hour falls in one bucket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buckets {
    pub start: i64,
    pub size: i64,
    pub count: usize,
}

/// The selected occurrences per bucket, as `(bucket start, occurrences)`: each bucket counts
/// those inside both the bucket and `window`, exact to the second as [`aggregate`] counts
/// them, so that buckets covering the window sum to its `count`. Hours the window holds whole
/// count from the hourly counts, the hours it cuts from the details.
pub fn buckets_in(views: &IssueViews, hours: &GroupHours, row: &GroupRow, window: Window, buckets: Buckets) -> Vec<(i64, u64)> {
    let Buckets { start, size, count } = buckets;
    let mut out: Vec<(i64, u64)> = (0..count as i64).map(|i| (start + i * size, 0)).collect();
    let window = window.whole_seconds().intersect(Window {
        start: start.saturating_mul(SECOND_MICROS),
        end: Micros::MAX,
    });
    if window.start > window.end || row.last_seen < window.start || row.first_seen > window.end {
        return out;
    }
    let size = size.max(1);
    let seconds = window.seconds();
    let mut selector = hours.select.selector(views);
    let from = hours
        .hours
        .partition_point(|&(h, _)| Micros::from(h) * HOUR_MICROS + HOUR_MICROS - 1 < window.start);
    for &(hour, n) in &hours.hours[from..] {
        if Micros::from(hour) * HOUR_MICROS > window.end {
            break;
        }
        let index = (i64::from(hour) * 3600 - start).div_euclid(size);
        let Some(bucket) = usize::try_from(index).ok().and_then(|i| out.get_mut(i)) else {
            break;
        };
        bucket.1 += hour_count(hours, row, window, seconds, &mut selector, (hour, n));
    }
    out
}

#[cfg(test)]
mod tests;
