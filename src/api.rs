//! The HTTP read side: Sentry's issues endpoints over the materialized views. It only reads.

use std::sync::{Arc, RwLock};

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use dataflows::state::{GroupKey, GroupRow};
use dataflows::views::{GroupView, IssueViews};
use serde_json::json;

use crate::config::Catalog;
use crate::pipeline::Startup;
use crate::search;
use crate::serialize::{serialize_group, SerializedGroup};
use crate::serialize_triage::TriageFields;
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
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/api/0/organizations/{org}/issues/",
            get(list_issues)
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
        let views = state.views.read().unwrap_or_else(|p| p.into_inner());
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
    let views = state.views.read().unwrap_or_else(|p| p.into_inner());
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

    fn format(&self) -> String {
        format!("{}:{}:{}", self.value, self.offset, u8::from(self.is_prev))
    }
}

fn sort_value(sort: &str, row: &GroupRow) -> i64 {
    match sort {
        "new" => row.first_seen / 1000,
        "freq" => row.times_seen as i64,
        "user" => row.user_count as i64,
        _ => row.last_seen / 1000,
    }
}

#[derive(Clone, Copy, Debug)]
struct Row {
    value: i64,
    created: u64,
    key: GroupKey,
}

fn descending(a: &Row, b: &Row) -> std::cmp::Ordering {
    b.value.cmp(&a.value).then(b.created.cmp(&a.created))
}

struct Page {
    rows: Vec<Row>,
    has_next: bool,
    has_prev: bool,
    next: Cursor,
    prev: Cursor,
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
fn next_page(rows: &mut Vec<Row>, cursor: Option<Cursor>, limit: usize) -> Page {
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
fn previous_page(rows: &mut [Row], cursor: Cursor, limit: usize) -> Page {
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

/// `GET …/issues-count/?query=a&query=b` → `{"a": n, "b": m}`: matching groups per query
/// (exact counts; no query parameter → `{}`).
#[utoipa::path(get, path = "/api/0/organizations/{org}/issues-count/", tag = "issues",
    params(("org" = String, Path, description = "Organization slug"), crate::openapi::IssuesCountParams),
    responses(
        (status = 200, description = "Matching issues per query", body = crate::openapi::IssueCounts),
        (status = 400, description = "Invalid query", body = crate::openapi::ErrorDetail),
        (status = 401, description = "No or invalid token", body = crate::openapi::ErrorDetail),
        (status = 403, description = "Missing `event:read`", body = crate::openapi::ErrorDetail),
        (status = 404, description = "Unknown organization or another organization's", body = crate::openapi::ErrorDetail),
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
    let queries: Vec<String> = raw
        .as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k == "query")
                .map(|(_, v)| v.into_owned())
                .collect()
        })
        .unwrap_or_default();
    let now = std::time::SystemTime::now();
    let mut parsed = Vec::with_capacity(queries.len());
    for query in &queries {
        match search::IssueQuery::parse(query, now) {
            Ok(search) => parsed.push((query, search.for_viewer(viewer))),
            Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }
    let views = state.views.read().unwrap_or_else(|p| p.into_inner());
    let mut counts = serde_json::Map::new();
    for (query, search) in parsed {
        let count = views
            .iter()
            .filter(|(key, view, row)| {
                state.catalog.organization_of(key.project) == Some(org.as_str()) && search.matches(&views, view, row)
            })
            .count();
        counts.insert(query.clone(), count.into());
    }
    Json(serde_json::Value::Object(counts)).into_response()
}

/// `GET …/issues/`: one page of the organization's issues (issue-platform.md §7).
#[utoipa::path(get, path = "/api/0/organizations/{org}/issues/", tag = "issues",
    params(("org" = String, Path, description = "Organization slug"), crate::openapi::IssuesListParams),
    responses(
        (status = 200, description = "A page of issues", body = Vec<SerializedGroup>, headers(
            ("Link" = String, description = "`<url>; rel=\"previous\"; results=\"true|false\"; cursor=\"…\", <url>; rel=\"next\"; …`"),
            ("X-Hits" = u64, description = "Matching issues, at most 1000"),
            ("X-Max-Hits" = u64, description = "1000"),
        )),
        (status = 400, description = "Invalid query, sort, limit or cursor", body = crate::openapi::ErrorDetail),
        (status = 401, description = "No or invalid token", body = crate::openapi::ErrorDetail),
        (status = 403, description = "Missing `event:read`", body = crate::openapi::ErrorDetail),
        (status = 404, description = "Unknown organization or another organization's", body = crate::openapi::ErrorDetail),
    ))]
async fn list_issues(
    State(state): State<AppState>,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
    caller: crate::auth::Caller,
    headers: HeaderMap,
) -> Response {
    let viewer = caller.user.as_deref().unwrap_or(crate::api_mutations::ANONYMOUS);
    if !org_known(&state, &org) {
        return error(StatusCode::NOT_FOUND, "The requested resource does not exist");
    }
    let params: Vec<(String, String)> = raw
        .as_deref()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let query = param("query").unwrap_or(search::DEFAULT_QUERY);
    let search = match search::IssueQuery::parse(query, std::time::SystemTime::now()) {
        Ok(search) => search.for_viewer(viewer),
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let sort = param("sort").unwrap_or("date");
    if !["date", "new", "freq", "user"].contains(&sort) {
        return error(StatusCode::BAD_REQUEST, format!("Sort key '{sort}' not supported."));
    }
    let limit = match param("limit").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) => n.clamp(1, 100),
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "invalid limit"),
    };
    let cursor = match param("cursor").map(Cursor::parse) {
        None => None,
        Some(Some(c)) => Some(c),
        Some(None) => return error(StatusCode::BAD_REQUEST, "Invalid cursor parameter."),
    };

    let views = state.views.read().unwrap_or_else(|p| p.into_inner());
    // Order: sort value descending, then creation order descending, which is numeric id order.
    let mut rows: Vec<Row> = views
        .iter()
        .filter(|(key, view, row)| state.catalog.organization_of(key.project) == Some(org.as_str()) && search.matches(&views, view, row))
        .map(|(key, _, row)| Row {
            value: sort_value(sort, row),
            created: row.created_seq,
            key,
        })
        .collect();
    let hits = rows.len();
    let page = match cursor {
        Some(c) if c.is_prev => previous_page(&mut rows, c, limit),
        _ => next_page(&mut rows, cursor, limit),
    };
    let has_next = page.has_next;
    let has_prev = page.has_prev;
    let next = page.next;
    let prev = page.prev;
    let body: Vec<_> = page
        .rows
        .iter()
        .filter_map(|r| {
            let view = views.get(r.key)?;
            let row = view.row.as_deref()?;
            let mut group = serialize_group(&views, &state.catalog, r.key, view, row);
            group.set_triage(TriageFields::of(row, Some(viewer)));
            Some(group)
        })
        .collect();
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let base_query: String = params
        .iter()
        .filter(|(k, _)| k != "cursor")
        .map(|(k, v)| format!("{}={}", k, url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()))
        .collect::<Vec<_>>()
        .join("&");
    let url = format!("http://{host}/api/0/organizations/{org}/issues/?{base_query}");
    let link = format!(
        "<{url}&cursor={p}>; rel=\"previous\"; results=\"{hp}\"; cursor=\"{p}\", <{url}&cursor={n}>; rel=\"next\"; results=\"{hn}\"; cursor=\"{n}\"",
        p = prev.format(),
        n = next.format(),
        hp = has_prev,
        hn = has_next,
    );
    let shown_hits = if cursor.is_none() && !has_next { body.len() } else { hits };
    let mut response = Json(body).into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&link) {
        h.insert("Link", v);
    }
    h.insert("X-Hits", HeaderValue::from(shown_hits.min(1000)));
    h.insert("X-Max-Hits", HeaderValue::from(1000));
    response
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

#[utoipa::path(get, path = "/api/0/organizations/{org}/issues/{id}/", tag = "issues",
    params(("org" = String, Path, description = "Organization slug"), ("id" = String, Path, description = "Numeric id or short id (`PROJECT-1A`)")),
    responses(
        (status = 200, description = "The issue", body = SerializedGroup),
        (status = 401, description = "No or invalid token", body = crate::openapi::ErrorDetail),
        (status = 403, description = "Missing `event:read`", body = crate::openapi::ErrorDetail),
        (status = 404, description = "No such issue in the organization", body = crate::openapi::ErrorDetail),
    ))]
async fn issue_details(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    Query(_q): Query<Vec<(String, String)>>,
    caller: crate::auth::Caller,
) -> Response {
    let viewer = caller.user.as_deref().unwrap_or(crate::api_mutations::ANONYMOUS);
    if !org_known(&state, &org) {
        return error(StatusCode::NOT_FOUND, "The requested resource does not exist");
    }
    let views = state.views.read().unwrap_or_else(|p| p.into_inner());
    match find_group(&views, &state.catalog, &org, &id) {
        Some((key, view, row)) => {
            let mut group = serialize_group(&views, &state.catalog, key, view, row);
            group.set_triage(TriageFields::of(row, Some(viewer)));
            Json(group).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "The requested resource does not exist"),
    }
}
