//! Hand-rolled JSON byte formatting into a reused buffer: no `serde_json` or `format!` on the hot
//! path, and every number and time is rendered from integers so output is byte-identical
//! everywhere.

use super::US;

pub(super) const HEX: &[u8; 16] = b"0123456789abcdef";
const HEX_UP: &[u8; 16] = b"0123456789ABCDEF";

/// Short name because the line writers call it for nearly every literal they emit.
#[inline]
pub(super) fn s(b: &mut Vec<u8>, x: &str) {
    b.extend_from_slice(x.as_bytes());
}

pub(super) use dataflows::model::json_string::push_u64;

#[inline]
pub(super) fn push_i64(b: &mut Vec<u8>, v: i64) {
    if v < 0 {
        b.push(b'-');
    }
    push_u64(b, v.unsigned_abs());
}

/// Zero-padded decimal of fixed width.
#[inline]
fn push_pad(b: &mut Vec<u8>, mut v: u64, width: usize) {
    let start = b.len();
    b.resize(start + width, b'0');
    let mut i = start + width;
    while i > start {
        i -= 1;
        b[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

#[inline]
pub(super) fn push_hex64(b: &mut Vec<u8>, v: u64, nibbles: u32, table: &[u8; 16]) {
    for i in (0..nibbles).rev() {
        b.push(table[((v >> (i * 4)) & 0xf) as usize]);
    }
}

/// UUID textual forms (all accepted by the decoder).
#[derive(Clone, Copy)]
pub(super) enum UuidForm {
    Hex,
    Hyphenated,
    UpperHex,
    UpperHyphenated,
    Braced,
    Urn,
}

pub(super) fn push_uuid(b: &mut Vec<u8>, hi: u64, lo: u64, form: UuidForm) {
    // Make it look like a uuid4: version nibble 4, variant 10xx.
    let hi = (hi & !(0xf << 12)) | (0x4 << 12);
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    let (t, hyph) = match form {
        UuidForm::Hex => (HEX, false),
        UuidForm::Hyphenated => (HEX, true),
        UuidForm::UpperHex => (HEX_UP, false),
        UuidForm::UpperHyphenated => (HEX_UP, true),
        UuidForm::Braced => {
            b.push(b'{');
            (HEX, true)
        }
        UuidForm::Urn => {
            s(b, "urn:uuid:");
            (HEX, true)
        }
    };
    if hyph {
        push_hex64(b, hi >> 32, 8, t);
        b.push(b'-');
        push_hex64(b, hi >> 16, 4, t);
        b.push(b'-');
        push_hex64(b, hi, 4, t);
        b.push(b'-');
        push_hex64(b, lo >> 48, 4, t);
        b.push(b'-');
        push_hex64(b, lo, 12, t);
    } else {
        push_hex64(b, hi, 16, t);
        push_hex64(b, lo, 16, t);
    }
    if let UuidForm::Braced = form {
        b.push(b'}');
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DDTHH:MM:SS[.f…]` with `frac` fractional digits (0, 3 or 6), no suffix.
pub(super) fn push_iso(b: &mut Vec<u8>, micros: i64, frac: u32) {
    let secs = micros.div_euclid(US);
    let us = micros.rem_euclid(US) as u64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400) as u64;
    push_pad(b, y.clamp(0, 9999) as u64, 4);
    b.push(b'-');
    push_pad(b, m as u64, 2);
    b.push(b'-');
    push_pad(b, d as u64, 2);
    b.push(b'T');
    push_pad(b, sod / 3600, 2);
    b.push(b':');
    push_pad(b, sod / 60 % 60, 2);
    b.push(b':');
    push_pad(b, sod % 60, 2);
    match frac {
        0 => {}
        3 => {
            b.push(b'.');
            push_pad(b, us / 1000, 3);
        }
        _ => {
            b.push(b'.');
            push_pad(b, us, 6);
        }
    }
}

/// Epoch seconds as a JSON number with six decimals (exact microseconds).
pub(super) fn push_epoch(b: &mut Vec<u8>, micros: i64) {
    if micros < 0 {
        b.push(b'-');
    }
    let a = micros.unsigned_abs();
    push_u64(b, a / US as u64);
    b.push(b'.');
    push_pad(b, a % US as u64, 6);
}

/// Runs once at start-up over the word tables (see `Vocab`), so the line writers can copy them
/// verbatim.
pub(super) fn json_escape(x: &str) -> String {
    let mut o = String::with_capacity(x.len() + 8);
    for c in x.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o
}
