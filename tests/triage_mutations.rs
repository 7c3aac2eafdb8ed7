//! Triage mutations through the real server, per user: sharing, subscriptions, the inbox,
//! and resolutions in commits and (future, next, given) releases in version order.

mod common;
#[path = "common/mutation_client.rs"]
mod mutation_client;

use common::server::Server;
use common::*;
use mutation_client::*;
use serde_json::{json, Value};

/// Alice and Bob may write to organisation `sentry` (project 1 and 2).
const TWO_USERS: &str = r#"
[[organizations]]
slug = "sentry"
[[organizations.projects]]
id = 1
slug = "one"
[[organizations.projects]]
id = 2
slug = "two"

[[tokens]]
token = "alice-0123456789"
organization = "sentry"
scopes = ["event:write"]
user = "alice@example.com"

[[tokens]]
token = "bob-0123456789"
organization = "sentry"
scopes = ["event:write"]
user = "bob@example.com"
"#;
const ALICE: &str = "alice-0123456789";
const BOB: &str = "bob-0123456789";

impl Server {
    fn put_as(&self, token: &str, query: &str, body: Value) -> (u16, Value) {
        self.send(
            self.client
                .put(format!("{}{ISSUES}?{query}", self.base))
                .bearer_auth(token)
                .json(&body),
        )
    }

    fn get_as(&self, token: &str, path: &str) -> Value {
        let (status, body) = self.send(self.client.get(format!("{}{path}", self.base)).bearer_auth(token));
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// The ids the list shows for `query` (sorted), as `token`'s user.
    fn ids_as(&self, token: &str, query: &str) -> Vec<String> {
        let list = self.get_as(token, &format!("{ISSUES}?query={query}"));
        let mut ids: Vec<String> = list
            .as_array()
            .expect("a list")
            .iter()
            .map(|g| g["id"].as_str().expect("string id").to_string())
            .collect();
        ids.sort();
        ids
    }
}

/// Seconds since 1970 of a UTC `YYYY-MM-DDTHH:MM:SS…` date (days by the civil-calendar
/// formula, independently of the server's code).
fn epoch_seconds_of(iso: &Value) -> i64 {
    let text = iso.as_str().unwrap_or_else(|| panic!("not a date: {iso}"));
    let field = |range: std::ops::Range<usize>| -> i64 {
        text.get(range)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad date {text}"))
    };
    let (year, month, day) = (field(0..4), field(5..7), field(8..10));
    let (y, m) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    days * 86_400 + field(11..13) * 3600 + field(14..16) * 60 + field(17..19)
}

#[test]
fn sharing_subscriptions_inbox_and_commit_and_future_release_resolutions() {
    let dir = temp_dir();
    let config = write_lines(dir.path(), "config.toml", &[TWO_USERS.to_string()]);
    let release = |mut m: Value, r: &str| {
        m["event"] = json!({"event_id": m["event_id"], "project_id": m["project_id"], "timestamp": m["detection_time"], "release": r});
        m
    };
    let mut messages = crons(1, "a", 2, 1);
    messages.extend(crons(10, "b", 1, 1).into_iter().map(|m| release(m, "1.0")));
    messages.extend(crons(20, "c", 1, 1));
    messages.extend(crons(30, "d", 1, 2));
    let path = input(dir.path(), &messages);
    let state = dir.path().join("state");
    let args = [
        "--input",
        path.to_str().unwrap(),
        "--follow",
        "--state-dir",
        state.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ];
    let mut server = start(&args);
    let list = server.get_as(ALICE, &format!("{ISSUES}?query="));
    let id = |title: &str| -> String {
        let group = list.as_array().unwrap().iter().find(|g| g["title"] == title);
        group.unwrap_or_else(|| panic!("no {title} in {list}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a, b, c, d) = (id("title a"), id("title b"), id("title c"), id("title d"));
    let issue = |server: &Server, token: &str, id: &str| server.get_as(token, &format!("{ISSUES}{id}/"));

    // Sharing: a 32-hex share id, new on each share, gone on unshare.
    assert_eq!(issue(&server, ALICE, &a)["isPublic"], false);
    let (status, body) = server.put_as(ALICE, &format!("id={a}"), json!({"isPublic": true}));
    assert_eq!(status, 200, "{body}");
    let share = body["shareId"].as_str().expect("a share id").to_string();
    assert!(share.len() == 32 && share.chars().all(|c| c.is_ascii_hexdigit()), "{share}");
    assert_eq!(body["isPublic"], true);
    let shared = issue(&server, BOB, &a);
    assert_eq!(
        (shared["isPublic"].as_bool(), shared["shareId"].as_str()),
        (Some(true), Some(share.as_str()))
    );
    let (_, again) = server.put_as(ALICE, &format!("id={a}"), json!({"isPublic": true}));
    assert_ne!(again["shareId"], share.as_str(), "sharing again makes a new share");
    let share = again["shareId"].as_str().expect("a share id").to_string();
    let (_, body) = server.put_as(ALICE, &format!("id={c}"), json!({"isPublic": true}));
    let (_, body_off) = server.put_as(ALICE, &format!("id={c}"), json!({"isPublic": false}));
    assert!(body["shareId"].is_string());
    assert_eq!(body_off, json!({"isPublic": false, "shareId": null}));
    assert_eq!(issue(&server, ALICE, &c)["shareId"], Value::Null);

    // Subscriptions are per user: a bookmark subscribes its user, an assignment the
    // assignee; an explicit choice wins and is echoed with reason "unknown".
    server.put_as(ALICE, &format!("id={b}"), json!({"isBookmarked": true}));
    server.put_as(ALICE, &format!("id={b}"), json!({"assignedTo": "bob@example.com"}));
    let subscription = |token: &str| {
        let group = issue(&server, token, &b);
        (group["isSubscribed"].clone(), group["subscriptionDetails"].clone())
    };
    assert_eq!(subscription(ALICE), (json!(true), json!({"reason": "bookmarked"})));
    assert_eq!(subscription(BOB), (json!(true), json!({"reason": "assigned"})));
    let (status, body) = server.put_as(BOB, &format!("id={b}"), json!({"isSubscribed": false}));
    assert_eq!(
        (status, body),
        (200, json!({"isSubscribed": false, "subscriptionDetails": {"reason": "unknown"}}))
    );
    assert_eq!(subscription(BOB), (json!(false), Value::Null));
    assert_eq!(subscription(ALICE), (json!(true), json!({"reason": "bookmarked"})), "Alice's stays");
    server.put_as(BOB, &format!("id={a}"), json!({"isSubscribed": true}));
    assert_eq!(issue(&server, BOB, &a)["subscriptionDetails"], json!({"reason": "unknown"}));
    assert_eq!(issue(&server, ALICE, &a)["isSubscribed"], false);
    // Search sees the same active subscriptions (`subscribed:` is `subscribed_by`).
    assert_eq!(server.ids_as(ALICE, "subscribed:me"), vec![b.clone()]);
    assert_eq!(server.ids_as(BOB, "subscribed:me"), vec![a.clone()]);
    assert_eq!(server.ids_as(ALICE, "subscribed:bob@example.com"), vec![a.clone()]);
    let mut others = vec![c.clone(), d.clone()];
    others.sort();
    assert_eq!(server.ids_as(ALICE, "subscribed:none"), others);
    let mut not_bobs = vec![b.clone(), c.clone(), d.clone()];
    not_bobs.sort();
    assert_eq!(server.ids_as(BOB, "!subscribed:me"), not_bobs);

    // The inbox: `is:for_review` and `expand=inbox` agree before and after each change.
    let in_inbox = |server: &Server, id: &str| -> Option<Value> {
        let expanded = server.get_as(ALICE, &format!("{ISSUES}?query=&expand=inbox"));
        let group = expanded.as_array().unwrap().iter().find(|g| g["id"] == id).cloned();
        let inbox = group.unwrap_or_else(|| panic!("{id} not listed"))["inbox"].clone();
        let reviewing = server.ids_as(ALICE, "is:for_review").contains(&id.to_string());
        assert_eq!(!inbox.is_null(), reviewing, "{id}: expand=inbox {inbox} vs is:for_review");
        (!inbox.is_null()).then_some(inbox)
    };
    // New groups are in the inbox, since they were first seen.
    let first = in_inbox(&server, &d).expect("a new group is for review");
    assert_eq!(first["reason"], 0);
    assert_eq!(epoch_seconds_of(&first["date_added"]), (T0 + 30.0) as i64);
    let (status, body) = server.put_as(ALICE, &format!("id={d}"), json!({"inbox": false}));
    assert_eq!((status, body), (200, json!({"inbox": false})));
    assert_eq!(in_inbox(&server, &d), None, "marked reviewed");
    let before = wall_seconds();
    server.put_as(ALICE, &format!("id={d}"), json!({"inbox": true}));
    let after = wall_seconds();
    let manual = in_inbox(&server, &d).expect("added back");
    assert_eq!(manual["reason"], 3, "GroupInboxReason.MANUAL");
    let added = epoch_seconds_of(&manual["date_added"]);
    assert!(before <= added && added <= after, "{added} not in [{before}, {after}]");
    server.put_as(ALICE, &format!("id={c}"), json!({"inbox": false}));
    assert_eq!(in_inbox(&server, &c), None);

    // Resolved in a commit: shown as Sentry's commit shape; any later occurrence regresses.
    let (status, body) = server.put_as(
        ALICE,
        &format!("id={c}"),
        json!({"status": "resolved", "statusDetails": {"inCommit": {"commit": "abc123", "repository": "acme/api"}}}),
    );
    assert_eq!(status, 200, "{body}");
    let commit = json!({"id": "abc123", "repository": {"name": "acme/api"}});
    assert_eq!(body["statusDetails"]["inCommit"], commit);
    assert_eq!(body["statusDetails"]["actor"]["id"], "alice@example.com");
    assert_eq!(issue(&server, ALICE, &c)["statusDetails"]["inCommit"], commit);
    // Resolved in a future release: the group's own release (1.0) does not regress it.
    let (status, body) = server.put_as(
        ALICE,
        &format!("id={b}"),
        json!({"status": "resolved", "statusDetails": {"inFutureRelease": "2.0"}}),
    );
    assert_eq!((status, &body["statusDetails"]["inFutureRelease"]), (200, &json!("2.0")), "{body}");
    for (query, body, expected) in [
        (
            format!("id={a}&id={d}"),
            json!({"status": "resolved", "statusDetails": {"inFutureRelease": "2.0"}}),
            json!({"detail": "Cannot set resolved for multiple projects."}),
        ),
        (
            format!("id={a}"),
            json!({"status": "resolved", "statusDetails": {"inCommit": {"commit": "abc123"}}}),
            json!({"repository": ["This field is required."]}),
        ),
        (
            format!("id={a}"),
            json!({"inbox": "maybe"}),
            json!({"inbox": ["Must be a valid boolean."]}),
        ),
    ] {
        assert_eq!(server.put_as(ALICE, &query, body.clone()), (400, expected), "{query} {body}");
    }

    // All of it survives a kill (replayed from the mutation log).
    server.kill();
    drop(server);
    let server = start(&args);
    let restored = issue(&server, BOB, &a);
    assert_eq!(restored["shareId"], share.as_str());
    assert_eq!(restored["subscriptionDetails"], json!({"reason": "unknown"}));
    assert_eq!(issue(&server, BOB, &b)["isSubscribed"], false);
    assert_eq!(issue(&server, ALICE, &b)["statusDetails"]["inFutureRelease"], "2.0");
    assert_eq!(issue(&server, ALICE, &c)["statusDetails"]["inCommit"], commit);
    assert_eq!(in_inbox(&server, &d).map(|i| i["reason"].clone()), Some(json!(3)));

    append(&path, &[release(crons(40, "b", 1, 1).remove(0), "1.0")]);
    append(&path, &crons(50, "c", 1, 1));
    wait_until(|| issue(&server, ALICE, &c)["status"] == "unresolved");
    let regressed = issue(&server, ALICE, &c);
    assert_eq!(
        (regressed["substatus"].as_str(), &regressed["statusDetails"]),
        (Some("regressed"), &json!({}))
    );
    assert_eq!(
        in_inbox(&server, &c).map(|i| i["reason"].clone()),
        Some(json!(2)),
        "back for review"
    );
    let b_now = issue(&server, ALICE, &b);
    assert_eq!((b_now["count"].as_str(), b_now["status"].as_str()), (Some("2"), Some("resolved")));
    append(&path, &[release(crons(60, "b", 1, 1).remove(0), "2.0")]);
    wait_until(|| issue(&server, ALICE, &b)["status"] == "unresolved");
}

/// `message` with an inline event in `release`.
fn in_release(mut message: Value, release: &str) -> Value {
    message["event"] = json!({"event_id": message["event_id"], "project_id": message["project_id"],
        "timestamp": message["detection_time"], "release": release});
    message
}

#[test]
fn release_resolutions_follow_version_order_and_the_inbox_dates_regressions() {
    let dir = temp_dir();
    // One project, releases 1.0.0 and 1.2.0 (from "x"): versions order as SemVer does, so
    // 1.10.0 is newer than 1.2.0 and 1.2.0 is the project's current release.
    let messages = vec![
        in_release(crons(1, "f", 1, 1).remove(0), "app@1.0.0"),
        in_release(crons(2, "n", 1, 1).remove(0), "app@1.0.0"),
        in_release(crons(3, "x", 1, 1).remove(0), "app@1.2.0"),
        in_release(crons(4, "r", 1, 1).remove(0), "app@1.0.0"),
        // Project 2 has no release yet.
        crons(5, "p", 1, 2).remove(0),
    ];
    let path = input(dir.path(), &messages);
    let state = dir.path().join("state");
    let server = start(&[
        "--input",
        path.to_str().unwrap(),
        "--follow",
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    let (f, n, r) = (server.id_of("f"), server.id_of("n"), server.id_of("r"));
    for (id, details) in [
        (&f, json!({"inFutureRelease": "app@2.0.0"})),
        (&n, json!({"inNextRelease": true})),
        (&r, json!({"inRelease": "app@1.2.0"})),
    ] {
        let (status, body) = server.put(&format!("id={id}"), json!({"status": "resolved", "statusDetails": details}));
        assert_eq!((status, body["status"].as_str()), (200, Some("resolved")), "{body}");
    }
    // Older or equal releases (and prereleases of the threshold) leave them resolved.
    let mut id = 100;
    let mut occur = |fingerprint: &str, release: &str, at: u64| {
        id += 1;
        let mut message = in_release(crons(id, fingerprint, 1, 1).remove(0), release);
        message["detection_time"] = json!(T0 + at as f64);
        message["event"]["timestamp"] = json!(T0 + at as f64);
        append(&path, &[message]);
    };
    for (fingerprint, release) in [
        ("f", "app@1.5.0"),
        ("f", "app@2.0.0-rc.1"),
        ("n", "app@1.1.0"),
        ("n", "app@1.2.0+build.7"),
        ("r", "app@1.0.0"),
        ("r", "app@1.2.0"),
    ] {
        occur(fingerprint, release, 50);
    }
    let count = |id: &str| server.issue(id)["count"].as_str().map(str::to_owned);
    for id in [&f, &n, &r] {
        wait_until(|| count(id).as_deref() == Some("3"));
        assert_eq!(server.issue(id)["status"], "resolved", "{id}: no newer release yet");
    }
    // Newer releases regress: f at 2.0.0 (the future version itself), n at 1.3.0 (after
    // the current 1.2.0), r at 1.10.0 (after 1.2.0, though it sorts before it as text).
    occur("n", "app@1.3.0", 100);
    occur("r", "app@1.10.0", 150);
    occur("f", "app@2.0.0", 160);
    for id in [&f, &n, &r] {
        wait_until(|| server.issue(id)["status"] == "unresolved");
        assert_eq!(server.issue(id)["substatus"], "regressed", "{id}");
    }
    // The inbox dates the regression, not later occurrences: n regressed at +100 and was
    // seen again at +200, r regressed at +150.
    occur("n", "app@1.3.0", 200);
    wait_until(|| count(&n).as_deref() == Some("5"));
    let listed = server.get(&format!("{ISSUES}?query=is:unresolved%20is:for_review&sort=inbox&expand=inbox"));
    let groups = listed.1.as_array().cloned().unwrap_or_default();
    let group = |id: &str| {
        groups
            .iter()
            .find(|g| g["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {groups:?}"))
    };
    assert_eq!(epoch_seconds_of(&group(&n)["lastSeen"]), (T0 + 200.0) as i64);
    assert_eq!(epoch_seconds_of(&group(&n)["inbox"]["date_added"]), (T0 + 100.0) as i64);
    assert_eq!(group(&n)["inbox"]["reason"], 2, "GroupInboxReason.REGRESSION");
    let order: Vec<&str> = groups
        .iter()
        .filter_map(|g| g["id"].as_str())
        .filter(|id| [f.as_str(), n.as_str(), r.as_str()].contains(id))
        .collect();
    assert_eq!(order, vec![f.as_str(), r.as_str(), n.as_str()], "newest inbox date first");

    // `inRelease: "latest"` is the project's newest release by version (2.0.0), echoed and
    // shown as such; older ones (a prerelease of it, 1.10.0) leave the group resolved.
    let (status, body) = server.put(
        &format!("id={r}"),
        json!({"status": "resolved", "statusDetails": {"inRelease": "latest"}}),
    );
    assert_eq!((status, &body["statusDetails"]["inRelease"]), (200, &json!("app@2.0.0")), "{body}");
    assert_eq!(server.issue(&r)["statusDetails"]["inRelease"], "app@2.0.0");
    occur("r", "app@2.0.0-rc.1", 210);
    occur("r", "app@1.10.0", 211);
    wait_until(|| count(&r).as_deref() == Some("6"));
    assert_eq!(server.issue(&r)["status"], "resolved");
    occur("r", "app@2.0.1", 212);
    wait_until(|| server.issue(&r)["status"] == "unresolved");

    // `latest` in a project without releases: Sentry's 400, and nothing changes; once an
    // occurrence carries a release, it is that release.
    let p = server.id_of("p");
    let latest = json!({"status": "resolved", "statusDetails": {"inRelease": "latest"}});
    let (status, body) = server.put(&format!("id={p}"), latest.clone());
    assert_eq!(
        (status, body),
        (
            400,
            json!({"inRelease": ["No release data present in the system to form a basis for 'Next Release'"]})
        )
    );
    assert_eq!(server.issue(&p)["status"], "unresolved");
    let mut release = in_release(crons(300, "p", 1, 2).remove(0), "web@3.1.0");
    release["detection_time"] = json!(T0 + 220.0);
    release["event"]["timestamp"] = json!(T0 + 220.0);
    append(&path, &[release]);
    wait_until(|| count(&p).as_deref() == Some("2"));
    let (status, body) = server.put(&format!("id={p}"), latest);
    assert_eq!((status, &body["statusDetails"]["inRelease"]), (200, &json!("web@3.1.0")), "{body}");
    assert_eq!(server.issue(&p)["status"], "resolved");

    // Legacy `inboxDetails`: any object is accepted and changes nothing.
    let (status, _) = server.put(&format!("id={n}"), json!({"inboxDetails": {"reason": 1}, "hasSeen": true}));
    assert_eq!(status, 200);
    let (_, review) = server.get(&format!("{ISSUES}?query=is:for_review&expand=inbox"));
    let entry = review.as_array().and_then(|l| l.iter().find(|g| g["id"] == n.as_str()).cloned());
    assert_eq!(entry.map(|g| g["inbox"]["reason"].clone()), Some(json!(2)), "still in the inbox");
    let (status, body) = server.put(&format!("id={n}"), json!({"inboxDetails": 5}));
    assert_eq!(
        (status, body),
        (400, json!({"inboxDetails": ["Invalid data. Expected a dictionary."]}))
    );
}
