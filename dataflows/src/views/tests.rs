use super::*;

fn row(times_seen: u64) -> Arc<GroupRow> {
    Arc::new(GroupRow {
        times_seen,
        ..GroupRow::sample()
    })
}

const KEY: GroupKey = GroupKey { project: 1, short_id: 1 };
const OTHER: GroupKey = GroupKey { project: 2, short_id: 7 };

fn facet(environment: Option<Symbol>, release: Option<Symbol>, level: crate::model::Level) -> crate::facets::Facet {
    crate::facets::Facet {
        environment,
        release,
        level,
        tags: None,
    }
}

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
fn hourly_counts_add_up_and_vanish_at_zero() {
    let mut views = IssueViews::default();
    views.apply_hourly(vec![((KEY, 10), 0, 2), ((KEY, 5), 0, 1), ((KEY, 10), 0, 1)]);
    assert_eq!(views.get(KEY).unwrap().hourly.to_vec(), vec![(5, 1), (10, 3)]);
    views.apply_hourly(vec![((KEY, 5), 1, -1)]);
    assert_eq!(views.get(KEY).unwrap().hourly.to_vec(), vec![(10, 3)]);
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
    assert_eq!(views.get(keys[3]).map(|v| v.hourly.to_vec()), Some(vec![(10, 4), (11, 1)]));
    assert_eq!(views.get(other).map(|v| v.hourly.to_vec()), Some(vec![(11, 1)]));
    assert_eq!(keys.iter().skip(4).map(|k| total(&views, *k)).collect::<Vec<_>>(), expected[4..]);
}

#[test]
fn the_running_footprint_equals_a_walk() {
    let mut views = IssueViews::default();
    let key = |n: u32| GroupKey { project: 1, short_id: n };
    let mut next = crate::test_rng::below(0x9e37_79b9_7f4a_7c15u64);
    for round in 0..300u64 {
        let k = key(next(20) as u32);
        let diff = if next(5) == 0 { -1 } else { 1 };
        let hour = 1000 + next(10) as u32;
        match next(5) {
            0 => views.apply_hourly(vec![((k, hour), round, diff)]),
            1 => views.apply_environments(vec![((k, next(3)), round, diff)]),
            2 => views.apply_releases(vec![((k, next(3)), round, diff)]),
            3 => views.apply_details(vec![((k, hour, next(60) as u32, 1, next(4)), round, diff)]),
            // Into a later group only: merges never form a cycle.
            _ if round % 40 == 39 => views.apply_merges(vec![((k, key(k.short_id + 1 + next(3) as u32)), round, 1)]),
            _ => views.apply_details(vec![((k, hour + 24 * 200, 0, 1, 1), round, 1)]),
        }
        assert_eq!(views.footprint, Some(views.count_footprint()), "round {round}");
    }
}

#[test]
fn len_counts_groups_with_a_row() {
    let mut views = IssueViews::default();
    views.apply_hourly(vec![((KEY, 10), 0, 1)]);
    assert_eq!(views.len(), 0, "a view without a row is not a group yet");
    views.apply_groups(vec![((KEY, row(1)), 0, 1)]);
    assert_eq!((views.len(), views.iter().count()), (1, 1));
}

#[test]
fn a_view_is_found_by_its_address_and_a_copy_by_its_key() {
    let mut views = IssueViews::default();
    let keys: Vec<GroupKey> = (1..=5).map(|short_id| GroupKey { project: 1, short_id }).collect();
    for key in &keys {
        views.apply_hourly(vec![((*key, 10), 0, 1)]);
    }
    for (i, key) in keys.iter().enumerate() {
        let view = views.get(*key).expect("a view");
        assert_eq!(views.index_of_view(*key, view), Some(i as u32));
        let copy = GroupView {
            key: Some(*key),
            ..GroupView::default()
        };
        assert_eq!(views.index_of_view(*key, &copy), Some(i as u32));
    }
    let stranger = GroupView::default();
    assert_eq!(views.index_of_view(GroupKey { project: 9, short_id: 9 }, &stranger), None);
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

/// `Activity::Occurrences` stands for the updates the ingest operator used to send
/// separately (hours, environment set, per-environment hours, facets, release set): both
/// must leave the same views, including the environment split and the retention cut.
#[test]
fn occurrences_updates_equal_their_separate_parts() {
    use crate::model::Level;
    let other = OTHER;
    let late = retention::retention_hours() + 24 * 5;
    // (epoch, group, facet, hour, occurrences)
    let epochs = [
        vec![
            (KEY, facet(Some(1), None, Level::Error), 10, 2),
            (other, facet(None, Some(9), Level::Info), 10, 1),
        ],
        vec![
            (KEY, facet(Some(2), Some(8), Level::Error), 11, 1),
            (KEY, facet(None, Some(8), Level::Warning), 11, 3),
            (other, facet(None, Some(9), Level::Info), 12, 1),
        ],
        // Past the retention: hour 10 is cut; an old hour still adds its sets.
        vec![
            (other, facet(Some(3), Some(4), Level::Info), late, 1),
            (KEY, facet(Some(5), Some(6), Level::Error), 3, 1),
        ],
    ];
    let (mut combined, mut separate) = (IssueViews::default(), IssueViews::default());
    for (epoch, updates) in epochs.iter().enumerate() {
        let time = epoch as u64;
        combined.apply_activity(
            updates
                .iter()
                .map(|&(k, f, h, n)| (Activity::occurrences(k, f, h), time, n))
                .collect(),
        );
        let mut parts = Vec::new();
        let mut releases = Vec::new();
        for &(k, f, h, n) in updates {
            parts.push((Activity::Hour(k, h), time, n));
            parts.push((Activity::Facet(k, f, h), time, n));
            if let Some(env) = f.environment {
                parts.push((Activity::Environment(k, env), time, n));
                parts.push((Activity::EnvironmentHour(k, env, h), time, n));
            }
            if let Some(release) = f.release {
                releases.push(((k, release), time, n));
            }
        }
        separate.apply_activity(parts);
        separate.apply_releases(releases);
    }
    for key in [KEY, other] {
        let (a, b) = (combined.get(key).expect("group"), separate.get(key).expect("group"));
        let sorted = |set: &[Symbol]| {
            let mut set = set.to_vec();
            set.sort_unstable();
            set
        };
        assert_eq!(a.hourly, b.hourly, "{key:?}");
        assert_eq!(sorted(&a.environments), sorted(&b.environments), "{key:?}");
        assert_eq!(sorted(&a.releases), sorted(&b.releases), "{key:?}");
        assert_eq!(combined.environment_hours(key), separate.environment_hours(key), "{key:?}");
        for level in [Level::Error, Level::Warning, Level::Info] {
            let accept = |f: &crate::facets::Facet| f.level == level;
            assert_eq!(
                combined.facet_hours(key, a, accept),
                separate.facet_hours(key, b, accept),
                "{key:?} {level:?}"
            );
        }
    }
    assert_eq!(combined.get(KEY).map(|v| v.releases.len()), Some(2));
    assert!(combined.environment_hours(KEY).is_some(), "two environment keys: split");
}

#[test]
fn per_environment_hours_are_kept_hour_major_and_restored_so_from_older_checkpoints() {
    let (prod, dev) = (11, 12);
    let mut views = IssueViews::default();
    let occurrence = |env, hour| {
        Activity::occurrences(
            KEY,
            crate::facets::Facet {
                environment: Some(env),
                release: None,
                level: crate::model::Level::Error,
                tags: None,
            },
            hour,
        )
    };
    views.apply_groups(vec![((KEY, row(1)), 0, 1)]);
    views.apply_activity(vec![(occurrence(prod, 5), 0, 1), (occurrence(prod, 6), 0, 1)]);
    views.apply_activity(vec![
        (occurrence(dev, 5), 1, 1),
        (occurrence(prod, 7), 1, 2),
        (occurrence(dev, 7), 1, 1),
    ]);
    let hour_major = [(prod, 5, 1), (dev, 5, 1), (prod, 6, 1), (prod, 7, 2), (dev, 7, 1)];
    assert_eq!(views.environment_hours(KEY).unwrap(), &hour_major);
    // A checkpoint of an earlier build held the series by environment, then hour.
    let index = views.find(KEY).unwrap();
    views.environment_hours.get_mut(&index).unwrap().sort_unstable();
    assert_ne!(views.environment_hours(KEY).unwrap(), &hour_major);
    let restored: IssueViews = postcard::from_bytes(&postcard::to_stdvec(&views).unwrap()).unwrap();
    assert_eq!(restored.environment_hours(KEY).unwrap(), &hour_major);
}

/// Views that keep no windows (`drop_windows`: a backfill that only dumps) take the same
/// updates, merges and retention cuts and keep everything but the details and the facet
/// hours, which stay empty.
#[test]
fn views_without_windows_keep_all_but_the_details_and_the_facet_hours() {
    use crate::model::Level;
    let late = retention::retention_hours() + 48;
    // (group, facet, hour) per epoch; the last one is past the retention of hours 10–12.
    let epochs = [
        vec![
            (KEY, facet(Some(1), None, Level::Error), 10),
            (OTHER, facet(None, Some(9), Level::Info), 10),
        ],
        vec![
            (KEY, facet(Some(2), Some(8), Level::Warning), 11),
            (OTHER, facet(Some(3), Some(9), Level::Info), 12),
        ],
        vec![(KEY, facet(Some(2), Some(8), Level::Error), late)],
    ];
    let (mut kept, mut dropped) = (IssueViews::default(), IssueViews::default());
    dropped.drop_windows();
    assert!(kept.keeps_windows() && !dropped.keeps_windows());
    let mut compared = 0;
    for (epoch, updates) in epochs.iter().enumerate() {
        let time = epoch as u64;
        for views in [&mut kept, &mut dropped] {
            views.apply_groups(updates.iter().map(|&(k, ..)| ((k, row(time + 1)), time, 1)).collect());
            let mut activity: Vec<_> = updates.iter().map(|&(k, f, h)| (Activity::occurrences(k, f, h), time, 2)).collect();
            activity.push((Activity::Facet(KEY, facet(None, None, Level::Fatal), 11), time, 1));
            activity.push((Activity::Hour(KEY, 11), time, 1));
            views.apply_activity(activity);
            let details = updates.iter().map(|&(k, f, h)| ((k, h, 30, f.id(), 5), time, 1)).collect();
            views.apply_details_within(details, 24);
            if epoch == 1 {
                views.apply_merges(vec![((OTHER, KEY), time, 1)]);
            }
        }
        if epoch == 0 {
            let (split, _) = kept.facet_hours(KEY, kept.get(KEY).expect("group"), |f| f.level == Level::Fatal);
            assert_eq!(split.to_vec(), vec![(11, 1)], "one fatal occurrence in hour 11");
        }
        for key in [KEY, OTHER] {
            let (Some(a), Some(b)) = (kept.get(key), dropped.get(key)) else {
                assert!(kept.get(key).is_none() && dropped.get(key).is_none(), "{key:?} in one only");
                continue;
            };
            assert_eq!(a.row, b.row, "{key:?} epoch {epoch}");
            assert_eq!(a.hourly, b.hourly, "{key:?} epoch {epoch}");
            assert_eq!(a.environments.to_vec(), b.environments.to_vec(), "{key:?} epoch {epoch}");
            assert_eq!(a.releases.to_vec(), b.releases.to_vec(), "{key:?} epoch {epoch}");
            assert_eq!(kept.environment_hours(key), dropped.environment_hours(key), "{key:?} epoch {epoch}");
            compared += 1;
        }
    }
    assert!(compared >= 5, "{compared} comparisons");
    let view = kept.get(KEY).expect("group");
    assert!(view.hourly.iter().all(|&(hour, _)| hour > 12), "the cut: {:?}", view.hourly);
    assert!(!kept.details_of(KEY, view).is_empty());
    let memory = |views: &IssueViews, part: &str| views.memory_parts().into_iter().find(|p| p.0 == part).map(|p| p.1);
    for part in ["occurrence_details", "facets"] {
        assert!(memory(&kept, part) > Some(0), "{part}");
        assert_eq!(memory(&dropped, part), Some(0), "{part}");
    }
}
