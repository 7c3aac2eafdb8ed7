//! The issues list through the real binary, continued: paging through ties, `filtered` and
//! `matchingEventId` under event-level conditions (also after a restart from a checkpoint),
//! `stats` buckets exact to the window, and retention. Expected values are computed here from
//! the input events (`Ev`), independently of the server.

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
    let messages = messages_of(&evs);
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

/// Also after a restart from a checkpoint: the restored views (their per-facet hours, and
/// the facet spans rebuilt as the checkpoint is read) answer exactly as before.
#[test]
fn filtered_and_matching_follow_release_level_and_environment_of_each_event() {
    let dir = temp_dir();
    let evs = facet_events();
    let messages = messages_of(&evs);
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&messages));
    let state = dir.path().join("state");
    let args = [
        "--input",
        input.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--checkpoint-interval",
        "1",
    ];
    let server = start(&args);
    check_facet_queries(&server, &evs);
    // A checkpoint every second: wait for one written after every input was seen (those
    // present now may be older), then stop the server.
    let cuts = || -> Vec<std::ffi::OsString> {
        std::fs::read_dir(&state)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name())
                    .filter(|n| n.to_string_lossy().starts_with("cut-e"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let before = cuts();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while cuts().iter().all(|cut| before.contains(cut)) {
        assert!(std::time::Instant::now() < deadline, "no checkpoint after 30 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(server);
    // Blank the input (same length, blank lines are skipped): a server that re-read it
    // instead of restoring the checkpoint would find no groups.
    let length = std::fs::metadata(&input).unwrap().len() as usize;
    std::fs::write(&input, "\n".repeat(length)).unwrap();
    let restored = start(&args);
    check_facet_queries(&restored, &evs);
}

fn check_facet_queries(server: &common::server::Server, evs: &[Ev]) {
    let (start, end) = (NOW - 90 * D, NOW);
    let t = |fp: &str| format!("title {fp}");
    let sorted = |params: &str| {
        let reply = list(server, params);
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
            assert_eq!(actual(group), expected(evs, fp, start, end, None), "{query}: {fp} in the window");
            assert_eq!(
                actual(&group["filtered"]),
                expected_if(evs, fp, start, end, condition),
                "{query}: {fp} filtered"
            );
            assert_eq!(
                group["filtered"]["stats"]["14d"],
                expected_buckets_if(evs, fp, condition),
                "{query}: {fp}"
            );
        }
    }
    // The request's environment= narrows the window's values and the event-level match.
    let (names, reply) = sorted("query=release:1.0&environment=prod");
    assert_eq!(names, [t("one"), t("rl")]);
    let rl = by_title(&reply, "title rl");
    assert_eq!(actual(rl), expected(evs, "rl", start, end, Some(&["prod"])));
    let in_prod_1 = |e: &Ev| e.release == Some("1.0") && e.env == Some("prod");
    assert_eq!(actual(&rl["filtered"]), expected_if(evs, "rl", start, end, in_prod_1));
    // staging had only release 2.0: release:1.0 finds nothing there.
    assert_eq!(sorted("query=release:1.0&environment=staging").0, Vec::<String>::new());
    // Conditions hold together on one event: no event is release 1.0 *and* in staging.
    assert_eq!(sorted("query=release:1.0 environment:staging").0, Vec::<String>::new());
    // The window: rl's release 1.0 events are 4–5 days old, so not in the last 3 days.
    assert_eq!(sorted("query=release:1.0&statsPeriod=3d").0, [t("one")]);
    // level: over windows that cut rl's facets (split: its facet spans answer).
    assert_eq!(sorted("query=level:warning&statsPeriod=2d").0, [t("rl")]);
    assert_eq!(sorted("query=level:error&statsPeriod=4d").0, [t("rl")]);
    assert_eq!(sorted("query=level:info&statsPeriod=4d").0, [t("one")]);
    assert_eq!(sorted("query=level:warning&statsPeriod=20h").0, Vec::<String>::new());
    // issues-count counts with the same event-level reading.
    let counts = get(
        server,
        "/api/0/organizations/sentry/issues-count/?query=level:error&query=level:info",
    );
    assert_eq!(counts.body, json!({"level:error": 2, "level:info": 2}));
}

/// `stats` buckets count the occurrences inside both the bucket and the request's window,
/// to the second (so none after now under a window ending now): with a window from the first
/// bucket's start, the buckets sum to `count`. Buckets keep Sentry's labels and alignment (bucket starts;
/// 24 hourly / 14 daily points, the last holding now; `auto` from the window's start rounded
/// down).
#[test]
fn stats_buckets_count_the_window_to_the_second_and_nothing_after_now() {
    let dir = temp_dir();
    let n = NOW;
    let evs = vec![
        ev("s", n - 13 * D - 50, None, Some("prod")),
        ev("s", n - 13 * D + 50, None, Some("dev")),
        ev("s", n - 23 * H - 100, None, Some("prod")),
        ev("s", n - 23 * H, None, Some("prod")),
        ev("s", n - 23 * H + 5, None, Some("dev")),
        ev("s", n - 5 * H + 999, None, Some("prod")),
        ev("s", n - 5 * H + 1000, None, Some("dev")),
        ev("s", n - 5 * H + 1001, None, Some("prod")),
        ev("s", n - 2 * H + 499, None, Some("dev")),
        ev("s", n - 2 * H + 500, None, Some("prod")),
        ev("s", n - 10, None, Some("prod")),
        ev("s", n, None, Some("prod")),
        // Stamped after now: in no window ending now, so in no bucket either.
        ev("s", n + 100, None, Some("prod")),
        ev("s", n + 3000, None, Some("dev")),
    ];
    let messages = messages_of(&evs);
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&messages));
    let server = start(&["--input", input.to_str().unwrap()]);
    let group = |params: &str| list(&server, params).body[0].clone();
    let hourly = (n - 23 * H, H, 24);
    let daily = (n - 13 * D, D, 14);

    // The default window (90 days): the current bucket holds `now`'s event only.
    let s = group("query=");
    assert_eq!(s["stats"]["24h"], expected_buckets_in(&evs, "s", hourly, None, (n - 90 * D, n)));
    assert_eq!(s["stats"]["24h"][23], json!([n, 1]));
    assert_eq!(actual(&s), expected(&evs, "s", n - 90 * D, n, None));
    // statsPeriod=24h starts 100 s before the first bucket's event: in count, in no bucket.
    let s = group("query=&statsPeriod=24h");
    assert_eq!(s["stats"]["24h"], expected_buckets_in(&evs, "s", hourly, None, (n - D, n)));
    assert_eq!(actual(&s), expected(&evs, "s", n - D, n, None));
    assert_eq!(
        bucket_sum(&s["stats"]["24h"]) + 1,
        s["count"].as_str().unwrap().parse::<u64>().unwrap()
    );
    // A window equal to the buckets' span: they sum to the count, also per environment.
    for (environment, envs) in [("", None), ("&environment=dev", Some(&["dev"][..]))] {
        let s = group(&format!("query=&start={}&end={}{environment}", iso(n - 23 * H), iso(n + 1)));
        assert_eq!(s["stats"]["24h"], expected_buckets_in(&evs, "s", hourly, envs, (n - 23 * H, n)));
        assert_eq!(actual(&s), expected(&evs, "s", n - 23 * H, n, envs));
        assert_eq!(
            bucket_sum(&s["stats"]["24h"]).to_string(),
            s["count"].as_str().unwrap(),
            "{environment}"
        );
        let s = group(&format!(
            "query=&start={}&end={}&groupStatsPeriod=14d{environment}",
            iso(n - 13 * D),
            iso(n + 1)
        ));
        assert_eq!(s["stats"]["14d"], expected_buckets_in(&evs, "s", daily, envs, (n - 13 * D, n)));
        assert_eq!(
            bucket_sum(&s["stats"]["14d"]).to_string(),
            s["count"].as_str().unwrap(),
            "{environment}"
        );
    }
    let s = group("query=&statsPeriod=14d&groupStatsPeriod=14d");
    assert_eq!(s["stats"]["14d"], expected_buckets_in(&evs, "s", daily, None, (n - 14 * D, n)));
    // auto over [now-5h+1000 s, now-2h+500 s): four hourly buckets from now-5h, cut to the
    // window's seconds at both ends.
    for (environment, envs) in [
        ("", None),
        ("&environment=prod", Some(&["prod"][..])),
        ("&environment=dev", Some(&["dev"][..])),
    ] {
        let (start, end) = (n - 5 * H + 1000, n - 2 * H + 500);
        let s = group(&format!(
            "query=&start={}&end={}&groupStatsPeriod=auto{environment}",
            iso(start),
            iso(end)
        ));
        assert_eq!(
            s["stats"]["auto"],
            expected_buckets_in(&evs, "s", (n - 5 * H, H, 4), envs, (start, end - 1)),
            "{environment}"
        );
        assert_eq!(actual(&s), expected(&evs, "s", start, end - 1, envs), "{environment}");
        assert_eq!(
            bucket_sum(&s["stats"]["auto"]).to_string(),
            s["count"].as_str().unwrap(),
            "{environment}"
        );
    }
    // An explicit end after now: the occurrences stamped later count in `count` and so in the
    // buckets (the current one holds now's and the two later ones).
    let s = group(&format!("query=&start={}&end={}", iso(n - 23 * H), iso(n + H)));
    assert_eq!(
        s["stats"]["24h"],
        expected_buckets_in(&evs, "s", hourly, None, (n - 23 * H, n + H - 1))
    );
    assert_eq!(s["stats"]["24h"][23], json!([n, 3]));
    assert_eq!(actual(&s), expected(&evs, "s", n - 23 * H, n + H - 1, None));
    assert_eq!(bucket_sum(&s["stats"]["24h"]).to_string(), s["count"].as_str().unwrap());
    // filtered.stats under an event.timestamp bound inside an hour: from that second on.
    let since = iso(n - 5 * H + 1000).trim_end_matches(".000000Z").to_string();
    let s = group(&format!("query=event.timestamp:>={since}"));
    assert_eq!(
        s["filtered"]["stats"]["24h"],
        expected_buckets_in(&evs, "s", hourly, None, (n - 5 * H + 1000, n))
    );
    assert_eq!(actual(&s["filtered"]), expected(&evs, "s", n - 5 * H + 1000, n, None));
    assert_eq!(s["stats"]["24h"], expected_buckets_in(&evs, "s", hourly, None, (n - 90 * D, n)));
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
    let messages = messages_of(&evs);
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
    // One occurrence stamped in 2200 does not move the cut: retention counts back from the
    // newest hour ingested but never from later than the wall clock.
    let mut with_future = evs.to_vec();
    with_future.push(ev("ahead", 7_258_118_400, None, None));
    let with_future = messages_of(&with_future);
    let future_input = write_lines(dir.path(), "future.jsonl", &to_lines(&with_future));
    let ahead = backfill_files(std::slice::from_ref(&future_input), 2, &[]);
    assert_eq!(
        ahead.by_title("title old")["stats"]["hourly"],
        full.by_title("title old")["stats"]["hourly"]
    );

    let server = start(&["--input", input.to_str().unwrap(), "--retention-days", "2"]);
    let group = &list(&server, "groupStatsPeriod=14d").body[0];
    assert_eq!(actual(&group["lifetime"]), expected(&evs, "old", i64::MIN, i64::MAX, None));
    assert_eq!(group["stats"]["14d"], expected_buckets(&kept, "old", NOW - 13 * D, D, 14, None));
    // A window after the cut is unaffected: the last day.
    let day = &list(&server, "statsPeriod=1d").body[0];
    assert_eq!(actual(day), expected(&evs, "old", NOW - D, NOW, None));
    // Nor does it move the API's now (`--api-now data`): the last day is still the data's.
    let server = common::server::Server::start("127.0.0.1", &["--input", future_input.to_str().unwrap(), "--api-now", "data"]);
    let day = list(&server, "statsPeriod=1d");
    assert_eq!(day.body.as_array().map(Vec::len), Some(1), "{}", day.body);
    let data_now = n - H + 1800;
    assert_eq!(actual(&day.body[0]), expected(&evs, "old", data_now - D, data_now, None));
}
