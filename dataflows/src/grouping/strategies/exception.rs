//! Exceptions (grouping.md §5): one component per exception (stack trace, type, NSError
//! info, value), chained exceptions, and the exception-group filter.

use serde_json::Value;

use super::stacktrace::stacktrace_variants;
use super::{Context, Variants};
use crate::grouping::components::Component;
use crate::grouping::parameterize::normalize_message;

/// The `exception` interface (one or several exceptions).
pub fn chained_exception(event: &Value, ctx: &Context) -> Option<Variants> {
    let exceptions: Vec<&Value> = event
        .get("exception")
        .and_then(|e| e.get("values"))
        .and_then(Value::as_array)?
        .iter()
        .filter(|e| e.is_object())
        .collect();
    if exceptions.is_empty() {
        return None;
    }
    let per_exception: Vec<Variants> = exceptions.iter().map(|e| single_exception(e, ctx)).collect();
    let kept = filter_exception_groups(&exceptions, &per_exception);

    if let [only] = kept.as_slice() {
        return Some(per_exception[*only].clone());
    }
    let mut out = Variants::new();
    for &i in &kept {
        for (name, component) in &per_exception[i] {
            match out.iter_mut().find(|(n, _)| n == name) {
                Some((_, chain)) => chain.push_child(component.clone()),
                None => out.push((name.clone(), Component::with_children("chained-exception", vec![component.clone()]))),
            }
        }
    }
    Some(out)
}

/// Components of one exception, per variant. Without a stack trace only `app` exists.
pub fn single_exception(exc: &Value, ctx: &Context) -> Variants {
    // Without a stack trace only `app` exists, and it has no stack trace component.
    let stack_variants: Vec<(String, Option<Component>)> = match exc.get("stacktrace").filter(|s| s.is_object()) {
        Some(st) => stacktrace_variants(st, ctx).into_iter().map(|(n, c)| (n, Some(c))).collect(),
        None => vec![("app".to_owned(), None)],
    };
    let mechanism = exc.get("mechanism");
    let synthetic = mechanism.and_then(|m| m.get("synthetic")).and_then(Value::as_bool).unwrap_or(false);
    let ty = exc.get("type").and_then(Value::as_str).filter(|s| !s.is_empty());
    let ns_error = mechanism
        .and_then(|m| m.get("meta"))
        .and_then(|m| m.get("ns_error"))
        .filter(|n| n.is_object());
    let raw_value = match exc.get("value") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };

    let mut out = Variants::new();
    for (name, stacktrace) in stack_variants {
        let mut c = Component::new("exception");
        let stack_contributes = stacktrace.as_ref().is_some_and(Component::contributes);
        if let Some(st) = stacktrace {
            c.push_child(st);
        }

        if let Some(t) = ty {
            let mut tc = Component::leaf("type", t);
            if synthetic {
                tc.update(Some(false), Some("ignored because exception is synthetic"));
            }
            c.push_child(tc);
        }

        let mut ns_contributes = false;
        if let Some(ns) = ns_error {
            let mut nc = Component::new("ns-error");
            match ns.get("domain").and_then(Value::as_str) {
                Some(d) => nc.push_str(d),
                None => nc.push_str("None"),
            }
            match ns.get("code") {
                Some(Value::Number(n)) if n.as_i64().is_some() => nc.push_int(n.as_i64().unwrap_or_default()),
                Some(Value::String(s)) => nc.push_str(s.as_str()),
                _ => nc.push_str("None"),
            }
            ns_contributes = nc.contributes();
            c.push_child(nc);
        }

        if let Some(raw) = &raw_value {
            let normalized = normalize_message(raw);
            if !normalized.is_empty() {
                let mut vc = Component::leaf("value", normalized.clone());
                if normalized != *raw {
                    vc.hint = Some("stripped event-specific values".to_owned());
                }
                if stack_contributes {
                    vc.update(Some(false), Some("ignored because stacktrace takes precedence"));
                } else if ns_contributes {
                    vc.update(Some(false), Some("ignored because ns-error info takes precedence"));
                }
                c.push_child(vc);
            }
        }
        out.push((name, c));
    }
    out
}

fn mechanism_field<'a>(exc: &'a Value, key: &str) -> Option<&'a Value> {
    exc.get("mechanism").and_then(|m| m.get(key))
}

fn exception_id(exc: &Value) -> Option<i64> {
    mechanism_field(exc, "exception_id").and_then(Value::as_i64)
}

fn is_group(exc: &Value) -> bool {
    mechanism_field(exc, "is_exception_group").and_then(Value::as_bool).unwrap_or(false)
}

/// The exception-group filter (RFC 0079): which exceptions (indexes, in order) to group on.
/// Groups themselves say little; the distinct leaf exceptions under them are what matter.
fn filter_exception_groups(exceptions: &[&Value], components: &[Variants]) -> Vec<usize> {
    let all: Vec<usize> = (0..exceptions.len()).collect();
    if exceptions.len() < 2 {
        return all;
    }
    let Some(ids) = exceptions.iter().map(|e| exception_id(e)).collect::<Option<Vec<i64>>>() else {
        return all;
    };
    let Some(root) = ids.iter().position(|&id| id == 0) else {
        return all;
    };

    // Children in exception-id order (the order the SDK numbered them).
    let children = |parent: usize| -> Vec<usize> {
        let parent_id = ids[parent];
        let mut kids: Vec<usize> = (0..exceptions.len())
            .filter(|&i| i != parent && mechanism_field(exceptions[i], "parent_id").and_then(Value::as_i64) == Some(parent_id))
            .collect();
        kids.sort_by_key(|&i| (ids[i], i));
        kids
    };

    let mut top_level = Vec::new();
    let mut stack = vec![root];
    let mut visited = vec![false; exceptions.len()];
    // Depth-first, children in order; `visited` guards against cycles.
    while let Some(node) = stack.pop() {
        if std::mem::replace(&mut visited[node], true) {
            continue;
        }
        if is_group(exceptions[node]) {
            for kid in children(node).into_iter().rev() {
                stack.push(kid);
            }
        } else {
            top_level.push(node);
        }
    }
    let type_of = |i: usize| match exceptions[i].get("type") {
        Some(Value::String(s)) => s.clone(),
        _ => "None".to_owned(),
    };
    top_level.sort_by_key(|&i| std::cmp::Reverse(type_of(i)));

    let mut distinct: Vec<usize> = Vec::new();
    for i in top_level {
        if distinct.last().is_none_or(|&last| components[last] != components[i]) {
            distinct.push(i);
        }
    }
    if let [main] = distinct.as_slice() {
        let mut out = vec![*main];
        let mut node = *main;
        while let Some(&first) = children(node).first() {
            if out.contains(&first) {
                break;
            }
            out.push(first);
            node = first;
        }
        return out;
    }
    distinct.push(root);
    distinct
}
