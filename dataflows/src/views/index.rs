//! Sort indexes of the issues list: groups ordered by an upper bound of each sort's value,
//! then by creation order, so that a list request walks the groups from the greatest bound
//! and stops once no unvisited group can still enter its page (src/list_index.rs), instead of
//! scanning every group.
//!
//! Every key is computed from the row alone and bounds the windowed value from above:
//! a window's last seen is at most the row's `last_seen`, its count at most `times_seen`, its
//! distinct users at most `user_count` and at most its count (one user per occurrence), and
//! the trends score grows with both. `first_seen` is the `new` sort's value itself. The time
//! key of `date` is `max(last_seen, inbox date)`, which bounds the `inbox` sort's value too
//! (a manual inbox entry can be dated after `last_seen`).
//!
//! Within a bound, entries follow the group's `created_seq`, the results' tie order, so a
//! walk can stop inside a large tie rather than read all of it. The key holds a 32-bit
//! monotone compression of `created_seq` ([`created_key`]: exact below 2²⁶, then the top 26
//! bits), and the walk stops on `(bound, created key) < (k-th value, created key of the
//! k-th)`: a monotone key only makes groups with equal keys wait for each other (at most
//! 2^(bits - 26) consecutive creations). Each entry ends with the group's dense index, to find
//! it again.
//!
//! Each index is split by status: the default query (`is:unresolved`) walks the unresolved
//! groups only and never meets the resolved and ignored ones. Keys are packed `u32` arrays
//! (16 bytes with a millisecond time, 12 with a `u32` value) in fixed-size sorted blocks
//! (`blocks.rs`) rather than `BTreeSet` leaves, which stay half full when keys arrive in order.

use super::blocks::Blocks;
use crate::model::{GroupStatus, Micros};
use crate::state::GroupRow;

/// Which index a walk reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortIndex {
    /// `max(last_seen, inbox date)` in milliseconds.
    LastSeen,
    /// `first_seen` in milliseconds.
    FirstSeen,
    /// `times_seen`, saturated at `u32::MAX`.
    Count,
    /// `min(user_count, times_seen)`, saturated at `u32::MAX`: its own index, so that
    /// `sort=user` meets groups without users at their value, 0, and stops in that tie
    /// (under a shared bound of both counts it read every one of them).
    Users,
    /// The legacy trends score of the lifetime values, in seconds.
    Trends,
}

/// The legacy priority score Occurrent serves as `sort=trends`: `ln(times_seen) · 600 +
/// last_seen` in seconds (issue-platform.md §7.3). Nondecreasing in both arguments.
pub fn trends_score(count: u64, last_seen: Micros) -> i64 {
    ((count.max(1) as f64).ln() * 600.0) as i64 + last_seen.div_euclid(1_000_000)
}

/// Milliseconds as an order-preserving unsigned key.
fn millis_key(micros: Micros) -> u64 {
    (micros.div_euclid(1000) as u64) ^ (1 << 63)
}

/// The bound in the sort's milliseconds, which truncate toward zero (`micros / 1000`): one
/// more than the key below the epoch, where the key is floored.
fn millis_bound(key: u64) -> i64 {
    let millis = (key ^ (1 << 63)) as i64;
    if millis < 0 {
        millis + 1
    } else {
        millis
    }
}

/// Bits of `created_seq` kept exactly.
const CREATED_BITS: u32 = 26;

/// A nondecreasing 32-bit key of `created_seq`: itself below 2²⁶; above, a 6-bit exponent
/// (bits dropped, 1..=38) and the top 26 bits. Equal keys only for sequences within
/// 2^exponent of each other.
pub fn created_key(created: u64) -> u32 {
    if created < 1 << CREATED_BITS {
        return created as u32;
    }
    let dropped = 64 - created.leading_zeros() - CREATED_BITS;
    (dropped << CREATED_BITS) | (created >> dropped) as u32
}

/// A time index's entry: the millisecond key's high and low halves, the created key, the
/// group index. Compared as two `u64`s: the derived order of a `u32` array compares element
/// by element through a slice loop, and the indexes' searches were ~3 % of a backfill.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct TimeEntry([u32; 4]);

impl Ord for TimeEntry {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (a, b) = (&self.0, &other.0);
        (join(a[0], a[1]), join(a[2], a[3])).cmp(&(join(b[0], b[1]), join(b[2], b[3])))
    }
}

impl PartialOrd for TimeEntry {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A value index's entry: the value, the created key, the group index (ordered like
/// [`TimeEntry`], as a `u64` and a `u32`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ValueEntry([u32; 3]);

impl Ord for ValueEntry {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (a, b) = (&self.0, &other.0);
        (join(a[0], a[1]), a[2]).cmp(&(join(b[0], b[1]), b[2]))
    }
}

impl PartialOrd for ValueEntry {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

fn time_entry(micros: Micros, created: u64, index: u32) -> TimeEntry {
    let key = millis_key(micros);
    TimeEntry([(key >> 32) as u32, key as u32, created_key(created), index])
}

fn value_entry(value: u32, created: u64, index: u32) -> ValueEntry {
    ValueEntry([value, created_key(created), index])
}

fn join(high: u32, low: u32) -> u64 {
    (u64::from(high) << 32) | u64::from(low)
}

/// A saturated `u32` value: `u32::MAX` bounds nothing.
fn bound_of_u32(value: u32) -> i64 {
    if value == u32::MAX {
        i64::MAX
    } else {
        i64::from(value)
    }
}

/// The `date` key: also an upper bound of the inbox date ([`crate::state::inbox_entry`];
/// `first_seen`, at most `last_seen`, outside the inbox).
fn last_seen_key(row: &GroupRow) -> Micros {
    crate::state::inbox_entry(row).map_or(row.last_seen, |entry| entry.date.max(row.last_seen))
}

fn count_key(row: &GroupRow) -> u32 {
    row.times_seen.min(u64::from(u32::MAX)) as u32
}

fn users_key(row: &GroupRow) -> u32 {
    row.user_count.min(row.times_seen).min(u64::from(u32::MAX)) as u32
}

fn trends_key(row: &GroupRow) -> u32 {
    trends_score(row.times_seen, row.last_seen).clamp(0, i64::from(u32::MAX)) as u32
}

/// One index, split by status (0: unresolved, 1: any other status).
#[derive(Debug, Default)]
struct Split<K> {
    parts: [Blocks<K>; 2],
}

fn part(row: &GroupRow) -> usize {
    usize::from(row.status != GroupStatus::Unresolved)
}

impl<K: Ord + Copy> Split<K> {
    fn update(&mut self, old: Option<(usize, K)>, new: Option<(usize, K)>) {
        if old == new {
            return;
        }
        if let (Some((p, old)), Some((q, new))) = (old, new) {
            if p == q {
                self.parts[p].replace(&old, new);
                return;
            }
        }
        if let Some((p, key)) = old {
            self.parts[p].remove(&key);
        }
        if let Some((p, key)) = new {
            self.parts[p].insert(key);
        }
    }

    /// The index of `entries` (status part and key each, in any order): sorted once.
    fn build(mut entries: Vec<(usize, K)>) -> Split<K> {
        entries.sort_unstable();
        let unresolved = entries.partition_point(|e| e.0 == 0);
        let keys: Vec<K> = entries.into_iter().map(|e| e.1).collect();
        Split {
            parts: [Blocks::from_sorted(&keys[..unresolved]), Blocks::from_sorted(&keys[unresolved..])],
        }
    }

    fn len(&self) -> usize {
        self.parts[0].len() + self.parts[1].len()
    }

    fn heap_bytes(&self) -> usize {
        self.parts[0].heap_bytes() + self.parts[1].heap_bytes()
    }
}

/// The sort indexes of every group with a row.
#[derive(Debug, Default)]
pub struct SortIndexes {
    last_seen: Split<TimeEntry>,
    first_seen: Split<TimeEntry>,
    count: Split<ValueEntry>,
    users: Split<ValueEntry>,
    /// Kept like the others (~13 bytes per group, one more replace per row change): built
    /// by the first `trends` request instead, it cost that request 100–200 ms at 1M groups
    /// under the read lock.
    trends: Split<ValueEntry>,
}

/// `(bound, created key, group index)`, greatest `(bound, created key)` first; the bound is
/// in the sort's value units (milliseconds for times, `i64::MAX` for a saturated key), the
/// created key is [`created_key`] of the group's `created_seq`.
pub type Walk<'a> = Box<dyn Iterator<Item = (i64, u32, u32)> + 'a>;

impl SortIndexes {
    /// Moves group `index` from its old row's keys to its new row's.
    pub fn update(&mut self, index: u32, old: Option<&GroupRow>, new: Option<&GroupRow>) {
        type Key<'r, K> = &'r dyn Fn(&GroupRow) -> K;
        let time = |row: Option<&GroupRow>, f: Key<Micros>| row.map(|r| (part(r), time_entry(f(r), r.created_seq, index)));
        self.last_seen.update(time(old, &last_seen_key), time(new, &last_seen_key));
        self.first_seen.update(time(old, &|r| r.first_seen), time(new, &|r| r.first_seen));
        let value = |row: Option<&GroupRow>, f: Key<u32>| row.map(|r| (part(r), value_entry(f(r), r.created_seq, index)));
        self.count.update(value(old, &count_key), value(new, &count_key));
        self.users.update(value(old, &users_key), value(new, &users_key));
        self.trends.update(value(old, &trends_key), value(new, &trends_key));
    }

    /// The indexes of `rows` (group index and row), built in one pass: each index's keys
    /// are collected and sorted once (O(n log n)) instead of being inserted one by one. The
    /// same keys as [`SortIndexes::update`] gives them, so every walk is the same.
    pub fn build<'r>(rows: impl Iterator<Item = (u32, &'r GroupRow)> + Clone) -> SortIndexes {
        type Key<'r, K> = &'r dyn Fn(&GroupRow) -> K;
        let time = |f: Key<Micros>| {
            Split::build(
                rows.clone()
                    .map(|(index, r)| (part(r), time_entry(f(r), r.created_seq, index)))
                    .collect(),
            )
        };
        let value = |f: Key<u32>| {
            Split::build(
                rows.clone()
                    .map(|(index, r)| (part(r), value_entry(f(r), r.created_seq, index)))
                    .collect(),
            )
        };
        SortIndexes {
            last_seen: time(&last_seen_key),
            first_seen: time(&|r| r.first_seen),
            count: value(&count_key),
            users: value(&users_key),
            trends: value(&trends_key),
        }
    }

    /// One index's walk over `rows` without keeping any index: its keys sorted once, for
    /// a walk before the indexes are built ([`SortIndexes::build`]).
    pub fn walk_of_rows<'r>(
        rows: impl Iterator<Item = (u32, &'r GroupRow)> + Clone,
        index: SortIndex,
        unresolved_only: bool,
        at_most: Micros,
    ) -> Vec<(i64, u32, u32)> {
        let rows = rows.filter(|(_, r)| !unresolved_only || part(r) == 0);
        let time =
            |f: fn(&GroupRow) -> Micros| Split::build(rows.clone().map(|(i, r)| (part(r), time_entry(f(r), r.created_seq, i))).collect());
        let value =
            |f: fn(&GroupRow) -> u32| Split::build(rows.clone().map(|(i, r)| (part(r), value_entry(f(r), r.created_seq, i))).collect());
        let mut one = SortIndexes::default();
        match index {
            SortIndex::LastSeen => one.last_seen = time(last_seen_key),
            SortIndex::FirstSeen => one.first_seen = time(|r| r.first_seen),
            SortIndex::Count => one.count = value(count_key),
            SortIndex::Users => one.users = value(users_key),
            SortIndex::Trends => one.trends = value(trends_key),
        }
        one.walk(index, unresolved_only, at_most).collect()
    }

    pub fn len(&self) -> usize {
        self.last_seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the five indexes hold (measurements).
    pub fn heap_bytes(&self) -> usize {
        self.last_seen.heap_bytes()
            + self.first_seen.heap_bytes()
            + self.count.heap_bytes()
            + self.users.heap_bytes()
            + self.trends.heap_bytes()
    }

    /// The groups by descending bound of `index` (then creation order), only the unresolved
    /// ones when `unresolved_only`, starting at bounds of at most `at_most` (time indexes
    /// only: microseconds; the others start at the top).
    pub fn walk(&self, index: SortIndex, unresolved_only: bool, at_most: Micros) -> Walk<'_> {
        let parts = if unresolved_only { 1 } else { 2 };
        match index {
            SortIndex::LastSeen | SortIndex::FirstSeen => {
                let split = if index == SortIndex::LastSeen {
                    &self.last_seen
                } else {
                    &self.first_seen
                };
                let end = time_entry(at_most, u64::MAX, u32::MAX);
                let walks = split.parts[..parts]
                    .iter()
                    .map(|set| set.rev_to(&end).map(|&TimeEntry(e)| (millis_bound(join(e[0], e[1])), e[2], e[3])));
                merge(walks.collect())
            }
            SortIndex::Count | SortIndex::Users | SortIndex::Trends => {
                let split = match index {
                    SortIndex::Count => &self.count,
                    SortIndex::Users => &self.users,
                    _ => &self.trends,
                };
                let walks = split.parts[..parts]
                    .iter()
                    .map(|set| set.rev().map(|&ValueEntry(e)| (bound_of_u32(e[0]), e[1], e[2])));
                merge(walks.collect())
            }
        }
    }
}

/// Merges descending walks into one descending walk.
fn merge<'a, I: Iterator<Item = (i64, u32, u32)> + 'a>(walks: Vec<I>) -> Walk<'a> {
    let mut walks: Vec<std::iter::Peekable<I>> = walks.into_iter().map(Iterator::peekable).collect();
    if walks.len() == 1 {
        return Box::new(walks.remove(0));
    }
    Box::new(std::iter::from_fn(move || {
        let mut best: Option<(usize, (i64, u32, u32))> = None;
        for (i, walk) in walks.iter_mut().enumerate() {
            if let Some(&item) = walk.peek() {
                if best.is_none_or(|(_, b)| item > b) {
                    best = Some((i, item));
                }
            }
        }
        let (i, _) = best?;
        walks[i].next()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: GroupStatus, times_seen: u64, first_seen: Micros, last_seen: Micros) -> GroupRow {
        GroupRow {
            status,
            times_seen,
            first_seen,
            last_seen,
            ..GroupRow::sample()
        }
    }

    #[test]
    fn walks_descend_across_statuses_and_follow_row_changes() {
        let mut indexes = SortIndexes::default();
        let a = row(GroupStatus::Unresolved, 5, -3_000, 9_000_000);
        let b = row(GroupStatus::Resolved, 7, 2_000, 4_000_000);
        let c = row(GroupStatus::Unresolved, 1, 1_000, 6_000_999);
        indexes.update(0, None, Some(&a));
        indexes.update(1, None, Some(&b));
        indexes.update(2, None, Some(&c));
        let walk = |i: &SortIndexes, index, unresolved, at_most| {
            i.walk(index, unresolved, at_most)
                .map(|(bound, _, index)| (bound, index))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            walk(&indexes, SortIndex::LastSeen, false, Micros::MAX),
            vec![(9_000, 0), (6_000, 2), (4_000, 1)]
        );
        assert_eq!(walk(&indexes, SortIndex::LastSeen, true, 8_000_000), vec![(6_000, 2)]);
        assert_eq!(
            walk(&indexes, SortIndex::FirstSeen, false, Micros::MAX),
            vec![(2, 1), (1, 2), (-2, 0)]
        );
        assert_eq!(walk(&indexes, SortIndex::Count, false, 0), vec![(7, 1), (5, 0), (1, 2)]);
        // Resolving `a` moves it out of the unresolved part; a new count moves it within.
        let resolved = row(GroupStatus::Resolved, 50, -3_000, 9_000_000);
        indexes.update(0, Some(&a), Some(&resolved));
        assert_eq!(walk(&indexes, SortIndex::Count, true, 0), vec![(1, 2)]);
        assert_eq!(walk(&indexes, SortIndex::Count, false, 0), vec![(50, 0), (7, 1), (1, 2)]);
        let trends: Vec<i64> = walk(&indexes, SortIndex::Trends, false, 0).iter().map(|t| t.0).collect();
        assert_eq!(
            trends,
            vec![trends_score(50, 9_000_000), trends_score(7, 4_000_000), trends_score(1, 6_000_999)]
        );
        indexes.update(0, Some(&resolved), None);
        assert_eq!(indexes.len(), 2);
        assert_eq!(walk(&indexes, SortIndex::Count, false, 0), vec![(7, 1), (1, 2)]);
        // The trends index follows the rows.
        let trends: Vec<u32> = walk(&indexes, SortIndex::Trends, false, 0).iter().map(|t| t.1).collect();
        assert_eq!(trends, vec![1, 2]);
    }
}

#[cfg(test)]
mod tie_tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::Substatus;
    use crate::model::{InboxChange, Triage};

    fn row(times_seen: u64, last_seen: Micros, created_seq: u64) -> GroupRow {
        GroupRow {
            substatus: Some(Substatus::Ongoing),
            last_seen,
            times_seen,
            created_seq,
            ..GroupRow::sample()
        }
    }

    #[test]
    fn ties_follow_creation_order_not_the_group_index() {
        let mut indexes = SortIndexes::default();
        // Group indexes ascending, creation order not: the walk follows creation.
        for (index, created) in [(0u32, 30u64), (1, 10), (2, 20), (3, 1 << 40)] {
            indexes.update(index, None, Some(&row(1, 5_000, created)));
        }
        indexes.update(4, None, Some(&row(2, 4_000, 5)));
        let order: Vec<(i64, u32, u32)> = indexes.walk(SortIndex::Count, true, 0).collect();
        assert_eq!(
            order,
            vec![(2, 5, 4), (1, created_key(1 << 40), 3), (1, 30, 0), (1, 20, 2), (1, 10, 1)]
        );
        let by_time: Vec<u32> = indexes.walk(SortIndex::LastSeen, true, Micros::MAX).map(|e| e.2).collect();
        assert_eq!(by_time, vec![3, 0, 2, 1, 4]);
    }

    #[test]
    fn groups_without_users_tie_at_zero_in_the_users_index() {
        let mut indexes = SortIndexes::default();
        // Busy groups without users, and a quiet one with two: by users it comes first.
        for (index, (times_seen, user_count, created)) in [(900u64, 0u64, 1u64), (50, 0, 2), (3, 2, 3), (1, 5, 4)].into_iter().enumerate() {
            let r = GroupRow {
                user_count,
                ..row(times_seen, 5_000, created)
            };
            indexes.update(index as u32, None, Some(&r));
        }
        let by_users: Vec<(i64, u32)> = indexes.walk(SortIndex::Users, true, 0).map(|e| (e.0, e.2)).collect();
        // Users are bounded by occurrences too (one user per occurrence): the last group's
        // key is 1, not 5.
        assert_eq!(by_users, vec![(2, 2), (1, 3), (0, 1), (0, 0)]);
        let by_count: Vec<(i64, u32)> = indexes.walk(SortIndex::Count, true, 0).map(|e| (e.0, e.2)).collect();
        assert_eq!(by_count, vec![(900, 0), (50, 1), (3, 2), (1, 3)]);
    }

    #[test]
    fn a_manual_inbox_entry_after_last_seen_raises_the_time_key() {
        let mut indexes = SortIndexes::default();
        let plain = row(1, 5_000_000, 1);
        let mut added = row(1, 2_000_000, 2);
        added.triage = Some(Arc::new(Triage {
            inbox: Some(InboxChange::Added(9_000_000)),
            ..Triage::default()
        }));
        indexes.update(0, None, Some(&plain));
        indexes.update(1, None, Some(&added));
        let order: Vec<(i64, u32)> = indexes.walk(SortIndex::LastSeen, true, Micros::MAX).map(|e| (e.0, e.2)).collect();
        assert_eq!(order, vec![(9_000, 1), (5_000, 0)]);
    }
}

#[cfg(test)]
mod created_key_tests {
    use super::created_key;

    #[test]
    fn the_created_key_is_monotone_and_exact_below_two_to_the_26() {
        assert_eq!(created_key(0), 0);
        assert_eq!(created_key((1 << 26) - 1), (1 << 26) - 1);
        let mut samples: Vec<u64> = vec![0, 1, u64::MAX, u64::MAX - 1, 1 << 63];
        for shift in 0..64 {
            for delta in [0u64, 1, 2, 3, 977] {
                samples.push((1u64 << shift).wrapping_add(delta));
                samples.push((1u64 << shift).wrapping_sub(delta));
            }
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            samples.push(x >> (x % 64));
        }
        samples.sort_unstable();
        for pair in samples.windows(2) {
            assert!(created_key(pair[0]) <= created_key(pair[1]), "{pair:?}");
            // Sequences far apart never share a key: at most 2^38 per key at the top.
            if pair[1] - pair[0] >= 1 << 38 {
                assert!(created_key(pair[0]) < created_key(pair[1]), "{pair:?}");
            }
        }
        // Around 2^33 (a day at 100K records/s), a key spans 256 consecutive sequences.
        assert_eq!(created_key((1 << 33) + 255), created_key(1 << 33));
        assert!(created_key((1 << 33) + 256) > created_key(1 << 33));
    }
}
