//! Reading a group's details: the entries of a range of hours in time order, merged from
//! the group's sorted runs (most groups have one, and then this is a slice walk).

use super::{key, Entry, Packed, SECOND_MASK};

/// A group's occurrence details (borrowed from the views), read in time order.
#[derive(Clone, Copy, Default)]
pub struct GroupDetails<'v> {
    facets: &'v [u64],
    users: &'v [u64],
    main: &'v [Packed],
    side: &'v [Vec<Packed>],
}

/// The slice of a sorted run holding hours `first..=last`. The hours asked for are mostly a
/// window's first or last counted hour, near an end of a busy group's run: the search
/// gallops from the nearer end (by hour) so that it reads a few cache lines there instead of
/// a binary search's misses across the whole run.
pub(super) fn within(run: &[Packed], (first, last): (u32, u32)) -> &[Packed] {
    let (Some(head), Some(tail)) = (run.first(), run.last()) else {
        return run;
    };
    let from = if first.saturating_sub(head[0]) <= tail[0].saturating_sub(first) {
        gallop_from_start(run, |e| e[0] < first)
    } else {
        gallop_from_end(run, |e| e[0] < first)
    };
    let rest = &run[from..];
    let to = from + gallop_from_start(rest, |e| e[0] <= last);
    &run[from..to]
}

/// `run.partition_point(below)`, probing 1, 2, 4, … entries from the start first.
fn gallop_from_start(run: &[Packed], below: impl Fn(&Packed) -> bool) -> usize {
    let mut bound = 1;
    while bound < run.len() && below(&run[bound]) {
        bound *= 2;
    }
    let from = bound / 2;
    let to = bound.min(run.len());
    from + run[from..to].partition_point(below)
}

/// `run.partition_point(below)`, probing 1, 2, 4, … entries from the end first.
pub(super) fn gallop_from_end(run: &[Packed], below: impl Fn(&Packed) -> bool) -> usize {
    let len = run.len();
    let mut step = 1;
    while step <= len && !below(&run[len - step]) {
        step *= 2;
    }
    let from = len.saturating_sub(step);
    let to = len - step / 2;
    from + run[from..to].partition_point(below)
}

impl<'v> GroupDetails<'v> {
    /// A group without details.
    pub fn empty() -> GroupDetails<'v> {
        GroupDetails::default()
    }

    pub(super) fn new(facets: &'v [u64], users: &'v [u64], main: &'v [Packed], side: &'v [Vec<Packed>]) -> GroupDetails<'v> {
        GroupDetails { facets, users, main, side }
    }

    /// Whether the group has no entries at all.
    pub fn is_empty(&self) -> bool {
        self.main.is_empty() && self.side.iter().all(Vec::is_empty)
    }

    /// Number of stored entries.
    pub fn len(&self) -> usize {
        self.main.len() + self.side.iter().map(Vec::len).sum::<usize>()
    }

    /// The entries of hours `first..=last`, in time order.
    pub fn hours(&self, range: (u32, u32)) -> Iter<'v> {
        let main = within(self.main, range);
        let mut more = Vec::new();
        for run in self.side {
            let part = within(run, range);
            if !part.is_empty() {
                more.push(part);
            }
        }
        if !more.is_empty() && !main.is_empty() {
            more.push(main);
        }
        let one = if more.is_empty() {
            main
        } else if more.len() == 1 {
            more.pop().unwrap_or_default()
        } else {
            &[]
        };
        Iter {
            facets: self.facets,
            users: self.users,
            one,
            more,
        }
    }

    /// The entries of one hour, in time order.
    pub fn hour(&self, hour: u32) -> Iter<'v> {
        self.hours((hour, hour))
    }

    /// Every entry, in time order.
    pub fn iter(&self) -> Iter<'v> {
        self.hours((0, u32::MAX))
    }

    /// The stored entries of hours `first..=last` run by run, not in time order (for reads
    /// that need no order, such as distinct users: no merge of the runs, no decoding of facet
    /// ids): `f(epoch second, facet index, user)` for each, the facet index being what
    /// [`GroupDetails::facet_id`] maps to its id. Keys split across runs come once per run.
    /// The read stops when `f` returns false.
    pub fn for_each_unordered(&self, range: (u32, u32), mut f: impl FnMut(i64, u32, u64) -> bool) {
        for run in std::iter::once(self.main).chain(self.side.iter().map(Vec::as_slice)) {
            for p in within(run, range) {
                let second = i64::from(p[0]) * 3600 + i64::from(p[1] & SECOND_MASK);
                if !f(second, p[2], self.users.get(p[3] as usize).copied().unwrap_or(0)) {
                    return;
                }
            }
        }
    }

    /// The facet id of a facet index of [`GroupDetails::for_each_unordered`] (0 if unknown).
    pub fn facet_id(&self, index: u32) -> u64 {
        self.facets.get(index as usize).copied().unwrap_or(0)
    }
}

/// The entries of hours `first..=last` of a group, in time order.
pub fn hours_of(all: GroupDetails<'_>, range: (u32, u32)) -> Iter<'_> {
    all.hours(range)
}

/// Entries in time order (also from the back), decoded.
pub struct Iter<'v> {
    facets: &'v [u64],
    users: &'v [u64],
    /// The only run with entries in the range…
    one: &'v [Packed],
    /// …or, when several have, their slices (merged while reading).
    more: Vec<&'v [Packed]>,
}

impl Iter<'_> {
    /// Whether no entry is left.
    pub fn is_empty(&self) -> bool {
        self.one.is_empty() && self.more.iter().all(|run| run.is_empty())
    }

    fn decode(&self, p: &Packed) -> Entry {
        let id = self.facets.get(p[2] as usize).copied().unwrap_or(0);
        let user = self.users.get(p[3] as usize).copied().unwrap_or(0);
        [p[0], p[1], id as u32, (id >> 32) as u32, user as u32, (user >> 32) as u32]
    }
}

impl Iterator for Iter<'_> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        if let Some((p, rest)) = self.one.split_first() {
            self.one = rest;
            return Some(self.decode(p));
        }
        let mut best: Option<usize> = None;
        for (i, run) in self.more.iter().enumerate() {
            if let Some(p) = run.first() {
                if best.is_none_or(|b| key(p) < key(&self.more[b][0])) {
                    best = Some(i);
                }
            }
        }
        let run = &mut self.more[best?];
        let (p, rest) = run.split_first()?;
        *run = rest;
        Some(self.decode(p))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.one.len() + self.more.iter().map(|run| run.len()).sum::<usize>();
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Entry> {
        if let Some((p, rest)) = self.one.split_last() {
            self.one = rest;
            return Some(self.decode(p));
        }
        let mut best: Option<usize> = None;
        for (i, run) in self.more.iter().enumerate() {
            if let Some(p) = run.last() {
                if best.is_none_or(|b| key(p) > key(&self.more[b][self.more[b].len() - 1])) {
                    best = Some(i);
                }
            }
        }
        let run = &mut self.more[best?];
        let (p, rest) = run.split_last()?;
        *run = rest;
        Some(self.decode(p))
    }
}
