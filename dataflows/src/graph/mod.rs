//! The dataflow graph: blocks of lines → parse → ingest (per-project state machines) →
//! view collections → the materialized [`IssueViews`](crate::views::IssueViews).
//!
//! ```text
//! blocks ─ parse ─┬─ records ─ ingest ─┬─ groups ──────────────┐
//!                 │          (by       ├─ activity ────────────┤
//!                 │           project) ├─ user hours, merges ──┤
//!                 │                    ├─ created ─ assign_ids ┼─▶ sinks ─▶ IssueViews
//!                 │                    ├─ counters ────────────┤
//!                 │                    └─ rejected ─┐          │
//!                 ├─ blocks ───────────── resolve ──┴─ dead letters ─▶ dead-letter writer
//!                 ├─ dead letters ──────────────────┘
//!                 └─ symbols, counters ───────────────────────▶ sinks
//! ```

pub mod dead_letters;
pub mod ids;
pub mod ingest;
pub mod parse;
pub mod routes;
pub mod sink;
pub mod waits;

use std::sync::Arc;

use differential_dataflow::collection::AsCollection;
use timely::dataflow::operators::{Concat, Probe};
use timely::dataflow::{ProbeHandle, Stream};

use crate::model::block::{DeadLetter, InputBlock};
use crate::state::IngestConfig;
use crate::views::{Activity, IssueViews};
pub use parse::LineDecoder;
pub use routes::Routes;
pub use sink::{DeadLetterSink, DeadLetterWriter, JsonLinesDeadLetters, Slicing, ViewsWriter};

/// The state of this worker's stateful operators, reachable from outside the dataflow so the
/// worker can checkpoint it between epochs and restore it before the first.
#[derive(Clone)]
pub struct OperatorState {
    pub projects: ingest::SharedProjects,
    pub next_id: ids::NextId,
}

impl Default for OperatorState {
    fn default() -> Self {
        OperatorState {
            projects: Default::default(),
            next_id: std::rc::Rc::new(std::cell::Cell::new(1)),
        }
    }
}

/// Where the dataflow's results go.
#[derive(Clone)]
pub struct Outputs {
    pub dead_letters: DeadLetterSink,
    /// Multi-process clusters: send every view change to the first worker, whose process
    /// holds the views the API serves.
    pub views_in_first_process: bool,
    /// The views' writer thread, which applies what the sinks send to the views it owns.
    pub writer: sink::ViewsWriter,
}

/// Builds the ingest dataflow in `scope`. `owner(block)` names the worker that feeds block
/// `block`; `routes` where each project's state lives (the same map on every worker).
/// Returns a probe that passes an epoch once its changes are in the views.
pub fn build_ingest<'scope, D: LineDecoder>(
    blocks: Stream<'scope, u64, Vec<Arc<InputBlock>>>,
    decoder: D,
    config: IngestConfig,
    routes: Routes,
    owner: impl Fn(u64) -> u64 + 'static,
    outputs: Outputs,
    state: &OperatorState,
) -> ProbeHandle<u64> {
    let Outputs {
        dead_letters: dead_letter_sink,
        views_in_first_process: to_first_process,
        writer,
    } = outputs;
    let parsed = parse::parse(blocks, decoder, routes.clone());
    let ingested = ingest::ingest(parsed.records, config, state.projects.clone(), routes);
    let ids = ids::assign_ids(ingested.created, state.next_id.clone());
    let rejected = dead_letters::resolve_rejections(parsed.blocks, ingested.rejected, owner);
    let dead_letters: Stream<'scope, u64, Vec<DeadLetter>> = parsed.dead_letters.concat(rejected);
    let counters = parsed.counters.concat(ingested.counters).as_collection().consolidate().inner;

    let probe = ProbeHandle::new();
    // This worker's sinks apply through one queue, in the order they become ready.
    let queue = sink::ApplyQueue::new(writer);
    sink::apply_at_frontier(
        ingested.groups,
        IssueViews::apply_groups,
        Slicing::ByGroup(|g| g.0),
        to_first_process,
        &queue,
    )
    .probe_with(&probe);
    // Hourly counts, environment and release sets, per-environment hours and facets
    // through one sink, so each epoch is applied to all of them together
    // (`IssueViews::apply_activity`).
    sink::apply_at_frontier(
        ingested.activity,
        IssueViews::apply_activity,
        Slicing::ByGroup(Activity::key),
        to_first_process,
        &queue,
    )
    .probe_with(&probe);
    sink::apply_at_frontier(
        ingested.details,
        IssueViews::apply_details,
        Slicing::ByGroup(|d| d.0),
        to_first_process,
        &queue,
    )
    .probe_with(&probe);
    sink::apply_at_frontier(ids, IssueViews::apply_ids, Slicing::ByGroup(|i| i.0), to_first_process, &queue).probe_with(&probe);
    sink::apply_at_frontier(ingested.merges, IssueViews::apply_merges, Slicing::Whole, to_first_process, &queue).probe_with(&probe);
    sink::apply_at_frontier(parsed.symbols, IssueViews::apply_symbols, Slicing::Whole, to_first_process, &queue).probe_with(&probe);
    sink::apply_at_frontier(counters, IssueViews::apply_counters, Slicing::Whole, to_first_process, &queue).probe_with(&probe);
    sink::write_dead_letters(dead_letters, dead_letter_sink).probe_with(&probe);
    probe
}

/// Differential update triples: (data, time, diff).
pub type Updates<D> = Vec<(D, u64, isize)>;

/// Data held back per epoch until the input frontier passes it, with what is needed to send.
pub(crate) type Stash<C, D> = std::collections::BTreeMap<u64, (C, Vec<D>)>;

/// Removes and returns the earliest stashed epoch if it is closed (`is_open(epoch)` false):
/// operators stash data per epoch and act on it in epoch order once the frontier passes.
pub(crate) fn pop_closed<V>(stash: &mut std::collections::BTreeMap<u64, V>, is_open: impl Fn(&u64) -> bool) -> Option<(u64, V)> {
    let entry = stash.first_entry()?;
    if is_open(entry.key()) {
        return None;
    }
    let epoch = *entry.key();
    Some((epoch, entry.remove()))
}

/// The epoch of an input batch (timestamps are totally ordered block indices).
pub(crate) fn epoch_of(cap: &timely::dataflow::operators::InputCapability<u64>) -> u64 {
    cap.least().copied().expect("an input stamp has a time")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    #[test]
    fn pop_closed_releases_epochs_in_order_up_to_the_frontier() {
        let mut stash: BTreeMap<u64, &str> = [(3, "c"), (1, "a"), (2, "b")].into_iter().collect();
        let frontier = 3;
        let mut released = Vec::new();
        while let Some(entry) = super::pop_closed(&mut stash, |epoch| *epoch >= frontier) {
            released.push(entry);
        }
        assert_eq!(released, vec![(1, "a"), (2, "b")]);
        assert_eq!(stash.len(), 1);
    }
}
