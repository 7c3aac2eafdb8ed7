//! Server-side fingerprinting rules (grouping.md §12.2–§12.4).
//!
//! # Rules
//!
//! * [`FingerprintingRules::from_text`] parses the text format
//!   (`type:"DatabaseUnavailable" module:io.sentry.* -> database-unavailable, {{ transaction }}`,
//!   see [`parse`] for the grammar); [`FingerprintingRules::from_json`] reads the JSON form,
//!   either a bare rule list `[{"matchers": [[key, pattern]], "fingerprint": [..]}]` or Sentry's
//!   config `{"rules": [..], "version": 1}`.
//! * [`FingerprintingRules::to_config_json`] serialises to Sentry's config form
//!   `{"rules": [{"matchers", "fingerprint", "attributes": {}}], "version": 1}`;
//!   [`Rule::text`] renders a rule as Sentry's `matched_rule` string.
//! * Matcher key aliases are canonicalised on load (`error.type` → `type`,
//!   `stack.abs_path` → `path`, ...); negation is serialised as a `!` key prefix.
//!
//! # Applying
//!
//! * [`FingerprintingRules::apply`] returns the first matching rule ([`RuleMatch`]).
//! * [`apply_fingerprinting`] runs project rules, then built-in rules, against an event and
//!   returns the resulting (unresolved) fingerprint with its provenance
//!   ([`FingerprintResult`]): kind ([`FingerprintKind`]), `custom-fingerprint` variant data
//!   ([`FingerprintResult::custom_variant`]), title override.
//! * [`resolve_fingerprint`] / [`resolve_variable`] resolve `{{ variables }}` (§12.3);
//!   [`expand_title_template`] does the same inside a `title=` template; [`event_title`] gives a
//!   simple event title.
//!
//! Events are `serde_json::Value`s, raw or normalised (see [`event`] for the normalisation
//! steps applied on the fly). The strategy variants (app/system/default component trees) are
//! the grouping algorithm's job, not this module's.

mod event;
mod glob;
mod parse;
mod resolve;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use event::{EventView, FrameView};
pub use glob::{glob_match, GlobOptions};
pub use resolve::*;

/// Errors loading fingerprinting rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintingError {
    /// The text format did not parse.
    #[error("fingerprinting rules, line {line}: {message}")]
    Syntax { line: usize, message: String },
    /// The JSON form is malformed.
    #[error("fingerprinting rules JSON: {0}")]
    Json(String),
}

/// A matcher key, canonicalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MatcherKey {
    /// Exception type (`type`, `error.type`).
    Type,
    /// Exception value (`value`, `error.value`).
    Value,
    /// Log message or any exception value.
    Message,
    Logger,
    Level,
    /// Event platform family (`native`, `javascript`, `other`; pattern may list several,
    /// comma-separated, or `all`).
    Family,
    /// Normalised SDK name.
    Sdk,
    Release,
    /// Frame module (`module`, `stack.module`).
    Module,
    /// Frame function (`function`, `stack.function`).
    Function,
    /// Frame abs_path, else filename (`path`, `stack.abs_path`).
    Path,
    /// Frame package (`package`, `stack.package`).
    Package,
    /// Frame in-app flag (`true`/`yes`/`1`, `false`/`no`/`0`).
    App,
    /// `tags.<name>`.
    Tag(String),
}

impl MatcherKey {
    /// Parse a key, resolving aliases. `None` for unknown keys.
    pub fn parse(key: &str) -> Option<MatcherKey> {
        Some(match key {
            "type" | "error.type" => MatcherKey::Type,
            "value" | "error.value" => MatcherKey::Value,
            "message" => MatcherKey::Message,
            "logger" => MatcherKey::Logger,
            "level" => MatcherKey::Level,
            "family" => MatcherKey::Family,
            "sdk" => MatcherKey::Sdk,
            "release" => MatcherKey::Release,
            "module" | "stack.module" => MatcherKey::Module,
            "function" | "stack.function" => MatcherKey::Function,
            "path" | "stack.abs_path" => MatcherKey::Path,
            "package" | "stack.package" => MatcherKey::Package,
            "app" => MatcherKey::App,
            _ => {
                let tag = key.strip_prefix("tags.")?;
                if tag.is_empty() {
                    return None;
                }
                MatcherKey::Tag(tag.to_owned())
            }
        })
    }

    /// The canonical key text.
    pub fn name(&self) -> String {
        match self {
            MatcherKey::Type => "type".to_owned(),
            MatcherKey::Value => "value".to_owned(),
            MatcherKey::Message => "message".to_owned(),
            MatcherKey::Logger => "logger".to_owned(),
            MatcherKey::Level => "level".to_owned(),
            MatcherKey::Family => "family".to_owned(),
            MatcherKey::Sdk => "sdk".to_owned(),
            MatcherKey::Release => "release".to_owned(),
            MatcherKey::Module => "module".to_owned(),
            MatcherKey::Function => "function".to_owned(),
            MatcherKey::Path => "path".to_owned(),
            MatcherKey::Package => "package".to_owned(),
            MatcherKey::App => "app".to_owned(),
            MatcherKey::Tag(t) => format!("tags.{t}"),
        }
    }

    /// Which event element the matcher looks at; all matchers of one group must hold on the
    /// same element.
    fn group(&self) -> Group {
        match self {
            MatcherKey::Type | MatcherKey::Value => Group::Exception,
            MatcherKey::Module | MatcherKey::Function | MatcherKey::Path | MatcherKey::Package | MatcherKey::App => Group::Frame,
            MatcherKey::Message => Group::Message,
            _ => Group::Event,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Exception,
    Frame,
    Message,
    Event,
}

/// One `[!]key:pattern` matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub key: MatcherKey,
    pub pattern: String,
    pub negated: bool,
}

impl Matcher {
    /// Sentry's text rendering: `[!]key:"pattern"` (pattern verbatim).
    pub fn text(&self) -> String {
        format!("{}{}:\"{}\"", if self.negated { "!" } else { "" }, self.key.name(), self.pattern)
    }

    /// Config form: `["[!]key", "pattern"]`.
    pub fn to_json(&self) -> Value {
        json!([format!("{}{}", if self.negated { "!" } else { "" }, self.key.name()), self.pattern])
    }

    fn matches_str(&self, value: Option<&str>, opts: GlobOptions, try_slash: bool) -> bool {
        let positive = value.is_some_and(|v| {
            glob_match(v, &self.pattern, opts) || (try_slash && !v.starts_with('/') && glob_match(&format!("/{v}"), &self.pattern, opts))
        });
        positive != self.negated
    }

    fn matches_frame(&self, frame: &FrameView) -> bool {
        match &self.key {
            MatcherKey::Module => self.matches_str(frame.module.as_deref(), GlobOptions::PLAIN, false),
            MatcherKey::Function => self.matches_str(frame.function.as_deref(), GlobOptions::PLAIN, false),
            MatcherKey::Path => self.matches_str(frame.path(), GlobOptions::PATH, true),
            MatcherKey::Package => self.matches_str(frame.package.as_deref(), GlobOptions::PATH, true),
            MatcherKey::App => {
                let expected = match self.pattern.to_ascii_lowercase().as_str() {
                    "1" | "yes" | "true" => Some(true),
                    "0" | "no" | "false" => Some(false),
                    _ => None,
                };
                (expected == Some(frame.in_app)) != self.negated
            }
            _ => false,
        }
    }

    fn matches_exception(&self, exc: &event::ExceptionView) -> bool {
        match &self.key {
            MatcherKey::Type => self.matches_str(exc.ty.as_deref(), GlobOptions::PLAIN, false),
            MatcherKey::Value => self.matches_str(exc.value.as_deref(), GlobOptions::PLAIN_NOCASE, false),
            _ => false,
        }
    }

    fn matches_event(&self, ev: &EventView) -> bool {
        match &self.key {
            MatcherKey::Level => self.matches_str(ev.level.as_deref(), GlobOptions::PLAIN_NOCASE, false),
            MatcherKey::Logger => self.matches_str(ev.logger.as_deref(), GlobOptions::PLAIN, false),
            MatcherKey::Sdk => self.matches_str(ev.sdk_name.as_deref(), GlobOptions::PLAIN, false),
            MatcherKey::Release => self.matches_str(ev.release.as_deref(), GlobOptions::PATH, true),
            MatcherKey::Tag(name) => self.matches_str(ev.tag(name), GlobOptions::PLAIN, false),
            MatcherKey::Family => {
                let family = ev.family();
                let positive = self.pattern.split(',').map(str::trim).any(|f| f == "all" || f == family);
                positive != self.negated
            }
            _ => false,
        }
    }
}

/// One rule: matchers, fingerprint entries (unresolved) and attributes (`title`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub matchers: Vec<Matcher>,
    pub fingerprint: Vec<String>,
    pub attributes: BTreeMap<String, String>,
}

impl Rule {
    /// Sentry's text rendering (the `matched_rule` string): matchers joined by spaces, then
    /// ` -> "` + the fingerprint entries concatenated without separator + `"`, then
    /// ` key="value"` per attribute.
    pub fn text(&self) -> String {
        let mut out = self.matchers.iter().map(Matcher::text).collect::<Vec<_>>().join(" ");
        out.push_str(" -> \"");
        out.push_str(&self.fingerprint.concat());
        out.push('"');
        for (k, v) in &self.attributes {
            out.push_str(&format!(" {k}=\"{v}\""));
        }
        out
    }

    /// Config form `{"matchers": [[key, pattern]], "fingerprint": [..], "attributes": {..}}`.
    pub fn to_json(&self) -> Value {
        json!({
            "matchers": self.matchers.iter().map(Matcher::to_json).collect::<Vec<_>>(),
            "fingerprint": self.fingerprint,
            "attributes": self.attributes,
        })
    }

    /// Read one rule in config form (extra keys such as `__test_description` are ignored).
    pub fn from_json(value: &Value) -> Result<Rule, FingerprintingError> {
        let err = |m: &str| FingerprintingError::Json(m.to_owned());
        let obj = value.as_object().ok_or_else(|| err("a rule must be an object"))?;
        let mut matchers = Vec::new();
        for m in obj
            .get("matchers")
            .and_then(Value::as_array)
            .ok_or_else(|| err("rule without a `matchers` list"))?
        {
            let pair = m
                .as_array()
                .filter(|p| p.len() == 2)
                .ok_or_else(|| err("a matcher must be a [key, pattern] pair"))?;
            let (raw_key, pattern) = match (pair[0].as_str(), pair[1].as_str()) {
                (Some(k), Some(p)) => (k, p),
                _ => return Err(err("matcher key and pattern must be strings")),
            };
            let (negated, key) = match raw_key.strip_prefix('!') {
                Some(k) => (true, k),
                None => (false, raw_key),
            };
            let key = MatcherKey::parse(key).ok_or_else(|| FingerprintingError::Json(format!("unknown matcher {key:?}")))?;
            matchers.push(Matcher {
                key,
                pattern: pattern.to_owned(),
                negated,
            });
        }
        let fingerprint = obj
            .get("fingerprint")
            .and_then(Value::as_array)
            .ok_or_else(|| err("rule without a `fingerprint` list"))?
            .iter()
            .map(|e| {
                e.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| err("fingerprint entries must be strings"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut attributes = BTreeMap::new();
        match obj.get("attributes") {
            None | Some(Value::Null) => {}
            Some(Value::Object(attrs)) => {
                for (k, v) in attrs {
                    let v = v.as_str().ok_or_else(|| err("attribute values must be strings"))?;
                    attributes.insert(k.clone(), v.to_owned());
                }
            }
            Some(_) => return Err(err("`attributes` must be an object")),
        }
        Ok(Rule {
            matchers,
            fingerprint,
            attributes,
        })
    }

    /// Does the rule match? Matchers are grouped by what they inspect; within each group one
    /// single element (exception, frame, message) must satisfy all of that group's matchers.
    fn matches(&self, ev: &EventView) -> bool {
        let of = |g: Group| self.matchers.iter().filter(move |m| m.key.group() == g);
        let has = |g: Group| of(g).next().is_some();
        if has(Group::Event) && !of(Group::Event).all(|m| m.matches_event(ev)) {
            return false;
        }
        if has(Group::Exception) && !ev.exceptions.iter().any(|e| of(Group::Exception).all(|m| m.matches_exception(e))) {
            return false;
        }
        if has(Group::Message) {
            let opts = GlobOptions::PLAIN_NOCASE;
            if !ev
                .messages()
                .iter()
                .any(|msg| of(Group::Message).all(|m| m.matches_str(Some(msg), opts, false)))
            {
                return false;
            }
        }
        if has(Group::Frame) && !ev.frames.iter().any(|f| of(Group::Frame).all(|m| m.matches_frame(f))) {
            return false;
        }
        true
    }
}

/// An ordered rule set (project rules or a built-in set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FingerprintingRules {
    pub rules: Vec<Rule>,
    /// Leading `##` lines of the text form.
    pub changelog: Vec<String>,
    /// Built-in rules (e.g. `javascript@2024-02-02`) name their variant
    /// `built-in-fingerprint` and set `is_builtin` on matches.
    pub builtin: bool,
}

impl FingerprintingRules {
    /// Parse the text format.
    pub fn from_text(text: &str) -> Result<FingerprintingRules, FingerprintingError> {
        let (rules, changelog) = parse::parse_rules(text)?;
        Ok(FingerprintingRules {
            rules,
            changelog,
            builtin: false,
        })
    }

    /// Read a bare rule list or a `{"rules": [..], "version": 1}` config.
    pub fn from_json(value: &Value) -> Result<FingerprintingRules, FingerprintingError> {
        let list = match value {
            Value::Array(list) => list,
            Value::Object(obj) => {
                match obj.get("version") {
                    None | Some(Value::Null) => {}
                    Some(v) if v.as_u64() == Some(1) => {}
                    Some(v) => return Err(FingerprintingError::Json(format!("unsupported version {v}"))),
                }
                obj.get("rules")
                    .and_then(Value::as_array)
                    .ok_or_else(|| FingerprintingError::Json("config without a `rules` list".to_owned()))?
            }
            _ => return Err(FingerprintingError::Json("expected a rule list or a config object".to_owned())),
        };
        let rules = list.iter().map(Rule::from_json).collect::<Result<_, _>>()?;
        Ok(FingerprintingRules {
            rules,
            changelog: Vec::new(),
            builtin: false,
        })
    }

    /// Mark the set as built-in.
    pub fn into_builtin(mut self) -> FingerprintingRules {
        self.builtin = true;
        self
    }

    /// Sentry's config form `{"rules": [..], "version": 1}`.
    pub fn to_config_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("rules".to_owned(), Value::Array(self.rules.iter().map(Rule::to_json).collect()));
        obj.insert("version".to_owned(), json!(1));
        Value::Object(obj)
    }

    /// Render back to the text format (one rule per line, [`Rule::text`] without the
    /// concatenation: entries are emitted quoted and comma-separated so the text re-parses).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for line in &self.changelog {
            out.push_str(&format!("## {line}\n"));
        }
        for rule in &self.rules {
            let matchers = rule
                .matchers
                .iter()
                .map(|m| format!("{}{}:{}", if m.negated { "!" } else { "" }, m.key.name(), quote(&m.pattern)));
            out.push_str(&matchers.collect::<Vec<_>>().join(" "));
            out.push_str(" -> ");
            out.push_str(&rule.fingerprint.iter().map(|e| quote(e)).collect::<Vec<_>>().join(", "));
            for (k, v) in &rule.attributes {
                out.push_str(&format!(" {k}={}", quote(v)));
            }
            out.push('\n');
        }
        out
    }

    /// First rule matching `event`.
    pub fn apply(&self, event: &Value) -> Option<RuleMatch> {
        self.apply_view(&EventView::new(event))
    }

    fn apply_view(&self, ev: &EventView) -> Option<RuleMatch> {
        let (index, rule) = self.rules.iter().enumerate().find(|(_, r)| r.matches(ev))?;
        Some(RuleMatch {
            rule_index: index,
            fingerprint: rule.fingerprint.clone(),
            matched_rule: rule.text(),
            attributes: rule.attributes.clone(),
            is_builtin: self.builtin,
        })
    }
}

/// Quote for the text format so that [`parse`] reads the exact string back: `"` and `\` that
/// would form a known escape are escaped; other backslashes stay.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => {
                let next = chars.get(i + 1).copied();
                let needs = match next {
                    None => true,
                    Some(n) => matches!(n, '\\' | '"' | '\'' | 'n' | 't' | 'r' | 'a' | 'b' | 'f' | 'v' | 'x' | 'u' | 'U'),
                };
                out.push_str(if needs { "\\\\" } else { "\\" });
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
