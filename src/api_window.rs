//! Groups as the issues endpoints serialize them (issue-platform.md §7.5): `count`,
//! `userCount`, `firstSeen`, `lastSeen` and `stats` within the request's window and
//! environments, `lifetime` over all time, `filtered` under the query's event-level
//! conditions, and `collapse`. The dump (`serialize::serialize_group`) stays all-time.

use dataflows::model::{format_iso, Micros, Symbol};
use dataflows::state::{GroupKey, GroupRow};
use dataflows::views::{GroupView, IssueViews};
use dataflows::window::{self, Aggregate, GroupHours, Window};
use serde_json::{json, Map, Value};

use crate::config::Catalog;
use crate::list_params::{Collapse, StatsSpec};
use crate::search::IssueQuery;
use crate::serialize::serialize_group;
use crate::serialize_triage::TriageFields;

/// What the request asks of every serialized group.
pub struct Scope {
    pub window: Window,
    /// `environment=` values; None: every occurrence counts.
    pub environments: Option<Vec<Symbol>>,
    pub stats: Option<StatsSpec>,
    pub collapse: Collapse,
    /// The window narrowed by the query's `event.timestamp` bounds, when the query has
    /// event-level conditions (else `filtered` is null).
    pub filtered: Option<Window>,
    /// The query, when its `environment:`, `release:` or `level:` conditions decide which
    /// occurrences `filtered` counts (else it counts the requested environments').
    filtered_by: Option<IssueQuery>,
    /// Who asks: `isBookmarked` and `hasSeen` are theirs.
    pub viewer: String,
    /// `expand` values.
    pub expand: crate::api_expand::Expand,
}

impl Scope {
    pub fn new(
        window: Window,
        environments: Option<Vec<Symbol>>,
        stats: Option<StatsSpec>,
        collapse: Collapse,
        query: Option<&IssueQuery>,
    ) -> Scope {
        let filtered = query.filter(|q| q.has_event_conditions()).map(|q| match q.date_range() {
            Some((start, end)) => window.intersect(Window { start, end }),
            None => window,
        });
        let filtered_by = query
            .filter(|q| q.has_facet_conditions())
            .map(|q| q.clone().with_environments(environments.clone()));
        Scope {
            window,
            environments,
            stats,
            collapse,
            filtered,
            filtered_by,
            viewer: crate::api_mutations::ANONYMOUS.to_string(),
            expand: crate::api_expand::Expand::default(),
        }
    }

    pub fn expanding(mut self, expand: crate::api_expand::Expand) -> Scope {
        self.expand = expand;
        self
    }

    pub fn for_viewer(mut self, viewer: &str) -> Scope {
        self.viewer = viewer.to_string();
        self
    }

    /// The group's occurrences per hour in the requested environments.
    pub fn hours<'v>(&self, views: &'v IssueViews, key: GroupKey, view: &'v GroupView) -> GroupHours<'v> {
        window::hours_in(views, key, view, self.environments.as_deref())
    }
}

/// A group's values within a window: None when it has no occurrence there.
pub struct Windowed {
    pub aggregate: Aggregate,
    pub users: u64,
}

pub fn windowed(views: &IssueViews, key: GroupKey, hours: &GroupHours, row: &GroupRow, window: Window) -> Option<Windowed> {
    let aggregate = window::aggregate_group(hours, row, window)?;
    Some(Windowed {
        users: window::users_of(views, key, hours, row, &aggregate),
        aggregate,
    })
}

pub use dataflows::views::trends_score;

fn stats_value(spec: &StatsSpec, hours: &[(u32, u32)]) -> Value {
    let buckets = window::buckets(hours, spec.start, spec.size, spec.count);
    json!({ spec.key: buckets })
}

/// `{count, userCount, firstSeen, lastSeen}` of a window (zero and nulls when empty).
fn seen(w: Option<&Windowed>) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("count".into(), w.map_or(0, |w| w.aggregate.count).to_string().into());
    map.insert("userCount".into(), w.map_or(0, |w| w.users).into());
    map.insert(
        "firstSeen".into(),
        w.map_or(Value::Null, |w| format_iso(w.aggregate.first_seen).into()),
    );
    map.insert(
        "lastSeen".into(),
        w.map_or(Value::Null, |w| format_iso(w.aggregate.last_seen).into()),
    );
    map
}

/// The hours within `window` only (for `filtered` stats under `event.timestamp` bounds).
fn hours_within(hours: &[(u32, u32)], window: Window) -> Vec<(u32, u32)> {
    let hour = window::HOUR_MICROS;
    hours
        .iter()
        .copied()
        .filter(|&(h, _)| {
            let start = Micros::from(h) * hour;
            start <= window.end && start + hour > window.start
        })
        .collect()
}

/// The group's JSON for the list and details endpoints.
pub fn group_json(views: &IssueViews, catalog: &Catalog, key: GroupKey, view: &GroupView, row: &GroupRow, scope: &Scope) -> Value {
    let hours = scope.hours(views, key, view);
    let in_window = windowed(views, key, &hours, row, scope.window);
    let mut group = serialize_group(views, catalog, key, view, row);
    group.set_triage(TriageFields::of(row, Some(&scope.viewer)));
    // The dump's all-time `stats.hourly` gives way to the requested buckets: dropped before
    // it becomes JSON values (a busy group has thousands of hours, three values each).
    group.stats.hourly = Vec::new();
    let mut base = match serde_json::to_value(group) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    base.remove("stats");
    // `lifetime` is the serialized all-time values, with `stats: null`.
    let lifetime = match base.get_mut("lifetime") {
        Some(Value::Object(map)) if !scope.collapse.lifetime => Some(std::mem::take(map)),
        _ if !scope.collapse.lifetime => Some(Map::new()),
        _ => None,
    };
    let mut object = if scope.collapse.base {
        let mut only_id = Map::new();
        only_id.insert("id".into(), base.remove("id").unwrap_or(Value::Null));
        only_id
    } else {
        base
    };
    object.extend(seen(in_window.as_ref()));
    if !scope.collapse.base {
        crate::api_expand::add_fields(
            &mut object,
            catalog,
            key.project,
            row,
            &scope.viewer,
            !scope.collapse.unhandled,
            scope.expand,
        );
    }
    if !scope.collapse.stats {
        if let Some(spec) = &scope.stats {
            object.insert("stats".into(), stats_value(spec, &hours.hours));
        }
    }
    match lifetime {
        Some(mut lifetime) => {
            lifetime.insert("stats".into(), Value::Null);
            object.insert("lifetime".into(), Value::Object(lifetime));
        }
        None => {
            object.remove("lifetime");
        }
    }
    if !scope.collapse.filtered {
        let filtered = scope.filtered.map(|window| {
            let hours = match &scope.filtered_by {
                Some(query) => {
                    let (hours, complete) = views.facet_hours(key, view, |f| query.accepts_facet(views, f));
                    GroupHours { hours, complete }
                }
                None => scope.hours(views, key, view),
            };
            let within = windowed(views, key, &hours, row, window);
            let mut map = seen(within.as_ref());
            let stats = match &scope.stats {
                Some(spec) => stats_value(spec, &hours_within(&hours.hours, window)),
                None => Value::Null,
            };
            map.insert("stats".into(), stats);
            Value::Object(map)
        });
        object.insert("filtered".into(), filtered.unwrap_or(Value::Null));
    }
    Value::Object(object)
}
