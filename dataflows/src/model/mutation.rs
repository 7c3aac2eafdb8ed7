//! Bulk mutations (issue-platform.md §8) as dataflow input. The read side never writes: it
//! validates a request, resolves its target groups, and appends it to the mutation log; the
//! feeder turns each logged mutation into one record per project, applied by the ingest
//! operator in log order like any occurrence (semantics.md §6).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::status::{GroupStatus, Priority, Substatus};
use super::time::Micros;

/// A mutation of some groups of one project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MutationRecord {
    /// The groups' per-project short ids, as the request named them (order kept).
    pub short_ids: Vec<u32>,
    /// When the request was logged (wall clock): the time of `priorityLockedAt`, of an
    /// `ignoreDuration`'s start, and of window-based ignore conditions.
    pub time: Micros,
    /// Who asked (the token's user), for `hasSeen`, `isBookmarked`, `assignedTo: me` and the
    /// `actor` of status details.
    pub actor: Option<Arc<str>>,
    pub kind: MutationKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MutationKind {
    Update(GroupUpdate),
    /// The groups leave every view and their hashes are released: later occurrences of those
    /// fingerprints go through the noise gate again, into new groups.
    Delete,
    /// Like `Delete`, but the hashes keep a tombstone that drops later occurrences.
    Discard,
}

/// The fields of a PUT; absent fields leave the group as it is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupUpdate {
    pub status: Option<StatusUpdate>,
    /// Sets the priority and locks it against automatic changes.
    pub priority: Option<Priority>,
    /// `Some(None)` unassigns.
    pub assigned_to: Option<Option<Assignee>>,
    pub has_seen: Option<bool>,
    pub bookmarked: Option<bool>,
    /// `isPublic`: true gives the group a new share id (as Sentry regenerates it), false
    /// removes it.
    #[serde(default)]
    pub public: Option<bool>,
    /// `isSubscribed`, for the actor (an explicit choice: later implicit subscriptions do
    /// not change it).
    #[serde(default)]
    pub subscribed: Option<bool>,
    /// `inbox`: false marks the group reviewed (out of the inbox), true adds it.
    #[serde(default)]
    pub inbox: Option<bool>,
    /// Merge the groups into the one with the most occurrences (ties: the oldest).
    pub merge: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// Resolved, Unresolved or Ignored.
    pub status: GroupStatus,
    /// Explicit substatus; inferred when absent (§8.1).
    pub substatus: Option<Substatus>,
    pub details: StatusDetails,
}

/// `statusDetails` of a PUT, and what a group shows of it afterwards.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StatusDetails {
    pub in_next_release: bool,
    /// Like `in_next_release` (a release newer than the project's newest at the resolve),
    /// shown as `inUpcomingRelease`.
    #[serde(default)]
    pub in_upcoming_release: bool,
    /// `inFutureRelease`: a version that may not exist yet; an occurrence of it or of a newer
    /// release regresses the group (`state::releases`).
    #[serde(default)]
    pub in_future_release: Option<Arc<str>>,
    /// `inCommit`: resolved by a commit. Nothing is known of commits: any later occurrence
    /// regresses the group, as after a plain resolve.
    #[serde(default)]
    pub in_commit: Option<Commit>,
    /// The release named by `inRelease` (resolved: only occurrences of a newer release
    /// regress the group; `latest` becomes the project's newest release's name).
    pub in_release: Option<Arc<str>>,
    /// Minutes from the mutation's time (`ignoreUntil` = time + duration).
    pub ignore_duration: Option<u64>,
    pub ignore_count: Option<u64>,
    /// Minutes; with `ignore_count`: the count must be reached within this window.
    pub ignore_window: Option<u64>,
    pub ignore_user_count: Option<u64>,
    pub ignore_user_window: Option<u64>,
    pub until_escalating: bool,
}

impl StatusDetails {
    pub fn has_ignore_condition(&self) -> bool {
        self.ignore_duration.is_some() || self.ignore_count.is_some() || self.ignore_user_count.is_some()
    }

    /// Whether a resolve with these details is tied to a release (one project at a time).
    pub fn is_release_resolution(&self) -> bool {
        self.in_next_release || self.in_upcoming_release || self.in_release.is_some() || self.in_future_release.is_some()
    }
}

/// `statusDetails.inCommit` of a PUT.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Commit {
    /// The commit id (hash), as given.
    pub commit: Arc<str>,
    pub repository: Arc<str>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Assignee {
    User(Arc<str>),
    Team(Arc<str>),
}

impl Assignee {
    /// `user:<id>`, `team:<id>`, `#<team id>` (as search writes teams: a username never
    /// starts with `#`), or a bare user id, username or e-mail.
    pub fn parse(text: &str) -> Option<Assignee> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        if let Some(team) = text.strip_prefix('#') {
            return (!team.is_empty()).then(|| Assignee::Team(team.into()));
        }
        Some(match text.split_once(':') {
            Some(("team", id)) if !id.is_empty() => Assignee::Team(id.into()),
            Some(("user", id)) if !id.is_empty() => Assignee::User(id.into()),
            _ => Assignee::User(text.into()),
        })
    }
}

/// The triage state of a group: what mutations set besides status and priority. Behind one
/// pointer in the row, so groups nobody touched pay 8 bytes for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Triage {
    /// The status details of the last status mutation (cleared when the status changes by
    /// other means).
    pub status_details: StatusDetails,
    /// Absolute end of an `ignoreDuration`, for `statusDetails.ignoreUntil`.
    pub ignore_until: Option<Micros>,
    pub status_actor: Option<Arc<str>>,
    pub assignee: Option<Assignee>,
    pub bookmarked_by: Vec<Arc<str>>,
    pub seen_by: Vec<Arc<str>>,
    pub priority_locked_at: Option<Micros>,
    /// The share id while the group is public (`isPublic`).
    pub share_id: Option<u128>,
    /// Users' subscriptions, by user: explicit (`isSubscribed`) or implied by what they did.
    pub subscriptions: Vec<Subscription>,
    /// A manual inbox change that overrides the inbox derived from the substatus, until the
    /// status or substatus next changes.
    pub inbox: Option<InboxChange>,
}

/// One user's subscription to a group, as Sentry keeps it: the first reason sticks, an
/// explicit `isSubscribed` replaces it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Subscription {
    pub user: Arc<str>,
    pub reason: SubscriptionReason,
    pub active: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SubscriptionReason {
    /// `isSubscribed` (Sentry's reason "unknown").
    Explicit,
    /// Bookmarked the group.
    Bookmarked,
    /// Was assigned the group.
    Assigned,
}

impl SubscriptionReason {
    /// `subscriptionDetails.reason`.
    pub fn api_name(self) -> &'static str {
        match self {
            SubscriptionReason::Explicit => "unknown",
            SubscriptionReason::Bookmarked => "bookmarked",
            SubscriptionReason::Assigned => "assigned",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum InboxChange {
    /// `inbox: false`: marked reviewed.
    Reviewed,
    /// `inbox: true` at this time (Sentry's reason "manual").
    Added(Micros),
}

impl Triage {
    pub fn is_empty(&self) -> bool {
        *self == Triage::default()
    }
}

/// One line of a mutation block: the mutation of one project's groups.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MutationLine {
    pub project: u64,
    /// The mutation log entry's number (unique; the record's id).
    pub entry: u64,
    pub mutation: MutationRecord,
}

impl MutationLine {
    pub fn decode(line: &[u8], seq: super::Seq) -> Result<super::Record, String> {
        let line: MutationLine = serde_json::from_slice(line).map_err(|e| format!("invalid mutation log entry: {e}"))?;
        Ok(super::Record {
            seq,
            project: line.project,
            id: u128::from(line.entry),
            body: super::RecordBody::Mutation(Box::new(line.mutation)),
        })
    }
}
