//! The issues list and details endpoints' parameters (issue-platform.md §7) through the real
//! binary: windows, environments, projects, stats buckets, sorts, collapse, direct hits,
//! explicit ids, paging and the 400 messages. Expected values are computed here from the
//! input events (`Ev`), independently of the server.

mod common;

use common::server::Server;
use common::*;
use serde_json::{json, Value};

const H: i64 = 3600;
const D: i64 = 86_400;
/// The server's fixed "now" (`--api-now`): 100 days after T0, midnight UTC.
const NOW: i64 = T0 as i64 + 100 * D;

fn start(args: &[&str]) -> Server {
    let now = NOW.to_string();
    let args: Vec<&str> = args.iter().copied().chain(["--api-now", &now]).collect();
    Server::start("127.0.0.1", &args)
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

fn get(server: &Server, path: &str) -> Reply {
    let response = reqwest::blocking::get(format!("{}{}", server.base, path)).expect("request");
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.json().unwrap_or(Value::Null),
    }
}

fn list(server: &Server, params: &str) -> Reply {
    let reply = get(server, &format!("/api/0/organizations/sentry/issues/?{params}"));
    assert_eq!(reply.status, 200, "{params}: {}", reply.body);
    reply
}

fn titles(reply: &Reply) -> Vec<String> {
    reply
        .body
        .as_array()
        .expect("a list")
        .iter()
        .map(|g| g["title"].as_str().unwrap().to_string())
        .collect()
}

fn by_title<'a>(reply: &'a Reply, title: &str) -> &'a Value {
    reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["title"] == title)
        .unwrap_or_else(|| panic!("no {title} in {}", reply.body))
}

fn iso(seconds: i64) -> String {
    iso_micros(seconds * 1_000_000)
}

/// ISO 8601 with six fractional digits, computed here (Howard Hinnant's civil-from-days).
fn iso_micros(micros: i64) -> String {
    let seconds = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    let days = seconds.div_euclid(D);
    let rest = seconds.rem_euclid(D);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}Z",
        rest / H,
        rest % H / 60,
        rest % 60
    )
}

/// One input event: group (fingerprint, project), time (seconds), user, environment,
/// release and level.
#[derive(Clone, Copy)]
struct Ev {
    fp: &'static str,
    project: u64,
    t: i64,
    user: Option<&'static str>,
    env: Option<&'static str>,
    release: Option<&'static str>,
    level: &'static str,
}

fn ev(fp: &'static str, t: i64, user: Option<&'static str>, env: Option<&'static str>) -> Ev {
    Ev {
        fp,
        project: 1,
        t,
        user,
        env,
        release: None,
        level: "error",
    }
}

fn message(id: u64, e: &Ev) -> Value {
    let mut event = json!({"event_id": uuid(1_000_000 + id), "project_id": e.project, "timestamp": e.t as f64});
    if let Some(user) = e.user {
        event["user"] = json!({"id": user});
    }
    if let Some(env) = e.env {
        event["environment"] = json!(env);
    }
    if let Some(release) = e.release {
        event["release"] = json!(release);
    }
    occurrence(id, e.project, e.fp, 4001, e.t as f64, json!({ "event": event, "level": e.level }))
}

/// Count, distinct users, first and last seen of `fp`'s events in `[start, end]` and `envs`,
/// at the views' hour granularity (docs/semantics.md §7): first/last seen are exact when the
/// group's lifetime first/last event is in that hour, else the hour's edge (within the window).
fn expected(events: &[Ev], fp: &str, start: i64, end: i64, envs: Option<&[&str]>) -> (String, u64, Option<String>, Option<String>) {
    expected_if(events, fp, start, end, |e| {
        envs.is_none_or(|envs| e.env.is_some_and(|x| envs.contains(&x)))
    })
}

/// [`expected`] over the events that satisfy `condition`.
fn expected_if(
    events: &[Ev],
    fp: &str,
    start: i64,
    end: i64,
    condition: impl Fn(&Ev) -> bool,
) -> (String, u64, Option<String>, Option<String>) {
    let group: Vec<&Ev> = events.iter().filter(|e| e.fp == fp).collect();
    let lifetime_first = group.iter().map(|e| e.t).min().unwrap_or(0) * 1_000_000;
    let lifetime_last = group.iter().map(|e| e.t).max().unwrap_or(0) * 1_000_000;
    let selected: Vec<&Ev> = group.into_iter().filter(|e| e.t >= start && e.t <= end && condition(e)).collect();
    let mut users: Vec<&str> = selected.iter().filter_map(|e| e.user).collect();
    users.sort();
    users.dedup();
    let hour_start = |t: i64| t.div_euclid(H) * H * 1_000_000;
    let (window_start, window_end) = (
        start.saturating_mul(1_000_000),
        end.saturating_mul(1_000_000).saturating_add(999_999),
    );
    let first = selected
        .iter()
        .map(|e| e.t)
        .min()
        .map(|t| iso_micros(hour_start(t).max(lifetime_first).max(window_start)));
    let last = selected
        .iter()
        .map(|e| e.t)
        .max()
        .map(|t| iso_micros((hour_start(t) + H * 1_000_000 - 1).min(lifetime_last).min(window_end)));
    (selected.len().to_string(), users.len() as u64, first, last)
}

fn actual(group: &Value) -> (String, u64, Option<String>, Option<String>) {
    (
        group["count"].as_str().expect("count is a string").to_string(),
        group["userCount"].as_u64().expect("userCount"),
        group["firstSeen"].as_str().map(str::to_string),
        group["lastSeen"].as_str().map(str::to_string),
    )
}

/// `[[bucket start, count], …]` of `fp`'s events: `n` buckets of `size` from `first`.
fn expected_buckets(events: &[Ev], fp: &str, first: i64, size: i64, n: i64, envs: Option<&[&str]>) -> Value {
    let buckets: Vec<Value> = (0..n)
        .map(|i| {
            let start = first + i * size;
            let count = events
                .iter()
                .filter(|e| {
                    e.fp == fp && e.t >= start && e.t < start + size && envs.is_none_or(|envs| e.env.is_some_and(|x| envs.contains(&x)))
                })
                .count();
            json!([start, count])
        })
        .collect();
    Value::Array(buckets)
}

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
    let mut messages: Vec<Value> = evs.iter().enumerate().map(|(i, e)| message(i as u64 + 1, e)).collect();
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

    // sort=user over 14 days; Link cursors carry the windowed user counts.
    let reply = list(&server, "statsPeriod=14d&sort=user&limit=1");
    assert_eq!(titles(&reply), [t("alpha")]);
    assert_eq!(by_title(&reply, "title alpha")["userCount"], 3);
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
    // staging alone: one event; first/last seen are its hour's edges (hour granularity).
    let reply = list(&server, "environment=staging");
    let alpha = by_title(&reply, "title alpha");
    assert_eq!(alpha["count"], "1");
    assert_eq!(alpha["userCount"], 1);
    assert_eq!(alpha["firstSeen"], iso(NOW - 5 * H));
    assert_eq!(alpha["lastSeen"], "2024-04-09T19:59:59.999999Z");
    assert_eq!(
        alpha["stats"]["24h"],
        expected_buckets(&evs, "alpha", NOW - 23 * H, H, 24, Some(&["staging"]))
    );
    assert_eq!(titles(&list(&server, "environment=nowhere")), Vec::<String>::new());

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
    let reply = get(&server, &format!("/api/0/organizations/sentry/issues/{id}/?statsPeriod=1x"));
    assert_eq!((reply.status, reply.body["detail"].clone()), (400, json!("Invalid statsPeriod")));
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
    let reply = list(&server, "sort=trends&limit=1");
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
        ("cursor=1:2", "Invalid cursor parameter."),
    ] {
        let reply = get(&server, &format!("{issues}?{params}"));
        assert_eq!((reply.status, reply.body["detail"].as_str()), (400, Some(detail)), "{params}");
    }
}

#[test]
fn forbidden_projects_with_a_configuration() {
    let dir = temp_dir();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[[organizations]]\nslug = \"acme\"\n[[organizations.projects]]\nid = 1\nslug = \"web\"\n\n\
         [[organizations]]\nslug = \"other\"\n[[organizations.projects]]\nid = 2\nslug = \"api\"\n",
    )
    .unwrap();
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

fn list_in(server: &Server, org: &str, params: &str) -> Reply {
    let reply = get(server, &format!("/api/0/organizations/{org}/issues/?{params}"));
    assert_eq!(reply.status, 200, "{params}: {}", reply.body);
    reply
}

/// Follows `next` cursors from a first page: the ids in order.
fn walk(server: &Server, params: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut path = params.to_string();
    for _ in 0..100 {
        let reply = list(server, &path);
        ids.extend(reply.body.as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_string()));
        let link = reply.headers["Link"].to_str().unwrap().to_string();
        let next = link.split(", ").find(|l| l.contains("rel=\"next\"")).unwrap().to_string();
        if next.contains("results=\"false\"") {
            return ids;
        }
        let cursor = next.split("cursor=\"").nth(1).unwrap().trim_end_matches('"').to_string();
        path = format!("{params}&cursor={cursor}");
    }
    panic!("paging does not end");
}

#[test]
fn paging_with_ties_returns_every_group_once_and_trends_differs_from_date() {
    let dir = temp_dir();
    let mut evs = Vec::new();
    // 23 groups in three tie classes of last seen and count.
    for i in 0..23 {
        let fp: &'static str = Box::leak(format!("g{i:02}").into_boxed_str());
        for k in 0..(i % 3 + 1) {
            evs.push(ev(fp, NOW - (i % 3) * H - 2 * H - 1000 - k, None, None));
        }
    }
    // x: 50 events ending an hour ago; y: one event half an hour ago. Date puts y first,
    // trends (ln(50)·600 ≈ 2347 s ahead) puts x first.
    for k in 0..50 {
        evs.push(ev("x", NOW - H - 49 + k, None, None));
    }
    evs.push(ev("y", NOW - 1800, None, None));
    let messages: Vec<Value> = evs.iter().enumerate().map(|(i, e)| message(i as u64 + 1, e)).collect();
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&messages));
    let server = start(&["--input", input.to_str().unwrap()]);

    let everything = walk(&server, "limit=100");
    assert_eq!(everything.len(), 25);
    for sort in ["date", "new", "freq", "user", "trends"] {
        for limit in [1, 4, 7] {
            let ids = walk(&server, &format!("sort={sort}&limit={limit}"));
            let mut unique = ids.clone();
            unique.sort();
            unique.dedup();
            assert_eq!((ids.len(), unique.len()), (25, 25), "sort={sort} limit={limit}");
            if limit == 7 {
                assert_eq!(
                    ids,
                    walk(&server, &format!("sort={sort}&limit=100")),
                    "sort={sort}: pages keep the order"
                );
            }
        }
    }
    let first_two = |sort: &str| titles(&list(&server, &format!("sort={sort}&limit=2")));
    assert_eq!(first_two("date")[0], "title y");
    assert_eq!(first_two("trends")[0], "title x");
    assert_eq!(first_two("freq")[0], "title x");
    // The cursor of sort=date is the last seen in milliseconds.
    let link = list(&server, "sort=date&limit=1").headers["Link"].to_str().unwrap().to_string();
    assert!(link.contains(&format!("cursor=\"{}:0:0\"", (NOW - H) * 1000)), "{link}");
}

/// `rl` has five events over five days with two releases (and one without), two levels and
/// two environments, one user each; `one` has two events of one release and level (so its
/// views keep no per-facet hours); `late` was an error first and is info now.
fn facet_events() -> Vec<Ev> {
    let n = NOW;
    let with = |fp, t, user, env, release, level| Ev {
        release,
        level,
        ..ev(fp, t, user, env)
    };
    vec![
        with("rl", n - 5 * D + 1800, Some("a"), Some("prod"), Some("1.0"), "error"),
        with("rl", n - 4 * D + 1800, Some("b"), Some("prod"), Some("1.0"), "warning"),
        with("rl", n - 3 * D + 1800, Some("c"), Some("staging"), Some("2.0"), "error"),
        with("rl", n - 2 * D + 1800, Some("d"), Some("prod"), None, "error"),
        with("rl", n - D + 1800, Some("e"), Some("prod"), Some("2.0"), "warning"),
        with("one", n - 3 * D + 1800, Some("a"), Some("prod"), Some("1.0"), "info"),
        with("one", n - 2 * D + 1800, Some("b"), Some("prod"), Some("1.0"), "info"),
        with("late", n - 6 * D + 1800, None, None, None, "error"),
        with("late", n - 5 * D + 1800, None, None, None, "info"),
    ]
}

#[test]
fn filtered_and_matching_follow_release_level_and_environment_of_each_event() {
    let dir = temp_dir();
    let evs = facet_events();
    let messages: Vec<Value> = evs.iter().enumerate().map(|(i, e)| message(i as u64 + 1, e)).collect();
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&messages));
    let server = start(&["--input", input.to_str().unwrap()]);
    let (start, end) = (NOW - 90 * D, NOW);
    let t = |fp: &str| format!("title {fp}");
    let sorted = |params: &str| {
        let reply = list(&server, params);
        let mut names = titles(&reply);
        names.sort();
        (names, reply)
    };

    // Each case: the query, the groups it returns, and which events `filtered` counts.
    type Condition = fn(&Ev) -> bool;
    let cases: [(&str, &[&str], Condition); 7] = [
        ("release:1.0", &["one", "rl"], |e| e.release == Some("1.0")),
        ("level:error", &["late", "rl"], |e| e.level == "error"),
        ("release:2.0 level:warning", &["rl"], |e| {
            e.release == Some("2.0") && e.level == "warning"
        }),
        ("!release:1.0", &["late", "rl"], |e| e.release != Some("1.0")),
        ("has:release level:error", &["rl"], |e| e.release.is_some() && e.level == "error"),
        ("release:2.* environment:prod", &["rl"], |e| {
            e.release == Some("2.0") && e.env == Some("prod")
        }),
        ("release:3.0", &[], |_| false),
    ];
    for (query, groups, condition) in cases {
        let (names, reply) = sorted(&format!("query={}&groupStatsPeriod=14d", url_encode(query)));
        let expected_names: Vec<String> = groups.iter().map(|g| t(g)).collect();
        assert_eq!(names, expected_names, "{query}");
        for fp in groups.iter() {
            let group = by_title(&reply, &t(fp));
            assert_eq!(actual(group), expected(&evs, fp, start, end, None), "{query}: {fp} in the window");
            assert_eq!(
                actual(&group["filtered"]),
                expected_if(&evs, fp, start, end, condition),
                "{query}: {fp} filtered"
            );
            assert_eq!(
                group["filtered"]["stats"]["14d"],
                expected_buckets_if(&evs, fp, condition),
                "{query}: {fp}"
            );
        }
    }
    // The request's environment= narrows the window's values and the event-level match.
    let (names, reply) = sorted("query=release:1.0&environment=prod");
    assert_eq!(names, [t("one"), t("rl")]);
    let rl = by_title(&reply, "title rl");
    assert_eq!(actual(rl), expected(&evs, "rl", start, end, Some(&["prod"])));
    let in_prod_1 = |e: &Ev| e.release == Some("1.0") && e.env == Some("prod");
    assert_eq!(actual(&rl["filtered"]), expected_if(&evs, "rl", start, end, in_prod_1));
    // staging had only release 2.0: release:1.0 finds nothing there.
    assert_eq!(sorted("query=release:1.0&environment=staging").0, Vec::<String>::new());
    // Conditions hold together on one event: no event is release 1.0 *and* in staging.
    assert_eq!(sorted("query=release:1.0 environment:staging").0, Vec::<String>::new());
    // The window: rl's release 1.0 events are 4–5 days old, so not in the last 3 days.
    assert_eq!(sorted("query=release:1.0&statsPeriod=3d").0, [t("one")]);
    // issues-count counts with the same event-level reading.
    let counts = get(
        &server,
        "/api/0/organizations/sentry/issues-count/?query=level:error&query=level:info",
    );
    assert_eq!(counts.body, json!({"level:error": 2, "level:info": 2}));
}

fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The 14 daily buckets of `fp`'s events that satisfy `condition`, the last holding now.
fn expected_buckets_if(events: &[Ev], fp: &str, condition: fn(&Ev) -> bool) -> Value {
    let selected: Vec<Ev> = events.iter().filter(|e| condition(e)).copied().collect();
    expected_buckets(&selected, fp, NOW - 13 * D, D, 14, None)
}

/// `--retention-days 2`: per-hour data older than two days before the newest hour (cut at a
/// whole day) is dropped, so old hours leave `stats` and the dump's `stats.hourly`, while
/// counts, users and first/last seen of the rows (`lifetime`) stay exact.
#[test]
fn retention_drops_old_hours_but_lifetime_values_stay_exact() {
    let dir = temp_dir();
    let n = NOW;
    let evs = [
        ev("old", n - 10 * D + 1800, Some("u1"), Some("prod")),
        ev("old", n - 5 * D + 1800, Some("u2"), Some("staging")),
        ev("old", n - D + 1800, Some("u3"), Some("prod")),
        ev("old", n - H + 1800, Some("u1"), Some("prod")),
    ];
    let messages: Vec<Value> = evs.iter().enumerate().map(|(i, e)| message(i as u64 + 1, e)).collect();
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&messages));
    // The newest hour is NOW - 1 h; two days before it, rounded down to a day: NOW - 3 d.
    let cut = (n - H - 2 * D).div_euclid(D) * D;
    let kept: Vec<Ev> = evs.iter().copied().filter(|e| e.t >= cut).collect();

    let run = backfill_files(std::slice::from_ref(&input), 2, &["--retention-days", "2"]);
    let old = run.by_title("title old");
    assert_eq!((old["count"].as_str(), old["userCount"].as_u64()), (Some("4"), Some(3)));
    let hours: Vec<Value> = kept.iter().map(|e| json!([e.t.div_euclid(H) * H, 1])).collect();
    assert_eq!(old["stats"]["hourly"], Value::Array(hours), "only hours from the cut on");
    // Without the option (90 days) every hour stays.
    let full = backfill_files(std::slice::from_ref(&input), 2, &[]);
    assert_eq!(full.by_title("title old")["stats"]["hourly"].as_array().map(Vec::len), Some(4));

    let server = start(&["--input", input.to_str().unwrap(), "--retention-days", "2"]);
    let group = &list(&server, "groupStatsPeriod=14d").body[0];
    assert_eq!(actual(&group["lifetime"]), expected(&evs, "old", i64::MIN, i64::MAX, None));
    assert_eq!(group["stats"]["14d"], expected_buckets(&kept, "old", NOW - 13 * D, D, 14, None));
    // A window after the cut is unaffected: the last day.
    let day = &list(&server, "statsPeriod=1d").body[0];
    assert_eq!(actual(day), expected(&evs, "old", NOW - D, NOW, None));
}
