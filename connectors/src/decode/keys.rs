//! The keys of the objects the fast path reads, predicted: producers write an object's keys
//! in (nearly) the same order on every line, so the key after key `i` is looked for first as
//! the line's bytes `"name":` at the cursor (one to four word compares), instead of a string
//! span, a comparison with each known name and the colon (~35 instructions a key, ~25 keys
//! a line).

/// The known keys of one object, in their usual order. Index `i` of [`Self::find`] and
/// [`Self::at`] is the `i`-th name; unknown keys are [`Self::UNKNOWN`].
pub(super) struct KeyTable<const N: usize> {
    names: [&'static [u8]; N],
    /// `"name":`'s length.
    len: [usize; N],
    /// `"name":` as little-endian words at offsets 0, 8 and 16 (zero past its end) and the
    /// word ending it.
    words: [[u64; 4]; N],
    /// The bytes of the first word that belong to `"name":`.
    mask: [u64; N],
    /// [`Self::find`]'s table: slot `hash(name)` holds the name's index plus one (0: none).
    slots: [u8; SLOTS],
    /// The multiplier of the names' first byte in `hash`, chosen so that no two names share
    /// a slot.
    factor: u32,
}

/// [`KeyTable::find`]'s slots (a power of two).
const SLOTS: usize = 64;

/// A key's slot: from its length, first and last bytes (`key` is not empty).
const fn hash(key: &[u8], factor: u32) -> usize {
    let len = key.len() as u32;
    let mixed =
        len.wrapping_mul(0x9E37_79B9) ^ (key[0] as u32).wrapping_mul(factor) ^ (key[key.len() - 1] as u32).wrapping_mul(0x85EB_CA6B);
    ((mixed >> 3) as usize) & (SLOTS - 1)
}

/// Eight bytes of `b` from `at`, zero past its end.
const fn word_at(b: &[u8], at: usize) -> u64 {
    let mut word = 0u64;
    let mut i = 0;
    while i < 8 {
        if at + i < b.len() {
            word |= (b[at + i] as u64) << (8 * i);
        }
        i += 1;
    }
    word
}

impl<const N: usize> KeyTable<N> {
    pub(super) const UNKNOWN: usize = usize::MAX;

    /// Names of at most 29 bytes, of the characters a key without escapes may have.
    pub(super) const fn new(names: [&'static str; N]) -> Self {
        let mut table = KeyTable {
            names: [b""; N],
            len: [0; N],
            words: [[0; 4]; N],
            mask: [0; N],
            slots: [0; SLOTS],
            factor: 0,
        };
        let mut i = 0;
        while i < N {
            let name = names[i].as_bytes();
            assert!(name.len() + 3 <= 32);
            let mut quoted = [0u8; 32];
            quoted[0] = b'"';
            let mut j = 0;
            while j < name.len() {
                assert!(name[j] != b'"' && name[j] != b'\\' && name[j] >= 0x20);
                quoted[1 + j] = name[j];
                j += 1;
            }
            quoted[1 + name.len()] = b'"';
            quoted[2 + name.len()] = b':';
            let len = name.len() + 3;
            let (quoted, _) = quoted.split_at(len);
            table.names[i] = name;
            table.len[i] = len;
            let last = if len >= 8 { word_at(quoted, len - 8) } else { 0 };
            table.words[i] = [word_at(quoted, 0), word_at(quoted, 8), word_at(quoted, 16), last];
            table.mask[i] = if len >= 8 { u64::MAX } else { (1u64 << (8 * len)) - 1 };
            i += 1;
        }
        // The first odd factor that gives every name a slot of its own (an index plus one
        // fits a slot's byte: `SLOTS` is below 256).
        assert!(N < SLOTS);
        let mut factor = 1u32;
        'search: loop {
            assert!(factor < 1 << 20, "no factor separates the names");
            let mut slots = [0u8; SLOTS];
            let mut i = 0;
            while i < N {
                assert!(!table.names[i].is_empty());
                let slot = hash(table.names[i], factor);
                if slots[slot] != 0 {
                    factor += 2;
                    continue 'search;
                }
                slots[slot] = i as u8 + 1;
                i += 1;
            }
            table.slots = slots;
            table.factor = factor;
            break;
        }
        table
    }

    /// Whether `s` has key `i`'s `"name":` at `pos` (`i < N`): then the key at `pos` is that
    /// name, without escapes, and its colon ends at `pos + self.len(i)`.
    #[inline(always)]
    pub(super) fn at(&self, s: &[u8], pos: usize, i: usize) -> bool {
        let len = self.len[i];
        let words = &self.words[i];
        let Some(bytes) = s.get(pos..pos + len.max(8)) else {
            return false;
        };
        let load = |at: usize| {
            debug_assert!(at + 8 <= bytes.len());
            // Safety: `at + 8 <= bytes.len()` for each offset used below (`bytes` has
            // `max(len, 8)` bytes); an unaligned read of eight bytes.
            unsafe { bytes.as_ptr().add(at).cast::<u64>().read_unaligned() }.to_le()
        };
        load(0) & self.mask[i] == words[0]
            && (len <= 8 || load(len - 8) == words[3])
            && (len <= 16 || load(8) == words[1])
            && (len <= 24 || load(16) == words[2])
    }

    /// `"name":`'s length for key `i`.
    #[inline(always)]
    pub(super) fn len(&self, i: usize) -> usize {
        self.len[i]
    }

    /// The index of `key` (a key's text without escapes), [`Self::UNKNOWN`] if it is none:
    /// the only name that can be `key` is the one in its slot.
    #[inline(never)]
    pub(super) fn find(&self, key: &[u8]) -> usize {
        if key.is_empty() {
            return Self::UNKNOWN;
        }
        match self.slots[hash(key, self.factor)] {
            0 => Self::UNKNOWN,
            slot => {
                let i = slot as usize - 1;
                if self.names[i] == key {
                    i
                } else {
                    Self::UNKNOWN
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: KeyTable<6> = KeyTable::new([
        "id",
        "event",
        "event_id",
        "issue_title",
        "initial_issue_priority",
        "abcdefghijklmnopqrstuvwxyz",
    ]);

    /// A key is found at a position exactly when the bytes there are `"name":`: every name
    /// against texts that differ from it in any one byte, are cut short, or run on.
    #[test]
    fn keys_are_found_exactly() {
        for (i, name) in TABLE.names.iter().enumerate() {
            let quoted = [b"\"".as_slice(), name, b"\":"].concat();
            for (prefix, suffix) in [("", "1234567890"), ("{", "null}"), ("  ", "\"\""), ("", "")] {
                let mut text = prefix.as_bytes().to_vec();
                text.extend_from_slice(&quoted);
                text.extend_from_slice(suffix.as_bytes());
                let at = prefix.len();
                let expected = text.len() >= at + quoted.len().max(8);
                assert_eq!(TABLE.at(&text, at, i), expected, "{:?}", String::from_utf8_lossy(&text));
                for j in 0..quoted.len() {
                    for byte in [
                        b'"',
                        b':',
                        b' ',
                        b'a',
                        b'_',
                        b'\\',
                        0,
                        0xFF,
                        name.get(j).copied().unwrap_or(b'x') ^ 1,
                    ] {
                        let mut changed = text.clone();
                        changed[at + j] = byte;
                        let same = changed[at..at + quoted.len()] == quoted[..];
                        assert_eq!(
                            TABLE.at(&changed, at, i),
                            same && expected,
                            "{:?}",
                            String::from_utf8_lossy(&changed)
                        );
                    }
                }
                for other in 0..TABLE.names.len() {
                    if other != i {
                        assert!(!TABLE.at(&text, at, other));
                    }
                }
            }
            assert_eq!(TABLE.find(name), i);
            assert_eq!(TABLE.find(&name[1..]), KeyTable::<6>::UNKNOWN);
        }
        assert_eq!(TABLE.find(b""), KeyTable::<6>::UNKNOWN);
        assert_eq!(TABLE.find(b"events"), KeyTable::<6>::UNKNOWN);
    }

    /// `find` is the linear search it replaces, for the decoder's tables and names near
    /// theirs (one byte changed, cut or added, every length's prefix).
    #[test]
    fn find_is_the_linear_search() {
        fn check<const N: usize>(table: &KeyTable<N>) {
            let linear = |key: &[u8]| table.names.iter().position(|name| *name == key).unwrap_or(KeyTable::<N>::UNKNOWN);
            for name in table.names {
                let mut keys = vec![name.to_vec(), [name, b"x"].concat(), [b"x", name].concat()];
                keys.extend((0..name.len()).map(|n| name[..n].to_vec()));
                for at in 0..name.len() {
                    for byte in [0, b'_', b'a', b'z', 0xFF, name[at] ^ 0x20] {
                        let mut key = name.to_vec();
                        key[at] = byte;
                        keys.push(key);
                    }
                }
                for key in keys {
                    assert_eq!(table.find(&key), linear(&key), "{:?}", String::from_utf8_lossy(&key));
                }
            }
        }
        check(&TABLE);
        check(&super::super::fast::MESSAGE_KEYS);
        check(&super::super::fast::EVENT_KEYS);
    }
}
