//! The distinct users of each group of a project: a set of (group short id, user) pairs, for
//! `user_count`. One pair per group and user ever seen (at 1M groups, one per group), so its
//! entry size is memory per group: a pair is held in 12 bytes (a `(u32, u64)` tuple is 16,
//! padding included), 13 with hashbrown's control byte instead of 17. Hashed as the tuple was
//! (the short id, then the user) and serialized as the tuple set was, so checkpoints of
//! either version read with the other.

use std::hash::{Hash, Hasher};

use rustc_hash::FxHashSet as HashSet;

use crate::model::Symbol;

/// A (short id, user) pair; the user in two halves so the pair aligns to 4 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Pair {
    short_id: u32,
    user: [u32; 2],
}

impl Pair {
    fn new(short_id: u32, user: Symbol) -> Pair {
        Pair {
            short_id,
            user: [user as u32, (user >> 32) as u32],
        }
    }

    fn user(&self) -> Symbol {
        u64::from(self.user[0]) | (u64::from(self.user[1]) << 32)
    }
}

impl Hash for Pair {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.short_id.hash(state);
        self.user().hash(state);
    }
}

#[derive(Default)]
pub(super) struct UserPairs {
    set: HashSet<Pair>,
}

impl UserPairs {
    /// Adds the pair; true if it was not there.
    #[inline]
    pub(super) fn insert(&mut self, short_id: u32, user: Symbol) -> bool {
        self.set.insert(Pair::new(short_id, user))
    }

    /// Whether the pair is there.
    #[inline]
    pub(super) fn contains(&self, short_id: u32, user: Symbol) -> bool {
        self.set.contains(&Pair::new(short_id, user))
    }

    /// The users of the groups whose short ids `of` accepts.
    pub(super) fn users_of<'a>(&'a self, of: impl Fn(u32) -> bool + 'a) -> impl Iterator<Item = Symbol> + 'a {
        self.set.iter().filter(move |p| of(p.short_id)).map(Pair::user)
    }

    /// Keeps the pairs of the groups whose short ids `keep` accepts.
    pub(super) fn retain(&mut self, keep: impl Fn(u32) -> bool) {
        self.set.retain(|p| keep(p.short_id));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.set.len()
    }

    /// Pairs held and the table's bytes (its buckets and control bytes).
    pub(super) fn footprint(&self) -> (usize, usize) {
        (
            self.set.len(),
            super::footprint::table_bytes(self.set.capacity(), std::mem::size_of::<Pair>()),
        )
    }
}

/// As the `HashSet<(u32, Symbol)>` it was: a sequence of tuples.
impl serde::Serialize for UserPairs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.set.iter().map(|p| (p.short_id, p.user())))
    }
}

impl<'de> serde::Deserialize<'de> for UserPairs {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pairs = HashSet::<(u32, Symbol)>::deserialize(deserializer)?;
        Ok(UserPairs {
            set: pairs.into_iter().map(|(short_id, user)| Pair::new(short_id, user)).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_twelve_bytes() {
        assert_eq!(std::mem::size_of::<Pair>(), 12);
        assert_eq!(std::mem::size_of::<(u32, Symbol)>(), 16);
    }

    #[test]
    fn pairs_are_distinct_by_group_and_user() {
        let mut users = UserPairs::default();
        let high = 0xFFFF_FFFF_0000_0001;
        assert!(users.insert(1, 7));
        assert!(!users.insert(1, 7));
        assert!(users.insert(2, 7));
        assert!(users.insert(1, high));
        assert!(users.insert(1, 1), "differs from `high` in its high half only");
        assert!(!users.insert(1, high));
        assert_eq!(users.len(), 4);
        let mut of_one: Vec<Symbol> = users.users_of(|id| id == 1).collect();
        of_one.sort_unstable();
        assert_eq!(of_one, vec![1, 7, high]);
        users.retain(|id| id != 1);
        assert_eq!(users.users_of(|_| true).collect::<Vec<_>>(), vec![7]);
    }

    /// Checkpoints of the tuple set read back, and are written the same way.
    #[test]
    fn checkpoints_of_the_tuple_set_read_back() {
        let tuples: HashSet<(u32, Symbol)> = [(1, 5), (1, u64::MAX), (3, 0), (u32::MAX, 1 << 40)].into_iter().collect();
        let bytes = postcard::to_allocvec(&tuples).expect("serializes");
        let users: UserPairs = postcard::from_bytes(&bytes).expect("reads the tuple set");
        assert_eq!(users.len(), 4);
        let mut read: Vec<(u32, Symbol)> = users.set.iter().map(|p| (p.short_id, p.user())).collect();
        read.sort_unstable();
        let mut expected: Vec<(u32, Symbol)> = tuples.iter().copied().collect();
        expected.sort_unstable();
        assert_eq!(read, expected);
        let written = postcard::to_allocvec(&users).expect("serializes");
        let back: HashSet<(u32, Symbol)> = postcard::from_bytes(&written).expect("reads as the tuple set");
        assert_eq!(back, tuples);
    }
}
