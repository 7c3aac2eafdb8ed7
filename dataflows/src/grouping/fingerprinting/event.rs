//! Read-only view of an event for fingerprint matching and variable resolution
//! (grouping.md §12.3, §12.4).
//!
//! The view is tolerant of raw (un-normalised) events and applies the few Relay normalisation
//! steps that change what matchers see (grouping.md §2): frame `abs_path`/`filename`
//! shuffling, splitting `"Type: value"` exception values, dropping empty exceptions, the legacy
//! top-level `message`, `in_app: null` → false, the default platform `other` and the default
//! level `error`. On an already-normalised event these steps are no-ops.

use serde_json::Value;

use crate::grouping::normalize::url_path;

/// One stack frame as fingerprint matchers see it.
#[derive(Debug, Clone, Default)]
pub(crate) struct FrameView {
    pub function: Option<String>,
    pub module: Option<String>,
    pub abs_path: Option<String>,
    pub filename: Option<String>,
    pub package: Option<String>,
    pub in_app: bool,
}

impl FrameView {
    fn from_value(frame: &Value) -> Option<FrameView> {
        let obj = frame.as_object()?;
        let text = |key: &str| obj.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
        let mut abs_path = text("abs_path");
        let mut filename = text("filename");
        // Relay: an empty abs_path takes the filename; an empty filename is derived from abs_path.
        if abs_path.is_none() {
            abs_path = filename.take();
        }
        if filename.is_none() {
            if let Some(abs) = &abs_path {
                filename = Some(url_path(abs).unwrap_or_else(|| abs.clone()));
            }
        }
        Some(FrameView {
            function: text("function"),
            module: text("module"),
            abs_path,
            filename,
            package: text("package"),
            in_app: obj.get("in_app").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    /// `abs_path`, else `filename` (the `path` matcher and `{{ path }}`).
    pub fn path(&self) -> Option<&str> {
        self.abs_path.as_deref().or(self.filename.as_deref())
    }
}

/// One exception (type and value after Relay's splitting).
#[derive(Debug, Clone, Default)]
pub(crate) struct ExceptionView {
    pub ty: Option<String>,
    pub value: Option<String>,
}

/// Everything fingerprint rules and variables read from an event.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventView {
    pub platform: String,
    /// logentry.formatted, else logentry.message (else the legacy top-level `message`).
    pub message: Option<String>,
    pub exceptions: Vec<ExceptionView>,
    /// Frames of all exception stack traces, the top-level stack trace and all thread stack
    /// traces, in that order.
    pub frames: Vec<FrameView>,
    pub crash_frame: Option<FrameView>,
    pub level: Option<String>,
    pub logger: Option<String>,
    pub release: Option<String>,
    pub transaction: Option<String>,
    pub sdk_name: Option<String>,
    pub tags: Vec<(String, String)>,
    pub environment: Option<String>,
    pub dist: Option<String>,
    pub server_name: Option<String>,
    pub site: Option<String>,
}

/// `{"values": [...]}` or a bare list.
fn values_list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Object(obj)) => match obj.get("values") {
            Some(Value::Array(items)) => items.iter().collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn frames_of(stacktrace: Option<&Value>) -> Vec<FrameView> {
    stacktrace
        .and_then(|st| st.get("frames"))
        .and_then(Value::as_array)
        .map(|frames| frames.iter().filter_map(FrameView::from_value).collect())
        .unwrap_or_default()
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
        _ => None,
    }
}

fn non_empty_str(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Relay's exception type/value split: an empty type and a value `^(\w+):(.*)$`.
fn split_type_value(value: &str) -> Option<(String, String)> {
    let colon = value.find(':')?;
    let (head, rest) = (&value[..colon], &value[colon + 1..]);
    if head.is_empty() || !head.chars().all(|c| c.is_alphanumeric() || c == '_') || rest.contains('\n') {
        return None;
    }
    Some((head.to_owned(), rest.trim().to_owned()))
}

fn normalize_level(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(
            match s.as_str() {
                "warn" => "warning",
                "critical" => "fatal",
                "log" => "info",
                other => other,
            }
            .to_owned(),
        ),
        Value::Number(n) => Some(
            match n.as_i64()? {
                10 => "debug",
                20 => "info",
                30 => "warning",
                40 => "error",
                50 => "fatal",
                _ => return None,
            }
            .to_owned(),
        ),
        _ => None,
    }
}

/// Sentry's normalised SDK tag, approximated: `sentry_`/`sentry-` prefixes become `sentry.`,
/// names outside the `sentry.` namespace become `other`.
fn normalize_sdk_name(name: &str) -> String {
    let name = if let Some(rest) = name.strip_prefix("sentry_").or_else(|| name.strip_prefix("sentry-")) {
        format!("sentry.{rest}")
    } else {
        name.to_owned()
    };
    if name.starts_with("sentry.") {
        name
    } else {
        "other".to_owned()
    }
}

impl EventView {
    pub fn new(event: &Value) -> EventView {
        let platform = non_empty_str(event.get("platform")).unwrap_or_else(|| "other".to_owned());

        let logentry = event.get("logentry");
        let legacy = event.get("message");
        let message = non_empty_str(logentry.and_then(|l| l.get("formatted")))
            .or_else(|| non_empty_str(logentry.and_then(|l| l.get("message"))))
            .or_else(|| match legacy {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(obj @ Value::Object(_)) => non_empty_str(obj.get("formatted")).or_else(|| non_empty_str(obj.get("message"))),
                _ => None,
            });

        let mut exceptions = Vec::new();
        let mut frames = Vec::new();
        let raw_exceptions = values_list(event.get("exception"));
        for exc in &raw_exceptions {
            frames.extend(frames_of(exc.get("stacktrace")));
            let mut ty = non_empty_str(exc.get("type"));
            let mut value = exc.get("value").and_then(scalar_string).filter(|s| !s.is_empty());
            if ty.is_none() {
                if let Some((t, v)) = value.as_deref().and_then(split_type_value) {
                    ty = Some(t);
                    value = Some(v).filter(|v| !v.is_empty());
                }
            }
            if ty.is_some() || value.is_some() {
                exceptions.push(ExceptionView { ty, value });
            }
        }
        frames.extend(frames_of(event.get("stacktrace")));
        let threads = values_list(event.get("threads"));
        for thread in &threads {
            frames.extend(frames_of(thread.get("stacktrace")));
        }

        // Crash frame: the last exception's stack trace, else the top-level one, else the only
        // thread's; its last in-app frame, else its last frame.
        let mut crash_frames = raw_exceptions.last().map(|e| frames_of(e.get("stacktrace"))).unwrap_or_default();
        if crash_frames.is_empty() {
            crash_frames = frames_of(event.get("stacktrace"));
        }
        if crash_frames.is_empty() && threads.len() == 1 {
            crash_frames = frames_of(threads[0].get("stacktrace"));
        }
        let crash_frame = crash_frames
            .iter()
            .rev()
            .find(|f| f.in_app)
            .or_else(|| crash_frames.last())
            .cloned();

        let tags = match event.get("tags") {
            Some(Value::Object(obj)) => obj.iter().filter_map(|(k, v)| Some((k.clone(), scalar_string(v)?))).collect(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| {
                    let pair = item.as_array()?;
                    Some((pair.first()?.as_str()?.to_owned(), scalar_string(pair.get(1)?)?))
                })
                .collect(),
            _ => Vec::new(),
        };

        EventView {
            platform,
            message,
            exceptions,
            frames,
            crash_frame,
            level: event.get("level").and_then(normalize_level).or_else(|| Some("error".to_owned())),
            logger: non_empty_str(event.get("logger")),
            release: event.get("release").and_then(scalar_string).filter(|s| !s.is_empty()),
            transaction: non_empty_str(event.get("transaction")),
            sdk_name: non_empty_str(event.get("sdk").and_then(|s| s.get("name"))).map(|n| normalize_sdk_name(&n)),
            tags,
            environment: non_empty_str(event.get("environment")),
            dist: non_empty_str(event.get("dist")),
            server_name: non_empty_str(event.get("server_name")),
            site: non_empty_str(event.get("site")),
        }
    }

    /// Behaviour family of the event platform: `native`, `javascript` or `other`.
    pub fn family(&self) -> &'static str {
        match self.platform.as_str() {
            "objc" | "cocoa" | "swift" | "native" | "c" => "native",
            "javascript" | "node" => "javascript",
            _ => "other",
        }
    }

    /// Values the `message` matcher is tried on: the log message, then every exception value.
    pub fn messages(&self) -> Vec<&str> {
        self.message
            .iter()
            .map(String::as_str)
            .chain(self.exceptions.iter().filter_map(|e| e.value.as_deref()))
            .collect()
    }

    /// Tag lookup. Explicit tags win; otherwise the tags Sentry derives from top-level fields
    /// before fingerprinting (`level`, `logger`, `transaction`, `environment`, `release`,
    /// `dist`, `server_name`, `site`).
    pub fn tag(&self, name: &str) -> Option<&str> {
        if let Some((_, v)) = self.tags.iter().find(|(k, _)| k == name) {
            return Some(v);
        }
        match name {
            "level" => self.level.as_deref(),
            "logger" => self.logger.as_deref(),
            "transaction" => self.transaction.as_deref(),
            "environment" => self.environment.as_deref(),
            "release" => self.release.as_deref(),
            "dist" => self.dist.as_deref(),
            "server_name" => self.server_name.as_deref(),
            "site" => self.site.as_deref(),
            _ => None,
        }
    }

    /// Resolve a fingerprint variable name (grouping.md §12.3). `None` for `default` and for
    /// unknown names, which the 2023 config leaves literal.
    pub fn resolve_variable(&self, name: &str) -> Option<String> {
        let last_exc = self.exceptions.last();
        let crash = self.crash_frame.as_ref();
        let or = |v: Option<&str>, missing: &str| v.unwrap_or(missing).to_owned();
        Some(match name {
            "transaction" => or(self.transaction.as_deref(), "<no-transaction>"),
            "message" => or(
                self.message.as_deref().or_else(|| last_exc.and_then(|e| e.value.as_deref())),
                "<no-message>",
            ),
            "type" | "error.type" => or(last_exc.and_then(|e| e.ty.as_deref()), "<no-type>"),
            "value" | "error.value" => or(last_exc.and_then(|e| e.value.as_deref()), "<no-value>"),
            "function" | "stack.function" => or(crash.and_then(|f| f.function.as_deref()), "<no-function>"),
            "path" | "stack.abs_path" => or(crash.and_then(FrameView::path), "<no-abs-path>"),
            "stack.filename" => or(crash.and_then(|f| f.filename.as_deref().or(f.abs_path.as_deref())), "<no-filename>"),
            "module" | "stack.module" => or(crash.and_then(|f| f.module.as_deref()), "<no-module>"),
            "package" | "stack.package" => or(crash.and_then(|f| f.package.as_deref()).map(basename), "<no-package>"),
            "level" => or(self.level.as_deref(), "<no-level>"),
            "logger" => or(self.logger.as_deref(), "<no-logger>"),
            _ => {
                let tag = name.strip_prefix("tags.")?;
                match self.tag(tag) {
                    Some(v) => v.to_owned(),
                    None => format!("<no-value-for-tag-{tag}>"),
                }
            }
        })
    }

    /// A simple event title: `Type: first line of value` for errors (last exception), the
    /// first line of the log message otherwise, `<unlabeled event>` without either. Values are
    /// truncated to 100 characters. CSP/security reports and exception groups are not handled.
    pub fn title(&self) -> String {
        if let Some(exc) = self.exceptions.last() {
            let ty = exc.ty.as_deref().unwrap_or("Error");
            return match exc.value.as_deref().and_then(|v| v.lines().next()).filter(|v| !v.is_empty()) {
                Some(first) => format!("{ty}: {}", truncate_chars(first, 100)),
                None => ty.to_owned(),
            };
        }
        match self
            .message
            .as_deref()
            .map(str::trim)
            .and_then(|m| m.lines().next())
            .filter(|m| !m.is_empty())
        {
            Some(first) => truncate_chars(first, 100),
            None => "<unlabeled event>".to_owned(),
        }
    }
}

/// Last path component after `/` or `\`.
fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max - 3).collect();
        out.push_str("...");
        out
    }
}
