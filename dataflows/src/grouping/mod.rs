//! Sentry's event grouping (config `newstyle:2023-01-11`), as a pure library: event in,
//! variants and hashes out (../shared/reference/grouping.md). Built piece by piece, each
//! piece checked against the conformance cases in ../shared/conformance.

pub mod fingerprinting;
pub mod parameterize;
