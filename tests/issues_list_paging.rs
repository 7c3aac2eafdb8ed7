//! The issues list through the real binary, continued: paging through ties, `filtered` and
//! `matchingEventId` under event-level conditions, and retention. Expected values are
//! computed here from the input events (`Ev`), independently of the server.

mod common;
#[path = "common/list_client.rs"]
mod list_client;

use common::*;
use list_client::*;
use serde_json::{json, Value};

#[test]
fn paging_with_ties_returns_every_group_once_and_trends_differs_from_date() {
    let dir = temp_dir();
    let mut evs = Vec::new();
    // 23 groups in three tie classes of last seen and count.
    for i in 0..23 {
        let fp: &'static str = Box::leak(format!("g{i:02}").into_boxed_str());
        for k in 0..(i % 3 + 1) {
            evs.push(ev(fp, NOW - (i % 3) * H - 2 * H - 1000 - k, None, None));
        }
    }
    // x: 50 events ending an hour ago; y: one event half an hour ago. Date puts y first,
    // trends (ln(50)·600 ≈ 2347 s ahead) puts x first.
    for k in 0..50 {
        evs.push(ev("x", NOW - H - 49 + k, None, None));
    }
    evs.push(ev("y", NOW - 1800, None, None));
    let messages: Vec<Value> = evs.iter().enumerate().map(|(i, e)| message(i as u64 + 1, e)).collect();
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&messages));
    let server = start(&["--input", input.to_str().unwrap()]);

    let everything = walk(&server, "limit=100");
    assert_eq!(everything.len(), 25);
    for sort in ["date", "new", "freq", "user", "trends"] {
        for limit in [1, 4, 7] {
            let ids = walk(&server, &format!("sort={sort}&limit={limit}"));
            let mut unique = ids.clone();
            unique.sort();
            unique.dedup();
            assert_eq!((ids.len(), unique.len()), (25, 25), "sort={sort} limit={limit}");
            if limit == 7 {
                assert_eq!(
                    ids,
                    walk(&server, &format!("sort={sort}&limit=100")),
                    "sort={sort}: pages keep the order"
                );
            }
        }
    }
    let first_two = |sort: &str| titles(&list(&server, &format!("sort={sort}&limit=2")));
    assert_eq!(first_two("date")[0], "title y");
    assert_eq!(first_two("trends")[0], "title x");
    assert_eq!(first_two("freq")[0], "title x");
    // A value cursor of sort=date is the last seen in milliseconds (a first page's cursors
    // name a paging snapshot instead; a value cursor from the top gives the same page).
    let top = format!("sort=date&limit=1&cursor={}:0:0", i64::MAX);
    assert_eq!(titles(&list(&server, &top)), titles(&list(&server, "sort=date&limit=1")));
    let link = list(&server, &top).headers["Link"].to_str().unwrap().to_string();
    assert!(link.contains(&format!("cursor=\"{}:0:0\"", (NOW - H) * 1000)), "{link}");
}

/// `rl` has five events over five days with two releases (and one without), two levels and
/// two environments, one user each; `one` has two events of one release and level (so its
/// views keep no per-facet hours); `late` was an error first and is info now.
fn facet_events() -> Vec<Ev> {
    let n = NOW;
    let with = |fp, t, user, env, release, level| Ev {
        release,
        level,
        ..ev(fp, t, user, env)
    };
    vec![
        with("rl", n - 5 * D + 1800, Some("a"), Some("prod"), Some("1.0"), "error"),
        with("rl", n - 4 * D + 1800, Some("b"), Some("prod"), Some("1.0"), "warning"),
        with("rl", n - 3 * D + 1800, Some("c"), Some("staging"), Some("2.0"), "error"),
        with("rl", n - 2 * D + 1800, Some("d"), Some("prod"), None, "error"),
        with("rl", n - D + 1800, Some("e"), Some("prod"), Some("2.0"), "warning"),
        with("one", n - 3 * D + 1800, Some("a"), Some("prod"), Some("1.0"), "info"),
        with("one", n - 2 * D + 1800, Some("b"), Some("prod"), Some("1.0"), "info"),
        with("late", n - 6 * D + 1800, None, None, None, "error"),
        with("late", n - 5 * D + 1800, None, None, None, "info"),
    ]
}

#[test]
fn filtered_and_matching_follow_release_level_and_environment_of_each_event() {
    let dir = temp_dir();
    let evs = facet_events();
    let messages: Vec<Value> = evs.iter().enumerate().map(|(i, e)| message(i as u64 + 1, e)).collect();
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&messages));
    let server = start(&["--input", input.to_str().unwrap()]);
    let (start, end) = (NOW - 90 * D, NOW);
    let t = |fp: &str| format!("title {fp}");
    let sorted = |params: &str| {
        let reply = list(&server, params);
        let mut names = titles(&reply);
        names.sort();
        (names, reply)
    };

    // Each case: the query, the groups it returns, and which events `filtered` counts.
    type Condition = fn(&Ev) -> bool;
    let cases: [(&str, &[&str], Condition); 7] = [
        ("release:1.0", &["one", "rl"], |e| e.release == Some("1.0")),
        ("level:error", &["late", "rl"], |e| e.level == "error"),
        ("release:2.0 level:warning", &["rl"], |e| {
            e.release == Some("2.0") && e.level == "warning"
        }),
        ("!release:1.0", &["late", "rl"], |e| e.release != Some("1.0")),
        ("has:release level:error", &["rl"], |e| e.release.is_some() && e.level == "error"),
        ("release:2.* environment:prod", &["rl"], |e| {
            e.release == Some("2.0") && e.env == Some("prod")
        }),
        ("release:3.0", &[], |_| false),
    ];
    for (query, groups, condition) in cases {
        let (names, reply) = sorted(&format!("query={}&groupStatsPeriod=14d", url_encode(query)));
        let expected_names: Vec<String> = groups.iter().map(|g| t(g)).collect();
        assert_eq!(names, expected_names, "{query}");
        for fp in groups.iter() {
            let group = by_title(&reply, &t(fp));
            assert_eq!(actual(group), expected(&evs, fp, start, end, None), "{query}: {fp} in the window");
            assert_eq!(
                actual(&group["filtered"]),
                expected_if(&evs, fp, start, end, condition),
                "{query}: {fp} filtered"
            );
            assert_eq!(
                group["filtered"]["stats"]["14d"],
                expected_buckets_if(&evs, fp, condition),
                "{query}: {fp}"
            );
        }
    }
    // The request's environment= narrows the window's values and the event-level match.
    let (names, reply) = sorted("query=release:1.0&environment=prod");
    assert_eq!(names, [t("one"), t("rl")]);
    let rl = by_title(&reply, "title rl");
    assert_eq!(actual(rl), expected(&evs, "rl", start, end, Some(&["prod"])));
    let in_prod_1 = |e: &Ev| e.release == Some("1.0") && e.env == Some("prod");
    assert_eq!(actual(&rl["filtered"]), expected_if(&evs, "rl", start, end, in_prod_1));
    // staging had only release 2.0: release:1.0 finds nothing there.
    assert_eq!(sorted("query=release:1.0&environment=staging").0, Vec::<String>::new());
    // Conditions hold together on one event: no event is release 1.0 *and* in staging.
    assert_eq!(sorted("query=release:1.0 environment:staging").0, Vec::<String>::new());
    // The window: rl's release 1.0 events are 4–5 days old, so not in the last 3 days.
    assert_eq!(sorted("query=release:1.0&statsPeriod=3d").0, [t("one")]);
    // issues-count counts with the same event-level reading.
    let counts = get(
        &server,
        "/api/0/organizations/sentry/issues-count/?query=level:error&query=level:info",
    );
    assert_eq!(counts.body, json!({"level:error": 2, "level:info": 2}));
}

/// `--retention-days 2`: per-hour data older than two days before the newest hour (cut at a
/// whole day) is dropped, so old hours leave `stats` and the dump's `stats.hourly`, while
/// counts, users and first/last seen of the rows (`lifetime`) stay exact.
#[test]
fn retention_drops_old_hours_but_lifetime_values_stay_exact() {
    let dir = temp_dir();
    let n = NOW;
    let evs = [
        ev("old", n - 10 * D + 1800, Some("u1"), Some("prod")),
        ev("old", n - 5 * D + 1800, Some("u2"), Some("staging")),
        ev("old", n - D + 1800, Some("u3"), Some("prod")),
        ev("old", n - H + 1800, Some("u1"), Some("prod")),
    ];
    let messages: Vec<Value> = evs.iter().enumerate().map(|(i, e)| message(i as u64 + 1, e)).collect();
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&messages));
    // The newest hour is NOW - 1 h; two days before it, rounded down to a day: NOW - 3 d.
    let cut = (n - H - 2 * D).div_euclid(D) * D;
    let kept: Vec<Ev> = evs.iter().copied().filter(|e| e.t >= cut).collect();

    let run = backfill_files(std::slice::from_ref(&input), 2, &["--retention-days", "2"]);
    let old = run.by_title("title old");
    assert_eq!((old["count"].as_str(), old["userCount"].as_u64()), (Some("4"), Some(3)));
    let hours: Vec<Value> = kept.iter().map(|e| json!([e.t.div_euclid(H) * H, 1])).collect();
    assert_eq!(old["stats"]["hourly"], Value::Array(hours), "only hours from the cut on");
    // Without the option (90 days) every hour stays.
    let full = backfill_files(std::slice::from_ref(&input), 2, &[]);
    assert_eq!(full.by_title("title old")["stats"]["hourly"].as_array().map(Vec::len), Some(4));

    let server = start(&["--input", input.to_str().unwrap(), "--retention-days", "2"]);
    let group = &list(&server, "groupStatsPeriod=14d").body[0];
    assert_eq!(actual(&group["lifetime"]), expected(&evs, "old", i64::MIN, i64::MAX, None));
    assert_eq!(group["stats"]["14d"], expected_buckets(&kept, "old", NOW - 13 * D, D, 14, None));
    // A window after the cut is unaffected: the last day.
    let day = &list(&server, "statsPeriod=1d").body[0];
    assert_eq!(actual(day), expected(&evs, "old", NOW - D, NOW, None));
}
