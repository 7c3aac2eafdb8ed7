//! Message normalisation and parameterization (grouping.md §10).
//!
//! The message strategy groups on a *normalised* message: variable parts (e-mail addresses,
//! URLs, host names, IPs, UUIDs, hashes, dates, durations, numbers, `key=value` values, ...)
//! are replaced by `<name>` placeholders so that messages differing only in such values hash
//! alike.
//!
//! # API
//!
//! * [`normalize_message`] — the grouping input: keep the first two non-empty lines, append
//!   `...` if that changed the message, then [`parameterize`] with [`PatternSet::V2024`]
//!   (the set the conformance hashes were produced with).
//! * [`normalize_message_with`] — the same with a chosen [`PatternSet`], borrowing when
//!   nothing changes.
//! * [`trim_message`] — only the line-trimming step.
//! * [`parameterize`] — only the placeholder replacement.
//!
//! # Semantics
//!
//! All named patterns of a set form one leftmost-first alternation in a fixed order: scanning
//! left to right, the leftmost position where any pattern matches wins, and among patterns
//! matching at that position the earliest in the order wins, with that pattern's own
//! preferred (Perl/Python backtracking) extent. Matching resumes after the replaced text and
//! never sees the placeholders.
//!
//! Each pattern is compiled once (per set, lazily) as a separate `regex::Regex`; the
//! alternation is evaluated by asking every pattern for its leftmost match and taking the
//! minimum `(start, order)`, which is exactly leftmost-first alternation semantics. Matches
//! are cached per pattern and only recomputed once the scan has passed them, so each pattern
//! scans the message about once. Nothing is allocated when nothing matches.
//!
//! The `regex` crate has no look-around; the few look-around uses are expressed as guards
//! (see `patterns::Guard`) whose evaluation is exact because the guarded patterns can only
//! match one extent at a given start.
//!
//! # Known deviations from Python `re`
//!
//! * `\b` uses Unicode's word definition (letters, marks, digits, connector punctuation);
//!   Python's uses `str.isalnum()` plus `_`. They differ for combining marks, `Pc` other than
//!   `_` and numeric-but-not-decimal characters such as `²`.
//! * The tokenizer-based `uniq_id` experiment (allow-listed projects only) is not implemented.
//! * [`PatternSet::V2025`] reproduces Sentry's 2025 test revision; the exact 2025 regexes
//!   are not pinned (see grouping.md §10), so it is an opt-in approximation.

mod patterns;

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use patterns::{Guard, PatternSource};

/// Which parameterization pattern set to apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PatternSet {
    /// Sentry's June-2024 set (`email, url, hostname, ip, uuid, sha1, md5, date, duration,
    /// hex, float, int, quoted_str, bool`). The message hashes of `newstyle:2023-01-11` in the
    /// conformance data come from this set; use it for hash parity.
    #[default]
    V2024,
    /// Sentry's 2025 set (adds `traceparent`, `swift_txn_id`, unprefixed `hex`, `git_sha`,
    /// more date forms). Opt-in: Sentry changed its patterns without a config bump, so this
    /// changes message hashes relative to [`PatternSet::V2024`].
    V2025,
}

impl PatternSet {
    /// Placeholder names this set can produce, in priority order (duplicates removed).
    pub fn placeholder_names(self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Vec::new();
        for p in &table(self).patterns {
            if !names.contains(&p.name) {
                names.push(p.name);
            }
        }
        names
    }
}

/// The grouping input for a message: [`trim_message`] then [`parameterize`] with
/// [`PatternSet::V2024`].
///
/// ```
/// use dataflows::grouping::parameterize::normalize_message;
/// assert_eq!(normalize_message("took 12ms\nat 0x1f\ntrailer"), "took <duration>\nat <hex>...");
/// ```
pub fn normalize_message(message: &str) -> String {
    normalize_message_with(message, PatternSet::V2024).into_owned()
}

/// [`normalize_message`] with a chosen pattern set; borrows when nothing changes.
pub fn normalize_message_with(message: &str, set: PatternSet) -> Cow<'_, str> {
    match trim_message(message) {
        Cow::Borrowed(m) => parameterize(m, set),
        Cow::Owned(m) => Cow::Owned(parameterize(&m, set).into_owned()),
    }
}

/// Keep the first two non-empty lines of `message`, joined with `\n`; append `...` if the
/// result differs from the input.
///
/// Lines are split like Python's `str.splitlines` (`\n`, `\r`, `\r\n`, VT, FF, U+001C..U+001E,
/// U+0085, U+2028, U+2029) and a line is empty if it is only whitespace in the sense of
/// Python's `str.isspace`. Kept lines are not stripped.
pub fn trim_message(message: &str) -> Cow<'_, str> {
    let mut kept: [(usize, usize); 2] = [(0, 0); 2];
    let mut n = 0;
    for (start, end) in py_splitlines(message) {
        if message[start..end].chars().any(|c| !py_isspace(c)) {
            kept[n] = (start, end);
            n += 1;
            if n == 2 {
                break;
            }
        }
    }
    let unchanged = match n {
        0 => message.is_empty(),
        1 => kept[0] == (0, message.len()),
        _ => kept[0].0 == 0 && kept[1].1 == message.len() && &message[kept[0].1..kept[1].0] == "\n",
    };
    if unchanged {
        return Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len().min(kept[n.max(1) - 1].1) + 4);
    for (i, &(s, e)) in kept[..n].iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&message[s..e]);
    }
    out.push_str("...");
    Cow::Owned(out)
}

/// Python's `str.isspace`: Unicode `White_Space` plus U+001C..U+001F.
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Byte ranges of the lines of `s`, without their terminators, like Python's
/// `str.splitlines()` (no trailing empty line after a final terminator).
fn py_splitlines(s: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= s.len() {
            return None;
        }
        let start = pos;
        let rest = &s[start..];
        for (i, c) in rest.char_indices() {
            let term_len = match c {
                '\r' if rest[i + 1..].starts_with('\n') => 2,
                '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}' => c.len_utf8(),
                _ => continue,
            };
            pos = start + i + term_len;
            return Some((start, start + i));
        }
        pos = s.len();
        Some((start, s.len()))
    })
}

/// Replace every variable part of `message` by `<name>` using the given pattern set.
/// Returns the input borrowed when nothing matched.
///
/// ```
/// use dataflows::grouping::parameterize::{parameterize, PatternSet};
/// assert_eq!(
///     parameterize("blah test@email.com took 1.5s, key=\"x\" ok=true", PatternSet::V2024),
///     "blah <email> took <duration>, key=<quoted_str> ok=<bool>"
/// );
/// assert_eq!(parameterize("nothing here", PatternSet::V2024), "nothing here");
/// ```
pub fn parameterize(message: &str, set: PatternSet) -> Cow<'_, str> {
    table(set).replace_all(message)
}

// ---------------------------------------------------------------------------------------------
// Matcher

/// More than any set uses; keeps the per-call match cache on the stack.
const MAX_PATTERNS: usize = 24;

struct Pattern {
    name: &'static str,
    /// `<name>`, precomputed.
    placeholder: String,
    re: Regex,
    guard: Guard,
}

struct Table {
    patterns: Vec<Pattern>,
}

static V2024: LazyLock<Table> = LazyLock::new(|| Table::compile(patterns::v2024()));
static V2025: LazyLock<Table> = LazyLock::new(|| Table::compile(patterns::v2025()));

fn table(set: PatternSet) -> &'static Table {
    match set {
        PatternSet::V2024 => &V2024,
        PatternSet::V2025 => &V2025,
    }
}

/// Cached state of one pattern during a scan.
#[derive(Clone, Copy)]
enum Cached {
    /// Not searched yet.
    Unknown,
    /// Leftmost match at or after the position searched from.
    At(usize, usize),
    /// No match at or after the position searched from (hence none later either).
    Exhausted,
}

impl Table {
    fn compile(sources: Vec<PatternSource>) -> Table {
        assert!(sources.len() <= MAX_PATTERNS, "too many patterns");
        let patterns = sources
            .into_iter()
            .map(|s| {
                let re = regex::RegexBuilder::new(&s.regex)
                    .size_limit(64 << 20)
                    .build()
                    .unwrap_or_else(|e| panic!("parameterization pattern {}: {e}", s.name));
                Pattern {
                    name: s.name,
                    placeholder: format!("<{}>", s.name),
                    re,
                    guard: s.guard,
                }
            })
            .collect();
        Table { patterns }
    }

    fn replace_all<'a>(&self, hay: &'a str) -> Cow<'a, str> {
        let mut cache = [Cached::Unknown; MAX_PATTERNS];
        let mut out: Option<String> = None;
        let mut copied = 0; // bytes of `hay` already handled in `out`
        let mut pos = 0;
        while pos <= hay.len() {
            let mut best: Option<(usize, usize, usize)> = None; // (start, end, index)
            for (i, p) in self.patterns.iter().enumerate() {
                let hit = match cache[i] {
                    Cached::Exhausted => None,
                    Cached::At(s, e) if s >= pos => Some((s, e)),
                    _ => {
                        let hit = p.find_from(hay, pos);
                        cache[i] = match hit {
                            Some((s, e)) => Cached::At(s, e),
                            None => Cached::Exhausted,
                        };
                        hit
                    }
                };
                if let Some((s, e)) = hit {
                    if best.is_none_or(|(bs, _, _)| s < bs) {
                        best = Some((s, e, i));
                        if s == pos {
                            // Nothing can start earlier, and earlier patterns win ties.
                            break;
                        }
                    }
                }
            }
            let Some((start, end, i)) = best else { break };
            if end == start {
                // No pattern matches the empty string; stay safe if one ever does.
                pos = start + hay[start..].chars().next().map_or(1, char::len_utf8);
                continue;
            }
            let out = out.get_or_insert_with(|| String::with_capacity(hay.len()));
            out.push_str(&hay[copied..start]);
            out.push_str(&self.patterns[i].placeholder);
            copied = end;
            pos = end;
        }
        match out {
            None => Cow::Borrowed(hay),
            Some(mut out) => {
                out.push_str(&hay[copied..]);
                Cow::Owned(out)
            }
        }
    }
}

impl Pattern {
    /// Leftmost match of this pattern alone starting at or after `pos` (a char boundary),
    /// with the guard applied. Look-behind context before `pos` is taken from `hay`.
    fn find_from(&self, hay: &str, mut pos: usize) -> Option<(usize, usize)> {
        match self.guard {
            Guard::None => self.re.find_at(hay, pos).map(|m| (m.start(), m.end())),
            Guard::AfterEquals => {
                // The regex's leading `=` is the look-behind; it may sit just before `pos`.
                let from = if pos > 0 && hay.as_bytes()[pos - 1] == b'=' { pos - 1 } else { pos };
                self.re.find_at(hay, from).map(|m| (m.start() + 1, m.end()))
            }
            Guard::NoWordBefore => loop {
                // The guard only depends on the start, so a rejected start rejects every
                // extent there; retry from the next character.
                let m = self.re.find_at(hay, pos)?;
                if !hay[..m.start()].chars().next_back().is_some_and(is_word_char) {
                    return Some((m.start(), m.end()));
                }
                pos = m.start() + hay[m.start()..].chars().next().map_or(1, char::len_utf8);
            },
            Guard::HasDigit | Guard::HasDigitAndLetter => loop {
                // The regex is a whole hex word between `\b`s: one extent per start, and no
                // other start inside it, so a rejected hit can be skipped entirely.
                let m = self.re.find_at(hay, pos)?;
                let bytes = m.as_str().as_bytes();
                let digit = bytes.iter().any(u8::is_ascii_digit);
                let letter = bytes.iter().any(u8::is_ascii_alphabetic);
                let ok = match self.guard {
                    Guard::HasDigit => digit,
                    _ => digit && letter,
                };
                if ok {
                    return Some((m.start(), m.end()));
                }
                pos = m.end();
            },
        }
    }
}

/// Python's `\w` (approximately: `str.isalnum()` or `_`).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests;
