//! Conditions a mutation attaches to a group: the ignore conditions of an ignored group
//! (`ignoreCount`, `ignoreWindow`, `ignoreUserCount`, `ignoreUserWindow`, `ignoreDuration`),
//! evaluated on each of its occurrences in event time, and the release of a
//! resolved-in-release group, which decides whether an occurrence regresses it.
//!
//! Each check is O(1) amortised: windowed counts keep only what lies inside the window, and
//! never more than the count they wait for.

use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

use crate::model::time::MICROS_PER_SECOND;
use crate::model::{Micros, StatusDetails, Symbol};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Conditions {
    /// Resolved in a release: only occurrences of another release regress the group.
    pub resolved_in: Option<ReleaseResolution>,
    pub snooze: Option<Snooze>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReleaseResolution {
    /// The release the group was resolved in; None: "the next release", i.e. any release.
    pub release: Option<Symbol>,
}

/// An ignore that lasts until one of its conditions is met (Sentry's snooze: it ends as soon
/// as any condition is exceeded).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Snooze {
    pub until: Option<Micros>,
    pub count: Option<u64>,
    pub window: Option<Micros>,
    pub user_count: Option<u64>,
    pub user_window: Option<Micros>,
    /// times_seen and user_count when the ignore began.
    pub times_seen_at: u64,
    pub users_at: u64,
    /// Event times of the latest occurrences within `window` (at most `count` of them).
    recent: VecDeque<Micros>,
    /// Occurrences with a user within `user_window`, and how many of them each user has.
    recent_users: VecDeque<(Micros, Symbol)>,
    user_refs: HashMap<Symbol, u32>,
}

const MINUTE: Micros = 60 * MICROS_PER_SECOND;

impl Snooze {
    /// The snooze of an ignore with these details, begun at `time`; None without conditions.
    pub fn new(details: &StatusDetails, time: Micros, times_seen: u64, user_count: u64) -> Option<Snooze> {
        if !details.has_ignore_condition() {
            return None;
        }
        let minutes = |m: u64| (m as Micros).saturating_mul(MINUTE);
        Some(Snooze {
            until: details.ignore_duration.map(|m| time.saturating_add(minutes(m))),
            count: details.ignore_count,
            window: details.ignore_count.and(details.ignore_window).map(minutes),
            user_count: details.ignore_user_count,
            user_window: details.ignore_user_count.and(details.ignore_user_window).map(minutes),
            times_seen_at: times_seen,
            users_at: user_count,
            ..Snooze::default()
        })
    }

    /// Records an occurrence at `time` (the group's counts already include it) and says
    /// whether a condition is now met.
    pub fn is_met(&mut self, time: Micros, user: Option<Symbol>, times_seen: u64, user_count: u64) -> bool {
        let mut met = self.until.is_some_and(|until| time >= until);
        if let Some(count) = self.count {
            met |= match self.window {
                None => times_seen.saturating_sub(self.times_seen_at) >= count,
                Some(window) => {
                    self.recent.push_back(time);
                    while self.recent.front().is_some_and(|t| *t <= time - window) || self.recent.len() as u64 > count {
                        self.recent.pop_front();
                    }
                    self.recent.len() as u64 >= count
                }
            };
        }
        if let Some(wanted) = self.user_count {
            met |= match self.user_window {
                None => user_count.saturating_sub(self.users_at) >= wanted,
                Some(window) => {
                    if let Some(user) = user {
                        self.recent_users.push_back((time, user));
                        *self.user_refs.entry(user).or_default() += 1;
                    }
                    while let Some(&(t, old)) = self.recent_users.front() {
                        if t > time - window {
                            break;
                        }
                        self.recent_users.pop_front();
                        if let Some(refs) = self.user_refs.get_mut(&old) {
                            *refs -= 1;
                            if *refs == 0 {
                                self.user_refs.remove(&old);
                            }
                        }
                    }
                    self.user_refs.len() as u64 >= wanted
                }
            };
        }
        met
    }
}

impl Conditions {
    /// Whether an occurrence of `release` regresses a resolved group with these conditions.
    pub fn regresses(conditions: &Option<Box<Conditions>>, release: Option<Symbol>) -> bool {
        match conditions.as_ref().and_then(|c| c.resolved_in.as_ref()) {
            None => true,
            Some(resolution) => release.is_some_and(|r| resolution.release != Some(r)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(f: impl FnOnce(&mut StatusDetails)) -> StatusDetails {
        let mut d = StatusDetails::default();
        f(&mut d);
        d
    }

    #[test]
    fn count_without_window_counts_occurrences_since_the_ignore() {
        let mut snooze = Snooze::new(&details(|d| d.ignore_count = Some(3)), 0, 10, 0).expect("a condition");
        assert!(!snooze.is_met(1, None, 11, 0));
        assert!(!snooze.is_met(2, None, 12, 0));
        assert!(snooze.is_met(3, None, 13, 0));
    }

    #[test]
    fn count_within_a_window_needs_them_close_together() {
        let d = details(|d| {
            d.ignore_count = Some(2);
            d.ignore_window = Some(1);
        });
        let mut snooze = Snooze::new(&d, 0, 0, 0).expect("a condition");
        assert!(!snooze.is_met(0, None, 1, 0));
        assert!(!snooze.is_met(2 * MINUTE, None, 2, 0), "a minute apart is outside the window");
        assert!(snooze.is_met(2 * MINUTE + MICROS_PER_SECOND, None, 3, 0));
    }

    #[test]
    fn users_within_a_window_are_distinct() {
        let d = details(|d| {
            d.ignore_user_count = Some(2);
            d.ignore_user_window = Some(10);
        });
        let mut snooze = Snooze::new(&d, 0, 0, 0).expect("a condition");
        assert!(!snooze.is_met(1, Some(7), 1, 1));
        assert!(!snooze.is_met(2, Some(7), 2, 1), "the same user twice");
        assert!(snooze.is_met(3, Some(8), 3, 2));
        let mut late = Snooze::new(&d, 0, 0, 0).expect("a condition");
        assert!(!late.is_met(0, Some(7), 1, 1));
        assert!(!late.is_met(11 * MINUTE, Some(8), 2, 2), "the first user left the window");
    }

    #[test]
    fn duration_ends_at_event_time() {
        let mut snooze = Snooze::new(&details(|d| d.ignore_duration = Some(5)), 100, 0, 0).expect("a condition");
        assert!(!snooze.is_met(100 + 5 * MINUTE - 1, None, 1, 0));
        assert!(snooze.is_met(100 + 5 * MINUTE, None, 2, 0));
    }

    #[test]
    fn release_resolution_regresses_only_on_another_release() {
        let in_release = Some(Box::new(Conditions {
            resolved_in: Some(ReleaseResolution { release: Some(1) }),
            snooze: None,
        }));
        assert!(!Conditions::regresses(&in_release, Some(1)));
        assert!(!Conditions::regresses(&in_release, None));
        assert!(Conditions::regresses(&in_release, Some(2)));
        assert!(Conditions::regresses(&None, None), "a plain resolve regresses on anything");
    }
}
