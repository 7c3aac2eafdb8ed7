//! Function-name trimming (grouping.md §9).
//!
//! Native symbols carry argument lists, template arguments, return types, compiler-generated
//! lambda names and linker decorations that change between builds without the code changing.
//! Trimming reduces a demangled symbol to the qualified function name so such noise does not
//! split groups. C# names lose their parameter list. Other platforms are left alone here
//! (JavaScript names are shortened when the frame component is built).

use std::sync::LazyLock;

use regex::Regex;

use super::enhancers::Family;

/// Trim `function` for a frame of `platform` (the frame's own platform, else the event's).
pub fn trim_function_name(function: &str, platform: &str) -> String {
    if platform == "csharp" {
        return match function.find(" (") {
            Some(i) => function[..i].to_owned(),
            None => function.to_owned(),
        };
    }
    if Family::of_platform(platform) == Family::Native {
        return trim_native(function);
    }
    function.to_owned()
}

// Private-use characters stand in for syntax the bracket and token passes must not touch.
const PROTECTED: [(&str, &str); 6] = [
    ("operator<<", "operator\u{e000}"),
    ("operator<", "operator\u{e001}"),
    ("operator()", "operator\u{e002}"),
    ("operator->", "operator\u{e003}"),
    (" -> ", " \u{e004} "),
    ("`anonymous namespace'", "\u{e005}"),
];
const ARROW: &str = "\u{e004}";

static CLONE_SUFFIX: LazyLock<Regex> = LazyLock::new(|| re(r"\s*\[clone \.[^\]]*\]"));
static LAMBDA: LazyLock<Regex> = LazyLock::new(|| re(r"\{lambda\(.*?\)#\d+\}|\blambda_[a-f0-9]{32}\b|\$_\d+\b"));
static MSVC_ANON_NS: LazyLock<Regex> = LazyLock::new(|| re(r"\?A0x[a-f0-9]{8}::"));
static RUST_HASH: LazyLock<Regex> = LazyLock::new(|| re(r"::h[a-f0-9]{16}$"));
static SYMBOL_VERSION: LazyLock<Regex> = LazyLock::new(|| re(r"@@?GLIBC_[0-9.]+$|@\d+$"));
static RUST_BLANKET: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Z] as "));

fn re(pattern: &str) -> Regex {
    // The patterns are constants; a failure is a programming error caught by the tests.
    Regex::new(pattern).unwrap_or_else(|e| panic!("function trimming pattern {pattern}: {e}"))
}

fn trim_native(original: &str) -> String {
    if matches!(original, "<redacted>" | "<unknown>") {
        return original.to_owned();
    }
    let mut f = original.trim().to_owned();
    if f.starts_with('[') || f.starts_with("+[") || f.starts_with("-[") {
        return f;
    }
    f = CLONE_SUFFIX.replace_all(&f, "").into_owned();
    loop {
        let t = f.trim_end();
        if let Some(rest) = t.strip_suffix(" const") {
            f = rest.to_owned();
        } else if let Some(rest) = t.strip_suffix('&') {
            f = rest.to_owned();
        } else {
            f = t.to_owned();
            break;
        }
    }
    for (from, to) in PROTECTED {
        f = f.replace(from, to);
    }
    f = LAMBDA.replace_all(&f, "lambda").into_owned();
    f = MSVC_ANON_NS.replace_all(&f, "\u{e005}::").into_owned();

    f = replace_enclosed(&f, '(', ')', &mut |inner, _| {
        let inner = inner.trim();
        if matches!(inner, "anonymous namespace" | "operator") {
            format!("({inner})")
        } else {
            String::new()
        }
    });
    f = replace_enclosed(&f, '<', '>', &mut collapse_generics);

    let tokens = split_tokens(&f);
    let mut chosen = tokens.last().copied();
    if let Some(arrow) = tokens.iter().rposition(|t| *t == ARROW) {
        chosen = tokens[..arrow].iter().rev().find(|t| **t != "throws").copied();
    }
    let mut out = chosen.unwrap_or("").to_owned();
    for (from, to) in PROTECTED {
        out = out.replace(to.trim(), from.trim());
    }
    out = RUST_HASH.replace(&out, "").into_owned();
    out = SYMBOL_VERSION.replace(&out, "").into_owned();
    if out.is_empty() {
        original.to_owned()
    } else {
        out
    }
}

/// Template arguments collapse to `<T>`, except lambda markers; a leading `<X as Trait>`
/// (Rust's qualified path) becomes `X`, a blanket `<F as Trait>` becomes `Trait`.
fn collapse_generics(inner: &str, start: usize) -> String {
    if inner == "lambda" {
        return "<lambda>".to_owned();
    }
    if start > 0 {
        return "<T>".to_owned();
    }
    let inner = RUST_BLANKET.replace(inner, "");
    let inner = replace_enclosed(&inner, '<', '>', &mut collapse_generics);
    inner.split(" as ").next().unwrap_or("").to_owned()
}

/// Replace every outermost balanced `open…close` group by `f(inner, start_offset)`.
fn replace_enclosed(s: &str, open: char, close: char, f: &mut dyn FnMut(&str, usize) -> String) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut group_start = 0;
    for (i, c) in s.char_indices() {
        if c == open {
            if depth == 0 {
                group_start = i;
            }
            depth += 1;
        } else if c == close && depth > 0 {
            depth -= 1;
            if depth == 0 {
                out.push_str(&f(&s[group_start + open.len_utf8()..i], group_start));
            }
        } else if depth == 0 {
            out.push(c);
        }
    }
    if depth > 0 {
        // Unbalanced: keep the rest verbatim.
        out.push_str(&s[group_start..]);
    }
    out
}

/// Split on whitespace outside brackets.
fn split_tokens(s: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut depth = 0i32;
    let mut start = None;
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' | '[' | '{' => depth += 1,
            '>' | ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        if c.is_whitespace() && depth <= 0 {
            if let Some(st) = start.take() {
                tokens.push(&s[st..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        tokens.push(&s[st..]);
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn native(s: &str) -> String {
        trim_function_name(s, "native")
    }

    #[test]
    fn rust_and_cpp_names() {
        assert_eq!(
            native("<F as alloc::boxed::FnBox<A>>::call_box"),
            "alloc::boxed::FnBox<T>::call_box"
        );
        assert_eq!(
            native("<std::panic::AssertUnwindSafe<F> as core::ops::function::FnOnce<()>>::call_once"),
            "std::panic::AssertUnwindSafe<T>::call_once"
        );
        assert_eq!(
            native("<tokio_current_thread::Borrow<'a, U>>::enter::{{closure}}"),
            "tokio_current_thread::Borrow<T>::enter::{{closure}}"
        );
        assert_eq!(
            native("<sentry::integrations::log::Logger as log::Log>::log"),
            "sentry::integrations::log::Logger::log"
        );
        assert_eq!(native("<stripped application code>"), "code");
        assert_eq!(
            native("<lambda_5db80dab47756d3e72c2dcd38b80b1dd>::operator()"),
            "<lambda>::operator()"
        );
        assert_eq!(native("?A0xc3a0617d::crash"), "`anonymous namespace'::crash");
        assert_eq!(native("(anonymous namespace)::start()"), "(anonymous namespace)::start");
        assert_eq!(
            native("Scaleform::GFx::AS3::IMEManager::DispatchEvent(char const *,char const *,char const *)"),
            "Scaleform::GFx::AS3::IMEManager::DispatchEvent"
        );
        assert_eq!(native("int main(int, char **) const"), "main");
        assert_eq!(native("std::foo::bar::h1234567890abcdef"), "std::foo::bar");
        assert_eq!(native("-[NSObject foo:]"), "-[NSObject foo:]");
    }

    #[test]
    fn csharp_names() {
        assert_eq!(
            trim_function_name("UnityEngine.UI.Button.Press ()", "csharp"),
            "UnityEngine.UI.Button.Press"
        );
        assert_eq!(trim_function_name("Foo.Bar", "python"), "Foo.Bar");
    }
}
