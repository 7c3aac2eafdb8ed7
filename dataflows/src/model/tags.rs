//! An occurrence's tags (`event.tags`, issue-platform.md §2) as one interned *tag set*: the
//! `(key, value)` pairs sorted and encoded as a JSON array of pairs, whose symbol the record
//! and its facet carry (`facets::Facet::tags`). Distinct tag sets are few (a project's
//! routes, pages, devices), so a set costs a group nothing beyond its facet, and the read
//! side decodes each set's name once per request (`search`'s facet verdicts).
//!
//! Pairs with an empty key or value are dropped: Sentry's `has:KEY` is `KEY != ""`, so an
//! empty value and a missing tag are the same to search.

use super::record::{symbol_of, Symbol};

/// The name of the tag set of `pairs` (sorted and de-duplicated here), or None when no
/// pair is left.
pub fn tag_set_name<K: AsRef<str>, V: AsRef<str>>(pairs: &mut Vec<(K, V)>) -> Option<String> {
    pairs.retain(|(k, v)| !k.as_ref().is_empty() && !v.as_ref().is_empty());
    if pairs.is_empty() {
        return None;
    }
    pairs.sort_by(|a, b| (a.0.as_ref(), a.1.as_ref()).cmp(&(b.0.as_ref(), b.1.as_ref())));
    pairs.dedup_by(|a, b| a.0.as_ref() == b.0.as_ref() && a.1.as_ref() == b.1.as_ref());
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    serde_json::to_string(&refs).ok()
}

/// [`tag_set_name`] as a symbol, with `define` told its name.
pub fn tag_set_symbol<K: AsRef<str>, V: AsRef<str>>(pairs: &mut Vec<(K, V)>, define: &mut dyn FnMut(Symbol, &str)) -> Option<Symbol> {
    let name = tag_set_name(pairs)?;
    let symbol = symbol_of(&name);
    define(symbol, &name);
    Some(symbol)
}

/// The pairs of a tag set's name (empty if it is not one).
pub fn tag_set_pairs(name: &str) -> Vec<(String, String)> {
    serde_json::from_str(name).unwrap_or_default()
}

/// The values of `key` in a tag set (several when an event listed the key more than once).
pub fn tag_values<'p>(pairs: &'p [(String, String)], key: &'p str) -> impl Iterator<Item = &'p str> + 'p {
    pairs.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_set_is_sorted_deduplicated_and_round_trips() {
        let mut a = vec![("url", "/b"), ("device.class", "low"), ("url", "/b"), ("empty", "")];
        let mut b = vec![("device.class", "low"), ("url", "/b")];
        let name = tag_set_name(&mut a).unwrap();
        assert_eq!(Some(name.clone()), tag_set_name(&mut b));
        assert_eq!(name, r#"[["device.class","low"],["url","/b"]]"#);
        let pairs = tag_set_pairs(&name);
        assert_eq!(tag_values(&pairs, "url").collect::<Vec<_>>(), vec!["/b"]);
        assert_eq!(tag_values(&pairs, "nope").count(), 0);
        let mut none: Vec<(&str, &str)> = vec![("k", "")];
        assert_eq!(tag_set_name(&mut none), None);
        let mut quoted = vec![("k\"", "v\\\"]")];
        let name = tag_set_name(&mut quoted).unwrap();
        assert_eq!(tag_set_pairs(&name), vec![("k\"".to_string(), "v\\\"]".to_string())]);
        assert!(tag_set_pairs("production").is_empty());
    }
}
