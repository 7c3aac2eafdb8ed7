//! Decoding `ingest-occurrences` JSON (occurrences and status changes) into the dataflow's
//! compact records, with the validation rules of docs/semantics.md §2.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use dataflows::model::grouptype::group_type;
use dataflows::model::time::{micros_from_seconds, parse_iso, Micros};
use dataflows::model::uuid::parse_uuid;
use dataflows::model::{
    group_hash, symbol_of, GroupHash, Level, OccurrenceRecord, Priority, ProjectId, Record, RecordBody, Seq, StatusChangeRecord, Symbol,
    Texts,
};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

mod fast;

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

/// A JSON number or string; used for times and user ids.
enum NumOrStr<'a> {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Str(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for NumOrStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NumOrStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(NumOrStr::Unsigned(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(NumOrStr::Signed(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(NumOrStr::Float(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(NumOrStr::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(NumOrStr::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(NumOrStr::Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct WireMessage<'a> {
    #[serde(borrow)]
    payload_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    project_id: Option<u64>,
    #[serde(borrow)]
    event_id: Option<Cow<'a, str>>,
    fingerprint: Option<Fingerprint>,
    #[serde(borrow)]
    issue_title: Option<Cow<'a, str>>,
    #[serde(borrow)]
    subtitle: Option<Cow<'a, str>>,
    #[serde(rename = "type")]
    type_id: Option<i64>,
    #[serde(borrow)]
    detection_time: Option<NumOrStr<'a>>,
    #[serde(borrow)]
    level: Option<Cow<'a, str>>,
    #[serde(borrow)]
    culprit: Option<Cow<'a, str>>,
    initial_issue_priority: Option<i64>,
    priority: Option<i64>,
    #[serde(borrow)]
    event: Option<WireEvent<'a>>,
    new_status: Option<i64>,
    new_substatus: Option<i64>,
}

/// The hashes of a `fingerprint` array, computed while it is parsed: the first, then the
/// others de-duplicated in order. No vector of strings is built.
struct Fingerprint {
    len: usize,
    first: GroupHash,
    more: Vec<GroupHash>,
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fingerprint;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of strings")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Fingerprint, A::Error> {
                let mut fingerprint = Fingerprint {
                    len: 0,
                    first: 0,
                    more: Vec::new(),
                };
                while let Some(entry) = seq.next_element::<Cow<'de, str>>()? {
                    let hash = group_hash(&entry);
                    if fingerprint.len == 0 {
                        fingerprint.first = hash;
                    } else if hash != fingerprint.first && !fingerprint.more.contains(&hash) {
                        fingerprint.more.push(hash);
                    }
                    fingerprint.len += 1;
                }
                Ok(fingerprint)
            }
        }
        deserializer.deserialize_seq(V)
    }
}

#[derive(Deserialize)]
struct WireEvent<'a> {
    #[serde(borrow)]
    event_id: Option<Cow<'a, str>>,
    project_id: Option<u64>,
    #[serde(borrow)]
    timestamp: Option<NumOrStr<'a>>,
    #[serde(borrow)]
    user: Option<WireUser<'a>>,
    #[serde(borrow)]
    release: Option<Cow<'a, str>>,
    #[serde(borrow)]
    environment: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct WireUser<'a> {
    #[serde(borrow)]
    #[serde(default)]
    id: Lenient<'a>,
    #[serde(borrow)]
    #[serde(default)]
    email: Lenient<'a>,
    #[serde(borrow)]
    #[serde(default)]
    username: Lenient<'a>,
    #[serde(borrow)]
    #[serde(default)]
    ip_address: Lenient<'a>,
}

/// A user key: kept when it is a string (or, for `id`, a number) and skipped otherwise. SDKs put
/// all sorts of things in `user`, and a strange value must not cost the occurrence.
#[derive(Default)]
struct Lenient<'a>(Option<NumOrStr<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Lenient<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Lenient<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Lenient(Some(NumOrStr::Unsigned(v))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Lenient(Some(NumOrStr::Signed(v))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Lenient(Some(NumOrStr::Float(v))))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Lenient(Some(NumOrStr::Str(Cow::Borrowed(v)))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Lenient(Some(NumOrStr::Str(Cow::Owned(v.to_owned())))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(V)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl Lenient<'_> {
    fn text(&self) -> Option<&str> {
        match &self.0 {
            Some(NumOrStr::Str(s)) if !s.is_empty() => Some(s),
            _ => None,
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
    micros_from_seconds(seconds).ok_or_else(|| format!("invalid {field}: {seconds} out of range"))
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

/// Lines with more brackets than this may nest deeper than sonic-rs can recurse safely.
const SONIC_MAX_BRACKETS: usize = 64;

/// Decodes with sonic-rs (SIMD; about 3x serde_json here). On failure, serde_json decodes the
/// line again for its precise, stable error messages: failures are rare, so this costs nothing.
/// sonic-rs has no recursion limit, so a line that could nest deeply goes to serde_json only,
/// which stops at depth 128 with an error instead of overflowing the stack.
fn decode_json<'a, T: Deserialize<'a>>(line: &'a [u8]) -> Result<T, String> {
    if line.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        // Derived structs would also accept arrays; a message must be an object.
        return Err(match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(value) => format!("expected a JSON object, found {}", json_kind(&value)),
            Err(e) => format!("invalid JSON at {e}"),
        });
    }
    if brackets(line) <= SONIC_MAX_BRACKETS {
        if let Ok(value) = sonic_rs::from_slice(line) {
            return Ok(value);
        }
    }
    match serde_json::from_slice::<T>(line) {
        Ok(value) => Ok(value),
        Err(e) if e.is_data() => Err(e.to_string()),
        Err(e) => Err(format!("invalid JSON at {e}")),
    }
}

/// How many `[` and `{` bytes `line` has (anywhere, strings included).
fn brackets(line: &[u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        brackets_sse2(line)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        line.iter().filter(|&&b| b | 0x20 == b'{').count()
    }
}

/// `brackets` 16 bytes at a time: `b | 0x20 == b'{'` holds exactly for `[` and `{`; matches
/// are summed per byte lane and the lanes added up every 255 rounds (before they overflow).
#[cfg(target_arch = "x86_64")]
fn brackets_sse2(line: &[u8]) -> usize {
    use std::arch::x86_64::*;
    let mut chunks = line.chunks_exact(16);
    let mut total = 0usize;
    // Safety: SSE2 is part of the x86_64 baseline; loads are unaligned and within `chunk`.
    unsafe {
        let (bit, brace) = (_mm_set1_epi8(0x20), _mm_set1_epi8(b'{' as i8));
        let mut lanes = _mm_setzero_si128();
        let mut rounds = 0;
        let add_up = |lanes: __m128i| {
            let sums = _mm_sad_epu8(lanes, _mm_setzero_si128());
            (_mm_cvtsi128_si64(sums) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums))) as usize
        };
        for chunk in &mut chunks {
            let bytes = _mm_loadu_si128(chunk.as_ptr().cast());
            // Matching lanes are -1: subtracting counts them.
            lanes = _mm_sub_epi8(lanes, _mm_cmpeq_epi8(_mm_or_si128(bytes, bit), brace));
            rounds += 1;
            if rounds == 255 {
                total += add_up(lanes);
                lanes = _mm_setzero_si128();
                rounds = 0;
            }
        }
        total += add_up(lanes);
    }
    total + chunks.remainder().iter().filter(|&&b| b | 0x20 == b'{').count()
}

/// The message of `line`: the fast path when it is sure, else serde (same values, same errors).
fn decode_message(line: &[u8]) -> Result<WireMessage<'_>, String> {
    if brackets(line) <= SONIC_MAX_BRACKETS {
        if let Some(message) = fast::parse(line) {
            return Ok(message);
        }
    }
    decode_json(line)
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// What an event contributes to its occurrence (or, for error events, to their record).
pub(crate) struct EventFields {
    pub time: Option<Micros>,
    pub user: Option<Symbol>,
    pub release: Option<Symbol>,
    pub environment: Option<Symbol>,
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
        environment: symbol(&event.environment),
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
        self.decode_wire(decode_message(line)?, seq, define, lookup)
    }

    fn decode_wire(
        &self,
        wire: WireMessage,
        seq: Seq,
        define: &mut dyn FnMut(Symbol, &str),
        lookup: Option<&dyn Fn(ProjectId, u128) -> Option<Vec<u8>>>,
    ) -> Result<Record, String> {
        let project = wire.project_id.ok_or_else(|| missing("project_id"))?;
        if !self.projects.accepts(project) {
            return Err(format!("unknown project {project}"));
        }
        let fingerprint = wire.fingerprint.ok_or_else(|| missing("fingerprint"))?;
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
        let title = wire.issue_title.ok_or_else(|| missing("issue_title"))?;
        let subtitle = wire.subtitle.ok_or_else(|| missing("subtitle"))?;
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
        let (mut user, mut release, mut environment) = (None, None, None);
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
                            (user, release, environment) = (fields.user, fields.release, fields.environment);
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
                (user, release, environment) = (fields.user, fields.release, fields.environment);
                time = fields.time.unwrap_or(time);
            }
        }
        let (hash, more_hashes) = (fingerprint.first, fingerprint.more);
        let culprit = wire.culprit.as_deref().unwrap_or("");
        let culprit = match culprit.char_indices().nth(CULPRIT_MAX_CHARS) {
            Some((cut, _)) => &culprit[..cut],
            None => culprit,
        };
        let release_name = match &wire.event {
            Some(event) => non_empty(&event.release),
            None => stored_release.as_deref(),
        };
        let texts = Texts::with_release(&title, &subtitle, culprit, release_name.unwrap_or_default())
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
                unhandled: false,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(line: &str) -> Result<Record, String> {
        OccurrenceDecoder::default().decode(line.as_bytes(), 0, &mut |_, _| {})
    }

    const OK: &str = r#"{"id":"0123456789abcdef0123456789abcdef","project_id":1,"event_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","fingerprint":["a"],"issue_title":"t","subtitle":"s","type":4001,"detection_time":1704110400.5}"#;

    #[test]
    fn decodes_a_minimal_occurrence() {
        let record = decode(OK).unwrap();
        let RecordBody::Occurrence(occ) = record.body else {
            panic!("not an occurrence")
        };
        assert_eq!(occ.time, 1_704_110_400_500_000);
        assert_eq!(occ.level, Level::Info);
        assert_eq!(occ.hash, group_hash("a"));
    }

    type Outcome = (Result<Record, String>, Vec<(Symbol, String)>);

    /// The line through the fast path (`None` if it declines) and through serde alone.
    fn both_paths(line: &[u8]) -> (Option<Outcome>, Outcome) {
        let decoder = OccurrenceDecoder::default();
        let run = |wire: Result<WireMessage, String>| {
            let mut defined = Vec::new();
            let record = wire.and_then(|w| decoder.decode_wire(w, 7, &mut |s, n| defined.push((s, n.to_owned())), None));
            (record, defined)
        };
        let fast = fast::parse(line).map(|w| run(Ok(w)));
        (fast, run(decode_json::<WireMessage>(line)))
    }

    fn same_on_both_paths(line: &str) -> bool {
        let (fast, slow) = both_paths(line.as_bytes());
        if let Some(fast) = &fast {
            assert_eq!(fast, &slow, "{line}");
        }
        fast.is_some()
    }

    const FULL: &str = r#"{"id":"171206eb153e40f6b2c9b9325079a15b","project_id":60,"event_id":"0f3c7092dab04e0094f5818229c2a1dc","fingerprint":["1-1010-4b24bc61a064b246","x","1-1010-4b24bc61a064b246"],"issue_title":"N+1 API Call","subtitle":"GET https://payments.internal/v3","evidence_data":{"num_repeating_spans":37,"x":[1,-2.5e3,true,false,null,{"a":[]},"s\"q"]},"evidence_display":[{"name":"Offending Spans","value":"http.client","important":true}],"type":1010,"detection_time":1704067201.071485,"level":"warning","culprit":"/api/auth","initial_issue_priority":null,"priority":75,"payload_type":"occurrence","event":{"event_id":"0f3c7092dab04e0094f5818229c2a1dc","project_id":60,"platform":"ruby","tags":{"a":"b"},"timestamp":"2024-01-01T00:00:00.509012+00:00","environment":"production","release":"checkout@3.5.2","user":{"email":"user17@p60.example.com","id":null,"geo":{"city":"x"}}}}"#;

    #[test]
    fn the_fast_path_decodes_what_serde_decodes() {
        let accepted = [
            OK.to_string(),
            FULL.to_string(),
            format!(" \t{}\r\n ", FULL.replace(",\"", " , \"").replace("\":", "\" :\t")),
            FULL.replace("N+1 API Call", r#"N+1 \"q\" \\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00 é 😀"#),
            FULL.replace("1704067201.071485", "-0"),
            FULL.replace("1704067201.071485", "0"),
            FULL.replace("1704067201.071485", "17040672e2"),
            FULL.replace("1704067201.071485", "1.7040672010714851234567E+9"),
            FULL.replace("1704067201.071485", "\"2024-01-01T00:00:05.838299\""),
            FULL.replace("1704067201.071485", "18446744073709551615"),
            FULL.replace("1704067201.071485", "18446744073709551616"),
            FULL.replace("1704067201.071485", "-9223372036854775809"),
            FULL.replace(
                "\"timestamp\":\"2024-01-01T00:00:00.509012+00:00\"",
                "\"timestamp\":1704067202.612783",
            ),
            FULL.replace("\"email\":\"user17@p60.example.com\",\"id\":null", "\"id\":42"),
            FULL.replace("\"email\":\"user17@p60.example.com\",\"id\":null", "\"id\":-42"),
            FULL.replace("\"email\":\"user17@p60.example.com\",\"id\":null", "\"id\":4.25"),
            FULL.replace(
                "\"email\":\"user17@p60.example.com\",\"id\":null",
                "\"id\":true,\"username\":[1,{}]",
            ),
            FULL.replace(
                "\"email\":\"user17@p60.example.com\",\"id\":null",
                "\"id\":\"\",\"ip_address\":\"1.2.3.4\"",
            ),
            FULL.replace("\"user\":{", "\"user\":null,\"u\":{"),
            FULL.replace("\"release\":\"checkout@3.5.2\"", "\"release\":null"),
            FULL.replace("\"project_id\":60,\"platform\"", "\"project_id\":61,\"platform\""),
            FULL.replace("\"event\":{", "\"event\":null,\"e\":{"),
            FULL.replace("\"type\":1010", "\"type\":9999"),
            FULL.replace("\"type\":1010", "\"type\":-1"),
            FULL.replace("\"priority\":75", "\"priority\":1"),
            FULL.replace("\"priority\":75", "\"priority\":null"),
            FULL.replace("\"fingerprint\":[", "\"fingerprint\":[],\"f\":["),
            FULL.replace("\"fingerprint\":[", "\"fingerprint\":null,\"f\":["),
            FULL.replace("\"issue_title\":\"N+1 API Call\",", ""),
            FULL.replace("\"culprit\":\"/api/auth\"", &format!("\"culprit\":\"{}\"", "é".repeat(300))),
            FULL.replace(
                "\"payload_type\":\"occurrence\"",
                "\"payload_type\":\"status_change\",\"new_status\":1,\"new_substatus\":null",
            ),
            FULL.replace("\"payload_type\":\"occurrence\"", "\"payload_type\":\"other\""),
            r#"{"evidence":{}}"#.to_string(),
            "{}".to_string(),
        ];
        for line in &accepted {
            assert!(same_on_both_paths(line), "declined: {line}");
        }
        // Declined: the serde path decides (and words the reason).
        let declined = [
            FULL.replace("\"subtitle\"", "\"issue_title\""),
            FULL.replace("\"geo\"", "\"email\""),
            FULL.replace("\"subtitle\"", "\"sub\\u0074itle\""),
            FULL.replace("N+1 API Call", r#"\ud83d"#),
            FULL.replace("N+1 API Call", r#"\ude00"#),
            FULL.replace("N+1 API Call", r#"\x"#),
            FULL.replace("N+1 API Call", "a\tb"),
            FULL.replace("1704067201.071485", "01"),
            FULL.replace("1704067201.071485", "1."),
            FULL.replace("1704067201.071485", "1e999"),
            FULL.replace("1704067201.071485", "true"),
            FULL.replace("\"project_id\":60,\"event_id\"", "\"project_id\":60.0,\"event_id\""),
            FULL.replace("\"type\":1010", "\"type\":\"1010\""),
            FULL.replace("\"event\":{", "\"event\":[{"),
            FULL.replace("[1,-2.5e3", "[1,,-2.5e3"),
            FULL.replace("\"important\":true", "\"important\":tru"),
            format!("{FULL}x"),
            format!("[{FULL}]"),
            FULL[..FULL.len() - 1].to_string(),
        ];
        for line in &declined {
            assert!(!same_on_both_paths(line), "accepted: {line}");
        }
        assert!(fast::parse(b"{\"a\":\"\xff\"}").is_none());
    }

    /// Every line of `OCCURRENT_DECODE_CHECK` (a JSON-lines file, such as the benchmark
    /// inputs) decodes to the same record, symbols and reason on both paths.
    #[test]
    #[ignore]
    fn the_fast_path_agrees_on_a_file() {
        let path = std::env::var("OCCURRENT_DECODE_CHECK").expect("OCCURRENT_DECODE_CHECK=<file>");
        let data = std::fs::read(path).unwrap();
        let (mut lines, mut fast) = (0, 0);
        for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            lines += 1;
            let (quick, slow) = both_paths(line);
            if let Some(quick) = quick {
                fast += 1;
                assert_eq!(quick, slow, "{}", String::from_utf8_lossy(line));
            }
        }
        eprintln!("{fast} of {lines} lines on the fast path, all equal");
    }

    #[test]
    fn brackets_are_counted_exactly() {
        let line: Vec<u8> = (0..10_000u32).map(|i| (i * 7919 % 256) as u8).collect();
        for len in [0, 1, 15, 16, 17, 255 * 16, 255 * 16 + 1, 4100, 10_000] {
            let expected = line[..len].iter().filter(|&&b| b == b'[' || b == b'{').count();
            assert_eq!(brackets(&line[..len]), expected, "{len}");
        }
        assert_eq!(brackets(&[b'{'; 5000]), 5000);
    }

    #[test]
    fn reasons_are_precise() {
        let cases = [
            (r#"{"id":"x""#, "invalid JSON at EOF while parsing an object at line 1 column 9"),
            (&OK.replace(r#""issue_title":"t","#, ""), "missing field issue_title"),
            (&OK.replace("4001", "9999"), "unknown group type 9999"),
            (
                &OK.replace("0123456789abcdef0123456789abcdef", "xyz"),
                "invalid id \"xyz\": not a UUID",
            ),
            (
                &OK.replace(
                    "\"type\"",
                    r#""event":{"event_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","project_id":2},"type""#,
                ),
                "event.project_id 2 differs from project_id 1",
            ),
            (&OK.replace("\"id\"", r#""payload_type":"x","id""#), "unknown payload_type \"x\""),
            (&OK.replace("[\"a\"]", "[]"), "fingerprint must not be empty"),
        ];
        for (line, reason) in cases {
            assert_eq!(decode(line).unwrap_err(), reason, "{line}");
        }
    }
}
