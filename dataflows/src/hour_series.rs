//! Occurrence counts per (key, hour) of one group, kept as `(key, hour, count)` entries
//! sorted by hour, then key: the per-facet hours of a split group (`facets::FacetHours`)
//! and its per-environment hours (`views::IssueViews::environment_hours`).
//!
//! Hour-major, not key-major: occurrences arrive in about time order, so an update almost
//! always lands among the newest hour's few entries, found by galloping back from the end,
//! and a new hour is appended. Sorted by key first, each update was a binary search across
//! the whole series and a new hour an insert before every later key's entries: on the
//! 10M-line, 1M-fingerprint input those searches and moves were most of the per-facet and
//! per-environment hours' cost (cache misses across series of up to 10K entries), all of it
//! under the views' write lock (BENCHMARKS.md, session 17). Reads by key scan
//! the hours they need instead of a key's run; a series holds at most a few entries per
//! hour (the group's keys active in it).

/// What an update did to its entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A new entry (a key's first occurrences in that hour).
    Inserted,
    /// An existing entry's count changed and stays positive.
    Counted,
    /// The entry's count reached zero and the entry went.
    Removed,
    /// Nothing (a retraction of an absent entry).
    Nothing,
}

/// Where `(key, hour)` is or would go: the first entry not before it. Galloped from the end,
/// where updates land.
pub fn position<K: Ord + Copy>(series: &[(K, u32, u32)], key: K, hour: u32) -> usize {
    let below = |e: &(K, u32, u32)| (e.1, e.0) < (hour, key);
    // Every entry at or after `high` is not below.
    let mut high = series.len();
    let mut step = 1;
    while high > 0 {
        let probe = high.saturating_sub(step);
        if below(&series[probe]) {
            return probe + 1 + series[probe + 1..high].partition_point(below);
        }
        high = probe;
        step *= 2;
    }
    0
}

/// Adds `diff` occurrences of `key` in `hour` (a count stops at 0, and its entry goes).
pub fn add<K: Ord + Copy>(series: &mut Vec<(K, u32, u32)>, key: K, hour: u32, diff: isize) -> Change {
    let at = position(series, key, hour);
    match series.get_mut(at) {
        Some((k, h, count)) if (*k, *h) == (key, hour) => {
            *count = (i64::from(*count) + diff as i64).max(0) as u32;
            if *count == 0 {
                series.remove(at);
                Change::Removed
            } else {
                Change::Counted
            }
        }
        _ if diff > 0 => {
            crate::views::details::reserve(series);
            series.insert(at, (key, hour, diff as u32));
            Change::Inserted
        }
        _ => Change::Nothing,
    }
}

/// The index of the first entry of `hour` or later.
pub fn from_hour<K>(series: &[(K, u32, u32)], hour: u32) -> usize {
    series.partition_point(|e| e.1 < hour)
}

/// The entries of hours in `[lo, hi]`.
pub fn in_hours<K>(series: &[(K, u32, u32)], (lo, hi): (u32, u32)) -> &[(K, u32, u32)] {
    let from = from_hour(series, lo);
    let to = from + series[from..].partition_point(|e| e.1 <= hi);
    &series[from..to]
}

/// Drops every entry before `cut`; returns the oldest hour left (`u32::MAX`: none).
pub fn retain_from<K>(series: &mut Vec<(K, u32, u32)>, cut: u32) -> u32 {
    let before = from_hour(series, cut);
    series.drain(..before);
    series.first().map_or(u32::MAX, |e| e.1)
}

/// The occurrences per hour of the keys `accept`ed, ascending (an hour with any accepted
/// entry is listed; counts add as `u32`, wrapping like the hourly counts), and whether
/// every entry was accepted. `accept` is asked once per run of one key (callers that ask
/// again for a key seen before may remember verdicts).
pub fn hours_of<K: PartialEq + Copy>(series: &[(K, u32, u32)], mut accept: impl FnMut(K) -> bool) -> (Vec<(u32, u32)>, bool) {
    let mut hours: Vec<(u32, u32)> = Vec::new();
    let mut all = true;
    let mut last: Option<(K, bool)> = None;
    for &(key, hour, n) in series {
        let accepted = match last {
            Some((k, verdict)) if k == key => verdict,
            _ => {
                let verdict = accept(key);
                last = Some((key, verdict));
                verdict
            }
        };
        if !accepted {
            all = false;
            continue;
        }
        match hours.last_mut() {
            Some(last) if last.0 == hour => last.1 = last.1.wrapping_add(n),
            _ => hours.push((hour, n)),
        }
    }
    (hours, all)
}

/// Sorts a series read from a checkpoint of an earlier build, which kept it by key, then
/// hour (already sorted: one linear check).
pub fn sort_hour_major<K: Ord + Copy>(series: &mut [(K, u32, u32)]) {
    if !series.is_sorted_by_key(|e| (e.1, e.0)) {
        series.sort_unstable_by_key(|e| (e.1, e.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The series as a map (its entries must be sorted, distinct and positive).
    fn as_map(series: &[(u8, u32, u32)]) -> BTreeMap<(u32, u8), u32> {
        assert!(
            series.windows(2).all(|w| (w[0].1, w[0].0) < (w[1].1, w[1].0)),
            "sorted and distinct: {series:?}"
        );
        assert!(series.iter().all(|e| e.2 > 0), "positive: {series:?}");
        series.iter().map(|&(k, h, n)| ((h, k), n)).collect()
    }

    #[test]
    fn updates_in_any_order_agree_with_a_map() {
        let mut next = crate::test_rng::below(0x9e37_79b9_7f4a_7c15);
        for case in 0..400 {
            let mut series: Vec<(u8, u32, u32)> = Vec::new();
            let mut model: BTreeMap<(u32, u8), u32> = BTreeMap::new();
            // Mostly recent hours (the usual order), some late ones and retractions.
            let span = 1 + next(40) as u32;
            for step in 0..next(200) {
                let key = next(6) as u8;
                let hour = if next(5) == 0 {
                    next(u64::from(span)) as u32
                } else {
                    span + step as u32 / 8
                };
                let diff = if next(5) == 0 {
                    -(1 + next(3) as isize)
                } else {
                    1 + next(3) as isize
                };
                let change = add(&mut series, key, hour, diff);
                let had = model.get(&(hour, key)).copied();
                let now = (i64::from(had.unwrap_or(0)) + diff as i64).max(0) as u32;
                let expected = match (had, now) {
                    (None, 0) => Change::Nothing,
                    (None, _) => Change::Inserted,
                    (Some(_), 0) => Change::Removed,
                    (Some(_), _) => Change::Counted,
                };
                assert_eq!(change, expected, "case {case} step {step}");
                if now == 0 {
                    model.remove(&(hour, key));
                } else {
                    model.insert((hour, key), now);
                }
                assert_eq!(as_map(&series), model, "case {case} step {step}");
            }
            let cut = next(u64::from(span) + 20) as u32;
            let oldest = retain_from(&mut series, cut);
            model.retain(|&(h, _), _| h >= cut);
            assert_eq!(as_map(&series), model, "case {case} cut {cut}");
            assert_eq!(oldest, model.keys().next().map_or(u32::MAX, |k| k.0));
        }
    }

    #[test]
    fn the_position_gallops_to_the_binary_searchs_answer() {
        let series: Vec<(u8, u32, u32)> = (0..300u32).flat_map(|h| (0..3u8).map(move |k| (k * 2, h, 1))).collect();
        for hour in 0..302 {
            for key in 0..7 {
                let expected = series.partition_point(|e| (e.1, e.0) < (hour, key));
                assert_eq!(position(&series, key, hour), expected, "hour {hour} key {key}");
            }
        }
        assert_eq!(position::<u8>(&[], 1, 1), 0);
    }

    #[test]
    fn hours_of_the_accepted_keys_are_summed_in_order() {
        let series = [(1u8, 5, 2), (2, 5, 3), (3, 5, 1), (2, 6, 4), (1, 9, 1), (3, 9, 7)];
        let (hours, all) = hours_of(&series, |k| k != 3);
        assert_eq!(hours, vec![(5, 5), (6, 4), (9, 1)]);
        assert!(!all);
        let (hours, all) = hours_of(&series, |_| true);
        assert_eq!(hours, vec![(5, 6), (6, 4), (9, 8)]);
        assert!(all);
        let (hours, all) = hours_of(&series, |_| false);
        assert!(hours.is_empty() && !all);
        assert_eq!(in_hours(&series, (6, 9)), &series[3..]);
        assert_eq!(in_hours(&series, (7, 8)), &[]);
    }

    #[test]
    fn a_key_major_series_from_an_old_checkpoint_is_sorted_hour_major() {
        let mut series = vec![(1u8, 5, 2), (1, 9, 1), (2, 5, 3), (2, 6, 4)];
        sort_hour_major(&mut series);
        assert_eq!(series, vec![(1, 5, 2), (2, 5, 3), (2, 6, 4), (1, 9, 1)]);
    }
}
