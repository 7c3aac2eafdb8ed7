//! One SIMD pass over a line before the fast decoder reads it: a bitmap of the bytes that can
//! end a run of plain string text (`"`, `\` and control characters), and the number of `[`
//! and `{` bytes. With the bitmap, finding the end of a string is a bit scan instead of a
//! byte loop with a data-dependent exit per 16 bytes (the decoder's hottest branch before).

use std::mem::MaybeUninit;

/// Lines up to this many bytes keep their bitmap on the stack.
pub(super) const STACK_WORDS: usize = 48;

/// The special bytes of a line, one bit per byte (bit `i % 64` of word `i / 64`).
pub(super) struct Specials {
    stack: [u64; STACK_WORDS],
    heap: Vec<u64>,
    words: usize,
    /// How many `[` and `{` bytes the line has (strings included).
    pub(super) brackets: usize,
    /// Whether every byte of the line is ASCII (then it is valid UTF-8 without a second pass).
    pub(super) ascii: bool,
}

#[inline(always)]
fn is_special(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20
}

/// [`Specials::of`] into the caller's storage (no copy of the bitmap on return): the
/// words (in `stack` when they fit, else in `heap`), the bracket count and the ASCII flag.
/// `stack` need not be initialised (zeroing it cost a `memset` of 384 bytes per line): every
/// word returned is written first.
#[inline(always)]
pub(super) fn fill_into<'s>(
    line: &[u8],
    stack: &'s mut [MaybeUninit<u64>; STACK_WORDS],
    heap: &'s mut Vec<u64>,
) -> (&'s [u64], usize, bool) {
    let words = line.len().div_ceil(64);
    let out = if words > STACK_WORDS {
        *heap = vec![0; words];
        as_uninit(&mut heap[..])
    } else {
        &mut stack[..words]
    };
    let (brackets, ascii) = fill_uninit(line, out);
    // Safety: `fill_uninit` wrote each of `out`'s words (one per 64 bytes of `line`, the last
    // partial block included), and `MaybeUninit<u64>` has `u64`'s layout.
    let out = unsafe { &*(out as *const [MaybeUninit<u64>] as *const [u64]) };
    (out, brackets, ascii)
}

/// `words` as words that may be overwritten with any value (never with uninitialised ones).
#[inline(always)]
fn as_uninit(words: &mut [u64]) -> &mut [MaybeUninit<u64>] {
    // Safety: same layout; the fill functions only write initialised words.
    unsafe { &mut *(words as *mut [u64] as *mut [MaybeUninit<u64>]) }
}

impl Specials {
    pub(super) fn of(line: &[u8]) -> Specials {
        let words = line.len().div_ceil(64);
        let mut specials = Specials {
            stack: [0; STACK_WORDS],
            heap: Vec::new(),
            words,
            brackets: 0,
            ascii: true,
        };
        if words > STACK_WORDS {
            specials.heap = vec![0; words];
        }
        let out = if words > STACK_WORDS {
            &mut specials.heap[..]
        } else {
            &mut specials.stack[..words]
        };
        (specials.brackets, specials.ascii) = fill(line, out);
        specials
    }

    /// The bitmap, one word per 64 bytes (for [`Self::next_in`]).
    #[inline(always)]
    pub(super) fn words(&self) -> &[u64] {
        if self.words > STACK_WORDS {
            &self.heap
        } else {
            &self.stack[..self.words]
        }
    }

    /// The position of the first special byte at or after `from`, `None` if there is none.
    #[inline(always)]
    #[cfg(test)]
    pub(super) fn next(&self, from: usize) -> Option<usize> {
        Self::next_in(self.words(), from)
    }

    /// [`Self::next`] in `words` (of [`Self::words`]), which a caller keeps at hand.
    #[inline(always)]
    pub(super) fn next_in(words: &[u64], from: usize) -> Option<usize> {
        let mut word = from / 64;
        let mut bits = *words.get(word)? & (!0u64 << (from % 64));
        while bits == 0 {
            word += 1;
            bits = *words.get(word)?;
        }
        Some(word * 64 + bits.trailing_zeros() as usize)
    }
}

/// Fills `out` (one word per 64 bytes of `line`) and returns the bracket count and whether
/// every byte is ASCII.
fn fill(line: &[u8], out: &mut [u64]) -> (usize, bool) {
    fill_uninit(line, as_uninit(out))
}

/// [`fill`] into words not yet initialised: each of `out`'s words is written.
#[inline(always)]
fn fill_uninit(line: &[u8], out: &mut [MaybeUninit<u64>]) -> (usize, bool) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("popcnt") {
            // Safety: the CPU has AVX2 and POPCNT (checked just above).
            return unsafe { fill_avx2(line, out) };
        }
        // Safety: SSE2 is part of the x86_64 baseline.
        unsafe { fill_sse2(line, out) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        fill_scalar(line, out)
    }
}

/// The last partial block of a line, padded with spaces (neither special nor a bracket).
#[inline(always)]
fn padded_tail(line: &[u8]) -> Option<[u8; 64]> {
    let tail = line.chunks_exact(64).remainder();
    (!tail.is_empty()).then(|| {
        let mut block = [b' '; 64];
        block[..tail.len()].copy_from_slice(tail);
        block
    })
}

#[allow(dead_code)] // The reference for the SIMD versions (tests) and other architectures.
fn fill_scalar(line: &[u8], out: &mut [MaybeUninit<u64>]) -> (usize, bool) {
    let mut brackets = 0;
    for (word, block) in out.iter_mut().zip(line.chunks(64)) {
        let mut bits = 0;
        for (i, &byte) in block.iter().enumerate() {
            bits |= (is_special(byte) as u64) << i;
            brackets += (byte | 0x20 == b'{') as usize;
        }
        word.write(bits);
    }
    (brackets, line.is_ascii())
}

#[cfg(target_arch = "x86_64")]
/// Runs `block` (a 64-byte block → its special-byte bits, bracket count and non-zero if a
/// byte is not ASCII) over `line`, the last partial block padded; one word of `out` per block.
/// Inlined into each instruction set's caller so that `block` is compiled with that caller's
/// features.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn fill_blocks(line: &[u8], out: &mut [MaybeUninit<u64>], block: impl Fn(&[u8]) -> (u64, usize, u32)) -> (usize, bool) {
    let mut brackets = 0;
    let mut high = 0;
    let mut words = out.iter_mut();
    for (chunk, word) in line.chunks_exact(64).zip(&mut words) {
        let (bits, count, non_ascii) = block(chunk);
        word.write(bits);
        brackets += count;
        high |= non_ascii;
    }
    if let (Some(tail), Some(word)) = (padded_tail(line), words.next()) {
        let (bits, count, non_ascii) = block(&tail);
        word.write(bits);
        brackets += count;
        high |= non_ascii;
    }
    (brackets, high == 0)
}

#[target_feature(enable = "avx2,popcnt")]
unsafe fn fill_avx2(line: &[u8], out: &mut [MaybeUninit<u64>]) -> (usize, bool) {
    use std::arch::x86_64::*;
    let (quote, backslash, control) = (_mm256_set1_epi8(b'"' as i8), _mm256_set1_epi8(b'\\' as i8), _mm256_set1_epi8(0x1f));
    let (bit, brace) = (_mm256_set1_epi8(0x20), _mm256_set1_epi8(b'{' as i8));
    let half = |bytes: __m256i| {
        // max(b, 0x1f) == 0x1f exactly for control characters (unsigned); `b | 0x20 == '{'`
        // exactly for `[` and `{`.
        let special = _mm256_or_si256(
            _mm256_or_si256(_mm256_cmpeq_epi8(bytes, quote), _mm256_cmpeq_epi8(bytes, backslash)),
            _mm256_cmpeq_epi8(_mm256_max_epu8(bytes, control), control),
        );
        let bracket = _mm256_cmpeq_epi8(_mm256_or_si256(bytes, bit), brace);
        (
            _mm256_movemask_epi8(special) as u32 as u64,
            _mm256_movemask_epi8(bracket) as u32 as u64,
        )
    };
    let block = |bytes: &[u8]| {
        // Safety: `bytes` has 64 bytes; loads are unaligned.
        let (low, high) = unsafe {
            (
                _mm256_loadu_si256(bytes.as_ptr().cast()),
                _mm256_loadu_si256(bytes.as_ptr().add(32).cast()),
            )
        };
        let (low_bits, high_bits) = (half(low), half(high));
        (
            low_bits.0 | high_bits.0 << 32,
            // One count for the block's 64 bracket bits.
            (low_bits.1 | high_bits.1 << 32).count_ones() as usize,
            // The top bit of each byte of either half: set for every non-ASCII byte.
            _mm256_movemask_epi8(_mm256_or_si256(low, high)) as u32,
        )
    };
    fill_blocks(line, out, block)
}

#[cfg(target_arch = "x86_64")]
unsafe fn fill_sse2(line: &[u8], out: &mut [MaybeUninit<u64>]) -> (usize, bool) {
    use std::arch::x86_64::*;
    let (quote, backslash, control) = (_mm_set1_epi8(b'"' as i8), _mm_set1_epi8(b'\\' as i8), _mm_set1_epi8(0x1f));
    let (bit, brace) = (_mm_set1_epi8(0x20), _mm_set1_epi8(b'{' as i8));
    let block = |bytes: &[u8]| {
        let (mut special, mut bracket, mut high) = (0u64, 0u64, 0u32);
        for quarter in 0..4 {
            // Safety: `bytes` has 64 bytes; loads are unaligned.
            let v = unsafe { _mm_loadu_si128(bytes.as_ptr().add(16 * quarter).cast()) };
            let hits = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                _mm_cmpeq_epi8(_mm_max_epu8(v, control), control),
            );
            special |= (_mm_movemask_epi8(hits) as u32 as u64) << (16 * quarter);
            bracket |= (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_or_si128(v, bit), brace)) as u32 as u64) << (16 * quarter);
            high |= _mm_movemask_epi8(v) as u32;
        }
        (special, bracket.count_ones() as usize, high)
    };
    fill_blocks(line, out, block)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of every length up to three blocks, with special bytes and brackets at every
    /// position (and across the 32- and 64-byte seams), against the byte-by-byte definition.
    #[test]
    fn bitmaps_and_counts_match_the_definition() {
        // With and without non-ASCII bytes among the fillers (an ASCII line then has one
        // non-ASCII byte at `at` at most).
        let mixed: &[u8] = &[b'a', b' ', 0x7f, 0x80, 0xff, b'}', b']', b'z' + 1, b'[' - 1];
        let ascii: &[u8] = &[b'a', b' ', 0x7f, b'}', b']', b'z' + 1, b'[' - 1];
        for (fillers, len) in [mixed, ascii].into_iter().flat_map(|f| (0..200usize).map(move |len| (f, len))) {
            for at in (0..len).step_by(3).chain([len.saturating_sub(1)]) {
                for byte in [b'"', b'\\', 0, 0x1f, b'\n', b'[', b'{', 0x80, 0xff] {
                    let mut line: Vec<u8> = (0..len).map(|i| fillers[i % fillers.len()]).collect();
                    if at < len {
                        line[at] = byte;
                    }
                    let mut expected = vec![0; len.div_ceil(64)];
                    let (brackets, ascii) = fill_scalar(&line, as_uninit(&mut expected));
                    let specials = Specials::of(&line);
                    assert_eq!(specials.words(), &expected[..], "len {len} at {at}");
                    let (mut stack, mut heap) = ([MaybeUninit::new(!0); STACK_WORDS], Vec::new());
                    assert_eq!(fill_into(&line, &mut stack, &mut heap), (&expected[..], brackets, ascii));
                    assert_eq!(specials.brackets, brackets, "len {len} at {at}");
                    assert_eq!(specials.ascii, ascii, "len {len} at {at}");
                    assert_eq!(ascii, line.iter().all(u8::is_ascii), "len {len} at {at}");
                    #[cfg(target_arch = "x86_64")]
                    {
                        let mut sse2 = vec![0; len.div_ceil(64)];
                        // Safety: SSE2 is part of the x86_64 baseline.
                        assert_eq!(unsafe { fill_sse2(&line, as_uninit(&mut sse2)) }, (brackets, ascii));
                        assert_eq!(sse2, expected, "len {len} at {at}");
                    }
                    let first = line.iter().position(|&b| is_special(b));
                    assert_eq!(specials.next(0), first, "len {len} at {at}");
                    for from in (0..=len + 1).step_by(5).chain([at, at + 1, len]) {
                        let next = line.iter().skip(from).position(|&b| is_special(b)).map(|p| p + from);
                        assert_eq!(specials.next(from), next, "len {len} at {at} from {from}");
                    }
                }
            }
        }
    }

    #[test]
    fn long_lines_use_the_heap() {
        let mut line = vec![b'x'; STACK_WORDS * 64 + 100];
        line[STACK_WORDS * 64 + 7] = b'"';
        line[5] = b'{';
        let specials = Specials::of(&line);
        let (mut stack, mut heap) = ([MaybeUninit::uninit(); STACK_WORDS], Vec::new());
        assert_eq!(fill_into(&line, &mut stack, &mut heap), (specials.words(), 1, true));
        assert_eq!(specials.next(0), Some(STACK_WORDS * 64 + 7));
        assert_eq!(specials.next(STACK_WORDS * 64 + 8), None);
        assert_eq!(specials.brackets, 1);
        // Exact bracket counts of long lines (hundreds of blocks), with other bytes.
        for len in [127 * 64, 127 * 64 + 1, 254 * 64 + 63, 300 * 64 + 17] {
            let line: Vec<u8> = (0..len).map(|i| [b'[', b'{', b'{', b'"', 0xc3, b'x'][i % 6]).collect();
            let mut expected = vec![0; len.div_ceil(64)];
            let (brackets, ascii) = fill_scalar(&line, as_uninit(&mut expected));
            let specials = Specials::of(&line);
            assert_eq!(
                (specials.words(), specials.brackets, specials.ascii),
                (&expected[..], brackets, ascii),
                "len {len}"
            );
            assert_eq!((brackets, ascii), (len / 6 * 3 + (len % 6).min(3), false));
        }
    }
}
