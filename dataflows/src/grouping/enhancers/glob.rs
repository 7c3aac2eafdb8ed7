//! Glob patterns of stack-trace rules, translated to anchored, case-insensitive regexes.
//!
//! The dialect is the one ophio (and Sentry before it) uses: `?`, `*`, `[...]` classes,
//! `{a,b}` alternatives and backslash escapes. For path-like keys `*` and `?` stop at `/`
//! and `**` crosses directories, but only as a whole path component (`**/x`, `x/**`,
//! `x/**/y`) or glued to other text (`**.app`). For other keys `*` matches anything.

use regex::Regex;

/// Translate `pattern` into a regex. `path_like` selects the separator-aware dialect.
pub fn glob_to_regex(pattern: &str, path_like: bool) -> Result<Regex, regex::Error> {
    let chars: Vec<char> = pattern.chars().collect();
    let any = if path_like { "[^/]" } else { "." };
    let mut out = String::from("(?si)^");
    let mut i = 0;
    let mut brace_depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' => {
                let double = chars.get(i + 1) == Some(&'*');
                if !double {
                    out.push_str(any);
                    out.push('*');
                    i += 1;
                    continue;
                }
                let at_start = i == 0;
                let after_sep = i > 0 && chars[i - 1] == '/';
                let next = chars.get(i + 2).copied();
                let before_sep_or_end = next.is_none_or(|n| n == '/');
                if !(at_start || after_sep) || !before_sep_or_end {
                    // Not a whole path component (`**.app/`): Sentry's older matcher let
                    // this cross directories too, and the rule files rely on it.
                    out.push_str(".*");
                    i += 2;
                    continue;
                }
                match (at_start, next.is_none()) {
                    (true, true) => {
                        out.push_str(".*");
                        i += 2;
                    }
                    (true, false) => {
                        out.push_str("(?:/?|.*/)");
                        i += 3;
                    }
                    (false, true) => {
                        // The separator before `**` was already emitted.
                        out.push_str(".*");
                        i += 2;
                    }
                    (false, false) => {
                        // `/**/`: the leading `/` is out already; match "/" or "/x/.../".
                        out.push_str("(?:|.*/)");
                        i += 3;
                    }
                }
            }
            '?' => {
                out.push_str(any);
                i += 1;
            }
            '[' => {
                let (class, next) = translate_class(&chars, i, path_like);
                out.push_str(&class);
                i = next;
            }
            '{' => {
                brace_depth += 1;
                out.push_str("(?:");
                i += 1;
            }
            '}' if brace_depth > 0 => {
                brace_depth -= 1;
                out.push(')');
                i += 1;
            }
            ',' if brace_depth > 0 => {
                out.push('|');
                i += 1;
            }
            '\\' => {
                match chars.get(i + 1) {
                    Some(&n) => push_literal(&mut out, n),
                    None => push_literal(&mut out, '\\'),
                }
                i += 2;
            }
            c => {
                push_literal(&mut out, c);
                i += 1;
            }
        }
    }
    for _ in 0..brace_depth {
        out.push(')');
    }
    out.push('$');
    Regex::new(&out)
}

fn push_literal(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
}

/// `[...]` starting at `start`; returns the regex class and the index after it. An unclosed
/// `[` is a literal.
fn translate_class(chars: &[char], start: usize, path_like: bool) -> (String, usize) {
    let mut i = start + 1;
    let mut negated = false;
    if matches!(chars.get(i), Some('!') | Some('^')) {
        negated = true;
        i += 1;
    }
    let mut items = Vec::new();
    // A `]` right after the opening is a member, not the end.
    if chars.get(i) == Some(&']') {
        items.push(']');
        i += 1;
    }
    while i < chars.len() && chars[i] != ']' {
        items.push(chars[i]);
        i += 1;
    }
    if i >= chars.len() {
        return (regex::escape("["), start + 1);
    }
    let mut class = String::from("[");
    if negated {
        class.push('^');
        if path_like {
            class.push('/');
        }
    }
    for (k, &c) in items.iter().enumerate() {
        // Keep `a-z` ranges; escape everything else.
        if c == '-' && k > 0 && k + 1 < items.len() {
            class.push('-');
        } else {
            class.push_str(&regex_class_escape(c));
        }
    }
    class.push(']');
    (class, i + 1)
}

/// Escape only what is special inside a regex class (escaping `<` or non-ASCII is an error).
fn regex_class_escape(c: char) -> String {
    if matches!(c, '\\' | ']' | '[' | '^' | '-' | '&' | '~') {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pat: &str, path: bool, s: &str) -> bool {
        glob_to_regex(pat, path).map(|r| r.is_match(s)).unwrap_or(false)
    }

    #[test]
    fn path_globs() {
        assert!(m("**/test.js", true, "/foo/test.js"));
        assert!(m("**/test.js", true, "test.js"));
        assert!(!m("*/test.js", true, "a/b/test.js"));
        assert!(m("/var/**/frameworks/**", true, "/var/containers/myapp/frameworks/libsomething"));
        assert!(!m("/var/**/Frameworks/**", true, "/var/containers/MyApp/MacOs/MyApp"));
        assert!(m("/usr/lib/**", true, "/usr/lib/x/y.so"));
        assert!(m("**/node_modules/**", true, "/a/node_modules/b.js"));
        assert!(m("?:/Windows/**", true, "d:/windows/system32/kernel32.dll"));
        assert!(m("linux-gate.so*", true, "linux-gate.so.1"));
        assert!(m("**.app/Contents/**", true, "/Applications/My.app/Contents/MacOS/x"));
    }

    #[test]
    fn plain_globs() {
        assert!(m("std::*", false, "std::rt::lang_start"));
        assert!(m("?[[]KSCrash*", false, "-[KSCrash foo]"));
        assert!(m("-\\[NSISEngine*", false, "-[NSISEngine x]"));
        assert!(m("*::\\{dtor\\}", false, "foo::{dtor}"));
        assert!(m("io.sentry.*", false, "IO.Sentry.Foo"));
        assert!(!m("io.sentry.*", false, "io.sentryx"));
        assert!(m("[<>é]x", false, "éx"));
        assert!(m("[!a-c]", false, "d"));
        assert!(!m("[!a-c]", false, "b"));
        assert!(m("{foo,bar}::*", false, "bar::baz"));
    }
}
