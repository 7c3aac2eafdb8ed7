//! Custom tag search (search-syntax.md §6) through the real binary: `KEY:VALUE`, negation,
//! lists, wildcards, `has:`/`!has:`, `tags[NAME]`, together with other event-level
//! conditions and `environment=`, and the keys that stay 400. Expected groups and counts
//! are computed here from the input events, evaluating each condition per event as Sentry
//! does (a missing tag reads as `""`), independently of the server.

mod common;
#[path = "common/list_client.rs"]
mod list_client;

use std::collections::BTreeSet;

use common::*;
use list_client::*;
use serde_json::{json, Value};

/// One event: group, time (seconds), environment and tags (`array`: sent as `[[k, v], …]`
/// instead of an object).
struct TagEv {
    fp: &'static str,
    t: i64,
    env: Option<&'static str>,
    tags: &'static [(&'static str, &'static str)],
    array: bool,
}

fn tev(fp: &'static str, t: i64, env: Option<&'static str>, tags: &'static [(&'static str, &'static str)]) -> TagEv {
    TagEv {
        fp,
        t,
        env,
        tags,
        array: false,
    }
}

fn events() -> Vec<TagEv> {
    let n = NOW;
    vec![
        tev("g1", n - 2 * H, Some("prod"), &[("browser", "firefox"), ("url", "/checkout/a")]),
        tev("g1", n - 3 * H, Some("staging"), &[("browser", "chrome")]),
        TagEv {
            array: true,
            ..tev("g2", n - H, Some("prod"), &[("browser", "safari"), ("is", "x")])
        },
        tev("g2", n - 4 * H, Some("prod"), &[]),
        tev("g3", n - 5 * H, None, &[]),
        tev("g3", n - 5 * H + 10, None, &[]),
        // Outside the default 90 days: its tag must not count.
        tev("g4", n - 95 * D, Some("prod"), &[("browser", "firefox")]),
        tev("g4", n - 2 * D, Some("prod"), &[("url", "/home")]),
        tev("g5", n - 6 * H, Some("staging"), &[("url", "/checkout/b"), ("browser", "firefox")]),
    ]
}

fn message(id: u64, e: &TagEv) -> Value {
    let tags = if e.array {
        json!(e.tags.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>())
    } else {
        let mut object = serde_json::Map::new();
        for (k, v) in e.tags {
            object.insert(k.to_string(), json!(v));
        }
        // A non-string value is skipped, not an error.
        if e.fp == "g5" {
            object.insert("n".into(), json!(5));
        }
        Value::Object(object)
    };
    let mut event = json!({"event_id": uuid(1_000_000 + id), "project_id": 1, "timestamp": e.t as f64, "tags": tags});
    if let Some(env) = e.env {
        event["environment"] = json!(env);
    }
    occurrence(id, 1, e.fp, 4001, e.t as f64, json!({ "event": event }))
}

fn tag<'e>(e: &'e TagEv, key: &str) -> &'e str {
    e.tags.iter().find(|(k, _)| *k == key).map_or("", |(_, v)| v)
}

/// The groups with an event in the last 90 days (and `envs`) that satisfies `condition`,
/// with the number of such events.
fn expected(evs: &[TagEv], envs: Option<&[&str]>, condition: impl Fn(&TagEv) -> bool) -> BTreeSet<(String, String)> {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for e in evs {
        let in_env = envs.is_none_or(|envs| e.env.is_some_and(|x| envs.contains(&x)));
        if e.t >= NOW - 90 * D && in_env && condition(e) {
            *counts.entry(e.fp).or_default() += 1;
        }
    }
    counts.into_iter().map(|(fp, n)| (format!("title {fp}"), n.to_string())).collect()
}

/// Titles with their `filtered` counts.
fn actual(reply: &Reply) -> BTreeSet<(String, String)> {
    reply
        .body
        .as_array()
        .expect("a list")
        .iter()
        .map(|g| {
            let count = g["filtered"]["count"].as_str().unwrap_or("no filtered count").to_string();
            (g["title"].as_str().unwrap_or_default().to_string(), count)
        })
        .collect()
}

#[test]
fn custom_tags_are_searched_per_event_within_the_window() {
    let dir = temp_dir();
    let evs = events();
    let messages: Vec<Value> = evs.iter().enumerate().map(|(i, e)| message(i as u64 + 1, e)).collect();
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&messages));
    let server = start(&["--input", input.to_str().unwrap()]);
    let search = |query: &str, extra: &str| list(&server, &format!("query={}{extra}", url_encode(query)));

    type Case = (&'static str, &'static str, Option<&'static [&'static str]>, fn(&TagEv) -> bool);
    let cases: Vec<Case> = vec![
        ("browser:firefox", "", None, |e| tag(e, "browser") == "firefox"),
        ("!browser:firefox", "", None, |e| tag(e, "browser") != "firefox"),
        ("browser:[safari, chrome]", "", None, |e| {
            ["safari", "chrome"].contains(&tag(e, "browser"))
        }),
        ("!browser:[safari, chrome]", "", None, |e| {
            !["safari", "chrome"].contains(&tag(e, "browser"))
        }),
        ("url:*checkout*", "", None, |e| tag(e, "url").contains("checkout")),
        ("url:/checkout/*", "", None, |e| tag(e, "url").starts_with("/checkout/")),
        ("!url:*checkout*", "", None, |e| !tag(e, "url").contains("checkout")),
        ("has:browser", "", None, |e| !tag(e, "browser").is_empty()),
        ("!has:browser", "", None, |e| tag(e, "browser").is_empty()),
        ("has:n", "", None, |_| false),
        ("tags[is]:x", "", None, |e| tag(e, "is") == "x"),
        ("tags[browser,string]:firefox", "", None, |e| tag(e, "browser") == "firefox"),
        // Conditions hold together on one event: g1's firefox event is in prod, g5's in
        // staging.
        ("browser:firefox environment:staging", "", None, |e| {
            tag(e, "browser") == "firefox" && e.env == Some("staging")
        }),
        ("tags[environment]:prod has:url", "", None, |e| {
            e.env == Some("prod") && !tag(e, "url").is_empty()
        }),
        ("browser:firefox", "&environment=prod", Some(&["prod"]), |e| {
            tag(e, "browser") == "firefox"
        }),
        ("!has:browser", "&environment=prod", Some(&["prod"]), |e| {
            tag(e, "browser").is_empty()
        }),
    ];
    for (query, extra, envs, condition) in cases {
        let reply = search(query, extra);
        let want = expected(&evs, envs, condition);
        assert_eq!(actual(&reply), want, "{query} {extra}");
        assert_eq!(reply.headers["X-Hits"], want.len().to_string().as_str(), "{query} {extra}");
    }
    // Spelled out once: firefox is g1's prod event, g5's staging event (g4's is too old).
    assert_eq!(
        actual(&search("browser:firefox", "")),
        BTreeSet::from([("title g1".to_string(), "1".to_string()), ("title g5".to_string(), "1".to_string())])
    );
    // `sort=freq` orders by the windowed count; the tag only selects.
    assert_eq!(titles(&search("has:url", "&sort=freq")).len(), 3);

    // Issue-level keys Occurrent does not keep, typed keys with other values and flags stay
    // 400 with the parse error's shape.
    for query in ["team:backend", "issue.id:abc", "stack.lineno:5", "flags[beta]:on", "timesSeen:abc"] {
        let reply = get(&server, &format!("/api/0/organizations/sentry/issues/?query={}", url_encode(query)));
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        assert!(reply.body["detail"].is_string(), "{query}: {}", reply.body);
    }
}
