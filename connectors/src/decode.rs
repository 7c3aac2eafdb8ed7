//! Decoding `ingest-occurrences` JSON (occurrences and status changes) into the dataflow's
//! compact records, with the validation rules of docs/semantics.md §2.

use std::borrow::Cow;
use std::collections::HashSet;

use dataflows::model::grouptype::group_type;
use dataflows::model::tags::tag_set_symbol;
use dataflows::model::time::{micros_from_seconds, parse_iso, Micros};
use dataflows::model::uuid::parse_uuid;
use dataflows::model::{non_zero_symbol, NonZeroSymbol};
use dataflows::model::{
    symbol_of, Level, OccurrenceRecord, Priority, ProjectId, Record, RecordBody, Seq, StatusChangeRecord, Symbol, Texts,
};
use serde::Deserialize;

mod digits;
mod fast;
mod hash_cache;
mod json;
pub(crate) use json::positioned as positioned_json_error;
mod keys;
mod md5;
mod scan;
mod tag_cache;
mod wire;

use json::{decode_json, decode_message_into};
use wire::{NumOrStr, WireEvent, WireMessage, WireTags, WireUser};

/// Which projects are accepted: every one, or those a configuration declares.
#[derive(Clone, Debug, Default)]
pub enum ProjectFilter {
    #[default]
    Any,
    Only(HashSet<ProjectId>),
}

impl ProjectFilter {
    pub(crate) fn accepts(&self, project: ProjectId) -> bool {
        match self {
            ProjectFilter::Any => true,
            ProjectFilter::Only(ids) => ids.contains(&project),
        }
    }
}

/// Turns one line into a [`Record`], or a reason for the dead-letter output.
#[derive(Clone, Debug, Default)]
pub struct OccurrenceDecoder {
    pub projects: ProjectFilter,
}

const CULPRIT_MAX_CHARS: usize = 200;

fn missing(field: &str) -> String {
    format!("missing field {field}")
}

fn parse_time(value: &NumOrStr, field: &str, allow_offset: bool) -> Result<Micros, String> {
    let seconds = match value {
        NumOrStr::Unsigned(n) => *n as f64,
        NumOrStr::Signed(n) => *n as f64,
        NumOrStr::Float(x) => *x,
        NumOrStr::Str(text) => return parse_iso(text, allow_offset).map_err(|e| format!("invalid {field}: {e}")),
    };
    // Scientific notation past 15 digits: `1e300`, not three hundred digits.
    micros_from_seconds(seconds).ok_or_else(|| match seconds.abs() < 1e15 {
        true => format!("invalid {field}: {seconds} out of range"),
        false => format!("invalid {field}: {seconds:e} out of range"),
    })
}

fn uuid_field(value: &str, field: &str) -> Result<u128, String> {
    parse_uuid(value).ok_or_else(|| format!("invalid {field} {value:?}: not a UUID"))
}

fn non_empty<'c>(value: &'c Option<Cow<'_, str>>) -> Option<&'c str> {
    value.as_deref().filter(|s| !s.is_empty())
}

/// `xxh3("<kind>:<value>")` without building the string when it fits on the stack.
fn prefixed_symbol(kind: &str, value: &str) -> Symbol {
    let mut buffer = [0u8; 256];
    let len = kind.len() + 1 + value.len();
    if len > buffer.len() {
        return symbol_of(&format!("{kind}:{value}"));
    }
    buffer[..kind.len()].copy_from_slice(kind.as_bytes());
    buffer[kind.len()] = b':';
    buffer[kind.len() + 1..len].copy_from_slice(value.as_bytes());
    xxhash_rust::xxh3::xxh3_64(&buffer[..len])
}

/// The user as Sentry's `tags[sentry:user]` would name it (`id:…`, `email:…`, `username:…`,
/// `ip:…`: the first present), as a symbol.
fn user_symbol(user: &WireUser) -> Option<Symbol> {
    if let Some(id) = &user.id.0 {
        match id {
            NumOrStr::Unsigned(n) => return Some(prefixed_symbol("id", &n.to_string())),
            NumOrStr::Signed(n) => return Some(prefixed_symbol("id", &n.to_string())),
            NumOrStr::Float(x) => return Some(prefixed_symbol("id", &x.to_string())),
            NumOrStr::Str(text) if !text.is_empty() => return Some(prefixed_symbol("id", text)),
            NumOrStr::Str(_) => {}
        }
    }
    if let Some(email) = user.email.text() {
        return Some(prefixed_symbol("email", email));
    }
    if let Some(username) = user.username.text() {
        return Some(prefixed_symbol("username", username));
    }
    user.ip_address.text().map(|ip| prefixed_symbol("ip", ip))
}

/// What an event contributes to its occurrence (or, for error events, to their record).
pub(crate) struct EventFields {
    pub time: Option<Micros>,
    pub user: Option<Symbol>,
    pub release: Option<Symbol>,
    pub environment: Option<NonZeroSymbol>,
    /// The tag set (`dataflows::model::tags`).
    pub tags: Option<NonZeroSymbol>,
    /// The release's name (filled by [`event_fields_of`] only; the occurrence path borrows
    /// it from the wire event).
    pub release_name: Option<String>,
}

/// [`EventFields`] of a parsed event, with exactly the occurrence path's rules for
/// `timestamp`, `user`, `release` and `environment`.
pub(crate) fn event_fields_of(event: &serde_json::Value, define: &mut dyn FnMut(Symbol, &str)) -> Result<EventFields, String> {
    let wire = WireEvent::deserialize(event).map_err(|e| format!("invalid event: {e}"))?;
    let mut fields = event_fields(&wire, define)?;
    fields.release_name = non_empty(&wire.release).map(str::to_owned);
    Ok(fields)
}

fn event_fields(event: &WireEvent, define: &mut dyn FnMut(Symbol, &str)) -> Result<EventFields, String> {
    let time = event
        .timestamp
        .as_ref()
        .map(|ts| parse_time(ts, "event.timestamp", true))
        .transpose()?;
    let tags = match &event.tags {
        // The fast path's form: the object's text, its set looked up by it.
        Some(WireTags { raw: Some(raw), .. }) => tag_cache::tag_set(raw, define),
        Some(t) if !t.pairs.is_empty() => {
            let mut pairs: Vec<(&str, &str)> = t.pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
            tag_set_symbol(&mut pairs, define)
        }
        _ => None,
    }
    .map(non_zero_symbol);
    let mut symbol = |value: &Option<Cow<'_, str>>| {
        non_empty(value).map(|name| {
            let symbol = symbol_of(name);
            define(symbol, name);
            symbol
        })
    };
    Ok(EventFields {
        time,
        user: event.user.as_ref().and_then(user_symbol),
        release: symbol(&event.release),
        environment: symbol(&event.environment).map(non_zero_symbol),
        tags,
        release_name: None,
    })
}

impl OccurrenceDecoder {
    pub fn new(projects: ProjectFilter) -> Self {
        OccurrenceDecoder { projects }
    }

    /// Decodes one line. `define` is told the string behind every release and environment
    /// symbol, so that the read side can show names.
    pub fn decode(&self, line: &[u8], seq: Seq, define: &mut dyn FnMut(Symbol, &str)) -> Result<Record, String> {
        self.decode_with_lookup(line, seq, define, None)
    }

    /// [`Self::decode`], and for an occurrence without an inline `event`, `lookup(project,
    /// event_id)` may supply the stored event's JSON (Sentry's nodestore path): its
    /// `timestamp`, `user`, `release` and `environment` are then used as an inline event's
    /// would be. A missing or unreadable stored event leaves the occurrence as it is.
    pub fn decode_with_lookup(
        &self,
        line: &[u8],
        seq: Seq,
        define: &mut dyn FnMut(Symbol, &str),
        lookup: Option<&dyn Fn(ProjectId, u128) -> Option<Vec<u8>>>,
    ) -> Result<Record, String> {
        let mut wire = WireMessage::default();
        let borrowed = decode_message_into(line, &mut wire)?;
        let record = self.decode_wire(&mut wire, seq, define, lookup);
        if borrowed {
            // Nothing of it is on the heap (every string borrowed from `line`, no vector with
            // a buffer: checked in debug builds), so its drop, ~90 instructions of checks per
            // line, would free nothing; forgetting it leaks nothing.
            debug_assert!(!wire.holds_heap());
            std::mem::forget(wire);
        }
        record
    }

    /// Takes the message by reference (it is large; its fingerprint is taken out of it).
    fn decode_wire(
        &self,
        wire: &mut WireMessage,
        seq: Seq,
        define: &mut dyn FnMut(Symbol, &str),
        lookup: Option<&dyn Fn(ProjectId, u128) -> Option<Vec<u8>>>,
    ) -> Result<Record, String> {
        let project = wire.project_id.ok_or_else(|| missing("project_id"))?;
        if !self.projects.accepts(project) {
            return Err(format!("unknown project {project}"));
        }
        let fingerprint = wire.fingerprint.take().ok_or_else(|| missing("fingerprint"))?;
        if fingerprint.len == 0 {
            return Err("fingerprint must not be empty".to_string());
        }
        let id_text = wire.id.as_deref().ok_or_else(|| missing("id"))?;
        match wire.payload_type.as_deref() {
            None | Some("occurrence") => {}
            Some("status_change") => {
                let id = parse_uuid(id_text).unwrap_or_else(|| xxhash_rust::xxh3::xxh3_128(id_text.as_bytes()));
                let new_status = wire.new_status.ok_or_else(|| missing("new_status"))?;
                return Ok(Record {
                    seq,
                    project,
                    id,
                    body: RecordBody::StatusChange(StatusChangeRecord {
                        hash: fingerprint.first,
                        new_status,
                        new_substatus: wire.new_substatus,
                    }),
                });
            }
            Some(other) => return Err(format!("unknown payload_type {other:?}")),
        }
        let id = uuid_field(id_text, "id")?;
        let title = wire.issue_title.as_deref().ok_or_else(|| missing("issue_title"))?;
        let subtitle = wire.subtitle.as_deref().ok_or_else(|| missing("subtitle"))?;
        let type_number = wire.type_id.ok_or_else(|| missing("type"))?;
        let group_type = u32::try_from(type_number)
            .ok()
            .and_then(group_type)
            .ok_or_else(|| format!("unknown group type {type_number}"))?;
        let detection = parse_time(
            wire.detection_time.as_ref().ok_or_else(|| missing("detection_time"))?,
            "detection_time",
            false,
        )?;
        let parse_priority = |value: Option<i64>| match value {
            None => Ok(None),
            Some(n) => Priority::from_number(n)
                .map(Some)
                .ok_or_else(|| format!("invalid priority {n}: expected 25, 50 or 75")),
        };
        // Both spellings are validated; the first present one wins.
        let (initial, newer) = (parse_priority(wire.initial_issue_priority)?, parse_priority(wire.priority)?);
        let priority = initial.or(newer);
        let top_event_id = wire.event_id.as_deref().map(|e| uuid_field(e, "event_id")).transpose()?;
        let mut time = detection;
        let (mut user, mut release, mut environment, mut tags) = (None, None, None, None);
        // The stored event's release name outlives its parse; an inline one is borrowed.
        let mut stored_release: Option<String> = None;
        match &wire.event {
            None => {
                let Some(event_id) = top_event_id else {
                    return Err("Payload must contain either event_id or event_data".into());
                };
                let stored = lookup.and_then(|lookup| lookup(project, event_id));
                if let Some(bytes) = stored {
                    if let Ok(event) = decode_json::<WireEvent>(&bytes) {
                        if let Ok(fields) = event_fields(&event, define) {
                            (user, release, environment, tags) = (fields.user, fields.release, fields.environment, fields.tags);
                            stored_release = non_empty(&event.release).map(str::to_owned);
                            time = fields.time.unwrap_or(time);
                        }
                    }
                }
            }
            Some(event) => {
                let event_id_text = event.event_id.as_deref().ok_or_else(|| missing("event.event_id"))?;
                let event_id = match (top_event_id, wire.event_id.as_deref()) {
                    (Some(top), Some(text)) if text == event_id_text => top,
                    _ => uuid_field(event_id_text, "event.event_id")?,
                };
                if top_event_id.is_some_and(|top| top != event_id) {
                    return Err("event_id differs from event.event_id".into());
                }
                match event.project_id {
                    Some(p) if p == project => {}
                    Some(p) => return Err(format!("event.project_id {p} differs from project_id {project}")),
                    None => return Err(missing("event.project_id")),
                }
                let fields = event_fields(event, define)?;
                (user, release, environment, tags) = (fields.user, fields.release, fields.environment, fields.tags);
                time = fields.time.unwrap_or(time);
            }
        }
        let (hash, more_hashes) = (fingerprint.first, fingerprint.more);
        let culprit = wire.culprit.as_deref().unwrap_or("");
        // No more bytes than the limit means no more characters either: no walk over them.
        let culprit = if culprit.len() <= CULPRIT_MAX_CHARS {
            culprit
        } else {
            match culprit.char_indices().nth(CULPRIT_MAX_CHARS) {
                Some((cut, _)) => &culprit[..cut],
                None => culprit,
            }
        };
        let release_name = match &wire.event {
            Some(event) => non_empty(&event.release),
            None => stored_release.as_deref(),
        };
        let texts = Texts::with_release(title, subtitle, culprit, release_name.unwrap_or_default())
            .ok_or("issue_title and subtitle exceed 4 GiB")?;
        Ok(Record {
            seq,
            project,
            id,
            body: RecordBody::Occurrence(OccurrenceRecord {
                time,
                type_id: group_type.type_id,
                hash,
                more_hashes,
                texts,
                metadata: None,
                level: Level::parse(wire.level.as_deref()),
                priority,
                user,
                release,
                environment,
                tags,
                unhandled: false,
            }),
        })
    }
}

#[cfg(test)]
mod tests;
