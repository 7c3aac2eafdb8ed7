use super::*;
use crate::views::SortIndex;

/// The details sink's apply as it was before batches: one update at a time.
fn details_one_at_a_time(views: &mut IssueViews, updates: Vec<(details::Detail, u64, isize)>, hours: u32) {
    let newest = updates.iter().filter(|u| u.2 > 0).map(|u| u.0 .1).max();
    let cut = views.retain_details(newest, hours);
    let mut last: Option<(GroupKey, u32)> = None;
    for ((key, hour, second, facet, user), _, diff) in updates {
        if hour < cut {
            continue;
        }
        if diff > 0 {
            views.details_floor = views.details_floor.min(hour);
        }
        let index = views.run_index(&mut last, key);
        views.details.add(index, details::entry(hour, second, facet, user), diff);
    }
}

/// The group-row sink's apply as it was before batches.
fn groups_one_at_a_time(views: &mut IssueViews, mut updates: Vec<((GroupKey, Arc<GroupRow>), u64, isize)>) {
    if !updates.is_sorted_by_key(|(_, time, diff)| (*time, *diff)) {
        updates.sort_by_key(|(_, time, diff)| (*time, *diff));
    }
    let mut retracted = std::mem::take(&mut views.retracted_rows);
    for ((key, row), _, diff) in updates {
        let index = views.index_of(key);
        if let Some(log) = &mut views.change_log {
            log.entry(key).or_insert_with(|| views.groups[index as usize].row.clone());
        }
        if diff > 0 {
            views.latest_event = views.latest_event.max(row.last_seen);
        }
        let view = &mut views.groups[index as usize];
        if diff < 0 {
            if let Some(current) = view.row.take_if(|current| Arc::ptr_eq(current, &row) || **current == *row) {
                retracted.insert(index, current);
            }
        } else if views.indexes_deferred {
            view.row = Some(row);
        } else {
            let old = retracted.remove(&index).or_else(|| view.row.take());
            views.sort_indexes.update(index, old.as_deref(), Some(&row));
            views.texts.update(index, old.as_deref(), Some(&row));
            view.row = Some(row);
        }
    }
    if views.indexes_deferred {
        retracted.clear();
    }
    for (index, old) in retracted.drain() {
        views.sort_indexes.update(index, Some(&old), None);
        views.texts.update(index, Some(&old), None);
    }
    views.retracted_rows = retracted;
}

/// The checkpointed bytes, the rows' addresses, the sort indexes' walks, the rest.
type State = (Vec<u8>, Vec<Option<usize>>, Vec<(i64, u32, GroupKey)>, String);

/// Everything either apply may change, as comparable values: the checkpointed views
/// (which hold the details' entries and tables), the rows (as pointers: both views get the
/// same `Arc`s), and what is not checkpointed.
fn state(views: &IssueViews) -> State {
    let bytes = postcard::to_allocvec(views).expect("serializable");
    let rows = views
        .groups
        .iter()
        .map(|v| v.row.as_ref().map(|r| Arc::as_ptr(r) as usize))
        .collect();
    let walked = if views.indexes_deferred {
        Vec::new()
    } else {
        [SortIndex::LastSeen, SortIndex::FirstSeen, SortIndex::Count]
            .into_iter()
            .flat_map(|index| {
                views
                    .walk(index, false, i64::MAX)
                    .map(|(bound, created, (key, _, _))| (bound, created, key))
            })
            .collect()
    };
    let others = format!(
        "{} {} {} {:?}",
        views.latest_event,
        views.details_floor,
        views.retracted_rows.len(),
        views.change_log.as_ref().map(|log| {
            let mut log: Vec<_> = log.iter().map(|(k, r)| (*k, r.as_ref().map(|r| Arc::as_ptr(r) as usize))).collect();
            log.sort_unstable();
            log
        })
    );
    (bytes, rows, walked, others)
}

fn key(next: &mut impl FnMut(u64) -> u64) -> GroupKey {
    let project = next(3);
    // Mostly dense short ids; now and then one far past its project's table.
    let short_id = if next(50) == 0 {
        1 << 20 | next(4) as u32
    } else {
        next(400) as u32 + 1
    };
    GroupKey { project, short_id }
}

/// Batches of every size around [`BATCH`], with late, cut, retracted and merged occurrences
/// and users repeated or not: the batched apply leaves the views the one-at-a-time apply
/// leaves, after every batch.
#[test]
fn batched_details_equal_one_at_a_time() {
    let mut next = crate::test_rng::below(0x5DEE_CE66_D1CE_4E5B);
    for round in 0..12 {
        let (mut batched, mut single) = (IssueViews::default(), IssueViews::default());
        let hours = 48;
        let mut hour = 1000u32;
        for epoch in 0..60u64 {
            if next(8) == 0 {
                let (child, parent) = (key(&mut next), key(&mut next));
                batched.apply_merges(vec![((child, parent), epoch, 1)]);
                single.apply_merges(vec![((child, parent), epoch, 1)]);
            }
            hour += next(3) as u32;
            let size = [1, 2, BATCH - 1, BATCH, BATCH + 1, 3 * BATCH + 5, 300][next(7) as usize];
            let updates: Vec<(details::Detail, u64, isize)> = (0..size)
                .map(|_| {
                    let at = match next(10) {
                        0 => hour.saturating_sub(next(100) as u32),
                        1 => hour.saturating_sub(hours + 10),
                        _ => hour,
                    };
                    let user = if round % 2 == 0 { next(4) } else { next(5_000) };
                    let facet = next(6) << 33 | next(3);
                    let diff = if next(20) == 0 { -1 } else { 1 + next(2) as isize };
                    ((key(&mut next), at, next(3600) as u32, facet, user), epoch, diff)
                })
                .collect();
            batched.apply_details_within(updates.clone(), hours);
            details_one_at_a_time(&mut single, updates, hours);
            assert!(state(&batched) == state(&single), "round {round} epoch {epoch}");
        }
    }
}

/// Rows replaced, retracted (the same `Arc` or an equal row) and retracted when not
/// current, with the sort indexes maintained or deferred and the change log on or off.
#[test]
fn batched_group_rows_equal_one_at_a_time() {
    let mut next = crate::test_rng::below(0x2545_F491_4F6C_DD1D);
    for round in 0..8 {
        let (mut batched, mut single) = (IssueViews::default(), IssueViews::default());
        if round % 2 == 1 {
            batched.defer_indexes();
            single.defer_indexes();
        }
        if round % 4 >= 2 {
            batched.change_log = Some(Default::default());
            single.change_log = Some(Default::default());
        }
        let mut current: std::collections::HashMap<GroupKey, Arc<GroupRow>> = Default::default();
        for epoch in 0..40u64 {
            let size = [1, BATCH - 1, BATCH, BATCH + 1, 2 * BATCH + 3, 250][next(6) as usize];
            let mut updates = Vec::new();
            for _ in 0..size {
                let key = key(&mut next);
                let new = |next: &mut dyn FnMut(u64) -> u64| {
                    Arc::new(GroupRow {
                        times_seen: next(1000),
                        first_seen: next(1 << 40) as i64,
                        last_seen: next(1 << 40) as i64,
                        texts: crate::state::RowTexts::new(&format!("t{}", next(9)), "s", "c"),
                        ..GroupRow::sample()
                    })
                };
                match (next(10), current.get(&key)) {
                    (0, Some(row)) => updates.push(((key, row.clone()), epoch, -1)),
                    (1, Some(row)) => updates.push(((key, Arc::new(GroupRow::clone(row))), epoch, -1)),
                    (2, _) => updates.push(((key, new(&mut next)), epoch, -1)),
                    _ => {
                        let row = new(&mut next);
                        current.insert(key, row.clone());
                        updates.push(((key, row), epoch, 1));
                    }
                }
            }
            batched.apply_groups(updates.clone());
            // As a sink does once it lets go of the lock.
            let mut released = Vec::new();
            batched.released_rows(&mut released);
            assert!(released
                .iter()
                .all(|row| !batched.groups.iter().any(|v| v.row.as_ref().is_some_and(|r| Arc::ptr_eq(r, row)))));
            drop(released);
            groups_one_at_a_time(&mut single, updates);
            assert!(state(&batched) == state(&single), "round {round} epoch {epoch}");
        }
    }
}
