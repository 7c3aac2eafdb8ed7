//! The read side through the real binary and a real HTTP client.

mod common;

use std::io::Write;

use common::server::Server;
use common::*;
use serde_json::{json, Value};

fn start(args: &[&str]) -> Server {
    Server::start("127.0.0.1", args)
}

fn get(server: &Server, path: &str) -> reqwest::Result<reqwest::blocking::Response> {
    reqwest::blocking::get(format!("{}{}", server.base, path))
}

fn json_of(response: reqwest::blocking::Response) -> Value {
    response.json().expect("JSON body")
}

/// 30 cron groups (priority high) with distinct last-seen times, plus a low-priority one.
fn stream() -> Vec<String> {
    let mut messages: Vec<Value> = (0..30)
        .map(|i| occurrence(i + 1, 1, &format!("f{i}"), 4001, T0 + i as f64 * 10.0, json!({})))
        .collect();
    messages.push(occurrence(100, 1, "low", 2001, T0, json!({"issue_title": "low one"})));
    messages.push(status_change(101, 1, "f0", 1, None));
    to_lines(&messages)
}

#[test]
fn list_detail_paging_and_errors() {
    let dir = temp_dir();
    let input = write_lines(dir.path(), "in.jsonl", &stream());
    let server = start(&["--input", input.to_str().unwrap()]);
    assert_eq!(get(&server, "/healthz").unwrap().status(), 200);

    // Default query: unresolved, high or medium priority, newest last_seen first.
    let response = get(&server, "/api/0/organizations/sentry/issues/?limit=10").unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["X-Hits"], "29");
    assert_eq!(response.headers()["X-Max-Hits"], "1000");
    let link = response.headers()["Link"].to_str().unwrap().to_string();
    let page: Value = json_of(response);
    let titles: Vec<&str> = page.as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect();
    assert_eq!(titles.first(), Some(&"title f29"));
    assert_eq!(titles.len(), 10);
    assert!(link.contains("rel=\"previous\"; results=\"false\""), "{link}");
    assert!(link.contains("rel=\"next\"; results=\"true\""), "{link}");

    // Follow `next` cursors to the end: every matching group exactly once.
    let mut seen = Vec::new();
    let mut path = "/api/0/organizations/sentry/issues/?limit=7".to_string();
    let mut pages = 0;
    loop {
        let response = get(&server, &path).unwrap();
        let link = response.headers()["Link"].to_str().unwrap().to_string();
        for issue in json_of(response).as_array().unwrap() {
            seen.push(issue["id"].as_str().unwrap().to_string());
        }
        pages += 1;
        assert!(pages <= 29 / 7 + 1, "paging does not end: {seen:?}");
        let next = link.split(", ").find(|l| l.contains("rel=\"next\"")).unwrap().to_string();
        if next.contains("results=\"false\"") {
            break;
        }
        let cursor = next.split("cursor=\"").nth(1).unwrap().trim_end_matches('"').to_string();
        path = format!("/api/0/organizations/sentry/issues/?limit=7&cursor={cursor}");
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (29, 29));

    // An empty query matches everything (including resolved and low priority).
    assert_eq!(
        json_of(get(&server, "/api/0/organizations/sentry/issues/?query=").unwrap())
            .as_array()
            .unwrap()
            .len(),
        31
    );
    let resolved = json_of(get(&server, "/api/0/organizations/sentry/issues/?query=is:resolved").unwrap());
    assert_eq!(resolved.as_array().unwrap().len(), 1);
    assert_eq!(resolved[0]["title"], "title f0");
    let low = json_of(get(&server, "/api/0/organizations/sentry/issues/?query=issue.priority:low%20low").unwrap());
    assert_eq!(low[0]["title"], "low one");
    let new_first = json_of(get(&server, "/api/0/organizations/sentry/issues/?query=&sort=new&limit=1").unwrap());
    assert_eq!(new_first[0]["title"], "title f29");
    // Empty limit and cursor are absent (the default 100, the first page), as in Sentry.
    let empty = get(&server, "/api/0/organizations/sentry/issues/?limit=&cursor=").unwrap();
    assert_eq!(empty.status(), 200);
    assert_eq!(json_of(empty).as_array().map(Vec::len), Some(29));

    // Details by numeric id and by short id.
    let by_id = json_of(get(&server, "/api/0/organizations/sentry/issues/2/").unwrap());
    assert_eq!(by_id["shortId"], "PROJECT-1-2");
    let by_short = json_of(get(&server, "/api/0/organizations/sentry/issues/PROJECT-1-2/").unwrap());
    assert_eq!(by_short["id"], "2");

    // Errors.
    for (path, status, detail) in [
        ("/api/0/organizations/other/issues/", 404, None),
        ("/api/0/organizations/sentry/issues/999/", 404, None),
        (
            "/api/0/organizations/sentry/issues/?sort=bogus",
            400,
            Some("Sort key 'bogus' not supported."),
        ),
        ("/api/0/organizations/sentry/issues/?limit=x", 400, Some("invalid limit")),
        (
            "/api/0/organizations/sentry/issues/?cursor=1:2",
            400,
            Some("Invalid cursor parameter."),
        ),
        ("/api/0/organizations/sentry/issues/?query=team:x", 400, None),
    ] {
        let response = get(&server, path).unwrap();
        assert_eq!(response.status(), status, "{path}");
        if let Some(detail) = detail {
            assert_eq!(json_of(response)["detail"], detail);
        }
    }
}

#[test]
fn issues_count_per_query() {
    let dir = temp_dir();
    let input = write_lines(dir.path(), "in.jsonl", &stream());
    let server = start(&["--input", input.to_str().unwrap()]);
    let counts = json_of(
        get(
            &server,
            "/api/0/organizations/sentry/issues-count/?query=is:resolved&query=is:unresolved&query=issue.priority:low",
        )
        .unwrap(),
    );
    assert_eq!(counts, json!({"is:resolved": 1, "is:unresolved": 30, "issue.priority:low": 1}));
    assert_eq!(
        json_of(get(&server, "/api/0/organizations/sentry/issues-count/").unwrap()),
        json!({})
    );
    assert_eq!(
        get(&server, "/api/0/organizations/sentry/issues-count/?query=team:x")
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        get(&server, "/api/0/organizations/other/issues-count/?query=").unwrap().status(),
        404
    );
}

#[test]
fn follow_picks_up_appended_lines() {
    let dir = temp_dir();
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&[occurrence(1, 1, "a", 4001, T0, json!({}))]));
    let dead_letters = dir.path().join("dead-letters.jsonl");
    let server = start(&[
        "--input",
        input.to_str().unwrap(),
        "--follow",
        "--dead-letter",
        dead_letters.to_str().unwrap(),
    ]);
    let count = || {
        json_of(get(&server, "/api/0/organizations/sentry/issues/1/").unwrap())["count"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(count(), "1");
    let mut file = std::fs::OpenOptions::new().append(true).open(&input).unwrap();
    writeln!(file, "{}", occurrence(2, 1, "a", 4001, T0 + 5.0, json!({}))).unwrap();
    file.flush().unwrap();
    wait_until(|| count() == "2");
    // A bad appended line reaches the dead-letter file while the run goes on (without a
    // checkpoint it waited in a buffer until the process ended).
    writeln!(file, "{{\"truncated\":").unwrap();
    file.flush().unwrap();
    wait_until(|| std::fs::read_to_string(&dead_letters).is_ok_and(|text| text.contains("\"line\":3")));
}

/// Standard input is read as a stream: lines piped slowly show up while the pipe stays open
/// (they waited for a whole block of 16,384 lines, or the end of the pipe), and SIGTERM stops
/// the server while the pipe is open (it was not seen until the pipe closed).
#[test]
fn standard_input_is_read_as_a_stream_and_a_signal_stops_it() {
    let port = free_port();
    let mut server = std::process::Command::new(BIN)
        .args(["run", "--input", "-", "--dead-letter", "/dev/null"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut pipe = server.stdin.take().unwrap();
    let base = format!("http://127.0.0.1:{port}/api/0/organizations/sentry/issues/1/");
    let count = || {
        reqwest::blocking::get(&base)
            .ok()
            .and_then(|r| r.json::<Value>().ok())
            .map(|g| g["count"].clone())
    };
    writeln!(pipe, "{}", occurrence(1, 1, "a", 4001, T0, json!({}))).unwrap();
    pipe.flush().unwrap();
    wait_until(|| count() == Some(json!("1")));
    writeln!(pipe, "{}", occurrence(2, 1, "a", 4001, T0 + 5.0, json!({}))).unwrap();
    pipe.flush().unwrap();
    wait_until(|| count() == Some(json!("2")));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(server.wait_within("occurrent run on an open pipe after SIGTERM").success());
    drop(pipe);
}

/// Issue search over a small hand-written stream: every supported key, negation, lists, the
/// default-search type exclusion, free text, and errors. Results are compared as title sets.
#[test]
fn search_keys_negation_lists_and_errors() {
    // An occurrence of project 1 with an inline event carrying release and environment.
    let occ = |id: u64, fp: &str, type_id: u32, t: f64, release: Option<&str>, env: Option<&str>, extra: Value| {
        let mut extra = extra;
        let mut event = json!({"event_id": uuid(1_000_000 + id), "project_id": 1});
        if let Some(r) = release {
            event["release"] = json!(r);
        }
        if let Some(e) = env {
            event["environment"] = json!(e);
        }
        extra["event"] = event;
        occurrence(id, 1, fp, type_id, t, extra)
    };
    let messages = vec![
        // a: two occurrences in hours 0 and 2, releases 1.0 then 2.0, prod then staging.
        // The later occurrence sets the culprit.
        occ(1, "a", 4001, T0, Some("1.0"), Some("prod"), json!({})),
        occ(
            2,
            "a",
            4001,
            T0 + 7200.0,
            Some("2.0"),
            Some("staging"),
            json!({"culprit": "checkout.py"}),
        ),
        // Database timeout: medium priority, warning, hour 1.
        occ(
            3,
            "b",
            4001,
            T0 + 3600.0,
            Some("2.0"),
            Some("prod"),
            json!({"issue_title": "Database timeout", "priority": 50, "level": "warning", "culprit": "db.query"}),
        ),
        // c: resolved, fatal.
        occ(4, "c", 4001, T0 + 100.0, None, None, json!({"level": "fatal"})),
        status_change(5, 1, "c", 1, None),
        // d: archived forever, release 1.0.
        occ(6, "d", 4001, T0 + 200.0, Some("1.0"), None, json!({})),
        status_change(7, 1, "d", 2, Some(5)),
        // e: low priority, subtitle "Disk full".
        occ(
            8,
            "e",
            4001,
            T0 + 300.0,
            None,
            None,
            json!({"priority": 25, "subtitle": "Disk full"}),
        ),
        // fb: feedback, outside default search.
        occ(9, "fb", 6001, T0 + 400.0, None, None, json!({})),
        // g: resolved, then regressed by a second occurrence.
        occ(10, "g", 4001, T0 + 500.0, None, None, json!({})),
        status_change(11, 1, "g", 1, None),
        occ(12, "g", 4001, T0 + 600.0, None, None, json!({})),
        // h: archived until escalating, then escalating.
        occ(13, "h", 4001, T0 + 700.0, None, None, json!({})),
        status_change(14, 1, "h", 2, Some(1)),
        status_change(15, 1, "h", 0, Some(2)),
    ];
    let dir = temp_dir();
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&messages));
    // A fixed "now" two days after the data, for relative dates (`age:+1d`).
    let server = start(&["--input", input.to_str().unwrap(), "--api-now", "2024-01-03T00:00:00Z"]);

    let search = |query: Option<&str>| -> Vec<String> {
        let path = match query {
            Some(q) => format!(
                "/api/0/organizations/sentry/issues/?limit=100&query={}",
                url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            ),
            None => "/api/0/organizations/sentry/issues/?limit=100".to_string(),
        };
        let response = get(&server, &path).unwrap();
        assert_eq!(response.status(), 200, "{query:?}");
        let mut titles: Vec<String> = json_of(response)
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap().to_string())
            .collect();
        titles.sort();
        titles
    };
    let (a, b, c, d, e, fb, g, h) = (
        "title a",
        "Database timeout",
        "title c",
        "title d",
        "title e",
        "title fb",
        "title g",
        "title h",
    );
    let default_types = [a, b, c, d, e, g, h];
    let cases: Vec<(&str, Vec<&str>)> = vec![
        // Statuses and substatuses.
        ("is:unresolved", vec![a, b, e, g, h]),
        ("is:resolved", vec![c]),
        ("is:ignored", vec![d]),
        ("is:archived", vec![d]),
        ("is:muted", vec![d]),
        ("is:reprocessing", vec![]),
        ("is:new", vec![a, b, e]),
        ("is:ongoing", vec![]),
        ("is:regressed", vec![g]),
        ("is:escalating", vec![h]),
        ("is:archived_until_escalating", vec![]),
        ("is:archived_until_condition_met", vec![]),
        ("is:archived_forever", vec![d]),
        ("!is:unresolved", vec![c, d]),
        ("!is:resolved", vec![a, b, d, e, g, h]),
        // Sentry adds the status implied by the first substatus, with its polarity:
        // `!is:new` is `substatus != new AND status NOT IN [unresolved]`.
        ("!is:new", vec![c, d]),
        ("is:unresolved !is:new", vec![g, h]),
        // No assignment, inbox or links yet.
        ("is:unassigned", default_types.to_vec()),
        ("is:assigned", vec![]),
        ("!is:assigned", default_types.to_vec()),
        ("is:for_review", vec![a, b, e, g, h]),
        ("is:linked", vec![]),
        ("is:unlinked", default_types.to_vec()),
        ("assigned:none", default_types.to_vec()),
        ("assigned:me", vec![]),
        ("!assigned:me", default_types.to_vec()),
        ("assigned:[me, none]", default_types.to_vec()),
        ("bookmarks:me", vec![]),
        ("!bookmarks:me", default_types.to_vec()),
        // Priority, category, type; the default-search exclusion.
        ("issue.priority:low", vec![e]),
        ("issue.priority:[high, medium]", vec![a, b, c, d, g, h]),
        ("!issue.priority:[high, medium]", vec![e]),
        ("issue.category:feedback", vec![fb]),
        ("!issue.category:cron", vec![fb]),
        ("issue.category:[cron, feedback] is:new", vec![a, b, e, fb]),
        ("issue.type:feedback", vec![fb]),
        ("!issue.type:feedback is:new", vec![a, b, e]),
        ("issue.type:monitor_check_in_failure is:new", vec![a, b, e]),
        // Times.
        ("firstSeen:>2024-01-01T00:30:00", vec![b]),
        ("age:>2024-01-01T00:30:00", vec![b]),
        ("!firstSeen:>2024-01-01T00:30:00", vec![a, c, d, e, g, h]),
        ("age:+1d", default_types.to_vec()),
        ("age:-1h", vec![]),
        ("lastSeen:>=2024-01-01T01:00:00", vec![a, b]),
        ("!lastSeen:>=2024-01-01T01:00:00", vec![c, d, e, g, h]),
        ("timesSeen:2", vec![a, g]),
        ("timesSeen:>1", vec![a, g]),
        ("!timesSeen:>1", vec![b, c, d, e, h]),
        ("timesSeen:[2, 3]", vec![a, g]),
        ("!timesSeen:[1]", vec![a, g]),
        // Level, releases, environments.
        ("level:warning", vec![b]),
        ("level:[fatal, warning]", vec![b, c]),
        ("!level:error", vec![b, c]),
        ("release:1.0", vec![a, d]),
        ("release:2.0", vec![a, b]),
        // Negations hold per occurrence, as Sentry's do per event: a's release 1.0
        // occurrence is not of release 2.0, and its staging one is not in prod.
        ("!release:2.0", vec![a, c, d, e, g, h]),
        ("release:[1.0, 2.0]", vec![a, b, d]),
        ("release:1.*", vec![a, d]),
        ("has:release", vec![a, b, d]),
        ("!has:release", vec![c, e, g, h]),
        ("firstRelease:1.0", vec![a, d]),
        ("firstRelease:2.0", vec![b]),
        ("!firstRelease:1.0", vec![b, c, e, g, h]),
        ("environment:staging", vec![a]),
        ("environment:prod", vec![a, b]),
        ("!environment:prod", vec![a, c, d, e, g, h]),
        // Conditions hold together on one occurrence: a has no release 2.0 one in prod.
        ("release:2.0 environment:prod", vec![b]),
        ("environment:[staging, nowhere]", vec![a]),
        // event.timestamp: occurrences in the range (hour granularity).
        (
            "event.timestamp:>=2024-01-01T01:00:00 event.timestamp:<2024-01-01T02:00:00",
            vec![b],
        ),
        ("event.timestamp:>=2024-01-01T02:00:00", vec![a]),
        ("event.timestamp:2024-01-01", default_types.to_vec()),
        ("event.timestamp:2024-01-02", vec![]),
        // Free text: case-insensitive substring of title, culprit and subtitle.
        ("TIMEOUT", vec![b]),
        ("db.query", vec![b]),
        ("\"disk full\"", vec![e]),
        ("is:resolved title", vec![c]),
        ("subtitle is:new", vec![a, b]),
        ("checkout", vec![a]),
    ];
    for (query, expected) in &cases {
        let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(search(Some(query)), expected, "query {query:?}");
    }
    // The default query: unresolved, high or medium, default-search types only.
    let mut expected = vec![a, b, g, h];
    expected.sort();
    assert_eq!(search(None), expected);
    // An empty query: everything but types outside default search.
    assert_eq!(search(Some("")).len(), 7);

    // Errors: unknown keys name the key and position; malformed queries and bad values.
    for (query, needle) in [
        ("team:x", "unsupported key \"team\" (at position 0)"),
        ("is:unresolved flags[foo]:bar", "unsupported key \"flags[foo]\" (at position 14)"),
        ("is:nonsense", "Invalid value for \"is\" search"),
        ("timesSeen:abc", "Invalid number"),
        ("issue.priority:urgent", "Invalid value 'urgent'"),
        ("issue.category:nope", "Invalid value 'nope'"),
        ("issue.type:nope", "Invalid value 'nope'"),
        ("firstSeen:yesterday", "Invalid date"),
        ("release:[1.0,]", "Lists should not have empty values"),
        ("a OR b", "\"OR\""),
        ("count():>1", "Aggregate filters are not supported"),
        // Sentry's typed event keys that Occurrent does not keep: the key is unsupported.
        ("stack.lineno:10", "unsupported key \"stack.lineno\""),
        ("stack.in_app:true", "unsupported key \"stack.in_app\""),
        ("transaction.duration:>5s", "unsupported key \"transaction.duration\""),
    ] {
        let path = format!(
            "/api/0/organizations/sentry/issues/?query={}",
            url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
        );
        let response = get(&server, &path).unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let detail = json_of(response)["detail"].as_str().unwrap().to_string();
        assert!(detail.contains(needle), "{query}: {detail}");
    }
}

#[test]
fn paging_many_groups_from_the_newest_returns_each_once_in_order() {
    // 2,500 groups (over the 1,000 hits the default sort stops counting at), in pairs that
    // share a last-seen time: ties must page like everything else.
    let messages: Vec<Value> = (0..2500u64)
        .map(|i| occurrence(i + 1, 1 + i % 3, &format!("g{i}"), 4001, T0 + (i / 2) as f64, json!({})))
        .collect();
    let dir = temp_dir();
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&messages));
    let server = start(&["--input", input.to_str().unwrap()]);
    let first = get(&server, "/api/0/organizations/sentry/issues/?limit=100").unwrap();
    assert_eq!(first.headers()["X-Hits"], "1000", "hits are capped");
    let mut seen: Vec<(String, u64)> = Vec::new();
    let mut path = "/api/0/organizations/sentry/issues/?limit=100".to_string();
    let mut pages = 0;
    loop {
        let response = get(&server, &path).unwrap();
        let link = response.headers()["Link"].to_str().unwrap().to_string();
        for issue in json_of(response).as_array().unwrap() {
            seen.push((
                issue["lastSeen"].as_str().unwrap().to_string(),
                issue["id"].as_str().unwrap().parse().unwrap(),
            ));
        }
        pages += 1;
        assert!(pages <= 2500 / 100 + 1, "paging does not end");
        let next = link.split(", ").find(|l| l.contains("rel=\"next\"")).unwrap().to_string();
        if next.contains("results=\"false\"") {
            break;
        }
        let cursor = next.split("cursor=\"").nth(1).unwrap().trim_end_matches('"').to_string();
        path = format!("/api/0/organizations/sentry/issues/?limit=100&cursor={cursor}");
    }
    assert_eq!(seen.len(), 2500, "every group once");
    let mut expected = seen.clone();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, expected, "newest first, ties by id descending");
    // The scan (any environment filter disables the walk) agrees on the first page.
    let walked: Vec<Value> = json_of(get(&server, "/api/0/organizations/sentry/issues/?limit=100&query=").unwrap())
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].clone())
        .collect();
    let expected_ids: Vec<Value> = seen[..100].iter().map(|(_, id)| json!(id.to_string())).collect();
    assert_eq!(walked, expected_ids);
}
