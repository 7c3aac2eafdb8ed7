//! Bulk mutations: `PUT` and `DELETE /api/0/organizations/{org}/issues/` (issue-platform.md
//! §8). A handler validates the request and resolves its groups from the views, then submits
//! it to the mutation log; it answers once the views show the result. It never writes the
//! views itself.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use dataflows::model::grouptype::{group_type, Category};
use dataflows::model::{GroupStatus, GroupUpdate, MutationKind};
use dataflows::state::GroupKey;
use serde_json::{json, Value};

use crate::api::{error, org_known, AppState};
use crate::auth::Caller;
use crate::mutation_log::{MutationRequest, MutationSender};
use crate::search;
use crate::serialize_triage::share_id_json;

mod put_body;
use put_body::parse_put;

/// Sentry's bulk limit: groups per mutation.
pub const MAX_GROUPS: usize = 1000;
/// How long a handler waits for the views to show its mutation.
const VISIBLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest ignore window Sentry accepts (minutes: 7 days).
const MAX_WINDOW_MINUTES: u64 = 10_080;
/// Who a request acts as when no token names a user.
pub const ANONYMOUS: &str = "anonymous";

type Params = Vec<(String, String)>;

fn params(raw: Option<&str>) -> Params {
    raw.map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// A refused request, as Sentry words it.
enum Rejection {
    /// `{"detail": "…"}` with a status.
    Detail(StatusCode, String),
    /// Sentry's field-validation shape: 400 `{"field": ["message"]}`.
    Field(String, String),
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::Detail(status, detail) => error(status, detail),
            Rejection::Field(field, message) => (StatusCode::BAD_REQUEST, Json(json!({ field: [message] }))).into_response(),
        }
    }
}

fn bad_request(detail: impl Into<String>) -> Rejection {
    Rejection::Detail(StatusCode::BAD_REQUEST, detail.into())
}

fn invalid_field(field: &str, message: impl Into<String>) -> Rejection {
    Rejection::Field(field.to_string(), message.into())
}

/// The groups a mutation targets: `?id=` in the organization (and `?project=`), or else the
/// issues list's search of `?query=` (default query as for GET) with the request's window
/// and `environment`s, up to 1000 groups, most recent first.
/// `Err` is a response to send.
fn resolve_targets(
    state: &AppState,
    org: &str,
    params: &Params,
    actor: &str,
    search_when_no_ids_match: bool,
) -> Result<Vec<(GroupKey, u64)>, Rejection> {
    let mut projects = BTreeSet::new();
    for (_, value) in params.iter().filter(|(k, _)| k == "project") {
        let Ok(project) = value.parse::<u64>() else {
            return Err(bad_request("Invalid project parameter. Values must be numbers."));
        };
        if state.catalog.organization_of(project) != Some(org) {
            return Err(Rejection::Detail(
                StatusCode::FORBIDDEN,
                "You do not have permission to perform this action.".into(),
            ));
        }
        projects.insert(project);
    }
    let in_scope =
        |key: GroupKey| state.catalog.organization_of(key.project) == Some(org) && (projects.is_empty() || projects.contains(&key.project));
    let ids: Vec<&str> = params.iter().filter(|(k, _)| k == "id").map(|(_, v)| v.as_str()).collect();
    let mut numeric = Vec::with_capacity(ids.len());
    for id in &ids {
        match id.parse::<u64>() {
            Ok(n) => numeric.push(n),
            Err(_) => return Err(bad_request("Group ids must be integers")),
        }
    }
    if numeric.len() > MAX_GROUPS {
        return Err(bad_request(format!("Too many groups: at most {MAX_GROUPS} per request")));
    }
    let views = dataflows::views::read(&state.views);
    // Sentry resolves `environment=` names before anything else, ids or not.
    let list_params = crate::list_params::Params(params.clone());
    if crate::api_environments::unknown_environment(&views, &state.catalog, org, &list_params).is_some() {
        return Err(Rejection::Detail(
            StatusCode::NOT_FOUND,
            "The requested resource does not exist".into(),
        ));
    }
    let mut targets = Vec::new();
    for id in numeric {
        if let Some(view) = views.by_id(id) {
            if let (Some(key), Some(row)) = (view.key, view.row.as_deref()) {
                if in_scope(key) && row.status != GroupStatus::PendingDeletion && !targets.iter().any(|(k, _)| *k == key) {
                    targets.push((key, id));
                }
            }
        }
    }
    if !targets.is_empty() || (!ids.is_empty() && !search_when_no_ids_match) {
        return Ok(targets);
    }
    let query = params
        .iter()
        .find(|(k, _)| k == "query")
        .map_or(search::DEFAULT_QUERY, |(_, v)| v.as_str());
    // The list's search (Sentry runs the GET's search with limit 1000): its window (default
    // 90 days) and environments, on the API's clock, most recent first.
    let now = state.clock.now(views.latest_event);
    let window = crate::list_params::parse_window(&list_params, now).map_err(bad_request)?;
    let environments = crate::list_params::parse_environments(&list_params);
    let query_time = SystemTime::UNIX_EPOCH + Duration::from_micros(now.max(0) as u64);
    let search = search::IssueQuery::parse(query, query_time)
        .map_err(|e| bad_request(format!("Invalid query. Error getting group ids and group list: {e}")))?
        .for_viewer(actor)
        .with_environments(environments.clone());
    let scope = crate::api_window::Scope::new(window, environments, None, Default::default(), Some(&search));
    let list_query = crate::list_index::ListQuery::by_date(window, &search, &scope);
    let listing = crate::list_index::list(
        &views,
        &list_query,
        &in_scope,
        None,
        MAX_GROUPS,
        crate::list_index::Strategy::configured(),
    );
    Ok(listing
        .page
        .rows
        .iter()
        .filter_map(|r| views.get(r.key).filter(|view| view.id != 0).map(|view| (r.key, view.id)))
        .collect())
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Submits the mutation and waits until the views show it. `Err` is a response to send.
/// A process that cannot order mutations (a cluster's other processes, whose views are
/// empty) refuses them before resolving any target.
fn unordered(state: &AppState) -> Result<&MutationSender, Rejection> {
    state.mutations.as_ref().ok_or_else(|| {
        Rejection::Detail(
            StatusCode::NOT_IMPLEMENTED,
            "Mutations are served by process 0 of a cluster with --state-dir".into(),
        )
    })
}

async fn apply(state: &AppState, request: MutationRequest) -> Result<(), Rejection> {
    let mutations = unordered(state)?;
    let epoch = mutations
        .submit(request)
        .await
        .map_err(|e| Rejection::Detail(StatusCode::SERVICE_UNAVAILABLE, e))?;
    let started = Instant::now();
    loop {
        {
            let views = dataflows::views::read(&state.views);
            if views.finished || views.complete_through > epoch {
                return Ok(());
            }
        }
        if started.elapsed() > VISIBLE_TIMEOUT {
            return Err(Rejection::Detail(
                StatusCode::GATEWAY_TIMEOUT,
                "The mutation is logged and will apply, but the views have not caught up yet".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Sentry's answer to `inRelease: "latest"` (and `inNextRelease`) for a project without
/// releases (its status-details validator).
const NO_RELEASE_DATA: &str = "No release data present in the system to form a basis for 'Next Release'";

/// Whether any occurrence of the project carried a release, by the groups in the views: the
/// targets first (one of them usually has one), else every group of the project (a scan,
/// only for a project that may have none).
fn project_has_release(state: &AppState, project: u64, targets: &[(GroupKey, u64)]) -> bool {
    let views = dataflows::views::read(&state.views);
    let carries = |view: &dataflows::views::GroupView| !view.releases.is_empty();
    targets
        .iter()
        .filter(|(key, _)| key.project == project)
        .any(|(key, _)| views.get(*key).is_some_and(carries))
        || views.iter().any(|(key, view, _)| key.project == project && carries(view))
}

/// The acting user: the token's user, or [`ANONYMOUS`].
fn actor_of(caller: Option<&str>) -> Arc<str> {
    Arc::from(caller.unwrap_or(ANONYMOUS))
}

pub async fn update_issues(state: State<AppState>, path: Path<String>, raw: RawQuery, caller: Caller, body: axum::body::Bytes) -> Response {
    put(state, path, raw, &caller, body).await
}

/// `PUT …/issues/?id=…`: status, priority, assignment, bookmarks, seen, subscriptions,
/// sharing, inbox, merge, discard.
async fn put(
    State(state): State<AppState>,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
    caller: &Caller,
    body: axum::body::Bytes,
) -> Response {
    if !org_known(&state, &org) {
        return error(StatusCode::NOT_FOUND, "The requested resource does not exist");
    }
    if let Err(rejection) = unordered(&state) {
        return rejection.into_response();
    }
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => return bad_request(format!("JSON parse error - {e}")).into_response(),
    };
    // `discard` needs `event:admin`; the middleware checked `event:write`.
    if let Err(response) = crate::auth::require_mutation_scope(caller, &body) {
        return response;
    }
    let actor = actor_of(caller.user.as_deref());
    let put = match parse_put(&body, &actor) {
        Ok(put) => put,
        Err(rejection) => return rejection.into_response(),
    };
    let params = params(raw.as_deref());
    let targets = match resolve_targets(&state, &org, &params, &actor, true) {
        Ok(targets) => targets,
        Err(rejection) => return rejection.into_response(),
    };
    if targets.is_empty() {
        // "No groups found": a 204 has no body.
        return StatusCode::NO_CONTENT.into_response();
    }
    let projects: BTreeSet<u64> = targets.iter().map(|(k, _)| k.project).collect();
    if put.update.merge {
        if projects.len() > 1 {
            return bad_request("Merging across multiple projects is not supported").into_response();
        }
        if targets.len() < 2 {
            return bad_request("Merging needs at least two issues").into_response();
        }
    }
    let release_resolution = put
        .update
        .status
        .as_ref()
        .is_some_and(|s| s.status == GroupStatus::Resolved && s.details.is_release_resolution());
    if release_resolution && projects.len() > 1 {
        return bad_request("Cannot set resolved for multiple projects.").into_response();
    }
    let in_latest = put.update.status.as_ref().and_then(|s| s.details.in_release.as_deref()) == Some("latest");
    if in_latest && !projects.iter().all(|p| project_has_release(&state, *p, &targets)) {
        return invalid_field("inRelease", NO_RELEASE_DATA).into_response();
    }
    let kind = if put.discard {
        let views = dataflows::views::read(&state.views);
        let all_errors = targets.iter().all(|(key, _)| {
            views
                .get(*key)
                .and_then(|v| v.row.as_deref())
                .and_then(|row| group_type(row.type_id))
                .is_some_and(|t| t.category == Category::Error)
        });
        if !all_errors {
            return bad_request("Only error issues can be discarded").into_response();
        }
        MutationKind::Discard
    } else {
        if put.update == GroupUpdate::default() {
            return Json(json!({})).into_response();
        }
        MutationKind::Update(put.update.clone())
    };
    let time = now_micros();
    let request = MutationRequest {
        targets: targets.iter().map(|(k, _)| *k).collect(),
        kind,
        actor: Some(actor.clone()),
        time,
    };
    if let Err(rejection) = apply(&state, request).await {
        return rejection.into_response();
    }
    if put.discard {
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut result = put.echo;
    if let Some(update) = put.update.status.as_ref().filter(|s| s.status == GroupStatus::Ignored) {
        if let Some(minutes) = update.details.ignore_duration {
            // A snooze for a duration ends at the mutation's time plus it, as the groups
            // show (the echo is built before the request has a time).
            let until = time.saturating_add((minutes as i64).saturating_mul(60_000_000));
            let details = crate::serialize_triage::status_details_json(update.status, Some(&update.details), Some(until), Some(&actor));
            result.insert("statusDetails".into(), details);
        }
    }
    let in_release = put.update.status.as_ref().and_then(|s| s.details.in_release.as_deref());
    if in_release == Some("latest") {
        // The dataflow resolved "latest" to the project's newest release: echo that one.
        let views = state.views.read().unwrap_or_else(|p| p.into_inner());
        let resolved = targets.iter().find_map(|(key, _)| {
            let details = &views.get(*key)?.row.as_deref()?.triage.as_deref()?.status_details;
            details.in_release.clone()
        });
        if let (Some(release), Some(Value::Object(details))) = (resolved, result.get_mut("statusDetails")) {
            details.insert("inRelease".into(), release.to_string().into());
        }
    }
    if put.update.public == Some(true) {
        // Sentry answers with the share id made last (the last target's).
        let views = dataflows::views::read(&state.views);
        let share_id = targets
            .iter()
            .rev()
            .find_map(|(key, _)| views.get(*key)?.row.as_deref()?.triage.as_deref()?.share_id);
        result.insert("shareId".into(), share_id_json(share_id));
    } else if put.update.public == Some(false) {
        result.insert("shareId".into(), Value::Null);
    }
    if put.update.merge {
        // The dataflow chose the parent: the one target still shown.
        let views = dataflows::views::read(&state.views);
        let (parents, children): (Vec<_>, Vec<_>) = targets
            .iter()
            .partition(|(key, _)| views.get(*key).is_some_and(|v| v.row.is_some()));
        if let Some((_, parent)) = parents.first() {
            result.insert(
                "merge".into(),
                json!({
                    "parent": parent.to_string(),
                    "children": children.iter().map(|(_, id)| id.to_string()).collect::<Vec<_>>(),
                }),
            );
        }
    }
    Json(Value::Object(result)).into_response()
}

pub async fn delete_issues(state: State<AppState>, path: Path<String>, raw: RawQuery, caller: Caller) -> Response {
    delete(state, path, raw, caller.user.as_deref()).await
}

/// `DELETE …/issues/?id=…`: the groups leave every view; their fingerprints are released.
async fn delete(State(state): State<AppState>, Path(org): Path<String>, RawQuery(raw): RawQuery, caller: Option<&str>) -> Response {
    if !org_known(&state, &org) {
        return error(StatusCode::NOT_FOUND, "The requested resource does not exist");
    }
    if let Err(rejection) = unordered(&state) {
        return rejection.into_response();
    }
    let params = params(raw.as_deref());
    let actor = actor_of(caller);
    let targets = match resolve_targets(&state, &org, &params, &actor, false) {
        Ok(targets) => targets,
        Err(rejection) => return rejection.into_response(),
    };
    if targets.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let request = MutationRequest {
        targets: targets.iter().map(|(k, _)| *k).collect(),
        kind: MutationKind::Delete,
        actor: Some(actor),
        time: now_micros(),
    };
    match apply(&state, request).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(rejection) => rejection.into_response(),
    }
}
