//! The body of a bulk `PUT`: Sentry's fields validated into a `GroupUpdate`, with Sentry's
//! field-validation messages and its substatus inference.

use std::sync::Arc;

use dataflows::model::{Assignee, Commit, GroupStatus, GroupUpdate, Priority, StatusDetails, StatusUpdate, SubscriptionReason, Substatus};
use serde_json::{json, Map, Value};

use super::{bad_request, invalid_field, Rejection, MAX_WINDOW_MINUTES};
use crate::serialize_triage::{assignee_json, status_details_json};

/// The body of a PUT, validated.
pub(super) struct Put {
    pub(super) update: GroupUpdate,
    pub(super) discard: bool,
    /// Fields to echo in the response (`status`, `priority`, …) besides merge.
    pub(super) echo: Map<String, Value>,
}

fn negative(field: &str) -> Rejection {
    invalid_field(field, "Ensure this value is greater than or equal to 0.")
}

fn uint(value: &Value, field: &str) -> Result<Option<u64>, Rejection> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) if n.as_i64().is_some_and(|i| i < 0) => Err(negative(field)),
        Value::Number(n) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| invalid_field(field, "A valid integer is required.")),
        Value::String(s) if s.trim().parse::<i64>().is_ok_and(|i| i < 0) => Err(negative(field)),
        Value::String(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid_field(field, "A valid integer is required.")),
        _ => Err(invalid_field(field, "A valid integer is required.")),
    }
}

fn boolean(value: &Value, field: &str) -> Result<bool, Rejection> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" || s == "1" => Ok(true),
        Value::String(s) if s == "false" || s == "0" => Ok(false),
        _ => Err(invalid_field(field, "Must be a valid boolean.")),
    }
}

fn parse_status_details(object: &Map<String, Value>, details: &mut StatusDetails) -> Result<(), Rejection> {
    for (name, value) in object {
        match name.as_str() {
            "inNextRelease" => details.in_next_release = boolean(value, name)?,
            "inUpcomingRelease" => details.in_upcoming_release = boolean(value, name)?,
            "inRelease" => match value {
                Value::String(s) if !s.is_empty() => details.in_release = Some(s.as_str().into()),
                _ => return Err(invalid_field("inRelease", "Release does not exist")),
            },
            "inFutureRelease" => match value {
                Value::String(s) if !s.trim().is_empty() => details.in_future_release = Some(s.trim().into()),
                _ => return Err(invalid_field("inFutureRelease", "This field may not be blank.")),
            },
            "inCommit" => details.in_commit = Some(parse_commit(value)?),
            // 0 is no condition, as in Sentry (which tests them for truth): a plain ignore.
            "ignoreDuration" | "snoozeDuration" => details.ignore_duration = uint(value, name)?.filter(|&n| n > 0),
            "ignoreCount" => details.ignore_count = uint(value, name)?.filter(|&n| n > 0),
            "ignoreWindow" => details.ignore_window = uint(value, name)?,
            "ignoreUserCount" => details.ignore_user_count = uint(value, name)?.filter(|&n| n > 0),
            "ignoreUserWindow" => details.ignore_user_window = uint(value, name)?,
            "ignoreUntilEscalating" => details.until_escalating = boolean(value, name)?,
            other => return Err(invalid_field(other, "Unknown field.")),
        }
    }
    for (field, window) in [
        ("ignoreWindow", details.ignore_window),
        ("ignoreUserWindow", details.ignore_user_window),
    ] {
        if window.is_some_and(|w| w > MAX_WINDOW_MINUTES) {
            return Err(invalid_field(
                field,
                format!("Ensure this value is less than or equal to {MAX_WINDOW_MINUTES}."),
            ));
        }
    }
    Ok(())
}

/// `inCommit: {commit, repository}`: both non-empty strings. Occurrent knows no
/// repositories, so any repository name is taken as given.
fn parse_commit(value: &Value) -> Result<Commit, Rejection> {
    let Value::Object(object) = value else {
        return Err(invalid_field("inCommit", "Invalid data. Expected a dictionary."));
    };
    let text = |field: &str| match object.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Arc::<str>::from(s.trim())),
        Some(Value::String(_)) => Err(invalid_field(field, "This field may not be blank.")),
        Some(_) => Err(invalid_field(field, "Not a valid string.")),
        None => Err(invalid_field(field, "This field is required.")),
    };
    if let Some(other) = object.keys().find(|k| *k != "commit" && *k != "repository") {
        return Err(invalid_field(other, "Unknown field."));
    }
    Ok(Commit {
        commit: text("commit")?,
        repository: text("repository")?,
    })
}

pub(super) fn parse_put(body: &Value, actor: &str) -> Result<Put, Rejection> {
    let Value::Object(fields) = body else {
        return Err(bad_request("The request body must be a JSON object"));
    };
    let mut update = GroupUpdate::default();
    let mut details = StatusDetails::default();
    let mut status: Option<GroupStatus> = None;
    let mut substatus: Option<Substatus> = None;
    let mut discard = false;
    let mut echo = Map::new();
    for (name, value) in fields {
        match name.as_str() {
            "status" => {
                let text = value.as_str().unwrap_or_default();
                status = Some(match text {
                    "resolved" => GroupStatus::Resolved,
                    "resolvedInNextRelease" => {
                        details.in_next_release = true;
                        GroupStatus::Resolved
                    }
                    "unresolved" => GroupStatus::Unresolved,
                    "ignored" | "muted" => GroupStatus::Ignored,
                    _ => return Err(invalid_field("status", format!("\"{text}\" is not a valid choice."))),
                });
            }
            "substatus" => {
                substatus = match value {
                    Value::Null => None,
                    Value::String(s) => Some(
                        Substatus::from_api_name(s).ok_or_else(|| invalid_field("substatus", format!("\"{s}\" is not a valid choice.")))?,
                    ),
                    _ => return Err(invalid_field("substatus", "Not a valid string.")),
                }
            }
            "statusDetails" => match value {
                Value::Object(object) => parse_status_details(object, &mut details)?,
                Value::Null => {}
                _ => return Err(invalid_field("statusDetails", "Invalid data. Expected a dictionary.")),
            },
            // Legacy top-level ignore fields.
            "ignoreDuration" | "snoozeDuration" | "ignoreCount" | "ignoreWindow" | "ignoreUserCount" | "ignoreUserWindow" => {
                let mut object = Map::new();
                object.insert(name.clone(), value.clone());
                parse_status_details(&object, &mut details)?;
            }
            "priority" => {
                let text = value.as_str().unwrap_or_default();
                let priority =
                    Priority::from_api_name(text).ok_or_else(|| invalid_field("priority", format!("\"{text}\" is not a valid choice.")))?;
                update.priority = Some(priority);
                echo.insert("priority".into(), priority.api_name().into());
            }
            "assignedTo" => {
                let assignee = match value {
                    Value::Null => None,
                    Value::String(s) if s.is_empty() => None,
                    Value::String(s) if s == "me" => Some(Assignee::User(actor.into())),
                    Value::String(s) => Some(Assignee::parse(s).ok_or_else(|| invalid_field("assignedTo", "Unknown actor input"))?),
                    Value::Number(n) => Some(Assignee::User(n.to_string().into())),
                    _ => return Err(invalid_field("assignedTo", "Unknown actor input")),
                };
                echo.insert("assignedTo".into(), assignee.as_ref().map_or(Value::Null, assignee_json));
                update.assigned_to = Some(assignee);
            }
            "hasSeen" => {
                let seen = boolean(value, name)?;
                update.has_seen = Some(seen);
                echo.insert("hasSeen".into(), seen.into());
            }
            "isBookmarked" => {
                let bookmarked = boolean(value, name)?;
                update.bookmarked = Some(bookmarked);
                echo.insert("isBookmarked".into(), bookmarked.into());
            }
            "isPublic" => {
                let public = boolean(value, name)?;
                update.public = Some(public);
                echo.insert("isPublic".into(), public.into());
            }
            "isSubscribed" => {
                let subscribed = boolean(value, name)?;
                update.subscribed = Some(subscribed);
                echo.insert("isSubscribed".into(), subscribed.into());
                // Sentry echoes the reason an explicit (un)subscription is stored with.
                echo.insert(
                    "subscriptionDetails".into(),
                    json!({ "reason": SubscriptionReason::Explicit.api_name() }),
                );
            }
            "inbox" => {
                let inbox = boolean(value, name)?;
                update.inbox = Some(inbox);
                echo.insert("inbox".into(), inbox.into());
            }
            // Legacy: Sentry validates it with a serializer without fields, so any object is
            // accepted and changes nothing.
            "inboxDetails" => match value {
                Value::Object(_) | Value::Null => {}
                _ => return Err(invalid_field("inboxDetails", "Invalid data. Expected a dictionary.")),
            },
            "merge" => update.merge = boolean(value, name)?,
            "discard" => discard = boolean(value, name)?,
            other => return Err(invalid_field(other, "Unknown field.")),
        }
    }
    if discard && fields.len() > 1 {
        return Err(bad_request("Discard must be the only field of the request"));
    }
    if substatus.is_some() && status.is_none() {
        return Err(invalid_field("substatus", "Setting a substatus needs a status"));
    }
    if status.is_none() && (details != StatusDetails::default()) {
        return Err(invalid_field("statusDetails", "Status details need a status"));
    }
    if let Some(status) = status {
        let fits = match (status, substatus) {
            (_, None) => true,
            (GroupStatus::Ignored, Some(s)) => matches!(s, Substatus::UntilEscalating | Substatus::UntilConditionMet | Substatus::Forever),
            (GroupStatus::Unresolved, Some(s)) => matches!(
                s,
                Substatus::Ongoing | Substatus::Escalating | Substatus::Regressed | Substatus::New
            ),
            _ => false,
        };
        if !fits {
            return Err(invalid_field(
                "substatus",
                format!("Invalid substatus for status {}", status.api_name()),
            ));
        }
        if substatus == Some(Substatus::UntilEscalating) {
            details.until_escalating = true;
        }
        // What a group shows: the inferred substatus is per group, so only an explicit one
        // is echoed.
        echo.insert("status".into(), status.api_name().into());
        echo.insert(
            "statusDetails".into(),
            status_details_json(status, Some(&details), None, Some(actor)),
        );
        if let Some(s) = substatus {
            echo.insert("substatus".into(), s.api_name().into());
        }
        if status != GroupStatus::Unresolved && update.inbox.is_none() {
            echo.insert("inbox".into(), Value::Null);
        }
        update.status = Some(StatusUpdate {
            status,
            substatus,
            details,
        });
    }
    Ok(Put { update, discard, echo })
}
