//! Runs every case of `shared/conformance/grouping/cases.jsonl` (conformance README §2).

use std::io::Write;

use serde_json::{json, Value};

use super::{group_event, GroupingOptions, GroupingResult};

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/conformance/grouping/cases.jsonl");

/// Cases the implementation passes. Raise it when more pass; never lower it.
const FLOOR: usize = 100;

/// Variant component trees identical to Sentry's, hints included (optional per the README,
/// but kept from regressing).
const TREE_FLOOR: usize = 181;

/// The `expected` object this implementation produces for a case.
fn actual(result: &GroupingResult) -> Value {
    let mut obj = serde_json::Map::new();
    for v in &result.variants {
        obj.insert(v.name.clone(), json!(v.hash));
    }
    obj.insert("_hashes".to_owned(), json!(result.hashes));
    obj.insert("_primary_hash".to_owned(), json!(result.primary_hash));
    obj.insert("_hierarchical_hashes".to_owned(), json!([]));
    obj.insert("_contributing_variants".to_owned(), json!(result.contributing_variants));
    Value::Object(obj)
}

fn flat(component: &Value, out: &mut Vec<String>) {
    if component["contributes"] != json!(true) {
        return;
    }
    for v in component["values"].as_array().into_iter().flatten() {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Number(n) => out.push(n.to_string()),
            Value::Object(_) => flat(v, out),
            _ => {}
        }
    }
}

#[test]
fn conformance() {
    let path = std::path::Path::new(CASES);
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "conformance file missing: {} ({e}); expected /work/shared/conformance/grouping/cases.jsonl next to the workspace",
            path.display()
        )
    });
    // GROUPING_VERBOSE=1 prints flattened-value diffs of failing cases; GROUPING_TREES=1 prints
    // every differing component tree as a JSON line.
    let verbose = std::env::var("GROUPING_VERBOSE").is_ok();
    let (mut pass, mut total) = (0, 0);
    // Informational: full component trees, hints included (README §2.3 makes hints optional).
    let (mut tree_pass, mut tree_total) = (0, 0);
    let mut failures = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        total += 1;
        let case: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: invalid JSON: {e}", lineno + 1));
        let name = case["name"].as_str().unwrap_or("?").to_owned();
        let options = GroupingOptions::default();
        let result = match group_event(&case["event"], &options) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: error {e}"));
                continue;
            }
        };
        let got = actual(&result);
        for v in &result.variants {
            if let Some(c) = &v.component {
                tree_total += 1;
                let theirs = &case["variants"][&v.name]["component"];
                if c.to_json() == *theirs {
                    tree_pass += 1;
                } else if std::env::var("GROUPING_TREES").is_ok() {
                    let line = json!({"case": name, "variant": v.name, "ours": c.to_json(), "theirs": theirs});
                    let _ = writeln!(std::io::stderr(), "TREE {line}");
                }
            }
        }
        if got == case["expected"] {
            pass += 1;
            continue;
        }
        failures.push(name.clone());
        if verbose {
            let mut err = std::io::stderr();
            let _ = writeln!(err, "--- {name}\n expected {}\n got      {}", case["expected"], got);
            for v in &result.variants {
                let mut mine = Vec::new();
                if let Some(c) = &v.component {
                    flat(&c.to_json(), &mut mine);
                }
                let mut theirs = Vec::new();
                flat(&case["variants"][&v.name]["component"], &mut theirs);
                if mine != theirs {
                    let _ = writeln!(err, "  [{}] ours   {:?}\n  [{}] theirs {:?}", v.name, mine, v.name, theirs);
                }
            }
        }
    }
    let mut err = std::io::stderr();
    let _ = writeln!(err, "grouping conformance: {pass}/{total} pass");
    let _ = writeln!(
        err,
        "grouping conformance (informational): {tree_pass}/{tree_total} component trees identical, hints included"
    );
    for f in &failures {
        let _ = writeln!(err, "  FAIL {f}");
    }
    assert!(pass >= FLOOR, "grouping conformance regressed: {pass} < {FLOOR}");
    assert!(
        tree_pass >= TREE_FLOOR,
        "grouping component trees regressed: {tree_pass} < {TREE_FLOOR}"
    );
}

const FINGERPRINTING_CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/conformance/fingerprinting/cases.jsonl");

/// Server-side fingerprinting end to end (conformance README §5): rules from the case, the
/// event through [`group_event`], variant names, types, contribution, hints, values, matched
/// rule and client values compared with Sentry's.
#[test]
fn fingerprinting_variants() {
    use super::fingerprinting::FingerprintingRules;

    let text = std::fs::read_to_string(FINGERPRINTING_CASES).unwrap_or_else(|e| panic!("{FINGERPRINTING_CASES}: {e}"));
    let (mut pass, mut total) = (0, 0);
    let mut failures = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        total += 1;
        let case: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("invalid JSON: {e}"));
        let name = case["name"].as_str().unwrap_or("?").to_owned();
        let rules = FingerprintingRules::from_json(&case["rules"]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let options = GroupingOptions {
            fingerprinting_rules: Some(rules),
            ..GroupingOptions::default()
        };
        let result = match group_event(&case["event"], &options) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: error {e}"));
                continue;
            }
        };
        let mut got = serde_json::Map::new();
        for v in &result.variants {
            let mut j = v.to_json();
            let obj = j.as_object_mut().expect("variant JSON is an object");
            obj.remove("hash");
            if let Some(c) = obj.get_mut("component") {
                *c = json!({"contributes": c["contributes"], "hint": c["hint"]});
            }
            if v.kind == super::VariantKind::Component {
                obj.remove("values");
            }
            got.insert(v.name.clone(), j);
        }
        let got = Value::Object(got);
        if got == case["expected"]["variants"]
            && result.fingerprint == serde_json::from_value::<Vec<String>>(case["expected"]["fingerprint"].clone()).unwrap_or_default()
        {
            pass += 1;
        } else {
            failures.push(format!("{name}\n   expected {}\n   got      {got}", case["expected"]["variants"]));
        }
    }
    let mut err = std::io::stderr();
    let _ = writeln!(err, "fingerprinting through group_event: {pass}/{total} pass");
    for f in &failures {
        let _ = writeln!(err, "  FAIL {f}");
    }
    assert_eq!(pass, total, "fingerprinting cases through group_event");
}

/// `group_and_describe` (one normalisation) gives exactly `group_event` and `error_metadata`
/// (two) on every conformance event.
#[test]
fn group_and_describe_matches_the_separate_calls() {
    let Ok(text) = std::fs::read_to_string(CASES) else {
        panic!("conformance file missing: {CASES}");
    };
    let options = GroupingOptions::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("case JSON");
        let event = &case["event"];
        let (result, display) = super::group_and_describe(event, &options).expect("groups");
        assert_eq!(Ok(result), group_event(event, &options), "{}", case["name"]);
        assert_eq!(display, super::error_metadata(event), "{}", case["name"]);
    }
}
