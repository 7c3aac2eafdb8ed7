//! §4.4 status changes.

use super::*;

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
