//! The dump: the shape of one group and the defaults that reach it.

use super::*;

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
