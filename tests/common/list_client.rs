//! The issues list tests' client and expectations: requests against a server with a fixed
//! "now", and the values expected from input events (`Ev`), computed here independently of
//! the server.
#![allow(dead_code)]

use serde_json::{json, Value};

use crate::common::server::Server;
use crate::common::*;

pub(crate) const H: i64 = 3600;
pub(crate) const D: i64 = 86_400;
/// The server's fixed "now" (`--api-now`): 100 days after T0, midnight UTC.
pub(crate) const NOW: i64 = T0 as i64 + 100 * D;

pub(crate) fn start(args: &[&str]) -> Server {
    let now = NOW.to_string();
    let args: Vec<&str> = args.iter().copied().chain(["--api-now", &now]).collect();
    Server::start("127.0.0.1", &args)
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
}

pub(crate) fn get(server: &Server, path: &str) -> Reply {
    let response = reqwest::blocking::get(format!("{}{}", server.base, path)).expect("request");
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.json().unwrap_or(Value::Null),
    }
}

pub(crate) fn list(server: &Server, params: &str) -> Reply {
    let reply = get(server, &format!("/api/0/organizations/sentry/issues/?{params}"));
    assert_eq!(reply.status, 200, "{params}: {}", reply.body);
    reply
}

pub(crate) fn titles(reply: &Reply) -> Vec<String> {
    reply
        .body
        .as_array()
        .expect("a list")
        .iter()
        .map(|g| g["title"].as_str().unwrap().to_string())
        .collect()
}

pub(crate) fn by_title<'a>(reply: &'a Reply, title: &str) -> &'a Value {
    reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["title"] == title)
        .unwrap_or_else(|| panic!("no {title} in {}", reply.body))
}

pub(crate) fn iso(seconds: i64) -> String {
    iso_micros(seconds * 1_000_000)
}

/// ISO 8601 with six fractional digits, computed here (Howard Hinnant's civil-from-days).
pub(crate) fn iso_micros(micros: i64) -> String {
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
pub(crate) struct Ev {
    pub(crate) fp: &'static str,
    pub(crate) project: u64,
    pub(crate) t: i64,
    pub(crate) user: Option<&'static str>,
    pub(crate) env: Option<&'static str>,
    pub(crate) release: Option<&'static str>,
    pub(crate) level: &'static str,
}

pub(crate) fn ev(fp: &'static str, t: i64, user: Option<&'static str>, env: Option<&'static str>) -> Ev {
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

/// The occurrence messages of `evs`, their ids counting from 1 in order.
pub(crate) fn messages_of(evs: &[Ev]) -> Vec<Value> {
    evs.iter().enumerate().map(|(i, e)| message(i as u64 + 1, e)).collect()
}

pub(crate) fn message(id: u64, e: &Ev) -> Value {
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

/// Count, distinct users, first and last seen of `fp`'s events in `[start, end]` (seconds,
/// inclusive) and `envs`, exactly (docs/semantics.md §7; the events' times are whole seconds,
/// so whole-second and exact first/last seen agree).
pub(crate) fn expected(
    events: &[Ev],
    fp: &str,
    start: i64,
    end: i64,
    envs: Option<&[&str]>,
) -> (String, u64, Option<String>, Option<String>) {
    expected_if(events, fp, start, end, |e| {
        envs.is_none_or(|envs| envs.contains(&e.env.unwrap_or("")))
    })
}

/// [`expected`] over the events that satisfy `condition`.
pub(crate) fn expected_if(
    events: &[Ev],
    fp: &str,
    start: i64,
    end: i64,
    condition: impl Fn(&Ev) -> bool,
) -> (String, u64, Option<String>, Option<String>) {
    let selected: Vec<&Ev> = events
        .iter()
        .filter(|e| e.fp == fp && e.t >= start && e.t <= end && condition(e))
        .collect();
    let mut users: Vec<&str> = selected.iter().filter_map(|e| e.user).collect();
    users.sort();
    users.dedup();
    let first = selected.iter().map(|e| e.t).min().map(iso);
    let last = selected.iter().map(|e| e.t).max().map(iso);
    (selected.len().to_string(), users.len() as u64, first, last)
}

pub(crate) fn actual(group: &Value) -> (String, u64, Option<String>, Option<String>) {
    (
        group["count"].as_str().expect("count is a string").to_string(),
        group["userCount"].as_u64().expect("userCount"),
        group["firstSeen"].as_str().map(str::to_string),
        group["lastSeen"].as_str().map(str::to_string),
    )
}

/// `[[bucket start, count], …]` of `fp`'s events: `n` buckets of `size` from `first`, each
/// counting the events in the bucket up to now (under a window that ends now and holds the
/// buckets).
pub(crate) fn expected_buckets(events: &[Ev], fp: &str, first: i64, size: i64, n: i64, envs: Option<&[&str]>) -> Value {
    expected_buckets_in(events, fp, (first, size, n), envs, (i64::MIN, NOW))
}

/// [`expected_buckets`] of the events inside the window `[lo, hi]` (seconds, inclusive)
/// only: a bucket counts the events inside both itself and the window.
pub(crate) fn expected_buckets_in(
    events: &[Ev],
    fp: &str,
    (first, size, n): (i64, i64, i64),
    envs: Option<&[&str]>,
    (lo, hi): (i64, i64),
) -> Value {
    let buckets: Vec<Value> = (0..n)
        .map(|i| {
            let start = first + i * size;
            let count = events
                .iter()
                .filter(|e| {
                    e.fp == fp
                        && e.t >= start
                        && e.t < start + size
                        && lo <= e.t
                        && e.t <= hi
                        && envs.is_none_or(|envs| envs.contains(&e.env.unwrap_or("")))
                })
                .count();
            json!([start, count])
        })
        .collect();
    Value::Array(buckets)
}

/// The sum of the buckets' counts.
pub(crate) fn bucket_sum(buckets: &Value) -> u64 {
    buckets
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| b[1].as_u64().expect("a count"))
        .sum()
}

pub(crate) fn list_in(server: &Server, org: &str, params: &str) -> Reply {
    let reply = get(server, &format!("/api/0/organizations/{org}/issues/?{params}"));
    assert_eq!(reply.status, 200, "{params}: {}", reply.body);
    reply
}

/// Follows `next` cursors from a first page: the ids in order.
pub(crate) fn walk(server: &Server, params: &str) -> Vec<String> {
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

pub(crate) fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The 14 daily buckets of `fp`'s events that satisfy `condition`, the last holding now.
pub(crate) fn expected_buckets_if(events: &[Ev], fp: &str, condition: fn(&Ev) -> bool) -> Value {
    let selected: Vec<Ev> = events.iter().filter(|e| condition(e)).copied().collect();
    expected_buckets(&selected, fp, NOW - 13 * D, D, 14, None)
}
