//! Independent, sequential reference model of `docs/semantics.md`.
//!
//! Written only from the specification (and `../shared/reference/issue-platform.md` §5.3 for the
//! group-type registry), never from the engine's code. Every record is handled one at a time in
//! log order with plain maps; there is no cleverness, so that the model is easy to audit.
//!
//! Entry points:
//! * [`reference_run`] — the issue dump (semantics.md §6) and the [`Summary`] counters;
//! * [`reference_run_detailed`] — the same plus every dead-lettered line with its reason.
//!
//! Interpretations of points the specification leaves open are marked `SPEC:` below.

#![allow(dead_code)]

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

// ---------------------------------------------------------------------------------------------
// Public results
// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq, Clone, Default, serde::Deserialize)]
pub struct Summary {
    pub lines_read: u64,
    pub occurrences_accepted: u64,
    pub status_changes_applied: u64,
    pub duplicates: u64,
    pub dropped_noise: u64,
    pub dropped_quota: u64,
    pub groups_created: u64,
    pub dead_lettered: u64,
}

/// One rejected line: `line` is the 0-based index into the `lines` slice given to the model.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct DeadLetter {
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub issues: Vec<Value>,
    pub summary: Summary,
    pub dead_letters: Vec<DeadLetter>,
}

/// Runs the model over `lines` (one input log, in order) with the given dedup window in
/// seconds (the engine's default is 600). Returns the issue dump in numeric id order and the
/// summary counters.
pub fn reference_run(lines: &[String], dedup_window_secs: i64) -> (Vec<Value>, Summary) {
    let out = reference_run_detailed(lines, dedup_window_secs);
    (out.issues, out.summary)
}

pub fn reference_run_detailed(lines: &[String], dedup_window_secs: i64) -> Outcome {
    let mut model = Model::new(dedup_window_secs);
    for (index, line) in lines.iter().enumerate() {
        model.process_line(index, line);
    }
    Outcome {
        issues: model.dump(),
        summary: model.summary.clone(),
        dead_letters: model.dead_letters.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Group types (issue-platform.md §5.3)
// ---------------------------------------------------------------------------------------------

pub const LOW: u8 = 25;
pub const MEDIUM: u8 = 50;
pub const HIGH: u8 = 75;

/// Noise expiry whenever a type has a noise config: 24 h.
pub const NOISE_EXPIRY_SECS: i64 = 86_400;
/// Creation quota window and granularity, the same for every type.
pub const QUOTA_WINDOW_SECS: i64 = 3_600;
pub const QUOTA_GRANULARITY_SECS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupType {
    pub type_id: i64,
    pub slug: &'static str,
    /// API string of the (old) category.
    pub category: &'static str,
    pub default_priority: u8,
    /// 1 when the type has no noise config.
    pub ignore_limit: u64,
    /// New groups per `QUOTA_WINDOW_SECS`.
    pub quota_limit: u64,
}

const fn gt(
    type_id: i64,
    slug: &'static str,
    category: &'static str,
    default_priority: u8,
    ignore_limit: u64,
    quota_limit: u64,
) -> GroupType {
    GroupType {
        type_id,
        slug,
        category,
        default_priority,
        ignore_limit,
        quota_limit,
    }
}

const ERR: &str = "error";
const PERF: &str = "performance";
const CRON: &str = "cron";
const REPLAY: &str = "replay";
const FEEDBACK: &str = "feedback";
const UPTIME: &str = "uptime";
const METRIC_ALERT: &str = "metric_alert";
const AI: &str = "ai_detected";
const PREPROD: &str = "preprod";
const INSTR: &str = "instrumentation";

/// Every registered type. "3/24h" → 3; "–" → 1 (no noise config).
pub const GROUP_TYPES: &[GroupType] = &[
    // released (or formerly released)
    gt(1, "error", ERR, MEDIUM, 1, 5),
    gt(1001, "performance_slow_db_query", PERF, LOW, 100, 5),
    gt(1004, "performance_render_blocking_asset_span", PERF, LOW, 3, 5),
    gt(1006, "performance_n_plus_one_db_queries", PERF, LOW, 3, 5),
    gt(1007, "performance_consecutive_db_queries", PERF, LOW, 15, 5),
    gt(1008, "performance_file_io_main_thread", PERF, LOW, 3, 5),
    gt(1009, "performance_consecutive_http", PERF, LOW, 5, 5),
    // SPEC: "3/24h [– 2024]": the newer value (3/24h) is used.
    gt(1010, "performance_n_plus_one_api_calls", PERF, LOW, 3, 5),
    gt(1011, "performance_m_n_plus_one_db_queries", PERF, LOW, 3, 5),
    gt(1012, "performance_uncompressed_assets", PERF, LOW, 100, 5),
    gt(1013, "performance_db_main_thread", PERF, LOW, 3, 5),
    gt(1015, "performance_large_http_payload", PERF, LOW, 3, 5),
    gt(1016, "performance_http_overhead", PERF, LOW, 20, 5),
    gt(1018, "performance_p95_endpoint_regression", PERF, MEDIUM, 1, 5),
    gt(2001, "profile_file_io_main_thread", PERF, LOW, 1, 5),
    gt(2002, "profile_image_decode_main_thread", PERF, LOW, 1, 5),
    gt(2003, "profile_json_decode_main_thread", PERF, LOW, 1, 5),
    gt(2007, "profile_regex_main_thread", PERF, LOW, 1, 5),
    gt(2009, "profile_frame_drop", PERF, LOW, 2000, 5),
    gt(2011, "profile_function_regression", PERF, MEDIUM, 1, 5),
    gt(4001, "monitor_check_in_failure", CRON, HIGH, 1, 60_000),
    gt(5002, "replay_click_rage", REPLAY, MEDIUM, 1, 5),
    gt(5003, "replay_hydration_error", REPLAY, MEDIUM, 1, 5),
    gt(6001, "feedback", FEEDBACK, MEDIUM, 1, 1_000),
    gt(7001, "uptime_domain_failure", UPTIME, HIGH, 1, 1_000),
    gt(8001, "metric_issue", METRIC_ALERT, HIGH, 1, 100),
    gt(10001, "web_vitals", PERF, MEDIUM, 1, 5),
    // unreleased, experimental or retired
    gt(1017, "performance_duration_regression", PERF, LOW, 1, 5),
    gt(1019, "performance_streamed_spans_exp", PERF, LOW, 1, 5),
    gt(1020, "db_query_injection_vulnerability", PERF, MEDIUM, 5, 5),
    gt(1021, "query_injection_vulnerability", PERF, MEDIUM, 10, 5),
    gt(1906, "performance_n_plus_one_db_queries_experimental", PERF, LOW, 3, 5),
    gt(1910, "performance_n_plus_one_api_calls_experimental", PERF, LOW, 3, 5),
    gt(1911, "performance_m_n_plus_one_db_queries_experimental", PERF, LOW, 3, 5),
    gt(2004, "profile_core_data_main_exp", PERF, LOW, 1, 5),
    gt(2006, "profile_view_is_slow_experimental", PERF, LOW, 1, 5),
    gt(2008, "profile_frame_drop_experimental", PERF, LOW, 1, 5),
    gt(2010, "profile_function_regression_exp", PERF, LOW, 1, 5),
    gt(3501, "llm_detected_experimental", AI, MEDIUM, 1, 5),
    gt(3502, "llm_detected_experimental_v2", AI, MEDIUM, 1, 5),
    // SPEC: "deprecated variants of 4001" — inherit CRON, HIGH and quota 60000.
    gt(4002, "monitor_check_in_timeout", CRON, HIGH, 1, 60_000),
    gt(4003, "monitor_check_in_missed", CRON, HIGH, 1, 60_000),
    gt(5001, "replay_click_dead", REPLAY, MEDIUM, 1, 5),
    gt(8002, "metric_issue_poc", METRIC_ALERT, HIGH, 1, 5),
    gt(11001, "preprod_static", PREPROD, LOW, 1, 5),
    gt(11002, "preprod_delta", PREPROD, LOW, 1, 5),
    gt(12001, "instrumentation_issue_experimental", INSTR, LOW, 1, 100),
];

pub fn group_type(type_id: i64) -> Option<&'static GroupType> {
    GROUP_TYPES.iter().find(|t| t.type_id == type_id)
}

pub fn priority_name(p: u8) -> &'static str {
    match p {
        LOW => "low",
        MEDIUM => "medium",
        _ => "high",
    }
}

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

const US_PER_SEC: i64 = 1_000_000;

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

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
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
fn min_time_us() -> i64 {
    days_from_civil(1, 1, 1) * 86_400 * US_PER_SEC
}
fn max_time_us() -> i64 {
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

fn digits(b: &[u8]) -> Option<i64> {
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
fn parse_time_value(v: &Value, allow_offset: bool) -> Option<i64> {
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

// ---------------------------------------------------------------------------------------------
// Decoding (semantics.md §2)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Occurrence {
    id: String,
    project_id: u64,
    /// Distinct hashes in first-occurrence order.
    hashes: Vec<String>,
    title: String,
    subtitle: String,
    gtype: &'static GroupType,
    event_time: i64,
    level: String,
    culprit: String,
    priority: Option<u8>,
    user: Option<String>,
    release: Option<String>,
    environment: Option<String>,
}

#[derive(Debug, Clone)]
struct StatusChange {
    id: String,
    project_id: u64,
    first_hash: String,
    new_status: i128,
    new_substatus: Option<i128>,
}

#[derive(Debug, Clone)]
enum Record {
    Occurrence(Occurrence),
    StatusChange(StatusChange),
}

/// SPEC: a key whose value is JSON `null` is treated exactly like an absent key, everywhere
/// (a required key that is null is "missing"; an optional one is simply not there).
fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn required<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a Value, String> {
    get(obj, key).ok_or_else(|| format!("missing field {key}"))
}

fn int_value(v: &Value) -> Option<i128> {
    if let Some(i) = v.as_i64() {
        Some(i as i128)
    } else {
        v.as_u64().map(|u| u as i128)
    }
}

fn project_id_of(obj: &Map<String, Value>) -> Result<u64, String> {
    let v = required(obj, "project_id")?;
    v.as_u64()
        .ok_or_else(|| format!("invalid project_id {v}: not a non-negative integer"))
}

fn hashes_of(obj: &Map<String, Value>, md5_cache: &mut HashMap<String, String>) -> Result<Vec<String>, String> {
    let v = required(obj, "fingerprint")?;
    let arr = v.as_array().ok_or_else(|| "invalid fingerprint: not an array".to_string())?;
    if arr.is_empty() {
        return Err("invalid fingerprint: empty".to_string());
    }
    let mut hashes: Vec<String> = Vec::new();
    for entry in arr {
        let s = entry.as_str().ok_or_else(|| "invalid fingerprint: not all strings".to_string())?;
        // memoised only for speed in debug builds; the value is always md5_hex(s)
        let h = md5_cache.entry(s.to_string()).or_insert_with(|| md5_hex(s.as_bytes())).clone();
        if !hashes.contains(&h) {
            hashes.push(h);
        }
    }
    Ok(hashes)
}

fn string_field(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("invalid {key}: not a string")),
    }
}

fn uuid_field(v: &Value, name: &str) -> Result<String, String> {
    let s = v.as_str().ok_or_else(|| format!("invalid {name} {v}: not a UUID"))?;
    parse_uuid(s).ok_or_else(|| format!("invalid {name} {v}: not a UUID"))
}

fn priority_field(obj: &Map<String, Value>, key: &str) -> Result<Option<u8>, String> {
    match get(obj, key) {
        None => Ok(None),
        Some(v) => match int_value(v) {
            Some(25) => Ok(Some(LOW)),
            Some(50) => Ok(Some(MEDIUM)),
            Some(75) => Ok(Some(HIGH)),
            _ => Err(format!("invalid {key} {v}")),
        },
    }
}

/// User identity for distinct-user counting. SPEC: keyed by kind as Sentry's `sentry:user` tag
/// (`id:…`, `email:…`, `username:…`, `ip:…`); a numeric id is written as its JSON text, so
/// `"id": 42` and `"id": "42"` are the same user.
fn user_key(user: &Map<String, Value>) -> Option<String> {
    match get(user, "id") {
        Some(Value::String(s)) if !s.is_empty() => return Some(format!("id:{s}")),
        Some(Value::Number(n)) => return Some(format!("id:{n}")),
        _ => {}
    }
    for (key, prefix) in [("email", "email"), ("username", "username"), ("ip_address", "ip")] {
        if let Some(Value::String(s)) = get(user, key) {
            if !s.is_empty() {
                return Some(format!("{prefix}:{s}"));
            }
        }
    }
    None
}

fn decode_occurrence(obj: &Map<String, Value>, md5_cache: &mut HashMap<String, String>) -> Result<Occurrence, String> {
    let id = uuid_field(required(obj, "id")?, "id")?;
    let project_id = project_id_of(obj)?;
    let hashes = hashes_of(obj, md5_cache)?;
    let title = string_field(obj, "issue_title")?.ok_or("missing field issue_title")?;
    let subtitle = string_field(obj, "subtitle")?.ok_or("missing field subtitle")?;
    let type_value = required(obj, "type")?;
    let type_id = int_value(type_value).ok_or_else(|| format!("invalid type {type_value}: not an integer"))?;
    let gtype = i64::try_from(type_id)
        .ok()
        .and_then(group_type)
        .ok_or_else(|| format!("unknown group type {type_id}"))?;
    let detection_value = required(obj, "detection_time")?;
    let detection_time = parse_time_value(detection_value, false).ok_or_else(|| format!("invalid detection_time {detection_value}"))?;

    let level = match string_field(obj, "level")? {
        None => "info".to_string(),
        Some(s) if s.is_empty() => "info".to_string(),
        Some(s) => s,
    };
    let culprit: String = string_field(obj, "culprit")?.unwrap_or_default().chars().take(200).collect();
    // Both keys are validated; the first present and non-null one wins.
    let p1 = priority_field(obj, "initial_issue_priority")?;
    let p2 = priority_field(obj, "priority")?;
    let priority = p1.or(p2);

    let top_event_id = match get(obj, "event_id") {
        None => None,
        Some(v) => Some(uuid_field(v, "event_id")?),
    };

    let mut event_time = detection_time;
    let mut user = None;
    let mut release = None;
    let mut environment = None;
    let mut event_event_id = None;
    if let Some(ev) = get(obj, "event") {
        let ev = ev.as_object().ok_or("invalid event: not an object")?;
        match get(ev, "project_id") {
            None => return Err("missing field event.project_id".to_string()),
            Some(v) => {
                if v.as_u64() != Some(project_id) {
                    return Err(format!("event.project_id {v} differs from project_id {project_id}"));
                }
            }
        }
        if let Some(v) = get(ev, "event_id") {
            event_event_id = Some(uuid_field(v, "event.event_id")?);
        }
        if let Some(v) = get(ev, "timestamp") {
            event_time = parse_time_value(v, true).ok_or_else(|| format!("invalid event.timestamp {v}"))?;
        }
        if let Some(v) = get(ev, "user") {
            let u = v.as_object().ok_or("invalid event.user: not an object")?;
            user = user_key(u);
        }
        // Empty strings count as absent (semantics.md §2).
        release = string_field(ev, "release")
            .map_err(|e| e.replace("invalid ", "invalid event."))?
            .filter(|r| !r.is_empty());
        environment = string_field(ev, "environment")
            .map_err(|e| e.replace("invalid ", "invalid event."))?
            .filter(|e| !e.is_empty());
    }
    match (&top_event_id, &event_event_id) {
        (None, None) => return Err("missing field event_id".to_string()),
        (Some(a), Some(b)) if a != b => return Err(format!("event_id {a} differs from event.event_id {b}")),
        _ => {}
    }

    Ok(Occurrence {
        id,
        project_id,
        hashes,
        title,
        subtitle,
        gtype,
        event_time,
        level,
        culprit,
        priority,
        user,
        release,
        environment,
    })
}

fn decode_status_change(obj: &Map<String, Value>, md5_cache: &mut HashMap<String, String>) -> Result<StatusChange, String> {
    let id_value = required(obj, "id")?;
    let raw_id = id_value.as_str().ok_or_else(|| format!("invalid id {id_value}: not a string"))?;
    let id = parse_uuid(raw_id).unwrap_or_else(|| raw_id.to_string());
    let project_id = project_id_of(obj)?;
    let hashes = hashes_of(obj, md5_cache)?;
    let status_value = required(obj, "new_status")?;
    let new_status = int_value(status_value).ok_or_else(|| format!("invalid new_status {status_value}: not an integer"))?;
    let new_substatus = match get(obj, "new_substatus") {
        None => None,
        Some(v) => Some(int_value(v).ok_or_else(|| format!("invalid new_substatus {v}: not an integer"))?),
    };
    Ok(StatusChange {
        id,
        project_id,
        first_hash: hashes[0].clone(),
        new_status,
        new_substatus,
    })
}

fn decode_line(line: &str, md5_cache: &mut HashMap<String, String>) -> Result<Record, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let obj = value.as_object().ok_or("invalid JSON: not an object")?;
    // SPEC: payload_type null counts as absent (→ occurrence); a non-string is unknown.
    match get(obj, "payload_type") {
        None => decode_occurrence(obj, md5_cache).map(Record::Occurrence),
        Some(Value::String(s)) if s == "occurrence" => decode_occurrence(obj, md5_cache).map(Record::Occurrence),
        Some(Value::String(s)) if s == "status_change" => decode_status_change(obj, md5_cache).map(Record::StatusChange),
        Some(Value::String(s)) => Err(format!("unknown payload_type {s:?}")),
        Some(other) => Err(format!("unknown payload_type {other}")),
    }
}

// ---------------------------------------------------------------------------------------------
// State (semantics.md §4)
// ---------------------------------------------------------------------------------------------

pub const UNRESOLVED: u8 = 0;
pub const RESOLVED: u8 = 1;
pub const IGNORED: u8 = 2;

pub const SUB_UNTIL_ESCALATING: u8 = 1;
pub const SUB_ESCALATING: u8 = 2;
pub const SUB_ONGOING: u8 = 3;
pub const SUB_UNTIL_CONDITION_MET: u8 = 4;
pub const SUB_FOREVER: u8 = 5;
pub const SUB_REGRESSED: u8 = 6;
pub const SUB_NEW: u8 = 7;

#[derive(Debug, Clone)]
struct Group {
    id: u64,
    project_id: u64,
    short_id: u64,
    gtype: &'static GroupType,
    status: u8,
    substatus: Option<u8>,
    priority: u8,
    /// Priority the group was created with (what "returns to its initial value" restores).
    created_priority: u8,
    title: String,
    culprit: String,
    level: String,
    metadata_title: String,
    metadata_value: String,
    metadata_initial_priority: u8,
    /// Event time of the occurrence that last set title/culprit/level/metadata.
    title_time: i64,
    first_seen: i64,
    last_seen: i64,
    times_seen: u64,
    users: BTreeSet<String>,
    first_release: Option<String>,
    /// (event time, release) of the newest occurrence carrying a release.
    last_release: Option<(i64, String)>,
    environments: BTreeSet<String>,
    /// hour index (floor(t / 3600 s)) → occurrences
    hourly: BTreeMap<i64, u64>,
}

#[derive(Debug, Default)]
struct NoiseState {
    count: u64,
    last: i64,
}

#[derive(Debug, Default)]
struct ProjectState {
    watermark: i64,
    /// id → time it was remembered with
    seen: HashMap<String, i64>,
    /// the same entries ordered by time, to forget the oldest
    seen_by_time: BTreeSet<(i64, String)>,
    /// hash → index into `Model::groups`
    links: HashMap<String, usize>,
    /// candidate hash → noise state
    noise: HashMap<String, NoiseState>,
    /// type id → (bucket → creations)
    quota: HashMap<i64, BTreeMap<i64, u64>>,
    last_short_id: u64,
}

impl ProjectState {
    /// §4.1, after the watermark has been raised. Returns true for a duplicate.
    fn is_duplicate(&mut self, id: &str, time: i64, window_us: i64) -> bool {
        let cutoff = self.watermark.saturating_sub(window_us);
        while let Some((t, _)) = self.seen_by_time.first() {
            if *t < cutoff {
                let (_, old_id) = self.seen_by_time.pop_first().unwrap();
                self.seen.remove(&old_id);
            } else {
                break;
            }
        }
        if self.seen.contains_key(id) {
            return true;
        }
        self.seen.insert(id.to_string(), time);
        self.seen_by_time.insert((time, id.to_string()));
        false
    }
}

struct Model {
    window_us: i64,
    projects: BTreeMap<u64, ProjectState>,
    groups: Vec<Group>,
    summary: Summary,
    dead_letters: Vec<DeadLetter>,
    md5_cache: HashMap<String, String>,
}

impl Model {
    fn new(dedup_window_secs: i64) -> Self {
        Model {
            window_us: dedup_window_secs.saturating_mul(US_PER_SEC),
            projects: BTreeMap::new(),
            groups: Vec::new(),
            summary: Summary::default(),
            dead_letters: Vec::new(),
            md5_cache: HashMap::new(),
        }
    }

    fn dead_letter(&mut self, line: usize, reason: String) {
        self.summary.dead_lettered += 1;
        self.dead_letters.push(DeadLetter { line, reason });
    }

    fn process_line(&mut self, index: usize, line: &str) {
        if line.bytes().all(|b| b.is_ascii_whitespace()) {
            return; // blank: not a record
        }
        self.summary.lines_read += 1;
        match decode_line(line, &mut self.md5_cache) {
            Err(reason) => self.dead_letter(index, reason),
            Ok(Record::Occurrence(occ)) => self.process_occurrence(index, occ),
            Ok(Record::StatusChange(sc)) => self.process_status_change(index, sc),
        }
    }

    fn process_occurrence(&mut self, index: usize, occ: Occurrence) {
        let t = occ.event_time;
        let window_us = self.window_us;
        let project = self.projects.entry(occ.project_id).or_default();

        // §4.1
        project.watermark = project.watermark.max(t);
        if project.is_duplicate(&occ.id, t, window_us) {
            self.summary.duplicates += 1;
            return;
        }

        // §4.3.1 existing group
        let linked = occ.hashes.iter().find_map(|h| project.links.get(h).copied());
        if let Some(gidx) = linked {
            let group_type = self.groups[gidx].gtype.type_id;
            if group_type != occ.gtype.type_id {
                let reason = format!(
                    "type mismatch: group {} has type {}, occurrence has type {}",
                    self.groups[gidx].id, group_type, occ.gtype.type_id
                );
                self.dead_letter(index, reason);
                return;
            }
            for h in &occ.hashes {
                project.links.entry(h.clone()).or_insert(gidx);
            }
            join_group(&mut self.groups[gidx], &occ);
            self.summary.occurrences_accepted += 1;
            return;
        }

        // §4.3.2-3 candidate and noise gate, §4.3.4 creation quota. SPEC §4.3: the error type
        // (1) has neither, it goes straight to creation.
        let candidate = occ.hashes[0].clone();
        if occ.gtype.type_id != 1 {
            let noise = project.noise.entry(candidate.clone()).or_default();
            if noise.count > 0 && t - noise.last >= NOISE_EXPIRY_SECS * US_PER_SEC {
                noise.count = 0;
            }
            noise.count += 1;
            if noise.count >= occ.gtype.ignore_limit {
                noise.count = 0;
            } else {
                noise.last = noise.last.max(t);
                self.summary.dropped_noise += 1;
                return;
            }

            let buckets = project.quota.entry(occ.gtype.type_id).or_default();
            let b = t.div_euclid(QUOTA_GRANULARITY_SECS * US_PER_SEC);
            let n = QUOTA_WINDOW_SECS / QUOTA_GRANULARITY_SECS;
            let used: u64 = buckets.range(b - n + 1..=b).map(|(_, c)| *c).sum();
            if used >= occ.gtype.quota_limit {
                self.summary.dropped_quota += 1;
                return;
            }
            *buckets.entry(b).or_insert(0) += 1;
        }

        // §4.3.5 creation
        project.noise.remove(&candidate);
        project.last_short_id += 1;
        let gidx = self.groups.len();
        for h in &occ.hashes {
            project.links.insert(h.clone(), gidx);
        }
        let priority = occ.priority.unwrap_or(occ.gtype.default_priority);
        let mut group = Group {
            id: gidx as u64 + 1,
            project_id: occ.project_id,
            short_id: project.last_short_id,
            gtype: occ.gtype,
            status: UNRESOLVED,
            substatus: Some(SUB_NEW),
            priority,
            created_priority: priority,
            title: occ.title.clone(),
            culprit: occ.culprit.clone(),
            level: occ.level.clone(),
            metadata_title: occ.title.clone(),
            metadata_value: occ.subtitle.clone(),
            metadata_initial_priority: priority,
            title_time: t,
            first_seen: t,
            last_seen: t,
            times_seen: 1,
            users: BTreeSet::new(),
            first_release: occ.release.clone(),
            last_release: None,
            environments: BTreeSet::new(),
            hourly: BTreeMap::new(),
        };
        add_aggregates(&mut group, &occ);
        self.groups.push(group);
        self.summary.groups_created += 1;
        self.summary.occurrences_accepted += 1;
    }

    fn process_status_change(&mut self, index: usize, sc: StatusChange) {
        let window_us = self.window_us;
        let project = self.projects.entry(sc.project_id).or_default();
        let time = project.watermark;
        if project.is_duplicate(&sc.id, time, window_us) {
            self.summary.duplicates += 1;
            return;
        }
        let Some(&gidx) = project.links.get(&sc.first_hash) else {
            self.dead_letter(index, "group not found".to_string());
            return;
        };
        match apply_status_change(&mut self.groups[gidx], sc.new_status, sc.new_substatus) {
            Ok(()) => self.summary.status_changes_applied += 1,
            Err(reason) => self.dead_letter(index, reason),
        }
    }

    fn dump(&self) -> Vec<Value> {
        self.groups.iter().map(group_json).collect()
    }
}

/// §4.5: an occurrence joining an existing group.
fn join_group(g: &mut Group, occ: &Occurrence) {
    let t = occ.event_time;
    g.times_seen += 1;
    g.last_seen = g.last_seen.max(t);
    g.first_seen = g.first_seen.min(t);
    if t >= g.title_time {
        g.title = occ.title.clone();
        g.culprit = occ.culprit.clone();
        g.level = occ.level.clone();
        g.metadata_title = occ.title.clone();
        g.metadata_value = occ.subtitle.clone();
        g.metadata_initial_priority = occ.priority.unwrap_or(occ.gtype.default_priority);
        g.title_time = t;
    }
    if g.status == RESOLVED {
        g.status = UNRESOLVED;
        g.substatus = Some(SUB_REGRESSED);
    }
    add_aggregates(g, occ);
}

/// §4.5 aggregates, for the creating occurrence and every joining one.
fn add_aggregates(g: &mut Group, occ: &Occurrence) {
    let t = occ.event_time;
    *g.hourly.entry(t.div_euclid(3600 * US_PER_SEC)).or_insert(0) += 1;
    if let Some(u) = &occ.user {
        g.users.insert(u.clone());
    }
    if let Some(r) = &occ.release {
        let newer = match &g.last_release {
            None => true,
            Some((lt, _)) => t >= *lt,
        };
        if newer {
            g.last_release = Some((t, r.clone()));
        }
    }
    if let Some(e) = &occ.environment {
        g.environments.insert(e.clone());
    }
}

/// §4.4, rows in table order.
fn apply_status_change(g: &mut Group, s: i128, u: Option<i128>) -> Result<(), String> {
    if s == g.status as i128 && u == g.substatus.map(|x| x as i128) {
        return Ok(()); // no-op, counted as applied
    }
    let carries_substatus = s == UNRESOLVED as i128 || s == IGNORED as i128;
    if carries_substatus && u.is_none() {
        return Err(format!("missing substatus for status {s}"));
    }
    if !carries_substatus {
        if let Some(u) = u {
            return Err(format!("unexpected substatus {u} for status {s}"));
        }
    }
    if s == RESOLVED as i128 {
        g.status = RESOLVED;
        g.substatus = None;
        return Ok(());
    }
    if s == IGNORED as i128 {
        let u = u.unwrap();
        if u == SUB_UNTIL_ESCALATING as i128 || u == SUB_UNTIL_CONDITION_MET as i128 || u == SUB_FOREVER as i128 {
            g.status = IGNORED;
            g.substatus = Some(u as u8);
            return Ok(());
        }
        return Err(format!("invalid substatus {u} for status {s}"));
    }
    if s == UNRESOLVED as i128 {
        let u = u.unwrap();
        if u == SUB_ESCALATING as i128 {
            if g.status == IGNORED {
                g.status = UNRESOLVED;
                g.substatus = Some(SUB_ESCALATING);
                // priority is never locked during ingest
                g.priority = if g.priority == LOW { MEDIUM } else { HIGH };
            }
            return Ok(()); // other groups unchanged, still counted as applied
        }
        if u == SUB_REGRESSED as i128 {
            g.status = UNRESOLVED;
            g.substatus = Some(SUB_REGRESSED);
            return Ok(());
        }
        if u == SUB_ONGOING as i128 {
            let was_escalating = g.status == UNRESOLVED && g.substatus == Some(SUB_ESCALATING);
            g.status = UNRESOLVED;
            g.substatus = Some(SUB_ONGOING);
            if was_escalating {
                g.priority = g.created_priority;
            }
            return Ok(());
        }
        return Err(format!("invalid substatus {u} for status {s}"));
    }
    Err(format!("unsupported status {s}"))
}

// ---------------------------------------------------------------------------------------------
// Dump (semantics.md §5, §6)
// ---------------------------------------------------------------------------------------------

const BASE32: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

pub fn base32(mut n: u64) -> String {
    if n == 0 {
        return "0".to_string();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(BASE32[(n % 32) as usize]);
        n /= 32;
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

pub fn project_slug(project_id: u64) -> String {
    format!("project-{project_id}")
}

pub fn level_name(level: &str) -> &'static str {
    match level {
        "sample" => "sample",
        "debug" => "debug",
        "info" => "info",
        "warning" => "warning",
        "error" => "error",
        "fatal" => "fatal",
        _ => "unknown",
    }
}

fn status_name(s: u8) -> &'static str {
    match s {
        UNRESOLVED => "unresolved",
        RESOLVED => "resolved",
        _ => "ignored",
    }
}

fn substatus_name(s: Option<u8>) -> Value {
    match s {
        None => Value::Null,
        Some(SUB_UNTIL_ESCALATING) => json!("archived_until_escalating"),
        Some(SUB_ESCALATING) => json!("escalating"),
        Some(SUB_ONGOING) => json!("ongoing"),
        Some(SUB_UNTIL_CONDITION_MET) => json!("archived_until_condition_met"),
        Some(SUB_FOREVER) => json!("archived_forever"),
        Some(SUB_REGRESSED) => json!("regressed"),
        Some(_) => json!("new"),
    }
}

fn group_json(g: &Group) -> Value {
    let slug = project_slug(g.project_id);
    let count = g.times_seen.to_string();
    let user_count = g.users.len() as u64;
    let first_seen = format_time(g.first_seen);
    let last_seen = format_time(g.last_seen);
    let hourly: Vec<Value> = g.hourly.iter().map(|(h, c)| json!([h * 3600, c])).collect();
    json!({
        "id": g.id.to_string(),
        "shortId": format!("{}-{}", slug.to_uppercase(), base32(g.short_id)),
        "title": g.title,
        "culprit": g.culprit,
        "level": level_name(&g.level),
        "status": status_name(g.status),
        "substatus": substatus_name(g.substatus),
        "priority": priority_name(g.priority),
        "project": {"id": g.project_id.to_string(), "slug": slug},
        // SPEC §6: `type` is "error" for the error type (1), "generic" otherwise.
        "type": if g.gtype.type_id == 1 { "error" } else { "generic" },
        "issueType": g.gtype.slug,
        "issueCategory": g.gtype.category,
        "metadata": {
            "title": g.metadata_title,
            "value": g.metadata_value,
            "initial_priority": g.metadata_initial_priority,
        },
        "count": count,
        "userCount": user_count,
        "firstSeen": first_seen,
        "lastSeen": last_seen,
        "lifetime": {
            "count": count,
            "userCount": user_count,
            "firstSeen": first_seen,
            "lastSeen": last_seen,
        },
        "firstRelease": g.first_release,
        "lastRelease": g.last_release.as_ref().map(|(_, r)| r.clone()),
        "environments": g.environments.iter().collect::<Vec<_>>(),
        "stats": {"hourly": hourly},
        // Triage fields: no mutation reaches the reference model.
        "statusDetails": {},
        "assignedTo": null,
        "isBookmarked": false,
        "hasSeen": false,
        "priorityLockedAt": null,
    })
}
