//! Bulk mutations (PUT / DELETE on the issues list) through the real server: each goes
//! through the mutation log into the dataflow, and the response comes once the views show it.

#[path = "common/broker.rs"]
mod broker;
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::server::Server;
use common::*;
use serde_json::{json, Value};

fn start(args: &[&str]) -> Server {
    Server::start("127.0.0.1", args)
}

const ISSUES: &str = "/api/0/organizations/sentry/issues/";

impl Server {
    fn send(&self, request: reqwest::blocking::RequestBuilder) -> (u16, Value) {
        let Ok(response) = request.send() else { return (0, Value::Null) };
        let status = response.status().as_u16();
        let text = response.text().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.client.get(format!("{}{path}", self.base)))
    }

    fn put(&self, query: &str, body: Value) -> (u16, Value) {
        self.send(self.client.put(format!("{}{ISSUES}?{query}", self.base)).json(&body))
    }

    fn delete(&self, query: &str) -> (u16, Value) {
        self.send(self.client.delete(format!("{}{ISSUES}?{query}", self.base)))
    }

    fn issue(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("{ISSUES}{id}/"));
        assert_eq!(status, 200, "issue {id}: {body}");
        body
    }

    /// The group titled `title fingerprint`, from the unfiltered list.
    fn by_fingerprint(&self, fingerprint: &str) -> Option<Value> {
        let (_, list) = self.get(&format!("{ISSUES}?query="));
        let title = format!("title {fingerprint}");
        list.as_array()?.iter().find(|g| g["title"] == title.as_str()).cloned()
    }

    fn id_of(&self, fingerprint: &str) -> String {
        let group = self
            .by_fingerprint(fingerprint)
            .unwrap_or_else(|| panic!("no group for {fingerprint}"));
        group["id"].as_str().expect("string id").to_string()
    }
}

fn append(path: &Path, messages: &[Value]) {
    let mut file = std::fs::OpenOptions::new().append(true).open(path).expect("open input");
    for line in to_lines(messages) {
        writeln!(file, "{line}").expect("append");
    }
}

/// Cron monitor occurrences (type 4001: no noise gate) of `fingerprint`, `count` of them.
fn crons(first_id: u64, fingerprint: &str, count: u64, project: u64) -> Vec<Value> {
    (0..count)
        .map(|i| occurrence(first_id + i, project, fingerprint, 4001, T0 + (first_id + i) as f64, json!({})))
        .collect()
}

fn input(dir: &Path, messages: &[Value]) -> PathBuf {
    write_lines(dir, "in.jsonl", &to_lines(messages))
}

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
            json!({"discard": true, "status": "resolved"}),
            json!({"detail": "Discard must be the only field of the request"}),
        ),
    ] {
        assert_eq!(server.put(&query, body.clone()), (400, expected), "{query} {body}");
    }
    assert_eq!(
        server.put("query=is:ignored", json!({"status": "resolved"})).0,
        204,
        "nothing matches"
    );
    assert_eq!(server.delete("id=424242").0, 204);
    assert_eq!(
        server.put(&format!("id={a}"), json!({"status": "resolved"})).0,
        200,
        "already resolved: a no-op"
    );
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
            .status()
            .expect("backfill");
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

#[test]
fn kafka_mutations_are_logged_at_partition_offsets_and_replay_identically() {
    let dir = temp_dir();
    let input = dir.path().join("stream.jsonl");
    let status = Command::new(BIN)
        .args([
            "generate",
            "--seed",
            "3",
            "--count",
            "20000",
            "--fingerprints",
            "300",
            "--projects",
            "4",
        ])
        .arg("--output")
        .arg(&input)
        .status()
        .expect("generate");
    assert!(status.success());
    let broker = broker::Broker::start();
    broker.create_topic("ingest-occurrences", 2);
    broker.create_topic("ingest-occurrences-dlq", 1);
    broker.produce("ingest-occurrences", &input);
    let state = dir.path().join("state");
    let args = [
        "--kafka",
        &broker.address,
        "--state-dir",
        state.to_str().unwrap(),
        "--checkpoint-interval",
        "3600",
    ];
    let mut server = start(&args);
    let (_, list) = server.get(&format!("{ISSUES}?query=&limit=3"));
    let ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(server.put(&format!("id={}", ids[0]), json!({"status": "resolved"})).0, 200);
    assert_eq!(server.delete(&format!("id={}", ids[1])).0, 204);
    assert_eq!(server.put(&format!("id={}", ids[2]), json!({"priority": "low"})).0, 200);
    server.kill();
    drop(server);
    let server = start(&args);
    assert_eq!(server.issue(&ids[0])["status"], "resolved");
    assert_eq!(server.get(&format!("{ISSUES}{}/", ids[1])).0, 404);
    assert_eq!(server.issue(&ids[2])["priority"], "low");
    drop(server);

    let dump = |state_dir: &Path, name: &str| -> Vec<u8> {
        let out = dir.path().join(name);
        let output = Command::new(BIN)
            .args(["backfill", "--kafka", &broker.address, "--state-dir", state_dir.to_str().unwrap()])
            .arg("--dump-issues")
            .arg(&out)
            .output()
            .expect("backfill");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        std::fs::read(out).unwrap()
    };
    let scratch = dir.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::copy(state.join("mutations.jsonl"), scratch.join("mutations.jsonl")).unwrap();
    let (restored, replayed) = (dump(&state, "restored.jsonl"), dump(&scratch, "replayed.jsonl"));
    assert!(restored == replayed, "a replay of the log differs from the recovered state");
    assert!(String::from_utf8_lossy(&replayed).contains("\"status\":\"resolved\""));
}

/// A two-process cluster (`run`, one worker each, cuts every `interval` seconds) on the state
/// directories `states`; returns process 0 as a server (its API takes the mutations) and
/// process 1.
fn start_cluster(dir: &Path, broker: &broker::Broker, run: usize, interval: &str, states: &[PathBuf; 2]) -> (Server, Server) {
    let hostfile = dir.join(format!("hosts-{run}"));
    std::fs::write(&hostfile, format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port())).unwrap();
    let mut servers: Vec<Server> = (0..2)
        .map(|process| {
            let listen = format!("127.0.0.1:{}", free_port());
            let log = std::fs::File::create(dir.join(format!("log-{run}-{process}"))).unwrap();
            let child = Command::new(BIN)
                .args([
                    "run",
                    "--kafka",
                    &broker.address,
                    "--workers",
                    "1",
                    "--checkpoint-interval",
                    interval,
                ])
                .args(["--processes", "2", "--process", &process.to_string()])
                .arg("--hostfile")
                .arg(&hostfile)
                .arg("--state-dir")
                .arg(&states[process])
                .args(["--listen", &listen])
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .spawn()
                .expect("start a cluster process");
            Server::adopt(child, &listen)
        })
        .collect();
    let second = servers.pop().unwrap();
    let first = servers.pop().unwrap();
    wait_until(|| first.get("/readyz").0 == 200);
    (first, second)
}

/// Messages the two processes consumed (their metrics).
fn consumed(servers: &[&Server]) -> i64 {
    servers
        .iter()
        .map(|server| {
            let text = server
                .client
                .get(format!("{}/metrics", server.base))
                .send()
                .and_then(|r| r.text())
                .unwrap_or_default();
            text.lines()
                .find_map(|l| l.strip_prefix("occurrent_messages_consumed_total "))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(0.0) as i64
        })
        .sum()
}

/// The whole issues list once every message is in and it no longer changes.
fn settled_list(first: &Server, second: &Server, messages: i64) -> Value {
    wait_until(|| consumed(&[first, second]) == messages);
    let mut previous = Value::Null;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let (status, list) = first.get(&format!("{ISSUES}?query=&limit=100&sort=new"));
        assert_eq!(status, 200);
        if list == previous {
            return list;
        }
        previous = list;
    }
}

#[test]
fn a_two_process_cluster_takes_mutations_on_process_zero_and_replays_them_at_their_offsets() {
    let dir = temp_dir();
    let generate = |name: &str, seed: &str, start: &str, span: &str| {
        let path = dir.path().join(name);
        let status = Command::new(BIN)
            .args([
                "generate",
                "--seed",
                seed,
                "--count",
                "6000",
                "--fingerprints",
                "60",
                "--projects",
                "3",
            ])
            .args(["--start-time", start, "--span-seconds", span])
            .arg("--output")
            .arg(&path)
            .status()
            .expect("generate");
        assert!(status.success());
        path
    };
    let before = generate("before.jsonl", "3", "1704067200", "60");
    let broker = broker::Broker::start();
    broker.create_topic("ingest-occurrences", 2);
    broker.create_topic("ingest-occurrences-dlq", 1);
    broker.produce("ingest-occurrences", &before);
    let started = std::time::Instant::now();
    let states = [dir.path().join("state-0"), dir.path().join("state-1")];
    let (first, second) = start_cluster(dir.path(), &broker, 0, "3600", &states);
    let list = settled_list(&first, &second, 6000);
    eprintln!("first batch in: {:.1}s", started.elapsed().as_secs_f64());
    let ids: Vec<String> = list.as_array().unwrap()[..3]
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    // Process 0 orders writes; the others refuse them.
    assert_eq!(second.put(&format!("id={}", ids[0]), json!({"status": "resolved"})).0, 501);
    let logs = || {
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
        format!("process 0:\n{}\nprocess 1:\n{}", read("log-0-0"), read("log-0-1"))
    };
    let resolved = first.put(&format!("id={}", ids[0]), json!({"status": "resolved"})).0;
    assert_eq!(resolved, 200, "{}", logs());
    assert_eq!(first.delete(&format!("id={}", ids[1])).0, 204);
    assert_eq!(first.put(&format!("id={}", ids[2]), json!({"priority": "low"})).0, 200);
    assert_eq!(first.issue(&ids[0])["status"], "resolved");
    // Later messages of the same groups: the resolved one regresses, so where the mutation
    // sits among the messages shows in the result.
    // The same groups again, after the resolution (wall clock), so they regress it; within a
    // second, as windowed counts change until the wall clock has passed them.
    let after = generate("after.jsonl", "3", &(wall_seconds() + 2).to_string(), "1");
    std::thread::sleep(std::time::Duration::from_secs(3));
    broker.produce("ingest-occurrences", &after);
    let live = settled_list(&first, &second, 12000);
    eprintln!("second batch in: {:.1}s", started.elapsed().as_secs_f64());
    assert_eq!(first.issue(&ids[0])["status"], "unresolved", "new occurrences reopen the group");
    // SIGKILL both; no checkpoint was written (3600 s), so the restart replays the whole
    // topic and puts each logged mutation back at its offsets on both processes.
    drop(first);
    drop(second);
    let (first, second) = start_cluster(dir.path(), &broker, 1, "3600", &states);
    eprintln!("restarted: {:.1}s", started.elapsed().as_secs_f64());
    let replayed = settled_list(&first, &second, 12000);
    eprintln!("replayed: {:.1}s", started.elapsed().as_secs_f64());
    let log = std::fs::read_to_string(dir.path().join("log-1-0")).unwrap_or_default();
    assert!(log.contains("the cluster replays logged mutations"), "{log}");
    assert_eq!(first.get(&format!("{ISSUES}{}/", ids[1])).0, 404);
    assert_eq!(first.issue(&ids[2])["priority"], "low");
    assert_eq!(replayed, live, "the replayed cluster differs from the live one");
}

/// `generate` for the cluster tests: 6000 messages of 60 fingerprints in 3 projects (the same
/// groups for the same seed) from `start` over `span` seconds.
fn generate_span(dir: &Path, name: &str, seed: &str, start: i64, span: &str) -> PathBuf {
    let path = dir.join(name);
    let status = Command::new(BIN)
        .args([
            "generate",
            "--seed",
            seed,
            "--count",
            "6000",
            "--fingerprints",
            "60",
            "--projects",
            "3",
        ])
        .args(["--start-time", &start.to_string(), "--span-seconds", span])
        .arg("--output")
        .arg(&path)
        .status()
        .expect("generate");
    assert!(status.success());
    path
}

#[test]
fn a_cluster_cut_with_logged_mutations_resumes_on_one_process_as_a_replay_from_scratch() {
    let dir = temp_dir();
    let broker = broker::Broker::start();
    broker.create_topic("ingest-occurrences", 2);
    broker.create_topic("ingest-occurrences-dlq", 1);
    broker.produce(
        "ingest-occurrences",
        &generate_span(dir.path(), "a.jsonl", "3", 1_704_067_200, "60"),
    );
    // Both processes share one state directory, so one process can load every part later.
    let state = dir.path().join("state");
    let shared = [state.clone(), state.clone()];
    let (first, second) = start_cluster(dir.path(), &broker, 0, "0.3", &shared);
    let list = settled_list(&first, &second, 6000);
    let ids: Vec<String> = list.as_array().unwrap()[..3]
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(first.put(&format!("id={}", ids[0]), json!({"status": "resolved"})).0, 200);
    assert_eq!(first.delete(&format!("id={}", ids[1])).0, 204);
    let later = generate_span(dir.path(), "b.jsonl", "3", wall_seconds() + 2, "1");
    std::thread::sleep(std::time::Duration::from_secs(3));
    broker.produce("ingest-occurrences", &later);
    settled_list(&first, &second, 12000);
    // A last mutation, then SIGKILL at once: the newest cut may or may not hold it.
    assert_eq!(first.put(&format!("id={}", ids[2]), json!({"status": "resolved"})).0, 200);
    drop(first);
    drop(second);
    // More messages of the same groups after the kill (they regress what is resolved).
    let last = generate_span(dir.path(), "c.jsonl", "3", wall_seconds() + 2, "1");
    broker.produce("ingest-occurrences", &last);

    let dump = |state_dir: &Path, name: &str| -> (Vec<u8>, String) {
        let out = dir.path().join(name);
        let output = Command::new(BIN)
            .args(["backfill", "--kafka", &broker.address, "--workers", "2", "--state-dir"])
            .arg(state_dir)
            .arg("--dump-issues")
            .arg(&out)
            .output()
            .expect("backfill");
        let log = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(output.status.success(), "{log}");
        (std::fs::read(out).unwrap(), log)
    };
    let scratch = dir.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::copy(state.join("mutations.jsonl"), scratch.join("mutations.jsonl")).unwrap();
    let (replayed, _) = dump(&scratch, "replayed.jsonl");
    let (restored, log) = dump(&state, "restored.jsonl");
    assert!(
        log.lines().any(|l| l.contains("loaded checkpoint") && l.contains("-2-0.bin")),
        "one process resumed from the cluster's cut: {log}"
    );
    assert!(
        restored == replayed,
        "the cluster's state resumed on one process differs from a replay of its log"
    );
    assert_eq!(std::fs::read_to_string(state.join("mutations.jsonl")).unwrap().lines().count(), 3);
}

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

fn wall_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
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
