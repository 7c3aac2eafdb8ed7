//! Mutations on Kafka inputs: logged at partition offsets and replayed there, on one
//! process and on a two-process cluster (process 0 takes the writes).

#[path = "common/broker.rs"]
mod broker;
mod common;
#[path = "common/mutation_client.rs"]
mod mutation_client;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::server::Server;
use common::*;
use mutation_client::*;
use serde_json::{json, Value};

#[test]
fn kafka_mutations_are_logged_at_partition_offsets_and_replay_identically() {
    let dir = temp_dir();
    let input = generate_stream(
        dir.path(),
        "stream.jsonl",
        &["--seed", "3", "--count", "20000", "--fingerprints", "300", "--projects", "4"],
    );
    let broker = broker::Broker::start();
    broker.create_topic("ingest-occurrences", 2);
    broker.create_topic("ingest-occurrences-dlq", 1);
    broker.produce("ingest-occurrences", &input);
    let state = dir.path().join("state");
    let mut server = start(&kafka_args(&broker, &state));
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
    let server = start(&kafka_args(&broker, &state));
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
            .output_within("occurrent backfill --kafka");
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
    let started = std::time::Instant::now();
    loop {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "the issues list never settled"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
        // A fixed window that ends far in the future: `generate` dates some messages hours ahead
        // of its start time, and a window ending now counts them only once the clock passes
        // them (to the second), so lists taken at different times would differ.
        let (status, list) = first.get(&format!(
            "{ISSUES}?query=&limit=100&sort=new&start=2023-01-01T00:00:00&end=2100-01-01T00:00:00"
        ));
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
    let before = generate_span(dir.path(), "before.jsonl", "3", 1_704_067_200, "60");
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
    // The same groups again, after the resolution (wall clock), so they regress it.
    let after = generate_span(dir.path(), "after.jsonl", "3", wall_seconds() + 2, "1");
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
    drop(first);
    drop(second);

    // A bounded cluster read cannot replay the logged mutations: process 0's feeder refuses
    // the state, and the whole cluster ends (rather than process 1 following cuts that
    // process 0 never takes part in, and process 0 draining for process 1's input).
    let hostfile = hostfile(dir.path(), "hosts-backfill", 2);
    let log = |process: usize| dir.path().join(format!("log-backfill-{process}"));
    let mut processes = [0, 1].map(|process| {
        let mut command = broker.cluster_backfill("ingest-occurrences", &hostfile, process, &log(process));
        command.arg("--state-dir").arg(&states[process]);
        command.spawn().expect("start a cluster process")
    });
    let statuses = common::deadline::exits_within(&mut processes, std::time::Duration::from_secs(120));
    let text = |process: usize| std::fs::read_to_string(log(process)).unwrap_or_default();
    common::deadline::assert_all_failed(&statuses, &[text(0), text(1)]);
    assert!(text(0).contains("API mutations after the checkpoint"), "{}", text(0));
}

/// `generate` for the cluster tests: 6000 messages of 60 fingerprints in 3 projects (the same
/// groups for the same seed) from `start` over `span` seconds.
fn generate_span(dir: &Path, name: &str, seed: &str, start: i64, span: &str) -> PathBuf {
    let start = start.to_string();
    let args = ["--seed", seed, "--count", "6000", "--fingerprints", "60", "--projects", "3"];
    let span = ["--start-time", &start, "--span-seconds", span];
    generate_stream(dir, name, &[&args[..], &span[..]].concat())
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
            .output_within("occurrent backfill --kafka");
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

/// The topic deleted and recreated with `input` only: the offsets of mutations logged after
/// later messages never come again.
fn recreate_topic(broker: &broker::Broker, input: &Path) {
    broker.delete_topic("ingest-occurrences");
    broker.create_topic("ingest-occurrences", 2);
    broker.produce("ingest-occurrences", input);
}

/// A broker with the first of two batches of the same groups (the second creates none, so a
/// restart that reads the first batch only numbers the groups as the run that logged a
/// mutation after both did); returns the broker and the batches.
fn two_batches(dir: &Path) -> (broker::Broker, PathBuf, PathBuf) {
    let first_batch = generate_span(dir, "a.jsonl", "3", 1_704_067_200, "60");
    let second_batch = generate_span(dir, "b.jsonl", "3", 1_704_067_300, "60");
    let broker = broker::Broker::start();
    broker.create_topic("ingest-occurrences", 2);
    broker.create_topic("ingest-occurrences-dlq", 1);
    broker.produce("ingest-occurrences", &first_batch);
    (broker, first_batch, second_batch)
}

#[test]
fn a_logged_mutation_whose_offsets_are_gone_applies_at_the_partitions_end() {
    let dir = temp_dir();
    let (broker, first_batch, second_batch) = two_batches(dir.path());
    let state = dir.path().join("state");
    let mut server = start(&kafka_args(&broker, &state));
    wait_until(|| consumed(&[&server]) == 6000);
    broker.produce("ingest-occurrences", &second_batch);
    wait_until(|| consumed(&[&server]) == 12000);
    let (_, list) = server.get(&format!("{ISSUES}?query=&limit=2&sort=new"));
    let ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(server.put(&format!("id={}", ids[0]), json!({"status": "resolved"})).0, 200);
    // SIGKILL: no checkpoint holds the mutation, so the restart replays it, logged at
    // offsets (after both batches) the recreated topic (the first batch) never reaches.
    server.kill();
    drop(server);
    recreate_topic(&broker, &first_batch);
    let server = start(&kafka_args(&broker, &state));
    wait_until(|| server.get(&format!("{ISSUES}{}/", ids[0])).1["status"] == "resolved");
    // Requests after it are taken (before, they waited for the entry for ever).
    assert_eq!(server.put(&format!("id={}", ids[1]), json!({"priority": "low"})).0, 200);
    assert_eq!(server.issue(&ids[1])["priority"], "low");
}

#[test]
fn a_cluster_replays_a_logged_mutation_whose_offsets_are_gone_at_the_partitions_end() {
    let dir = temp_dir();
    let (broker, first_batch, second_batch) = two_batches(dir.path());
    let states = [dir.path().join("state-0"), dir.path().join("state-1")];
    let (first, second) = start_cluster(dir.path(), &broker, 0, "3600", &states);
    settled_list(&first, &second, 6000);
    broker.produce("ingest-occurrences", &second_batch);
    let list = settled_list(&first, &second, 12000);
    let ids: Vec<String> = list.as_array().unwrap()[..2]
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(first.put(&format!("id={}", ids[0]), json!({"status": "resolved"})).0, 200);
    drop(first);
    drop(second);
    recreate_topic(&broker, &first_batch);
    let (first, second) = start_cluster(dir.path(), &broker, 1, "3600", &states);
    settled_list(&first, &second, 6000);
    let log = std::fs::read_to_string(dir.path().join("log-1-0")).unwrap_or_default();
    assert!(log.contains("the cluster replays logged mutations"), "{log}");
    // Before, process 0 announced mutation points for ever and took no new request.
    wait_until(|| first.get(&format!("{ISSUES}{}/", ids[0])).1["status"] == "resolved");
    assert_eq!(first.put(&format!("id={}", ids[1]), json!({"priority": "low"})).0, 200);
    assert_eq!(first.issue(&ids[1])["priority"], "low");
}

/// Reading the broker's topic with checkpoints only at shutdown (the tests kill the process).
fn kafka_args<'a>(broker: &'a broker::Broker, state: &'a std::path::Path) -> [&'a str; 6] {
    let state = state.to_str().expect("a UTF-8 temporary path");
    ["--kafka", &broker.address, "--state-dir", state, "--checkpoint-interval", "3600"]
}
