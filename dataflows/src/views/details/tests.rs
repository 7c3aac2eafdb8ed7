use std::collections::BTreeMap;

use super::*;

/// The trivially correct model: per group, occurrences by (hour, second, facet, user).
type Model = BTreeMap<u32, BTreeMap<(u32, u32, u64, u64), u64>>;

fn entries(details: &Details, group: u32, range: (u32, u32)) -> Vec<(u32, u32, u64, u64, u64)> {
    details
        .of(group)
        .hours(range)
        .map(|e| (hour(&e), second(&e), facet(&e), user(&e), u64::from(count(&e))))
        .collect()
}

/// The structure's entries of `range`, in time order and with keys summed, against the
/// model's.
fn check(details: &Details, model: &Model, group: u32, range: (u32, u32), case: &str) {
    let got = entries(details, group, range);
    for pair in got.windows(2) {
        assert!(
            (pair[0].0, pair[0].1) <= (pair[1].0, pair[1].1),
            "{case}: out of time order {pair:?}"
        );
    }
    // From the back too (the windows' last second reads that way).
    let mut back: Vec<_> = details.of(group).hours(range).rev().map(|e| epoch_second(&e)).collect();
    back.reverse();
    assert_eq!(
        back,
        got.iter().map(|e| i64::from(e.0) * 3600 + i64::from(e.1)).collect::<Vec<_>>(),
        "{case}"
    );
    // Run by run: the same keys (each entry once), in any order.
    let mut ordered: Vec<(i64, u64, u64)> = got.iter().map(|e| (i64::from(e.0) * 3600 + i64::from(e.1), e.2, e.3)).collect();
    let mut unordered = Vec::new();
    let group_details = details.of(group);
    group_details.for_each_unordered(range, |second, facet, user| {
        unordered.push((second, group_details.facet_id(facet), user));
        true
    });
    ordered.sort_unstable();
    unordered.sort_unstable();
    assert_eq!(unordered, ordered, "{case}: run by run");
    let mut summed: BTreeMap<(u32, u32, u64, u64), u64> = BTreeMap::new();
    for (h, s, f, u, n) in got {
        assert!(n > 0, "{case}: an empty entry");
        *summed.entry((h, s, f, u)).or_default() += n;
    }
    let want: BTreeMap<_, _> = model
        .get(&group)
        .into_iter()
        .flatten()
        .filter(|(k, _)| (range.0..=range.1).contains(&k.0))
        .map(|(k, n)| (*k, *n))
        .collect();
    assert_eq!(summed, want, "{case}: group {group} hours {range:?}");
}

#[test]
fn randomized_against_a_btreemap_with_late_inserts_retractions_cuts_and_merges() {
    let mut next = crate::test_rng::below(0x2545_f491_4f6c_dd1d);
    let mut side_runs_seen = 0;
    for round in 0..40 {
        let mut details = Details::default();
        let mut model = Model::new();
        let mut cut = 0u32;
        let mut newest = 100u32;
        // Few keys per round in some rounds (counts pile up on a key), many in others.
        let (seconds, facets, users) = if round % 3 == 0 { (3, 2, 2) } else { (3600, 40, 1_000) };
        for step in 0..3_000 {
            let group = next(4) as u32;
            let case = format!("round {round} step {step}");
            match next(100) {
                0 => {
                    // Retention: drop the hours before a later cut.
                    cut = (cut + next(5) as u32).min(newest);
                    details.retain_from(cut);
                    for keys in model.values_mut() {
                        keys.retain(|k, _| k.0 >= cut);
                    }
                }
                1 => {
                    let (child, parent) = (group, (group + 1 + next(3) as u32) % 4);
                    details.merge_into(child, parent);
                    let moved = model.remove(&child).unwrap_or_default();
                    let into = model.entry(parent).or_default();
                    for (k, n) in moved {
                        *into.entry(k).or_default() += n;
                    }
                }
                2..=11 => {
                    // Retract occurrences of a stored key (or of one never stored).
                    let stored: Vec<_> = model.get(&group).into_iter().flatten().map(|(k, _)| *k).collect();
                    let k = match stored.len() {
                        0 => (cut + 1, 1, 1, 1),
                        n => stored[next(n as u64) as usize],
                    };
                    let n = 1 + next(3);
                    details.add(group, entry(k.0, k.1, k.2, k.3), -(n as isize));
                    if let Some(keys) = model.get_mut(&group) {
                        if let Some(have) = keys.get_mut(&k) {
                            *have = have.saturating_sub(n);
                            if *have == 0 {
                                keys.remove(&k);
                            }
                        }
                    }
                }
                _ => {
                    // Mostly in order (the newest hours), often late, sometimes days late.
                    let hour = match next(4) {
                        0 | 1 => newest,
                        2 => newest.saturating_sub(next(3) as u32),
                        _ => cut + next(u64::from(newest - cut + 1)) as u32,
                    }
                    .max(cut);
                    if next(10) == 0 {
                        newest += 1;
                    }
                    let k = (hour, next(seconds) as u32, 1 + next(facets) * (1 << 33), next(users));
                    let n = 1 + next(2);
                    details.add(group, entry(k.0, k.1, k.2, k.3), n as isize);
                    *model.entry(group).or_default().entry(k).or_default() += n;
                }
            }
            if step % 97 == 0 || round < 2 {
                side_runs_seen += details.listed().filter(|(_, runs)| !runs.side.is_empty()).count();
                for g in 0..4 {
                    check(&details, &model, g, (0, u32::MAX), &case);
                    let from = cut + next(u64::from(newest - cut + 1)) as u32;
                    check(&details, &model, g, (from, from + next(4) as u32), &case);
                }
            }
        }
        // The run sizes' invariant keeps the runs per group logarithmic.
        for (_, runs) in details.listed() {
            assert!(
                runs.side.len() <= 2 + runs.len().ilog2() as usize,
                "round {round}: {} runs",
                runs.side.len()
            );
        }
    }
    // The late inserts reached side runs (not only the main run's tail).
    assert!(side_runs_seen > 100, "{side_runs_seen}");
}

#[test]
fn one_entry_inline_several_in_order_and_counts_summed() {
    let mut details = Details::default();
    details.add(3, entry(10, 5, 7, 1), 1);
    assert_eq!(details.of(3).len(), 1);
    assert!(details.of(2).is_empty());
    details.add(3, entry(9, 3599, 7, 0), 1);
    details.add(3, entry(10, 5, 7, 1), 2);
    details.add(3, entry(10, 4, 1 << 40, 2), 1);
    let got: Vec<(u32, u32, u32, u64, u64)> = details
        .of(3)
        .iter()
        .map(|e| (hour(&e), second(&e), count(&e), facet(&e), user(&e)))
        .collect();
    assert_eq!(got, vec![(9, 3599, 1, 7, 0), (10, 4, 1, 1 << 40, 2), (10, 5, 3, 7, 1)]);
    assert_eq!(details.of(3).hour(10).count(), 2);
    details.retain_from(10);
    assert_eq!(details.of(3).len(), 2);
    details.add(3, entry(10, 4, 1 << 40, 2), -1);
    assert_eq!(details.of(3).len(), 1, "back inline");
    assert_eq!(details.listed().count(), 0);
    assert_eq!(details.free.len(), details.many.len(), "its slot freed");
    details.merge_into(3, 5);
    assert!(details.of(3).is_empty());
    assert_eq!(details.of(5).len(), 1);
}

/// A retention cut that leaves a group one entry moves it back inline; the bytes counted
/// for the groups with runs stay the sum over those left (a cut forgets the sum, and the
/// move took the group's bytes off a sum recomputed without it: an underflow with one
/// such group, a wrong `/metrics` figure with more).
#[test]
fn a_cut_that_moves_a_group_back_inline_keeps_the_byte_count() {
    for others in [0u32, 3] {
        let mut details = Details::default();
        for group in 0..=others {
            for second in 0..40 {
                details.add(group, entry(10 + second % 2, second, 7, 1), 1);
            }
        }
        details.add(0, entry(20, 1, 7, 1), 1);
        details.retain_from(20);
        assert_eq!(details.of(0).len(), 1, "back inline");
        let counted = details.heap_bytes();
        details.many_bytes = None;
        assert_eq!(details.heap_bytes(), counted, "{others} other groups with runs");
    }
}

#[test]
fn counts_past_an_entry_continue_in_the_next() {
    let mut details = Details::default();
    details.add(0, entry(1, 1, 1, 1), MAX_COUNT as isize + 5);
    details.add(0, entry(1, 1, 1, 1), 3);
    // Late, onto the full key's entries.
    details.add(0, entry(2, 1, 1, 1), 1);
    details.add(0, entry(1, 1, 1, 1), 2);
    let total: u64 = details.of(0).hour(1).map(|e| u64::from(count(&e))).sum();
    assert_eq!(total, u64::from(MAX_COUNT) + 10);
}

#[test]
fn a_late_occurrence_moves_no_later_entry() {
    // Reverse time order: every insert is late; the main run is never rebuilt entry by
    // entry, and the side runs stay logarithmic.
    let mut details = Details::default();
    let n = 10_000u32;
    for i in (0..n).rev() {
        details.add(0, entry(1_000 + i / 3600, i % 3600, 9, u64::from(i)), 1);
    }
    let runs = details
        .listed()
        .find(|(index, _)| *index == 0)
        .map(|(_, runs)| runs)
        .expect("runs of group 0");
    assert!(runs.side.len() <= 1 + n.ilog2() as usize);
    let seconds: Vec<i64> = details.of(0).iter().map(|e| epoch_second(&e)).collect();
    let want: Vec<i64> = (0..i64::from(n)).map(|i| 1_000 * 3600 + i).collect();
    assert_eq!(seconds, want);
}

/// The galloping search for a range of hours finds what two binary searches find, for ranges
/// near either end, in the middle, outside the run and empty.
#[test]
fn the_hour_range_search_gallops_to_the_binary_searches_answer() {
    let mut next = crate::test_rng::below(0x2545_f491_4f6c_dd1d);
    for len in [0usize, 1, 2, 3, 5, 64, 65, 1000] {
        let mut hours: Vec<u32> = (0..len).map(|_| 100 + next(50) as u32).collect();
        hours.sort_unstable();
        let run: Vec<Packed> = hours.iter().map(|&h| [h, 0, 0, 0]).collect();
        for _ in 0..300 {
            let (a, b) = (95 + next(60) as u32, 95 + next(60) as u32);
            let (first, last) = (a.min(b), a.max(b));
            let from = run.partition_point(|e| e[0] < first);
            let to = from + run[from..].partition_point(|e| e[0] <= last);
            let got = super::read::within(&run, (first, last));
            assert_eq!(got, &run[from..to], "len {len} [{first}, {last}]");
            assert_eq!(got.as_ptr(), run[from..].as_ptr(), "len {len} [{first}, {last}]");
        }
    }
}

/// A checkpoint holds the runs by group (as before the slab); a restore gives them slots
/// again, and every group reads the same entries, freed slots included.
#[test]
fn a_checkpoint_of_the_slab_restores_every_groups_entries() {
    let mut details = Details::default();
    for group in 0..6u32 {
        for second in 0..(3 + group) {
            details.add(group, entry(10 + second % 2, second, 7 + u64::from(group % 2), 1), 1);
        }
    }
    // Group 2 back inline (its slot freed), group 4 merged into 5 (its slot freed too).
    for second in 0..4 {
        details.add(2, entry(10 + second % 2, second, 7, 1), -1);
    }
    details.merge_into(4, 5);
    assert!(!details.free.is_empty());
    let bytes = postcard::to_stdvec(&details).expect("encode");
    let restored: Details = postcard::from_bytes(&bytes).expect("decode");
    let read = |d: &Details, g: u32| -> Vec<(u32, u32, u32, u64, u64)> {
        d.of(g)
            .iter()
            .map(|e| (hour(&e), second(&e), count(&e), facet(&e), user(&e)))
            .collect()
    };
    for group in 0..7u32 {
        assert_eq!(read(&restored, group), read(&details, group), "group {group}");
    }
    assert_eq!(read(&details, 2).len(), 1);
    assert!(read(&details, 4).is_empty());
    assert_eq!(restored.listed().count(), details.listed().count());
    assert!(restored.free.is_empty(), "slots assigned densely");
    // And it takes more occurrences where it left off.
    let mut restored = restored;
    restored.add(5, entry(12, 0, 7, 1), 1);
    details.add(5, entry(12, 0, 7, 1), 1);
    assert_eq!(read(&restored, 5), read(&details, 5));
    let counted = restored.heap_bytes();
    restored.many_bytes = None;
    assert_eq!(restored.heap_bytes(), counted);
}

/// Entries carry an index into the users' table; a retention cut drops the users no entry
/// names any more and keeps the others' order, so the runs stay sorted and later
/// occurrences (of kept, dropped and new users) find and extend the right entries.
#[test]
fn a_cut_compacts_the_users_table_in_order() {
    let mut details = Details::default();
    // Users 1000..1040 in hour 10, users 2000..2010 and 1030..1040 again in hour 11, in
    // an order that is not the users' (the table is in first-seen order).
    for (i, user) in (1000..1040u64).rev().enumerate() {
        details.add(0, entry(10, i as u32, 7, user), 1);
    }
    details.add(1, entry(10, 0, 7, 0), 1);
    for user in (2000..2010u64).chain(1030..1040) {
        details.add(0, entry(11, 5, 7, user), 1);
        details.add(2, entry(11, 5, 7, user), 1);
    }
    assert_eq!(details.users.len(), 1 + 50);
    details.retain_from(11);
    // Kept: 1030..1040 and 2000..2010 (and index 0, no user).
    assert_eq!(details.users.len(), 1 + 20);
    let mut kept = details.users[1..].to_vec();
    kept.sort_unstable();
    assert_eq!(kept, (1030..1040).chain(2000..2010).collect::<Vec<u64>>());
    assert!(details.of(1).is_empty());
    for user in [1035u64, 2003, 1000, 5000] {
        details.add(0, entry(11, 5, 7, user), 2);
    }
    let users = |g: u32| -> Vec<(u64, u32)> {
        let mut got: Vec<(u64, u32)> = details.of(g).iter().map(|e| (user(&e), count(&e))).collect();
        got.sort_unstable();
        got
    };
    let mut want: Vec<(u64, u32)> = (1030..1040).chain(2000..2010).map(|u| (u, 1)).collect();
    want.extend([(1000, 2), (5000, 2)]);
    for (u, n) in &mut want {
        if *u == 1035 || *u == 2003 {
            *n = 3;
        }
    }
    want.sort_unstable();
    assert_eq!(users(0), want, "one entry per key: kept users' entries were found again");
    assert_eq!(details.of(0).len(), 22);
    assert_eq!(users(2).len(), 20);
    // Each run is sorted by its stored key after the remap.
    for (_, runs) in details.listed() {
        for run in std::iter::once(&runs.main).chain(&runs.side) {
            assert!(run.windows(2).all(|w| key(&w[0]) < key(&w[1])));
        }
    }
    // No user left: the table keeps only "no user".
    details.add(3, entry(20, 0, 7, 0), 1);
    details.retain_from(20);
    assert_eq!(details.users, vec![0]);
}
