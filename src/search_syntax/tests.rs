//! Unit tests and a no-panic property test.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn issue(q: &str) -> Result<Vec<SearchFilter>, SearchError> {
    parse_search_query(q, &SearchConfig::issue_config(), now())
}

fn one(q: &str) -> SearchFilter {
    let mut f = issue(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    assert_eq!(f.len(), 1, "{q}: {f:?}");
    f.remove(0)
}

#[test]
fn issue_basics() {
    let f = one("is:unresolved");
    assert_eq!((f.key.as_str(), f.operator, f.value), ("status", Operator::Eq, SearchValue::Int(0)));
    let f = one("!is:assigned");
    assert_eq!(
        (f.key.as_str(), f.operator, f.value),
        ("unassigned", Operator::Ne, SearchValue::Boolean(false))
    );
    let f = one("timesSeen:>1.5k");
    assert_eq!(
        (f.key.as_str(), f.operator, f.value),
        ("times_seen", Operator::Gt, SearchValue::Number(1500.0))
    );
    let f = one("age:-1h");
    assert_eq!(f.value, SearchValue::DateTime(1_700_000_000_000_000 - 3_600_000_000));
    assert_eq!(f.key, "first_seen");
    let f = one("has:assigned");
    assert_eq!((f.key.as_str(), f.operator), ("assigned_to", Operator::Ne));
    let f = one("message:\u{F00D}Contains\u{F00D}a*b");
    assert_eq!(f.value, SearchValue::Text("*a\\*b*".into()));
    assert!(f.value.is_wildcard());
}

#[test]
fn issue_errors_have_messages_and_positions() {
    let e = issue("foo times_seen:abc").unwrap_err();
    assert!(e.message.contains("Invalid number"), "{e}");
    assert_eq!(e.position, Some(4));
    let e = issue("a OR b").unwrap_err();
    assert!(e.message.contains("\"OR\""), "{e}");
    assert!(issue("has:[a, b]").is_err());
    assert!(issue("has:[a]").is_ok());
    assert!(issue("foo)").is_err());
    assert!(issue("(foo").is_err());
    assert!(issue("is:foo").unwrap_err().message.contains("unresolved"));
}

#[test]
fn boolean_config_keeps_structure() {
    let items = parse_search_query_items("a:1 OR (b:2 AND c:3)", &SearchConfig::default_config(), now()).unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[1], QueryItem::Or);
    assert!(matches!(&items[2], QueryItem::Group(g) if g.len() == 3));
    assert!(parse_search_query("a:1 OR b:2", &SearchConfig::default_config(), now()).is_err());
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = "(".repeat(10_000) + "a" + &")".repeat(10_000);
    assert!(issue(&deep).is_err());
    let ok = "(".repeat(10) + "a" + &")".repeat(10);
    assert!(issue(&ok).is_ok());
    assert!(issue(&"(".repeat(50_000)).is_err());
}

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const FRAGMENTS: &[&str] = &[
    " ",
    "  ",
    "\t",
    "\n",
    "\r",
    "\"",
    "\\",
    "\\\"",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "!",
    "*",
    "<",
    ">",
    "=",
    ">=",
    "!=",
    "-",
    "+",
    ".",
    "..",
    "0",
    "1",
    "5",
    "42",
    "3.5",
    "k",
    "m",
    "b",
    "s",
    "ms",
    "min",
    "d",
    "w",
    "h",
    "kb",
    "GiB",
    "%",
    "true",
    "FALSE",
    "a",
    "xyz",
    "é",
    "日本",
    "\u{F00D}",
    "\u{F00D}Contains\u{F00D}",
    "\u{F00D}StartsWith\u{F00D}",
    "\u{F00D}EndsWith\u{F00D}",
    "\u{a0}",
    "AND",
    "or",
    "has",
    "is",
    "tags[",
    "flags[",
    "[*]",
    ",number",
    "count(",
    "avg(transaction.duration)",
    "last_seen()",
    "//",
    "2024-01-01",
    "T10:00:00",
    "Z",
    "+01:00",
    "2024-02-30",
    "-24h",
    "+7d",
    "timestamp",
    "times_seen",
    "stack.in_app",
    "transaction.duration",
    "firstSeen",
    "release.version",
    "message",
    "unresolved",
    "🦀",
    "\u{0}",
];

fn random_query(rng: &mut Rng) -> String {
    if rng.below(8) == 0 {
        let len = rng.below(40);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let n = rng.below(14);
    (0..n).map(|_| FRAGMENTS[rng.below(FRAGMENTS.len())]).collect()
}

#[test]
fn never_panics_on_random_input() {
    let mut regex = SearchConfig::default_config();
    regex.allow_regex = true;
    regex.wildcard_free_text = true;
    let configs = [SearchConfig::default_config(), SearchConfig::issue_config(), regex];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..30_000 {
        let q = random_query(&mut rng);
        let config = &configs[i % configs.len()];
        let _ = parse_search_query_items(&q, config, now());
        let _ = parse_search_query(&q, config, UNIX_EPOCH);
        for cut in 0..q.len().min(12) {
            if let Some(prefix) = q.get(..cut) {
                let _ = parse_search_query(prefix, config, now());
            }
        }
    }
}
