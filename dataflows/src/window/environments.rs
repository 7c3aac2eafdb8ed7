//! The occurrences a request's `environment=` values select: per-environment hours of a
//! group split by environment, its whole `hourly` when its one environment key is wanted, and
//! the occurrences without an environment (the empty name).

use std::borrow::Cow;

use super::{GroupHours, Select};
use crate::model::Symbol;
use crate::state::GroupKey;
use crate::views::{GroupView, IssueViews};

/// The symbol of `environment=` with an empty name: occurrences without an environment
/// (Sentry's "(No Environment)"). No stored environment has it: ingest keeps an empty
/// `event.environment` as none.
pub fn no_environment() -> Symbol {
    static NONE: std::sync::LazyLock<Symbol> = std::sync::LazyLock::new(|| crate::model::symbol_of(""));
    *NONE
}

/// Whether an occurrence in `environment` (None: without one) is among `wanted`.
pub fn environment_wanted(environment: Option<Symbol>, wanted: &[Symbol]) -> bool {
    match environment {
        Some(e) => wanted.contains(&e),
        None => wanted.contains(&no_environment()),
    }
}

/// The group's occurrences per hour restricted to `environments` when given. A group with a
/// single environment key borrows its `hourly` (no copy, no lookup of per-environment hours
/// unless the group has a requested environment key).
pub fn hours_in<'v>(views: &'v IssueViews, key: GroupKey, view: &'v GroupView, environments: Option<&'v [Symbol]>) -> GroupHours<'v> {
    let all = || GroupHours {
        hours: Cow::Borrowed(&view.hourly),
        complete: true,
        details: views.details_of(key, view),
        select: Select::All,
    };
    let Some(wanted) = environments else {
        return all();
    };
    let without = wanted.contains(&no_environment());
    if !without && !view.environments.iter().any(|e| wanted.contains(e)) {
        return GroupHours::none();
    }
    match views.environment_hours_of(key, view) {
        // One environment key: the group's one environment, or none.
        None => match &view.environments[..] {
            [] if without => all(),
            [env] if wanted.contains(env) => all(),
            _ => GroupHours::none(),
        },
        Some(split) => GroupHours {
            hours: Cow::Owned(if without {
                hours_with_none(&view.hourly, split, wanted)
            } else {
                environment_hours(split, wanted)
            }),
            complete: false,
            details: views.details_of(key, view),
            select: Select::Environments(wanted),
        },
    }
}

/// The hours of `wanted` environments in a group's per-(environment, hour) counts (sorted
/// by hour, then environment): one pass, each hour's entries of wanted environments summed.
fn environment_hours(split: &[(Symbol, u32, u32)], wanted: &[Symbol]) -> Vec<(u32, u32)> {
    crate::hour_series::hours_of(split, |env| wanted.contains(&env)).0
}

/// [`environment_hours`] plus the occurrences without an environment, which the split
/// series leaves out: each hour's count in `hourly` less its entries in `split`.
fn hours_with_none(hourly: &[(u32, u32)], split: &[(Symbol, u32, u32)], wanted: &[Symbol]) -> Vec<(u32, u32)> {
    let mut entries = split.iter().peekable();
    let mut hours = Vec::new();
    for &(hour, n) in hourly {
        let (mut with_environment, mut selected) = (0u32, 0u32);
        while let Some(&&(env, h, count)) = entries.peek() {
            if h > hour {
                break;
            }
            if h == hour {
                with_environment = with_environment.wrapping_add(count);
                if wanted.contains(&env) {
                    selected = selected.wrapping_add(count);
                }
            }
            entries.next();
        }
        let count = selected.wrapping_add(n.wrapping_sub(with_environment));
        if count > 0 {
            hours.push((hour, count));
        }
    }
    hours
}

/// How many distinct `wanted` environments have hours in `split`, counted up to 2 (the
/// caller asks whether exactly one does). Read from the newest hour back, where a busy
/// group's environments all appear.
pub(super) fn environments_with_hours(split: &[(Symbol, u32, u32)], wanted: &[Symbol]) -> usize {
    let mut found: Option<Symbol> = None;
    for &(env, ..) in split.iter().rev() {
        if !wanted.contains(&env) {
            continue;
        }
        match found {
            None => found = Some(env),
            Some(first) if first != env => return 2,
            Some(_) => {}
        }
    }
    usize::from(found.is_some())
}
