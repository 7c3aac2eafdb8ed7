//! Groups as the issues endpoints serialize them (issue-platform.md §7.5): `count`,
//! `userCount`, `firstSeen`, `lastSeen` and `stats` within the request's window and
//! environments, `lifetime` over all time, `filtered` under the query's event-level
//! conditions, and `collapse`. The dump (`serialize::serialize_group`) stays all-time.

use dataflows::model::Symbol;
use dataflows::state::{GroupKey, GroupRow};
use dataflows::views::{GroupView, IssueViews};
use dataflows::window::{self, Aggregate, GroupHours, Window};

use crate::list_params::{Collapse, StatsSpec};
use crate::search::IssueQuery;

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
    pub(crate) filtered_by: Option<IssueQuery>,
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
    pub fn hours<'v>(&'v self, views: &'v IssueViews, key: GroupKey, view: &'v GroupView) -> GroupHours<'v> {
        window::hours_in(views, key, view, self.environments.as_deref())
    }
}

/// A group's values within a window: None when it has no occurrence there.
pub struct Windowed {
    pub aggregate: Aggregate,
    pub users: u64,
}

pub fn windowed(views: &IssueViews, hours: &GroupHours, row: &GroupRow, window: Window) -> Option<Windowed> {
    let aggregate = window::aggregate_group(views, hours, row, window)?;
    Some(Windowed {
        users: window::users_of(views, hours, row, &aggregate, window),
        aggregate,
    })
}

/// Whether the occurrences of facet `id` satisfy the query's facet conditions (what
/// `filtered` counts under `environment:`, `release:`, `level:`).
pub fn facet_accepted(views: &IssueViews, scope: &Scope, id: u64) -> bool {
    scope
        .filtered_by
        .as_ref()
        .is_some_and(|query| views.facet(id).is_some_and(|f| query.accepts_facet(views, f)))
}

pub use dataflows::views::trends_score;
