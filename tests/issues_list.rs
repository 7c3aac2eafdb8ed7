//! The issues list and details endpoints' parameters (issue-platform.md §7) through the real
//! binary: windows, environments, projects, stats buckets, issues-count, sorts, collapse,
//! direct hits, explicit ids and the 400 messages (paging, `filtered`, stats buckets cut by
//! the window, and retention are in `issues_list_paging.rs`). Expected values are computed
//! here from the input events (`Ev`), independently of the server.

mod common;
#[path = "common/list_client.rs"]
mod list_client;

use common::server::Server;
use common::*;
use list_client::*;
use serde_json::{json, Value};

/// alpha: six events over 30 days, three users, prod/staging/none (so its environments
/// split); beta: one event outside 90 days, three 10 days ago; gamma (project 2): four
/// recent events without user or environment; reg: resolved, then regressed a day ago;
/// delta: only outside 90 days. No event lies in an hour that a window boundary cuts.
fn events() -> Vec<Ev> {
    let n = NOW;
    vec![
        ev("alpha", n - 30 * D + 1800, Some("u1"), Some("prod")),
        ev("beta", n - 95 * D + 1800, Some("u9"), Some("prod")),
        ev("alpha", n - 2 * D + 1800, Some("u1"), Some("prod")),
        ev("alpha", n - 2 * D + 1900, Some("u2"), Some("prod")),
        ev("alpha", n - 5 * H + 1800, Some("u2"), Some("staging")),
        ev("alpha", n - 6 * H + 2000, Some("u3"), None),
        ev("alpha", n - H + 1800, Some("u3"), Some("prod")),
        ev("beta", n - 10 * D + 1800, Some("u4"), Some("prod")),
        ev("beta", n - 10 * D + 1860, Some("u5"), Some("prod")),
        ev("beta", n - 10 * D + 1920, Some("u4"), Some("prod")),
        Ev {
            project: 2,
            ..ev("gamma", n - 3 * H + 1800, None, None)
        },
        Ev {
            project: 2,
            ..ev("gamma", n - 3 * H + 1801, None, None)
        },
        Ev {
            project: 2,
            ..ev("gamma", n - 3 * H + 1802, None, None)
        },
        Ev {
            project: 2,
            ..ev("gamma", n - 3 * H + 1803, None, None)
        },
        ev("reg", n - 20 * D + 1800, None, None),
        ev("delta", n - 95 * D + 1800, None, None),
    ]
}

fn main_server(dir: &std::path::Path) -> Server {
    let evs = events();
    let mut messages = messages_of(&evs);
    // reg: resolved, then a new occurrence a day ago regresses it.
    messages.push(status_change(500, 1, "reg", 1, None));
    messages.push(message(501, &ev("reg", NOW - D + 1800, None, None)));
    let input = write_lines(dir, "in.jsonl", &to_lines(&messages));
    start(&["--input", input.to_str().unwrap()])
}

/// `events()` plus reg's regressing occurrence: what the expectations are computed from.
fn all_events() -> Vec<Ev> {
    let mut evs = events();
    evs.push(ev("reg", NOW - D + 1800, None, None));
    evs
}

#[test]
fn windows_environments_and_stats() {
    let dir = temp_dir();
    let server = main_server(dir.path());
    let evs = all_events();
    let t = |fp: &str| format!("title {fp}");

    // Default: the last 90 days; delta (only older events) is not returned; date order.
    let reply = list(&server, "");
    assert_eq!(titles(&reply), [t("alpha"), t("gamma"), t("reg"), t("beta")]);
    assert_eq!(reply.headers["X-Hits"], "4");
    for fp in ["alpha", "beta", "gamma", "reg"] {
        let group = by_title(&reply, &t(fp));
        assert_eq!(actual(group), expected(&evs, fp, NOW - 90 * D, NOW, None), "{fp}");
        let lifetime = &group["lifetime"];
        assert_eq!(actual(lifetime), expected(&evs, fp, i64::MIN, i64::MAX, None), "{fp} lifetime");
        assert_eq!(lifetime["stats"], Value::Null);
        assert_eq!(group["filtered"], Value::Null, "the default query has no event-level condition");
        // 24 hourly buckets, the last holding now.
        assert_eq!(
            group["stats"]["24h"],
            expected_buckets(&evs, fp, NOW - 23 * H, H, 24, None),
            "{fp} stats"
        );
    }
    // Spelled out once: beta's windowed values leave out its event 95 days ago.
    let beta = by_title(&reply, "title beta");
    assert_eq!((beta["count"].clone(), beta["userCount"].clone()), (json!("3"), json!(2)));
    assert_eq!(
        (beta["lifetime"]["count"].clone(), beta["lifetime"]["userCount"].clone()),
        (json!("4"), json!(3))
    );
    assert_eq!(by_title(&reply, "title alpha")["stats"]["24h"][18], json!([NOW - 5 * H, 1]));
    assert_eq!(by_title(&reply, "title alpha")["stats"]["24h"][17], json!([NOW - 6 * H, 1]));

    // statsPeriod=24h, sort=freq: windowed counts order the groups.
    let reply = list(&server, "statsPeriod=24h&sort=freq");
    assert_eq!(titles(&reply), [t("gamma"), t("alpha"), t("reg")]);
    for fp in ["alpha", "gamma", "reg"] {
        assert_eq!(actual(by_title(&reply, &t(fp))), expected(&evs, fp, NOW - D, NOW, None), "{fp}");
    }
    // timesSeen and lastSeen are evaluated in the window.
    assert_eq!(titles(&list(&server, "statsPeriod=24h&query=timesSeen:>=4")), [t("gamma")]);
    assert_eq!(titles(&list(&server, "query=timesSeen:>=5")), [t("alpha")]);
    assert_eq!(titles(&list(&server, "statsPeriod=24h&query=timesSeen:>=5")), Vec::<String>::new());
    let cutoff = iso(NOW - 4 * H).trim_end_matches(".000000Z").to_string();
    assert_eq!(
        titles(&list(&server, &format!("query=lastSeen:>{cutoff}"))),
        [t("alpha"), t("gamma")]
    );

    // sort=user over 14 days; value cursors (a first page links into a paging snapshot,
    // see issues_list_snapshot.rs; a value cursor from the top gives the same page) carry
    // the windowed user counts.
    let reply = list(&server, "statsPeriod=14d&sort=user&limit=1");
    assert_eq!(titles(&reply), [t("alpha")]);
    assert_eq!(by_title(&reply, "title alpha")["userCount"], 3);
    let reply = list(&server, &format!("statsPeriod=14d&sort=user&limit=1&cursor={}:0:0", i64::MAX));
    assert_eq!(titles(&reply), [t("alpha")]);
    let link = reply.headers["Link"].to_str().unwrap();
    assert!(link.contains("rel=\"next\"; results=\"true\"; cursor=\"2:0:0\""), "{link}");
    let reply = list(&server, "statsPeriod=14d&sort=user&limit=1&cursor=2:0:0");
    assert_eq!(titles(&reply), [t("beta")]);

    // Environments: counts, users and stats of the requested environments only.
    let prod: &[&str] = &["prod"];
    let reply = list(&server, "environment=prod");
    assert_eq!(titles(&reply), [t("alpha"), t("beta")]);
    for fp in ["alpha", "beta"] {
        assert_eq!(
            actual(by_title(&reply, &t(fp))),
            expected(&evs, fp, NOW - 90 * D, NOW, Some(prod)),
            "{fp}"
        );
    }
    let both: &[&str] = &["prod", "staging"];
    let reply = list(&server, "environment=prod&environment=staging&groupStatsPeriod=14d");
    let alpha = by_title(&reply, "title alpha");
    assert_eq!(alpha["count"], expected(&evs, "alpha", NOW - 90 * D, NOW, Some(both)).0);
    assert_eq!(
        alpha["stats"]["14d"],
        expected_buckets(&evs, "alpha", NOW - 13 * D, D, 14, Some(both))
    );
    // staging alone: one event; first/last seen are its time (not its hour's edges).
    let reply = list(&server, "environment=staging");
    let alpha = by_title(&reply, "title alpha");
    assert_eq!(alpha["count"], "1");
    assert_eq!(alpha["userCount"], 1);
    assert_eq!(alpha["firstSeen"], iso(NOW - 5 * H + 1800));
    assert_eq!(alpha["lastSeen"], iso(NOW - 5 * H + 1800));
    assert_eq!(actual(alpha), expected(&evs, "alpha", NOW - 90 * D, NOW, Some(&["staging"])));
    assert_eq!(
        alpha["stats"]["24h"],
        expected_buckets(&evs, "alpha", NOW - 23 * H, H, 24, Some(&["staging"]))
    );
    // The empty name: the occurrences without an environment (alpha's one, gamma's four,
    // reg's two), alone and beside a named environment; by their own last seen.
    for (params, envs) in [
        ("environment=", &[""][..]),
        ("environment=&environment=staging&statsPeriod=24h", &["", "staging"][..]),
    ] {
        let reply = list(&server, params);
        assert_eq!(titles(&reply), [t("gamma"), t("alpha"), t("reg")], "{params}");
        let start = if params.contains("24h") { NOW - D } else { NOW - 90 * D };
        for fp in ["alpha", "gamma", "reg"] {
            let group = by_title(&reply, &t(fp));
            assert_eq!(actual(group), expected(&evs, fp, start, NOW, Some(envs)), "{params} {fp}");
            assert_eq!(
                group["stats"]["24h"],
                expected_buckets(&evs, fp, NOW - 23 * H, H, 24, Some(envs)),
                "{params} {fp}"
            );
        }
    }
    assert_eq!(expected(&evs, "alpha", NOW - 90 * D, NOW, Some(&[""])).0, "1");
    // An environment no occurrence carried: Sentry's get_environments raises
    // ResourceDoesNotExist (tests/issues_environments.rs has the details).
    let reply = get(&server, "/api/0/organizations/sentry/issues/?environment=nowhere");
    assert_eq!(
        (reply.status, reply.body["detail"].as_str()),
        (404, Some("The requested resource does not exist"))
    );

    // start/end (end exclusive) with auto stats: daily buckets over three days.
    let (start, end) = (iso(NOW - 4 * D), iso(NOW - D));
    let reply = list(&server, &format!("start={start}&end={end}&groupStatsPeriod=auto"));
    assert_eq!(titles(&reply), [t("alpha")]);
    let alpha = by_title(&reply, "title alpha");
    assert_eq!(actual(alpha), expected(&evs, "alpha", NOW - 4 * D, NOW - D - 1, None));
    assert_eq!(alpha["stats"]["auto"], expected_buckets(&evs, "alpha", NOW - 4 * D, D, 3, None));
    // statsPeriodStart/End: between 12 and 8 days ago.
    assert_eq!(titles(&list(&server, "statsPeriodStart=12d&statsPeriodEnd=8d")), [t("beta")]);
    // Stats off.
    assert!(list(&server, "groupStatsPeriod=").body[0].get("stats").is_none());

    // filtered: under the query's event.timestamp bound; count stays the window's.
    let since = iso(NOW - 3 * D).trim_end_matches(".000000Z").to_string();
    let reply = list(&server, &format!("query=is:unresolved event.timestamp:>={since}"));
    let alpha = by_title(&reply, "title alpha");
    assert_eq!(actual(alpha), expected(&evs, "alpha", NOW - 90 * D, NOW, None));
    assert_eq!(actual(&alpha["filtered"]), expected(&evs, "alpha", NOW - 3 * D, NOW, None));
    assert_eq!(
        alpha["filtered"]["stats"]["24h"],
        expected_buckets(&evs, "alpha", NOW - 23 * H, H, 24, None)
    );

    // filtered under the query's environment names: only staging's occurrence.
    let reply = list(&server, "query=environment:staging");
    let alpha = by_title(&reply, "title alpha");
    assert_eq!(actual(alpha), expected(&evs, "alpha", NOW - 90 * D, NOW, None));
    assert_eq!(
        actual(&alpha["filtered"]),
        expected(&evs, "alpha", NOW - 90 * D, NOW, Some(&["staging"]))
    );
    // With environment=prod as well, filtered counts the intersection: prod.
    let reply = list(&server, "query=environment:[staging,prod]&environment=prod");
    let alpha = by_title(&reply, "title alpha");
    assert_eq!(actual(alpha), expected(&evs, "alpha", NOW - 90 * D, NOW, Some(prod)));
    assert_eq!(actual(&alpha["filtered"]), expected(&evs, "alpha", NOW - 90 * D, NOW, Some(prod)));

    // Details: the same window and environment parameters.
    let id = alpha["id"].as_str().unwrap();
    let reply = get(
        &server,
        &format!("/api/0/organizations/sentry/issues/{id}/?statsPeriod=24h&environment=prod"),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(actual(&reply.body), expected(&evs, "alpha", NOW - D, NOW, Some(prod)));
    assert_eq!(actual(&reply.body["lifetime"]), expected(&evs, "alpha", i64::MIN, i64::MAX, None));
    let reply = get(&server, &format!("/api/0/organizations/sentry/issues/{id}/?environment="));
    assert_eq!(actual(&reply.body), expected(&evs, "alpha", NOW - 90 * D, NOW, Some(&[""])));
    let reply = get(&server, &format!("/api/0/organizations/sentry/issues/{id}/?statsPeriod=1x"));
    assert_eq!((reply.status, reply.body["detail"].clone()), (400, json!("Invalid statsPeriod")));
}

/// `edge` has five events inside one hour (two environments and none, four users) and one
/// in the next; `near` three events in that hour; `last` one later. Windows cut the
/// hour between events: counts, users, first/last seen, `timesSeen`, `sort=freq` and
/// `filtered` count exactly the events on the window's side of each edge, and user counts
/// under environments count only those environments' events' users.
#[test]
fn windows_cut_hours_exactly_between_events() {
    let dir = temp_dir();
    let b = NOW - 10 * H;
    let last = b + 5 * H + 1600;
    let evs = vec![
        ev("edge", b + 600, Some("u1"), Some("prod")),
        ev("edge", b + 1200, Some("u2"), Some("dev")),
        ev("edge", b + 1800, Some("u3"), Some("prod")),
        ev("edge", b + 2400, Some("u1"), Some("dev")),
        ev("edge", b + 3000, Some("u4"), None),
        ev("edge", b + H + 100, Some("u5"), Some("prod")),
        ev("near", b + 1500, Some("u6"), Some("prod")),
        ev("near", b + 1501, Some("u7"), Some("prod")),
        ev("near", b + 1502, Some("u6"), Some("prod")),
        ev("last", last, None, Some("prod")),
    ];
    let messages = messages_of(&evs);
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&messages));
    let server = start(&["--input", input.to_str().unwrap()]);
    let t = |fp: &str| format!("title {fp}");
    let envs = |list: &'static [&'static str]| -> Option<&'static [&'static str]> { Some(list) };
    // start/end, end exclusive: [b+1201, b+2401).
    let (start, end) = (iso(b + 1201), iso(b + 2401));
    for environments in [None, envs(&["prod"]), envs(&["dev"]), envs(&["prod", "dev"])] {
        let env_params: String = environments.unwrap_or(&[]).iter().map(|e| format!("&environment={e}")).collect();
        let reply = list(&server, &format!("start={start}&end={end}&sort=freq{env_params}"));
        let mut wanted: Vec<(String, String)> = ["edge", "near", "last"]
            .iter()
            .map(|fp| (fp.to_string(), expected(&evs, fp, b + 1201, b + 2400, environments).0))
            .filter(|(_, count)| count != "0")
            .collect();
        wanted.sort_by(|x, y| y.1.cmp(&x.1));
        let names: Vec<String> = wanted.iter().map(|(fp, _)| t(fp)).collect();
        assert_eq!(titles(&reply), names, "{environments:?}");
        for (fp, _) in &wanted {
            assert_eq!(
                actual(by_title(&reply, &t(fp))),
                expected(&evs, fp, b + 1201, b + 2400, environments),
                "{fp} {environments:?}"
            );
        }
    }
    // [b+1800, b+2400) holds edge's b+1800 event; [b+1801, b+2400) nothing.
    let reply = list(&server, &format!("start={}&end={}", iso(b + 1800), iso(b + 2400)));
    assert_eq!(
        actual(by_title(&reply, &t("edge"))),
        expected(&evs, "edge", b + 1800, b + 2399, None)
    );
    let reply = list(&server, &format!("start={}&end={}", iso(b + 1801), iso(b + 2400)));
    assert_eq!(titles(&reply), Vec::<String>::new());
    // statsPeriod counts back from now (`--api-now`): 10h - 1600s starts inside hour b at
    // :26:40, after near's events.
    let reply = list(&server, "statsPeriod=34400s&query=");
    for fp in ["edge", "last"] {
        assert_eq!(actual(by_title(&reply, &t(fp))), expected(&evs, fp, b + 1600, NOW, None), "{fp}");
    }
    assert_eq!(titles(&reply).len(), 2, "near's events are before the window");
    // timesSeen on the window's count.
    let query = |q: &str, rest: &str| titles(&list(&server, &format!("query={}&start={start}&end={end}{rest}", url_encode(q))));
    assert_eq!(query("timesSeen:>1", ""), [t("edge"), t("near")]);
    assert_eq!(query("timesSeen:>2", ""), [t("near")]);
    assert_eq!(query("timesSeen:>1", "&environment=prod"), [t("near")]);
    assert_eq!(query("timesSeen:1", "&environment=dev"), [t("edge")]);
    // filtered under environment: in the window: exact count, users and seen.
    let reply = list(&server, &format!("query={}&start={start}&end={end}", url_encode("environment:dev")));
    assert_eq!(titles(&reply), [t("edge")]);
    let edge = by_title(&reply, &t("edge"));
    assert_eq!(actual(edge), expected(&evs, "edge", b + 1201, b + 2400, None));
    assert_eq!(
        actual(&edge["filtered"]),
        expected(&evs, "edge", b + 1201, b + 2400, envs(&["dev"]))
    );
    // Users under environments over whole hours: only those environments' events' users
    // (dev: u2 and u1, not u3 and u4 of the same hour).
    let reply = list(&server, "environment=dev");
    assert_eq!(
        actual(by_title(&reply, &t("edge"))),
        expected(&evs, "edge", NOW - 90 * D, NOW, envs(&["dev"]))
    );
    assert_eq!(by_title(&reply, &t("edge"))["userCount"], 2);
    let reply = list(&server, &format!("query={}", url_encode("environment:prod")));
    let edge = by_title(&reply, &t("edge"));
    assert_eq!(
        actual(&edge["filtered"]),
        expected(&evs, "edge", NOW - 90 * D, NOW, envs(&["prod"]))
    );
    assert_eq!(edge["filtered"]["userCount"], 3);
    // sort=user in a window: distinct users of the window's events.
    let reply = list(&server, &format!("start={}&end={}&sort=user", iso(b), iso(b + 1501)));
    assert_eq!(titles(&reply), [t("edge"), t("near")], "edge: u1, u2 (and u3 later); near: u6");
}

/// `issues-count` counts per query what the list returns with the same window, projects and
/// environments (groups with an occurrence there), at most 100 per query as Sentry does, and
/// refuses the list's invalid parameters.
#[test]
fn issues_count_follows_the_window_projects_and_environments() {
    let dir = temp_dir();
    let server = main_server(dir.path());
    let evs = all_events();
    let count = |params: &str| {
        let reply = get(&server, &format!("/api/0/organizations/sentry/issues-count/?{params}"));
        assert_eq!(reply.status, 200, "{params}: {}", reply.body);
        reply.body
    };
    // Groups with an event in [start, end] (and the environments, and project 2 for gamma).
    let groups = |start: i64, end: i64, envs: Option<&[&str]>, projects: &[u64]| -> usize {
        ["alpha", "beta", "gamma", "reg", "delta"]
            .iter()
            .filter(|fp| evs.iter().any(|e| e.fp == **fp && projects.contains(&e.project)) && expected(&evs, fp, start, end, envs).0 != "0")
            .count()
    };
    let all_projects = [1, 2];
    assert_eq!(
        count("query=&query=is:unresolved"),
        json!({"": groups(NOW - 90 * D, NOW, None, &all_projects), "is:unresolved": groups(NOW - 90 * D, NOW, None, &all_projects)})
    );
    assert_eq!(count("query=")[""], 4, "delta's events are older than 90 days");
    assert_eq!(count("query=&statsPeriod=24h")[""], groups(NOW - D, NOW, None, &all_projects));
    assert_eq!(count("query=&project=2")[""], groups(NOW - 90 * D, NOW, None, &[2]));
    assert_eq!(
        count("query=&environment=prod")[""],
        groups(NOW - 90 * D, NOW, Some(&["prod"]), &all_projects)
    );
    let (from, until) = (iso(NOW - 12 * D), iso(NOW - 8 * D));
    assert_eq!(
        count(&format!("query=&start={from}&end={until}"))[""],
        groups(NOW - 12 * D, NOW - 8 * D - 1, None, &all_projects)
    );
    // The same as the list's X-Hits.
    assert_eq!(
        count("query=&environment=")[""],
        groups(NOW - 90 * D, NOW, Some(&[""]), &all_projects)
    );
    assert_eq!(
        count("query=&environment=")[""],
        3,
        "alpha, gamma and reg have occurrences without one"
    );
    for params in [
        "query=&statsPeriod=24h",
        "query=&environment=prod",
        "query=&environment=",
        "query=&project=2",
    ] {
        let hits = list(&server, params).headers["X-Hits"].to_str().unwrap().parse::<u64>().unwrap();
        assert_eq!(count(params)[""], hits, "{params}");
    }
    for (params, detail) in [
        ("query=&statsPeriod=1x", "Invalid statsPeriod"),
        ("query=&start=2024-01-01T00:00:00", "start and end are both required"),
        (
            "query=&groupStatsPeriod=1h",
            "Invalid stats_period. Valid choices are '', '24h', '14d' and 'auto'",
        ),
    ] {
        let reply = get(&server, &format!("/api/0/organizations/sentry/issues-count/?{params}"));
        assert_eq!((reply.status, reply.body["detail"].as_str()), (400, Some(detail)), "{params}");
    }
    drop(server);

    // 120 groups: the count stops at 100, the list's X-Hits does not.
    let many: Vec<Value> = (0..120u64)
        .map(|i| {
            let fp: &'static str = Box::leak(format!("m{i}").into_boxed_str());
            message(i + 1, &ev(fp, NOW - H, None, None))
        })
        .collect();
    let input = write_lines(dir.path(), "many.jsonl", &to_lines(&many));
    let server = start(&["--input", input.to_str().unwrap()]);
    let reply = get(&server, "/api/0/organizations/sentry/issues-count/?query=&query=is:resolved");
    assert_eq!(reply.body, json!({"": 100, "is:resolved": 0}));
    assert_eq!(list(&server, "query=&limit=1").headers["X-Hits"], "120");
}

#[test]
fn projects_ids_collapse_direct_hits_inbox_and_errors() {
    let dir = temp_dir();
    let server = main_server(dir.path());
    let t = |fp: &str| format!("title {fp}");

    // Projects.
    assert_eq!(titles(&list(&server, "project=2")), [t("gamma")]);
    assert_eq!(titles(&list(&server, "project=1")), [t("alpha"), t("reg"), t("beta")]);
    assert_eq!(titles(&list(&server, "project=1&project=2")).len(), 4);
    assert_eq!(titles(&list(&server, "project=-1")).len(), 4);
    assert_eq!(titles(&list(&server, "project=77")), Vec::<String>::new());

    // Explicit ids: the query and the window are ignored.
    let all = list(&server, "query=&statsPeriod=90d&limit=100");
    let id_of = |title: &str| by_title(&all, title)["id"].as_str().unwrap().to_string();
    let (alpha, gamma) = (id_of("title alpha"), id_of("title gamma"));
    let delta_id = get(&server, "/api/0/organizations/sentry/issues/PROJECT-1-4/").body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reply = list(&server, &format!("group={gamma}&group={delta_id}&query=is:resolved"));
    assert_eq!(titles(&reply), [t("gamma"), t("delta")]);
    let delta = by_title(&reply, "title delta");
    assert_eq!((delta["count"].clone(), delta["firstSeen"].clone()), (json!("0"), Value::Null));
    assert_eq!(delta["lifetime"]["count"], "1");
    assert_eq!(titles(&list(&server, &format!("group={gamma}&project=1"))), Vec::<String>::new());

    // collapse.
    let group = &list(&server, "collapse=stats&collapse=lifetime").body[0];
    assert!(group.get("stats").is_none() && group.get("lifetime").is_none() && group.get("title").is_some());
    let group = &list(&server, "collapse=base&collapse=filtered").body[0];
    let mut keys: Vec<&str> = group.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["count", "firstSeen", "id", "lastSeen", "lifetime", "stats", "userCount"]);
    assert_eq!(group["id"], alpha);

    // shortIdLookup: a direct hit with its header; without the flag the query is text.
    let reply = list(&server, "shortIdLookup=1&query=PROJECT-1-1");
    assert_eq!(titles(&reply), [t("alpha")]);
    assert_eq!(reply.headers["X-Sentry-Direct-Hit"], "1");
    let reply = list(&server, "query=PROJECT-1-1");
    assert!(reply.headers.get("X-Sentry-Direct-Hit").is_none());
    assert_eq!(titles(&reply), Vec::<String>::new());

    // inbox: unresolved groups that entered the inbox in the last 7 days, newest first
    // (gamma is new; reg regressed a day ago, dated by its last occurrence).
    let reply = list(&server, "sort=inbox&query=is:unresolved%20is:for_review");
    assert_eq!(titles(&reply), [t("gamma"), t("reg")]);
    let link = reply.headers["Link"].to_str().unwrap();
    assert!(link.contains(&format!("cursor=\"{}:0:1\"", (NOW - 3 * H + 1800) * 1000)), "{link}");

    // trends: ln(count)·600 + last seen seconds; alpha's score leads.
    let reply = list(&server, &format!("sort=trends&limit=1&cursor={}:0:0", i64::MAX));
    assert_eq!(titles(&reply), [t("alpha")]);
    let gamma_score = (4f64.ln() * 600.0) as i64 + NOW - 3 * H + 1803;
    let link = reply.headers["Link"].to_str().unwrap();
    assert!(link.contains(&format!("cursor=\"{gamma_score}:0:0\"")), "{link}");

    // 400s with Sentry's messages.
    let issues = "/api/0/organizations/sentry/issues/";
    for (params, detail) in [
        ("statsPeriod=abc", "Invalid statsPeriod"),
        ("statsPeriod=5y", "Invalid statsPeriod"),
        ("start=2024-01-01T00:00:00", "start and end are both required"),
        ("end=2024-01-01T00:00:00", "start and end are both required"),
        ("start=2024-01-02T00:00:00&end=2024-01-02T00:00:00", "start must be before end"),
        ("start=2024-01-02T00:00:00&end=2024-01-01T00:00:00", "start must be before end"),
        ("start=soon&end=2024-01-01T00:00:00", "soon is not a valid ISO8601 date query"),
        (
            "groupStatsPeriod=1h",
            "Invalid stats_period. Valid choices are '', '24h', '14d' and 'auto'",
        ),
        ("project=abc", "Invalid project parameter. Values must be numbers."),
        ("group=1&group=x", "Group ids must be integers"),
        ("sort=priority", "Sort key 'priority' not supported."),
        ("sort=inbox", "Invalid search terms for 'inbox' search: issue.priority"),
        ("sort=inbox&query=is:unresolved", "Sort key 'inbox' only supported for inbox search"),
        ("sort=inbox&query=is:for_review", "Inbox search only works for 'unresolved' status"),
        (
            "sort=inbox&query=is:resolved%20is:for_review",
            "Inbox search only works for 'unresolved' status",
        ),
        ("limit=x", "invalid limit"),
        ("limit=0", "invalid limit"),
        ("limit=-5", "invalid limit"),
        ("cursor=1:2", "Invalid cursor parameter."),
    ] {
        let reply = get(&server, &format!("{issues}?{params}"));
        assert_eq!((reply.status, reply.body["detail"].as_str()), (400, Some(detail)), "{params}");
    }
}

#[test]
fn forbidden_projects_with_a_configuration() {
    let dir = temp_dir();
    let config = two_organizations_config(dir.path());
    let messages = [
        message(1, &ev("a", NOW - H, None, None)),
        message(
            2,
            &Ev {
                project: 2,
                ..ev("b", NOW - H, None, None)
            },
        ),
    ];
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&messages));
    let server = start(&["--input", input.to_str().unwrap(), "--config", config.to_str().unwrap()]);
    let reply = get(&server, "/api/0/organizations/acme/issues/?project=2");
    assert_eq!(
        (reply.status, reply.body["detail"].as_str()),
        (403, Some("You do not have permission to perform this action."))
    );
    let reply = get(&server, "/api/0/organizations/acme/issues/?project=1");
    assert_eq!((reply.status, titles(&reply)), (200, vec!["title a".to_string()]));
    // Another organisation's group id is not returned.
    let other = get(&server, "/api/0/organizations/other/issues/").body[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(titles(&list_in(&server, "acme", &format!("group={other}"))), Vec::<String>::new());
}
