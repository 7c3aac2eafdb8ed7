//! Kafka end to end, against a real broker (tansu): backfills, the dead-letter topic, the
//! partition schedule, and a two-process cluster (its result, its checkpoints' cadence).

#[path = "common/broker.rs"]
mod broker;
mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use broker::{generate, wait_for, Broker};
use common::*;
use serde_json::Value;

fn run(args: &[&str]) -> Output {
    let output = Command::new(BIN).args(args).output_within("occurrent (a Kafka command)");
    assert!(
        output.status.success(),
        "occurrent {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `occurrent backfill --kafka` with `extra` args; returns the dump's bytes and the summary.
fn kafka_backfill(broker: &Broker, topic: &str, dir: &Path, name: &str, extra: &[&str]) -> (Vec<u8>, Value) {
    let dump = dir.join(format!("{name}.dump.jsonl"));
    let summary = dir.join(format!("{name}.summary.json"));
    let mut args = vec!["backfill", "--kafka", &broker.address, "--topic", topic];
    let (dump_arg, summary_arg) = (dump.display().to_string(), summary.display().to_string());
    args.extend(["--dump-issues", &dump_arg, "--summary-json", &summary_arg]);
    args.extend(extra);
    run(&args);
    let summary = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    (std::fs::read(&dump).unwrap(), summary)
}

#[test]
fn one_partition_backfill_equals_the_file_backfill_and_dead_letters_reach_their_topic() {
    let dir = temp_dir();
    let input = generate(dir.path(), "stream.jsonl", 20_000, &["--malformed-ratio", "0.01"]);
    let broker = Broker::start();
    broker.create_topic("ingest-occurrences", 1);
    broker.create_topic("ingest-occurrences-dlq", 1);
    broker.produce("ingest-occurrences", &input);

    let from_file = backfill_files(std::slice::from_ref(&input), 2, &[]);
    let (dump, summary) = kafka_backfill(&broker, "ingest-occurrences", dir.path(), "kafka", &["--workers", "2"]);
    // One partition is one log in file order: the same input gives the same issues.
    assert_eq!(summary, from_file.summary);
    assert!(dump == from_file.dump_bytes, "Kafka and file backfills of the same log differ");
    assert!(summary["groups_created"].as_i64().unwrap() > 100);

    // Every rejected message is in the dead-letter topic with its bytes and position.
    let rejected = summary["dead_lettered"].as_u64().unwrap() as usize;
    assert!(rejected > 100, "the stream should contain malformed lines");
    let letters = broker.consume_all("ingest-occurrences-dlq");
    assert_eq!(letters.len(), rejected);
    let lines: Vec<String> = std::fs::read_to_string(&input).unwrap().lines().map(String::from).collect();
    for (payload, headers) in &letters {
        let header = |key: &str| headers.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default();
        assert_eq!(header("source_topic"), "ingest-occurrences");
        assert_eq!(header("partition"), "0");
        assert!(!header("reason").is_empty());
        // With one partition, offset n is line n + 1 of the file.
        let offset: usize = header("offset").parse().unwrap();
        // Keyed by source position, so repeats after a crash can be dropped.
        assert_eq!(header("(key)"), format!("ingest-occurrences/0/{offset}"));
        assert_eq!(
            payload,
            lines[offset].as_bytes(),
            "dead letter at offset {offset} keeps the original bytes"
        );
    }
    let file_reasons: Vec<&str> = from_file.dead_letters.iter().map(|l| l["reason"].as_str().unwrap()).collect();
    let topic_reasons: Vec<String> = letters
        .iter()
        .map(|(_, h)| h.iter().find(|(k, _)| k == "reason").unwrap().1.clone())
        .collect();
    assert_eq!(file_reasons, topic_reasons, "same reasons, same order");
}

#[test]
fn partitions_interleave_the_same_way_for_any_worker_count_and_chunk_reads() {
    let dir = temp_dir();
    let input = generate(dir.path(), "stream.jsonl", 30_000, &[]);
    let broker = Broker::start();
    broker.create_topic("occ", 4);
    broker.create_topic("occ-dlq", 1);
    broker.produce("occ", &input);
    let (one, summary) = kafka_backfill(&broker, "occ", dir.path(), "one", &["--workers", "1"]);
    let (three, _) = kafka_backfill(&broker, "occ", dir.path(), "three", &["--workers", "3"]);
    assert_eq!(summary["lines_read"], 30_000);
    assert!(one == three, "1 and 3 workers gave different issues");
}

#[test]
fn bounded_backfill_stops_at_the_end_found_at_start_and_resumes_from_its_checkpoint() {
    let dir = temp_dir();
    let first = generate(dir.path(), "first.jsonl", 5_000, &[]);
    let second = generate(dir.path(), "second.jsonl", 5_000, &["--seed", "6", "--start-time", "1705000000"]);
    let broker = Broker::start();
    broker.create_topic("occ", 2);
    broker.create_topic("occ-dlq", 1);
    broker.produce("occ", &first);
    let state = dir.path().join("state");
    let state_arg = state.display().to_string();
    let (_, summary) = kafka_backfill(&broker, "occ", dir.path(), "a", &["--state-dir", &state_arg]);
    assert_eq!(summary["lines_read"], 5_000);
    // New messages arrive; the next backfill resumes after the first one's positions.
    broker.produce("occ", &second);
    let (_, summary) = kafka_backfill(&broker, "occ", dir.path(), "b", &["--state-dir", &state_arg]);
    assert_eq!(
        summary["lines_read"], 10_000,
        "the checkpointed state plus the new messages, each once"
    );
}

#[test]
fn a_two_process_cluster_gives_the_single_process_result() {
    let dir = temp_dir();
    let input = generate(dir.path(), "stream.jsonl", 40_000, &["--malformed-ratio", "0.005"]);
    let broker = Broker::start();
    broker.create_topic("occ", 4);
    broker.create_topic("occ-dlq", 1);
    broker.produce("occ", &input);
    let (single, summary) = kafka_backfill(&broker, "occ", dir.path(), "single", &["--workers", "2"]);

    let hostfile = dir.path().join("hosts");
    std::fs::write(&hostfile, format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port())).unwrap();
    let hosts = hostfile.display().to_string();
    let cluster = ["--processes", "2", "--hostfile", &hosts, "--workers", "2"];
    let second = Command::new(BIN)
        .args(["backfill", "--kafka", &broker.address, "--topic", "occ", "--process", "1"])
        .args(cluster)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_args = vec!["--process", "0"];
    first_args.extend(cluster);
    let (clustered, clustered_summary) = kafka_backfill(&broker, "occ", dir.path(), "cluster", &first_args);
    let second = second.output_within("process 1 of the Kafka backfill cluster");
    assert!(
        second.status.success(),
        "process 1 failed: {}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(clustered_summary, summary);
    assert!(clustered == single, "the cluster's issues differ from one process's");
    // Both processes read partitions: every rejected message reached the dead-letter topic.
    assert_eq!(
        broker.consume_all("occ-dlq").len() as i64,
        2 * summary["dead_lettered"].as_i64().unwrap()
    );
}

/// The epochs of the cut parts of `process` (of two) in `state`.
fn cut_epochs(state: &Path, process: usize) -> Vec<u64> {
    let suffix = format!("-2-{process}.bin");
    let mut epochs: Vec<u64> = std::fs::read_dir(state)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(&suffix)?.strip_prefix("cut-e")?.parse().ok())
        .collect();
    epochs.sort_unstable();
    epochs
}

#[test]
fn a_streaming_cluster_checkpoints_every_interval_at_cuts_common_to_its_processes() {
    let dir = temp_dir();
    let broker = Broker::start();
    broker.create_topic("occ", 2);
    broker.create_topic("occ-dlq", 1);
    let hostfile = dir.path().join("hosts");
    std::fs::write(&hostfile, format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port())).unwrap();
    let states = [dir.path().join("state-0"), dir.path().join("state-1")];
    let logs = [dir.path().join("log-0"), dir.path().join("log-1")];
    let mut processes: Vec<_> = (0..2)
        .map(|process| {
            Command::new(BIN)
                .args(["run", "--kafka", &broker.address, "--topic", "occ", "--workers", "1"])
                .args(["--processes", "2", "--process", &process.to_string()])
                .arg("--hostfile")
                .arg(&hostfile)
                .arg("--state-dir")
                .arg(&states[process])
                .args(["--checkpoint-interval", "0.5"])
                .args(["--listen", &format!("127.0.0.1:{}", free_port())])
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(&logs[process]).unwrap())
                .spawn()
                .unwrap()
        })
        .collect();
    // A trickle at the live edge: a few messages per interval, for about four seconds.
    let started = std::time::Instant::now();
    for round in 0..8 {
        let input = generate(
            dir.path(),
            &format!("trickle-{round}.jsonl"),
            40,
            &["--seed", &(round + 10).to_string()],
        );
        broker.produce("occ", &input);
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let seconds = started.elapsed().as_secs_f64();
    // SIGTERM to process 1 ends the cluster at the cut it announces.
    let status = Command::new("kill")
        .args(["-TERM", &processes[1].id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for process in &mut processes {
        assert!(
            process.wait_within("a cluster process after SIGTERM").success(),
            "a SIGTERM stop exits cleanly"
        );
    }
    let written = |process: usize| {
        std::fs::read_to_string(&logs[process])
            .unwrap()
            .matches("checkpoint written")
            .count()
    };
    let intervals = seconds / 0.5;
    for process in 0..2 {
        let count = written(process) as f64;
        assert!(
            count >= 3.0 && count <= intervals + 3.0,
            "process {process} wrote {count} checkpoints in {seconds:.1} s at 0.5 s intervals"
        );
    }
    // Every part belongs to a cut of both processes (the three newest are kept).
    let (first, second) = (cut_epochs(&states[0], 0), cut_epochs(&states[1], 1));
    assert!(!first.is_empty());
    assert_eq!(first, second, "both processes cut at the same epochs");
}

#[test]
fn a_cluster_process_asked_to_stop_before_it_reads_stops_the_cluster_at_a_cut() {
    use std::io::BufRead;
    let dir = temp_dir();
    let broker = Broker::start();
    broker.create_topic("occ", 2);
    broker.create_topic("occ-dlq", 1);
    broker.produce("occ", &generate(dir.path(), "input.jsonl", 20_000, &[]));
    let hostfile = hostfile(dir.path(), "hosts", 2);
    let dump = dir.path().join("dump.jsonl");
    let log = |process: usize| dir.path().join(format!("log-{process}"));
    let start = |process: usize, stdout: Stdio| {
        let mut command = broker.cluster_backfill("occ", &hostfile, process, &log(process));
        command.arg("--state-dir").arg(dir.path().join(format!("state-{process}")));
        command.args(["--checkpoint-interval", "0.3"]);
        if process == 0 {
            command.arg("--dump-issues").arg(&dump);
        }
        command.stdout(stdout).spawn().unwrap()
    };
    // Process 1 alone: it waits for process 0 to connect, its signal handlers installed and
    // its feeder not started (it starts once the cluster agrees on where). SIGTERM now.
    let mut second = start(1, Stdio::piped());
    let stdout = std::io::BufReader::new(second.stdout.take().unwrap());
    let (waiting, waits) = std::sync::mpsc::channel();
    // Timely (0.32) prints this each second while it cannot connect to process 0. Read to
    // the end: a closed pipe would fail the process's next print.
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if line.contains("error connecting to worker 0") {
                let _ = waiting.send(());
            }
        }
    });
    waits
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("process 1 waits for process 0");
    let status = Command::new("kill").args(["-TERM", &second.id().to_string()]).status().unwrap();
    assert!(status.success());
    let first = start(0, Stdio::null());
    let statuses = common::deadline::exits_within(&mut [first, second], std::time::Duration::from_secs(120));
    let logs = [0, 1].map(|process| std::fs::read_to_string(log(process)).unwrap_or_default());
    // Both stop at the cut process 1 announces for its stop: neither follows cuts that never
    // come, nor waits for the other's input.
    for (process, status) in statuses.iter().enumerate() {
        assert!(
            status.is_some_and(|s| s.success()),
            "process {process} of a stopped cluster: {status:?}: {}",
            logs[process]
        );
    }
    assert!(!dump.exists(), "a stopped cluster dumps no partial issues");
}

/// A two-process cluster backfill without `--state-dir`, one worker each, reading 200,000
/// messages in small chunks, caught mid-read (process 0 has reported its first dead letters).
struct ReadingCluster {
    dir: tempfile::TempDir,
    _broker: Broker,
    processes: [std::process::Child; 2],
}

impl ReadingCluster {
    fn start() -> ReadingCluster {
        let dir = temp_dir();
        let broker = Broker::start();
        broker.create_topic("occ", 2);
        broker.create_topic("occ-dlq", 1);
        broker.produce("occ", &generate(dir.path(), "input.jsonl", 200_000, &[]));
        let hostfile = hostfile(dir.path(), "hosts", 2);
        let processes = [0, 1].map(|process| {
            let log = dir.path().join(format!("log-{process}"));
            let mut command = broker.cluster_backfill("occ", &hostfile, process, &log);
            command.args(["--chunk-messages", "1024"]);
            if process == 0 {
                command.arg("--dump-issues").arg(dir.path().join("dump.jsonl"));
            }
            command.spawn().unwrap()
        });
        let cluster = ReadingCluster {
            dir,
            _broker: broker,
            processes,
        };
        wait_for("the cluster's first dead letters", || cluster.log(0).contains("dead letters"));
        cluster
    }

    fn log(&self, process: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("log-{process}"))).unwrap_or_default()
    }

    /// Each process's exit status (None: killed after 120 s).
    fn exits(&mut self) -> Vec<Option<std::process::ExitStatus>> {
        common::deadline::exits_within(&mut self.processes, std::time::Duration::from_secs(120))
    }
}

#[test]
fn a_cluster_without_state_asked_to_stop_fails_rather_than_dump_a_part() {
    // Without cuts there is no common point to stop at: the stopped process fails, and the
    // other with it, instead of process 0 dumping its own partitions' issues alone as if the
    // backfill were complete.
    let mut cluster = ReadingCluster::start();
    let status = Command::new("kill")
        .args(["-TERM", &cluster.processes[1].id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let statuses = cluster.exits();
    common::deadline::assert_all_failed(&statuses, &[cluster.log(0), cluster.log(1)]);
    assert!(cluster.log(1).contains("without --state-dir"), "{}", cluster.log(1));
    assert!(!cluster.dir.path().join("dump.jsonl").exists(), "no partial dump");
}

#[test]
fn a_cluster_process_whose_peer_dies_stops_saying_so() {
    let mut cluster = ReadingCluster::start();
    cluster.processes[1].kill().expect("SIGKILL");
    let statuses = cluster.exits();
    assert_eq!(statuses[0].and_then(|s| s.code()), Some(1), "{}", cluster.log(0));
    let survivor = cluster.log(0);
    assert!(
        survivor.contains("lost the connection to another process of the cluster"),
        "{survivor}"
    );
    assert!(
        !survivor.contains("stack backtrace"),
        "one line, not every thread's panic: {survivor}"
    );
}

#[test]
fn a_file_dump_then_the_topic_read_as_one_log() {
    let dir = temp_dir();
    let history = generate(dir.path(), "history.jsonl", 6_000, &[]);
    let live = generate(dir.path(), "live.jsonl", 6_000, &["--seed", "8", "--start-time", "1705000000"]);
    let both = dir.path().join("both.jsonl");
    let mut all = std::fs::read(&history).unwrap();
    all.extend(std::fs::read(&live).unwrap());
    std::fs::write(&both, all).unwrap();
    let expected = backfill_files(std::slice::from_ref(&both), 2, &[]);
    let broker = Broker::start();
    broker.create_topic("occ", 1);
    broker.create_topic("occ-dlq", 1);
    broker.produce("occ", &live);
    let history_arg = history.display().to_string();
    let dead = dir.path().join("dead.jsonl").display().to_string();
    let (dump, summary) = kafka_backfill(
        &broker,
        "occ",
        dir.path(),
        "combined",
        &["--input", &history_arg, "--dead-letter", &dead],
    );
    assert_eq!(summary, expected.summary);
    assert!(dump == expected.dump_bytes, "file-then-topic differs from the concatenated file");
}

#[test]
fn group_changes_reach_the_change_feed_and_group_attributes_topics() {
    let dir = temp_dir();
    let input = generate(dir.path(), "stream.jsonl", 8_000, &[]);
    let broker = Broker::start();
    for (topic, partitions) in [("occ", 2), ("occ-dlq", 1), ("group-attributes", 1), ("issue-changes", 1)] {
        broker.create_topic(topic, partitions);
    }
    broker.produce("occ", &input);
    let extra = [
        "--group-attributes-topic",
        "group-attributes",
        "--change-feed-topic",
        "issue-changes",
        "--chunk-messages",
        "500",
    ];
    let (_, summary) = kafka_backfill(&broker, "occ", dir.path(), "changes", &extra);
    let groups = summary["groups_created"].as_u64().unwrap() as usize;

    let attributes: Vec<Value> = broker
        .consume_all("group-attributes")
        .iter()
        .map(|(payload, _)| serde_json::from_slice(payload).unwrap())
        .collect();
    let ids: std::collections::BTreeSet<u64> = attributes.iter().map(|a| a["group_id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), groups, "a snapshot for every group");
    for snapshot in &attributes {
        for field in [
            "group_deleted",
            "project_id",
            "status",
            "substatus",
            "first_seen",
            "num_comments",
            "assignee_user_id",
            "timestamp",
        ] {
            assert!(snapshot.get(field).is_some(), "group-attributes snapshot lacks {field}: {snapshot}");
        }
    }
    let changes = broker.consume_all("issue-changes");
    // A snapshot for every change; a change-feed message for those its fields show (a
    // release or the inbox date can change alone), and for every group (its creation).
    assert!(
        changes.len() <= attributes.len(),
        "{} change-feed messages for {} snapshots",
        changes.len(),
        attributes.len()
    );
    let changed: std::collections::BTreeSet<u64> = changes
        .iter()
        .map(|(payload, _)| {
            let change: serde_json::Value = serde_json::from_slice(payload).unwrap();
            change["group_id"].as_str().and_then(|id| id.parse().ok()).expect("a group id")
        })
        .collect();
    assert_eq!(changed, ids, "every group in the change feed");
}

/// An output topic that does not exist is refused before anything is read (the dead-letter
/// topic's producer found out only at its first flush, after the whole backfill, whose
/// result was then lost).
#[test]
fn a_missing_output_topic_is_refused_at_start() {
    let dir = temp_dir();
    let input = generate(dir.path(), "input.jsonl", 200, &[]);
    let broker = Broker::start();
    broker.create_topic("occ", 1);
    broker.produce("occ", &input);
    let dump = dir.path().join("dump.jsonl");
    for (extra, missing) in [
        (vec![], "occ-dlq"),
        (vec!["--dead-letter", "/dev/null", "--change-feed-topic", "changes"], "changes"),
    ] {
        let started = std::time::Instant::now();
        let output = Command::new(BIN)
            .args(["backfill", "--kafka", &broker.address, "--topic", "occ", "--dump-issues"])
            .arg(&dump)
            .args(&extra)
            .output_within("occurrent backfill with a missing output topic");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{extra:?}: {stderr}");
        assert!(
            stderr.contains(&format!("topic {missing} cannot be written")),
            "{extra:?}: {stderr}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "refused at start");
        assert!(!dump.exists(), "nothing dumped");
    }
    // A missing input topic is named as such (not by its missing dead-letter topic).
    let output = Command::new(BIN)
        .args(["backfill", "--kafka", &broker.address, "--topic", "nosuch", "--dump-issues"])
        .arg(&dump)
        .output_within("occurrent backfill of a missing topic");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("cannot read topic nosuch"), "{stderr}");
}
