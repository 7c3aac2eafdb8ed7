//! Behaviour of [`group_event`] beyond the conformance data: fingerprint kinds, checksums,
//! rule options, and the strategies the data does not exercise.

use serde_json::{json, Value};

use super::components::md5_hex;
use super::fingerprinting::FingerprintingRules;
use super::*;

fn group(event: Value) -> GroupingResult {
    group_event(&event, &GroupingOptions::default()).expect("grouping")
}

fn error_event(fingerprint: Option<Value>) -> Value {
    let mut event = json!({
        "platform": "python",
        "exception": {"values": [{"type": "ValueError", "value": "bad", "stacktrace": {"frames": [
            {"module": "app.main", "function": "run", "filename": "app/main.py", "in_app": true}
        ]}}]}
    });
    if let Some(fp) = fingerprint {
        event["fingerprint"] = fp;
    }
    event
}

#[test]
fn default_fingerprint_equals_no_fingerprint() {
    let plain = group(error_event(None));
    let explicit = group(error_event(Some(json!(["{{ default }}"]))));
    assert_eq!(plain.hashes, explicit.hashes);
    // One in-app frame: app and system hash alike, so only system remains.
    assert_eq!(plain.contributing_variants, vec!["system"]);
    assert_eq!(
        plain.variant("system").and_then(|v| v.hash.clone()),
        Some(md5_hex(["app.main", "run", "ValueError"]))
    );
}

#[test]
fn custom_fingerprint_switches_variants_off() {
    let r = group(error_event(Some(json!(["my-key", "{{ type }}"]))));
    assert_eq!(r.contributing_variants, vec!["custom-fingerprint"]);
    assert_eq!(r.primary_hash, md5_hex(["my-key", "ValueError"]));
    let system = r.variant("system").expect("system variant");
    assert_eq!(system.hash, None);
    assert_eq!(
        system.component.as_ref().and_then(|c| c.hint.clone()).as_deref(),
        Some("custom fingerprint takes precedence")
    );
}

#[test]
fn hybrid_fingerprint_salts_contributing_variants() {
    let r = group(error_event(Some(json!(["route-a", "{{ default }}"]))));
    let system = r.variant("system").expect("system variant");
    assert_eq!(system.kind, VariantKind::SaltedComponent);
    assert_eq!(system.hash, Some(md5_hex(["route-a", "app.main", "run", "ValueError"])));
    assert_eq!(r.variant("app").and_then(|v| v.hash.clone()), None);
    let other = group(error_event(Some(json!(["route-b", "{{ default }}"]))));
    assert_ne!(r.primary_hash, other.primary_hash);
}

#[test]
fn checksums() {
    let md5 = "0123456789abcdef0123456789abcdef";
    let r = group(json!({"checksum": md5, "message": "ignored"}));
    assert_eq!(r.hashes, vec![md5]);
    assert_eq!(r.contributing_variants, vec!["checksum"]);

    let r = group(json!({"checksum": "short"}));
    assert_eq!(r.hashes, vec!["short".to_owned(), md5_hex(["short"])]);
}

#[test]
fn server_side_rules_and_title() {
    let rules = FingerprintingRules::from_text("type:ValueError -> value-errors title=\"Bad {{ type }}\"").expect("rules");
    let options = GroupingOptions {
        fingerprinting_rules: Some(rules),
        ..GroupingOptions::default()
    };
    let r = group_event(&error_event(None), &options).expect("grouping");
    assert_eq!(r.primary_hash, md5_hex(["value-errors"]));
    assert_eq!(r.title_override.as_deref(), Some("Bad ValueError"));
    let v = r.variant("custom-fingerprint").expect("custom variant");
    assert_eq!(
        v.matched_rule.as_deref(),
        Some("type:\"ValueError\" -> \"value-errors\" title=\"Bad {{ type }}\"")
    );
}

#[test]
fn builtin_fingerprinting_rules_apply() {
    let event = json!({
        "platform": "javascript",
        "sdk": {"name": "sentry.javascript.react"},
        "exception": {"values": [{"type": "ChunkLoadError", "value": "Loading chunk 123 failed."}]}
    });
    let r = group(event.clone());
    assert_eq!(r.contributing_variants, vec!["built-in-fingerprint"]);
    let off = GroupingOptions {
        builtin_fingerprinting: false,
        ..GroupingOptions::default()
    };
    let r = group_event(&event, &off).expect("grouping");
    assert_eq!(r.contributing_variants, vec!["app"]);
}

#[test]
fn project_rules_and_min_frames() {
    let event = json!({"platform": "python", "stacktrace": {"frames": [
        {"function": "a", "module": "m", "in_app": true},
        {"function": "b", "module": "m", "in_app": true}
    ]}, "message": "fallback message"});
    assert_eq!(group(event.clone()).contributing_variants, vec!["system"]);
    let options = GroupingOptions {
        project_enhancements: Some("function:* min-frames=3".to_owned()),
        ..GroupingOptions::default()
    };
    // Two contributing frames are below the threshold: the stack is void, the message wins.
    let r = group_event(&event, &options).expect("grouping");
    assert_eq!(r.contributing_variants, vec!["default"]);
    let bad = GroupingOptions {
        project_enhancements: Some("function:* +nonsense".to_owned()),
        ..GroupingOptions::default()
    };
    assert!(matches!(group_event(&event, &bad), Err(GroupingError::Enhancements { .. })));
}

#[test]
fn errors() {
    assert_eq!(
        group_event(&json!([1]), &GroupingOptions::default()),
        Err(GroupingError::NotAnObject)
    );
    let other = GroupingOptions {
        config: "mobile:2021-02-12".to_owned(),
        ..GroupingOptions::default()
    };
    assert!(matches!(group_event(&json!({}), &other), Err(GroupingError::UnknownConfig(_))));
    let bad_event_rules = json!({"_grouping": {"enhancements": "nonsense"}, "message": "x"});
    assert!(group_event(&bad_event_rules, &GroupingOptions::default()).is_err());
}

#[test]
fn empty_event_falls_back() {
    let r = group(json!({}));
    assert_eq!(r.contributing_variants, vec!["fallback"]);
    assert_eq!(r.primary_hash, "d41d8cd98f00b204e9800998ecf8427e");
}

#[test]
fn template_and_security_reports() {
    let r = group(json!({"template": {"filename": "index.html", "context_line": "{{ foo.bar }}"}}));
    assert_eq!(r.primary_hash, md5_hex(["index.html", "{{ foo.bar }}"]));

    let r = group(json!({"csp": {"effective_directive": "script-src", "blocked_uri": "inline",
        "violated_directive": "script-src 'self'"}}));
    assert_eq!(r.primary_hash, md5_hex(["script-src", "'unsafe-inline'"]));

    let r = group(json!({"hpkp": {"hostname": "example.com"}}));
    assert_eq!(r.primary_hash, md5_hex(["hpkp", "example.com"]));
}

#[test]
fn threads_pick_the_crashed_one() {
    let r = group(json!({"platform": "python", "threads": {"values": [
        {"id": 1, "stacktrace": {"frames": [{"function": "idle", "module": "m"}]}},
        {"id": 2, "crashed": true, "stacktrace": {"frames": [{"function": "boom", "module": "m"}]}}
    ]}}));
    assert_eq!(r.primary_hash, md5_hex(["m", "boom"]));
}

#[test]
fn odd_shapes_do_not_panic() {
    let odd = [
        json!({"exception": 5}),
        json!({"exception": {"values": [null, 3, {"type": 7, "value": {"a": 1}, "stacktrace": {"frames": "x"}}]}}),
        json!({"exception": {"values": [{"value": 12, "mechanism": {"meta": {"ns_error": {"code": "x"}}, "synthetic": "yes"}}]}}),
        json!({"stacktrace": {"frames": [null, {"function": 1, "in_app": "yes", "data": 3}, {"abs_path": "", "filename": ""}]}}),
        json!({"threads": [{"crashed": true, "stacktrace": null}], "logentry": {"message": "%(x)s %", "params": {"x": null}}}),
        json!({"threads": "nope", "logentry": {"message": "{0} {5}", "params": ["a"]}, "fingerprint": [1, true, null, "{{ default }}"]}),
        json!({"csp": {"effective_directive": 3}, "platform": ""}),
        json!({"platform": "native", "stacktrace": {"frames": [{"function": "<<<((([[[{{{"}, {"function": ")))>>>"}, {"function": "operator<< -> int"}]}}),
        json!({"exception": {"values": [
            {"type": "A", "mechanism": {"exception_id": 0, "is_exception_group": true, "parent_id": 1}},
            {"type": "B", "mechanism": {"exception_id": 1, "is_exception_group": true, "parent_id": 0}}
        ]}}),
    ];
    for event in odd {
        let r = group_event(&event, &GroupingOptions::default()).expect("odd but valid events group");
        assert!(!r.primary_hash.is_empty());
        let _ = error_metadata(&event);
    }
}
