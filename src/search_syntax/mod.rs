//! Sentry-compatible search-query parser (the `query=` language of the issues list and of
//! Sentry's event searches), implemented from `shared/reference/search-syntax.md`.
//!
//! Pipeline: [`syntax`] turns the query into raw terms ([`raw`]) (a packrat-style recursive descent that
//! mirrors the grammar's ordered alternatives and backtracking), then [`visit`] applies the
//! key types of a [`SearchConfig`] and produces typed [`SearchFilter`]s. Value shapes and
//! conversions (numbers, durations, sizes, dates) live in [`values`].
//!
//! The parser never panics: all scanning is byte-based on ASCII delimiters, slices are taken
//! only at ASCII positions (so always on char boundaries) and nesting depth is bounded.
//!
//! The issues list uses it through [`crate::search`]; the default config, regex values and
//! boolean structure are kept for Sentry's other searches and the conformance suite.

mod config;
mod raw;
mod syntax;
mod values;
mod visit;

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

pub use config::SearchConfig;

/// Comparison operator of a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Eq,
    Ne,
    Gt,
    Lt,
    Gte,
    Lte,
    In,
    NotIn,
}

impl Operator {
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Gt => ">",
            Operator::Lt => "<",
            Operator::Gte => ">=",
            Operator::Lte => "<=",
            Operator::In => "IN",
            Operator::NotIn => "NOT IN",
        }
    }

    /// The operator that selects exactly the complement (`!k:>5` is `k <= 5`).
    pub fn negate(self) -> Operator {
        match self {
            Operator::Eq => Operator::Ne,
            Operator::Ne => Operator::Eq,
            Operator::Gt => Operator::Lte,
            Operator::Lt => Operator::Gte,
            Operator::Gte => Operator::Lt,
            Operator::Lte => Operator::Gt,
            Operator::In => Operator::NotIn,
            Operator::NotIn => Operator::In,
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed filter value.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchValue {
    /// Text; an unescaped `*` is a wildcard (see [`SearchValue::is_wildcard`]), `\*` a literal star.
    Text(String),
    TextList(Vec<String>),
    /// Numbers are floats; durations are in milliseconds, sizes in bytes, percentages fractions.
    Number(f64),
    NumberList(Vec<f64>),
    /// Boolean keys (`true`/`1` → true) and boolean `is:` translations.
    Boolean(bool),
    /// Integer `is:` translations (`status = 0`).
    Int(i64),
    /// An absolute UTC instant in microseconds since the Unix epoch (relative dates resolved).
    DateTime(i64),
    /// A regex pattern (`KEY://PATTERN//` with `allow_regex`).
    Regex(String),
}

impl SearchValue {
    /// True for text values (or list items) containing an unescaped `*`.
    pub fn is_wildcard(&self) -> bool {
        match self {
            SearchValue::Text(s) => values::has_unescaped_wildcard(s),
            SearchValue::TextList(items) => items.iter().any(|s| values::has_unescaped_wildcard(s)),
            _ => false,
        }
    }
}

/// One `key operator value` condition. `aggregate` marks aggregate filters (`count():>10`);
/// `position` is the byte offset in the query of the term that produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchFilter {
    pub key: String,
    pub operator: Operator,
    pub value: SearchValue,
    pub aggregate: bool,
    pub position: usize,
}

/// Parser output when the config allows boolean operators: filters, `AND`/`OR` and groups,
/// in query order (precedence is resolved by the consumer).
#[derive(Debug, Clone, PartialEq)]
pub enum QueryItem {
    Filter(SearchFilter),
    And,
    Or,
    Group(Vec<QueryItem>),
}

/// A rejected query. `message` names the problem; `position` is a byte offset into the query
/// where one applies. The API returns it as 400 `{"detail": ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchError {
    pub message: String,
    pub position: Option<usize>,
}

impl SearchError {
    pub(crate) fn new(message: impl Into<String>, position: Option<usize>) -> Self {
        SearchError {
            message: message.into(),
            position,
        }
    }
}

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{} (at position {p})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for SearchError {}

/// Microseconds since the Unix epoch (negative before it), saturating.
pub fn system_time_micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_micros()).map(|v| -v).unwrap_or(i64::MIN),
    }
}

/// Parses `query` into items, keeping `AND`/`OR` and paren groups when the config allows
/// booleans. Relative dates are resolved against `now`.
pub fn parse_search_query_items(query: &str, config: &SearchConfig, now: SystemTime) -> Result<Vec<QueryItem>, SearchError> {
    let terms = syntax::parse_terms(query)?;
    visit::visit_terms(terms, config, system_time_micros(now))
}

/// Parses `query` into an ordered, implicitly ANDed list of filters. Free text becomes a
/// filter on the config's free-text key (`message`). Fails on syntax and type errors, and on
/// boolean operators or groups (which only configs with `allow_boolean` produce; use
/// [`parse_search_query_items`] for those).
pub fn parse_search_query(query: &str, config: &SearchConfig, now: SystemTime) -> Result<Vec<SearchFilter>, SearchError> {
    let items = parse_search_query_items(query, config, now)?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            QueryItem::Filter(f) => out.push(f),
            QueryItem::And | QueryItem::Or | QueryItem::Group(_) => {
                return Err(SearchError::new(
                    "Boolean statements containing \"OR\" or \"AND\" and parenthesised groups are not supported in this search",
                    None,
                ))
            }
        }
    }
    Ok(out)
}
