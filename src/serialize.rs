//! The serialized group (issue-platform.md §7.5, docs/semantics.md §6).

use dataflows::state::GroupRow;
use dataflows::views::IssueViews;
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::Catalog;
#[cfg(test)]
use {
    crate::serialize_triage::TriageFields,
    crate::short_id::format_short_id,
    dataflows::model::grouptype::group_type,
    dataflows::model::{format_iso, Micros},
    dataflows::state::GroupKey,
    dataflows::views::GroupView,
};

#[derive(Serialize, ToSchema)]
pub struct ProjectRef {
    pub id: String,
    pub slug: String,
}

#[derive(Serialize, ToSchema)]
pub struct Metadata {
    pub title: String,
    pub value: String,
    pub initial_priority: u8,
}

/// The issue platform's fixed shape, or an event-grouped type's own object (error events:
/// `type`, `value`, `filename`, `function`, … plus `title` and `initial_priority`).
#[derive(Serialize)]
#[serde(untagged)]
pub enum GroupMetadata {
    Platform(Metadata),
    Event(serde_json::Map<String, serde_json::Value>),
}

pub fn group_metadata(row: &GroupRow) -> GroupMetadata {
    let platform = || {
        GroupMetadata::Platform(Metadata {
            title: row.texts.title().to_string(),
            value: row.texts.subtitle().to_string(),
            initial_priority: row.metadata_priority.number(),
        })
    };
    let Some(text) = row.event_group.as_ref().and_then(|e| e.metadata.as_deref()) else {
        return platform();
    };
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.entry("title").or_insert_with(|| row.texts.title().into());
            map.insert("initial_priority".into(), row.metadata_priority.number().into());
            GroupMetadata::Event(map)
        }
        // The decoder writes objects only; anything else falls back to the fixed shape.
        _ => platform(),
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Lifetime {
    pub count: String,
    pub user_count: u64,
    pub first_seen: String,
    pub last_seen: String,
}

#[derive(Serialize, ToSchema)]
pub struct Stats {
    pub hourly: Vec<(i64, u32)>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SerializedGroup {
    pub id: String,
    pub short_id: String,
    pub title: String,
    pub culprit: String,
    pub level: &'static str,
    pub status: &'static str,
    pub substatus: Option<&'static str>,
    pub priority: &'static str,
    pub project: ProjectRef,
    #[serde(rename = "type")]
    pub event_type: &'static str,
    pub issue_type: &'static str,
    pub issue_category: &'static str,
    /// The issue platform's `{title, value, initial_priority}`, or an error group's own object.
    #[schema(value_type = Object)]
    pub metadata: GroupMetadata,
    /// Events, as a string (Sentry's type).
    pub count: String,
    pub user_count: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub lifetime: Lifetime,
    pub first_release: Option<String>,
    pub last_release: Option<String>,
    pub environments: Vec<String>,
    pub stats: Stats,
    /// See [`TriageFields`]: what API mutations set.
    #[schema(value_type = Object)]
    pub status_details: serde_json::Value,
    #[schema(value_type = Option<Object>)]
    pub assigned_to: Option<serde_json::Value>,
    pub is_bookmarked: bool,
    pub has_seen: bool,
    pub priority_locked_at: Option<String>,
}

// The reference the dump's writer (`dump.rs`) and the API's (`api_group_json.rs`) are
// tested against: only tests build a `SerializedGroup` (the OpenAPI schema names its shape).
#[cfg(test)]
impl SerializedGroup {
    /// Sets the fields API mutations decide, as `viewer` sees them (bookmarks, seen).
    pub fn set_triage(&mut self, triage: TriageFields) {
        self.status_details = triage.status_details;
        self.assigned_to = triage.assigned_to;
        self.is_bookmarked = triage.is_bookmarked;
        self.has_seen = triage.has_seen;
        self.priority_locked_at = triage.priority_locked_at;
    }
}

#[cfg(test)]
fn iso(t: Micros) -> String {
    format_iso(t)
}

#[cfg(test)]
pub fn serialize_group(views: &IssueViews, catalog: &Catalog, key: GroupKey, view: &GroupView, row: &GroupRow) -> SerializedGroup {
    let id = view.id;
    let project = catalog.project(key.project);
    let slug = project.map_or_else(|| format!("project-{}", key.project), |p| p.slug);
    let group_type = group_type(row.type_id);
    let name = |symbol: Option<u64>| symbol.and_then(|s| views.symbol_name(s)).map(str::to_owned);
    let mut environments: Vec<String> = view
        .environments
        .iter()
        .filter_map(|e| views.symbol_name(*e))
        .map(str::to_owned)
        .collect();
    environments.sort();
    let hourly = view.hourly.iter().map(|&(h, n)| (i64::from(h) * 3600, n)).collect();
    let mut group = SerializedGroup {
        id: id.to_string(),
        short_id: format_short_id(&slug, u64::from(key.short_id)),
        title: row.texts.title().to_string(),
        culprit: row.texts.culprit().to_string(),
        level: row.level.api_name(),
        status: row.status.api_name(),
        substatus: row.substatus.map(|s| s.api_name()),
        priority: row.priority.api_name(),
        project: ProjectRef {
            id: key.project.to_string(),
            slug,
        },
        // Sentry's `data.type`: "error" for groups made from error events, "generic" for
        // the issue platform's.
        event_type: if group_type.is_some_and(|t| t.is_event_grouped()) {
            "error"
        } else {
            "generic"
        },
        issue_type: group_type.map_or("unknown", |t| t.slug),
        issue_category: group_type.map_or("unknown", |t| t.category.api_name()),
        metadata: group_metadata(row),
        count: row.times_seen.to_string(),
        user_count: row.user_count,
        first_seen: iso(row.first_seen),
        last_seen: iso(row.last_seen),
        lifetime: Lifetime {
            count: row.times_seen.to_string(),
            user_count: row.user_count,
            first_seen: iso(row.first_seen),
            last_seen: iso(row.last_seen),
        },
        first_release: name(row.first_release),
        last_release: name(row.last_release),
        environments,
        stats: Stats { hourly },
        status_details: serde_json::Value::Null,
        assigned_to: None,
        is_bookmarked: false,
        has_seen: false,
        priority_locked_at: None,
    };
    group.set_triage(TriageFields::of(row, Some(crate::api_mutations::ANONYMOUS)));
    group
}

/// Groups a chunk of the dump: ~1 MB of lines at 1M groups (a few chunks are in flight).
const DUMP_CHUNK: usize = 1024;

/// Every group, one JSON line each, in numeric id order: `serialize_group`'s JSON, written
/// by `dump::write_dump_group` straight from the row and view. Chunks of groups are
/// formatted on `threads` threads (`in_order`) and written to `out` in order, one write a
/// chunk; the bytes are the same for every thread count.
pub fn dump_issues(views: &IssueViews, catalog: &Catalog, out: &mut dyn std::io::Write, threads: usize) -> std::io::Result<u64> {
    dump_in_chunks(views, catalog, out, threads, DUMP_CHUNK)
}

fn dump_in_chunks(
    views: &IssueViews,
    catalog: &Catalog,
    out: &mut dyn std::io::Write,
    threads: usize,
    chunk: usize,
) -> std::io::Result<u64> {
    in_order::format_in_order(
        views.iter_by_id(),
        threads,
        chunk,
        out,
        dump::Scratch::default,
        |scratch, line, (key, view, row)| {
            dump::write_dump_group(line, scratch, views, catalog, key, view, row);
            line.push(b'\n');
        },
    )
}

mod dump;
mod in_order;
