//! Checks the reference model (`tests/reference/`) itself against hand-derived expectations,
//! one rule of `docs/semantics.md` at a time. Every expected value below was worked out by hand
//! from the specification, not by running the model.

#[path = "../reference/mod.rs"]
mod reference;

mod building_blocks;
mod dump;
mod duplicates_and_decoding;
mod gate_and_quota;
mod group_updates;
mod status_changes;

use reference::*;
use serde_json::{json, Value};

/// 2024-01-01T12:00:00Z
const T0: i64 = 1_704_110_400;

fn uuid(n: u64) -> String {
    format!("{n:032x}")
}

/// A minimal valid occurrence; `time` is the `detection_time` value.
fn occ(n: u64, project: u64, fp: &[&str], type_id: i64, time: Value) -> Value {
    json!({
        "id": uuid(n),
        "event_id": uuid(1_000_000 + n),
        "project_id": project,
        "fingerprint": fp,
        "issue_title": format!("title {n}"),
        "subtitle": format!("sub {n}"),
        "type": type_id,
        "detection_time": time,
    })
}

/// A status change.
fn sc(id: &str, project: u64, fp: &[&str], status: Value, substatus: Value) -> Value {
    json!({
        "payload_type": "status_change",
        "id": id,
        "project_id": project,
        "fingerprint": fp,
        "new_status": status,
        "new_substatus": substatus,
    })
}

fn with(mut v: Value, key: &str, val: Value) -> Value {
    v.as_object_mut().unwrap().insert(key.to_string(), val);
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

/// An inline event for occurrence `n` of `project` with extra keys.
fn event(n: u64, project: u64, extra: Value) -> Value {
    let mut e = json!({"event_id": uuid(1_000_000 + n), "project_id": project});
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

fn t(offset_secs: i64) -> Value {
    json!(T0 + offset_secs)
}

fn check_invariant(s: &Summary) {
    assert_eq!(
        s.lines_read,
        s.occurrences_accepted + s.status_changes_applied + s.duplicates + s.dropped_noise + s.dropped_quota + s.dead_lettered,
        "every non-blank line has exactly one outcome: {s:?}"
    );
    assert!(s.groups_created <= s.occurrences_accepted);
}

fn run_lines(lines: &[String], window: i64) -> Outcome {
    let out = reference_run_detailed(lines, window);
    check_invariant(&out.summary);
    assert_eq!(out.summary.dead_lettered as usize, out.dead_letters.len());
    assert_eq!(out.summary.groups_created as usize, out.issues.len());
    let (issues, summary) = reference_run(lines, window);
    assert_eq!(issues, out.issues);
    assert_eq!(summary, out.summary);
    out
}

fn run_w(values: &[Value], window: i64) -> Outcome {
    let lines: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    run_lines(&lines, window)
}

fn run(values: &[Value]) -> Outcome {
    run_w(values, 600)
}

fn issue(out: &Outcome, id: u64) -> &Value {
    out.issues.iter().find(|i| i["id"] == json!(id.to_string())).expect("issue exists")
}

#[allow(clippy::too_many_arguments)]
fn summary(lines_read: u64, accepted: u64, applied: u64, dup: u64, noise: u64, quota: u64, created: u64, dead: u64) -> Summary {
    Summary {
        lines_read,
        occurrences_accepted: accepted,
        status_changes_applied: applied,
        duplicates: dup,
        dropped_noise: noise,
        dropped_quota: quota,
        groups_created: created,
        dead_lettered: dead,
    }
}
