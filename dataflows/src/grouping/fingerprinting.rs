//! Server-side fingerprinting rules (grouping.md §12.4).
