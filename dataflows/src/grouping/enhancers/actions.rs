//! Actions of stack-trace rules.
//!
//! Flag actions act on the matched frame, or with a range on every frame after it (`^`,
//! towards the crash) or before it (`v`). `±app` and `category=` run in the modify phase and
//! change the frames themselves; `±group` and the frame-count variables run in the assemble
//! phase and change frame components.

use std::fmt;

use super::matchers::MatchFrame;
use crate::grouping::components::Component;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Up,
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    App,
    Group,
    /// Hierarchical grouping only; parsed, without effect on this config.
    Prefix,
    /// Hierarchical grouping only; parsed, without effect on this config.
    Sentinel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagAction {
    pub flag: bool,
    pub kind: FlagKind,
    pub range: Option<Range>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarAction {
    MaxFrames(usize),
    MinFrames(usize),
    InvertStacktrace(bool),
    Category(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Flag(FlagAction),
    Var(VarAction),
}

impl FlagAction {
    fn span(&self, len: usize, idx: usize) -> std::ops::Range<usize> {
        match self.range {
            None => idx..(idx + 1).min(len),
            Some(Range::Up) => (idx + 1).min(len)..len,
            Some(Range::Down) => 0..idx.min(len),
        }
    }
}

impl Action {
    /// Acts in the modify phase (changes frames).
    pub fn is_modifier(&self) -> bool {
        matches!(
            self,
            Action::Flag(FlagAction { kind: FlagKind::App, .. }) | Action::Var(VarAction::Category(_))
        )
    }

    /// Acts in the assemble phase (changes components or stack-trace state).
    pub fn is_updater(&self) -> bool {
        !matches!(self, Action::Var(VarAction::Category(_)))
    }

    pub fn modify_frames(&self, frames: &mut [MatchFrame], idx: usize) {
        match self {
            Action::Flag(a) if a.kind == FlagKind::App => {
                let span = a.span(frames.len(), idx);
                for frame in &mut frames[span] {
                    if frame.in_app != Some(a.flag) {
                        if frame.orig_in_app.is_none() {
                            frame.orig_in_app = Some(frame.in_app);
                        }
                        frame.in_app = Some(a.flag);
                    }
                }
            }
            Action::Var(VarAction::Category(c)) => {
                if let Some(frame) = frames.get_mut(idx) {
                    frame.category = Some(c.clone());
                }
            }
            _ => {}
        }
    }

    pub fn update_components(&self, components: &mut [Component], frames: &[MatchFrame], idx: usize, rule_text: &str) {
        let Action::Flag(a) = self else { return };
        let span = a.span(components.len().min(frames.len()), idx);
        for i in span {
            let component = &mut components[i];
            match a.kind {
                FlagKind::Group => {
                    if component.contributes() != a.flag {
                        let state = if a.flag { "un-ignored" } else { "ignored" };
                        component.update(Some(a.flag), Some(&format!("{state} by stack trace rule ({rule_text})")));
                    }
                }
                FlagKind::App => {
                    let frame = &frames[i];
                    let changed = match frame.orig_in_app {
                        Some(orig) => orig != frame.in_app,
                        None => a.flag == component.contributes(),
                    };
                    if changed {
                        let state = if a.flag { "in-app" } else { "out of app" };
                        component.update(None, Some(&format!("marked {state} by stack trace rule ({rule_text})")));
                    }
                }
                FlagKind::Prefix | FlagKind::Sentinel => {}
            }
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Flag(a) => {
                match a.range {
                    Some(Range::Up) => f.write_str("^")?,
                    Some(Range::Down) => f.write_str("v")?,
                    None => {}
                }
                f.write_str(if a.flag { "+" } else { "-" })?;
                f.write_str(match a.kind {
                    FlagKind::App => "app",
                    FlagKind::Group => "group",
                    FlagKind::Prefix => "prefix",
                    FlagKind::Sentinel => "sentinel",
                })
            }
            Action::Var(VarAction::MaxFrames(n)) => write!(f, "max-frames={n}"),
            Action::Var(VarAction::MinFrames(n)) => write!(f, "min-frames={n}"),
            Action::Var(VarAction::InvertStacktrace(b)) => write!(f, "invert-stacktrace={}", if *b { 1 } else { 0 }),
            Action::Var(VarAction::Category(c)) => write!(f, "category={c}"),
        }
    }
}
