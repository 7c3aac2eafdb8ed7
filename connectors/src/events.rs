//! Error events as an input: one Sentry event (a JSON line) or one `ingest-events` message
//! (kafka-formats.md §7: a msgpack map whose `payload` holds the event's JSON bytes) becomes
//! an occurrence record of the error type (id 1), grouped by [`dataflows::grouping`].
//!
//! * hashes: the grouping hashes (md5 hex) as the same 128-bit values the occurrence path
//!   computes for fingerprints, so `occurrent grouping`'s `primary_hash` printed as 32 hex
//!   digits is the group's first hash;
//! * time: the event's `timestamp`; id (for duplicates): its `event_id`;
//! * title, culprit and metadata: [`dataflows::grouping::error_metadata`] (a fingerprinting
//!   rule's `title=` wins over the derived title); `level` defaults to `error`;
//! * user, release, environment: exactly the occurrence path's rules for `event.*`.
//!
//! Decoded events are buffered and written to the event store in one transaction per input
//! block ([`InputDecoder::end_block`]), on the worker that decoded them.

use std::sync::{Arc, Mutex};

use dataflows::grouping::{group_and_describe, GroupingOptions};
use dataflows::model::grouptype::ERROR_TYPE_ID;
use dataflows::model::uuid::parse_uuid;
use dataflows::model::{GroupHash, Level, OccurrenceRecord, ProjectId, Record, RecordBody, Seq, Symbol, Texts};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::decode::{event_fields_of, OccurrenceDecoder, ProjectFilter};
use crate::event_store::{EventStore, StoredEvent};

/// `--input-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// `ingest-occurrences` JSON (occurrences and status changes).
    #[default]
    Occurrences,
    /// One Sentry event JSON per line.
    Events,
    /// `ingest-events` messages: msgpack (Kafka), or the same wrapper as a JSON object.
    IngestEvents,
}

impl std::str::FromStr for InputFormat {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "occurrences" => Ok(InputFormat::Occurrences),
            "events" => Ok(InputFormat::Events),
            "ingest-events" => Ok(InputFormat::IngestEvents),
            other => Err(format!("unknown input format {other:?} (occurrences, events, ingest-events)")),
        }
    }
}

/// The pipeline's decoder: one of the input formats, with the event store if any.
#[derive(Clone)]
pub enum InputDecoder {
    /// Occurrences; those without an inline event look it up in the store.
    Occurrences {
        decoder: OccurrenceDecoder,
        store: Option<Arc<dyn EventStore>>,
    },
    Events(EventDecoder),
}

impl InputDecoder {
    pub fn new(format: InputFormat, projects: ProjectFilter, grouping: GroupingOptions, store: Option<Arc<dyn EventStore>>) -> Self {
        match format {
            InputFormat::Occurrences => InputDecoder::Occurrences {
                decoder: OccurrenceDecoder::new(projects),
                store,
            },
            InputFormat::Events | InputFormat::IngestEvents => InputDecoder::Events(EventDecoder {
                wrapped: format == InputFormat::IngestEvents,
                projects,
                grouping: Arc::new(grouping),
                store,
                pending: Mutex::new(Vec::new()),
            }),
        }
    }

    pub fn decode(&self, line: &[u8], seq: Seq, define: &mut dyn FnMut(Symbol, &str)) -> Result<Record, String> {
        // A UTF-8 byte-order mark (editors write one at the start of a file) is not JSON.
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        match self {
            InputDecoder::Occurrences { decoder, store: None } => decoder.decode(line, seq, define),
            InputDecoder::Occurrences {
                decoder,
                store: Some(store),
            } => {
                let lookup = |project: ProjectId, event_id: u128| match store.get(project, event_id) {
                    Ok(found) => found.map(|event| event.json),
                    Err(error) => {
                        tracing::warn!(%error, project, "event lookup failed; using the occurrence alone");
                        None
                    }
                };
                decoder.decode_with_lookup(line, seq, define, Some(&lookup))
            }
            InputDecoder::Events(decoder) => decoder.decode(line, seq, define),
        }
    }

    /// Writes the events decoded since the last call to the store (one transaction).
    pub fn end_block(&self) {
        if let InputDecoder::Events(decoder) = self {
            decoder.flush();
        }
    }
}

/// Error events (plain or wrapped) to records.
pub struct EventDecoder {
    /// `ingest-events` wrappers rather than bare events.
    wrapped: bool,
    projects: ProjectFilter,
    grouping: Arc<GroupingOptions>,
    store: Option<Arc<dyn EventStore>>,
    /// Events of the current block, for the store. Each worker owns its clone, so the lock
    /// is never contended; it only makes the decoder `Sync` for timely's worker closure.
    pending: Mutex<Vec<StoredEvent>>,
}

impl Clone for EventDecoder {
    /// A clone starts with an empty buffer: it belongs to another worker.
    fn clone(&self) -> Self {
        EventDecoder {
            wrapped: self.wrapped,
            projects: self.projects.clone(),
            grouping: self.grouping.clone(),
            store: self.store.clone(),
            pending: Mutex::new(Vec::new()),
        }
    }
}

/// The `ingest-events` wrapper; unknown keys (`remote_addr`, `attachments`, …) are ignored.
#[derive(Deserialize)]
struct Wrapper {
    #[serde(rename = "type")]
    kind: Option<String>,
    payload: Option<Payload>,
    event_id: Option<String>,
    project_id: Option<u64>,
}

/// `payload`: msgpack bytes (or a string, in the JSON form of the wrapper).
struct Payload(Vec<u8>);

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Payload;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes or a string")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Payload, E> {
                Ok(Payload(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Payload, E> {
                Ok(Payload(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Payload, E> {
                Ok(Payload(v.as_bytes().to_vec()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

fn missing(field: &str) -> String {
    format!("missing field {field}")
}

/// An md5 hex digest as the 128-bit group hash (big-endian, as `group_hash` builds it).
fn hash_of_hex(hex: &str) -> Result<GroupHash, String> {
    if hex.len() != 32 {
        return Err(format!("grouping hash {hex:?} is not 32 hex digits"));
    }
    u128::from_str_radix(hex, 16).map_err(|_| format!("grouping hash {hex:?} is not 32 hex digits"))
}

/// Sentry's `error.unhandled`: an exception's mechanism says `handled: false`. Exceptions
/// are `exception.values` (or a bare list, the older form); a missing `handled` is unknown,
/// not unhandled.
fn is_unhandled(event: &Value) -> bool {
    let exceptions = match event.get("exception") {
        Some(Value::Object(exception)) => exception.get("values").and_then(Value::as_array),
        Some(Value::Array(values)) => Some(values),
        _ => None,
    };
    exceptions.is_some_and(|values| {
        values
            .iter()
            .any(|e| e.get("mechanism").and_then(|m| m.get("handled")) == Some(&Value::Bool(false)))
    })
}

fn parse_event(bytes: &[u8], what: &str) -> Result<Value, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(format!("{what} must be a JSON object")),
        Err(e) => Err(format!("invalid JSON in {what} at {}", crate::decode::positioned_json_error(&e))),
    }
}

impl EventDecoder {
    fn decode(&self, line: &[u8], seq: Seq, define: &mut dyn FnMut(Symbol, &str)) -> Result<Record, String> {
        let (event, project, event_id, json) = if self.wrapped {
            self.unwrap(line)?
        } else {
            let event = parse_event(line, "event")?;
            let project = match (event.get("project_id"), event.get("project")) {
                (Some(Value::Number(n)), _) | (None | Some(Value::Null), Some(Value::Number(n))) => {
                    n.as_u64().ok_or_else(|| format!("invalid project_id {n}"))?
                }
                (None | Some(Value::Null), None | Some(Value::Null)) => return Err(missing("project_id")),
                (Some(other), _) | (_, Some(other)) => return Err(format!("invalid project_id {other}")),
            };
            let event_id = match event.get("event_id") {
                Some(Value::String(text)) => parse_uuid(text).ok_or_else(|| format!("invalid event_id {text:?}: not a UUID"))?,
                None | Some(Value::Null) => return Err(missing("event_id")),
                Some(other) => return Err(format!("invalid event_id {other}: not a string")),
            };
            (event, project, event_id, line.to_vec())
        };
        if !self.projects.accepts(project) {
            return Err(format!("unknown project {project}"));
        }
        let facts = event_fields_of(&event, define)?;
        let time = facts.time.ok_or_else(|| missing("timestamp"))?;
        let level = match event.get("level") {
            None | Some(Value::Null) => Level::Error,
            Some(Value::String(text)) if text.is_empty() => Level::Error,
            Some(Value::String(text)) => Level::parse(Some(text)),
            Some(other) => return Err(format!("invalid level {other}: not a string")),
        };
        let (grouping, display) = group_and_describe(&event, &self.grouping).map_err(|e| format!("cannot group the event: {e}"))?;
        let mut hashes = grouping.hashes.iter().map(|h| hash_of_hex(h));
        let hash = hashes.next().ok_or("grouping produced no hash")??;
        let more_hashes: Vec<GroupHash> = hashes.collect::<Result<_, _>>()?;
        let title = grouping.title_override.clone().unwrap_or(display.title);
        let subtitle = display.metadata.get("value").and_then(Value::as_str).unwrap_or("").to_owned();
        if self.store.is_some() {
            let mut all = Vec::with_capacity(1 + more_hashes.len());
            all.push(hash);
            all.extend_from_slice(&more_hashes);
            let stored = StoredEvent {
                project,
                event_id,
                time,
                hashes: all,
                json,
            };
            // Written by `end_block`, with the rest of the block.
            match self.pending.lock() {
                Ok(mut pending) => pending.push(stored),
                Err(poisoned) => poisoned.into_inner().push(stored),
            }
        }
        let culprit = display.culprit.unwrap_or_default();
        let texts = Texts::with_release(&title, &subtitle, &culprit, facts.release_name.as_deref().unwrap_or_default())
            .ok_or("title and subtitle exceed 4 GiB")?;
        Ok(Record {
            seq,
            project,
            id: event_id,
            body: RecordBody::Occurrence(OccurrenceRecord {
                time,
                type_id: ERROR_TYPE_ID,
                hash,
                more_hashes,
                texts,
                metadata: Some(display.metadata.to_string().into()),
                level,
                priority: None,
                user: facts.user,
                release: facts.release,
                environment: facts.environment,
                tags: facts.tags,
                unhandled: is_unhandled(&event),
            }),
        })
    }

    /// The event inside an `ingest-events` message: msgpack, or its JSON form (an object,
    /// `payload` a string) — a msgpack map never starts with `{`, so the two cannot be confused.
    fn unwrap(&self, message: &[u8]) -> Result<(Value, ProjectId, u128, Vec<u8>), String> {
        let wrapper: Wrapper = if message.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            serde_json::from_slice(message)
                .map_err(|e| format!("invalid ingest-events JSON at {}", crate::decode::positioned_json_error(&e)))?
        } else {
            rmp_serde::from_slice(message).map_err(|e| format!("invalid ingest-events msgpack: {e}"))?
        };
        match wrapper.kind.as_deref() {
            Some("event") => {}
            Some(other) => return Err(format!("unsupported ingest-events message type {other:?}")),
            None => return Err(missing("type")),
        }
        let project = wrapper.project_id.ok_or_else(|| missing("project_id"))?;
        let id_text = wrapper.event_id.as_deref().ok_or_else(|| missing("event_id"))?;
        let event_id = parse_uuid(id_text).ok_or_else(|| format!("invalid event_id {id_text:?}: not a UUID"))?;
        let payload = wrapper.payload.ok_or_else(|| missing("payload"))?.0;
        let event = parse_event(&payload, "payload")?;
        if let Some(Value::String(inner)) = event.get("event_id") {
            if parse_uuid(inner) != Some(event_id) {
                return Err(format!("payload event_id {inner:?} differs from event_id {id_text:?}"));
            }
        }
        Ok((event, project, event_id, payload))
    }

    fn flush(&self) {
        let Some(store) = &self.store else { return };
        let batch = match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        if let Err(error) = store.put(&batch) {
            // The groups are still right; only the events' bodies are missing. A replay from
            // a checkpoint writes them again (puts are idempotent).
            tracing::error!(%error, events = batch.len(), "cannot write events to the event store");
        }
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
