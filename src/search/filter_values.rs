//! A search filter's value read as what a test needs (texts, numbers, dates, patterns), with
//! Sentry's error messages naming the filter.

use dataflows::model::{GroupStatus, Micros, Substatus};

use super::text::Text;
use crate::search_syntax::{SearchError, SearchFilter, SearchValue};

pub(super) fn error(filter: &SearchFilter, message: String) -> SearchError {
    SearchError {
        message,
        position: Some(filter.position),
    }
}

pub(super) fn texts(filter: &SearchFilter) -> Result<Vec<String>, SearchError> {
    match &filter.value {
        SearchValue::Text(t) => Ok(vec![t.clone()]),
        SearchValue::TextList(items) => Ok(items.clone()),
        // A key of Sentry's with a typed value (a number, duration, boolean) that Occurrent
        // does not keep: the key is what is unsupported, not the value.
        _ => Err(error(filter, format!("Invalid search query: unsupported key \"{}\"", filter.key))),
    }
}

pub(super) fn ints(filter: &SearchFilter) -> Result<Vec<i64>, SearchError> {
    match &filter.value {
        SearchValue::Int(i) => Ok(vec![*i]),
        _ => Err(error(filter, format!("Invalid value for \"{}\"", filter.key))),
    }
}

pub(super) fn boolean(filter: &SearchFilter) -> Result<bool, SearchError> {
    match &filter.value {
        SearchValue::Boolean(b) => Ok(*b),
        _ => Err(error(filter, format!("Invalid value for \"{}\"", filter.key))),
    }
}

/// Each text value through `convert`, or an error naming the value.
pub(super) fn each<T>(filter: &SearchFilter, convert: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, SearchError> {
    texts(filter)?
        .iter()
        .map(|v| convert(v).ok_or_else(|| error(filter, format!("Invalid value '{v}' for \"{}\"", filter.key))))
        .collect()
}

pub(super) fn patterns(filter: &SearchFilter) -> Result<Vec<Text>, SearchError> {
    let values = texts(filter)?;
    if filter.value.is_wildcard() {
        Ok(values.iter().map(|v| Text::new(v)).collect())
    } else {
        Ok(values.into_iter().map(|v| Text::Exact(v.replace("\\*", "*"))).collect())
    }
}

pub(super) fn date(filter: &SearchFilter) -> Result<Micros, SearchError> {
    match filter.value {
        SearchValue::DateTime(t) => Ok(t),
        _ => Err(error(filter, format!("Invalid date for \"{}\"", filter.key))),
    }
}

/// Status implied by a substatus (`GROUP_SUBSTATUS_TO_STATUS_MAP`).
pub(super) fn status_of_substatus(substatus: i64) -> i64 {
    match Substatus::from_number(substatus) {
        Some(Substatus::UntilEscalating | Substatus::UntilConditionMet | Substatus::Forever) => GroupStatus::Ignored as i64,
        _ => GroupStatus::Unresolved as i64,
    }
}
