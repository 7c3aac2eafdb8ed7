//! The read side through the real binary and a real HTTP client.

mod common;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(args: &[&str]) -> Server {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(BIN)
        .arg("run")
        .args(args)
        .args(["--listen", &listen, "--workers", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start occurrent run");
    let server = Server {
        child,
        base: format!("http://{listen}"),
    };
    wait_until(|| get(&server, "/readyz").map(|r| r.status() == 200).unwrap_or(false));
    server
}

fn wait_until(mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
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
    loop {
        let response = get(&server, &path).unwrap();
        let link = response.headers()["Link"].to_str().unwrap().to_string();
        for issue in json_of(response).as_array().unwrap() {
            seen.push(issue["id"].as_str().unwrap().to_string());
        }
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
        ("/api/0/organizations/sentry/issues/?query=nokey:1", 400, None),
    ] {
        let response = get(&server, path).unwrap();
        assert_eq!(response.status(), status, "{path}");
        if let Some(detail) = detail {
            assert_eq!(json_of(response)["detail"], detail);
        }
    }
}

#[test]
fn follow_picks_up_appended_lines() {
    let dir = temp_dir();
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&[occurrence(1, 1, "a", 4001, T0, json!({}))]));
    let server = start(&["--input", input.to_str().unwrap(), "--follow"]);
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
}
