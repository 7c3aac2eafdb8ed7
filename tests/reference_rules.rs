//! Checks the reference model (`tests/reference/`) itself against hand-derived expectations,
//! one rule of `docs/semantics.md` at a time. Every expected value below was worked out by hand
//! from the specification, not by running the model.

mod reference;

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

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

#[test]
fn md5_matches_rfc1321_and_padding_boundaries() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "d41d8cd98f00b204e9800998ecf8427e"),
        (b"a", "0cc175b9c0f1b6a831c399e269772661"),
        (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
        (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        (b"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
        (
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
            "57edf4a22be3c955ac49da2e2107b67a",
        ),
        (b"The quick brown fox jumps over the lazy dog", "9e107d9d372bb6826bd81d3542a419d6"),
    ];
    for (input, expected) in cases {
        assert_eq!(md5_hex(input), *expected, "md5({:?})", String::from_utf8_lossy(input));
    }
    // 'a' repeated n times, around the 56/64-byte padding boundaries (values from md5sum).
    let boundaries = [
        (55, "ef1772b6dff9a122358552954ad0df65"),
        (56, "3b0c8ac703f828b04c6c197006d17218"),
        (63, "b06521f39153d618550606be297466d5"),
        (64, "014842d480b571495a4a0363793f7367"),
        (65, "c743a45e0d2e6a95cb859adae0248435"),
        (119, "8a7bd0732ed6a28ce75f6dabc90e1613"),
        (120, "5f61c0ccad4cac44c75ff505e1f1e537"),
    ];
    for (n, expected) in boundaries {
        assert_eq!(md5_hex(&vec![b'a'; n]), expected, "md5('a' x {n})");
    }
    // UTF-8 bytes are hashed: "é" is c3 a9.
    assert_eq!(md5_hex("é".as_bytes()), md5_hex(&[0xc3, 0xa9]));
}

#[test]
fn uuid_forms() {
    let canon = "0123456789abcdef0123456789abcdef";
    for form in [
        "0123456789abcdef0123456789abcdef",
        "0123456789ABCDEF0123456789ABCDEF",
        "01234567-89ab-cdef-0123-456789abcdef",
        "01234567-89AB-CDEF-0123-456789ABCDEF",
        "{01234567-89ab-cdef-0123-456789abcdef}",
        "{0123456789abcdef0123456789abcdef}",
        "urn:uuid:01234567-89ab-cdef-0123-456789abcdef",
        "urn:uuid:{01234567-89ab-cdef-0123-456789abcdef}",
        // Python drops every hyphen and strips braces without pairing them.
        "0123456789-abcdef-0123-456789abcdef",
        "{01234567-89ab-cdef-0123-456789abcdef",
    ] {
        assert_eq!(parse_uuid(form).as_deref(), Some(canon), "{form}");
    }
    for bad in [
        "",
        "xyz",
        "0123456789abcdef0123456789abcde",   // 31 digits
        "0123456789abcdef0123456789abcdef0", // 33 digits
        "0123456789abcdef0123456789abcdeg",  // not hex
        " 0123456789abcdef0123456789abcdef", // Python does not trim whitespace
    ] {
        assert_eq!(parse_uuid(bad), None, "{bad:?}");
    }
}

#[test]
fn time_parsing_and_formatting() {
    assert_eq!(format_time(0), "1970-01-01T00:00:00.000000Z");
    assert_eq!(format_time(-1), "1969-12-31T23:59:59.999999Z");
    assert_eq!(format_time(T0 * 1_000_000 + 123_456), "2024-01-01T12:00:00.123456Z");
    assert_eq!(format_time(951_782_400 * 1_000_000), "2000-02-29T00:00:00.000000Z");
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2024, 1, 1), 19_723);
    assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    assert_eq!(civil_from_days(-1), (1969, 12, 31));

    let us = |s: &str, off: bool| parse_time_str(s, off);
    assert_eq!(us("2024-01-01T12:00:00", false), Some(T0 * 1_000_000));
    assert_eq!(us("2024-01-01T12:00:00Z", false), Some(T0 * 1_000_000));
    assert_eq!(us("2024-01-01T12:00:00.5", false), Some(T0 * 1_000_000 + 500_000));
    assert_eq!(us("2024-01-01T12:00:00.000001Z", false), Some(T0 * 1_000_000 + 1));
    assert_eq!(us("2024-01-01T14:00:00+02:00", true), Some(T0 * 1_000_000));
    assert_eq!(us("2024-01-01T11:30:00-00:30", true), Some(T0 * 1_000_000));
    assert_eq!(us("2024-01-01T14:00:00+02:00", false), None, "offsets only for event.timestamp");
    for bad in [
        "2024-01-01T12:00:00.",
        "2024-01-01T12:00:00.1234567",
        "2024-01-01 12:00:00",
        "2024-01-01T12:00",
        "2024-1-01T12:00:00",
        "2023-02-29T00:00:00",
        "2024-04-31T00:00:00",
        "2024-13-01T00:00:00",
        "2024-01-01T24:00:00",
        "2024-01-01T12:60:00",
        "2024-01-01T12:00:60",
        "2024-01-01T12:00:00z",
        "2024-01-01T12:00:00ZZ",
        "2024-01-01T12:00:00Z+01:00",
        "2024-01-01T12:00:00+0100",
        "0000-01-01T00:00:00",
        " 2024-01-01T12:00:00",
    ] {
        assert_eq!(us(bad, true), None, "{bad:?}");
    }
    assert_eq!(secs_f64_to_us(1_704_110_400.25), Some(T0 * 1_000_000 + 250_000));
    assert_eq!(secs_f64_to_us(1_704_110_400.000001), Some(T0 * 1_000_000 + 1));
    assert_eq!(secs_f64_to_us(-0.5), Some(-500_000));
    // 2^-21 s = 0.476837158203125 µs → 0; 3·2^-21 s = 1.430511474609375 µs → 1
    assert_eq!(secs_f64_to_us(2f64.powi(-21)), Some(0));
    assert_eq!(secs_f64_to_us(3.0 * 2f64.powi(-21)), Some(1));
    // exact ties (SPEC interpretation: to even): 1/128 s = 7812.5 µs, 3/128 s = 23437.5 µs
    assert_eq!(secs_f64_to_us(1.0 / 128.0), Some(7812));
    assert_eq!(secs_f64_to_us(3.0 / 128.0), Some(23438));
    assert_eq!(secs_f64_to_us(-1.0 / 128.0), Some(-7812));
}

#[test]
fn base32_short_ids() {
    assert_eq!(base32(1), "1");
    assert_eq!(base32(9), "9");
    assert_eq!(base32(10), "A");
    assert_eq!(base32(18), "J"); // no I
    assert_eq!(base32(20), "M"); // no L
    assert_eq!(base32(22), "P"); // no O
    assert_eq!(base32(27), "V"); // no U
    assert_eq!(base32(31), "Z");
    assert_eq!(base32(32), "10");
    assert_eq!(base32(33), "11");
    assert_eq!(base32(1023), "ZZ");
    assert_eq!(base32(1024), "100");
}

#[test]
fn group_type_registry() {
    let ids: Vec<i64> = GROUP_TYPES.iter().map(|t| t.type_id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "type ids are unique");
    assert_eq!(ids.len(), 27 + 20, "27 released + 20 unreleased types");
    let t = group_type(1006).unwrap();
    assert_eq!(
        (t.slug, t.category, t.default_priority, t.ignore_limit, t.quota_limit),
        ("performance_n_plus_one_db_queries", "performance", 25, 3, 5)
    );
    let t = group_type(4001).unwrap();
    assert_eq!(
        (t.slug, t.category, t.default_priority, t.ignore_limit, t.quota_limit),
        ("monitor_check_in_failure", "cron", 75, 1, 60_000)
    );
    let t = group_type(8001).unwrap();
    assert_eq!((t.category, t.default_priority, t.quota_limit), ("metric_alert", 75, 100));
    let t = group_type(12001).unwrap();
    assert_eq!((t.category, t.default_priority, t.quota_limit), ("instrumentation", 25, 100));
    let t = group_type(3502).unwrap();
    assert_eq!((t.category, t.default_priority), ("ai_detected", 50));
    assert_eq!(group_type(2009).unwrap().ignore_limit, 2000);
    assert_eq!(group_type(1021).unwrap().ignore_limit, 10);
    assert!(group_type(9999).is_none());
    assert!(group_type(0).is_none());
}

#[test]
fn summary_deserializes() {
    let s: Summary = serde_json::from_str(
        r#"{"lines_read":9,"occurrences_accepted":1,"status_changes_applied":2,"duplicates":3,
            "dropped_noise":1,"dropped_quota":0,"groups_created":1,"dead_lettered":2}"#,
    )
    .unwrap();
    assert_eq!(s, summary(9, 1, 2, 3, 1, 0, 1, 2));
}

// ---------------------------------------------------------------------------------------------
// The dump
// ---------------------------------------------------------------------------------------------

#[test]
fn dump_shape_of_a_single_group() {
    let o = occ(1, 1, &["check-in failed"], 4001, json!("2024-01-01T12:00:00.123456"));
    let o = with(o, "level", json!("error"));
    let o = with(o, "culprit", json!("cron/job"));
    let o = with(
        o,
        "event",
        event(1, 1, json!({"user": {"id": "u1"}, "release": "1.0.0", "environment": "prod"})),
    );
    let out = run(&[o]);
    assert_eq!(out.summary, summary(1, 1, 0, 0, 0, 0, 1, 0));
    assert_eq!(
        out.issues,
        vec![json!({
            "id": "1", "shortId": "PROJECT-1-1", "title": "title 1", "culprit": "cron/job",
            "level": "error", "status": "unresolved", "substatus": "new", "priority": "high",
            "project": {"id": "1", "slug": "project-1"}, "type": "generic",
            "issueType": "monitor_check_in_failure", "issueCategory": "cron",
            "metadata": {"title": "title 1", "value": "sub 1", "initial_priority": 75},
            "count": "1", "userCount": 1,
            "firstSeen": "2024-01-01T12:00:00.123456Z", "lastSeen": "2024-01-01T12:00:00.123456Z",
            "lifetime": {"count": "1", "userCount": 1,
                         "firstSeen": "2024-01-01T12:00:00.123456Z",
                         "lastSeen": "2024-01-01T12:00:00.123456Z"},
            "firstRelease": "1.0.0", "lastRelease": "1.0.0", "environments": ["prod"],
            "stats": {"hourly": [[1_704_110_400i64, 1]]},
            "statusDetails": {}, "assignedTo": null, "isBookmarked": false, "hasSeen": false,
            "priorityLockedAt": null
        })]
    );
}

#[test]
fn defaults_level_culprit_priority() {
    let long: String = "é".repeat(250);
    let lines = vec![
        // level absent → info, culprit absent → "", priority → type default (1006 → low)
        occ(1, 1, &["a"], 4001, t(0)),
        with(with(occ(2, 1, &["b"], 4001, t(0)), "level", json!("")), "culprit", json!(null)),
        with(with(occ(3, 1, &["c"], 4001, t(0)), "level", json!(null)), "culprit", json!(long)),
        with(occ(4, 1, &["d"], 4001, t(0)), "level", json!("ERROR")),
        with(occ(5, 1, &["e"], 4001, t(0)), "level", json!("warning")),
        with(occ(6, 1, &["f"], 2001, t(0)), "priority", json!(75)),
        with(
            with(occ(7, 1, &["g"], 4001, t(0)), "initial_issue_priority", json!(null)),
            "priority",
            json!(25),
        ),
        with(
            with(occ(8, 1, &["h"], 4001, t(0)), "initial_issue_priority", json!(50)),
            "priority",
            json!(25),
        ),
        occ(9, 1, &["i"], 2001, t(0)),
        occ(10, 1, &["j"], 1, t(0)),
    ];
    let out = run(&lines);
    assert_eq!(out.summary, summary(10, 10, 0, 0, 0, 0, 10, 0));
    let get = |id: u64, k: &str| issue(&out, id)[k].clone();
    assert_eq!(get(1, "level"), json!("info"));
    assert_eq!(get(1, "culprit"), json!(""));
    assert_eq!(get(2, "level"), json!("info"));
    assert_eq!(get(2, "culprit"), json!(""));
    assert_eq!(get(3, "level"), json!("info"));
    assert_eq!(get(3, "culprit"), json!("é".repeat(200)));
    assert_eq!(get(4, "level"), json!("unknown"));
    assert_eq!(get(5, "level"), json!("warning"));
    assert_eq!(get(6, "priority"), json!("high"));
    assert_eq!(get(6, "metadata")["initial_priority"], json!(75));
    assert_eq!(get(7, "priority"), json!("low"));
    assert_eq!(get(8, "priority"), json!("medium"));
    assert_eq!(get(9, "priority"), json!("low"));
    assert_eq!(get(9, "metadata")["initial_priority"], json!(25));
    assert_eq!(get(9, "issueCategory"), json!("performance"));
    assert_eq!(get(10, "priority"), json!("medium"));
    assert_eq!(get(10, "issueType"), json!("error"));
    assert_eq!(get(10, "issueCategory"), json!("error"));
    assert_eq!(get(1, "firstRelease"), Value::Null);
    assert_eq!(get(1, "lastRelease"), Value::Null);
    assert_eq!(get(1, "environments"), json!([]));
    assert_eq!(get(1, "userCount"), json!(0));
}

#[test]
fn time_inputs_reach_the_dump() {
    let cases: Vec<(Value, Option<Value>, &str, i64)> = vec![
        (json!("2024-02-29T23:59:59.5"), None, "2024-02-29T23:59:59.500000Z", 1_709_247_600),
        (json!(1_704_110_400.25), None, "2024-01-01T12:00:00.250000Z", 1_704_110_400),
        (json!(1_704_110_400), None, "2024-01-01T12:00:00.000000Z", 1_704_110_400),
        (json!("1999-12-31T23:59:59Z"), None, "1999-12-31T23:59:59.000000Z", 946_681_200),
        (json!("1969-12-31T23:59:59.999999Z"), None, "1969-12-31T23:59:59.999999Z", -3600),
        // event.timestamp overrides detection_time; offsets are converted to UTC
        (
            json!(0),
            Some(json!("2024-03-01T00:30:00-01:00")),
            "2024-03-01T01:30:00.000000Z",
            1_709_254_800,
        ),
        (
            json!(0),
            Some(json!("2024-03-01T00:30:00+05:45")),
            "2024-02-29T18:45:00.000000Z",
            1_709_229_600,
        ),
        (
            json!(0),
            Some(json!(1_704_110_400.000001)),
            "2024-01-01T12:00:00.000001Z",
            1_704_110_400,
        ),
        (
            json!(0),
            Some(json!("2024-01-01T12:00:00.1234Z")),
            "2024-01-01T12:00:00.123400Z",
            1_704_110_400,
        ),
    ];
    let mut lines = Vec::new();
    for (i, (det, ts, _, _)) in cases.iter().enumerate() {
        let n = i as u64 + 1;
        let fp = format!("fp{n}");
        let mut o = occ(n, 1, &[&fp], 4001, det.clone());
        if let Some(ts) = ts {
            o = with(o, "event", event(n, 1, json!({"timestamp": ts})));
        }
        lines.push(o);
    }
    let out = run(&lines);
    assert_eq!(out.summary.groups_created, cases.len() as u64);
    for (i, (_, _, expected, hour)) in cases.iter().enumerate() {
        let g = issue(&out, i as u64 + 1);
        assert_eq!(g["firstSeen"], json!(expected), "case {i}");
        assert_eq!(g["lastSeen"], json!(expected), "case {i}");
        assert_eq!(g["stats"]["hourly"], json!([[hour, 1]]), "case {i}");
    }
}

// ---------------------------------------------------------------------------------------------
// §4.3 noise gate
// ---------------------------------------------------------------------------------------------

#[test]
fn noise_gate_ignore_limit_three_with_expiry() {
    // type 1006: ignore_limit 3, expiry 86400 s
    let c = 10 + 86_400; // offset of line C
    let lines = vec![
        occ(1, 1, &["np"], 1006, t(0)),     // count 1, last 0          → noise
        occ(2, 1, &["np"], 1006, t(10)),    // count 2, last 10         → noise
        occ(3, 1, &["np"], 1006, t(c)),     // t-last = 86400 ≥ expiry → count 1 → noise
        occ(4, 1, &["np"], 1006, t(c + 1)), // count 2                  → noise
        occ(5, 1, &["np"], 1006, t(c + 2)), // count 3 ≥ 3             → created
        occ(6, 1, &["np"], 1006, t(c + 3)), // joins, no gate
    ];
    let out = run(&lines);
    assert_eq!(out.summary, summary(6, 2, 0, 0, 4, 0, 1, 0));
    let g = issue(&out, 1);
    assert_eq!(g["firstSeen"], json!("2024-01-02T12:00:12.000000Z"));
    assert_eq!(g["lastSeen"], json!("2024-01-02T12:00:13.000000Z"));
    assert_eq!(g["count"], json!("2"));
    assert_eq!(g["title"], json!("title 6"));
    assert_eq!(g["priority"], json!("low"));
    assert_eq!(g["issueType"], json!("performance_n_plus_one_db_queries"));
}

#[test]
fn noise_gate_expiry_boundaries() {
    // just under the expiry: no reset
    let out = run(&[
        occ(1, 1, &["x"], 1006, json!("2024-01-01T12:00:00Z")),
        occ(2, 1, &["x"], 1006, json!("2024-01-02T11:59:59.999999Z")),
        occ(3, 1, &["x"], 1006, json!("2024-01-02T12:00:00.5Z")),
    ]);
    assert_eq!(out.summary, summary(3, 1, 0, 0, 2, 0, 1, 0));
    assert_eq!(issue(&out, 1)["firstSeen"], json!("2024-01-02T12:00:00.500000Z"));

    // exactly the expiry: reset
    let out = run(&[
        occ(1, 1, &["x"], 1006, t(0)),
        occ(2, 1, &["x"], 1006, t(86_400)),
        occ(3, 1, &["x"], 1006, t(86_401)),
    ]);
    assert_eq!(out.summary, summary(3, 0, 0, 0, 3, 0, 0, 0));

    // last = max(last, t): an older occurrence does not pull `last` back
    let out = run(&[
        occ(1, 1, &["x"], 1006, t(100_000)),
        occ(2, 1, &["x"], 1006, t(0)),
        occ(3, 1, &["x"], 1006, t(100_000 + 86_399)),
    ]);
    assert_eq!(out.summary, summary(3, 1, 0, 0, 2, 0, 1, 0));
}

#[test]
fn noise_gate_is_per_project_and_candidate_hash() {
    let lines = vec![
        occ(1, 1, &["p", "q"], 1006, t(0)), // candidate p: 1
        occ(2, 1, &["p", "r"], 1006, t(1)), // candidate p: 2
        occ(3, 2, &["p"], 1006, t(2)),      // project 2, candidate p: 1
        occ(4, 1, &["p"], 1006, t(3)),      // candidate p: 3 → created, links only p
        occ(5, 1, &["q"], 1006, t(4)),      // q was never linked: candidate q: 1
        occ(6, 1, &["r", "p"], 1006, t(5)), // p linked → joins group 1, links r
        occ(7, 1, &["r"], 1006, t(6)),      // joins group 1
    ];
    let out = run(&lines);
    assert_eq!(out.summary, summary(7, 3, 0, 0, 4, 0, 1, 0));
    assert_eq!(issue(&out, 1)["count"], json!("3"));
    assert_eq!(issue(&out, 1)["title"], json!("title 7"));
}

#[test]
fn noise_gate_other_limits_and_types_without_noise_config() {
    let mut lines = Vec::new();
    // 1009: ignore_limit 5
    for n in 1..=5 {
        lines.push(occ(n, 1, &["h"], 1009, t(n as i64)));
    }
    // no noise config: created at once
    lines.push(occ(10, 1, &["e1"], 1, t(0)));
    lines.push(occ(11, 1, &["e2"], 1018, t(0)));
    lines.push(occ(12, 1, &["e3"], 2001, t(0)));
    lines.push(occ(13, 1, &["e4"], 6001, t(0)));
    let out = run(&lines);
    assert_eq!(out.summary, summary(9, 5, 0, 0, 4, 0, 5, 0));
    assert_eq!(issue(&out, 1)["issueType"], json!("performance_consecutive_http"));
    assert_eq!(issue(&out, 1)["firstSeen"], json!("2024-01-01T12:00:05.000000Z"));
    assert_eq!(issue(&out, 2)["issueType"], json!("error"));
    assert_eq!(issue(&out, 3)["issueType"], json!("performance_p95_endpoint_regression"));
    assert_eq!(issue(&out, 3)["priority"], json!("medium"));
    assert_eq!(issue(&out, 4)["issueType"], json!("profile_file_io_main_thread"));
    assert_eq!(issue(&out, 5)["issueCategory"], json!("feedback"));
}

// ---------------------------------------------------------------------------------------------
// §4.3 creation quota
// ---------------------------------------------------------------------------------------------

#[test]
fn creation_quota_sliding_window() {
    // type 2001 (no noise config): 5 new groups per 3600 s, 60 s buckets. T0 is a multiple of 60 (bucket b0).
    let lines = vec![
        occ(1, 1, &["q1"], 2001, t(0)),
        occ(2, 1, &["q2"], 2001, t(0)),
        occ(3, 1, &["q3"], 2001, t(30)),
        occ(4, 1, &["q4"], 2001, t(59)),
        occ(5, 1, &["q5"], 2001, t(59)),     // 5 creations in b0
        occ(6, 1, &["q6"], 2001, t(3599)),   // bucket b0+59: window b0..b0+59 holds 5 → denied
        occ(7, 1, &["q8"], 5002, t(0)),      // other type: own quota → created
        occ(8, 2, &["q9"], 2001, t(0)),      // other project: own quota → created
        occ(9, 1, &["q7"], 2001, t(3600)),   // bucket b0+60: window b0+1..b0+60 holds 0 → created
        occ(10, 1, &["q10"], 2001, t(3601)), // window holds 1 → created
        occ(11, 1, &["q6"], 2001, t(3602)),  // the denied fingerprint again: window holds 2 → created
        occ(12, 1, &["q1"], 2001, t(3603)),  // existing group: the quota does not apply
    ];
    let out = run(&lines);
    assert_eq!(out.summary, summary(12, 11, 0, 0, 0, 1, 10, 0));
    let short: Vec<(String, String)> = out
        .issues
        .iter()
        .map(|i| (i["id"].as_str().unwrap().to_string(), i["shortId"].as_str().unwrap().to_string()))
        .collect();
    let expected: Vec<(String, String)> = [
        ("1", "PROJECT-1-1"),
        ("2", "PROJECT-1-2"),
        ("3", "PROJECT-1-3"),
        ("4", "PROJECT-1-4"),
        ("5", "PROJECT-1-5"),
        ("6", "PROJECT-1-6"),
        ("7", "PROJECT-2-1"),
        ("8", "PROJECT-1-7"),
        ("9", "PROJECT-1-8"),
        ("10", "PROJECT-1-9"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(short, expected);
    assert_eq!(issue(&out, 10)["title"], json!("title 11"));
    assert_eq!(issue(&out, 1)["count"], json!("2"));
    assert_eq!(issue(&out, 1)["lastSeen"], json!("2024-01-01T13:00:03.000000Z"));
}

#[test]
fn error_groups_have_no_creation_quota() {
    // SPEC §4.3: the error type (1) skips the noise gate and the creation quota.
    let lines: Vec<Value> = (1..=8).map(|n| occ(n, 1, &[&format!("e{n}")], 1, t(0))).collect();
    let out = run(&lines);
    assert_eq!(out.summary, summary(8, 8, 0, 0, 0, 0, 8, 0));
    assert_eq!(issue(&out, 1)["type"], json!("error"));
}

#[test]
fn quota_denial_leaves_noise_count_at_zero() {
    // type 1006: ignore_limit 3 and quota 5, everything in one minute
    let mut lines = Vec::new();
    let mut n = 0;
    let mut push = |lines: &mut Vec<Value>, fp: &str, off: i64| {
        n += 1;
        lines.push(occ(n, 1, &[fp], 1006, t(off)));
    };
    for fp in ["f1", "f2", "f3", "f4", "f5"] {
        for _ in 0..3 {
            push(&mut lines, fp, 0); // noise, noise, created
        }
    }
    push(&mut lines, "g", 0); // count 1: noise
    push(&mut lines, "g", 0); // count 2: noise
    push(&mut lines, "g", 0); // count 3 → 0, quota full: dropped_quota
    push(&mut lines, "g", 0); // count 1 (not 4): noise
    push(&mut lines, "g", 0); // count 2: noise
    push(&mut lines, "g", 0); // count 3: quota still full
    push(&mut lines, "g", 3600); // next hour's window; count 1: noise
    push(&mut lines, "g", 3600); // count 2: noise
    push(&mut lines, "g", 3600); // count 3: created
    let out = run(&lines);
    assert_eq!(out.summary, summary(24, 6, 0, 0, 16, 2, 6, 0));
    assert_eq!(issue(&out, 6)["firstSeen"], json!("2024-01-01T13:00:00.000000Z"));
    assert_eq!(issue(&out, 6)["title"], json!("title 24"));
}

// ---------------------------------------------------------------------------------------------
// §4.2/§4.3 linking and type mismatch
// ---------------------------------------------------------------------------------------------

#[test]
fn multi_hash_linking() {
    let lines = vec![
        occ(1, 1, &["a", "b"], 1, t(0)),                   // group 1: a, b
        occ(2, 1, &["c", "b"], 1, t(60)),                  // b → group 1; c linked to 1
        occ(3, 1, &["c"], 1, t(120)),                      // group 1
        occ(4, 1, &["d"], 1, t(180)),                      // group 2: d
        occ(5, 1, &["d", "a"], 1, t(240)),                 // d first → group 2; a stays with group 1
        occ(6, 1, &["a"], 1, t(300)),                      // group 1
        occ(7, 1, &["x", "x", "e"], 1, t(360)),            // group 3: x, e
        occ(8, 1, &["e"], 1, t(420)),                      // group 3
        sc("s1", 1, &["c"], json!(1), json!(null)),        // resolves group 1
        sc("s2", 1, &["zzz", "c"], json!(1), json!(null)), // only fingerprint[0] counts
        occ(9, 2, &["a"], 1, t(0)),                        // project 2 has no links: group 4
    ];
    let out = run(&lines);
    assert_eq!(out.summary, summary(11, 9, 1, 0, 0, 0, 4, 1));
    assert_eq!(
        out.dead_letters,
        vec![DeadLetter {
            line: 9,
            reason: "group not found".into()
        }]
    );
    assert_eq!(issue(&out, 1)["count"], json!("4"));
    assert_eq!(issue(&out, 1)["status"], json!("resolved"));
    assert_eq!(issue(&out, 1)["substatus"], Value::Null);
    assert_eq!(issue(&out, 1)["title"], json!("title 6"));
    assert_eq!(issue(&out, 2)["count"], json!("2"));
    assert_eq!(issue(&out, 3)["count"], json!("2"));
    assert_eq!(issue(&out, 4)["shortId"], json!("PROJECT-2-1"));
}

#[test]
fn type_mismatch_is_rejected_after_dedup() {
    let lines = vec![
        occ(1, 1, &["m"], 4001, t(0)),   // group 1, type 4001
        occ(2, 1, &["m"], 1, t(1)),      // mismatch → dead letter (id 2 remembered)
        occ(2, 1, &["m"], 4001, t(2)),   // same id → duplicate
        occ(3, 1, &["n", "m"], 1, t(3)), // first linked hash is m → mismatch; n not linked
        occ(4, 1, &["n"], 1, t(4)),      // n still unlinked → group 2
    ];
    let out = run(&lines);
    assert_eq!(out.summary, summary(5, 2, 0, 1, 0, 0, 2, 2));
    assert_eq!(
        out.dead_letters[0],
        DeadLetter {
            line: 1,
            reason: "type mismatch: group 1 has type 4001, occurrence has type 1".into()
        }
    );
    assert_eq!(out.dead_letters[1].line, 3);
    assert_eq!(issue(&out, 1)["count"], json!("1"));
    assert_eq!(issue(&out, 1)["lastSeen"], json!("2024-01-01T12:00:00.000000Z"));
    assert_eq!(issue(&out, 2)["issueType"], json!("error"));
}

// ---------------------------------------------------------------------------------------------
// §4.5 group updates
// ---------------------------------------------------------------------------------------------

#[test]
fn regression_from_resolved_and_ignored_stays_ignored() {
    let lines = vec![
        occ(1, 1, &["r"], 1, t(0)),
        sc("s1", 1, &["r"], json!(1), json!(null)),
        occ(2, 1, &["r"], 1, t(60)), // resolved → unresolved/regressed
        occ(3, 1, &["i"], 1, t(0)),
        sc("s2", 1, &["i"], json!(2), json!(5)),
        occ(4, 1, &["i"], 1, t(60)), // stays ignored/archived_forever
        occ(5, 1, &["k"], 1, t(0)),
        sc("s3", 1, &["k"], json!(2), json!(1)),
        occ(6, 1, &["k"], 1, t(60)), // stays ignored/archived_until_escalating
        occ(7, 1, &["o"], 1, t(0)),
        sc("s4", 1, &["o"], json!(0), json!(3)),
        occ(8, 1, &["o"], 1, t(60)), // unresolved statuses are unchanged
    ];
    let out = run(&lines);
    assert_eq!(out.summary, summary(12, 8, 4, 0, 0, 0, 4, 0));
    let st = |id: u64| {
        (
            issue(&out, id)["status"].clone(),
            issue(&out, id)["substatus"].clone(),
            issue(&out, id)["count"].clone(),
        )
    };
    assert_eq!(st(1), (json!("unresolved"), json!("regressed"), json!("2")));
    assert_eq!(st(2), (json!("ignored"), json!("archived_forever"), json!("2")));
    assert_eq!(st(3), (json!("ignored"), json!("archived_until_escalating"), json!("2")));
    assert_eq!(st(4), (json!("unresolved"), json!("ongoing"), json!("2")));
}

#[test]
fn title_follows_the_newest_event_time() {
    let ev = |n: u64, ts: &str| event(n, 1, json!({"timestamp": ts}));
    let lines = vec![
        with(
            with(
                with(
                    with(occ(1, 1, &["t"], 1, json!("2024-01-01T10:00:00")), "issue_title", json!("A")),
                    "culprit",
                    json!("ca"),
                ),
                "level",
                json!("warning"),
            ),
            "initial_issue_priority",
            json!(75),
        ),
        with(
            with(
                with(occ(2, 1, &["t"], 1, json!("2024-01-01T09:00:00")), "issue_title", json!("B")),
                "culprit",
                json!("cb"),
            ),
            "level",
            json!("fatal"),
        ),
        // tie with the title's time: the later record wins
        with(
            with(
                with(occ(3, 1, &["t"], 1, json!("2024-01-01T10:00:00")), "issue_title", json!("C")),
                "culprit",
                json!("cc"),
            ),
            "level",
            json!("bogus"),
        ),
        // event.timestamp (10:30Z) is the event time, not detection_time (08:00)
        with(
            with(occ(4, 1, &["t"], 1, json!("2024-01-01T08:00:00")), "issue_title", json!("D")),
            "event",
            ev(4, "2024-01-01T12:30:00+02:00"),
        ),
        // event time 09:30 although detection_time is 11:00: older, title stays
        with(
            with(occ(5, 1, &["t"], 1, json!("2024-01-01T11:00:00")), "issue_title", json!("E")),
            "event",
            ev(5, "2024-01-01T09:30:00Z"),
        ),
    ];
    let out = run(&lines);
    assert_eq!(out.summary, summary(5, 5, 0, 0, 0, 0, 1, 0));
    let g = issue(&out, 1);
    assert_eq!(g["title"], json!("D"));
    assert_eq!(g["culprit"], json!(""));
    assert_eq!(g["level"], json!("info"));
    assert_eq!(g["metadata"], json!({"title": "D", "value": "sub 4", "initial_priority": 50}));
    assert_eq!(g["priority"], json!("high"), "priority is set at creation only");
    assert_eq!(g["firstSeen"], json!("2024-01-01T09:00:00.000000Z"));
    assert_eq!(g["lastSeen"], json!("2024-01-01T10:30:00.000000Z"));
    assert_eq!(g["count"], json!("5"));
    assert_eq!(g["stats"]["hourly"], json!([[1_704_099_600i64, 2], [1_704_103_200i64, 3]]));

    // the tie case on its own: C replaced A, including culprit/level/metadata
    let out = run(&lines[..3]);
    let g = issue(&out, 1);
    assert_eq!(g["title"], json!("C"));
    assert_eq!(g["culprit"], json!("cc"));
    assert_eq!(g["level"], json!("unknown"));
    assert_eq!(g["metadata"], json!({"title": "C", "value": "sub 3", "initial_priority": 50}));
    let out = run(&lines[..2]);
    assert_eq!(issue(&out, 1)["title"], json!("A"));
    assert_eq!(issue(&out, 1)["level"], json!("warning"));
    assert_eq!(issue(&out, 1)["metadata"]["initial_priority"], json!(75));
}

#[test]
fn users_releases_environments() {
    let ev = |n: u64, extra: Value| event(n, 1, extra);
    let o = |n: u64, off: i64, extra: Value| with(occ(n, 1, &["u"], 1, t(off)), "event", ev(n, extra));
    let lines = vec![
        o(1, 0, json!({"user": {"id": "u1"}, "environment": "prod"})),
        o(
            2,
            100,
            json!({"user": {"id": "u1", "email": "a@x"}, "release": "1.0", "environment": "staging"}),
        ),
        o(3, 50, json!({"user": {"email": "a@x"}, "release": "0.9", "environment": "prod"})),
        o(4, 200, json!({"user": {"id": 42}, "release": "2.0"})),
        o(5, 200, json!({"user": {"id": "42"}, "release": "2.1"})), // tie: later record wins
        o(6, 150, json!({"user": {"id": "", "username": "bob"}})),
        o(7, 150, json!({"user": {"ip_address": "10.0.0.1"}})),
        o(8, 150, json!({"user": {"id": true, "email": ""}})),    // no user
        with(occ(9, 1, &["u"], 1, t(150)), "event", json!(null)), // no event at all
        o(10, 150, json!({"user": {"email": "a@x"}, "release": null})),
    ];
    let out = run(&lines);
    assert_eq!(out.summary, summary(10, 10, 0, 0, 0, 0, 1, 0));
    let g = issue(&out, 1);
    assert_eq!(g["userCount"], json!(5)); // id:u1, email:a@x, id:42, username:bob, ip
    assert_eq!(g["lifetime"]["userCount"], json!(5));
    assert_eq!(g["firstRelease"], Value::Null);
    assert_eq!(g["lastRelease"], json!("2.1"));
    assert_eq!(g["environments"], json!(["prod", "staging"]));
    assert_eq!(g["count"], json!("10"));
    assert_eq!(g["lifetime"]["count"], json!("10"));
    assert_eq!(g["firstSeen"], json!("2024-01-01T12:00:00.000000Z"));
    assert_eq!(g["lastSeen"], json!("2024-01-01T12:03:20.000000Z"));
    assert_eq!(g["stats"]["hourly"], json!([[T0, 10]]));

    let r = |n: u64, off: i64, rel: &str| with(occ(n, 2, &["v"], 1, t(off)), "event", event(n, 2, json!({"release": rel})));
    let out = run(&[r(1, 100, "r1"), r(2, 0, "r0")]);
    assert_eq!(issue(&out, 1)["firstRelease"], json!("r1"));
    assert_eq!(issue(&out, 1)["lastRelease"], json!("r1"));
    let out = run(&[r(1, 100, "r1"), r(2, 0, "r0"), r(3, 101, "r2")]);
    assert_eq!(issue(&out, 1)["firstRelease"], json!("r1"));
    assert_eq!(issue(&out, 1)["lastRelease"], json!("r2"));
    assert_eq!(issue(&out, 1)["project"], json!({"id": "2", "slug": "project-2"}));
}

#[test]
fn hourly_stats_span_hours() {
    let lines = vec![
        occ(1, 1, &["h"], 1, t(0)),
        occ(2, 1, &["h"], 1, t(3599)),
        occ(3, 1, &["h"], 1, t(-1)), // 11:59:59 → previous hour
        occ(4, 1, &["h"], 1, t(3600 * 5)),
        occ(5, 1, &["h"], 1, t(3600 * 5 + 1)),
    ];
    let out = run(&lines);
    assert_eq!(
        issue(&out, 1)["stats"]["hourly"],
        json!([[T0 - 3600, 1], [T0, 2], [T0 + 18_000, 2]])
    );
    assert_eq!(issue(&out, 1)["firstSeen"], json!("2024-01-01T11:59:59.000000Z"));
    assert_eq!(issue(&out, 1)["lastSeen"], json!("2024-01-01T17:00:01.000000Z"));
}

// ---------------------------------------------------------------------------------------------
// §4.4 status changes
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Applied,
    Rejected,
}

/// Runs the log prefix ending at each status change and checks its outcome and group 1's state.
fn walk_status_changes(first: Value, steps: &[(Value, Expect, &str, Option<&str>, &str)]) {
    let mut lines = vec![first];
    let mut applied = 0;
    let mut rejected = 0;
    for (i, (line, expect, status, substatus, priority)) in steps.iter().enumerate() {
        lines.push(line.clone());
        match expect {
            Expect::Applied => applied += 1,
            Expect::Rejected => rejected += 1,
        }
        let out = run(&lines);
        assert_eq!(out.summary.status_changes_applied, applied, "step {i}: {line}");
        assert_eq!(out.summary.dead_lettered, rejected, "step {i}: {line}");
        let g = issue(&out, 1);
        assert_eq!(g["status"], json!(status), "step {i}: {line}");
        assert_eq!(g["substatus"], json!(substatus), "step {i}: {line}");
        assert_eq!(g["priority"], json!(priority), "step {i}: {line}");
    }
}

#[test]
fn status_change_table() {
    use Expect::*;
    let s = |n: u32, st: Value, sub: Value| sc(&format!("sc-{n}"), 1, &["g"], st, sub);
    let steps = vec![
        // same status and substatus (even 7, otherwise invalid): no-op, applied
        (s(1, json!(0), json!(7)), Applied, "unresolved", Some("new"), "medium"),
        (s(2, json!(0), json!(null)), Rejected, "unresolved", Some("new"), "medium"),
        (s(3, json!(2), json!(null)), Rejected, "unresolved", Some("new"), "medium"),
        (
            without(s(4, json!(2), json!(null)), "new_substatus"),
            Rejected,
            "unresolved",
            Some("new"),
            "medium",
        ),
        (s(5, json!(1), json!(5)), Rejected, "unresolved", Some("new"), "medium"),
        (s(6, json!(4), json!(null)), Rejected, "unresolved", Some("new"), "medium"),
        (s(7, json!(3), json!(1)), Rejected, "unresolved", Some("new"), "medium"),
        // escalating on a group that is not ignored: applied, nothing changes
        (s(8, json!(0), json!(2)), Applied, "unresolved", Some("new"), "medium"),
        // ongoing, not from escalating: priority unchanged
        (s(9, json!(0), json!(3)), Applied, "unresolved", Some("ongoing"), "medium"),
        (s(10, json!(2), json!(3)), Rejected, "unresolved", Some("ongoing"), "medium"),
        (
            s(11, json!(2), json!(1)),
            Applied,
            "ignored",
            Some("archived_until_escalating"),
            "medium",
        ),
        (s(12, json!(0), json!(2)), Applied, "unresolved", Some("escalating"), "high"),
        (s(13, json!(0), json!(2)), Applied, "unresolved", Some("escalating"), "high"),
        (s(14, json!(0), json!(3)), Applied, "unresolved", Some("ongoing"), "medium"),
        (s(15, json!(0), json!(7)), Rejected, "unresolved", Some("ongoing"), "medium"),
        (s(16, json!(0), json!(9)), Rejected, "unresolved", Some("ongoing"), "medium"),
        (s(17, json!(0), json!(1)), Rejected, "unresolved", Some("ongoing"), "medium"),
        (s(18, json!(1), json!(null)), Applied, "resolved", None, "medium"),
        (
            without(s(19, json!(1), json!(null)), "new_substatus"),
            Applied,
            "resolved",
            None,
            "medium",
        ),
        (s(20, json!(0), json!(6)), Applied, "unresolved", Some("regressed"), "medium"),
        (
            s(21, json!(2), json!(4)),
            Applied,
            "ignored",
            Some("archived_until_condition_met"),
            "medium",
        ),
        (s(22, json!(2), json!(5)), Applied, "ignored", Some("archived_forever"), "medium"),
        (s(23, json!(0), json!(6)), Applied, "unresolved", Some("regressed"), "medium"),
        (s(24, json!(1), json!(null)), Applied, "resolved", None, "medium"),
        // escalating from resolved: not ignored → unchanged
        (s(25, json!(0), json!(2)), Applied, "resolved", None, "medium"),
        (s(26, json!(0), json!(3)), Applied, "unresolved", Some("ongoing"), "medium"),
        (
            sc("sc-27", 1, &["nope"], json!(1), json!(null)),
            Rejected,
            "unresolved",
            Some("ongoing"),
            "medium",
        ),
        (
            sc("sc-28", 2, &["g"], json!(1), json!(null)),
            Rejected,
            "unresolved",
            Some("ongoing"),
            "medium",
        ),
        (s(29, json!(-1), json!(null)), Rejected, "unresolved", Some("ongoing"), "medium"),
        (s(30, json!(6), json!(null)), Rejected, "unresolved", Some("ongoing"), "medium"),
        // decoding failures
        (s(31, json!("1"), json!(null)), Rejected, "unresolved", Some("ongoing"), "medium"),
        (s(32, json!(1.0), json!(null)), Rejected, "unresolved", Some("ongoing"), "medium"),
        (s(33, json!(2), json!("5")), Rejected, "unresolved", Some("ongoing"), "medium"),
        (
            without(s(34, json!(1), json!(null)), "new_status"),
            Rejected,
            "unresolved",
            Some("ongoing"),
            "medium",
        ),
        (s(35, json!(2), json!(5)), Applied, "ignored", Some("archived_forever"), "medium"),
    ];
    walk_status_changes(occ(1, 1, &["g"], 1, t(0)), &steps);
}

#[test]
fn status_change_reasons() {
    let s = |n: u32, st: Value, sub: Value| sc(&format!("sc-{n}"), 1, &["g"], st, sub);
    let out = run(&[
        occ(1, 1, &["g"], 1, t(0)),
        s(1, json!(0), json!(null)),
        s(2, json!(1), json!(5)),
        s(3, json!(2), json!(3)),
        s(4, json!(0), json!(7)), // group is unresolved/new: no-op
        s(5, json!(0), json!(4)),
        s(6, json!(4), json!(null)),
        sc("sc-7", 1, &["zz"], json!(1), json!(null)),
    ]);
    let reasons: Vec<&str> = out.dead_letters.iter().map(|d| d.reason.as_str()).collect();
    assert_eq!(
        reasons,
        vec![
            "missing substatus for status 0",
            "unexpected substatus 5 for status 1",
            "invalid substatus 3 for status 2",
            "invalid substatus 4 for status 0",
            "unsupported status 4",
            "group not found",
        ]
    );
    assert_eq!(out.summary.status_changes_applied, 1);
}

#[test]
fn escalation_priority_levels() {
    use Expect::*;
    let s = |n: u32, st: Value, sub: Value| sc(&format!("sc-{n}"), 1, &["g"], st, sub);
    // low (2001 default) → medium → back to low
    walk_status_changes(
        occ(1, 1, &["g"], 2001, t(0)),
        &[
            (
                s(1, json!(2), json!(1)),
                Applied,
                "ignored",
                Some("archived_until_escalating"),
                "low",
            ),
            (s(2, json!(0), json!(2)), Applied, "unresolved", Some("escalating"), "medium"),
            (s(3, json!(2), json!(5)), Applied, "ignored", Some("archived_forever"), "medium"),
            // escalating again from ignored: medium → high
            (s(4, json!(0), json!(2)), Applied, "unresolved", Some("escalating"), "high"),
            // ongoing from escalating: back to the initial priority, low
            (s(5, json!(0), json!(3)), Applied, "unresolved", Some("ongoing"), "low"),
        ],
    );
    // high stays high; payload priority 25 on a HIGH-default type gives low
    walk_status_changes(
        occ(1, 1, &["g"], 4001, t(0)),
        &[
            (
                s(1, json!(2), json!(4)),
                Applied,
                "ignored",
                Some("archived_until_condition_met"),
                "high",
            ),
            (s(2, json!(0), json!(2)), Applied, "unresolved", Some("escalating"), "high"),
            (s(3, json!(0), json!(3)), Applied, "unresolved", Some("ongoing"), "high"),
        ],
    );
    walk_status_changes(
        with(occ(1, 1, &["g"], 4001, t(0)), "initial_issue_priority", json!(25)),
        &[
            (s(1, json!(2), json!(5)), Applied, "ignored", Some("archived_forever"), "low"),
            (s(2, json!(0), json!(2)), Applied, "unresolved", Some("escalating"), "medium"),
            // escalating → regressed → ongoing: not "from escalating", priority stays
            (s(3, json!(0), json!(6)), Applied, "unresolved", Some("regressed"), "medium"),
            (s(4, json!(0), json!(3)), Applied, "unresolved", Some("ongoing"), "medium"),
        ],
    );
}

#[test]
fn ongoing_restores_the_creation_priority_not_later_metadata() {
    // SPEC interpretation: "its initial value" = the priority the group was created with, even
    // when a newer occurrence changed metadata.initial_priority.
    let s = |n: u32, st: Value, sub: Value| sc(&format!("sc-{n}"), 1, &["g"], st, sub);
    let lines = vec![
        with(occ(1, 1, &["g"], 1, t(0)), "initial_issue_priority", json!(25)),
        with(occ(2, 1, &["g"], 1, t(10)), "initial_issue_priority", json!(75)),
        s(1, json!(2), json!(1)),
        s(2, json!(0), json!(2)),
        s(3, json!(0), json!(3)),
    ];
    let out = run(&lines[..2]);
    assert_eq!(issue(&out, 1)["priority"], json!("low"));
    assert_eq!(issue(&out, 1)["metadata"]["initial_priority"], json!(75));
    let out = run(&lines[..4]);
    assert_eq!(issue(&out, 1)["priority"], json!("medium"));
    let out = run(&lines);
    assert_eq!(issue(&out, 1)["priority"], json!("low"));
    assert_eq!(out.summary, summary(5, 2, 3, 0, 0, 0, 1, 0));
}

// ---------------------------------------------------------------------------------------------
// §4.1 duplicates
// ---------------------------------------------------------------------------------------------

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
