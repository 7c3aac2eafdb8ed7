//! The reference model's decoding of a line into a record (semantics.md §2).

#![allow(dead_code)]

use super::*;

#[derive(Debug, Clone)]
pub(super) struct Occurrence {
    pub(super) id: String,
    pub(super) project_id: u64,
    /// Distinct hashes in first-occurrence order.
    pub(super) hashes: Vec<String>,
    pub(super) title: String,
    pub(super) subtitle: String,
    pub(super) gtype: &'static GroupType,
    pub(super) event_time: i64,
    pub(super) level: String,
    pub(super) culprit: String,
    pub(super) priority: Option<u8>,
    pub(super) user: Option<String>,
    pub(super) release: Option<String>,
    pub(super) environment: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct StatusChange {
    pub(super) id: String,
    pub(super) project_id: u64,
    pub(super) first_hash: String,
    pub(super) new_status: i128,
    pub(super) new_substatus: Option<i128>,
}

#[derive(Debug, Clone)]
pub(super) enum Record {
    Occurrence(Occurrence),
    StatusChange(StatusChange),
}

/// SPEC: a key whose value is JSON `null` is treated exactly like an absent key, everywhere
/// (a required key that is null is "missing"; an optional one is simply not there).
pub(super) fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

pub(super) fn required<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a Value, String> {
    get(obj, key).ok_or_else(|| format!("missing field {key}"))
}

pub(super) fn int_value(v: &Value) -> Option<i128> {
    if let Some(i) = v.as_i64() {
        Some(i as i128)
    } else {
        v.as_u64().map(|u| u as i128)
    }
}

pub(super) fn project_id_of(obj: &Map<String, Value>) -> Result<u64, String> {
    let v = required(obj, "project_id")?;
    v.as_u64()
        .ok_or_else(|| format!("invalid project_id {v}: not a non-negative integer"))
}

pub(super) fn hashes_of(obj: &Map<String, Value>, md5_cache: &mut HashMap<String, String>) -> Result<Vec<String>, String> {
    let v = required(obj, "fingerprint")?;
    let arr = v.as_array().ok_or_else(|| "invalid fingerprint: not an array".to_string())?;
    if arr.is_empty() {
        return Err("invalid fingerprint: empty".to_string());
    }
    let mut hashes: Vec<String> = Vec::new();
    for entry in arr {
        let s = entry.as_str().ok_or_else(|| "invalid fingerprint: not all strings".to_string())?;
        // memoised only for speed in debug builds; the value is always md5_hex(s)
        let h = md5_cache.entry(s.to_string()).or_insert_with(|| md5_hex(s.as_bytes())).clone();
        if !hashes.contains(&h) {
            hashes.push(h);
        }
    }
    Ok(hashes)
}

pub(super) fn string_field(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("invalid {key}: not a string")),
    }
}

pub(super) fn uuid_field(v: &Value, name: &str) -> Result<String, String> {
    let s = v.as_str().ok_or_else(|| format!("invalid {name} {v}: not a UUID"))?;
    parse_uuid(s).ok_or_else(|| format!("invalid {name} {v}: not a UUID"))
}

pub(super) fn priority_field(obj: &Map<String, Value>, key: &str) -> Result<Option<u8>, String> {
    match get(obj, key) {
        None => Ok(None),
        Some(v) => match int_value(v) {
            Some(25) => Ok(Some(LOW)),
            Some(50) => Ok(Some(MEDIUM)),
            Some(75) => Ok(Some(HIGH)),
            _ => Err(format!("invalid {key} {v}")),
        },
    }
}

/// User identity for distinct-user counting. SPEC: keyed by kind as Sentry's `sentry:user` tag
/// (`id:…`, `email:…`, `username:…`, `ip:…`); a numeric id is written as its JSON text, so
/// `"id": 42` and `"id": "42"` are the same user.
pub(super) fn user_key(user: &Map<String, Value>) -> Option<String> {
    match get(user, "id") {
        Some(Value::String(s)) if !s.is_empty() => return Some(format!("id:{s}")),
        Some(Value::Number(n)) => return Some(format!("id:{n}")),
        _ => {}
    }
    for (key, prefix) in [("email", "email"), ("username", "username"), ("ip_address", "ip")] {
        if let Some(Value::String(s)) = get(user, key) {
            if !s.is_empty() {
                return Some(format!("{prefix}:{s}"));
            }
        }
    }
    None
}

pub(super) fn decode_occurrence(obj: &Map<String, Value>, md5_cache: &mut HashMap<String, String>) -> Result<Occurrence, String> {
    let id = uuid_field(required(obj, "id")?, "id")?;
    let project_id = project_id_of(obj)?;
    let hashes = hashes_of(obj, md5_cache)?;
    let title = string_field(obj, "issue_title")?.ok_or("missing field issue_title")?;
    let subtitle = string_field(obj, "subtitle")?.ok_or("missing field subtitle")?;
    let type_value = required(obj, "type")?;
    let type_id = int_value(type_value).ok_or_else(|| format!("invalid type {type_value}: not an integer"))?;
    let gtype = i64::try_from(type_id)
        .ok()
        .and_then(group_type)
        .ok_or_else(|| format!("unknown group type {type_id}"))?;
    let detection_value = required(obj, "detection_time")?;
    let detection_time = parse_time_value(detection_value, false).ok_or_else(|| format!("invalid detection_time {detection_value}"))?;

    let level = match string_field(obj, "level")? {
        None => "info".to_string(),
        Some(s) if s.is_empty() => "info".to_string(),
        Some(s) => s,
    };
    let culprit: String = string_field(obj, "culprit")?.unwrap_or_default().chars().take(200).collect();
    // Both keys are validated; the first present and non-null one wins.
    let p1 = priority_field(obj, "initial_issue_priority")?;
    let p2 = priority_field(obj, "priority")?;
    let priority = p1.or(p2);

    let top_event_id = match get(obj, "event_id") {
        None => None,
        Some(v) => Some(uuid_field(v, "event_id")?),
    };

    let mut event_time = detection_time;
    let mut user = None;
    let mut release = None;
    let mut environment = None;
    let mut event_event_id = None;
    if let Some(ev) = get(obj, "event") {
        let ev = ev.as_object().ok_or("invalid event: not an object")?;
        match get(ev, "project_id") {
            None => return Err("missing field event.project_id".to_string()),
            Some(v) => {
                if v.as_u64() != Some(project_id) {
                    return Err(format!("event.project_id {v} differs from project_id {project_id}"));
                }
            }
        }
        if let Some(v) = get(ev, "event_id") {
            event_event_id = Some(uuid_field(v, "event.event_id")?);
        }
        if let Some(v) = get(ev, "timestamp") {
            event_time = parse_time_value(v, true).ok_or_else(|| format!("invalid event.timestamp {v}"))?;
        }
        if let Some(v) = get(ev, "user") {
            let u = v.as_object().ok_or("invalid event.user: not an object")?;
            user = user_key(u);
        }
        // Empty strings count as absent (semantics.md §2).
        release = string_field(ev, "release")
            .map_err(|e| e.replace("invalid ", "invalid event."))?
            .filter(|r| !r.is_empty());
        environment = string_field(ev, "environment")
            .map_err(|e| e.replace("invalid ", "invalid event."))?
            .filter(|e| !e.is_empty());
    }
    match (&top_event_id, &event_event_id) {
        (None, None) => return Err("missing field event_id".to_string()),
        (Some(a), Some(b)) if a != b => return Err(format!("event_id {a} differs from event.event_id {b}")),
        _ => {}
    }

    Ok(Occurrence {
        id,
        project_id,
        hashes,
        title,
        subtitle,
        gtype,
        event_time,
        level,
        culprit,
        priority,
        user,
        release,
        environment,
    })
}

pub(super) fn decode_status_change(obj: &Map<String, Value>, md5_cache: &mut HashMap<String, String>) -> Result<StatusChange, String> {
    let id_value = required(obj, "id")?;
    let raw_id = id_value.as_str().ok_or_else(|| format!("invalid id {id_value}: not a string"))?;
    let id = parse_uuid(raw_id).unwrap_or_else(|| raw_id.to_string());
    let project_id = project_id_of(obj)?;
    let hashes = hashes_of(obj, md5_cache)?;
    let status_value = required(obj, "new_status")?;
    let new_status = int_value(status_value).ok_or_else(|| format!("invalid new_status {status_value}: not an integer"))?;
    let new_substatus = match get(obj, "new_substatus") {
        None => None,
        Some(v) => Some(int_value(v).ok_or_else(|| format!("invalid new_substatus {v}: not an integer"))?),
    };
    Ok(StatusChange {
        id,
        project_id,
        first_hash: hashes[0].clone(),
        new_status,
        new_substatus,
    })
}

pub(super) fn decode_line(line: &str, md5_cache: &mut HashMap<String, String>) -> Result<Record, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let obj = value.as_object().ok_or("invalid JSON: not an object")?;
    // SPEC: payload_type null counts as absent (→ occurrence); a non-string is unknown.
    match get(obj, "payload_type") {
        None => decode_occurrence(obj, md5_cache).map(Record::Occurrence),
        Some(Value::String(s)) if s == "occurrence" => decode_occurrence(obj, md5_cache).map(Record::Occurrence),
        Some(Value::String(s)) if s == "status_change" => decode_status_change(obj, md5_cache).map(Record::StatusChange),
        Some(Value::String(s)) => Err(format!("unknown payload_type {s:?}")),
        Some(other) => Err(format!("unknown payload_type {other}")),
    }
}
