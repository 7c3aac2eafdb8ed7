//! The group JSON of the list and details endpoints (`api_window`'s scope: windowed values,
//! `lifetime`, `filtered`, `collapse`, `expand`), written straight to bytes. Building a
//! `serde_json::Value` tree per group and serializing it was about half the CPU of a
//! 100-group page (session 6): ~40 map insertions and as many small allocations per group.
//!
//! The bytes are those `serde_json` writes for that tree: its maps are sorted by key, so
//! every object here writes its keys in byte order (the test below compares the two for
//! every `collapse` and `expand` combination).

use std::io::Write;

use dataflows::model::format_iso;
use dataflows::model::grouptype::group_type;
use dataflows::state::{GroupKey, GroupRow};
use dataflows::views::{GroupView, IssueViews};
use dataflows::window::{self, GroupHours, Select};
use serde::Serialize;

use crate::api_window::{facet_accepted, windowed, Scope, Windowed};
use crate::config::Catalog;
use crate::list_params::StatsSpec;
use crate::serialize::{group_metadata, GroupMetadata};
use crate::serialize_triage::{share_id_json, subscription_json, TriageFields};
use crate::short_id::format_short_id;

/// Writes JSON into a byte vector (which cannot fail).
fn json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(&mut *out, value);
}

/// An object's keys, written in the order given (which must be byte order).
struct Object<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Object<'o> {
    fn open(out: &'o mut Vec<u8>) -> Object<'o> {
        out.push(b'{');
        Object { out, first: true }
    }

    /// Starts the value of `key` (a plain identifier: no escaping needed).
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn raw(&mut self, key: &str, value: &[u8]) {
        self.key(key).extend_from_slice(value);
    }

    fn value<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        json(self.key(key), value);
    }

    /// A count as Sentry sends it: a string of digits.
    fn count(&mut self, key: &str, n: u64) {
        let _ = write!(self.key(key), "\"{n}\"");
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// `{count, firstSeen, lastSeen, stats, userCount}` of a window (zero and nulls when
/// empty), `stats` written by `stats`.
fn seen_object(out: &mut Vec<u8>, w: Option<&Windowed>, stats: impl FnOnce(&mut Vec<u8>)) {
    let mut object = Object::open(out);
    object.count("count", w.map_or(0, |w| w.aggregate.count));
    iso_or_null(object.key("firstSeen"), w.map(|w| w.aggregate.first_seen));
    iso_or_null(object.key("lastSeen"), w.map(|w| w.aggregate.last_seen));
    stats(object.key("stats"));
    let _ = write!(object.key("userCount"), "{}", w.map_or(0, |w| w.users));
    object.close();
}

fn iso_or_null(out: &mut Vec<u8>, t: Option<i64>) {
    match t {
        Some(t) => json(out, &format_iso(t)),
        None => out.extend_from_slice(b"null"),
    }
}

/// `{key: [[bucket start, occurrences], …]}` of the selected occurrences in `hours` within
/// `window` (`window::buckets_in`: exact to the second, as `count`).
fn stats_object(out: &mut Vec<u8>, spec: &StatsSpec, views: &IssueViews, hours: &GroupHours, row: &GroupRow, window: window::Window) {
    let mut object = Object::open(out);
    let out = object.key(spec.key);
    out.push(b'[');
    for (i, (start, n)) in stats_buckets(spec, views, hours, row, window).into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = write!(out, "[{start},{n}]");
    }
    out.push(b']');
    object.close();
}

/// The buckets of `stats_object`: the occurrences `count` counts in `window`, by bucket
/// (a window ending now leaves out what is stamped later, as `count` does).
pub(crate) fn stats_buckets(
    spec: &StatsSpec,
    views: &IssueViews,
    hours: &GroupHours,
    row: &GroupRow,
    window: window::Window,
) -> Vec<(i64, u64)> {
    window::buckets_in(views, hours, row, window, spec.buckets())
}

/// `metadata`: the fixed shape's keys in byte order, or an error group's own object (a
/// `serde_json` map, already sorted).
fn metadata(out: &mut Vec<u8>, row: &GroupRow) {
    match group_metadata(row) {
        GroupMetadata::Platform(m) => {
            let mut object = Object::open(out);
            object.value("initial_priority", &m.initial_priority);
            object.value("title", &m.title);
            object.value("value", &m.value);
            object.close();
        }
        GroupMetadata::Event(map) => json(out, &map),
    }
}

/// Appends the group's JSON (issue-platform.md §7.5) as the request's `scope` asks.
pub fn write_group_json(
    out: &mut Vec<u8>,
    views: &IssueViews,
    catalog: &Catalog,
    key: GroupKey,
    view: &GroupView,
    row: &GroupRow,
    scope: &Scope,
) {
    let hours = scope.hours(views, key, view);
    let in_window = windowed(views, &hours, row, scope.window);
    let base = !scope.collapse.base;
    let expand = scope.expand;
    let project = catalog.project(key.project);
    let slug = project
        .as_ref()
        .map_or_else(|| format!("project-{}", key.project), |p| p.slug.clone());
    let platform = project.as_ref().and_then(|p| p.platform.as_deref());
    let group_type = group_type(row.type_id);
    let triage = base.then(|| TriageFields::of(row, Some(&scope.viewer)));
    let triage_row = row.triage.as_deref();
    let name = |symbol: Option<u64>| symbol.and_then(|s| views.symbol_name(s));
    let empty = |object: &mut Object, key: &str, wanted: bool| {
        if base && wanted {
            object.raw(key, b"[]");
        }
    };

    let mut object = Object::open(out);
    empty(&mut object, "annotations", true);
    if let Some(triage) = &triage {
        object.value("assignedTo", &triage.assigned_to);
    }
    object.count("count", in_window.as_ref().map_or(0, |w| w.aggregate.count));
    if base {
        object.value("culprit", row.texts.culprit());
        let mut environments: Vec<&str> = view.environments.iter().filter_map(|e| views.symbol_name(*e)).collect();
        environments.sort_unstable();
        object.value("environments", &environments);
    }
    if !scope.collapse.filtered {
        let out = object.key("filtered");
        match scope.filtered {
            None => out.extend_from_slice(b"null"),
            Some(window) => {
                let accept = |id: u64| facet_accepted(views, scope, id);
                let hours = match scope.filtered_by.as_ref() {
                    Some(query) => {
                        let (hours, complete) = views.facet_hours(key, view, |f| query.accepts_facet(views, f));
                        GroupHours {
                            hours,
                            complete,
                            details: views.details_of(key, view),
                            select: Select::Facets(&accept),
                        }
                    }
                    None => scope.hours(views, key, view),
                };
                let within = windowed(views, &hours, row, window);
                let stats = |out: &mut Vec<u8>| match &scope.stats {
                    Some(spec) => stats_object(out, spec, views, &hours, row, window),
                    None => out.extend_from_slice(b"null"),
                };
                seen_object(out, within.as_ref(), stats);
            }
        }
    }
    if base {
        object.value("firstRelease", &name(row.first_release));
    }
    iso_or_null(object.key("firstSeen"), in_window.as_ref().map(|w| w.aggregate.first_seen));
    if let Some(triage) = &triage {
        object.value("hasSeen", &triage.has_seen);
    }
    let _ = write!(object.key("id"), "\"{}\"", view.id);
    if base && expand.inbox {
        object.value("inbox", &crate::api_expand::inbox_json(row));
    }
    empty(&mut object, "integrationIssues", expand.integration_issues);
    let share_id = triage_row.and_then(|t| t.share_id);
    if let Some(triage) = &triage {
        object.value("isBookmarked", &triage.is_bookmarked);
        object.value("isPublic", &share_id.is_some());
    }
    let subscription = base.then(|| subscription_json(triage_row, &scope.viewer));
    if let Some((subscribed, _)) = &subscription {
        object.value("isSubscribed", subscribed);
    }
    if base && !scope.collapse.unhandled {
        object.value("isUnhandled", &row.unhandled);
    }
    if base {
        object.value("issueCategory", group_type.map_or("unknown", |t| t.category.api_name()));
        object.value("issueType", group_type.map_or("unknown", |t| t.slug));
        object.value("lastRelease", &name(row.last_release));
    }
    iso_or_null(object.key("lastSeen"), in_window.as_ref().map(|w| w.aggregate.last_seen));
    if base && expand.latest_event_has_attachments {
        object.raw("latestEventHasAttachments", b"false");
    }
    if base {
        object.value("level", row.level.api_name());
    }
    if !scope.collapse.lifetime {
        let mut lifetime = Object::open(object.key("lifetime"));
        lifetime.count("count", row.times_seen);
        lifetime.value("firstSeen", &format_iso(row.first_seen));
        lifetime.value("lastSeen", &format_iso(row.last_seen));
        lifetime.raw("stats", b"null");
        lifetime.value("userCount", &row.user_count);
        lifetime.close();
    }
    if base {
        object.raw("logger", b"null");
        metadata(object.key("metadata"), row);
        object.raw("numComments", b"0");
        if expand.owners {
            object.raw("owners", b"null");
        }
        object.raw("permalink", b"null");
        object.value("platform", &platform);
    }
    empty(&mut object, "pluginActions", expand.plugin_actions);
    empty(&mut object, "pluginIssues", expand.plugin_issues);
    if let Some(triage) = &triage {
        object.value("priority", row.priority.api_name());
        object.value("priorityLockedAt", &triage.priority_locked_at);
        let mut project = Object::open(object.key("project"));
        let _ = write!(project.key("id"), "\"{}\"", key.project);
        project.value("name", &slug);
        project.value("platform", &platform);
        project.value("slug", &slug);
        project.close();
    }
    empty(&mut object, "sentryAppIssues", expand.sentry_app_issues);
    if base && expand.sessions {
        object.raw("sessionCount", b"null");
    }
    if base {
        object.value("shareId", &share_id_json(share_id));
        object.value("shortId", &format_short_id(&slug, u64::from(key.short_id)));
    }
    if !scope.collapse.stats {
        if let Some(spec) = &scope.stats {
            stats_object(object.key("stats"), spec, views, &hours, row, scope.window);
        }
    }
    if let Some(triage) = &triage {
        object.value("status", row.status.api_name());
        object.value("statusDetails", &triage.status_details);
    }
    if let Some((_, details)) = &subscription {
        object.value("subscriptionDetails", details);
    }
    if base {
        object.value("substatus", &row.substatus.map(|s| s.api_name()));
        object.value("title", row.texts.title());
        // Sentry's `data.type`: "error" for groups made from error events, "generic" for
        // the issue platform's.
        let event_type = if group_type.is_some_and(|t| t.is_event_grouped()) {
            "error"
        } else {
            "generic"
        };
        object.value("type", event_type);
    }
    let _ = write!(object.key("userCount"), "{}", in_window.as_ref().map_or(0, |w| w.users));
    object.close();
}

/// The group's JSON as a value (for responses that add to it).
pub fn group_value(
    views: &IssueViews,
    catalog: &Catalog,
    key: GroupKey,
    view: &GroupView,
    row: &GroupRow,
    scope: &Scope,
) -> serde_json::Value {
    let mut out = Vec::with_capacity(2048);
    write_group_json(&mut out, views, catalog, key, view, row, scope);
    serde_json::from_slice(&out).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests;
