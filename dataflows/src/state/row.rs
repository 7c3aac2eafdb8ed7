//! The maintained per-group row and its identity, shared by the ingest state and the views.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::time::MICROS_PER_SECOND;
use crate::model::{GroupHash, GroupStatus, Level, Micros, Priority, ProjectId, Seq, Substatus, Symbol, Texts, Triage};

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
    /// Title, subtitle and culprit. Shared with the views: cloning a row does not copy them.
    pub texts: RowTexts,
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
    /// When the group last entered the inbox by a change of its substatus (to new,
    /// regressed or escalating), in whole seconds of event time (or a mutation's logged
    /// time); 0: never since its creation (a new group's inbox date is its `first_seen`).
    /// Seconds so that it fits, with `unhandled`, in the row's padding: the row does not
    /// grow (see `row_size_tests`).
    pub inbox_since: u32,
    /// Whether one of the group's events was unhandled (an exception mechanism with
    /// `handled: false`); always false for issue-platform occurrences.
    pub unhandled: bool,
    /// Only for event-grouped types (`GroupType::is_event_grouped`); behind one pointer so
    /// that the other rows pay 8 bytes for it.
    pub event_group: Option<Arc<EventGroup>>,
    /// What API mutations set (assignee, bookmarks, status details, …); None until one does.
    pub triage: Option<Arc<Triage>>,
}

#[cfg(any(test, feature = "test-support"))]
impl GroupRow {
    /// An unresolved, new, high-priority cron group with nothing seen yet, for tests to
    /// override the fields they are about.
    pub fn sample() -> GroupRow {
        GroupRow {
            type_id: 4001,
            status: GroupStatus::Unresolved,
            substatus: Some(Substatus::New),
            priority: Priority::High,
            priority_locked: false,
            texts: RowTexts::new("t", "s", "c"),
            level: Level::Error,
            metadata_priority: Priority::High,
            first_seen: 0,
            last_seen: 0,
            times_seen: 0,
            user_count: 0,
            first_release: None,
            last_release: None,
            created_seq: 0,
            inbox_since: 0,
            unhandled: false,
            event_group: None,
            triage: None,
        }
    }
}

impl GroupRow {
    /// Records that the group entered the inbox at `time` (a new substatus).
    pub(super) fn enter_inbox(&mut self, time: Micros) {
        let seconds = time.div_euclid(MICROS_PER_SECOND);
        self.inbox_since = u32::try_from(seconds.max(1)).unwrap_or(u32::MAX);
    }

    /// Records a change of (status, substatus) from `before`: a group that becomes new,
    /// regressed or escalating enters the inbox at `time`.
    pub(super) fn note_substatus(&mut self, before: (GroupStatus, Option<Substatus>), time: Micros) {
        let entered = matches!(self.substatus, Some(Substatus::New | Substatus::Regressed | Substatus::Escalating));
        if entered && before != (self.status, self.substatus) {
            self.enter_inbox(time);
        }
    }

    /// [`GroupRow::inbox_since`] in microseconds, if set.
    pub fn inbox_since(&self) -> Option<Micros> {
        (self.inbox_since != 0).then(|| Micros::from(self.inbox_since) * MICROS_PER_SECOND)
    }
}

/// A row's title, subtitle and culprit in one shared allocation (24 bytes in the row instead
/// of three `Arc<str>`s' 48, and one allocation instead of three: at 1M groups, 64 bytes per
/// group less; docs/benchmark-history.md, memory per group). Compares, orders, hashes and serializes as
/// the three strings in that order, as the three fields did.
#[derive(Clone)]
pub struct RowTexts {
    all: Arc<str>,
    title_end: u32,
    subtitle_end: u32,
}

impl RowTexts {
    /// Bytes of the shared texts' allocation (two counts and the text).
    pub(super) fn heap_bytes(&self) -> usize {
        16 + self.all.len()
    }

    /// The texts of a row. The record's texts are one input line's ([`crate::model::Texts`]
    /// bounds them to 4 GiB); longer ones cannot be represented and are cut at a character
    /// boundary below 4 GiB.
    pub fn new(title: &str, subtitle: &str, culprit: &str) -> RowTexts {
        let title = prefix_within_u32(title);
        let subtitle = prefix_within_u32(subtitle);
        let title_end = title.len() as u32;
        // Both near 4 GiB: the title whole and what fits of the subtitle.
        let subtitle_end = u32::try_from(title.len() + subtitle.len()).unwrap_or(u32::MAX);
        let subtitle = &subtitle[..floor_char_boundary(subtitle, (subtitle_end - title_end) as usize)];
        let mut all = String::with_capacity(title.len() + subtitle.len() + culprit.len());
        all.push_str(title);
        all.push_str(subtitle);
        all.push_str(culprit);
        RowTexts {
            all: all.into(),
            title_end,
            subtitle_end: title_end + subtitle.len() as u32,
        }
    }

    pub fn title(&self) -> &str {
        &self.all[..self.title_end as usize]
    }

    pub fn subtitle(&self) -> &str {
        &self.all[self.title_end as usize..self.subtitle_end as usize]
    }

    pub fn culprit(&self) -> &str {
        &self.all[self.subtitle_end as usize..]
    }

    /// Whether both are the same allocation (so the same texts), without reading them.
    pub fn same_as(&self, other: &RowTexts) -> bool {
        Arc::ptr_eq(&self.all, &other.all) && (self.title_end, self.subtitle_end) == (other.title_end, other.subtitle_end)
    }

    fn parts(&self) -> (&str, &str, &str) {
        (self.title(), self.subtitle(), self.culprit())
    }

    /// An occurrence's texts as a row's: what [`RowTexts::new`] makes of its title, subtitle
    /// and culprit (a record's texts come from one line, bounded to 4 GiB: nothing is cut),
    /// copied in one piece.
    pub fn of(texts: &Texts) -> RowTexts {
        let (all, title_end, subtitle_end) = texts.shown();
        RowTexts {
            all: all.into(),
            title_end,
            subtitle_end,
        }
    }

    /// Takes the occurrence's texts if they differ from these; no allocation when they do
    /// not. One comparison of the three texts together and their two ends (three comparisons
    /// of the texts one by one, what this was, cost ~175 instructions an occurrence).
    pub(super) fn update(&mut self, texts: &Texts) {
        let (all, title_end, subtitle_end) = texts.shown();
        if (self.title_end, self.subtitle_end) != (title_end, subtitle_end) || *self.all != *all {
            *self = RowTexts::of(texts);
        }
    }
}

fn prefix_within_u32(text: &str) -> &str {
    &text[..floor_char_boundary(text, u32::MAX as usize)]
}

fn floor_char_boundary(text: &str, max: usize) -> usize {
    if text.len() <= max {
        return text.len();
    }
    (0..=max).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0)
}

impl std::fmt::Debug for RowTexts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowTexts")
            .field("title", &self.title())
            .field("subtitle", &self.subtitle())
            .field("culprit", &self.culprit())
            .finish()
    }
}

impl PartialEq for RowTexts {
    fn eq(&self, other: &RowTexts) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for RowTexts {}

impl std::hash::Hash for RowTexts {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.parts().hash(state)
    }
}

impl PartialOrd for RowTexts {
    fn partial_cmp(&self, other: &RowTexts) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RowTexts {
    fn cmp(&self, other: &RowTexts) -> std::cmp::Ordering {
        self.parts().cmp(&other.parts())
    }
}

/// As the three strings one after another (what the row's three fields were: checkpoints
/// keep their format).
impl Serialize for RowTexts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut tuple = serializer.serialize_tuple(3)?;
        tuple.serialize_element(self.title())?;
        tuple.serialize_element(self.subtitle())?;
        tuple.serialize_element(self.culprit())?;
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for RowTexts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<RowTexts, D::Error> {
        let (title, subtitle, culprit) = <(String, String, String)>::deserialize(deserializer)?;
        Ok(RowTexts::new(&title, &subtitle, &culprit))
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
pub(super) fn clear_inbox_change(row: &mut GroupRow) {
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
mod row_size_tests {
    /// At 1M groups every byte of the row counts (README, resident memory per group): the
    /// inbox date and the unhandled flag live in what was padding.
    #[test]
    /// 128 bytes: with its `Arc` counts 144, which mimalloc serves from its 160-byte size
    /// class (152 bytes took 192).
    fn a_row_is_at_most_128_bytes() {
        assert!(
            std::mem::size_of::<super::GroupRow>() <= 128,
            "{}",
            std::mem::size_of::<super::GroupRow>()
        );
    }

    #[test]
    fn texts_read_back_compare_and_serialize_as_three_strings() {
        use super::RowTexts;
        let texts = RowTexts::new("Monitor failure: job-1", "A missed check-in", "job-1");
        assert_eq!(
            (texts.title(), texts.subtitle(), texts.culprit()),
            ("Monitor failure: job-1", "A missed check-in", "job-1")
        );
        let empty = RowTexts::new("", "", "");
        assert_eq!((empty.title(), empty.subtitle(), empty.culprit()), ("", "", ""));
        // Ordered by title first, not by the concatenation ("ab" + "" < "a" + "c" as text).
        assert!(RowTexts::new("a", "c", "") < RowTexts::new("ab", "", ""));
        assert_ne!(RowTexts::new("a", "b", ""), RowTexts::new("ab", "", ""));
        let encoded = postcard::to_stdvec(&texts).expect("encodes");
        let fields = postcard::to_stdvec(&("Monitor failure: job-1", "A missed check-in", "job-1")).expect("encodes");
        assert_eq!(encoded, fields);
        let decoded: RowTexts = postcard::from_bytes(&encoded).expect("decodes");
        assert_eq!(decoded, texts);
    }

    /// A record's texts make the row's that `new` makes of them, and `update` takes them
    /// exactly when one of the three differs (not when only the split between them moves).
    #[test]
    fn texts_of_a_record_read_as_new_makes_them() {
        use super::RowTexts;
        use crate::model::Texts;
        let cases = [
            ("Monitor failure: job-1", "A missed check-in", "job-1", "app@1"),
            ("Monitor failure: job-1", "A missed check-in", "job-2", ""),
            ("Monitor failure: job-", "1A missed check-in", "job-1", ""),
            ("Monitor failure: job-1A", " missed check-in", "job-1", "app@2"),
            ("", "", "", ""),
            ("é", "", "☃", "x"),
        ];
        for (title, subtitle, culprit, release) in cases {
            let record = Texts::with_release(title, subtitle, culprit, release).expect("small");
            let row = RowTexts::of(&record);
            assert_eq!(row, RowTexts::new(title, subtitle, culprit));
            assert_eq!((row.title(), row.subtitle(), row.culprit()), (title, subtitle, culprit));
            for (t2, s2, c2, _) in cases {
                let mut updated = RowTexts::new(t2, s2, c2);
                let before = updated.clone();
                updated.update(&record);
                assert_eq!(updated, row);
                assert_eq!(
                    updated.same_as(&before),
                    (t2, s2, c2) == (title, subtitle, culprit),
                    "{t2:?} {s2:?} {c2:?}"
                );
            }
        }
    }
}
