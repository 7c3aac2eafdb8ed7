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
            tags: None,
        };
        let hour = t.div_euclid(3600) as u32;
        activity.push((crate::views::Activity::occurrences(key, facet, hour), 0, 1));
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

/// An occurrence: `(epoch second, environment, user)`.
type Occurrence = (i64, Option<Symbol>, u64);

/// What a window answers: count, first and last seen (micros), distinct users.
type Expected = (u64, i64, i64, u64);

/// Count, first and last seen (micros) and distinct users of the occurrences in
/// `[start, end]` of the wanted environments: what the window functions must answer.
fn expected_in(occurrences: &[Occurrence], environments: Option<&[Symbol]>, start: i64, end: i64) -> (Vec<Occurrence>, Option<Expected>) {
    let selected: Vec<Occurrence> = occurrences
        .iter()
        .filter(|o| start <= o.0 && o.0 <= end && environments.is_none_or(|w| environment_wanted(o.1, w)))
        .copied()
        .collect();
    let mut users: Vec<u64> = selected.iter().map(|o| o.2).filter(|u| *u != 0).collect();
    users.sort_unstable();
    users.dedup();
    let expected = (!selected.is_empty()).then(|| {
        (
            selected.len() as u64,
            selected.iter().map(|o| o.0).min().unwrap_or_default() * 1_000_000,
            selected.iter().map(|o| o.0).max().unwrap_or_default() * 1_000_000,
            users.len() as u64,
        )
    });
    (selected, expected)
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
    // hour 101: :05:00 (dev, user 1), :15:00 (no environment, user 4); hour 103: :30:00
    // (prod, no user).
    let occurrences = [
        (h + 600, Some(prod), 1),
        (h + 1200, Some(dev), 2),
        (h + 2400, Some(prod), 3),
        (h + 3600 + 300, Some(dev), 1),
        (h + 3600 + 900, None, 4),
        (h + 3 * 3600 + 1800, Some(prod), 0),
    ];
    let views = views_of(key, &occurrences);
    let view = views.get(key).unwrap();
    let row = view.row.clone().unwrap();
    let check = |environments: Option<&[Symbol]>, start: i64, end: i64| {
        let (selected, expected) = expected_in(&occurrences, environments, start, end);
        let hours = hours_in(&views, key, view, environments);
        let got = aggregate_group(&views, &hours, &row, window(start, end));
        let users = got.map(|a| users_of(&views, &hours, &row, &a, window(start, end)));
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
    let none = no_environment();
    for environments in [
        None,
        Some(&[prod][..]),
        Some(&[dev][..]),
        Some(&[prod, dev][..]),
        Some(&[none][..]),
        Some(&[dev, none][..]),
    ] {
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
        let (only_none, none_and_7) = ([no_environment()], [no_environment(), 7]);
        let wanted: Option<&[Symbol]> = [
            None,
            Some(&[7][..]),
            Some(&[8][..]),
            Some(&[8, 7, 8][..]),
            Some(&only_none[..]),
            Some(&none_and_7[..]),
        ][case % 6];
        let (_, expected) = expected_in(&occurrences, wanted, start, end);
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
        tags: None,
    };
    views.apply_activity(vec![
        (crate::views::Activity::occurrences(key, facet(7), 100), 0, 1),
        (crate::views::Activity::occurrences(key, facet(8), 100), 0, 1),
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
    let none = no_environment();
    assert!(
        hours_in(&views, key, view, Some(&[none])).hours.is_empty(),
        "every occurrence is in prod"
    );
    // An occurrence without environment splits the group: prod keeps its history.
    epoch(&mut views, 1, &[(None, 2), (Some(dev), 3)]);
    let view = views.get(key).unwrap();
    assert_eq!(views.environment_hours(key).unwrap(), &[(prod, 1, 1), (prod, 2, 1), (dev, 3, 1)]);
    assert_eq!(
        hours_in(&views, key, view, Some(&[prod, dev])).hours.as_ref(),
        &[(1, 1), (2, 1), (3, 1)]
    );
    assert!(!hours_in(&views, key, view, Some(&[prod, dev])).complete);
    assert_eq!(view.hourly.to_vec(), vec![(1, 1), (2, 2), (3, 1)]);
    // `environment=` (empty): the occurrences without one, which the split series leaves out.
    assert_eq!(hours_in(&views, key, view, Some(&[none])).hours.as_ref(), &[(2, 1)]);
    assert_eq!(hours_in(&views, key, view, Some(&[dev, none])).hours.as_ref(), &[(2, 1), (3, 1)]);
}

#[test]
fn a_group_without_environments_is_selected_by_the_empty_environment() {
    let key = GroupKey { project: 1, short_id: 1 };
    let views = views_of(key, &[(3600 * 10 + 5, None, 1), (3600 * 12 + 5, None, 2)]);
    let view = views.get(key).unwrap();
    let wanted = [no_environment()];
    let none = hours_in(&views, key, view, Some(&wanted));
    assert!(none.complete);
    assert_eq!(none.hours.as_ref(), &[(10, 1), (12, 1)]);
    assert!(hours_in(&views, key, view, Some(&[7])).hours.is_empty());
}

/// One occurrence in the window, the group's first (exact, at .7 s) with a later one outside:
/// its whole second from the details must not make the last seen earlier than the first.
#[test]
fn last_seen_is_never_before_first_seen_within_one_second() {
    let key = GroupKey { project: 1, short_id: 1 };
    let t = 3600 * 10 + 5;
    let views = views_of(key, &[(t, None, 1), (t + 7200, None, 2)]);
    let view = views.get(key).unwrap();
    let mut row = (*view.row.clone().unwrap()).clone();
    row.first_seen += 700_000;
    let hours = hours_in(&views, key, view, None);
    let within = window(t - 60, t + 60);
    let a = aggregate_group(&views, &hours, &row, within).unwrap();
    assert_eq!(
        (a.count, a.first_seen, a.last_seen),
        (1, t * 1_000_000 + 700_000, t * 1_000_000 + 700_000)
    );
    let last = last_seen_view(&views, key, view, &row, None, within).unwrap();
    assert!(last.last_seen >= last.first_seen, "{last:?}");
}
