//! The parts of a serialized group that API mutations set (issue-platform.md §7.5):
//! `statusDetails`, `assignedTo`, `isBookmarked`, `hasSeen`, `priorityLockedAt`, and
//! `shareId`, `isPublic`, `isSubscribed`, `subscriptionDetails` (added by `api_expand`).

use dataflows::model::{format_iso, Assignee, GroupStatus, StatusDetails, Triage};
use dataflows::state::GroupRow;
use serde_json::{json, Map, Value};

/// Fields of [`crate::serialize::SerializedGroup`] (set there by `set_triage`).
pub struct TriageFields {
    /// Ignore conditions (`ignoreCount`, `ignoreWindow`, `ignoreUserCount`,
    /// `ignoreUserWindow`, `ignoreUntil`, `actor`) or release resolution (`inNextRelease`,
    /// `inRelease`); `{}` otherwise.
    pub status_details: Value,
    /// `{type: "user"|"team", id, name, email?}` or null.
    pub assigned_to: Option<Value>,
    /// For the requesting user (false when nobody is asking, as in dumps).
    pub is_bookmarked: bool,
    pub has_seen: bool,
    pub priority_locked_at: Option<String>,
}

impl TriageFields {
    pub fn of(row: &GroupRow, viewer: Option<&str>) -> TriageFields {
        let triage = row.triage.as_deref();
        let member = |list: Option<&Vec<std::sync::Arc<str>>>| viewer.is_some_and(|v| list.is_some_and(|l| l.iter().any(|x| &**x == v)));
        TriageFields {
            status_details: status_details_json(
                row.status,
                triage.map(|t| &t.status_details),
                triage.and_then(|t| t.ignore_until),
                triage.and_then(|t| t.status_actor.as_deref()),
            ),
            assigned_to: triage.and_then(|t| t.assignee.as_ref()).map(assignee_json),
            is_bookmarked: member(triage.map(|t| &t.bookmarked_by)),
            has_seen: member(triage.map(|t| &t.seen_by)),
            priority_locked_at: triage.and_then(|t| t.priority_locked_at).map(format_iso),
        }
    }
}

/// `statusDetails` as Sentry shows it: the ignore conditions of an ignored group, the
/// release or commit of a resolved one, `{}` otherwise.
pub fn status_details_json(status: GroupStatus, details: Option<&StatusDetails>, until: Option<i64>, actor: Option<&str>) -> Value {
    let mut map = Map::new();
    let Some(details) = details else { return Value::Object(map) };
    match status {
        GroupStatus::Ignored => {
            if let Some(until) = until {
                map.insert("ignoreUntil".into(), format_iso(until).into());
            }
            for (name, value) in [
                ("ignoreCount", details.ignore_count),
                ("ignoreWindow", details.ignore_window),
                ("ignoreUserCount", details.ignore_user_count),
                ("ignoreUserWindow", details.ignore_user_window),
            ] {
                if let Some(v) = value {
                    map.insert(name.into(), v.into());
                }
            }
            if details.until_escalating {
                map.insert("ignoreUntilEscalating".into(), true.into());
            }
        }
        GroupStatus::Resolved => {
            if details.in_next_release {
                map.insert("inNextRelease".into(), true.into());
            }
            if details.in_upcoming_release {
                map.insert("inUpcomingRelease".into(), true.into());
            }
            if let Some(release) = &details.in_release {
                map.insert("inRelease".into(), release.to_string().into());
            }
            if let Some(version) = &details.in_future_release {
                map.insert("inFutureRelease".into(), version.to_string().into());
            }
            if let Some(commit) = &details.in_commit {
                // Sentry's commit shape, as far as it is known: no message, author or date.
                map.insert(
                    "inCommit".into(),
                    json!({ "id": &*commit.commit, "repository": { "name": &*commit.repository } }),
                );
            }
        }
        _ => {}
    }
    if let (false, Some(actor)) = (map.is_empty(), actor) {
        map.insert("actor".into(), json!({ "type": "user", "id": actor, "name": actor }));
    }
    Value::Object(map)
}

pub fn assignee_json(assignee: &Assignee) -> Value {
    match assignee {
        Assignee::User(id) => {
            let mut value = json!({ "type": "user", "id": &**id, "name": &**id });
            if id.contains('@') {
                value["email"] = (&**id).into();
            }
            value
        }
        Assignee::Team(id) => json!({ "type": "team", "id": &**id, "name": &**id }),
    }
}

/// `shareId`: 32 hex digits, like Sentry's share UUIDs.
pub fn share_id_json(share_id: Option<u128>) -> Value {
    share_id.map_or(Value::Null, |id| format!("{id:032x}").into())
}

/// `(isSubscribed, subscriptionDetails)` for `viewer`: an active subscription gives its
/// reason; none (or an inactive one) gives `(false, null)`, Sentry's value for a user whose
/// workflow notifications are "only participating" (the default).
pub fn subscription_json(triage: Option<&Triage>, viewer: &str) -> (bool, Value) {
    let subscription = triage.and_then(|t| t.subscriptions.iter().find(|s| &*s.user == viewer));
    match subscription {
        Some(s) if s.active => (true, json!({ "reason": s.reason.api_name() })),
        _ => (false, Value::Null),
    }
}
