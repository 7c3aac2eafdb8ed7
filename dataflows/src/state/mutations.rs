//! Applying bulk mutations (issue-platform.md §8) to a project's groups, and ending ignores
//! whose conditions an occurrence meets. Groups the mutation names that no longer exist
//! (deleted or merged away since the request) are skipped, as Sentry ignores missing ids.

use std::sync::Arc;

use rustc_hash::FxHashSet as HashSet;

use super::conditions::{Conditions, ReleaseResolution, Snooze};
use super::effects::{Counter, Effects};
use super::project::{HashState, Lifecycle, ProjectState};
use super::row::clear_status_details;
use super::status_change::{apply_status_change, StatusFields};
use super::triage::{inbox_entry, share_id, subscribe};
use crate::model::time::MICROS_PER_SECOND;
use crate::model::{
    symbol_of, Assignee, GroupStatus, GroupUpdate, InboxChange, MutationKind, MutationRecord, OccurrenceRecord, ProjectId, StatusDetails,
    StatusUpdate, SubscriptionReason, Substatus,
};

/// An unresolve of one recently seen ignored group makes it "new" again (§8.1).
const NEW_GROUP_AGE: i64 = 7 * 24 * 3600 * MICROS_PER_SECOND;

/// `inRelease: "latest"`: the project's newest release at the resolve.
const LATEST: &str = "latest";

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
        // Only groups whose status changes are updated (a resolve skips resolved groups),
        // but an ignore replaces an ignored group's conditions, as Sentry replaces its
        // snooze: a new duration or count starts now.
        let snoozes = update.status == GroupStatus::Ignored
            && (update.details.has_ignore_condition() || group.conditions.as_ref().is_some_and(|c| c.snooze.is_some()));
        if current == update.status && (update.substatus.is_none() || update.substatus == group.row.substatus) && !snoozes {
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
        let details = &update.details;
        let resolution =
            (update.status == GroupStatus::Resolved && details.is_release_resolution()).then(|| self.release_resolution(details));
        // `inRelease: "latest"` shows the release it stood for.
        let latest = (details.in_release.as_deref() == Some(LATEST))
            .then(|| self.releases.newest_name().map(Arc::<str>::from))
            .flatten();
        self.touch(project, index, effects);
        let group = &mut self.groups[index];
        let row = Arc::make_mut(&mut group.row);
        let before = (row.status, row.substatus);
        row.status = update.status;
        row.substatus = substatus;
        row.note_substatus(before, mutation.time);
        clear_status_details(row);
        group.conditions = None;
        match update.status {
            GroupStatus::Resolved if resolution.is_some() => {
                group.conditions = Some(Box::new(Conditions {
                    resolved_in: resolution,
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
        let mut shown = match update.status {
            GroupStatus::Resolved | GroupStatus::Ignored => details.clone(),
            _ => Default::default(),
        };
        if latest.is_some() && update.status == GroupStatus::Resolved {
            shown.in_release = latest;
        }
        let mut triage = row.triage.as_deref().cloned().unwrap_or_default();
        triage.ignore_until = shown
            .ignore_duration
            .map(|m| mutation.time.saturating_add((m as i64).saturating_mul(60 * MICROS_PER_SECOND)));
        triage.status_details = shown;
        triage.status_actor = (update.status != GroupStatus::Unresolved).then(|| mutation.actor.clone()).flatten();
        row.triage = (!triage.is_empty()).then(|| Arc::new(triage));
    }

    /// What a resolve in a release waits for (docs/semantics.md §8, *Release resolutions*):
    /// `inRelease` a release newer than the named one (registered now if not seen yet;
    /// `latest`: the project's newest),
    /// `inFutureRelease` the named version or a newer one, `inNextRelease` and
    /// `inUpcomingRelease` a release newer than the project's newest.
    fn release_resolution(&mut self, details: &StatusDetails) -> ReleaseResolution {
        if details.in_release.as_deref() == Some(LATEST) {
            ReleaseResolution {
                after: self.releases.newest().cloned(),
                inclusive: false,
            }
        } else if let Some(name) = &details.in_release {
            let release = symbol_of(name);
            self.releases.see(release, name);
            ReleaseResolution {
                after: self.releases.key(release).cloned(),
                inclusive: false,
            }
        } else if let Some(name) = &details.in_future_release {
            let after = match self.releases.key(symbol_of(name)) {
                Some(seen) => seen.clone(),
                None => self.releases.unseen(name),
            };
            ReleaseResolution {
                after: Some(after),
                inclusive: true,
            }
        } else {
            ReleaseResolution {
                after: self.releases.newest().cloned(),
                inclusive: false,
            }
        }
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
        let moved_users: Vec<_> = self.users.users_of(|short_id| child_ids.contains(&short_id)).collect();
        let mut new_users = 0;
        for user in moved_users {
            if self.users.insert(parent_id, user) {
                new_users += 1;
            }
        }
        self.users.retain(|short_id| !child_ids.contains(&short_id));
        for &child in &children {
            self.touch(project, child, effects);
            self.groups[child].lifecycle = Lifecycle::MergedInto(parent as u32);
            let child_row = self.groups[child].row.clone();
            let row = Arc::make_mut(&mut self.groups[parent].row);
            row.times_seen += child_row.times_seen;
            row.unhandled |= child_row.unhandled;
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
        self.users.retain(|short_id| !ids.contains(&short_id));
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
            row.enter_inbox(occ.time);
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
#[path = "mutations_tests.rs"]
mod tests;
