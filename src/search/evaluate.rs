//! A compiled test against one group's row and view.

use dataflows::model::grouptype::group_type;
use dataflows::model::{Assignee, Symbol};
use dataflows::state::GroupRow;
use dataflows::views::{GroupView, IssueViews};

use super::text::{any_symbol, message_matches};
use super::{Test, Windowed};
use crate::search_syntax::Operator;

pub(super) fn is_facet_test(test: &Test) -> bool {
    matches!(test, Test::Environment(_) | Test::Release(_) | Test::Level(_) | Test::Tag(..))
}

pub(super) fn compare<T: PartialOrd>(op: Operator, value: T, target: T) -> bool {
    match op {
        Operator::Eq | Operator::Ne | Operator::In | Operator::NotIn => value == target,
        Operator::Gt => value > target,
        Operator::Gte => value >= target,
        Operator::Lt => value < target,
        Operator::Lte => value <= target,
    }
}

/// A user value as search takes it: `user:<id>` or the id itself.
fn user_id(value: &str) -> &str {
    value.strip_prefix("user:").unwrap_or(value)
}

/// `assigned:value` against a group's assignee.
fn assigned_matches(assignee: Option<&Assignee>, value: &str, viewer: &str) -> bool {
    match (value, assignee) {
        ("" | "none", None) => true,
        ("me_or_none", None) => true,
        ("me" | "me_or_none", Some(Assignee::User(user))) => **user == *viewer,
        (team, Some(Assignee::Team(id))) => team.strip_prefix('#').or_else(|| team.strip_prefix("team:")) == Some(&**id),
        (user, Some(Assignee::User(id))) => user_id(user) == &**id,
        _ => false,
    }
}

/// The positive reading of a test; `!=`/`NOT IN` are applied by the caller. Negated
/// comparisons (`!timesSeen:>5`) arrive with the inverted operator.
pub(super) fn test(test: &Test, views: &IssueViews, view: &GroupView, row: &GroupRow, windowed: Option<Windowed>, viewer: &str) -> bool {
    let times_seen = windowed.map_or(row.times_seen, |w| w.times_seen);
    let last_seen = windowed.map_or(row.last_seen, |w| w.last_seen);
    match test {
        Test::Status(values) => values.contains(&(row.status as i64)),
        Test::Substatus(values) => row.substatus.is_some_and(|s| values.contains(&(s as i64))),
        Test::Unassigned(b) => row.triage.as_ref().is_none_or(|t| t.assignee.is_none()) == *b,
        Test::Linked(b) => !*b,
        Test::ForReview(b) => dataflows::state::inbox_entry(row).is_some() == *b,
        Test::AssignedTo(values) => {
            let assignee = row.triage.as_ref().and_then(|t| t.assignee.as_ref());
            values.iter().any(|v| assigned_matches(assignee, v, viewer))
        }
        Test::BookmarkedBy(values) => {
            let by: &[std::sync::Arc<str>] = row.triage.as_ref().map_or(&[], |t| &t.bookmarked_by);
            values.iter().any(|v| match v.as_str() {
                "" | "none" => by.is_empty(),
                "me" => by.iter().any(|u| **u == *viewer),
                user => by.iter().any(|u| **u == *user_id(user)),
            })
        }
        Test::SubscribedBy(values) => {
            let subscriptions = row.triage.as_ref().map_or(&[][..], |t| &t.subscriptions);
            let active = subscriptions.iter().filter(|s| s.active).map(|s| &*s.user);
            values.iter().any(|v| match v.as_str() {
                "" | "none" => active.clone().next().is_none(),
                "me" => active.clone().any(|u| u == viewer),
                user => active.clone().any(|u| u == user_id(user)),
            })
        }
        Test::Priority(values) => values.contains(&row.priority),
        Test::Category(values) => group_type(row.type_id).is_some_and(|t| values.contains(&t.category)),
        Test::Type(values) => values.contains(&row.type_id),
        Test::Level(values) => values.iter().any(|v| v.matches(row.level.api_name())),
        Test::Release(values) => any_symbol(views, &view.releases, values),
        Test::Environment(values) => any_symbol(views, &view.environments, values),
        Test::FirstRelease(values) => {
            let first: Vec<Symbol> = row.first_release.into_iter().collect();
            any_symbol(views, &first, values)
        }
        Test::Message(values) => values.iter().any(|v| message_matches(row, v)),
        // A tag belongs to occurrences, not to the group: `matches_within` decides tag
        // conditions per facet (`is_facet_test`) and never asks here.
        Test::Tag(..) => true,
        Test::TimesSeen(op, values) => values.iter().any(|v| compare(*op, times_seen as f64, *v)),
        Test::FirstSeen(op, t) => compare(*op, row.first_seen, *t),
        Test::LastSeen(op, t) => compare(*op, last_seen, *t),
        Test::Unhandled(b) => row.unhandled == *b,
    }
}
