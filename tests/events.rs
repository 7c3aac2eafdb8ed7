//! Error events end to end through the real binary: `occurrent grouping`, backfill with
//! `--input-format events`, the event store and the events endpoints.

#[path = "common/broker.rs"]
mod broker;
mod common;
#[path = "common/mutation_client.rs"]
mod mutation_client;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use serde_json::{json, Value};

fn frame(function: &str, module: &str, in_app: bool) -> Value {
    json!({"function": function, "module": module, "filename": format!("{module}.py"), "in_app": in_app})
}

fn exception(kind: &str, value: &str, frames: Vec<Value>) -> Value {
    json!({"values": [{"type": kind, "value": value, "stacktrace": {"frames": frames}}]})
}

/// A Sentry event; `n` makes the event id, `offset` the time after T0.
fn event(n: u64, offset: f64, body: Value) -> Value {
    let mut event = json!({
        "event_id": uuid(0xe000 + n),
        "project_id": 1,
        "timestamp": T0 + offset,
        "platform": "python",
        "release": "2.0.0",
        "environment": "prod",
        "user": {"id": n % 3},
    });
    if let (Some(target), Some(source)) = (event.as_object_mut(), body.as_object()) {
        for (k, v) in source {
            target.insert(k.clone(), v.clone());
        }
    }
    event
}

/// Eight events: two of them twice more with other values (same groups), a message, a
/// custom fingerprint, and system-only frames.
fn events() -> Vec<Value> {
    let app = |f: &str| {
        vec![
            frame("main", "app.main", true),
            frame(f, "app.views", true),
            frame("execute", "django.db", false),
        ]
    };
    vec![
        event(1, 0.0, json!({"exception": exception("ValueError", "bad input 1", app("handler"))})),
        event(2, 10.0, json!({"exception": exception("KeyError", "'user'", app("profile"))})),
        event(
            3,
            20.0,
            json!({"exception": exception("ValueError", "bad input 2", app("handler"))}),
        ),
        event(4, 30.0, json!({"logentry": {"formatted": "Disk almost full"}, "level": "warning"})),
        event(
            5,
            40.0,
            json!({"exception": exception("TimeoutError", "db", app("handler")), "fingerprint": ["db-timeouts"]}),
        ),
        event(
            6,
            50.0,
            json!({"exception": exception("OSError", "io", vec![frame("read", "stdlib.io", false)])}),
        ),
        event(
            7,
            60.0,
            json!({"exception": exception("ValueError", "bad input 3", app("handler"))}),
        ),
        event(8, 70.0, json!({"logentry": {"formatted": "Disk almost full"}, "level": "warning"})),
    ]
}

/// `occurrent grouping` on `lines` (stdin), one parsed output per non-blank line.
fn grouping(lines: &[String], args: &[&str]) -> Vec<Value> {
    let mut child = Command::new(BIN)
        .arg("grouping")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start occurrent grouping");
    let mut stdin = child.stdin.take().expect("stdin");
    for line in lines {
        writeln!(stdin, "{line}").expect("write stdin");
    }
    drop(stdin);
    let output = child.output_within("occurrent grouping");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect()
}

#[test]
fn grouping_cli_prints_hashes_and_reports_bad_lines() {
    let mut lines = to_lines(&events()[..3]);
    lines.insert(1, "{\"exception\": ".to_owned());
    lines.insert(2, String::new());
    let out = grouping(&lines, &["--config", "newstyle:2023-01-11"]);
    assert_eq!(out.len(), 4, "blank lines are skipped: {out:?}");
    let error = out[1]["error"].as_str().expect("an error object");
    assert!(error.starts_with("line 2: invalid JSON"), "{error}");
    for result in [&out[0], &out[2], &out[3]] {
        let primary = result["primary_hash"].as_str().expect("primary hash");
        assert_eq!(primary.len(), 32);
        assert_eq!(result["contributing_variants"][0], "app");
    }
    assert_eq!(out[0]["primary_hash"], out[3]["primary_hash"], "same stack, other value");
    assert_ne!(out[0]["primary_hash"], out[2]["primary_hash"]);

    let dir = temp_dir();
    let rules = dir.path().join("rules.txt");
    std::fs::write(&rules, "type:KeyError -> missing-keys\n").expect("write rules");
    let out = grouping(
        &to_lines(&events()[..2]),
        &["--fingerprinting-rules", rules.to_str().expect("path")],
    );
    assert_eq!(out[1]["contributing_variants"], json!(["custom-fingerprint"]));
    assert_ne!(out[0]["contributing_variants"], json!(["custom-fingerprint"]));

    let bad = Command::new(BIN)
        .args(["grouping", "--config", "legacy:2019-03-12"])
        .output_within("occurrent grouping");
    assert!(!bad.status.success(), "an unknown config fails before reading");
}

fn backfill_events(dir: &Path, lines: &[String], extra: &[&str]) -> Run {
    let input = write_lines(dir, "events.jsonl", lines);
    let store = dir.join("store");
    let mut args = vec!["--input-format", "events", "--event-store", store.to_str().expect("path")];
    args.extend_from_slice(extra);
    backfill_files(&[input], 2, &args)
}

#[test]
fn backfilled_error_groups_are_the_grouping_hashes() {
    let dir = temp_dir();
    let events = events();
    let mut lines = to_lines(&events);
    lines.push("{\"event_id\": 1".to_owned());
    lines.push(json!({"event_id": uuid(99), "timestamp": T0}).to_string());
    let run = backfill_events(dir.path(), &lines, &[]);
    let printed = grouping(&to_lines(&events), &[]);

    let primaries: BTreeSet<&str> = printed.iter().filter_map(|r| r["primary_hash"].as_str()).collect();
    assert_eq!(run.issues.len(), primaries.len(), "one group per distinct primary hash");
    assert_eq!(run.counter("groups_created"), primaries.len() as i64);
    assert_eq!(run.counter("occurrences_accepted"), events.len() as i64);
    assert_eq!(run.counter("dropped_quota"), 0, "more than 5 new error groups in a minute are fine");
    let reasons: Vec<&str> = run.dead_letters.iter().filter_map(|d| d["reason"].as_str()).collect();
    assert_eq!(reasons.len(), 2);
    assert!(reasons[0].starts_with("invalid JSON in event at line 1 column "), "{reasons:?}");
    assert_eq!(reasons[1], "missing field project_id");

    // Issues are numbered in creation order: the n-th distinct primary hash in log order.
    // Title and culprit come from the group's latest event (events are in time order here).
    let mut order: Vec<&str> = Vec::new();
    let mut latest = std::collections::HashMap::new();
    for (event, result) in events.iter().zip(&printed) {
        let primary = result["primary_hash"].as_str().expect("hash");
        if !order.contains(&primary) {
            order.push(primary);
        }
        latest.insert(primary, event);
    }
    for (issue, primary) in run.issues.iter().zip(&order) {
        let display = dataflows::grouping::error_metadata(latest[primary]);
        assert_eq!(issue["title"], display.title);
        assert_eq!(issue["culprit"], display.culprit.unwrap_or_default());
        assert_eq!(
            (issue["type"].as_str(), issue["issueType"].as_str()),
            (Some("error"), Some("error"))
        );
    }
    let value_errors = run.by_title("ValueError: bad input 3");
    assert_eq!(value_errors["count"], "3");
    assert_eq!(value_errors["metadata"]["type"], "ValueError");
    assert_eq!(value_errors["metadata"]["value"], "bad input 3");
    assert_eq!(value_errors["userCount"], 2, "users id:1, id:0, id:1");
    assert_eq!(value_errors["firstRelease"], "2.0.0");
    assert_eq!(value_errors["lastSeen"], "2024-01-01T00:01:00.000000Z");
    assert_eq!(run.by_title("Disk almost full")["level"], "warning");

    // Occurrences that name a stored event take its time, release and environment.
    let occurrence = occurrence(1, 1, "perf", 4001, T0 + 9999.0, json!({"event_id": uuid(0xe000 + 2)}));
    let input = write_lines(dir.path(), "occurrences.jsonl", &to_lines(&[occurrence]));
    let store = dir.path().join("store");
    let run = backfill_files(&[input], 1, &["--event-store", store.to_str().expect("path")]);
    assert_eq!(run.issues[0]["firstSeen"], "2024-01-01T00:00:10.000000Z");
    assert_eq!(run.issues[0]["environments"], json!(["prod"]));
}

/// `ingest-events` messages in their JSON form (`payload` as a string), one per event.
fn json_wrappers(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            json!({"type": "event", "start_time": 1, "event_id": e["event_id"], "project_id": 1, "payload": e.to_string()}).to_string()
        })
        .collect()
}

#[test]
fn ingest_events_json_wrappers_group_like_plain_events() {
    let dir = temp_dir();
    let events = events();
    let wrapped = json_wrappers(&events);
    let input = write_lines(dir.path(), "wrapped.jsonl", &wrapped);
    let store = dir.path().join("store");
    let run = backfill_files(
        &[input],
        2,
        &["--input-format", "ingest-events", "--event-store", store.to_str().expect("path")],
    );
    let plain = backfill_events(dir.path(), &to_lines(&events), &[]);
    assert_eq!(run.issues, plain.issues);
}

#[test]
fn fingerprinting_rules_apply_to_backfilled_events() {
    let dir = temp_dir();
    let rules = dir.path().join("rules.txt");
    std::fs::write(&rules, "type:KeyError -> missing-keys\ntype:ValueError -> missing-keys\n").expect("write rules");
    let rules = rules.to_str().expect("path");
    let events = events();
    let run = backfill_events(dir.path(), &to_lines(&events), &["--fingerprinting-rules", rules]);
    let printed = grouping(&to_lines(&events), &["--fingerprinting-rules", rules]);
    let primaries: BTreeSet<&str> = printed.iter().filter_map(|r| r["primary_hash"].as_str()).collect();
    assert_eq!(run.issues.len(), primaries.len());
    let plain = grouping(&to_lines(&events), &[]);
    let plain: BTreeSet<&str> = plain.iter().filter_map(|r| r["primary_hash"].as_str()).collect();
    assert_eq!(primaries.len() + 1, plain.len(), "KeyError and ValueError share a group");
}

#[test]
fn retention_keeps_the_last_days_of_event_time() {
    let dir = temp_dir();
    let old = event(1, 0.0, json!({"logentry": {"formatted": "old"}}));
    let new = event(2, 3.0 * 86_400.0, json!({"logentry": {"formatted": "new"}}));
    backfill_events(dir.path(), &to_lines(&[old, new]), &["--event-retention-days", "2"]);
    let store = connectors::event_store::RedbEventStore::open(&dir.path().join("store")).expect("open store");
    assert_eq!(store.len().expect("len"), 1, "the event 3 days before the newest is removed");
}

#[test]
fn an_event_stamped_in_the_future_does_not_remove_the_others() {
    let dir = temp_dir();
    let old = event(1, 0.0, json!({"logentry": {"formatted": "old"}}));
    let new = event(2, 3.0 * 86_400.0, json!({"logentry": {"formatted": "new"}}));
    let mut future = event(3, 0.0, json!({"logentry": {"formatted": "far ahead"}}));
    future["timestamp"] = json!(7_258_118_400.0); // 2200-01-01
    backfill_events(dir.path(), &to_lines(&[old, new, future]), &["--event-retention-days", "2"]);
    let store = connectors::event_store::RedbEventStore::open(&dir.path().join("store")).expect("open store");
    assert_eq!(
        store.len().expect("len"),
        2,
        "only the event 3 days before the newest present one goes"
    );
}

#[test]
fn ingest_events_from_a_topic_group_like_the_file() {
    let dir = temp_dir();
    let events = events();
    let wrapped = json_wrappers(&events);
    let input = write_lines(dir.path(), "wrapped.jsonl", &wrapped);
    let broker = broker::Broker::start();
    broker.create_topic("ingest-events", 1);
    broker.create_topic("ingest-events-dlq", 1);
    broker.produce("ingest-events", &input);
    assert_topic_groups_like_the_file(&broker, dir.path(), &events);
}

/// Backfills the one-partition `ingest-events` topic and checks it groups like `events` in a
/// file.
fn assert_topic_groups_like_the_file(broker: &broker::Broker, dir: &Path, events: &[Value]) {
    let dump = dir.join("kafka.dump.jsonl");
    let output = Command::new(BIN)
        .args([
            "backfill",
            "--kafka",
            &broker.address,
            "--topic",
            "ingest-events",
            "--input-format",
            "ingest-events",
        ])
        .arg("--event-store")
        .arg(dir.join("kafka-store"))
        .arg("--dump-issues")
        .arg(&dump)
        .output_within("occurrent backfill --kafka");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let from_topic: Vec<Value> = std::fs::read_to_string(&dump)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let plain = backfill_events(dir, &to_lines(events), &[]);
    assert!(!from_topic.is_empty());
    assert_eq!(
        from_topic, plain.issues,
        "a one-partition ingest-events topic groups like the events file"
    );
}

/// `serialize_bytes`, so msgpack writes a `bin` as Relay does.
struct Bin<'a>(&'a [u8]);

impl serde::Serialize for Bin<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

#[derive(serde::Serialize)]
struct IngestEvent<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    start_time: u64,
    event_id: &'a str,
    project_id: u64,
    payload: Bin<'a>,
}

#[test]
fn msgpack_ingest_events_from_a_topic_group_like_the_file() {
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    let dir = temp_dir();
    let events = events();
    let broker = broker::Broker::start();
    broker.create_topic("ingest-events", 1);
    broker.create_topic("ingest-events-dlq", 1);
    let producer: ThreadedProducer<DefaultProducerContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &broker.address)
        .create()
        .unwrap();
    for event in &events {
        let payload = event.to_string();
        let message = IngestEvent {
            kind: "event",
            start_time: 1,
            event_id: event["event_id"].as_str().unwrap(),
            project_id: 1,
            payload: Bin(payload.as_bytes()),
        };
        let bytes = rmp_serde::to_vec_named(&message).unwrap();
        producer
            .send(BaseRecord::<(), [u8]>::to("ingest-events").payload(&bytes[..]))
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(std::time::Duration::from_secs(30)).unwrap();
    assert_topic_groups_like_the_file(&broker, dir.path(), &events);
}

/// A deleted error group's fingerprint makes a new group later: the events endpoints and
/// event-id hits of the new group hold only its own events, not the deleted one's (they
/// share hashes; the deleted group's events lie before the new group's first seen).
#[test]
fn a_deleted_groups_events_are_not_the_next_groups() {
    let dir = temp_dir();
    let error = |n: u64, offset: f64| event(n, offset, json!({"exception": exception("ValueError", "bad", vec![])}));
    let input = write_lines(dir.path(), "events.jsonl", &to_lines(&[error(1, 0.0), error(2, 60.0)]));
    let store = dir.path().join("store");
    let server = mutation_client::start(&[
        "--input",
        input.to_str().unwrap(),
        "--input-format",
        "events",
        "--follow",
        "--event-store",
        store.to_str().unwrap(),
    ]);
    let issues = "/api/0/organizations/sentry/issues";
    let (_, list) = server.get(&format!("{issues}/?query="));
    let deleted = list[0]["id"].as_str().expect("one group").to_string();
    // Sentry's named events: `oldest`, `latest`, and `recommended` (the latest here).
    for (name, expected) in [("oldest", 0xe001), ("latest", 0xe002), ("recommended", 0xe002)] {
        let (status, event) = server.get(&format!("{issues}/{deleted}/events/{name}/"));
        assert_eq!((status, event["eventID"].clone()), (200, json!(uuid(expected))), "{name}: {event}");
    }
    assert_eq!(server.delete(&format!("id={deleted}")).0, 204);
    mutation_client::append(&input, &[error(3, 120.0)]);
    let mut list = Value::Null;
    wait_until(|| {
        list = server.get(&format!("{issues}/?query=")).1;
        list.as_array().is_some_and(|l| !l.is_empty())
    });
    let id = list[0]["id"].as_str().unwrap().to_string();
    assert_ne!(id, deleted);
    assert_eq!(list[0]["count"], "1");
    let (status, latest) = server.get(&format!("{issues}/{id}/events/latest/"));
    assert_eq!(status, 200, "{latest}");
    assert_eq!(latest["eventID"], uuid(0xe003));
    assert_eq!(
        (latest["previousEventID"].clone(), latest["nextEventID"].clone()),
        (Value::Null, Value::Null)
    );
    for old in [1, 2] {
        let (status, body) = server.get(&format!("{issues}/{id}/events/{}/", uuid(0xe000 + old)));
        assert_eq!(status, 404, "the deleted group's event {old}: {body}");
        let (_, hits) = server.get(&format!("{issues}/?query={}", uuid(0xe000 + old)));
        assert_eq!(hits, json!([]), "no group holds the deleted group's event {old}");
    }
    assert_eq!(server.get(&format!("{issues}/{id}/events/{}/", uuid(0xe003))).0, 200);
}

fn http_get(server: &common::server::Server, path: &str) -> reqwest::Result<reqwest::blocking::Response> {
    reqwest::blocking::get(format!("{}{}", server.base, path))
}

fn body_of(response: reqwest::blocking::Response) -> Value {
    response.json().expect("JSON body")
}

#[test]
fn events_endpoints_serve_stored_events() {
    let dir = temp_dir();
    let frames = json!([{"function": "handler", "module": "app.views", "in_app": true}]);
    let error = |n: u64, value: &str, offset: f64| {
        json!({"event_id": uuid(0xe000 + n), "project_id": 1, "timestamp": T0 + offset, "platform": "python",
               "tags": {"server": "web-1"}, "environment": "prod",
               "exception": {"values": [{"type": "ValueError", "value": value, "stacktrace": {"frames": frames}}]}})
    };
    let message = json!({"event_id": uuid(0xe009), "project_id": 1, "timestamp": T0, "logentry": {"formatted": "hello"}});
    // Exceptions whose mechanism says whether the SDK handled them.
    let with_mechanism = |n: u64, kind: &str, handled: bool| {
        json!({"event_id": uuid(0xe000 + n), "project_id": 1, "timestamp": T0 + 5.0, "platform": "python",
               "exception": {"values": [{"type": kind, "value": "v", "stacktrace": {"frames": frames},
                                         "mechanism": {"type": "generic", "handled": handled}}]}})
    };
    let lines = to_lines(&[
        error(1, "first", 0.0),
        error(2, "latest", 60.0),
        error(3, "middle", 30.0),
        message,
        with_mechanism(5, "TypeError", false),
        with_mechanism(6, "KeyError", true),
    ]);
    let input = write_lines(dir.path(), "events.jsonl", &lines);
    let store = dir.path().join("store");
    let server = common::server::Server::start(
        "127.0.0.1",
        &[
            "--input",
            input.to_str().unwrap(),
            "--input-format",
            "events",
            "--event-store",
            store.to_str().unwrap(),
            "--dead-letter",
            dir.path().join("dead.jsonl").to_str().unwrap(),
        ],
    );
    let base = "/api/0/organizations/sentry/issues";

    let latest = body_of(http_get(&server, &format!("{base}/1/events/latest/")).unwrap());
    assert_eq!(latest["eventID"], uuid(0xe002));
    assert_eq!(latest["id"], uuid(0xe002));
    assert_eq!((latest["groupID"].as_str(), latest["projectID"].as_str()), (Some("1"), Some("1")));
    assert_eq!(latest["dateCreated"], "2024-01-01T00:01:00.000000Z");
    assert_eq!(latest["title"], "ValueError: latest");
    assert_eq!(latest["culprit"], "app.views in handler");
    assert_eq!(latest["type"], "error");
    assert_eq!(latest["entries"][0]["type"], "exception");
    assert_eq!(
        (latest["previousEventID"].clone(), latest["nextEventID"].clone()),
        (json!(uuid(0xe003)), Value::Null)
    );
    assert_eq!(latest["entries"][0]["data"]["values"][0]["value"], "latest");
    let tags = latest["tags"].as_array().unwrap();
    assert!(tags.contains(&json!({"key": "server", "value": "web-1"})), "{tags:?}");
    assert!(tags.contains(&json!({"key": "environment", "value": "prod"})), "{tags:?}");

    // By id, also in UUID form; the short id names the group too.
    let hyphenated = "00000000-0000-0000-0000-00000000e001";
    let first = body_of(http_get(&server, &format!("{base}/PROJECT-1-1/events/{hyphenated}/")).unwrap());
    assert_eq!(first["eventID"], uuid(0xe001));
    assert_eq!(first["message"], "");
    assert_eq!(
        (first["previousEventID"].clone(), first["nextEventID"].clone()),
        (Value::Null, json!(uuid(0xe003)))
    );
    let hello = body_of(http_get(&server, &format!("{base}/2/events/{}/", uuid(0xe009))).unwrap());
    assert_eq!((hello["title"].as_str(), hello["message"].as_str()), (Some("hello"), Some("hello")));

    // Missing: another group's event, an unknown event, a bad id, an unknown group or org.
    for path in [
        format!("{base}/2/events/{}/", uuid(0xe001)),
        format!("{base}/1/events/{}/", uuid(0xffff)),
        format!("{base}/1/events/not-an-id/"),
        format!("{base}/99/events/latest/"),
        "/api/0/organizations/nope/issues/1/events/latest/".to_string(),
    ] {
        let response = http_get(&server, &path).unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert!(body_of(response)["detail"].is_string(), "{path}");
    }

    // A query that is an event id (32 hex digits or a UUID) returns the group holding that
    // event directly, whatever its status or the default query.
    for query in [uuid(0xe003), "00000000-0000-0000-0000-00000000e003".to_string()] {
        let response = http_get(&server, &format!("{base}/?query={query}")).unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["X-Sentry-Direct-Hit"], "1", "{query}");
        let body = body_of(response);
        assert_eq!(body.as_array().map(Vec::len), Some(1), "{body}");
        assert_eq!(
            (body[0]["id"].as_str(), body[0]["matchingEventId"].as_str()),
            (Some("1"), Some(uuid(0xe003).as_str()))
        );
    }
    let hello = body_of(http_get(&server, &format!("{base}/?query={}", uuid(0xe009))).unwrap());
    assert_eq!(hello[0]["id"], "2");
    // An unknown event id is an ordinary search (free text): nothing, and no direct hit.
    let response = http_get(&server, &format!("{base}/?query={}", uuid(0xffff))).unwrap();
    assert!(response.headers().get("X-Sentry-Direct-Hit").is_none());
    assert_eq!(body_of(response), json!([]));

    // The §7.5 fields without a dump counterpart, and expand.
    let group = &body_of(
        http_get(
            &server,
            &format!("{base}/?query=&expand=inbox&expand=owners&expand=sessions&expand=pluginActions&expand=latestEventHasAttachments"),
        )
        .unwrap(),
    )[0];
    for (field, value) in [
        ("isUnhandled", json!(false)),
        ("isPublic", json!(false)),
        ("shareId", Value::Null),
        ("isSubscribed", json!(false)),
        ("subscriptionDetails", Value::Null),
        ("numComments", json!(0)),
        ("annotations", json!([])),
        ("owners", Value::Null),
        ("sessionCount", Value::Null),
        ("pluginActions", json!([])),
        ("latestEventHasAttachments", json!(false)),
    ] {
        assert_eq!(group[field], value, "{field} in {group}");
    }
    // New and unresolved: in the inbox since its first event (T0 for group 2, T0 + 0 s for 1).
    assert_eq!(group["inbox"]["reason"], 0, "{group}");
    assert_eq!(group["inbox"]["date_added"], group["firstSeen"]);
    assert!(group.get("pluginIssues").is_none(), "not expanded");
    let collapsed = &body_of(http_get(&server, &format!("{base}/?query=&collapse=unhandled")).unwrap())[0];
    assert!(collapsed.get("isUnhandled").is_none(), "{collapsed}");

    // isUnhandled: an event with `mechanism.handled: false` in the group; handled, unknown
    // (no mechanism) and issue-platform groups read false.
    let all = body_of(http_get(&server, &format!("{base}/?query=")).unwrap());
    let unhandled = |title: &str| {
        let group = all.as_array().unwrap().iter().find(|g| g["title"] == title);
        group.unwrap_or_else(|| panic!("no {title} in {all}"))["isUnhandled"].clone()
    };
    assert_eq!(unhandled("TypeError: v"), json!(true));
    assert_eq!(unhandled("KeyError: v"), json!(false));
    assert_eq!(unhandled("ValueError: latest"), json!(false));
    assert_eq!(unhandled("hello"), json!(false));
    // Searched by `error.unhandled` and `error.handled` (the group's flag).
    let titles = |query: &str| -> Vec<String> {
        let found = body_of(http_get(&server, &format!("{base}/?query={query}")).unwrap());
        let mut titles: Vec<String> = found
            .as_array()
            .unwrap_or_else(|| panic!("{query}: {found}"))
            .iter()
            .map(|g| g["title"].as_str().unwrap().to_string())
            .collect();
        titles.sort();
        titles
    };
    assert_eq!(titles("error.unhandled:true"), ["TypeError: v"]);
    assert_eq!(titles("error.handled:false"), ["TypeError: v"]);
    assert_eq!(titles("!error.unhandled:true"), titles("error.handled:true"));
    assert_eq!(titles("error.handled:true").len(), all.as_array().unwrap().len() - 1);
}
