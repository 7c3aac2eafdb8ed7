//! Raw syntax tree produced by `syntax` and consumed by `visit`.

use super::values::{boolean_shape, duration_shape, iso_date_shape, numeric_shape, rel_date_shape, size_shape};
use super::Operator;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WildcardOp {
    Contains,
    StartsWith,
    EndsWith,
}

pub(crate) const WILDCARD_OPS: &[(&str, WildcardOp)] = &[
    ("\u{F00D}Contains\u{F00D}", WildcardOp::Contains),
    ("\u{F00D}StartsWith\u{F00D}", WildcardOp::StartsWith),
    ("\u{F00D}EndsWith\u{F00D}", WildcardOp::EndsWith),
];

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawKey {
    /// `[A-Za-z0-9_.-]+`, with a trailing `[*]` dropped.
    Simple(String),
    /// `"[A-Za-z0-9_.:-]+"` without the quotes.
    Quoted(String),
    /// `tags[NAME]` / `tags[NAME,TYPE]` / `flags[...]`, normalised.
    Tag(String),
    /// `name(a, b)`, normalised; `empty_param` when an argument was empty (`f(a,)`).
    Aggregate { name: String, empty_param: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListItem {
    /// Raw text: quotes removed for quoted items, escapes kept.
    pub text: String,
    pub quoted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawValue {
    /// `//PATTERN//`.
    Regex(String),
    /// `[a, "b", ]`; `None` marks an empty item.
    List(Vec<Option<ListItem>>),
    /// `[OP]"text"`; text without the quotes, escapes kept.
    Quoted { op: Option<Operator>, text: String },
    /// `[OP]token`; the token may be empty.
    Unquoted { op: Option<Operator>, token: String },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawFilter {
    pub pos: usize,
    pub negated: bool,
    pub key: RawKey,
    pub wildcard: Option<WildcardOp>,
    pub value: RawValue,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawTerm {
    And(usize),
    Or(usize),
    /// `( terms )`; `text` is the whole group as written.
    Group {
        items: Vec<RawTerm>,
        text: String,
        pos: usize,
    },
    /// Free text, already stripped (unquoted) or unescaped (quoted); may be empty.
    FreeText {
        text: String,
        pos: usize,
    },
    Filter(RawFilter),
}

/// Whether an unquoted token has one of the typed shapes that the grammar tries before `has:`
/// and `is:` (dates, relative dates, durations, sizes, booleans, numbers), covering it fully.
pub(crate) fn typed_shape(op: Option<Operator>, token: &str) -> bool {
    let whole = |len: usize| len == token.len();
    iso_date_shape(token).is_some_and(|s| whole(s.1))
        || (op.is_none() && rel_date_shape(token).is_some_and(|s| whole(s.2)))
        || duration_shape(token).is_some_and(|s| whole(s.2))
        || size_shape(token).is_some_and(|s| whole(s.2))
        || (op.is_none() && boolean_shape(token).is_some_and(|s| whole(s.1)))
        || numeric_shape(token).is_some_and(|s| whole(s.2))
}
