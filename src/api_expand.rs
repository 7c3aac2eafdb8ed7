//! `expand` of the issues endpoints (issue-platform.md §7.5): which fields a request asks
//! for beyond the group's own (written by `api_group_json`), and the inbox object.

use dataflows::model::format_iso;
use dataflows::state::{inbox_entry, GroupRow};
use serde_json::{json, Value};

use crate::list_params::Params;

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
