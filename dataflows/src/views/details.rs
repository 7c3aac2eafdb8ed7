//! Per-group occurrence details — the second within its hour, the facet and the user of each
//! occurrence — so that windows count exactly at their edges (docs/semantics.md §7): the
//! hourly counts answer the hours a window covers whole, these answer the (at most two) hours
//! it cuts, the first and last counted second, and distinct users under any selection of
//! facets.
//!
//! An entry is `[hour, second | count << 12, facet id low, high, user low, high]` (24 bytes):
//! one per distinct (hour, second, facet, user) of the group, so about one per occurrence.
//! A group with one entry (most groups at 1M groups) keeps it inline in a dense vector by
//! group index (24 bytes per group); groups with more keep a sorted list in a map.

use rustc_hash::FxHashMap as HashMap;

/// `[hour, second | count << 12, facet low, facet high, user low, user high]`.
pub type Entry = [u32; 6];

/// `first[i][0]` of a group without entries.
const NONE: u32 = u32::MAX;
/// `first[i][0]` of a group whose entries are in `many`.
const MANY: u32 = u32::MAX - 1;
const SECOND_BITS: u32 = 12;
const SECOND_MASK: u32 = (1 << SECOND_BITS) - 1;
/// Largest count an entry holds; more occurrences of the same (hour, second, facet, user)
/// continue in a second entry with the same key.
const MAX_COUNT: u32 = u32::MAX >> SECOND_BITS;

/// The occurrence's `(group, hour, second within the hour, facet id, user)` as the ingest
/// operator sends it (user 0: none).
pub type Detail = (crate::state::GroupKey, u32, u32, u64, u64);

pub fn entry(hour: u32, second: u32, facet: u64, user: u64) -> Entry {
    [
        hour,
        second & SECOND_MASK,
        facet as u32,
        (facet >> 32) as u32,
        user as u32,
        (user >> 32) as u32,
    ]
}

pub fn hour(e: &Entry) -> u32 {
    e[0]
}

pub fn second(e: &Entry) -> u32 {
    e[1] & SECOND_MASK
}

pub fn count(e: &Entry) -> u32 {
    e[1] >> SECOND_BITS
}

pub fn facet(e: &Entry) -> u64 {
    u64::from(e[2]) | (u64::from(e[3]) << 32)
}

/// 0: no user.
pub fn user(e: &Entry) -> u64 {
    u64::from(e[4]) | (u64::from(e[5]) << 32)
}

/// Epoch seconds of the entry's occurrences.
pub fn epoch_second(e: &Entry) -> i64 {
    i64::from(hour(e)) * 3600 + i64::from(second(e))
}

/// The entries of hours `first..=last` of a group's sorted entries.
pub fn hours_of(all: &[Entry], (first, last): (u32, u32)) -> &[Entry] {
    let from = all.partition_point(|e| e[0] < first);
    let to = from + all[from..].partition_point(|e| e[0] <= last);
    &all[from..to]
}

fn order(e: &Entry) -> (u32, u32, u32, u32, u32, u32) {
    (e[0], e[1] & SECOND_MASK, e[3], e[2], e[5], e[4])
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Details {
    /// By group index: the group's only entry, or `NONE` / `MANY` in its hour.
    first: Vec<Entry>,
    /// Groups with more than one entry: their entries, sorted by (hour, second, facet, user).
    many: HashMap<u32, Vec<Entry>>,
    /// Heap bytes of the `many` lists; None until counted (after a restore).
    #[serde(skip)]
    many_bytes: Option<usize>,
}

fn list_bytes(list: &Vec<Entry>) -> usize {
    24 + list.capacity() * 24
}

impl Details {
    /// The group's entries, sorted.
    pub fn of(&self, index: u32) -> &[Entry] {
        match self.first.get(index as usize) {
            None => &[],
            Some(e) if e[0] == NONE => &[],
            Some(e) if e[0] == MANY => self.many.get(&index).map_or(&[], Vec::as_slice),
            Some(e) => std::slice::from_ref(e),
        }
    }

    /// Approximate heap bytes (measurements).
    pub fn heap_bytes(&self) -> usize {
        let many = self.many_bytes.unwrap_or_else(|| self.many.values().map(list_bytes).sum());
        self.first.capacity() * 24 + self.many.capacity() * 8 / 7 * 36 + many
    }

    fn many_bytes(&mut self) -> &mut usize {
        let many = &self.many;
        self.many_bytes.get_or_insert_with(|| many.values().map(list_bytes).sum())
    }

    /// Adds `diff` occurrences of `e`'s key (its count is ignored) to the group at `index`.
    pub fn add(&mut self, index: u32, e: Entry, diff: isize) {
        let slot = index as usize;
        if self.first.len() <= slot {
            if diff <= 0 {
                return;
            }
            self.first.resize(slot + 1, [NONE, 0, 0, 0, 0, 0]);
        }
        let current = self.first[slot];
        if current[0] == MANY {
            // Counted (if need be) before the list changes.
            self.many_bytes();
            let Some(list) = self.many.get_mut(&index) else { return };
            let before = list_bytes(list);
            add_to(list, e, diff);
            let after = list_bytes(list);
            let short = list.len() <= 1;
            let bytes = self.many_bytes();
            *bytes = (*bytes + after).wrapping_sub(before);
            if short {
                let list = self.many.remove(&index).unwrap_or_default();
                *self.many_bytes() -= list_bytes(&list);
                self.set(index, list);
            }
            return;
        }
        // Inline without a list: a group's first entry, and more of its only key.
        let same = current[0] != NONE && order(&current) == order(&e);
        let n = if same { i64::from(count(&current)) } else { 0 } + diff as i64;
        if (current[0] == NONE || same) && (1..=i64::from(MAX_COUNT)).contains(&n) {
            self.first[slot] = e;
            self.first[slot][1] = (e[1] & SECOND_MASK) | ((n as u32) << SECOND_BITS);
            return;
        }
        let mut list = Vec::new();
        if current[0] != NONE {
            list.push(current);
        }
        add_to(&mut list, e, diff);
        self.set(index, list);
    }

    /// Stores the group's entries: inline when there is one.
    fn set(&mut self, index: u32, mut list: Vec<Entry>) {
        let slot = index as usize;
        match list.len() {
            0 => self.first[slot] = [NONE, 0, 0, 0, 0, 0],
            1 => self.first[slot] = list[0],
            _ => {
                list.shrink_to(list.len() + list.len() / 4);
                self.first[slot] = [MANY, 0, 0, 0, 0, 0];
                *self.many_bytes() += list_bytes(&list);
                self.many.insert(index, list);
            }
        }
    }

    /// Takes the group's entries (a merge moves them to the parent).
    pub fn take(&mut self, index: u32) -> Vec<Entry> {
        let list = self.of(index).to_vec();
        if let Some(first) = self.first.get_mut(index as usize) {
            *first = [NONE, 0, 0, 0, 0, 0];
        }
        self.many_bytes();
        if let Some(old) = self.many.remove(&index) {
            *self.many_bytes() -= list_bytes(&old);
        }
        list
    }

    /// Drops every entry of an hour before `cut` (retention).
    pub fn retain_from(&mut self, cut: u32) {
        for first in &mut self.first {
            if first[0] < cut {
                *first = [NONE, 0, 0, 0, 0, 0];
            }
        }
        let mut emptied = Vec::new();
        for (index, list) in &mut self.many {
            list.retain(|e| e[0] >= cut);
            match list.len() {
                0 => {
                    self.first[*index as usize] = [NONE, 0, 0, 0, 0, 0];
                    emptied.push(*index);
                }
                1 => {
                    self.first[*index as usize] = list[0];
                    emptied.push(*index);
                }
                _ => {}
            }
        }
        for index in emptied {
            self.many.remove(&index);
        }
        self.many_bytes = None;
    }
}

/// Adds `diff` occurrences of `e`'s key to a sorted list (an entry full at `MAX_COUNT`
/// continues in another with the same key).
fn add_to(list: &mut Vec<Entry>, e: Entry, diff: isize) {
    let key = order(&e);
    let from = list.partition_point(|x| order(x) < key);
    let to = from + list[from..].partition_point(|x| order(x) == key);
    let with_count = |x: &mut Entry, n: u64| x[1] = (x[1] & SECOND_MASK) | ((n as u32) << SECOND_BITS);
    let mut rest = diff.unsigned_abs() as u64;
    if diff > 0 {
        if to > from {
            let last = &mut list[to - 1];
            let n = u64::from(count(last));
            let put = rest.min(u64::from(MAX_COUNT) - n);
            with_count(last, n + put);
            rest -= put;
        }
        let mut at = to;
        while rest > 0 {
            let put = rest.min(u64::from(MAX_COUNT));
            let mut added = e;
            with_count(&mut added, put);
            list.insert(at, added);
            at += 1;
            rest -= put;
        }
    } else {
        let mut at = to;
        while rest > 0 && at > from {
            at -= 1;
            let n = u64::from(count(&list[at]));
            let taken = rest.min(n);
            rest -= taken;
            if taken == n {
                list.remove(at);
            } else {
                with_count(&mut list[at], n - taken);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_inline_several_in_order_and_counts_summed() {
        let mut details = Details::default();
        details.add(3, entry(10, 5, 7, 1), 1);
        assert_eq!(details.of(3).len(), 1);
        assert!(details.of(2).is_empty());
        details.add(3, entry(9, 3599, 7, 0), 1);
        details.add(3, entry(10, 5, 7, 1), 2);
        details.add(3, entry(10, 4, 1 << 40, 2), 1);
        let got: Vec<(u32, u32, u32, u64, u64)> = details
            .of(3)
            .iter()
            .map(|e| (hour(e), second(e), count(e), facet(e), user(e)))
            .collect();
        assert_eq!(got, vec![(9, 3599, 1, 7, 0), (10, 4, 1, 1 << 40, 2), (10, 5, 3, 7, 1)]);
        assert_eq!(hours_of(details.of(3), (10, 10)).len(), 2);
        details.retain_from(10);
        assert_eq!(details.of(3).len(), 2);
        details.add(3, entry(10, 4, 1 << 40, 2), -1);
        assert_eq!(details.of(3).len(), 1, "back inline");
        assert_eq!(details.take(3).len(), 1);
        assert!(details.of(3).is_empty());
    }

    #[test]
    fn counts_past_an_entry_continue_in_the_next() {
        let mut list = Vec::new();
        add_to(&mut list, entry(1, 1, 1, 1), MAX_COUNT as isize + 5);
        assert_eq!(list.iter().map(count).sum::<u32>(), MAX_COUNT + 5);
        add_to(&mut list, entry(1, 1, 1, 1), 3);
        assert_eq!(list.iter().map(|e| u64::from(count(e))).sum::<u64>(), u64::from(MAX_COUNT) + 8);
    }
}
