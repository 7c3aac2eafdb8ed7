//! Event times as integer microseconds since the Unix epoch (UTC).
//!
//! Integers keep comparisons exact (noise-gate expiry, quota buckets) and make every result
//! independent of float rounding.

pub type Micros = i64;

pub const MICROS_PER_SECOND: i64 = 1_000_000;

/// The microseconds of years 0001..=9999, the range of an ISO date.
const MICROS_RANGE: std::ops::RangeInclusive<i64> = -62_135_596_800_000_000..=253_402_300_799_000_000;

/// Seconds as a float (JSON number) → microseconds, rounded to the nearest (halves away from
/// zero, as `f64::round`).
pub fn micros_from_seconds(seconds: f64) -> Option<Micros> {
    let micros = seconds * 1e6;
    // Far outside the range (NaN and the infinities included): refused before the conversion.
    if !(-62_135_596_801e6..=253_402_300_800e6).contains(&micros) {
        return None;
    }
    let micros = round_to_integer(micros);
    MICROS_RANGE.contains(&micros).then_some(micros)
}

/// `x.round() as i64` for `|x| < 2⁶²` without `round` (a libm call on the baseline x86-64,
/// which has no rounding instruction): the conversion truncates, and the part it dropped is
/// exact (below 2⁵² in magnitude `x` and its integer part are multiples of its ulp, at most
/// 1/2; from 2⁵² on `x` is an integer and nothing is dropped).
#[inline]
fn round_to_integer(x: f64) -> i64 {
    let truncated = x as i64;
    let dropped = x - truncated as f64;
    if dropped >= 0.5 {
        truncated + 1
    } else if dropped <= -0.5 {
        truncated - 1
    } else {
        truncated
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.f{1,6}]` followed by `Z`, nothing, or (when `allow_offset`)
/// `±HH:MM`.
pub fn parse_iso(text: &str, allow_offset: bool) -> Result<Micros, String> {
    parse_iso_parts(text.as_bytes(), allow_offset).ok_or_else(|| format!("invalid datetime {text:?}"))
}

/// The value of the ASCII digits `b[from..to]`, `None` if one is not a digit.
#[inline(always)]
fn digits_at(b: &[u8], from: usize, to: usize) -> Option<i64> {
    let mut value = 0i64;
    for &byte in b.get(from..to)? {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + i64::from(digit);
    }
    Some(value)
}

/// Days from 1 March to the first of each month (index: the month, 1..=12): the month term
/// of [`days_from_civil`], `(153 * mp + 2) / 5` with `mp = (month + 9) % 12`.
const DAYS_BEFORE_MONTH: [u32; 13] = [0, 306, 337, 0, 31, 61, 92, 122, 153, 184, 214, 245, 275];

/// The 19-byte head `YYYY-MM-DDTHH:MM:SS` with `0` for every digit: separators must be these
/// bytes exactly, and digits are `0` plus their value.
const HEAD: &[u8; 19] = b"0000-00-00T00:00:00";

/// Eight bytes of `head` from `at`, little-endian (the first byte lowest).
#[inline(always)]
const fn word(head: &[u8; 19], at: usize) -> u64 {
    let mut value = 0u64;
    let mut i = 0;
    while i < 8 {
        value |= (head[at + i] as u64) << (8 * i);
        i += 1;
    }
    value
}

/// 0xF0 in the byte of each of [`HEAD`]'s digits among its eight bytes from `at`.
const fn digit_mask(at: usize) -> u64 {
    let mut mask = 0u64;
    let mut i = 0;
    while i < 8 {
        if HEAD[at + i] == b'0' {
            mask |= 0xF0 << (8 * i);
        }
        i += 1;
    }
    mask
}

/// `text`'s eight bytes from `AT` less [`HEAD`]'s (digit values at digit positions, 0 at
/// separators), or `None` unless the separators are exactly [`HEAD`]'s and the other bytes
/// ASCII digits: all eight bytes in a few word operations.
#[inline(always)]
fn head_word<const AT: usize>(text: &[u8; 19]) -> Option<u64> {
    let template = const { word(HEAD, AT) };
    let digits = const { digit_mask(AT) };
    // 0xF0 for digits, 0xFF for separators.
    let mask = const { digit_mask(AT) | !(digit_mask(AT) | digit_mask(AT) >> 4) };
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&text[AT..AT + 8]);
    // One load (`word` is for the constants: built byte by byte).
    let x = u64::from_le_bytes(bytes);
    // Separators exact and digits in 0x30..=0x3F; then no byte carries when 6 is added to
    // each digit's byte, and 0x30..=0x39 are the digit bytes that stay below 0x40.
    if x & mask != template & mask || (x + (digits >> 4 & 0x0606_0606_0606_0606)) & digits != template & digits {
        return None;
    }
    // No byte borrows: each is at least its template byte.
    Some(x - template)
}

/// [`parse_iso`] without its error text (built only for the rare invalid date). The fixed
/// head is checked and read a word at a time, and the days are those of [`days_from_civil`]
/// without its handling of years before 1 (refused here).
fn parse_iso_parts(b: &[u8], allow_offset: bool) -> Option<Micros> {
    let text: &[u8; 19] = b.get(..19)?.try_into().ok()?;
    let (date, time, clock) = (head_word::<0>(text)?, head_word::<8>(text)?, head_word::<11>(text)?);
    // Byte i becomes 10 × digit i + digit i + 1 (at most 99: no carries).
    let pairs = |v: u64| v * 10 + (v >> 8);
    let (date, time, clock) = (pairs(date), pairs(time), pairs(clock));
    let byte = |v: u64, i: u32| (v >> (8 * i)) as u32 & 0xFF;
    // "YYYY-MM-", "DDTHH:MM", "HH:MM:SS".
    let year = byte(date, 0) * 100 + byte(date, 2);
    let (month, day) = (byte(date, 5), byte(time, 0));
    let (hour, minute, second) = (byte(time, 3), byte(time, 6), byte(clock, 6));
    if year == 0
        || !(1..=12).contains(&month)
        || day < 1
        || i64::from(day) > days_in_month(i64::from(year), i64::from(month))
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &b[19..];
    let mut fraction = 0i64;
    if let Some((b'.', tail)) = rest.split_first() {
        // Microseconds per unit of the last fractional digit, for 1 to 6 digits.
        const SCALE: [i64; 7] = [0, 100_000, 10_000, 1_000, 100, 10, 1];
        let (digits, value) = match b.get(19..27) {
            // The dot and seven bytes after it (the usual `.ffffffZ` and longer): the digits
            // read as one word.
            Some(window) => fraction_word(u64::from_le_bytes(window.try_into().ok()?) >> 8)?,
            None => {
                let mut digits = 0;
                let mut value = 0i64;
                while let Some(digit) = tail.get(digits).map(|c| c.wrapping_sub(b'0')).filter(|&d| d <= 9) {
                    if digits == 6 {
                        // Seven digits or more.
                        return None;
                    }
                    value = value * 10 + i64::from(digit);
                    digits += 1;
                }
                (digits, value)
            }
        };
        fraction = value * *SCALE.get(digits).filter(|&&scale| scale != 0)?;
        rest = &tail[digits..];
    }
    let offset_seconds = offset_seconds(rest, allow_offset)?;
    // `days_from_civil` for a year of at least 1 (so `y` ≥ 0): unsigned, the month's term
    // from a table.
    let y = year - u32::from(month <= 2);
    let days = i64::from(y * 365 + y / 4 - y / 100 + y / 400 + DAYS_BEFORE_MONTH[month as usize] + day - 1) - 719_468;
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_seconds;
    Some(seconds * MICROS_PER_SECOND + fraction)
}

/// The fraction's leading digits in `x` (the seven bytes after the dot, little-endian, the top
/// byte zero) and their value; `None` for seven digits (or more: the top byte is no digit),
/// which the byte loop refuses too. Zero digits give `(0, 0)`, refused by the caller's scale.
#[inline(always)]
fn fraction_word(x: u64) -> Option<(usize, i64)> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low = x & 0x7F7F_7F7F_7F7F_7F7F;
    // The top bit of each byte that is not an ASCII digit: non-ASCII, above `9` (adding 0x46
    // carries into bit 7) or below `0` (adding 0x50 does not).
    let not_digit = (x & HIGH) | ((low + 0x4646_4646_4646_4646) & HIGH) | (!(low + 0x5050_5050_5050_5050) & HIGH);
    let digits = (not_digit.trailing_zeros() / 8) as usize;
    if digits == 0 {
        return Some((0, 0));
    }
    if digits > 6 {
        return None;
    }
    // The digits' values in the top `digits` bytes, zeros below (leading zeros): the lower
    // bytes are digits, so subtracting borrows only into bytes shifted out.
    let v = x.wrapping_sub(0x3030_3030_3030_3030) << (8 * (8 - digits));
    // Pairs, then fours, then all eight (the first digit most significant).
    let v = (v & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(2561) >> 8;
    let v = (v & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601) >> 16;
    let v = (v & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001) >> 32;
    Some((digits, v as i64))
}

/// The seconds east of UTC of what follows a timestamp's seconds and fraction: `Z` or
/// nothing (0), or (when `allow_offset`) `±HH:MM`.
fn offset_seconds(rest: &[u8], allow_offset: bool) -> Option<i64> {
    match rest {
        [] | [b'Z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] if allow_offset => {
            let (hours, minutes) = (digits_at(&[*h1, *h2], 0, 2)?, digits_at(&[*m1, *m2], 0, 2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            Some(if *sign == b'+' { offset } else { -offset })
        }
        _ => None,
    }
}

/// `2024-01-01T12:00:00.123456Z`: six fractional digits, always UTC.
///
/// Written digit by digit into a fixed buffer: `format!` with seven padded integers cost
/// ~3,000 instructions a call, and a dump or an issues page formats four per group.
pub fn format_iso(micros: Micros) -> String {
    match iso_bytes(micros) {
        // ASCII digits and separators: valid UTF-8 (checked word by word, never fails).
        Ok(out) => std::str::from_utf8(&out).map(str::to_owned).unwrap_or_default(),
        Err(text) => text,
    }
}

/// [`format_iso`]'s bytes in a stack buffer (no allocation), or, for a year outside four
/// digits, the text as `{:04}` pads it (a sign, or a fifth digit).
pub fn iso_bytes(micros: Micros) -> Result<[u8; 27], String> {
    let seconds = micros.div_euclid(MICROS_PER_SECOND);
    let fraction = micros.rem_euclid(MICROS_PER_SECOND) as u32;
    let days = seconds.div_euclid(86_400);
    let in_day = seconds.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    let Ok(year @ 0..=9999) = u32::try_from(year) else {
        return Err(format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}Z",
            in_day / 3600,
            in_day % 3600 / 60,
            in_day % 60
        ));
    };
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    put_digits(&mut out[0..4], year);
    put_digits(&mut out[5..7], month);
    put_digits(&mut out[8..10], day);
    put_digits(&mut out[11..13], in_day / 3600);
    put_digits(&mut out[14..16], in_day % 3600 / 60);
    put_digits(&mut out[17..19], in_day % 60);
    put_digits(&mut out[20..26], fraction);
    Ok(out)
}

/// `value`'s last `out.len()` decimal digits into `out`, zero-padded.
fn put_digits(out: &mut [u8], mut value: u32) {
    for byte in out.iter_mut().rev() {
        *byte = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The general form of [`parse_iso_parts`] (session 11's), the tests' reference.
    fn parse_iso_reference(b: &[u8], allow_offset: bool) -> Option<Micros> {
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (year, month, day) = (digits_at(b, 0, 4)?, digits_at(b, 5, 7)?, digits_at(b, 8, 10)?);
        let (hour, minute, second) = (digits_at(b, 11, 13)?, digits_at(b, 14, 16)?, digits_at(b, 17, 19)?);
        if year == 0 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59
        {
            return None;
        }
        let mut rest = &b[19..];
        let mut fraction = 0i64;
        if let Some((b'.', tail)) = rest.split_first() {
            let digits = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            // Microseconds per unit of the last fractional digit, for 1 to 6 digits.
            const SCALE: [i64; 7] = [0, 100_000, 10_000, 1_000, 100, 10, 1];
            let scale = *SCALE.get(digits).filter(|&&scale| scale != 0)?;
            fraction = digits_at(tail, 0, digits)? * scale;
            rest = &tail[digits..];
        }
        let offset_seconds = offset_seconds(rest, allow_offset)?;
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
        Some(seconds * MICROS_PER_SECOND + fraction)
    }

    /// The formatter against `format!`'s padding, over the whole range of microseconds a
    /// timestamp can hold: four-digit years, and the years outside them.
    #[test]
    fn format_iso_writes_what_format_pads() {
        fn reference(micros: Micros) -> String {
            let seconds = micros.div_euclid(MICROS_PER_SECOND);
            let fraction = micros.rem_euclid(MICROS_PER_SECOND);
            let in_day = seconds.rem_euclid(86_400);
            let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
            format!(
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}Z",
                in_day / 3600,
                in_day % 3600 / 60,
                in_day % 60
            )
        }
        let mut next = crate::test_rng::below(0x2545_f491_4f6c_dd1d);
        // Year 0 starts at -62,167,219,200 s; year 10000 at 253,402,300,800 s.
        let edges = [
            0,
            -1,
            1,
            -62_167_219_200 * MICROS_PER_SECOND,
            -62_167_219_200 * MICROS_PER_SECOND - 1,
            253_402_300_800 * MICROS_PER_SECOND,
            253_402_300_800 * MICROS_PER_SECOND - 1,
            i64::MAX / 2,
            i64::MIN / 2,
        ];
        let random = (0..200_000).map(|_| {
            let span = 2 * 300_000_000_000 * MICROS_PER_SECOND as u64;
            next(span) as i64 - 300_000_000_000 * MICROS_PER_SECOND
        });
        for micros in edges.into_iter().chain(random) {
            assert_eq!(format_iso(micros), reference(micros), "{micros}");
        }
    }

    #[test]
    fn round_trips_and_offsets() {
        let t = parse_iso("2024-01-01T12:00:00.123456", false).unwrap();
        assert_eq!(t, 1_704_110_400_123_456);
        assert_eq!(format_iso(t), "2024-01-01T12:00:00.123456Z");
        assert_eq!(parse_iso("2024-01-01T12:00:00Z", false).unwrap(), 1_704_110_400_000_000);
        assert_eq!(parse_iso("2024-06-06T22:43:01.1+00:00", true).unwrap(), 1_717_713_781_100_000);
        assert_eq!(parse_iso("2024-01-01T13:00:00+01:00", true).unwrap(), 1_704_110_400_000_000);
        assert!(parse_iso("2024-01-01T13:00:00+01:00", false).is_err());
        assert!(parse_iso("2024-02-30T00:00:00", false).is_err());
        assert!(parse_iso("2024-01-01T00:00:00.1234567", false).is_err());
        assert_eq!(format_iso(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(micros_from_seconds(1717713781.1), Some(1_717_713_781_100_000));
        assert_eq!(micros_from_seconds(f64::NAN), None);
    }

    /// Each fraction length, offsets at their limits, and every byte of a valid date replaced
    /// by each of a set of bytes: accepted exactly when the result is still a valid form, with
    /// the error text naming the input.
    #[test]
    fn parse_iso_accepts_exactly_the_forms() {
        let base = 1_717_713_781_000_000;
        for (fraction, micros) in [("", 0), (".1", 100_000), (".12", 120_000), (".123456", 123_456), (".000001", 1)] {
            let text = format!("2024-06-06T22:43:01{fraction}Z");
            assert_eq!(parse_iso(&text, false), Ok(base + micros), "{text}");
        }
        for bad in [
            "2024-06-06T22:43:01.",
            "2024-06-06T22:43:01.Z",
            "2024-06-06T22:43:01.1234567",
            "2024-06-06T22:43:0",
        ] {
            assert_eq!(parse_iso(bad, true), Err(format!("invalid datetime {bad:?}")));
        }
        assert_eq!(
            parse_iso("2024-06-06T22:43:01-23:59", true),
            Ok(base + (23 * 3600 + 59 * 60) * MICROS_PER_SECOND)
        );
        for bad in [
            "2024-06-06T22:43:01+24:00",
            "2024-06-06T22:43:01+00:60",
            "2024-06-06T22:43:01+0a:00",
            "2024-06-06T22:43:01+00:00Z",
        ] {
            assert!(parse_iso(bad, true).is_err(), "{bad}");
        }
        assert_eq!(parse_iso("2024-02-29T00:00:00", false), Ok(1_709_164_800_000_000));
        assert!(parse_iso("2023-02-29T00:00:00", false).is_err());
        assert!(parse_iso("0000-01-01T00:00:00", false).is_err());
        assert!(parse_iso("2024-01-01T24:00:00", false).is_err());
        let valid = "2024-06-06T22:43:01.5+01:30";
        for at in 0..valid.len() {
            for byte in [b'0', b'9', b'/', b':', b'-', b'+', b'.', b'Z', b'T', b' ', b'a'] {
                let mut text = valid.as_bytes().to_vec();
                text[at] = byte;
                let text = String::from_utf8(text).unwrap();
                let was = valid.as_bytes()[at];
                // Digits for digits, or the other sign: still of the form.
                let same_form = (was.is_ascii_digit() && byte.is_ascii_digit()) || (was == b'+' && byte == b'-');
                if byte == was {
                    assert!(parse_iso(&text, true).is_ok(), "{text}");
                } else if !same_form {
                    // A separator or digit replaced by something else (other than the other
                    // sign) is refused; digits for digits stay valid or fail by range.
                    assert!(parse_iso(&text, true).is_err(), "{text}");
                }
            }
        }
    }

    /// Rounding by truncation gives `f64::round`'s value (and range), at halves, at the
    /// range's ends, at the float spacing's steps and for pseudo-random values.
    #[test]
    fn micros_round_as_f64_round() {
        let reference = |seconds: f64| {
            if !seconds.is_finite() {
                return None;
            }
            let micros = (seconds * 1e6).round();
            (-62_135_596_800e6..=253_402_300_799e6).contains(&micros).then_some(micros as i64)
        };
        let mut values = vec![
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN,
            1e300,
            -1e300,
        ];
        for base in [0.0, 1.0, 1704067201.0, -62_135_596_800.0, 253_402_300_799.0, 4.5e9, -4.5e9] {
            for micros in -3..=3 {
                for half in [-0.5, -0.4999999, 0.0, 0.4999999, 0.5, 0.5000001] {
                    let seconds = base + (f64::from(micros) + half) / 1e6;
                    values.extend([
                        seconds,
                        -seconds,
                        f64::from_bits(seconds.to_bits() + 1),
                        f64::from_bits(seconds.to_bits().saturating_sub(1)),
                    ]);
                }
            }
        }
        for exponent in 40..64 {
            let x = 2f64.powi(exponent) / 1e6;
            values.extend([x, -x, x + 0.5 / 1e6, -x - 0.5 / 1e6]);
        }
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..1_000_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            values.push(f64::from_bits(seed));
            // Times as producers write them: up to 9999, microseconds and beyond.
            values.push((seed % 300_000_000_000_000_000) as f64 / 1e6 - 62_135_596_800.0);
            values.push((seed % 2_000_000_000_000_000) as f64 / 1e9);
        }
        for seconds in values {
            assert_eq!(micros_from_seconds(seconds), reference(seconds), "{seconds:e}");
        }
    }

    /// The word-at-a-time head against the general form: valid dates of every shape, each
    /// byte replaced by every byte value, truncated and extended, dates around month ends,
    /// leap years and the ends of the year range, and pseudo-random byte strings.
    #[test]
    fn the_fast_form_agrees_with_the_reference() {
        let check = |text: &[u8]| {
            for allow_offset in [false, true] {
                assert_eq!(
                    parse_iso_parts(text, allow_offset),
                    parse_iso_reference(text, allow_offset),
                    "{:?} {allow_offset}",
                    String::from_utf8_lossy(text)
                );
            }
        };
        let valid = [
            "2024-06-06T22:43:01.509012+00:00",
            "2024-01-01T00:00:00.509012Z",
            "2024-01-01T00:00:00.509",
            "2024-12-31T23:59:59",
            "2024-02-29T12:00:00.1-23:59",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999Z",
            "1970-01-01T00:00:00",
            // Fractions of every length read as one word (27 bytes or more) and not.
            "2024-01-01T00:00:00.1+01:30",
            "2024-01-01T00:00:00.12-00:00",
            "2024-01-01T00:00:00.123+00:00",
            "2024-01-01T00:00:00.1234+00:00",
            "2024-01-01T00:00:00.12345+00:00",
            "2024-01-01T00:00:00.00000Z",
            "2024-01-01T00:00:00.098765Z",
            "2024-01-01T00:00:00.12Z",
        ];
        for text in valid {
            assert!(parse_iso_reference(text.as_bytes(), true).is_some(), "{text}");
            check(text.as_bytes());
            for at in 0..text.len() {
                for byte in 0..=255u8 {
                    let mut mutated = text.as_bytes().to_vec();
                    mutated[at] = byte;
                    check(&mutated);
                }
                check(&text.as_bytes()[..at]);
                let mut removed = text.as_bytes().to_vec();
                removed.remove(at);
                check(&removed);
                for byte in [b'0', b'9', b'-', b':', b'.', b'Z', b'+'] {
                    let mut inserted = text.as_bytes().to_vec();
                    inserted.insert(at, byte);
                    check(&inserted);
                }
            }
            for extra in ["0", "00", "Z", "+00:00", "0Z", ".1", " "] {
                check(format!("{text}{extra}").as_bytes());
            }
        }
        for year in (0..=9999).step_by(7).chain([0, 1, 4, 100, 400, 1600, 1900, 2000, 2100, 9996, 9999]) {
            for month in 0..=13 {
                for day in [0, 1, 27, 28, 29, 30, 31, 32] {
                    check(format!("{year:04}-{month:02}-{day:02}T23:59:59Z").as_bytes());
                }
            }
        }
        for (hour, minute, second) in [(23, 59, 59), (24, 0, 0), (0, 60, 0), (0, 0, 60), (99, 99, 99)] {
            check(format!("2024-03-01T{hour:02}:{minute:02}:{second:02}").as_bytes());
        }
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200_000 {
            let mut text = valid[(next() % valid.len() as u64) as usize].as_bytes().to_vec();
            for _ in 0..1 + next() % 3 {
                let at = (next() % text.len() as u64) as usize;
                const BYTES: &[u8] = b"0123456789-:T.Z+ \xff";
                text[at] = BYTES[(next() % BYTES.len() as u64) as usize];
            }
            check(&text);
        }
    }
}
