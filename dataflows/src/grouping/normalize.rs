//! Pre-grouping normalisation (grouping.md §2).
//!
//! Grouping runs on events as Sentry stores them, not as SDKs send them, so the raw event
//! first goes through the parts of Relay's store normalisation that change what grouping
//! sees, then through the stack-trace preparation Sentry does right before grouping:
//! function trimming, the modify phase of the stack-trace rules, and in-app defaulting.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::enhancers::{Enhancements, ExceptionData, Family, MatchFrame};
use super::functions::trim_function_name;

/// The event's own extra stack-trace rules (`_grouping.enhancements`), removed from `event`.
pub fn take_event_enhancements(event: &mut Value) -> Option<String> {
    let grouping = event.as_object_mut()?.remove("_grouping")?;
    grouping.get("enhancements").and_then(Value::as_str).map(str::to_owned)
}

/// Relay's store normalisation, restricted to what grouping reads.
pub fn normalize_relay(event: &mut Value) {
    let Some(obj) = event.as_object_mut() else { return };
    match obj.get("platform").and_then(Value::as_str) {
        Some(p) if !p.is_empty() => {}
        _ => {
            obj.insert("platform".to_owned(), Value::String("other".to_owned()));
        }
    }
    normalize_exceptions(obj);
    normalize_logentry(obj);
    for_each_stacktrace(obj, true, &mut |st, _| {
        if let Some(frames) = st.get_mut("frames").and_then(Value::as_array_mut) {
            frames.iter_mut().for_each(normalize_frame_paths);
        }
    });
}

/// Accept the legacy shapes (a bare list, a single exception) and keep `{"values": [..]}`;
/// split `Type: value` values without a type; drop exceptions with neither.
fn normalize_exceptions(obj: &mut Map<String, Value>) {
    let Some(exc) = obj.remove("exception") else { return };
    let list = match exc {
        Value::Array(list) => list,
        Value::Object(mut o) => match o.remove("values") {
            Some(Value::Array(list)) => list,
            Some(_) => Vec::new(),
            // A single exception object (legacy shape).
            None => vec![Value::Object(o)],
        },
        _ => return,
    };
    let mut values = Vec::new();
    for mut e in list {
        let Some(eo) = e.as_object_mut() else { continue };
        let ty_empty = eo.get("type").and_then(Value::as_str).is_none_or(str::is_empty);
        if ty_empty {
            if let Some((t, v)) = eo.get("value").and_then(Value::as_str).and_then(split_type_value) {
                eo.insert("type".to_owned(), Value::String(t));
                eo.insert("value".to_owned(), Value::String(v));
            }
        }
        let has = |k: &str| match eo.get(k) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        };
        if !has("type") && !has("value") {
            continue;
        }
        values.push(e);
    }
    let mut wrapper = Map::new();
    wrapper.insert("values".to_owned(), Value::Array(values));
    obj.insert("exception".to_owned(), Value::Object(wrapper));
}

static TYPE_VALUE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\w+):(?s)(.*)$").unwrap_or_else(|e| panic!("type/value pattern: {e}")));

fn split_type_value(value: &str) -> Option<(String, String)> {
    let caps = TYPE_VALUE.captures(value)?;
    Some((caps.get(1)?.as_str().to_owned(), caps.get(2)?.as_str().trim().to_owned()))
}

/// Legacy `message` → `logentry.formatted`; `formatted` rendered from `message` + `params`;
/// `message` folded into `formatted` when it adds nothing.
fn normalize_logentry(obj: &mut Map<String, Value>) {
    if !obj.contains_key("logentry") {
        match obj.get("message") {
            Some(Value::String(s)) if !s.is_empty() => {
                let mut le = Map::new();
                le.insert("formatted".to_owned(), Value::String(s.clone()));
                obj.insert("logentry".to_owned(), Value::Object(le));
            }
            Some(Value::Object(o)) => {
                let o = o.clone();
                obj.insert("logentry".to_owned(), Value::Object(o));
            }
            _ => {}
        }
    }
    let Some(le) = obj.get_mut("logentry").and_then(Value::as_object_mut) else {
        return;
    };
    let message = le.get("message").and_then(Value::as_str).map(str::to_owned);
    let formatted = le.get("formatted").and_then(Value::as_str).map(str::to_owned);
    if formatted.is_none() {
        if let (Some(m), Some(params)) = (&message, le.get("params")) {
            if let Some(rendered) = render_params(m, params) {
                le.insert("formatted".to_owned(), Value::String(rendered));
            }
        }
    }
    let formatted = le.get("formatted").and_then(Value::as_str).map(str::to_owned);
    if let Some(m) = message {
        if formatted.is_none() || formatted.as_deref() == Some(m.as_str()) {
            le.remove("message");
            le.insert("formatted".to_owned(), Value::String(m));
        }
    }
}

fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".to_owned(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
        other => other.to_string(),
    }
}

/// printf-style (`%s`, `%d`, `%(name)s`) when the template has `%`, else `{}`/`{0}`/`{name}`.
fn render_params(template: &str, params: &Value) -> Option<String> {
    let positional: Vec<String> = match params {
        Value::Array(a) => a.iter().map(param_text).collect(),
        _ => Vec::new(),
    };
    let named = params.as_object();
    let mut out = String::new();
    let chars: Vec<char> = template.chars().collect();
    let mut next = 0;
    let mut i = 0;
    if template.contains('%') {
        while i < chars.len() {
            if chars[i] != '%' {
                out.push(chars[i]);
                i += 1;
                continue;
            }
            if chars.get(i + 1) == Some(&'%') {
                out.push('%');
                i += 2;
                continue;
            }
            let mut j = i + 1;
            let mut key = None;
            if chars.get(j) == Some(&'(') {
                let close = chars[j..].iter().position(|&c| c == ')')? + j;
                key = Some(chars[j + 1..close].iter().collect::<String>());
                j = close + 1;
            }
            while j < chars.len() && !chars[j].is_ascii_alphabetic() {
                j += 1;
            }
            j += 1;
            let value = match key {
                Some(k) => named.and_then(|n| n.get(&k)).map(param_text)?,
                None => {
                    let v = positional.get(next)?.clone();
                    next += 1;
                    v
                }
            };
            out.push_str(&value);
            i = j;
        }
    } else {
        while i < chars.len() {
            if chars[i] == '{' {
                let close = chars[i..].iter().position(|&c| c == '}')? + i;
                let key: String = chars[i + 1..close].iter().collect();
                let value = if key.is_empty() {
                    let v = positional.get(next).cloned();
                    next += 1;
                    v?
                } else if let Ok(n) = key.parse::<usize>() {
                    positional.get(n).cloned()?
                } else {
                    named.and_then(|m| m.get(&key)).map(param_text)?
                };
                out.push_str(&value);
                i = close + 1;
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    Some(out)
}

/// Relay: an empty `abs_path` takes the `filename`; an empty `filename` is derived from
/// `abs_path` (just the path part of a URL).
fn normalize_frame_paths(frame: &mut Value) {
    let Some(f) = frame.as_object_mut() else { return };
    let non_empty = |v: Option<&Value>| v.and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    if !non_empty(f.get("abs_path")) {
        if let Some(filename) = f.remove("filename") {
            f.insert("abs_path".to_owned(), filename);
        }
    }
    if !non_empty(f.get("filename")) {
        if let Some(abs) = f.get("abs_path").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            let filename = url_path(abs).unwrap_or_else(|| abs.to_owned());
            f.insert("filename".to_owned(), Value::String(filename));
        }
    }
}

/// For `file:`, `http:`, `https:` and `applewebdata:` URLs with a non-trivial path: that path
/// (how Relay derives a frame's filename; fingerprinting rules match the same).
pub(crate) fn url_path(abs: &str) -> Option<String> {
    let rest = ["file:", "http:", "https:", "applewebdata:"].iter().find_map(|scheme| {
        let head = abs.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme).then(|| &abs[scheme.len()..])
    })?;
    let path = match rest.strip_prefix("//") {
        Some(after_authority) => &after_authority[after_authority.find('/')?..],
        None => rest,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    (!path.is_empty() && path != "/").then(|| path.to_owned())
}

/// Visit every stack trace: exceptions' (with their exception data), then the top-level one,
/// then the threads'. Raw stack traces are included when `raw` is set.
fn for_each_stacktrace(obj: &mut Map<String, Value>, raw: bool, f: &mut dyn FnMut(&mut Value, Option<&ExceptionData>)) {
    let keys: &[&str] = if raw { &["stacktrace", "raw_stacktrace"] } else { &["stacktrace"] };
    if let Some(values) = obj
        .get_mut("exception")
        .and_then(|e| e.get_mut("values"))
        .and_then(Value::as_array_mut)
    {
        for exc in values.iter_mut() {
            let data = exception_data(exc);
            for key in keys {
                if let Some(st) = exc.get_mut(*key).filter(|s| s.is_object()) {
                    f(st, Some(&data));
                }
            }
        }
    }
    for key in keys {
        if let Some(st) = obj.get_mut(*key).filter(|s| s.is_object()) {
            f(st, None);
        }
    }
    let threads = match obj.get_mut("threads") {
        Some(Value::Object(t)) => t.get_mut("values").and_then(Value::as_array_mut),
        Some(Value::Array(a)) => Some(a),
        _ => None,
    };
    if let Some(threads) = threads {
        for thread in threads.iter_mut() {
            for key in keys {
                if let Some(st) = thread.get_mut(*key).filter(|s| s.is_object()) {
                    f(st, None);
                }
            }
        }
    }
}

/// Exception fields as stack-trace rules see them.
pub fn exception_data(exc: &Value) -> ExceptionData {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    ExceptionData {
        ty: text(exc.get("type")),
        value: text(exc.get("value")),
        mechanism: text(exc.get("mechanism").and_then(|m| m.get("type"))),
    }
}

/// The platform a frame behaves as: its own, else the event's.
pub fn frame_platform<'a>(frame: &'a Value, event_platform: &'a str) -> &'a str {
    frame
        .get("platform")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .unwrap_or(event_platform)
}

/// A frame as the rule engine sees it.
pub fn match_frame(frame: &Value, event_platform: &str) -> MatchFrame {
    let text = |k: &str| frame.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let path_like = |s: String| s.replace('\\', "/").to_lowercase();
    MatchFrame {
        family: Family::of_platform(frame_platform(frame, event_platform)),
        // Rules see a missing function as `<unknown>`, as symbolicated native frames spell it;
        // the base rules rely on this to categorise unsymbolicated system frames.
        function: Some(text("function").unwrap_or_else(|| "<unknown>".to_owned())),
        module: text("module"),
        package: text("package").map(path_like),
        path: text("abs_path").or_else(|| text("filename")).map(path_like),
        category: frame
            .get("data")
            .and_then(|d| d.get("category"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        in_app: frame.get("in_app").and_then(Value::as_bool),
        orig_in_app: frame.get("data").and_then(|d| d.get("orig_in_app")).map(|o| o.as_bool()),
    }
}

/// Sentry's stack-trace preparation: trim function names, run the modify phase of `rules`,
/// default `in_app` to false.
pub fn normalize_stacktraces(event: &mut Value, rules: &Enhancements) {
    let platform = event.get("platform").and_then(Value::as_str).unwrap_or("other").to_owned();
    let Some(obj) = event.as_object_mut() else { return };
    for_each_stacktrace(obj, false, &mut |st, exc| {
        let Some(frames) = st.get_mut("frames").and_then(Value::as_array_mut) else {
            return;
        };
        for frame in frames.iter_mut() {
            trim_frame_function(frame, &platform);
            restore_in_app(frame);
        }
        let mut match_frames: Vec<MatchFrame> = frames.iter().map(|f| match_frame(f, &platform)).collect();
        rules.modify_frames(&mut match_frames, exc.unwrap_or(&ExceptionData::default()));
        for (frame, mf) in frames.iter_mut().zip(&match_frames) {
            let Some(fo) = frame.as_object_mut() else { continue };
            if let Some(orig) = mf.orig_in_app {
                fo.insert("in_app".to_owned(), mf.in_app.map_or(Value::Null, Value::Bool));
                let data = fo.entry("data").or_insert_with(|| Value::Object(Map::new()));
                if let Some(d) = data.as_object_mut() {
                    let encoded = match orig {
                        Some(b) => Value::Bool(b),
                        None => Value::from(-1),
                    };
                    d.insert("orig_in_app".to_owned(), encoded);
                }
            }
            if let Some(cat) = &mf.category {
                let data = fo.entry("data").or_insert_with(|| Value::Object(Map::new()));
                if let Some(d) = data.as_object_mut() {
                    d.insert("category".to_owned(), Value::String(cat.clone()));
                }
            }
            if !fo.get("in_app").is_some_and(Value::is_boolean) {
                fo.insert("in_app".to_owned(), Value::Bool(false));
            }
        }
    });
}

fn trim_frame_function(frame: &mut Value, event_platform: &str) {
    let platform = frame_platform(frame, event_platform).to_owned();
    let Some(fo) = frame.as_object_mut() else { return };
    let has_raw = fo.get("raw_function").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    let Some(function) = fo.get("function").and_then(Value::as_str).filter(|s| !s.is_empty()) else {
        return;
    };
    if has_raw {
        return;
    }
    let trimmed = trim_function_name(function, &platform);
    if trimmed != function {
        let original = function.to_owned();
        fo.insert("raw_function".to_owned(), Value::String(original));
        fo.insert("function".to_owned(), Value::String(trimmed));
    }
}

/// Undo in-app changes of an earlier rule run, recorded in `data.orig_in_app`.
fn restore_in_app(frame: &mut Value) {
    let Some(fo) = frame.as_object_mut() else { return };
    let Some(orig) = fo
        .get_mut("data")
        .and_then(Value::as_object_mut)
        .and_then(|d| d.remove("orig_in_app"))
    else {
        return;
    };
    let restored = match orig {
        Value::Bool(b) => Value::Bool(b),
        _ => Value::Null,
    };
    fo.insert("in_app".to_owned(), restored);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn frame_paths_follow_relay() {
        let mut event = json!({"stacktrace": {"frames": [
            {"filename": "foo/bar.py"},
            {"abs_path": "https://example.com/static/app.js?v=1"},
            {"abs_path": "https://example.com/"},
            {"abs_path": "/abs/x.c", "filename": "x.c"}
        ]}});
        normalize_relay(&mut event);
        let frames = &event["stacktrace"]["frames"];
        assert_eq!(frames[0], json!({"abs_path": "foo/bar.py", "filename": "foo/bar.py"}));
        assert_eq!(frames[1]["filename"], "/static/app.js");
        assert_eq!(frames[2]["filename"], "https://example.com/");
        assert_eq!(frames[3]["filename"], "x.c");
        assert_eq!(event["platform"], "other");
    }

    #[test]
    fn exceptions_are_split_wrapped_and_filtered() {
        let mut event = json!({"exception": [
            {"value": "ValueError: bad thing "},
            {"type": "", "value": ""},
            {"value": "no colon here"}
        ]});
        normalize_relay(&mut event);
        let values = &event["exception"]["values"];
        assert_eq!(values.as_array().map(Vec::len), Some(2));
        assert_eq!(values[0]["type"], "ValueError");
        assert_eq!(values[0]["value"], "bad thing");
        assert_eq!(values[1]["value"], "no colon here");

        let mut single = json!({"exception": {"type": "E", "module": "m"}});
        normalize_relay(&mut single);
        assert_eq!(single["exception"]["values"][0]["type"], "E");
    }

    #[test]
    fn logentry_forms() {
        let mut legacy = json!({"message": "plain"});
        normalize_relay(&mut legacy);
        assert_eq!(legacy["logentry"], json!({"formatted": "plain"}));

        let mut printf = json!({"logentry": {"message": "Hello %s, %d%%", "params": ["you", 3]}});
        normalize_relay(&mut printf);
        assert_eq!(
            printf["logentry"],
            json!({"message": "Hello %s, %d%%", "params": ["you", 3], "formatted": "Hello you, 3%"})
        );

        let mut braces = json!({"logentry": {"message": "Hi {} and {name}", "params": {"name": "x"}}});
        normalize_relay(&mut braces);
        // A named parameter cannot fill `{}`: nothing is rendered, the template stays.
        assert_eq!(braces["logentry"]["formatted"], "Hi {} and {name}");

        let mut same = json!({"logentry": {"message": "same", "formatted": "same"}});
        normalize_relay(&mut same);
        assert_eq!(same["logentry"], json!({"formatted": "same"}));
    }

    #[test]
    fn stacktrace_preparation() {
        let rules = Enhancements::parse("function:vendor_* -app\nfunction:main category=entry").expect("rules");
        let mut event = json!({"platform": "native", "exception": {"values": [{"type": "E", "stacktrace": {"frames": [
            {"function": "main", "in_app": true},
            {"function": "vendor_call(int)"},
            {"function": "helper", "raw_function": "helper(int)"}
        ]}}]}});
        normalize_stacktraces(&mut event, &rules);
        let frames = &event["exception"]["values"][0]["stacktrace"]["frames"];
        assert_eq!(frames[0]["in_app"], true);
        assert_eq!(frames[0]["data"]["category"], "entry");
        assert_eq!(frames[1]["function"], "vendor_call");
        assert_eq!(frames[1]["raw_function"], "vendor_call(int)");
        assert_eq!(frames[1]["in_app"], false);
        assert_eq!(frames[1]["data"]["orig_in_app"], -1);
        // With a raw function the function is taken as already trimmed.
        assert_eq!(frames[2]["function"], "helper");
        assert_eq!(frames[2]["in_app"], false);

        // A second run restores the original flags before applying the rules again.
        let permissive = Enhancements::default();
        normalize_stacktraces(&mut event, &permissive);
        let frames = &event["exception"]["values"][0]["stacktrace"]["frames"];
        assert_eq!(frames[1]["in_app"], false);
        assert!(frames[1]["data"].get("orig_in_app").is_none());
    }
}
