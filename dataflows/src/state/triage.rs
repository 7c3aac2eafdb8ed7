//! The triage state a PUT sets besides status and priority, and what the read side derives
//! from it: subscriptions (`isSubscribed`), share ids (`isPublic`) and the inbox (`inbox`,
//! `is:for_review`).

use std::sync::Arc;

use super::row::GroupRow;
use crate::model::{GroupStatus, InboxChange, Micros, MutationRecord, ProjectId, Subscription, SubscriptionReason, Substatus};

/// Subscribes `who` for `reason` unless they have a subscription already (active or not);
/// `active: Some(_)` (an explicit choice) replaces any subscription.
pub(super) fn subscribe(list: &mut Vec<Subscription>, who: &Arc<str>, reason: SubscriptionReason, active: Option<bool>) {
    let position = list.binary_search_by(|s| s.user.cmp(who));
    let subscription = Subscription {
        user: who.clone(),
        reason,
        active: active.unwrap_or(true),
    };
    match (position, active) {
        (Ok(i), Some(_)) => list[i] = subscription,
        (Ok(_), None) => {}
        (Err(i), _) => list.insert(i, subscription),
    }
}

/// A share id for the group made public by `mutation`: a hash of the project, the group and
/// the request's logged time and actor (never 0).
pub(super) fn share_id(project: ProjectId, index: usize, mutation: &MutationRecord) -> u128 {
    let mut bytes = Vec::with_capacity(64);
    bytes.extend_from_slice(&project.to_le_bytes());
    bytes.extend_from_slice(&(index as u64).to_le_bytes());
    bytes.extend_from_slice(&mutation.time.to_le_bytes());
    bytes.extend_from_slice(mutation.actor.as_deref().unwrap_or_default().as_bytes());
    xxhash_rust::xxh3::xxh3_128(&bytes).max(1)
}

/// Sentry's `GroupInboxReason` of a group in the inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboxReason {
    New = 0,
    Regression = 2,
    Manual = 3,
    Escalating = 5,
}

/// Why and since when a group is in the inbox (`is:for_review`, `expand=inbox`,
/// `sort=inbox`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboxEntry {
    pub reason: InboxReason,
    pub date: Micros,
}

/// The inbox a group is in: an unresolved group that is new, regressed or escalating, unless
/// marked reviewed since (`inbox: false`), or one added by `inbox: true`. It dates from the
/// substatus change that put it there (`GroupRow::inbox_since`, whole seconds), a group new
/// since its creation from `first_seen` (docs/semantics.md §7, *Inbox*).
pub fn inbox_entry(row: &GroupRow) -> Option<InboxEntry> {
    if row.status != GroupStatus::Unresolved {
        return None;
    }
    match row.triage.as_ref().and_then(|t| t.inbox) {
        Some(InboxChange::Reviewed) => None,
        Some(InboxChange::Added(date)) => Some(InboxEntry {
            reason: InboxReason::Manual,
            date,
        }),
        None => {
            let reason = match row.substatus {
                Some(Substatus::New) => InboxReason::New,
                Some(Substatus::Regressed) => InboxReason::Regression,
                Some(Substatus::Escalating) => InboxReason::Escalating,
                _ => return None,
            };
            // A regressed or escalating group always has its date; `last_seen` would only
            // stand in for one in a row that somehow lacks it.
            let fallback = if reason == InboxReason::New {
                row.first_seen
            } else {
                row.last_seen
            };
            Some(InboxEntry {
                reason,
                date: row.inbox_since().unwrap_or(fallback),
            })
        }
    }
}
