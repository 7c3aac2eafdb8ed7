//! The ingest operator: records exchanged by project, applied in log order per epoch to the
//! per-project state machines, producing the view changes of each epoch.

use std::collections::BTreeMap;

use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use super::epoch_of;

use crate::model::{ProjectId, Record, Seq};
use crate::state::{Counter, Effects, GroupKey, GroupRow, IngestConfig, ProjectState};
use crate::views::Activity;

use super::routes::Routes;
use super::Updates;

pub struct Ingested<'scope> {
    pub groups: Stream<'scope, u64, Updates<(GroupKey, Arc<GroupRow>)>>,
    /// Occurrences per (group, facet, hour), as `Activity::Occurrences`: the views derive
    /// hourly counts, environment and release sets, per-environment hours and facets.
    pub activity: Stream<'scope, u64, Updates<Activity>>,
    pub counters: Stream<'scope, u64, Updates<Counter>>,
    pub created: Stream<'scope, u64, Vec<(Seq, GroupKey)>>,
    /// Groups merged: (child, parent), for the views to move the child's aggregates.
    pub merges: Stream<'scope, u64, Updates<(GroupKey, GroupKey)>>,
    pub rejected: Stream<'scope, u64, Vec<(Seq, String)>>,
    /// `(group, hour, user)`, each once: the first time the user is seen there.
    /// Every accepted occurrence's second, facet and user (`views::details`).
    pub details: Stream<'scope, u64, Updates<crate::views::details::Detail>>,
}

/// Sends each container of records whole to the worker of its first record: the parse
/// operator fills one container per worker ([`Routes::worker_of`]), so every record of a container
/// goes to the same worker, and moving the container saves copying each record into
/// per-worker buffers of ~46 records (the default exchange: ~2.5% of a backfill).
pub(super) struct ByContainer {
    peers: usize,
    routes: Routes,
}

impl timely::dataflow::channels::pushers::exchange::Distributor<Vec<Record>> for ByContainer {
    fn partition<T: Clone, P: timely::communication::Push<timely::dataflow::channels::Message<T, Vec<Record>>>>(
        &mut self,
        container: &mut Vec<Record>,
        stamp: &timely::progress::Stamp<T>,
        pushers: &mut [P],
    ) {
        let Some(first) = container.first() else { return };
        let worker = self.routes.worker_of(first.project, self.peers);
        debug_assert!(container.iter().all(|r| self.routes.worker_of(r.project, self.peers) == worker));
        timely::dataflow::channels::Message::push_at(container, stamp.clone(), &mut pushers[worker]);
    }

    fn flush<T: Clone, P: timely::communication::Push<timely::dataflow::channels::Message<T, Vec<Record>>>>(
        &mut self,
        _stamp: &timely::progress::Stamp<T>,
        _pushers: &mut [P],
    ) {
    }
}

/// This worker's projects; shared with the worker loop, which snapshots and restores them
/// between epochs (checkpoints).
pub type SharedProjects = std::rc::Rc<std::cell::RefCell<HashMap<ProjectId, ProjectState>>>;

pub fn ingest<'scope>(
    records: Stream<'scope, u64, Vec<Record>>,
    config: IngestConfig,
    projects: SharedProjects,
    routes: Routes,
) -> Ingested<'scope> {
    let worker = records.scope().index();
    let mut builder = OperatorBuilder::new("Ingest".to_owned(), records.scope());
    let pact = timely::dataflow::channels::pact::DistributorPact(move |peers| ByContainer {
        peers,
        routes: routes.clone(),
    });
    let mut input = builder.new_input(records, pact);
    let (groups_out, groups) = builder.new_output::<Updates<(GroupKey, Arc<GroupRow>)>>();
    let (activity_out, activity) = builder.new_output::<Updates<Activity>>();
    let (counters_out, counters) = builder.new_output::<Updates<Counter>>();
    let (created_out, created) = builder.new_output::<Vec<(Seq, GroupKey)>>();
    let (rejected_out, rejected) = builder.new_output::<Vec<(Seq, String)>>();
    let (merges_out, merges) = builder.new_output::<Updates<(GroupKey, GroupKey)>>();
    let (details_out, details) = builder.new_output::<Updates<crate::views::details::Detail>>();
    let mut outputs = (
        groups_out,
        activity_out,
        counters_out,
        created_out,
        rejected_out,
        merges_out,
        details_out,
    );

    let mut config = config;
    builder.build(move |_| {
        // Records waiting for their epoch to complete, with one capability per output.
        let mut pending: super::Stash<Vec<Capability<u64>>, Vec<Record>> = BTreeMap::new();
        let mut tally = Tally {
            worker,
            projects: projects.clone(),
            records: 0,
            cpu: std::time::Duration::ZERO,
        };
        // Reused every epoch so its maps keep their capacity.
        let mut effects = Effects::default();
        move |frontiers| {
            // The whole tally, not copies of its fields (it logs when dropped).
            let tally = &mut tally;
            input.for_each(|cap, data| {
                let entry = pending
                    .entry(epoch_of(&cap))
                    .or_insert_with(|| ((0..OUTPUTS).map(|port| cap.delayed(&epoch_of(&cap), port)).collect(), Vec::new()));
                entry.1.push(std::mem::take(data));
            });
            let frontier = &frontiers[0];
            let (groups_out, activity_out, counters_out, created_out, rejected_out, merges_out, details_out) = &mut outputs;
            while let Some((epoch, (caps, mut chunks))) = super::pop_closed(&mut pending, |e| frontier.less_equal(e)) {
                // An epoch is one block, read by one worker and sent in order; sort only if the
                // transport ever reordered it.
                if !chunks.iter().flatten().map(|r| r.seq).is_sorted() {
                    let mut all: Vec<Record> = chunks.into_iter().flatten().collect();
                    all.sort_unstable_by_key(|r| r.seq);
                    chunks = vec![all];
                }
                effects.epoch = epoch;
                config.present = crate::views::retention::present_limit();
                let started = crate::views::ThreadTimes::now();
                let mut projects = projects.borrow_mut();
                let records: u64 = chunks.iter().map(|c| c.len() as u64).sum();
                for chunk in &chunks {
                    for batch in chunk.chunks(crate::views::WARM_BATCH) {
                        // Each record's linked group, found by the first pass for the second.
                        let mut linked = [None; crate::views::WARM_BATCH];
                        for (record, linked) in batch.iter().zip(&mut linked) {
                            *linked = projects.get(&record.project).and_then(|state| state.warm(record));
                        }
                        for (record, linked) in batch.iter().zip(linked) {
                            record.prefetch();
                            if let (Some(state), Some(index)) = (projects.get(&record.project), linked) {
                                state.warm_row(record, index);
                            }
                        }
                        for record in batch {
                            projects.entry(record.project).or_default().apply(record, &config, &mut effects);
                        }
                    }
                }
                chunks.into_iter().for_each(super::parse::recycle);

                let mut group_updates: Updates<(GroupKey, Arc<GroupRow>)> =
                    Vec::with_capacity(effects.retracted.len() + effects.changed.len());
                // A group that still has a row gets its new row only: the views replace the
                // row they hold (`IssueViews::apply_groups`), as a retraction before it would
                // have. Only groups gone this epoch (deleted, merged) are retracted.
                for (key, row) in effects.retracted.drain(..) {
                    if projects.get(&key.project).and_then(|p| p.row(key)).is_none() {
                        group_updates.push(((key, row), epoch, -1));
                    }
                }
                for key in effects.changed.drain(..) {
                    if let Some(row) = projects.get(&key.project).and_then(|p| p.row(key)) {
                        group_updates.push(((key, row.clone()), epoch, 1));
                    }
                }
                // Each group's updates together: the views resolve a group once per run.
                let mut activity: Updates<Activity> = Vec::with_capacity(effects.facet_hours.len());
                effects
                    .facet_hours
                    .drain(|key, facet, id, hour, n| activity.push((Activity::Occurrences(key, facet, id, hour), epoch, n)));
                let counters: Updates<Counter> = effects.counters.drain().map(|(k, n)| (k, epoch, n)).collect();
                give(groups_out, &caps[0], group_updates);
                give(activity_out, &caps[1], activity);
                give(counters_out, &caps[2], counters);
                give(created_out, &caps[3], std::mem::take(&mut effects.created));
                give(rejected_out, &caps[4], std::mem::take(&mut effects.rejected));
                give(merges_out, &caps[5], effects.merges.drain(..).map(|m| (m, epoch, 1)).collect());
                // Handed on whole (see `Effects::details`); the next epoch's starts with room
                // for about as many.
                let details = effects.details.len();
                give(details_out, &caps[6], std::mem::take(&mut effects.details));
                effects.details.reserve(details + details / 8);
                tally.records += records;
                tally.cpu += crate::views::ThreadTimes::elapsed(started).map_or(std::time::Duration::ZERO, |t| t.cpu);
            }
        }
    });
    Ingested {
        groups,
        activity,
        counters,
        created,
        merges,
        rejected,
        details,
    }
}

/// One worker's share of the ingest work, logged (debug) when the dataflow ends: records are
/// placed on workers by project ([`Routes`]), and the busiest worker sets the wall clock.
struct Tally {
    worker: usize,
    /// For the state's footprint at the end.
    projects: SharedProjects,
    records: u64,
    cpu: std::time::Duration,
}

impl Drop for Tally {
    fn drop(&mut self) {
        tracing::debug!(
            worker = self.worker,
            records = self.records,
            cpu_ms = self.cpu.as_millis() as u64,
            "ingest finished"
        );
        if tracing::enabled!(tracing::Level::DEBUG) {
            if let Ok(projects) = self.projects.try_borrow() {
                let f = crate::state::footprint::Footprint::of(&projects);
                tracing::debug!(worker = self.worker, total = f.total(), footprint = ?f, "ingest state");
            }
        }
    }
}

/// Output ports of the ingest operator (one capability each per epoch).
const OUTPUTS: usize = 7;

fn give<D: Clone + 'static>(
    output: &mut timely::dataflow::channels::pushers::Output<u64, Vec<D>>,
    cap: &Capability<u64>,
    mut data: Vec<D>,
) {
    if !data.is_empty() {
        output.activate().give(cap, &mut data);
    }
}
