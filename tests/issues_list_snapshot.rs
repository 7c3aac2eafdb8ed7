//! Exactly-once paging through the real binary (issue 3 §3), for every sort (`date`, `freq`,
//! `new`, `user`, `trends`, `inbox`): occurrences appended between
//! page requests (`--follow`) move groups that are not paged yet above the cursor and create
//! new groups; paging must still return each group that existed at the first page exactly
//! once, and no new one. The expectation is the set of groups before any append, read here
//! from the input, independently of the pages.

mod common;
#[path = "common/list_client.rs"]
mod list_client;

use std::io::Write;

use common::*;
use list_client::*;

const GROUPS: i64 = 14;

/// `g00`…`g13`: group `i` last seen `i` minutes before an hour ago, with `GROUPS - i`
/// occurrences, so sort=date and sort=freq both list `g00` first and `g13` last.
fn initial_events() -> Vec<Ev> {
    let mut evs = Vec::new();
    for i in 0..GROUPS {
        let fp: &'static str = Box::leak(format!("g{i:02}").into_boxed_str());
        for k in 0..GROUPS - i {
            evs.push(ev(fp, NOW - H - i * 60 - k, None, None));
        }
    }
    evs
}

fn append(path: &std::path::Path, first_id: u64, evs: &[Ev]) {
    let mut file = std::fs::OpenOptions::new().append(true).open(path).expect("open input");
    for (i, e) in evs.iter().enumerate() {
        writeln!(file, "{}", message(first_id + i as u64, e)).expect("append");
    }
    file.flush().expect("flush");
}

fn link_cursor(reply: &Reply, rel: &str) -> (bool, String) {
    let link = reply.headers["Link"].to_str().unwrap();
    let part = link.split(", ").find(|l| l.contains(&format!("rel=\"{rel}\""))).unwrap();
    let cursor = part.split("cursor=\"").nth(1).unwrap().trim_end_matches('"').to_string();
    (part.contains("results=\"true\""), cursor)
}

fn ids(reply: &Reply) -> Vec<String> {
    reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect()
}

/// The title of every group, by id (one request: under 100 groups).
fn titles_by_id(server: &common::server::Server) -> std::collections::HashMap<String, String> {
    let reply = list(server, "query=&limit=100");
    reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["id"].as_str().unwrap().to_string(), g["title"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn paging_returns_each_group_of_the_first_page_once_while_occurrences_arrive() {
    let dir = temp_dir();
    let evs = initial_events();
    let messages = messages_of(&evs);
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&messages));
    let server = start(&["--input", input.to_str().unwrap(), "--follow"]);
    let mut next_id = evs.len() as u64 + 1;
    let mut groups = GROUPS as usize;
    let mut expected: Vec<String> = (0..GROUPS).map(|i| format!("title g{i:02}")).collect();
    expected.sort();

    // Every sort (issue 3 §3). Arriving occurrences carry new users, so they move groups
    // under sort=user too; sort=new and sort=inbox only see new groups arrive above (first
    // seen and the date added to the inbox do not change); user counts start all tied at 0.
    let sorts = [
        ("date", "", 1),
        ("freq", "", 40),
        ("new", "", 1),
        ("user", "", 3),
        ("trends", "", 5),
        ("inbox", "&query=is%3Afor_review%20is%3Aunresolved", 1),
    ];
    for (sort, query, round_events) in sorts {
        let params = format!("sort={sort}&limit=3{query}");
        let first = list(&server, &params);
        assert_eq!(first.headers["X-Hits"], groups.to_string().as_str(), "{sort}");
        let (has_next, mut cursor) = link_cursor(&first, "next");
        assert!(has_next && cursor.starts_with('s') && cursor.ends_with(":3:0"), "{sort}: {cursor}");
        let hits = first.headers["X-Hits"].clone();
        // Every group existing now is expected, whatever arrives later.
        let expected_ids: std::collections::HashSet<String> = titles_by_id(&server).into_keys().collect();
        assert_eq!(expected_ids.len(), groups);
        let mut paged = ids(&first);
        let mut pages = vec![ids(&first)];
        let mut round = 0;
        let last = loop {
            // Before each page: the group listed last (not paged yet) gets occurrences that
            // put it first, and a new group appears above every old one (all before "now":
            // at most 20 rounds of a minute each from half an hour ago).
            round += 1;
            let titles = titles_by_id(&server);
            let unpaged: Vec<String> = {
                let all = walk_all(&server, sort, query);
                all.into_iter()
                    .filter(|id| expected_ids.contains(id) && !paged.contains(id))
                    .collect()
            };
            let mut arriving = Vec::new();
            if let Some(bottom) = unpaged.last() {
                let fp: &'static str = Box::leak(titles[bottom].trim_start_matches("title ").to_string().into_boxed_str());
                for k in 0..round_events {
                    let user: &'static str = Box::leak(format!("u-{sort}-{round}-{k}").into_boxed_str());
                    arriving.push(ev(fp, NOW - 1800 + round * 60 + k, Some(user), None));
                }
            }
            let fresh: &'static str = Box::leak(format!("new-{sort}-{round}").into_boxed_str());
            for k in 0..round_events * 3 {
                arriving.push(ev(fresh, NOW - 1800 + round * 60 + k, None, None));
            }
            // Read before the append (after it, the server may already count them).
            let wanted = unpaged.last().map(|m| (m.clone(), count_of(&server, m) + round_events as u64));
            append(&input, next_id, &arriving);
            next_id += arriving.len() as u64;
            groups += 1;
            // Applied: the new group is listed and the moved one counts the new occurrences.
            wait_until(|| {
                list(&server, "query=&limit=100").body.as_array().unwrap().len() == groups
                    && wanted.as_ref().is_none_or(|(m, count)| count_of(&server, m) == *count)
            });

            let reply = list(&server, &format!("{params}&cursor={cursor}"));
            assert_eq!(reply.headers["X-Hits"], hits, "{sort}: X-Hits of page 1 on every page");
            paged.extend(ids(&reply));
            pages.push(ids(&reply));
            let (has_next, next) = link_cursor(&reply, "next");
            if !has_next {
                break reply;
            }
            cursor = next;
            assert!(round < 20, "{sort}: paging does not end");
        };
        let mut unique = paged.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), paged.len(), "{sort}: no group twice: {paged:?}");
        let titles = titles_by_id(&server);
        let mut got: Vec<String> = paged.iter().map(|id| titles[id].clone()).collect();
        got.sort();
        assert_eq!(got, expected, "{sort}: every group of the first page, and no new one");

        // Previous links replay the pages served: back from the last page to the first.
        let mut reply = last;
        for page in pages.iter().rev().skip(1) {
            let (has_prev, prev) = link_cursor(&reply, "previous");
            assert!(has_prev, "{sort}");
            reply = list(&server, &format!("{params}&cursor={prev}"));
            assert_eq!(&ids(&reply), page, "{sort}: previous page");
        }
        assert!(!link_cursor(&reply, "previous").0, "{sort}: back at the first page");
        // The old order is gone from the data, but a new first page sees the new groups.
        expected.extend((1..=round).map(|r| format!("title new-{sort}-{r}")));
        expected.sort();
    }

    // A snapshot cursor is bound to its query; unknown tokens get a clear 400.
    let first = list(&server, "sort=date&limit=2");
    let (_, cursor) = link_cursor(&first, "next");
    for path in [
        format!("sort=freq&limit=2&cursor={cursor}"),
        "sort=date&limit=2&cursor=s0000000000000001:2:0".to_string(),
    ] {
        let reply = get(&server, &format!("/api/0/organizations/sentry/issues/?{path}"));
        assert_eq!(reply.status, 400, "{path}");
        assert!(reply.body["detail"].as_str().unwrap().contains("expired"), "{}", reply.body);
    }
    // A malformed one is Sentry's invalid cursor.
    let reply = get(&server, "/api/0/organizations/sentry/issues/?cursor=sxyz:1:0");
    assert_eq!(reply.body["detail"], "Invalid cursor parameter.");
    // The limit may change between pages: positions, not pages, are pinned.
    let reply = list(&server, &format!("sort=date&limit=5&cursor={cursor}"));
    assert_eq!(reply.body.as_array().unwrap().len(), 5);
}

/// Every group matching the default query (or `query`) in `sort`'s current order (one
/// page of 100).
fn walk_all(server: &common::server::Server, sort: &str, query: &str) -> Vec<String> {
    ids(&list(server, &format!("sort={sort}&limit=100{query}")))
}

fn count_of(server: &common::server::Server, id: &str) -> u64 {
    let reply = get(server, &format!("/api/0/organizations/sentry/issues/{id}/"));
    reply.body["count"].as_str().expect("count").parse().expect("a number")
}
