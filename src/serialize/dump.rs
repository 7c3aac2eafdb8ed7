//! The dump's line for a group, written straight from the borrowed row and view: the bytes
//! `serde_json` writes for [`SerializedGroup`](super::SerializedGroup) (its fields in
//! declaration order), without building one. Building it (a dozen owned strings, the triage
//! fields as `serde_json::Value`s) and letting `serde_json` escape every key and value byte
//! by byte was ~17.5K instructions a group, more than the backfill itself at 1M groups.
//!
//! The shape's one source of truth stays `SerializedGroup`: `tests.rs` compares this writer
//! with `serde_json`'s serialization of it for generated groups (hostile strings, every
//! group type, event metadata, triage fields set and unset).

use dataflows::model::grouptype::group_type;
use dataflows::state::{GroupKey, GroupRow};
use dataflows::views::{GroupView, IssueViews};

use self::digits::{number, IsoDays};
use self::projects::Projects;
use super::{group_metadata, GroupMetadata};
use crate::config::Catalog;
use crate::serialize_triage::TriageFields;

/// `text` as a JSON string, quoted and escaped as `serde_json` writes it.
pub(crate) use dataflows::model::json_string::push_string as string;
/// `text`'s escaped bytes, without the quotes.
use dataflows::model::json_string::{needs_escape, push_escaped as escaped};

fn signed(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    number(out, n.unsigned_abs());
}

/// `n` in decimal, as a JSON string (Sentry's counts and ids).
fn quoted_number(out: &mut Vec<u8>, n: u64) {
    out.push(b'"');
    number(out, n);
    out.push(b'"');
}

/// A name of the API's (levels, statuses, group types, ...): plain ASCII that needs no
/// escaping (`the_writer_writes_the_bytes_of_serialized_group` covers every one), copied
/// between quotes without the escaping scan.
fn plain(out: &mut Vec<u8>, name: &str) {
    debug_assert!(name.bytes().all(|b| b.is_ascii() && !needs_escape(b)), "{name:?}");
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.push(b'"');
}

fn string_or_null(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// Any `Serialize` value (the rare parts: event metadata, triage objects), as `serde_json`
/// writes it into a vector (which cannot fail).
fn json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Sentry's base-32 short-id suffix (`short_id::base32`), unquoted.
fn base32(out: &mut Vec<u8>, mut n: u64) {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut digits = [0u8; 13];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = ALPHABET[(n % 32) as usize];
        n /= 32;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Reused between groups: the environment names to sort, the date of the last time, the
/// projects' texts.
#[derive(Default)]
pub(crate) struct Scratch<'v> {
    environments: Vec<&'v str>,
    days: IsoDays,
    projects: Projects,
}

/// Appends the group's dump line (without the newline): the bytes of
/// `serde_json::to_writer(serialize_group(..))`.
pub(crate) fn write_dump_group<'v>(
    out: &mut Vec<u8>,
    scratch: &mut Scratch<'v>,
    views: &'v IssueViews,
    catalog: &Catalog,
    key: GroupKey,
    view: &GroupView,
    row: &GroupRow,
) {
    let group_type = group_type(row.type_id);
    let project = scratch.projects.text(catalog, key.project);

    out.extend_from_slice(b"{\"id\":");
    quoted_number(out, view.id);
    out.extend_from_slice(b",\"shortId\":\"");
    out.extend_from_slice(&project.short_id_prefix);
    out.push(b'-');
    base32(out, u64::from(key.short_id));
    out.extend_from_slice(b"\",\"title\":");
    // Escaped once: `metadata.title` copies it.
    let title_at = out.len();
    string(out, row.texts.title());
    let title = title_at..out.len();
    out.extend_from_slice(b",\"culprit\":");
    string(out, row.texts.culprit());
    out.extend_from_slice(b",\"level\":");
    plain(out, row.level.api_name());
    out.extend_from_slice(b",\"status\":");
    plain(out, row.status.api_name());
    out.extend_from_slice(b",\"substatus\":");
    match row.substatus {
        Some(substatus) => plain(out, substatus.api_name()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"priority\":");
    plain(out, row.priority.api_name());
    out.extend_from_slice(b",\"project\":{");
    out.extend_from_slice(&project.fields);
    out.extend_from_slice(b"},\"type\":");
    // Sentry's `data.type`: "error" for groups made from error events, "generic" for the
    // issue platform's.
    out.extend_from_slice(if group_type.is_some_and(|t| t.is_event_grouped()) {
        b"\"error\""
    } else {
        b"\"generic\""
    });
    out.extend_from_slice(b",\"issueType\":");
    plain(out, group_type.map_or("unknown", |t| t.slug));
    out.extend_from_slice(b",\"issueCategory\":");
    plain(out, group_type.map_or("unknown", |t| t.category.api_name()));
    out.extend_from_slice(b",\"metadata\":");
    metadata(out, row, title);

    // Written once for the top level and copied into `lifetime`.
    out.extend_from_slice(b",\"count\":\"");
    let seen_at = out.len() - b"\"count\":\"".len();
    number(out, row.times_seen);
    out.extend_from_slice(b"\",\"userCount\":");
    number(out, row.user_count);
    out.extend_from_slice(b",\"firstSeen\":");
    let first_seen_at = out.len();
    scratch.days.write(out, row.first_seen);
    out.extend_from_slice(b",\"lastSeen\":");
    if row.last_seen == row.first_seen {
        out.extend_from_within(first_seen_at..out.len() - b",\"lastSeen\":".len());
    } else {
        scratch.days.write(out, row.last_seen);
    }
    let seen = seen_at..out.len();
    out.extend_from_slice(b",\"lifetime\":{");
    out.extend_from_within(seen);
    out.push(b'}');

    let name = |symbol: Option<u64>| symbol.and_then(|s| views.symbol_name(s));
    out.extend_from_slice(b",\"firstRelease\":");
    string_or_null(out, name(row.first_release));
    out.extend_from_slice(b",\"lastRelease\":");
    string_or_null(out, name(row.last_release));

    out.extend_from_slice(b",\"environments\":[");
    let environments = &mut scratch.environments;
    environments.clear();
    environments.extend(view.environments.iter().filter_map(|e| views.symbol_name(*e)));
    // Equal names are indistinguishable: an unstable sort orders them as `sort` does.
    environments.sort_unstable();
    for (i, environment) in environments.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, environment);
    }

    out.extend_from_slice(b"],\"stats\":{\"hourly\":[");
    for (i, &(hour, n)) in view.hourly.iter().enumerate() {
        out.extend_from_slice(if i > 0 { b",[" } else { b"[" });
        signed(out, i64::from(hour) * 3600);
        out.push(b',');
        number(out, u64::from(n));
        out.push(b']');
    }
    out.extend_from_slice(b"]}");

    triage(out, row);
    out.push(b'}');
}

/// `metadata`: the platform's `{title, value, initial_priority}`, or an event-grouped
/// type's own object (a parsed `serde_json` map, written by `serde_json`).
/// `title` is the range of `out` holding the escaped title.
fn metadata(out: &mut Vec<u8>, row: &GroupRow, title: std::ops::Range<usize>) {
    if row.event_group.as_ref().is_some_and(|e| e.metadata.is_some()) {
        match group_metadata(row) {
            GroupMetadata::Event(map) => return json(out, &map),
            GroupMetadata::Platform(_) => {}
        }
    }
    out.extend_from_slice(b"{\"title\":");
    out.extend_from_within(title);
    out.extend_from_slice(b",\"value\":");
    string(out, row.texts.subtitle());
    out.extend_from_slice(b",\"initial_priority\":");
    number(out, u64::from(row.metadata_priority.number()));
    out.push(b'}');
}

/// The fields API mutations set, as nobody in particular sees them (`set_triage` with the
/// anonymous viewer): constant for a group without triage state.
fn triage(out: &mut Vec<u8>, row: &GroupRow) {
    if row.triage.is_none() {
        out.extend_from_slice(
            b",\"statusDetails\":{},\"assignedTo\":null,\"isBookmarked\":false,\"hasSeen\":false,\"priorityLockedAt\":null",
        );
        return;
    }
    let triage = TriageFields::of(row, Some(crate::api_mutations::ANONYMOUS));
    out.extend_from_slice(b",\"statusDetails\":");
    json(out, &triage.status_details);
    out.extend_from_slice(b",\"assignedTo\":");
    json(out, &triage.assigned_to);
    out.extend_from_slice(if triage.is_bookmarked {
        b",\"isBookmarked\":true"
    } else {
        b",\"isBookmarked\":false"
    });
    out.extend_from_slice(if triage.has_seen {
        b",\"hasSeen\":true"
    } else {
        b",\"hasSeen\":false"
    });
    out.extend_from_slice(b",\"priorityLockedAt\":");
    string_or_null(out, triage.priority_locked_at.as_deref());
}

mod digits;
mod projects;
#[cfg(test)]
mod tests;
