//! The creation quota (semantics.md §4.3 step 4): at most `limit` creations per sliding window,
//! counted in granularity buckets of event time.

use std::collections::{BTreeMap, VecDeque};

use crate::model::grouptype::CreationQuota;
use crate::model::time::{Micros, MICROS_PER_SECOND};

/// Windows of buckets kept at least behind the latest bucket with a creation: that bucket's
/// own window and one more, for occurrences that arrive late by up to a window (see
/// [`QuotaWindow`]), also under a retention shorter than two windows.
const KEPT_WINDOWS: i64 = 2;

/// Creations per bucket, from the horizon on. Event time is not monotonic, so a late
/// occurrence may ask about a window long past; keeping every bucket for that grows without
/// bound in a long-running stream. With `m` the latest bucket that counted a creation, `n`
/// buckets per window and `k = max(2n, the retention in buckets)` buckets kept, buckets before
/// the horizon `m − k + 1` are forgotten: a check at bucket `b` counts buckets
/// `max(b − n + 1, horizon) ..= b`, and a creation at a bucket before the horizon is not
/// counted. Checks at `b ≥ m − k + n` (up to the retention less one window older than `m`)
/// see exactly what an unbounded history would; older occurrences are older than the views
/// keep hours for. What is forgotten depends only on the creations so far and the retention,
/// not on when a checkpoint was taken.
///
/// Held as a deque of `(bucket, creations)` in bucket order, with the sum of a suffix of it
/// (`from ..`, the last window asked about): creations come mostly in event-time order, so a
/// check moves that suffix's start by a bucket or two and reads the sum, and a creation
/// appends at the back or adds to it; the horizon pops from the front. A late check subtracts
/// the buckets after its own (scanned from the back), a late creation inserts in the middle.
/// (A `BTreeMap` of buckets, summed over the window per check, cost ~650 instructions a
/// creation; the old one is the reference in the tests.) Serialized as that map was.
#[derive(Default)]
pub struct QuotaWindow {
    creations: VecDeque<(i64, u32)>,
    /// The first bucket of the summed suffix, `creations[from..]`.
    from: usize,
    /// Creations in `creations[from..]`.
    sum: u64,
}

impl QuotaWindow {
    /// Returns true and records the creation if the quota allows it. `retention_seconds`:
    /// how far behind the latest creation checks stay exact (the views' retention).
    pub fn try_create(&mut self, time: Micros, quota: &CreationQuota, retention_seconds: i64) -> bool {
        self.judge(time, quota, retention_seconds, true)
    }

    /// A creation at a time past the present: judged as any other, but not counted. Counted,
    /// its bucket would become the latest and move the horizon past every present creation,
    /// and the quota would never bind again.
    pub fn try_create_ahead(&mut self, time: Micros, quota: &CreationQuota, retention_seconds: i64) -> bool {
        self.judge(time, quota, retention_seconds, false)
    }

    fn judge(&mut self, time: Micros, quota: &CreationQuota, retention_seconds: i64, count: bool) -> bool {
        let granularity = quota.granularity_seconds.max(1);
        let bucket = time.div_euclid(granularity * MICROS_PER_SECOND);
        let buckets = quota.window_seconds / granularity;
        let kept = (KEPT_WINDOWS * buckets.max(1)).max(retention_seconds / granularity);
        let horizon = self.horizon(kept);
        let first = (bucket - buckets + 1).max(horizon);
        if first <= bucket && self.used(first, bucket) >= u64::from(quota.limit) {
            return false;
        }
        if count && bucket >= horizon {
            self.record(bucket);
            // The horizon moves only with a later latest bucket: prune then.
            let horizon = self.horizon(kept);
            while let Some(&(front, n)) = self.creations.front() {
                if front >= horizon {
                    break;
                }
                self.creations.pop_front();
                match self.from.checked_sub(1) {
                    Some(from) => self.from = from,
                    None => self.sum -= u64::from(n),
                }
            }
        }
        true
    }

    /// Creations in buckets `first ..= last`.
    fn used(&mut self, first: i64, last: i64) -> u64 {
        let creations = &self.creations;
        // Move the suffix's start to the first bucket ≥ `first`.
        while let Some(&(b, n)) = self.from.checked_sub(1).and_then(|i| creations.get(i)) {
            if b < first {
                break;
            }
            self.from -= 1;
            self.sum += u64::from(n);
        }
        while let Some(&(b, n)) = creations.get(self.from) {
            if b >= first {
                break;
            }
            self.from += 1;
            self.sum -= u64::from(n);
        }
        // Less the buckets after `last`: none for a check at or after the latest bucket (the
        // common case, decided without building the deque's range iterator).
        if creations.back().is_none_or(|&(b, _)| b <= last) {
            return self.sum;
        }
        let after: u64 = creations
            .range(self.from..)
            .rev()
            .take_while(|&&(b, _)| b > last)
            .map(|&(_, n)| u64::from(n))
            .sum();
        self.sum - after
    }

    fn record(&mut self, bucket: i64) {
        let len = self.creations.len();
        let at = match self.creations.back() {
            Some(&(last, _)) if last == bucket => len - 1,
            Some(&(last, _)) if last > bucket => self.creations.partition_point(|&(b, _)| b < bucket),
            _ => len,
        };
        match self.creations.get_mut(at) {
            Some((b, n)) if *b == bucket => *n += 1,
            // `insert` at the end costs twice `push_back`.
            None => self.creations.push_back((bucket, 1)),
            _ => {
                self.creations.insert(at, (bucket, 1));
                if at < self.from {
                    // Before the summed suffix, which moved by one.
                    self.from += 1;
                }
            }
        }
        if at >= self.from {
            self.sum += 1;
        }
    }

    /// The first bucket kept (`i64::MIN` while nothing is counted).
    fn horizon(&self, kept: i64) -> i64 {
        self.creations.back().map_or(i64::MIN, |&(last, _)| last - kept + 1)
    }

    /// The buckets (for memory accounting).
    pub(super) fn creations(&self) -> &VecDeque<(i64, u32)> {
        &self.creations
    }

    /// Buckets held (for tests and memory accounting).
    pub fn buckets(&self) -> usize {
        self.creations.len()
    }
}

/// The serialized form: `{creations: {bucket: creations}}`, as when it was a `BTreeMap`.
#[derive(serde::Serialize)]
#[serde(rename = "QuotaWindow")]
struct Serialized<'a> {
    creations: Buckets<'a>,
}

struct Buckets<'a>(&'a VecDeque<(i64, u32)>);

impl serde::Serialize for Buckets<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(b, n)| (b, n)))
    }
}

impl serde::Serialize for QuotaWindow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Serialized {
            creations: Buckets(&self.creations),
        }
        .serialize(serializer)
    }
}

#[derive(serde::Deserialize)]
#[serde(rename = "QuotaWindow")]
struct Deserialized {
    creations: BTreeMap<i64, u32>,
}

impl<'de> serde::Deserialize<'de> for QuotaWindow {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<QuotaWindow, D::Error> {
        let Deserialized { creations } = Deserialized::deserialize(deserializer)?;
        let creations: VecDeque<(i64, u32)> = creations.into_iter().collect();
        Ok(QuotaWindow {
            // The summed suffix starts empty, at the end.
            from: creations.len(),
            sum: 0,
            creations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = MICROS_PER_SECOND;

    fn hourly(limit: u32) -> CreationQuota {
        CreationQuota {
            window_seconds: 3600,
            granularity_seconds: 60,
            limit,
        }
    }

    #[test]
    fn slides_by_bucket() {
        let quota = hourly(2);
        let mut w = QuotaWindow::default();
        assert!(w.try_create(0, &quota, 0));
        assert!(w.try_create(59 * S, &quota, 0));
        assert!(!w.try_create(3599 * S, &quota, 0));
        // Bucket 60 no longer sees bucket 0.
        assert!(w.try_create(3600 * S, &quota, 0));
        // An older time sees only buckets up to its own.
        assert!(!w.try_create(30 * S, &quota, 0));
    }

    #[test]
    fn late_occurrences_within_a_window_of_the_latest_creation_see_every_creation() {
        let quota = hourly(2);
        let mut w = QuotaWindow::default();
        // Two creations in minute 10, then one two hours later (bucket 130): the horizon is
        // bucket 130 − 120 + 1 = 11, so minute 10 is forgotten.
        assert!(w.try_create(600 * S, &quota, 0));
        assert!(w.try_create(610 * S, &quota, 0));
        assert!(w.try_create(130 * 60 * S, &quota, 0));
        assert_eq!(w.buckets(), 1);
        // Minute 70 (bucket 70 ≥ 130 − 60): exact; its window 11..=70 holds no creation.
        assert!(w.try_create(70 * 60 * S, &quota, 0));
        assert!(w.try_create(71 * 60 * S, &quota, 0));
        assert!(!w.try_create(72 * 60 * S, &quota, 0), "two creations in 13..=72 already");
        // Minute 40: more than a window before the latest creation, so its window (−19..=40)
        // is judged from the horizon (11) on, where nothing is counted: admitted, although an
        // unbounded history would have seen the two of minute 10 and denied it.
        assert!(w.try_create(40 * 60 * S, &quota, 0));
        assert!(w.try_create(41 * 60 * S, &quota, 0));
        assert!(!w.try_create(42 * 60 * S, &quota, 0), "minutes 40 and 41 are counted");
        // Before the horizon: admitted and not counted.
        assert!(w.try_create(5 * 60 * S, &quota, 0));
        assert!(w.try_create(5 * 60 * S, &quota, 0));
        assert!(w.try_create(5 * 60 * S, &quota, 0));
        assert_eq!(w.buckets(), 5, "buckets 40, 41, 70, 71 and 130");
    }

    /// The rule as semantics.md §4.3 states it, over every creation ever admitted: with `m`
    /// the latest bucket among the counted creations and `k` buckets kept, a check at `b`
    /// counts the counted creations in `max(b − n + 1, m − k + 1) ..= b`; a creation is
    /// counted unless its bucket is before `m − k + 1` when it is admitted.
    struct Rule {
        kept: i64,
        counted: Vec<i64>,
        latest: Option<i64>,
    }

    impl Rule {
        fn try_create(&mut self, time: Micros, quota: &CreationQuota) -> bool {
            let g = quota.granularity_seconds * S;
            let n = quota.window_seconds / quota.granularity_seconds;
            let b = time.div_euclid(g);
            let horizon = self.latest.map_or(i64::MIN, |m| m - self.kept + 1);
            let used = self.counted.iter().filter(|&&c| c >= (b - n + 1).max(horizon) && c <= b).count();
            if used >= quota.limit as usize {
                return false;
            }
            if b >= horizon {
                self.counted.push(b);
                self.latest = Some(self.latest.map_or(b, |m| m.max(b)));
            }
            true
        }
    }

    #[test]
    fn out_of_order_creations_follow_the_rule_and_are_exact_within_a_window_of_the_latest() {
        // Retention shorter than two windows: two windows are kept.
        let exact = out_of_order_creations(0, 2 * 60);
        assert!(exact > 10_000, "{exact} exact checks");
    }

    #[test]
    fn a_retention_longer_than_the_lateness_keeps_every_check_exact() {
        // Records are at most 6 hours late; 7 hours kept covers every window they ask about.
        let exact = out_of_order_creations(7 * 3600, 7 * 60);
        assert_eq!(exact, 200 * 400, "every check is exact");
    }

    /// Drives 200 random sequences of 400 creations, some late by up to 6 hours, through the
    /// window and the rule; returns how many checks were compared with an unbounded history.
    fn out_of_order_creations(retention_seconds: i64, kept: i64) -> usize {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut exact_checks = 0;
        for case in 0..200 {
            let quota = hourly(1 + (case % 6) as u32);
            let n = 60;
            let (mut pruned, mut rule) = (
                QuotaWindow::default(),
                Rule {
                    kept,
                    counted: Vec::new(),
                    latest: None,
                },
            );
            // Every admitted creation's bucket, counted or not.
            let mut admitted: Vec<i64> = Vec::new();
            let mut clock = 0i64;
            for _ in 0..400 {
                // Mostly forward by up to 3 minutes, often a few minutes late, sometimes
                // hours late.
                clock += (next() % 180) as i64 * S;
                let late = match next() % 10 {
                    0 => (next() % (6 * 3600)) as i64 * S,
                    1..=3 => (next() % 600) as i64 * S,
                    _ => 0,
                };
                let time = clock - late;
                let b = time.div_euclid(60 * S);
                let latest = rule.latest;
                let answer = pruned.try_create(time, &quota, retention_seconds);
                assert_eq!(answer, rule.try_create(time, &quota), "case {case}, time {time}");
                if latest.is_none_or(|m| b >= m - kept + n) {
                    // Within a window of the latest creation: Sentry's sliding window in event
                    // time over the same history, nothing forgotten.
                    let in_window = admitted.iter().filter(|&&c| c > b - n && c <= b).count();
                    assert_eq!(answer, in_window < quota.limit as usize, "case {case}, time {time}");
                    exact_checks += 1;
                }
                if answer {
                    admitted.push(b);
                }
                assert!(pruned.buckets() <= kept as usize);
            }
        }
        exact_checks
    }

    /// The window as it was before the deque (session 14): a `BTreeMap` of buckets, summed
    /// over the window per check. Its decisions and serialized form are the reference.
    #[derive(Default, serde::Serialize)]
    #[serde(rename = "QuotaWindow")]
    struct MapWindow {
        creations: BTreeMap<i64, u32>,
    }

    impl MapWindow {
        fn try_create(&mut self, time: Micros, quota: &CreationQuota, retention_seconds: i64) -> bool {
            let granularity = quota.granularity_seconds.max(1);
            let bucket = time.div_euclid(granularity * MICROS_PER_SECOND);
            let buckets = quota.window_seconds / granularity;
            let kept = (KEPT_WINDOWS * buckets.max(1)).max(retention_seconds / granularity);
            let horizon = self.horizon(kept);
            let from = (bucket - buckets + 1).max(horizon);
            let used: u64 = if from > bucket {
                0
            } else {
                self.creations.range(from..=bucket).map(|(_, n)| u64::from(*n)).sum()
            };
            if used >= u64::from(quota.limit) {
                return false;
            }
            if bucket >= horizon {
                *self.creations.entry(bucket).or_default() += 1;
                let horizon = self.horizon(kept);
                while let Some(entry) = self.creations.first_entry() {
                    if *entry.key() >= horizon {
                        break;
                    }
                    entry.remove();
                }
            }
            true
        }

        fn horizon(&self, kept: i64) -> i64 {
            self.creations.last_key_value().map_or(i64::MIN, |(last, _)| last - kept + 1)
        }
    }

    /// Random creation times against the map: in order, mostly in order with some late
    /// (minutes, hours, days), and shuffled within a day; several quotas (limits 1–8,
    /// windows of 1–4 hours, granularities of 1–20 minutes, a granularity of 0) and
    /// retentions (none, shorter and longer than the lateness). Every decision and the
    /// serialized form (postcard, as checkpoints write it) are the map's, also after a
    /// checkpoint round trip mid-stream.
    #[test]
    fn the_deque_decides_as_the_map_did() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut admitted, mut denied) = (0, 0);
        for case in 0..600u64 {
            let quota = CreationQuota {
                window_seconds: 3600 * (1 + (case % 4) as i64),
                granularity_seconds: [60, 60, 300, 1200, 0, 1][(case % 6) as usize],
                limit: 1 + (case % 8) as u32,
            };
            let retention_seconds = [0, 3 * 3600, 2 * 86_400][(case % 3) as usize];
            let order = case % 3;
            let mut map = MapWindow::default();
            let mut deque = QuotaWindow::default();
            let mut clock = (next() % 1_000_000) as i64 * S - 500_000 * S;
            for step in 0..300 {
                // About the quota's pace: some windows full, some not.
                clock += (next() % (2 * quota.window_seconds as u64 / u64::from(quota.limit))) as i64 * S;
                let late = match (order, next() % 10) {
                    (0, _) => 0,
                    (1, 0) => (next() % (3 * 86_400)) as i64 * S,
                    (1, 1) => (next() % (6 * 3600)) as i64 * S,
                    (1, 2..=4) => (next() % 900) as i64 * S,
                    (1, _) => 0,
                    _ => (next() % 86_400) as i64 * S,
                };
                let time = clock - late + (next() % 1_000_000) as i64;
                let expected = map.try_create(time, &quota, retention_seconds);
                assert_eq!(
                    deque.try_create(time, &quota, retention_seconds),
                    expected,
                    "case {case}, step {step}, time {time}"
                );
                if expected {
                    admitted += 1;
                } else {
                    denied += 1;
                }
                if step % 97 == 0 {
                    let bytes = postcard::to_allocvec(&deque).expect("serialize");
                    assert_eq!(bytes, postcard::to_allocvec(&map).expect("serialize"), "case {case}");
                    deque = postcard::from_bytes(&bytes).expect("deserialize");
                }
            }
            assert_eq!(deque.buckets(), map.creations.len());
        }
        assert!(admitted > 60_000 && denied > 30_000, "{admitted} admitted, {denied} denied");
    }
}
