//! JSON strings written as `serde_json` writes them, without going through its serializer:
//! the bytes that need an escape are found 16 at a time (SSE2; eight at a time by word
//! arithmetic elsewhere and in the tail), and the runs between them copied whole. Used by the
//! `--dump-issues` writer, where most strings need no escape, and fit for text with a
//! special byte every few bytes, such as a raw JSON line, where a word-at-a-time scan that
//! falls back to a byte test per special was slower than `serde_json`'s per-byte table.

/// Whether `serde_json` escapes `byte` in a string: `"`, `\` and the control characters
/// below U+0020 (U+007F, U+2028 and all other non-ASCII pass through unchanged).
#[inline(always)]
pub fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Whether any of the eight bytes of `word` needs escaping (exact: no false positives).
#[inline(always)]
fn word_needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte below 0x20: the classic `hasless(x, n)` test, exact for n ≤ 128; a byte equal
    // to `c`: `haszero(x ^ c·ONES)`. Both ignore bytes ≥ 0x80 (`& !word`, `& !x`), which
    // are never `"`, `\` or controls.
    let below = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (below | quote | backslash) & HIGH != 0
}

/// Appends `text` as a JSON string (quoted and escaped).
pub fn push_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    push_escaped(out, text);
    out.push(b'"');
}

/// Appends `text`'s escaped bytes, without the quotes.
pub fn push_escaped(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    // `bytes[run..i]` needs no escape and is not yet copied.
    let mut run = 0;
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    while let Some(block) = bytes.get(i..i + 16) {
        // Dense specials (a raw JSON line has a quote every few bytes) cost one bit each
        // here; the word loop below would test a word and then a byte for each of them.
        let mut specials = sse2::specials(block);
        while specials != 0 {
            let at = i + specials.trailing_zeros() as usize;
            out.extend_from_slice(&bytes[run..at]);
            escape(out, bytes[at]);
            run = at + 1;
            specials &= specials - 1;
        }
        i += 16;
    }
    while i < bytes.len() {
        if let Some(word) = bytes[i..].first_chunk::<8>() {
            if !word_needs_escape(u64::from_le_bytes(*word)) {
                i += 8;
                continue;
            }
        }
        let byte = bytes[i];
        if needs_escape(byte) {
            out.extend_from_slice(&bytes[run..i]);
            escape(out, byte);
            run = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&bytes[run..]);
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};

    /// One bit per byte of `block` (bit `k` for `block[k]`) that needs escaping.
    #[inline(always)]
    pub(super) fn specials(block: &[u8]) -> u32 {
        assert_eq!(block.len(), 16);
        // Safety: SSE2 is part of every x86_64 target; the load reads the 16 bytes of
        // `block` (checked above) and allows any alignment.
        unsafe {
            let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // Unsigned `v <= 0x1f` is `min(v, 0x1f) == v`.
            let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
        }
    }
}

/// Appends `n` in decimal (a JSON number).
#[inline]
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every one- and two-byte ASCII text, and texts placing each special byte at every
    /// position of a word and across word boundaries, among non-ASCII text.
    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let mut texts: Vec<String> = Vec::new();
        for a in 0..=0x7fu8 {
            texts.push(char::from(a).to_string());
            for b in 0..=0x7fu8 {
                texts.push([char::from(a), char::from(b)].iter().collect());
            }
        }
        let fillers = [
            "",
            "a",
            "abcdefg",
            "abcdefgh",
            "é€😀",
            "\u{2028}\u{7f}xyz",
            "{\"k\":\"v\",\"n\":[1,2]}",
        ];
        for special in ['"', '\\', '\n', '\t', '\u{0}', '\u{1f}', '\u{8}', '\u{c}', '\r', 'a'] {
            for before in 0..17 {
                for filler in fillers {
                    let mut text: String = "x".repeat(before);
                    text.push(special);
                    text.push_str(filler);
                    text.push(special);
                    text.push_str(&"y".repeat(before % 9));
                    texts.push(text);
                }
            }
        }
        for text in &texts {
            let mut written = Vec::new();
            push_string(&mut written, text);
            assert_eq!(written, serde_json::to_vec(text).expect("JSON"), "{text:?}");
        }
    }

    /// Each ASCII byte at each position of texts up to three 16-byte blocks long, among
    /// plain ASCII and among two-byte characters (bytes ≥ 0x80 beside it).
    #[test]
    fn each_byte_is_escaped_at_each_position() {
        for filler in ["a", "é"] {
            for chars in 1..40 {
                for at in 0..chars {
                    for byte in 0..0x80u8 {
                        let text: String = (0..chars)
                            .map(|k| {
                                if k == at {
                                    char::from(byte).to_string()
                                } else {
                                    filler.to_string()
                                }
                            })
                            .collect();
                        let mut written = Vec::new();
                        push_string(&mut written, &text);
                        assert_eq!(written, serde_json::to_vec(&text).expect("JSON"), "{text:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn decimals_read_as_numbers() {
        for n in [0, 1, 9, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }

    #[test]
    fn the_word_test_agrees_with_the_byte_test() {
        // Each byte value at each lane, the other lanes plain or high.
        for lane in 0..8 {
            for byte in 0..=255u8 {
                for fill in [b'a', 0x80, 0xff, b' '] {
                    let mut word = [fill; 8];
                    word[lane] = byte;
                    assert_eq!(
                        word_needs_escape(u64::from_le_bytes(word)),
                        word.iter().any(|&b| needs_escape(b)),
                        "{word:?}"
                    );
                }
            }
        }
    }
}
