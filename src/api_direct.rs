//! Event-id direct hits of the issues list (issue-platform.md §7.1): a query that is an
//! event id (32 hex digits or a UUID) returns the groups holding that event, found in the
//! event store; exactly one → `X-Sentry-Direct-Hit: 1` and `matchingEventId`.

use dataflows::model::uuid::parse_uuid;
use dataflows::state::GroupKey;
use dataflows::views::IssueViews;

use crate::api::AppState;

/// The in-scope groups holding the event the whole `query` names, with the event id as
/// Sentry prints it (32 lowercase hex digits); None when the query is no event id or no
/// stored event of an in-scope project has it.
///
/// The store is keyed by (project, event id), so every project with an error group in scope
/// is looked up (one point read each); only event-grouped (error) groups have stored events.
pub fn event_hits(
    views: &IssueViews,
    state: &AppState,
    query: &str,
    in_scope: &dyn Fn(GroupKey) -> bool,
) -> Option<(Vec<GroupKey>, String)> {
    let store = state.events.as_ref()?;
    let event_id = parse_uuid(query.trim())?;
    let mut projects: Vec<u64> = views
        .iter()
        .filter(|(key, _, row)| row.event_group.is_some() && in_scope(*key))
        .map(|(key, _, _)| key.project)
        .collect();
    projects.sort_unstable();
    projects.dedup();
    let mut hits = Vec::new();
    for project in projects {
        // A store error is no hit: the query then runs as a search, as if there were none.
        let Ok(Some(event)) = store.get(project, event_id) else { continue };
        let holder = views.iter().find(|(key, _, row)| {
            key.project == project
                && in_scope(*key)
                && row
                    .event_group
                    .as_ref()
                    .is_some_and(|g| crate::api_events::holds_event(&g.hashes, (row.first_seen, row.last_seen), &event))
        });
        if let Some((key, _, _)) = holder {
            hits.push(key);
        }
    }
    (!hits.is_empty()).then(|| (hits, format!("{event_id:032x}")))
}
