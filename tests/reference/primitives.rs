//! The reference model's MD5, UUIDs and times, written by hand so that it shares no code
//! with the engine.

#![allow(dead_code)]

use super::*;

// ---------------------------------------------------------------------------------------------
// MD5 (RFC 1321), written out so the model needs no extra dependency
// ---------------------------------------------------------------------------------------------

pub fn md5_hex(data: &[u8]) -> String {
    // per-round shift amounts
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23,
        4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    // K[i] = floor(2^32 * |sin(i + 1)|)
    const K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1,
        0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453,
        0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942,
        0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05,
        0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d,
        0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
    ];
    const HEX: &[u8; 16] = b"0123456789abcdef";

    // padding: 0x80, zeros up to 56 mod 64, then the bit length (little endian)
    let mut msg = Vec::with_capacity(data.len() + 72);
    msg.extend_from_slice(data);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());

    let mut state: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    for chunk in msg.chunks_exact(64) {
        let mut m = [0u32; 16];
        for (j, word) in m.iter_mut().enumerate() {
            *word = u32::from_le_bytes([chunk[4 * j], chunk[4 * j + 1], chunk[4 * j + 2], chunk[4 * j + 3]]);
        }
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(K[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        state[0] = state[0].wrapping_add(a);
        state[1] = state[1].wrapping_add(b);
        state[2] = state[2].wrapping_add(c);
        state[3] = state[3].wrapping_add(d);
    }
    let mut out = Vec::with_capacity(32);
    for word in state {
        for byte in word.to_le_bytes() {
            out.push(HEX[(byte >> 4) as usize]);
            out.push(HEX[(byte & 15) as usize]);
        }
    }
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------------------------------------
// UUIDs
// ---------------------------------------------------------------------------------------------

/// 32 hex digits or 8-4-4-4-12, optionally wrapped in `{}`, optionally prefixed `urn:uuid:`
/// (SPEC: prefix outside the braces, i.e. `urn:uuid:{…}`; the prefix is matched lowercase
/// only, as Python's `str.replace` does), hex digits in any case. Returns 32 lowercase hex.
pub fn parse_uuid(s: &str) -> Option<String> {
    // Python's uuid.UUID(str): drop "urn:" and "uuid:", strip braces, drop every hyphen; what
    // remains must be 32 hex digits.
    let t = s.replace("urn:", "").replace("uuid:", "");
    let t = t.trim_matches(|c| c == '{' || c == '}').replace('-', "");
    if t.len() != 32 || !t.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Some(t.to_ascii_lowercase())
}

// ---------------------------------------------------------------------------------------------
// Time: integer microseconds since the epoch, civil calendar by hand
// ---------------------------------------------------------------------------------------------

pub(super) const US_PER_SEC: i64 = 1_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub(super) fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(super) fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

/// SPEC: times must lie in Python's datetime range, 0001-01-01 … 9999-12-31T23:59:59.999999.
pub(super) fn min_time_us() -> i64 {
    days_from_civil(1, 1, 1) * 86_400 * US_PER_SEC
}
pub(super) fn max_time_us() -> i64 {
    days_from_civil(10_000, 1, 1) * 86_400 * US_PER_SEC - 1
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn format_time(us: i64) -> String {
    let secs = us.div_euclid(US_PER_SEC);
    let frac = us.rem_euclid(US_PER_SEC);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        y,
        m,
        d,
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        frac
    )
}

pub(super) fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(b.iter().fold(0i64, |acc, c| acc * 10 + (c - b'0') as i64))
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,6}][Z]`, plus `±HH:MM` instead of `Z` when `allow_offset`.
pub fn parse_time_str(s: &str, allow_offset: bool) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut i = 19;
    let mut micros = 0i64;
    if i < b.len() && b[i] == b'.' {
        let start = i + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        let n = end - start;
        if n == 0 || n > 6 {
            return None;
        }
        micros = digits(&b[start..end])? * 10i64.pow((6 - n) as u32);
        i = end;
    }
    let mut offset_secs = 0i64;
    if i < b.len() {
        if b[i] == b'Z' && i + 1 == b.len() {
            i += 1;
        } else if allow_offset && (b[i] == b'+' || b[i] == b'-') && b.len() - i == 6 && b[i + 3] == b':' {
            let oh = digits(&b[i + 1..i + 3])?;
            let om = digits(&b[i + 4..i + 6])?;
            if oh > 23 || om > 59 {
                return None;
            }
            let sign = if b[i] == b'+' { 1 } else { -1 };
            offset_secs = sign * (oh * 3600 + om * 60);
            i += 6;
        } else {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    let us = secs * US_PER_SEC + micros;
    if us < min_time_us() || us > max_time_us() {
        return None;
    }
    Some(us)
}

/// Epoch seconds (an f64) to the nearest microsecond, computed exactly from the f64's bits;
/// SPEC: exact halves round to even (as Python's `datetime.fromtimestamp`).
pub fn secs_f64_to_us(x: f64) -> Option<i64> {
    if !x.is_finite() {
        return None;
    }
    if x == 0.0 {
        return Some(0);
    }
    let bits = x.to_bits();
    let negative = bits >> 63 == 1;
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    let (mantissa, e) = if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp - 1075)
    };
    if e >= 0 {
        // |x| >= 2^52 s: far outside the accepted range.
        return None;
    }
    // |x| * 1e6 = mantissa * 1e6 / 2^(-e)
    let num: u128 = mantissa as u128 * 1_000_000u128;
    let shift = (-e) as u32;
    let magnitude: u128 = if shift >= 127 {
        0 // num < 2^73, far below half of 2^shift
    } else {
        let q = num >> shift;
        let r = num & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        if r > half || (r == half && q & 1 == 1) {
            q + 1
        } else {
            q
        }
    };
    if magnitude > i64::MAX as u128 {
        return None;
    }
    let us = if negative { -(magnitude as i64) } else { magnitude as i64 };
    if us < min_time_us() || us > max_time_us() {
        return None;
    }
    Some(us)
}

/// A time field: JSON number (epoch seconds) or string.
pub(super) fn parse_time_value(v: &Value, allow_offset: bool) -> Option<i64> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let us = i.checked_mul(US_PER_SEC)?;
                if us < min_time_us() || us > max_time_us() {
                    return None;
                }
                Some(us)
            } else if n.is_u64() {
                None // > i64::MAX seconds
            } else {
                secs_f64_to_us(n.as_f64()?)
            }
        }
        Value::String(s) => parse_time_str(s, allow_offset),
        _ => None,
    }
}
