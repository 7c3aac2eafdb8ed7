//! Shared helpers for the end-to-end tests: build messages, run the real binary, read dumps.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

pub mod deadline;
pub mod server;

pub use deadline::{RunWithin, WaitWithin};

pub const BIN: &str = env!("CARGO_BIN_EXE_occurrent");

/// Writes `config.toml` in `dir`: organization `acme` with project 1 (`web`) and
/// organization `other` with project 2 (`api`); returns its path.
pub fn two_organizations_config(dir: &Path) -> PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        "[[organizations]]\nslug = \"acme\"\n[[organizations.projects]]\nid = 1\nslug = \"web\"\n\n\
         [[organizations]]\nslug = \"other\"\n[[organizations.projects]]\nid = 2\nslug = \"api\"\n",
    )
    .expect("write the two-organization config");
    config
}

/// 2024-01-01T00:00:00Z.
pub const T0: f64 = 1_704_067_200.0;

pub fn uuid(n: u64) -> String {
    format!("{n:032x}")
}

/// An occurrence with sensible defaults; `extra` overrides or adds top-level fields.
pub fn occurrence(id: u64, project: u64, fingerprint: &str, type_id: u32, time: f64, extra: Value) -> Value {
    let mut message = json!({
        "id": uuid(id),
        "project_id": project,
        "event_id": uuid(1_000_000 + id),
        "fingerprint": [fingerprint],
        "issue_title": format!("title {fingerprint}"),
        "subtitle": "subtitle",
        "type": type_id,
        "detection_time": time,
        "level": "error",
        "culprit": "culprit",
    });
    if let (Some(target), Some(source)) = (message.as_object_mut(), extra.as_object()) {
        for (k, v) in source {
            target.insert(k.clone(), v.clone());
        }
    }
    message
}

pub fn status_change(id: u64, project: u64, fingerprint: &str, status: i64, substatus: Option<i64>) -> Value {
    json!({
        "payload_type": "status_change",
        "id": uuid(id),
        "project_id": project,
        "fingerprint": [fingerprint],
        "new_status": status,
        "new_substatus": substatus,
    })
}

pub struct Run {
    pub issues: Vec<Value>,
    pub summary: Value,
    pub dead_letters: Vec<Value>,
    pub dump_bytes: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn counter(&self, name: &str) -> i64 {
        self.summary[name]
            .as_i64()
            .unwrap_or_else(|| panic!("summary has no {name}: {}", self.summary))
    }

    pub fn by_title(&self, title: &str) -> &Value {
        self.issues
            .iter()
            .find(|i| i["title"] == title)
            .unwrap_or_else(|| panic!("no issue titled {title:?} in {:#?}", self.issues))
    }
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

pub fn write_lines(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&path, text).expect("write input");
    path
}

pub fn to_lines(messages: &[Value]) -> Vec<String> {
    messages.iter().map(Value::to_string).collect()
}

/// `DIR/NAME` listing `processes` free loopback ports: a cluster's hostfile.
pub fn hostfile(dir: &Path, name: &str, processes: usize) -> PathBuf {
    let path = dir.join(name);
    let hosts: String = (0..processes).map(|_| format!("127.0.0.1:{}\n", free_port())).collect();
    std::fs::write(&path, hosts).expect("write the hostfile");
    path
}

/// [`generate_stream`], with the stream's lines (for tests that write them out in parts).
pub fn generate_lines(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, Vec<String>) {
    let path = generate_stream(dir, name, args);
    let text = std::fs::read_to_string(&path).expect("read the generated stream");
    let lines = text.lines().map(str::to_string).collect();
    (path, lines)
}

/// `occurrent generate ARGS --output DIR/NAME` (a synthetic stream); fails the test with
/// the generator's stderr if it fails.
pub fn generate_stream(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let output = Command::new(BIN)
        .arg("generate")
        .args(args)
        .arg("--output")
        .arg(&path)
        .output_within("occurrent generate");
    assert!(
        output.status.success(),
        "generate {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    path
}

/// Runs `occurrent backfill` on `inputs` with `workers` and extra args.
pub fn backfill_files(inputs: &[PathBuf], workers: usize, extra: &[&str]) -> Run {
    let dir = temp_dir();
    let dump = dir.path().join("dump.jsonl");
    let summary = dir.path().join("summary.json");
    let dead = dir.path().join("dead.jsonl");
    let mut command = Command::new(BIN);
    command.arg("backfill").arg("--workers").arg(workers.to_string());
    command.arg("--input").args(inputs);
    command
        .arg("--dump-issues")
        .arg(&dump)
        .arg("--summary-json")
        .arg(&summary)
        .arg("--dead-letter")
        .arg(&dead);
    command.args(extra);
    let output = command.output_within("occurrent backfill");
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "backfill failed: {stderr}");
    let dump_bytes = std::fs::read(&dump).expect("dump written");
    let issues = dump_issues(&dump_bytes);
    let summary = serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary written")).expect("summary JSON");
    let dead_letters = std::fs::read_to_string(&dead)
        .map(|t| t.lines().map(|l| serde_json::from_str(l).expect("dead letter is JSON")).collect())
        .unwrap_or_default();
    Run {
        issues,
        summary,
        dead_letters,
        dump_bytes,
        stderr,
    }
}

pub fn backfill(messages: &[Value]) -> Run {
    backfill_lines(&to_lines(messages))
}

pub fn backfill_lines(lines: &[String]) -> Run {
    let dir = temp_dir();
    let input = write_lines(dir.path(), "input.jsonl", lines);
    backfill_files(&[input], 2, &[])
}

/// A loopback port nobody listens on (for a server or a cluster's hostfile).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `condition` every 20 ms; fails the test after 30 s.
pub fn wait_until(mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "timed out");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The generated stream of the recovery tests: `count` lines over 20K fingerprints in 50
/// projects, with 0.1 % malformed lines.
pub fn recovery_stream(dir: &Path, count: u64) -> PathBuf {
    let count = count.to_string();
    let args = [
        "--seed",
        "21",
        "--count",
        &count,
        "--fingerprints",
        "20000",
        "--projects",
        "50",
        "--malformed-ratio",
        "0.001",
    ];
    generate_stream(dir, "stream.jsonl", &args)
}

/// Checks a change feed (`--change-feed`) against the final dump (`issues`, its lines): each
/// group's changes continue one another (a change's `before` is the group's last `after`,
/// null for a new group; no change repeats its `before`) and its last `after` is the dumped
/// issue. Returns the number of changes.
pub fn assert_change_feed_continues(feed: &std::path::Path, issues: &[Value]) -> usize {
    use std::io::BufRead;
    let mut state: std::collections::HashMap<String, Value> = Default::default();
    let mut changes = 0;
    // Read a line at a time: a killed Kafka backfill's feed runs to hundreds of megabytes.
    let file = std::fs::File::open(feed).unwrap_or_else(|e| panic!("cannot open {}: {e}", feed.display()));
    for line in std::io::BufReader::new(file).lines() {
        let line = line.expect("the change feed is UTF-8 text");
        let change: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("change {changes} is not JSON ({e}): {line}"));
        let id = change["group_id"].as_str().expect("a group id").to_string();
        assert_eq!(
            state.get(&id).unwrap_or(&Value::Null),
            &change["before"],
            "change {changes} of group {id} does not continue the last"
        );
        assert_ne!(change["before"], change["after"], "no-op changes are not sent");
        state.insert(id, change["after"].clone());
        changes += 1;
    }
    assert_eq!(state.len(), issues.len(), "every group, and only the dumped ones, in the feed");
    for issue in issues {
        let id = issue["id"].as_str().expect("an issue id");
        let after = state.get(id).unwrap_or_else(|| panic!("group {id} is not in the feed"));
        assert_eq!(after["status"], issue["status"]);
        assert_eq!(after["substatus"], issue["substatus"]);
        assert_eq!(after["timesSeen"].to_string(), issue["count"].as_str().unwrap());
        assert_eq!(after["lastSeen"], issue["lastSeen"]);
        assert_eq!(after["title"], issue["title"]);
    }
    changes
}

/// The issues of a dump (JSON lines).
pub fn dump_issues(dump: &[u8]) -> Vec<Value> {
    std::str::from_utf8(dump)
        .expect("utf-8 dump")
        .lines()
        .map(|l| serde_json::from_str(l).expect("dump line is JSON"))
        .collect()
}
