//! Applying bulk mutations (issue-platform.md §8) to a project's groups, and ending ignores
//! whose conditions an occurrence meets. Groups the mutation names that no longer exist
//! (deleted or merged away since the request) are skipped, as Sentry ignores missing ids.

use std::sync::Arc;

use rustc_hash::FxHashSet as HashSet;

use super::conditions::{Conditions, ReleaseResolution, Snooze};
use super::project::{clear_status_details, Counter, Effects, HashState, Lifecycle, ProjectState};
use super::status_change::{apply_status_change, StatusFields};
use super::triage::{inbox_entry, share_id, subscribe};
use crate::model::time::MICROS_PER_SECOND;
use crate::model::{
    symbol_of, Assignee, GroupStatus, GroupUpdate, InboxChange, MutationKind, MutationRecord, OccurrenceRecord, ProjectId, StatusUpdate,
    SubscriptionReason, Substatus,
};

/// An unresolve of one recently seen ignored group makes it "new" again (§8.1).
const NEW_GROUP_AGE: i64 = 7 * 24 * 3600 * MICROS_PER_SECOND;

impl ProjectState {
    pub(super) fn apply_mutation(&mut self, project: ProjectId, mutation: &MutationRecord, effects: &mut Effects) {
        effects.count(Counter::MutationsApplied);
        let mut targets: Vec<usize> = Vec::with_capacity(mutation.short_ids.len());
        for short_id in &mutation.short_ids {
            let Some(index) = (*short_id as usize).checked_sub(1) else {
                continue;
            };
            if self.groups.get(index).is_some_and(|g| g.lifecycle == Lifecycle::Live) && !targets.contains(&index) {
                targets.push(index);
            }
        }
        match &mutation.kind {
            MutationKind::Update(update) => self.update(project, &targets, mutation, update, effects),
            MutationKind::Delete => self.remove(project, &targets, false, effects),
            MutationKind::Discard => self.remove(project, &targets, true, effects),
        }
    }

    fn update(&mut self, project: ProjectId, targets: &[usize], mutation: &MutationRecord, update: &GroupUpdate, effects: &mut Effects) {
        let single = targets.len() == 1;
        for &index in targets {
            if let Some(status) = &update.status {
                self.set_status(project, index, status, mutation, single, effects);
            }
            let actor = mutation.actor.clone().unwrap_or_else(|| Arc::from("anonymous"));
            let group = &self.groups[index];
            let triage = group.row.triage.as_deref().cloned().unwrap_or_default();
            let mut next = triage.clone();
            let mut priority = None;
            if let Some(p) = update.priority {
                priority = Some(p);
                next.priority_locked_at = Some(mutation.time);
            }
            if let Some(assignee) = &update.assigned_to {
                next.assignee = assignee.clone();
                // Sentry subscribes an assigned user (a team's members are unknown here).
                if let Some(Assignee::User(user)) = assignee {
                    subscribe(&mut next.subscriptions, user, SubscriptionReason::Assigned, None);
                }
            }
            if let Some(seen) = update.has_seen {
                set_member(&mut next.seen_by, &actor, seen);
            }
            if let Some(bookmarked) = update.bookmarked {
                set_member(&mut next.bookmarked_by, &actor, bookmarked);
                if bookmarked {
                    subscribe(&mut next.subscriptions, &actor, SubscriptionReason::Bookmarked, None);
                }
            }
            if let Some(subscribed) = update.subscribed {
                subscribe(&mut next.subscriptions, &actor, SubscriptionReason::Explicit, Some(subscribed));
            }
            if let Some(public) = update.public {
                // Sentry makes a new share on every `isPublic: true`; the id derives from
                // the logged request, so replays give the same one.
                next.share_id = public.then(|| share_id(project, index, mutation));
            }
            match update.inbox {
                Some(false) => next.inbox = Some(InboxChange::Reviewed),
                // Already in the inbox: it stays there with its reason and date.
                Some(true) if inbox_entry(&group.row).is_none() => next.inbox = Some(InboxChange::Added(mutation.time)),
                _ => {}
            }
            let priority_changes = priority.is_some_and(|p| p != group.row.priority || !group.row.priority_locked);
            if next != triage || priority_changes {
                self.touch(project, index, effects);
                let row = Arc::make_mut(&mut self.groups[index].row);
                if let Some(p) = priority {
                    row.priority = p;
                    row.priority_locked = true;
                }
                row.triage = (!next.is_empty()).then(|| Arc::new(next));
            }
        }
        if update.merge && targets.len() > 1 {
            self.merge(project, targets, effects);
        }
    }

    fn set_status(
        &mut self,
        project: ProjectId,
        index: usize,
        update: &StatusUpdate,
        mutation: &MutationRecord,
        single: bool,
        effects: &mut Effects,
    ) {
        let group = &self.groups[index];
        let current = group.row.status;
        // Only groups whose status changes are updated (a resolve skips resolved groups).
        if current == update.status && (update.substatus.is_none() || update.substatus == group.row.substatus) {
            return;
        }
        let substatus = match update.status {
            GroupStatus::Resolved => None,
            GroupStatus::Ignored => update.substatus.or(Some(if update.details.until_escalating {
                Substatus::UntilEscalating
            } else if update.details.has_ignore_condition() {
                Substatus::UntilConditionMet
            } else {
                Substatus::Forever
            })),
            _ => update.substatus.or(Some(
                if single && current == GroupStatus::Ignored && mutation.time - group.row.first_seen < NEW_GROUP_AGE {
                    Substatus::New
                } else {
                    Substatus::Ongoing
                },
            )),
        };
        self.touch(project, index, effects);
        let group = &mut self.groups[index];
        let row = Arc::make_mut(&mut group.row);
        row.status = update.status;
        row.substatus = substatus;
        clear_status_details(row);
        group.conditions = None;
        let details = &update.details;
        match update.status {
            GroupStatus::Resolved if details.is_release_resolution() => {
                // Next, upcoming and future releases: any release but the group's latest.
                let release = match &details.in_release {
                    Some(name) => Some(symbol_of(name)),
                    None => row.last_release,
                };
                group.conditions = Some(Box::new(Conditions {
                    resolved_in: Some(ReleaseResolution { release }),
                    snooze: None,
                }));
            }
            GroupStatus::Ignored => {
                if let Some(snooze) = Snooze::new(details, mutation.time, row.times_seen, row.user_count) {
                    group.conditions = Some(Box::new(Conditions {
                        resolved_in: None,
                        snooze: Some(snooze),
                    }));
                }
            }
            _ => {}
        }
        let shown = match update.status {
            GroupStatus::Resolved | GroupStatus::Ignored => details.clone(),
            _ => Default::default(),
        };
        let mut triage = row.triage.as_deref().cloned().unwrap_or_default();
        triage.ignore_until = shown
            .ignore_duration
            .map(|m| mutation.time.saturating_add((m as i64).saturating_mul(60 * MICROS_PER_SECOND)));
        triage.status_details = shown;
        triage.status_actor = (update.status != GroupStatus::Unresolved).then(|| mutation.actor.clone()).flatten();
        row.triage = (!triage.is_empty()).then(|| Arc::new(triage));
    }

    /// Merges `targets` into the one with the most occurrences (ties: the oldest). Children's
    /// hashes resolve to the parent from now on; their counts and users move there.
    fn merge(&mut self, project: ProjectId, targets: &[usize], effects: &mut Effects) {
        let Some(&parent) = targets.iter().max_by(|a, b| {
            let (ga, gb) = (&self.groups[**a].row, &self.groups[**b].row);
            ga.times_seen.cmp(&gb.times_seen).then(b.cmp(a))
        }) else {
            return;
        };
        let children: Vec<usize> = targets.iter().copied().filter(|&i| i != parent).collect();
        self.touch(project, parent, effects);
        let child_ids: HashSet<u32> = children.iter().map(|&c| c as u32 + 1).collect();
        let parent_id = parent as u32 + 1;
        let moved_users: Vec<_> = self
            .users
            .iter()
            .filter(|(short_id, _)| child_ids.contains(short_id))
            .map(|(_, user)| *user)
            .collect();
        let mut new_users = 0;
        for user in moved_users {
            if self.users.insert((parent_id, user)) {
                new_users += 1;
            }
        }
        self.users.retain(|(short_id, _)| !child_ids.contains(short_id));
        // The views move the children's per-hour users; this set must agree with them.
        let moved_hours: Vec<(u32, u64)> = self
            .hour_users
            .iter()
            .filter(|(short_id, _, _)| child_ids.contains(short_id))
            .map(|(_, hour, user)| (*hour, *user))
            .collect();
        self.hour_users.retain(|(short_id, _, _)| !child_ids.contains(short_id));
        self.hour_users
            .extend(moved_hours.into_iter().map(|(hour, user)| (parent_id, hour, user)));
        for &child in &children {
            self.touch(project, child, effects);
            self.groups[child].lifecycle = Lifecycle::MergedInto(parent as u32);
            let child_row = self.groups[child].row.clone();
            let row = Arc::make_mut(&mut self.groups[parent].row);
            row.times_seen += child_row.times_seen;
            row.first_seen = row.first_seen.min(child_row.first_seen);
            row.last_seen = row.last_seen.max(child_row.last_seen);
            if let (Some(parent_events), Some(child_events)) = (&mut row.event_group, &child_row.event_group) {
                Arc::make_mut(parent_events).hashes.extend(child_events.hashes.iter().copied());
            }
            effects.merges.push((Self::key(project, child), Self::key(project, parent)));
        }
        Arc::make_mut(&mut self.groups[parent].row).user_count += new_users;
    }

    /// Deletes (or discards) `targets`: they leave the views, and their hashes (and those of
    /// groups merged into them) are released, or tombstoned when discarding. One pass over
    /// the project's hashes per request.
    fn remove(&mut self, project: ProjectId, targets: &[usize], discard: bool, effects: &mut Effects) {
        if targets.is_empty() {
            return;
        }
        for &index in targets {
            self.touch(project, index, effects);
            let group = &mut self.groups[index];
            group.lifecycle = Lifecycle::Removed;
            group.conditions = None;
            let row = Arc::make_mut(&mut group.row);
            row.status = GroupStatus::PendingDeletion;
            row.substatus = None;
        }
        let removed: HashSet<usize> = targets.iter().copied().collect();
        let groups = &self.groups;
        let owner = |mut index: usize| {
            while let Lifecycle::MergedInto(parent) = groups[index].lifecycle {
                index = parent as usize;
            }
            index
        };
        if discard {
            for state in self.hashes.values_mut() {
                if matches!(state, HashState::Linked(i) if removed.contains(&owner(*i as usize))) {
                    *state = HashState::Discarded;
                }
            }
        } else {
            self.hashes
                .retain(|_, state| !matches!(state, HashState::Linked(i) if removed.contains(&owner(*i as usize))));
        }
        let ids: HashSet<u32> = targets.iter().map(|&i| i as u32 + 1).collect();
        self.users.retain(|(short_id, _)| !ids.contains(short_id));
        self.hour_users.retain(|(short_id, _, _)| !ids.contains(short_id));
    }

    /// After an occurrence of an ignored group with conditions: when one is met, the group
    /// escalates (unresolved, substatus escalating, priority up unless locked).
    pub(super) fn check_ignore_conditions(&mut self, index: usize, occ: &OccurrenceRecord) {
        let group = &mut self.groups[index];
        if group.row.status != GroupStatus::Ignored {
            return;
        }
        let Some(snooze) = group.conditions.as_mut().and_then(|c| c.snooze.as_mut()) else {
            return;
        };
        if !snooze.is_met(occ.time, occ.user, group.row.times_seen, group.row.user_count) {
            return;
        }
        group.conditions = None;
        let (mut status, mut substatus, mut priority) = (group.row.status, group.row.substatus, group.row.priority);
        let escalated = apply_status_change(
            StatusFields {
                status: &mut status,
                substatus: &mut substatus,
                priority: &mut priority,
                priority_locked: group.row.priority_locked,
                initial_priority: group.initial_priority,
            },
            GroupStatus::Unresolved as i64,
            Some(Substatus::Escalating as i64),
        );
        if escalated.is_ok() {
            // The caller touched the group for this occurrence already.
            let row = Arc::make_mut(&mut group.row);
            row.status = status;
            row.substatus = substatus;
            row.priority = priority;
            clear_status_details(row);
        }
    }
}

fn set_member(list: &mut Vec<Arc<str>>, who: &Arc<str>, member: bool) {
    let position = list.iter().position(|x| x == who);
    match (member, position) {
        (true, None) => {
            list.push(who.clone());
            list.sort();
        }
        (false, Some(i)) => {
            list.remove(i);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Subscription;
    use crate::model::{GroupHash, Level, Micros, Priority, Record, RecordBody, StatusDetails, Texts};
    use crate::state::triage::InboxReason;
    use crate::state::{GroupKey, IngestConfig};

    struct Project {
        state: ProjectState,
        effects: Effects,
        seq: u64,
    }

    impl Project {
        fn new() -> Project {
            Project {
                state: ProjectState::default(),
                effects: Effects::default(),
                seq: 0,
            }
        }

        fn apply(&mut self, body: RecordBody) {
            self.seq += 1;
            let record = Record {
                seq: self.seq,
                project: 1,
                id: u128::from(self.seq),
                body,
            };
            self.state.apply(&record, &IngestConfig::default(), &mut self.effects);
        }

        /// An error-type occurrence (no noise gate) of fingerprint hash `hash`.
        fn occur(&mut self, hash: GroupHash, time: Micros, user: Option<u64>) {
            self.occur_in_release(hash, time, user, None);
        }

        fn occur_in_release(&mut self, hash: GroupHash, time: Micros, user: Option<u64>, release: Option<&str>) {
            self.apply(RecordBody::Occurrence(OccurrenceRecord {
                time,
                type_id: 1,
                hash,
                more_hashes: vec![],
                texts: Texts::new("t", "s", "c").expect("short"),
                metadata: None,
                level: Level::Error,
                priority: None,
                user,
                release: release.map(symbol_of),
                environment: None,
            }));
        }

        fn mutate(&mut self, short_ids: &[u32], kind: MutationKind) {
            self.apply(RecordBody::Mutation(Box::new(MutationRecord {
                short_ids: short_ids.to_vec(),
                time: 0,
                actor: Some("alice".into()),
                kind,
            })));
        }

        fn row(&self, short_id: u32) -> Option<Arc<crate::state::GroupRow>> {
            self.state.row(GroupKey { project: 1, short_id }).cloned()
        }
    }

    fn ignore(details: StatusDetails) -> MutationKind {
        MutationKind::Update(GroupUpdate {
            status: Some(StatusUpdate {
                status: GroupStatus::Ignored,
                substatus: None,
                details,
            }),
            ..GroupUpdate::default()
        })
    }

    #[test]
    fn an_ignore_count_escalates_the_group_when_reached() {
        let mut p = Project::new();
        p.occur(1, 0, None);
        p.mutate(
            &[1],
            ignore(StatusDetails {
                ignore_count: Some(2),
                ..StatusDetails::default()
            }),
        );
        let row = p.row(1).expect("group 1");
        assert_eq!(
            (row.status, row.substatus),
            (GroupStatus::Ignored, Some(Substatus::UntilConditionMet))
        );
        assert_eq!(row.triage.as_ref().and_then(|t| t.status_details.ignore_count), Some(2));
        p.occur(1, 1, None);
        assert_eq!(p.row(1).expect("group 1").status, GroupStatus::Ignored);
        p.occur(1, 2, None);
        let row = p.row(1).expect("group 1");
        assert_eq!((row.status, row.substatus), (GroupStatus::Unresolved, Some(Substatus::Escalating)));
        assert_eq!(row.priority, Priority::High, "escalation raises the priority");
        assert!(row.triage.is_none(), "the ignore's details are gone");
    }

    #[test]
    fn merge_moves_counts_users_and_later_occurrences_to_the_parent() {
        let mut p = Project::new();
        p.occur(1, 10, Some(7));
        p.occur(2, 5, Some(8));
        p.occur(2, 20, Some(7));
        let update = GroupUpdate {
            merge: true,
            ..GroupUpdate::default()
        };
        p.mutate(&[1, 2], MutationKind::Update(update));
        assert!(p.row(1).is_none(), "group 1 has fewer occurrences: it is the child");
        let parent = p.row(2).expect("parent");
        assert_eq!(
            (parent.times_seen, parent.first_seen, parent.last_seen, parent.user_count),
            (3, 5, 20, 2)
        );
        assert_eq!(
            p.effects.merges,
            vec![(GroupKey { project: 1, short_id: 1 }, GroupKey { project: 1, short_id: 2 })]
        );
        p.occur(1, 30, Some(9));
        let parent = p.row(2).expect("parent");
        assert_eq!((parent.times_seen, parent.user_count), (4, 3));
        assert_eq!(p.state.groups.len(), 2, "no new group for the child's fingerprint");
    }

    #[test]
    fn delete_releases_fingerprints_and_discard_drops_them() {
        let mut p = Project::new();
        p.occur(1, 0, None);
        p.occur(2, 0, None);
        p.mutate(&[1], MutationKind::Delete);
        p.mutate(&[2], MutationKind::Discard);
        assert!(p.row(1).is_none() && p.row(2).is_none());
        p.occur(1, 1, None);
        p.occur(2, 1, None);
        assert_eq!(p.row(3).map(|r| r.times_seen), Some(1), "a deleted fingerprint starts a new group");
        assert!(p.row(4).is_none(), "a discarded fingerprint creates nothing");
        assert_eq!(p.effects.counters.get(&Counter::DroppedDiscarded), Some(&1));
    }

    #[test]
    fn priority_locks_and_bookmarks_are_per_actor() {
        let mut p = Project::new();
        p.occur(1, 0, None);
        let update = GroupUpdate {
            priority: Some(Priority::Low),
            bookmarked: Some(true),
            has_seen: Some(true),
            ..GroupUpdate::default()
        };
        p.mutate(&[1], MutationKind::Update(update));
        let row = p.row(1).expect("group");
        assert!(row.priority_locked);
        assert_eq!(row.priority, Priority::Low);
        let triage = row.triage.as_ref().expect("triage");
        assert_eq!(triage.bookmarked_by, vec![Arc::<str>::from("alice")]);
        assert_eq!(triage.priority_locked_at, Some(0));
    }

    #[test]
    fn resolving_in_a_release_regresses_only_on_another_release() {
        let mut p = Project::new();
        p.occur(1, 0, None);
        let resolve = MutationKind::Update(GroupUpdate {
            status: Some(StatusUpdate {
                status: GroupStatus::Resolved,
                substatus: None,
                details: StatusDetails {
                    in_release: Some("1.0".into()),
                    ..StatusDetails::default()
                },
            }),
            ..GroupUpdate::default()
        });
        p.mutate(&[1], resolve);
        p.occur(1, 1, None);
        assert_eq!(p.row(1).expect("group").status, GroupStatus::Resolved, "no release: no regression");
        p.occur_in_release(1, 2, None, Some("1.0"));
        assert_eq!(p.row(1).expect("group").status, GroupStatus::Resolved);
        p.occur_in_release(1, 3, None, Some("2.0"));
        let row = p.row(1).expect("group");
        assert_eq!((row.status, row.substatus), (GroupStatus::Unresolved, Some(Substatus::Regressed)));
    }

    fn update(f: impl FnOnce(&mut GroupUpdate)) -> MutationKind {
        let mut update = GroupUpdate::default();
        f(&mut update);
        MutationKind::Update(update)
    }

    fn triage(p: &Project, short_id: u32) -> crate::model::Triage {
        p.row(short_id).expect("group").triage.as_deref().cloned().unwrap_or_default()
    }

    #[test]
    fn sharing_gives_a_new_id_each_time_and_unsharing_removes_it() {
        let mut p = Project::new();
        p.occur(1, 0, None);
        p.occur(2, 0, None);
        p.mutate(&[1, 2], update(|u| u.public = Some(true)));
        let (one, two) = (triage(&p, 1).share_id, triage(&p, 2).share_id);
        assert!(one.is_some() && two.is_some() && one != two, "one id per group");
        let mut again = Project::new();
        again.occur(1, 0, None);
        again.occur(2, 0, None);
        again.mutate(&[1, 2], update(|u| u.public = Some(true)));
        assert_eq!(triage(&again, 1).share_id, one, "a replay gives the same id");
        p.apply(RecordBody::Mutation(Box::new(MutationRecord {
            short_ids: vec![1],
            time: 60,
            actor: Some("alice".into()),
            kind: update(|u| u.public = Some(true)),
        })));
        let renewed = triage(&p, 1).share_id;
        assert!(renewed.is_some() && renewed != one, "sharing again makes a new share");
        p.mutate(&[1], update(|u| u.public = Some(false)));
        assert_eq!(triage(&p, 1).share_id, None);
    }

    #[test]
    fn subscriptions_keep_the_first_reason_and_an_explicit_choice_wins() {
        let mut p = Project::new();
        p.occur(1, 0, None);
        p.mutate(&[1], update(|u| u.bookmarked = Some(true)));
        p.mutate(&[1], update(|u| u.assigned_to = Some(Some(Assignee::User("alice".into())))));
        p.mutate(&[1], update(|u| u.assigned_to = Some(Some(Assignee::User("bob".into())))));
        let subscription = |user: &str, reason, active| Subscription {
            user: user.into(),
            reason,
            active,
        };
        assert_eq!(
            triage(&p, 1).subscriptions,
            vec![
                subscription("alice", SubscriptionReason::Bookmarked, true),
                subscription("bob", SubscriptionReason::Assigned, true),
            ],
            "alice bookmarked first; bob was assigned"
        );
        p.mutate(&[1], update(|u| u.subscribed = Some(false)));
        p.mutate(&[1], update(|u| u.bookmarked = Some(true)));
        assert_eq!(
            triage(&p, 1).subscriptions[0],
            subscription("alice", SubscriptionReason::Explicit, false),
            "an unsubscribe is not undone by a bookmark"
        );
        p.mutate(&[1], update(|u| u.assigned_to = Some(Some(Assignee::Team("backend".into())))));
        assert_eq!(triage(&p, 1).subscriptions.len(), 2, "a team's members are unknown");
    }

    #[test]
    fn the_inbox_follows_manual_changes_until_the_substatus_changes() {
        let mut p = Project::new();
        p.occur(1, 0, None);
        // Created unresolved/new: in the inbox since it was first seen.
        let entry = |p: &Project| inbox_entry(&p.row(1).expect("group"));
        assert_eq!(entry(&p).map(|e| (e.reason, e.date)), Some((InboxReason::New, 0)));
        p.mutate(&[1], update(|u| u.inbox = Some(false)));
        assert_eq!(entry(&p), None, "marked reviewed");
        p.apply(RecordBody::Mutation(Box::new(MutationRecord {
            short_ids: vec![1],
            time: 50,
            actor: None,
            kind: update(|u| u.inbox = Some(true)),
        })));
        assert_eq!(entry(&p).map(|e| (e.reason, e.date)), Some((InboxReason::Manual, 50)));
        p.mutate(&[1], update(|u| u.inbox = Some(true)));
        assert_eq!(entry(&p).map(|e| e.date), Some(50), "already in the inbox: unchanged");
        // Resolve, then a regression: the inbox is the regression's.
        p.mutate(&[1], resolve(StatusDetails::default()));
        assert_eq!(entry(&p), None);
        p.occur(1, 70, None);
        assert_eq!(entry(&p).map(|e| (e.reason, e.date)), Some((InboxReason::Regression, 70)));
        p.mutate(&[1], update(|u| u.inbox = Some(false)));
        assert_eq!(entry(&p), None);
        assert!(p.row(1).expect("group").triage.is_some());
    }

    #[test]
    fn a_status_change_message_to_regressed_undoes_a_review() {
        let mut p = Project::new();
        p.occur(1, 0, None);
        let change = |substatus: Substatus| {
            RecordBody::StatusChange(crate::model::StatusChangeRecord {
                hash: 1,
                new_status: GroupStatus::Unresolved as i64,
                new_substatus: Some(substatus as i64),
            })
        };
        p.apply(change(Substatus::Ongoing));
        p.mutate(&[1], update(|u| u.inbox = Some(true)));
        p.apply(change(Substatus::Ongoing));
        let entry = |p: &Project| inbox_entry(&p.row(1).expect("group")).map(|e| e.reason);
        assert_eq!(entry(&p), Some(InboxReason::Manual), "same substatus: the manual change stays");
        p.mutate(&[1], update(|u| u.inbox = Some(false)));
        p.apply(change(Substatus::Regressed));
        assert_eq!(entry(&p), Some(InboxReason::Regression), "a new substatus decides again");
    }

    fn resolve(details: StatusDetails) -> MutationKind {
        MutationKind::Update(GroupUpdate {
            status: Some(StatusUpdate {
                status: GroupStatus::Resolved,
                substatus: None,
                details,
            }),
            ..GroupUpdate::default()
        })
    }

    #[test]
    fn future_and_upcoming_releases_regress_on_a_release_other_than_the_latest() {
        for details in [
            StatusDetails {
                in_future_release: Some("3.0".into()),
                ..StatusDetails::default()
            },
            StatusDetails {
                in_upcoming_release: true,
                ..StatusDetails::default()
            },
        ] {
            let mut p = Project::new();
            p.occur_in_release(1, 0, None, Some("1.0"));
            p.mutate(&[1], resolve(details.clone()));
            let row = p.row(1).expect("group");
            assert_eq!(row.status, GroupStatus::Resolved);
            assert_eq!(row.triage.as_ref().map(|t| &t.status_details), Some(&details));
            p.occur_in_release(1, 1, None, Some("1.0"));
            p.occur(1, 2, None);
            assert_eq!(p.row(1).expect("group").status, GroupStatus::Resolved, "{details:?}");
            p.occur_in_release(1, 3, None, Some("2.0"));
            let row = p.row(1).expect("group");
            assert_eq!((row.status, row.substatus), (GroupStatus::Unresolved, Some(Substatus::Regressed)));
            assert!(row.triage.is_none(), "the resolution's details are gone");
        }
    }

    #[test]
    fn a_commit_resolution_is_shown_until_any_occurrence_regresses_it() {
        let mut p = Project::new();
        p.occur_in_release(1, 0, None, Some("1.0"));
        let details = StatusDetails {
            in_commit: Some(crate::model::Commit {
                commit: "abc123".into(),
                repository: "acme/api".into(),
            }),
            ..StatusDetails::default()
        };
        p.mutate(&[1], resolve(details.clone()));
        let row = p.row(1).expect("group");
        assert_eq!(row.triage.as_ref().map(|t| &t.status_details), Some(&details));
        p.occur_in_release(1, 1, None, Some("1.0"));
        let row = p.row(1).expect("group");
        assert_eq!((row.status, row.substatus), (GroupStatus::Unresolved, Some(Substatus::Regressed)));
    }
}
