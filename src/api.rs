//! The HTTP read side: Sentry's issues endpoints over the materialized views. It only reads.

use std::sync::{Arc, RwLock};

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use dataflows::state::{GroupKey, GroupRow};
use dataflows::views::{GroupView, IssueViews};
use serde_json::json;

use crate::api_group_json::group_value as group_json;
use crate::api_window::Scope;
use crate::config::Catalog;
use crate::list_params::{parse_environments, parse_stats, parse_window, Collapse, Params};
use crate::pipeline::Startup;
use crate::search;
use crate::serialize::SerializedGroup;
use crate::short_id::parse_short_id;

#[derive(Clone)]
pub struct AppState {
    pub views: Arc<RwLock<IssueViews>>,
    pub catalog: Arc<Catalog>,
    pub startup: Arc<Startup>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The event store, read by the events endpoints (written only by the dataflow).
    pub events: Option<Arc<dyn connectors::event_store::EventStore>>,
    /// Where PUT/DELETE send mutations (None: this process cannot order them).
    pub mutations: Option<crate::mutation_log::MutationSender>,
    /// What "now" is for windows, stats and relative dates (`--api-now`).
    pub clock: crate::list_params::ApiClock,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/api/0/organizations/{org}/issues/",
            get(crate::api_list::list_issues)
                .put(crate::api_mutations::update_issues)
                .delete(crate::api_mutations::delete_issues),
        )
        .route("/api/0/organizations/{org}/issues/{id}/", get(issue_details))
        .route("/api/0/organizations/{org}/issues-count/", get(issues_count))
        .route(
            "/api/0/organizations/{org}/issues/{id}/events/latest/",
            get(crate::api_events::latest_event),
        )
        .route(
            "/api/0/organizations/{org}/issues/{id}/events/{event_id}/",
            get(crate::api_events::event_details),
        )
        .route("/api/0/openapi.json", get(crate::openapi::openapi_json))
        // Last, so that it wraps every route above (src/auth.rs; open paths are listed there).
        .layer(axum::middleware::from_fn_with_state(
            crate::auth::Authenticator::from_catalog(&state.catalog),
            crate::auth::authenticate,
        ))
        .with_state(state)
}

#[utoipa::path(get, path = "/healthz", tag = "operations", security(()), responses((status = 200, description = "Alive", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/metrics", tag = "operations", security(()),
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4")))]
async fn metrics(State(state): State<AppState>) -> Response {
    let text = {
        let views = dataflows::views::read(&state.views);
        state.metrics.render(&views)
    };
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

pub(crate) fn error(status: StatusCode, detail: impl Into<String>) -> Response {
    (status, Json(json!({ "detail": detail.into() }))).into_response()
}

#[utoipa::path(get, path = "/readyz", tag = "operations", security(()), responses(
    (status = 200, description = "What existed at start-up is in the views", body = String),
    (status = 503, description = "Still catching up", body = String),
))]
async fn readyz(State(state): State<AppState>) -> Response {
    let views = dataflows::views::read(&state.views);
    if state.startup.is_ready(&views) {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "catching up").into_response()
    }
}

/// Parsed `cursor=value:offset:is_prev` (issue-platform.md §7.4).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cursor {
    pub value: i64,
    pub offset: usize,
    pub is_prev: bool,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Cursor> {
        let parts: Vec<&str> = text.split(':').collect();
        let [value, offset, is_prev] = parts.as_slice() else { return None };
        let value = if value.contains('.') {
            value.parse::<f64>().ok()? as i64
        } else {
            value.parse().ok()?
        };
        let is_prev = match *is_prev {
            "0" => false,
            "1" => true,
            _ => return None,
        };
        Some(Cursor {
            value,
            offset: offset.parse().ok()?,
            is_prev,
        })
    }

    pub fn format(&self) -> String {
        format!("{}:{}:{}", self.value, self.offset, u8::from(self.is_prev))
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Row {
    pub value: i64,
    pub created: u64,
    pub key: GroupKey,
}

fn descending(a: &Row, b: &Row) -> std::cmp::Ordering {
    b.value.cmp(&a.value).then(b.created.cmp(&a.created))
}

pub(crate) struct Page {
    pub rows: Vec<Row>,
    pub has_next: bool,
    pub has_prev: bool,
    pub next: Cursor,
    pub prev: Cursor,
}

/// The cursor pointing at `sorted[position]`: its value, and how many rows before it share the
/// value (Sentry's offset for ties). `sorted` must hold every row of that value before it.
fn cursor_at(sorted: &[Row], position: usize, is_prev: bool) -> Cursor {
    let value = sorted.get(position).or_else(|| sorted.last()).map_or(0, |r| r.value);
    let offset = sorted[..position.min(sorted.len())]
        .iter()
        .rev()
        .take_while(|r| r.value == value)
        .count();
    Cursor { value, offset, is_prev }
}

/// A forward page: rows at or below the cursor value, skipping `offset`; only the first
/// `offset + limit + 1` of them are ordered (top-k selection), so a page costs O(n).
pub(crate) fn next_page(rows: &mut Vec<Row>, cursor: Option<Cursor>, limit: usize) -> Page {
    let (value, offset) = cursor.map_or((i64::MAX, 0), |c| (c.value, c.offset));
    let above = rows.iter().filter(|r| r.value > value).count();
    rows.retain(|r| r.value <= value);
    let wanted = (offset + limit + 1).min(rows.len());
    if wanted > 0 && wanted < rows.len() {
        rows.select_nth_unstable_by(wanted - 1, descending);
    }
    rows.truncate(wanted);
    rows.sort_unstable_by(descending);
    let start = offset.min(rows.len());
    let end = (start + limit).min(rows.len());
    let has_next = rows.len() > end;
    Page {
        rows: rows[start..end].to_vec(),
        has_next,
        has_prev: above + start > 0,
        next: cursor_at(rows, end, false),
        prev: cursor_at(rows, start, true),
    }
}

/// A backward page: the `limit` rows just before the cursor position (full sort; rare).
pub(crate) fn previous_page(rows: &mut [Row], cursor: Cursor, limit: usize) -> Page {
    rows.sort_unstable_by(descending);
    let end = (rows.partition_point(|r| r.value > cursor.value) + cursor.offset).min(rows.len());
    let start = end.saturating_sub(limit);
    Page {
        rows: rows[start..end].to_vec(),
        has_next: end < rows.len(),
        has_prev: start > 0,
        next: cursor_at(rows, end, false),
        prev: cursor_at(rows, start, true),
    }
}

pub(crate) fn org_known(state: &AppState, org: &str) -> bool {
    state.catalog.has_organization(org)
}

/// Sentry counts at most this many groups per query (`ISSUES_COUNT_MAX_HITS_LIMIT`).
pub const ISSUES_COUNT_MAX: usize = 100;

/// `GET …/issues-count/?query=a&query=b` → `{"a": n, "b": m}`: per query, the groups the
/// list would return with that query and the request's window (`statsPeriod`, `start`/`end`,
/// default 90 days), `project`s and `environment`s, at most 100 (Sentry's cap); no query
/// parameter → `{}`.
#[utoipa::path(get, path = "/api/0/organizations/{org}/issues-count/", tag = "issues",
    params(("org" = String, Path, description = "Organization slug"), crate::openapi::IssuesCountParams),
    responses(
        (status = 200, description = "Matching issues per query (at most 100 each)", body = crate::openapi::IssueCounts),
        (status = 400, description = "Invalid query, window or stats period", body = crate::openapi::ErrorDetail),
        (status = 401, description = "No or invalid token", body = crate::openapi::ErrorDetail),
        (status = 403, description = "Missing `event:read`, or a project of another organization", body = crate::openapi::ErrorDetail),
        (status = 404, description = "Unknown organization or another organization's, or an environment the organization never saw", body = crate::openapi::ErrorDetail),
    ))]
async fn issues_count(
    State(state): State<AppState>,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
    caller: crate::auth::Caller,
) -> Response {
    let viewer = caller.user.as_deref().unwrap_or(crate::api_mutations::ANONYMOUS);
    if !org_known(&state, &org) {
        return error(StatusCode::NOT_FOUND, "The requested resource does not exist");
    }
    let params = Params::parse(raw.as_deref());
    let projects = match crate::api_list::projects_of_request(&state, &org, &params) {
        Ok(p) => p,
        Err((status, message)) => return error(status, message),
    };
    let environments = parse_environments(&params);
    let views = dataflows::views::read(&state.views);
    let now = state.clock.now(views.latest_event);
    let window = match parse_window(&params, now) {
        Ok(w) => w,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    if let Err(message) = parse_stats(&params, window, now) {
        return error(StatusCode::BAD_REQUEST, message);
    }
    if let Some(response) = crate::api_environments::unknown_environment(&views, &state.catalog, &org, &params) {
        return response;
    }
    // Relative dates use the API's clock, as the list does.
    let query_time = std::time::UNIX_EPOCH + std::time::Duration::from_micros(now.max(0) as u64);
    let mut parsed = Vec::new();
    for query in params.all("query") {
        match search::IssueQuery::parse(query, query_time) {
            Ok(search) => parsed.push((query, search.for_viewer(viewer).with_environments(environments.clone()))),
            Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }
    let in_scope = |key: GroupKey| {
        state.catalog.organization_of(key.project) == Some(org.as_str()) && projects.as_ref().is_none_or(|p| p.contains(&key.project))
    };
    let mut counts = serde_json::Map::new();
    for (query, search) in parsed {
        let scope = Scope::new(window, environments.clone(), None, Collapse::default(), Some(&search));
        let list_query = crate::list_index::ListQuery::by_date(window, &search, &scope);
        // The list's hits (exact up to 1000) with a one-row page.
        let listing = crate::list_index::list(&views, &list_query, &in_scope, None, 1, crate::list_index::Strategy::configured());
        counts.insert(query.to_string(), listing.hits.min(ISSUES_COUNT_MAX).into());
    }
    Json(serde_json::Value::Object(counts)).into_response()
}

pub(crate) fn find_group<'v>(
    views: &'v IssueViews,
    catalog: &Catalog,
    org: &str,
    id: &str,
) -> Option<(GroupKey, &'v GroupView, &'v GroupRow)> {
    let in_org = |key: GroupKey| catalog.organization_of(key.project) == Some(org);
    if let Ok(numeric) = id.parse::<u64>() {
        let view = views.by_id(numeric)?;
        let key = view.key.filter(|k| in_org(*k))?;
        return Some((key, view, view.row.as_deref()?));
    }
    let (slug, short_id) = parse_short_id(id)?;
    views.iter().find(|(key, _, _)| {
        in_org(*key) && u64::from(key.short_id) == short_id && catalog.project(key.project).is_some_and(|p| p.slug == slug)
    })
}

/// One group, with `count`, `userCount`, `firstSeen`, `lastSeen` and `stats` within the
/// request's window (`statsPeriod`, `start`/`end`, …) and `environment`s, as in the list.
#[utoipa::path(get, path = "/api/0/organizations/{org}/issues/{id}/", tag = "issues",
    params(("org" = String, Path, description = "Organization slug"), ("id" = String, Path, description = "Numeric id or short id (`PROJECT-1A`)")),
    responses(
        (status = 200, description = "The issue", body = SerializedGroup),
        (status = 401, description = "No or invalid token", body = crate::openapi::ErrorDetail),
        (status = 403, description = "Missing `event:read`", body = crate::openapi::ErrorDetail),
        (status = 404, description = "No such issue in the organization, or an unknown environment", body = crate::openapi::ErrorDetail),
    ))]
async fn issue_details(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    caller: crate::auth::Caller,
) -> Response {
    let viewer = caller.user.as_deref().unwrap_or(crate::api_mutations::ANONYMOUS);
    if !org_known(&state, &org) {
        return error(StatusCode::NOT_FOUND, "The requested resource does not exist");
    }
    let params = Params::parse(raw.as_deref());
    let views = dataflows::views::read(&state.views);
    let now = state.clock.now(views.latest_event);
    let window = match parse_window(&params, now) {
        Ok(w) => w,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let stats = match parse_stats(&params, window, now) {
        Ok(s) => s,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    if let Some(response) = crate::api_environments::unknown_environment(&views, &state.catalog, &org, &params) {
        return response;
    }
    let scope = Scope::new(window, parse_environments(&params), stats, Collapse::parse(&params), None)
        .for_viewer(viewer)
        .expanding(crate::api_expand::Expand::parse(&params));
    match find_group(&views, &state.catalog, &org, &id) {
        Some((key, view, row)) => Json(group_json(&views, &state.catalog, key, view, row, &scope)).into_response(),
        None => error(StatusCode::NOT_FOUND, "The requested resource does not exist"),
    }
}
