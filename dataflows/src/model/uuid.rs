//! UUID normalisation with the leniency of Python's `uuid.UUID(str)`.

/// Python's rule: remove every `urn:` and `uuid:`, strip `{`/`}` from both ends, remove every
/// hyphen; 32 hex digits (any case) must remain. Returns the 128-bit value.
pub fn parse_uuid(text: &str) -> Option<u128> {
    if text.len() == 32 {
        // The common form: no allocation, no scanning for prefixes.
        return parse_hex32(text.as_bytes());
    }
    if let Some(value) = parse_dashed(text.as_bytes()) {
        return Some(value);
    }
    parse_general(text)
}

/// The dashed form `8-4-4-4-12` of 32 hex digits, without scanning for prefixes: `None` for
/// anything else (then [`parse_general`] decides). A value here is [`parse_general`]'s: the
/// 32 other bytes are hex digits, so there is no `urn:`, `uuid:` or brace to remove.
#[inline]
fn parse_dashed(b: &[u8]) -> Option<u128> {
    let b: &[u8; 36] = b.try_into().ok()?;
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let mut digits = [0u8; 32];
    digits[..8].copy_from_slice(&b[..8]);
    digits[8..12].copy_from_slice(&b[9..13]);
    digits[12..16].copy_from_slice(&b[14..18]);
    digits[16..20].copy_from_slice(&b[19..23]);
    digits[20..].copy_from_slice(&b[24..]);
    parse_hex32(&digits)
}

/// [`parse_uuid`]'s rule in full.
fn parse_general(text: &str) -> Option<u128> {
    let owned;
    let mut s = text;
    if s.contains("urn:") || s.contains("uuid:") {
        owned = s.replace("urn:", "").replace("uuid:", "");
        s = &owned;
    }
    let s = s.trim_matches(|c| c == '{' || c == '}');
    let mut value: u128 = 0;
    let mut digits = 0;
    for c in s.bytes() {
        if c == b'-' {
            continue;
        }
        let d = (c as char).to_digit(16)?;
        digits += 1;
        if digits > 32 {
            return None;
        }
        value = (value << 4) | u128::from(d);
    }
    (digits == 32).then_some(value)
}

/// Hex digit values; 0xFF marks a non-digit.
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Exactly 32 hex digits (any case).
fn parse_hex32(bytes: &[u8]) -> Option<u128> {
    #[cfg(target_arch = "x86_64")]
    {
        let (high, low) = (bytes.get(..16)?, bytes.get(16..32)?);
        Some((u128::from(hex16_sse2(high)?) << 64) | u128::from(hex16_sse2(low)?))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        parse_hex32_scalar(bytes)
    }
}

/// 16 hex digits (any case) → their value, 16 bytes at once: the table lookups of the scalar
/// version cost about 200 instructions per UUID, and each line has two or three.
#[cfg(target_arch = "x86_64")]
#[inline]
fn hex16_sse2(digits: &[u8]) -> Option<u64> {
    use std::arch::x86_64::*;
    if digits.len() != 16 {
        return None;
    }
    // Safety: SSE2 is part of the x86_64 baseline; the load is unaligned, of 16 bytes.
    unsafe {
        let v = _mm_loadu_si128(digits.as_ptr().cast());
        // `b - '0' <= 9` (unsigned) exactly for '0'..='9'; `(b | 0x20) - 'a' <= 5` exactly
        // for 'a'..='f' and 'A'..='F'.
        let digit = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
        let is_digit = _mm_cmpeq_epi8(_mm_min_epu8(digit, _mm_set1_epi8(9)), digit);
        let letter = _mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8(b'a' as i8));
        let is_letter = _mm_cmpeq_epi8(_mm_min_epu8(letter, _mm_set1_epi8(5)), letter);
        if _mm_movemask_epi8(_mm_or_si128(is_digit, is_letter)) != 0xFFFF {
            return None;
        }
        let nibbles = _mm_or_si128(
            _mm_and_si128(is_digit, digit),
            _mm_andnot_si128(is_digit, _mm_add_epi8(letter, _mm_set1_epi8(10))),
        );
        // Each 16-bit lane holds a pair (first digit in its low byte): first << 4 | second.
        let pairs = _mm_and_si128(
            _mm_or_si128(_mm_slli_epi16(nibbles, 4), _mm_srli_epi16(nibbles, 8)),
            _mm_set1_epi16(0xFF),
        );
        let bytes = _mm_cvtsi128_si64(_mm_packus_epi16(pairs, pairs)) as u64;
        // The first pair is the lowest byte and the most significant one of the value.
        Some(bytes.swap_bytes())
    }
}

/// Exactly 32 hex digits, branch-free per digit: about 10x `u128::from_str_radix`.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))] // The reference for the SSE2 version.
fn parse_hex32_scalar(bytes: &[u8]) -> Option<u128> {
    let half = |digits: &[u8]| -> (u64, u8) {
        digits.iter().fold((0u64, 0u8), |(value, bad), &c| {
            let d = HEX_VALUES[c as usize];
            ((value << 4) | u64::from(d & 0x0F), bad | d)
        })
    };
    let (high, bad_high) = half(&bytes[..16]);
    let (low, bad_low) = half(&bytes[16..32]);
    ((bad_high | bad_low) & 0xF0 == 0).then_some((u128::from(high) << 64) | u128::from(low))
}

/// 32 lowercase hex digits.
pub fn uuid_hex(value: u128) -> String {
    format!("{value:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_python_forms() {
        let plain = parse_uuid("0123456789abcdef0123456789abcdef").unwrap();
        for form in [
            "01234567-89ab-cdef-0123-456789abcdef",
            "{01234567-89AB-CDEF-0123-456789ABCDEF}",
            "urn:uuid:01234567-89ab-cdef-0123-456789abcdef",
            "0123456789ABCDEF0123456789ABCDEF",
        ] {
            assert_eq!(parse_uuid(form), Some(plain), "{form}");
        }
        assert_eq!(uuid_hex(plain), "0123456789abcdef0123456789abcdef");
        assert_eq!(parse_uuid("xyz"), None);
        assert_eq!(parse_uuid(" 0123456789abcdef0123456789abcdef"), None);
        assert_eq!(parse_uuid("+123456789abcdef0123456789abcdef"), None);
        assert_eq!(parse_uuid("0123456789-abcdef-0123-456789abcdef"), Some(plain));
        assert_eq!(parse_uuid("0123456789abcdef0123456789abcdef0"), None);
    }

    /// Every byte value at every position of a 32-digit form, against the scalar version.
    #[test]
    fn hex32_matches_the_scalar_version() {
        let base = *b"0123456789abcdefABCDEF0123456789";
        assert_eq!(parse_hex32(&base), parse_hex32_scalar(&base));
        assert_eq!(parse_hex32(&base), Some(0x0123456789abcdefabcdef0123456789));
        for at in 0..32 {
            for byte in 0..=255u8 {
                let mut text = base;
                text[at] = byte;
                assert_eq!(parse_hex32(&text), parse_hex32_scalar(&text), "{byte:#x} at {at}");
                let valid = byte.is_ascii_hexdigit();
                assert_eq!(parse_hex32(&text).is_some(), valid, "{byte:#x} at {at}");
            }
        }
        assert_eq!(parse_hex32(&[b'f'; 32]), Some(u128::MAX));
        assert_eq!(parse_hex32(&[b'0'; 32]), Some(0));
        assert_eq!(parse_hex32(&[b'0'; 31]), None);
    }

    /// The dashed form's shortcut against the general rule: every ASCII byte and a two-byte
    /// character at every position of dashed, braced and prefixed forms, dashes moved and
    /// removed, and the forms truncated and extended.
    #[test]
    fn the_dashed_form_is_the_general_rule() {
        let forms = [
            "01234567-89ab-cdef-0123-456789abcdef",
            "0123ABCD-89ab-CDEF-0123-456789abcdef",
            "{01234567-89ab-cdef-0123-456789abcdef}",
            "urn:uuid:01234567-89ab-cdef-0123-456789abcdef",
            "0123456789abcdef0123456789abcdef----",
            "-01234567-89ab-cdef-0123-456789abcde",
        ];
        for form in forms {
            let bytes = form.as_bytes();
            let mut texts = Vec::new();
            for at in 0..bytes.len() {
                for byte in 0..0x80u8 {
                    let mut text = bytes.to_vec();
                    text[at] = byte;
                    texts.push(String::from_utf8(text).unwrap());
                }
                let (head, tail) = form.split_at(at);
                texts.push(format!("{head}é{}", &tail[1..]));
                texts.push(format!("{head}-{tail}"));
                texts.push(format!("{head}{}", &tail[1..]));
                texts.push(head.to_string());
            }
            for text in texts {
                assert_eq!(parse_uuid(&text), parse_general(&text), "{text:?}");
            }
        }
        assert_eq!(parse_uuid(forms[0]), Some(0x0123456789abcdef0123456789abcdef));
        assert_eq!(parse_dashed(forms[0].as_bytes()), Some(0x0123456789abcdef0123456789abcdef));
        assert_eq!(parse_dashed(forms[2].as_bytes()), None);
    }
}
