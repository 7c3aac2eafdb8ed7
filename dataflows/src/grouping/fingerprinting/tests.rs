use std::io::Write;

use serde_json::{json, Value};

use super::*;

mod glob;
mod parsing;

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/conformance/fingerprinting/cases.jsonl");
const BUILTIN_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/grouping-rules/fingerprinting-configs/javascript@2024-02-02"
);

fn builtin_rules() -> FingerprintingRules {
    let mut files: Vec<_> = std::fs::read_dir(BUILTIN_DIR)
        .unwrap_or_else(|e| panic!("built-in fingerprint rules missing at {BUILTIN_DIR}: {e}"))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let text: String = files
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("read rule file") + "\n")
        .collect();
    FingerprintingRules::from_text(&text).expect("built-in rules parse").into_builtin()
}

#[derive(Default)]
struct Tally {
    pass: usize,
    total: usize,
}

impl Tally {
    fn check(&mut self, ok: bool, failures: &mut Vec<String>, what: impl FnOnce() -> String) {
        self.total += 1;
        if ok {
            self.pass += 1;
        } else {
            failures.push(what());
        }
    }
}

#[test]
fn conformance_cases() {
    let text = std::fs::read_to_string(CASES)
        .unwrap_or_else(|e| panic!("fingerprinting conformance cases missing at {CASES} (expected /work/shared/conformance/...): {e}"));
    let builtin = builtin_rules();
    assert_eq!(builtin.rules.len(), 7, "javascript@2024-02-02 has 7 rules");

    let (mut config, mut fingerprint, mut title, mut custom, mut salted, mut precedence, mut text_roundtrip) = (
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
    );
    let mut failures = Vec::new();

    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("case is JSON");
        let name = case["name"].as_str().unwrap_or("?").to_owned();
        let expected = &case["expected"];
        let rules = match FingerprintingRules::from_json(&case["rules"]) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: rules do not load: {e}"));
                continue;
            }
        };

        let ours = rules.to_config_json();
        config.check(ours == expected["config"], &mut failures, || {
            format!("{name}: config {ours} != {}", expected["config"])
        });

        // The text rendering re-parses to the same rules.
        let reparsed = FingerprintingRules::from_text(&rules.to_text());
        text_roundtrip.check(reparsed.as_ref().is_ok_and(|r| r.rules == rules.rules), &mut failures, || {
            format!("{name}: text round trip {:?} -> {reparsed:?}", rules.to_text())
        });

        let event = &case["event"];
        let result = apply_fingerprinting(event, &rules, Some(&builtin));
        let exp_fp: Vec<String> = serde_json::from_value(expected["fingerprint"].clone()).unwrap_or_default();
        fingerprint.check(result.fingerprint == exp_fp, &mut failures, || {
            format!("{name}: fingerprint {:?} != {exp_fp:?}", result.fingerprint)
        });

        let our_title = result.title.clone().unwrap_or_else(|| event_title(event));
        title.check(Some(our_title.as_str()) == expected["title"].as_str(), &mut failures, || {
            format!("{name}: title {our_title:?} != {}", expected["title"])
        });

        let variants = expected["variants"].as_object().cloned().unwrap_or_default();
        let ours_custom = result.custom_variant();
        if let Some(exp) = variants.get("custom-fingerprint") {
            let ok = ours_custom.as_ref().is_some_and(|c| {
                let j = c.to_json();
                j["values"] == exp["values"]
                    && j["matched_rule"] == exp["matched_rule"]
                    && j.get("client_values") == exp.get("client_values")
            });
            custom.check(ok, &mut failures, || {
                format!(
                    "{name}: custom-fingerprint {:?} != {exp}",
                    ours_custom.as_ref().map(|c| c.to_json())
                )
            });
        } else if let Some(c) = &ours_custom {
            failures.push(format!("{name}: unexpected custom-fingerprint variant {}", c.to_json()));
        }

        for (vname, v) in &variants {
            match v["type"].as_str() {
                Some("salted-component") => {
                    let ok = result.kind() == FingerprintKind::Hybrid && json!(result.fingerprint) == v["values"];
                    salted.check(ok, &mut failures, || {
                        format!("{name}/{vname}: salted values {:?} != {}", result.fingerprint, v["values"])
                    });
                }
                Some("component") => {
                    // With a custom fingerprint every strategy variant is switched off.
                    let exp_off = v["component"]["hint"] == "custom fingerprint takes precedence";
                    let ours_off = result.kind() == FingerprintKind::Custom;
                    precedence.check(
                        exp_off == ours_off && (!exp_off || v["component"]["contributes"] == false),
                        &mut failures,
                        || format!("{name}/{vname}: strategy variant overridden: ours {ours_off}, expected {exp_off}"),
                    );
                }
                _ => {}
            }
        }
    }

    let mut err = std::io::stderr();
    let _ = writeln!(
        err,
        "fingerprinting conformance: config {}/{}, fingerprint {}/{}, title {}/{}, custom-fingerprint variants {}/{}, \
         salted-component variants {}/{}, strategy-variant override {}/{}, text round trip {}/{}",
        config.pass,
        config.total,
        fingerprint.pass,
        fingerprint.total,
        title.pass,
        title.total,
        custom.pass,
        custom.total,
        salted.pass,
        salted.total,
        precedence.pass,
        precedence.total,
        text_roundtrip.pass,
        text_roundtrip.total,
    );
    for f in &failures {
        let _ = writeln!(err, "  FAIL {f}");
    }
    assert!(config.total == 20 && config.pass >= 20, "config floor");
    assert!(fingerprint.pass >= 20, "fingerprint floor");
    assert!(title.pass >= 20, "title floor");
    assert!(custom.total == 17 && custom.pass >= 17, "custom-fingerprint floor");
    assert!(salted.total == 4 && salted.pass >= 4, "salted-component floor");
    assert!(precedence.pass >= precedence.total, "strategy override floor");
    assert!(text_roundtrip.pass >= 20, "text round trip floor");
    assert!(failures.is_empty(), "{} failures", failures.len());
}

// ---------------------------------------------------------------------------------------
// Matching and resolution

fn rules(text: &str) -> FingerprintingRules {
    FingerprintingRules::from_text(text).expect("rules parse")
}

#[test]
fn matchers_on_same_element() {
    let event = json!({
        "platform": "python",
        "exception": {"values": [
            {"type": "A", "value": "first"},
            {"type": "B", "value": "second", "stacktrace": {"frames": [
                {"function": "f", "module": "m1", "in_app": true},
                {"function": "g", "module": "m2"}
            ]}}
        ]}
    });
    assert!(rules("type:A value:first -> x").apply(&event).is_some());
    assert!(
        rules("type:A value:second -> x").apply(&event).is_none(),
        "type and value on different exceptions"
    );
    assert!(rules("function:f module:m1 -> x").apply(&event).is_some());
    assert!(
        rules("function:f module:m2 -> x").apply(&event).is_none(),
        "frame matchers on different frames"
    );
    assert!(rules("function:g app:false -> x").apply(&event).is_some(), "null in_app is false");
    assert!(rules("function:g app:yes -> x").apply(&event).is_none());
    assert!(rules("!type:A -> x").apply(&event).is_some(), "some exception is not A");
    assert!(
        rules("message:SECOND -> x").apply(&event).is_some(),
        "message checks exception values, case-insensitively"
    );
    assert!(rules("family:other -> x").apply(&event).is_some());
    assert!(rules("family:native,javascript -> x").apply(&event).is_none());
    assert!(rules("family:all -> x").apply(&event).is_some());
    assert!(rules("level:ERROR -> x").apply(&event).is_some(), "level defaults to error");
    let m = rules("type:Z -> z\ntype:B -> b\ntype:* -> star").apply(&event).expect("match");
    assert_eq!((m.rule_index, m.fingerprint), (1, vec!["b".to_owned()]), "first matching rule wins");
}

#[test]
fn raw_event_normalisation() {
    // Type/value splitting, abs_path from filename, legacy message.
    let event = json!({
        "message": "legacy text",
        "exception": {"values": [{"value": "ValueError: bad thing", "stacktrace": {"frames": [{"filename": "app/x.py"}]}}]},
        "tags": [["env", "prod"]],
        "sdk": {"name": "sentry-python"}
    });
    assert!(rules("type:ValueError value:\"bad thing\" -> x").apply(&event).is_some());
    assert!(rules("path:/app/x.py -> x").apply(&event).is_some(), "leading / is tried");
    assert!(rules("message:legacy* -> x").apply(&event).is_some());
    assert!(rules("tags.env:prod -> x").apply(&event).is_some());
    assert!(rules("sdk:sentry.python -> x").apply(&event).is_some());
    assert_eq!(resolve_variable("stack.filename", &event).as_deref(), Some("app/x.py"));
    assert_eq!(resolve_variable("message", &event).as_deref(), Some("legacy text"));
    assert_eq!(event_title(&event), "ValueError: bad thing");
}

#[test]
fn variables_resolve() {
    let event = json!({
        "transaction": "/api/x", "logger": "root", "level": "warning",
        "tags": {"t": "v"},
        "exception": {"values": [{"type": "E", "value": "boom", "stacktrace": {"frames": [
            {"function": "inner", "abs_path": "/a/b.py", "module": "b", "package": "C:\\libs\\foo.dll", "in_app": true},
            {"function": "outer", "filename": "c.py", "in_app": false}
        ]}}]}
    });
    let fp: Vec<String> = [
        "{{ transaction }}",
        "{{message}}",
        "{{ type }}",
        "{{ error.value }}",
        "{{ function }}",
        "{{ path }}",
        "{{ stack.filename }}",
        "{{ module }}",
        "{{ package }}",
        "{{ level }}",
        "{{ logger }}",
        "{{ tags.t }}",
        "{{ tags.nope }}",
        "{{ default }}",
        "{{ unknown }}",
        "literal",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        resolve_fingerprint(&fp, &event),
        vec![
            "/api/x",
            "boom",
            "E",
            "boom",
            "inner",
            "/a/b.py",
            "/a/b.py",
            "b",
            "foo.dll",
            "warning",
            "root",
            "v",
            "<no-value-for-tag-nope>",
            "{{ default }}",
            "{{ unknown }}",
            "literal"
        ]
    );
    let empty = json!({});
    let missing: Vec<String> = [
        "{{ transaction }}",
        "{{ message }}",
        "{{ function }}",
        "{{ stack.abs_path }}",
        "{{ stack.filename }}",
        "{{ logger }}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        resolve_fingerprint(&missing, &empty),
        vec![
            "<no-transaction>",
            "<no-message>",
            "<no-function>",
            "<no-abs-path>",
            "<no-filename>",
            "<no-logger>"
        ]
    );
    assert_eq!(
        expand_title_template("{{ type }} in {{ function }} ({{ nope }})", &event),
        "E in inner ({{ nope }})"
    );
}

#[test]
fn result_kinds_and_variants() {
    let event = json!({"fingerprint": ["client", "{{ default }}"], "logentry": {"formatted": "hi"}, "transaction": "t"});
    let project = rules("message:hi -> a, {{ transaction }} title=\"Custom {{ transaction }}\"");
    let r = apply_fingerprinting(&event, &project, None);
    assert_eq!(r.kind(), FingerprintKind::Custom);
    assert_eq!(r.title.as_deref(), Some("Custom t"));
    let v = r.custom_variant().expect("custom variant");
    assert_eq!(v.values, vec!["a", "t"]);
    assert_eq!(v.client_values, Some(vec!["client".to_owned(), "{{ default }}".to_owned()]));
    assert_eq!(
        v.matched_rule.as_deref(),
        Some("message:\"hi\" -> \"a{{ transaction }}\" title=\"Custom {{ transaction }}\"")
    );
    assert_eq!(v.name(), "custom-fingerprint");

    // No match: the client fingerprint stays (hybrid), no custom variant.
    let r = apply_fingerprinting(&event, &rules("message:bye -> a"), None);
    assert_eq!(r.kind(), FingerprintKind::Hybrid);
    assert!(r.custom_variant().is_none());

    // Built-in match.
    let builtin = rules("message:hi -> builtin").into_builtin();
    let r = apply_fingerprinting(
        &json!({"logentry": {"formatted": "hi"}}),
        &rules("message:bye -> a"),
        Some(&builtin),
    );
    let v = r.custom_variant().expect("variant");
    assert_eq!((v.name(), v.client_values), ("built-in-fingerprint", None));

    // Client-only custom fingerprint.
    let r = apply_fingerprinting(&json!({"fingerprint": ["x", 1]}), &FingerprintingRules::default(), None);
    assert_eq!(
        r.custom_variant().map(|v| v.to_json()),
        Some(json!({"type": "custom-fingerprint", "values": ["x", "1"]}))
    );

    assert_eq!(fingerprint_kind(&["{{default}}".to_owned()]), FingerprintKind::Default);
    assert_eq!(
        fingerprint_kind(&["{{ default }}".to_owned(), "{{ default }}".to_owned()]),
        FingerprintKind::Hybrid
    );
}

#[test]
fn builtin_rules_parse_and_match_js() {
    let builtin = builtin_rules();
    let event = json!({"platform": "javascript", "exception": {"values": [{"type": "ChunkLoadError", "value": "Loading chunk 3 failed"}]}});
    let r = apply_fingerprinting(&event, &FingerprintingRules::default(), Some(&builtin));
    assert_eq!(r.fingerprint, vec!["chunkloaderror"]);
    assert_eq!(r.custom_variant().map(|v| v.name()), Some("built-in-fingerprint"));
    let hydration = json!({
        "platform": "javascript", "transaction": "/page",
        "message": "Text content does not match server-rendered HTML."
    });
    let r = apply_fingerprinting(&hydration, &FingerprintingRules::default(), Some(&builtin));
    assert_eq!(
        r.resolved,
        vec!["hydrationerror", "/page"],
        "tags.transaction derived from the transaction"
    );
}
