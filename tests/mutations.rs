//! Bulk mutations (PUT / DELETE on the issues list) through the real server: each goes
//! through the mutation log into the dataflow, and the response comes once the views show it.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use serde_json::{json, Value};

#[path = "common/mutation_client.rs"]
mod mutation_client;

use mutation_client::*;

#[test]
fn status_priority_assignment_and_bookmarks_read_their_writes() {
    let dir = temp_dir();
    let mut messages = crons(1, "a", 3, 1);
    messages.extend(crons(10, "b", 1, 1));
    messages.extend(crons(20, "c", 2, 1));
    let path = input(dir.path(), &messages);
    let state = dir.path().join("state");
    let server = start(&[
        "--input",
        path.to_str().unwrap(),
        "--follow",
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    let (a, b, c) = (server.id_of("a"), server.id_of("b"), server.id_of("c"));

    // Ignore until two more occurrences: the dataflow ends the ignore on the second.
    let (status, body) = server.put(
        &format!("id={a}"),
        json!({"status": "ignored", "statusDetails": {"ignoreCount": 2}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ignored");
    assert_eq!(body["statusDetails"]["ignoreCount"], 2);
    let ignored = server.issue(&a);
    assert_eq!(
        (ignored["status"].as_str(), ignored["substatus"].as_str()),
        (Some("ignored"), Some("archived_until_condition_met"))
    );
    assert_eq!(ignored["statusDetails"]["ignoreCount"], 2);
    append(&path, &crons(100, "a", 1, 1));
    wait_until(|| server.issue(&a)["count"] == "4");
    assert_eq!(server.issue(&a)["status"], "ignored", "one of two");
    append(&path, &crons(101, "a", 1, 1));
    wait_until(|| server.issue(&a)["count"] == "5");
    let escalated = server.issue(&a);
    assert_eq!(
        (escalated["status"].as_str(), escalated["substatus"].as_str()),
        (Some("unresolved"), Some("escalating"))
    );
    assert_eq!(escalated["statusDetails"], json!({}));

    // Priority (locked), assignment to the caller, bookmark and seen.
    let (status, body) = server.put(
        &format!("id={b}"),
        json!({"priority": "low", "assignedTo": "me", "isBookmarked": true, "hasSeen": true}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"priority": "low", "assignedTo": {"type": "user", "id": "anonymous", "name": "anonymous"}, "isBookmarked": true, "hasSeen": true})
    );
    let group = server.issue(&b);
    assert_eq!(group["priority"], "low");
    assert!(group["priorityLockedAt"].is_string(), "{group}");
    assert_eq!(group["assignedTo"]["id"], "anonymous");
    assert_eq!(
        (group["isBookmarked"].as_bool(), group["hasSeen"].as_bool()),
        (Some(true), Some(true))
    );
    // …and search sees them.
    let ids = |query: &str| -> Vec<String> {
        let (status, list) = server.get(&format!("{ISSUES}?query={query}"));
        assert_eq!(status, 200, "{query}: {list}");
        let mut ids: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids("assigned:me"), vec![b.clone()]);
    assert_eq!(ids("is:assigned"), vec![b.clone()]);
    assert_eq!(ids("bookmarks:me"), vec![b.clone()]);
    let mut unassigned = vec![a.clone(), c.clone()];
    unassigned.sort();
    assert_eq!(ids("is:unassigned"), unassigned);
    let (_, body) = server.put(&format!("id={b}"), json!({"assignedTo": "team:backend"}));
    assert_eq!(body["assignedTo"], json!({"type": "team", "id": "backend", "name": "backend"}));
    assert_eq!(ids("assigned:%23backend"), vec![b.clone()]);
    // `#team`, as search writes it, is a team too (it was stored as a user named "#frontend").
    let (_, body) = server.put(&format!("id={b}"), json!({"assignedTo": "#frontend"}));
    assert_eq!(body["assignedTo"], json!({"type": "team", "id": "frontend", "name": "frontend"}));
    assert_eq!(ids("assigned:team:frontend"), vec![b.clone()]);
    let (status, body) = server.put(&format!("id={b}"), json!({"assignedTo": "#"}));
    assert_eq!((status, &body["assignedTo"]), (400, &json!(["Unknown actor input"])), "{body}");

    // Resolve: gone from the default list; a later occurrence regresses it.
    let (status, body) = server.put(&format!("id={c}"), json!({"status": "resolved"}));
    assert_eq!(
        (status, body["status"].as_str(), body["inbox"].is_null()),
        (200, Some("resolved"), true)
    );
    let (_, default_list) = server.get(ISSUES);
    assert!(default_list.as_array().unwrap().iter().all(|g| g["id"] != c.as_str()));
    append(&path, &crons(200, "c", 1, 1));
    wait_until(|| server.issue(&c)["status"] == "unresolved");
    assert_eq!(server.issue(&c)["substatus"], "regressed");

    // Unresolve an ignored group: ongoing (or new when first seen within 7 days: not here,
    // the occurrences are from 2024).
    server.put(&format!("id={b}"), json!({"status": "ignored"}));
    assert_eq!(server.issue(&b)["substatus"], "archived_forever");
    let (_, body) = server.put(&format!("id={b}"), json!({"status": "unresolved"}));
    assert_eq!(body["status"], "unresolved");
    assert_eq!(server.issue(&b)["substatus"], "ongoing");

    // Ignore for 30 minutes (the legacy top-level field too): the response says until when,
    // the same instant the group shows.
    for body in [
        json!({"status": "ignored", "statusDetails": {"ignoreDuration": 30}}),
        json!({"status": "ignored", "snoozeDuration": 30}),
    ] {
        let before = std::time::SystemTime::now();
        let (status, echo) = server.put(&format!("id={b}"), body.clone());
        assert_eq!(status, 200, "{body}: {echo}");
        let until = echo["statusDetails"]["ignoreUntil"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}: {echo}"));
        assert_eq!(server.issue(&b)["statusDetails"]["ignoreUntil"], until, "{body}");
        let until = dataflows::model::time::parse_iso(until, true).expect("an ISO time") / 1_000_000;
        let from_now = until - before.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        assert!((1799..=1805).contains(&from_now), "{body}: {from_now} s from now");
        assert_eq!(echo["statusDetails"]["actor"], server.issue(&b)["statusDetails"]["actor"]);
    }
    server.put(&format!("id={b}"), json!({"status": "unresolved"}));
    // A count, duration or user count of 0 is no condition (Sentry tests them for truth).
    let (status, echo) = server.put(
        &format!("id={b}"),
        json!({"status": "ignored", "statusDetails": {"ignoreCount": 0, "ignoreDuration": 0, "ignoreUserCount": 0}}),
    );
    assert_eq!((status, echo["statusDetails"].clone()), (200, json!({})), "{echo}");
    assert_eq!(server.issue(&b)["substatus"], "archived_forever");
    server.put(&format!("id={b}"), json!({"status": "unresolved"}));

    // Bulk by query (no id): every match.
    let (status, _) = server.put("query=is:unresolved", json!({"status": "resolved"}));
    assert_eq!(status, 200);
    for id in [&a, &b, &c] {
        assert_eq!(server.issue(id)["status"], "resolved");
    }

    // Errors and no-ops.
    for (query, body, expected) in [
        (
            format!("id={a}"),
            json!({"status": "bogus"}),
            json!({"status": ["\"bogus\" is not a valid choice."]}),
        ),
        (
            format!("id={a}"),
            json!({"priority": "urgent"}),
            json!({"priority": ["\"urgent\" is not a valid choice."]}),
        ),
        (
            "id=abc".to_string(),
            json!({"status": "resolved"}),
            json!({"detail": "Group ids must be integers"}),
        ),
        (
            format!("id={a}"),
            json!({"status": "ignored", "substatus": "ongoing"}),
            json!({"substatus": ["Invalid substatus for status ignored"]}),
        ),
        (
            format!("id={a}"),
            json!({"status": "ignored", "statusDetails": {"ignoreWindow": 20000, "ignoreCount": 1}}),
            json!({"ignoreWindow": ["Ensure this value is less than or equal to 10080."]}),
        ),
        (
            format!("id={a}"),
            json!({"merge": true}),
            json!({"detail": "Merging needs at least two issues"}),
        ),
        (
            format!("id={a}"),
            json!({"status": "ignored", "statusDetails": {"ignoreCount": -5}}),
            json!({"ignoreCount": ["Ensure this value is greater than or equal to 0."]}),
        ),
        (
            format!("id={a}"),
            json!({"status": "ignored", "ignoreDuration": "-1"}),
            json!({"ignoreDuration": ["Ensure this value is greater than or equal to 0."]}),
        ),
        (
            format!("id={a}&environment=nope"),
            json!({"status": "resolved"}),
            json!({"detail": "The requested resource does not exist"}),
        ),
        (
            "query=is:unresolved&environment=nope".to_string(),
            json!({"status": "resolved"}),
            json!({"detail": "The requested resource does not exist"}),
        ),
        (
            format!("id={a}"),
            json!({"discard": true, "status": "resolved"}),
            json!({"detail": "Discard must be the only field of the request"}),
        ),
    ] {
        let status = if expected.get("detail").is_some_and(|d| d == "The requested resource does not exist") {
            404
        } else {
            400
        };
        assert_eq!(server.put(&query, body.clone()), (status, expected), "{query} {body}");
    }
    assert_eq!(
        server.put("query=is:ignored", json!({"status": "resolved"})).0,
        204,
        "nothing matches"
    );
    assert_eq!(server.delete("id=424242").0, 204);
    assert_eq!(
        server.delete("id=424242&environment=nope"),
        (404, json!({"detail": "The requested resource does not exist"}))
    );
    assert_eq!(
        server.put(&format!("id={a}"), json!({"status": "resolved"})).0,
        200,
        "already resolved: a no-op"
    );
}

/// Without matching `?id=`, a mutation targets what the list returns for its query: within
/// the request's window (default 90 days) and `environment`s, relative dates on the API's
/// clock (`--api-now`), as Sentry runs the GET's search.
#[test]
fn a_query_targets_the_lists_groups_in_its_window_and_environments() {
    let dir = temp_dir();
    const D: f64 = 86_400.0;
    let now = T0 + 100.0 * D;
    let at = |id: u64, fingerprint: &str, t: f64, environment: &str| {
        let event = json!({"event_id": uuid(1_000_000 + id), "project_id": 1, "timestamp": t, "environment": environment});
        occurrence(id, 1, fingerprint, 4001, t, json!({ "event": event }))
    };
    let messages = vec![
        at(1, "old", now - 95.0 * D, "prod"),
        at(2, "recent", now - 7_200.0, "prod"),
        at(3, "staging", now - 10_800.0, "staging"),
    ];
    let path = input(dir.path(), &messages);
    let state = dir.path().join("state");
    let now_arg = format!("{now}");
    let server = start(&[
        "--input",
        path.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--api-now",
        &now_arg,
    ]);
    // Explicit ids list groups whatever the window (the ids are assigned in input order).
    let (_, listed) = server.get(&format!("{ISSUES}?group=1&group=2&group=3"));
    let ids: Vec<(String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["title"].as_str().unwrap().trim_start_matches("title ").to_string(),
                g["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(ids.len(), 3, "{listed}");
    let field = |fp: &str, name: &str| -> Value {
        let id = &ids.iter().find(|(f, _)| f == fp).unwrap().1;
        server.issue(id)[name].clone()
    };
    // environment=prod: only recent (old is prod too, but outside the 90-day window).
    let (status, body) = server.put("query=&environment=prod", json!({"priority": "low"}));
    assert_eq!(status, 200, "{body}");
    let priorities: Vec<Value> = ["old", "recent", "staging"].iter().map(|fp| field(fp, "priority")).collect();
    assert_ne!(priorities[0], "low", "old is outside the window");
    assert_eq!(priorities[1], "low");
    assert_ne!(priorities[2], "low", "staging is another environment");
    // age:-24h on the API's clock: recent and staging (the wall clock is years later).
    let (status, body) = server.put(&format!("query={}", "age%3A-24h"), json!({"status": "resolved"}));
    assert_eq!(status, 200, "{body}");
    let statuses: Vec<Value> = ["old", "recent", "staging"].iter().map(|fp| field(fp, "status")).collect();
    assert_eq!(statuses, [json!("unresolved"), json!("resolved"), json!("resolved")]);
    // Nothing unresolved in the window: 204, old untouched.
    assert_eq!(server.put("query=is:unresolved", json!({"status": "ignored"})).0, 204);
    assert_eq!(field("old", "status"), "unresolved");
    // DELETE searches the same way; a window before the 90 days is clamped to them.
    assert_eq!(server.delete("query=is:unresolved&statsPeriod=1d").0, 204);
    let before = "query=is:unresolved&start=2023-12-01T00:00:00&end=2024-02-01T00:00:00";
    assert_eq!(server.put(before, json!({"status": "ignored"})).0, 204);
    assert_eq!(field("old", "status"), "unresolved");
    // A bad window is the list's 400.
    let (status, body) = server.put("query=&statsPeriod=1x", json!({"status": "ignored"}));
    assert_eq!((status, body["detail"].as_str()), (400, Some("Invalid statsPeriod")));
}

#[test]
fn merge_delete_and_discard() {
    let dir = temp_dir();
    // p: three occurrences by one user in prod; q: one by another user in staging.
    let with = |mut m: Value, user: &str, env: &str, id: u64| {
        m["event"] = json!({"event_id": uuid(1_000_000 + id), "project_id": 1, "user": {"id": user}, "environment": env});
        m
    };
    let mut messages: Vec<Value> = crons(1, "p", 3, 1)
        .into_iter()
        .zip(1..)
        .map(|(m, i)| with(m, "u1", "prod", i))
        .collect();
    // (Two hours later: per-environment user counts are per hour, semantics §7.)
    messages.extend(crons(10, "q", 1, 1).into_iter().map(|mut m| {
        m["detection_time"] = json!(T0 + 7200.0);
        with(m, "u2", "staging", 10)
    }));
    messages.extend(crons(20, "r", 1, 1));
    messages.extend(crons(30, "t", 1, 2));
    // Error events (type 1) can be discarded.
    messages.push(occurrence(40, 1, "s", 1, T0 + 40.0, json!({})));
    let path = input(dir.path(), &messages);
    let server = start(&["--input", path.to_str().unwrap(), "--follow"]);
    let (p, q, r, s, t) = (
        server.id_of("p"),
        server.id_of("q"),
        server.id_of("r"),
        server.id_of("s"),
        server.id_of("t"),
    );

    // Merge: the group with the most occurrences is the parent; counts combine.
    let (status, body) = server.put(&format!("id={q}&id={p}"), json!({"merge": true}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"merge": {"parent": p, "children": [q]}}));
    assert_eq!(server.get(&format!("{ISSUES}{q}/")).0, 404, "the child is gone");
    // Windowed values come from the views' hours, users and environments: all moved.
    let parent = server.issue(&p);
    assert_eq!((parent["count"].as_str(), parent["userCount"].as_u64()), (Some("4"), Some(2)));
    let last_day: u64 = parent["stats"]["24h"]
        .as_array()
        .map_or(0, |h| h.iter().map(|b| b[1].as_u64().unwrap_or(0)).sum());
    assert_eq!(last_day, 4, "the child's hourly counts moved");
    let staging = server.get(&format!("{ISSUES}{p}/?environment=staging")).1;
    assert_eq!((staging["count"].as_str(), staging["userCount"].as_u64()), (Some("1"), Some(1)));
    let prod = server.get(&format!("{ISSUES}{p}/?environment=prod")).1;
    assert_eq!(prod["count"], "3");
    // Later occurrences of the child's fingerprint land in the parent.
    append(&path, &crons(100, "q", 1, 1));
    wait_until(|| server.issue(&p)["count"] == "5");
    // (The parent now shows the child's title: the newest occurrence sets it.)
    assert_eq!(server.by_fingerprint("q").map(|g| g["id"].clone()), Some(json!(p)), "no new group");
    assert_eq!(
        server.put(&format!("id={p}&id={t}"), json!({"merge": true})),
        (400, json!({"detail": "Merging across multiple projects is not supported"}))
    );

    // Delete: out of every view; the fingerprint starts over (a new group, a new id).
    assert_eq!(server.delete(&format!("id={r}")).0, 204);
    assert_eq!(server.get(&format!("{ISSUES}{r}/")).0, 404);
    append(&path, &crons(200, "r", 1, 1));
    wait_until(|| server.by_fingerprint("r").is_some());
    let again = server.by_fingerprint("r").unwrap();
    assert_ne!(again["id"], r.as_str());
    assert_eq!(again["count"], "1");

    // Discard: only error issues; later occurrences are dropped.
    assert_eq!(
        server.put(&format!("id={t}"), json!({"discard": true})),
        (400, json!({"detail": "Only error issues can be discarded"}))
    );
    assert_eq!(server.put(&format!("id={s}"), json!({"discard": true})).0, 204);
    assert_eq!(server.get(&format!("{ISSUES}{s}/")).0, 404);
    append(
        &path,
        &[
            occurrence(300, 1, "s", 1, T0 + 300.0, json!({})),
            occurrence(301, 1, "marker", 1, T0 + 301.0, json!({})),
        ],
    );
    wait_until(|| server.by_fingerprint("marker").is_some());
    assert!(server.by_fingerprint("s").is_none(), "discarded");
    let (_, metrics) = (
        0,
        reqwest::blocking::get(format!("{}/metrics", server.base)).unwrap().text().unwrap(),
    );
    assert!(metrics.contains("occurrent_dropped_discarded_total 1"), "{metrics}");
}

#[test]
fn acknowledged_mutations_survive_a_kill_and_replay_identically() {
    let dir = temp_dir();
    let mut messages = Vec::new();
    for (i, fingerprint) in ["a", "b", "c", "d"].iter().enumerate() {
        messages.extend(crons(i as u64 * 10 + 1, fingerprint, i as u64 + 1, 1));
    }
    let path = input(dir.path(), &messages);
    let state = dir.path().join("state");
    let args = [
        "--input",
        path.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--checkpoint-interval",
        "3600",
    ];
    let mut server = start(&args);
    let (a, b, c, d) = (server.id_of("a"), server.id_of("b"), server.id_of("c"), server.id_of("d"));
    assert_eq!(server.put(&format!("id={a}"), json!({"status": "resolved"})).0, 200);
    assert_eq!(server.put(&format!("id={b}&id={c}"), json!({"merge": true})).0, 200);
    assert_eq!(server.delete(&format!("id={d}")).0, 204);
    // SIGKILL: no checkpoint since start-up has these mutations; the log has them.
    server.kill();
    drop(server);
    let server = start(&args);
    assert_eq!(server.issue(&a)["status"], "resolved");
    assert_eq!(server.issue(&c)["count"], "5", "b merged into c");
    assert_eq!(server.get(&format!("{ISSUES}{b}/")).0, 404);
    assert_eq!(server.get(&format!("{ISSUES}{d}/")).0, 404);
    drop(server);

    // A fresh backfill that replays the log gives the same dump as one restored from the
    // state (the log orders each mutation at the input position it was logged at).
    let replayed = dir.path().join("replayed");
    std::fs::create_dir_all(&replayed).unwrap();
    std::fs::copy(state.join("mutations.jsonl"), replayed.join("mutations.jsonl")).unwrap();
    let dump = |state_dir: &Path, name: &str| -> Vec<u8> {
        let out = dir.path().join(name);
        let status = Command::new(BIN)
            .args([
                "backfill",
                "--input",
                path.to_str().unwrap(),
                "--state-dir",
                state_dir.to_str().unwrap(),
            ])
            .args(["--dump-issues", out.to_str().unwrap()])
            .stderr(Stdio::null())
            .spawn()
            .expect("backfill")
            .wait_within("occurrent backfill");
        assert!(status.success());
        std::fs::read(out).unwrap()
    };
    let from_scratch = dump(&replayed, "scratch.jsonl");
    let restored = dump(&state, "restored.jsonl");
    assert_eq!(String::from_utf8_lossy(&from_scratch), String::from_utf8_lossy(&restored));
    let groups: Vec<Value> = from_scratch
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(groups.len(), 2, "b merged away, d deleted");
}

/// The cut files in a state directory with their modification times.
fn cuts(state: &Path) -> Vec<(String, std::time::SystemTime)> {
    let mut files: Vec<(String, std::time::SystemTime)> = std::fs::read_dir(state)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("cut-"))
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        e.metadata().unwrap().modified().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn an_idle_server_does_not_rewrite_its_checkpoint() {
    let dir = temp_dir();
    let path = input(dir.path(), &crons(1, "a", 1, 2));
    let state = dir.path().join("state");
    let args = [
        "--input",
        path.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--checkpoint-interval",
        "0.1",
    ];
    let server = start(&args);
    let a = server.id_of("a");
    wait_until(|| !cuts(&state).is_empty());
    let idle = cuts(&state);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    assert_eq!(cuts(&state), idle, "nothing new: the checkpoint stays as written");
    // A mutation is new state: the next checkpoint has it.
    assert_eq!(server.put(&format!("id={a}"), json!({"status": "resolved"})).0, 200);
    wait_until(|| cuts(&state).last().map(|c| &c.0) != idle.last().map(|c| &c.0));
    drop(server);
    // Restarted with nothing new: it resumes from the newest cut and writes nothing.
    let written = cuts(&state);
    let server = start(&args);
    assert_eq!(server.issue(&a)["status"], "resolved");
    std::thread::sleep(std::time::Duration::from_millis(1000));
    assert_eq!(cuts(&state), written);
}
