//! Issue search over the views: queries are parsed by [`crate::search_syntax`] with Sentry's
//! issue config, then compiled here into predicates over a group's row and view
//! (issue-platform.md §7.2, search-syntax.md §5–§7).
//!
//! Assignment and bookmarks come from API mutations (`me` is the requesting user). There are
//! no external issue links, so `is:unlinked` matches every group and `is:linked` none;
//! `is:for_review` matches the groups in the inbox (`dataflows::state::inbox_entry`:
//! unresolved and new, regressed or escalating, unless marked reviewed, or added by a PUT
//! `inbox: true`). `event.timestamp` is
//! evaluated on the hourly stats (an hour's occurrences count as anywhere in that hour, within
//! the group's first and last seen). `release:latest`/`firstRelease:latest` are literal.

use std::time::SystemTime;

use dataflows::facets::Facet;
use dataflows::model::grouptype::{group_type, group_type_by_slug, Category};
use dataflows::model::{GroupStatus, Level, Micros, Priority, Symbol};
use dataflows::state::GroupRow;
use dataflows::views::{GroupView, IssueViews};
use dataflows::window::Window;

mod evaluate;
mod filter_values;
mod tags;
mod text;

use evaluate::{is_facet_test, test};
use filter_values::{boolean, date, each, error, ints, patterns, status_of_substatus, texts};

use tags::{tag_key, tag_matches, TagKey};
use text::{any_symbol, Text};

use crate::search_syntax::{parse_search_query, Operator, SearchConfig, SearchError, SearchFilter, SearchValue};

pub const DEFAULT_QUERY: &str = "is:unresolved issue.priority:[high, medium]";

/// What one filter tests; every list is an OR of its values.
#[derive(Debug, Clone, PartialEq)]
enum Test {
    Status(Vec<i64>),
    Substatus(Vec<i64>),
    Unassigned(bool),
    ForReview(bool),
    Linked(bool),
    /// `assigned:` values: `me`, `none`, `me_or_none`, `#team`/`team:x`, or a user.
    AssignedTo(Vec<String>),
    /// `bookmarks:` values: `me`, `none`, or a user.
    BookmarkedBy(Vec<String>),
    /// `subscribed:` values: `me`, `none`, or a user with an active subscription (explicit,
    /// or implied by a bookmark or an assignment), as `isSubscribed` shows it.
    SubscribedBy(Vec<String>),
    Priority(Vec<Priority>),
    Category(Vec<Category>),
    Type(Vec<u32>),
    Level(Vec<Text>),
    Release(Vec<Text>),
    FirstRelease(Vec<Text>),
    Environment(Vec<Text>),
    /// A custom tag (`search/tags.rs`): its key and values.
    Tag(String, Vec<Text>),
    /// Free text, lowercased: a substring (or wildcard pattern) of title, culprit or subtitle.
    Message(Vec<Text>),
    TimesSeen(Operator, Vec<f64>),
    FirstSeen(Operator, Micros),
    LastSeen(Operator, Micros),
    /// `error.unhandled:` (and `error.handled:` inverted): the group's `isUnhandled`, set
    /// once any of its events was unhandled (not per occurrence in the window).
    Unhandled(bool),
}

#[derive(Debug, Clone, PartialEq)]
struct Predicate {
    test: Test,
    /// `!=` / `NOT IN`: the group must match none of the values.
    negated: bool,
}

/// A compiled issue query.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueQuery {
    predicates: Vec<Predicate>,
    /// `event.timestamp` bounds, inclusive, in microseconds.
    date_range: Option<(Micros, Micros)>,
    /// No `issue.category`/`issue.type` filter: types outside default search are hidden.
    default_types_only: bool,
    /// Who `me` is.
    viewer: String,
    /// Every filter's key, in query order (`sort=inbox` accepts only some keys).
    keys: Vec<String>,
    /// The request's `environment=` values: event-level conditions hold only for
    /// occurrences in these (None: any).
    environments: Option<Vec<Symbol>>,
    /// Verdicts of `accepts_facet` by facet id (None: no such facet), remembered for the
    /// request: a list visits thousands of groups, which share far fewer facets.
    facet_verdicts: FacetVerdicts,
}

/// A memo of facet verdicts (interior mutability: queries are tested through `&self`).
/// Verdicts depend on the query and the views' symbol names; a query lives for one request
/// under one read lock, and its setters clear the memo.
#[derive(Debug, Default)]
struct FacetVerdicts(std::sync::Mutex<Verdicts>);

#[derive(Debug, Default)]
struct Verdicts {
    by_id: rustc_hash::FxHashMap<u64, Option<bool>>,
    /// By level, when the query's event-level conditions are all on the level (then a
    /// facet's verdict is its level's); None until first asked.
    by_level: Option<Option<[bool; LEVELS.len()]>>,
}

/// Every level, at its [`level_slot`].
const LEVELS: [Level; 7] = Level::ALL;

/// A level's place in [`LEVELS`] (exhaustive: a new level does not compile until listed).
fn level_slot(level: Level) -> usize {
    match level {
        Level::Sample => 0,
        Level::Debug => 1,
        Level::Info => 2,
        Level::Warning => 3,
        Level::Error => 4,
        Level::Fatal => 5,
        Level::Unknown => 6,
    }
}

impl Clone for FacetVerdicts {
    fn clone(&self) -> Self {
        FacetVerdicts::default()
    }
}

/// A memo is not part of the query's meaning.
impl PartialEq for FacetVerdicts {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A group's values within the request's window and environments, which Sentry evaluates
/// event-level filters (`timesSeen`, `lastSeen`) on.
#[derive(Clone, Copy, Debug)]
pub struct Windowed {
    pub times_seen: u64,
    pub last_seen: Micros,
    /// The request's window, inclusive: event-level conditions need an occurrence in it.
    pub window: (Micros, Micros),
}

impl IssueQuery {
    /// Parses and compiles `query`; relative dates are resolved against `now`.
    pub fn parse(query: &str, now: SystemTime) -> Result<IssueQuery, SearchError> {
        let filters = parse_search_query(query, &SearchConfig::issue_config(), now)?;
        let mut compiled = IssueQuery {
            predicates: Vec::with_capacity(filters.len()),
            date_range: None,
            default_types_only: true,
            viewer: crate::api_mutations::ANONYMOUS.to_string(),
            keys: filters.iter().map(|f| f.key.clone()).collect(),
            environments: None,
            facet_verdicts: FacetVerdicts::default(),
        };
        for filter in &filters {
            compiled.add(filter)?;
        }
        // Sentry appends the status implied by the first substatus filter when there is no
        // status filter (search-syntax.md §7), with the same polarity.
        let has_status = compiled.predicates.iter().any(|p| matches!(p.test, Test::Status(_)));
        let implied = compiled.predicates.iter().find_map(|p| match &p.test {
            Test::Substatus(values) => Some((values.first().copied()?, p.negated)),
            _ => None,
        });
        if let (false, Some((substatus, negated))) = (has_status, implied) {
            compiled.predicates.push(Predicate {
                test: Test::Status(vec![status_of_substatus(substatus)]),
                negated,
            });
        }
        Ok(compiled)
    }

    /// The query as `viewer` asks it (`assigned:me`, `bookmarks:me`, `subscribed:me`).
    pub fn for_viewer(mut self, viewer: &str) -> IssueQuery {
        self.viewer = viewer.to_string();
        self.facet_verdicts = FacetVerdicts::default();
        self
    }

    /// The query under the request's `environment=` values (None: all).
    pub fn with_environments(mut self, environments: Option<Vec<Symbol>>) -> IssueQuery {
        self.environments = environments;
        self.facet_verdicts = FacetVerdicts::default();
        self
    }

    /// Whether the query tests what single occurrences carry: `environment:`, `release:` or
    /// `level:` (Sentry evaluates them on events, issue-platform.md §7.2).
    pub fn has_facet_conditions(&self) -> bool {
        self.predicates.iter().any(|p| is_facet_test(&p.test))
    }

    /// Whether an occurrence with `facet` satisfies every `environment:`, `release:`,
    /// `level:` and tag condition of the query and the request's `environment=` values.
    /// Verdicts with tag conditions are remembered per facet (they decode tag sets).
    pub fn accepts_facet(&self, views: &IssueViews, facet: &Facet) -> bool {
        if !self.predicates.iter().any(|p| matches!(p.test, Test::Tag(..))) {
            return self.decide_facet(views, facet);
        }
        let id = facet.id();
        let known = self
            .facet_verdicts
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_id
            .get(&id)
            .copied()
            .flatten();
        if let Some(verdict) = known {
            return verdict;
        }
        let verdict = self.decide_facet(views, facet);
        self.facet_verdicts
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_id
            .insert(id, Some(verdict));
        verdict
    }

    /// [`IssueQuery::accepts_facet`] without the memo.
    fn decide_facet(&self, views: &IssueViews, facet: &Facet) -> bool {
        if let Some(wanted) = &self.environments {
            if !dataflows::window::environment_wanted(facet.environment, wanted) {
                return false;
            }
        }
        let (environment, release) = (facet.environment.as_slice(), facet.release.as_slice());
        self.predicates.iter().all(|p| {
            let holds = match &p.test {
                Test::Environment(values) => any_symbol(views, environment, values),
                Test::Release(values) => any_symbol(views, release, values),
                Test::Level(values) => values.iter().any(|v| v.matches(facet.level.api_name())),
                Test::Tag(key, values) => tag_matches(views, facet.tags, key, values),
                _ => return true,
            };
            holds != p.negated
        })
    }

    /// Whether the group has an occurrence in `(lo, hi)` (inclusive, to the second)
    /// that satisfies the query's event-level conditions on its facet together.
    fn has_matching_occurrence(&self, views: &IssueViews, view: &GroupView, row: &GroupRow, range: (Micros, Micros)) -> bool {
        let Some(key) = view.key else { return false };
        let mut verdicts = self.facet_verdicts.0.lock().unwrap_or_else(|p| p.into_inner());
        let Verdicts { by_id, by_level } = &mut *verdicts;
        let by_level = *by_level.get_or_insert_with(|| self.level_verdicts(views));
        let accept = |id: u64, level: Option<Level>| match (by_level, level) {
            (Some(by_level), Some(level)) => Some(by_level[level_slot(level)]),
            _ => *by_id
                .entry(id)
                .or_insert_with(|| views.facet(id).map(|facet| self.decide_facet(views, facet))),
        };
        let range = Window {
            start: range.0,
            end: range.1,
        };
        dataflows::window::any_in(views, key, view, row, range, accept)
    }

    /// `accepts_facet` of every level, if the query's event-level conditions are all on the
    /// level (no `environment:`, `release:` or `environment=`).
    fn level_verdicts(&self, views: &IssueViews) -> Option<[bool; LEVELS.len()]> {
        let level_only = self.environments.is_none()
            && self
                .predicates
                .iter()
                .all(|p| !is_facet_test(&p.test) || matches!(p.test, Test::Level(_)));
        level_only.then(|| {
            LEVELS.map(|level| {
                let facet = Facet {
                    environment: None,
                    release: None,
                    level,
                    tags: None,
                };
                self.decide_facet(views, &facet)
            })
        })
    }

    fn add(&mut self, filter: &SearchFilter) -> Result<(), SearchError> {
        if filter.aggregate {
            return Err(error(
                filter,
                format!("Aggregate filters are not supported in issue search: {}", filter.key),
            ));
        }
        let op = filter.operator;
        let negated = matches!(op, Operator::Ne | Operator::NotIn);
        let test = match filter.key.as_str() {
            "status" => Test::Status(ints(filter)?),
            "substatus" => Test::Substatus(ints(filter)?),
            "unassigned" => Test::Unassigned(boolean(filter)?),
            "for_review" => Test::ForReview(boolean(filter)?),
            "linked" => Test::Linked(boolean(filter)?),
            "error.unhandled" => Test::Unhandled(boolean(filter)?),
            "error.handled" => Test::Unhandled(!boolean(filter)?),
            "assigned_to" => Test::AssignedTo(texts(filter)?),
            "bookmarked_by" => Test::BookmarkedBy(texts(filter)?),
            "subscribed_by" => Test::SubscribedBy(texts(filter)?),
            "issue.priority" => Test::Priority(each(filter, Priority::from_api_name)?),
            "issue.category" => {
                self.default_types_only = false;
                Test::Category(each(filter, |v| Category::from_api_name(&v.to_ascii_lowercase()))?)
            }
            "issue.type" => {
                self.default_types_only = false;
                Test::Type(each(filter, |v| group_type_by_slug(v).map(|t| t.type_id))?)
            }
            "level" => Test::Level(patterns(filter)?),
            "release" => Test::Release(patterns(filter)?),
            "first_release" => Test::FirstRelease(patterns(filter)?),
            "environment" => Test::Environment(patterns(filter)?),
            "message" => Test::Message(patterns(filter)?.into_iter().map(Text::unanchored_lowercase).collect()),
            "times_seen" => match &filter.value {
                SearchValue::Number(n) => Test::TimesSeen(op, vec![*n]),
                SearchValue::NumberList(list) => Test::TimesSeen(op, list.clone()),
                _ => return Err(error(filter, "Invalid value for \"times_seen\"".into())),
            },
            "first_seen" => Test::FirstSeen(op, date(filter)?),
            "last_seen" => Test::LastSeen(op, date(filter)?),
            "date" => {
                let t = date(filter)?;
                let (lo, hi) = self.date_range.unwrap_or((Micros::MIN, Micros::MAX));
                self.date_range = Some(match op {
                    Operator::Gt => (lo.max(t.saturating_add(1)), hi),
                    Operator::Gte => (lo.max(t), hi),
                    Operator::Lt => (lo, hi.min(t.saturating_sub(1))),
                    Operator::Lte => (lo, hi.min(t)),
                    Operator::Eq => (lo.max(t), hi.min(t)),
                    // "An occurrence at another instant": true at hour granularity.
                    _ => (lo, hi),
                });
                return Ok(());
            }
            key => match tag_key(key) {
                Some(TagKey::BuiltIn("environment")) => Test::Environment(patterns(filter)?),
                Some(TagKey::BuiltIn("release")) => Test::Release(patterns(filter)?),
                Some(TagKey::BuiltIn(_)) => Test::Level(patterns(filter)?),
                Some(TagKey::Custom(name)) => Test::Tag(name.to_string(), patterns(filter)?),
                None => return Err(error(filter, format!("Invalid search query: unsupported key \"{key}\""))),
            },
        };
        self.predicates.push(Predicate { test, negated });
        Ok(())
    }

    /// `event.timestamp` bounds of the query, inclusive.
    pub fn date_range(&self) -> Option<(Micros, Micros)> {
        self.date_range
    }

    /// Whether the query tests the windowed occurrence count (`timesSeen`).
    pub fn tests_times_seen(&self) -> bool {
        self.predicates.iter().any(|p| matches!(p.test, Test::TimesSeen(..)))
    }

    /// Whether the query has conditions Sentry evaluates on events (issue-platform.md §7.2):
    /// then the serialized group has a `filtered` object.
    pub fn has_event_conditions(&self) -> bool {
        self.date_range.is_some()
            || self.predicates.iter().any(|p| {
                matches!(
                    p.test,
                    Test::Level(_)
                        | Test::Release(_)
                        | Test::Environment(_)
                        | Test::Tag(..)
                        | Test::Message(_)
                        | Test::TimesSeen(..)
                        | Test::LastSeen(..)
                )
            })
    }

    /// Why the query cannot be an inbox search (issue-platform.md §7.6), if it cannot.
    pub fn inbox_error(&self) -> Option<String> {
        const ALLOWED: [&str; 4] = ["date", "status", "for_review", "assigned_or_suggested"];
        let invalid: Vec<&str> = self.keys.iter().map(String::as_str).filter(|k| !ALLOWED.contains(k)).collect();
        if !invalid.is_empty() {
            return Some(format!("Invalid search terms for 'inbox' search: {}", invalid.join(", ")));
        }
        let for_review = self.predicates.iter().any(|p| p.test == Test::ForReview(true) && !p.negated);
        if !for_review {
            return Some("Sort key 'inbox' only supported for inbox search".into());
        }
        let statuses: Vec<&Predicate> = self.predicates.iter().filter(|p| matches!(p.test, Test::Status(_))).collect();
        let unresolved_only =
            matches!(statuses.as_slice(), [p] if !p.negated && p.test == Test::Status(vec![GroupStatus::Unresolved as i64]));
        if !unresolved_only {
            return Some("Inbox search only works for 'unresolved' status".into());
        }
        None
    }

    /// Strings a result's lowercased title, subtitle or culprit contains at least one of
    /// (those of a free-text condition), if the query has such a condition: the issues
    /// list reads only the groups whose texts contain one (`views::TextColumn`).
    pub fn text_needles(&self) -> Option<Vec<&str>> {
        self.predicates.iter().filter(|p| !p.negated).find_map(|p| match &p.test {
            Test::Message(values) => values.iter().map(Text::needle).collect(),
            _ => None,
        })
    }

    /// The query without the free-text condition [`IssueQuery::text_needles`] takes its
    /// needles from, when those decide it: every value exact (no wildcard), so a group
    /// satisfies it exactly when one of its lowercased texts contains a needle, which is
    /// what exact candidates of the text column are (`views::Candidates::exact`). The list
    /// then tests only the other conditions on them, without reading the rows' texts.
    pub fn without_exact_text(&self) -> Option<IssueQuery> {
        let position = self
            .predicates
            .iter()
            .position(|p| !p.negated && matches!(&p.test, Test::Message(values) if values.iter().all(|v| v.needle().is_some())))?;
        let Test::Message(values) = &self.predicates[position].test else {
            return None;
        };
        if !values.iter().all(|v| matches!(v, Text::Exact(_))) {
            return None;
        }
        let mut query = self.clone();
        query.predicates.remove(position);
        Some(query)
    }

    /// Whether only unresolved groups can match: a `status` filter that allows only
    /// unresolved (`is:unresolved`, or the one `is:new` implies). The list then walks the
    /// unresolved part of its index only.
    pub fn unresolved_only(&self) -> bool {
        let unresolved = GroupStatus::Unresolved as i64;
        self.predicates
            .iter()
            .any(|p| !p.negated && matches!(&p.test, Test::Status(values) if !values.is_empty() && values.iter().all(|s| *s == unresolved)))
    }

    /// Like [`IssueQuery::matches`], with `timesSeen` and `lastSeen` tested on the group's
    /// values within the request's window when given.
    pub fn matches_within(&self, views: &IssueViews, view: &GroupView, row: &GroupRow, windowed: Option<Windowed>) -> bool {
        if matches!(
            row.status,
            GroupStatus::PendingDeletion | GroupStatus::DeletionInProgress | GroupStatus::PendingMerge
        ) {
            return false;
        }
        if self.default_types_only && group_type(row.type_id).is_some_and(|t| !t.in_default_search) {
            return false;
        }
        let facets = self.has_facet_conditions();
        if !self
            .predicates
            .iter()
            .all(|p| (facets && is_facet_test(&p.test)) || test(&p.test, views, view, row, windowed, &self.viewer) != p.negated)
        {
            return false;
        }
        let (lo, hi) = self.date_range.unwrap_or((Micros::MIN, Micros::MAX));
        let (window_lo, window_hi) = windowed.map_or((Micros::MIN, Micros::MAX), |w| w.window);
        let range = (lo.max(window_lo), hi.min(window_hi));
        if facets {
            return self.has_matching_occurrence(views, view, row, range);
        }
        self.date_range.is_none()
            || view.key.is_some_and(|key| {
                let range = Window {
                    start: range.0,
                    end: range.1,
                };
                dataflows::window::any_in(views, key, view, row, range, |_, _| Some(true))
            })
    }
}

#[cfg(test)]
mod tests;
