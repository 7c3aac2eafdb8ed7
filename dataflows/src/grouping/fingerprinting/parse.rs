//! Parser for the text rule format (grouping.md §12.4, "Syntax").
//!
//! ```text
//! ## changelog lines (leading, optional)
//! # comment
//! [!]key:value [!]key:"quoted \" value" -> entry, "quoted entry" {{ var }} title="Title"
//! ```
//!
//! * Matcher keys are `[A-Za-z0-9_.-]+`; unquoted values run to the next whitespace.
//! * Quoted strings process Python-style escapes (`\\`, `\"`, `\n`, `\t`, `\xNN`, `\uNNNN`, ...);
//!   unknown escapes such as `\*` are kept verbatim (so glob escapes survive).
//! * Fingerprint entries are separated by whitespace and/or commas. A bare entry stops at
//!   whitespace, `,` or `{`; `{{ var }}` is one entry even with inner spaces.
//! * `key="value"` in the fingerprint part is an attribute; only `title` is known.

use std::collections::BTreeMap;

use super::{FingerprintingError, Matcher, MatcherKey, Rule};

/// Parse a whole rules text into its rules and leading `##` changelog lines.
pub(crate) fn parse_rules(text: &str) -> Result<(Vec<Rule>, Vec<String>), FingerprintingError> {
    let mut rules = Vec::new();
    let mut changelog = Vec::new();
    for (index, raw_line) in text.split('\n').enumerate() {
        let line = raw_line.trim_end_matches('\r').trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if rules.is_empty() {
                if let Some(entry) = comment.strip_prefix('#') {
                    changelog.push(entry.trim().to_owned());
                }
            }
            continue;
        }
        let rule = parse_rule(line).map_err(|message| FingerprintingError::Syntax { line: index + 1, message })?;
        rules.push(rule);
    }
    Ok((rules, changelog))
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

struct Cursor {
    chars: Vec<char>,
    pos: usize,
}

impl Cursor {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn at(&self, s: &str) -> bool {
        (self.pos..).zip(s.chars()).all(|(i, c)| self.chars.get(i) == Some(&c))
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn take_while(&mut self, pred: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if pred(c)) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// A `"..."` string at the cursor, unescaped.
    fn quoted(&mut self) -> Result<String, String> {
        debug_assert_eq!(self.peek(), Some('"'));
        let start = self.pos;
        self.pos += 1;
        let mut raw = String::new();
        loop {
            match self.peek() {
                None => return Err(format!("unterminated string starting at column {}", start + 1)),
                Some('"') => {
                    self.pos += 1;
                    return Ok(unescape(&raw));
                }
                Some('\\') => {
                    raw.push('\\');
                    self.pos += 1;
                    match self.peek() {
                        Some(c) => {
                            raw.push(c);
                            self.pos += 1;
                        }
                        None => return Err(format!("unterminated string starting at column {}", start + 1)),
                    }
                }
                Some(c) => {
                    raw.push(c);
                    self.pos += 1;
                }
            }
        }
    }
}

/// Python `unicode-escape`-style unescaping; unknown escapes are kept as written.
pub(crate) fn unescape(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let next = chars[i + 1];
        let simple = match next {
            '\\' => Some('\\'),
            '"' => Some('"'),
            '\'' => Some('\''),
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'v' => Some('\u{b}'),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s);
            i += 2;
            continue;
        }
        let hex_len = match next {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => 0,
        };
        if hex_len > 0 {
            let digits: String = chars.iter().skip(i + 2).take(hex_len).collect();
            if digits.len() == hex_len && digits.chars().all(|d| d.is_ascii_hexdigit()) {
                if let Some(ch) = u32::from_str_radix(&digits, 16).ok().and_then(char::from_u32) {
                    out.push(ch);
                    i += 2 + hex_len;
                    continue;
                }
            }
        }
        out.push('\\');
        out.push(next);
        i += 2;
    }
    out
}

/// If a `{{ name }}` variable starts at `pos`, its end (exclusive). Mirrors the greedy
/// `\{\{\s*\S+\s*\}\}`: the longest non-space name that is followed by `\s*}}` wins.
pub(crate) fn variable_end(chars: &[char], pos: usize) -> Option<usize> {
    if chars.get(pos) != Some(&'{') || chars.get(pos + 1) != Some(&'{') {
        return None;
    }
    let mut i = pos + 2;
    while matches!(chars.get(i), Some(c) if c.is_whitespace()) {
        i += 1;
    }
    let name_start = i;
    while matches!(chars.get(i), Some(c) if !c.is_whitespace()) {
        i += 1;
    }
    let run_end = i;
    // Longest name first: the whole run followed by whitespace and `}}`...
    let mut j = run_end;
    while matches!(chars.get(j), Some(c) if c.is_whitespace()) {
        j += 1;
    }
    if run_end > name_start && chars.get(j) == Some(&'}') && chars.get(j + 1) == Some(&'}') {
        return Some(j + 2);
    }
    // ... else a shorter name immediately followed by `}}` inside the run.
    (name_start + 1..run_end.saturating_sub(1))
        .rev()
        .find(|&end| chars[end] == '}' && chars[end + 1] == '}')
        .map(|end| end + 2)
}

fn parse_rule(line: &str) -> Result<Rule, String> {
    let mut cur = Cursor {
        chars: line.chars().collect(),
        pos: 0,
    };
    let mut matchers = Vec::new();
    loop {
        cur.skip_ws();
        if cur.at("->") {
            cur.pos += 2;
            break;
        }
        if cur.peek().is_none() {
            return Err("expected `->` after the matchers".to_owned());
        }
        let negated = cur.peek() == Some('!');
        if negated {
            cur.pos += 1;
        }
        let key = if cur.peek() == Some('"') {
            cur.quoted()?
        } else {
            cur.take_while(is_key_char)
        };
        if key.is_empty() {
            return Err(format!("expected a matcher at column {}", cur.pos + 1));
        }
        if cur.peek() != Some(':') {
            return Err(format!("expected `:` after matcher key {key:?}"));
        }
        cur.pos += 1;
        let pattern = match cur.peek() {
            Some('"') => cur.quoted()?,
            _ => cur.take_while(|c| !c.is_whitespace()),
        };
        if pattern.is_empty() {
            return Err(format!("missing value for matcher {key:?}"));
        }
        let key = MatcherKey::parse(&key).ok_or_else(|| format!("unknown matcher {key:?}"))?;
        matchers.push(Matcher { key, pattern, negated });
    }
    if matchers.is_empty() {
        return Err("a rule needs at least one matcher".to_owned());
    }

    let mut fingerprint = Vec::new();
    let mut attributes = BTreeMap::new();
    loop {
        while matches!(cur.peek(), Some(c) if c.is_whitespace() || c == ',') {
            cur.pos += 1;
        }
        let Some(c) = cur.peek() else { break };
        if c == '"' {
            fingerprint.push(cur.quoted()?);
            continue;
        }
        if c == '{' {
            let end = variable_end(&cur.chars, cur.pos).ok_or_else(|| format!("malformed variable at column {}", cur.pos + 1))?;
            fingerprint.push(cur.chars[cur.pos..end].iter().collect());
            cur.pos = end;
            continue;
        }
        // `key="value"` attribute?
        let save = cur.pos;
        let key = cur.take_while(is_key_char);
        if !key.is_empty() && cur.peek() == Some('=') && cur.chars.get(cur.pos + 1) == Some(&'"') {
            cur.pos += 1;
            let value = cur.quoted()?;
            if key != "title" {
                return Err(format!("unknown attribute {key:?}"));
            }
            attributes.insert(key, value);
            continue;
        }
        cur.pos = save;
        let word = cur.take_while(|c| !(c.is_whitespace() || c == ',' || c == '{'));
        if word.is_empty() {
            return Err(format!("unexpected character at column {}", cur.pos + 1));
        }
        fingerprint.push(word);
    }
    if fingerprint.is_empty() && attributes.is_empty() {
        return Err("a rule needs a fingerprint after `->`".to_owned());
    }
    Ok(Rule {
        matchers,
        fingerprint,
        attributes,
    })
}
