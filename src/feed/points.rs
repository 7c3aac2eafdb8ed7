//! API mutations in a cluster. Process 0 serves the write API and keeps the mutation log; a
//! mutation applies at a *mutation point*: an epoch (a round start) process 0 announces like a
//! cut (same input, same lookahead, so every process knows it before it could pass it). At a
//! point every process reports its partitions' next offsets through the dataflow, and reads
//! no round there; process 0 gathers every process's offsets, logs the mutations with all of
//! them (every partition of the cluster) and feeds them as one block at the point. The state
//! after the point is thus the state after exactly those offsets plus the mutations.
//!
//! Replay. At start-up process 0 sends the log's entries the checkpoint does not contain (each
//! as every partition's offsets) to every process (the plan). Each process pauses its
//! partitions at the next entry's offsets; process 0 announces points while entries are left,
//! and at the first point where every partition stands at the entry's offsets, process 0
//! feeds it, and every process, seeing the same reports, moves on to the next entry: the
//! mutation applies between the same messages as in the run that logged it, whatever the
//! process or worker counts are now.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::Ordering;
use std::time::Duration;

use connectors::kafka::KafkaSource;

use super::kafka::Cuts;
use super::Feeder;
use crate::checkpoint::Positions;
use crate::pipeline::Dispatch;

pub(super) struct Points {
    /// Logged mutations still to replay: every partition's offsets each was logged at.
    pub(super) plan: VecDeque<BTreeMap<i32, i64>>,
    /// The last point handled here.
    pub(super) done: u64,
    /// Process 0: a point it announced and has not handled yet.
    outstanding: bool,
}

impl Feeder {
    /// Exchanges the replay plan (process 0's to everyone) before any process reads.
    pub(super) fn start_points(&self, dispatch: &Dispatch, at: u64) -> anyhow::Result<Points> {
        let plan: Vec<Vec<(i32, i64)>> = match &self.mutations {
            Some(log) => log.borrow().plan().into_iter().map(|at| at.into_iter().collect()).collect(),
            None => Vec::new(),
        };
        dispatch.send_plan(plan)?;
        let mut waits = 0u32;
        while !dispatch.plan_complete.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(1));
            waits += 1;
            if waits.is_multiple_of(100) {
                dispatch.advance_all(at)?;
            }
        }
        let mut received = std::mem::take(&mut *dispatch.plan.lock().unwrap_or_else(|p| p.into_inner()));
        received.sort();
        if !received.is_empty() {
            tracing::info!(entries = received.len(), "the cluster replays logged mutations");
        }
        Ok(Points {
            plan: received.into_iter().map(|(_, at)| at.into_iter().collect()).collect(),
            done: at.saturating_sub(1),
            outstanding: false,
        })
    }

    /// Process 0: announces a point when requests wait or logged ones are left to replay (one
    /// at a time). `at`: this process's input time.
    pub(super) fn announce_point(&self, points: &mut Points, cuts: &Cuts, dispatch: &Dispatch, at: u64) -> anyhow::Result<()> {
        let Some(log) = &self.mutations else { return Ok(()) };
        let waiting = log.borrow_mut().poll_inbox();
        if points.outstanding || (!waiting && points.plan.is_empty()) {
            return Ok(());
        }
        let point = cuts.align_ahead(at);
        dispatch.announce(point, true)?;
        points.outstanding = true;
        Ok(())
    }

    /// Handles the point at `point` (this process's input is there): reports this process's
    /// offsets, waits for every process's, drops the replayed entries they reach and, on
    /// process 0, feeds the mutations due. True when it fed some (the next cut must be
    /// written even if no process reads anything before it).
    pub(super) fn handle_point(
        &self,
        points: &mut Points,
        dispatch: &Dispatch,
        positions: &mut Positions,
        source: &KafkaSource,
        point: u64,
    ) -> anyhow::Result<bool> {
        let ended = source.ended();
        let offsets = source
            .progress()
            .map(|p| (p.partition, p.next_offset, ended.contains(&p.partition)))
            .collect();
        dispatch.report_offsets(point, offsets)?;
        let mut waits = 0u32;
        let reports = loop {
            {
                let mut reported = dispatch.point_offsets.lock().unwrap_or_else(|p| p.into_inner());
                if reported.get(&point).is_some_and(|r| r.len() >= self.processes) {
                    let reports = reported.remove(&point).unwrap_or_default();
                    break reports;
                }
            }
            std::thread::sleep(Duration::from_millis(1));
            waits += 1;
            if waits.is_multiple_of(100) {
                dispatch.advance_all(point)?;
            }
        };
        let reported: Vec<_> = reports.into_values().flatten().collect();
        let merged: BTreeMap<i32, i64> = reported.iter().map(|&(p, offset, _)| (p, offset)).collect();
        // Every process sees the same reports, so every process drops the same entries.
        let ended: BTreeSet<i32> = reported.iter().filter(|r| r.2).map(|r| r.0).collect();
        let reached = |at: &BTreeMap<i32, i64>| at.iter().all(|(p, o)| ended.contains(p) || merged.get(p).is_some_and(|m| m >= o));
        while points.plan.front().is_some_and(reached) {
            points.plan.pop_front();
        }
        let mut fed = false;
        if self.mutations.is_some() {
            let mut at = positions.clone();
            if let Some(kafka) = &mut at.kafka {
                kafka.offsets = merged;
            }
            fed = self.feed_mutations(dispatch, &mut at, &ended, point, false, None)?;
            positions.mutations_applied = at.mutations_applied;
            points.outstanding = false;
        }
        points.done = point;
        Ok(fed)
    }
}
