//! §4.2/§4.3 linking and type mismatch; §4.5 group updates.

use super::*;

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
