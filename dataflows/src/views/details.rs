//! Per-group occurrence details — the second within its hour, the facet and the user of each
//! occurrence — so that windows count exactly at their edges (docs/semantics.md §7): the
//! hourly counts answer the hours a window covers whole, these answer the (at most two) hours
//! it cuts, the first and last counted second, and distinct users under any selection of
//! facets.
//!
//! A stored entry is `[hour, second | count << 12, facet index, user index]` (16 bytes): one
//! per distinct (hour, second, facet, user) of the group, so about one per occurrence. Facet
//! ids and users (64-bit hashes) are kept once in tables and entries carry their index (the
//! 1M-line input with 1M users has ~26K distinct users for ~775K entries). The users' table
//! is compacted at each retention cut, keeping the indexes' order, so it holds only users
//! that some entry names and the runs stay sorted. A group with one entry (most groups at 1M groups) keeps it inline in a dense vector
//! by group index; groups with more keep sorted runs, in a slab whose slot the group's inline
//! entry names (no hash lookup per occurrence):
//!
//! - the main run, which takes every occurrence at or after its last entry by appending (the
//!   common, in-order case: O(1));
//! - occurrences a little late (among its last 64 entries) are inserted in place, moving at
//!   most those 64;
//! - side runs for occurrences that arrive later, one new run of one entry each, merged like a
//!   binary counter (a side run is more than twice the next), and the largest merged into the
//!   main run once it reaches half its size. Every entry takes part in O(log n) merges, so a
//!   late occurrence costs O(log n) amortised however late it is and however many entries its
//!   group gained since — instead of moving every later entry of the group, as one sorted
//!   list did. A late occurrence of a key already stored only raises its count (a binary
//!   search per run, O(log² n)).
//!
//! Readers see a group's entries in time order through [`GroupDetails`] (`read.rs`), which
//! merges the runs' slices of the hours asked for.

mod batch;
mod ids;
mod read;
mod stored;
mod users;
use stored::StoredDetails;
#[cfg(test)]
mod tests;

pub use read::{hours_of, GroupDetails, Iter};

/// A decoded entry, as readers see it:
/// `[hour, second | count << 12, facet low, facet high, user low, user high]`.
pub type Entry = [u32; 6];

/// A stored entry: `[hour, second | count << 12, facet index, user index]` (user index 0:
/// no user).
type Packed = [u32; 4];

/// `first[i][0]` of a group without entries.
const NONE: u32 = u32::MAX;
/// `first[i][0]` of a group whose entries are in `many` (`first[i][1]` is their slot).
const MANY: u32 = u32::MAX - 1;
const EMPTY: Packed = [NONE, 0, 0, 0];
const SECOND_BITS: u32 = 12;
const SECOND_MASK: u32 = (1 << SECOND_BITS) - 1;
/// Largest count an entry holds; more occurrences of the same (hour, second, facet, user)
/// continue in a second entry with the same key.
const MAX_COUNT: u32 = u32::MAX >> SECOND_BITS;
/// A late occurrence among the main run's last `TAIL` entries goes there in place (a bounded
/// move); an earlier one starts a side run.
const TAIL: usize = 64;
const PACKED_BYTES: usize = std::mem::size_of::<Packed>();

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

/// The order of stored entries: time first (the facet and user indexes only separate keys).
fn key(p: &Packed) -> (u32, u32, u32, u32) {
    (p[0], p[1] & SECOND_MASK, p[2], p[3])
}

fn packed_count(p: &Packed) -> u32 {
    p[1] >> SECOND_BITS
}

fn with_count(p: &mut Packed, n: u32) {
    p[1] = (p[1] & SECOND_MASK) | (n << SECOND_BITS);
}

/// Adds up to `n` to `p`'s count (up to `MAX_COUNT`); returns what did not fit.
fn bump(p: &mut Packed, n: u64) -> u64 {
    let have = packed_count(p);
    let put = n.min(u64::from(MAX_COUNT - have));
    with_count(p, have + put as u32);
    n - put
}

/// Room for one more entry. Grows by a quarter, not double: a run lives for the whole
/// retention, and the copies stay amortised O(1) per entry. Also used by the other sorted
/// series that live as long (`FacetHours`' split series and spans, `environment_hours`):
/// doubling left a third of their capacity unused on average. Runs of 4,096 entries and
/// more (a busy group's details) double: each quarter-step regrowth copied the run to fresh
/// pages the kernel zeroes first (on 10M/1M with 2 workers doubling them used 1.5 % less
/// CPU, 4 of 4 interleaved runs faster, peak RSS unchanged within noise).
pub(crate) fn reserve<T>(run: &mut Vec<T>) {
    if run.len() == run.capacity() {
        let grow = if run.len() >= (1 << 12) { run.len() } else { run.len() / 4 + 4 };
        run.reserve_exact(grow);
    }
}

/// Appends `n` occurrences of `p`'s key to a run whose entries all sort before it (or with
/// it: its last entry takes what fits).
fn append(run: &mut Vec<Packed>, p: Packed, mut n: u64) {
    if let Some(last) = run.last_mut() {
        if key(last) == key(&p) {
            n = bump(last, n);
        }
    }
    while n > 0 {
        let put = n.min(u64::from(MAX_COUNT));
        let mut added = p;
        with_count(&mut added, put as u32);
        reserve(run);
        run.push(added);
        n -= put;
    }
}

/// Merges two sorted runs into one (keys present in both are summed).
fn merge(a: Vec<Packed>, b: Vec<Packed>) -> Vec<Packed> {
    if b.is_empty() {
        return a;
    }
    if a.is_empty() {
        return b;
    }
    // Disjoint runs (late occurrences arriving in reverse order, or a burst of one late
    // hour) concatenate.
    if key(&a[a.len() - 1]) < key(&b[0]) {
        let mut a = a;
        a.extend_from_slice(&b);
        return a;
    }
    if key(&b[b.len() - 1]) < key(&a[0]) {
        let mut b = b;
        b.extend_from_slice(&a);
        return b;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let next = if j == b.len() || (i < a.len() && key(&a[i]) <= key(&b[j])) {
            i += 1;
            a[i - 1]
        } else {
            j += 1;
            b[j - 1]
        };
        append(&mut out, next, u64::from(packed_count(&next)));
    }
    out
}

/// A group's entries when it has more than one: see the module documentation.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Runs {
    main: Vec<Packed>,
    /// Sorted runs of late entries, each more than twice the size of the next.
    side: Vec<Vec<Packed>>,
}

impl Runs {
    fn len(&self) -> usize {
        self.main.len() + self.side.iter().map(Vec::len).sum::<usize>()
    }

    fn heap_bytes(&self) -> usize {
        48 + (self.main.capacity() + self.side.iter().map(Vec::capacity).sum::<usize>()) * PACKED_BYTES + self.side.capacity() * 24
    }

    fn insert(&mut self, p: Packed, n: u64) {
        let k = key(&p);
        if self.main.last().is_none_or(|last| key(last) <= k) {
            append(&mut self.main, p, n);
            return;
        }
        // Late: a stored entry of the key takes what fits (the last of a key is the one not
        // full), else a new side run. Most late occurrences are a little late: the main run's
        // place is found from its end (a binary search missed the cache at every probe).
        let at_main = read::gallop_from_end(&self.main, |x| key(x) <= k);
        let mut rest = n;
        if at_main > 0 && key(&self.main[at_main - 1]) == k {
            rest = bump(&mut self.main[at_main - 1], rest);
            if rest == 0 {
                return;
            }
        }
        for run in self.side.iter_mut() {
            // Most runs do not span the key (reverse order: none does).
            if run.first().is_none_or(|x| key(x) > k) || run.last().is_some_and(|x| key(x) < k) {
                continue;
            }
            let to = run.partition_point(|x| key(x) <= k);
            if to > 0 && key(&run[to - 1]) == k {
                rest = bump(&mut run[to - 1], rest);
                if rest == 0 {
                    return;
                }
            }
        }
        // A little late (a stream's jitter: most late occurrences): in place among the main
        // run's last `TAIL` entries, moving at most those.
        if at_main >= self.main.len().saturating_sub(TAIL) {
            // After any full entry of the key: the last of a key is the one not full.
            let mut at = at_main;
            while rest > 0 {
                let put = rest.min(u64::from(MAX_COUNT));
                let mut added = p;
                with_count(&mut added, put as u32);
                reserve(&mut self.main);
                self.main.insert(at, added);
                at += 1;
                rest -= put;
            }
            return;
        }
        let mut run = Vec::new();
        append(&mut run, p, rest);
        self.side.push(run);
        self.settle();
    }

    /// Restores the run sizes' invariant after a side run was added.
    fn settle(&mut self) {
        while let [.., a, b] = self.side.as_slice() {
            if b.len() * 2 < a.len() {
                break;
            }
            let b = self.side.pop().unwrap_or_default();
            let a = self.side.pop().unwrap_or_default();
            self.side.push(merge(a, b));
        }
        while self.side.first().is_some_and(|run| run.len() * 2 >= self.main.len()) {
            let run = self.side.remove(0);
            self.main = merge(std::mem::take(&mut self.main), run);
        }
    }

    /// Removes up to `n` occurrences of `p`'s key. Only hand-made updates retract (the
    /// dataflow only adds; a merge moves whole runs), so this may move a run's tail.
    fn remove(&mut self, p: Packed, mut n: u64) {
        let k = key(&p);
        for run in std::iter::once(&mut self.main).chain(self.side.iter_mut()) {
            let mut at = run.partition_point(|x| key(x) <= k);
            while n > 0 && at > 0 && key(&run[at - 1]) == k {
                at -= 1;
                let have = u64::from(packed_count(&run[at]));
                let taken = n.min(have);
                n -= taken;
                if taken == have {
                    run.remove(at);
                } else {
                    with_count(&mut run[at], (have - taken) as u32);
                }
            }
        }
        self.side.retain(|run| !run.is_empty());
    }

    /// Merges every side run into the main run (retention and group merges: rare, and
    /// linear in the group's entries anyway).
    fn compact(&mut self) {
        let mut all = std::mem::take(&mut self.side);
        all.push(std::mem::take(&mut self.main));
        // Smallest two first, so an entry takes part in O(log runs) merges.
        all.sort_by_key(|run| std::cmp::Reverse(run.len()));
        while all.len() > 1 {
            let b = all.pop().unwrap_or_default();
            let a = all.pop().unwrap_or_default();
            all.push(merge(a, b));
            all.sort_by_key(|run| std::cmp::Reverse(run.len()));
        }
        self.main = all.pop().unwrap_or_default();
        self.main.shrink_to(self.main.len() + self.main.len() / 4);
    }
}

/// Checkpoints hold the groups' runs by group index (`StoredDetails`), as before the slab:
/// slots are assigned again on the way in.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(from = "StoredDetails")]
pub struct Details {
    /// By group index: the group's only entry, or `NONE` / `[MANY, slot]` in its hour.
    first: Vec<Packed>,
    /// Groups with more than one entry, by slot (a freed slot is empty and listed in `free`).
    many: Vec<Runs>,
    free: Vec<u32>,
    /// Facet ids by the index entries carry.
    facets: Vec<u64>,
    /// Users by the index entries carry; `users[0]` is 0 (no user) once anything is stored.
    users: Vec<u64>,
    /// Index of each facet id in `facets` (rebuilt after a restore).
    #[serde(skip)]
    facet_index: ids::IdIndex,
    /// Heap bytes of the `many` runs; None until counted (after a restore).
    #[serde(skip)]
    many_bytes: Option<usize>,
    /// The last facet packed, with its index (an epoch's occurrences mostly share a few).
    #[serde(skip)]
    last_facet: Option<(u64, u32)>,
    /// Index of each user in `users` (rebuilt after a restore or a compaction).
    #[serde(skip)]
    user_index: ids::IdIndex,
    /// The last user packed, with its index (bursts of one user).
    #[serde(skip)]
    last_user: Option<(u64, u32)>,
}

impl Details {
    /// The groups with runs, by group index, with their runs.
    fn listed(&self) -> impl Iterator<Item = (u32, &Runs)> {
        self.first
            .iter()
            .enumerate()
            .filter(|(_, e)| e[0] == MANY)
            .filter_map(|(index, e)| Some((index as u32, self.many.get(e[1] as usize)?)))
    }

    /// Gives the group at `index` (marked `MANY`) a slot for `runs`.
    fn put_runs(&mut self, index: u32, runs: Runs) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.many[slot as usize] = runs;
                slot
            }
            None => {
                self.many.push(runs);
                (self.many.len() - 1) as u32
            }
        };
        self.first[index as usize] = [MANY, slot, 0, 0];
    }

    /// Takes the runs of the group at `index` (marked `MANY`) out of their slot, which is
    /// freed; the group's inline entry is left to the caller.
    fn take_runs(&mut self, index: u32) -> Option<Runs> {
        let e = self.first.get(index as usize)?;
        if e[0] != MANY {
            return None;
        }
        let slot = e[1];
        let runs = std::mem::take(self.many.get_mut(slot as usize)?);
        self.free.push(slot);
        Some(runs)
    }

    /// The group's entries (see [`GroupDetails`]).
    pub fn of(&self, index: u32) -> GroupDetails<'_> {
        match self.first.get(index as usize) {
            None => GroupDetails::empty(),
            Some(e) if e[0] == NONE => GroupDetails::empty(),
            Some(e) if e[0] == MANY => match self.many.get(e[1] as usize) {
                Some(runs) => GroupDetails::new(&self.facets, &self.users, &runs.main, &runs.side),
                None => GroupDetails::empty(),
            },
            Some(e) => GroupDetails::new(&self.facets, &self.users, std::slice::from_ref(e), &[]),
        }
    }

    /// Approximate heap bytes (measurements).
    pub fn heap_bytes(&self) -> usize {
        let many = self
            .many_bytes
            .unwrap_or_else(|| self.listed().map(|(_, runs)| runs.heap_bytes()).sum());
        // The listed runs count their 48 bytes in `many`; the slab's other slots here.
        let unlisted = self.many.capacity() - (self.many.len() - self.free.len());
        self.first.capacity() * PACKED_BYTES
            + unlisted * 48
            + self.free.capacity() * 4
            + many
            + self.facets.capacity() * 8
            + self.facet_index.heap_bytes()
            + self.users.capacity() * 8
            + self.user_index.heap_bytes()
    }

    fn many_bytes(&mut self) -> &mut usize {
        if self.many_bytes.is_none() {
            self.many_bytes = Some(self.listed().map(|(_, runs)| runs.heap_bytes()).sum());
        }
        self.many_bytes.get_or_insert(0)
    }

    /// The stored form of `e` (its count ignored), its facet id and user replaced by their
    /// indexes.
    fn pack(&mut self, e: &Entry) -> Packed {
        [e[0], e[1] & SECOND_MASK, self.facet_slot(facet(e)), self.user_slot(user(e))]
    }

    /// Adds `diff` occurrences of `e`'s key (its count is ignored) to the group at `index`.
    pub fn add(&mut self, index: u32, e: Entry, diff: isize) {
        let p = self.pack(&e);
        self.add_packed(index, p, diff);
    }

    fn add_packed(&mut self, index: u32, p: Packed, diff: isize) {
        let slot = index as usize;
        if self.first.len() <= slot {
            if diff <= 0 {
                return;
            }
            self.first.resize(slot + 1, EMPTY);
        }
        let current = self.first[slot];
        if current[0] == MANY {
            // Counted (if need be) before the runs change.
            self.many_bytes();
            let Some(runs) = self.many.get_mut(current[1] as usize) else {
                return;
            };
            // In order (the common case): appended to the main run, whose growth is the only
            // change of bytes.
            if diff > 0 && runs.main.last().is_none_or(|last| key(last) <= key(&p)) {
                let before = runs.main.capacity();
                append(&mut runs.main, p, diff as u64);
                let grown = (runs.main.capacity() - before) * PACKED_BYTES;
                *self.many_bytes() += grown;
                return;
            }
            let before = runs.heap_bytes();
            if diff > 0 {
                runs.insert(p, diff as u64);
            } else {
                runs.remove(p, diff.unsigned_abs() as u64);
            }
            let after = runs.heap_bytes();
            let short = runs.len() <= 1;
            let bytes = self.many_bytes();
            *bytes = (*bytes + after).wrapping_sub(before);
            if short {
                self.unlist(index);
            }
            return;
        }
        // Inline without runs: a group's first entry, and more of its only key.
        let same = current[0] != NONE && key(&current) == key(&p);
        // A retraction takes at most what is there.
        let n = (if same { i64::from(packed_count(&current)) } else { 0 } + diff as i64).max(0);
        if (current[0] == NONE || same) && n <= i64::from(MAX_COUNT) {
            self.first[slot] = if n == 0 { EMPTY } else { p };
            with_count(&mut self.first[slot], n as u32);
            return;
        }
        if diff <= 0 {
            return;
        }
        let mut runs = Runs::default();
        if current[0] != NONE {
            runs.main.push(current);
        }
        runs.insert(p, diff as u64);
        *self.many_bytes() += runs.heap_bytes();
        self.put_runs(index, runs);
    }

    /// Moves a group with at most one entry left from `many` back inline.
    fn unlist(&mut self, index: u32) {
        // Counted (if need be) while the runs are still in `many`, or they would be taken
        // off a sum that never held them.
        self.many_bytes();
        let Some(runs) = self.take_runs(index) else { return };
        *self.many_bytes() -= runs.heap_bytes();
        let only = runs.main.first().or_else(|| runs.side.iter().find_map(|run| run.first()));
        self.first[index as usize] = only.copied().unwrap_or(EMPTY);
    }

    /// Moves every entry of the group at `child` to the group at `parent` (a merge).
    pub fn merge_into(&mut self, child: u32, parent: u32) {
        let Some(&current) = self.first.get(child as usize) else { return };
        if current[0] == NONE {
            return;
        }
        let mut moved = if current[0] == MANY {
            self.many_bytes();
            let runs = self.take_runs(child).unwrap_or_default();
            *self.many_bytes() -= runs.heap_bytes();
            runs
        } else {
            Runs {
                main: vec![current],
                side: Vec::new(),
            }
        };
        self.first[child as usize] = EMPTY;
        if self.first.len() <= parent as usize {
            self.first.resize(parent as usize + 1, EMPTY);
        }
        let into = self.first[parent as usize];
        if into[0] == MANY {
            self.many_bytes();
            if let Some(runs) = self.take_runs(parent) {
                *self.many_bytes() -= runs.heap_bytes();
                moved.side.push(runs.main);
                moved.side.extend(runs.side);
            }
        } else if into[0] != NONE {
            moved.side.push(vec![into]);
        }
        moved.compact();
        *self.many_bytes() += moved.heap_bytes();
        let short = moved.len() <= 1;
        self.put_runs(parent, moved);
        if short {
            self.unlist(parent);
        }
    }

    /// Drops every entry of an hour before `cut` (retention); returns the oldest hour left
    /// (`u32::MAX`: none).
    pub fn retain_from(&mut self, cut: u32) -> u32 {
        let mut oldest = u32::MAX;
        for first in &mut self.first {
            if first[0] < cut {
                *first = EMPTY;
            } else if first[0] < MANY {
                oldest = oldest.min(first[0]);
            }
        }
        let mut short = Vec::new();
        for (index, e) in self.first.iter().enumerate() {
            if e[0] != MANY {
                continue;
            }
            let Some(runs) = self.many.get_mut(e[1] as usize) else { continue };
            for run in std::iter::once(&mut runs.main).chain(runs.side.iter_mut()) {
                let drop = run.partition_point(|e| e[0] < cut);
                run.drain(..drop);
            }
            runs.compact();
            if let Some(first) = runs.main.first() {
                oldest = oldest.min(first[0]);
            }
            if runs.len() <= 1 {
                short.push(index as u32);
            }
        }
        self.many_bytes = None;
        for index in short {
            self.unlist(index);
        }
        self.many_bytes = None;
        self.compact_users();
        oldest
    }
}
