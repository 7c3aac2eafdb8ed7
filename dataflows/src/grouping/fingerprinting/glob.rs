//! The glob dialect used by fingerprint matchers (grouping.md §12.4, "Globs").
//!
//! Semantics, written from the spec and Sentry's observable behaviour:
//!
//! * `?` matches one character, `*` any run of characters. With
//!   [`GlobOptions::double_star`] both stop at `/` (path-style globs).
//! * `**` is recursive where it forms a whole path segment: `**/x` (zero or more leading
//!   directories), `x/**` (everything below), `x/**/y` (zero or more middle directories) and the
//!   bare pattern `**` (everything). Anywhere else it behaves like `*`.
//! * `[abc]`, `[a-z]`, `[!a-z]` / `[^a-z]` are character classes; a `]` right after the opening
//!   bracket (or its negation) is a member.
//! * `{a,b,c}` is an alternation (not nested).
//! * `\x` matches `x` literally (so `\*`, `\?`, `\[`, `\{` ... escape the wildcards).
//! * [`GlobOptions::case_insensitive`] lowercases pattern and value;
//!   [`GlobOptions::path_normalize`] turns every `\` into `/` in both (so path patterns have no
//!   escapes).
//! * The whole value must match. An invalid pattern (unclosed `[` or `{`, nested `{`, trailing
//!   lone `\`) matches nothing.

/// Options of [`glob_match`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GlobOptions {
    /// `*` and `?` do not cross `/`; `**` segments are recursive.
    pub double_star: bool,
    /// Compare lowercased pattern and value.
    pub case_insensitive: bool,
    /// Replace `\` by `/` in pattern and value before matching.
    pub path_normalize: bool,
}

impl GlobOptions {
    /// Plain glob: `*` matches anything, case-sensitive.
    pub const PLAIN: GlobOptions = GlobOptions {
        double_star: false,
        case_insensitive: false,
        path_normalize: false,
    };
    /// Plain glob, case-insensitive (`message`, `value`, `level`).
    pub const PLAIN_NOCASE: GlobOptions = GlobOptions {
        double_star: false,
        case_insensitive: true,
        path_normalize: false,
    };
    /// Path glob (`path`, `package`, `release`): `**`, case-insensitive, `\` → `/`.
    pub const PATH: GlobOptions = GlobOptions {
        double_star: true,
        case_insensitive: true,
        path_normalize: true,
    };
}

/// Upper bound on the number of alternatives a pattern with `{..}` groups may expand to;
/// bigger patterns are treated as invalid.
const MAX_ALTERNATIVES: usize = 256;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Lit(char),
    /// `?`
    One,
    /// `*`
    Star,
    /// `**` as the whole pattern.
    All,
    /// Leading `**/`: empty, or anything ending in `/`.
    RecPrefix,
    /// Trailing `/**`: `/` then anything.
    RecSuffix,
    /// Inner `/**/`: `/`, or `/` anything `/`.
    RecMiddle,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Does `value` match the glob `pattern` under `opts`?
pub fn glob_match(value: &str, pattern: &str, opts: GlobOptions) -> bool {
    let prep = |s: &str| {
        let s = if opts.path_normalize { s.replace('\\', "/") } else { s.to_owned() };
        if opts.case_insensitive {
            s.to_lowercase()
        } else {
            s
        }
    };
    let value: Vec<char> = prep(value).chars().collect();
    let Some(alternatives) = compile(&prep(pattern)) else {
        return false;
    };
    alternatives
        .iter()
        .any(|tokens| Matcher::new(tokens, &value, opts.double_star).run())
}

/// Pattern text → token lists, one per combination of `{..}` alternatives.
fn compile(pattern: &str) -> Option<Vec<Vec<Token>>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut alternatives: Vec<Vec<Token>> = vec![Vec::new()];
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '{' {
            // Alternation: split the group body on unescaped commas outside classes.
            let mut branches: Vec<Vec<char>> = vec![Vec::new()];
            let mut j = i + 1;
            let mut closed = false;
            while j < chars.len() {
                match chars[j] {
                    '\\' => {
                        let branch = branches.last_mut()?;
                        branch.push('\\');
                        branch.push(*chars.get(j + 1)?);
                        j += 2;
                        continue;
                    }
                    '{' => return None,
                    '}' => {
                        closed = true;
                        break;
                    }
                    ',' => branches.push(Vec::new()),
                    '[' => {
                        let end = class_end(&chars, j)?;
                        branches.last_mut()?.extend_from_slice(&chars[j..=end]);
                        j = end + 1;
                        continue;
                    }
                    c => branches.last_mut()?.push(c),
                }
                j += 1;
            }
            if !closed {
                return None;
            }
            if alternatives.len() * branches.len() > MAX_ALTERNATIVES {
                return None;
            }
            let mut next = Vec::with_capacity(alternatives.len() * branches.len());
            for prefix in &alternatives {
                for branch in &branches {
                    let mut tokens = prefix.clone();
                    tokens.extend(tokenize_segment(branch, false, false, false)?);
                    next.push(tokens);
                }
            }
            alternatives = next;
            i = j + 1;
        } else {
            // A run up to the next alternation group.
            let start = i;
            while i < chars.len() && chars[i] != '{' {
                if chars[i] == '\\' {
                    i += 1;
                } else if chars[i] == '[' {
                    i = class_end(&chars, i)?;
                }
                i += 1;
            }
            let end = i.min(chars.len());
            let whole = start == 0 && end == chars.len();
            let run = &chars[start..end];
            let at_start = start == 0;
            let at_end = end == chars.len();
            let tokens = tokenize_segment(run, at_start, at_end, whole)?;
            for alt in &mut alternatives {
                alt.extend(tokens.iter().cloned());
            }
        }
    }
    Some(alternatives)
}

/// Index of the `]` closing the class opened at `open`.
fn class_end(chars: &[char], open: usize) -> Option<usize> {
    let mut j = open + 1;
    if matches!(chars.get(j), Some('!') | Some('^')) {
        j += 1;
    }
    if chars.get(j) == Some(&']') {
        j += 1;
    }
    while j < chars.len() {
        if chars[j] == ']' {
            return Some(j);
        }
        j += 1;
    }
    None
}

/// Tokenize a run of pattern text. `at_start`/`at_end` say whether the run touches the start
/// or end of the whole pattern (needed to recognise recursive `**`); alternation branches pass
/// `false` everywhere, so `**` is never recursive inside `{..}`.
fn tokenize_segment(chars: &[char], at_start: bool, at_end: bool, whole: bool) -> Option<Vec<Token>> {
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                out.push(Token::Lit(*chars.get(i + 1)?));
                i += 2;
            }
            '?' => {
                out.push(Token::One);
                i += 1;
            }
            '[' => {
                let end = class_end(chars, i)?;
                let mut j = i + 1;
                let negated = matches!(chars[j], '!' | '^');
                if negated {
                    j += 1;
                }
                let body = &chars[j..end];
                let mut ranges = Vec::new();
                let mut k = 0;
                while k < body.len() {
                    if k + 2 < body.len() && body[k + 1] == '-' {
                        ranges.push((body[k], body[k + 2]));
                        k += 3;
                    } else {
                        ranges.push((body[k], body[k]));
                        k += 1;
                    }
                }
                out.push(Token::Class { negated, ranges });
                i = end + 1;
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                let prev_is_sep_or_start = if i == 0 { at_start } else { out.last() == Some(&Token::Lit('/')) };
                let next = chars.get(i + 2);
                let next_is_sep_or_end = match next {
                    Some('/') => true,
                    None => at_end,
                    Some(_) => false,
                };
                if whole && chars.len() == 2 {
                    out.push(Token::All);
                    i += 2;
                } else if prev_is_sep_or_start && next_is_sep_or_end && i == 0 && next == Some(&'/') {
                    out.push(Token::RecPrefix);
                    i += 3;
                } else if prev_is_sep_or_start && next_is_sep_or_end && i > 0 && next.is_none() {
                    out.pop();
                    out.push(Token::RecSuffix);
                    i += 2;
                } else if prev_is_sep_or_start && next_is_sep_or_end && i > 0 {
                    out.pop();
                    out.push(Token::RecMiddle);
                    i += 3;
                } else {
                    out.push(Token::Star);
                    i += 2;
                }
                // Further stars directly after `**` add nothing.
                while chars.get(i) == Some(&'*') {
                    i += 1;
                }
            }
            '*' => {
                out.push(Token::Star);
                i += 1;
            }
            c => {
                out.push(Token::Lit(c));
                i += 1;
            }
        }
    }
    Some(out)
}

/// Memoised backtracking matcher over one token list.
struct Matcher<'a> {
    tokens: &'a [Token],
    value: &'a [char],
    sep: bool,
    /// 0 = unknown, 1 = no match, 2 = match; indexed by `ti * (value.len() + 1) + vi`.
    memo: Vec<u8>,
}

impl<'a> Matcher<'a> {
    fn new(tokens: &'a [Token], value: &'a [char], sep: bool) -> Self {
        let memo = vec![0; (tokens.len() + 1) * (value.len() + 1)];
        Matcher { tokens, value, sep, memo }
    }

    fn run(&mut self) -> bool {
        self.at(0, 0)
    }

    fn at(&mut self, ti: usize, vi: usize) -> bool {
        let slot = ti * (self.value.len() + 1) + vi;
        match self.memo[slot] {
            1 => return false,
            2 => return true,
            _ => {}
        }
        let result = self.compute(ti, vi);
        self.memo[slot] = if result { 2 } else { 1 };
        result
    }

    fn compute(&mut self, ti: usize, vi: usize) -> bool {
        let n = self.value.len();
        let Some(token) = self.tokens.get(ti) else {
            return vi == n;
        };
        let cur = self.value.get(vi).copied();
        match token {
            Token::Lit(c) => cur == Some(*c) && self.at(ti + 1, vi + 1),
            Token::One => matches!(cur, Some(c) if !(self.sep && c == '/')) && self.at(ti + 1, vi + 1),
            Token::Class { negated, ranges } => match cur {
                Some(c) => {
                    let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                    inside != *negated && self.at(ti + 1, vi + 1)
                }
                None => false,
            },
            Token::Star => {
                let mut k = vi;
                loop {
                    if self.at(ti + 1, k) {
                        return true;
                    }
                    if k >= n || (self.sep && self.value[k] == '/') {
                        return false;
                    }
                    k += 1;
                }
            }
            Token::All => (vi..=n).any(|k| self.at(ti + 1, k)),
            Token::RecPrefix => {
                if self.at(ti + 1, vi) {
                    return true;
                }
                (vi..n).filter(|&k| self.value[k] == '/').any(|k| self.at(ti + 1, k + 1))
            }
            Token::RecSuffix => cur == Some('/') && (vi + 1..=n).any(|k| self.at(ti + 1, k)),
            Token::RecMiddle => {
                if cur != Some('/') {
                    return false;
                }
                (vi..n).filter(|&k| self.value[k] == '/').any(|k| self.at(ti + 1, k + 1))
            }
        }
    }
}
