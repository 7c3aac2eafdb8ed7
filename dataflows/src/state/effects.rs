//! What applying records produces for the views and the metrics, per epoch.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::row::{GroupKey, GroupRow};
use crate::model::time::MICROS_PER_SECOND;
use crate::model::{Micros, Seq};

/// Counters reported to the summary and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Counter {
    LinesRead,
    OccurrencesAccepted,
    StatusChangesApplied,
    Duplicates,
    DroppedNoise,
    DroppedQuota,
    GroupsCreated,
    DeadLettered,
    /// Occurrences dropped because their fingerprint was discarded.
    DroppedDiscarded,
    /// Mutation records applied (one per project of a mutation).
    MutationsApplied,
}

impl Counter {
    const ALL: [Counter; 10] = [
        Counter::LinesRead,
        Counter::OccurrencesAccepted,
        Counter::StatusChangesApplied,
        Counter::Duplicates,
        Counter::DroppedNoise,
        Counter::DroppedQuota,
        Counter::GroupsCreated,
        Counter::DeadLettered,
        Counter::DroppedDiscarded,
        Counter::MutationsApplied,
    ];
}

/// An epoch's counter increments, indexed by `Counter` (a hash map cost a lookup per record).
#[derive(Default)]
pub struct Counts([isize; Counter::ALL.len()]);

impl Counts {
    /// The counter's increments, None if it was not counted.
    pub fn get(&self, counter: &Counter) -> Option<&isize> {
        Some(&self.0[*counter as usize]).filter(|n| **n != 0)
    }

    /// The counted counters with their increments; resets them.
    pub fn drain(&mut self) -> impl Iterator<Item = (Counter, isize)> + '_ {
        Counter::ALL
            .into_iter()
            .zip(self.0.iter_mut())
            .filter(|(_, n)| **n != 0)
            .map(|(counter, n)| (counter, std::mem::take(n)))
    }
}

/// What processing one epoch produced; drained by the ingest operator.
#[derive(Default)]
pub struct Effects {
    pub epoch: u64,
    /// Rows retracted: each group's row as it was before its first change in this epoch.
    pub retracted: Vec<(GroupKey, Arc<GroupRow>)>,
    /// Groups changed in this epoch; their current rows are inserted at the epoch's end.
    pub changed: Vec<GroupKey>,
    pub created: Vec<(Seq, GroupKey)>,
    /// Groups merged in this epoch: (child, parent). The views move the child's aggregates.
    pub merges: Vec<(GroupKey, GroupKey)>,
    pub rejected: Vec<(Seq, String)>,
    pub counters: Counts,
    /// Occurrences per (group, facet, hour). The views derive everything per-hour from it:
    /// hourly counts, environment and release sets, per-environment hours and the facets
    /// that event-level conditions test (`facets::FacetHours`). One collection where there
    /// were five (one update per occurrence instead of five, and one update stream), kept
    /// per group (`EpochFacets`).
    pub facet_hours: super::EpochFacets,
    /// Every accepted occurrence's `(group, hour, second, facet id, user)`, as an update at
    /// `epoch`: the views count windows exactly at their edges from these (`views::details`).
    /// Pushed as the updates the ingest operator sends, so it hands this vector on instead
    /// of copying every entry into a new one (one copy of ~1 MB per epoch and worker).
    pub details: Vec<(crate::views::details::Detail, u64, isize)>,
}

impl Effects {
    pub(super) fn count(&mut self, counter: Counter) {
        self.counters.0[counter as usize] += 1;
    }

    pub(super) fn reject(&mut self, seq: Seq, reason: String) {
        self.count(Counter::DeadLettered);
        self.rejected.push((seq, reason));
    }
}

#[derive(Clone, Copy, Debug)]
pub struct IngestConfig {
    pub dedup_window: Micros,
    /// Event times past this do not advance a project's watermark (the dedup window's end
    /// and status changes' time): one occurrence stamped years ahead would otherwise expire
    /// every id and stamp every later status change in its future. The ingest operator sets
    /// it to [`present_limit`](crate::views::retention::present_limit) at each epoch.
    pub present: Micros,
    /// Whether each accepted occurrence's second, facet and user go to the views
    /// (`Effects::details`): not when the views keep no windows
    /// ([`IssueViews::drop_windows`](crate::views::IssueViews::drop_windows)).
    pub details: bool,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            dedup_window: 600 * MICROS_PER_SECOND,
            present: Micros::MAX,
            details: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_report_each_counted_counter_once_and_reset() {
        let mut effects = Effects::default();
        for counter in [Counter::MutationsApplied, Counter::LinesRead, Counter::MutationsApplied] {
            effects.count(counter);
        }
        assert_eq!(effects.counters.get(&Counter::MutationsApplied), Some(&2));
        assert_eq!(effects.counters.get(&Counter::Duplicates), None);
        let drained: Vec<_> = effects.counters.drain().collect();
        assert_eq!(drained, vec![(Counter::LinesRead, 1), (Counter::MutationsApplied, 2)]);
        assert_eq!(effects.counters.drain().count(), 0);
        assert!(Counter::ALL.iter().enumerate().all(|(i, c)| *c as usize == i));
    }
}
