//! The HTTP read side: Sentry's issues endpoints over the materialized views. It only reads.

use std::sync::{Arc, RwLock};

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use dataflows::state::{GroupKey, GroupRow};
use dataflows::views::IssueViews;
use serde_json::json;

use crate::config::Catalog;
use crate::pipeline::Startup;
use crate::search;
use crate::serialize::serialize_group;
use crate::short_id::parse_short_id;

#[derive(Clone)]
pub struct AppState {
    pub views: Arc<RwLock<IssueViews>>,
    pub catalog: Arc<Catalog>,
    pub startup: Arc<Startup>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/api/0/organizations/{org}/issues/", get(list_issues))
        .route("/api/0/organizations/{org}/issues/{id}/", get(issue_details))
        .with_state(state)
}

fn error(status: StatusCode, detail: impl Into<String>) -> Response {
    (status, Json(json!({ "detail": detail.into() }))).into_response()
}

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

fn org_known(state: &AppState, org: &str) -> bool {
    state.catalog.has_organization(org)
}

fn group_in_org(state: &AppState, org: &str, key: GroupKey) -> bool {
    state.catalog.project(key.project).is_some_and(|p| p.organization == org)
}

async fn list_issues(State(state): State<AppState>, Path(org): Path<String>, RawQuery(raw): RawQuery, headers: HeaderMap) -> Response {
    if !org_known(&state, &org) {
        return error(StatusCode::NOT_FOUND, "The requested resource does not exist");
    }
    let params: Vec<(String, String)> = raw
        .as_deref()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let query = param("query").unwrap_or(search::DEFAULT_QUERY);
    let terms = match search::parse(query) {
        Ok(terms) => terms,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.0),
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
    // (sort value, id) descending: ties broken by id so the order is total.
    let mut rows: Vec<(i64, u64, GroupKey)> = views
        .by_id
        .iter()
        .filter(|(_, key)| group_in_org(&state, &org, **key))
        .filter_map(|(&id, key)| views.groups.get(key).map(|row| (id, *key, row)))
        .filter(|(_, _, row)| search::matches(&terms, row))
        .map(|(id, key, row)| (sort_value(sort, row), id, key))
        .collect();
    rows.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    let hits = rows.len();

    // Sentry's value cursor: rows at or below `value`, skipping `offset` rows already shown.
    let start = match cursor {
        Some(c) if !c.is_prev => rows.partition_point(|r| r.0 > c.value) + c.offset,
        Some(c) => {
            // Previous page: the `limit` rows just above the cursor position.
            let end = rows.partition_point(|r| r.0 > c.value) + c.offset;
            end.saturating_sub(limit)
        }
        None => 0,
    }
    .min(rows.len());
    let page = &rows[start..(start + limit).min(rows.len())];
    let has_next = start + page.len() < rows.len();
    let has_prev = start > 0;
    let cursor_at = |position: usize, is_prev: bool| -> Cursor {
        // Value of the row at `position`, and how many rows before it share that value.
        let value = rows.get(position).map_or(0, |r| r.0);
        let offset = rows[..position].iter().rev().take_while(|r| r.0 == value).count();
        Cursor { value, offset, is_prev }
    };
    let next = if has_next {
        cursor_at(start + page.len(), false)
    } else {
        cursor_at(start + page.len().saturating_sub(1), false)
    };
    let prev = cursor_at(start, true);

    let body: Vec<_> = page
        .iter()
        .filter_map(|(_, id, key)| {
            views
                .groups
                .get(key)
                .map(|row| serialize_group(&views, &state.catalog, *id, *key, row))
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

fn find_group(views: &IssueViews, catalog: &Catalog, org: &str, id: &str) -> Option<(u64, GroupKey)> {
    if let Ok(numeric) = id.parse::<u64>() {
        let key = *views.by_id.get(&numeric)?;
        return catalog
            .project(key.project)
            .filter(|p| p.organization == org)
            .map(|_| (numeric, key));
    }
    let (slug, short_id) = parse_short_id(id)?;
    views.ids.iter().find_map(|(key, &numeric)| {
        let project = catalog.project(key.project)?;
        (project.organization == org && project.slug == slug && u64::from(key.short_id) == short_id).then_some((numeric, *key))
    })
}

async fn issue_details(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    Query(_q): Query<Vec<(String, String)>>,
) -> Response {
    if !org_known(&state, &org) {
        return error(StatusCode::NOT_FOUND, "The requested resource does not exist");
    }
    let views = state.views.read().unwrap_or_else(|p| p.into_inner());
    match find_group(&views, &state.catalog, &org, &id) {
        Some((numeric, key)) => match views.groups.get(&key) {
            Some(row) => Json(serialize_group(&views, &state.catalog, numeric, key, row)).into_response(),
            None => error(StatusCode::NOT_FOUND, "The requested resource does not exist"),
        },
        None => error(StatusCode::NOT_FOUND, "The requested resource does not exist"),
    }
}
