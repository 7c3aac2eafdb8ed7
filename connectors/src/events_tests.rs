use super::*;
use crate::event_store::RedbEventStore;
use dataflows::grouping::group_event;
use dataflows::model::{group_hash_hex, symbol_of};
use serde::Serialize;
use serde_json::json;

const EVENT_ID: &str = "2107c4e968514c8690d3a3a24570c40d";

fn event() -> Value {
    json!({
        "event_id": EVENT_ID,
        "project_id": 3,
        "timestamp": 1709691573.5,
        "platform": "python",
        "release": "1.2.3",
        "environment": "prod",
        "user": {"id": 42},
        "exception": {"values": [{"type": "ValueError", "value": "bad input",
            "stacktrace": {"frames": [{"function": "handler", "module": "app.views", "in_app": true}]}}]},
    })
}

fn decoder(format: InputFormat, store: Option<Arc<dyn EventStore>>) -> InputDecoder {
    InputDecoder::new(format, ProjectFilter::Any, GroupingOptions::default(), store)
}

fn occurrence_of(record: Record) -> OccurrenceRecord {
    match record.body {
        RecordBody::Occurrence(occ) => occ,
        RecordBody::StatusChange(_) | RecordBody::Mutation(_) => panic!("not an occurrence"),
    }
}

fn decode(format: InputFormat, bytes: &[u8]) -> Result<Record, String> {
    decoder(format, None).decode(bytes, 0, &mut |_, _| {})
}

#[test]
fn an_event_becomes_an_error_occurrence_with_the_grouping_hashes() {
    let line = event().to_string();
    let record = decode(InputFormat::Events, line.as_bytes()).expect("decodes");
    assert_eq!((record.project, record.id), (3, u128::from_str_radix(EVENT_ID, 16).expect("hex")));
    let occ = occurrence_of(record);
    let grouping = group_event(&event(), &GroupingOptions::default()).expect("groups");
    let hashes: Vec<String> = occ.hashes().map(group_hash_hex).collect();
    assert_eq!(hashes, grouping.hashes, "the printed hashes are the group hashes");
    assert_eq!(group_hash_hex(occ.hash), grouping.primary_hash);
    assert_eq!(occ.type_id, 1);
    assert_eq!(occ.time, 1_709_691_573_500_000);
    assert_eq!(occ.texts.title(), "ValueError: bad input");
    assert_eq!(occ.texts.culprit(), "app.views in handler");
    assert_eq!(occ.texts.subtitle(), "bad input");
    assert_eq!(occ.level, Level::Error, "events default to error");
    let metadata: Value = serde_json::from_str(occ.metadata.as_deref().expect("metadata")).expect("JSON");
    assert_eq!(metadata["type"], "ValueError");
    assert_eq!(
        (occ.release, occ.environment),
        (Some(symbol_of("1.2.3")), Some(dataflows::model::non_zero_symbol(symbol_of("prod"))))
    );
    assert_eq!(occ.user, Some(symbol_of("id:42")), "users are named as occurrences name them");
    assert_eq!(occ.texts.release(), "1.2.3", "the release's name travels for ordering");
    assert!(!occ.unhandled, "no mechanism: not unhandled");
}

#[test]
fn an_exception_mechanism_with_handled_false_marks_the_event_unhandled() {
    let with_exceptions = |exception: Value| {
        let mut event = event();
        event["exception"] = exception;
        let line = event.to_string();
        occurrence_of(decode(InputFormat::Events, line.as_bytes()).expect("decodes")).unhandled
    };
    let values = |mechanisms: Vec<Value>| {
        let values: Vec<Value> = mechanisms
            .into_iter()
            .map(|m| json!({"type": "E", "value": "v", "mechanism": m}))
            .collect();
        json!({ "values": values })
    };
    assert!(with_exceptions(values(vec![
        json!({"type": "generic", "handled": true}),
        json!({"type": "onerror", "handled": false})
    ])));
    assert!(!with_exceptions(values(vec![json!({"type": "generic", "handled": true})])));
    assert!(
        !with_exceptions(values(vec![json!({"type": "generic"})])),
        "unknown is not unhandled"
    );
    assert!(
        with_exceptions(json!([{"type": "E", "value": "v", "mechanism": {"handled": false}}])),
        "the older bare list"
    );
}

#[test]
fn bad_events_have_precise_reasons() {
    let without = |key: &str| {
        let mut e = event();
        e.as_object_mut().map(|o| o.remove(key));
        e.to_string()
    };
    let with = |key: &str, value: Value| {
        let mut e = event();
        e[key] = value;
        e.to_string()
    };
    let cases = [
        (
            "{\"event_id\":".to_owned(),
            "invalid JSON in event at line 1 column 12: EOF while parsing a value",
        ),
        ("[1]".to_owned(), "event must be a JSON object"),
        (without("project_id"), "missing field project_id"),
        (without("event_id"), "missing field event_id"),
        (with("event_id", json!("xyz")), "invalid event_id \"xyz\": not a UUID"),
        (without("timestamp"), "missing field timestamp"),
        (with("timestamp", json!("yesterday")), "invalid event.timestamp: "),
        (with("level", json!(3)), "invalid level 3: not a string"),
        (with("project_id", json!(-1)), "invalid project_id -1"),
    ];
    for (line, reason) in cases {
        let error = decode(InputFormat::Events, line.as_bytes()).expect_err(&line);
        assert!(error.starts_with(reason), "{line}: {error}");
    }
    let only_project_2 = InputDecoder::new(
        InputFormat::Events,
        ProjectFilter::Only([2].into_iter().collect()),
        GroupingOptions::default(),
        None,
    );
    let error = only_project_2.decode(event().to_string().as_bytes(), 0, &mut |_, _| {});
    assert_eq!(error.expect_err("unknown project"), "unknown project 3");
}

/// `serialize_bytes`, so that msgpack writes a `bin` like Relay does.
struct Bin<'a>(&'a [u8]);

impl Serialize for Bin<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

#[derive(Serialize)]
struct Message<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    start_time: u64,
    event_id: &'a str,
    project_id: u64,
    remote_addr: &'a str,
    attachments: Vec<u8>,
    payload: Bin<'a>,
}

fn message(kind: &str, event_id: &str, payload: &[u8]) -> Vec<u8> {
    let message = Message {
        kind,
        start_time: 1709691573,
        event_id,
        project_id: 3,
        remote_addr: "172.18.0.1",
        attachments: Vec::new(),
        payload: Bin(payload),
    };
    rmp_serde::to_vec_named(&message).expect("msgpack")
}

#[test]
fn ingest_events_messages_msgpack_and_json() {
    let payload = event().to_string();
    let direct = occurrence_of(decode(InputFormat::Events, payload.as_bytes()).expect("event"));
    let wrapped = decode(InputFormat::IngestEvents, &message("event", EVENT_ID, payload.as_bytes())).expect("msgpack");
    assert_eq!(occurrence_of(wrapped), direct);
    let json_form = json!({"type": "event", "event_id": EVENT_ID, "project_id": 3, "start_time": 1, "payload": payload});
    let wrapped = decode(InputFormat::IngestEvents, json_form.to_string().as_bytes()).expect("JSON form");
    assert_eq!(occurrence_of(wrapped), direct);

    let cases = [
        (
            message("attachment", EVENT_ID, payload.as_bytes()),
            "unsupported ingest-events message type \"attachment\"",
        ),
        (message("event", EVENT_ID, b"{"), "invalid JSON in payload at line 1 column 1: EOF"),
        (
            message("event", "ffffffffffffffffffffffffffffffff", payload.as_bytes()),
            "payload event_id \"2107c4e968514c8690d3a3a24570c40d\" differs",
        ),
        (vec![0x92, 0x01], "invalid ingest-events msgpack: "),
    ];
    for (bytes, reason) in cases {
        let error = decode(InputFormat::IngestEvents, &bytes).expect_err(reason);
        assert!(error.starts_with(reason), "{error}");
    }
}

#[test]
fn events_reach_the_store_at_the_end_of_a_block_and_occurrences_find_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn EventStore> = Arc::new(RedbEventStore::open(dir.path()).expect("open"));
    let events = decoder(InputFormat::Events, Some(store.clone()));
    let line = event().to_string();
    let occ = occurrence_of(events.decode(line.as_bytes(), 0, &mut |_, _| {}).expect("event"));
    let id = u128::from_str_radix(EVENT_ID, 16).expect("hex");
    assert_eq!(store.get(3, id).expect("get"), None, "buffered until the block ends");
    events.end_block();
    let stored = store.get(3, id).expect("get").expect("stored");
    assert_eq!(stored.json, line.as_bytes());
    assert_eq!(stored.hashes, occ.hashes().collect::<Vec<_>>());
    assert_eq!(
        store
            .latest(3, &[occ.hash], (i64::MIN, i64::MAX))
            .expect("latest")
            .map(|e| e.event_id),
        Some(id)
    );

    // An occurrence with only `event_id` takes time, user, release and environment from it.
    let occurrence = json!({"id": "0123456789abcdef0123456789abcdef", "project_id": 3, "event_id": EVENT_ID,
        "fingerprint": ["f"], "issue_title": "t", "subtitle": "s", "type": 4001, "detection_time": 1.0});
    let occurrences = decoder(InputFormat::Occurrences, Some(store));
    let looked_up = occurrence_of(
        occurrences
            .decode(occurrence.to_string().as_bytes(), 0, &mut |_, _| {})
            .expect("occurrence"),
    );
    assert_eq!(looked_up.time, occ.time);
    assert_eq!((looked_up.user, looked_up.release), (occ.user, occ.release));
    let alone = occurrence_of(decode(InputFormat::Occurrences, occurrence.to_string().as_bytes()).expect("occurrence"));
    assert_eq!((alone.time, alone.release), (1_000_000, None));
}

#[test]
fn input_formats_parse() {
    assert_eq!("ingest-events".parse(), Ok(InputFormat::IngestEvents));
    assert!("xml".parse::<InputFormat>().is_err());
}

/// A file saved with a UTF-8 byte-order mark: its first line decodes like any other (the
/// mark is not JSON; it was rejected as "expected value" at column 1).
#[test]
fn a_byte_order_mark_before_a_line_is_skipped() {
    let line = event().to_string();
    let with_mark = [b"\xEF\xBB\xBF".as_slice(), line.as_bytes()].concat();
    for format in [InputFormat::Events, InputFormat::Occurrences] {
        assert_eq!(
            decode(format, &with_mark).map_err(|e| e.to_string()),
            decode(format, line.as_bytes()).map_err(|e| e.to_string()),
            "{format:?}"
        );
    }
    assert!(decode(InputFormat::Events, &with_mark).is_ok());
}
