//! Message parameterization (grouping.md §10).
