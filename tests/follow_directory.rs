//! `run --follow` on a directory: files created in it later are read after the followed file,
//! across restarts from checkpoints, with the one-shot run's result; a restart refuses a
//! replaced input, and leaves out (following) or refuses (not following) an added copy of an
//! input read already.

#[path = "common/broker.rs"]
mod broker;
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use broker::{metric, wait_for};
use common::*;

/// `occurrent run --follow --input DIRECTORY` with checkpoints in `state`, on a free port.
fn follow(directory: &Path, state: &Path, port: u16) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["run", "--follow", "--workers", "2", "--checkpoint-interval", "0.2"])
        .arg("--input")
        .arg(directory)
        .arg("--state-dir")
        .arg(state)
        .args(["--dead-letter", "/dev/null", "--listen", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

fn lines_read(port: u16) -> Option<i64> {
    metric(port, "occurrent_messages_consumed_total")
}

/// A server that a failing test does not leave running (idle followers outlived their test).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(directory: &Path, state: &Path, port: u16) -> Running {
    Running(follow(directory, state, port).stderr(Stdio::null()).spawn().unwrap())
}

/// SIGTERM: a clean stop, with a last checkpoint.
fn stop(mut server: Running) {
    let status = Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(server.0.wait_within("occurrent run --follow after SIGTERM").success());
}

/// A restart that must be refused, and what it says.
fn refused(directory: &Path, state: &Path) -> String {
    let output = follow(directory, state, free_port())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .output_within("a refused occurrent run --follow");
    assert!(!output.status.success(), "the restart was not refused");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Before this change a followed directory's new files were not read (only the file sorting
/// last at start was followed), an empty one was refused, a restart with files added was
/// refused, and a replaced input was read on at the checkpoint's offset when a line started
/// there.
#[test]
fn a_followed_directory_reads_new_files_and_restarts_with_the_one_shot_result() {
    let dir = temp_dir();
    let args = ["--seed", "6", "--count", "3000", "--fingerprints", "300", "--projects", "3"];
    let (all, lines) = generate_lines(dir.path(), "all.jsonl", &args);
    let (inputs, state) = (dir.path().join("in"), dir.path().join("state"));
    std::fs::create_dir(&inputs).unwrap();

    // An output in the directory would be read as an input: refused.
    let output = Command::new(BIN)
        .args(["run", "--follow", "--input", inputs.to_str().unwrap()])
        .args(["--dead-letter", inputs.join("dead.jsonl").to_str().unwrap()])
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .output_within("occurrent run writing into its input");
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("is in the followed input directory"), "{text}");

    // Started on the empty directory, it waits for a file.
    let port = free_port();
    let server = start(&inputs, &state, port);
    wait_for("the server to start", || lines_read(port) == Some(0));
    write_lines(&inputs, "a.jsonl", &lines[..1000]);
    wait_for("the first file read", || lines_read(port) == Some(1000));
    let b = write_lines(&inputs, "b.jsonl", &lines[1000..2000]);
    wait_for("the file created since read", || lines_read(port) == Some(2000));
    stop(server);

    // b.jsonl replaced by other content: the checkpoint's position in it means nothing.
    let kept = dir.path().join("b.kept");
    std::fs::rename(&b, &kept).unwrap();
    write_lines(&inputs, "b.jsonl", &lines[1001..2000]);
    let text = refused(&inputs, &state);
    assert!(text.contains("is not the file the checkpoint was reading"), "{text}");
    std::fs::rename(&kept, &b).unwrap();

    // Added while stopped: c.jsonl, and a rotated copy of b (b.jsonl.1), left out as the
    // running process leaves it out (its lines would be read twice).
    write_lines(&inputs, "c.jsonl", &lines[2000..]);
    let copy = inputs.join("b.jsonl.1");
    std::fs::copy(&b, &copy).unwrap();
    let port = free_port();
    let server = start(&inputs, &state, port);
    wait_for("the file added while stopped read", || lines_read(port) == Some(1000));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(lines_read(port), Some(1000), "the copy was read");
    stop(server);

    // A backfill of the same state and directory (not following) refuses the copy (here as
    // an input out of order: it sorts before c.jsonl).
    let output = Command::new(BIN)
        .args(["backfill", "--input", inputs.to_str().unwrap(), "--dead-letter", "/dev/null"])
        .args(["--state-dir", state.to_str().unwrap()])
        .output_within("occurrent backfill with a copy added");
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(
        text.contains("the checkpoint was taken reading") && text.contains("b.jsonl.1"),
        "{text}"
    );
    std::fs::remove_file(&copy).unwrap();

    // The state is the one-shot run's.
    let resumed = backfill_files(std::slice::from_ref(&inputs), 2, &["--state-dir", state.to_str().unwrap()]);
    let expected = backfill_files(&[all], 2, &[]);
    assert_eq!(resumed.summary, expected.summary);
    assert!(
        resumed.dump_bytes == expected.dump_bytes,
        "the dump differs from the one-shot run's"
    );
}

/// A followed file rotated by renaming (`a.jsonl` → `a.jsonl.1`, a new `a.jsonl`; then again,
/// to an empty file) while the process runs, then a restart: the restart reads on in the new
/// file, and leaves the renamed ones out (they were read already). Before, the checkpoint kept the old file's end as the
/// position (an empty block after the rotation did not move it) and the restart read the new
/// file from there, and the renamed file was taken as an added input and read again.
#[test]
fn a_restart_after_a_rotation_reads_on_in_the_new_file_and_not_the_renamed_one() {
    let dir = temp_dir();
    let args = ["--seed", "7", "--count", "1500", "--fingerprints", "200", "--projects", "2"];
    let (all, lines) = generate_lines(dir.path(), "all.jsonl", &args);
    let (inputs, state) = (dir.path().join("in"), dir.path().join("state"));
    std::fs::create_dir(&inputs).unwrap();
    let a = write_lines(&inputs, "a.jsonl", &lines[..500]);

    let port = free_port();
    let server = start(&inputs, &state, port);
    wait_for("the first file read", || lines_read(port) == Some(500));
    std::fs::rename(&a, inputs.join("a.jsonl.1")).unwrap();
    write_lines(&inputs, "a.jsonl", &lines[500..1000]);
    wait_for("the rotated file read", || lines_read(port) == Some(1000));
    // Rotated again, to an empty file: the reader moves to it after a second, with no line
    // to read; the checkpoint must then stand at its start.
    std::fs::rename(&a, inputs.join("a.jsonl.0")).unwrap();
    std::fs::write(&a, "").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2000));
    stop(server);

    let mut file = std::fs::OpenOptions::new().append(true).open(&a).unwrap();
    std::io::Write::write_all(&mut file, (lines[1000..].join("\n") + "\n").as_bytes()).unwrap();
    let port = free_port();
    let server = start(&inputs, &state, port);
    wait_for("the lines appended while stopped read", || lines_read(port) == Some(500));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(lines_read(port), Some(500), "a renamed file was read again");
    let expected = backfill_files(&[all], 2, &[]);
    let accepted = metric(port, "occurrent_occurrences_accepted_total");
    assert_eq!(accepted, expected.summary["occurrences_accepted"].as_i64());
    stop(server);
}
