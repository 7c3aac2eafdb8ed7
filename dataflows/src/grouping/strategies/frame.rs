//! Frame components (grouping.md §8): module, filename, function and context line of one
//! stack frame, with the per-platform clean-ups that keep generated or unstable names out of
//! the hash.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::grouping::components::Component;
use crate::grouping::enhancers::Family;
use crate::grouping::functions::trim_function_name;
use crate::grouping::normalize::frame_platform;

/// Platforms whose context lines are stable enough to group on.
const CONTEXT_LINE_PLATFORMS: [&str; 5] = ["javascript", "node", "python", "php", "ruby"];

fn re(p: &str) -> Regex {
    Regex::new(p).unwrap_or_else(|e| panic!("frame pattern {p}: {e}"))
}

static JAVA_REFLECTION: LazyLock<Regex> = LazyLock::new(|| re(r"^((?:sun|jdk\.internal)\.reflect\.GeneratedMethodAccessor)\d+"));
static JAVA_CODEGEN: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    vec![
        (
            re(r"((?:sun|jdk\.internal)\.reflect\.Generated(?:Serialization)?ConstructorAccessor)\d+"),
            "${1}<auto>",
        ),
        (
            re(r"(\$\$(?:FastClass|Enhancer)By\w*?(?:CGLIB|Guice)\$\$)[a-fA-F0-9]+(?:_\d+)?"),
            "${1}<auto>",
        ),
        (re(r"(_\$\$_javassist)(?:_seam)?(?:_[a-zA-Z0-9]+)?"), "${1}<auto>"),
        (re(r"(\$fn__)\d+"), "${1}<auto>"),
        (re(r"(\$HibernateProxy\$)[a-zA-Z0-9]+"), "${1}<auto>"),
    ]
});
static JAVASSIST_FILENAME: LazyLock<Regex> = LazyLock::new(|| re(r"(_\$\$_javassist)(?:_seam)?(?:_[a-zA-Z0-9]+)?"));
static RUBY_ERB: LazyLock<Regex> = LazyLock::new(|| re(r"__\d{4,}_\d{4,}$"));
static WHITESPACE: LazyLock<Regex> = LazyLock::new(|| re(r"\s+"));

fn text<'a>(frame: &'a Value, key: &str) -> Option<&'a str> {
    frame.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn is_url(path: &str, with_file: bool) -> bool {
    let lower = path.to_ascii_lowercase();
    ["http:", "https:", "applewebdata:", "blob:"].iter().any(|s| lower.starts_with(s)) || (with_file && lower.starts_with("file:"))
}

/// Build the component of one frame. `platform` is the event platform.
pub fn frame_component(frame: &Value, platform: &str) -> Component {
    let frame_platform = frame_platform(frame, platform);
    let family = Family::of_platform(frame_platform);
    let abs_path = text(frame, "abs_path");
    let mut frame_comp = Component::new("frame");

    let module = text(frame, "module").map(|m| module_component(m, frame_platform, abs_path));
    let filename = text(frame, "filename").map(|f| filename_component(f, frame_platform, abs_path));
    let context_line = CONTEXT_LINE_PLATFORMS
        .contains(&frame_platform)
        .then(|| text(frame, "context_line").map(|l| context_line_component(l, family, frame, abs_path)))
        .flatten();
    let (function, frame_off) = function_component(frame, frame_platform, family, abs_path, context_line.as_ref());

    let module_contributes = module.as_ref().is_some_and(Component::contributes);
    if let Some(m) = module {
        frame_comp.push_child(m);
    }
    if let Some(mut f) = filename {
        if module_contributes {
            f.set_contributes(false, Some("module takes precedence"));
        }
        frame_comp.push_child(f);
    }
    if let Some(f) = function {
        frame_comp.push_child(f);
    }
    if let Some(c) = context_line {
        frame_comp.push_child(c);
    }
    if frame_off {
        frame_comp.update(Some(false), Some("ignored low quality javascript frame"));
    }
    frame_comp
}

fn module_component(module: &str, platform: &str, abs_path: Option<&str>) -> Component {
    let mut c = Component::leaf("module", module);
    if platform == "javascript" && module.contains('/') && abs_path.is_some_and(|a| a.ends_with(module)) {
        c.update(Some(false), Some("ignored bad javascript module"));
    } else if platform == "java" {
        if module.contains("$$Lambda$") {
            c.update(Some(false), Some("ignored java lambda"));
        } else if let Some(m) = JAVA_REFLECTION.captures(module).and_then(|caps| caps.get(1)) {
            let cleaned = m.as_str().to_owned();
            c = Component::leaf("module", cleaned);
            c.hint = Some("removed reflection marker".to_owned());
        } else {
            let mut cleaned = module.to_owned();
            for (pattern, replacement) in JAVA_CODEGEN.iter() {
                cleaned = pattern.replace_all(&cleaned, *replacement).into_owned();
            }
            if cleaned != module {
                c = Component::leaf("module", cleaned);
                c.hint = Some("removed codegen marker".to_owned());
            }
        }
    }
    c
}

fn filename_component(filename: &str, platform: &str, abs_path: Option<&str>) -> Component {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or(filename).to_lowercase();
    let mut c = Component::leaf("filename", base.clone());
    if abs_path.is_some_and(|a| is_url(a, false)) {
        c.update(Some(false), Some("ignored because frame points to a URL"));
    } else if filename == "<anonymous>" {
        c.update(Some(false), Some("anonymous filename discarded"));
    } else if filename == "[native code]" {
        c.update(Some(false), Some("native code indicated by filename"));
    } else if platform == "java" {
        let cleaned = JAVASSIST_FILENAME.replace_all(&base, "${1}<auto>");
        if cleaned != base {
            c = Component::leaf("filename", cleaned.into_owned());
            c.hint = Some("cleaned javassist parts".to_owned());
        }
    }
    c
}

fn context_line_component(line: &str, family: Family, frame: &Value, abs_path: Option<&str>) -> Component {
    let collapsed = WHITESPACE.replace_all(line, " ");
    let mut c = Component::leaf("context-line", collapsed.trim());
    if line.chars().count() > 120 {
        c.update(Some(false), Some("discarded because line too long"));
    } else if family == Family::JavaScript && text(frame, "function").is_none() && abs_path.is_some_and(|a| is_url(a, true)) {
        c.update(Some(false), Some("discarded because from URL origin"));
    }
    c
}

fn after_last_dot(s: &str) -> &str {
    s.rsplit('.').next().unwrap_or(s)
}

/// The function component, and whether the whole frame is to be switched off.
fn function_component(
    frame: &Value,
    platform: &str,
    family: Family,
    abs_path: Option<&str>,
    context_line: Option<&Component>,
) -> (Option<Component>, bool) {
    let function = text(frame, "function");
    let raw_function = text(frame, "raw_function");
    let name: Option<String> = if platform == "csharp" {
        raw_function.or(function).map(str::to_owned)
    } else {
        match (function, raw_function) {
            (Some(f), Some(_)) => Some(f.to_owned()),
            (Some(f), None) => Some(trim_function_name(f, platform)),
            (None, Some(r)) => Some(r.to_owned()),
            (None, None) => None,
        }
    };
    let low_quality_path = family == Family::JavaScript
        && abs_path.is_some_and(|a| matches!(a, "[native code]" | "native code" | "eval code" | "<anonymous>"));
    let Some(mut name) = name else { return (None, low_quality_path) };
    let mut hint: Option<&str> = None;
    let mut off: Option<&str> = None;
    let mut frame_off = false;

    match (platform, family) {
        ("ruby", _) => {
            if name.starts_with("block ") {
                name = "block".to_owned();
                hint = Some("ruby block");
            } else if let Some(m) = RUBY_ERB.find(&name) {
                name.truncate(m.start());
                hint = Some("removed generated erb template suffix");
            }
        }
        ("php", _) => {
            if name.starts_with("[Anonymous") {
                off = Some("ignored anonymous function");
            } else if name.starts_with("class@anonymous") {
                match name.rfind("::") {
                    Some(i) => {
                        name = name[i + 2..].to_owned();
                        hint = Some("anonymous class method");
                    }
                    None => off = Some("ignored anonymous function"),
                }
            }
        }
        ("java", _) if name.starts_with("lambda$") => off = Some("ignored lambda function"),
        ("java", _) => {}
        (_, Family::Native) if name == "<redacted>" || name == "<unknown>" => off = Some("ignored unknown function"),
        (_, Family::Native) => {}
        (_, Family::JavaScript) => {
            let trimmed = after_last_dot(&name).to_owned();
            if trimmed != name {
                name = trimmed;
                hint = Some("trimmed javascript function");
            }
            let sourcemapped = frame.get("data").and_then(|d| d.get("sourcemap")).is_some_and(|s| !s.is_null());
            if sourcemapped && context_line.is_some_and(Component::contributes) {
                off = Some("ignored because sourcemap used and context line available");
            }
            let probe = after_last_dot(raw_function.or(function).unwrap_or(""));
            if matches!(probe, "?" | "<anonymous function>" | "<anonymous>" | "Anonymous function") || probe.ends_with("/<") {
                off = off.or(Some("ignored unknown function name"));
            }
            frame_off = probe == "eval" || low_quality_path;
            if probe.is_empty() {
                let mut c = Component::new("function");
                c.push_str(name);
                c.update(Some(false), None);
                return (Some(c), frame_off);
            }
        }
        _ => {}
    }
    let mut c = Component::leaf("function", name);
    c.hint = hint.map(str::to_owned);
    if let Some(h) = off {
        c.update(Some(false), Some(h));
    }
    (Some(c), frame_off)
}
