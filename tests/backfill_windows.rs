//! A backfill without `--state-dir` keeps no windows (each occurrence's details and the
//! per-facet hours, which only windowed queries read): its dump must be what a backfill that
//! keeps them dumps. With `--state-dir` it keeps them, so a `run` restored from its
//! checkpoint answers windowed queries as a `run` that read the input itself.

mod common;

use common::server::Server;
use common::*;
use serde_json::Value;

/// A generated stream over a few days, several projects, users, releases and environments.
fn stream(dir: &std::path::Path) -> std::path::PathBuf {
    generate_stream(
        dir,
        "input.jsonl",
        &["--seed", "30", "--count", "20000", "--fingerprints", "400", "--projects", "3"],
    )
}

#[test]
fn a_backfill_without_checkpoints_dumps_what_one_with_them_dumps() {
    let dir = temp_dir();
    let input = stream(dir.path());
    let state = dir.path().join("state");
    let feeds = [dir.path().join("without.changes"), dir.path().join("with.changes")];
    let feed = |i: usize| feeds[i].to_str().unwrap().to_string();
    let without = backfill_files(std::slice::from_ref(&input), 2, &["--change-feed", &feed(0)]);
    let with = backfill_files(&[input], 2, &["--change-feed", &feed(1), "--state-dir", state.to_str().unwrap()]);
    // The decision shows in the log; the outputs must not show it.
    let note = "the views keep no windows";
    assert!(without.stderr.contains(note) && !with.stderr.contains(note), "{}", without.stderr);
    assert_eq!(without.summary, with.summary);
    assert!(without.dump_bytes == with.dump_bytes, "the dumps differ");
    assert!(!without.dead_letters.is_empty());
    assert_eq!(without.dead_letters, with.dead_letters);
    let changes = |path: &std::path::Path| std::fs::read(path).expect("change feed written");
    assert!(changes(&feeds[0]).len() > 1000);
    assert!(changes(&feeds[0]) == changes(&feeds[1]), "the change feeds differ");
    // The dump's parts that the views keep beside the rows are there.
    let with_stats = without
        .issues
        .iter()
        .filter(|i| i["stats"]["hourly"].as_array().is_some_and(|h| h.len() > 1));
    assert!(with_stats.count() > 10, "too few groups with hourly stats to compare");
    assert!(without
        .issues
        .iter()
        .any(|i| i["environments"].as_array().is_some_and(|e| e.len() > 1)));
    assert!(without.issues.iter().any(|i| i["lastRelease"].is_string()));
}

/// Windowed lists whose answers need the details (a window edge inside an hour, users within
/// the window) and the facet hours (event-level conditions, custom tags).
const QUERIES: [&str; 6] = [
    "statsPeriod=24h&sort=freq&limit=100&query=",
    "statsPeriod=24h&sort=user&limit=100&query=",
    "statsPeriod=36h&limit=100&query=level:error",
    "statsPeriod=14d&environment=production&limit=100&query=",
    "statsPeriod=24h&limit=100&query=release:[frontend@1.3.0, frontend@1.2.6] is:unresolved",
    "statsPeriod=48h&limit=100&query=device.class:high",
];

fn answers(server: &Server) -> Vec<Value> {
    QUERIES
        .iter()
        .map(|query| {
            let url = server.url(&format!("/api/0/organizations/sentry/issues/?{query}"));
            let reply = server.client.get(url).send().expect("list request");
            assert_eq!(reply.status(), 200, "{query}");
            reply.json().expect("list JSON")
        })
        .collect()
}

#[test]
fn a_run_restored_from_a_backfills_checkpoint_answers_windows_as_a_run_of_the_input() {
    let dir = temp_dir();
    let input = stream(dir.path());
    let input = input.to_str().unwrap();
    let state = dir.path().join("state");
    backfill_files(&[input.into()], 2, &["--state-dir", state.to_str().unwrap()]);
    let expected = answers(&Server::start("127.0.0.1", &["--input", input]));
    let restored = answers(&Server::start(
        "127.0.0.1",
        &["--input", input, "--state-dir", state.to_str().unwrap()],
    ));
    // The windows cut the groups' counts: the details decide them.
    let cut = expected[0]
        .as_array()
        .expect("a list")
        .iter()
        .filter(|i| i["count"] != i["lifetime"]["count"]);
    assert!(cut.count() > 5, "the window cuts too few groups' counts");
    assert!(
        expected.iter().all(|list| !list.as_array().expect("a list").is_empty()),
        "{expected:?}"
    );
    for ((query, expected), restored) in QUERIES.iter().zip(&expected).zip(&restored) {
        assert_eq!(expected, restored, "{query}");
    }
}
