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
pub use edges::{any_in, Select};

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

/// The group's occurrences per hour restricted to `environments` when given. A group with a
/// single environment key borrows its `hourly` (no copy, no lookup of per-environment hours
/// unless the group has a requested environment).
pub fn hours_in<'v>(views: &'v IssueViews, key: GroupKey, view: &'v GroupView, environments: Option<&'v [Symbol]>) -> GroupHours<'v> {
    let all = || GroupHours {
        hours: Cow::Borrowed(&view.hourly),
        complete: true,
        details: views.details_of(key, view),
        select: Select::All,
    };
    let Some(wanted) = environments else {
        return all();
    };
    if !view.environments.iter().any(|e| wanted.contains(e)) {
        return GroupHours::none();
    }
    match views.environment_hours_of(key, view) {
        // One environment key, and it is requested.
        None if view.environments.len() == 1 => all(),
        None => GroupHours::none(),
        Some(split) => GroupHours {
            hours: Cow::Owned(environment_hours(split, wanted)),
            complete: false,
            details: views.details_of(key, view),
            select: Select::Environments(wanted),
        },
    }
}

/// The hours of `wanted` environments in a group's per-(environment, hour) counts, which are
/// sorted: each environment's entries are one run, found by binary search, and already in
/// hour order, so only hours of two or more environments need a sort.
fn environment_hours(split: &[(Symbol, u32, u32)], wanted: &[Symbol]) -> Vec<(u32, u32)> {
    let runs = environment_runs(split, wanted);
    let mut hours: Vec<(u32, u32)> = runs.iter().flat_map(|run| run.iter().map(|&(_, hour, n)| (hour, n))).collect();
    if runs.len() > 1 {
        hours.sort_unstable();
        hours.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                earlier.1 += later.1;
            }
            same
        });
    }
    hours
}

/// The runs of `split` (sorted by environment, then hour) of the distinct `wanted`
/// environments that have any.
fn environment_runs<'s>(split: &'s [(Symbol, u32, u32)], wanted: &[Symbol]) -> Vec<&'s [(Symbol, u32, u32)]> {
    let mut runs = Vec::new();
    for (i, env) in wanted.iter().enumerate() {
        if wanted[..i].contains(env) {
            continue;
        }
        let from = split.partition_point(|e| e.0 < *env);
        let len = split[from..].partition_point(|e| e.0 == *env);
        if len > 0 {
            runs.push(&split[from..from + len]);
        }
    }
    runs
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
        last_seen: last_second(hours, row, window, &mut selector, last),
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
    // One requested environment among several of the group's: its run of the per-environment
    // hours is read backwards in place (no copy of the group's hours).
    let one_run = match (environments, views.environment_hours_of(key, view)) {
        (Some(wanted), Some(split)) if view.environments.iter().any(|e| wanted.contains(e)) => Some(environment_runs(split, wanted))
            .filter(|runs| runs.len() == 1)
            .map(|runs| (runs[0], wanted)),
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
        Some((run, _)) => run
            .iter()
            .rev()
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
    Some(Aggregate {
        count: 1,
        first_seen: row.first_seen.max(window.start),
        last_seen: last_second(&hours, row, window, &mut selector, last),
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
/// (from [`aggregate_group`]): the lifetime count when that is every occurrence.
pub fn users_of(views: &IssueViews, hours: &GroupHours, row: &GroupRow, aggregate: &Aggregate, window: Window) -> u64 {
    if hours.complete && aggregate.count == row.times_seen {
        return row.user_count;
    }
    let seconds = window.whole_seconds().seconds();
    let mut selector = hours.select.selector(views);
    let entries = details::hours_of(hours.details, aggregate.hours);
    let mut users = UserSet::with_room(entries.size_hint().0);
    let mut last = 0;
    for e in entries {
        let user = details::user(&e);
        // Runs of one user (a burst) are tested once.
        if user != 0 && user != last && edges::counts(&e, &mut selector, seconds) {
            users.insert(user);
            last = user;
        }
    }
    users.len
}

/// Distinct non-zero users, in an open-addressing table of at least twice the entries it
/// may get: a busy group's details name a few distinct users thousands of times, and
/// sorting them all to count the distinct ones was a tenth of an `environment=` page.
struct UserSet {
    slots: Vec<u64>,
    /// `64 - log2(slots)`: a user's home slot is the top bits of its Fibonacci hash.
    shift: u32,
    len: u64,
}

impl UserSet {
    fn with_room(entries: usize) -> UserSet {
        let slots = (2 * entries).next_power_of_two().max(16);
        UserSet {
            slots: vec![0; slots],
            shift: 64 - slots.trailing_zeros(),
            len: 0,
        }
    }

    /// Adds `user` (not 0, which marks an empty slot).
    fn insert(&mut self, user: u64) {
        let mask = self.slots.len() - 1;
        let mut slot = (user.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize;
        loop {
            match self.slots[slot] {
                0 => {
                    self.slots[slot] = user;
                    self.len += 1;
                    return;
                }
                u if u == user => return,
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
mod tests {
    use super::*;
    use std::sync::Arc;

    fn row(first_seen: Micros, last_seen: Micros) -> GroupRow {
        GroupRow {
            first_seen,
            last_seen,
            ..GroupRow::sample()
        }
    }

    const H: Micros = HOUR_MICROS;

    /// Views holding one group with occurrences at `(epoch second, environment, user)`.
    fn views_of(key: GroupKey, occurrences: &[(i64, Option<Symbol>, u64)]) -> IssueViews {
        views_within(key, occurrences, u32::MAX)
    }

    /// [`views_of`] keeping `details_hours` of occurrence details (`--details-days`).
    fn views_within(key: GroupKey, occurrences: &[(i64, Option<Symbol>, u64)], details_hours: u32) -> IssueViews {
        let mut views = IssueViews::default();
        let first = occurrences.iter().map(|o| o.0).min().unwrap() * 1_000_000;
        let last = occurrences.iter().map(|o| o.0).max().unwrap() * 1_000_000;
        let mut row = row(first, last);
        row.times_seen = occurrences.len() as u64;
        let mut users: Vec<u64> = occurrences.iter().map(|o| o.2).filter(|u| *u != 0).collect();
        users.sort_unstable();
        users.dedup();
        row.user_count = users.len() as u64;
        views.apply_groups(vec![((key, Arc::new(row)), 0, 1)]);
        let mut activity = Vec::new();
        let mut details = Vec::new();
        for &(t, environment, user) in occurrences {
            let facet = crate::facets::Facet {
                environment,
                release: None,
                level: crate::model::Level::Error,
            };
            let hour = t.div_euclid(3600) as u32;
            activity.push((crate::views::Activity::Occurrences(key, facet, hour), 0, 1));
            details.push(((key, hour, (t - i64::from(hour) * 3600) as u32, facet.id(), user), 0, 1));
        }
        views.apply_activity(activity);
        views.apply_details_within(details, details_hours);
        views
    }

    fn window(start: i64, end: i64) -> Window {
        Window {
            start: start * 1_000_000,
            end: end * 1_000_000 + 999_999,
        }
    }

    #[test]
    fn past_the_details_horizon_a_cut_hour_counts_whole() {
        let key = GroupKey { project: 1, short_id: 1 };
        let (old, recent) = (240 * 3600, 312 * 3600);
        // Two occurrences in an old hour and two in a recent one, each at :10 and :40.
        let occurrences = [
            (old + 600, Some(7), 1),
            (old + 2400, Some(7), 2),
            (recent + 600, Some(7), 3),
            (recent + 2400, Some(7), 4),
        ];
        let edges = window(old + 1200, recent + 1200);
        let within = window(recent + 1200, recent + 3000);
        for (details_hours, count, first_seen, users) in [
            // Exact (the default): the :40 of the old hour and the :10 of the recent one.
            (u32::MAX, 2, old + 2400, 2),
            // One day of details (cut at hour 288): the old hour counts whole from the
            // window's start, and only the recent hour's users are known.
            (24, 3, old + 1200, 1),
        ] {
            let views = views_within(key, &occurrences, details_hours);
            let view = views.get(key).unwrap();
            let row = view.row.clone().unwrap();
            let hours = hours_in(&views, key, view, None);
            let a = aggregate_group(&views, &hours, &row, edges).unwrap();
            assert_eq!(
                (a.count, a.first_seen, a.last_seen),
                (count, first_seen * 1_000_000, (recent + 600) * 1_000_000),
                "details for {details_hours} hours"
            );
            assert_eq!(
                users_of(&views, &hours, &row, &a, edges),
                users,
                "details for {details_hours} hours"
            );
            // Within the horizon both modes are exact.
            let a = aggregate_group(&views, &hours, &row, within).unwrap();
            assert_eq!(
                (a.count, a.first_seen, a.last_seen),
                (1, (recent + 2400) * 1_000_000, (recent + 2400) * 1_000_000)
            );
            let any = |range| super::edges::any_in(&views, key, view, &row, range, |_, _| Some(true));
            assert!(
                any(window(old + 2401, old + 3000)) == (details_hours != u32::MAX),
                "details for {details_hours} hours"
            );
        }
    }

    #[test]
    fn windows_count_exactly_at_edges_inside_an_hour() {
        let key = GroupKey { project: 1, short_id: 1 };
        let (prod, dev) = (7, 8);
        let h = 3600 * 100;
        // Hour 100: at :10:00 (prod, user 1), :20:00 (dev, user 2), :40:00 (prod, user 3);
        // hour 101: :05:00 (dev, user 1); hour 103: :30:00 (prod, no user).
        let occurrences = [
            (h + 600, Some(prod), 1),
            (h + 1200, Some(dev), 2),
            (h + 2400, Some(prod), 3),
            (h + 3600 + 300, Some(dev), 1),
            (h + 3 * 3600 + 1800, Some(prod), 0),
        ];
        let views = views_of(key, &occurrences);
        let view = views.get(key).unwrap();
        let row = view.row.clone().unwrap();
        let check = |environments: Option<&[Symbol]>, start: i64, end: i64| {
            let selected: Vec<&(i64, Option<Symbol>, u64)> = occurrences
                .iter()
                .filter(|o| start <= o.0 && o.0 <= end && environments.is_none_or(|w| o.1.is_some_and(|e| w.contains(&e))))
                .collect();
            let hours = hours_in(&views, key, view, environments);
            let got = aggregate_group(&views, &hours, &row, window(start, end));
            let users = got.map(|a| users_of(&views, &hours, &row, &a, window(start, end)));
            let mut expected_users: Vec<u64> = selected.iter().map(|o| o.2).filter(|u| *u != 0).collect();
            expected_users.sort_unstable();
            expected_users.dedup();
            let expected = (!selected.is_empty()).then(|| {
                (
                    selected.len() as u64,
                    selected.iter().map(|o| o.0).min().unwrap() * 1_000_000,
                    selected.iter().map(|o| o.0).max().unwrap() * 1_000_000,
                    expected_users.len() as u64,
                )
            });
            assert_eq!(
                got.map(|a| (a.count, a.first_seen, a.last_seen, users.unwrap())),
                expected,
                "{environments:?} [{start}, {end}]"
            );
            // Buckets (hourly from the hour before the first occurrence, daily, and hourly
            // from inside the window) count the same occurrences, bucket by bucket.
            for buckets in [
                Buckets {
                    start: h - 3600,
                    size: 3600,
                    count: 6,
                },
                Buckets {
                    start: h.div_euclid(86_400) * 86_400,
                    size: 86_400,
                    count: 2,
                },
                Buckets {
                    start: h + 3600,
                    size: 3600,
                    count: 2,
                },
            ] {
                let got = buckets_in(&views, &hours, &row, window(start, end), buckets);
                let expected: Vec<(i64, u64)> = (0..buckets.count as i64)
                    .map(|i| {
                        let from = buckets.start + i * buckets.size;
                        let n = selected.iter().filter(|o| from <= o.0 && o.0 < from + buckets.size).count();
                        (from, n as u64)
                    })
                    .collect();
                assert_eq!(got, expected, "{environments:?} [{start}, {end}] {buckets:?}");
                if buckets.start <= start && end < buckets.start + buckets.count as i64 * buckets.size {
                    let sum: u64 = got.iter().map(|b| b.1).sum();
                    assert_eq!(
                        sum,
                        selected.len() as u64,
                        "{environments:?} [{start}, {end}] {buckets:?}: the buckets sum to the count"
                    );
                }
            }
            let last = last_seen_view(&views, key, view, &row, environments, window(start, end));
            assert_eq!(
                last.map(|a| a.last_seen),
                expected.map(|e| e.2),
                "{environments:?} [{start}, {end}]"
            );
        };
        for environments in [None, Some(&[prod][..]), Some(&[dev][..]), Some(&[prod, dev][..])] {
            for (start, end) in [
                (h + 601, h + 2400),
                (h + 600, h + 2399),
                (h + 601, h + 2399),
                (h + 1200, h + 3600 + 300),
                (h + 1201, h + 3600 + 299),
                (h, h + 4 * 3600),
                (h + 2401, h + 3 * 3600 + 1799),
                (h + 2401, h + 3 * 3600 + 1800),
                (0, h + 599),
                // Cutting the first and last hours only before the first and after the last
                // occurrence: those hours count whole.
                (h + 300, h + 3 * 3600 + 2000),
                (h + 300, h + 2400),
                (h + 1200, h + 3 * 3600 + 3599),
                (h + 3 * 3600 + 1000, h + 3 * 3600 + 3000),
            ] {
                check(environments, start, end);
            }
        }
    }

    /// A busy group (hundreds of details, three environments) under random windows: counts,
    /// first and last seen, users and [`last_seen_view`] against the occurrences themselves.
    #[test]
    fn busy_groups_count_exactly_in_random_windows() {
        let key = GroupKey { project: 1, short_id: 1 };
        let mut next = crate::test_rng::below(0x5851_f42d_4c95_7f2du64);
        let base = 3600 * 200;
        let environments = [Some(7), Some(8), None];
        let occurrences: Vec<(i64, Option<Symbol>, u64)> = (0..600)
            .map(|_| {
                let t = base + next(12 * 3600) as i64;
                (t, environments[next(3) as usize], next(40))
            })
            .collect();
        let views = views_of(key, &occurrences);
        let view = views.get(key).unwrap();
        let row = view.row.clone().unwrap();
        for case in 0..400 {
            let (a, b) = (base - 600 + next(13 * 3600) as i64, base - 600 + next(13 * 3600) as i64);
            let (start, end) = (a.min(b), a.max(b));
            let wanted: Option<&[Symbol]> = [None, Some(&[7][..]), Some(&[8][..]), Some(&[8, 7, 8][..])][case % 4];
            let selected: Vec<&(i64, Option<Symbol>, u64)> = occurrences
                .iter()
                .filter(|o| start <= o.0 && o.0 <= end && wanted.is_none_or(|w| o.1.is_some_and(|e| w.contains(&e))))
                .collect();
            let mut users: Vec<u64> = selected.iter().map(|o| o.2).filter(|u| *u != 0).collect();
            users.sort_unstable();
            users.dedup();
            let expected = (!selected.is_empty()).then(|| {
                (
                    selected.len() as u64,
                    selected.iter().map(|o| o.0).min().unwrap() * 1_000_000,
                    selected.iter().map(|o| o.0).max().unwrap() * 1_000_000,
                    users.len() as u64,
                )
            });
            let hours = hours_in(&views, key, view, wanted);
            let got = aggregate_group(&views, &hours, &row, window(start, end)).map(|a| {
                (
                    a.count,
                    a.first_seen,
                    a.last_seen,
                    users_of(&views, &hours, &row, &a, window(start, end)),
                )
            });
            assert_eq!(got, expected, "case {case}: {wanted:?} [{start}, {end}]");
            let last = last_seen_view(&views, key, view, &row, wanted, window(start, end));
            assert_eq!(
                last.map(|a| a.last_seen),
                expected.map(|e| e.2),
                "case {case}: {wanted:?} [{start}, {end}]"
            );
        }
    }

    #[test]
    fn first_and_last_seen_are_exact_for_the_whole_group_and_whole_seconds_for_a_selection() {
        let key = GroupKey { project: 1, short_id: 1 };
        let mut views = IssueViews::default();
        // Two occurrences at 100:00:10.25 (prod) and 100:30:00.75 (dev).
        let (first, last) = (360_010_250_000, 361_800_750_000);
        let mut row = row(first, last);
        row.times_seen = 2;
        views.apply_groups(vec![((key, Arc::new(row.clone())), 0, 1)]);
        let facet = |env| crate::facets::Facet {
            environment: Some(env),
            release: None,
            level: crate::model::Level::Error,
        };
        views.apply_activity(vec![
            (crate::views::Activity::Occurrences(key, facet(7), 100), 0, 1),
            (crate::views::Activity::Occurrences(key, facet(8), 100), 0, 1),
        ]);
        views.apply_details(vec![
            ((key, 100, 10, facet(7).id(), 0), 0, 1),
            ((key, 100, 1800, facet(8).id(), 0), 0, 1),
        ]);
        let view = views.get(key).unwrap();
        let all = hours_in(&views, key, view, None);
        let a = aggregate_group(&views, &all, &row, Window::ALL).unwrap();
        assert_eq!((a.count, a.first_seen, a.last_seen), (2, first, last));
        // A window from 100:00:10.5 still counts the first (whole seconds) and reports it exactly.
        let a = aggregate_group(
            &views,
            &all,
            &row,
            Window {
                start: first + 250_000,
                end: last,
            },
        )
        .unwrap();
        assert_eq!((a.count, a.first_seen, a.last_seen), (2, first, last));
        let a = aggregate_group(
            &views,
            &all,
            &row,
            Window {
                start: first + 1_000_000,
                end: Micros::MAX,
            },
        )
        .unwrap();
        assert_eq!((a.count, a.first_seen, a.last_seen), (1, 361_800_000_000, last));
        let prod = hours_in(&views, key, view, Some(&[7]));
        let a = aggregate_group(&views, &prod, &row, Window::ALL).unwrap();
        assert_eq!((a.count, a.first_seen, a.last_seen), (1, 360_010_000_000, 360_010_000_000));
    }

    #[test]
    fn environment_hours_split_when_a_second_environment_key_appears() {
        let key = GroupKey { project: 1, short_id: 1 };
        let (prod, dev) = (7, 8);
        let mut views = IssueViews::default();
        views.apply_groups(vec![((key, Arc::new(row(0, 100 * H))), 0, 1)]);
        let epoch = |views: &mut IssueViews, time: u64, items: &[(Option<Symbol>, u32)]| {
            let mut updates = Vec::new();
            for &(env, hour) in items {
                updates.push((crate::views::Activity::Hour(key, hour), time, 1));
                if let Some(env) = env {
                    updates.push((crate::views::Activity::Environment(key, env), time, 1));
                    updates.push((crate::views::Activity::EnvironmentHour(key, env, hour), time, 1));
                }
            }
            views.apply_activity(updates);
        };
        epoch(&mut views, 0, &[(Some(prod), 1), (Some(prod), 2)]);
        assert!(views.environment_hours(key).is_none(), "one environment: nothing kept");
        let view = views.get(key).unwrap();
        assert_eq!(hours_in(&views, key, view, Some(&[prod])).hours.as_ref(), &[(1, 1), (2, 1)]);
        assert!(hours_in(&views, key, view, Some(&[prod])).complete);
        assert!(hours_in(&views, key, view, Some(&[dev])).hours.is_empty());
        // An occurrence without environment splits the group: prod keeps its history.
        epoch(&mut views, 1, &[(None, 2), (Some(dev), 3)]);
        let view = views.get(key).unwrap();
        assert_eq!(views.environment_hours(key).unwrap(), &[(prod, 1, 1), (prod, 2, 1), (dev, 3, 1)]);
        assert_eq!(
            hours_in(&views, key, view, Some(&[prod, dev])).hours.as_ref(),
            &[(1, 1), (2, 1), (3, 1)]
        );
        assert!(!hours_in(&views, key, view, Some(&[prod, dev])).complete);
        assert_eq!(view.hourly, vec![(1, 1), (2, 2), (3, 1)]);
    }
}
