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
            texts: Texts::with_release("t", "s", "c", release.unwrap_or_default()).expect("short"),
            metadata: None,
            level: Level::Error,
            priority: None,
            user,
            release: release.map(symbol_of),
            environment: None,
            unhandled: false,
            tags: None,
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

/// Ignoring an ignored group again replaces its conditions (Sentry replaces the snooze): the
/// new count runs from the second ignore, and an ignore without conditions ends them.
#[test]
fn ignoring_an_ignored_group_replaces_its_conditions() {
    let mut p = Project::new();
    p.occur(1, 0, None);
    let count = |n| {
        ignore(StatusDetails {
            ignore_count: Some(n),
            ..StatusDetails::default()
        })
    };
    p.mutate(&[1], count(2));
    p.occur(1, 1, None);
    p.mutate(&[1], count(3));
    assert_eq!(
        p.row(1).unwrap().triage.as_ref().and_then(|t| t.status_details.ignore_count),
        Some(3)
    );
    p.occur(1, 2, None);
    p.occur(1, 3, None);
    assert_eq!(p.row(1).unwrap().status, GroupStatus::Ignored, "two of the second ignore's three");
    p.occur(1, 4, None);
    assert_eq!(p.row(1).unwrap().status, GroupStatus::Unresolved);
    // Ignored until two more, then ignored for good: no condition is left to end it.
    p.mutate(&[1], count(2));
    p.mutate(&[1], ignore(StatusDetails::default()));
    let row = p.row(1).unwrap();
    assert_eq!((row.status, row.substatus), (GroupStatus::Ignored, Some(Substatus::Forever)));
    for t in 5..10 {
        p.occur(1, t, None);
    }
    assert_eq!(p.row(1).unwrap().status, GroupStatus::Ignored);
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
    // Dated by the regressing occurrence (whole seconds), not by later ones.
    p.occur(1, 70 * MICROS_PER_SECOND + 5, None);
    p.occur(1, 90 * MICROS_PER_SECOND, None);
    assert_eq!(
        entry(&p).map(|e| (e.reason, e.date)),
        Some((InboxReason::Regression, 70 * MICROS_PER_SECOND))
    );
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
fn release_resolutions_regress_only_on_newer_releases() {
    // (details, releases seen before, releases that do not regress, the first that does)
    let cases: Vec<(StatusDetails, &[&str], &[&str], &str)> = vec![
        (
            StatusDetails {
                in_future_release: Some("app@3.0.0".into()),
                ..StatusDetails::default()
            },
            &["app@1.0.0"],
            &["app@1.0.0", "app@2.0.0", "app@3.0.0-rc.1"],
            "app@3.0.0",
        ),
        (
            StatusDetails {
                in_upcoming_release: true,
                ..StatusDetails::default()
            },
            &["app@1.0.0", "app@1.2.0"],
            &["app@1.1.0", "app@1.2.0", "app@1.2.0+build7"],
            "app@1.2.1",
        ),
        (
            StatusDetails {
                in_next_release: true,
                ..StatusDetails::default()
            },
            &["abc", "def"],
            &["abc", "def"],
            "ghi",
        ),
        (
            StatusDetails {
                in_release: Some("app@2.0.0".into()),
                ..StatusDetails::default()
            },
            &["app@1.0.0"],
            &["app@1.0.0", "app@2.0.0", "app@2.0.0-beta"],
            "app@2.0.1",
        ),
    ];
    for (details, before, quiet, regressing) in cases {
        let mut p = Project::new();
        for (i, release) in before.iter().enumerate() {
            p.occur_in_release(1, i as Micros, None, Some(release));
        }
        p.mutate(&[1], resolve(details.clone()));
        let row = p.row(1).expect("group");
        assert_eq!(row.status, GroupStatus::Resolved);
        assert_eq!(row.triage.as_ref().map(|t| &t.status_details), Some(&details));
        for release in quiet {
            p.occur_in_release(1, 10, None, Some(release));
            assert_eq!(p.row(1).expect("group").status, GroupStatus::Resolved, "{details:?} {release}");
        }
        p.occur(1, 11, None);
        assert_eq!(p.row(1).expect("group").status, GroupStatus::Resolved, "no release: {details:?}");
        p.occur_in_release(1, 12, None, Some(regressing));
        let row = p.row(1).expect("group");
        assert_eq!(
            (row.status, row.substatus),
            (GroupStatus::Unresolved, Some(Substatus::Regressed)),
            "{details:?} {regressing}"
        );
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

#[test]
fn escalations_and_status_changes_date_the_inbox_by_when_they_happened() {
    const S: Micros = MICROS_PER_SECOND;
    let mut p = Project::new();
    p.occur(1, 10 * S, None);
    p.mutate(
        &[1],
        ignore(StatusDetails {
            ignore_count: Some(1),
            ..StatusDetails::default()
        }),
    );
    let entry = |p: &Project, short_id| inbox_entry(&p.row(short_id).expect("group")).map(|e| (e.reason, e.date));
    assert_eq!(entry(&p, 1), None, "ignored");
    p.occur(1, 100 * S + 7, None);
    p.occur(1, 200 * S, None);
    assert_eq!(entry(&p, 1), Some((InboxReason::Escalating, 100 * S)), "the escalating occurrence");
    // A status-change message dates by the project's newest event time when it applies.
    p.occur(2, 300 * S, None);
    p.apply(RecordBody::StatusChange(crate::model::StatusChangeRecord {
        hash: 2,
        new_status: GroupStatus::Unresolved as i64,
        new_substatus: Some(Substatus::Regressed as i64),
    }));
    assert_eq!(entry(&p, 2), Some((InboxReason::Regression, 300 * S)));
    assert_eq!(entry(&p, 1).map(|e| e.1), Some(100 * S), "other groups keep theirs");
}

#[test]
fn unhandled_events_mark_their_group_and_its_merge_parent() {
    let mut p = Project::new();
    let occur = |p: &mut Project, hash: GroupHash, unhandled: bool| {
        p.apply(RecordBody::Occurrence(OccurrenceRecord {
            unhandled,
            ..error_occurrence(hash)
        }))
    };
    occur(&mut p, 1, false);
    occur(&mut p, 1, true);
    occur(&mut p, 1, false);
    occur(&mut p, 2, false);
    occur(&mut p, 2, false);
    occur(&mut p, 2, false);
    occur(&mut p, 3, true);
    let unhandled = |p: &Project, short_id| p.row(short_id).map(|r| r.unhandled);
    assert_eq!(
        (unhandled(&p, 1), unhandled(&p, 2), unhandled(&p, 3)),
        (Some(true), Some(false), Some(true))
    );
    p.mutate(&[2, 3], update(|u| u.merge = true));
    assert_eq!((unhandled(&p, 2), unhandled(&p, 3)), (Some(true), None), "2 is the parent");
}

fn error_occurrence(hash: GroupHash) -> OccurrenceRecord {
    crate::state::project::tests::occurrence(1, &[hash], 0)
}

#[test]
fn in_release_latest_stands_for_the_projects_newest_release() {
    let mut p = Project::new();
    p.occur_in_release(1, 0, None, Some("app@1.10.0"));
    p.occur_in_release(2, 1, None, Some("app@1.9.0"));
    p.mutate(
        &[2],
        resolve(StatusDetails {
            in_release: Some("latest".into()),
            ..StatusDetails::default()
        }),
    );
    let shown = |p: &Project| {
        p.row(2)
            .and_then(|r| r.triage.as_ref().and_then(|t| t.status_details.in_release.clone()))
    };
    assert_eq!(shown(&p).as_deref(), Some("app@1.10.0"), "the newest by version, not the last seen");
    p.occur_in_release(2, 2, None, Some("app@1.10.0"));
    assert_eq!(p.row(2).expect("group").status, GroupStatus::Resolved);
    p.occur_in_release(2, 3, None, Some("app@1.11.0"));
    assert_eq!(p.row(2).expect("group").status, GroupStatus::Unresolved);
}
