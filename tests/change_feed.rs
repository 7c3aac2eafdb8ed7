//! The change feed: replaying it reproduces the final issue view, and each change's `before`
//! is the previous change's `after` for that group.

mod common;

use common::*;

#[test]
fn replaying_the_change_feed_gives_the_final_view() {
    let dir = temp_dir();
    let input = generate_stream(
        dir.path(),
        "stream.jsonl",
        &[
            "--seed",
            "4",
            "--count",
            "20000",
            "--fingerprints",
            "300",
            "--projects",
            "5",
            "--span-seconds",
            "86400",
        ],
    );
    let feed = dir.path().join("feed.jsonl");
    let feed_arg = feed.display().to_string();
    // Small blocks: many epochs, so groups change many times.
    let run = backfill_files(&[input], 2, &["--block-lines", "500", "--change-feed", &feed_arg]);

    let changes = assert_change_feed_continues(&feed, &run.issues);
    assert!(
        changes > 2 * run.issues.len(),
        "groups changed in several epochs ({changes} changes)"
    );
}

/// A change feed that cannot be written (`/dev/full`: no space left) stops the run with the
/// reason at the first checkpoint after the write, instead of checkpointing past the lost
/// changes.
#[test]
fn a_change_feed_that_cannot_be_written_stops_the_run_before_a_checkpoint_covers_it() {
    let dir = temp_dir();
    let input = generate_stream(
        dir.path(),
        "stream.jsonl",
        &["--seed", "5", "--count", "5000", "--fingerprints", "50"],
    );
    let state = dir.path().join("state");
    let output = std::process::Command::new(BIN)
        .arg("backfill")
        .arg("--input")
        .arg(&input)
        .args([
            "--change-feed",
            "/dev/full",
            "--dead-letter",
            "/dev/null",
            "--checkpoint-interval",
            "0.05",
        ])
        .arg("--state-dir")
        .arg(&state)
        .arg("--dump-issues")
        .arg(dir.path().join("dump.jsonl"))
        .output()
        .expect("run occurrent");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a lost change feed must fail the run: {stderr}");
    assert!(
        stderr.contains("cannot write the change feeds before a checkpoint") && stderr.contains("No space left on device"),
        "{stderr}"
    );
    assert!(!dir.path().join("dump.jsonl").exists(), "no dump of a failed run");
}
