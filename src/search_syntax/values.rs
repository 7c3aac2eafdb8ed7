//! Value shapes (what a value looks like syntactically) and conversions (search-syntax.md §2.3).
//!
//! Shape functions take an unquoted value token and return the length of the matched prefix
//! only when the match is followed by end-of-value, so the prefix always ends on an ASCII
//! character (a char boundary).

pub(crate) const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
/// Python's `timedelta` limit, which bounds durations and relative dates.
const MAX_DAYS: f64 = 999_999_999.0;

/// End of a value in the full query: end of input, whitespace or `)`.
pub(crate) fn is_end_value(src: &str, pos: usize) -> bool {
    match src.get(pos..) {
        Some(rest) => rest.chars().next().is_none_or(|c| c.is_whitespace() || c == ')'),
        None => false,
    }
}

/// The token ends after `len` bytes: nothing follows, or whitespace does.
fn ends_at(token: &str, len: usize) -> bool {
    is_end_value(token, len)
}

/// `-?[0-9.]+` (dots allowed so that `1.2.3` and `..5` are recognised, then rejected).
fn loose_number_len(t: &[u8], allow_minus: bool) -> usize {
    let start = usize::from(allow_minus && t.first() == Some(&b'-'));
    let digits = t.iter().skip(start).take_while(|b| b.is_ascii_digit() || **b == b'.').count();
    if digits == 0 {
        0
    } else {
        start + digits
    }
}

/// A strict decimal number: `-?(\d+(\.\d*)?|\.\d+)`.
pub(crate) fn parse_strict_number(s: &str) -> Option<f64> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    let ok = digits(int) && frac.is_none_or(digits) && (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()));
    if !ok {
        return None;
    }
    s.parse::<f64>().ok()
}

const DURATION_UNITS: &[(&str, f64)] = &[
    ("min", 60_000.0),
    ("ms", 1.0),
    ("hr", 3_600_000.0),
    ("day", 86_400_000.0),
    ("wk", 604_800_000.0),
    ("s", 1_000.0),
    ("m", 60_000.0),
    ("h", 3_600_000.0),
    ("d", 86_400_000.0),
    ("w", 604_800_000.0),
];

const SIZE_UNITS: &[(&str, f64)] = &[
    ("bit", 0.125),
    ("nb", 0.5),
    ("bytes", 1.0),
    ("kb", 1e3),
    ("mb", 1e6),
    ("gb", 1e9),
    ("tb", 1e12),
    ("pb", 1e15),
    ("eb", 1e18),
    ("zb", 1e21),
    ("yb", 1e24),
    ("kib", 1024.0),
    ("mib", 1_048_576.0),
    ("gib", 1_073_741_824.0),
    ("tib", 1_099_511_627_776.0),
    ("pib", 1_125_899_906_842_624.0),
    ("eib", 1_152_921_504_606_846_976.0),
    ("zib", 1_180_591_620_717_411_303_424.0),
    ("yib", 1_208_925_819_614_629_174_706_176.0),
];

/// `NUMBER UNIT` where the unit is one of `units` (exact or ASCII case-insensitive).
fn unit_shape<'a>(token: &'a str, units: &[(&str, f64)], case_insensitive: bool) -> Option<(&'a str, f64, usize)> {
    let n = loose_number_len(token.as_bytes(), true);
    if n == 0 {
        return None;
    }
    let rest = token.get(n..)?;
    for (unit, factor) in units {
        let Some(cand) = rest.get(..unit.len()) else { continue };
        let eq = if case_insensitive {
            cand.eq_ignore_ascii_case(unit)
        } else {
            cand == *unit
        };
        if eq && ends_at(token, n + unit.len()) {
            return Some((token.get(..n)?, *factor, n + unit.len()));
        }
    }
    None
}

/// Duration shape: `(number, factor to ms, length)`.
pub(crate) fn duration_shape(token: &str) -> Option<(&str, f64, usize)> {
    unit_shape(token, DURATION_UNITS, false)
}

/// Size shape: `(number, factor to bytes, length)`.
pub(crate) fn size_shape(token: &str) -> Option<(&str, f64, usize)> {
    unit_shape(token, SIZE_UNITS, true)
}

/// The unit text of a duration/size shape (for error messages and numeric re-reading).
pub(crate) fn unit_text(token: &str, number_len: usize, total: usize) -> &str {
    token.get(number_len..total).unwrap_or("")
}

/// Numeric shape: `(number, suffix, length)` with an optional `k`/`m`/`b` suffix.
pub(crate) fn numeric_shape(token: &str) -> Option<(&str, &str, usize)> {
    let b = token.as_bytes();
    let n = loose_number_len(b, true);
    if n == 0 {
        return None;
    }
    let num = token.get(..n)?;
    if b.get(n).is_some_and(|c| matches!(c.to_ascii_lowercase(), b'k' | b'm' | b'b')) && ends_at(token, n + 1) {
        return Some((num, token.get(n..n + 1)?, n + 1));
    }
    if ends_at(token, n) {
        return Some((num, "", n));
    }
    None
}

/// Percentage shape (aggregates only): a strict number followed by `%`.
pub(crate) fn percentage_shape(token: &str) -> Option<(f64, usize)> {
    let n = loose_number_len(token.as_bytes(), true);
    if n == 0 || token.as_bytes().get(n) != Some(&b'%') || !ends_at(token, n + 1) {
        return None;
    }
    Some((parse_strict_number(token.get(..n)?)?, n + 1))
}

/// `true`, `false`, `1`, `0` (case-insensitive).
pub(crate) fn boolean_shape(token: &str) -> Option<(bool, usize)> {
    for (word, v) in [("true", true), ("false", false), ("1", true), ("0", false)] {
        if token.get(..word.len()).is_some_and(|c| c.eq_ignore_ascii_case(word)) && ends_at(token, word.len()) {
            return Some((v, word.len()));
        }
    }
    None
}

/// Relative date `[+-]N[wdhm]`: `(sign is '+', seconds, length)`; `None` seconds on overflow.
pub(crate) fn rel_date_shape(token: &str) -> Option<(bool, Option<i64>, usize)> {
    let b = token.as_bytes();
    let plus = match b.first()? {
        b'+' => true,
        b'-' => false,
        _ => return None,
    };
    let digits = b.iter().skip(1).take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let unit = match b.get(1 + digits)? {
        b'w' => 604_800,
        b'd' => 86_400,
        b'h' => 3_600,
        b'm' => 60,
        _ => return None,
    };
    let len = digits + 2;
    if !ends_at(token, len) {
        return None;
    }
    let n: Option<i64> = token.get(1..1 + digits)?.parse().ok();
    let secs = n.and_then(|n| n.checked_mul(unit)).filter(|s| (*s as f64) <= MAX_DAYS * 86_400.0);
    Some((plus, secs, len))
}

/// Components of an ISO-8601-like date, unvalidated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IsoDate {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    /// `(hour, minute, second, microseconds)` when a time part is present.
    pub time: Option<(i64, i64, i64, i64)>,
    /// Offset east of UTC in minutes.
    pub offset_minutes: i64,
}

fn fixed_digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let s = b.get(at..at + n)?;
    if !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
}

/// `YYYY-MM-DD` + optional `THH:MM[:SS][.f{1,6}]` + optional `Z`/`±HH:MM`, then end-of-value.
pub(crate) fn iso_date_shape(token: &str) -> Option<(IsoDate, usize)> {
    let b = token.as_bytes();
    let year = fixed_digits(b, 0, 4)?;
    (b.get(4) == Some(&b'-')).then_some(())?;
    let month = fixed_digits(b, 5, 2)?;
    (b.get(7) == Some(&b'-')).then_some(())?;
    let day = fixed_digits(b, 8, 2)?;
    let mut d = IsoDate {
        year,
        month,
        day,
        time: None,
        offset_minutes: 0,
    };
    let mut p = 10;
    if b.get(p) == Some(&b'T') {
        let h = fixed_digits(b, p + 1, 2)?;
        (b.get(p + 3) == Some(&b':')).then_some(())?;
        let mi = fixed_digits(b, p + 4, 2)?;
        p += 6;
        let mut sec = 0;
        if b.get(p) == Some(&b':') {
            sec = fixed_digits(b, p + 1, 2)?;
            p += 3;
        }
        let mut micros = 0;
        if b.get(p) == Some(&b'.') {
            let n = b.iter().skip(p + 1).take_while(|c| c.is_ascii_digit()).count();
            if !(1..=6).contains(&n) {
                return None;
            }
            let frac = fixed_digits(b, p + 1, n)?;
            micros = frac * 10i64.pow(6 - n as u32);
            p += 1 + n;
        }
        d.time = Some((h, mi, sec, micros));
        match b.get(p) {
            Some(b'Z') => p += 1,
            Some(sign @ (b'+' | b'-')) => {
                let oh = fixed_digits(b, p + 1, 2)?;
                (b.get(p + 3) == Some(&b':')).then_some(())?;
                let om = fixed_digits(b, p + 4, 2)?;
                if oh > 23 || om > 59 {
                    return None;
                }
                let total = oh * 60 + om;
                d.offset_minutes = if *sign == b'+' { total } else { -total };
                p += 6;
            }
            _ => {}
        }
    } else if b.get(p) == Some(&b'Z') {
        p += 1;
    }
    ends_at(token, p).then_some((d, p))
}

pub(crate) use dataflows::model::time::{days_from_civil, days_in_month};

/// UTC microseconds of a valid date (years 1–9999, as Python's `datetime`), else `None`.
pub(crate) fn iso_to_micros(d: &IsoDate) -> Option<i64> {
    if !(1..=9999).contains(&d.year) || !(1..=12).contains(&d.month) || d.day < 1 || d.day > days_in_month(d.year, d.month) {
        return None;
    }
    let (h, mi, s, us) = d.time.unwrap_or((0, 0, 0, 0));
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = days_from_civil(d.year, d.month, d.day);
    let secs = ((days * 24 + h) * 60 + mi) * 60 + s - d.offset_minutes * 60;
    Some(secs * MICROS_PER_SECOND + us)
}

pub(crate) const DAY_MICROS: i64 = MICROS_PER_DAY;

/// `number × suffix` with `k`/`m`/`b` (case-insensitive) or no suffix.
pub(crate) fn parse_numeric(num: &str, suffix: &str) -> Result<f64, String> {
    let factor = match suffix.to_ascii_lowercase().as_str() {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "b" => 1e9,
        other => return Err(format!("{other} is not a valid number suffix, must be k, m or b")),
    };
    let v = parse_strict_number(num).ok_or_else(|| format!("{num} is not a valid number"))?;
    Ok(v * factor)
}

/// `number × factor`, bounded like Python's `timedelta`.
pub(crate) fn parse_duration(num: &str, factor_ms: f64) -> Result<f64, String> {
    let v = parse_strict_number(num).ok_or_else(|| format!("{num} is not a valid duration value"))? * factor_ms;
    if !v.is_finite() || v.abs() > MAX_DAYS * 86_400_000.0 {
        return Err(format!("{num} is too large of a value, the maximum value is 999999999 days"));
    }
    Ok(v)
}

pub(crate) fn parse_size(num: &str, factor: f64) -> Result<f64, String> {
    let v = parse_strict_number(num).ok_or_else(|| format!("{num} is not a valid size value"))?;
    Ok(v * factor)
}

/// True if `s` contains a `*` not preceded by an odd number of backslashes.
pub(crate) fn has_unescaped_wildcard(s: &str) -> bool {
    let mut backslashes = 0usize;
    for c in s.chars() {
        match c {
            '\\' => backslashes += 1,
            '*' if backslashes.is_multiple_of(2) => return true,
            _ => backslashes = 0,
        }
    }
    false
}

/// Byte position of a `"` not preceded by a backslash.
pub(crate) fn unescaped_quote(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (0..b.len()).find(|&i| b[i] == b'"' && (i == 0 || b[i - 1] != b'\\'))
}

/// `\"` → `"`.
pub(crate) fn unescape_quotes(s: &str) -> String {
    s.replace("\\\"", "\"")
}
