//! Per-project ingest state: hash → group links, noise gates, creation quotas, duplicate
//! memory and the groups themselves. Records of one project are applied here one at a time in
//! log order (semantics.md §4); every step is O(1) or O(log n) in the project's state.

use rustc_hash::FxHashMap as HashMap;
use std::num::NonZeroU64;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::conditions::Conditions;
use super::creation_quota::QuotaWindow;
use super::dedup::DedupWindow;
use super::effects::{Counter, Effects, IngestConfig};
use super::noise_gate::NoiseGate;
use super::releases::Releases;
use super::row::{clear_inbox_change, clear_status_details, EventGroup, GroupKey, GroupRow, RowTexts};
use super::status_change::{apply_status_change, StatusFields};
use crate::model::time::MICROS_PER_SECOND;
use crate::model::{
    group_type, GroupHash, GroupStatus, Micros, OccurrenceRecord, Priority, ProjectId, Record, RecordBody, Seq, StatusChangeRecord,
    Substatus,
};

#[derive(Serialize, Deserialize)]
pub(super) struct GroupState {
    /// Shared with the views; changed copy-on-write, so a group has one row at rest.
    pub(super) row: Arc<GroupRow>,
    pub(super) initial_priority: Priority,
    /// Event time of the occurrence whose title, culprit, level and metadata the row shows.
    title_time: Micros,
    last_release_time: Micros,
    /// Whether the group is live, merged into another, or deleted.
    pub(super) lifecycle: Lifecycle,
    /// Ignore conditions and release resolutions, for the few groups that have them.
    pub(super) conditions: Option<Box<Conditions>>,
    /// The epoch in which this group was last reported changed (see `Effects`; `NO_EPOCH`:
    /// never). Not checkpointed: epochs restart numbering meaning after a restore. A sentinel
    /// rather than an `Option` (16 bytes) keeps a group's state at 56 bytes.
    #[serde(skip, default = "no_epoch")]
    dirty_epoch: u64,
    /// Its first entry in `Effects::facet_hours` in `dirty_epoch` (`epoch_facets::NONE`:
    /// none yet). Reset when the group is first touched in an epoch.
    #[serde(skip, default = "no_facets")]
    epoch_facets: u32,
}

const NO_EPOCH: u64 = u64::MAX;

fn no_epoch() -> u64 {
    NO_EPOCH
}

fn no_facets() -> u32 {
    super::epoch_facets::NONE
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Lifecycle {
    #[default]
    Live,
    /// Merged into the group at this index: its hashes resolve there.
    MergedInto(u32),
    /// Deleted or discarded: out of every view, its hashes released or tombstoned.
    Removed,
}

/// 16 bytes, so that an entry of `ProjectState::hashes` is 32 (with a `NoiseGate` inside, the
/// enum was 24 and an entry 48): the gate's fields sit beside the tag. Serialized as before
/// (a struct variant and a newtype variant of a struct encode the same in postcard).
#[derive(Serialize, Deserialize)]
pub(super) enum HashState {
    Linked(u32),
    /// A [`NoiseGate`], unpacked.
    Gate {
        count: u32,
        last: Micros,
    },
    /// Discarded through the API: occurrences with this hash are dropped.
    Discarded,
}

impl HashState {
    const NEW_GATE: HashState = HashState::Gate { count: 0, last: 0 };
}

#[derive(Default, Serialize, Deserialize)]
pub struct ProjectState {
    watermark: Micros,
    pub(super) dedup: DedupWindow,
    pub(super) hashes: HashMap<GroupHash, HashState>,
    pub(super) groups: Vec<GroupState>,
    pub(super) quotas: HashMap<u32, QuotaWindow>,
    pub(super) users: super::users::UserPairs,
    /// The project's releases in order, for release resolutions.
    pub(super) releases: Releases,
}

impl ProjectState {
    /// Every visible group's current row, by short id (for relinking the views after a
    /// restore).
    pub fn rows(&self) -> impl Iterator<Item = (u32, &Arc<GroupRow>)> {
        self.groups
            .iter()
            .enumerate()
            .filter(|(_, group)| group.lifecycle == Lifecycle::Live)
            .map(|(index, group)| (index as u32 + 1, &group.row))
    }

    pub fn apply(&mut self, record: &Record, config: &IngestConfig, effects: &mut Effects) {
        let time = match &record.body {
            RecordBody::Occurrence(occ) => {
                if occ.time <= config.present {
                    self.watermark = self.watermark.max(occ.time);
                }
                occ.time
            }
            RecordBody::StatusChange(_) => self.watermark,
            RecordBody::Mutation(mutation) => {
                // Mutations come from the log, numbered once: never duplicates.
                self.apply_mutation(record.project, mutation, effects);
                return;
            }
        };
        if self.dedup.check_and_insert(record.id, time, self.watermark, config.dedup_window) {
            effects.count(Counter::Duplicates);
            return;
        }
        match &record.body {
            RecordBody::Occurrence(occ) => self.apply_occurrence(record.project, record.seq, occ, config, effects),
            RecordBody::StatusChange(change) => self.apply_status_change(record.project, record.seq, change, effects),
            RecordBody::Mutation(_) => {}
        }
    }

    /// Asks for the cache lines that [`ProjectState::apply`] will read first for `record`:
    /// its slot in the duplicate window and its first hash's entry (found here: hashbrown
    /// has no prefetch), and, for a linked hash, the group's state. Returns the linked
    /// group's index for [`ProjectState::warm_row`]. The ingest operator calls it on a
    /// batch of records before applying them, so that their cache misses overlap rather
    /// than follow one another.
    #[inline]
    pub fn warm(&self, record: &Record) -> Option<u32> {
        self.dedup.prefetch(record.id);
        let RecordBody::Occurrence(occ) = &record.body else {
            return None;
        };
        let Some(HashState::Linked(index)) = self.hashes.get(&occ.hash) else {
            return None;
        };
        if let Some(group) = self.groups.get(*index as usize) {
            crate::views::prefetch((group as *const GroupState).cast());
        }
        Some(*index)
    }

    /// The second pass of [`ProjectState::warm`] over the batch, for the group `linked`
    /// that `warm` found: its row and the record's (group, user) pair (the group's state is
    /// in the cache by now).
    #[inline]
    pub fn warm_row(&self, record: &Record, linked: u32) {
        if let Some(group) = self.groups.get(linked as usize) {
            crate::views::prefetch(Arc::as_ptr(&group.row).cast());
        }
        if let RecordBody::Occurrence(OccurrenceRecord { user: Some(user), .. }) = &record.body {
            std::hint::black_box(self.users.contains(linked + 1, *user));
        }
    }

    pub(super) fn key(project: ProjectId, index: usize) -> GroupKey {
        GroupKey {
            project,
            short_id: index as u32 + 1,
        }
    }

    /// Reports a change to `index`, retracting its previous row once per epoch.
    #[inline]
    pub(super) fn touch(&mut self, project: ProjectId, index: usize, effects: &mut Effects) {
        let group = &mut self.groups[index];
        if group.dirty_epoch != effects.epoch {
            group.dirty_epoch = effects.epoch;
            group.epoch_facets = super::epoch_facets::NONE;
            let key = Self::key(project, index);
            effects.retracted.push((key, group.row.clone()));
            effects.changed.push(key);
        }
    }

    fn apply_occurrence(&mut self, project: ProjectId, seq: Seq, occ: &OccurrenceRecord, config: &IngestConfig, effects: &mut Effects) {
        // Sentry creates a release when an event names it, whatever becomes of the event.
        if let Some(release) = occ.release {
            // The name is found (a scan of the record's texts) only for a release not seen.
            if !self.releases.has(release) {
                self.releases.see(release, occ.texts.release());
            }
        }
        let Some(group_type) = group_type(occ.type_id) else {
            // The decoder only admits registered types.
            effects.reject(seq, format!("unknown group type {}", occ.type_id));
            return;
        };
        // The first hash in order that is linked or discarded (the first hash alone, without
        // the chained iterator, in the common case of one).
        let found = |h: &GroupHash| match self.hashes.get(h) {
            Some(HashState::Linked(index)) => Some(Some(self.resolve(*index as usize))),
            Some(HashState::Discarded) => Some(None),
            _ => None,
        };
        let linked = found(&occ.hash).or_else(|| occ.more_hashes.iter().find_map(found));
        let linked = match linked {
            Some(None) => {
                effects.count(Counter::DroppedDiscarded);
                return;
            }
            Some(Some(index)) => Some(index),
            None => None,
        };
        let index = match linked {
            Some(index) => {
                let group_type_id = self.groups[index].row.type_id;
                if group_type_id != occ.type_id {
                    effects.reject(
                        seq,
                        format!(
                            "type mismatch: group {}-{} has type {}, occurrence has type {}",
                            project,
                            index + 1,
                            group_type_id,
                            occ.type_id
                        ),
                    );
                    return;
                }
                // `touch` first: linking may change the row, whose old version it retracts.
                self.touch(project, index, effects);
                // With one hash, that hash is the linked one: nothing to link, and the second
                // lookup in the (large) hash map is skipped.
                if !occ.more_hashes.is_empty() {
                    self.link_unlinked(occ, index);
                }
                self.update_group(index, occ, group_type.default_priority);
                index
            }
            None if group_type.is_event_grouped() => {
                // Sentry's error path: no noise gate, no creation quota (semantics §4.3).
                self.create(project, seq, occ, group_type.default_priority, false, effects)
            }
            None => {
                let (ignore_limit, expiry) = match group_type.noise {
                    Some(noise) => (noise.ignore_limit, noise.expiry_seconds * MICROS_PER_SECOND),
                    None => (1, 0),
                };
                let state = self.hashes.entry(occ.hash).or_insert(HashState::NEW_GATE);
                let HashState::Gate { count, last } = state else {
                    unreachable!("no hash of the occurrence is linked")
                };
                let mut gate = NoiseGate {
                    count: *count,
                    last: *last,
                };
                let admitted = gate.admit(occ.time, ignore_limit, expiry);
                (*count, *last) = (gate.count, gate.last);
                if !admitted {
                    effects.count(Counter::DroppedNoise);
                    return;
                }
                let quota = self.quotas.entry(occ.type_id).or_default();
                let retention_seconds = i64::from(crate::views::retention::retention_hours()) * 3600;
                let admitted = match occ.time <= config.present {
                    true => quota.try_create(occ.time, &group_type.creation_quota, retention_seconds),
                    false => quota.try_create_ahead(occ.time, &group_type.creation_quota, retention_seconds),
                };
                if !admitted {
                    effects.count(Counter::DroppedQuota);
                    return;
                }
                // The gate's hash is linked here, to the group created next, rather than
                // looked up again by `link_unlinked` (the gate path has no event group whose
                // hashes would list it).
                *state = HashState::Linked(self.groups.len() as u32);
                self.create(project, seq, occ, group_type.default_priority, true, effects)
            }
        };
        effects.count(Counter::OccurrencesAccepted);
        let key = Self::key(project, index);
        let hour = occ.time.div_euclid(3600 * MICROS_PER_SECOND) as u32;
        let facet = crate::facets::Facet {
            environment: occ.environment.map(NonZeroU64::get),
            release: occ.release,
            level: occ.level,
            tags: occ.tags.map(NonZeroU64::get),
        };
        // Every accepted occurrence's group was touched or created in this epoch above, so
        // its list head belongs to this epoch.
        let facet_id = facet.id();
        effects
            .facet_hours
            .add(&mut self.groups[index].epoch_facets, key, &facet, facet_id, hour);
        if config.details {
            let second = occ.time.div_euclid(MICROS_PER_SECOND) - i64::from(hour) * 3600;
            // A user hashed to 0 would read as "no user"; it counts as user 1 (a 2⁻⁶⁴ collision).
            let user = occ.user.map_or(0, |u| u.max(1));
            effects.details.push(((key, hour, second as u32, facet_id, user), effects.epoch, 1));
        }
        if let Some(user) = occ.user {
            if self.users.insert(key.short_id, user) {
                Arc::make_mut(&mut self.groups[index].row).user_count += 1;
            }
        }
        if linked.is_some() && self.groups[index].conditions.is_some() {
            self.check_ignore_conditions(index, occ);
        }
    }

    /// Creates a group for `occ` and links its hashes to it; `first_linked`: its first hash
    /// is linked to it already.
    fn create(
        &mut self,
        project: ProjectId,
        seq: Seq,
        occ: &OccurrenceRecord,
        default_priority: u8,
        first_linked: bool,
        effects: &mut Effects,
    ) -> usize {
        let index = self.create_group(seq, occ, default_priority);
        if !first_linked || !occ.more_hashes.is_empty() {
            self.link_unlinked(occ, index);
        }
        effects.created.push((seq, Self::key(project, index)));
        effects.changed.push(Self::key(project, index));
        self.groups[index].dirty_epoch = effects.epoch;
        self.groups[index].epoch_facets = super::epoch_facets::NONE;
        effects.count(Counter::GroupsCreated);
        index
    }

    /// Links every hash of `occ` that is not linked yet to group `index`.
    fn link_unlinked(&mut self, occ: &OccurrenceRecord, index: usize) {
        let keep_hashes = self.groups[index].row.event_group.is_some();
        for hash in occ.hashes() {
            let state = self.hashes.entry(hash).or_insert(HashState::NEW_GATE);
            if matches!(state, HashState::Gate { .. }) {
                *state = HashState::Linked(index as u32);
                if keep_hashes {
                    if let Some(event_group) = &mut Arc::make_mut(&mut self.groups[index].row).event_group {
                        Arc::make_mut(event_group).hashes.push(hash);
                    }
                }
            }
        }
    }

    fn create_group(&mut self, seq: Seq, occ: &OccurrenceRecord, default_priority: u8) -> usize {
        let priority = occ
            .priority
            .or_else(|| Priority::from_number(i64::from(default_priority)))
            .unwrap_or(Priority::Medium);
        self.groups.push(GroupState {
            row: Arc::new(GroupRow {
                type_id: occ.type_id,
                status: GroupStatus::Unresolved,
                substatus: Some(Substatus::New),
                priority,
                priority_locked: false,
                texts: RowTexts::of(&occ.texts),
                level: occ.level,
                metadata_priority: priority,
                first_seen: occ.time,
                last_seen: occ.time,
                times_seen: 1,
                user_count: 0,
                first_release: occ.release,
                last_release: occ.release,
                created_seq: seq,
                inbox_since: 0,
                unhandled: occ.unhandled,
                triage: None,
                event_group: group_type(occ.type_id).filter(|t| t.is_event_grouped()).map(|_| {
                    Arc::new(EventGroup {
                        metadata: occ.metadata.clone(),
                        hashes: Vec::new(),
                    })
                }),
            }),
            initial_priority: priority,
            title_time: occ.time,
            last_release_time: occ.time,
            lifecycle: Lifecycle::Live,
            conditions: None,
            dirty_epoch: NO_EPOCH,
            epoch_facets: super::epoch_facets::NONE,
        });
        self.groups.len() - 1
    }

    fn update_group(&mut self, index: usize, occ: &OccurrenceRecord, default_priority: u8) {
        let group = &mut self.groups[index];
        let row = Arc::make_mut(&mut group.row);
        row.times_seen += 1;
        row.unhandled |= occ.unhandled;
        row.last_seen = row.last_seen.max(occ.time);
        row.first_seen = row.first_seen.min(occ.time);
        if occ.time >= group.title_time {
            group.title_time = occ.time;
            row.texts.update(&occ.texts);
            if let Some(event_group) = &mut row.event_group {
                if event_group.metadata != occ.metadata {
                    Arc::make_mut(event_group).metadata = occ.metadata.clone();
                }
            }
            row.level = occ.level;
            row.metadata_priority = occ
                .priority
                .or_else(|| Priority::from_number(i64::from(default_priority)))
                .unwrap_or(Priority::Medium);
        }
        if let Some(release) = occ.release {
            if row.last_release.is_none() || occ.time >= group.last_release_time {
                row.last_release = Some(release);
                group.last_release_time = occ.time;
            }
        }
        // The release's key is looked up only for a resolved group (most are not).
        if row.status == GroupStatus::Resolved && Conditions::regresses(&group.conditions, occ.release.and_then(|r| self.releases.key(r))) {
            row.status = GroupStatus::Unresolved;
            row.substatus = Some(Substatus::Regressed);
            row.enter_inbox(occ.time);
            group.conditions = None;
            clear_status_details(row);
        }
    }

    fn apply_status_change(&mut self, project: ProjectId, seq: Seq, change: &StatusChangeRecord, effects: &mut Effects) {
        let Some(HashState::Linked(index)) = self.hashes.get(&change.hash) else {
            effects.reject(seq, "group not found".into());
            return;
        };
        let index = self.resolve(*index as usize);
        // Work on copies of the three fields: the row may only change after `touch` has
        // retracted its old version.
        let group = &self.groups[index];
        let before = (group.row.status, group.row.substatus, group.row.priority);
        let (mut status, mut substatus, mut priority) = before;
        let result = apply_status_change(
            StatusFields {
                status: &mut status,
                substatus: &mut substatus,
                priority: &mut priority,
                priority_locked: group.row.priority_locked,
                initial_priority: group.initial_priority,
            },
            change.new_status,
            change.new_substatus,
        );
        match result {
            Err(reason) => effects.reject(seq, reason),
            Ok(()) => {
                effects.count(Counter::StatusChangesApplied);
                if (status, substatus, priority) != before {
                    self.touch(project, index, effects);
                    let group = &mut self.groups[index];
                    let current = Arc::make_mut(&mut group.row);
                    if current.status != status {
                        // The conditions and details of the previous status no longer apply.
                        group.conditions = None;
                        clear_status_details(current);
                    } else if current.substatus != substatus {
                        // A new substatus (escalating, regressed) re-decides the inbox.
                        clear_inbox_change(current);
                    }
                    current.status = status;
                    current.substatus = substatus;
                    current.priority = priority;
                    current.note_substatus((before.0, before.1), self.watermark);
                }
            }
        }
    }

    /// The group's row, if it is visible (not merged away or deleted).
    pub fn row(&self, key: GroupKey) -> Option<&Arc<GroupRow>> {
        self.groups
            .get((key.short_id as usize).checked_sub(1)?)
            .filter(|g| g.lifecycle == Lifecycle::Live)
            .map(|g| &g.row)
    }

    /// The group that `index` stands for: itself, or the group it was merged into.
    pub(super) fn resolve(&self, mut index: usize) -> usize {
        while let Lifecycle::MergedInto(parent) = self.groups[index].lifecycle {
            index = parent as usize;
        }
        index
    }
}

#[cfg(test)]
#[path = "project_tests.rs"]
pub(super) mod tests;
