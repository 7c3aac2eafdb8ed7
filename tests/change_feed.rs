//! The change feed: replaying it reproduces the final issue view, and each change's `before`
//! is the previous change's `after` for that group.

mod common;

use std::collections::HashMap;

use common::*;
use serde_json::Value;

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

    let mut state: HashMap<String, Value> = HashMap::new();
    let mut changes = 0;
    for line in std::fs::read_to_string(&feed).unwrap().lines() {
        let change: Value = serde_json::from_str(line).unwrap();
        let id = change["group_id"].as_str().unwrap().to_string();
        assert_eq!(
            state.get(&id).unwrap_or(&Value::Null),
            &change["before"],
            "change {changes} of group {id} does not continue the last"
        );
        assert_ne!(change["before"], change["after"], "no-op changes are not sent");
        state.insert(id, change["after"].clone());
        changes += 1;
    }
    assert!(
        changes > 2 * run.issues.len(),
        "groups changed in several epochs ({changes} changes)"
    );
    assert_eq!(state.len(), run.issues.len());
    for issue in &run.issues {
        let after = &state[issue["id"].as_str().unwrap()];
        assert_eq!(after["status"], issue["status"]);
        assert_eq!(after["substatus"], issue["substatus"]);
        assert_eq!(after["timesSeen"].to_string(), issue["count"].as_str().unwrap());
        assert_eq!(after["lastSeen"], issue["lastSeen"]);
        assert_eq!(after["title"], issue["title"]);
    }
}
