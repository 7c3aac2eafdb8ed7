//! Decoder tests: both paths agree, and rejections say why.

use super::json::brackets;
use super::*;
use dataflows::model::group_hash;

mod numbers;
mod seen;

fn decode(line: &str) -> Result<Record, String> {
    OccurrenceDecoder::default().decode(line.as_bytes(), 0, &mut |_, _| {})
}

const OK: &str = r#"{"id":"0123456789abcdef0123456789abcdef","project_id":1,"event_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","fingerprint":["a"],"issue_title":"t","subtitle":"s","type":4001,"detection_time":1704110400.5}"#;

#[test]
fn decodes_a_minimal_occurrence() {
    let record = decode(OK).unwrap();
    let RecordBody::Occurrence(occ) = record.body else {
        panic!("not an occurrence")
    };
    assert_eq!(occ.time, 1_704_110_400_500_000);
    assert_eq!(occ.level, Level::Info);
    assert_eq!(occ.hash, group_hash("a"));
}

type Outcome = (Result<Record, String>, Vec<(Symbol, String)>);

/// The line through the fast path (`None` if it declines) and through serde alone.
fn both_paths(line: &[u8]) -> (Option<Outcome>, Outcome) {
    let decoder = OccurrenceDecoder::default();
    let run = |wire: Result<WireMessage, String>| {
        let mut defined = Vec::new();
        let record = wire.and_then(|mut w| decoder.decode_wire(&mut w, 7, &mut |s, n| defined.push((s, n.to_owned())), None));
        (record, defined)
    };
    let fast = fast::parse(line).map(|w| run(Ok(w)));
    (fast, run(decode_json::<WireMessage>(line)))
}

fn same_on_both_paths(line: &str) -> bool {
    let (fast, slow) = both_paths(line.as_bytes());
    if let Some(fast) = &fast {
        assert_eq!(fast, &slow, "{line}");
    }
    fast.is_some()
}

const FULL: &str = r#"{"id":"171206eb153e40f6b2c9b9325079a15b","project_id":60,"event_id":"0f3c7092dab04e0094f5818229c2a1dc","fingerprint":["1-1010-4b24bc61a064b246","x","1-1010-4b24bc61a064b246"],"issue_title":"N+1 API Call","subtitle":"GET https://payments.internal/v3","evidence_data":{"num_repeating_spans":37,"x":[1,-2.5e3,true,false,null,{"a":[]},"s\"q"]},"evidence_display":[{"name":"Offending Spans","value":"http.client","important":true}],"type":1010,"detection_time":1704067201.071485,"level":"warning","culprit":"/api/auth","initial_issue_priority":null,"priority":75,"payload_type":"occurrence","event":{"event_id":"0f3c7092dab04e0094f5818229c2a1dc","project_id":60,"platform":"ruby","tags":{"a":"b"},"timestamp":"2024-01-01T00:00:00.509012+00:00","environment":"production","release":"checkout@3.5.2","user":{"email":"user17@p60.example.com","id":null,"geo":{"city":"x"}}}}"#;

#[test]
fn the_fast_path_decodes_what_serde_decodes() {
    let accepted = [
        OK.to_string(),
        FULL.to_string(),
        format!(" \t{}\r\n ", FULL.replace(",\"", " , \"").replace("\":", "\" :\t")),
        FULL.replace("N+1 API Call", r#"N+1 \"q\" \\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00 é 😀"#),
        FULL.replace("1704067201.071485", "-0"),
        FULL.replace("1704067201.071485", "0"),
        FULL.replace("1704067201.071485", "17040672e2"),
        FULL.replace("1704067201.071485", "1.7040672010714851234567E+9"),
        FULL.replace("1704067201.071485", "\"2024-01-01T00:00:05.838299\""),
        FULL.replace("1704067201.071485", "18446744073709551615"),
        FULL.replace("1704067201.071485", "18446744073709551616"),
        FULL.replace("1704067201.071485", "-9223372036854775809"),
        FULL.replace(
            "\"timestamp\":\"2024-01-01T00:00:00.509012+00:00\"",
            "\"timestamp\":1704067202.612783",
        ),
        FULL.replace("\"email\":\"user17@p60.example.com\",\"id\":null", "\"id\":42"),
        FULL.replace("\"email\":\"user17@p60.example.com\",\"id\":null", "\"id\":-42"),
        FULL.replace("\"email\":\"user17@p60.example.com\",\"id\":null", "\"id\":4.25"),
        FULL.replace(
            "\"email\":\"user17@p60.example.com\",\"id\":null",
            "\"id\":true,\"username\":[1,{}]",
        ),
        FULL.replace(
            "\"email\":\"user17@p60.example.com\",\"id\":null",
            "\"id\":\"\",\"ip_address\":\"1.2.3.4\"",
        ),
        FULL.replace("\"user\":{", "\"user\":null,\"u\":{"),
        FULL.replace("\"release\":\"checkout@3.5.2\"", "\"release\":null"),
        FULL.replace("\"project_id\":60,\"platform\"", "\"project_id\":61,\"platform\""),
        FULL.replace("\"event\":{", "\"event\":null,\"e\":{"),
        FULL.replace("\"type\":1010", "\"type\":9999"),
        FULL.replace("\"type\":1010", "\"type\":-1"),
        FULL.replace("\"priority\":75", "\"priority\":1"),
        FULL.replace("\"priority\":75", "\"priority\":null"),
        FULL.replace("\"fingerprint\":[", "\"fingerprint\":[],\"f\":["),
        FULL.replace("\"fingerprint\":[", "\"fingerprint\":null,\"f\":["),
        FULL.replace("\"issue_title\":\"N+1 API Call\",", ""),
        FULL.replace("\"culprit\":\"/api/auth\"", &format!("\"culprit\":\"{}\"", "é".repeat(300))),
        FULL.replace(
            "\"payload_type\":\"occurrence\"",
            "\"payload_type\":\"status_change\",\"new_status\":1,\"new_substatus\":null",
        ),
        FULL.replace("\"payload_type\":\"occurrence\"", "\"payload_type\":\"other\""),
        r#"{"evidence":{}}"#.to_string(),
        "{}".to_string(),
    ];
    for line in &accepted {
        assert!(same_on_both_paths(line), "declined: {line}");
    }
    // Declined: the serde path decides (and words the reason).
    let declined = [
        FULL.replace("\"subtitle\"", "\"issue_title\""),
        FULL.replace("\"geo\"", "\"email\""),
        FULL.replace("\"subtitle\"", "\"sub\\u0074itle\""),
        FULL.replace("N+1 API Call", r#"\ud83d"#),
        FULL.replace("N+1 API Call", r#"\ude00"#),
        FULL.replace("N+1 API Call", r#"\x"#),
        FULL.replace("N+1 API Call", "a\tb"),
        FULL.replace("1704067201.071485", "01"),
        FULL.replace("1704067201.071485", "1."),
        FULL.replace("1704067201.071485", "1e999"),
        FULL.replace("1704067201.071485", "true"),
        FULL.replace("\"project_id\":60,\"event_id\"", "\"project_id\":60.0,\"event_id\""),
        FULL.replace("\"type\":1010", "\"type\":\"1010\""),
        FULL.replace("\"event\":{", "\"event\":[{"),
        FULL.replace("[1,-2.5e3", "[1,,-2.5e3"),
        FULL.replace("\"important\":true", "\"important\":tru"),
        format!("{FULL}x"),
        format!("[{FULL}]"),
        FULL[..FULL.len() - 1].to_string(),
    ];
    for line in &declined {
        assert!(!same_on_both_paths(line), "accepted: {line}");
    }
    assert!(fast::parse(b"{\"a\":\"\xff\"}").is_none());
}

/// Every line of `OCCURRENT_DECODE_CHECK` (a JSON-lines file, such as the benchmark
/// inputs) decodes to the same record, symbols and reason on both paths.
#[test]
#[ignore]
fn the_fast_path_agrees_on_a_file() {
    let path = std::env::var("OCCURRENT_DECODE_CHECK").expect("OCCURRENT_DECODE_CHECK=<file>");
    let data = std::fs::read(path).unwrap();
    let (mut lines, mut fast) = (0, 0);
    for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        lines += 1;
        let (quick, slow) = both_paths(line);
        if let Some(quick) = quick {
            fast += 1;
            assert_eq!(quick, slow, "{}", String::from_utf8_lossy(line));
        }
    }
    eprintln!("{fast} of {lines} lines on the fast path, all equal");
}

#[test]
fn brackets_are_counted_exactly() {
    let line: Vec<u8> = (0..10_000u32).map(|i| (i * 7919 % 256) as u8).collect();
    for len in [0, 1, 15, 16, 17, 255 * 16, 255 * 16 + 1, 4100, 10_000] {
        let expected = line[..len].iter().filter(|&&b| b == b'[' || b == b'{').count();
        assert_eq!(brackets(&line[..len]), expected, "{len}");
    }
    assert_eq!(brackets(&[b'{'; 5000]), 5000);
}

#[test]
fn reasons_are_precise() {
    let cases = [
        (r#"{"id":"x""#, "invalid JSON at line 1 column 9: EOF while parsing an object"),
        // Cut short after a field of the wrong type: the line is not JSON, whatever its fields.
        (r#"{"id": 12,"#, "invalid JSON at line 1 column 10: EOF while parsing an object"),
        ("\u{1}", "invalid JSON at line 1 column 1: expected value"),
        (r#"{"id": 1e999}"#, "invalid JSON at line 1 column 12: number out of range"),
        (&OK.replace(r#""issue_title":"t","#, ""), "missing field issue_title"),
        (&OK.replace("4001", "9999"), "unknown group type 9999"),
        (
            &OK.replace("0123456789abcdef0123456789abcdef", "xyz"),
            "invalid id \"xyz\": not a UUID",
        ),
        (
            &OK.replace(
                "\"type\"",
                r#""event":{"event_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","project_id":2},"type""#,
            ),
            "event.project_id 2 differs from project_id 1",
        ),
        (&OK.replace("\"id\"", r#""payload_type":"x","id""#), "unknown payload_type \"x\""),
        (&OK.replace("[\"a\"]", "[]"), "fingerprint must not be empty"),
        // Data errors name their field and say what was expected in words.
        (
            &OK.replace("\"type\":4001", "\"type\":\"4001\""),
            "invalid type: expected an integer from -9223372036854775808 to 9223372036854775807, found the string \"4001\"",
        ),
        (
            &OK.replace("[\"a\"]", "{}"),
            "invalid fingerprint: expected an array of strings, found an object",
        ),
        (
            &OK.replace("\"detection_time\":", "\"detection_time\":1e300,\"x\":"),
            "invalid detection_time: 1e300 out of range",
        ),
    ];
    for (line, reason) in cases {
        assert_eq!(decode(line).unwrap_err(), reason, "{line}");
    }
}

/// Strings with escapes, surrogate pairs and control characters at every offset around the
/// 64-byte blocks of the fast path's scan: both paths agree, and the fast path declines
/// exactly what is not JSON.
#[test]
fn strings_across_scan_blocks() {
    let escapes = [r#"\""#, r#"\\"#, r#"\/"#, r#"\n"#, r#"\u00e9"#, r#"\ud83d\ude00"#, "é", "😀"];
    for shift in 0..64 {
        // `shift` moves the title's start across a block seam.
        let padded = FULL.replacen("{\"id\"", &format!("{{\"pad\":\"{}\",\"id\"", "p".repeat(shift)), 1);
        for len in [0, 1, 15, 16, 31, 32, 63, 64, 65, 130] {
            for at in [0, len / 2, len] {
                for escape in escapes {
                    let title = format!("{}{escape}{}", "t".repeat(at), "u".repeat(len - at));
                    let line = padded.replace("N+1 API Call", &title);
                    assert!(same_on_both_paths(&line), "declined: {line}");
                }
                for bad in ["\u{1}", "\t", "\u{1f}", r#"\ud83d"#, r#"\ude00x"#, r#"\q"#, r#"\u12"#, r#"\u00g0"#] {
                    let title = format!("{}{bad}{}", "t".repeat(at), "u".repeat(len - at));
                    let line = padded.replace("N+1 API Call", &title);
                    assert!(!same_on_both_paths(&line), "accepted: {line}");
                }
            }
        }
    }
    // A string that ends (or stops) exactly at a block's end, and at the line's end.
    for len in 0..140 {
        let line = format!("{{\"k\":\"{}\"}}", "x".repeat(len));
        assert!(same_on_both_paths(&line), "{line}");
        assert!(fast::parse(&line.as_bytes()[..line.len() - 2]).is_none(), "{line}");
        assert!(fast::parse(format!("{{\"k\":\"{}\\", "x".repeat(len)).as_bytes()).is_none());
    }
}

/// Every prefix of a line and every single-byte change: never a panic, and whatever the fast
/// path accepts, serde decodes the same way.
#[test]
fn malformed_lines_never_panic_and_never_disagree() {
    let line = FULL.replace("N+1 API Call", r#"q\"\\\u00e9\ud83d\ude00"#);
    for end in 0..line.len() {
        assert!(fast::parse(&line.as_bytes()[..end]).is_none(), "prefix {end}");
    }
    for at in 0..line.len() {
        for byte in [b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', 0, b'\n', b'0', b'a', 0xff] {
            let mut changed = line.as_bytes().to_vec();
            changed[at] = byte;
            let (fast, slow) = both_paths(&changed);
            if let Some(fast) = fast {
                assert_eq!(fast, slow, "{}", String::from_utf8_lossy(&changed));
            }
        }
    }
}

/// Nesting up to the fast path's bracket budget is decoded by it; beyond, it declines and the
/// serde path decides (deep lines included, without overflowing the stack).
#[test]
fn deep_nesting() {
    // sonic-rs (the serde side of the comparison) recurses with frames of tens of KiB in debug
    // builds: 64 levels need more than a test thread's default stack.
    let run = || {
        let nested = |depth: usize| {
            FULL.replace(
                "\"num_repeating_spans\":37",
                &format!("\"n\":{}1{}", "[".repeat(depth), "]".repeat(depth)),
            )
        };
        let base = brackets(FULL.as_bytes());
        for depth in [1, 10, json::MAX_BRACKETS - base] {
            assert!(same_on_both_paths(&nested(depth)), "depth {depth}");
        }
        for depth in [json::MAX_BRACKETS - base + 1, 200, 100_000] {
            assert!(!same_on_both_paths(&nested(depth)), "depth {depth}");
        }
    };
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}

/// Values in fields the model ignores, skipped by the fast path's loop: well-formed ones of
/// every shape are accepted (and equal serde's record); malformed ones (and keys with
/// escapes, as before) are declined, so that the serde path decides and words the reason:
/// mismatched brackets, trailing commas and invalid UTF-8 included, at offsets across the
/// scan's 64-byte blocks.
#[test]
fn skipped_values_are_checked_exactly() {
    let good = [
        "null",
        "true",
        "-1.5e-3",
        "\"s\\\"\\\\\\u00e9\"",
        "[]",
        "{}",
        "[ ]",
        "{ }",
        "[[],[[]],{}]",
        "{\"a\":{\"b\":[1,{\"c\":null}]},\"d\":[]}",
        "[{\"a\":[{\"b\":{}}]},\"x\",0,false]",
        " [ 1 , { \"k\" : \"v\" } ] ",
        "\"é😀\"",
        "{\"é\":\"\\ud83d\\ude00\"}",
    ];
    let bad = [
        "[1,]",
        "{\"a\":1,}",
        "[}",
        "{]",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\" 1}",
        "[1 2]",
        "{1:2}",
        "[\"a\":1]",
        "{\"a\":1]",
        "[[1]",
        "{\"a\":[}]}",
        "[tru]",
        "[nul]",
        "[01]",
        "{\"\\u0061\":1}",
        "\"\u{1}\"",
        "[\"\\q\"]",
        "[-]",
    ];
    for shift in [0, 1, 30, 31, 32, 33, 62, 63, 64, 65] {
        let pad = "p".repeat(shift);
        for (value, accepted) in good.iter().map(|v| (v, true)).chain(bad.iter().map(|v| (v, false))) {
            let line = FULL.replacen("{\"id\"", &format!("{{\"pad\":\"{pad}\",\"skip\":{value},\"id\"",), 1);
            assert_eq!(same_on_both_paths(&line), accepted, "{line}");
            // The same inside the event, and inside a user (other skip depths).
            let line = FULL.replace("\"platform\":\"ruby\"", &format!("\"platform\":{value},\"p\":\"{pad}\""));
            assert_eq!(same_on_both_paths(&line), accepted, "{line}");
            let line = FULL.replace("\"geo\":{\"city\":\"x\"}", &format!("\"geo\":{value}"));
            assert_eq!(same_on_both_paths(&line), accepted, "{line}");
        }
    }
    // Invalid UTF-8 inside a skipped string (the line is then not all ASCII either); valid
    // UTF-8 there is accepted.
    let with_skipped = |bytes: &[u8]| [&b"{\"skip\":[\""[..], bytes, b"\"],", &FULL.as_bytes()[1..]].concat();
    for bytes in [
        &b"\xff"[..],
        b"\xc3",
        b"\xe2\x82",
        b"\xed\xa0\x80",
        b"\xc3\xa9\xff",
        b"\xf4\x90\x80\x80",
    ] {
        let line = with_skipped(bytes);
        // Declined; the serde path then decides, as before (sonic-rs does not check the
        // bytes of values it ignores, so such a line may still decode).
        assert!(fast::parse(&line).is_none(), "{}", String::from_utf8_lossy(&line));
    }
    for bytes in [&b"\xc3\xa9"[..], "😀".as_bytes(), b"\x7f"] {
        let line = with_skipped(bytes);
        assert!(same_on_both_paths(std::str::from_utf8(&line).unwrap()));
    }
}

/// Tags objects the fast path keeps as text (`tag_cache`): each decodes to the tag set the
/// serde path builds from its pairs, the first time (read) and again (a hit), also once far
/// more distinct objects than the table's slots have replaced each other.
#[test]
fn tag_sets_by_text_are_the_pairs_sets() {
    let tags = |object: &str| FULL.replace(r#""tags":{"a":"b"}"#, &format!(r#""tags":{object}"#));
    let mut objects: Vec<String> = [
        r#"{"a":"b"}"#,
        r#"{ "a" : "b" }"#,
        r#"{"b":"2","a":"1"}"#,
        r#"{"a":"1","b":"2"}"#,
        // Duplicate keys (both kept), duplicate pairs (one kept).
        r#"{"url":"/x","url":"/y"}"#,
        r#"{"url":"/x","url":"/x"}"#,
        // Empty keys and values are dropped; nothing left is no set.
        r#"{"":"v","k":""}"#,
        r#"{"k":"","a":"b"}"#,
        // Values with escapes, the same pair spelled differently.
        r#"{"k":"\u0041\n\"]\\"}"#,
        r#"{"k":"A\n\"]\\"}"#,
        r#"{"k":"\ud83d\ude00 é"}"#,
        r#"{"k":"😀 é"}"#,
        r#"{"k":"[\"x\",\"y\"]"}"#,
        r#"{}"#,
        r#"null"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // A value whose escapes straddle the scan's 64-byte blocks at every offset.
    objects.extend((0..70).map(|n| format!(r#"{{"k":"{}\"\\\u00e9{}"}}"#, "x".repeat(n), "y".repeat(n % 7))));
    // Far more distinct objects than slots (replacements), then again in reverse.
    objects.extend((0..3000).map(|i| format!(r#"{{"route":"/r/{i}","device":"d{}"}}"#, i % 13)));
    for round in 0..2 {
        for object in objects.iter().chain(objects.iter().rev().step_by(3)) {
            assert!(same_on_both_paths(&tags(object)), "round {round}: declined {object}");
        }
    }
    // Values that are not strings, escaped keys and malformed objects are the serde path's.
    for object in [
        r#"{"k":1}"#,
        r#"{"k":null}"#,
        r#"{"k":["v"]}"#,
        r#"{"k\u0041":"v"}"#,
        r#"{"k":"v",}"#,
        r#"{"k":"v""#,
        r#"{"k" "v"}"#,
        r#"[["k","v"]]"#,
        r#"{"k":"a\x"}"#,
        r#"{"k":"\ud83d"}"#,
    ] {
        assert!(!same_on_both_paths(&tags(object)), "accepted {object}");
    }
    // The same text gives the same set on another thread (its own table).
    let line = tags(r#"{"b":"2","a":"1"}"#);
    let here = both_paths(line.as_bytes()).0;
    let there = std::thread::spawn(move || both_paths(line.as_bytes()).0).join().unwrap();
    assert_eq!(here, there);
    // And a tag set's name is that of its sorted pairs.
    let (Some((Ok(record), defined)), _) = both_paths(tags(r#"{"b":"2","a":"1","b":"2"}"#).as_bytes()) else {
        panic!("declined");
    };
    let RecordBody::Occurrence(occ) = record.body else {
        panic!("not an occurrence")
    };
    let name = r#"[["a","1"],["b","2"]]"#;
    assert_eq!(occ.tags.map(|t| t.get()), Some(symbol_of(name)));
    assert!(defined.contains(&(symbol_of(name), name.to_string())));
}

/// Keys are predicted (`keys::KeyTable`): lines with the keys in other orders (every
/// rotation, at both levels), optional keys absent, keys repeated (right after themselves,
/// where the prediction finds them, and at the end), unknown keys in between, names one byte
/// longer or shorter, escaped spellings and blanks around the colons all give the serde
/// path's record or reason.
#[test]
fn keys_in_any_order_are_read_the_same() {
    let event = [
        ("event_id", r#""0f3c7092dab04e0094f5818229c2a1dc""#),
        ("project_id", "60"),
        ("platform", r#""ruby""#),
        ("tags", r#"{"a":"b"}"#),
        ("timestamp", r#""2024-01-01T00:00:00.509012+00:00""#),
        ("received", "1704067201.5"),
        ("environment", r#""production""#),
        ("release", r#""checkout@3.5.2""#),
        ("user", r#"{"email":"user17@p60.example.com","id":null}"#),
        ("trace_id", r#""01075c7347114b1c4689081ecab9de68""#),
    ];
    let top = [
        ("id", r#""171206eb153e40f6b2c9b9325079a15b""#),
        ("project_id", "60"),
        ("event_id", r#""0f3c7092dab04e0094f5818229c2a1dc""#),
        ("fingerprint", r#"["1-1010-4b24bc61a064b246"]"#),
        ("issue_title", r#""N+1 API Call""#),
        ("subtitle", r#""GET x""#),
        ("resource_id", "null"),
        ("evidence_data", r#"{"num_repeating_spans":37}"#),
        ("evidence_display", r#"[{"name":"a","value":"b","important":true}]"#),
        ("type", "1010"),
        ("detection_time", "1704067201.071485"),
        ("level", r#""warning""#),
        ("culprit", r#""/api""#),
        ("initial_issue_priority", "50"),
        ("payload_type", r#""occurrence""#),
        ("event", "EVENT"),
        ("priority", "75"),
    ];
    let object = |pairs: &[(String, String)]| {
        let fields: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        format!("{{{}}}", fields.join(","))
    };
    let quoted =
        |pairs: &[(&str, &str)]| -> Vec<(String, String)> { pairs.iter().map(|(k, v)| (format!("\"{k}\""), v.to_string())).collect() };
    // The variants of a list of pairs: rotations, each pair removed, repeated, renamed.
    let variants = |pairs: Vec<(String, String)>| {
        let mut out = vec![pairs.clone()];
        for i in 0..pairs.len() {
            let mut rotated = pairs.clone();
            rotated.rotate_left(i);
            out.push(rotated);
            let mut removed = pairs.clone();
            removed.remove(i);
            out.push(removed);
            let mut again = pairs.clone();
            again.insert(i + 1, pairs[i].clone());
            out.push(again);
            let mut last = pairs.clone();
            last.push(pairs[i].clone());
            out.push(last);
            let mut unknown = pairs.clone();
            unknown.insert(i, ("\"unknown_key\"".into(), "[1,{\"a\":2}]".into()));
            out.push(unknown);
            let key = pairs[i].0.trim_matches('"');
            let first = key.as_bytes()[0];
            for renamed in [
                format!("\"{key}x\""),
                format!("\"{}\"", &key[..key.len() - 1]),
                format!("\"\\u{first:04x}{}\"", &key[1..]),
                format!("\"{key}\" "),
                format!(" \"{key}\""),
            ] {
                let mut changed = pairs.clone();
                changed[i].0 = renamed;
                out.push(changed);
            }
        }
        out
    };
    let (mut lines, mut fast) = (0, 0);
    let event_text = object(&quoted(&event));
    for top in variants(quoted(&top)) {
        let line = object(&top).replace("EVENT", &event_text);
        lines += 1;
        fast += usize::from(same_on_both_paths(&line));
    }
    for event in variants(quoted(&event)) {
        let line = object(&quoted(&top)).replace("EVENT", &object(&event));
        lines += 1;
        fast += usize::from(same_on_both_paths(&line));
    }
    // Rotations, removals and unknown keys are accepted; repeats and escapes are not.
    assert!(fast * 2 > lines, "{fast} of {lines}");
    let status = r#"{"payload_type":"status_change","id":"d68233a9a3a04938ab98e09351781efb","project_id":2,"fingerprint":["a"],"new_status":2,"new_substatus":1}"#;
    assert!(same_on_both_paths(status));
    assert!(!same_on_both_paths(
        &status.replace(r#""new_status":2,"#, r#""new_status":2,"new_status":2,"#)
    ));
}

/// Lines with an escaped string anywhere the fast path keeps one, or a second fingerprint
/// entry, are `Owning`; lines whose strings are all borrowed are `Borrowed` (and `fast::parse`
/// checks, on every line of these tests, that a `Borrowed` message holds nothing on the heap).
#[test]
fn borrowed_messages_hold_nothing_on_the_heap() {
    let parsed = |line: &str| {
        let mut wire = WireMessage::default();
        let parsed = fast::parse_into(line.as_bytes(), &mut wire);
        (parsed, wire.holds_heap())
    };
    let borrowed = [
        OK.to_string(),
        // Escapes in skipped values and tags are checked, not kept.
        FULL.replace(r#""x","1-1010-4b24bc61a064b246""#, "")
            .replace(r#"["1-1010-4b24bc61a064b246","#, r#"["1-1010-4b24bc61a064b246""#),
        OK.replace(r#""fingerprint":["a"]"#, r#""fingerprint":["a"],"evidence_data":{"k":"\n\u00e9"}"#),
    ];
    for line in &borrowed {
        assert_eq!(parsed(line), (fast::Parsed::Borrowed, false), "{line}");
    }
    let owning = [
        FULL.to_string(),
        OK.replace(r#"["a"]"#, r#"["a","b"]"#),
        OK.replace(r#""t""#, r#""t\"q""#),
        OK.replace(r#""s""#, r#""\u00e9""#),
        FULL.replace(r#""production""#, r#""prod\/x""#),
        FULL.replace(
            r#""2024-01-01T00:00:00.509012+00:00""#,
            r#""2024-01-01T00:00:00.509012\u002B00:00""#,
        ),
        FULL.replace(r#""email":"user17@p60.example.com""#, r#""email":"user17\u0040p60.example.com""#),
    ];
    for line in &owning {
        let (result, holds) = parsed(line);
        assert_eq!(result, fast::Parsed::Owning, "{line}");
        assert!(holds, "{line}");
        assert!(same_on_both_paths(line), "{line}");
    }
    // A single escaped fingerprint entry is hashed and dropped, but the flag is set where the
    // string is made: conservative.
    assert_eq!(parsed(&OK.replace(r#"["a"]"#, r#"["a\n"]"#)), (fast::Parsed::Owning, false));
    assert_eq!(parsed("{").0, fast::Parsed::Declined);
}

/// The symbol of `kind:value` is the same whether the stack buffer (256 bytes) or a `String`
/// holds it, at every length around the buffer's size.
#[test]
fn prefixed_symbols_at_every_buffer_size() {
    for kind in ["id", "email", "username", "ip"] {
        for len in (0..20).chain(240..270) {
            let value: String = (0..len).map(|i| ['a', 'é', '7', ':'][i % 4]).collect();
            assert_eq!(prefixed_symbol(kind, &value), symbol_of(&format!("{kind}:{value}")), "{kind} {len}");
        }
    }
}
