//! `environment=` names the organisation has never seen: Sentry's `get_environments` raises
//! `ResourceDoesNotExist` when one of the requested names is not an `Environment` of the
//! organisation, so the issues list, issues-count and issue details answer 404 with
//! `{"detail": "The requested resource does not exist"}` (not an empty list). An environment
//! exists once an occurrence of one of the organisation's projects carried it, and stays
//! (like Sentry's rows) after its groups are deleted or merged. The empty name (events
//! without an environment) is always accepted.

use axum::http::StatusCode;
use axum::response::Response;
use dataflows::model::symbol_of;
use dataflows::views::IssueViews;

use crate::config::Catalog;
use crate::list_params::Params;

/// The 404 for a request naming an environment unknown to `org`, if it does.
pub(crate) fn unknown_environment(views: &IssueViews, catalog: &Catalog, org: &str, params: &Params) -> Option<Response> {
    let unknown = params.all("environment").iter().any(|name| {
        !name.is_empty()
            && !views
                .environment_projects(symbol_of(name))
                .any(|project| catalog.organization_of(project) == Some(org))
    });
    unknown.then(|| crate::api::error(StatusCode::NOT_FOUND, "The requested resource does not exist"))
}
