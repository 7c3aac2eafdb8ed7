//! A sorted set of small `Copy` keys in fixed-capacity blocks, for the sort indexes.
//!
//! A `BTreeSet` leaf holds 11 keys and splits in half even when keys arrive in order, so an
//! index whose keys mostly grow (times, creation order) keeps its leaves about half full:
//! ~40 bytes per 20-byte key. Here a block holds up to `CAP` keys; a key past the end of the
//! last full block starts a new block (appends fill blocks completely), a full block passes
//! a key to a neighbour with room, and splits in half only when both are full; a block that
//! falls under a quarter full merges into a neighbour, so every block stays at least a
//! quarter full and typical fill is far higher.

/// Keys per block: an insertion moves at most this many keys (~5 KB for 20-byte keys).
const CAP: usize = 256;

#[derive(Debug)]
pub struct Blocks<K> {
    /// Non-empty, sorted, each block's keys below the next block's; capacity `CAP` each.
    blocks: Vec<Vec<K>>,
    len: usize,
}

impl<K> Default for Blocks<K> {
    fn default() -> Self {
        Blocks {
            blocks: Vec::new(),
            len: 0,
        }
    }
}

fn block<K: Copy>(keys: &[K]) -> Vec<K> {
    let mut block = Vec::with_capacity(CAP);
    block.extend_from_slice(keys);
    block
}

impl<K: Ord + Copy> Blocks<K> {
    pub fn len(&self) -> usize {
        self.len
    }

    /// The blocks of `keys` (sorted, distinct), each full but the last: an index built in
    /// one pass at the end of a catch-up rather than by an insertion per key.
    pub fn from_sorted(keys: &[K]) -> Blocks<K> {
        debug_assert!(keys.windows(2).all(|w| w[0] < w[1]), "sorted, distinct keys");
        Blocks {
            blocks: keys.chunks(CAP).map(block).collect(),
            len: keys.len(),
        }
    }

    /// The block that holds, or would hold, `key`: the last whose first key is at most it.
    fn block_of(&self, key: &K) -> usize {
        self.blocks.partition_point(|b| b[0] <= *key).saturating_sub(1)
    }

    /// Inserts `key`; false if it was present.
    pub fn insert(&mut self, key: K) -> bool {
        if self.blocks.is_empty() {
            self.blocks.push(block(&[key]));
            self.len = 1;
            return true;
        }
        let b = self.block_of(&key);
        let at = match self.blocks[b].binary_search(&key) {
            Ok(_) => return false,
            Err(at) => at,
        };
        self.len += 1;
        let last = b + 1 == self.blocks.len();
        if self.blocks[b].len() < CAP {
            self.blocks[b].insert(at, key);
        } else if at == CAP && last {
            self.blocks.push(block(&[key]));
        } else if b > 0 && self.blocks[b - 1].len() < CAP {
            // A full block hands its first key to a neighbour with room rather than split
            // (blocks of keys inserted anywhere then stay ~90 % full rather than ~70 %).
            let first = self.blocks[b].remove(0);
            self.blocks[b - 1].push(first);
            self.blocks[b].insert(at - 1, key);
        } else if !last && self.blocks[b + 1].len() < CAP {
            if at == CAP {
                self.blocks[b + 1].insert(0, key);
            } else {
                let keys = &mut self.blocks[b];
                let moved = keys.pop().expect("a full block");
                keys.insert(at, key);
                self.blocks[b + 1].insert(0, moved);
            }
        } else {
            let keys = &mut self.blocks[b];
            let upper = block(&keys[CAP / 2..]);
            keys.truncate(CAP / 2);
            self.blocks.insert(b + 1, upper);
            let (target, at) = if at <= CAP / 2 { (b, at) } else { (b + 1, at - CAP / 2) };
            self.blocks[target].insert(at, key);
        }
        true
    }

    /// Removes `key`; false if it was absent.
    pub fn remove(&mut self, key: &K) -> bool {
        if self.blocks.is_empty() {
            return false;
        }
        let b = self.block_of(key);
        let Ok(at) = self.blocks[b].binary_search(key) else {
            return false;
        };
        self.len -= 1;
        self.blocks[b].remove(at);
        let len = self.blocks[b].len();
        if len == 0 {
            self.blocks.remove(b);
        } else if len < CAP / 4 {
            // Into the smaller neighbour, when the two fit in three quarters of a block (so a
            // merged block does not split again at once).
            let neighbour = [b.checked_sub(1), Some(b + 1).filter(|&n| n < self.blocks.len())]
                .into_iter()
                .flatten()
                .min_by_key(|&n| self.blocks[n].len());
            if let Some(n) = neighbour.filter(|&n| self.blocks[n].len() + len <= CAP * 3 / 4) {
                let (low, high) = (b.min(n), b.max(n));
                let moved = self.blocks.remove(high);
                self.blocks[low].extend_from_slice(&moved);
            }
        }
        true
    }

    /// Replaces `old` (present) by `new` (absent): a group whose sort value moved. When `new`
    /// belongs in `old`'s block (a count that grew by a few), one shift of the keys between
    /// the two within the block instead of a removal and an insertion, each of which
    /// searches the blocks and shifts the rest of the block.
    pub fn replace(&mut self, old: &K, new: K) {
        if let Some(b) = (!self.blocks.is_empty()).then(|| self.block_of(old)) {
            let keys = &self.blocks[b];
            let fits = (b == 0 || keys[0] <= new) && self.blocks.get(b + 1).is_none_or(|next| new < next[0]);
            if fits {
                if let (Ok(from), Err(to)) = (keys.binary_search(old), keys.binary_search(&new)) {
                    let keys = &mut self.blocks[b];
                    if to > from {
                        keys[from..to].rotate_left(1);
                        keys[to - 1] = new;
                    } else {
                        keys[to..=from].rotate_right(1);
                        keys[to] = new;
                    }
                    return;
                }
            }
        }
        self.remove(old);
        self.insert(new);
    }

    /// The keys at most `end`, greatest first.
    pub fn rev_to(&self, end: &K) -> impl Iterator<Item = &K> + '_ {
        let b = self.blocks.partition_point(|k| k[0] <= *end);
        let (last, before): (&[K], &[Vec<K>]) = match b.checked_sub(1) {
            None => (&[], &[]),
            Some(b) => {
                let keys = &self.blocks[b];
                (&keys[..keys.partition_point(|k| k <= end)], &self.blocks[..b])
            }
        };
        last.iter().rev().chain(before.iter().rev().flat_map(|keys| keys.iter().rev()))
    }

    /// Every key, greatest first.
    pub fn rev(&self) -> impl Iterator<Item = &K> + '_ {
        self.blocks.iter().rev().flat_map(|keys| keys.iter().rev())
    }

    /// Bytes held by the blocks (capacity), for measurements.
    pub fn heap_bytes(&self) -> usize {
        // Every block is allocated with capacity `CAP` and never grows past it (O(1), for
        // `/metrics`).
        self.blocks.capacity() * std::mem::size_of::<Vec<K>>() + self.blocks.len() * CAP * std::mem::size_of::<K>()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// xorshift64*: deterministic pseudo-random numbers below `n`.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u32) -> u32 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32 % n.max(1)
        }
    }

    #[test]
    fn blocks_keep_the_same_keys_in_the_same_order_as_a_btree_set() {
        let mut rng = Rng(3);
        let (mut blocks, mut set) = (Blocks::default(), BTreeSet::new());
        for step in 0..60_000u32 {
            // Mostly appends (growing keys), some random inserts and removals.
            let key = match rng.below(4) {
                0 => rng.below(5_000),
                _ => 5_000 + step,
            };
            if rng.below(100) < 35 {
                // Keys below the appended ones, so that old blocks drain and merge.
                let old = rng.below(5_000 + step);
                assert_eq!(blocks.remove(&old), set.remove(&old));
            } else {
                assert_eq!(blocks.insert(key), set.insert(key));
            }
            assert_eq!(blocks.len(), set.len());
            if step % 5_000 == 0 {
                assert!(blocks.rev().copied().eq(set.iter().rev().copied()));
                let end = rng.below(70_000);
                assert!(blocks.rev_to(&end).copied().eq(set.range(..=end).rev().copied()));
            }
        }
        assert!(blocks.rev().copied().eq(set.iter().rev().copied()));
        for key in set.iter().copied().collect::<Vec<_>>() {
            assert!(blocks.remove(&key));
        }
        assert_eq!((blocks.len(), blocks.rev().count()), (0, 0));
    }

    #[test]
    fn replaced_keys_keep_the_order_of_a_btree_set() {
        let mut rng = Rng(7);
        let (mut blocks, mut set) = (Blocks::default(), BTreeSet::new());
        for _ in 0..20_000 {
            let key = rng.below(50_000);
            assert_eq!(blocks.insert(key), set.insert(key));
        }
        for step in 0..40_000u32 {
            let probe = rng.below(60_000 + step);
            let Some(&old) = set.range(probe..).next().or(set.iter().next_back()) else {
                break;
            };
            // Mostly small moves (within a block), some far ones, some to the very ends.
            let new = match rng.below(8) {
                0 => rng.below(60_000),
                1 => 60_000 + step,
                2 => old.saturating_sub(1 + rng.below(3)),
                _ => old + 1 + rng.below(40),
            };
            if set.contains(&new) {
                continue;
            }
            blocks.replace(&old, new);
            set.remove(&old);
            set.insert(new);
            assert_eq!(blocks.len(), set.len());
            if step % 4_000 == 0 {
                assert!(blocks.rev().copied().eq(set.iter().rev().copied()), "step {step}");
            }
        }
        assert!(blocks.rev().copied().eq(set.iter().rev().copied()));
    }

    #[test]
    fn blocks_built_from_sorted_keys_walk_and_change_like_a_btree_set() {
        let mut rng = Rng(11);
        for n in [0u32, 1, 255, 256, 257, 5_000] {
            let set: BTreeSet<u32> = (0..n).map(|_| rng.below(1 << 20)).collect();
            let keys: Vec<u32> = set.iter().copied().collect();
            let mut blocks = Blocks::from_sorted(&keys);
            let mut set = set;
            assert_eq!(blocks.len(), set.len());
            assert!(blocks.rev().copied().eq(set.iter().rev().copied()));
            let end = rng.below(1 << 20);
            assert!(blocks.rev_to(&end).copied().eq(set.range(..=end).rev().copied()));
            // Then maintained as usual: full blocks split or pass keys on.
            for _ in 0..2_000 {
                let key = rng.below(1 << 20);
                match rng.below(3) {
                    0 => assert_eq!(blocks.remove(&key), set.remove(&key)),
                    _ => assert_eq!(blocks.insert(key), set.insert(key)),
                }
            }
            assert_eq!(blocks.len(), set.len());
            assert!(blocks.rev().copied().eq(set.iter().rev().copied()));
        }
    }

    #[test]
    fn appended_keys_fill_blocks() {
        let mut blocks = Blocks::default();
        for key in 0..100_000u64 {
            blocks.insert(key);
        }
        // Full blocks: within 5 % of 8 bytes per key (half-full blocks would be twice that).
        assert!(blocks.heap_bytes() < 100_000 * 8 * 21 / 20, "{}", blocks.heap_bytes());
    }

    #[test]
    fn keys_inserted_anywhere_keep_blocks_mostly_full() {
        let (mut blocks, mut rng) = (Blocks::default(), Rng(5));
        for _ in 0..100_000 {
            blocks.insert(u64::from(rng.below(u32::MAX)) << 8 | u64::from(rng.below(256)));
        }
        // At least 80 % full (82 % measured).
        let bytes = blocks.heap_bytes();
        assert!(bytes < blocks.len() * 8 * 100 / 80, "{bytes} bytes for {} keys", blocks.len());
    }
}
