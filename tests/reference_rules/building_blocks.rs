//! Building blocks: hashing, identifiers, times and the type registry of the model.

use super::*;

#[test]
fn md5_matches_rfc1321_and_padding_boundaries() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "d41d8cd98f00b204e9800998ecf8427e"),
        (b"a", "0cc175b9c0f1b6a831c399e269772661"),
        (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
        (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        (b"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
        (
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
            "57edf4a22be3c955ac49da2e2107b67a",
        ),
        (b"The quick brown fox jumps over the lazy dog", "9e107d9d372bb6826bd81d3542a419d6"),
    ];
    for (input, expected) in cases {
        assert_eq!(md5_hex(input), *expected, "md5({:?})", String::from_utf8_lossy(input));
    }
    // 'a' repeated n times, around the 56/64-byte padding boundaries (values from md5sum).
    let boundaries = [
        (55, "ef1772b6dff9a122358552954ad0df65"),
        (56, "3b0c8ac703f828b04c6c197006d17218"),
        (63, "b06521f39153d618550606be297466d5"),
        (64, "014842d480b571495a4a0363793f7367"),
        (65, "c743a45e0d2e6a95cb859adae0248435"),
        (119, "8a7bd0732ed6a28ce75f6dabc90e1613"),
        (120, "5f61c0ccad4cac44c75ff505e1f1e537"),
    ];
    for (n, expected) in boundaries {
        assert_eq!(md5_hex(&vec![b'a'; n]), expected, "md5('a' x {n})");
    }
    // UTF-8 bytes are hashed: "é" is c3 a9.
    assert_eq!(md5_hex("é".as_bytes()), md5_hex(&[0xc3, 0xa9]));
}

#[test]
fn uuid_forms() {
    let canon = "0123456789abcdef0123456789abcdef";
    for form in [
        "0123456789abcdef0123456789abcdef",
        "0123456789ABCDEF0123456789ABCDEF",
        "01234567-89ab-cdef-0123-456789abcdef",
        "01234567-89AB-CDEF-0123-456789ABCDEF",
        "{01234567-89ab-cdef-0123-456789abcdef}",
        "{0123456789abcdef0123456789abcdef}",
        "urn:uuid:01234567-89ab-cdef-0123-456789abcdef",
        "urn:uuid:{01234567-89ab-cdef-0123-456789abcdef}",
        // Python drops every hyphen and strips braces without pairing them.
        "0123456789-abcdef-0123-456789abcdef",
        "{01234567-89ab-cdef-0123-456789abcdef",
    ] {
        assert_eq!(parse_uuid(form).as_deref(), Some(canon), "{form}");
    }
    for bad in [
        "",
        "xyz",
        "0123456789abcdef0123456789abcde",   // 31 digits
        "0123456789abcdef0123456789abcdef0", // 33 digits
        "0123456789abcdef0123456789abcdeg",  // not hex
        " 0123456789abcdef0123456789abcdef", // Python does not trim whitespace
    ] {
        assert_eq!(parse_uuid(bad), None, "{bad:?}");
    }
}

#[test]
fn time_parsing_and_formatting() {
    assert_eq!(format_time(0), "1970-01-01T00:00:00.000000Z");
    assert_eq!(format_time(-1), "1969-12-31T23:59:59.999999Z");
    assert_eq!(format_time(T0 * 1_000_000 + 123_456), "2024-01-01T12:00:00.123456Z");
    assert_eq!(format_time(951_782_400 * 1_000_000), "2000-02-29T00:00:00.000000Z");
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2024, 1, 1), 19_723);
    assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    assert_eq!(civil_from_days(-1), (1969, 12, 31));

    let us = |s: &str, off: bool| parse_time_str(s, off);
    assert_eq!(us("2024-01-01T12:00:00", false), Some(T0 * 1_000_000));
    assert_eq!(us("2024-01-01T12:00:00Z", false), Some(T0 * 1_000_000));
    assert_eq!(us("2024-01-01T12:00:00.5", false), Some(T0 * 1_000_000 + 500_000));
    assert_eq!(us("2024-01-01T12:00:00.000001Z", false), Some(T0 * 1_000_000 + 1));
    assert_eq!(us("2024-01-01T14:00:00+02:00", true), Some(T0 * 1_000_000));
    assert_eq!(us("2024-01-01T11:30:00-00:30", true), Some(T0 * 1_000_000));
    assert_eq!(us("2024-01-01T14:00:00+02:00", false), None, "offsets only for event.timestamp");
    for bad in [
        "2024-01-01T12:00:00.",
        "2024-01-01T12:00:00.1234567",
        "2024-01-01 12:00:00",
        "2024-01-01T12:00",
        "2024-1-01T12:00:00",
        "2023-02-29T00:00:00",
        "2024-04-31T00:00:00",
        "2024-13-01T00:00:00",
        "2024-01-01T24:00:00",
        "2024-01-01T12:60:00",
        "2024-01-01T12:00:60",
        "2024-01-01T12:00:00z",
        "2024-01-01T12:00:00ZZ",
        "2024-01-01T12:00:00Z+01:00",
        "2024-01-01T12:00:00+0100",
        "0000-01-01T00:00:00",
        " 2024-01-01T12:00:00",
    ] {
        assert_eq!(us(bad, true), None, "{bad:?}");
    }
    assert_eq!(secs_f64_to_us(1_704_110_400.25), Some(T0 * 1_000_000 + 250_000));
    assert_eq!(secs_f64_to_us(1_704_110_400.000001), Some(T0 * 1_000_000 + 1));
    assert_eq!(secs_f64_to_us(-0.5), Some(-500_000));
    // 2^-21 s = 0.476837158203125 µs → 0; 3·2^-21 s = 1.430511474609375 µs → 1
    assert_eq!(secs_f64_to_us(2f64.powi(-21)), Some(0));
    assert_eq!(secs_f64_to_us(3.0 * 2f64.powi(-21)), Some(1));
    // exact ties (SPEC interpretation: to even): 1/128 s = 7812.5 µs, 3/128 s = 23437.5 µs
    assert_eq!(secs_f64_to_us(1.0 / 128.0), Some(7812));
    assert_eq!(secs_f64_to_us(3.0 / 128.0), Some(23438));
    assert_eq!(secs_f64_to_us(-1.0 / 128.0), Some(-7812));
}

#[test]
fn base32_short_ids() {
    assert_eq!(base32(1), "1");
    assert_eq!(base32(9), "9");
    assert_eq!(base32(10), "A");
    assert_eq!(base32(18), "J"); // no I
    assert_eq!(base32(20), "M"); // no L
    assert_eq!(base32(22), "P"); // no O
    assert_eq!(base32(27), "V"); // no U
    assert_eq!(base32(31), "Z");
    assert_eq!(base32(32), "10");
    assert_eq!(base32(33), "11");
    assert_eq!(base32(1023), "ZZ");
    assert_eq!(base32(1024), "100");
}

#[test]
fn group_type_registry() {
    let ids: Vec<i64> = GROUP_TYPES.iter().map(|t| t.type_id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "type ids are unique");
    assert_eq!(ids.len(), 27 + 20, "27 released + 20 unreleased types");
    let t = group_type(1006).unwrap();
    assert_eq!(
        (t.slug, t.category, t.default_priority, t.ignore_limit, t.quota_limit),
        ("performance_n_plus_one_db_queries", "performance", 25, 3, 5)
    );
    let t = group_type(4001).unwrap();
    assert_eq!(
        (t.slug, t.category, t.default_priority, t.ignore_limit, t.quota_limit),
        ("monitor_check_in_failure", "cron", 75, 1, 60_000)
    );
    let t = group_type(8001).unwrap();
    assert_eq!((t.category, t.default_priority, t.quota_limit), ("metric_alert", 75, 100));
    let t = group_type(12001).unwrap();
    assert_eq!((t.category, t.default_priority, t.quota_limit), ("instrumentation", 25, 100));
    let t = group_type(3502).unwrap();
    assert_eq!((t.category, t.default_priority), ("ai_detected", 50));
    assert_eq!(group_type(2009).unwrap().ignore_limit, 2000);
    assert_eq!(group_type(1021).unwrap().ignore_limit, 10);
    assert!(group_type(9999).is_none());
    assert!(group_type(0).is_none());
}

#[test]
fn summary_deserializes() {
    let s: Summary = serde_json::from_str(
        r#"{"lines_read":9,"occurrences_accepted":1,"status_changes_applied":2,"duplicates":3,
            "dropped_noise":1,"dropped_quota":0,"groups_created":1,"dead_lettered":2}"#,
    )
    .unwrap();
    assert_eq!(s, summary(9, 1, 2, 3, 1, 0, 1, 2));
}
