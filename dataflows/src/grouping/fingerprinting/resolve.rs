//! What applying the rules gives: the matching rule, the fingerprint's kind, `{{ variable }}`
//! resolution, titles and the `custom-fingerprint` variant (grouping.md §12.2–§12.3).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::event::EventView;
use super::{parse, FingerprintingRules};

/// The first matching rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMatch {
    /// Index of the rule within its set.
    pub rule_index: usize,
    /// The rule's fingerprint, unresolved.
    pub fingerprint: Vec<String>,
    /// [`Rule::text`] of the rule.
    pub matched_rule: String,
    pub attributes: BTreeMap<String, String>,
    pub is_builtin: bool,
}

/// How a fingerprint combines with the strategy variants (grouping.md §12.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FingerprintKind {
    /// Exactly `["{{ default }}"]`: strategy variants unchanged.
    Default,
    /// No `{{ default }}`: strategy variants are switched off, a `custom-fingerprint` variant
    /// is added.
    Custom,
    /// Mixed: every contributing strategy variant becomes a `salted-component` variant.
    Hybrid,
}

/// The variable name if `entry` is entirely `{{ name }}` (whitespace allowed inside).
pub fn parse_variable(entry: &str) -> Option<&str> {
    let inner = entry.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    (!inner.is_empty() && !inner.contains(char::is_whitespace)).then_some(inner)
}

fn is_default_entry(entry: &str) -> bool {
    parse_variable(entry) == Some("default")
}

/// Classify a fingerprint.
pub fn fingerprint_kind(fingerprint: &[String]) -> FingerprintKind {
    let defaults = fingerprint.iter().filter(|e| is_default_entry(e)).count();
    match (defaults, fingerprint.len()) {
        (1, 1) => FingerprintKind::Default,
        (0, _) => FingerprintKind::Custom,
        _ => FingerprintKind::Hybrid,
    }
}

/// The event's own fingerprint: strings kept, numbers stringified, booleans `True`/`False`,
/// other entries dropped; missing or empty → `None`.
pub fn client_fingerprint(event: &Value) -> Option<Vec<String>> {
    let list = event.get("fingerprint")?.as_array()?;
    let fp: Vec<String> = list
        .iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
            _ => None,
        })
        .collect();
    (!fp.is_empty()).then_some(fp)
}

/// Resolve one variable name (`transaction`, `message`, `type`, `tags.X`, ...; §12.3) against
/// an event. `None` for `default` and unknown names (which stay literal).
pub fn resolve_variable(name: &str, event: &Value) -> Option<String> {
    EventView::new(event).resolve_variable(name)
}

/// Resolve every `{{ variable }}` entry; `{{ default }}`, unknown variables and literals are
/// kept as written.
pub fn resolve_fingerprint(fingerprint: &[String], event: &Value) -> Vec<String> {
    resolve_with(fingerprint, &EventView::new(event))
}

fn resolve_with(fingerprint: &[String], ev: &EventView) -> Vec<String> {
    fingerprint
        .iter()
        .map(|entry| match parse_variable(entry) {
            Some(name) => ev.resolve_variable(name).unwrap_or_else(|| entry.clone()),
            None => entry.clone(),
        })
        .collect()
}

/// Replace every `{{ variable }}` occurrence inside a title template; unresolvable ones stay.
pub fn expand_title_template(template: &str, event: &Value) -> String {
    expand_with(template, &EventView::new(event))
}

fn expand_with(template: &str, ev: &EventView) -> String {
    let chars: Vec<char> = template.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if let Some(end) = parse::variable_end(&chars, i) {
            let whole: String = chars[i..end].iter().collect();
            let name = parse_variable(&whole).unwrap_or("");
            match ev.resolve_variable(name) {
                Some(v) => out.push_str(&v),
                None => out.push_str(&whole),
            }
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// A simple event title: `Type: first line of value` (last exception, value truncated to 100
/// characters) for errors, the first line of the log message otherwise, `<unlabeled event>`
/// without either. Security reports and exception groups are not handled.
pub fn event_title(event: &Value) -> String {
    EventView::new(event).title()
}

/// Outcome of server-side fingerprinting for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintResult {
    /// The event fingerprint after rule application, unresolved: the matched rule's, else the
    /// event's own, else `["{{ default }}"]`.
    pub fingerprint: Vec<String>,
    /// The matched rule, if any.
    pub matched: Option<RuleMatch>,
    /// The event's own fingerprint when a rule replaced it and it was not the default one.
    pub client_values: Option<Vec<String>>,
    /// Resolved fingerprint values ([`resolve_fingerprint`]).
    pub resolved: Vec<String>,
    /// Title set by the rule's `title=` attribute, templates expanded.
    pub title: Option<String>,
}

/// Data of the `custom-fingerprint` (or `built-in-fingerprint`) variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomFingerprintVariant {
    /// Resolved values; their concatenation is hashed.
    pub values: Vec<String>,
    pub matched_rule: Option<String>,
    pub client_values: Option<Vec<String>>,
    pub is_builtin: bool,
}

impl CustomFingerprintVariant {
    /// `custom-fingerprint`, or `built-in-fingerprint` for a built-in rule.
    pub fn name(&self) -> &'static str {
        if self.is_builtin {
            "built-in-fingerprint"
        } else {
            "custom-fingerprint"
        }
    }

    /// Sentry's variant dict shape (`type`, `values`, `matched_rule`?, `client_values`?).
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("type".to_owned(), json!(self.name()));
        obj.insert("values".to_owned(), json!(self.values));
        if let Some(rule) = &self.matched_rule {
            obj.insert("matched_rule".to_owned(), json!(rule));
        }
        if let Some(client) = &self.client_values {
            obj.insert("client_values".to_owned(), json!(client));
        }
        Value::Object(obj)
    }
}

impl FingerprintResult {
    /// Kind of [`Self::fingerprint`].
    pub fn kind(&self) -> FingerprintKind {
        fingerprint_kind(&self.fingerprint)
    }

    /// The `custom-fingerprint` variant, present iff the kind is [`FingerprintKind::Custom`].
    pub fn custom_variant(&self) -> Option<CustomFingerprintVariant> {
        (self.kind() == FingerprintKind::Custom).then(|| CustomFingerprintVariant {
            values: self.resolved.clone(),
            matched_rule: self.matched.as_ref().map(|m| m.matched_rule.clone()),
            client_values: self.client_values.clone(),
            is_builtin: self.matched.as_ref().is_some_and(|m| m.is_builtin),
        })
    }
}

/// Apply project rules, then built-in rules (first match wins), to `event`.
pub fn apply_fingerprinting(event: &Value, project: &FingerprintingRules, builtin: Option<&FingerprintingRules>) -> FingerprintResult {
    let ev = EventView::new(event);
    let client = client_fingerprint(event);
    let matched = project.apply_view(&ev).or_else(|| builtin.and_then(|b| b.apply_view(&ev)));
    let (fingerprint, client_values) = match &matched {
        Some(m) => (
            m.fingerprint.clone(),
            client.filter(|c| fingerprint_kind(c) != FingerprintKind::Default),
        ),
        None => (client.unwrap_or_else(|| vec!["{{ default }}".to_owned()]), None),
    };
    let resolved = resolve_with(&fingerprint, &ev);
    let title = matched
        .as_ref()
        .and_then(|m| m.attributes.get("title"))
        .map(|t| expand_with(t, &ev));
    FingerprintResult {
        fingerprint,
        matched,
        client_values,
        resolved,
        title,
    }
}
