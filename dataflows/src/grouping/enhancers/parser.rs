//! Text form of stack-trace rules (grouping.md §13).
//!
//! One rule per line: `[ caller ] | matcher… | [ callee ] action… # comment`. A matcher is
//! `[!]key:argument`, the argument bare (up to whitespace) or `"quoted"` (no `"` inside);
//! `\\` in an argument stands for one backslash. Actions are flag actions
//! (`[^|v](+|-)(app|group|prefix|sentinel)`) or `name=value` variables (`max-frames`,
//! `min-frames`, `invert-stacktrace`, `category`).

use super::actions::{Action, FlagAction, FlagKind, Range, VarAction};
use super::matchers::{FrameOffset, Matcher};
use super::{EnhancerError, Rule};

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.s.len() - trimmed.len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.rest().is_empty() || self.rest().starts_with('#')
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Parse one non-empty, non-comment line.
pub fn parse_rule(line: &str) -> Result<Rule, EnhancerError> {
    let err = |message: &str| EnhancerError::Syntax {
        rule: line.to_owned(),
        message: message.to_owned(),
    };
    let mut cur = Cursor { s: line, pos: 0 };
    let mut matchers = Vec::new();

    // Caller: `[ m ] |`.
    let save = cur.pos;
    if cur.eat('[') {
        let m = parse_matcher(&mut cur, FrameOffset::Caller)?.ok_or_else(|| err("bad caller matcher"))?;
        if !cur.eat(']') || !cur.eat('|') {
            return Err(err("caller matcher must be `[ matcher ] |`"));
        }
        matchers.push(m);
    } else {
        cur.pos = save;
    }

    loop {
        cur.skip_ws();
        let save = cur.pos;
        if looks_like_action(cur.rest()) {
            break;
        }
        match parse_matcher(&mut cur, FrameOffset::None)? {
            Some(m) => matchers.push(m),
            None => {
                cur.pos = save;
                break;
            }
        }
    }
    if !matchers.iter().any(|m| m.offset() == FrameOffset::None) {
        return Err(err("a rule needs at least one matcher"));
    }

    // Callee: `| [ m ]`.
    let save = cur.pos;
    if cur.eat('|') {
        if !cur.eat('[') {
            return Err(err("callee matcher must be `| [ matcher ]`"));
        }
        let m = parse_matcher(&mut cur, FrameOffset::Callee)?.ok_or_else(|| err("bad callee matcher"))?;
        if !cur.eat(']') {
            return Err(err("unclosed callee matcher"));
        }
        matchers.push(m);
    } else {
        cur.pos = save;
    }

    let mut actions = Vec::new();
    while !cur.at_end() {
        let token_end = cur.rest().find(char::is_whitespace).unwrap_or(cur.rest().len());
        let mut token = &cur.rest()[..token_end];
        let mut consumed = token_end;
        // `name = value` may be spaced out.
        if !token.contains('=') && cur.rest()[token_end..].trim_start().starts_with('=') {
            let after_eq = cur.rest()[token_end..].trim_start()[1..].trim_start();
            let value_len = after_eq.find(char::is_whitespace).unwrap_or(after_eq.len());
            consumed = cur.rest().len() - after_eq.len() + value_len;
            token = &cur.rest()[..consumed];
        }
        actions.push(parse_action(token).ok_or_else(|| err(&format!("unknown action `{token}`")))?);
        cur.pos += consumed;
    }
    if actions.is_empty() {
        return Err(err("a rule needs at least one action"));
    }
    Ok(Rule::new(matchers, actions))
}

fn looks_like_action(s: &str) -> bool {
    let token = s.split(char::is_whitespace).next().unwrap_or("");
    if token.contains(':') {
        return false;
    }
    let var_names = ["max-frames", "min-frames", "invert-stacktrace", "category"];
    parse_action(token).is_some()
        || var_names
            .iter()
            .any(|v| token.starts_with(v) && !token[v.len()..].starts_with(|c: char| is_ident_char(c)))
}

/// `Ok(None)` when the input does not look like a matcher; an error when it does but names
/// an unknown key or carries a bad pattern.
fn parse_matcher(cur: &mut Cursor, offset: FrameOffset) -> Result<Option<Matcher>, EnhancerError> {
    match split_matcher(cur, offset) {
        None => Ok(None),
        Some((negated, key, arg, len)) => {
            let m = Matcher::new(negated, &key, &arg, offset)?;
            cur.pos += len;
            Ok(Some(m))
        }
    }
}

/// `(negated, key, argument, consumed bytes)` of a `[!]key:argument` at the cursor.
fn split_matcher(cur: &mut Cursor, offset: FrameOffset) -> Option<(bool, String, String, usize)> {
    cur.skip_ws();
    let rest = cur.rest();
    let mut i = 0;
    let negated = rest.starts_with('!');
    if negated {
        i += 1;
    }
    let key: String;
    if rest[i..].starts_with('"') {
        let close = rest[i + 1..].find('"')?;
        key = rest[i + 1..i + 1 + close].to_owned();
        i += close + 2;
    } else {
        let len = rest[i..].find(|c: char| !is_ident_char(c)).unwrap_or(rest.len() - i);
        if len == 0 {
            return None;
        }
        key = rest[i..i + len].to_owned();
        i += len;
    }
    if !rest[i..].starts_with(':') {
        return None;
    }
    i += 1;
    let arg: &str;
    if rest[i..].starts_with('"') {
        let close = rest[i + 1..].find('"')?;
        arg = &rest[i + 1..i + 1 + close];
        i += close + 2;
    } else {
        let len = rest[i..]
            .find(|c: char| c.is_whitespace() || (offset != FrameOffset::None && c == ']'))
            .unwrap_or(rest.len() - i);
        if len == 0 {
            return None;
        }
        arg = &rest[i..i + len];
        i += len;
    }
    Some((negated, key, arg.replace("\\\\", "\\"), i))
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "yes" | "true" => Some(true),
        "0" | "no" | "false" => Some(false),
        _ => None,
    }
}

fn parse_action(token: &str) -> Option<Action> {
    if let Some((name, value)) = token.split_once('=') {
        let (name, value) = (name.trim(), value.trim());
        return Some(Action::Var(match name {
            "max-frames" => VarAction::MaxFrames(value.parse().ok()?),
            "min-frames" => VarAction::MinFrames(value.parse().ok()?),
            "invert-stacktrace" => VarAction::InvertStacktrace(parse_bool(value)?),
            "category" if !value.is_empty() && value.chars().all(is_ident_char) => VarAction::Category(value.to_owned()),
            _ => return None,
        }));
    }
    let (range, rest) = match token.chars().next()? {
        '^' => (Some(Range::Up), &token[1..]),
        'v' => (Some(Range::Down), &token[1..]),
        _ => (None, token),
    };
    let (flag, name) = match rest.chars().next()? {
        '+' => (true, &rest[1..]),
        '-' => (false, &rest[1..]),
        _ => return None,
    };
    let kind = match name {
        "app" => FlagKind::App,
        "group" => FlagKind::Group,
        "prefix" => FlagKind::Prefix,
        "sentinel" => FlagKind::Sentinel,
        _ => return None,
    };
    Some(Action::Flag(FlagAction { flag, kind, range }))
}
