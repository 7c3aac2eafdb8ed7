//! Stack traces (grouping.md §7): frame components per variant, recursion collapsing, the
//! in-app filter of the `app` variant, and the assemble phase of the stack-trace rules.

use serde_json::Value;

use super::frame::frame_component;
use super::{Context, Variants};
use crate::grouping::components::Component;
use crate::grouping::enhancers::Family;
use crate::grouping::normalize::{frame_platform, match_frame};

/// The top-level `stacktrace` interface.
pub fn top_level(event: &Value, ctx: &Context) -> Option<Variants> {
    let st = event.get("stacktrace").filter(|s| s.is_object())?;
    Some(stacktrace_variants(st, ctx))
}

/// `system` and `app` components of one stack trace.
pub fn stacktrace_variants(stacktrace: &Value, ctx: &Context) -> Variants {
    let empty = Vec::new();
    let frames: Vec<&Value> = stacktrace
        .get("frames")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
        .iter()
        .filter(|f| f.is_object())
        .collect();
    let mut out = Variants::new();
    for variant in ["app", "system"] {
        out.push((variant.to_owned(), stacktrace_component(&frames, ctx, variant == "app")));
    }
    out
}

/// Fields compared to detect direct recursion.
const RECURSION_KEYS: [&str; 7] = ["abs_path", "package", "module", "filename", "function", "lineno", "colno"];

fn same_frame(a: &Value, b: &Value) -> bool {
    RECURSION_KEYS.iter().all(|k| a.get(*k) == b.get(*k))
}

fn stacktrace_component(frames: &[&Value], ctx: &Context, app_only: bool) -> Component {
    let mut components: Vec<Component> = Vec::with_capacity(frames.len());
    for (i, frame) in frames.iter().enumerate() {
        let mut c = frame_component(frame, ctx.platform);
        if i > 0 && same_frame(frames[i - 1], frame) {
            c.update(Some(false), Some("ignored due to recursion"));
        }
        if app_only && !frame.get("in_app").and_then(Value::as_bool).unwrap_or(false) {
            c.update(Some(false), Some("non app frame"));
        }
        components.push(c);
    }

    if let [only] = components.as_mut_slice() {
        let frame = frames[0];
        let js = Family::of_platform(frame_platform(frame, ctx.platform)) == Family::JavaScript;
        let no_function = frame.get("function").and_then(Value::as_str).is_none_or(str::is_empty);
        let url = frame.get("abs_path").and_then(Value::as_str).is_some_and(|a| {
            let a = a.to_ascii_lowercase();
            ["http:", "https:", "applewebdata:", "blob:", "file:"]
                .iter()
                .any(|s| a.starts_with(s))
        });
        if only.contributes() && js && no_function && url {
            only.update(Some(false), Some("ignored single non-URL JavaScript frame"));
        }
    }

    let match_frames: Vec<_> = frames.iter().map(|f| match_frame(f, ctx.platform)).collect();
    let state = ctx.rules.assemble(&mut components, &match_frames);

    let mut st = Component::with_children("stacktrace", components);
    let contributing = st.children().filter(|c| c.contributes()).count();
    if state.min_frames > 0 && contributing > 0 && contributing < state.min_frames {
        let hint = format!(
            "discarded because stack trace only contains {contributing} frame{} which is under the configured threshold",
            if contributing == 1 { "" } else { "s" }
        );
        st.update(Some(false), Some(&hint));
    }
    st
}
