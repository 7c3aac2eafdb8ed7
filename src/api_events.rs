//! The events endpoints: a group's latest event and one event by id, from the event store,
//! in the shape of Sentry's event serializer (the fields the store can answer).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use connectors::event_store::StoredEvent;
use dataflows::grouping::error_metadata;
use dataflows::model::uuid::parse_uuid;
use dataflows::model::{format_iso, group_hash_hex};
use serde_json::{json, Map, Value};

use crate::api::{error, find_group, org_known, AppState};

const NOT_FOUND: &str = "The requested resource does not exist";

/// What a lookup needs from the group, copied out so the views' lock is not held while
/// the store is read.
struct GroupRef {
    id: u64,
    project: u64,
    hashes: Vec<u128>,
    /// The group's lifetime first and last seen: its events lie within them (a deleted
    /// group's events, under hashes a later group took over, mostly do not).
    span: (i64, i64),
}

fn group_ref(state: &AppState, org: &str, id: &str) -> Option<GroupRef> {
    let views = dataflows::views::read(&state.views);
    let (key, view, row) = find_group(&views, &state.catalog, org, id)?;
    Some(GroupRef {
        id: view.id,
        project: key.project,
        hashes: row.event_group.as_ref().map(|e| e.hashes.clone()).unwrap_or_default(),
        span: (row.first_seen, row.last_seen),
    })
}

/// Whether a group with these linked `hashes` and lifetime `span` (first and last seen)
/// holds `event`: a shared hash, and a time within the lifetime (a deleted group's hashes
/// may have passed to a later group, whose lifetime leaves the old events out).
pub(crate) fn holds_event(hashes: &[u128], (first, last): (i64, i64), event: &StoredEvent) -> bool {
    (first..=last).contains(&event.time) && event.hashes.iter().any(|h| hashes.contains(h))
}

/// The group's newest stored event.
#[utoipa::path(get, path = "/api/0/organizations/{org}/issues/{id}/events/latest/", tag = "events",
    params(("org" = String, Path, description = "Organization slug"), ("id" = String, Path, description = "Numeric id or short id")),
    responses(
        (status = 200, description = "The event", body = crate::openapi::Event),
        (status = 401, description = "No or invalid token", body = crate::openapi::ErrorDetail),
        (status = 403, description = "Missing `event:read`", body = crate::openapi::ErrorDetail),
        (status = 404, description = "No such issue in the organization, or no such event of it", body = crate::openapi::ErrorDetail),
    ))]
pub async fn latest_event(State(state): State<AppState>, Path((org, id)): Path<(String, String)>) -> Response {
    respond(&state, &org, &id, None)
}

/// One stored event of the group.
#[utoipa::path(get, path = "/api/0/organizations/{org}/issues/{id}/events/{event_id}/", tag = "events",
    params(("org" = String, Path, description = "Organization slug"), ("id" = String, Path, description = "Numeric id or short id"),
        ("event_id" = String, Path, description = "32 hex digits or a UUID, or `oldest`, `latest`, `recommended`")),
    responses(
        (status = 200, description = "The event", body = crate::openapi::Event),
        (status = 401, description = "No or invalid token", body = crate::openapi::ErrorDetail),
        (status = 403, description = "Missing `event:read`", body = crate::openapi::ErrorDetail),
        (status = 404, description = "No such issue in the organization, or no such event of it", body = crate::openapi::ErrorDetail),
    ))]
pub async fn event_details(State(state): State<AppState>, Path((org, id, event_id)): Path<(String, String, String)>) -> Response {
    respond(&state, &org, &id, Some(&event_id))
}

fn respond(state: &AppState, org: &str, id: &str, event_id: Option<&str>) -> Response {
    if !org_known(state, org) {
        return error(StatusCode::NOT_FOUND, NOT_FOUND);
    }
    let Some(group) = group_ref(state, org, id) else {
        return error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let Some(store) = &state.events else {
        return error(StatusCode::NOT_FOUND, "Event not found (no event store)");
    };
    let found = match event_id {
        // Sentry's `recommended` prefers events with a replay, a profile or a trace, which
        // Occurrent does not keep: then it is the latest.
        None | Some("latest" | "recommended") => store.latest(group.project, &group.hashes, group.span),
        Some("oldest") => store.oldest(group.project, &group.hashes, group.span),
        Some(text) => match parse_uuid(text) {
            // An event of another group (no shared hash, or outside its lifetime) is not
            // this group's.
            Some(event_id) => store
                .get(group.project, event_id)
                .map(|e| e.filter(|e| holds_event(&group.hashes, group.span, e))),
            None => return error(StatusCode::NOT_FOUND, "Event not found"),
        },
    };
    let found = found.and_then(|event| match event {
        Some(event) => {
            let neighbours = store.neighbours(group.project, &group.hashes, group.span, event.time, event.event_id)?;
            Ok(Some((event, neighbours)))
        }
        None => Ok(None),
    });
    match found {
        Ok(Some((event, neighbours))) => Json(serialize_event(&event, group.id, neighbours)).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "Event not found"),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Interfaces that become `entries`, in Sentry's order of display.
const ENTRY_TYPES: &[(&str, &str)] = &[
    ("exception", "exception"),
    ("stacktrace", "stacktrace"),
    ("threads", "threads"),
    ("logentry", "message"),
    ("breadcrumbs", "breadcrumbs"),
    ("request", "request"),
];

fn text(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `tags` as `[{key, value}]`: from an object or a list of pairs, then the derived tags
/// Sentry adds (level, environment, release) when the event does not set them.
fn tags(raw: &Value) -> Vec<Value> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let as_text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    match raw.get("tags") {
        Some(Value::Object(map)) => pairs.extend(map.iter().map(|(k, v)| (k.clone(), as_text(v)))),
        Some(Value::Array(list)) => {
            for item in list {
                match item {
                    Value::Array(pair) if pair.len() == 2 => {
                        if let Some(key) = pair[0].as_str() {
                            pairs.push((key.to_owned(), as_text(&pair[1])));
                        }
                    }
                    Value::Object(o) => {
                        if let (Some(key), Some(value)) = (text(o.get("key")), o.get("value")) {
                            pairs.push((key.to_owned(), as_text(value)));
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    let level = text(raw.get("level")).unwrap_or("error");
    for (key, value) in [
        ("level", Some(level)),
        ("environment", text(raw.get("environment"))),
        ("release", text(raw.get("release"))),
    ] {
        if let Some(value) = value {
            if !pairs.iter().any(|(k, _)| k == key) {
                pairs.push((key.to_owned(), value.to_owned()));
            }
        }
    }
    pairs.sort();
    pairs.into_iter().map(|(key, value)| json!({"key": key, "value": value})).collect()
}

/// The event's message: the formatted log entry, else `message`.
fn message(raw: &Value) -> String {
    let logentry = raw.get("logentry").or_else(|| raw.get("sentry.interfaces.Message"));
    let from_entry = logentry.and_then(|l| text(l.get("formatted")).or_else(|| text(l.get("message"))));
    let from_message = match raw.get("message") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Object(m)) => text(m.get("formatted")).or_else(|| text(m.get("message"))),
        _ => None,
    };
    from_entry.or(from_message).unwrap_or("").to_owned()
}

/// `neighbours`: the group's previous and next event ids.
pub fn serialize_event(event: &StoredEvent, group_id: u64, neighbours: (Option<u128>, Option<u128>)) -> Value {
    let raw: Value = serde_json::from_slice(&event.json).unwrap_or(Value::Null);
    let display = error_metadata(&raw);
    let id = format!("{:032x}", event.event_id);
    let entries: Vec<Value> = ENTRY_TYPES
        .iter()
        .filter_map(|(key, kind)| {
            raw.get(*key)
                .filter(|v| !v.is_null())
                .map(|data| json!({"type": kind, "data": data}))
        })
        .collect();
    let received = match raw.get("received") {
        Some(Value::Number(n)) => n.as_f64().and_then(dataflows::model::time::micros_from_seconds).map(format_iso),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let date_created = format_iso(event.time);
    let event_type = if raw.get("exception").is_some_and(|e| !e.is_null()) {
        "error"
    } else {
        "default"
    };
    let field = |key: &str| raw.get(key).cloned().unwrap_or(Value::Null);
    let mut out = Map::new();
    out.insert("id".into(), id.clone().into());
    out.insert("eventID".into(), id.into());
    out.insert("groupID".into(), group_id.to_string().into());
    out.insert("projectID".into(), event.project.to_string().into());
    out.insert("dateCreated".into(), date_created.clone().into());
    out.insert("dateReceived".into(), received.unwrap_or(date_created).into());
    out.insert("title".into(), display.title.into());
    out.insert("culprit".into(), display.culprit.unwrap_or_default().into());
    out.insert("message".into(), message(&raw).into());
    out.insert("type".into(), event_type.into());
    out.insert("metadata".into(), display.metadata);
    out.insert("platform".into(), field("platform"));
    out.insert("tags".into(), tags(&raw).into());
    out.insert("entries".into(), entries.into());
    out.insert("user".into(), field("user"));
    out.insert("contexts".into(), raw.get("contexts").cloned().unwrap_or_else(|| json!({})));
    out.insert("context".into(), raw.get("extra").cloned().unwrap_or_else(|| json!({})));
    out.insert("sdk".into(), field("sdk"));
    out.insert("dist".into(), field("dist"));
    out.insert(
        "fingerprints".into(),
        event.hashes.iter().map(|h| group_hash_hex(*h)).collect::<Vec<_>>().into(),
    );
    out.insert("size".into(), event.json.len().into());
    let hex = |id: Option<u128>| id.map(|id| format!("{id:032x}"));
    out.insert("previousEventID".into(), hex(neighbours.0).into());
    out.insert("nextEventID".into(), hex(neighbours.1).into());
    out.insert("errors".into(), json!([]));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_the_stored_event() {
        let json = br#"{"event_id":"0000000000000000000000000000000a","timestamp":1.5,"level":"warning","tags":[["server","a"]],"environment":"prod","logentry":{"formatted":"disk full"},"received":2.0}"#;
        let event = StoredEvent {
            project: 3,
            event_id: 10,
            time: 1_500_000,
            hashes: vec![0xab],
            json: json.to_vec(),
        };
        let out = serialize_event(&event, 7, (None, Some(11)));
        assert_eq!(out["eventID"], "0000000000000000000000000000000a");
        assert_eq!((out["groupID"].as_str(), out["projectID"].as_str()), (Some("7"), Some("3")));
        assert_eq!(out["dateCreated"], "1970-01-01T00:00:01.500000Z");
        assert_eq!(out["dateReceived"], "1970-01-01T00:00:02.000000Z");
        assert_eq!(
            (out["title"].as_str(), out["message"].as_str()),
            (Some("disk full"), Some("disk full"))
        );
        assert_eq!(
            out["tags"],
            json!([{"key": "environment", "value": "prod"}, {"key": "level", "value": "warning"}, {"key": "server", "value": "a"}])
        );
        assert_eq!(out["entries"], json!([{"type": "message", "data": {"formatted": "disk full"}}]));
        assert_eq!(out["fingerprints"], json!(["000000000000000000000000000000ab"]));
        assert_eq!(
            (out["previousEventID"].clone(), out["nextEventID"].clone()),
            (Value::Null, json!("0000000000000000000000000000000b"))
        );
    }
}
