//! From strategy outputs to the final variants and hash list (grouping.md §4, §12, §14).

use serde_json::{json, Value};

use super::components::{md5_hex, Component};
use super::fingerprinting::{self, FingerprintKind, FingerprintResult};
use super::strategies::StrategyOutput;
use super::{Variant, VariantKind};

/// Root variants: per variant name, one component wrapping that variant's component of every
/// strategy, after the first contributing strategy has switched the later ones off.
pub fn root_variants(mut outputs: Vec<StrategyOutput>) -> Vec<(String, Component)> {
    let mut winner: Option<(&'static str, Vec<String>)> = None;
    for out in &mut outputs {
        match &winner {
            None => {
                let names: Vec<String> = out
                    .variants
                    .iter()
                    .filter(|(_, c)| c.contributes())
                    .map(|(n, _)| n.clone())
                    .collect();
                if !names.is_empty() {
                    winner = Some((out.id, names));
                }
            }
            Some((id, names)) => {
                let verb = if id.ends_with('s') { "take" } else { "takes" };
                let hint = if names.iter().all(|n| n == "default") {
                    format!("{id} {verb} precedence")
                } else {
                    format!("{id} of {} {verb} precedence", names.join("/"))
                };
                for (_, c) in &mut out.variants {
                    if c.contributes() {
                        c.update(Some(false), Some(&hint));
                    }
                }
            }
        }
    }
    let mut roots: Vec<(String, Component)> = Vec::new();
    for out in outputs {
        for (name, component) in out.variants {
            match roots.iter_mut().find(|(n, _)| *n == name) {
                Some((_, root)) => root.push_child(component),
                None => roots.push((name.clone(), Component::with_children(&name, vec![component]))),
            }
        }
    }
    if let Some((id, names)) = &winner {
        // "threads of system take precedence", "exception of app/system takes precedence".
        let verb = if id.ends_with('s') { "take" } else { "takes" };
        let hint = format!("{id} of {} {verb} precedence", names.join("/"));
        for (_, root) in &mut roots {
            if !root.contributes() {
                root.hint = Some(hint.clone());
            }
        }
    }
    roots
}

/// The checksum variants, if the event carries a checksum (it replaces everything else).
pub fn checksum_variants(event: &Value) -> Option<Vec<Variant>> {
    let checksum = match event.get("checksum")? {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let is_md5 = checksum.len() == 32 && checksum.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let mut out = Vec::new();
    if is_md5 || checksum.chars().count() <= 32 {
        out.push(Variant::simple("checksum", VariantKind::Checksum, Some(checksum.clone())));
    }
    if !is_md5 {
        out.push(Variant::simple(
            "hashed-checksum",
            VariantKind::HashedChecksum,
            Some(md5_hex([&checksum])),
        ));
    }
    Some(out)
}

/// Apply the fingerprint to the component variants and add the fingerprint/fallback ones.
pub fn finalize(roots: Vec<(String, Component)>, fp: &FingerprintResult) -> Vec<Variant> {
    let kind = fp.kind();
    let mut variants: Vec<Variant> = Vec::new();
    for (name, mut root) in roots {
        let v = match kind {
            FingerprintKind::Default => Variant {
                name,
                kind: VariantKind::Component,
                hash: root.hash(),
                component: Some(root),
                values: None,
                matched_rule: None,
                client_values: None,
            },
            FingerprintKind::Custom => {
                root.update(Some(false), Some("custom fingerprint takes precedence"));
                Variant {
                    name,
                    kind: VariantKind::Component,
                    hash: None,
                    component: Some(root),
                    values: None,
                    matched_rule: None,
                    client_values: None,
                }
            }
            FingerprintKind::Hybrid => {
                let hash = root.contributes().then(|| {
                    let flat = root.flatten();
                    let mut parts: Vec<String> = Vec::new();
                    for entry in &fp.resolved {
                        if fingerprinting::parse_variable(entry) == Some("default") {
                            parts.extend(flat.iter().cloned());
                        } else {
                            parts.push(entry.clone());
                        }
                    }
                    md5_hex(&parts)
                });
                Variant {
                    name,
                    kind: VariantKind::SaltedComponent,
                    hash,
                    component: Some(root),
                    values: Some(fp.fingerprint.clone()),
                    matched_rule: None,
                    client_values: None,
                }
            }
        };
        variants.push(v);
    }
    if let Some(custom) = fp.custom_variant() {
        variants.push(Variant {
            name: custom.name().to_owned(),
            kind: if custom.is_builtin {
                VariantKind::BuiltInFingerprint
            } else {
                VariantKind::CustomFingerprint
            },
            hash: Some(md5_hex(&custom.values)),
            component: None,
            values: Some(custom.values.clone()),
            matched_rule: custom.matched_rule.clone(),
            client_values: custom.client_values.clone(),
        });
    }
    if !variants.iter().any(|v| v.hash.is_some()) {
        variants.push(Variant::simple(
            "fallback",
            VariantKind::Fallback,
            Some(md5_hex::<[&str; 0], &str>([])),
        ));
    }
    order_variants(&mut variants);
    variants
}

/// `app` first and `system` last; the rest keep their order.
pub fn order_variants(variants: &mut [Variant]) {
    variants.sort_by_key(|v| match v.name.as_str() {
        "app" => 0,
        "system" => 2,
        _ => 1,
    });
}

/// The de-duplicated hashes in variant order, and the names of the variants they came from.
pub fn hash_list(variants: &[Variant]) -> (Vec<String>, Vec<String>) {
    let mut hashes: Vec<String> = Vec::new();
    let mut names = Vec::new();
    for v in variants {
        if let Some(h) = &v.hash {
            if !hashes.contains(h) {
                hashes.push(h.clone());
            }
            names.push(v.name.clone());
        }
    }
    (hashes, names)
}

impl Variant {
    fn simple(name: &str, kind: VariantKind, hash: Option<String>) -> Variant {
        Variant {
            name: name.to_owned(),
            kind,
            hash,
            component: None,
            values: None,
            matched_rule: None,
            client_values: None,
        }
    }

    /// Debug shape, close to Sentry's variant dicts.
    pub fn to_json(&self) -> Value {
        let mut obj = json!({"type": self.kind.as_str(), "hash": self.hash});
        if let Some(c) = &self.component {
            obj["component"] = c.to_json();
        }
        if let Some(v) = &self.values {
            obj["values"] = json!(v);
        }
        if let Some(r) = &self.matched_rule {
            obj["matched_rule"] = json!(r);
        }
        if let Some(c) = &self.client_values {
            obj["client_values"] = json!(c);
        }
        obj
    }
}
