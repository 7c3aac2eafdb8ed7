//! Filter values (search-syntax.md §2): operators, plain tokens, aggregate values, regexes,
//! lists and their items; the rest of the parser is in `syntax.rs`.

use super::{is_in_value_byte, Parser};
use crate::search_syntax::raw::{ListItem, RawValue, WildcardOp, WILDCARD_OPS};
use crate::search_syntax::values::{
    duration_shape, is_end_value, iso_date_shape, numeric_shape, percentage_shape, rel_date_shape, size_shape,
};
use crate::search_syntax::Operator;

impl<'a> Parser<'a> {
    pub(super) fn operator(&self, p: usize) -> (Option<Operator>, usize) {
        const OPS: &[(&str, Operator)] = &[
            (">=", Operator::Gte),
            ("<=", Operator::Lte),
            ("!=", Operator::Ne),
            (">", Operator::Gt),
            ("<", Operator::Lt),
            ("=", Operator::Eq),
        ];
        OPS.iter()
            .find(|(s, _)| self.starts_with(p, s))
            .map_or((None, 0), |(s, op)| (Some(*op), s.len()))
    }

    /// An unquoted value: `[^()\t\n ]*`.
    pub(super) fn token(&self, p: usize) -> &'a str {
        let n = self
            .b
            .get(p..)
            .unwrap_or(&[])
            .iter()
            .take_while(|c| !matches!(c, b'(' | b')' | b'\t' | b'\n' | b' '))
            .count();
        self.slice(p, p + n)
    }

    /// Aggregate values must have a number/duration/percentage/size/date shape.
    pub(super) fn aggregate_value(&self, p: usize) -> Option<(RawValue, usize)> {
        let (op, n) = self.operator(p);
        let token = self.token(p + n);
        let len = duration_shape(token)
            .map(|s| s.2)
            .or_else(|| percentage_shape(token).map(|s| s.1))
            .or_else(|| numeric_shape(token).map(|s| s.2))
            .or_else(|| size_shape(token).map(|s| s.2))
            .or_else(|| iso_date_shape(token).map(|s| s.1))
            .or_else(|| op.is_none().then(|| rel_date_shape(token).map(|s| s.2)).flatten())?;
        let token = token.get(..len)?.to_string();
        Some((RawValue::Unquoted { op, token }, p + n + len))
    }

    /// `[wildcard-op] ( //regex// | [list] | [OP] ("quoted" | token) )`.
    pub(super) fn value(&self, p: usize) -> (Option<WildcardOp>, RawValue, usize) {
        let mut p = p;
        let mut wildcard = None;
        if let Some((s, w)) = WILDCARD_OPS.iter().find(|(s, _)| self.starts_with(p, s)) {
            wildcard = Some(*w);
            p += s.len();
        }
        if wildcard.is_none() && self.starts_with(p, "//") {
            if let Some((pattern, end)) = self.regex(p) {
                return (None, RawValue::Regex(pattern.to_string()), end);
            }
        }
        if self.at(p) == Some(b'[') {
            if let Some((items, end)) = self.list(p) {
                return (wildcard, RawValue::List(items), end);
            }
        }
        let (op, n) = self.operator(p);
        let q = p + n;
        if let Some((text, end)) = self.quoted(q) {
            return (
                wildcard,
                RawValue::Quoted {
                    op,
                    text: text.to_string(),
                },
                end,
            );
        }
        let token = self.token(q);
        (
            wildcard,
            RawValue::Unquoted {
                op,
                token: token.to_string(),
            },
            q + token.len(),
        )
    }

    /// `//PATTERN//` ending at the first `//` followed by end-of-value; non-empty, one line.
    pub(super) fn regex(&self, p: usize) -> Option<(&'a str, usize)> {
        let start = p + 2;
        let mut j = start;
        while j + 1 < self.b.len() {
            match self.at(j)? {
                b'\n' => return None,
                b'/' if self.at(j + 1) == Some(b'/') && is_end_value(self.src, j + 2) => {
                    return (j > start).then(|| (self.slice(start, j), j + 2));
                }
                _ => j += 1,
            }
        }
        None
    }

    /// `[item (spaces , spaces item?)*]` followed by end-of-value.
    pub(super) fn list(&self, p: usize) -> Option<(Vec<Option<ListItem>>, usize)> {
        let (first, q) = self.list_item(p + 1)?;
        let mut items = vec![Some(first)];
        let q = self.more_items(q, Self::list_item, |item| items.push(item));
        (self.at(q) == Some(b']') && is_end_value(self.src, q + 1)).then_some((items, q + 1))
    }

    pub(super) fn in_value_end(&self, k: usize) -> bool {
        self.at(k) == Some(b']') || self.at(self.spaces(k)) == Some(b',')
    }

    /// From `k`, list characters run up to an item end (`]` or `,`).
    pub(super) fn reaches_item_end(&self, mut k: usize) -> bool {
        loop {
            if self.in_value_end(k) {
                return true;
            }
            match self.at(k) {
                Some(c) if is_in_value_byte(c) => k += 1,
                _ => return false,
            }
        }
    }

    /// A quoted item, or the longest run of list characters each of which still reaches an
    /// item end (so `[[h]]` has the item `[h]`).
    pub(super) fn list_item(&self, p: usize) -> Option<(ListItem, usize)> {
        if let Some((text, end)) = self.quoted(p) {
            return Some((
                ListItem {
                    text: text.to_string(),
                    quoted: true,
                },
                end,
            ));
        }
        let mut i = p;
        let mut reaches = false;
        while let Some(c) = self.at(i) {
            if !is_in_value_byte(c) {
                break;
            }
            let ok = if reaches && !self.in_value_end(i) {
                true
            } else {
                self.reaches_item_end(i + 1)
            };
            if !ok {
                break;
            }
            i += 1;
            reaches = true;
        }
        let text = self.src.get(p..i)?;
        (i > p).then(|| {
            (
                ListItem {
                    text: text.to_string(),
                    quoted: false,
                },
                i,
            )
        })
    }
}
