//! The creation quota (semantics.md §4.3 step 4): at most `limit` creations per sliding window,
//! counted in granularity buckets of event time.

use std::collections::BTreeMap;

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
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct QuotaWindow {
    creations: BTreeMap<i64, u32>,
}

impl QuotaWindow {
    /// Returns true and records the creation if the quota allows it. `retention_seconds`:
    /// how far behind the latest creation checks stay exact (the views' retention).
    pub fn try_create(&mut self, time: Micros, quota: &CreationQuota, retention_seconds: i64) -> bool {
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
            // The horizon moves only with a later latest bucket: prune then.
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

    /// The first bucket kept (`i64::MIN` while nothing is counted).
    fn horizon(&self, kept: i64) -> i64 {
        self.creations.last_key_value().map_or(i64::MIN, |(last, _)| last - kept + 1)
    }

    /// Buckets held (for tests and memory accounting).
    pub fn buckets(&self) -> usize {
        self.creations.len()
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
}
