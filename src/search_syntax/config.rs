//! Search configurations: which keys are typed, key renames and `is:` translations
//! (search-syntax.md §3–§5, §7).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::SearchValue;

/// How a key's values are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// Plain text; comparison operators are folded into the value.
    Text,
    /// Text that keeps comparison operators (`release.version:>=1.2.3`).
    TextOperator,
    Numeric,
    /// Milliseconds.
    Duration,
    /// Bytes.
    Size,
    Date,
    Boolean,
    /// Aggregate results expressed as fractions (`5%` → 0.05).
    Percentage,
}

#[derive(Debug, Clone)]
pub struct SearchConfig {
    /// Keep `AND`/`OR` and paren groups; when false they are an error (groups become free text).
    pub allow_boolean: bool,
    /// Accept `KEY://PATTERN//` as a regex value; otherwise it is literal text.
    pub allow_regex: bool,
    /// Wrap free text as `*text*`.
    pub wildcard_free_text: bool,
    pub free_text_key: String,
    /// Query key → internal key, applied before typing.
    pub key_mappings: HashMap<String, String>,
    pub numeric_keys: HashSet<String>,
    pub date_keys: HashSet<String>,
    pub boolean_keys: HashSet<String>,
    pub duration_keys: HashSet<String>,
    pub size_keys: HashSet<String>,
    pub text_operator_keys: HashSet<String>,
    /// `is:` value → (key, value). Empty: `is:` is not supported.
    pub is_filter_translation: BTreeMap<String, (String, SearchValue)>,
    /// When non-empty, only these keys may be filtered on.
    pub allowed_keys: HashSet<String>,
    pub blocked_keys: HashSet<String>,
    /// Type `measurements.*` (duration or numeric) and `spans.*` (duration) dynamically, as
    /// Sentry's field catalogue does.
    pub dynamic_field_types: bool,
}

fn set(keys: &[&str]) -> HashSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

/// Measurements whose unit is a duration (others are plain numbers).
const DURATION_MEASUREMENTS: &[&str] = &[
    "fp",
    "fcp",
    "lcp",
    "fid",
    "inp",
    "ttfb",
    "ttfb.requesttime",
    "app_start_cold",
    "app_start_warm",
    "time_to_full_display",
    "time_to_initial_display",
];

/// Aggregate functions whose result has the type of their first argument.
const TYPE_PRESERVING_FUNCTIONS: &[&str] = &[
    "avg",
    "min",
    "max",
    "sum",
    "median",
    "percentile",
    "quantile",
    "p50",
    "p75",
    "p90",
    "p95",
    "p99",
    "p100",
];

const PERCENTAGE_FUNCTIONS: &[&str] = &["percentage", "failure_rate", "crash_free_rate"];

impl SearchConfig {
    /// Sentry's event-search `default_config` (search-syntax.md §4).
    pub fn default_config() -> SearchConfig {
        SearchConfig {
            allow_boolean: true,
            allow_regex: false,
            wildcard_free_text: false,
            free_text_key: "message".to_string(),
            key_mappings: HashMap::new(),
            numeric_keys: set(&[
                "project_id",
                "project.id",
                "issue.id",
                "stack.colno",
                "stack.lineno",
                "stack.stack_level",
                "transaction.duration",
            ]),
            date_keys: set(&[
                "start",
                "end",
                "last_seen()",
                "time",
                "timestamp",
                "timestamp.to_hour",
                "timestamp.to_day",
                "error.received",
            ]),
            boolean_keys: set(&[
                "error.handled",
                "error.unhandled",
                "error.main_thread",
                "stack.in_app",
                "is_application",
                "symbolicated_in_app",
                "team_key_transaction",
            ]),
            duration_keys: set(&["transaction.duration"]),
            size_keys: HashSet::new(),
            text_operator_keys: set(&["release.version", "release.build"]),
            is_filter_translation: BTreeMap::new(),
            allowed_keys: HashSet::new(),
            blocked_keys: HashSet::new(),
            dynamic_field_types: true,
        }
    }

    /// Sentry's `issue_search_config` (search-syntax.md §5, §7).
    pub fn issue_config() -> SearchConfig {
        let mut c = SearchConfig::default_config();
        c.allow_boolean = false;
        c.numeric_keys.insert("times_seen".to_string());
        for k in ["date", "first_seen", "last_seen", "issue.seer_last_run"] {
            c.date_keys.insert(k.to_string());
        }
        let mappings: &[(&str, &str)] = &[
            ("assigned", "assigned_to"),
            ("bookmarks", "bookmarked_by"),
            ("subscribed", "subscribed_by"),
            ("assigned_or_suggested", "assigned_or_suggested"),
            ("first-release", "first_release"),
            ("firstRelease", "first_release"),
            ("age", "first_seen"),
            ("firstSeen", "first_seen"),
            ("lastSeen", "last_seen"),
            ("event.timestamp", "date"),
            ("timesSeen", "times_seen"),
            ("dist", "sentry:dist"),
            ("team", "team"),
        ];
        c.key_mappings = mappings.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        let status = |v: i64| ("status".to_string(), SearchValue::Int(v));
        let substatus = |v: i64| ("substatus".to_string(), SearchValue::Int(v));
        let flag = |k: &str, v: bool| (k.to_string(), SearchValue::Boolean(v));
        let is: Vec<(&str, (String, SearchValue))> = vec![
            ("unresolved", status(0)),
            ("resolved", status(1)),
            ("ignored", status(2)),
            ("archived", status(2)),
            ("muted", status(2)),
            ("reprocessing", status(6)),
            ("archived_until_escalating", substatus(1)),
            ("escalating", substatus(2)),
            ("ongoing", substatus(3)),
            ("archived_until_condition_met", substatus(4)),
            ("archived_forever", substatus(5)),
            ("regressed", substatus(6)),
            ("new", substatus(7)),
            ("assigned", flag("unassigned", false)),
            ("unassigned", flag("unassigned", true)),
            ("for_review", flag("for_review", true)),
            ("linked", flag("linked", true)),
            ("unlinked", flag("linked", false)),
        ];
        c.is_filter_translation = is.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        c
    }

    /// The key after renaming.
    pub fn map_key(&self, key: &str) -> String {
        self.key_mappings.get(key).cloned().unwrap_or_else(|| key.to_string())
    }

    /// The type of a (renamed, non-aggregate) key.
    pub fn key_type(&self, key: &str) -> KeyType {
        if self.date_keys.contains(key) {
            KeyType::Date
        } else if self.duration_keys.contains(key) {
            KeyType::Duration
        } else if self.size_keys.contains(key) {
            KeyType::Size
        } else if self.numeric_keys.contains(key) {
            KeyType::Numeric
        } else if self.boolean_keys.contains(key) {
            KeyType::Boolean
        } else if self.text_operator_keys.contains(key) {
            KeyType::TextOperator
        } else if self.dynamic_field_types {
            if let Some(m) = key.strip_prefix("measurements.").filter(|m| !m.is_empty()) {
                if DURATION_MEASUREMENTS.contains(&m) {
                    KeyType::Duration
                } else {
                    KeyType::Numeric
                }
            } else if key.strip_prefix("spans.").is_some_and(|s| !s.is_empty()) {
                KeyType::Duration
            } else {
                KeyType::Text
            }
        } else {
            KeyType::Text
        }
    }

    /// The result type of a normalised aggregate key `name(a, b)`.
    pub fn aggregate_type(&self, key: &str) -> KeyType {
        if self.date_keys.contains(key) {
            return KeyType::Date;
        }
        let (name, args) = match key.split_once('(') {
            Some((n, rest)) => (n, rest.strip_suffix(')').unwrap_or(rest)),
            None => (key, ""),
        };
        if PERCENTAGE_FUNCTIONS.contains(&name) {
            return KeyType::Percentage;
        }
        if name == "last_seen" || name == "first_seen" {
            return KeyType::Date;
        }
        if TYPE_PRESERVING_FUNCTIONS.contains(&name) {
            let first = args.split(", ").next().unwrap_or("").trim();
            return match self.key_type(first) {
                KeyType::Duration => KeyType::Duration,
                KeyType::Size => KeyType::Size,
                KeyType::Date => KeyType::Date,
                _ => KeyType::Numeric,
            };
        }
        KeyType::Numeric
    }

    /// Enforces `allowed_keys` / `blocked_keys`.
    pub fn check_key(&self, key: &str) -> Result<(), String> {
        if (!self.allowed_keys.is_empty() && !self.allowed_keys.contains(key)) || self.blocked_keys.contains(key) {
            Err(format!("Invalid key for this search: {key}"))
        } else {
            Ok(())
        }
    }
}
