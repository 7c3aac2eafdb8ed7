//! Which groups an issues-list request reads: every group (the scan, the reference), or a
//! walk of a sort index (dataflows/src/views/index.rs) that stops as soon as no unvisited
//! group can change the page, the cursors or `X-Hits` (at most 1,000).
//!
//! The index orders groups by an upper bound of the sort value, then by creation order (the
//! results' tie order). When the walk is at `(b, c)`, every unvisited group's `(value,
//! created)` is at most `(b, c)`; once the collected rows hold 1,000 hits and the row that
//! ends the page (the `K`-th of the rows the page is cut from, see `threshold`) is above
//! `(b, c)`, the page, its ties and both cursors are those of the scan, even when the page
//! ends inside a tie of a million groups. A visited group whose value exceeds its bound (only a view caught between two sinks
//! of one epoch could show that) sends the request to the scan.

use dataflows::model::{GroupStatus, Micros};
use dataflows::state::{GroupKey, GroupRow};
use dataflows::views::{created_key, Candidates, GroupView, IssueViews, SortIndex};
use dataflows::window::Window;

use crate::api::{next_page, previous_page, Cursor, Page, Row};
use crate::api_window::{trends_score, Scope};
use crate::list_params::Sort;
use crate::search::{self, IssueQuery};

/// `X-Hits` is capped at this (issue-platform.md §7.4).
pub const MAX_HITS: usize = 1000;

/// What a list request sorts and filters by.
pub struct ListQuery<'a> {
    pub sort: Sort,
    pub window: Window,
    pub search: &'a IssueQuery,
    pub scope: &'a Scope,
    /// `sort=inbox`: the oldest inbox date shown.
    pub inbox_since: Micros,
}

impl<'a> ListQuery<'a> {
    /// The groups `search` matches in `window`, most recently seen first: what the count
    /// endpoint and the query-targeted mutations select (they do not page, so the order
    /// only decides which groups a capped selection keeps).
    pub fn by_date(window: Window, search: &'a IssueQuery, scope: &'a Scope) -> ListQuery<'a> {
        ListQuery {
            sort: Sort::Date,
            window,
            search,
            scope,
            inbox_since: window.start,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Every group (the reference).
    Scan,
    /// The sort's index, falling back to the scan when a bound does not hold.
    Index,
    /// The index, deciding whether to stop at every row rather than every few dozen (tests:
    /// the stop is then as early as the bounds allow, so an off-by-one shows).
    #[cfg(test)]
    IndexEveryRow,
}

impl Strategy {
    /// The index, unless `OCCURRENT_LIST_SCAN=1` asks for the scan (A/B measurements).
    pub fn configured() -> Strategy {
        static SCAN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        if *SCAN.get_or_init(|| std::env::var("OCCURRENT_LIST_SCAN").is_ok_and(|v| v == "1")) {
            Strategy::Scan
        } else {
            Strategy::Index
        }
    }
}

/// One page, and `X-Hits` before the last-page rule of the handler (at most 1,000).
pub struct Listing {
    pub page: Page,
    pub hits: usize,
}

/// When the group entered the inbox ([`dataflows::state::inbox_entry`]; `first_seen` for
/// one outside it): the `sort=inbox` value.
fn inbox_date(row: &GroupRow) -> Micros {
    dataflows::state::inbox_entry(row).map_or(row.first_seen, |entry| entry.date)
}

/// The group's sort value and order, if it is a result of the query (scope aside).
pub fn sort_row(views: &IssueViews, query: &ListQuery, key: GroupKey, view: &GroupView, row: &GroupRow) -> Option<Row> {
    let (scope, window) = (query.scope, query.window);
    let environments = scope.environments.as_deref();
    // Sorts by date, first seen or inbox date read no count (unless a `timesSeen` filter does):
    // a group whose last occurrence is in the window needs nothing but its row, and under
    // `environment=` or a window that cuts its lifetime, only its last counted hour is read.
    let no_count = matches!(query.sort, Sort::Date | Sort::New | Sort::Inbox) && !query.search.tests_times_seen();
    let aggregate = if no_count {
        dataflows::window::last_seen_view(views, key, view, row, environments, window)?
    } else {
        dataflows::window::aggregate_view(views, key, view, row, environments, window)?
    };
    let within = search::Windowed {
        times_seen: aggregate.count,
        last_seen: aggregate.last_seen,
        window: (window.start, window.end),
    };
    if !query.search.matches_within(views, view, row, Some(within)) {
        return None;
    }
    let value = match query.sort {
        Sort::Date => aggregate.last_seen / 1000,
        Sort::New => row.first_seen / 1000,
        Sort::Freq => aggregate.count as i64,
        Sort::User => dataflows::window::users_of(views, &scope.hours(views, key, view), row, &aggregate, window) as i64,
        Sort::Trends => trends_score(aggregate.count, aggregate.last_seen),
        Sort::Inbox => {
            let date = inbox_date(row);
            if row.status != GroupStatus::Unresolved || date < query.inbox_since || date > window.end {
                return None;
            }
            date / 1000
        }
    };
    Some(Row {
        value,
        created: row.created_seq,
        key,
    })
}

/// The page of the groups in scope that match `query`, and `X-Hits`.
pub fn list(
    views: &IssueViews,
    query: &ListQuery,
    in_scope: &dyn Fn(GroupKey) -> bool,
    cursor: Option<Cursor>,
    limit: usize,
    strategy: Strategy,
) -> Listing {
    let to_row = |key: GroupKey, view: &GroupView, row: &GroupRow| -> Option<Row> {
        if !in_scope(key) {
            return None;
        }
        sort_row(views, query, key, view, row)
    };
    // Free text: only the groups whose texts contain a needle can match; a few are read
    // directly (the scan, restricted), many are read by the walk, which skips the others.
    let candidates = match strategy {
        Strategy::Scan => None,
        _ => query.search.text_needles().map(|needles| views.text_candidates(&needles)),
    };
    // Exact candidates decide the free-text condition: on them, the rest of the query is
    // tested without it (no read of each candidate's texts). Only candidates may be tested so.
    let narrowed = candidates
        .as_ref()
        .filter(|c| c.exact())
        .and_then(|_| query.search.without_exact_text());
    let candidate_query = ListQuery {
        search: narrowed.as_ref().unwrap_or(query.search),
        ..*query
    };
    let candidate_row = |key: GroupKey, view: &GroupView, row: &GroupRow| -> Option<Row> {
        if !in_scope(key) {
            return None;
        }
        sort_row(views, &candidate_query, key, view, row)
    };
    let walked = match (strategy, &candidates) {
        (Strategy::Scan, _) => None,
        (_, Some(few)) if few.len() <= views.len() / FEW_CANDIDATES => Some(read_candidates(views, few, &candidate_row)),
        (Strategy::Index, _) => walk(views, &candidate_query, &candidate_row, cursor, limit, false, candidates.as_ref()),
        #[cfg(test)]
        (Strategy::IndexEveryRow, _) => walk(views, &candidate_query, &candidate_row, cursor, limit, true, candidates.as_ref()),
    };
    let mut rows = walked.unwrap_or_else(|| views.iter().filter_map(|(k, v, r)| to_row(k, v, r)).collect());
    let hits = rows.len().min(MAX_HITS);
    let page = match cursor {
        Some(c) if c.is_prev => previous_page(&mut rows, c, limit),
        _ => next_page(&mut rows, cursor, limit),
    };
    Listing { page, hits }
}

/// The rows of `candidates`, read in index order. Each group's view and row is a cache miss
/// or two at 1M groups: the CPU is asked for them a few groups ahead, so that the misses
/// overlap instead of being waited for in turn.
fn read_candidates(
    views: &IssueViews,
    candidates: &Candidates,
    to_row: &dyn Fn(GroupKey, &GroupView, &GroupRow) -> Option<Row>,
) -> Vec<Row> {
    // The view `VIEW_AHEAD` groups ahead; the row (whose address is in the view, asked for
    // `VIEW_AHEAD - ROW_AHEAD` groups earlier) `ROW_AHEAD` ahead.
    const VIEW_AHEAD: usize = 16;
    const ROW_AHEAD: usize = 8;
    let indexes: Vec<u32> = candidates.iter().collect();
    for &index in indexes.iter().take(VIEW_AHEAD) {
        views.prefetch_view(index);
    }
    indexes
        .iter()
        .enumerate()
        .filter_map(|(i, &index)| {
            if let Some(&ahead) = indexes.get(i + VIEW_AHEAD) {
                views.prefetch_view(ahead);
            }
            if let Some(&ahead) = indexes.get(i + ROW_AHEAD) {
                views.prefetch_row(ahead);
            }
            let (key, view, row) = views.at_index(index)?;
            to_row(key, view, row)
        })
        .collect()
}

/// Free-text candidates are read directly (not walked) when at most one group in this many
/// is one: reading a candidate costs about what walking past ~this many index entries does.
const FEW_CANDIDATES: usize = 32;

/// The rows of the index walk, reading only `candidates` if given; None when a bound did
/// not hold (then the scan answers).
fn walk(
    views: &IssueViews,
    query: &ListQuery,
    to_row: &dyn Fn(GroupKey, &GroupView, &GroupRow) -> Option<Row>,
    cursor: Option<Cursor>,
    limit: usize,
    every_row: bool,
    candidates: Option<&Candidates>,
) -> Option<Vec<Row>> {
    let unresolved_only = query.sort == Sort::Inbox || query.search.unresolved_only();
    // No group whose bound is below `floor` can be a result.
    let (index, at_most, floor) = match query.sort {
        Sort::Date => (SortIndex::LastSeen, Micros::MAX, query.window.start / 1000),
        Sort::Inbox => (SortIndex::LastSeen, Micros::MAX, query.inbox_since.max(query.window.start) / 1000),
        // A group first seen after the window has nothing in it.
        Sort::New => (SortIndex::FirstSeen, query.window.end, i64::MIN),
        Sort::Freq => (SortIndex::Count, Micros::MAX, i64::MIN),
        Sort::User => (SortIndex::Users, Micros::MAX, i64::MIN),
        Sort::Trends => (SortIndex::Trends, Micros::MAX, i64::MIN),
    };
    let mut rows: Vec<Row> = Vec::new();
    // Stop below this `(value, created key)` (None: not known yet); recomputed as rows are
    // added, which can only raise it.
    let mut stop_below: Option<(i64, u32)> = None;
    let mut next_check = MAX_HITS;
    let keep = |index: u32| candidates.is_none_or(|c| c.contains(index));
    for (bound, created, (key, view, row)) in views.walk_filtered(index, unresolved_only, at_most, keep) {
        if bound < floor || stop_below.is_some_and(|t| (bound, created) < t) {
            break;
        }
        let Some(found) = to_row(key, view, row) else { continue };
        if found.value > bound || created_key(found.created) != created {
            return None;
        }
        rows.push(found);
        if rows.len() >= next_check {
            stop_below = threshold(&rows, cursor, limit);
            next_check = rows.len() + if every_row { 1 } else { (rows.len() / 4).max(64) };
        }
    }
    Some(rows)
}

/// The `(value, created key)` above which the walk has every row the page needs, once `rows`
/// hold 1,000 hits: that of the `K`-th row in results order, `K` being the rows up to and
/// including the one after the page (a forward page: among the rows at or below the cursor
/// value; a backward page: among all rows, every row above the cursor value counted). The
/// walk visits `(bound, created)` in descending order and a row's value is at most its bound,
/// so once the walk is below that pair, every unvisited row comes after the `K`-th: the page,
/// the rows above the cursor value and the ties before each cursor are complete.
fn threshold(rows: &[Row], cursor: Option<Cursor>, limit: usize) -> Option<(i64, u32)> {
    if rows.len() < MAX_HITS {
        return None;
    }
    let mut pairs: Vec<(i64, u64)>;
    let k;
    match cursor {
        Some(c) if c.is_prev => {
            pairs = rows.iter().map(|r| (r.value, r.created)).collect();
            k = pairs.iter().filter(|p| p.0 > c.value).count() + c.offset + 1;
        }
        _ => {
            let (at_most, offset) = cursor.map_or((i64::MAX, 0), |c| (c.value, c.offset));
            pairs = rows.iter().filter(|r| r.value <= at_most).map(|r| (r.value, r.created)).collect();
            k = offset + limit + 1;
        }
    }
    if pairs.len() < k {
        return None;
    }
    let (_, kth, _) = pairs.select_nth_unstable_by(k - 1, |a, b| b.cmp(a));
    // The index keeps a nondecreasing key of `created`: unvisited rows below
    // `(kth value, created_key(kth created))` in the walk are below the `K`-th row.
    Some((kth.0, created_key(kth.1)))
}

#[cfg(test)]
mod tests;
