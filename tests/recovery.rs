//! Exactly-once recovery: a backfill killed with SIGKILL at random moments and restarted from
//! its checkpoints ends with the same issues, byte for byte, as an uninterrupted run.

#[path = "common/broker.rs"]
mod broker;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use broker::Broker;
use common::*;
use rand::{Rng, SeedableRng};

fn generate(dir: &Path, count: u64) -> PathBuf {
    let path = dir.join("stream.jsonl");
    let status = Command::new(BIN)
        .args(["generate", "--seed", "21", "--count", &count.to_string()])
        .args(["--fingerprints", "20000", "--projects", "50", "--malformed-ratio", "0.001"])
        .arg("--output")
        .arg(&path)
        .status()
        .expect("generate");
    assert!(status.success());
    path
}

/// Runs `occurrent backfill <input>` with checkpoints in `state`, killing it with SIGKILL at
/// random moments `kills` times (with 1, 2 or 3 workers in turn), then lets the last run
/// finish. Returns the dump, the
/// summary and the dead-letter file (if `dead_letters` is a file).
fn backfill_with_kills(input: &[String], state: &Path, out: &Path, kills: usize, seed: u64) -> (Vec<u8>, String, Option<String>) {
    let dump = out.join("dump.jsonl");
    let summary = out.join("summary.json");
    let dead = out.join("dead.jsonl");
    // Each restart uses another worker count: the state is re-partitioned on restore.
    let command = |workers: usize| {
        let mut command = Command::new(BIN);
        command.arg("backfill").args(input);
        command.arg("--state-dir").arg(state).args(["--checkpoint-interval", "0.3"]);
        command.args(["--workers", &workers.to_string()]);
        command.arg("--dump-issues").arg(&dump).arg("--summary-json").arg(&summary);
        if !input.iter().any(|a| a == "--kafka") {
            command.arg("--dead-letter").arg(&dead);
        }
        command.stdout(Stdio::null()).stderr(Stdio::null());
        command
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut killed = 0;
    while killed < kills {
        let mut child = command(1 + killed % 3).spawn().expect("start occurrent");
        let wait = Duration::from_millis(rng.random_range(700..2500));
        let started = Instant::now();
        let mut finished = false;
        while started.elapsed() < wait {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "a run failed on its own");
                finished = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if finished {
            panic!("the backfill finished after {killed} kills; the input is too small for the kill schedule");
        }
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        killed += 1;
    }
    let status = command(2).status().expect("final run");
    assert!(status.success(), "the final run failed");
    let checkpoints = std::fs::read_dir(state).unwrap().count();
    assert!(checkpoints > 0, "checkpoints were written");
    (
        std::fs::read(&dump).unwrap(),
        std::fs::read_to_string(&summary).unwrap(),
        std::fs::read_to_string(&dead).ok(),
    )
}

fn uninterrupted(input: &[String], out: &Path) -> (Vec<u8>, String, Option<String>) {
    let dump = out.join("dump.jsonl");
    let summary = out.join("summary.json");
    let dead = out.join("dead.jsonl");
    let mut command = Command::new(BIN);
    command.arg("backfill").args(input).args(["--workers", "2"]);
    command.arg("--dump-issues").arg(&dump).arg("--summary-json").arg(&summary);
    if !input.iter().any(|a| a == "--kafka") {
        command.arg("--dead-letter").arg(&dead);
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    (
        std::fs::read(&dump).unwrap(),
        std::fs::read_to_string(&summary).unwrap(),
        std::fs::read_to_string(&dead).ok(),
    )
}

#[test]
fn file_backfill_killed_ten_times_equals_an_uninterrupted_run() {
    let dir = temp_dir();
    let input = generate(dir.path(), 300_000);
    let args = vec!["--input".to_string(), input.display().to_string()];
    let (clean_out, killed_out) = (dir.path().join("clean"), dir.path().join("killed"));
    std::fs::create_dir_all(&clean_out).unwrap();
    std::fs::create_dir_all(&killed_out).unwrap();
    let expected = uninterrupted(&args, &clean_out);
    let actual = backfill_with_kills(&args, &dir.path().join("state"), &killed_out, 10, 7);
    assert_eq!(actual.1, expected.1, "summaries differ");
    assert!(actual.0 == expected.0, "issue dumps differ after recovery");
    // The dead-letter file is cut back to each checkpoint: every rejection exactly once.
    assert_eq!(actual.2, expected.2, "dead letters differ");
    assert!(expected.2.is_some_and(|d| d.lines().count() > 100));
}

#[test]
fn kafka_backfill_of_a_million_messages_killed_ten_times_equals_an_uninterrupted_run() {
    let dir = temp_dir();
    let input = generate(dir.path(), 1_000_000);
    let broker = Broker::start();
    broker.create_topic("ingest-occurrences", 4);
    broker.create_topic("ingest-occurrences-dlq", 1);
    broker.produce("ingest-occurrences", &input);
    let args = vec!["--kafka".to_string(), broker.address.clone()];
    let (clean_out, killed_out) = (dir.path().join("clean"), dir.path().join("killed"));
    std::fs::create_dir_all(&clean_out).unwrap();
    std::fs::create_dir_all(&killed_out).unwrap();
    let expected = uninterrupted(&args, &clean_out);
    assert!(expected.1.contains("\"lines_read\":1000000"), "{}", expected.1);
    let actual = backfill_with_kills(&args, &dir.path().join("state"), &killed_out, 10, 11);
    assert_eq!(actual.1, expected.1, "summaries differ");
    assert!(actual.0 == expected.0, "issue dumps differ after recovery");
}
