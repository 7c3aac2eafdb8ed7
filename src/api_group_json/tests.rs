//! The writer against the `serde_json::Value` tree it replaced (kept here as the reference):
//! the same bytes for groups with and without facets, users, environments, releases,
//! triage state and event metadata, under every `collapse` and a range of `expand`, stats,
//! windows, environments and queries.

use std::sync::Arc;

use dataflows::facets::Facet;
use dataflows::model::{format_iso, symbol_of, GroupStatus, Level, Micros, Priority, Substatus};
use dataflows::state::{EventGroup, GroupKey, GroupRow, RowTexts};
use dataflows::views::{Activity, GroupView, IssueViews};
use dataflows::window::{GroupHours, Select, Window, HOUR_MICROS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use crate::api_expand::Expand;
use crate::api_window::{facet_accepted, windowed, Scope, Windowed};
use crate::config::Catalog;
use crate::list_params::{Collapse, StatsSpec};
use crate::search::IssueQuery;
use crate::serialize::serialize_group;
use crate::serialize_triage::{share_id_json, subscription_json, TriageFields};
use crate::test_support::random_triage;

// ---- The reference: the group JSON as a `serde_json::Value` tree (before session 7). ----

use super::write_group_json;

fn stats_value(spec: &StatsSpec, views: &IssueViews, hours: &GroupHours, row: &GroupRow, window: Window) -> Value {
    let buckets = super::stats_buckets(spec, views, hours, row, window);
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

/// The group's JSON for the list and details endpoints.
fn reference_group_json(views: &IssueViews, catalog: &Catalog, key: GroupKey, view: &GroupView, row: &GroupRow, scope: &Scope) -> Value {
    let hours = scope.hours(views, key, view);
    let in_window = windowed(views, &hours, row, scope.window);
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
        add_fields(
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
            object.insert("stats".into(), stats_value(spec, views, &hours, row, scope.window));
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
            let accept = |id: u64| facet_accepted(views, scope, id);
            let hours = match &scope.filtered_by {
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
            let mut map = seen(within.as_ref());
            let stats = match &scope.stats {
                Some(spec) => stats_value(spec, views, &hours, row, window),
                None => Value::Null,
            };
            map.insert("stats".into(), stats);
            Value::Object(map)
        });
        object.insert("filtered".into(), filtered.unwrap_or(Value::Null));
    }
    Value::Object(object)
}

/// Adds the §7.5 fields the dump does not carry: sharing and `viewer`'s subscription (set by
/// `PUT isPublic`/`isSubscribed`), no comments, annotations, logger or permalink, the
/// project's platform, `isUnhandled` (unless collapsed: any unhandled event seen), and the `expand`ed fields.
fn add_fields(
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
        object.insert("inbox".into(), crate::api_expand::inbox_json(row));
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

// ---- The comparison. ----

const NOW: Micros = 1_700_000_000_000_000;

fn catalog() -> Catalog {
    let text = r#"
        [[organizations]]
        slug = "sentry"
        projects = [{ id = 1, slug = "web", platform = "python" }, { id = 2, slug = "api\"x" }]
    "#;
    Catalog::from_config(toml::from_str(text).expect("config")).expect("catalog")
}

/// A group with occurrences of random facets over a few days (in `views`), and its row.
fn add_group(views: &mut IssueViews, rng: &mut StdRng, key: GroupKey, seq: u64) -> Arc<GroupRow> {
    let environments = [None, Some(symbol_of("production")), Some(symbol_of("staging"))];
    let releases = [None, Some(symbol_of("1.0")), Some(symbol_of("2.0"))];
    let levels = [Level::Error, Level::Warning, Level::Info];
    let facets: Vec<Facet> = (0..rng.random_range(1..4))
        .map(|_| Facet {
            environment: environments[rng.random_range(0..3)],
            release: releases[rng.random_range(0..3)],
            level: levels[rng.random_range(0..3)],
            tags: None,
        })
        .collect();
    let last_hour = (NOW / HOUR_MICROS) as u32 - rng.random_range(0..30);
    let first_hour = last_hour - rng.random_range(0..80);
    let occurrences = rng.random_range(1..40u64);
    let mut activity = Vec::new();
    let mut users = Vec::new();
    for i in 0..occurrences {
        let hour = match i {
            0 => first_hour,
            1 => last_hour,
            _ => rng.random_range(first_hour..=last_hour),
        };
        let facet = facets[rng.random_range(0..facets.len())];
        activity.push((Activity::occurrences(key, facet, hour), seq, 1));
        let user = if rng.random_bool(0.6) { rng.random_range(1..6u64) } else { 0 };
        users.push(((key, hour, rng.random_range(0..3600u32), facet.id(), user), seq, 1));
    }
    views.apply_activity(activity);
    views.apply_details(users);
    views.apply_ids(vec![((key, seq + 1), seq, 1)]);
    let status = [GroupStatus::Unresolved, GroupStatus::Resolved, GroupStatus::Ignored][rng.random_range(0..3)];
    let metadata = r#"{"type":"ValueError","value":"bad \"x\"","filename":"a.py","title":"t"}"#;
    let row = Arc::new(GroupRow {
        type_id: [4001, 1, 1001][rng.random_range(0..3)],
        status,
        substatus: (status == GroupStatus::Unresolved).then_some(Substatus::Ongoing),
        priority: [Priority::Low, Priority::Medium, Priority::High][rng.random_range(0..3)],
        texts: RowTexts::new("Monitor \"failure\" é\u{1}", "sub", &format!("job-{}", rng.random_range(0..50))),
        level: levels[rng.random_range(0..3)],
        metadata_priority: Priority::High,
        first_seen: i64::from(first_hour) * HOUR_MICROS + rng.random_range(0..HOUR_MICROS),
        last_seen: i64::from(last_hour) * HOUR_MICROS + HOUR_MICROS - 1 - rng.random_range(0..HOUR_MICROS / 2),
        times_seen: occurrences,
        user_count: 3,
        first_release: releases[rng.random_range(0..3)],
        last_release: releases[rng.random_range(0..3)],
        created_seq: seq,
        unhandled: rng.random_bool(0.3),
        event_group: rng.random_bool(0.3).then(|| {
            Arc::new(EventGroup {
                metadata: rng.random_bool(0.8).then(|| metadata.into()),
                hashes: Vec::new(),
            })
        }),
        triage: random_triage(rng, status, NOW),
        ..GroupRow::sample()
    });
    views.apply_groups(vec![((key, row.clone()), seq, 1)]);
    row
}

#[test]
fn the_writer_writes_the_bytes_of_the_value_tree() {
    let mut rng = StdRng::seed_from_u64(7);
    let catalog = catalog();
    let mut views = IssueViews::default();
    for name in ["production", "staging", "1.0", "2.0"] {
        views.symbols.insert(symbol_of(name), name.to_string());
    }
    let groups: Vec<(GroupKey, Arc<GroupRow>)> = (0..60u64)
        .map(|i| {
            let key = GroupKey {
                project: 1 + i % 3,
                short_id: i as u32 + 1,
            };
            (key, add_group(&mut views, &mut rng, key, i))
        })
        .collect();
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_micros(NOW as u64);
    let queries = [
        "is:unresolved",
        "level:error",
        "environment:production release:1.0",
        "!level:info event.timestamp:>2023-11-13T00:00:00",
        "release:2.0 level:[error, warning]",
    ];
    let windows = [
        Window::ALL,
        Window {
            start: NOW - 40 * HOUR_MICROS,
            end: NOW - 10 * HOUR_MICROS,
        },
    ];
    let stats = [
        None,
        Some(StatsSpec {
            key: "24h",
            start: NOW / 1_000_000 / 3600 * 3600 - 23 * 3600,
            size: 3600,
            count: 24,
        }),
        Some(StatsSpec {
            key: "14d",
            start: NOW / 1_000_000 / 86_400 * 86_400 - 13 * 86_400,
            size: 86_400,
            count: 14,
        }),
    ];
    let mut compared = 0;
    for case in 0..400 {
        let query = IssueQuery::parse(queries[case % queries.len()], now).expect("query");
        let environments = match rng.random_range(0..3) {
            0 => None,
            1 => Some(vec![symbol_of("production")]),
            _ => Some(vec![symbol_of("staging"), symbol_of("production")]),
        };
        let collapse = Collapse {
            base: rng.random_bool(0.2),
            stats: rng.random_bool(0.3),
            lifetime: rng.random_bool(0.3),
            filtered: rng.random_bool(0.3),
            unhandled: rng.random_bool(0.3),
        };
        let expand = Expand {
            inbox: rng.random_bool(0.5),
            owners: rng.random_bool(0.5),
            sessions: rng.random_bool(0.5),
            plugin_actions: rng.random_bool(0.5),
            plugin_issues: rng.random_bool(0.5),
            integration_issues: rng.random_bool(0.5),
            sentry_app_issues: rng.random_bool(0.5),
            latest_event_has_attachments: rng.random_bool(0.5),
        };
        let with_query = rng.random_bool(0.8).then_some(&query);
        let scope = Scope::new(
            windows[rng.random_range(0..2)],
            environments,
            stats[rng.random_range(0..3)],
            collapse,
            with_query,
        )
        .for_viewer(["alice@example.com", "bob", "anonymous"][rng.random_range(0..3)])
        .expanding(expand);
        for (key, row) in groups.iter().skip(case % 7).step_by(7) {
            let view = views.get(*key).expect("view");
            let expected = serde_json::to_vec(&reference_group_json(&views, &catalog, *key, view, row, &scope)).expect("JSON");
            let mut written = Vec::new();
            write_group_json(&mut written, &views, &catalog, *key, view, row, &scope);
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected),
                "case {case}, group {key:?}"
            );
            compared += 1;
        }
    }
    assert!(compared > 3000);
}
