//! Templates (grouping.md §11): the template file and the offending line.

use serde_json::Value;

use super::Variants;
use crate::grouping::components::Component;

pub fn template(event: &Value) -> Option<Variants> {
    let t = event.get("template").filter(|t| t.is_object())?;
    let text = |k: &str| t.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let mut c = Component::new("template");
    if let Some(f) = text("filename") {
        c.push_child(Component::leaf("filename", f));
    }
    if let Some(l) = text("context_line") {
        c.push_child(Component::leaf("context-line", l));
    }
    Some(vec![("default".to_owned(), c)])
}
