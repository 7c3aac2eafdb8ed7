//! Custom tag search (search-syntax.md §6: "Any other key is a custom tag"): which keys read
//! an occurrence's tags, and whether a tag set satisfies a condition on one.
//!
//! Sentry evaluates tag conditions on events: `KEY:VALUE` holds for an occurrence whose tag
//! `KEY` has that value, `!KEY:VALUE` for one whose tag differs or is missing (a missing
//! tag reads as `""`), `has:KEY` (`KEY != ""`) for one that has the tag. A group matches
//! when one of its occurrences in the window satisfies every event-level condition of the
//! query together, which the facets of `dataflows::facets` decide (a facet's tag set is
//! part of it).

use dataflows::model::tags::{tag_set_pairs, tag_values};
use dataflows::model::Symbol;
use dataflows::views::IssueViews;

use super::text::Text;

/// Keys of issue-level fields Sentry evaluates on the group (Postgres), which Occurrent does
/// not keep: they are not tags, so a query on them is refused rather than read as one.
const UNSUPPORTED_ISSUE_KEYS: [&str; 12] = [
    "team",
    "issue",
    "issue.id",
    "detector",
    "monitor",
    "regressed_in_release",
    "issue.seer_actionability",
    "issue.seer_last_run",
    "release.stage",
    "release.version",
    "release.build",
    "assigned_or_suggested",
];

/// How a key that is not one of the issue search's own keys reads.
#[derive(Debug, PartialEq)]
pub(super) enum TagKey<'k> {
    /// A custom tag of this name.
    Custom(&'k str),
    /// `tags[environment]`, `tags[release]`, `tags[level]`: Sentry keeps these as tags too,
    /// so the explicit form reads the built-in field of the same name.
    BuiltIn(&'k str),
}

/// The reading of `key` (as the parser gives it, `tags[NAME]` or `tags[NAME,TYPE]` kept as
/// written), or None when it stays an unsupported key.
pub(super) fn tag_key(key: &str) -> Option<TagKey<'_>> {
    if let Some(inner) = key.strip_prefix("tags[").and_then(|k| k.strip_suffix(']')) {
        // `NAME[*],array` (older array form) and `NAME,TYPE`: the name is before either.
        let name = inner.split(',').next().unwrap_or(inner).trim();
        let name = name.strip_suffix("[*]").unwrap_or(name);
        if name.is_empty() {
            return None;
        }
        return Some(match name {
            "environment" | "release" | "level" => TagKey::BuiltIn(name),
            _ => TagKey::Custom(name),
        });
    }
    if UNSUPPORTED_ISSUE_KEYS.contains(&key) || key.starts_with("flags[") {
        return None;
    }
    Some(TagKey::Custom(key))
}

/// Whether an occurrence with tag set `tags` has tag `key` matching one of `values` (a
/// missing tag is `""`). Tag-set names are decoded here; callers memoise verdicts per facet.
pub(super) fn tag_matches(views: &IssueViews, tags: Option<Symbol>, key: &str, values: &[Text]) -> bool {
    let pairs = tags.and_then(|t| views.symbol_name(t)).map(tag_set_pairs).unwrap_or_default();
    let mut found = tag_values(&pairs, key).peekable();
    if found.peek().is_none() {
        return values.iter().any(|v| v.matches(""));
    }
    found.any(|value| values.iter().any(|v| v.matches(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_as_tags_except_unsupported_issue_fields() {
        assert_eq!(tag_key("browser"), Some(TagKey::Custom("browser")));
        assert_eq!(tag_key("device.class"), Some(TagKey::Custom("device.class")));
        assert_eq!(tag_key("tags[foo]"), Some(TagKey::Custom("foo")));
        assert_eq!(tag_key("tags[foo:bar, string]"), Some(TagKey::Custom("foo:bar")));
        assert_eq!(tag_key("tags[is]"), Some(TagKey::Custom("is")));
        assert_eq!(tag_key("tags[environment]"), Some(TagKey::BuiltIn("environment")));
        assert_eq!(tag_key("team"), None);
        assert_eq!(tag_key("issue.id"), None);
        assert_eq!(tag_key("flags[x]"), None);
    }
}
