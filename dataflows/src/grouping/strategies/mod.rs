//! Grouping strategies (grouping.md §4–§11). Each strategy reads one interface of the
//! normalised event and yields a component per variant (`app`/`system` for the stack-based
//! ones, `default` for the others).

pub mod exception;
pub mod frame;
pub mod message;
pub mod security;
pub mod stacktrace;
pub mod template;
pub mod threads;

use serde_json::Value;

use super::components::Component;
use super::enhancers::Enhancements;

/// What every strategy needs besides the event.
pub struct Context<'a> {
    /// The event platform (after normalisation, never empty).
    pub platform: &'a str,
    pub rules: &'a Enhancements,
}

/// Components by variant name, in a stable order.
pub type Variants = Vec<(String, Component)>;

pub fn get<'v>(variants: &'v Variants, name: &str) -> Option<&'v Component> {
    variants.iter().find(|(n, _)| n == name).map(|(_, c)| c)
}

/// A strategy's result: its id (for precedence hints) and variants.
pub struct StrategyOutput {
    pub id: &'static str,
    pub variants: Variants,
}

/// Run the strategies in descending score; those whose interface is absent yield nothing.
pub fn run_all(event: &Value, ctx: &Context) -> Vec<StrategyOutput> {
    let mut out = Vec::new();
    let mut push = |id: &'static str, variants: Option<Variants>| {
        if let Some(variants) = variants.filter(|v| !v.is_empty()) {
            out.push(StrategyOutput { id, variants });
        }
    };
    push("exception", exception::chained_exception(event, ctx).map(finish_stack_strategy));
    push("threads", threads::threads(event, ctx).map(finish_stack_strategy));
    push("stacktrace", stacktrace::top_level(event, ctx).map(finish_stack_strategy));
    push("template", template::template(event));
    push("csp", security::csp(event));
    push("hpkp", security::hpkp(event));
    push("expect-staple", security::expect_staple(event));
    push("expect-ct", security::expect_ct(event));
    push("message", message::message(event));
    out
}

/// Stack-trace dominance, then the `system`-priority dedup (grouping.md §4).
fn finish_stack_strategy(mut variants: Variants) -> Variants {
    remove_non_stacktrace_variants(&mut variants);
    prioritize_system(&mut variants);
    variants
}

/// If some variant groups on a stack trace, variants that do not are switched off.
fn remove_non_stacktrace_variants(variants: &mut Variants) {
    let with_stack: Vec<bool> = variants.iter().map(|(_, c)| c.has_contributing("stacktrace")).collect();
    if !with_stack.iter().any(|&b| b) {
        return;
    }
    for ((_, c), has) in variants.iter_mut().zip(with_stack) {
        if !has {
            c.set_contributes(
                false,
                Some("ignored because this variant does not have a contributing stacktrace, but the system variant does"),
            );
        }
    }
}

/// `system` decides: without it contributing, nothing of this strategy does; a variant that
/// hashes like `system` adds nothing and is switched off.
fn prioritize_system(variants: &mut Variants) {
    let Some(system) = get(variants, "system") else { return };
    let system_contributes = system.contributes();
    let system_hash = system.hash();
    for (name, c) in variants.iter_mut() {
        if name == "system" {
            continue;
        }
        if !system_contributes {
            c.set_contributes(false, Some("ignored because system variant is not used"));
        } else if c.hash() == system_hash {
            c.set_contributes(false, Some("ignored because hash matches system variant"));
        }
    }
}
