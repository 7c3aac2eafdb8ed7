//! Exactly-once recovery of API mutations: a server killed with SIGKILL while mutations are
//! in flight, restarted from its checkpoints and mutation log, ends as a replay of that log
//! (`recovery.rs` kills backfills).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rand::{Rng, SeedableRng};

/// One random mutation on groups the server shows: status, priority, assignment, bookmark,
/// merge or delete. Returns the HTTP status (0: no answer, the server died).
fn random_mutation(client: &reqwest::blocking::Client, base: &str, rng: &mut rand::rngs::StdRng) -> u16 {
    let issues = format!("{base}/api/0/organizations/sentry/issues/");
    let Ok(response) = client.get(format!("{issues}?query=&limit=100")).send() else {
        return 0;
    };
    let Ok(list) = response.json::<serde_json::Value>() else { return 0 };
    let groups: Vec<(String, String)> = list
        .as_array()
        .map(|a| {
            a.iter()
                .map(|g| {
                    (
                        g["id"].as_str().unwrap_or("0").to_string(),
                        g["project"]["id"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if groups.len() < 2 {
        return 0;
    }
    let (id, project) = groups[rng.random_range(0..groups.len())].clone();
    let body = match rng.random_range(0..8) {
        0 => serde_json::json!({"status": "resolved"}),
        1 => serde_json::json!({"status": "ignored", "statusDetails": {"ignoreCount": rng.random_range(1..5)}}),
        2 => serde_json::json!({"status": "unresolved"}),
        3 => {
            let priority = ["low", "medium", "high"][rng.random_range(0..3)];
            serde_json::json!({ "priority": priority })
        }
        4 => serde_json::json!({"assignedTo": "me", "isBookmarked": true}),
        5 => {
            let Some((other, _)) = groups.iter().find(|(o, p)| *p == project && *o != id) else {
                return 0;
            };
            let query = format!("id={id}&id={other}");
            let put = client.put(format!("{issues}?{query}")).json(&serde_json::json!({"merge": true}));
            return put.send().map_or(0, |r| r.status().as_u16());
        }
        6 => return client.delete(format!("{issues}?id={id}")).send().map_or(0, |r| r.status().as_u16()),
        _ => serde_json::json!({"status": "ignored", "statusDetails": {"ignoreUserCount": 2, "ignoreUserWindow": 60}}),
    };
    client
        .put(format!("{issues}?id={id}"))
        .json(&body)
        .send()
        .map_or(0, |r| r.status().as_u16())
}

#[test]
fn api_mutations_in_flight_survive_ten_kills_and_replay_identically() {
    let dir = temp_dir();
    let input = recovery_stream(dir.path(), 300_000);
    let state = dir.path().join("state");
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut acknowledged = 0;
    // Ten kills at least; more while fewer than ten mutations got through (a loaded machine
    // slows the first minutes of each run).
    let mut run = 0;
    while run < 10 || (acknowledged < 10 && run < 30) {
        run += 1;
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let mut child = Command::new(BIN)
            .args(["run", "--input"])
            .arg(&input)
            .arg("--state-dir")
            .arg(&state)
            .args(["--checkpoint-interval", "0.5", "--workers", &(1 + run % 3).to_string()])
            // Small blocks: groups show (and mutations apply) soon after a start.
            .args(["--block-lines", "1000"])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start occurrent run");
        let kill_at = Instant::now() + Duration::from_millis(rng.random_range(1500..3500));
        while Instant::now() < kill_at {
            assert!(child.try_wait().unwrap().is_none(), "the server stopped on its own");
            // (A 204 may mean "nothing matched", which logs nothing.)
            if random_mutation(&client, &base, &mut rng) == 200 {
                acknowledged += 1;
            }
            std::thread::sleep(Duration::from_millis(rng.random_range(5..40)));
        }
        child.kill().expect("SIGKILL");
        child.wait_within("the killed occurrent run");
    }
    // A last run assigns an unassigned group (no later input unassigns: status changes in the
    // input can undo a status, not an assignment) and is killed right after the answer: the
    // acknowledged write must be in the final issues, whatever the random ones did.
    let marked = acknowledged_then_killed(&input, &state, &client);
    let log = std::fs::read_to_string(state.join("mutations.jsonl")).expect("the mutation log");
    eprintln!("{acknowledged} mutations acknowledged, {} logged", log.lines().count());
    assert!(acknowledged >= 10, "only {acknowledged} mutations were acknowledged");
    assert!(
        log.lines().count() >= acknowledged,
        "every acknowledged mutation is logged: {} lines, {acknowledged} acknowledged",
        log.lines().count()
    );

    // Finish from the last checkpoint, and compare with a run from scratch that replays the
    // same log: the same mutations at the same input positions give the same issues.
    let dump = |state_dir: &Path, name: &str| -> Vec<u8> {
        let out = dir.path().join(name);
        let output = Command::new(BIN)
            .args(["backfill", "--block-lines", "1000", "--input"])
            .arg(&input)
            .arg("--state-dir")
            .arg(state_dir)
            .arg("--dump-issues")
            .arg(&out)
            .output_within("occurrent backfill");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        std::fs::read(out).unwrap()
    };
    let recovered = dump(&state, "recovered.jsonl");
    let scratch = dir.path().join("scratch-state");
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::copy(state.join("mutations.jsonl"), scratch.join("mutations.jsonl")).unwrap();
    let replayed = dump(&scratch, "replayed.jsonl");
    assert!(recovered == replayed, "the recovered issues differ from a replay of the same log");
    let text = String::from_utf8_lossy(&recovered);
    let group = text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|g| g["id"].as_str() == Some(marked.as_str()))
        .unwrap_or_else(|| panic!("group {marked} is in the recovered dump"));
    assert_eq!(
        group["assignedTo"]["id"], "anonymous",
        "the last acknowledged assignment shows: {group}"
    );
}

/// Starts the server on the state, waits until it lists an unassigned group, assigns it, and
/// kills the server with SIGKILL as soon as the answer came. Returns the group's id.
fn acknowledged_then_killed(input: &Path, state: &Path, client: &reqwest::blocking::Client) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let issues = format!("http://127.0.0.1:{port}/api/0/organizations/sentry/issues/");
    let mut child = Command::new(BIN)
        .args(["run", "--input"])
        .arg(input)
        .arg("--state-dir")
        .arg(state)
        .args(["--checkpoint-interval", "0.5", "--block-lines", "1000"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start occurrent run");
    let deadline = Instant::now() + Duration::from_secs(120);
    let id = loop {
        assert!(Instant::now() < deadline, "no group could be assigned within 120 s");
        assert!(child.try_wait().unwrap().is_none(), "the server stopped on its own");
        let first = client
            .get(format!("{issues}?query=is:unassigned&limit=1"))
            .send()
            .ok()
            .and_then(|r| r.json::<serde_json::Value>().ok())
            .and_then(|list| list[0]["id"].as_str().map(str::to_string));
        if let Some(id) = first {
            let body = serde_json::json!({"assignedTo": "me"});
            let status = client
                .put(format!("{issues}?id={id}"))
                .json(&body)
                .send()
                .map_or(0, |r| r.status().as_u16());
            if status == 200 {
                break id;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().expect("SIGKILL");
    child.wait_within("the killed occurrent run");
    id
}
