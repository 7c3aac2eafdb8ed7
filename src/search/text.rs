//! Text values of issue search: exact strings and `*` patterns, free text over a group's
//! title, culprit and subtitle, and symbol sets (releases, environments) matched by name.

use dataflows::model::{symbol_of, Symbol};
use dataflows::state::GroupRow;
use dataflows::views::IssueViews;

/// A text value: exact, or a pattern with unescaped `*` wildcards.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Text {
    Exact(String),
    /// The pattern split at its wildcards (unescaped), so `a*b` is `["a", "b"]`.
    Glob(Vec<String>),
}

impl Text {
    pub(super) fn new(value: &str) -> Text {
        let mut parts = vec![String::new()];
        let mut wildcard = false;
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            let last = parts.len() - 1;
            match c {
                '\\' => match chars.next() {
                    Some('*') => parts[last].push('*'),
                    Some(other) => {
                        parts[last].push('\\');
                        parts[last].push(other);
                    }
                    None => parts[last].push('\\'),
                },
                '*' => {
                    wildcard = true;
                    parts.push(String::new());
                }
                c => parts[last].push(c),
            }
        }
        if wildcard {
            Text::Glob(parts)
        } else {
            Text::Exact(parts.remove(0))
        }
    }

    /// For free text: lowercase, and a pattern may match anywhere (`a*b` → `*a*b*`).
    pub(super) fn unanchored_lowercase(self) -> Text {
        match self {
            Text::Exact(s) => Text::Exact(s.to_lowercase()),
            Text::Glob(parts) => {
                let inner = parts.into_iter().map(|p| p.to_lowercase());
                Text::Glob(std::iter::once(String::new()).chain(inner).chain([String::new()]).collect())
            }
        }
    }

    /// A string every text this value matches contains (free text: it is lowercase), if
    /// there is a non-empty one: the value itself, or a pattern's longest part.
    pub(super) fn needle(&self) -> Option<&str> {
        let longest = match self {
            Text::Exact(s) => s.as_str(),
            Text::Glob(parts) => parts.iter().max_by_key(|p| p.len()).map_or("", String::as_str),
        };
        (!longest.is_empty()).then_some(longest)
    }

    pub(super) fn matches(&self, text: &str) -> bool {
        match self {
            Text::Exact(s) => s == text,
            Text::Glob(parts) => glob(parts, text),
        }
    }
}

/// Anchored match of `parts` joined by `*` wildcards.
fn glob(parts: &[String], text: &str) -> bool {
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return true;
    };
    if parts.len() == 1 {
        return first == text;
    }
    let Some(mut rest) = text.strip_prefix(first.as_str()) else {
        return false;
    };
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle.as_str()) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last.as_str())
}

/// Matches any of a symbol set by name: `""` tests emptiness (`has:`), exact names compare
/// symbols, wildcards compare names.
pub(super) fn any_symbol(views: &IssueViews, set: &[Symbol], values: &[Text]) -> bool {
    values.iter().any(|value| match value {
        Text::Exact(s) if s.is_empty() => set.is_empty(),
        Text::Exact(s) => set.contains(&symbol_of(s)),
        glob => set.iter().any(|sym| views.symbol_name(*sym).is_some_and(|name| glob.matches(name))),
    })
}

/// Case-insensitive substring test; no allocation for ASCII text, which titles mostly are.
/// `needle` is lowercase.
fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if haystack.is_ascii() && needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle.as_bytes());
        return h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    haystack.to_lowercase().contains(needle)
}

pub(super) fn message_matches(row: &GroupRow, value: &Text) -> bool {
    let fields = [row.texts.title(), row.texts.culprit(), row.texts.subtitle()];
    match value {
        Text::Exact(s) => fields.iter().any(|f| contains_ignoring_case(f, s)),
        glob => fields.iter().any(|f| glob.matches(&f.to_lowercase())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_escapes() {
        assert!(Text::new("1.*").matches("1.0.2"));
        assert!(!Text::new("1.*").matches("2.1"));
        assert!(Text::new("*prod*").matches("preproduction"));
        assert!(Text::new("a\\*").matches("a*"));
        assert!(!Text::new("a\\*").matches("ab"));
        assert!(Text::new("a*b*c").matches("abc"));
        assert!(!Text::new("ab*ba").matches("aba"));
        assert!(contains_ignoring_case("Hello World", "o w"));
    }
}
