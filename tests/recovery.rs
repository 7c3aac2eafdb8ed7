//! Exactly-once recovery: a backfill killed with SIGKILL at random moments and restarted from
//! its checkpoints ends with the same issues, byte for byte, as an uninterrupted run (one
//! process, or a two-process cluster restarted from its common cuts, or a cut restored by
//! another number of processes). `recovery_mutations.rs`: a server killed while API
//! mutations are in flight.

#[path = "common/broker.rs"]
mod broker;
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use broker::Broker;
use common::*;
use rand::{Rng, SeedableRng};

/// Runs `occurrent backfill <input>` with checkpoints in `state`, killing it with SIGKILL at
/// random moments `kills` times (with 1, 2 or 3 workers in turn), then lets the last run
/// finish. Returns the dump, the
/// summary and the dead-letter file (if `dead_letters` is a file).
/// `kills` runs killed at random moments, then one to the end. Each run lasts about
/// `clean_run / (2 × kills)` (half to one and a half of it, at least 0.7 s for a cut at the
/// 0.3 s interval), so all the runs together take about half the uninterrupted run and the
/// backfill cannot finish before the last kill however fast the build is.
fn backfill_with_kills(
    input: &[String],
    state: &Path,
    out: &Path,
    kills: usize,
    seed: u64,
    clean_run: Duration,
) -> (Vec<u8>, String, Option<String>) {
    let dump = out.join("dump.jsonl");
    let summary = out.join("summary.json");
    let dead = out.join("dead.jsonl");
    let feed = out.join("changes.jsonl");
    // Each restart uses another worker count: the state is re-partitioned on restore.
    let command = |workers: usize| {
        let mut command = Command::new(BIN);
        command.arg("backfill").args(input);
        command.arg("--state-dir").arg(state).args(["--checkpoint-interval", "0.3"]);
        command.args(["--workers", &workers.to_string()]);
        command.arg("--dump-issues").arg(&dump).arg("--summary-json").arg(&summary);
        command.arg("--change-feed").arg(&feed);
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
        let wait = (clean_run / (2 * kills as u32))
            .mul_f64(rng.random_range(0.5..1.5))
            .max(Duration::from_millis(700));
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
        child.wait_within("the killed backfill");
        killed += 1;
    }
    let status = command(2).spawn().expect("final run").wait_within("the final run");
    assert!(status.success(), "the final run failed");
    let checkpoints = std::fs::read_dir(state).unwrap().count();
    assert!(checkpoints > 0, "checkpoints were written");
    // The change feed is cut back to each checkpoint and continued: one unbroken history.
    let dump_bytes = std::fs::read(&dump).unwrap();
    assert_change_feed_continues(&feed, &dump_issues(&dump_bytes));
    (
        dump_bytes,
        std::fs::read_to_string(&summary).unwrap(),
        std::fs::read_to_string(&dead).ok(),
    )
}

/// The cluster tests' input: 200,000 messages in a four-partition topic, read in small chunks
/// (many rounds); returns the broker, the source flags and one uninterrupted process's run.
/// The broker with the cluster test's input, the source arguments, the uninterrupted run's
/// outcome and how long that run took (the kills are timed by it).
fn cluster_fixture(dir: &Path) -> (Broker, Vec<String>, Outcome, Duration) {
    let input = recovery_stream(dir, 200_000);
    let broker = Broker::start();
    broker.create_topic("ingest-occurrences", 4);
    broker.create_topic("ingest-occurrences-dlq", 1);
    broker.produce("ingest-occurrences", &input);
    let source: Vec<String> = ["--kafka", &broker.address, "--chunk-messages", "1024"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    let clean_out = dir.join("clean");
    std::fs::create_dir_all(&clean_out).unwrap();
    let started = Instant::now();
    let expected = uninterrupted(&source, &clean_out);
    (broker, source, expected, started.elapsed())
}

/// A run's dump, summary and dead letters (if any).
type Outcome = (Vec<u8>, String, Option<String>);

fn uninterrupted(input: &[String], out: &Path) -> Outcome {
    let dump = out.join("dump.jsonl");
    let summary = out.join("summary.json");
    let dead = out.join("dead.jsonl");
    let mut command = Command::new(BIN);
    command.arg("backfill").args(input).args(["--workers", "2"]);
    command.arg("--dump-issues").arg(&dump).arg("--summary-json").arg(&summary);
    if !input.iter().any(|a| a == "--kafka") {
        command.arg("--dead-letter").arg(&dead);
    }
    let output = command.output_within("the uninterrupted backfill");
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
    let input = recovery_stream(dir.path(), 300_000);
    let args = vec!["--input".to_string(), input.display().to_string()];
    let (clean_out, killed_out) = (dir.path().join("clean"), dir.path().join("killed"));
    std::fs::create_dir_all(&clean_out).unwrap();
    std::fs::create_dir_all(&killed_out).unwrap();
    let started = Instant::now();
    let expected = uninterrupted(&args, &clean_out);
    let clean_run = started.elapsed();
    let actual = backfill_with_kills(&args, &dir.path().join("state"), &killed_out, 10, 7, clean_run);
    assert_eq!(actual.1, expected.1, "summaries differ");
    assert!(actual.0 == expected.0, "issue dumps differ after recovery");
    // The dead-letter file is cut back to each checkpoint: every rejection exactly once.
    assert_eq!(actual.2, expected.2, "dead letters differ");
    assert!(expected.2.is_some_and(|d| d.lines().count() > 100));
}

#[test]
fn kafka_backfill_of_a_million_messages_killed_ten_times_equals_an_uninterrupted_run() {
    let dir = temp_dir();
    let input = recovery_stream(dir.path(), 1_000_000);
    let broker = Broker::start();
    broker.create_topic("ingest-occurrences", 4);
    broker.create_topic("ingest-occurrences-dlq", 1);
    broker.produce("ingest-occurrences", &input);
    let args = vec!["--kafka".to_string(), broker.address.clone()];
    let (clean_out, killed_out) = (dir.path().join("clean"), dir.path().join("killed"));
    std::fs::create_dir_all(&clean_out).unwrap();
    std::fs::create_dir_all(&killed_out).unwrap();
    let started = Instant::now();
    let expected = uninterrupted(&args, &clean_out);
    let clean_run = started.elapsed();
    assert!(expected.1.contains("\"lines_read\":1000000"), "{}", expected.1);
    let actual = backfill_with_kills(&args, &dir.path().join("state"), &killed_out, 10, 11, clean_run);
    assert_eq!(actual.1, expected.1, "summaries differ");
    assert!(actual.0 == expected.0, "issue dumps differ after recovery");
}

#[test]
fn a_two_process_cluster_killed_at_random_moments_equals_an_uninterrupted_single_process_run() {
    let started = Instant::now();
    let dir = temp_dir();
    // Cuts every 0.3 s by process 0's clock.
    let (_broker, source, expected, clean_run) = cluster_fixture(dir.path());
    assert!(expected.1.contains("\"lines_read\":200000"), "{}", expected.1);
    eprintln!(
        "fixture {:.1}s, of which the uninterrupted single process {:.1}s",
        started.elapsed().as_secs_f64(),
        clean_run.as_secs_f64()
    );

    let (dump, summary) = (dir.path().join("dump.jsonl"), dir.path().join("summary.json"));
    let feed = dir.path().join("changes.jsonl");
    let states = [dir.path().join("state-0"), dir.path().join("state-1")];
    let log = |process: usize| {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join(format!("process-{process}.log")))
            .unwrap();
        Stdio::from(file)
    };
    // Both processes of a run; each restart uses other ports and another worker count per
    // process (the state is re-partitioned over the cluster's workers on restore).
    let start = |run: usize| -> Vec<std::process::Child> {
        let hostfile = dir.path().join(format!("hosts-{run}"));
        std::fs::write(&hostfile, format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port())).unwrap();
        (0..2)
            .map(|process| {
                let mut command = Command::new(BIN);
                command.arg("backfill").args(&source);
                command.args(["--processes", "2", "--process", &process.to_string()]);
                command.arg("--hostfile").arg(&hostfile);
                command.args(["--workers", &(1 + run % 2).to_string(), "--checkpoint-interval", "0.3"]);
                command.arg("--state-dir").arg(&states[process]);
                if process == 0 {
                    command.arg("--dump-issues").arg(&dump).arg("--summary-json").arg(&summary);
                }
                // One command line for both, as a deployment on one host may have: only
                // process 0 writes (and cuts) the feed, process 1 leaves the file alone.
                command.arg("--change-feed").arg(&feed);
                command.stdout(Stdio::null()).stderr(log(process));
                command.spawn().expect("start a cluster process")
            })
            .collect()
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    let mut killed = 0;
    for run in 0..6 {
        let mut children = start(run);
        // A quarter to a half of the uninterrupted run (at least 1.5 s, for a cut to be
        // written): fixed waits let a faster build finish the backfill before the third kill.
        let wait = clean_run.mul_f64(rng.random_range(0.25..0.5)).max(Duration::from_millis(1500));
        let run_started = Instant::now();
        let mut ended = false;
        while run_started.elapsed() < wait && !ended {
            for child in &mut children {
                if let Some(status) = child.try_wait().unwrap() {
                    assert!(status.success(), "a process failed on its own in run {run}");
                    ended = true;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if ended {
            // The backfill completed before this kill: the final run restarts a finished
            // cluster, which must read nothing more and dump the same issues.
            for mut child in children {
                assert!(
                    child.wait_within("a cluster process that finished").success(),
                    "a process failed at the end of run {run}"
                );
            }
            break;
        }
        if run == 0 {
            // SIGTERM to one process stops the whole cluster at its next cut, cleanly.
            let status = Command::new("kill")
                .args(["-TERM", &children[1].id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            for mut child in children {
                assert!(
                    child.wait_within("a cluster process after SIGTERM").success(),
                    "a SIGTERM stop exits cleanly"
                );
            }
            assert!(!dump.exists(), "a stopped cluster dumps no partial issues");
            eprintln!("run 0 stopped by SIGTERM after {:.1}s", wait.as_secs_f64());
            continue;
        }
        // SIGKILL both, at moments a little apart, in a random order.
        if rng.random_bool(0.5) {
            children.reverse();
        }
        for child in &mut children {
            child.kill().expect("SIGKILL");
            std::thread::sleep(Duration::from_millis(rng.random_range(0..300)));
        }
        for child in &mut children {
            child.wait_within("a killed cluster process");
        }
        killed += 1;
        eprintln!("run {run} killed after {:.1}s", wait.as_secs_f64());
    }
    assert!(killed >= 3, "only {killed} kills before the backfill completed");
    let cuts = |state: &Path| std::fs::read_dir(state).map_or(0, |d| d.count());
    assert!(
        cuts(&states[0]) > 0 && cuts(&states[1]) > 0,
        "both processes wrote checkpoints before the last kill"
    );
    for mut child in start(killed) {
        let status = child.wait_within("a cluster process of the final run");
        assert!(
            status.success(),
            "the final run failed: {}",
            std::fs::read_to_string(dir.path().join("process-0.log")).unwrap_or_default()
        );
    }
    let logs = std::fs::read_to_string(dir.path().join("process-0.log")).unwrap_or_default();
    for process in 0..2 {
        let text = std::fs::read_to_string(dir.path().join(format!("process-{process}.log"))).unwrap_or_default();
        let written = text.matches("checkpoint written").count();
        eprintln!("process {process}: {written} checkpoints written over all runs");
        for line in text
            .lines()
            .filter(|l| l.contains("resumes from") || l.contains("afresh") || l.contains("removing"))
        {
            eprintln!("  {line}");
        }
    }
    assert!(
        logs.contains("the cluster resumes from a common checkpoint"),
        "restarts resumed from checkpoints: {logs}"
    );
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), expected.1, "summaries differ");
    assert!(std::fs::read(&dump).unwrap() == expected.0, "issue dumps differ after recovery");
    // Process 0 holds the views and writes the change feed: cut back at each restart.
    assert_change_feed_continues(&feed, &dump_issues(&expected.0));
    eprintln!("cluster test: {:.1}s", started.elapsed().as_secs_f64());
}

/// Starts a Kafka backfill of `source` as `processes` processes of `workers` workers
/// (checkpoints every 0.3 s), logging to `log-<run>-<process>`. Process 0's state directory is
/// `state`; the others share it, or with `separate` each has its own, empty, `state-<run>-<process>`.
fn start_shaped(dir: &Path, source: &[String], run: &str, processes: usize, workers: usize, separate: bool) -> Vec<std::process::Child> {
    let hostfile = dir.join(format!("hosts-{run}"));
    let hosts: String = (0..processes).map(|_| format!("127.0.0.1:{}\n", free_port())).collect();
    std::fs::write(&hostfile, hosts).unwrap();
    (0..processes)
        .map(|process| {
            let mut command = Command::new(BIN);
            command.arg("backfill").args(source);
            command.args(["--workers", &workers.to_string(), "--checkpoint-interval", "0.3"]);
            let state = match process {
                0 => dir.join("state"),
                _ if separate => dir.join(format!("state-{run}-{process}")),
                _ => dir.join("state"),
            };
            command.arg("--state-dir").arg(state);
            if processes > 1 {
                command.args(["--processes", &processes.to_string(), "--process", &process.to_string()]);
                command.arg("--hostfile").arg(&hostfile);
            }
            if process == 0 {
                command.arg("--dump-issues").arg(dir.join("dump.jsonl"));
                command.arg("--summary-json").arg(dir.join("summary.json"));
            }
            let log = std::fs::File::create(dir.join(format!("log-{run}-{process}"))).unwrap();
            command.stdout(Stdio::null()).stderr(Stdio::from(log));
            command.spawn().expect("start occurrent")
        })
        .collect()
}

/// The epochs of the cut parts in `state` written by `processes`-process runs.
fn cut_epochs(state: &Path, processes: usize) -> Vec<u64> {
    let suffix = format!("-{processes}-0.bin");
    let mut epochs: Vec<u64> = std::fs::read_dir(state)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|name| name.strip_suffix(&suffix)?.strip_prefix("cut-e")?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    epochs.sort_unstable();
    epochs
}

/// Lets a run write two cuts beyond `after` (the newest epoch before it), then SIGKILLs it.
fn kill_after_two_cuts(children: Vec<std::process::Child>, state: &Path, processes: usize, after: u64) {
    let started = Instant::now();
    let mut children = children;
    while cut_epochs(state, processes).iter().filter(|e| **e > after).count() < 2 {
        for child in &mut children {
            assert!(
                child.try_wait().unwrap().is_none(),
                "a {processes}-process run ended before its second cut; the input is too small"
            );
        }
        assert!(started.elapsed() < Duration::from_secs(120), "no cuts written");
        std::thread::sleep(Duration::from_millis(10));
    }
    for child in &mut children {
        child.kill().expect("SIGKILL");
    }
    for child in &mut children {
        child.wait_within("a killed cluster process");
    }
}

#[test]
fn a_cut_of_two_processes_restores_on_one_and_a_cut_of_one_on_two() {
    let dir = temp_dir();
    let (_broker, source, expected, _) = cluster_fixture(dir.path());
    let state = dir.path().join("state");
    let log = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();

    // Two processes of two workers, sharing a state directory, write cuts and are killed.
    kill_after_two_cuts(start_shaped(dir.path(), &source, "a", 2, 2, false), &state, 2, 0);
    let two = *cut_epochs(&state, 2).last().unwrap();
    // One process of one worker resumes from the two parts, writes its own cuts, is killed.
    kill_after_two_cuts(start_shaped(dir.path(), &source, "b", 1, 1, false), &state, 1, two);
    let loaded = log("log-b-0");
    assert!(
        loaded.lines().any(|l| l.contains("loaded checkpoint") && l.contains("-2-0.bin")),
        "the single process resumed from the two-process cut: {loaded}"
    );
    // Two processes of one worker resume from the one-process cut and finish; the new process
    // 1 has a state directory of its own, empty: the cut reaches it over the cluster.
    for mut child in start_shaped(dir.path(), &source, "c", 2, 1, true) {
        assert!(
            child.wait_within("the last run").success(),
            "the last run failed: {}",
            log("log-c-0")
        );
    }
    let resumed = log("log-c-0");
    assert!(
        resumed
            .lines()
            .any(|l| l.contains("the cluster resumes from a common checkpoint") && l.contains("-1-0.bin")),
        "the cluster resumed from the one-process cut: {resumed}"
    );
    let own_parts = std::fs::read_dir(dir.path().join("state-c-1"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with("-2-1.bin"))
        .count();
    assert!(own_parts > 0, "process 1 wrote its parts of the new cuts to its own directory");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("summary.json")).unwrap(),
        expected.1,
        "summaries differ"
    );
    assert!(
        std::fs::read(dir.path().join("dump.jsonl")).unwrap() == expected.0,
        "issue dumps differ after changing the process count"
    );
}

#[test]
fn a_process_that_outlives_the_deadline_is_killed_and_one_that_exits_is_not() {
    let mut hung = Command::new("sleep").arg("60").spawn().expect("start sleep");
    let started = Instant::now();
    assert_eq!(common::deadline::exit_within(&mut hung, Duration::from_millis(300)), None);
    assert!(started.elapsed() < Duration::from_secs(10), "the wait ended at the deadline");
    assert!(hung.try_wait().expect("poll").is_some(), "the hung process is gone");

    let mut quick = Command::new("true").spawn().expect("start true");
    let status = common::deadline::exit_within(&mut quick, Duration::from_secs(60));
    assert!(status.is_some_and(|s| s.success()));
}

#[test]
fn a_cluster_process_that_cannot_restore_its_part_ends_the_cluster_with_the_reason() {
    let dir = temp_dir();
    let broker = Broker::start();
    broker.create_topic("occ", 2);
    broker.create_topic("occ-dlq", 1);
    broker.produce("occ", &recovery_stream(dir.path(), 20_000));
    let log = |run: &str, process: usize| dir.path().join(format!("log-{run}-{process}"));
    let start = |run: &str| {
        let hostfile = hostfile(dir.path(), &format!("hosts-{run}"), 2);
        [0, 1].map(|process| {
            let mut command = broker.cluster_backfill("occ", &hostfile, process, &log(run, process));
            command.arg("--state-dir").arg(dir.path().join(format!("state-{process}")));
            command.args(["--checkpoint-interval", "0.3", "--connect-timeout", "10"]);
            command.spawn().unwrap()
        })
    };
    for mut child in start("a") {
        assert!(child.wait_within("a cluster process").success(), "the first run failed");
    }
    // Process 1's parts as another build would have written them: the same bytes under
    // another format version (src/checkpoint.rs: magic line, version, body, checksum).
    let magic = b"OCCURRENT-CHECKPOINT\n".len();
    let parts: Vec<_> = std::fs::read_dir(dir.path().join("state-1"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().unwrap().to_string_lossy().ends_with("-2-1.bin"))
        .collect();
    assert!(!parts.is_empty(), "process 1 wrote cut parts");
    let version: [u8; 4] = std::fs::read(&parts[0]).unwrap()[magic..magic + 4].try_into().unwrap();
    // Each part as `version` and `body`, with a valid checksum (xxh3 of all before it).
    let rewrite = |version: [u8; 4], body: Option<&[u8]>| {
        for path in &parts {
            let bytes = std::fs::read(path).unwrap();
            let mut rewritten = bytes[..magic].to_vec();
            rewritten.extend_from_slice(&version);
            rewritten.extend_from_slice(body.unwrap_or(&bytes[magic + 4..bytes.len() - 8]));
            let checksum = xxhash_rust::xxh3::xxh3_64(&rewritten);
            rewritten.extend_from_slice(&checksum.to_le_bytes());
            std::fs::write(path, rewritten).unwrap();
        }
    };
    rewrite(999u32.to_le_bytes(), None);
    // Process 1 cannot load its part: it says why and ends before it connects; process 0
    // gives up waiting for it after --connect-timeout (before, it waited forever).
    let statuses = common::deadline::exits_within(&mut start("b"), Duration::from_secs(120));
    let text = |process: usize| std::fs::read_to_string(log("b", process)).unwrap_or_default();
    common::deadline::assert_all_failed(&statuses, &[text(0), text(1)]);
    assert!(text(1).contains("a checkpoint of another build"), "{}", text(1));
    assert!(text(0).contains("--connect-timeout"), "{}", text(0));

    // Parts of this build whose body does not decode pass the start-up check (header,
    // checksum, version): process 1 fails while loading its part, after the cluster has
    // connected, says why and exits; process 0 stops on the lost connection.
    rewrite(version, Some(&[0xff; 16]));
    let statuses = common::deadline::exits_within(&mut start("c"), Duration::from_secs(120));
    let text = |process: usize| std::fs::read_to_string(log("c", process)).unwrap_or_default();
    common::deadline::assert_all_failed(&statuses, &[text(0), text(1)]);
    assert!(text(1).contains("cannot restore the cluster's checkpoint"), "{}", text(1));
    assert!(text(1).contains("cannot decode"), "{}", text(1));
    assert!(
        text(0).contains("lost the connection to another process of the cluster"),
        "{}",
        text(0)
    );
}

/// Files added to an input directory after a checkpoint, sorting after its files, are read
/// after them by the next run on the same state (it was refused: "the checkpoint was taken
/// reading …"), and the result is the one-shot run's; a file sorting before them is refused.
#[test]
fn files_added_to_an_input_directory_are_read_after_a_restart() {
    let dir = temp_dir();
    let args = ["--seed", "4", "--count", "3000", "--fingerprints", "300", "--projects", "3"];
    let (all, lines) = generate_lines(dir.path(), "all.jsonl", &args);
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    write_lines(&inputs, "a.jsonl", &lines[..1000]);
    write_lines(&inputs, "b.jsonl", &lines[1000..2000]);
    let state = dir.path().join("state");
    let with_state = ["--state-dir", state.to_str().unwrap()];
    let first = backfill_files(std::slice::from_ref(&inputs), 2, &with_state);
    assert_eq!(first.summary["lines_read"], 2000);
    write_lines(&inputs, "c.jsonl", &lines[2000..]);
    let second = backfill_files(std::slice::from_ref(&inputs), 2, &with_state);
    let expected = backfill_files(&[all], 2, &[]);
    assert_eq!(second.summary, expected.summary);
    assert!(second.dump_bytes == expected.dump_bytes, "the dump differs from the one-shot run's");
    // A file sorting first would move the checkpoint's positions: refused.
    write_lines(&inputs, "0.jsonl", &lines[..1]);
    let output = Command::new(BIN)
        .args(["backfill", "--input", inputs.to_str().unwrap(), "--dead-letter", "/dev/null"])
        .args(with_state)
        .output_within("occurrent backfill with a file added first");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("inputs may only be added after the checkpoint's"));
    // Standard input cannot be read again: refused with a state (every restart failed).
    let output = Command::new(BIN)
        .args(["backfill", "--input", "-", "--dead-letter", "/dev/null"])
        .args(with_state)
        .stdin(Stdio::null())
        .output_within("occurrent backfill of stdin with a state");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("standard input (--input -) cannot be resumed"));
}
