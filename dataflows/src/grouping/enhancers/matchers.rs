//! Matchers of stack-trace rules: frame fields (optionally of the caller or callee frame) and
//! exception fields.

use regex::Regex;

use super::glob::glob_to_regex;
use super::EnhancerError;

/// A frame's behaviour family (grouping.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Native,
    JavaScript,
    Other,
}

impl Family {
    pub fn of_platform(platform: &str) -> Family {
        match platform {
            "objc" | "cocoa" | "swift" | "native" | "c" => Family::Native,
            "javascript" | "node" => Family::JavaScript,
            _ => Family::Other,
        }
    }
}

/// A frame as rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchFrame {
    pub family: Family,
    pub function: Option<String>,
    pub module: Option<String>,
    /// Lowercased, `\` replaced by `/`.
    pub package: Option<String>,
    /// `abs_path`, else `filename`; lowercased, `\` replaced by `/`.
    pub path: Option<String>,
    pub category: Option<String>,
    pub in_app: Option<bool>,
    /// The in-app value before the first rule changed it (`Some(None)`: it was unset).
    pub orig_in_app: Option<Option<bool>>,
}

/// Exception fields rules can match; absent fields match as `<unknown>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExceptionData {
    pub ty: Option<String>,
    pub value: Option<String>,
    pub mechanism: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameOffset {
    /// The frame before the matched one (further from the crash).
    Caller,
    /// The frame after the matched one (closer to the crash).
    Callee,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Function,
    Module,
    Package,
    Path,
    Category,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExceptionField {
    Type,
    Value,
    Mechanism,
}

#[derive(Debug, Clone)]
enum Kind {
    Field(Field, Regex),
    Family { native: bool, javascript: bool },
    InApp(bool),
    Exception(ExceptionField, Regex),
}

/// One `[!]key:argument` matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    negated: bool,
    offset: FrameOffset,
    kind: Kind,
    /// Canonical text (`path:` for `stack.abs_path:`, ...) for rule hints.
    text: String,
}

impl Matcher {
    pub fn new(negated: bool, key: &str, arg: &str, offset: FrameOffset) -> Result<Matcher, EnhancerError> {
        let glob = |path_like: bool| {
            // Path keys compare against `/`-separated values.
            let pat = if path_like { arg.replace('\\', "/") } else { arg.to_owned() };
            glob_to_regex(&pat, path_like).map_err(|e| EnhancerError::Pattern {
                pattern: arg.to_owned(),
                message: e.to_string(),
            })
        };
        let kind = match key {
            "function" | "stack.function" => Kind::Field(Field::Function, glob(false)?),
            "module" | "stack.module" => Kind::Field(Field::Module, glob(false)?),
            "category" => Kind::Field(Field::Category, glob(false)?),
            "path" | "stack.abs_path" => Kind::Field(Field::Path, glob(true)?),
            "package" | "stack.package" => Kind::Field(Field::Package, glob(true)?),
            "family" => {
                let (mut native, mut javascript) = (false, false);
                for f in arg.split(',') {
                    match f.trim() {
                        "native" => native = true,
                        "javascript" => javascript = true,
                        "all" => (native, javascript) = (true, true),
                        _ => {}
                    }
                }
                Kind::Family { native, javascript }
            }
            "app" => Kind::InApp(match arg {
                "1" | "yes" | "true" => true,
                "0" | "no" | "false" => false,
                _ => {
                    return Err(EnhancerError::Pattern {
                        pattern: arg.to_owned(),
                        message: "`app` takes yes/no".to_owned(),
                    })
                }
            }),
            "type" | "error.type" => Kind::Exception(ExceptionField::Type, glob(false)?),
            "value" | "error.value" => Kind::Exception(ExceptionField::Value, glob(false)?),
            "mechanism" | "error.mechanism" => Kind::Exception(ExceptionField::Mechanism, glob(false)?),
            other => return Err(EnhancerError::UnknownMatcher(other.to_owned())),
        };
        let canonical = match &kind {
            Kind::Field(Field::Function, _) => "function",
            Kind::Field(Field::Module, _) => "module",
            Kind::Field(Field::Package, _) => "package",
            Kind::Field(Field::Path, _) => "path",
            Kind::Field(Field::Category, _) => "category",
            Kind::Family { .. } => "family",
            Kind::InApp(_) => "app",
            Kind::Exception(ExceptionField::Type, _) => "type",
            Kind::Exception(ExceptionField::Value, _) => "value",
            Kind::Exception(ExceptionField::Mechanism, _) => "mechanism",
        };
        let inner = format!("{}{canonical}:{arg}", if negated { "!" } else { "" });
        let text = match offset {
            FrameOffset::Caller => format!("[ {inner} ] |"),
            FrameOffset::Callee => format!("| [ {inner} ]"),
            FrameOffset::None => inner,
        };
        Ok(Matcher {
            negated,
            offset,
            kind,
            text,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn offset(&self) -> FrameOffset {
        self.offset
    }

    pub fn is_exception_matcher(&self) -> bool {
        matches!(self.kind, Kind::Exception(..))
    }

    /// Does the frame at `idx` (shifted by the caller/callee offset) match?
    pub fn matches_frame(&self, frames: &[MatchFrame], idx: usize) -> bool {
        let target = match self.offset {
            FrameOffset::Caller => idx.checked_sub(1),
            FrameOffset::Callee => idx.checked_add(1),
            FrameOffset::None => Some(idx),
        };
        // A missing neighbour fails even a negated matcher.
        let Some(frame) = target.and_then(|t| frames.get(t)) else {
            return false;
        };
        self.negated ^ self.frame_positive(frame)
    }

    fn frame_positive(&self, frame: &MatchFrame) -> bool {
        match &self.kind {
            Kind::Field(field, re) => {
                let value = match field {
                    Field::Function => frame.function.as_deref(),
                    Field::Module => frame.module.as_deref(),
                    Field::Package => frame.package.as_deref(),
                    Field::Path => frame.path.as_deref(),
                    Field::Category => frame.category.as_deref(),
                };
                let Some(value) = value else { return false };
                if re.is_match(value) {
                    return true;
                }
                // Relative paths also match rules written for absolute ones.
                matches!(field, Field::Package | Field::Path) && !value.starts_with('/') && re.is_match(&format!("/{value}"))
            }
            Kind::Family { native, javascript } => match frame.family {
                Family::Native => *native,
                Family::JavaScript => *javascript,
                Family::Other => false,
            },
            Kind::InApp(expected) => frame.in_app.unwrap_or(false) == *expected,
            Kind::Exception(..) => false,
        }
    }

    pub fn matches_exception(&self, exc: &ExceptionData) -> bool {
        let Kind::Exception(field, re) = &self.kind else { return true };
        let value = match field {
            ExceptionField::Type => exc.ty.as_deref(),
            ExceptionField::Value => exc.value.as_deref(),
            ExceptionField::Mechanism => exc.mechanism.as_deref(),
        };
        self.negated ^ re.is_match(value.unwrap_or("<unknown>"))
    }
}
