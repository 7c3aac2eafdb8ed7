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

use std::cmp::Ordering;

use super::releases::ReleaseKey;
use crate::model::time::MICROS_PER_SECOND;
use crate::model::{Micros, StatusDetails, Symbol};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Conditions {
    /// Resolved in a release: only occurrences of newer releases regress the group.
    pub resolved_in: Option<ReleaseResolution>,
    pub snooze: Option<Snooze>,
}

/// A resolve tied to a release: occurrences of releases after `after` (or at it, when
/// `inclusive`) regress the group; those of older releases, or without one, do not.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReleaseResolution {
    /// `inRelease`: that release; `inNextRelease`/`inUpcomingRelease`: the project's newest
    /// release at the resolve; `inFutureRelease`: the named version. None (no release known
    /// when resolving in the next release): any release regresses.
    pub after: Option<ReleaseKey>,
    /// `inFutureRelease`: the named version itself regresses the group too.
    pub inclusive: bool,
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
    /// Whether an occurrence of `release` (its key in the project's releases) regresses a
    /// resolved group with these conditions.
    pub fn regresses(conditions: &Option<Box<Conditions>>, release: Option<&ReleaseKey>) -> bool {
        match conditions.as_ref().and_then(|c| c.resolved_in.as_ref()) {
            None => true,
            Some(resolution) => release.is_some_and(|r| match &resolution.after {
                None => true,
                Some(after) => match r.order(after) {
                    Ordering::Greater => true,
                    Ordering::Equal => resolution.inclusive,
                    Ordering::Less => false,
                },
            }),
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
    fn release_resolution_regresses_only_on_a_newer_release() {
        let mut releases = crate::state::releases::Releases::default();
        for (symbol, name) in [(1, "app@1.0.0"), (2, "app@2.0.0"), (3, "app@0.9.0"), (4, "nightly")] {
            releases.see(symbol, name);
        }
        let key = |s| releases.key(s);
        let resolved = |after: Option<ReleaseKey>, inclusive| {
            Some(Box::new(Conditions {
                resolved_in: Some(ReleaseResolution { after, inclusive }),
                snooze: None,
            }))
        };
        let in_release = resolved(key(1).cloned(), false);
        assert!(!Conditions::regresses(&in_release, key(1)));
        assert!(!Conditions::regresses(&in_release, None));
        assert!(!Conditions::regresses(&in_release, key(3)), "0.9.0 is older though seen later");
        assert!(Conditions::regresses(&in_release, key(2)));
        assert!(Conditions::regresses(&in_release, key(4)), "not semver: seen later");
        let future = resolved(Some(releases.unseen("app@2.0.0")), true);
        assert!(Conditions::regresses(&future, key(2)), "the future version itself regresses");
        assert!(!Conditions::regresses(&future, key(1)));
        assert!(Conditions::regresses(&resolved(None, false), key(3)), "nothing known: any release");
        assert!(Conditions::regresses(&None, None), "a plain resolve regresses on anything");
    }
}
