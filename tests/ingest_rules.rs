//! Each ingest rule of docs/semantics.md §4, on small hand-written streams through the real
//! `occurrent backfill`.

mod common;

use common::*;
use serde_json::json;

const CRON: u32 = 4001; // no noise config, quota 60000/h, default priority high
const N_PLUS_ONE: u32 = 1006; // noise 3 within 24 h, quota 5/h, default priority low
const PROFILE_IO: u32 = 2001; // no noise config, quota 5/h, default priority low
const DAY: f64 = 86_400.0;

#[test]
fn new_group_fields_and_ids() {
    let run = backfill(&[
        occurrence(
            1,
            7,
            "a",
            CRON,
            T0,
            json!({"issue_title": "first", "subtitle": "sub", "culprit": "job"}),
        ),
        occurrence(
            2,
            3,
            "b",
            PROFILE_IO,
            T0 + 1.0,
            json!({"issue_title": "second", "initial_issue_priority": 75}),
        ),
        occurrence(3, 7, "c", CRON, T0 + 2.0, json!({"issue_title": "third", "level": ""})),
    ]);
    assert_eq!(run.issues.len(), 3);
    let first = run.by_title("first");
    assert_eq!(first["id"], "1");
    assert_eq!(first["shortId"], "PROJECT-7-1");
    assert_eq!(first["status"], "unresolved");
    assert_eq!(first["substatus"], "new");
    assert_eq!(first["priority"], "high");
    assert_eq!(first["project"], json!({"id": "7", "slug": "project-7"}));
    assert_eq!(first["issueType"], "monitor_check_in_failure");
    assert_eq!(first["issueCategory"], "cron");
    assert_eq!(first["type"], "generic");
    assert_eq!(first["metadata"], json!({"title": "first", "value": "sub", "initial_priority": 75}));
    assert_eq!(first["culprit"], "job");
    assert_eq!(first["count"], "1");
    assert_eq!(first["firstSeen"], "2024-01-01T00:00:00.000000Z");
    assert_eq!(first["lastSeen"], first["firstSeen"]);
    let second = run.by_title("second");
    assert_eq!(
        (second["id"].as_str(), second["shortId"].as_str()),
        (Some("2"), Some("PROJECT-3-1"))
    );
    assert_eq!(second["priority"], "high", "the payload priority wins over the type default");
    assert_eq!(second["issueCategory"], "performance");
    let third = run.by_title("third");
    assert_eq!((third["id"].as_str(), third["shortId"].as_str()), (Some("3"), Some("PROJECT-7-2")));
    assert_eq!(third["level"], "info", "an empty level reads as info");
    assert_eq!(run.counter("groups_created"), 3);
}

#[test]
fn short_ids_are_base32() {
    let messages: Vec<_> = (0..33)
        .map(|i| occurrence(i + 1, 1, &format!("f{i}"), CRON, T0 + i as f64, json!({})))
        .collect();
    let run = backfill(&messages);
    assert_eq!(run.issues[31]["shortId"], "PROJECT-1-10");
    assert_eq!(run.issues[32]["shortId"], "PROJECT-1-11");
    assert_eq!(run.issues[30]["shortId"], "PROJECT-1-Z");
}

#[test]
fn noise_gate_creates_on_the_third_within_a_day() {
    let run = backfill(&[
        occurrence(1, 1, "n", N_PLUS_ONE, T0, json!({})),
        occurrence(2, 1, "n", N_PLUS_ONE, T0 + 10.0, json!({})),
        occurrence(3, 1, "n", N_PLUS_ONE, T0 + 20.0, json!({})),
        occurrence(4, 1, "n", N_PLUS_ONE, T0 + 30.0, json!({})),
    ]);
    assert_eq!(run.counter("dropped_noise"), 2);
    assert_eq!(run.issues.len(), 1);
    assert_eq!(run.issues[0]["count"], "2", "the creating occurrence and the one after");
    assert_eq!(run.issues[0]["firstSeen"], "2024-01-01T00:00:20.000000Z");
    assert_eq!(run.issues[0]["priority"], "low");
}

#[test]
fn noise_gate_count_expires() {
    let run = backfill(&[
        occurrence(1, 1, "n", N_PLUS_ONE, T0, json!({})),
        occurrence(2, 1, "n", N_PLUS_ONE, T0 + 1.0, json!({})),
        // A day after the last one: the count restarts.
        occurrence(3, 1, "n", N_PLUS_ONE, T0 + 1.0 + DAY, json!({})),
        occurrence(4, 1, "n", N_PLUS_ONE, T0 + 2.0 + DAY, json!({})),
        occurrence(5, 1, "n", N_PLUS_ONE, T0 + 3.0 + DAY, json!({})),
    ]);
    assert_eq!(run.counter("dropped_noise"), 4);
    assert_eq!(run.issues.len(), 1);
    assert_eq!(run.issues[0]["count"], "1");
}

#[test]
fn creation_quota_slides_by_minute_buckets() {
    let mut messages: Vec<_> = (0..6)
        .map(|i| occurrence(i + 1, 1, &format!("q{i}"), PROFILE_IO, T0 + i as f64, json!({})))
        .collect();
    // The denied fingerprint returns within the hour (still denied), then after it (created).
    messages.push(occurrence(10, 1, "q5", PROFILE_IO, T0 + 3599.0, json!({})));
    messages.push(occurrence(11, 1, "q5", PROFILE_IO, T0 + 3600.0, json!({})));
    // Another project has its own quota.
    messages.push(occurrence(12, 2, "q0", PROFILE_IO, T0, json!({})));
    let run = backfill(&messages);
    assert_eq!(run.counter("dropped_quota"), 2);
    assert_eq!(run.counter("groups_created"), 7);
    let late = run
        .issues
        .iter()
        .find(|i| i["title"] == "title q5")
        .expect("q5 created after the window");
    assert_eq!(late["firstSeen"], "2024-01-01T01:00:00.000000Z");
}

/// A creation stamped in 2200 does not push the present's creations out of the quota's
/// history (which would let every later group of the type through).
#[test]
fn a_creation_in_the_future_leaves_the_quota_binding() {
    let mut messages = vec![occurrence(1, 1, "ahead", PROFILE_IO, 7_258_118_400.0, json!({}))];
    messages.extend((0..6).map(|i| occurrence(i + 2, 1, &format!("q{i}"), PROFILE_IO, T0 + i as f64, json!({}))));
    let run = backfill(&messages);
    assert_eq!(run.counter("groups_created"), 6, "the future group and five in the hour");
    assert_eq!(run.counter("dropped_quota"), 1);
}

#[test]
fn quota_denial_resets_the_noise_count() {
    // Five other N+1 groups use up the hour's quota.
    let mut messages = Vec::new();
    let mut id = 0;
    for g in 0..5 {
        for _ in 0..3 {
            id += 1;
            messages.push(occurrence(id, 1, &format!("g{g}"), N_PLUS_ONE, T0 + id as f64, json!({})));
        }
    }
    for k in 0..3 {
        messages.push(occurrence(100 + k, 1, "late", N_PLUS_ONE, T0 + 100.0 + k as f64, json!({})));
    }
    // After the hour, the gate starts again from zero: two more are noise, the third creates.
    for k in 0..3 {
        messages.push(occurrence(200 + k, 1, "late", N_PLUS_ONE, T0 + 4000.0 + k as f64, json!({})));
    }
    let run = backfill(&messages);
    assert_eq!(run.counter("dropped_quota"), 1);
    assert_eq!(run.counter("dropped_noise"), 5 * 2 + 2 + 2);
    assert_eq!(run.by_title("title late")["firstSeen"], "2024-01-01T01:06:42.000000Z");
}

#[test]
fn existing_groups_update_counts_times_and_newest_title() {
    let run = backfill(&[
        occurrence(1, 1, "e", CRON, T0 + 100.0, json!({"issue_title": "v1", "culprit": "c1"})),
        occurrence(
            2,
            1,
            "e",
            CRON,
            T0 + 300.0,
            json!({"issue_title": "v3", "culprit": "c3", "level": "fatal"}),
        ),
        // Older event time: counts and first_seen change, the title does not.
        occurrence(3, 1, "e", CRON, T0 + 50.0, json!({"issue_title": "v0", "level": "debug"})),
    ]);
    assert_eq!(run.issues.len(), 1);
    let issue = &run.issues[0];
    assert_eq!(issue["count"], "3");
    assert_eq!(issue["title"], "v3");
    assert_eq!(issue["culprit"], "c3");
    assert_eq!(issue["level"], "fatal");
    assert_eq!(issue["metadata"]["title"], "v3");
    assert_eq!(issue["firstSeen"], "2024-01-01T00:00:50.000000Z");
    assert_eq!(issue["lastSeen"], "2024-01-01T00:05:00.000000Z");
}

#[test]
fn event_timestamp_takes_precedence_over_detection_time() {
    let event = json!({"event": {"event_id": uuid(1_000_001), "project_id": 1, "timestamp": "2024-02-01T10:00:00+01:00"}});
    let run = backfill(&[occurrence(1, 1, "t", CRON, T0, event)]);
    assert_eq!(run.issues[0]["firstSeen"], "2024-02-01T09:00:00.000000Z");
}

#[test]
fn fingerprints_link_all_their_hashes() {
    let run = backfill(&[
        occurrence(1, 1, "a", CRON, T0, json!({"fingerprint": ["a", "b"]})),
        occurrence(2, 1, "c", CRON, T0 + 1.0, json!({"fingerprint": ["c", "b"]})),
        occurrence(3, 1, "c", CRON, T0 + 2.0, json!({"fingerprint": ["c"]})),
        // "d" is new, "a" is linked: joins a's group.
        occurrence(4, 1, "d", CRON, T0 + 3.0, json!({"fingerprint": ["d", "a"]})),
        occurrence(5, 1, "d", CRON, T0 + 4.0, json!({"fingerprint": ["d"]})),
    ]);
    assert_eq!(run.issues.len(), 1, "{:#?}", run.issues);
    assert_eq!(run.issues[0]["count"], "5");
}

#[test]
fn a_different_type_is_a_type_mismatch() {
    let run = backfill(&[
        occurrence(1, 1, "m", CRON, T0, json!({})),
        occurrence(2, 1, "m", PROFILE_IO, T0 + 1.0, json!({})),
    ]);
    assert_eq!(run.issues[0]["count"], "1");
    assert_eq!(run.dead_letters.len(), 1);
    assert!(
        run.dead_letters[0]["reason"].as_str().unwrap().starts_with("type mismatch"),
        "{:?}",
        run.dead_letters
    );
    assert_eq!(run.dead_letters[0]["line"], 2);
}

#[test]
fn resolved_groups_regress_and_ignored_groups_stay_ignored() {
    let run = backfill(&[
        occurrence(1, 1, "r", CRON, T0, json!({"issue_title": "r"})),
        occurrence(2, 1, "i", CRON, T0, json!({"issue_title": "i"})),
        status_change(3, 1, "r", 1, None),
        status_change(4, 1, "i", 2, Some(5)),
        occurrence(5, 1, "r", CRON, T0 + 10.0, json!({"issue_title": "r"})),
        occurrence(6, 1, "i", CRON, T0 + 10.0, json!({"issue_title": "i"})),
    ]);
    assert_eq!(
        (run.by_title("r")["status"].as_str(), run.by_title("r")["substatus"].as_str()),
        (Some("unresolved"), Some("regressed"))
    );
    assert_eq!(
        (run.by_title("i")["status"].as_str(), run.by_title("i")["substatus"].as_str()),
        (Some("ignored"), Some("archived_forever"))
    );
    assert_eq!(run.counter("status_changes_applied"), 2);
}

#[test]
fn status_change_matrix() {
    // (new_status, new_substatus, Ok((status, substatus)) or Err(dead-letter reason))
    type Expected = Result<(&'static str, Option<&'static str>), &'static str>;
    let cases: &[(i64, Option<i64>, Expected)] = &[
        (1, None, Ok(("resolved", None))),
        (2, Some(1), Ok(("ignored", Some("archived_until_escalating")))),
        (2, Some(4), Ok(("ignored", Some("archived_until_condition_met")))),
        (2, Some(5), Ok(("ignored", Some("archived_forever")))),
        (0, Some(6), Ok(("unresolved", Some("regressed")))),
        (0, Some(3), Ok(("unresolved", Some("ongoing")))),
        // Escalating only from ignored: a new (unresolved) group is unchanged.
        (0, Some(2), Ok(("unresolved", Some("new")))),
        // Same status and substatus as the new group: a no-op, not an error.
        (0, Some(7), Ok(("unresolved", Some("new")))),
        (0, Some(1), Err("invalid substatus 1 for status 0")),
        (2, Some(3), Err("invalid substatus 3 for status 2")),
        (2, None, Err("missing substatus for status 2")),
        (0, None, Err("missing substatus for status 0")),
        (1, Some(5), Err("unexpected substatus 5 for status 1")),
        (4, None, Err("unsupported status 4")),
    ];
    for (status, substatus, expected) in cases {
        let run = backfill(&[
            occurrence(1, 1, "s", CRON, T0, json!({})),
            status_change(2, 1, "s", *status, *substatus),
        ]);
        let issue = &run.issues[0];
        match expected {
            Ok((s, sub)) => {
                assert_eq!(issue["status"], *s, "{status}/{substatus:?}");
                assert_eq!(issue["substatus"].as_str(), *sub, "{status}/{substatus:?}");
                assert!(run.dead_letters.is_empty());
            }
            Err(reason) => {
                assert_eq!(issue["substatus"], "new");
                assert_eq!(run.dead_letters[0]["reason"], *reason);
            }
        }
    }
}

#[test]
fn escalation_raises_priority_and_ongoing_restores_it() {
    let low = json!({"initial_issue_priority": 25, "issue_title": "low"});
    let run = backfill(&[
        occurrence(1, 1, "p", CRON, T0, low.clone()),
        status_change(2, 1, "p", 2, Some(1)),
        status_change(3, 1, "p", 0, Some(2)),
    ]);
    assert_eq!(
        (run.issues[0]["substatus"].as_str(), run.issues[0]["priority"].as_str()),
        (Some("escalating"), Some("medium"))
    );
    let run = backfill(&[
        occurrence(1, 1, "p", CRON, T0, low),
        status_change(2, 1, "p", 2, Some(1)),
        status_change(3, 1, "p", 0, Some(2)),
        status_change(4, 1, "p", 0, Some(3)),
    ]);
    assert_eq!(
        (run.issues[0]["substatus"].as_str(), run.issues[0]["priority"].as_str()),
        (Some("ongoing"), Some("low"))
    );
}

#[test]
fn status_change_for_an_unknown_fingerprint_is_dead_lettered() {
    let run = backfill(&[status_change(1, 1, "nothing", 1, None)]);
    assert_eq!(run.dead_letters.len(), 1);
    assert_eq!(run.dead_letters[0]["reason"], "group not found");
    assert_eq!(run.counter("dead_lettered"), 1);
}

#[test]
fn users_releases_environments_and_hourly_stats() {
    let event = |id: u64, user: serde_json::Value, release: &str, env: &str, ts: f64| json!({"event": {"event_id": uuid(1_000_000 + id), "project_id": 1, "user": user, "release": release, "environment": env, "timestamp": ts}});
    let run = backfill(&[
        occurrence(
            1,
            1,
            "u",
            CRON,
            T0,
            event(1, json!({"id": "42", "email": "x@y"}), "1.0", "prod", T0),
        ),
        occurrence(2, 1, "u", CRON, T0, event(2, json!({"email": "x@y"}), "1.2", "prod", T0 + 7200.0)),
        occurrence(3, 1, "u", CRON, T0, event(3, json!({"id": 42}), "1.1", "staging", T0 + 3600.0)),
        occurrence(
            4,
            1,
            "u",
            CRON,
            T0,
            event(4, json!({"ip_address": "10.0.0.1"}), "", "", T0 + 7300.0),
        ),
        occurrence(
            5,
            1,
            "u",
            CRON,
            T0,
            json!({"event": {"event_id": uuid(1_000_005), "project_id": 1}}),
        ),
    ]);
    let issue = &run.issues[0];
    assert_eq!(issue["userCount"], 3, "id:42, email:x@y, ip:10.0.0.1");
    assert_eq!(issue["firstRelease"], "1.0");
    assert_eq!(issue["lastRelease"], "1.2");
    assert_eq!(issue["environments"], json!(["prod", "staging"]));
    let hour = T0 as i64;
    assert_eq!(issue["stats"]["hourly"], json!([[hour, 2], [hour + 3600, 1], [hour + 7200, 2]]));
}

#[test]
fn duplicates_within_the_window_are_skipped() {
    let run = backfill(&[
        occurrence(1, 1, "d", CRON, T0, json!({})),
        occurrence(1, 1, "d", CRON, T0, json!({})),
        // Same id, ten minutes and one second later in event time: processed again.
        occurrence(2, 1, "x", CRON, T0 + 601.0, json!({})),
        occurrence(1, 1, "d", CRON, T0 + 601.0, json!({})),
    ]);
    assert_eq!(run.counter("duplicates"), 1);
    assert_eq!(run.by_title("title d")["count"], "2");
    // The UUID forms normalise to the same id.
    let hyphenated = "00000000-0000-0000-0000-000000000001";
    let run = backfill(&[
        occurrence(1, 1, "d", CRON, T0, json!({})),
        occurrence(1, 1, "d", CRON, T0, json!({"id": hyphenated})),
    ]);
    assert_eq!(run.counter("duplicates"), 1);
}

/// An occurrence stamped in 2200 does not end every id's window: it would have made the
/// project's later re-sent messages count twice.
#[test]
fn a_time_in_the_future_does_not_expire_the_ids_seen() {
    let run = backfill(&[
        occurrence(1, 1, "d", CRON, T0, json!({})),
        occurrence(2, 1, "ahead", CRON, 7_258_118_400.0, json!({})),
        occurrence(1, 1, "d", CRON, T0 + 1.0, json!({})),
    ]);
    assert_eq!(run.counter("duplicates"), 1);
    assert_eq!(run.by_title("title d")["count"], "1");
}

#[test]
fn dedup_window_is_configurable() {
    let dir = temp_dir();
    let input = write_lines(
        dir.path(),
        "in.jsonl",
        &to_lines(&[
            occurrence(1, 1, "d", CRON, T0, json!({})),
            occurrence(1, 1, "d", CRON, T0 + 30.0, json!({})),
        ]),
    );
    assert_eq!(backfill_files(std::slice::from_ref(&input), 1, &[]).counter("duplicates"), 1);
    assert_eq!(backfill_files(&[input], 1, &["--dedup-window", "10"]).counter("duplicates"), 0);
}
