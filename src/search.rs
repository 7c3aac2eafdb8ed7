//! A first cut of issue search: `key:value`, `key:[a, b]`, `!key:value` and free text over
//! the keys the core views support. The complete Sentry grammar is a later issue.

use dataflows::model::grouptype::group_type;
use dataflows::model::{GroupStatus, Level, Priority, Substatus};
use dataflows::state::GroupRow;

pub const DEFAULT_QUERY: &str = "is:unresolved issue.priority:[high, medium]";

#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    Filter { key: String, values: Vec<String>, negated: bool },
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchError(pub String);

/// Splits on whitespace outside quotes and brackets.
fn tokens(query: &str) -> Result<Vec<(usize, String)>, SearchError> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    let (mut quoted, mut bracket) = (false, false);
    for (i, c) in query.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '[' if !quoted => bracket = true,
            ']' if !quoted => bracket = false,
            c if c.is_whitespace() && !quoted && !bracket => {
                if !current.is_empty() {
                    out.push((start, std::mem::take(&mut current)));
                }
                continue;
            }
            _ => {}
        }
        if current.is_empty() {
            start = i;
        }
        current.push(c);
    }
    if quoted {
        return Err(SearchError(format!("Unterminated quote at position {start}")));
    }
    if bracket {
        return Err(SearchError(format!("Unterminated list at position {start}")));
    }
    if !current.is_empty() {
        out.push((start, current));
    }
    Ok(out)
}

fn unquote(value: &str) -> String {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
        .to_string()
}

const KEYS: &[&str] = &["is", "issue.priority", "issue.category", "issue.type", "level"];

pub fn parse(query: &str) -> Result<Vec<Term>, SearchError> {
    let mut terms = Vec::new();
    for (position, token) in tokens(query)? {
        let Some((key, value)) = token.split_once(':').filter(|(k, _)| !k.is_empty() && !k.starts_with('"')) else {
            terms.push(Term::Text(unquote(&token)));
            continue;
        };
        let (negated, key) = match key.strip_prefix('!') {
            Some(k) => (true, k),
            None => (false, key),
        };
        if !KEYS.contains(&key) {
            return Err(SearchError(format!(
                "Invalid search query: unsupported key {key:?} at position {position}"
            )));
        }
        let values: Vec<String> = match value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
            Some(list) => list.split(',').map(|v| unquote(v.trim())).filter(|v| !v.is_empty()).collect(),
            None => vec![unquote(value)],
        };
        if values.is_empty() || values.iter().any(String::is_empty) {
            return Err(SearchError(format!("Empty value for {key:?} at position {position}")));
        }
        for v in &values {
            validate(key, v).map_err(|e| SearchError(format!("{e} at position {position}")))?;
        }
        terms.push(Term::Filter {
            key: key.to_string(),
            values,
            negated,
        });
    }
    Ok(terms)
}

fn validate(key: &str, value: &str) -> Result<(), String> {
    let ok = match key {
        "is" => is_matcher(value).is_some(),
        "issue.priority" => Priority::from_api_name(value).is_some(),
        "issue.category" => dataflows::model::grouptype::Category::from_api_name(value).is_some(),
        "issue.type" => dataflows::model::grouptype::group_type_by_slug(value).is_some(),
        "level" => Level::parse(Some(value)) != Level::Unknown,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("Invalid value {value:?} for {key:?}"))
    }
}

enum IsMatcher {
    Status(GroupStatus),
    Substatus(Substatus),
}

fn is_matcher(value: &str) -> Option<IsMatcher> {
    Some(match value {
        "unresolved" => IsMatcher::Status(GroupStatus::Unresolved),
        "resolved" => IsMatcher::Status(GroupStatus::Resolved),
        "ignored" | "archived" | "muted" => IsMatcher::Status(GroupStatus::Ignored),
        "reprocessing" => IsMatcher::Status(GroupStatus::Reprocessing),
        other => IsMatcher::Substatus(Substatus::from_api_name(other).or(match other {
            "escalating" => Some(Substatus::Escalating),
            _ => None,
        })?),
    })
}

/// True if any of the key's terms' values match (lists are ORs; terms are ANDed).
fn matches_value(row: &GroupRow, key: &str, value: &str) -> bool {
    match key {
        "is" => match is_matcher(value) {
            Some(IsMatcher::Status(s)) => row.status == s,
            Some(IsMatcher::Substatus(s)) => row.substatus == Some(s),
            None => false,
        },
        "issue.priority" => Priority::from_api_name(value) == Some(row.priority),
        "issue.category" => group_type(row.type_id).is_some_and(|t| t.category.api_name() == value),
        "issue.type" => group_type(row.type_id).is_some_and(|t| t.slug == value),
        "level" => row.level.api_name() == value,
        _ => false,
    }
}

/// Case-insensitive substring test; no allocation for ASCII text, which titles mostly are.
fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if haystack.is_ascii() && needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle.as_bytes());
        return h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

pub fn matches(terms: &[Term], row: &GroupRow) -> bool {
    let filters_type = terms
        .iter()
        .any(|t| matches!(t, Term::Filter { key, .. } if key == "issue.category" || key == "issue.type"));
    if !filters_type && group_type(row.type_id).is_some_and(|t| !t.in_default_search) {
        return false;
    }
    terms.iter().all(|term| match term {
        Term::Filter { key, values, negated } => values.iter().any(|v| matches_value(row, key, v)) != *negated,
        Term::Text(text) => {
            contains_ignoring_case(&row.title, text)
                || contains_ignoring_case(&row.culprit, text)
                || contains_ignoring_case(&row.subtitle, text)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_default_query() {
        let terms = parse(DEFAULT_QUERY).unwrap();
        assert_eq!(terms.len(), 2);
        assert!(parse("bogus:1").is_err());
        assert!(parse("is:nonsense").is_err());
        assert_eq!(parse("\"a b\" c").unwrap(), vec![Term::Text("a b".into()), Term::Text("c".into())]);
    }
}
