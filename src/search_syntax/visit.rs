//! Typing: raw terms → filters, using the config's key types (search-syntax.md §3).

use super::config::{KeyType, SearchConfig};
use super::raw::{typed_shape, ListItem, RawFilter, RawKey, RawTerm, RawValue, WildcardOp};
use super::syntax::{exact_key, is_quoted_key_body};
use super::values::{
    boolean_shape, duration_shape, iso_date_shape, iso_to_micros, numeric_shape, parse_duration, parse_numeric, parse_size,
    percentage_shape, rel_date_shape, size_shape, unescape_quotes, unescaped_quote, unit_text, DAY_MICROS, MICROS_PER_SECOND,
};
use super::{Operator, QueryItem, SearchError, SearchFilter, SearchValue};

const INVALID_NUMBER: &str = "Expected number then optional k, m, or b suffix (e.g. 500k).";
const INVALID_DURATION: &str = "Invalid duration. Expected number followed by duration unit suffix (e.g. 500ms, 1.5s, 2min).";
const INVALID_SIZE: &str = "Invalid size. Expected number followed by size unit suffix (e.g. 500kb, 1.5gib).";
const INVALID_BOOLEAN: &str = "Invalid boolean. Expected true, 1, false, or 0.";
const INVALID_DATE: &str = "Expected +/-duration (e.g. +1h) or ISO 8601-like (e.g. 2024-01-01 or 2024-01-01T12:00:00).";
const BOOLEAN_NOT_ALLOWED: &str = "Boolean statements containing \"OR\" or \"AND\" are not supported in this search";
const EMPTY_LIST_ITEM: &str = "Lists should not have empty values";
const MAX_REGEX_CHARS: usize = 64;

type Result<T> = std::result::Result<T, SearchError>;

pub(crate) fn visit_terms(terms: Vec<RawTerm>, cfg: &SearchConfig, now_micros: i64) -> Result<Vec<QueryItem>> {
    let v = Visitor { cfg, now: now_micros };
    let mut out = Vec::new();
    for t in terms {
        v.term(t, &mut out)?;
    }
    Ok(out)
}

struct Visitor<'c> {
    cfg: &'c SearchConfig,
    now: i64,
}

fn push(out: &mut Vec<QueryItem>, key: &str, operator: Operator, value: SearchValue) {
    out.push(QueryItem::Filter(SearchFilter {
        key: key.to_string(),
        operator,
        value,
        aggregate: false,
        position: 0,
    }));
}

fn apply_wildcard(w: Option<WildcardOp>, v: String) -> String {
    let Some(w) = w else { return v };
    let esc = v.replace('*', "\\*");
    match w {
        WildcardOp::Contains => format!("*{esc}*"),
        WildcardOp::StartsWith => format!("{esc}*"),
        WildcardOp::EndsWith => format!("*{esc}"),
    }
}

/// An unquoted value: reject unescaped quotes, then unescape `\"`.
fn unquoted_text(token: &str, pos: usize) -> Result<String> {
    if unescaped_quote(token).is_some() {
        return Err(SearchError::new(
            format!("Invalid quote at '{token}': quotes must enclose text or be escaped."),
            Some(pos),
        ));
    }
    Ok(unescape_quotes(token))
}

fn item_text(item: &ListItem, pos: usize) -> Result<String> {
    if item.quoted {
        Ok(unescape_quotes(&item.text))
    } else {
        unquoted_text(&item.text, pos)
    }
}

fn list_items(items: &[Option<ListItem>], pos: usize) -> Result<Vec<&ListItem>> {
    items
        .iter()
        .map(|i| i.as_ref().ok_or_else(|| SearchError::new(EMPTY_LIST_ITEM, Some(pos))))
        .collect()
}

fn with_negation(op: Option<Operator>, negated: bool) -> Operator {
    let op = op.unwrap_or(Operator::Eq);
    if negated {
        op.negate()
    } else {
        op
    }
}

impl Visitor<'_> {
    /// Visits one term and stamps the filters it produced with the term's position.
    fn term(&self, t: RawTerm, out: &mut Vec<QueryItem>) -> Result<()> {
        let position = match &t {
            RawTerm::And(pos) | RawTerm::Or(pos) | RawTerm::Group { pos, .. } | RawTerm::FreeText { pos, .. } => *pos,
            RawTerm::Filter(f) => f.pos,
        };
        let before = out.len();
        self.term_items(t, out)?;
        for item in &mut out[before..] {
            if let QueryItem::Filter(f) = item {
                f.position = position;
            }
        }
        Ok(())
    }

    fn term_items(&self, t: RawTerm, out: &mut Vec<QueryItem>) -> Result<()> {
        match t {
            RawTerm::And(pos) | RawTerm::Or(pos) if !self.cfg.allow_boolean => Err(SearchError::new(BOOLEAN_NOT_ALLOWED, Some(pos))),
            RawTerm::And(_) => {
                out.push(QueryItem::And);
                Ok(())
            }
            RawTerm::Or(_) => {
                out.push(QueryItem::Or);
                Ok(())
            }
            RawTerm::Group { items, text, .. } => {
                let mut inner = Vec::new();
                for i in items {
                    self.term(i, &mut inner)?;
                }
                if !self.cfg.allow_boolean {
                    // Without booleans a group is not an error: its text is free text.
                    self.free_text(text, out);
                } else if !inner.is_empty() {
                    out.push(QueryItem::Group(inner));
                }
                Ok(())
            }
            RawTerm::FreeText { text, .. } => {
                self.free_text(text, out);
                Ok(())
            }
            RawTerm::Filter(f) => self.filter(f, out),
        }
    }

    fn free_text(&self, text: String, out: &mut Vec<QueryItem>) {
        if text.is_empty() {
            return;
        }
        let value = if self.cfg.wildcard_free_text { format!("*{text}*") } else { text };
        push(out, &self.cfg.free_text_key, Operator::Eq, SearchValue::Text(value));
    }

    fn check_key(&self, key: &str, pos: usize) -> Result<()> {
        self.cfg.check_key(key).map_err(|m| SearchError::new(m, Some(pos)))
    }

    fn filter(&self, f: RawFilter, out: &mut Vec<QueryItem>) -> Result<()> {
        let pos = f.pos;
        match &f.key {
            RawKey::Aggregate { name, empty_param } => {
                if *empty_param {
                    return Err(SearchError::new("Function parameters should not have empty values", Some(pos)));
                }
                self.check_key(name, pos)?;
                let RawValue::Unquoted { op, token } = &f.value else {
                    return Err(SearchError::new(format!("Invalid aggregate query condition: {name}"), Some(pos)));
                };
                let mut filters = Vec::new();
                self.aggregate(name, f.negated, *op, token, pos, &mut filters)?;
                out.extend(filters);
                Ok(())
            }
            RawKey::Simple(k) if k == "has" && f.wildcard.is_none() => self.has(&f, out),
            RawKey::Simple(k) if k == "is" && f.wildcard.is_none() => self.is(&f, out),
            RawKey::Simple(k) | RawKey::Quoted(k) => {
                let key = self.cfg.map_key(k);
                self.check_key(&key, pos)?;
                self.typed(&key, self.cfg.key_type(&key), &f, out)
            }
            RawKey::Tag(k) => {
                self.check_key(k, pos)?;
                self.typed(k, KeyType::Text, &f, out)
            }
        }
    }

    fn typed(&self, key: &str, ty: KeyType, f: &RawFilter, out: &mut Vec<QueryItem>) -> Result<()> {
        let pos = f.pos;
        let err = |m: String| Err(SearchError::new(m, Some(pos)));
        if !matches!(ty, KeyType::Text | KeyType::TextOperator) && (f.wildcard.is_some() || matches!(f.value, RawValue::Regex(_))) {
            return err(format!("{key}: wildcard and regex values are only supported on text keys"));
        }
        let list_op = if f.negated { Operator::NotIn } else { Operator::In };
        match ty {
            KeyType::Text | KeyType::TextOperator => self.text(key, ty, f, out),
            KeyType::Numeric | KeyType::Duration | KeyType::Size | KeyType::Percentage => {
                let convert = |t: &str| -> Result<f64> {
                    match ty {
                        KeyType::Duration => duration_or_number(key, t, pos),
                        KeyType::Size => size_or_number(key, t, pos),
                        _ => number(key, t, pos),
                    }
                };
                match &f.value {
                    RawValue::List(items) => {
                        let mut values = Vec::new();
                        for item in list_items(items, pos)? {
                            if item.quoted {
                                return err(format!("{key}: Invalid number: \"{}\". {INVALID_NUMBER}", item.text));
                            }
                            values.push(convert(&item.text)?);
                        }
                        push(out, key, list_op, SearchValue::NumberList(values));
                    }
                    RawValue::Unquoted { op, token } => {
                        let v = convert(token)?;
                        push(out, key, with_negation(*op, f.negated), SearchValue::Number(v));
                    }
                    RawValue::Quoted { text, .. } => return err(invalid_for_type(key, ty, &format!("\"{text}\""))),
                    RawValue::Regex(p) => return err(invalid_for_type(key, ty, p)),
                }
                Ok(())
            }
            KeyType::Boolean => match &f.value {
                RawValue::Unquoted { op: None, token } if boolean_shape(token).is_some_and(|s| s.1 == token.len()) => {
                    let v = boolean_shape(token).is_some_and(|s| s.0);
                    push(out, key, Operator::Eq, SearchValue::Boolean(v != f.negated));
                    Ok(())
                }
                _ => err(format!("{key}: {INVALID_BOOLEAN}")),
            },
            KeyType::Date => match &f.value {
                RawValue::Unquoted { op, token } => {
                    let mut filters = Vec::new();
                    self.date(key, f.negated, *op, token, false, pos, &mut filters)?;
                    out.extend(filters);
                    Ok(())
                }
                _ => err(format!("{key}: Invalid date. {INVALID_DATE}")),
            },
        }
    }

    fn text(&self, key: &str, ty: KeyType, f: &RawFilter, out: &mut Vec<QueryItem>) -> Result<()> {
        let pos = f.pos;
        let eq = if f.negated { Operator::Ne } else { Operator::Eq };
        let (op, value) = match &f.value {
            RawValue::Regex(p) => {
                if self.cfg.allow_regex {
                    if p.chars().count() > MAX_REGEX_CHARS {
                        return Err(SearchError::new(
                            format!(
                                "Regex patterns are limited to {MAX_REGEX_CHARS} characters. To search for a literal value that looks like a regex, wrap it in quotes."
                            ),
                            Some(pos),
                        ));
                    }
                    push(out, key, eq, SearchValue::Regex(p.clone()));
                    return Ok(());
                }
                (None, format!("//{p}//"))
            }
            RawValue::List(items) => {
                let mut values = Vec::new();
                for item in list_items(items, pos)? {
                    values.push(apply_wildcard(f.wildcard, item_text(item, pos)?));
                }
                let op = if f.negated { Operator::NotIn } else { Operator::In };
                push(out, key, op, SearchValue::TextList(values));
                return Ok(());
            }
            RawValue::Quoted { op, text } => (*op, unescape_quotes(text)),
            RawValue::Unquoted { op, token } => {
                if token.is_empty() {
                    return Err(SearchError::new(format!("Empty string after '{key}:'"), Some(pos)));
                }
                (*op, unquoted_text(token, pos)?)
            }
        };
        let (operator, value) = if ty == KeyType::TextOperator && f.wildcard.is_none() {
            (with_negation(op, f.negated), value)
        } else {
            match op {
                None | Some(Operator::Eq) | Some(Operator::Ne) => (with_negation(op, f.negated), value),
                // Comparison operators on text keys are part of the value.
                Some(o) => (eq, format!("{}{value}", o.as_str())),
            }
        };
        push(out, key, operator, SearchValue::Text(apply_wildcard(f.wildcard, value)));
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn date(
        &self,
        key: &str,
        negated: bool,
        op: Option<Operator>,
        token: &str,
        aggregate: bool,
        pos: usize,
        out: &mut Vec<QueryItem>,
    ) -> Result<()> {
        let err = |m: String| Err(SearchError::new(m, Some(pos)));
        let mut emit = |operator: Operator, micros: i64| {
            out.push(QueryItem::Filter(SearchFilter {
                key: key.to_string(),
                operator,
                value: SearchValue::DateTime(micros),
                aggregate,
                position: 0,
            }));
        };
        if let Some((d, len)) = iso_date_shape(token).filter(|s| s.1 == token.len()) {
            let _ = len;
            let Some(t) = iso_to_micros(&d) else {
                return err(format!("{key}: {token} is not a valid ISO8601 date query"));
            };
            match op {
                Some(o) => emit(with_negation(Some(o), negated), t),
                None if negated => {
                    return err(format!(
                        "{key}: negation is not supported for a specific date ({token}); use a comparison"
                    ))
                }
                None => {
                    let (start, end) = if d.time.is_some() {
                        (t - 5 * 60 * MICROS_PER_SECOND, t + 6 * 60 * MICROS_PER_SECOND)
                    } else {
                        (t, t + DAY_MICROS)
                    };
                    emit(Operator::Gte, start);
                    emit(Operator::Lt, end);
                }
            }
            return Ok(());
        }
        if op.is_none() {
            if let Some((plus, secs, _)) = rel_date_shape(token).filter(|s| s.2 == token.len()) {
                let Some(t) = secs
                    .and_then(|s| s.checked_mul(MICROS_PER_SECOND))
                    .and_then(|us| self.now.checked_sub(us))
                else {
                    return err(format!("{key}: {token} is too far in the past"));
                };
                // `-N` means within the last N; `+N` means older than N.
                let o = if plus { Operator::Lte } else { Operator::Gte };
                emit(with_negation(Some(o), negated), t);
                return Ok(());
            }
        }
        let shown = format!("{}{token}", op.map_or("", Operator::as_str));
        err(format!("{key}: Invalid date: {shown}. {INVALID_DATE}"))
    }

    fn aggregate(&self, name: &str, negated: bool, op: Option<Operator>, token: &str, pos: usize, out: &mut Vec<QueryItem>) -> Result<()> {
        let ty = self.cfg.aggregate_type(name);
        if ty == KeyType::Date {
            return self.date(name, negated, op, token, true, pos, out);
        }
        let fail = |detail: String| SearchError::new(format!("Invalid aggregate query condition: {name}: {detail}"), Some(pos));
        let value = if let Some((num, factor, len)) = duration_shape(token) {
            match ty {
                KeyType::Duration => parse_duration(num, factor).map_err(fail)?,
                KeyType::Size => return Err(fail(INVALID_SIZE.to_string())),
                // Duration syntax overrides numbers; reread the unit as a number suffix.
                _ => parse_numeric(num, unit_text(token, num.len(), len)).map_err(fail)?,
            }
        } else if let Some((v, _)) = percentage_shape(token) {
            if matches!(ty, KeyType::Duration | KeyType::Size) {
                return Err(fail(format!("{token} is not a valid value for this aggregate")));
            }
            v / 100.0
        } else if let Some((num, suffix, _)) = numeric_shape(token) {
            parse_numeric(num, suffix).map_err(fail)?
        } else if let Some((num, factor, _)) = size_shape(token) {
            if ty != KeyType::Size {
                return Err(fail(format!("{token} is not a valid value for this aggregate")));
            }
            parse_size(num, factor).map_err(fail)?
        } else {
            return Err(fail(format!("{token} is not a valid value for this aggregate")));
        };
        out.push(QueryItem::Filter(SearchFilter {
            key: name.to_string(),
            operator: with_negation(op, negated),
            value: SearchValue::Number(value),
            aggregate: true,
            position: 0,
        }));
        Ok(())
    }

    /// `[!]has:KEY` → `KEY != ""` (`= ""` when negated); `has:[a, b]` → `a OR b`.
    fn has(&self, f: &RawFilter, out: &mut Vec<QueryItem>) -> Result<()> {
        let pos = f.pos;
        if is_typed_value(&f.value) {
            // The typed alternatives come first in the grammar: `has:1` is the text `has = "1"`.
            return self.typed("has", KeyType::Text, f, out);
        }
        let bad = || SearchError::new("Invalid format for \"has\" search: was expecting a field or tag instead", Some(pos));
        let one = |unquoted: &str, quoted: bool| -> Result<String> {
            let k = if quoted {
                is_quoted_key_body(unquoted).then(|| unquoted.to_string())
            } else {
                exact_key(unquoted)
            };
            k.map(|k| self.cfg.map_key(&k)).ok_or_else(bad)
        };
        let keys = match &f.value {
            RawValue::Unquoted { op: None, token } => vec![one(token, false)?],
            RawValue::Quoted { op: None, text } => vec![one(text, true)?],
            RawValue::List(items) => {
                let mut keys = Vec::new();
                for item in list_items(items, pos)? {
                    keys.push(one(&item.text, item.quoted)?);
                }
                keys
            }
            _ => return Err(bad()),
        };
        let operator = if f.negated { Operator::Eq } else { Operator::Ne };
        let mut filters = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            self.check_key(k, pos)?;
            if i > 0 {
                filters.push(if f.negated { QueryItem::And } else { QueryItem::Or });
            }
            push(&mut filters, k, operator, SearchValue::Text(String::new()));
        }
        if filters.len() == 1 {
            out.extend(filters);
        } else if !self.cfg.allow_boolean {
            return Err(SearchError::new(BOOLEAN_NOT_ALLOWED, Some(pos)));
        } else {
            out.push(QueryItem::Group(filters));
        }
        Ok(())
    }

    /// `[!]is:VALUE` through the config's translations.
    fn is(&self, f: &RawFilter, out: &mut Vec<QueryItem>) -> Result<()> {
        let pos = f.pos;
        if is_typed_value(&f.value) {
            return self.typed("is", KeyType::Text, f, out);
        }
        let translations = &self.cfg.is_filter_translation;
        if translations.is_empty() {
            return Err(SearchError::new("\"is:\" queries are not supported in this search.", Some(pos)));
        }
        let raw = match &f.value {
            RawValue::List(_) => return Err(SearchError::new("\"in\" syntax invalid for \"is\" search", Some(pos))),
            RawValue::Regex(p) => format!("//{p}//"),
            RawValue::Quoted { op, text } => format!("{}{}", op.map_or("", Operator::as_str), unescape_quotes(text)),
            RawValue::Unquoted { op, token } => {
                if op.is_none() && token.is_empty() {
                    return Err(SearchError::new("Empty string after 'is:'", Some(pos)));
                }
                format!("{}{}", op.map_or("", Operator::as_str), unquoted_text(token, pos)?)
            }
        };
        let Some((key, value)) = translations.get(&raw) else {
            let valid: Vec<&str> = translations.keys().map(String::as_str).collect();
            return Err(SearchError::new(
                format!("Invalid value for \"is\" search, valid values are [{}]", valid.join(", ")),
                Some(pos),
            ));
        };
        let operator = if f.negated { Operator::Ne } else { Operator::Eq };
        push(out, key, operator, value.clone());
        Ok(())
    }
}

/// Values that a typed grammar alternative (date, duration, size, boolean, number, numeric
/// list) would match before `has:`/`is:`.
fn is_typed_value(v: &RawValue) -> bool {
    match v {
        RawValue::Unquoted { op, token } => typed_shape(*op, token),
        RawValue::List(items) => items.iter().all(|i| {
            i.as_ref()
                .is_some_and(|i| !i.quoted && numeric_shape(&i.text).is_some_and(|s| s.2 == i.text.len()))
        }),
        _ => false,
    }
}

fn invalid_for_type(key: &str, ty: KeyType, shown: &str) -> String {
    match ty {
        KeyType::Duration => format!("{key}: {INVALID_DURATION}"),
        KeyType::Size => format!("{key}: {INVALID_SIZE}"),
        _ => format!("{key}: Invalid number: {shown}. {INVALID_NUMBER}"),
    }
}

/// A number with an optional `k`/`m`/`b` suffix (numeric keys).
fn number(key: &str, t: &str, pos: usize) -> Result<f64> {
    let invalid = || SearchError::new(invalid_for_type(key, KeyType::Numeric, t), Some(pos));
    if t.is_empty() {
        return Err(SearchError::new(format!("Empty string after '{key}:'"), Some(pos)));
    }
    let n = t.bytes().take_while(|c| c.is_ascii_digit() || *c == b'.' || *c == b'-').count();
    let (num, suffix) = (t.get(..n).ok_or_else(invalid)?, t.get(n..).ok_or_else(invalid)?);
    if num.is_empty() || super::values::parse_strict_number(num).is_none() {
        return Err(invalid());
    }
    parse_numeric(num, suffix).map_err(|e| SearchError::new(format!("{key}: {e}"), Some(pos)))
}

fn duration_or_number(key: &str, t: &str, pos: usize) -> Result<f64> {
    if let Some((num, factor, len)) = duration_shape(t) {
        if len == t.len() {
            return parse_duration(num, factor).map_err(|e| SearchError::new(format!("{key}: {e}"), Some(pos)));
        }
    }
    if numeric_shape(t).is_some_and(|s| s.2 == t.len()) {
        return number(key, t, pos);
    }
    Err(SearchError::new(format!("{key}: {INVALID_DURATION}"), Some(pos)))
}

fn size_or_number(key: &str, t: &str, pos: usize) -> Result<f64> {
    if let Some((num, factor, len)) = size_shape(t) {
        if len == t.len() {
            return parse_size(num, factor).map_err(|e| SearchError::new(format!("{key}: {e}"), Some(pos)));
        }
    }
    if numeric_shape(t).is_some_and(|s| s.2 == t.len()) {
        return number(key, t, pos);
    }
    Err(SearchError::new(format!("{key}: {INVALID_SIZE}"), Some(pos)))
}
