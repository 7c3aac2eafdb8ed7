//! The MD5 of fingerprint entries, remembered per thread for recently seen strings.
//!
//! Each occurrence names its group by the MD5 of its fingerprint, and one MD5 block costs
//! several hundred cycles (a chain of 64 dependent steps), a tenth of decoding a whole line.
//! Occurrences of the same group arrive again and again, so a small direct-mapped table keyed
//! by the (short) string answers most of them with one cheap hash and one comparison. Keys are
//! compared in full: a hit is always the string's own MD5.

use std::borrow::Cow;
use std::cell::RefCell;

use dataflows::model::{group_hash, GroupHash};

use super::md5::one_block_md5;

/// Entries of the table (a power of two): 512 KiB per decoding thread.
const SLOTS: usize = 8192;
/// Longer strings are hashed every time (fingerprints are usually short).
const MAX_KEY: usize = 47;

/// One cache line: the key's bytes, its length plus one (0: an empty slot) and its MD5.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Entry {
    hash: GroupHash,
    len: u8,
    key: [u8; MAX_KEY],
}

const EMPTY: Entry = Entry {
    hash: 0,
    len: 0,
    key: [0; MAX_KEY],
};

thread_local! {
    static TABLE: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// `group_hash(entry)`, from the table when this thread hashed the same string recently.
pub(super) fn fingerprint_hash(entry: &str) -> GroupHash {
    lookup(entry, slot_of(entry))
}

/// A string whose hash is wanted a little later: its table entry is being fetched into the
/// cache meanwhile (the table is too large to stay in the CPU's caches, and a lookup was
/// mostly one memory load's wait).
pub(super) struct Pending<'a> {
    entry: Cow<'a, str>,
    slot: usize,
}

impl Pending<'_> {
    pub(super) fn hash(self) -> GroupHash {
        lookup(&self.entry, self.slot)
    }
}

/// Starts fetching `entry`'s slot; [`Pending::hash`] is `fingerprint_hash(entry)`.
pub(super) fn prefetch(entry: Cow<'_, str>) -> Pending<'_> {
    let slot = slot_of(&entry);
    #[cfg(target_arch = "x86_64")]
    TABLE.with(|table| {
        if let Ok(table) = table.try_borrow() {
            if let Some(found) = table.get(slot) {
                // Safety: a hint only (SSE, part of the x86_64 baseline); the address is valid.
                unsafe {
                    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                    _mm_prefetch::<_MM_HINT_T0>((found as *const Entry).cast());
                }
            }
        }
    });
    Pending { entry, slot }
}

/// `group_hash(entry)`: one padded block built in place for short strings (fingerprints
/// nearly always), `md-5`'s buffered digest for the rest.
#[inline]
fn md5_of(entry: &str) -> GroupHash {
    one_block_md5(entry.as_bytes()).unwrap_or_else(|| group_hash(entry))
}

#[inline]
fn slot_of(entry: &str) -> usize {
    xxhash_rust::xxh3::xxh3_64(entry.as_bytes()) as usize & (SLOTS - 1)
}

fn lookup(entry: &str, slot: usize) -> GroupHash {
    let key = entry.as_bytes();
    if key.len() > MAX_KEY {
        return md5_of(entry);
    }
    TABLE.with(|table| {
        let Ok(mut table) = table.try_borrow_mut() else {
            return md5_of(entry);
        };
        if table.is_empty() {
            *table = vec![EMPTY; SLOTS];
        }
        let found = &mut table[slot];
        if found.len as usize == key.len() + 1 && &found.key[..key.len()] == key {
            return found.hash;
        }
        let hash = md5_of(entry);
        found.hash = hash;
        found.len = key.len() as u8 + 1;
        found.key[..key.len()].copy_from_slice(key);
        hash
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_and_misses_are_the_strings_own_md5() {
        // Many more strings than slots (so slots are shared and replaced), lengths around the
        // limit, the empty string and strings that are prefixes of each other.
        let mut strings: Vec<String> = (0..3 * SLOTS).map(|i| format!("1-1010-{i:016x}")).collect();
        strings.extend((0..=MAX_KEY + 2).map(|n| "x".repeat(n)));
        strings.extend(["é".repeat(30), String::new(), "a".into(), "ab".into()]);
        for round in 0..3 {
            for s in strings.iter().chain(strings.iter().rev().step_by(7)) {
                assert_eq!(fingerprint_hash(s), group_hash(s), "round {round}: {s:?}");
                assert_eq!(prefetch(Cow::Borrowed(s)).hash(), group_hash(s), "round {round}: {s:?}");
            }
        }
    }

    #[test]
    fn an_empty_slot_is_not_the_empty_string() {
        // A fresh thread: every slot is empty, and "" must still get its own MD5.
        std::thread::spawn(|| assert_eq!(fingerprint_hash(""), group_hash("")))
            .join()
            .unwrap();
        std::thread::spawn(|| assert_eq!(prefetch(Cow::Borrowed("")).hash(), group_hash("")))
            .join()
            .unwrap();
    }
}
