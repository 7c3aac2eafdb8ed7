//! Syntax: query string → raw terms (search-syntax.md §2).
//!
//! A recursive-descent parser with ordered alternatives and backtracking, like a PEG: a term is
//! a boolean operator, a paren group, a filter or free text, tried in that order. Results are
//! memoised per position (packrat), so backtracking stays polynomial, and nesting is bounded
//! by [`MAX_DEPTH`] so the stack cannot overflow. Only syntax is decided here; key types and
//! value conversion (and the errors they raise) belong to `visit`.

use std::collections::HashMap;

use super::raw::{RawFilter, RawKey, RawTerm};
use super::values::is_end_value;
use super::SearchError;

mod values;

/// Maximum nesting of parentheses (groups and parenthesised free text).
pub(crate) const MAX_DEPTH: usize = 64;

pub(crate) fn parse_terms(src: &str) -> Result<Vec<RawTerm>, SearchError> {
    let mut p = Parser::new(src);
    let mut pos = p.spaces(0);
    let mut terms = Vec::new();
    while pos < p.b.len() {
        match p.term(pos) {
            Some((t, end)) if end > pos => {
                terms.push(t);
                pos = end;
            }
            _ => break,
        }
    }
    if p.too_deep {
        return Err(SearchError::new(
            format!("Parse error: parentheses are nested more than {MAX_DEPTH} levels deep"),
            None,
        ));
    }
    if pos < p.b.len() {
        let snippet: String = src.get(pos..).unwrap_or("").chars().take(30).collect();
        let column = src.get(..pos).map_or(pos, |s| s.chars().count()) + 1;
        return Err(SearchError::new(
            format!(
                "Parse error at '{snippet}' (column {column}). This is commonly caused by unmatched parentheses. Enclose any text in double quotes."
            ),
            Some(pos),
        ));
    }
    Ok(terms)
}

/// Parses `s` as exactly one filter key (simple, with optional `[*]`, or explicit tag).
pub(crate) fn exact_key(s: &str) -> Option<String> {
    let mut p = Parser::new(s);
    match p.key(0)? {
        (RawKey::Simple(k), end) | (RawKey::Tag(k), end) if end == s.len() => Some(k),
        _ => None,
    }
}

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-')
}

fn is_quoted_key_byte(c: u8) -> bool {
    is_key_byte(c) || c == b':'
}

/// True if `s` is a valid quoted-key body.
pub(crate) fn is_quoted_key_body(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_quoted_key_byte)
}

/// Characters allowed in an unquoted list item.
fn is_in_value_byte(c: u8) -> bool {
    !matches!(c, b'(' | b')' | b',' | b' ')
}

struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    term_memo: HashMap<usize, Option<(RawTerm, usize)>>,
    filter_memo: HashMap<usize, Option<(RawFilter, usize)>>,
    free_memo: HashMap<usize, Option<usize>>,
    parens_memo: HashMap<usize, Option<usize>>,
    depth: usize,
    too_deep: bool,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser {
            src,
            b: src.as_bytes(),
            term_memo: HashMap::new(),
            filter_memo: HashMap::new(),
            free_memo: HashMap::new(),
            parens_memo: HashMap::new(),
            depth: 0,
            too_deep: false,
        }
    }

    fn at(&self, p: usize) -> Option<u8> {
        self.b.get(p).copied()
    }

    fn slice(&self, a: usize, z: usize) -> &'a str {
        self.src.get(a..z).unwrap_or("")
    }

    fn starts_with(&self, p: usize, s: &str) -> bool {
        self.b.get(p..).is_some_and(|r| r.starts_with(s.as_bytes()))
    }

    /// After a first item ending at `q`: `(spaces , spaces item?)*`, each item (or `None` for
    /// an empty one) passed to `each`; stops before a `,,` (an error its caller reports).
    /// Returns where the last item (or comma) ended.
    fn more_items<T>(&self, mut q: usize, item: impl Fn(&Self, usize) -> Option<(T, usize)>, mut each: impl FnMut(Option<T>)) -> usize {
        loop {
            let c = self.spaces(q);
            if self.at(c) != Some(b',') {
                return q;
            }
            let n = self.spaces(c + 1);
            if self.at(n) == Some(b',') {
                return q;
            }
            match item(self, n) {
                Some((it, e)) => {
                    each(Some(it));
                    q = e;
                }
                None => {
                    each(None);
                    q = n;
                }
            }
        }
    }

    fn spaces(&self, mut p: usize) -> usize {
        while self.at(p) == Some(b' ') {
            p += 1;
        }
        p
    }

    fn enter(&mut self) -> bool {
        if self.depth >= MAX_DEPTH {
            self.too_deep = true;
            return false;
        }
        self.depth += 1;
        true
    }

    /// `AND` / `OR` (case-insensitive) followed by end-of-value.
    fn bool_op(&self, p: usize) -> Option<(bool, usize)> {
        for (word, is_and) in [("and", true), ("or", false)] {
            let end = p + word.len();
            if self.b.get(p..end).is_some_and(|w| w.eq_ignore_ascii_case(word.as_bytes())) && is_end_value(self.src, end) {
                return Some((is_and, end));
            }
        }
        None
    }

    fn term(&mut self, p: usize) -> Option<(RawTerm, usize)> {
        if let Some(r) = self.term_memo.get(&p) {
            return r.clone();
        }
        let r = self.term_uncached(p);
        self.term_memo.insert(p, r.clone());
        r
    }

    fn term_uncached(&mut self, p: usize) -> Option<(RawTerm, usize)> {
        self.at(p)?;
        if let Some((is_and, end)) = self.bool_op(p) {
            let t = if is_and { RawTerm::And(p) } else { RawTerm::Or(p) };
            return Some((t, self.spaces(end)));
        }
        if self.at(p) == Some(b'(') {
            if let Some((items, end)) = self.paren_group(p) {
                let text = self.slice(p, end).to_string();
                return Some((RawTerm::Group { items, text, pos: p }, self.spaces(end)));
            }
        }
        if let Some((f, end)) = self.filter(p) {
            return Some((RawTerm::Filter(f), self.spaces(end)));
        }
        if let Some((text, end)) = self.quoted(p) {
            let text = text.replace("\\\"", "\"");
            return Some((RawTerm::FreeText { text, pos: p }, self.spaces(end)));
        }
        let end = self.free_unquoted(p)?;
        let text = self.slice(p, end).trim_matches(' ').to_string();
        Some((RawTerm::FreeText { text, pos: p }, end))
    }

    /// `( spaces term+ )`.
    fn paren_group(&mut self, p: usize) -> Option<(Vec<RawTerm>, usize)> {
        if !self.enter() {
            return None;
        }
        let mut q = self.spaces(p + 1);
        let mut items = Vec::new();
        while let Some((t, end)) = self.term(q) {
            if end <= q {
                break;
            }
            items.push(t);
            q = end;
        }
        self.depth -= 1;
        (!items.is_empty() && self.at(q) == Some(b')')).then_some((items, q + 1))
    }

    /// `"…"` with `\"` escapes: (body with escapes kept, end).
    fn quoted(&self, p: usize) -> Option<(&'a str, usize)> {
        if self.at(p) != Some(b'"') {
            return None;
        }
        let mut i = p + 1;
        loop {
            match self.at(i)? {
                b'\\' if self.at(i + 1) == Some(b'"') => i += 2,
                b'"' => return Some((self.slice(p + 1, i), i + 1)),
                _ => i += 1,
            }
        }
    }

    /// Unquoted free text: words and balanced parens, each not starting a filter or boolean
    /// operator, with the spaces between them. Returns the end (after trailing spaces).
    fn free_unquoted(&mut self, p: usize) -> Option<usize> {
        if let Some(r) = self.free_memo.get(&p) {
            return *r;
        }
        let mut q = p;
        let mut any = false;
        while q < self.b.len() {
            if self.filter_end(q).is_some() || self.bool_op(q).is_some() {
                break;
            }
            if self.at(q) == Some(b'(') {
                match self.free_parens(q) {
                    Some(e) => q = e,
                    None => break,
                }
            } else {
                let n = self
                    .b
                    .get(q..)
                    .unwrap_or(&[])
                    .iter()
                    .take_while(|c| !matches!(c, b'(' | b')' | b' '))
                    .count();
                if n == 0 {
                    break;
                }
                q += n;
            }
            any = true;
            q = self.spaces(q);
        }
        let r = any.then_some(q);
        self.free_memo.insert(p, r);
        r
    }

    /// `( free_text? )` inside free text.
    fn free_parens(&mut self, p: usize) -> Option<usize> {
        if let Some(r) = self.parens_memo.get(&p) {
            return *r;
        }
        if !self.enter() {
            return None;
        }
        let inner = p + 1;
        let after = match self.quoted(inner) {
            Some((_, e)) => e,
            None => self.free_unquoted(inner).unwrap_or(inner),
        };
        self.depth -= 1;
        let r = (self.at(after) == Some(b')')).then_some(after + 1);
        self.parens_memo.insert(p, r);
        r
    }

    fn filter_end(&mut self, p: usize) -> Option<usize> {
        if !self.filter_memo.contains_key(&p) {
            let r = self.filter_uncached(p);
            self.filter_memo.insert(p, r);
        }
        self.filter_memo.get(&p).and_then(|r| r.as_ref().map(|(_, e)| *e))
    }

    fn filter(&mut self, p: usize) -> Option<(RawFilter, usize)> {
        self.filter_end(p)?;
        self.filter_memo.get(&p).cloned().flatten()
    }

    /// `[!]KEY:VALUE` (syntax only).
    fn filter_uncached(&mut self, pos: usize) -> Option<(RawFilter, usize)> {
        let negated = self.at(pos) == Some(b'!');
        let p = pos + usize::from(negated);
        let (key, p) = self.key(p)?;
        if self.at(p) != Some(b':') {
            return None;
        }
        let p = p + 1;
        let (wildcard, value, end) = if matches!(key, RawKey::Aggregate { .. }) {
            let (value, end) = self.aggregate_value(p)?;
            (None, value, end)
        } else {
            self.value(p)
        };
        Some((
            RawFilter {
                pos,
                negated,
                key,
                wildcard,
                value,
            },
            end,
        ))
    }

    fn key(&mut self, p: usize) -> Option<(RawKey, usize)> {
        if self.at(p) == Some(b'"') {
            let n = self.b.get(p + 1..)?.iter().take_while(|c| is_quoted_key_byte(**c)).count();
            let end = p + 1 + n;
            return (n > 0 && self.at(end) == Some(b'"')).then(|| (RawKey::Quoted(self.slice(p + 1, end).to_string()), end + 1));
        }
        if let Some((k, end)) = self.explicit_tag(p) {
            return Some((RawKey::Tag(k), end));
        }
        let n = self.b.get(p..)?.iter().take_while(|c| is_key_byte(**c)).count();
        if n == 0 {
            return None;
        }
        let name = self.slice(p, p + n);
        let mut q = p + n;
        if self.at(q) == Some(b'(') {
            return self.aggregate_key(name, q);
        }
        if self.starts_with(q, "[*]") {
            q += 3;
        }
        Some((RawKey::Simple(name.to_string()), q))
    }

    /// `tags[NAME]`, `tags[NAME,TYPE]` (spaces around the comma), `flags[...]`, with an
    /// optional trailing `[*]`; also the older `tags[NAME[*],array]` form.
    fn explicit_tag(&self, p: usize) -> Option<(String, usize)> {
        let (prefix, types): (&str, &[&str]) = if self.starts_with(p, "tags[") {
            ("tags", &["string", "number", "boolean", "array"])
        } else if self.starts_with(p, "flags[") {
            ("flags", &["string", "number"])
        } else {
            return None;
        };
        let mut q = p + prefix.len() + 1;
        let n = self.b.get(q..)?.iter().take_while(|c| is_quoted_key_byte(**c)).count();
        if n == 0 {
            return None;
        }
        let name = self.slice(q, q + n);
        q += n;
        let old_array = self.starts_with(q, "[*]");
        if old_array {
            q += 3;
        }
        let mut ty = None;
        let c = self.spaces(q);
        if self.at(c) == Some(b',') {
            let t0 = self.spaces(c + 1);
            let t = types.iter().find(|t| self.starts_with(t0, t))?;
            ty = Some(*t);
            q = self.spaces(t0 + t.len());
        }
        if self.at(q) != Some(b']') || (old_array && ty != Some("array")) {
            return None;
        }
        q += 1;
        if self.starts_with(q, "[*]") {
            q += 3;
        }
        let key = match ty {
            Some(t) => format!("{prefix}[{name},{t}]"),
            None => format!("{prefix}[{name}]"),
        };
        Some((key, q))
    }

    /// `name( [param (, param?)*] )`, normalised to `name(a, b)`.
    fn aggregate_key(&mut self, name: &str, open: usize) -> Option<(RawKey, usize)> {
        let mut q = self.spaces(open + 1);
        let mut args = Vec::new();
        let mut empty_param = false;
        if let Some((a, e)) = self.aggregate_param(q) {
            args.push(a);
            q = self.more_items(e, Self::aggregate_param, |param| match param {
                Some(a) => args.push(a),
                None => empty_param = true,
            });
        }
        q = self.spaces(q);
        if self.at(q) != Some(b')') {
            return None;
        }
        let name = format!("{name}({})", args.join(", "));
        Some((RawKey::Aggregate { name, empty_param }, q + 1))
    }

    /// A quoted argument (kept as written), an explicit tag key, or `[^()\t\n, "]+`.
    fn aggregate_param(&self, p: usize) -> Option<(String, usize)> {
        if self.at(p) == Some(b'"') {
            let mut i = p + 1;
            loop {
                match self.at(i)? {
                    b'\\' if self.at(i + 1) == Some(b'"') => i += 2,
                    b'"' => return Some((self.slice(p, i + 1).to_string(), i + 1)),
                    b'\t' | b'\n' => return None,
                    _ => i += 1,
                }
            }
        }
        if let Some(r) = self.explicit_tag(p) {
            return Some(r);
        }
        let n = self
            .b
            .get(p..)?
            .iter()
            .take_while(|c| !matches!(c, b'(' | b')' | b'\t' | b'\n' | b',' | b' ' | b'"'))
            .count();
        (n > 0).then(|| (self.slice(p, p + n).to_string(), p + n))
    }
}
