//! Per-project ingest state: hash → group links, noise gates, creation quotas, duplicate
//! memory and the groups themselves. Records of one project are applied here one at a time in
//! log order (semantics.md §4); every step is O(1) or O(log n) in the project's state.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::conditions::Conditions;
use super::creation_quota::QuotaWindow;
use super::dedup::DedupWindow;
use super::noise_gate::NoiseGate;
use super::status_change::{apply_status_change, StatusFields};
use crate::model::time::MICROS_PER_SECOND;
use crate::model::{
    group_type, GroupHash, GroupStatus, Level, Micros, OccurrenceRecord, Priority, ProjectId, Record, RecordBody, Seq, StatusChangeRecord,
    Substatus, Symbol, Triage,
};

/// A group's identity inside the dataflow: its project and its per-project short id.
/// The global numeric id is assigned downstream (see `graph::ids`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupKey {
    pub project: ProjectId,
    pub short_id: u32,
}

/// The maintained per-group view row (everything but windowed aggregates).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupRow {
    pub type_id: u32,
    pub status: GroupStatus,
    pub substatus: Option<Substatus>,
    pub priority: Priority,
    pub priority_locked: bool,
    /// Shared with the views: cloning a row does not copy its strings.
    pub title: Arc<str>,
    pub subtitle: Arc<str>,
    pub culprit: Arc<str>,
    pub level: Level,
    /// `metadata.initial_priority`: the priority of the occurrence that set the title.
    pub metadata_priority: Priority,
    pub first_seen: Micros,
    pub last_seen: Micros,
    pub times_seen: u64,
    pub user_count: u64,
    pub first_release: Option<Symbol>,
    pub last_release: Option<Symbol>,
    /// Log position of the creating occurrence; orders creations for id assignment.
    pub created_seq: Seq,
    /// Only for event-grouped types (`GroupType::is_event_grouped`); behind one pointer so
    /// that the other rows pay 8 bytes for it.
    pub event_group: Option<Arc<EventGroup>>,
    /// What API mutations set (assignee, bookmarks, status details, …); None until one does.
    pub triage: Option<Arc<Triage>>,
}

#[cfg(test)]
impl GroupRow {
    /// An unresolved, new, high-priority cron group with nothing seen yet, for tests to
    /// override the fields they are about.
    pub(crate) fn sample() -> GroupRow {
        GroupRow {
            type_id: 4001,
            status: GroupStatus::Unresolved,
            substatus: Some(Substatus::New),
            priority: Priority::High,
            priority_locked: false,
            title: "t".into(),
            subtitle: "s".into(),
            culprit: "c".into(),
            level: Level::Error,
            metadata_priority: Priority::High,
            first_seen: 0,
            last_seen: 0,
            times_seen: 0,
            user_count: 0,
            first_release: None,
            last_release: None,
            created_seq: 0,
            event_group: None,
            triage: None,
        }
    }
}

/// What the rows of event-grouped (error) groups have besides the common fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventGroup {
    /// The group's `metadata` object as JSON (see `OccurrenceRecord::metadata`).
    pub metadata: Option<Box<str>>,
    /// Every hash linked to the group, in link order: the read side finds the group's latest
    /// event by them.
    pub hashes: Vec<GroupHash>,
}

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
    /// The epoch in which this group was last reported changed (see `Effects`). Not
    /// checkpointed: epochs restart numbering meaning after a restore.
    #[serde(skip)]
    dirty_epoch: Option<u64>,
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

#[derive(Serialize, Deserialize)]
pub(super) enum HashState {
    Linked(u32),
    Gate(NoiseGate),
    /// Discarded through the API: occurrences with this hash are dropped.
    Discarded,
}

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
    pub hourly: HashMap<(GroupKey, u32), isize>,
    /// `(group, environment)` pairs seen in this epoch (with counts). The views keep each
    /// group's set; keeping the sets here too would cost ~35 bytes per pair for nothing.
    pub environments: HashMap<(GroupKey, Symbol), isize>,
    /// `(group, release)` pairs seen in this epoch, like `environments`.
    pub releases: HashMap<(GroupKey, Symbol), isize>,
    pub created: Vec<(Seq, GroupKey)>,
    /// Groups merged in this epoch: (child, parent). The views move the child's aggregates.
    pub merges: Vec<(GroupKey, GroupKey)>,
    pub rejected: Vec<(Seq, String)>,
    pub counters: Counts,
    /// Occurrences per (group, environment, hour), for occurrences that carry an environment.
    /// The views keep them only for groups whose occurrences span several environments
    /// (`views::IssueViews::apply_activity`).
    pub environment_hours: HashMap<(GroupKey, Symbol, u32), isize>,
    /// `(group, hour, user)` the first time the user is seen for the group in that hour: the
    /// views count distinct users over any window of whole hours from these.
    pub user_hours: Vec<(GroupKey, u32, Symbol)>,
    /// Occurrences per (group, facet, hour): what event-level conditions test
    /// (`facets::FacetHours`).
    pub facet_hours: HashMap<(GroupKey, crate::facets::Facet, u32), isize>,
}

impl Effects {
    pub(super) fn count(&mut self, counter: Counter) {
        self.counters.0[counter as usize] += 1;
    }

    fn reject(&mut self, seq: Seq, reason: String) {
        self.count(Counter::DeadLettered);
        self.rejected.push((seq, reason));
    }
}

#[derive(Clone, Copy, Debug)]
pub struct IngestConfig {
    pub dedup_window: Micros,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            dedup_window: 600 * MICROS_PER_SECOND,
        }
    }
}

#[derive(Default, Serialize, Deserialize)]
pub struct ProjectState {
    watermark: Micros,
    dedup: DedupWindow,
    pub(super) hashes: HashMap<GroupHash, HashState>,
    pub(super) groups: Vec<GroupState>,
    quotas: HashMap<u32, QuotaWindow>,
    pub(super) users: HashSet<(u32, Symbol)>,
    /// `(short id, hour, user)` seen so far: one entry per distinct user per group and hour,
    /// so `Effects::user_hours` reports each exactly once (O(1) per occurrence). Only hours
    /// from `hour_users_cut` on are kept (the views' retention, see `views::retention`).
    pub(super) hour_users: HashSet<(u32, u32, Symbol)>,
    /// The newest hour of an occurrence with a user, and the retention cut derived from it.
    /// A project's cut is never after the views' (theirs follows the newest hour of every
    /// project), so what is pruned here is already ignored there.
    newest_user_hour: u32,
    hour_users_cut: u32,
}

impl ProjectState {
    /// Advances the retention cut of `hour_users` to an occurrence at `hour` (pruning once per
    /// day of event time) and says whether that hour is still kept. The set then holds exactly
    /// the hours from the cut on, in input order whatever the batching.
    fn keep_user_hour(&mut self, hour: u32) -> bool {
        if hour > self.newest_user_hour {
            self.newest_user_hour = hour;
            let cut = crate::views::retention::cut(hour, crate::views::retention::retention_hours());
            if cut > self.hour_users_cut {
                self.hour_users_cut = cut;
                self.hour_users.retain(|&(_, h, _)| h >= cut);
            }
        }
        hour >= self.hour_users_cut
    }

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
                self.watermark = self.watermark.max(occ.time);
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
            RecordBody::Occurrence(occ) => self.apply_occurrence(record.project, record.seq, occ, effects),
            RecordBody::StatusChange(change) => self.apply_status_change(record.project, record.seq, change, effects),
            RecordBody::Mutation(_) => {}
        }
    }

    pub(super) fn key(project: ProjectId, index: usize) -> GroupKey {
        GroupKey {
            project,
            short_id: index as u32 + 1,
        }
    }

    /// Reports a change to `index`, retracting its previous row once per epoch.
    pub(super) fn touch(&mut self, project: ProjectId, index: usize, effects: &mut Effects) {
        let group = &mut self.groups[index];
        if group.dirty_epoch != Some(effects.epoch) {
            group.dirty_epoch = Some(effects.epoch);
            let key = Self::key(project, index);
            effects.retracted.push((key, group.row.clone()));
            effects.changed.push(key);
        }
    }

    fn apply_occurrence(&mut self, project: ProjectId, seq: Seq, occ: &OccurrenceRecord, effects: &mut Effects) {
        let Some(group_type) = group_type(occ.type_id) else {
            // The decoder only admits registered types.
            effects.reject(seq, format!("unknown group type {}", occ.type_id));
            return;
        };
        let linked = occ.hashes().find_map(|h| match self.hashes.get(&h) {
            Some(HashState::Linked(index)) => Some(Some(self.resolve(*index as usize))),
            Some(HashState::Discarded) => Some(None),
            _ => None,
        });
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
                self.create(project, seq, occ, group_type.default_priority, effects)
            }
            None => {
                let (ignore_limit, expiry) = match group_type.noise {
                    Some(noise) => (noise.ignore_limit, noise.expiry_seconds * MICROS_PER_SECOND),
                    None => (1, 0),
                };
                let gate = match self.hashes.entry(occ.hash).or_insert(HashState::Gate(NoiseGate::default())) {
                    HashState::Gate(gate) => gate,
                    HashState::Linked(_) | HashState::Discarded => unreachable!("no hash of the occurrence is linked"),
                };
                if !gate.admit(occ.time, ignore_limit, expiry) {
                    effects.count(Counter::DroppedNoise);
                    return;
                }
                if !self
                    .quotas
                    .entry(occ.type_id)
                    .or_default()
                    .try_create(occ.time, &group_type.creation_quota)
                {
                    effects.count(Counter::DroppedQuota);
                    return;
                }
                self.create(project, seq, occ, group_type.default_priority, effects)
            }
        };
        effects.count(Counter::OccurrencesAccepted);
        let key = Self::key(project, index);
        let hour = occ.time.div_euclid(3600 * MICROS_PER_SECOND) as u32;
        *effects.hourly.entry((key, hour)).or_default() += 1;
        if let Some(env) = occ.environment {
            *effects.environments.entry((key, env)).or_default() += 1;
            *effects.environment_hours.entry((key, env, hour)).or_default() += 1;
        }
        if let Some(release) = occ.release {
            *effects.releases.entry((key, release)).or_default() += 1;
        }
        let facet = crate::facets::Facet {
            environment: occ.environment,
            release: occ.release,
            level: occ.level,
        };
        *effects.facet_hours.entry((key, facet, hour)).or_default() += 1;
        if let Some(user) = occ.user {
            if self.users.insert((key.short_id, user)) {
                Arc::make_mut(&mut self.groups[index].row).user_count += 1;
            }
            if self.keep_user_hour(hour) && self.hour_users.insert((key.short_id, hour, user)) {
                effects.user_hours.push((key, hour, user));
            }
        }
        if linked.is_some() && self.groups[index].conditions.is_some() {
            self.check_ignore_conditions(index, occ);
        }
    }

    fn create(&mut self, project: ProjectId, seq: Seq, occ: &OccurrenceRecord, default_priority: u8, effects: &mut Effects) -> usize {
        let index = self.create_group(seq, occ, default_priority);
        self.link_unlinked(occ, index);
        effects.created.push((seq, Self::key(project, index)));
        effects.changed.push(Self::key(project, index));
        self.groups[index].dirty_epoch = Some(effects.epoch);
        effects.count(Counter::GroupsCreated);
        index
    }

    /// Links every hash of `occ` that is not linked yet to group `index`.
    fn link_unlinked(&mut self, occ: &OccurrenceRecord, index: usize) {
        let keep_hashes = self.groups[index].row.event_group.is_some();
        for hash in occ.hashes() {
            let state = self.hashes.entry(hash).or_insert(HashState::Gate(NoiseGate::default()));
            if matches!(state, HashState::Gate(_)) {
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
                title: Arc::from(occ.texts.title()),
                subtitle: Arc::from(occ.texts.subtitle()),
                culprit: Arc::from(occ.texts.culprit()),
                level: occ.level,
                metadata_priority: priority,
                first_seen: occ.time,
                last_seen: occ.time,
                times_seen: 1,
                user_count: 0,
                first_release: occ.release,
                last_release: occ.release,
                created_seq: seq,
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
            dirty_epoch: None,
        });
        self.groups.len() - 1
    }

    fn update_group(&mut self, index: usize, occ: &OccurrenceRecord, default_priority: u8) {
        let group = &mut self.groups[index];
        let row = Arc::make_mut(&mut group.row);
        row.times_seen += 1;
        row.last_seen = row.last_seen.max(occ.time);
        row.first_seen = row.first_seen.min(occ.time);
        if occ.time >= group.title_time {
            group.title_time = occ.time;
            let texts = &occ.texts;
            if *row.title != *texts.title() {
                row.title = Arc::from(texts.title());
            }
            if *row.subtitle != *texts.subtitle() {
                row.subtitle = Arc::from(texts.subtitle());
            }
            if *row.culprit != *texts.culprit() {
                row.culprit = Arc::from(texts.culprit());
            }
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
        if row.status == GroupStatus::Resolved && Conditions::regresses(&group.conditions, occ.release) {
            row.status = GroupStatus::Unresolved;
            row.substatus = Some(Substatus::Regressed);
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

/// Drops the status details of a status that no longer holds, and a manual inbox change
/// (the new status decides whether the group is in the inbox).
pub(super) fn clear_status_details(row: &mut GroupRow) {
    if let Some(triage) = &mut row.triage {
        if triage.status_details != Default::default()
            || triage.ignore_until.is_some()
            || triage.status_actor.is_some()
            || triage.inbox.is_some()
        {
            let triage = Arc::make_mut(triage);
            triage.status_details = Default::default();
            triage.ignore_until = None;
            triage.status_actor = None;
            triage.inbox = None;
        }
    }
    if row.triage.as_deref().is_some_and(Triage::is_empty) {
        row.triage = None;
    }
}

/// Drops a manual inbox change (the substatus decides again).
fn clear_inbox_change(row: &mut GroupRow) {
    if row.triage.as_ref().is_some_and(|t| t.inbox.is_some()) {
        if let Some(triage) = &mut row.triage {
            Arc::make_mut(triage).inbox = None;
        }
        if row.triage.as_deref().is_some_and(Triage::is_empty) {
            row.triage = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Texts;

    fn occurrence(type_id: u32, hashes: &[GroupHash], time: Micros) -> OccurrenceRecord {
        OccurrenceRecord {
            time,
            type_id,
            hash: hashes[0],
            more_hashes: hashes[1..].to_vec(),
            texts: Texts::new("t", "s", "c").expect("short"),
            metadata: None,
            level: Level::Error,
            priority: None,
            user: None,
            release: None,
            environment: None,
        }
    }

    /// Applies one occurrence per entry (ids 1, 2, …), all in one project.
    fn apply_all(occurrences: Vec<OccurrenceRecord>) -> (ProjectState, Effects) {
        let (mut state, mut effects) = (ProjectState::default(), Effects::default());
        for (i, occ) in occurrences.into_iter().enumerate() {
            let record = Record {
                seq: i as Seq,
                project: 1,
                id: i as u128 + 1,
                body: RecordBody::Occurrence(occ),
            };
            state.apply(&record, &IngestConfig::default(), &mut effects);
        }
        (state, effects)
    }

    #[test]
    fn error_groups_skip_the_creation_quota() {
        // Ten new fingerprints in one minute: quota 5 binds for type 1001 (after its noise
        // gate of 100) but never for errors.
        let errors = (1..=10).map(|h| occurrence(1, &[h], 1_000_000)).collect();
        let (_, effects) = apply_all(errors);
        assert_eq!(effects.counters.get(&Counter::GroupsCreated), Some(&10));
        assert_eq!(effects.counters.get(&Counter::DroppedQuota), None);
        let crons = (1..=10).map(|h| occurrence(4001, &[h], 1_000_000)).collect();
        let (_, effects) = apply_all(crons);
        assert_eq!(effects.counters.get(&Counter::GroupsCreated), Some(&10), "4001's quota is 60000");
        let perf = (1..=10)
            .map(|h| occurrence(1006, &[h], 1_000_000))
            .flat_map(|o| [o.clone(), o.clone(), o])
            .collect();
        let (_, effects) = apply_all(perf);
        assert_eq!(effects.counters.get(&Counter::GroupsCreated), Some(&5));
        assert_eq!(effects.counters.get(&Counter::DroppedQuota), Some(&5));
    }

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

    #[test]
    fn error_groups_keep_their_linked_hashes() {
        let (state, _) = apply_all(vec![occurrence(1, &[7, 8], 1), occurrence(1, &[8, 9], 2), occurrence(1, &[10], 3)]);
        let row = state.row(GroupKey { project: 1, short_id: 1 }).expect("group 1");
        assert_eq!(row.event_group.as_ref().map(|e| e.hashes.clone()), Some(vec![7, 8, 9]));
        assert_eq!(row.times_seen, 2);
        let (state, _) = apply_all(vec![occurrence(4001, &[7, 8], 1)]);
        assert_eq!(state.row(GroupKey { project: 1, short_id: 1 }).expect("group").event_group, None);
    }

    #[test]
    fn user_hours_are_reported_once_per_group_hour_and_user() {
        const HOUR: Micros = 3_600_000_000;
        let with = |user: Symbol, time: Micros, env: Option<Symbol>| OccurrenceRecord {
            user: Some(user),
            environment: env,
            ..occurrence(1, &[7], time)
        };
        let (_, effects) = apply_all(vec![
            with(1, 0, Some(5)),
            with(1, 10, None),
            with(2, 20, Some(5)),
            with(1, HOUR, Some(5)),
        ]);
        let key = GroupKey { project: 1, short_id: 1 };
        assert_eq!(effects.user_hours, vec![(key, 0, 1), (key, 0, 2), (key, 1, 1)]);
        assert_eq!(effects.environment_hours.get(&(key, 5, 0)), Some(&2));
        assert_eq!(effects.environment_hours.get(&(key, 5, 1)), Some(&1));
        assert_eq!(effects.hourly.get(&(key, 0)), Some(&3));
    }

    #[test]
    fn per_hour_users_older_than_the_retention_are_dropped_and_not_reported_again() {
        const HOUR: Micros = 3_600_000_000;
        let retention = crate::views::retention::retention_hours();
        let late = retention + 24 * 3;
        let with = |user: Symbol, hour: u32| OccurrenceRecord {
            user: Some(user),
            ..occurrence(1, &[7], Micros::from(hour) * HOUR)
        };
        // Hours 0 and 30, then one past the retention (cut at day 3: hour 72), then late
        // occurrences in hours 30 and 72, then hour 72 again.
        let (state, effects) = apply_all(vec![with(1, 0), with(1, 30), with(2, late), with(3, 30), with(3, 72), with(3, 72)]);
        let key = GroupKey { project: 1, short_id: 1 };
        assert_eq!(effects.user_hours, vec![(key, 0, 1), (key, 30, 1), (key, late, 2), (key, 72, 3)]);
        let mut kept: Vec<_> = state.hour_users.iter().copied().collect();
        kept.sort_unstable();
        assert_eq!(kept, vec![(1, 72, 3), (1, late, 2)]);
        let row = state.row(key).expect("group 1");
        assert_eq!((row.user_count, row.times_seen), (3, 6), "lifetime values stay exact");
    }
}
