//! Per-key state machines of the ingest path. Each is plain Rust with O(1) or O(log n) work
//! per record; the timely operator in `graph::ingest` owns them, keyed by project.

pub mod conditions;
pub mod creation_quota;
pub mod dedup;
mod effects;
mod epoch_facets;
pub mod footprint;
mod mutations;
pub mod noise_gate;
pub mod project;
pub mod releases;
mod row;
pub mod status_change;
mod triage;
mod users;

pub use effects::{Counter, Effects, IngestConfig};
pub use epoch_facets::EpochFacets;
pub use project::ProjectState;
pub use row::{EventGroup, GroupKey, GroupRow, RowTexts};
pub use triage::{inbox_entry, InboxEntry, InboxReason};
