//! Runs of ASCII digits read eight bytes at a time (SWAR), for the fast path's numbers: the
//! per-digit loop cost ~8 instructions a digit, and a float time has 16 digits.

use sonic_number::ParserNumber;

/// Powers of ten exactly representable as `f64`.
const EXACT_POWERS: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/// 10^n for n = 0..=8.
const POWERS: [u64; 9] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// How many of the eight bytes of `x` (little-endian: the first byte lowest) are ASCII digits
/// before the first byte that is not (8: all of them).
#[inline(always)]
pub(super) fn leading_digits(x: u64) -> usize {
    // Per byte, with the top bit cleared so that no sum carries into the next byte: at least
    // 0x3A (+ 0x46 reaches 0x80), below 0x30 (+ 0x50 stays below 0x80), or a top bit set.
    let low = x & LOW7;
    let not_digit = (x & HIGH) | ((low + 0x4646_4646_4646_4646) & HIGH) | (!(low + 0x5050_5050_5050_5050) & HIGH);
    (not_digit.trailing_zeros() / 8) as usize
}

/// The value of the first `n` (1..=8) bytes of `x`, which are ASCII digits.
#[inline(always)]
pub(super) fn digits_value(x: u64, n: usize) -> u64 {
    debug_assert!((1..=8).contains(&n));
    // Digit values; bytes past the first `n` (which may borrow) are shifted out, and the
    // digits move to the top as if preceded by zeros.
    let shift = 8 * (8 - n as u32);
    let v = x.wrapping_sub(0x3030_3030_3030_3030) << shift;
    // Pairs, then quadruples, then the eight: each step multiplies the left part by 10^k.
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let v = (v & 0x00FF_00FF_00FF_00FF)
        .wrapping_mul(100)
        .wrapping_add((v >> 16) & 0x00FF_00FF_00FF_00FF);
    let v = (v & 0x0000_FFFF_0000_FFFF)
        .wrapping_mul(10_000)
        .wrapping_add((v >> 32) & 0x0000_FFFF_0000_FFFF);
    v & 0xFFFF_FFFF
}

/// The ASCII digits of `s` from `i`: where they end and `value × 10^count + their value`
/// (wrapping, as the per-digit loop computed it).
#[inline(always)]
pub(super) fn digit_run(s: &[u8], mut i: usize, mut value: u64) -> (usize, u64) {
    while let Some(chunk) = s.get(i..i + 8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let x = u64::from_le_bytes(bytes);
        let n = leading_digits(x);
        if n == 0 {
            return (i, value);
        }
        value = value.wrapping_mul(POWERS[n]).wrapping_add(digits_value(x, n));
        i += n;
        if n < 8 {
            return (i, value);
        }
    }
    while let Some(digit) = s.get(i).map(|b| b.wrapping_sub(b'0')).filter(|&d| d <= 9) {
        value = value.wrapping_mul(10).wrapping_add(u64::from(digit));
        i += 1;
    }
    (i, value)
}

/// The plain numbers sonic-rs's parser would give without its general path: a non-negative
/// integer of 1 to 18 digits (no leading zero unless alone) as `Unsigned`, and such an
/// integer followed by a [`plain_decimal`] fraction as that `Float`. Its end and value;
/// `None`: another shape (the full number parser decides).
#[inline(always)]
pub(super) fn plain_number(s: &[u8], start: usize) -> Option<(usize, ParserNumber)> {
    let (end, value) = digit_run(s, start, 0);
    let length = end - start;
    if !(1..=18).contains(&length) || (s[start] == b'0' && length > 1) {
        return None;
    }
    match s.get(end) {
        Some(b'.') => plain_decimal(s, end + 1, value, length).map(|(end, x)| (end, ParserNumber::Float(x))),
        Some(b'e' | b'E') => None,
        _ => Some((end, ParserNumber::Unsigned(value))),
    }
}

/// A plain non-negative decimal `integer.fraction` (no exponent) whose digits, together, make
/// an integer of at most 2⁵³ (times): its value as the end of the number and `digits / 10^k`.
/// Both operands are exact and IEEE division rounds correctly, so this is the correctly
/// rounded value of the decimal — the one sonic-rs's parser returns (Clinger's fast path,
/// which it takes for these too). `None`: not of that shape; the caller parses it in full.
/// `integer` is the value of the `length` digits before the point (`at` is past the point).
#[inline]
pub(super) fn plain_decimal(s: &[u8], at: usize, integer: u64, length: usize) -> Option<(usize, f64)> {
    let (i, value) = digit_run(s, at, integer);
    let fraction = i - at;
    // At most 18 digits in all: no overflow above; then the value bound itself.
    if fraction == 0 || fraction >= EXACT_POWERS.len() || length + fraction > 18 || value > 1 << 53 || value == 0 {
        return None;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        return None;
    }
    Some((i, value as f64 / EXACT_POWERS[fraction]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-digit loop the run replaces.
    fn scalar_run(s: &[u8], mut i: usize, mut value: u64) -> (usize, u64) {
        while let Some(digit) = s.get(i).filter(|b| b.is_ascii_digit()) {
            value = value.wrapping_mul(10).wrapping_add(u64::from(digit - b'0'));
            i += 1;
        }
        (i, value)
    }

    #[test]
    fn leading_digits_of_every_byte_at_every_position() {
        for at in 0..8 {
            for byte in 0..=255u8 {
                let mut bytes = *b"01234567";
                bytes[at] = byte;
                let expected = if byte.is_ascii_digit() { 8 } else { at };
                assert_eq!(leading_digits(u64::from_le_bytes(bytes)), expected, "{byte:#x} at {at}");
                // Digits after a non-digit do not count; non-digits before do stop.
                let mut bytes = [byte; 8];
                bytes[..at].copy_from_slice(&b"98765432"[..at]);
                let expected = if byte.is_ascii_digit() { 8 } else { at };
                assert_eq!(leading_digits(u64::from_le_bytes(bytes)), expected, "{byte:#x} after {at}");
            }
        }
    }

    /// Runs of every length at every offset, followed by every byte value (and by the end of
    /// the slice), with carried values, against the per-digit loop; wrapping values too.
    #[test]
    fn runs_match_the_per_digit_loop() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for length in 0..=40 {
            for offset in 0..3 {
                for follower in (0..=255u8).step_by(3).chain([b'.', b'e', b'/', b':', b'0', b'9']) {
                    let mut s: Vec<u8> = b"x\",".iter().copied().take(offset).collect();
                    s.extend((0..length).map(|_| b'0' + (next() % 10) as u8));
                    let carried = next() % 1000;
                    assert_eq!(digit_run(&s, offset, carried), scalar_run(&s, offset, carried), "{s:?}");
                    s.push(follower);
                    s.extend_from_slice(b"123456789");
                    assert_eq!(digit_run(&s, offset, carried), scalar_run(&s, offset, carried), "{s:?}");
                }
            }
        }
        for n in 1..=8 {
            for _ in 0..10_000 {
                let mut bytes = next().to_le_bytes();
                for b in &mut bytes[..n] {
                    *b = b'0' + *b % 10;
                }
                let x = u64::from_le_bytes(bytes);
                assert_eq!(digits_value(x, n), scalar_run(&bytes[..n], 0, 0).1, "{bytes:?}");
            }
        }
        assert_eq!(digits_value(u64::from_le_bytes(*b"99999999"), 8), 99_999_999);
        assert_eq!(
            digit_run(b"99999999999999999999999", 0, 0),
            scalar_run(b"99999999999999999999999", 0, 0)
        );
    }

    /// Integers: the shapes sonic-rs reads as `Unsigned`, at its end (decimals are
    /// `plain_decimals_are_sonics_values` in the decoder's tests).
    #[test]
    fn plain_integers_are_the_shapes_sonic_reads_as_unsigned() {
        for (text, expected) in [
            ("0,", Some((1, 0))),
            ("7}", Some((1, 7))),
            ("60,", Some((2, 60))),
            ("123456789012345678]", Some((18, 123_456_789_012_345_678))),
            ("1234567890123456789,", None),
            ("01,", None),
            ("00", None),
            ("1e3", None),
            ("1E3", None),
            ("-1,", None),
            ("", None),
            (",", None),
            ("12345678", Some((8, 12_345_678))),
        ] {
            let plain = plain_number(text.as_bytes(), 0).map(|(end, number)| match number {
                ParserNumber::Unsigned(value) => (end, value),
                other => panic!("{text}: {other:?}"),
            });
            assert_eq!(plain, expected, "{text}");
            if let Some((end, value)) = expected {
                let mut index = 0;
                let number = sonic_number::parse_number(text.as_bytes(), &mut index, false);
                assert_eq!(index, end, "{text}");
                assert!(
                    matches!(number, Ok(sonic_number::ParserNumber::Unsigned(v)) if v == value),
                    "{text}"
                );
            }
        }
    }
}
