//! Generators the writers' tests share (`serialize::dump::tests`, `api_group_json::tests`):
//! hostile strings and random triage state.

use std::sync::Arc;

use dataflows::model::{Assignee, Commit, GroupStatus, Micros, StatusDetails, Subscription, SubscriptionReason, Triage};
use rand::rngs::StdRng;
use rand::Rng;

/// Pieces that strings are made of: every escape `serde_json` writes, the bytes around them
/// and multi-byte characters, so that they fall at every offset of an 8-byte scan.
pub(crate) const PIECES: &[&str] = &[
    "a",
    "Monitor failure",
    "\"",
    "\\",
    "\n",
    "\r",
    "\t",
    "\u{8}",
    "\u{c}",
    "\u{0}",
    "\u{1}",
    "\u{1f}",
    "\u{7f}",
    "\u{2028}",
    "\u{2029}",
    "é",
    "ß",
    "🦀",
    "/",
    "'",
    " ",
    "0123456789",
    "<>&",
    "\u{fffd}",
    "ǅ",
];

/// Empty, plain, or up to 23 random pieces.
pub(crate) fn hostile(rng: &mut StdRng) -> String {
    match rng.random_range(0..10) {
        0 => String::new(),
        1 => "job-42".into(),
        _ => (0..rng.random_range(1..24))
            .map(|_| PIECES[rng.random_range(0..PIECES.len())])
            .collect(),
    }
}

/// The users triage state names: plain ones, one needing escapes, and the anonymous viewer.
pub(crate) const USERS: [&str; 4] = ["alice@example.com", "bob", "b\"ob", crate::api_mutations::ANONYMOUS];

/// No triage state (30 %), or random status details for `status` (every ignore and resolve
/// field, hostile release and commit names), ignore deadline, actor, assignee (a user or a
/// hostile team), bookmarks, seen-by, priority lock, share id and subscriptions of `USERS`.
pub(crate) fn random_triage(rng: &mut StdRng, status: GroupStatus, now: Micros) -> Option<Arc<Triage>> {
    if rng.random_bool(0.3) {
        return None;
    }
    let mut details = StatusDetails::default();
    match status {
        GroupStatus::Ignored => {
            details.ignore_count = rng.random_bool(0.5).then_some(10);
            details.ignore_window = rng.random_bool(0.5).then_some(60);
            details.ignore_user_count = rng.random_bool(0.3).then_some(3);
            details.ignore_user_window = rng.random_bool(0.3).then_some(5);
            details.until_escalating = rng.random_bool(0.3);
        }
        GroupStatus::Resolved => {
            details.in_next_release = rng.random_bool(0.5);
            details.in_upcoming_release = rng.random_bool(0.2);
            details.in_release = rng.random_bool(0.5).then(|| hostile(rng).into());
            details.in_future_release = rng.random_bool(0.2).then(|| hostile(rng).into());
            details.in_commit = rng.random_bool(0.3).then(|| Commit {
                commit: hostile(rng).into(),
                repository: "repo/x".into(),
            });
        }
        _ => {}
    }
    let users: Vec<Arc<str>> = USERS.iter().map(|&u| u.into()).collect();
    let pick = |rng: &mut StdRng| -> Vec<Arc<str>> { users.iter().filter(|_| rng.random_bool(0.4)).cloned().collect() };
    let mut subscriptions = Vec::new();
    for user in &users {
        if rng.random_bool(0.4) {
            subscriptions.push(Subscription {
                user: user.clone(),
                reason: SubscriptionReason::Bookmarked,
                active: rng.random_bool(0.7),
            });
        }
    }
    Some(Arc::new(Triage {
        status_details: details,
        ignore_until: rng.random_bool(0.3).then_some(now + 3_600_000_000),
        status_actor: match rng.random_range(0..3) {
            0 => None,
            1 => Some(users[0].clone()),
            _ => Some(hostile(rng).into()),
        },
        assignee: match rng.random_range(0..3) {
            0 => None,
            1 => Some(Assignee::User(users[rng.random_range(0..3)].clone())),
            _ => Some(Assignee::Team(hostile(rng).into())),
        },
        bookmarked_by: pick(rng),
        seen_by: pick(rng),
        priority_locked_at: rng.random_bool(0.4).then_some(now - 5_000_000),
        share_id: rng.random_bool(0.3).then_some(0x1234_5678_9abc_def0_u128 << 3),
        subscriptions,
        inbox: None,
    }))
}
