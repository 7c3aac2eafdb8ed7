//! The serialized group's fields of issue-platform.md §7.5 that the dump leaves out, and
//! `expand`: what Occurrent can state about sharing, subscriptions, comments and plugins
//! (it has none of these) and the inbox.

use dataflows::model::format_iso;
use dataflows::state::{inbox_entry, GroupRow};
use serde_json::{json, Map, Value};

use crate::config::Catalog;
use crate::list_params::Params;
use crate::serialize_triage::{share_id_json, subscription_json};

/// `expand` values (repeatable); unknown ones are ignored, as Sentry does.
#[derive(Clone, Copy, Debug, Default)]
pub struct Expand {
    pub inbox: bool,
    pub owners: bool,
    pub sessions: bool,
    pub plugin_actions: bool,
    pub plugin_issues: bool,
    pub integration_issues: bool,
    pub sentry_app_issues: bool,
    pub latest_event_has_attachments: bool,
}

impl Expand {
    pub fn parse(params: &Params) -> Expand {
        let values = params.all("expand");
        let has = |name: &str| values.contains(&name);
        Expand {
            inbox: has("inbox"),
            owners: has("owners"),
            sessions: has("sessions"),
            plugin_actions: has("pluginActions"),
            plugin_issues: has("pluginIssues"),
            integration_issues: has("integrationIssues"),
            sentry_app_issues: has("sentryAppIssues"),
            latest_event_has_attachments: has("latestEventHasAttachments"),
        }
    }
}

/// `{reason, reason_details, date_added}` for a group in the inbox (`is:for_review`), null
/// otherwise.
pub fn inbox_json(row: &GroupRow) -> Value {
    match inbox_entry(row) {
        Some(entry) => json!({
            "reason": entry.reason as u8,
            "reason_details": null,
            "date_added": format_iso(entry.date),
        }),
        None => Value::Null,
    }
}

/// Adds the §7.5 fields the dump does not carry: sharing and `viewer`'s subscription (set by
/// `PUT isPublic`/`isSubscribed`), no comments, annotations, logger or permalink, the
/// project's platform, `isUnhandled` (unless collapsed: any unhandled event seen), and the `expand`ed fields.
pub fn add_fields(
    object: &mut Map<String, Value>,
    catalog: &Catalog,
    project: u64,
    row: &GroupRow,
    viewer: &str,
    unhandled: bool,
    expand: Expand,
) {
    let triage = row.triage.as_deref();
    let share_id = triage.and_then(|t| t.share_id);
    object.insert("shareId".into(), share_id_json(share_id));
    object.insert("isPublic".into(), share_id.is_some().into());
    let (subscribed, details) = subscription_json(triage, viewer);
    object.insert("isSubscribed".into(), subscribed.into());
    object.insert("subscriptionDetails".into(), details);
    object.insert("numComments".into(), 0.into());
    object.insert("annotations".into(), json!([]));
    object.insert("permalink".into(), Value::Null);
    object.insert("logger".into(), Value::Null);
    object.insert("platform".into(), project_platform(catalog, project));
    if let Some(name) = object.get("project").and_then(|p| p.get("slug")).cloned() {
        if let Some(Value::Object(p)) = object.get_mut("project") {
            p.insert("name".into(), name);
            p.insert("platform".into(), project_platform(catalog, project));
        }
    }
    if unhandled {
        // Whether any of the group's events had an exception mechanism with `handled:
        // false`; issue-platform occurrences never do.
        object.insert("isUnhandled".into(), row.unhandled.into());
    }
    if expand.inbox {
        object.insert("inbox".into(), inbox_json(row));
    }
    if expand.owners {
        // No ownership rules or suspect commits: Sentry's value when there are none.
        object.insert("owners".into(), Value::Null);
    }
    if expand.sessions {
        // No release health sessions are ingested.
        object.insert("sessionCount".into(), Value::Null);
    }
    for (wanted, name) in [
        (expand.plugin_actions, "pluginActions"),
        (expand.plugin_issues, "pluginIssues"),
        (expand.integration_issues, "integrationIssues"),
        (expand.sentry_app_issues, "sentryAppIssues"),
    ] {
        if wanted {
            object.insert(name.into(), json!([]));
        }
    }
    if expand.latest_event_has_attachments {
        // Attachments are not ingested.
        object.insert("latestEventHasAttachments".into(), false.into());
    }
}

fn project_platform(catalog: &Catalog, project: u64) -> Value {
    catalog.project(project).and_then(|p| p.platform).map_or(Value::Null, Value::from)
}
