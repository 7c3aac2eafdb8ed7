//! Title, culprit and metadata of error events.

use serde_json::Value;

/// Derived display data of an error event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMetadata {
    pub title: String,
    pub culprit: Option<String>,
    pub metadata: Value,
}

pub fn error_metadata(_event: &Value) -> ErrorMetadata {
    ErrorMetadata {
        title: String::new(),
        culprit: None,
        metadata: Value::Null,
    }
}
