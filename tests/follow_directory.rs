//! `run --follow` on a directory: files created in it later are read after the followed file,
//! across restarts from checkpoints, with the one-shot run's result; a restart refuses a
//! replaced input and an added copy of an input read already.

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

/// SIGTERM: a clean stop, with a last checkpoint.
fn stop(mut server: Child) {
    let status = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(server.wait_within("occurrent run --follow after SIGTERM").success());
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
    let all = generate_stream(dir.path(), "all.jsonl", &args);
    let lines: Vec<String> = std::fs::read_to_string(&all).unwrap().lines().map(str::to_string).collect();
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
    let server = follow(&inputs, &state, port).stderr(Stdio::null()).spawn().unwrap();
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

    // Added while stopped: c.jsonl, and a rotated copy of b (b.jsonl.1) that would be read twice.
    write_lines(&inputs, "c.jsonl", &lines[2000..]);
    std::fs::copy(&b, inputs.join("b.jsonl.1")).unwrap();
    let text = refused(&inputs, &state);
    assert!(text.contains("starts with the first line of"), "{text}");
    std::fs::remove_file(inputs.join("b.jsonl.1")).unwrap();

    let port = free_port();
    let server = follow(&inputs, &state, port).stderr(Stdio::null()).spawn().unwrap();
    wait_for("the file added while stopped read", || lines_read(port) == Some(1000));
    stop(server);

    // The state is the one-shot run's.
    let resumed = backfill_files(std::slice::from_ref(&inputs), 2, &["--state-dir", state.to_str().unwrap()]);
    let expected = backfill_files(&[all], 2, &[]);
    assert_eq!(resumed.summary, expected.summary);
    assert!(
        resumed.dump_bytes == expected.dump_bytes,
        "the dump differs from the one-shot run's"
    );
}
