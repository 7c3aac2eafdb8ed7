//! Containers the skip loop accepted, remembered per thread by their text: a skipped value
//! whose bytes equal such a text is that same valid value, accepted without reading its
//! tokens again.
//!
//! Producers repeat the values the model ignores (on the first 100K lines of 1M/1M,
//! `evidence_display` is one of ~100 arrays and most `evidence_data` objects repeat), and the
//! token loop cost ~300 instructions a container. A JSON container delimits itself: when the
//! bytes at the cursor begin with the complete text of a container the loop accepted at the
//! same depth, reading from the cursor accepts exactly those bytes (the same tokens, the same
//! nesting, the same escapes; the line's UTF-8 and bracket count are checked for the whole
//! line anyway). So a hit needs no other check. The candidate text is found cheaply: up to
//! the first closing bracket of the opening one's kind. A value with a nested container of
//! that kind, or a closing bracket in a string, never hits (its candidate is not its text)
//! and is skipped token by token as before; it is not remembered either.

use std::cell::RefCell;

/// Entries of the table (a power of two): 256 KiB per decoding thread.
const SLOTS: usize = 2048;
/// Shorter containers are cheap to skip token by token.
const MIN_LEN: usize = 16;
/// Longer ones are skipped token by token (and not kept): seven 16-byte chunks.
const MAX_LEN: usize = 112;

/// Two cache lines: the text (zeros after it), its length (0: an empty slot) and the depth it
/// was skipped at.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Entry {
    text: [u8; MAX_LEN],
    len: u8,
    depth: u8,
}

const EMPTY: Entry = Entry {
    text: [0; MAX_LEN],
    len: 0,
    depth: 0,
};

thread_local! {
    static TABLE: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

#[cfg(test)]
thread_local! {
    /// Whether the table is bypassed (tests compare with the token loop alone).
    static OFF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `run()` with the table bypassed on this thread: every container read token by token.
#[cfg(test)]
pub(in crate::decode) fn without<T>(run: impl FnOnce() -> T) -> T {
    OFF.with(|off| off.set(true));
    let result = run();
    OFF.with(|off| off.set(false));
    result
}

/// The text a container at some position would have if it ended at the first closing bracket
/// of its kind, and its slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Candidate {
    /// Past the closing bracket.
    pub(super) end: usize,
    slot: usize,
}

/// 16 bytes of 0xFF then 16 zeros: from offset `16 - n`, a mask of a chunk's first `n` bytes.
#[cfg(target_arch = "x86_64")]
static KEEP: [u8; 32] = {
    let mut mask = [0u8; 32];
    let mut i = 0;
    while i < 16 {
        mask[i] = 0xFF;
        i += 1;
    }
    mask
};

/// The candidate for the container opening at `s[pos]` (`[` or `{`), if its text has a
/// length the table keeps and its 16-byte chunks lie within `s`: one pass of 16-byte chunks
/// finds the first closing bracket and hashes the bytes up to it.
#[inline(always)]
pub(super) fn candidate(s: &[u8], pos: usize) -> Option<Candidate> {
    #[cfg(test)]
    if OFF.with(|off| off.get()) {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        // `]` and `}` are `[` and `{` plus two.
        let close = s.get(pos)?.wrapping_add(2);
        let limit = pos + MAX_LEN;
        // Safety: SSE2 is part of the x86_64 baseline; each load reads `s[i..i + 16]` with
        // `i + 16 <= s.len()` (checked), or `KEEP[16 - keep..32 - keep]` (`1 <= keep <= 16`).
        unsafe {
            use std::arch::x86_64::*;
            let needle = _mm_set1_epi8(close as i8);
            let mut hash = _mm_setzero_si128();
            let mut i = pos;
            while i + 16 <= s.len() {
                let chunk = _mm_loadu_si128(s.as_ptr().add(i).cast());
                let hits = _mm_movemask_epi8(_mm_cmpeq_epi8(chunk, needle)) as u32;
                // The lanes turned (so that equal chunks elsewhere hash differently), then
                // the chunk added.
                hash = _mm_shuffle_epi32::<0x39>(hash);
                if hits != 0 {
                    let last = i + hits.trailing_zeros() as usize;
                    let end = last + 1;
                    if end - pos < MIN_LEN || last >= limit {
                        return None;
                    }
                    let keep = end - i;
                    let mask = _mm_loadu_si128(KEEP.as_ptr().add(16 - keep).cast());
                    hash = _mm_add_epi64(hash, _mm_and_si128(chunk, mask));
                    let folded = (_mm_cvtsi128_si64(hash) ^ _mm_cvtsi128_si64(_mm_unpackhi_epi64(hash, hash))) as u64;
                    // A folded multiply: every input bit reaches the low bits taken.
                    let product = u128::from(folded ^ (end - pos) as u64) * 0x9E37_79B9_7F4A_7C15;
                    return Some(Candidate {
                        end,
                        slot: ((product >> 64) as u64 ^ product as u64) as usize & (SLOTS - 1),
                    });
                }
                hash = _mm_add_epi64(hash, chunk);
                i += 16;
                if i >= limit {
                    return None;
                }
            }
            None
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (s, pos);
        None
    }
}

impl Candidate {
    /// Whether the candidate's text is that of a container accepted at `depth`.
    #[inline(always)]
    pub(super) fn hit(&self, s: &[u8], pos: usize, depth: usize) -> bool {
        let len = self.end - pos;
        TABLE.with(|table| {
            let Ok(table) = table.try_borrow() else {
                return false;
            };
            let Some(entry) = table.get(self.slot) else {
                return false;
            };
            entry.len as usize == len && entry.depth as usize == depth && same(&entry.text, s, pos, len)
        })
    }

    /// Remembers the candidate's text as a container accepted at `depth` (the caller's loop
    /// accepted exactly it).
    #[cold]
    pub(super) fn remember(&self, s: &[u8], pos: usize, depth: usize) {
        let text = &s[pos..self.end];
        let Ok(depth) = u8::try_from(depth) else {
            return;
        };
        TABLE.with(|table| {
            let Ok(mut table) = table.try_borrow_mut() else {
                return;
            };
            if table.is_empty() {
                *table = vec![EMPTY; SLOTS];
            }
            let entry = &mut table[self.slot];
            entry.text = [0; MAX_LEN];
            entry.text[..text.len()].copy_from_slice(text);
            entry.len = text.len() as u8;
            entry.depth = depth;
        });
    }
}

/// Whether `s[pos..pos + len]` is `text[..len]` (`len <= MAX_LEN`).
#[inline(always)]
fn same(text: &[u8; MAX_LEN], s: &[u8], pos: usize, len: usize) -> bool {
    if len > MAX_LEN || pos + len > s.len() {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if pos + len.div_ceil(16) * 16 > s.len() {
            return text[..len] == s[pos..pos + len];
        }
        // Safety: SSE2 is part of the x86_64 baseline; the chunks read are `s[pos + k..pos + k
        // + 16]` and `text[k..k + 16]` for `k < len` a multiple of 16, within `s` (checked
        // just above) and within `text` (`len <= MAX_LEN`, a multiple of 16).
        unsafe {
            use std::arch::x86_64::*;
            let mut k = 0;
            while k < len {
                let a = _mm_loadu_si128(s.as_ptr().add(pos + k).cast());
                let b = _mm_loadu_si128(text.as_ptr().add(k).cast());
                let mut equal = _mm_movemask_epi8(_mm_cmpeq_epi8(a, b)) as u32;
                if len - k < 16 {
                    // Bytes past the text: taken as equal.
                    equal |= !0u32 << (len - k);
                }
                if equal & 0xFFFF != 0xFFFF {
                    return false;
                }
                k += 16;
            }
            true
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        text[..len] == s[pos..pos + len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_end_at_the_first_closing_bracket() {
        let text = br#"  [{"name":"Page","value":"/blog/:slug","important":true}],"type":1"#;
        let c = candidate(text, 2).expect("a candidate");
        assert_eq!(&text[2..c.end], br#"[{"name":"Page","value":"/blog/:slug","important":true}]"#);
        let text = br#"{"num_repeating_spans":32},"x":{},"more":1"#;
        let c = candidate(text, 0).expect("a candidate");
        assert_eq!(&text[..c.end], br#"{"num_repeating_spans":32}"#);
        // Too short, none, too long.
        assert_eq!(candidate(br#"{"a":1},"b":{"c":2}"#, 0), None);
        assert_eq!(candidate(br#"{"abcdefghijklmnopqrstuvwxyz":1"#, 0), None);
        let long = format!("[{}]", "1,".repeat(70) + "1");
        assert_eq!(candidate(long.as_bytes(), 0), None);
        // At every length the table keeps and around it, with the closing bracket before
        // more text (its chunks within the line) and at the line's end (then only when its
        // last chunk ends there too), across 16-byte loads.
        for len in 2..MAX_LEN + 20 {
            for tail in [",\"k\":[1]0123456789abcdef", "]]]]]]]]]]]]]]]]]]]]"] {
                let line = format!("[{}]{tail}", "1".repeat(len - 2));
                let expected = (MIN_LEN..=MAX_LEN).contains(&len).then_some(len);
                assert_eq!(candidate(line.as_bytes(), 0).map(|c| c.end), expected, "{line}");
            }
            let line = format!("[{}]", "1".repeat(len - 2));
            let fits = (MIN_LEN..=MAX_LEN).contains(&len) && len % 16 == 0;
            assert_eq!(candidate(line.as_bytes(), 0).map(|c| c.end), fits.then_some(len), "{line}");
        }
        // The comparison is exact at every byte, within the line's chunks or not.
        let text = br#"[{"name":"Page","value":"/blog/:slug","important":true}],"type":1000000000000000"#;
        let c = candidate(text, 0).expect("a candidate");
        for line in [&text[..], &text[..c.end]] {
            let mut stored = [0u8; MAX_LEN];
            stored[..c.end].copy_from_slice(&line[..c.end]);
            assert!(same(&stored, line, 0, c.end));
            for at in 0..c.end {
                let mut other = stored;
                other[at] ^= 1;
                assert!(!same(&other, line, 0, c.end));
            }
        }
    }
}
