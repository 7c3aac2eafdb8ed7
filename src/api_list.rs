//! `GET /api/0/organizations/{org}/issues/` (issue-platform.md §7): parameters of §7.1, the
//! sorts of §7.3 on windowed values, cursor paging of §7.4, group JSON of §7.5.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dataflows::model::Micros;
use dataflows::state::{GroupKey, GroupRow};
use dataflows::views::IssueViews;
use serde_json::Value;

use crate::api::{error, org_known, AppState, Cursor};
use crate::api_group_json::{group_value as group_json, write_group_json};
use crate::api_window::Scope;
use crate::list_index::{self, ListQuery, Strategy};
use crate::list_params::{parse_environments, parse_group_ids, parse_projects, parse_stats, parse_window, Collapse, Params, Sort};
use crate::list_snapshot;
use crate::search;
use crate::short_id::parse_short_id;

const SECOND: Micros = 1_000_000;
/// `sort=inbox` looks back this far (issue-platform.md §7.6).
const INBOX_WINDOW: Micros = 7 * 86_400 * SECOND;

fn bad_request(detail: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, detail)
}

/// The organisation's projects the request is limited to (None: all); 403 when a requested
/// project belongs to no project of the organisation.
pub(crate) fn projects_of_request(state: &AppState, org: &str, params: &Params) -> Result<Option<Vec<u64>>, (StatusCode, String)> {
    let projects = parse_projects(params).map_err(|message| (StatusCode::BAD_REQUEST, message))?;
    if let Some(ids) = &projects {
        if ids.iter().any(|id| state.catalog.organization_of(*id) != Some(org)) {
            return Err((StatusCode::FORBIDDEN, "You do not have permission to perform this action.".into()));
        }
    }
    Ok(projects)
}

/// `GET …/issues/`: one page of the organization's issues (issue-platform.md §7).
#[utoipa::path(get, path = "/api/0/organizations/{org}/issues/", tag = "issues",
    params(("org" = String, Path, description = "Organization slug"), crate::openapi::IssuesListParams),
    responses(
        (status = 200, description = "A page of issues", body = Vec<crate::serialize::SerializedGroup>, headers(
            ("Link" = String, description = "`<url>; rel=\"previous\"; results=\"true|false\"; cursor=\"…\", <url>; rel=\"next\"; …`"),
            ("X-Hits" = u64, description = "Matching issues, at most 1000"),
            ("X-Max-Hits" = u64, description = "1000"),
            ("Server-Timing" = String, description = "Where the request's time went (ms): `wait;dur=…, eval;dur=…, build;dur=…, hold;dur=…, ser;dur=…, total;dur=…, cpu;dur=…, runq;dur=…`"),
        )),
        (status = 400, description = "Invalid query, sort, limit, cursor, window or stats period", body = crate::openapi::ErrorDetail),
        (status = 401, description = "No or invalid token", body = crate::openapi::ErrorDetail),
        (status = 403, description = "Missing `event:read`, or a project of another organization", body = crate::openapi::ErrorDetail),
        (status = 404, description = "Unknown organization or another organization's, or an environment the organization never saw", body = crate::openapi::ErrorDetail),
    ))]
pub async fn list_issues(
    State(state): State<AppState>,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
    caller: crate::auth::Caller,
    headers: HeaderMap,
) -> Response {
    let mut timing = crate::api_timing::RequestTiming::start();
    let viewer = caller.user.as_deref().unwrap_or(crate::api_mutations::ANONYMOUS);
    if !org_known(&state, &org) {
        return error(StatusCode::NOT_FOUND, "The requested resource does not exist");
    }
    let params = Params::parse(raw.as_deref());
    let sort = match Sort::parse(params.get("sort").unwrap_or("date")) {
        Ok(sort) => sort,
        Err(message) => return bad_request(message),
    };
    // Empty `limit=` and `cursor=` are absent, as in Sentry (`if limit:`, `if cursor:`).
    let limit = match params.get("limit").filter(|v| !v.is_empty()).map(str::parse::<usize>) {
        None => 100,
        // Sentry asserts a positive limit (`invalid limit`); above 100 is cut to 100.
        Some(Ok(n)) if n > 0 => n.min(100),
        Some(_) => return bad_request("invalid limit"),
    };
    let fingerprint = list_snapshot::fingerprint(&org, viewer, &params.0);
    let cursor_param = params.get("cursor").filter(|v| !v.is_empty());
    let resume = match list_snapshot::resume(cursor_param, fingerprint) {
        Ok(resume) => resume,
        Err(message) => return bad_request(message),
    };
    let cursor = match cursor_param.filter(|_| resume.is_none()).map(Cursor::parse) {
        None => None,
        Some(Some(c)) => Some(c),
        Some(None) => return bad_request("Invalid cursor parameter."),
    };
    let projects = match projects_of_request(&state, &org, &params) {
        Ok(p) => p,
        Err((status, message)) => return error(status, message),
    };
    let group_ids = match parse_group_ids(&params) {
        Ok(ids) => ids,
        Err(message) => return bad_request(message),
    };

    let waiting = std::time::Instant::now();
    let views = dataflows::views::read(&state.views);
    let locked = std::time::Instant::now();
    state.metrics.record_list_lock_wait(locked - waiting);
    timing.record("wait", locked - waiting);
    // A snapshot's later pages keep page 1's "now" (window, stats, relative dates).
    let now = resume
        .as_ref()
        .map_or_else(|| state.clock.now(views.latest_event), |(_, s)| list_snapshot::lock(s).now);
    let window = match parse_window(&params, now) {
        Ok(w) => w,
        Err(message) => return bad_request(message),
    };
    let stats = match parse_stats(&params, window, now) {
        Ok(s) => s,
        Err(message) => return bad_request(message),
    };
    if let Some(response) = crate::api_environments::unknown_environment(&views, &state.catalog, &org, &params) {
        return response;
    }
    let environments = parse_environments(&params);
    let collapse = Collapse::parse(&params);
    let expand = crate::api_expand::Expand::parse(&params);
    let in_scope = |key: GroupKey| {
        state.catalog.organization_of(key.project) == Some(org.as_str()) && projects.as_ref().is_none_or(|p| p.contains(&key.project))
    };

    // Explicit ids: the query is ignored; every id of the organisation is returned.
    if let Some(ids) = group_ids {
        let scope = Scope::new(window, environments, stats, collapse, None)
            .for_viewer(viewer)
            .expanding(expand);
        let body: Vec<Value> = ids
            .iter()
            .filter_map(|id| {
                let view = views.by_id(*id)?;
                let key = view.key.filter(|k| in_scope(*k))?;
                Some(group_json(&views, &state.catalog, key, view, view.row.as_deref()?, &scope))
            })
            .collect();
        return Json(body).into_response();
    }

    let query = params.get("query").unwrap_or(search::DEFAULT_QUERY);
    if let Some((keys, event_id)) = crate::api_direct::event_hits(&views, &state, query, &in_scope) {
        let scope = Scope::new(window, environments, stats, collapse, None)
            .for_viewer(viewer)
            .expanding(expand);
        let direct = keys.len() == 1;
        let body: Vec<Value> = keys
            .iter()
            .filter_map(|key| {
                let view = views.get(*key)?;
                let mut group = group_json(&views, &state.catalog, *key, view, view.row.as_deref()?, &scope);
                if direct {
                    group["matchingEventId"] = event_id.clone().into();
                }
                Some(group)
            })
            .collect();
        let mut response = Json(body).into_response();
        if direct {
            response.headers_mut().insert("X-Sentry-Direct-Hit", HeaderValue::from_static("1"));
        }
        return response;
    }
    if params.get("shortIdLookup") == Some("1") {
        if let Some(hit) = short_id_hit(&views, &state, query, &in_scope) {
            let scope = Scope::new(window, environments, stats, collapse, None)
                .for_viewer(viewer)
                .expanding(expand);
            let (key, view, row) = hit;
            let mut response = Json(vec![group_json(&views, &state.catalog, key, view, row, &scope)]).into_response();
            response.headers_mut().insert("X-Sentry-Direct-Hit", HeaderValue::from_static("1"));
            return response;
        }
    }
    let query_time = std::time::UNIX_EPOCH + std::time::Duration::from_micros(now.max(0) as u64);
    let search = match search::IssueQuery::parse(query, query_time) {
        Ok(search) => search.for_viewer(viewer).with_environments(environments.clone()),
        Err(e) => return bad_request(e.to_string()),
    };
    if sort == Sort::Inbox {
        if let Some(message) = search.inbox_error() {
            return bad_request(message);
        }
    }
    let scope = Scope::new(window, environments, stats, collapse, Some(&search))
        .for_viewer(viewer)
        .expanding(expand);
    let inbox_since = window.start.max(now - INBOX_WINDOW);

    let list_query = ListQuery {
        sort,
        window,
        search: &search,
        scope: &scope,
        inbox_since,
    };
    let served = timing.time("eval", || match &resume {
        Some((at, snapshot)) => list_snapshot::serve(&views, &list_query, &in_scope, *at, &mut list_snapshot::lock(snapshot), limit),
        None => {
            let listing = list_index::list(&views, &list_query, &in_scope, cursor, limit, Strategy::configured());
            list_snapshot::unpinned(&views, listing, cursor, fingerprint, now)
        }
    });
    // The page's JSON, written under the lock straight from the views (no value tree).
    let (body, shown) = timing.time("build", || {
        let mut body = Vec::with_capacity(served.keys.len() * 2048 + 2);
        body.push(b'[');
        let mut shown = 0;
        for key in &served.keys {
            // A snapshot's group deleted or merged since it was recorded has no row.
            let Some((view, row)) = views.get(*key).and_then(|v| Some((v, v.row.as_deref()?))) else {
                continue;
            };
            if shown > 0 {
                body.push(b',');
            }
            write_group_json(&mut body, &views, &state.catalog, *key, view, row, &scope);
            shown += 1;
        }
        body.push(b']');
        (body, shown)
    });
    drop(views);
    timing.record("hold", locked.elapsed());
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let base_query: String = params
        .0
        .iter()
        .filter(|(k, _)| k != "cursor")
        .map(|(k, v)| format!("{}={}", k, url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()))
        .collect::<Vec<_>>()
        .join("&");
    let url = format!("http://{host}/api/0/organizations/{org}/issues/?{base_query}");
    let link = format!(
        "<{url}&cursor={p}>; rel=\"previous\"; results=\"{hp}\"; cursor=\"{p}\", <{url}&cursor={n}>; rel=\"next\"; results=\"{hn}\"; cursor=\"{n}\"",
        p = served.prev,
        n = served.next,
        hp = served.has_prev,
        hn = served.has_next,
    );
    let shown_hits = if cursor.is_none() && resume.is_none() && !served.has_next {
        shown
    } else {
        served.hits
    };
    let mut response = timing.time("ser", || {
        ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
    });
    let h = response.headers_mut();
    if let Some(v) = timing.header() {
        h.insert("Server-Timing", v);
    }
    if let Ok(v) = HeaderValue::from_str(&link) {
        h.insert("Link", v);
    }
    h.insert("X-Hits", HeaderValue::from(shown_hits.min(list_index::MAX_HITS)));
    h.insert("X-Max-Hits", HeaderValue::from(1000));
    response
}

/// `shortIdLookup=1`: the group whose short id the whole query is, if any is in scope.
fn short_id_hit<'v>(
    views: &'v IssueViews,
    state: &AppState,
    query: &str,
    in_scope: &dyn Fn(GroupKey) -> bool,
) -> Option<(GroupKey, &'v dataflows::views::GroupView, &'v GroupRow)> {
    let (slug, short_id) = parse_short_id(query)?;
    views.iter().find(|(key, _, _)| {
        in_scope(*key) && u64::from(key.short_id) == short_id && state.catalog.project(key.project).is_some_and(|p| p.slug == slug)
    })
}
