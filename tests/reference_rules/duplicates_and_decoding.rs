//! §4.1 duplicates, §5 identifiers and §2 decoding.

use super::*;

#[test]
fn duplicates_within_the_window() {
    let a = occ(1, 1, &["d"], 1, t(0));
    let mut upper = a.clone();
    upper["id"] = json!("{00000000-0000-0000-0000-000000000001}".to_uppercase());
    let mut urn = a.clone();
    urn["id"] = json!("urn:uuid:00000000-0000-0000-0000-000000000001");
    let other_project = with(with(occ(1, 2, &["d"], 1, t(0)), "project_id", json!(2)), "event_id", json!(uuid(9)));
    let out = run(&[a.clone(), a.clone(), upper, urn, other_project]);
    assert_eq!(out.summary, summary(5, 2, 0, 3, 0, 0, 2, 0));
    assert_eq!(issue(&out, 1)["count"], json!("1"));
    // a status change with an occurrence's id is a duplicate too (one memory per project)
    let out = run(&[
        a.clone(),
        sc("00000000-0000-0000-0000-000000000001", 1, &["d"], json!(1), json!(null)),
    ]);
    assert_eq!(out.summary, summary(2, 1, 0, 1, 0, 0, 1, 0));
    // status changes: the second one with the same id is a duplicate
    let s1 = sc("s", 1, &["d"], json!(1), json!(null));
    let out = run(&[a.clone(), s1.clone(), s1.clone()]);
    assert_eq!(out.summary, summary(3, 1, 1, 1, 0, 0, 1, 0));
}

#[test]
fn duplicates_after_the_window() {
    let a = |off: i64| occ(1, 1, &["w"], 1, t(off));
    let b = |off: i64| occ(2, 1, &["w"], 1, t(off));
    // B raises the watermark to 601 s: A (time 0) is older than 601 − 600 → forgotten
    let out = run(&[a(0), b(601), a(0)]);
    assert_eq!(out.summary, summary(3, 3, 0, 0, 0, 0, 1, 0));
    assert_eq!(issue(&out, 1)["count"], json!("3"));
    // exactly 600 s: still remembered
    let out = run(&[a(0), b(600), a(0)]);
    assert_eq!(out.summary, summary(3, 2, 0, 1, 0, 0, 1, 0));
    // a duplicate still raises the watermark
    let out = run(&[a(0), a(10_000), b(0), a(0)]);
    assert_eq!(out.summary, summary(4, 3, 0, 1, 0, 0, 1, 0));
    // an occurrence older than the window is remembered and forgotten by the next record
    let c = |off: i64| occ(3, 1, &["w"], 1, t(off));
    let out = run(&[b(1000), c(0), c(0)]);
    assert_eq!(out.summary, summary(3, 3, 0, 0, 0, 0, 1, 0));
    // the window is a parameter
    let out = run_w(&[a(0), b(61), a(0)], 60);
    assert_eq!(out.summary, summary(3, 3, 0, 0, 0, 0, 1, 0));
    let out = run_w(&[a(0), b(60), a(0)], 60);
    assert_eq!(out.summary, summary(3, 2, 0, 1, 0, 0, 1, 0));
    let out = run_w(&[a(0), a(0)], 0);
    assert_eq!(out.summary, summary(2, 1, 0, 1, 0, 0, 1, 0));
    // another project's watermark does not matter
    let other = with(occ(9, 2, &["z"], 1, t(5000)), "project_id", json!(2));
    let out = run(&[a(0), other, a(0)]);
    assert_eq!(out.summary, summary(3, 2, 0, 1, 0, 0, 2, 0));
}

#[test]
fn status_change_dedup_uses_the_watermark() {
    let s = sc("s", 1, &["w"], json!(1), json!(null));
    // s is remembered at watermark 0 s; an occurrence at 700 s forgets it
    let out = run(&[occ(1, 1, &["w"], 1, t(0)), s.clone(), occ(2, 1, &["w"], 1, t(700)), s.clone()]);
    assert_eq!(out.summary, summary(4, 2, 2, 0, 0, 0, 1, 0));
    // at 600 s it is still remembered
    let out = run(&[occ(1, 1, &["w"], 1, t(0)), s.clone(), occ(2, 1, &["w"], 1, t(600)), s.clone()]);
    assert_eq!(out.summary, summary(4, 2, 1, 1, 0, 0, 1, 0));
    // a status change before any occurrence uses watermark 0 (1970); the group is not found,
    // the id is remembered anyway, and forgotten once an occurrence raises the watermark
    let out = run(&[s.clone(), s.clone(), occ(1, 1, &["w"], 1, t(0)), s.clone()]);
    assert_eq!(out.summary, summary(4, 1, 1, 1, 0, 0, 1, 1));
    // a rejected status change is remembered too
    let bad = sc("b", 1, &["w"], json!(0), json!(null));
    let out = run(&[occ(1, 1, &["w"], 1, t(0)), bad.clone(), bad.clone()]);
    assert_eq!(out.summary, summary(3, 1, 0, 1, 0, 0, 1, 1));
    // a noise-dropped occurrence is remembered too
    let n = occ(5, 1, &["nz"], 1006, t(0));
    let out = run(&[n.clone(), n.clone()]);
    assert_eq!(out.summary, summary(2, 0, 0, 1, 1, 0, 0, 0));
}

// ---------------------------------------------------------------------------------------------
// §5 identifiers
// ---------------------------------------------------------------------------------------------

#[test]
fn short_ids_per_project_and_global_ids() {
    let mut lines = Vec::new();
    for n in 1..=33u64 {
        let fp = format!("s{n}");
        lines.push(occ(n, 1, &[&fp], 4001, t(0)));
        if n == 10 {
            lines.push(with(occ(100, 7, &["s"], 4001, t(0)), "project_id", json!(7)));
        }
    }
    let out = run(&lines);
    assert_eq!(out.summary.groups_created, 34);
    let short = |id: u64| issue(&out, id)["shortId"].as_str().unwrap().to_string();
    assert_eq!(short(1), "PROJECT-1-1");
    assert_eq!(short(10), "PROJECT-1-A");
    assert_eq!(short(11), "PROJECT-7-1");
    assert_eq!(short(12), "PROJECT-1-B"); // project 1's 11th group
    assert_eq!(short(19), "PROJECT-1-J"); // 18th
    assert_eq!(short(32), "PROJECT-1-Z"); // 31st
    assert_eq!(short(33), "PROJECT-1-10"); // 32nd
    assert_eq!(short(34), "PROJECT-1-11"); // 33rd
    let ids: Vec<Value> = out.issues.iter().map(|i| i["id"].clone()).collect();
    let expected: Vec<Value> = (1..=34).map(|i: u64| json!(i.to_string())).collect();
    assert_eq!(ids, expected, "dump in numeric id order");
    assert_eq!(issue(&out, 11)["project"], json!({"id": "7", "slug": "project-7"}));
}

// ---------------------------------------------------------------------------------------------
// §2 decoding
// ---------------------------------------------------------------------------------------------

#[test]
fn accepted_input_forms() {
    let base = |n: u64, fp: &str| occ(n, 1, &[fp], 4001, t(0));
    let lines = vec![
        with(base(1, "a"), "payload_type", json!("occurrence")),
        with(base(2, "b"), "payload_type", json!(null)),
        with(base(3, "c"), "id", json!("{00000000-0000-0000-0000-0000000000AB}")),
        with(base(4, "d"), "id", json!(format!("urn:uuid:{}", uuid(0xcd)))),
        // event.event_id alone
        with(without(base(5, "e"), "event_id"), "event", event(5, 1, json!({}))),
        // both, equal after normalisation
        with(
            with(base(6, "f"), "event_id", json!("00000000-0000-0000-0000-0000000F4246")),
            "event",
            event(6, 1, json!({})),
        ),
        // event_id null, event.event_id present
        with(with(base(7, "g"), "event_id", json!(null)), "event", event(7, 1, json!({}))),
        // extra and whitelisted keys are ignored
        with(
            with(base(8, "h"), "evidence_data", json!({"x": 1})),
            "event",
            event(
                8,
                1,
                json!({"tags": {"a": "b"}, "trace_id": "abc", "platform": "python", "unknown": [1]}),
            ),
        ),
        // fingerprint of several identical strings, unicode
        occ(9, 1, &["ü", "ü"], 4001, t(0)),
        // project 0 is a valid non-negative id
        with(occ(10, 0, &["z"], 4001, t(0)), "project_id", json!(0)),
    ];
    let out = run(&lines);
    assert_eq!(out.dead_letters, vec![]);
    assert_eq!(out.summary, summary(10, 10, 0, 0, 0, 0, 10, 0));
    assert_eq!(issue(&out, 10)["shortId"], json!("PROJECT-0-1"));
    // normalised ids dedup against each other
    let out = run(&[
        with(base(1, "a"), "id", json!("00000000-0000-0000-0000-0000000000ab")),
        with(base(2, "a"), "id", json!("{00000000-0000-0000-0000-0000000000AB}")),
    ]);
    assert_eq!(out.summary.duplicates, 1);
}

#[test]
fn malformed_lines_are_dead_lettered() {
    let good = || occ(1, 1, &["a"], 1, t(0));
    let sc_good = || sc("s", 1, &["a"], json!(1), json!(null));
    let values: Vec<(Value, &str)> = vec![
        (without(good(), "issue_title"), "missing field issue_title"),
        (without(good(), "subtitle"), "missing field subtitle"),
        (with(good(), "subtitle", json!(null)), "missing field subtitle"),
        (without(good(), "fingerprint"), "missing field fingerprint"),
        (without(good(), "id"), "missing field id"),
        (without(good(), "project_id"), "missing field project_id"),
        (without(good(), "type"), "missing field type"),
        (without(good(), "detection_time"), "missing field detection_time"),
        (without(good(), "event_id"), "missing field event_id"),
        (with(good(), "fingerprint", json!([])), "empty fingerprint"),
        (with(good(), "fingerprint", json!(["a", 1])), "non-string fingerprint entry"),
        (with(good(), "fingerprint", json!("a")), "fingerprint not an array"),
        (with(good(), "type", json!(9999)), "unknown group type 9999"),
        (with(good(), "type", json!("1")), "type as string"),
        (with(good(), "type", json!(1.0)), "type as float"),
        (with(good(), "type", json!(-1)), "negative type"),
        (with(good(), "id", json!("xyz")), "invalid id \"xyz\": not a UUID"),
        (with(good(), "id", json!("0123456789abcdef0123456789abcdeg")), "non-hex id"),
        (with(good(), "id", json!(1)), "numeric id"),
        (with(good(), "event_id", json!("nope")), "bad event_id"),
        (with(good(), "project_id", json!(1.5)), "float project_id"),
        (with(good(), "project_id", json!(1.0)), "float project_id 1.0"),
        (with(good(), "project_id", json!("1")), "string project_id"),
        (with(good(), "project_id", json!(-1)), "negative project_id"),
        (with(good(), "issue_title", json!(5)), "non-string issue_title"),
        (with(good(), "subtitle", json!(["x"])), "non-string subtitle"),
        (with(good(), "payload_type", json!("bogus")), "unknown payload_type \"bogus\""),
        (with(good(), "payload_type", json!(5)), "non-string payload_type"),
        (
            with(good(), "event", event(1, 2, json!({}))),
            "event.project_id 2 differs from project_id 1",
        ),
        (
            with(good(), "event", json!({"event_id": uuid(1_000_001)})),
            "event without project_id",
        ),
        (
            with(good(), "event", json!({"event_id": uuid(1_000_001), "project_id": "1"})),
            "event.project_id as string",
        ),
        (with(good(), "event", json!("str")), "event not an object"),
        (
            with(good(), "event", event(2, 1, json!({}))),
            "event_id differs from event.event_id",
        ),
        (
            with(good(), "event", json!({"event_id": "bad", "project_id": 1})),
            "bad event.event_id",
        ),
        (
            with(good(), "event", event(1, 1, json!({"timestamp": "garbage"}))),
            "bad event.timestamp",
        ),
        (
            with(good(), "event", event(1, 1, json!({"user": "bob"}))),
            "event.user not an object",
        ),
        (
            with(good(), "event", event(1, 1, json!({"release": 1}))),
            "event.release not a string",
        ),
        (
            with(good(), "event", event(1, 1, json!({"environment": ["prod"]}))),
            "event.environment not a string",
        ),
        (
            with(good(), "detection_time", json!("2024-01-01T12:00:00+00:00")),
            "offset in detection_time",
        ),
        (with(good(), "detection_time", json!("2024-13-01T00:00:00")), "month 13"),
        (with(good(), "detection_time", json!("2023-02-29T00:00:00")), "no leap day in 2023"),
        (with(good(), "detection_time", json!("2024-01-01 12:00:00")), "space separator"),
        (
            with(good(), "detection_time", json!("2024-01-01T12:00:00.1234567")),
            "7 fraction digits",
        ),
        (with(good(), "detection_time", json!(true)), "boolean detection_time"),
        (with(good(), "detection_time", json!(1e300)), "out-of-range detection_time"),
        (with(good(), "initial_issue_priority", json!(30)), "priority 30"),
        (with(good(), "priority", json!("high")), "priority as string"),
        (
            with(with(good(), "initial_issue_priority", json!(25)), "priority", json!(10)),
            "second priority key invalid",
        ),
        (with(good(), "level", json!(5)), "non-string level"),
        (with(good(), "culprit", json!(5)), "non-string culprit"),
        (without(sc_good(), "new_status"), "status change without new_status"),
        (with(sc_good(), "new_status", json!(1.5)), "float new_status"),
        (with(sc_good(), "new_substatus", json!("x")), "string new_substatus"),
        (with(sc_good(), "id", json!(5)), "numeric status change id"),
        (without(sc_good(), "id"), "status change without id"),
        (with(sc_good(), "fingerprint", json!([])), "status change with empty fingerprint"),
        (
            with(sc_good(), "fingerprint", json!([1])),
            "status change with non-string fingerprint",
        ),
        (with(sc_good(), "project_id", json!(-3)), "status change with negative project_id"),
    ];
    let mut lines: Vec<String> = vec![
        r#"{"id": "#.to_string(),
        "[1,2]".to_string(),
        "\"str\"".to_string(),
        "null".to_string(),
        "not json at all".to_string(),
        "{}".to_string(),
    ];
    let raw = lines.len();
    for (v, _) in &values {
        lines.push(v.to_string());
    }
    // blank lines are not records
    lines.push(String::new());
    lines.push("   ".to_string());
    lines.push("\t \r".to_string());
    // rejected lines are not remembered: the same id is processed normally afterwards
    lines.push(good().to_string());
    let out = run_lines(&lines, 600);
    let total_bad = (raw + values.len()) as u64;
    for (i, (_, what)) in values.iter().enumerate() {
        assert!(
            out.dead_letters.iter().any(|d| d.line == raw + i),
            "line {} ({what}) must be dead-lettered",
            raw + i
        );
    }
    assert_eq!(out.summary, summary(total_bad + 1, 1, 0, 0, 0, 0, 1, total_bad));
    // reasons that the specification spells out
    let reason = |i: usize| out.dead_letters.iter().find(|d| d.line == raw + i).unwrap().reason.clone();
    assert_eq!(reason(0), "missing field issue_title");
    assert_eq!(reason(12), "unknown group type 9999");
    assert_eq!(reason(16), "invalid id \"xyz\": not a UUID");
    assert_eq!(reason(26), "unknown payload_type \"bogus\"");
    assert_eq!(reason(28), "event.project_id 2 differs from project_id 1");
    assert!(out.dead_letters[0].reason.starts_with("invalid JSON"), "{:?}", out.dead_letters[0]);
}

#[test]
fn decode_failures_do_not_touch_project_state() {
    // a rejected occurrence with a far-future time must not raise the watermark
    let a = occ(1, 1, &["w"], 1, t(0));
    let bad = with(occ(2, 1, &["w"], 9999, t(100_000)), "issue_title", json!("x"));
    let out = run(&[a.clone(), bad, a.clone()]);
    assert_eq!(out.summary, summary(3, 1, 0, 1, 0, 0, 1, 1));
    // nor feed the noise gate
    let n = |i: u64| occ(i, 1, &["nz"], 1006, t(0));
    let out = run(&[n(1), with(n(2), "level", json!(1)), n(3), n(4)]);
    assert_eq!(out.summary, summary(4, 1, 0, 0, 2, 0, 1, 1));
}
