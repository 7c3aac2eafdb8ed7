//! Retention of the views' per-hour data: hourly counts, per-environment and per-facet
//! hours and occurrence details older than the retention (default 90 days, `--retention-days`)
//! are dropped, so memory stays bounded on a long-running server. Rows — and with them
//! every `lifetime` value — are untouched.
//!
//! Retention is measured in event time back from the newest hour each stream has carried
//! (activity for counts, details for occurrence details), and the cut is rounded down to a whole
//! day: the state after an epoch is exactly "every hour from the cut on", a function of the
//! data only, however the sinks batch epochs (deterministic and checkpoint-safe). Hours past
//! the present ([`present_limit`]) are kept but never count as the newest. Pruning
//! scans the groups when the cut passes the *floor*: a lower bound on every hour held
//! (`IssueViews::activity_floor`, `details_floor`), lowered as hours are added and set to
//! the oldest hour left by each scan. A stream that starts less than the retention back
//! from its newest hour is never scanned (a backfill of two weeks scanned every group once
//! per day of event time: ~2% of its time); 0, after a restore, means "unknown: scan".

use std::sync::atomic::{AtomicU32, Ordering};

use super::small::SmallSlice;
use super::IssueViews;
use crate::model::time::MICROS_PER_SECOND;
use crate::model::Micros;

const DAY_HOURS: u32 = 24;

/// Retention in hours (process-wide: the same for every view, set once at start-up).
static RETENTION_HOURS: AtomicU32 = AtomicU32::new(90 * DAY_HOURS);

pub fn set_retention_hours(hours: u32) {
    RETENTION_HOURS.store(hours.max(1), Ordering::Relaxed);
}

pub fn retention_hours() -> u32 {
    RETENTION_HOURS.load(Ordering::Relaxed)
}

/// Hours of per-second occurrence details kept (`--details-days`); by default as long as the
/// hourly data, so windows stay exact at their edges over the whole retention.
static DETAILS_HOURS: AtomicU32 = AtomicU32::new(u32::MAX);

pub fn set_details_hours(hours: u32) {
    DETAILS_HOURS.store(hours.max(1), Ordering::Relaxed);
}

/// The details' horizon in hours: at most the retention.
pub fn details_hours() -> u32 {
    DETAILS_HOURS.load(Ordering::Relaxed).min(retention_hours())
}

/// The first hour kept when the newest hour seen is `newest`: whole days only.
pub fn cut(newest: u32, retention: u32) -> u32 {
    newest.saturating_sub(retention) / DAY_HOURS * DAY_HOURS
}

/// How far past the wall clock an event time still counts as the present: Relay's
/// allowance for clocks running ahead (`max_secs_in_future`, 60 s).
const FUTURE_ALLOWANCE_MICROS: Micros = 60 * MICROS_PER_SECOND;

/// The latest event time that is the present. Later times are kept as they are, but never
/// advance the retention's newest hour or the API's "now": one occurrence stamped years
/// ahead must not drop every other group's hours or hide them from every window.
pub fn present_limit() -> Micros {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| Micros::try_from(elapsed.as_micros()).unwrap_or(Micros::MAX));
    wall.saturating_add(FUTURE_ALLOWANCE_MICROS)
}

/// The hour of [`present_limit`]: hours after it do not advance the retention.
pub fn present_hour() -> u32 {
    u32::try_from(present_limit().div_euclid(3600 * MICROS_PER_SECOND)).unwrap_or(u32::MAX)
}

impl IssueViews {
    /// Before applying an activity epoch whose newest hour is `newest`: advances the cut
    /// and drops older hours. Returns the cut (updates for earlier hours are ignored).
    pub(super) fn retain_activity(&mut self, newest: Option<u32>, retention: u32) -> u32 {
        if let Some(newest) = newest {
            self.newest_hour = self.newest_hour.max(newest);
        }
        let cut = cut(self.newest_hour, retention);
        if cut > self.activity_cut {
            self.activity_cut = cut;
            // Nothing held is older than the floor: the scan would drop nothing.
            if self.activity_floor < cut {
                self.activity_floor = self.drop_activity_before(cut);
            }
        }
        self.activity_cut
    }

    /// Drops every hour before `cut` from the hourly counts, the per-environment and the
    /// per-facet hours (one scan of every group); returns the oldest hour left.
    fn drop_activity_before(&mut self, cut: u32) -> u32 {
        let mut oldest = u32::MAX;
        let mut dropped = 0;
        for view in &mut self.groups {
            let drop = view.hourly.partition_point(|h| h.0 < cut);
            if drop > 0 {
                let before = view.hourly.heap_bytes();
                let mut hours = std::mem::take(&mut view.hourly).into_vec();
                hours.drain(..drop);
                view.hourly = SmallSlice::from_vec(hours);
                dropped += before - view.hourly.heap_bytes();
            }
            if let Some(&(hour, _)) = view.hourly.first() {
                oldest = oldest.min(hour);
            }
        }
        if let Some(footprint) = &mut self.footprint {
            footprint.hourly -= dropped;
        }
        // An emptied split stays: the group still spans several environment keys.
        for split in self.environment_hours.values_mut() {
            oldest = oldest.min(crate::hour_series::retain_from(split, cut));
        }
        oldest.min(self.facets.retain_from(cut))
    }

    /// Before applying occurrence details whose newest hour is `newest`; like
    /// [`IssueViews::retain_activity`].
    pub(super) fn retain_details(&mut self, newest: Option<u32>, retention: u32) -> u32 {
        if let Some(newest) = newest {
            self.newest_detail_hour = self.newest_detail_hour.max(newest);
        }
        let cut = cut(self.newest_detail_hour, retention);
        if cut > self.details_cut {
            self.details_cut = cut;
            if self.details_floor < cut {
                self.details_floor = self.details.retain_from(cut);
            }
        }
        self.details_cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::GroupKey;
    use crate::views::Activity;

    const KEY: GroupKey = GroupKey { project: 1, short_id: 1 };

    fn epoch(views: &mut IssueViews, time: u64, hours: &[(u32, Option<u64>)]) {
        let mut updates = Vec::new();
        for &(hour, env) in hours {
            updates.push((Activity::Hour(KEY, hour), time, 1));
            if let Some(env) = env {
                updates.push((Activity::Environment(KEY, env), time, 1));
                updates.push((Activity::EnvironmentHour(KEY, env, hour), time, 1));
            }
        }
        views.apply_activity(updates);
    }

    #[test]
    fn the_cut_is_a_whole_day_behind_the_newest_hour() {
        assert_eq!(cut(100, 48), 48);
        assert_eq!(cut(71, 48), 0);
        assert_eq!(cut(10, 48), 0);
    }

    #[test]
    fn an_hour_stamped_in_the_future_does_not_cut_the_present() {
        let now = present_hour() - 1;
        let far_ahead = now + 50 * 365 * DAY_HOURS;
        let mut views = IssueViews::default();
        epoch(&mut views, 0, &[(now - 3, None), (now - 2, None)]);
        epoch(&mut views, 1, &[(far_ahead, None)]);
        let hours: Vec<u32> = views.get(KEY).unwrap().hourly.iter().map(|&(hour, _)| hour).collect();
        assert_eq!(hours, vec![now - 3, now - 2, far_ahead]);
        views.apply_details(vec![((KEY, now - 3, 5, 9, 1), 0, 1), ((KEY, far_ahead, 6, 9, 2), 1, 1)]);
        assert_eq!(views.details_of(KEY, views.get(KEY).unwrap()).iter().count(), 2);
    }

    #[test]
    fn old_hours_go_whatever_the_batching_and_late_ones_are_ignored() {
        // Retention is process-wide; these views use the default (90 days = 2160 hours).
        let retention = retention_hours();
        let base = 1_000 * DAY_HOURS;
        let (prod, dev) = (7, 8);
        let mut one = IssueViews::default();
        epoch(&mut one, 0, &[(base, Some(prod)), (base + 30, Some(prod))]);
        epoch(&mut one, 1, &[(base + retention + 48, Some(dev))]);
        // Late occurrence of a pruned hour: ignored.
        epoch(&mut one, 2, &[(base + 1, Some(prod))]);
        one.apply_details(vec![((KEY, base, 5, 9, 1), 0, 1), ((KEY, base + retention + 48, 6, 9, 2), 1, 1)]);
        let first_kept = cut(base + retention + 48, retention);
        assert_eq!(first_kept, base + 48);
        let view = one.get(KEY).unwrap();
        assert_eq!(view.hourly.to_vec(), vec![(base + retention + 48, 1)]);
        assert_eq!(one.environment_hours(KEY).unwrap(), &[(dev, base + retention + 48, 1)]);
        let details: Vec<_> = one.details_of(KEY, one.get(KEY).unwrap()).iter().collect();
        assert_eq!(
            details,
            vec![crate::views::details::entry(base + retention + 48, 6, 9, 2)]
                .into_iter()
                .map(|mut e| {
                    e[1] |= 1 << 12;
                    e
                })
                .collect::<Vec<_>>()
        );
        // The same epochs in one batch give the same views.
        let mut batched = IssueViews::default();
        let mut all = Vec::new();
        for (time, hour, env) in [
            (0, base, prod),
            (0, base + 30, prod),
            (1, base + retention + 48, dev),
            (2, base + 1, prod),
        ] {
            all.push((Activity::Hour(KEY, hour), time, 1));
            all.push((Activity::Environment(KEY, env), time, 1));
            all.push((Activity::EnvironmentHour(KEY, env, hour), time, 1));
        }
        batched.apply_activity(all);
        assert_eq!(batched.get(KEY).unwrap().hourly, view.hourly);
        assert_eq!(batched.environment_hours(KEY), one.environment_hours(KEY));
    }

    #[test]
    fn skipped_scans_keep_every_hour_the_cut_keeps_and_drop_the_others() {
        // Hours added in order, late ones, and batches of several epochs; after each call the
        // group's hours (activity and details) are exactly those of a model that prunes
        // every epoch, though most cuts skip the scan (the floor is past them).
        let retention = retention_hours();
        let mut next = crate::test_rng::below(0x9e37_79b9_7f4a_7c15);
        let base = 500 * DAY_HOURS;
        let mut views = IssueViews::default();
        let mut hours: std::collections::BTreeMap<u32, u32> = Default::default();
        let mut details: std::collections::BTreeSet<u32> = Default::default();
        let (mut newest, mut detail_newest, mut time) = (0u32, 0u32, 0u64);
        let mut scans = 0;
        for round in 0..400 {
            let mut activity = Vec::new();
            let mut detail_updates = Vec::new();
            for _ in 0..1 + next(3) {
                let epoch_hours: Vec<u32> = (0..1 + next(3))
                    .map(|_| {
                        let ahead = base + round * 40 + next(40) as u32;
                        // Some late: up to past twice the retention back.
                        if next(5) == 0 {
                            ahead.saturating_sub(next(2 * u64::from(retention)) as u32)
                        } else {
                            ahead
                        }
                    })
                    .collect();
                // The model: this epoch's cut, then its hours from the cut on.
                newest = newest.max(*epoch_hours.iter().max().unwrap_or(&0));
                let cut_now = cut(newest, retention);
                for &hour in &epoch_hours {
                    activity.push((Activity::Hour(KEY, hour), time, 1));
                    if hour >= cut_now {
                        *hours.entry(hour).or_default() += 1;
                    }
                }
                hours.retain(|&h, _| h >= cut_now);
                // Details: one batch per epoch (the sink applies each call as one).
                let dcut = {
                    detail_newest = detail_newest.max(*epoch_hours.iter().max().unwrap_or(&0));
                    cut(detail_newest, retention)
                };
                for &hour in &epoch_hours {
                    detail_updates.push(vec![((KEY, hour, 1, 9, u64::from(hour)), time, 1)]);
                    if hour >= dcut {
                        details.insert(hour);
                    }
                }
                details.retain(|&h| h >= dcut);
                time += 1;
            }
            let before = (views.activity_cut, views.activity_floor);
            views.apply_activity(activity);
            if views.activity_cut > before.0 && before.1 < views.activity_cut {
                scans += 1;
            }
            for batch in detail_updates {
                views.apply_details_within(batch, retention);
            }
            let view = views.get(KEY).expect("the group");
            assert_eq!(
                view.hourly.to_vec(),
                hours.iter().map(|(&h, &n)| (h, n)).collect::<Vec<_>>(),
                "round {round}"
            );
            let kept: std::collections::BTreeSet<u32> = views.details_of(KEY, view).iter().map(|e| e[0]).collect();
            assert_eq!(kept, details, "details, round {round}");
            assert!(views.activity_floor <= hours.keys().next().copied().unwrap_or(u32::MAX));
        }
        let days = 400 * 40 / DAY_HOURS as usize;
        assert!(scans > 0 && scans < days, "{scans} scans in {days} days");
    }
}
