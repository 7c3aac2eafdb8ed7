//! Security reports (grouping.md §11): CSP groups on the directive plus either the kind of
//! local violation or the blocked origin; HPKP, Expect-CT and Expect-Staple on the host.

use serde_json::Value;

use super::Variants;
use crate::grouping::components::Component;

const LOCAL: &str = "'self'";

fn salt(value: &str) -> Component {
    let mut c = Component::leaf("salt", value);
    c.hint = Some("a static salt".to_owned());
    c
}

/// Reduce a blocked URI to what identifies its origin.
fn normalize_uri(value: &str) -> String {
    if matches!(value, "" | "self" | LOCAL) {
        return LOCAL.to_owned();
    }
    let value = if value.contains(':') {
        value.to_owned()
    } else {
        format!("{value}:")
    };
    let (scheme, rest) = value.split_once(':').unwrap_or((value.as_str(), ""));
    let scheme = scheme.to_ascii_lowercase();
    if matches!(scheme.as_str(), "data" | "mailto" | "tel" | "blob" | "about") {
        return format!("{scheme}:");
    }
    let netloc = rest
        .strip_prefix("//")
        .map(|r| r.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    if netloc.is_empty() {
        return LOCAL.to_owned();
    }
    if matches!(scheme.as_str(), "http" | "https") {
        netloc.to_owned()
    } else {
        format!("{scheme}://{netloc}")
    }
}

pub fn csp(event: &Value) -> Option<Variants> {
    let report = event.get("csp").filter(|c| c.is_object())?;
    let text = |k: &str| report.get(k).and_then(Value::as_str).unwrap_or("");
    let directive = match text("effective_directive") {
        "" => text("violated_directive").split_whitespace().next().unwrap_or(""),
        d => d,
    };
    let blocked = text("blocked_uri");
    let uri = normalize_uri(blocked);
    // A script blocked from the page itself: what matters is whether inline code or eval
    // was refused, not the (local) URI. The kind comes from the violated directive, else
    // from the browser's `inline`/`eval` pseudo-URI. Not covered by the conformance data.
    let violated = text("violated_directive");
    let local_kind = (directive == "script-src" && uri == LOCAL)
        .then(|| {
            if violated.contains("'unsafe-inline'") || blocked == "inline" {
                Some("'unsafe-inline'")
            } else if violated.contains("'unsafe-eval'") || blocked == "eval" {
                Some("'unsafe-eval'")
            } else {
                None
            }
        })
        .flatten();
    let mut c = Component::new("csp");
    c.push_child(salt(directive));
    let mut violation = Component::new("violation");
    let mut uri_c = Component::leaf("uri", uri);
    match local_kind {
        Some(kind) => {
            violation.push_str(kind);
            uri_c.update(Some(false), Some("violation takes precedence"));
        }
        None => violation.update(Some(false), Some("not a local script violation")),
    }
    c.push_child(violation);
    c.push_child(uri_c);
    Some(vec![("default".to_owned(), c)])
}

fn host_report(event: &Value, key: &str) -> Option<Variants> {
    let report = event.get(key).filter(|c| c.is_object())?;
    let mut c = Component::new(key);
    c.push_child(salt(key));
    if let Some(h) = report.get("hostname").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        c.push_child(Component::leaf("hostname", h));
    }
    Some(vec![("default".to_owned(), c)])
}

pub fn hpkp(event: &Value) -> Option<Variants> {
    host_report(event, "hpkp")
}

pub fn expect_ct(event: &Value) -> Option<Variants> {
    host_report(event, "expectct")
}

pub fn expect_staple(event: &Value) -> Option<Variants> {
    host_report(event, "expectstaple")
}
