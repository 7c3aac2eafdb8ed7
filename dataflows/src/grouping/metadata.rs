//! Title, culprit and metadata of an event, as Sentry derives them for its issue list.
//!
//! * **Error events** (with an exception): the main exception is the last one (or, for an
//!   exception group, the first leaf under the root group). `metadata` holds its `type` and
//!   `value`, the `filename` and `function` of the crash frame (the last in-app frame, else
//!   the last frame) and `synthetic` for synthetic exceptions. The title is `Type: first line
//!   of value` (value cut to 100 characters), just `Type` without a value, or the crash
//!   function (`<unknown>` without one) when there is no type.
//! * **Other events**: the title is the first line of the log message (or `<unlabeled
//!   event>`), and `metadata` is `{"title": …}`.
//! * **Culprit**: an explicit `culprit` wins; otherwise the most recent in-app frame (else the
//!   most recent frame) of the first stack trace found (exceptions newest first, then the
//!   top-level one, then the only or crashed thread) renders as `function` for native
//!   frames, `function(module or filename)` for JavaScript and `module-or-filename in
//!   function` otherwise; else the request URL; else the transaction. Capped at 200
//!   characters.

use serde_json::{json, Map, Value};

use super::normalize;
use super::GroupingOptions;

/// Derived display data of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMetadata {
    pub title: String,
    pub culprit: Option<String>,
    /// `{"type", "value", "filename"?, "function"?, "synthetic"?}` for errors, `{"title"}`
    /// otherwise.
    pub metadata: Value,
}

const MAX_CULPRIT_CHARS: usize = 200;

fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(3)).collect();
        out.push_str("...");
        out
    }
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Derive title, culprit and metadata from a raw event. The event is normalised as for
/// grouping (stack-trace rules included, so in-app flags match what grouping saw).
pub fn error_metadata(event: &Value) -> ErrorMetadata {
    let event = match super::prepare_event(event, &GroupingOptions::default()) {
        Ok((e, _)) => e,
        Err(_) => {
            // Broken `_grouping.enhancements`: fall back to the store normalisation alone.
            let mut e = event.clone();
            normalize::take_event_enhancements(&mut e);
            normalize::normalize_relay(&mut e);
            e
        }
    };
    describe_prepared(&event)
}

/// [`error_metadata`] of an event that is already normalised.
pub(super) fn describe_prepared(event: &Value) -> ErrorMetadata {
    let platform = text(event, "platform").unwrap_or("other").to_owned();
    let exceptions: Vec<&Value> = event
        .get("exception")
        .and_then(|e| e.get("values"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter(|e| e.is_object()).collect())
        .unwrap_or_default();
    let culprit = culprit(event, &exceptions, &platform);

    let Some(main) = main_exception(&exceptions) else {
        let message = event
            .get("logentry")
            .and_then(|l| text(l, "formatted").or_else(|| text(l, "message")))
            .and_then(|m| m.trim().lines().next())
            .filter(|m| !m.is_empty())
            .map(|m| truncate_chars(m, 100));
        let title = message.unwrap_or_else(|| "<unlabeled event>".to_owned());
        return ErrorMetadata {
            metadata: json!({ "title": title }),
            title,
            culprit,
        };
    };

    let ty = text(main, "type");
    let value = match main.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let crash = crash_frame(main.get("stacktrace")).or_else(|| crash_frame(event.get("stacktrace")));
    let mut metadata = Map::new();
    if let Some(t) = ty {
        metadata.insert("type".to_owned(), json!(t));
    }
    metadata.insert("value".to_owned(), json!(truncate_chars(&value, 1024)));
    if main.get("mechanism").and_then(|m| m.get("synthetic")).and_then(Value::as_bool) == Some(true) {
        metadata.insert("synthetic".to_owned(), json!(true));
    }
    let crash_function = crash.and_then(|f| text(f, "function"));
    if let Some(f) = crash {
        if let Some(filename) = text(f, "filename").or_else(|| text(f, "abs_path")) {
            metadata.insert("filename".to_owned(), json!(filename));
        }
        if let Some(function) = crash_function {
            metadata.insert("function".to_owned(), json!(function));
        }
    }
    let title = match (ty, value.lines().next().filter(|l| !l.is_empty())) {
        (None, _) => crash_function.unwrap_or("<unknown>").to_owned(),
        (Some(t), None) => t.to_owned(),
        (Some(t), Some(first)) => format!("{t}: {}", truncate_chars(first, 100)),
    };
    ErrorMetadata {
        title,
        culprit,
        metadata: Value::Object(metadata),
    }
}

/// The exception an issue is about: the last one, or for an exception group the first
/// non-group exception under the root group.
fn main_exception<'a>(exceptions: &[&'a Value]) -> Option<&'a Value> {
    let mechanism = |e: &Value, k: &str| e.get("mechanism").and_then(|m| m.get(k)).cloned();
    let is_group = |e: &Value| mechanism(e, "is_exception_group").and_then(|v| v.as_bool()) == Some(true);
    if exceptions.iter().any(|e| is_group(e)) {
        let mut id = 0;
        for _ in 0..exceptions.len() {
            let Some(node) = exceptions
                .iter()
                .find(|e| mechanism(e, "exception_id").and_then(|v| v.as_i64()) == Some(id))
            else {
                break;
            };
            if !is_group(node) {
                return Some(node);
            }
            let child = exceptions
                .iter()
                .filter_map(|e| {
                    let parent = mechanism(e, "parent_id").and_then(|v| v.as_i64());
                    let own = mechanism(e, "exception_id").and_then(|v| v.as_i64());
                    (parent == Some(id) && own != Some(id)).then_some(own).flatten()
                })
                .min();
            match child {
                Some(c) => id = c,
                None => break,
            }
        }
    }
    exceptions.last().copied()
}

fn frames(stacktrace: Option<&Value>) -> Vec<&Value> {
    stacktrace
        .and_then(|s| s.get("frames"))
        .and_then(Value::as_array)
        .map(|f| f.iter().filter(|f| f.is_object()).collect())
        .unwrap_or_default()
}

/// The most recent in-app frame, else the most recent frame.
fn crash_frame(stacktrace: Option<&Value>) -> Option<&Value> {
    let frames = frames(stacktrace);
    let in_app = |f: &&&Value| f.get("in_app").and_then(Value::as_bool) == Some(true);
    frames.iter().rev().find(in_app).or_else(|| frames.last()).copied()
}

fn culprit(event: &Value, exceptions: &[&Value], platform: &str) -> Option<String> {
    if let Some(c) = text(event, "culprit") {
        return Some(truncate_chars(c, MAX_CULPRIT_CHARS));
    }
    let mut stacks: Vec<Option<&Value>> = exceptions.iter().rev().map(|e| e.get("stacktrace")).collect();
    stacks.push(event.get("stacktrace"));
    let threads: Vec<&Value> = match event.get("threads") {
        Some(Value::Object(o)) => o
            .get("values")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        Some(Value::Array(a)) => a.iter().collect(),
        _ => Vec::new(),
    };
    let crashed = threads.iter().find(|t| t.get("crashed").and_then(Value::as_bool) == Some(true));
    if let Some(t) = crashed.or(if threads.len() == 1 { threads.first() } else { None }) {
        stacks.push(t.get("stacktrace"));
    }
    for st in stacks {
        if let Some(frame) = crash_frame(st) {
            let rendered = culprit_string(frame, platform);
            if !rendered.is_empty() {
                return Some(truncate_chars(&rendered, MAX_CULPRIT_CHARS));
            }
        }
    }
    let url = event.get("request").and_then(|r| text(r, "url"));
    url.or_else(|| text(event, "transaction"))
        .map(|s| truncate_chars(s, MAX_CULPRIT_CHARS))
}

fn culprit_string(frame: &Value, event_platform: &str) -> String {
    let platform = normalize::frame_platform(frame, event_platform);
    let function = text(frame, "function");
    if matches!(platform, "objc" | "cocoa" | "native") {
        return function.unwrap_or("?").to_owned();
    }
    let Some(location) = text(frame, "module").or_else(|| text(frame, "filename")) else {
        return String::new();
    };
    if matches!(platform, "javascript" | "node") {
        return format!("{}({location})", function.unwrap_or("?"));
    }
    let function = function.map(|f| truncate_chars(f, 50)).unwrap_or_else(|| "?".to_owned());
    format!("{} in {function}", truncate_chars(location, 100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_error() {
        let event = json!({
            "platform": "python",
            "exception": {"values": [{
                "type": "ValueError",
                "value": "invalid literal for int() with base 10: 'x'\nmore",
                "stacktrace": {"frames": [
                    {"module": "app.main", "function": "run", "filename": "app/main.py", "in_app": true},
                    {"module": "django.core", "function": "handle", "filename": "django/core.py", "in_app": false}
                ]}
            }]}
        });
        let m = error_metadata(&event);
        assert_eq!(m.title, "ValueError: invalid literal for int() with base 10: 'x'");
        assert_eq!(m.culprit.as_deref(), Some("app.main in run"));
        assert_eq!(m.metadata["type"], "ValueError");
        assert_eq!(m.metadata["filename"], "app/main.py");
        assert_eq!(m.metadata["function"], "run");
    }

    #[test]
    fn javascript_and_legacy_value() {
        let event = json!({
            "platform": "javascript",
            "exception": {"values": [{"value": "TypeError: x is undefined",
                "stacktrace": {"frames": [{"function": "Foo.bar", "abs_path": "https://example.com/app.js", "in_app": true}]}}]}
        });
        let m = error_metadata(&event);
        assert_eq!(m.title, "TypeError: x is undefined");
        assert_eq!(m.culprit.as_deref(), Some("Foo.bar(/app.js)"));
    }

    #[test]
    fn message_event() {
        let m = error_metadata(&json!({"message": "  Hello there\nsecond", "culprit": "explicit"}));
        assert_eq!(m.title, "Hello there");
        assert_eq!(m.culprit.as_deref(), Some("explicit"));
        assert_eq!(m.metadata, json!({"title": "Hello there"}));
        assert_eq!(error_metadata(&json!({})).title, "<unlabeled event>");
    }

    #[test]
    fn type_without_value_and_no_type() {
        assert_eq!(error_metadata(&json!({"exception": {"values": [{"type": "Boom"}]}})).title, "Boom");
        let event = json!({"platform": "native", "exception": {"values": [{"value": "no type here",
            "stacktrace": {"frames": [{"function": "crash_me", "in_app": true}]}}]}});
        assert_eq!(error_metadata(&event).title, "crash_me");
    }
}
