//! §4.3: the noise gate and the creation quota.

use super::*;

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
