//! Windowed aggregates of one group over the views: occurrences, distinct users, first and
//! last seen within a time window and a set of environments, and stats buckets
//! (issue-platform.md §7.5, docs/semantics.md §7).
//!
//! The views count occurrences per hour, so windows are read at hour granularity: an hour
//! belongs to a window when it overlaps it, after clipping the hour to the group's lifetime
//! first and last seen (which are exact). So `firstSeen`/`lastSeen` in a window are exact
//! whenever the group's first/last occurrence lies in it, else the window's or hour's edge.

use std::borrow::Cow;

use crate::model::{Micros, Symbol};
use crate::state::{GroupKey, GroupRow};
use crate::views::{GroupView, IssueViews};

pub const HOUR_MICROS: Micros = 3_600_000_000;

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

/// A group's occurrences per hour, ascending, in some environments.
pub struct GroupHours<'v> {
    pub hours: Cow<'v, [(u32, u32)]>,
    /// These are all the group's occurrences (its `hourly`): lifetime values apply.
    pub complete: bool,
}

/// The group's occurrences per hour restricted to `environments` when given. A group with a
/// single environment key borrows its `hourly` (no copy, no lookup of per-environment hours
/// unless the group has a requested environment).
pub fn hours_in<'v>(views: &'v IssueViews, key: GroupKey, view: &'v GroupView, environments: Option<&[Symbol]>) -> GroupHours<'v> {
    let all = GroupHours {
        hours: Cow::Borrowed(&view.hourly),
        complete: true,
    };
    let none = GroupHours {
        hours: Cow::Borrowed(&[]),
        complete: false,
    };
    let Some(wanted) = environments else {
        return all;
    };
    if !view.environments.iter().any(|e| wanted.contains(e)) {
        return none;
    }
    match views.environment_hours(key) {
        // One environment key, and it is requested.
        None if view.environments.len() == 1 => all,
        None => none,
        Some(split) => {
            let mut hours: Vec<(u32, u32)> = split
                .iter()
                .filter(|(env, _, _)| wanted.contains(env))
                .map(|&(_, hour, n)| (hour, n))
                .collect();
            hours.sort_unstable();
            hours.dedup_by(|later, earlier| {
                let same = later.0 == earlier.0;
                if same {
                    earlier.1 += later.1;
                }
                same
            });
            GroupHours {
                hours: Cow::Owned(hours),
                complete: false,
            }
        }
    }
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

/// Occurrences, first and last seen of `hours` within `window`; None without any.
pub fn aggregate(hours: &[(u32, u32)], row: &GroupRow, window: Window) -> Option<Aggregate> {
    let mut result: Option<Aggregate> = None;
    for &(hour, n) in hours {
        let (start, end) = span(hour, row);
        if n == 0 || start > window.end || end < window.start {
            continue;
        }
        let seen = (start.max(window.start), end.min(window.end));
        match &mut result {
            None => {
                result = Some(Aggregate {
                    count: u64::from(n),
                    first_seen: seen.0,
                    last_seen: seen.1,
                    hours: (hour, hour),
                })
            }
            Some(a) => {
                a.count += u64::from(n);
                a.last_seen = seen.1;
                a.hours.1 = hour;
            }
        }
    }
    result
}

/// [`aggregate`] with fast paths: a group whose lifetime misses the window has nothing in
/// it, and when `hours` are all the group's occurrences a window covering the whole lifetime
/// is the lifetime (no scan of the hours).
pub fn aggregate_group(hours: &GroupHours, row: &GroupRow, window: Window) -> Option<Aggregate> {
    if row.last_seen < window.start || row.first_seen > window.end {
        return None;
    }
    let (complete, hours) = (hours.complete, hours.hours.as_ref());
    if complete && window.start <= row.first_seen && row.last_seen <= window.end {
        // Every hour counts; the hours themselves are not read (a cache miss per group).
        return Some(Aggregate {
            count: row.times_seen,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            hours: (0, u32::MAX),
        });
    }
    aggregate(hours, row, window)
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
    aggregate_group(&hours_in(views, key, view, environments), row, window)
}

/// Distinct users of the group within `aggregate` (from [`aggregate_group`] over `hours`):
/// the lifetime count when that covers all the group's occurrences.
pub fn users_of(views: &IssueViews, key: GroupKey, hours: &GroupHours, row: &GroupRow, aggregate: &Aggregate) -> u64 {
    if hours.complete && aggregate.first_seen == row.first_seen && aggregate.last_seen == row.last_seen {
        return row.user_count;
    }
    users_in(views, key, &hours.hours, aggregate.hours)
}

/// Distinct users of the group in the hours of `hours` between `first` and `last` hour.
pub fn users_in(views: &IssueViews, key: GroupKey, hours: &[(u32, u32)], (first, last): (u32, u32)) -> u64 {
    let Some(entries) = views.user_hours(key) else { return 0 };
    let from = entries.partition_point(|e| e[0] < first);
    let mut users: Vec<u64> = entries[from..]
        .iter()
        .take_while(|e| e[0] <= last)
        .filter(|e| hours.binary_search_by_key(&e[0], |h| h.0).is_ok())
        .map(|e| u64::from(e[1]) | (u64::from(e[2]) << 32))
        .collect();
    users.sort_unstable();
    users.dedup();
    users.len() as u64
}

/// Occurrences per bucket: `count` buckets of `size` seconds from `start` (epoch seconds,
/// aligned to whole hours), as `(bucket start, occurrences)`.
pub fn buckets(hours: &[(u32, u32)], start: i64, size: i64, count: usize) -> Vec<(i64, u64)> {
    let mut out: Vec<(i64, u64)> = (0..count as i64).map(|i| (start + i * size, 0)).collect();
    let size = size.max(1);
    let from = hours.partition_point(|&(h, _)| i64::from(h) * 3600 < start);
    for &(hour, n) in &hours[from..] {
        let index = (i64::from(hour) * 3600 - start) / size;
        match out.get_mut(index as usize) {
            Some(bucket) => bucket.1 += u64::from(n),
            None => break,
        }
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

    #[test]
    fn aggregates_clip_hours_to_the_lifetime_and_the_window() {
        // Occurrences in hours 10 (first at 10:15), 12 and 20 (last at 20:40).
        let row = row(10 * H + H / 4, 20 * H + 2 * H / 3);
        let hours = [(10, 2), (12, 3), (20, 1)];
        let all = aggregate(&hours, &row, Window::ALL).unwrap();
        assert_eq!((all.count, all.first_seen, all.last_seen), (6, row.first_seen, row.last_seen));
        let mid = aggregate(
            &hours,
            &row,
            Window {
                start: 11 * H,
                end: 19 * H,
            },
        )
        .unwrap();
        assert_eq!(
            (mid.count, mid.first_seen, mid.last_seen, mid.hours),
            (3, 12 * H, 13 * H - 1, (12, 12))
        );
        // A window ending at 10:05 misses the group, whose first occurrence is at 10:15.
        assert_eq!(
            aggregate(
                &hours,
                &row,
                Window {
                    start: 0,
                    end: 10 * H + H / 12
                }
            ),
            None
        );
    }

    #[test]
    fn buckets_sum_hours() {
        let hours = [(24, 1), (30, 2), (47, 4), (48, 8)];
        assert_eq!(buckets(&hours, 24 * 3600, 86_400, 2), vec![(86_400, 7), (172_800, 8)]);
        assert_eq!(buckets(&hours, 30 * 3600, 3600, 2), vec![(108_000, 2), (111_600, 0)]);
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

    #[test]
    fn users_are_distinct_over_the_counted_hours() {
        let key = GroupKey { project: 1, short_id: 1 };
        let mut views = IssueViews::default();
        let big = (5u64 << 32) | 9;
        views.apply_user_hours(vec![
            ((key, 1, 9), 0, 1),
            ((key, 2, 9), 0, 1),
            ((key, 2, big), 0, 1),
            ((key, 4, 3), 0, 1),
        ]);
        let hours = [(1, 1), (2, 2), (4, 1)];
        assert_eq!(users_in(&views, key, &hours, (1, 4)), 3);
        assert_eq!(users_in(&views, key, &hours, (1, 2)), 2);
        assert_eq!(users_in(&views, key, &[(4, 1)], (1, 4)), 1);
        assert_eq!(views.user_hours(key).map(<[_]>::len), Some(4));
        // Duplicates change nothing; retractions remove; an emptied group has no entry.
        let other = GroupKey { project: 1, short_id: 2 };
        views.apply_user_hours(vec![((other, 7, 1), 0, 1), ((other, 7, 1), 0, 1)]);
        assert_eq!(views.user_hours(other), Some(&[[7, 1, 0]][..]));
        views.apply_user_hours(vec![((other, 3, 2), 1, 1), ((other, 7, 1), 1, -1)]);
        assert_eq!(views.user_hours(other), Some(&[[3, 2, 0]][..]));
        views.apply_user_hours(vec![((other, 3, 2), 2, -1)]);
        assert_eq!(views.user_hours(other), None);
    }
}
