//! Stack-trace rules ("enhancements", grouping.md §13).
//!
//! A rule set is the built-in base for the grouping config followed by any extra rules (a
//! project's, then the event's `_grouping.enhancements`). Every matching rule applies, in
//! order, so later rules override earlier ones. Rules act in two phases:
//!
//! * **modify** ([`Enhancements::modify_frames`]), during normalisation: `±app` and
//!   `category=` change the frames, so later rules (and the grouping) see the new in-app flag
//!   and category; exception matchers restrict a rule to matching exceptions.
//! * **assemble** ([`Enhancements::assemble`]), per stack trace and variant: `±group` flips
//!   frame components on or off, `max-frames`/`min-frames` cap or void the stack.
//!
//! Within one rule all matching frames are found before any is changed, so a rule never sees
//! its own changes.

mod actions;
mod glob;
mod matchers;
mod parser;

use std::sync::{Arc, LazyLock};

pub use actions::{Action, FlagAction, FlagKind, Range, VarAction};
pub use matchers::{ExceptionData, Family, FrameOffset, MatchFrame, Matcher};

use crate::grouping::components::Component;

/// Errors loading stack-trace rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnhancerError {
    #[error("stack-trace rule `{rule}`: {message}")]
    Syntax { rule: String, message: String },
    #[error("stack-trace rule pattern `{pattern}`: {message}")]
    Pattern { pattern: String, message: String },
    #[error("unknown stack-trace rule matcher `{0}`")]
    UnknownMatcher(String),
}

/// One rule: matchers and actions.
#[derive(Debug, Clone)]
pub struct Rule {
    frame_matchers: Vec<Matcher>,
    exception_matchers: Vec<Matcher>,
    actions: Vec<Action>,
    /// Text used in hints.
    text: String,
}

impl Rule {
    fn new(matchers: Vec<Matcher>, actions: Vec<Action>) -> Rule {
        let (exception_matchers, frame_matchers): (Vec<Matcher>, Vec<Matcher>) =
            matchers.into_iter().partition(Matcher::is_exception_matcher);
        // Hints quote the rule in canonical form: exception matchers, frame matchers, actions.
        let text = exception_matchers
            .iter()
            .chain(&frame_matchers)
            .map(|m| m.text().to_owned())
            .chain(actions.iter().map(|a| a.to_string()))
            .collect::<Vec<_>>()
            .join(" ");
        Rule {
            frame_matchers,
            exception_matchers,
            actions,
            text,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    fn matches_exception(&self, exc: &ExceptionData) -> bool {
        self.exception_matchers.iter().all(|m| m.matches_exception(exc))
    }

    fn matches_frame(&self, frames: &[MatchFrame], idx: usize) -> bool {
        self.frame_matchers.iter().all(|m| m.matches_frame(frames, idx))
    }

    fn is_modifier(&self) -> bool {
        self.actions.iter().any(Action::is_modifier)
    }

    fn is_updater(&self) -> bool {
        self.actions.iter().any(Action::is_updater)
    }
}

/// Stack-trace state set by variable actions during assembly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StacktraceState {
    pub max_frames: usize,
    pub max_frames_rule: Option<String>,
    pub min_frames: usize,
    pub min_frames_rule: Option<String>,
    pub invert_stacktrace: bool,
}

/// An ordered rule set.
#[derive(Debug, Clone, Default)]
pub struct Enhancements {
    // Shared so that extending the built-in base per event copies pointers, not rules.
    rules: Vec<Arc<Rule>>,
}

const NEWSTYLE_2023_01_11: &str = include_str!("../rules/newstyle@2023-01-11.txt");

static BASE_2023: LazyLock<Result<Enhancements, EnhancerError>> = LazyLock::new(|| Enhancements::parse(NEWSTYLE_2023_01_11));

impl Enhancements {
    /// Parse rules, one per line; blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> Result<Enhancements, EnhancerError> {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            rules.push(Arc::new(parser::parse_rule(line)?));
        }
        Ok(Enhancements { rules })
    }

    /// The rule base of `newstyle:2023-01-11`.
    pub fn newstyle_2023_01_11() -> Result<Enhancements, EnhancerError> {
        BASE_2023.clone()
    }

    /// Append `other`'s rules after this set's.
    pub fn extend(&mut self, other: &Enhancements) {
        self.rules.extend(other.rules.iter().cloned());
    }

    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|r| &**r)
    }

    /// Modify phase: apply `±app` and `category=` actions to `frames`.
    pub fn modify_frames(&self, frames: &mut [MatchFrame], exc: &ExceptionData) {
        let mut hits = Vec::with_capacity(frames.len());
        for rule in self.rules.iter().filter(|r| r.is_modifier()) {
            if !rule.matches_exception(exc) {
                continue;
            }
            hits.extend((0..frames.len()).filter(|&i| rule.matches_frame(frames, i)));
            for idx in hits.drain(..) {
                for action in rule.actions.iter().filter(|a| a.is_modifier()) {
                    action.modify_frames(frames, idx);
                }
            }
        }
    }

    /// Assemble phase: flip frame `components` per `±group`, add `±app` hints, then keep only
    /// the last `max-frames` contributing frames. `components[i]` belongs to `frames[i]`.
    pub fn assemble(&self, components: &mut [Component], frames: &[MatchFrame]) -> StacktraceState {
        let mut state = StacktraceState::default();
        for rule in self.rules.iter().filter(|r| r.is_updater()) {
            for idx in 0..frames.len() {
                if !rule.matches_frame(frames, idx) {
                    continue;
                }
                for action in &rule.actions {
                    action.update_components(components, frames, idx, &rule.text);
                    match action {
                        Action::Var(VarAction::MaxFrames(n)) => {
                            state.max_frames = *n;
                            state.max_frames_rule = Some(rule.text.clone());
                        }
                        Action::Var(VarAction::MinFrames(n)) => {
                            state.min_frames = *n;
                            state.min_frames_rule = Some(rule.text.clone());
                        }
                        Action::Var(VarAction::InvertStacktrace(b)) => state.invert_stacktrace = *b,
                        _ => {}
                    }
                }
            }
        }
        if state.max_frames > 0 {
            let max = state.max_frames;
            let mut kept = 0;
            for component in components.iter_mut().rev() {
                if !component.contributes() {
                    continue;
                }
                kept += 1;
                if kept <= max {
                    continue;
                }
                let mut hint = format!(
                    "ignored because only {max} {} considered",
                    if max == 1 { "frame is" } else { "frames are" }
                );
                if let Some(r) = &state.max_frames_rule {
                    hint.push_str(&format!(" by stack trace rule ({r})"));
                }
                component.update(Some(false), Some(&hint));
            }
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_rules_parse() {
        let e = Enhancements::newstyle_2023_01_11().expect("base rules");
        assert_eq!(e.rules().count(), 296);
    }

    #[test]
    fn parses_caller_callee_and_quotes() {
        let e = Enhancements::parse(
            "[ category:free ]       | category:system  category=internals\n\
             [ !category:system ] | category:system | [ !category:system ] category=indirection\n\
             family:native package:\"C:/Program Files/NVIDIA Corporation/**\" category=driver\n\
             family:native function:\"-\\[NSISEngine*\" category=ui  # auto-layout engine\n\
             stack.function:foo max-frames = 3 ^-group v+app",
        )
        .expect("parse");
        let rules: Vec<&Rule> = e.rules().collect();
        assert_eq!(rules.len(), 5);
        assert_eq!(rules[4].actions().len(), 3);
        assert_eq!(rules[4].text(), "function:foo max-frames=3 ^-group v+app");
        assert_eq!(
            rules[1].text(),
            "[ !category:system ] | category:system | [ !category:system ] category=indirection"
        );
    }

    fn frames(functions: &[&str]) -> Vec<MatchFrame> {
        functions
            .iter()
            .map(|f| MatchFrame {
                family: Family::Native,
                function: Some((*f).to_owned()),
                module: None,
                package: None,
                path: None,
                category: None,
                in_app: None,
                orig_in_app: None,
            })
            .collect()
    }

    #[test]
    fn modify_phase_ranges_and_neighbours() {
        let e = Enhancements::parse(
            "function:b ^+app\n\
             [ function:a ] | function:b category=after_a\n\
             function:c | [ function:d ] category=before_d\n\
             type:Boom function:a +app",
        )
        .expect("parse");
        let mut f = frames(&["a", "b", "c", "d"]);
        e.modify_frames(&mut f, &ExceptionData::default());
        let in_app: Vec<Option<bool>> = f.iter().map(|f| f.in_app).collect();
        assert_eq!(in_app, vec![None, None, Some(true), Some(true)]);
        assert_eq!(f[1].category.as_deref(), Some("after_a"));
        assert_eq!(f[2].category.as_deref(), Some("before_d"));
        assert_eq!(f[2].orig_in_app, Some(None));

        let boom = ExceptionData {
            ty: Some("Boom".to_owned()),
            ..ExceptionData::default()
        };
        e.modify_frames(&mut f, &boom);
        assert_eq!(f[0].in_app, Some(true));
    }

    #[test]
    fn assemble_phase_group_and_max_frames() {
        let e = Enhancements::parse("function:b v-group\nfunction:* max-frames=2").expect("parse");
        let f = frames(&["a", "b", "c", "d", "e"]);
        let mut components: Vec<Component> = f.iter().map(|_| Component::leaf("frame", "x")).collect();
        let state = e.assemble(&mut components, &f);
        assert_eq!(state.max_frames, 2);
        let on: Vec<bool> = components.iter().map(Component::contributes).collect();
        // `a` is dropped by `v-group`; of `b c d e` only the last two remain.
        assert_eq!(on, vec![false, false, false, true, true]);
        assert_eq!(
            components[0].hint.as_deref(),
            Some("ignored by stack trace rule (function:b v-group)")
        );
        assert_eq!(
            components[1].hint.as_deref(),
            Some("ignored because only 2 frames are considered by stack trace rule (function:* max-frames=2)")
        );
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(matches!(Enhancements::parse("function:foo"), Err(EnhancerError::Syntax { .. })));
        assert!(matches!(Enhancements::parse("+app"), Err(EnhancerError::Syntax { .. })));
        assert!(matches!(
            Enhancements::parse("bogus:foo +app"),
            Err(EnhancerError::UnknownMatcher(_))
        ));
        assert!(Enhancements::parse("function:foo +bogus").is_err());
    }
}
