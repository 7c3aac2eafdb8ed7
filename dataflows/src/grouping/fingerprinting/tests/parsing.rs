//! Rule parsing and rendering.

use super::*;

#[test]
fn parse_text_rules() {
    let text = r#"
## 2024-01-01 first version
## second changelog line
# a comment
type:DatabaseUnavailable module:"io.sentry.example.*" -> database-unavailable, {{ transaction }}
!error.type:"Foo Bar" stack.abs_path:**/x.py -> "quoted entry" {{tags.transaction}},other title="T: {{ type }}"
message:"\{\[\*\?\]\}" -> escaped{{ message }}
family:javascript tags.transaction:"*" message:"Hydration failed." -> hydrationerror, {{tags.transaction}}
"#;
    let rules = FingerprintingRules::from_text(text).expect("parses");
    assert_eq!(rules.changelog, vec!["2024-01-01 first version", "second changelog line"]);
    assert_eq!(rules.rules.len(), 4);

    let r0 = &rules.rules[0];
    assert_eq!(
        r0.matchers[0],
        Matcher {
            key: MatcherKey::Type,
            pattern: "DatabaseUnavailable".into(),
            negated: false
        }
    );
    assert_eq!(r0.matchers[1].pattern, "io.sentry.example.*");
    assert_eq!(r0.fingerprint, vec!["database-unavailable", "{{ transaction }}"]);
    assert_eq!(
        r0.text(),
        r#"type:"DatabaseUnavailable" module:"io.sentry.example.*" -> "database-unavailable{{ transaction }}""#
    );

    let r1 = &rules.rules[1];
    assert_eq!(
        r1.matchers[0],
        Matcher {
            key: MatcherKey::Type,
            pattern: "Foo Bar".into(),
            negated: true
        }
    );
    assert_eq!(r1.matchers[1].key, MatcherKey::Path);
    assert_eq!(r1.fingerprint, vec!["quoted entry", "{{tags.transaction}}", "other"]);
    assert_eq!(r1.attributes.get("title").map(String::as_str), Some("T: {{ type }}"));
    assert_eq!(r1.to_json()["matchers"], json!([["!type", "Foo Bar"], ["path", "**/x.py"]]));
    assert_eq!(
        r1.text(),
        r#"!type:"Foo Bar" path:"**/x.py" -> "quoted entry{{tags.transaction}}other" title="T: {{ type }}""#
    );

    let r2 = &rules.rules[2];
    assert_eq!(r2.matchers[0].pattern, r"\{\[\*\?\]\}", "unknown escapes kept");
    assert_eq!(r2.fingerprint, vec!["escaped", "{{ message }}"], "bare word stops at {{");

    assert_eq!(rules.rules[3].matchers[1].key, MatcherKey::Tag("transaction".into()));

    // Config JSON round trip.
    let back = FingerprintingRules::from_json(&rules.to_config_json()).expect("config loads");
    assert_eq!(back.rules, rules.rules);
    // Text round trip.
    let again = FingerprintingRules::from_text(&rules.to_text()).expect("rendered text parses");
    assert_eq!(again.rules, rules.rules);
}

#[test]
fn parse_quoted_escapes() {
    let rules = FingerprintingRules::from_text(r#"message:"say \"hi\"\\n\t\x41\u00e9" -> a"#).expect("parses");
    assert_eq!(rules.rules[0].matchers[0].pattern, "say \"hi\"\\n\tAé");
}

#[test]
fn parse_errors() {
    for bad in [
        "type:foo",                   // no arrow
        "-> foo",                     // no matcher
        "type:foo ->",                // no fingerprint
        "bogus:foo -> x",             // unknown key
        "tags.:foo -> x",             // empty tag name
        "type: -> x",                 // missing value (the arrow is the value, then no arrow)
        "type:\"unterminated -> x",   // unterminated string
        "type:foo -> x colour=\"r\"", // unknown attribute
        "type:foo -> {{ x",           // broken variable
        "type foo -> x",              // missing colon
    ] {
        assert!(FingerprintingRules::from_text(bad).is_err(), "{bad:?} should fail");
    }
    let err = FingerprintingRules::from_text("# ok\ntype:a -> b\nnope -> x").unwrap_err();
    assert!(matches!(err, FingerprintingError::Syntax { line: 3, .. }), "{err}");
    assert!(FingerprintingRules::from_json(&json!({"rules": [], "version": 2})).is_err());
    assert!(FingerprintingRules::from_json(&json!([{"matchers": [["nope", "x"]], "fingerprint": ["a"]}])).is_err());
    assert!(FingerprintingRules::from_json(&json!([{"matchers": [["type"]], "fingerprint": ["a"]}])).is_err());
}

#[test]
fn odd_rule_texts_do_not_panic() {
    let odd = [
        "",
        "\n\n",
        "#",
        "##",
        "->",
        "!",
        "!:",
        ":",
        "a:",
        "a:b",
        "a:b ->",
        "type:\"",
        "type:\"\\",
        "type:x -> \"",
        "type:x -> {{",
        "type:x -> {{}}",
        "type:x -> {{ }}",
        "type:x -> }}",
        "type:x -> ,,,",
        "type:x -> title=",
        "type:x -> title=\"",
        "type:x -> =\"a\"",
        "type:é -> ü{{ ß }}",
        "type:x -> {{a}}{{b}}",
        "\u{0}:\u{0} -> \u{0}",
        "type:[ -> x",
        "type:{ -> x",
        "type:\\ -> x",
        "message:\"\\u12\" -> x",
        "message:\"\\x\" -> x",
        "!!type:x -> y",
        "type:x->y",
        "type:x -> \"a\"\"b\"",
        "  \t type:x \t -> \t y  ",
        "\r\ntype:x -> y\r\n",
    ];
    let event = json!({"message": "x", "exception": {"values": [{"type": "x", "value": "y"}]}});
    for text in odd {
        if let Ok(rules) = FingerprintingRules::from_text(text) {
            let _ = rules.apply(&event);
            let _ = rules.to_config_json();
            let _ = FingerprintingRules::from_text(&rules.to_text());
        }
    }
    for pattern in [
        "[",
        "[!",
        "[]",
        "{",
        "}",
        "{,}",
        "\\",
        "**",
        "***",
        "/**/",
        "**/",
        "/**",
        "[z-a]",
        "{a,b}{c,d}{e,f}",
    ] {
        let _ = glob_match("a/b/c", pattern, GlobOptions::PATH);
        let _ = glob_match("a/b/c", pattern, GlobOptions::PLAIN);
    }
    // Many alternation groups are refused rather than expanded.
    assert!(!glob_match("a", &"{a,b}".repeat(20), GlobOptions::PLAIN));
}
