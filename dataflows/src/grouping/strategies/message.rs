//! Messages (grouping.md §10): the log template, else the formatted message, normalised.

use serde_json::Value;

use super::Variants;
use crate::grouping::components::Component;
use crate::grouping::parameterize::normalize_message;

pub fn message(event: &Value) -> Option<Variants> {
    let logentry = event.get("logentry")?;
    let text = |k: &str| logentry.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let raw = text("message").or_else(|| text("formatted"))?;
    let normalized = normalize_message(raw);
    let mut c = Component::leaf("message", normalized.clone());
    if normalized != raw {
        c.hint = Some("stripped event-specific values".to_owned());
    }
    Some(vec![("default".to_owned(), c)])
}
