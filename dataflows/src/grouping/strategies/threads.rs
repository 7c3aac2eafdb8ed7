//! Threads (grouping.md §6): group on the one thread that matters, if it can be told apart.

use serde_json::Value;

use super::stacktrace::stacktrace_variants;
use super::{Context, Variants};
use crate::grouping::components::Component;

pub fn threads(event: &Value, ctx: &Context) -> Option<Variants> {
    let list: Vec<&Value> = match event.get("threads")? {
        Value::Object(o) => o.get("values").and_then(Value::as_array)?.iter().collect(),
        Value::Array(a) => a.iter().collect(),
        _ => return None,
    };
    if list.is_empty() {
        return None;
    }
    let flag = |t: &Value, k: &str| t.get(k).and_then(Value::as_bool).unwrap_or(false);
    let pick = |k: &str| {
        let hits: Vec<&Value> = list.iter().copied().filter(|t| flag(t, k)).collect();
        (hits.len() == 1).then(|| hits[0])
    };
    let chosen = pick("crashed")
        .or_else(|| pick("current"))
        .or_else(|| (list.len() == 1).then(|| list[0]));
    let stacktrace = chosen.and_then(|t| t.get("stacktrace")).filter(|s| s.is_object());
    let Some(st) = stacktrace else {
        let mut c = Component::new("threads");
        let hint = match chosen {
            Some(_) => "thread has no stacktrace".to_owned(),
            None => format!(
                "ignored because does not contain exactly one crashing, one current or just one thread, instead contains {} threads",
                list.len()
            ),
        };
        c.update(Some(false), Some(&hint));
        return Some(vec![("app".to_owned(), c)]);
    };
    Some(
        stacktrace_variants(st, ctx)
            .into_iter()
            .map(|(name, stack)| (name, Component::with_children("threads", vec![stack])))
            .collect(),
    )
}
