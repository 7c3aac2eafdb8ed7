//! The creation quota (semantics.md §4.3 step 4): at most `limit` creations per sliding window,
//! counted in granularity buckets of event time.

use std::collections::BTreeMap;

use crate::model::grouptype::CreationQuota;
use crate::model::time::{Micros, MICROS_PER_SECOND};

/// Creations per bucket. Its size is bounded by the number of groups it admitted; a sum over
/// at most window/granularity buckets per check.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct QuotaWindow {
    creations: BTreeMap<i64, u32>,
}

impl QuotaWindow {
    /// Returns true and records the creation if the quota allows it.
    pub fn try_create(&mut self, time: Micros, quota: &CreationQuota) -> bool {
        let bucket = time.div_euclid(quota.granularity_seconds * MICROS_PER_SECOND);
        let buckets = quota.window_seconds / quota.granularity_seconds;
        let used: u64 = self
            .creations
            .range(bucket - buckets + 1..=bucket)
            .map(|(_, n)| u64::from(*n))
            .sum();
        if used >= u64::from(quota.limit) {
            return false;
        }
        *self.creations.entry(bucket).or_default() += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slides_by_bucket() {
        let quota = CreationQuota {
            window_seconds: 3600,
            granularity_seconds: 60,
            limit: 2,
        };
        let mut w = QuotaWindow::default();
        let s = MICROS_PER_SECOND;
        assert!(w.try_create(0, &quota));
        assert!(w.try_create(59 * s, &quota));
        assert!(!w.try_create(3599 * s, &quota));
        // Bucket 60 no longer sees bucket 0.
        assert!(w.try_create(3600 * s, &quota));
        // An older time sees only buckets up to its own.
        assert!(!w.try_create(30 * s, &quota));
    }
}
