//! The index walk against the scan: random groups (ties in every sort value, large ties of
//! groups seen once at the same time, creation order unrelated to the views' group indexes,
//! manual inbox entries dated after `last_seen`, inbox dates recorded before or after it,
//! several statuses, environments, users, hours spread over days), random windows, environments, queries, sorts and cursors (often inside
//! a tie), and rows that change between two pages.

use std::sync::Arc;

use dataflows::facets::Facet;
use dataflows::model::{symbol_of, GroupStatus, InboxChange, Level, Micros, Priority, Substatus, Symbol, Triage};
use dataflows::state::{GroupKey, GroupRow, RowTexts};
use dataflows::views::{Activity, IssueViews};
use dataflows::window::{Window, HOUR_MICROS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::list_params::Collapse;

const DAY: Micros = 24 * HOUR_MICROS;
/// "Now": day 20 at 00:00.
const NOW: Micros = 20 * DAY + 1_700_000_000_000_000;
const ENVIRONMENTS: [&str; 3] = ["production", "staging", "dev"];

struct Group {
    key: GroupKey,
    row: Arc<GroupRow>,
}

fn random_status(rng: &mut StdRng) -> (GroupStatus, Option<Substatus>) {
    match rng.random_range(0..10) {
        0..=1 => (GroupStatus::Resolved, None),
        2 => (GroupStatus::Ignored, Some(Substatus::Forever)),
        3 => (GroupStatus::Unresolved, Some(Substatus::Regressed)),
        4 => (GroupStatus::Unresolved, Some(Substatus::Escalating)),
        5..=6 => (GroupStatus::Unresolved, Some(Substatus::Ongoing)),
        _ => (GroupStatus::Unresolved, Some(Substatus::New)),
    }
}

/// Adds `occurrences` occurrences to group `key` between `first` and `last` (hours), with
/// environments and users, and returns its row (times_seen, user_count, first and last seen
/// consistent with them).
fn add_group(views: &mut IssueViews, rng: &mut StdRng, key: GroupKey, seq: u64, epoch: u64) -> Group {
    // Times on a coarse grid so that sort values tie often.
    let grid = 10 * 60 * 1_000_000;
    let start = NOW - 19 * DAY;
    let first_seen = start + rng.random_range(0..(19 * DAY / grid)) * grid;
    let last_seen = if rng.random_bool(0.3) {
        first_seen
    } else {
        first_seen + rng.random_range(0..((NOW - first_seen) / grid + 1)) * grid
    };
    let (first_hour, last_hour) = ((first_seen / HOUR_MICROS) as u32, (last_seen / HOUR_MICROS) as u32);
    let occurrences: u64 = if first_hour == last_hour {
        rng.random_range(1..4)
    } else {
        rng.random_range(2..12)
    };
    let environments: Vec<Option<Symbol>> = match rng.random_range(0..10) {
        0 => vec![None],
        1..=2 => vec![
            Some(symbol_of(ENVIRONMENTS[0])),
            Some(symbol_of(ENVIRONMENTS[rng.random_range(1..3)])),
        ],
        3 => vec![None, Some(symbol_of(ENVIRONMENTS[1]))],
        _ => vec![Some(symbol_of(ENVIRONMENTS[rng.random_range(0..3)]))],
    };
    let mut activity = Vec::new();
    let mut users = Vec::new();
    for i in 0..occurrences {
        let hour = match i {
            0 => first_hour,
            1 => last_hour,
            _ => rng.random_range(first_hour..=last_hour),
        };
        let facet = Facet {
            environment: environments[rng.random_range(0..environments.len())],
            release: None,
            level: Level::Error,
            tags: None,
        };
        activity.push((Activity::occurrences(key, facet, hour), epoch, 1));
        // The occurrence's second, within the group's lifetime.
        let hour_start = Micros::from(hour) * HOUR_MICROS;
        let lo = hour_start.max(first_seen) / 1_000_000;
        let hi = (hour_start + HOUR_MICROS - 1).min(last_seen) / 1_000_000;
        let t = match i {
            0 => first_seen / 1_000_000,
            1 => last_seen / 1_000_000,
            _ => rng.random_range(lo..=hi.max(lo)),
        };
        let second = (t - hour_start / 1_000_000) as u32;
        let user = if rng.random_bool(0.7) { rng.random_range(1..7u64) } else { 0 };
        users.push(((key, hour, second, facet.id(), user), epoch, 1));
    }
    views.apply_activity(activity);
    let user_count = {
        let mut distinct: Vec<u64> = users.iter().map(|u| (u.0).4).filter(|u| *u != 0).collect();
        distinct.sort_unstable();
        distinct.dedup();
        distinct.len() as u64
    };
    views.apply_details(users);
    let (status, substatus) = random_status(rng);
    let triage = random_inbox(rng, last_seen);
    let row = Arc::new(GroupRow {
        type_id: 4001,
        status,
        substatus,
        priority: [Priority::Low, Priority::Medium, Priority::High][rng.random_range(0..3)],
        priority_locked: false,
        texts: RowTexts::new("Monitor failure", "s", &format!("job-{}", rng.random_range(0..50))),
        level: [Level::Error, Level::Warning, Level::Info][rng.random_range(0..3)],
        metadata_priority: Priority::High,
        first_seen,
        last_seen,
        times_seen: occurrences,
        user_count,
        first_release: None,
        last_release: None,
        created_seq: seq,
        inbox_since: random_inbox_since(rng, first_seen),
        unhandled: false,
        event_group: None,
        triage,
    });
    views.apply_groups(vec![((key, row.clone()), epoch, 1)]);
    Group { key, row }
}

/// Sometimes a manual inbox change: `inbox: true` dated after the group's `last_seen` (up to
/// now), which the `inbox` sort shows by that date, or `inbox: false`.
/// When a regressed, escalating (or re-opened new) group entered the inbox: a whole second
/// between its first occurrence and now, so before, at or after `last_seen` (an escalation by
/// a status-change message is dated by the project's newest occurrence); or never.
fn random_inbox_since(rng: &mut StdRng, first_seen: Micros) -> u32 {
    if rng.random_bool(0.3) {
        return 0;
    }
    (rng.random_range(first_seen..=NOW) / 1_000_000).max(1) as u32
}

fn random_inbox(rng: &mut StdRng, last_seen: Micros) -> Option<Arc<Triage>> {
    let inbox = match rng.random_range(0..10) {
        0..=1 => InboxChange::Added(last_seen + rng.random_range(0..=(NOW - last_seen).max(0) / 1000) * 1000),
        2 => InboxChange::Reviewed,
        _ => return None,
    };
    Some(Arc::new(Triage {
        inbox: Some(inbox),
        ..Triage::default()
    }))
}

/// A group seen once at `at` by one user, unresolved and new: one of a large tie in every
/// sort.
fn add_tied_group(views: &mut IssueViews, key: GroupKey, seq: u64, at: Micros) -> Group {
    let hour = (at / HOUR_MICROS) as u32;
    let facet = Facet {
        environment: None,
        release: None,
        level: Level::Error,
        tags: None,
    };
    views.apply_activity(vec![(Activity::occurrences(key, facet, hour), 0, 1)]);
    let second = (at / 1_000_000 - i64::from(hour) * 3600) as u32;
    views.apply_details(vec![((key, hour, second, facet.id(), 1), 0, 1)]);
    let row = Arc::new(GroupRow {
        type_id: 4001,
        status: GroupStatus::Unresolved,
        substatus: Some(Substatus::New),
        priority: Priority::High,
        priority_locked: false,
        texts: RowTexts::new("Monitor failure", "s", "job-7"),
        level: Level::Error,
        metadata_priority: Priority::High,
        first_seen: at,
        last_seen: at,
        times_seen: 1,
        user_count: 1,
        first_release: None,
        last_release: None,
        created_seq: seq,
        inbox_since: 0,
        unhandled: false,
        event_group: None,
        triage: None,
    });
    views.apply_groups(vec![((key, row.clone()), 0, 1)]);
    Group { key, row }
}

/// A new state of the group's row: another status, or newer occurrences (within its hours).
fn change_group(views: &mut IssueViews, rng: &mut StdRng, group: &mut Group, epoch: u64) {
    let mut row = (*group.row).clone();
    let change = rng.random_range(0..10);
    if change < 2 {
        row.triage = random_inbox(rng, row.last_seen);
    } else if change < 6 {
        let (status, substatus) = random_status(rng);
        row.status = status;
        row.substatus = substatus;
    } else {
        let hour = (NOW / HOUR_MICROS) as u32 - rng.random_range(0..3);
        row.last_seen = row
            .last_seen
            .max(Micros::from(hour) * HOUR_MICROS + rng.random_range(0..6) * 10 * 60 * 1_000_000);
        row.times_seen += 1;
        views.apply_activity(vec![(Activity::Hour(group.key, hour), epoch, 1)]);
    }
    let row = Arc::new(row);
    views.apply_groups(vec![
        ((group.key, group.row.clone()), epoch, -1),
        ((group.key, row.clone()), epoch, 1),
    ]);
    group.row = row;
}

fn random_window(rng: &mut StdRng) -> Window {
    match rng.random_range(0..5) {
        0 => Window::ALL,
        1 => Window {
            start: NOW - DAY,
            end: NOW,
        },
        2 => Window {
            start: NOW - 14 * DAY,
            end: NOW,
        },
        3 => Window {
            start: NOW - 10 * DAY,
            end: NOW - 3 * DAY,
        },
        _ => Window {
            start: NOW - 90 * DAY,
            end: NOW + DAY,
        },
    }
}

const QUERIES: &[&str] = &[
    search::DEFAULT_QUERY,
    "",
    "is:unresolved level:error",
    "!issue.priority:low is:new",
    "is:resolved",
    "is:unresolved times_seen:>3",
    "environment:production",
    "job-7",
    "is:for_review",
    "is:unresolved job-1",
    "Failure*JOB-2",
    "monitor",
    "JOB-4 environment:production",
    "job-3 !job-33",
];

#[derive(Debug, PartialEq)]
struct Seen {
    keys: Vec<GroupKey>,
    has_next: bool,
    has_prev: bool,
    next: Cursor,
    prev: Cursor,
    hits: usize,
}

fn seen(listing: &Listing) -> Seen {
    Seen {
        keys: listing.page.rows.iter().map(|r| r.key).collect(),
        has_next: listing.page.has_next,
        has_prev: listing.page.has_prev,
        next: listing.page.next,
        prev: listing.page.prev,
        hits: listing.hits,
    }
}

#[test]
fn the_index_walk_pages_exactly_like_the_scan() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut views = IssueViews::default();
    for name in ENVIRONMENTS {
        views.apply_symbols(vec![((symbol_of(name), name.to_string()), 0, 1)]);
    }
    // Creation order unrelated to the order the views index groups in; sequences past 2^30,
    // where the indexes' created key (`created_key`) gives about ten groups the same key.
    let mut seqs: Vec<u64> = (0..7000u64).map(|i| (1 << 30) + i * 3).collect();
    for i in (1..seqs.len()).rev() {
        seqs.swap(i, rng.random_range(0..=i));
    }
    let mut groups: Vec<Group> = (0..4000u64)
        .map(|i| {
            let key = GroupKey {
                project: 1 + i % 3,
                short_id: i as u32 + 1,
            };
            add_group(&mut views, &mut rng, key, seqs[i as usize], 0)
        })
        .collect();
    // Two large ties: 2,000 groups seen once at one time, 1,000 at another.
    for i in 4000..7000u64 {
        let key = GroupKey {
            project: 1 + i % 3,
            short_id: i as u32 + 1,
        };
        let at = if i < 6000 { NOW - 2 * DAY } else { NOW - 9 * DAY };
        groups.push(add_tied_group(&mut views, key, seqs[i as usize], at));
    }
    let sorts = [Sort::Date, Sort::New, Sort::Freq, Sort::User, Sort::Trends, Sort::Inbox];
    let query_time = std::time::UNIX_EPOCH + std::time::Duration::from_micros(NOW as u64);
    let mut epoch = 1;
    let (mut walked_pages, mut full_pages) = (0, 0);
    for case in 0..400 {
        let window = random_window(&mut rng);
        let environments = match rng.random_range(0..4) {
            0 => Some(vec![symbol_of("production")]),
            1 => Some(vec![symbol_of("staging"), symbol_of("dev")]),
            _ => None,
        };
        let text = QUERIES[rng.random_range(0..QUERIES.len())];
        let search = IssueQuery::parse(text, query_time).expect("query parses");
        let scope = Scope::new(window, environments, None, Collapse::default(), Some(&search));
        let query = ListQuery {
            sort: sorts[case % sorts.len()],
            window,
            search: &search,
            scope: &scope,
            inbox_since: window.start.max(NOW - 7 * DAY),
        };
        let project = rng.random_range(0..4u64);
        let in_scope = move |key: GroupKey| project == 0 || key.project == project;
        let limit = [1, 7, 25, 100][rng.random_range(0..4)];
        let mut cursor: Option<Cursor> = None;
        for _page in 0..4 {
            let by_scan = list(&views, &query, &in_scope, cursor, limit, Strategy::Scan);
            for strategy in [Strategy::Index, Strategy::IndexEveryRow] {
                let by_index = list(&views, &query, &in_scope, cursor, limit, strategy);
                assert_eq!(
                    seen(&by_index),
                    seen(&by_scan),
                    "case {case}: {strategy:?}, sort {:?}, query {text:?}, window {window:?}, envs {:?}, limit {limit}, cursor {cursor:?}",
                    query.sort,
                    scope.environments
                );
            }
            // The rows here are consistent with their hours, so every bound holds: the walk
            // must answer by itself, not by falling back to the scan.
            let to_row =
                |key: GroupKey, view: &GroupView, row: &GroupRow| in_scope(key).then(|| sort_row(&views, &query, key, view, row)).flatten();
            assert!(
                walk(&views, &query, &to_row, cursor, limit, false, None).is_some(),
                "case {case}: sort {:?}: a bound did not hold",
                query.sort
            );
            walked_pages += 1;
            full_pages += usize::from(by_scan.hits == MAX_HITS);
            // Some rows change between two pages.
            for _ in 0..rng.random_range(0..30) {
                let i = rng.random_range(0..groups.len());
                change_group(&mut views, &mut rng, &mut groups[i], epoch);
                epoch += 1;
            }
            let page = by_scan.page;
            // Half the time, a cursor anywhere in the results, most often near the 1,000th
            // row, where the walk stops.
            if rng.random_bool(0.5) {
                let mut all: Vec<Row> = views
                    .iter()
                    .filter(|(k, _, _)| in_scope(*k))
                    .filter_map(|(k, v, r)| sort_row(&views, &query, k, v, r))
                    .collect();
                all.sort_by(|a, b| b.value.cmp(&a.value).then(b.created.cmp(&a.created)));
                let around = if rng.random_bool(0.7) { MAX_HITS } else { all.len() / 2 };
                let position = (around + rng.random_range(0..40))
                    .saturating_sub(20)
                    .min(all.len().saturating_sub(1));
                if let Some(at) = all.get(position) {
                    let ties = all[..position].iter().rev().take_while(|r| r.value == at.value).count();
                    cursor = Some(Cursor {
                        value: at.value,
                        offset: ties,
                        is_prev: rng.random_bool(0.5),
                    });
                    continue;
                }
            }
            cursor = match rng.random_range(0..4) {
                0 if page.has_prev => Some(page.prev),
                0 => None,
                1 => Some(Cursor {
                    value: page.next.value,
                    offset: page.next.offset + rng.random_range(0..3),
                    is_prev: rng.random_bool(0.5),
                }),
                _ if page.has_next => Some(page.next),
                _ => None,
            };
        }
    }
    // The cases must exercise the walk's early stop, not only exhausted walks.
    assert!(
        full_pages > walked_pages / 10,
        "{full_pages} of {walked_pages} pages had 1,000 hits"
    );
}

/// A page that ends inside a tie of 5,000 groups reads 1,000 of them, not the whole tie, in
/// every sort (the walk follows creation order within a bound), and still pages like the scan.
#[test]
fn a_walk_stops_inside_a_large_tie() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut views = IssueViews::default();
    let mut seqs: Vec<u64> = (0..5000u64).collect();
    for i in (1..seqs.len()).rev() {
        seqs.swap(i, rng.random_range(0..=i));
    }
    for (i, seq) in seqs.iter().enumerate() {
        let key = GroupKey {
            project: 1,
            short_id: i as u32 + 1,
        };
        add_tied_group(&mut views, key, *seq, NOW - DAY);
    }
    let query_time = std::time::UNIX_EPOCH + std::time::Duration::from_micros(NOW as u64);
    let search = IssueQuery::parse(search::DEFAULT_QUERY, query_time).expect("query parses");
    let scope = Scope::new(Window::ALL, None, None, Collapse::default(), Some(&search));
    for sort in [Sort::Date, Sort::New, Sort::Freq, Sort::User, Sort::Trends, Sort::Inbox] {
        let query = ListQuery {
            sort,
            window: Window::ALL,
            search: &search,
            scope: &scope,
            inbox_since: NOW - 7 * DAY,
        };
        let to_row = |key: GroupKey, view: &GroupView, row: &GroupRow| sort_row(&views, &query, key, view, row);
        let (key, view, row) = views.iter().next().expect("a group");
        let value = sort_row(&views, &query, key, view, row).expect("a result").value;
        for cursor in [
            None,
            Some(Cursor {
                value,
                offset: 700,
                is_prev: false,
            }),
            Some(Cursor {
                value,
                offset: 850,
                is_prev: true,
            }),
        ] {
            let rows = walk(&views, &query, &to_row, cursor, 100, true, None).expect("bounds hold");
            let needed = cursor.map_or(101, |c| c.offset + if c.is_prev { 1 } else { 101 });
            assert_eq!(rows.len(), MAX_HITS.max(needed), "{sort:?} {cursor:?}");
            let in_scope = |_: GroupKey| true;
            assert_eq!(
                seen(&list(&views, &query, &in_scope, cursor, 100, Strategy::IndexEveryRow)),
                seen(&list(&views, &query, &in_scope, cursor, 100, Strategy::Scan)),
                "{sort:?} {cursor:?}"
            );
        }
    }
}
