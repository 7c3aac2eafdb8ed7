//! Sentry-compatible event grouping (config `newstyle:2023-01-11`), as a pure library: an
//! event goes in, grouping variants and their hashes come out. The specification is
//! `shared/reference/grouping.md`; every piece is checked against the conformance cases in
//! `shared/conformance/`.
//!
//! # How an event is grouped
//!
//! 1. **Normalisation** ([`normalize`]). The raw event is brought into the shape Sentry
//!    stores: frame `abs_path`/`filename` shuffling, `Type: value` splitting, log-entry
//!    formatting, default platform. Then the stack traces are prepared: native and C#
//!    function names are trimmed ([`functions`]), the *modify* phase of the stack-trace rules
//!    ([`enhancers`]) flips in-app flags and assigns categories, and unknown in-app flags
//!    become `false`. The rules are the config's built-in base (loaded at build time from
//!    `rules/`), then the caller's project rules, then the event's own
//!    `_grouping.enhancements`.
//! 2. **Strategies** ([`strategies`]). Each interface of the event that is present yields
//!    a tree of [`components::Component`]s per *variant*: exceptions, threads and stack traces
//!    yield `app` (in-app frames only) and `system` (all frames); templates, security reports
//!    and messages yield `default`. Inside a stack-based strategy, a variant without a
//!    contributing stack trace is switched off when another has one, and a variant that
//!    hashes like `system` (or any variant when `system` does not contribute) is switched
//!    off too. Across strategies the first one (by score) that contributes anything wins and
//!    the later ones are switched off.
//! 3. **Variants** ([`variants`]). Per variant name a root component wraps the strategies'
//!    components. Its hash is the MD5 of the concatenated values of every contributing
//!    component. The fingerprint then decides: `{{ default }}` keeps the variants; a custom
//!    fingerprint (the event's own or one set by server-side rules, [`fingerprinting`])
//!    switches them all off and adds a `custom-fingerprint` (or `built-in-fingerprint`)
//!    variant; a mixed fingerprint salts every contributing variant. A `checksum` on the event
//!    overrides all of this. When nothing contributes, `fallback` hashes the empty string.
//! 4. **Result** ([`GroupingResult`]). Variants are ordered `app`, others, `system`; the
//!    non-null hashes in that order, de-duplicated, are the group hashes, the first being
//!    the primary one.
//!
//! Messages and exception values are normalised with [`parameterize`] (first two lines,
//! variable parts replaced by placeholders) before they are hashed.
//!
//! [`error_metadata`] derives an error event's title, culprit and metadata; [`cli::run`]
//! groups JSON lines for the command line.
//!
//! # Conformance
//!
//! All 100 cases of `shared/conformance/grouping/cases.jsonl` produce Sentry's hashes, and
//! all 181 variant component trees match Sentry's, hints included (`conformance_tests`);
//! the 20 server-side fingerprinting cases also pass end to end through [`group_event`].
//!
//! # Known gaps
//!
//! * Only `newstyle:2023-01-11`; the hierarchical/mobile configs are not implemented.
//! * Relay's length limits on messages and exception values (about 8 KiB) are not applied.
//! * Native trimming lacks the Swift special cases (initializer expressions, `@attr`
//!   closures, `closure in X`).
//! * Not exercised by the conformance data, so inferred from the spec: the order of
//!   sibling exceptions in an exception group (by `exception_id`), CSP local-script
//!   violations, HPKP/Expect-CT/Expect-Staple reports, checksums, salted fingerprints.

pub mod cli;
pub mod components;
pub mod enhancers;
pub mod fingerprinting;
pub mod functions;
mod metadata;
pub mod normalize;
pub mod parameterize;
pub mod strategies;
pub mod variants;

#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod tests;

use std::sync::LazyLock;

use serde_json::Value;

pub use metadata::{error_metadata, ErrorMetadata};

use components::Component;
use enhancers::{Enhancements, EnhancerError};
use fingerprinting::{FingerprintingError, FingerprintingRules};

/// The grouping config this module implements.
pub const DEFAULT_CONFIG: &str = "newstyle:2023-01-11";

/// Errors of [`group_event`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupingError {
    #[error("unknown grouping config `{0}` (supported: newstyle:2023-01-11)")]
    UnknownConfig(String),
    #[error("the event must be a JSON object")]
    NotAnObject,
    #[error("{context}: {source}")]
    Enhancements {
        context: &'static str,
        #[source]
        source: EnhancerError,
    },
    #[error("built-in fingerprinting rules: {0}")]
    BuiltinFingerprinting(FingerprintingError),
}

/// Inputs besides the event.
#[derive(Debug, Clone)]
pub struct GroupingOptions {
    /// Grouping config id; only `newstyle:2023-01-11` is supported.
    pub config: String,
    /// The project's own stack-trace rules (text form), applied after the built-in base and
    /// before the event's `_grouping.enhancements`.
    pub project_enhancements: Option<String>,
    /// The project's server-side fingerprinting rules.
    pub fingerprinting_rules: Option<FingerprintingRules>,
    /// Whether the config's built-in fingerprinting rules (`javascript@2024-02-02`) apply.
    pub builtin_fingerprinting: bool,
}

impl Default for GroupingOptions {
    fn default() -> Self {
        GroupingOptions {
            config: DEFAULT_CONFIG.to_owned(),
            project_enhancements: None,
            fingerprinting_rules: None,
            builtin_fingerprinting: true,
        }
    }
}

impl GroupingOptions {
    /// Check the config id.
    pub fn for_config(config: &str) -> Result<GroupingOptions, GroupingError> {
        if config != DEFAULT_CONFIG {
            return Err(GroupingError::UnknownConfig(config.to_owned()));
        }
        Ok(GroupingOptions::default())
    }
}

/// What a variant is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantKind {
    Component,
    SaltedComponent,
    CustomFingerprint,
    BuiltInFingerprint,
    Checksum,
    HashedChecksum,
    Fallback,
}

impl VariantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VariantKind::Component => "component",
            VariantKind::SaltedComponent => "salted-component",
            VariantKind::CustomFingerprint => "custom-fingerprint",
            VariantKind::BuiltInFingerprint => "built-in-fingerprint",
            VariantKind::Checksum => "checksum",
            VariantKind::HashedChecksum => "hashed-checksum",
            VariantKind::Fallback => "fallback",
        }
    }
}

/// One grouping variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// `app`, `system`, `default`, `custom-fingerprint`, `fallback`, ...
    pub name: String,
    pub kind: VariantKind,
    /// MD5 hex when the variant contributes, else `None`.
    pub hash: Option<String>,
    /// The component tree (component and salted variants), for debugging.
    pub component: Option<Component>,
    /// Fingerprint values: resolved for custom fingerprints, raw for salted variants.
    pub values: Option<Vec<String>>,
    /// The server-side rule that set a custom fingerprint.
    pub matched_rule: Option<String>,
    /// The event's own fingerprint when a server-side rule replaced it.
    pub client_values: Option<Vec<String>>,
}

impl Variant {
    pub fn contributes(&self) -> bool {
        self.hash.is_some()
    }
}

/// The outcome of grouping one event.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupingResult {
    /// All variants, `app` first and `system` last.
    pub variants: Vec<Variant>,
    /// Non-null hashes in variant order, de-duplicated: the group hashes.
    pub hashes: Vec<String>,
    /// The first of [`Self::hashes`].
    pub primary_hash: String,
    /// Names of the variants with a hash, in variant order.
    pub contributing_variants: Vec<String>,
    /// The fingerprint after server-side rules, unresolved.
    pub fingerprint: Vec<String>,
    /// A title set by a fingerprinting rule's `title=` attribute.
    pub title_override: Option<String>,
}

impl GroupingResult {
    pub fn variant(&self, name: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.name == name)
    }
}

static BUILTIN_FINGERPRINTING: LazyLock<Result<FingerprintingRules, FingerprintingError>> = LazyLock::new(|| {
    let text = concat!(
        include_str!("rules/001_chunkload_errors.txt"),
        "\n",
        include_str!("rules/002_hydration_errors.txt")
    );
    FingerprintingRules::from_text(text).map(FingerprintingRules::into_builtin)
});

/// The normalised event and the stack-trace rules that apply to it.
pub fn prepare_event(event: &Value, options: &GroupingOptions) -> Result<(Value, Enhancements), GroupingError> {
    if options.config != DEFAULT_CONFIG {
        return Err(GroupingError::UnknownConfig(options.config.clone()));
    }
    if !event.is_object() {
        return Err(GroupingError::NotAnObject);
    }
    let mut event = event.clone();
    let event_rules = normalize::take_event_enhancements(&mut event);
    let mut rules = Enhancements::newstyle_2023_01_11().map_err(|source| GroupingError::Enhancements {
        context: "built-in stack-trace rules",
        source,
    })?;
    if let Some(text) = &options.project_enhancements {
        let extra = Enhancements::parse(text).map_err(|source| GroupingError::Enhancements {
            context: "project stack-trace rules",
            source,
        })?;
        rules.extend(&extra);
    }
    if let Some(text) = &event_rules {
        let extra = Enhancements::parse(text).map_err(|source| GroupingError::Enhancements {
            context: "event `_grouping.enhancements`",
            source,
        })?;
        rules.extend(&extra);
    }
    normalize::normalize_relay(&mut event);
    normalize::normalize_stacktraces(&mut event, &rules);
    Ok((event, rules))
}

/// Group one raw event.
pub fn group_event(event: &Value, options: &GroupingOptions) -> Result<GroupingResult, GroupingError> {
    let (event, rules) = prepare_event(event, options)?;
    group_prepared(&event, &rules, options)
}

/// [`group_event`] and [`error_metadata`] of one event, normalising it once instead of twice
/// (normalisation is a third of the cost of grouping). The metadata is derived from the
/// event as `options` normalised it, so in-app flags match what grouping saw.
pub fn group_and_describe(event: &Value, options: &GroupingOptions) -> Result<(GroupingResult, ErrorMetadata), GroupingError> {
    let (event, rules) = prepare_event(event, options)?;
    let result = group_prepared(&event, &rules, options)?;
    Ok((result, metadata::describe_prepared(&event)))
}

fn group_prepared(event: &Value, rules: &Enhancements, options: &GroupingOptions) -> Result<GroupingResult, GroupingError> {
    let builtin = if options.builtin_fingerprinting {
        Some(
            BUILTIN_FINGERPRINTING
                .as_ref()
                .map_err(|e| GroupingError::BuiltinFingerprinting(e.clone()))?,
        )
    } else {
        None
    };
    let no_rules = FingerprintingRules::default();
    let project = options.fingerprinting_rules.as_ref().unwrap_or(&no_rules);
    let fp = fingerprinting::apply_fingerprinting(event, project, builtin);

    let variants = match variants::checksum_variants(event) {
        Some(v) => v,
        None => {
            let platform = event.get("platform").and_then(Value::as_str).unwrap_or("other");
            let ctx = strategies::Context { platform, rules };
            let roots = variants::root_variants(strategies::run_all(event, &ctx));
            variants::finalize(roots, &fp)
        }
    };
    let (hashes, contributing_variants) = variants::hash_list(&variants);
    let primary_hash = hashes.first().cloned().unwrap_or_default();
    Ok(GroupingResult {
        variants,
        hashes,
        primary_hash,
        contributing_variants,
        fingerprint: fp.fingerprint.clone(),
        title_override: fp.title.clone(),
    })
}
