use serde_json::Value;

use super::json::{push_epoch, push_iso, push_uuid, UuidForm};
use super::random::{zipf_1_1, Rng};
use super::vocabulary::TYPES;
use super::world::{Second, World};
use super::*;

fn gen(opts: &GenerateOptions) -> (Vec<u8>, GenerateStats) {
    let mut out = Vec::new();
    let stats = generate(opts, &mut out).unwrap();
    (out, stats)
}

fn gen_kinds(opts: &GenerateOptions) -> (Vec<(LineKind, Vec<u8>)>, GenerateStats) {
    let mut lines = Vec::new();
    let mut sink = Vec::new();
    let stats = run(opts, &mut sink, &mut |k, l| lines.push((k, l.to_vec()))).unwrap();
    let joined: Vec<u8> = lines.iter().flat_map(|(_, l)| l.iter().copied()).collect();
    assert_eq!(joined, sink, "callback lines must be the written bytes");
    (lines, stats)
}

fn is_hex32(x: &str) -> bool {
    x.len() == 32 && x.bytes().all(|c| c.is_ascii_hexdigit())
}

/// UUID forms of docs/semantics.md §2 → 32 lowercase hex.
fn norm_uuid(v: &Value) -> Option<String> {
    let mut x = v.as_str()?;
    if let Some(r) = x.strip_prefix("urn:uuid:") {
        x = r;
    } else if let Some(r) = x.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        x = r;
    }
    let hex = if x.len() == 36 {
        let bs = x.as_bytes();
        if [8, 13, 18, 23].iter().any(|&i| bs[i] != b'-') {
            return None;
        }
        x.replace('-', "")
    } else {
        x.to_string()
    };
    is_hex32(&hex).then(|| hex.to_ascii_lowercase())
}

fn valid_time(v: &Value, allow_offset: bool) -> bool {
    match v {
        Value::Number(_) => true,
        Value::String(x) => {
            let bs = x.as_bytes();
            if bs.len() < 19 || bs[4] != b'-' || bs[10] != b'T' {
                return false;
            }
            let mut rest = &x[19..];
            if let Some(r) = rest.strip_prefix('.') {
                let d = r.bytes().take_while(|c| c.is_ascii_digit()).count();
                if !(1..=6).contains(&d) {
                    return false;
                }
                rest = &r[d..];
            }
            rest.is_empty() || rest == "Z" || (allow_offset && rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')))
        }
        _ => false,
    }
}

/// A minimal re-implementation of the decoder of docs/semantics.md §2.
fn decode(line: &[u8]) -> Result<&'static str, String> {
    let v: Value = serde_json::from_slice(line).map_err(|e| format!("json: {e}"))?;
    let o = v.as_object().ok_or("not an object")?;
    let fingerprint_ok = |o: &serde_json::Map<String, Value>| {
        o.get("fingerprint")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string))
    };
    let pid = o.get("project_id").and_then(Value::as_u64).ok_or("project_id")?;
    match o.get("payload_type").map(|p| p.as_str()) {
        None | Some(Some("occurrence")) => {}
        Some(Some("status_change")) => {
            o.get("id").and_then(Value::as_str).ok_or("id")?;
            if !fingerprint_ok(o) {
                return Err("fingerprint".into());
            }
            o.get("new_status").and_then(Value::as_i64).ok_or("new_status")?;
            match o.get("new_substatus") {
                None | Some(Value::Null) => {}
                Some(x) => {
                    x.as_i64().ok_or("new_substatus")?;
                }
            }
            return Ok("status_change");
        }
        _ => return Err("payload_type".into()),
    }
    norm_uuid(o.get("id").ok_or("id")?).ok_or("bad id")?;
    if !fingerprint_ok(o) {
        return Err("fingerprint".into());
    }
    o.get("issue_title").and_then(Value::as_str).ok_or("issue_title")?;
    o.get("subtitle").and_then(Value::as_str).ok_or("subtitle")?;
    let ty = o.get("type").and_then(Value::as_u64).ok_or("type")?;
    if !TYPES.iter().any(|t| t.id as u64 == ty) {
        return Err("unknown type".into());
    }
    if !valid_time(o.get("detection_time").ok_or("detection_time")?, false) {
        return Err("detection_time".into());
    }
    let top = match o.get("event_id") {
        Some(x) => Some(norm_uuid(x).ok_or("bad event_id")?),
        None => None,
    };
    let ev = o.get("event").and_then(Value::as_object).ok_or("event")?;
    let inner = match ev.get("event_id") {
        Some(x) => Some(norm_uuid(x).ok_or("bad event.event_id")?),
        None => None,
    };
    match (&top, &inner) {
        (None, None) => return Err("no event id".into()),
        (Some(a), Some(b)) if a != b => return Err("event id mismatch".into()),
        _ => {}
    }
    if ev.get("project_id").and_then(Value::as_u64) != Some(pid) {
        return Err("event.project_id".into());
    }
    if let Some(ts) = ev.get("timestamp") {
        if !valid_time(ts, true) {
            return Err("event.timestamp".into());
        }
    }
    for k in ["level", "culprit"] {
        if let Some(x) = o.get(k) {
            if !(x.is_null() || x.is_string()) {
                return Err(k.into());
            }
        }
    }
    for k in ["initial_issue_priority", "priority"] {
        if let Some(x) = o.get(k) {
            if !(x.is_null() || [25, 50, 75].contains(&x.as_u64().unwrap_or(0))) {
                return Err(k.into());
            }
        }
    }
    Ok("occurrence")
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Event-time parsing of docs/semantics.md §2 (µs).
fn parse_time(v: &Value) -> i64 {
    match v {
        Value::Number(n) => (n.as_f64().unwrap() * 1e6).round() as i64,
        Value::String(x) => {
            let n = |a: usize, b: usize| x[a..b].parse::<i64>().unwrap();
            let days = days_from_civil(n(0, 4), n(5, 7), n(8, 10));
            let mut us = ((days * 86_400) + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19)) * US;
            let mut rest = &x[19..];
            if let Some(r) = rest.strip_prefix('.') {
                let d = r.bytes().take_while(u8::is_ascii_digit).count();
                us += r[..d].parse::<i64>().unwrap() * 10i64.pow(6 - d as u32);
                rest = &r[d..];
            }
            if rest.len() == 6 {
                let off = (rest[1..3].parse::<i64>().unwrap() * 60 + rest[4..6].parse::<i64>().unwrap()) * 60 * US;
                us -= if rest.starts_with('-') { -off } else { off };
            }
            us
        }
        _ => panic!("time {v}"),
    }
}

/// Replays the dedup stage of docs/semantics.md §4.1 and returns how many records it skips.
fn replay_dedup(lines: &[(LineKind, Vec<u8>)], window: i64) -> u64 {
    use std::collections::HashMap;
    let mut wm: HashMap<u64, i64> = HashMap::new();
    let mut seen: HashMap<u64, HashMap<String, i64>> = HashMap::new();
    let mut dups = 0;
    for (kind, line) in lines {
        if *kind == LineKind::Malformed {
            continue;
        }
        let v: Value = serde_json::from_slice(line).unwrap();
        let p = v["project_id"].as_u64().unwrap();
        let w = wm.entry(p).or_insert(0);
        let is_status = v["payload_type"] == "status_change";
        let id = norm_uuid(&v["id"]).unwrap_or_else(|| v["id"].as_str().unwrap().to_string());
        let time = if is_status {
            *w
        } else {
            let et = match v["event"].get("timestamp") {
                Some(ts) => parse_time(ts),
                None => parse_time(&v["detection_time"]),
            };
            *w = (*w).max(et);
            et
        };
        let cutoff = *w - window;
        let mem = seen.entry(p).or_default();
        mem.retain(|_, t| *t >= cutoff);
        let dup = mem.contains_key(&id);
        assert_eq!(dup, *kind == LineKind::Duplicate, "{}", String::from_utf8_lossy(line));
        if dup {
            dups += 1;
        } else {
            mem.insert(id, time);
        }
    }
    dups
}

#[test]
fn duplicates_are_exactly_the_ones_dedup_catches() {
    // Dense (10 lines/s) and sparse (~2 min per line) streams, both windows.
    for (count, span) in [(20_000u64, 2_000i64), (6_000, 14 * 86_400)] {
        let opts = GenerateOptions {
            count,
            span_seconds: span,
            fingerprints: 500,
            projects: 5,
            malformed_ratio: 0.01,
            ..Default::default()
        };
        let (lines, stats) = gen_kinds(&opts);
        assert!(stats.duplicates > count / 200, "{stats:?}");
        for window in [300 * US, 600 * US] {
            assert_eq!(replay_dedup(&lines, window), stats.duplicates);
        }
    }
}

#[test]
fn deterministic() {
    let opts = GenerateOptions {
        count: 20_000,
        malformed_ratio: 0.01,
        ..Default::default()
    };
    let (a, sa) = gen(&opts);
    let (b, sb) = gen(&opts);
    assert_eq!(sa, sb);
    assert!(a == b, "same options must give identical bytes");
    let (c, _) = gen(&GenerateOptions { seed: 2, ..opts.clone() });
    assert!(a != c);
    // A prefix of a longer run is not required to match (times scale with count), but the
    // same count with a different sink must.
    let mut w = std::io::BufWriter::new(Vec::new());
    generate(&opts, &mut w).unwrap();
    assert!(w.into_inner().unwrap() == a);
}

#[test]
fn lines_decode_as_classified() {
    let opts = GenerateOptions {
        count: 30_000,
        malformed_ratio: 0.05,
        fingerprints: 3_000,
        ..Default::default()
    };
    let (lines, stats) = gen_kinds(&opts);
    assert_eq!(lines.len() as u64, stats.lines);
    let mut reasons = std::collections::BTreeMap::new();
    for (i, (kind, line)) in lines.iter().enumerate() {
        assert_eq!(line.last(), Some(&b'\n'));
        let body = &line[..line.len() - 1];
        assert!(!body.contains(&b'\n'));
        assert!(!body.iter().all(u8::is_ascii_whitespace), "line {i} is blank");
        let r = decode(body);
        match kind {
            LineKind::Occurrence => assert_eq!(r, Ok("occurrence"), "line {i}: {}", String::from_utf8_lossy(body)),
            LineKind::StatusChange => {
                assert_eq!(r, Ok("status_change"), "line {i}: {}", String::from_utf8_lossy(body))
            }
            LineKind::Duplicate => assert!(r.is_ok(), "line {i}: {}", String::from_utf8_lossy(body)),
            LineKind::Malformed => {
                let e = r.expect_err(&format!("malformed line {i} decodes: {}", String::from_utf8_lossy(body)));
                let key = e.split(':').next().unwrap().to_string();
                *reasons.entry(key).or_insert(0) += 1;
            }
        }
    }
    // A mix of failure modes.
    assert!(reasons.len() >= 8, "{reasons:?}");
}

#[test]
fn every_well_formed_line_is_json_without_malformed() {
    let opts = GenerateOptions {
        count: 30_000,
        malformed_ratio: 0.0,
        ..Default::default()
    };
    let (out, stats) = gen(&opts);
    assert_eq!(stats.malformed, 0);
    let mut n = 0;
    for line in out.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line).unwrap();
        assert!(v.is_object());
        n += 1;
    }
    assert_eq!(n, opts.count);
}

#[test]
fn ratios() {
    let opts = GenerateOptions {
        count: 100_000,
        fingerprints: 10_000,
        ..Default::default()
    };
    let (_, st) = gen(&opts);
    assert_eq!(st.lines, 100_000);
    assert_eq!(st.lines, st.occurrences + st.status_changes + st.duplicates + st.malformed);
    let f = |x: u64| x as f64 / st.lines as f64;
    assert!((f(st.status_changes) - 0.05).abs() < 0.005, "{st:?}");
    assert!((f(st.duplicates) - 0.01).abs() < 0.002, "{st:?}");
    assert!((f(st.malformed) - 0.002).abs() < 0.0006, "{st:?}");
    assert!((f(st.occurrences) - 0.938).abs() < 0.006, "{st:?}");
    let (_, st) = gen(&GenerateOptions {
        malformed_ratio: 0.1,
        count: 50_000,
        ..opts
    });
    assert!((st.malformed as f64 / 50_000.0 - 0.1).abs() < 0.005, "{st:?}");
}

#[test]
fn stream_shape() {
    let opts = GenerateOptions {
        count: 50_000,
        fingerprints: 2_000,
        projects: 10,
        ..Default::default()
    };
    let (lines, _) = gen_kinds(&opts);
    let mut fp_counts = std::collections::HashMap::<String, u64>::new();
    let mut fp_meta = std::collections::HashMap::<String, (u64, u64)>::new();
    let mut types = std::collections::BTreeMap::<u64, u64>::new();
    let mut projects = std::collections::BTreeMap::<u64, u64>::new();
    let mut multi = 0u64;
    let mut emitted = std::collections::HashSet::<String>::new();
    let mut bytes = 0usize;
    let mut late = 0u64;
    let mut max_t = 0f64;
    let mut id_forms = [0u64; 4];
    let start = opts.start_time as f64;
    let end = start + opts.span_seconds as f64;
    let mut occ = 0u64;
    for (i, (kind, line)) in lines.iter().enumerate() {
        bytes += line.len();
        match kind {
            LineKind::Occurrence => {
                occ += 1;
                let v: Value = serde_json::from_slice(line).unwrap();
                let fp = v["fingerprint"].as_array().unwrap();
                let key = fp[0].as_str().unwrap().to_string();
                if fp.len() > 1 {
                    multi += 1;
                }
                let meta = (v["project_id"].as_u64().unwrap(), v["type"].as_u64().unwrap());
                assert_eq!(
                    *fp_meta.entry(key.clone()).or_insert(meta),
                    meta,
                    "fingerprint keeps project and type"
                );
                *fp_counts.entry(key.clone()).or_default() += 1;
                *types.entry(meta.1).or_default() += 1;
                *projects.entry(meta.0).or_default() += 1;
                emitted.insert(key);
                let id = v["id"].as_str().unwrap();
                id_forms[match id.len() {
                    32 if id.bytes().all(|c| !c.is_ascii_uppercase()) => 0,
                    32 => 2,
                    36 if id.bytes().all(|c| !c.is_ascii_uppercase()) => 1,
                    _ => 3,
                }] += 1;
                let ts = match &v["event"]["timestamp"] {
                    Value::Number(n) => Some(n.as_f64().unwrap()),
                    _ => None,
                };
                if let Some(ts) = ts {
                    assert!(ts >= start - 700.0 && ts <= end + 10.0, "{ts}");
                    if ts < max_t - 5.0 {
                        late += 1;
                    }
                    max_t = max_t.max(ts);
                }
            }
            LineKind::StatusChange => {
                let v: Value = serde_json::from_slice(line).unwrap();
                let key = v["fingerprint"][0].as_str().unwrap();
                assert!(emitted.contains(key), "status change for an unseen fingerprint");
            }
            LineKind::Duplicate => {
                // A copy of one of the last RING first emissions.
                let found = lines[..i]
                    .iter()
                    .rev()
                    .filter(|(k, _)| matches!(k, LineKind::Occurrence | LineKind::StatusChange))
                    .take(RING)
                    .any(|(_, l)| l == line);
                assert!(found, "line {i}");
            }
            LineKind::Malformed => {}
        }
    }
    let avg = bytes as f64 / lines.len() as f64;
    assert!((350.0..=750.0).contains(&avg), "average line {avg} bytes");
    // Zipf: the hottest fingerprint is much hotter than the median one.
    let mut counts: Vec<u64> = fp_counts.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    assert!(counts[0] > 50 * counts[counts.len() / 2], "{:?}", &counts[..10]);
    assert!(types.len() >= 15, "{types:?}");
    assert!(projects.len() == 10 && projects[&1] > projects[&10] * 2, "{projects:?}");
    let mf = multi as f64 / occ as f64;
    assert!(mf > 0.005 && mf < 0.2, "multi-hash share {mf}");
    assert!(late > 0 && (late as f64) < 0.06 * occ as f64, "late {late}");
    assert!(
        id_forms[0] > id_forms[1] && id_forms[1] > 0 && id_forms[2] > 0 && id_forms[3] > 0,
        "{id_forms:?}"
    );
}

#[test]
fn shared_second_strings_stay_within_project_and_type() {
    let opts = GenerateOptions {
        fingerprints: 20_000,
        projects: 3,
        ..Default::default()
    };
    let mut rng = Rng::new(opts.seed);
    let w = World::new(&opts, &mut rng);
    let mut n = [0; 5];
    for fp in &w.fps {
        match fp.second {
            Second::None => n[0] += 1,
            Second::Unique => n[1] += 1,
            Second::Same => n[2] += 1,
            Second::Primary(j) => {
                let o = &w.fps[j as usize];
                assert_eq!((o.project, o.ty), (fp.project, fp.ty));
                n[3] += 1
            }
            Second::Alias(_) => n[4] += 1,
        }
    }
    let two = (n[1] + n[2] + n[3] + n[4]) as f64 / w.fps.len() as f64;
    assert!((two - 0.05).abs() < 0.01, "{n:?}");
    assert!(n[3] > 0 && n[4] > 0 && n[2] > 0, "{n:?}");
}

#[test]
fn zipf_weights_match_powf() {
    let w = zipf_1_1(100_000);
    for k in [1usize, 2, 3, 10, 999, 12_345, 100_000] {
        let exact = (k as f64).powf(-1.1);
        assert!((w[k - 1] / exact - 1.0).abs() < 1e-12, "k={k}: {} vs {exact}", w[k - 1]);
    }
}

#[test]
fn time_formatting() {
    let mut b = Vec::new();
    push_iso(&mut b, 1_704_067_200 * US + 5, 6);
    assert_eq!(b, b"2024-01-01T00:00:00.000005");
    b.clear();
    push_iso(&mut b, 951_782_400 * US + 123_456_789, 3); // 2000-02-29
    assert_eq!(b, b"2000-02-29T00:02:03.456");
    b.clear();
    push_epoch(&mut b, 1_704_067_200_000_001);
    assert_eq!(b, b"1704067200.000001");
    b.clear();
    push_uuid(&mut b, u64::MAX, 0, UuidForm::Braced);
    assert_eq!(b, b"{ffffffff-ffff-4fff-8000-000000000000}");
}

#[test]
fn edge_options() {
    let (out, st) = gen(&GenerateOptions {
        count: 0,
        ..Default::default()
    });
    assert!(out.is_empty() && st == GenerateStats::default());
    let (out, st) = gen(&GenerateOptions {
        count: 500,
        fingerprints: 0,
        projects: 0,
        span_seconds: 0,
        ..Default::default()
    });
    assert_eq!(st.lines, 500);
    assert_eq!(out.iter().filter(|&&c| c == b'\n').count(), 500);
}
