//! Bulk-built indexes: a catch-up (`backfill`, or `run` until ready) does not maintain the
//! sort indexes (`index.rs`) or the text column (`texts.rs`), which only queries read, per
//! changed group per epoch; it builds them once, by sorting, when it is caught up. Until
//! then a walk sorts the rows' keys of its one index and a text search builds a column of
//! its own: the same answers as the maintained structures, at a cost per query.

use super::{IssueViews, SortIndex, SortIndexes, TextColumn, Walk};
use crate::model::Micros;
use crate::state::GroupRow;

impl IssueViews {
    /// Stops maintaining the sort indexes and the text column, which only queries read,
    /// until [`IssueViews::build_indexes`]: a catch-up (`backfill`, or `run` until it is
    /// ready) then builds them once, by sorting, instead of moving every changed group in
    /// five indexes in every epoch. Walks and text searches meanwhile read the rows: the
    /// same answers, slower.
    pub fn defer_indexes(&mut self) {
        self.sort_indexes = SortIndexes::default();
        self.texts = TextColumn::default();
        self.indexes_deferred = true;
    }

    /// Stops keeping what only the read side's windows read: each occurrence's second,
    /// facet and user (`details`) and the per-facet hours (`facets`). The rows, hourly
    /// counts, environment and release sets and per-environment hours, which the dump, the
    /// summary and the change feeds read, are kept as before. For views that no query and no
    /// checkpoint will read (a backfill that only dumps), where those two cost about a
    /// seventh of the CPU and a third of the memory (BENCHMARKS.md, session 30). Views
    /// restored from a checkpoint keep them again.
    pub fn drop_windows(&mut self) {
        self.details = Default::default();
        self.facets = Default::default();
        self.windows_dropped = true;
    }

    /// Whether [`IssueViews::drop_windows`] was called: the ingest operator then sends no
    /// details (`IngestConfig::details`).
    pub fn keeps_windows(&self) -> bool {
        !self.windows_dropped
    }

    /// Whether the indexes wait for [`IssueViews::build_indexes`].
    pub fn indexes_deferred(&self) -> bool {
        self.indexes_deferred
    }

    /// Builds the sort indexes and the text column from the rows, in one pass, and
    /// maintains them per update from here on (no-op unless deferred).
    pub fn build_indexes(&mut self) {
        if !self.indexes_deferred {
            return;
        }
        self.sort_indexes = SortIndexes::build(self.indexed_rows());
        self.texts = texts_of(self.indexed_rows());
        self.indexes_deferred = false;
    }

    /// Every group with a row, with its index, in index order.
    pub(super) fn indexed_rows(&self) -> impl Iterator<Item = (u32, &GroupRow)> + Clone {
        self.groups
            .iter()
            .enumerate()
            .filter_map(|(index, view)| Some((index as u32, &**view.row.as_ref()?)))
    }

    /// A sort index's walk: the maintained index, or the rows' keys sorted for this walk
    /// while the indexes are deferred.
    pub(super) fn index_walk(&self, index: SortIndex, unresolved_only: bool, at_most: Micros) -> Walk<'_> {
        if self.indexes_deferred {
            return Box::new(SortIndexes::walk_of_rows(self.indexed_rows(), index, unresolved_only, at_most).into_iter());
        }
        self.sort_indexes.walk(index, unresolved_only, at_most)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The text column of `rows` (ascending indexes: each entry appends to its chunk).
pub(super) fn texts_of<'r>(rows: impl Iterator<Item = (u32, &'r GroupRow)>) -> TextColumn {
    let mut texts = TextColumn::default();
    for (index, row) in rows {
        texts.update(index, None, Some(row));
    }
    texts
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::GroupStatus;
    use crate::state::{GroupKey, RowTexts};

    const INDEXES: [SortIndex; 5] = [
        SortIndex::LastSeen,
        SortIndex::FirstSeen,
        SortIndex::Count,
        SortIndex::Users,
        SortIndex::Trends,
    ];

    /// Every walk (each index, both status selections, several starting times), every text
    /// search of a few needles, and the group count.
    fn assert_same_reads(maintained: &IssueViews, other: &IssueViews, context: &str) {
        assert_eq!(maintained.len(), other.len(), "{context}: len");
        for index in INDEXES {
            for unresolved_only in [false, true] {
                for at_most in [Micros::MAX, 0, 40_000_000, -1_500, 999] {
                    let walk = |views: &IssueViews| {
                        views
                            .walk(index, unresolved_only, at_most)
                            .map(|(bound, created, (key, _, _))| (bound, created, key))
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(walk(maintained), walk(other), "{context}: {index:?} {unresolved_only} {at_most}");
                    let filtered = |views: &IssueViews| {
                        views
                            .walk_filtered(index, unresolved_only, at_most, |i| i % 3 != 1)
                            .map(|(bound, created, (key, _, _))| (bound, created, key))
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(filtered(maintained), filtered(other), "{context}: filtered {index:?}");
                }
            }
        }
        for needles in [&["ab"][..], &["job-1"], &["zz", "c7"], &["é"]] {
            let found = |views: &IssueViews| {
                let candidates = views.text_candidates(needles);
                (candidates.iter().collect::<Vec<_>>(), candidates.exact())
            };
            assert_eq!(found(maintained), found(other), "{context}: {needles:?}");
        }
    }

    /// Random row changes (new groups, replaced rows with moved times, counts, statuses,
    /// texts and inbox dates, retractions), in epochs as the ingest operator sends them.
    fn random_epoch(
        next: &mut dyn FnMut(u64) -> u64,
        rows: &mut [Option<Arc<GroupRow>>],
        created: &mut u64,
    ) -> Vec<((GroupKey, Arc<GroupRow>), u64, isize)> {
        let statuses = [
            GroupStatus::Unresolved,
            GroupStatus::Unresolved,
            GroupStatus::Resolved,
            GroupStatus::Ignored,
        ];
        let words = ["ab", "Job-1", "c7", "É", "x", "zz"];
        let mut updates = Vec::new();
        let mut changed = std::collections::HashSet::new();
        for _ in 0..1 + next(40) {
            let slot = next(rows.len() as u64) as usize;
            // One change per group and epoch, as the ingest operator sends them.
            if !changed.insert(slot) {
                continue;
            }
            let key = GroupKey {
                project: 1 + slot as u64 % 3,
                short_id: slot as u32 + 1,
            };
            if let Some(old) = rows[slot].take() {
                updates.push(((key, old.clone()), 0, -1));
                if next(8) == 0 {
                    continue;
                }
            }
            *created += 1 + next(3);
            let text =
                |next: &mut dyn FnMut(u64) -> u64| (0..next(3)).map(|_| words[next(words.len() as u64) as usize]).collect::<String>();
            let (title, culprit) = (text(next), text(next));
            let mut row = GroupRow {
                status: statuses[next(4) as usize],
                times_seen: 1 + next(50),
                user_count: next(60),
                // Around the epoch too (negative milliseconds floor, bounds truncate).
                first_seen: next(5_000) as Micros - 2_500,
                last_seen: next(50_000_000) as Micros - 3_000,
                created_seq: *created % 40,
                texts: RowTexts::new(&title, "s", &culprit),
                ..GroupRow::sample()
            };
            if next(10) == 0 {
                row.triage = Some(Arc::new(crate::model::Triage {
                    inbox: Some(crate::model::InboxChange::Added(next(60_000_000) as Micros)),
                    ..Default::default()
                }));
            }
            let row = Arc::new(row);
            rows[slot] = Some(row.clone());
            updates.push(((key, row), 0, 1));
        }
        updates.sort_by_key(|u| u.2);
        updates
    }

    #[test]
    fn bulk_built_indexes_read_as_the_maintained_ones_before_and_after_the_build() {
        let mut next = crate::test_rng::below(0x5eed_b01c_1234_5677);
        let (mut maintained, mut deferred) = (IssueViews::default(), IssueViews::default());
        deferred.defer_indexes();
        let mut rows: Vec<Option<Arc<GroupRow>>> = vec![None; 400];
        let mut created = 0;
        for epoch in 0..300 {
            let updates = random_epoch(&mut next, &mut rows, &mut created);
            maintained.apply_groups(updates.clone());
            deferred.apply_groups(updates);
            if epoch % 50 == 49 {
                // Before the build: the walks and searches read the rows.
                assert!(deferred.indexes_deferred());
                assert_same_reads(&maintained, &deferred, &format!("deferred, epoch {epoch}"));
            }
        }
        deferred.build_indexes();
        assert!(!deferred.indexes_deferred());
        assert_eq!(deferred.sort_indexes.len(), maintained.sort_indexes.len());
        assert_same_reads(&maintained, &deferred, "built");
        // Then maintained per update, starting from full blocks.
        for epoch in 0..300 {
            let updates = random_epoch(&mut next, &mut rows, &mut created);
            maintained.apply_groups(updates.clone());
            deferred.apply_groups(updates);
            if epoch % 50 == 49 {
                assert_same_reads(&maintained, &deferred, &format!("after the build, epoch {epoch}"));
            }
        }
        // A second build is a no-op; a restored row under deferral is indexed by the build.
        deferred.build_indexes();
        assert_same_reads(&maintained, &deferred, "second build");
        let mut restored = IssueViews::default();
        restored.defer_indexes();
        // Views in the same order (ties between groups follow their index), then the rows.
        for view in &maintained.groups {
            restored.index_of(view.key.expect("a view has its key"));
        }
        for (key, view, _) in maintained.iter() {
            restored.restore_row(key, view.row.clone().expect("iter yields groups with a row"));
        }
        restored.build_indexes();
        assert_same_reads(&maintained, &restored, "restored");
    }
}
