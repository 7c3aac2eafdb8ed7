//! Glob matching.

use super::*;

#[test]
fn glob_basics() {
    let p = GlobOptions::PLAIN;
    assert!(glob_match("io.sentry.example.Application", "io.sentry.example.*", p));
    assert!(!glob_match("io.sentry.Application", "io.sentry.example.*", p));
    assert!(glob_match("a/b/c", "a*c", p), "plain * crosses /");
    assert!(glob_match("abc", "a?c", p));
    assert!(!glob_match("ac", "a?c", p));
    assert!(glob_match("", "*", p));
    assert!(glob_match("", "", p));
    assert!(!glob_match("x", "", p));
    assert!(!glob_match("Love", "love", p));
    assert!(glob_match("Hello my sweet Love", "*love*", GlobOptions::PLAIN_NOCASE));
    assert!(glob_match("multi\nline", "multi*", p), "* crosses newlines");
}

#[test]
fn glob_escapes_classes_alternation() {
    let p = GlobOptions::PLAIN;
    assert!(glob_match("{[*?]}", r"\{\[\*\?\]\}", p));
    assert!(!glob_match("{[xy]}", r"\{\[\*\?\]\}", p));
    assert!(glob_match("a*b", r"a\*b", p));
    assert!(!glob_match("axb", r"a\*b", p));
    assert!(glob_match("b", "[abc]", p));
    assert!(!glob_match("d", "[abc]", p));
    assert!(glob_match("d", "[!abc]", p));
    assert!(glob_match("d", "[^abc]", p));
    assert!(glob_match("5", "[0-9]", p));
    assert!(glob_match("]", "[]]", p));
    assert!(glob_match("foo.js", "*.{js,ts}", p));
    assert!(glob_match("foo.ts", "*.{js,ts}", p));
    assert!(!glob_match("foo.rs", "*.{js,ts}", p));
    assert!(glob_match("ab", "a{,x}b", p));
    // Invalid patterns match nothing.
    assert!(!glob_match("[abc", "[abc", p));
    assert!(!glob_match("{a", "{a", p));
    assert!(!glob_match("x", "{a,{b}}", p));
    assert!(!glob_match("a\\", "a\\", p));
}

#[test]
fn glob_paths() {
    let p = GlobOptions::PATH;
    assert!(glob_match(
        "/usr/lib/python2.7/site-packages/requests/adapters.py",
        "**/requests/adapters.py",
        p
    ));
    assert!(glob_match("requests/adapters.py", "**/requests/adapters.py", p));
    assert!(
        !glob_match("/usr/lib/requests/adapters.py", "*/requests/adapters.py", p),
        "* stops at /"
    );
    assert!(glob_match("/usr/requests/adapters.py", "/*/requests/adapters.py", p));
    assert!(glob_match("a/b/c/d", "a/**/d", p));
    assert!(glob_match("a/d", "a/**/d", p));
    assert!(glob_match("a/b/c", "a/**", p));
    assert!(!glob_match("a", "a/**", p));
    assert!(glob_match("anything/at/all", "**", p));
    assert!(
        glob_match("C:\\Windows\\System32\\Foo.DLL", "c:/windows/**/foo.dll", p),
        "separators and case normalised"
    );
    assert!(glob_match("foo.bar@1.2.3", "foo.bar@*", p));
    assert!(!glob_match("a/b", "a?b", p), "? stops at / in path mode");
    assert!(glob_match("abXcd", "ab**cd", p), "non-segment ** acts like *");
}

#[test]
fn glob_no_blowup() {
    let value = "a".repeat(2000);
    let pattern = format!("{}b", "*a".repeat(30));
    assert!(!glob_match(&value, &pattern, GlobOptions::PLAIN));
    assert!(glob_match(&value, &"*a".repeat(30), GlobOptions::PLAIN));
}
