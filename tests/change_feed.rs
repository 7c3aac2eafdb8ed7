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

    let changes = assert_change_feed_continues(&std::fs::read_to_string(&feed).unwrap(), &run.issues);
    assert!(
        changes > 2 * run.issues.len(),
        "groups changed in several epochs ({changes} changes)"
    );
}
