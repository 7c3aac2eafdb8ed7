//! An epoch's occurrences per (group, facet, hour), kept per group: what the ingest operator
//! sends as `Activity::Occurrences`.
//!
//! Each group touched in the epoch holds the head of its list of entries (in its
//! `GroupState`), so an occurrence is counted by walking its group's few entries instead of
//! hashing a 48-byte key into an epoch-wide map, and the entries leave grouped by group, in
//! the order the groups were first touched (the views then resolve each group once). A group
//! with more than [`SHORT`] entries in one epoch (a busy group spanning many releases or
//! hours) is looked up through a hash map instead, so every occurrence stays O(1).
//!
//! Entries are told apart by the facet's id ([`Facet::id`], which the ingest state computes
//! once per occurrence for its detail anyway): one 64-bit comparison instead of the facet's
//! four fields, and a map key of four words instead of ten. Two facets with the same id are
//! one facet everywhere downstream already (the views intern facets by id), so this merges
//! nothing the views would have kept apart.

use rustc_hash::FxHashMap as HashMap;

use super::row::GroupKey;
use crate::facets::Facet;

/// No entry (an empty list, the end of a list).
pub(super) const NONE: u32 = u32::MAX;

/// Entries walked before a group's lookups go through `long`.
const SHORT: u32 = 8;

#[derive(Clone, Copy, Debug)]
struct Entry {
    key: GroupKey,
    facet: Facet,
    /// `facet.id()`.
    id: u64,
    hour: u32,
    /// The group's next entry.
    next: u32,
    /// At a group's first entry only: its number of entries and its last entry.
    len: u32,
    tail: u32,
    count: isize,
}

#[derive(Debug, Default)]
pub struct EpochFacets {
    entries: Vec<Entry>,
    /// Each touched group's first entry, in the order the groups were first touched.
    heads: Vec<u32>,
    /// Entries of the groups with more than `SHORT`, by (group, facet id, hour).
    long: HashMap<(GroupKey, u64, u32), u32>,
}

impl EpochFacets {
    /// Counts an occurrence of `key` with `facet` (whose id is `id`) in `hour`. `head` is
    /// the group's first entry in this epoch (`NONE` for a group not counted yet in it); set
    /// here. An entry found is counted here (inlined into the caller); a new one is added by
    /// [`Self::add_new`].
    #[inline]
    pub(super) fn add(&mut self, head: &mut u32, key: GroupKey, facet: &Facet, id: u64, hour: u32) {
        if *head != NONE {
            if self.entries[*head as usize].len > SHORT {
                if let Some(&at) = self.long.get(&(key, id, hour)) {
                    self.entries[at as usize].count += 1;
                    return;
                }
            } else {
                let mut at = *head;
                while at != NONE {
                    let entry = &mut self.entries[at as usize];
                    if entry.hour == hour && entry.id == id {
                        entry.count += 1;
                        return;
                    }
                    at = entry.next;
                }
            }
        }
        self.add_new(head, key, facet, id, hour);
    }

    /// Adds the entry of an occurrence that [`Self::add`] did not find: the group's first
    /// in this epoch, or one more at the end of its list.
    #[inline(never)]
    fn add_new(&mut self, head: &mut u32, key: GroupKey, facet: &Facet, id: u64, hour: u32) {
        if *head == NONE {
            *head = self.push(key, facet, id, hour);
            self.heads.push(*head);
            return;
        }
        let first = *head as usize;
        let added = self.push(key, facet, id, hour);
        let tail = self.entries[first].tail;
        self.entries[tail as usize].next = added;
        let head_entry = &mut self.entries[first];
        head_entry.tail = added;
        head_entry.len += 1;
        if head_entry.len == SHORT + 1 {
            let mut at = *head;
            while at != NONE {
                let entry = &self.entries[at as usize];
                self.long.insert((entry.key, entry.id, entry.hour), at);
                at = entry.next;
            }
        } else if head_entry.len > SHORT + 1 {
            self.long.insert((key, id, hour), added);
        }
    }

    fn push(&mut self, key: GroupKey, facet: &Facet, id: u64, hour: u32) -> u32 {
        let at = self.entries.len() as u32;
        self.entries.push(Entry {
            key,
            facet: *facet,
            id,
            hour,
            next: NONE,
            len: 1,
            tail: at,
            count: 1,
        });
        at
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every (group, facet, hour) with its occurrences, each group's together; then empties
    /// the epoch (keeping the memory). The groups' heads must be reset before the next
    /// epoch (`GroupState` does so when a group is first touched in an epoch).
    pub fn drain(&mut self, mut out: impl FnMut(GroupKey, Facet, u64, u32, isize)) {
        for &head in &self.heads {
            let mut at = head;
            while at != NONE {
                let entry = &self.entries[at as usize];
                out(entry.key, entry.facet, entry.id, entry.hour, entry.count);
                at = entry.next;
            }
        }
        self.entries.clear();
        self.heads.clear();
        self.long.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;

    #[test]
    fn counts_match_a_map_and_each_group_leaves_together() {
        let facet = |n: u64| Facet {
            environment: Some(n % 3),
            release: (!n.is_multiple_of(5)).then_some(n % 7),
            level: Level::Error,
            tags: None,
        };
        let mut epoch = EpochFacets::default();
        let mut expected: std::collections::BTreeMap<(GroupKey, Facet, u32), isize> = Default::default();
        for round in 0..2 {
            // Group 1 gets 40 distinct (facet, hour) entries (past SHORT), groups 2 and 3 a few.
            let mut heads = [NONE; 4];
            for i in 0..400u64 {
                let group = [1, 2, 1, 3, 1][(i % 5) as usize];
                let key = GroupKey {
                    project: 9,
                    short_id: group,
                };
                let (f, hour) = if group == 1 {
                    (facet(i % 8), (i % 5) as u32)
                } else {
                    (facet(i % 2), 7)
                };
                epoch.add(&mut heads[group as usize], key, &f, f.id(), hour);
                *expected.entry((key, f, hour)).or_default() += 1;
            }
            let mut got: Vec<(GroupKey, Facet, u32, isize)> = Vec::new();
            epoch.drain(|k, f, id, h, n| {
                assert_eq!(id, f.id());
                got.push((k, f, h, n))
            });
            assert!(epoch.is_empty(), "round {round}");
            // Groups in first-touched order, each together.
            let order: Vec<u32> = got.iter().map(|e| e.0.short_id).collect();
            let mut runs = order.clone();
            runs.dedup();
            assert_eq!(runs, vec![1, 2, 3], "round {round}");
            let mut got_map: std::collections::BTreeMap<(GroupKey, Facet, u32), isize> = Default::default();
            for (k, f, h, n) in got {
                assert!(got_map.insert((k, f, h), n).is_none(), "one entry per (group, facet, hour)");
            }
            assert_eq!(got_map, expected, "round {round}");
            expected.clear();
        }
    }
}
