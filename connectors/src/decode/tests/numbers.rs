//! Numbers: integers and plain decimals read the same on the fast and the serde path.

use super::*;

/// Integers where the fast path computes them itself (up to 18 digits) and around it: the
/// same values and the same refusals as serde.
#[test]
fn integers_on_both_paths() {
    let accepted = [
        "0",
        "7",
        "60",
        "123456789012345678",
        "999999999999999999",
        "1234567890123456789",
        "18446744073709551615",
    ];
    for n in accepted {
        let line = FULL.replace("\"project_id\":60,", &format!("\"project_id\":{n},"));
        assert!(same_on_both_paths(&line), "{n}");
        // `type` is an i64: beyond, the fast path declines (and serde says why).
        let line = FULL.replace("\"type\":1010", &format!("\"type\":{n}"));
        assert_eq!(same_on_both_paths(&line), n.parse::<i64>().is_ok(), "{n}");
        let line = FULL.replace("1704067201.071485", n);
        assert!(same_on_both_paths(&line), "{n}");
    }
    for n in ["00", "01", "1.0", "1e2", "1E2", "-1", "18446744073709551616", "1.", "-"] {
        let line = FULL.replace("\"project_id\":60,", &format!("\"project_id\":{n},"));
        assert!(!same_on_both_paths(&line), "{n}");
    }
    for n in ["1.0", "1e2", "-1", "-0", "18446744073709551616"] {
        let line = FULL.replace("1704067201.071485", n);
        assert!(same_on_both_paths(&line), "{n}");
    }
}

/// Plain decimals (`detection_time`, float timestamps) are computed by the fast path itself:
/// bit for bit the value sonic-rs's parser gives, over random digit strings of every length
/// it takes, and the shapes it leaves to the parser are declined.
#[test]
fn plain_decimals_are_sonics_values() {
    let mut next = {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    };
    let mut taken = 0;
    for _ in 0..200_000 {
        let integer_digits = 1 + (next() % 18) as usize;
        let fraction_digits = 1 + (next() % 18) as usize;
        let digits: String = (0..integer_digits + fraction_digits)
            .map(|_| char::from(b'0' + (next() % 10) as u8))
            .collect();
        let (integer, fraction) = digits.split_at(integer_digits);
        let integer = if integer_digits > 1 {
            integer.trim_start_matches('0')
        } else {
            integer
        };
        let integer = if integer.is_empty() { "0" } else { integer };
        let text = format!("{integer}.{fraction},");
        let bytes = text.as_bytes();
        let point = integer.len();
        let Ok(value) = integer.parse::<u64>() else { continue };
        let mut index = 0;
        let expected = sonic_number::parse_number(bytes, &mut index, false).expect("a valid number");
        if let Some((end, x)) = digits::plain_decimal(bytes, point + 1, value, point) {
            taken += 1;
            assert_eq!(end, index, "{text}");
            match expected {
                sonic_number::ParserNumber::Float(y) => assert_eq!(x.to_bits(), y.to_bits(), "{text}"),
                other => panic!("{text}: sonic says {other:?}"),
            }
        }
    }
    assert!(taken > 50_000, "{taken}");
    for declined in ["1.5e3,", "1.,", "9007199254740993.0,", "0.0,", "1.0000000000000000,"] {
        let point = declined.find('.').unwrap();
        let value = declined[..point].parse::<u64>().unwrap();
        assert!(
            digits::plain_decimal(declined.as_bytes(), point + 1, value, point).is_none(),
            "{declined}"
        );
    }
    for n in ["1704067201.071485", "0.5", "1704067202.61", "12345678.901234567"] {
        assert!(same_on_both_paths(&FULL.replace("1704067201.071485", n)), "{n}");
    }
}

/// Reasons quote an integer past the field's range as written (serde reads one past 2^64 as
/// a float, `1.8446744073709552e+19`); a float stays as serde shows it.
#[test]
fn out_of_range_integers_are_quoted_as_written() {
    let cases = [
        (
            OK.replace("\"project_id\":1", "\"project_id\":18446744073709551616"),
            "invalid project_id: expected an integer from 0 to 18446744073709551615, found the number 18446744073709551616",
        ),
        (
            OK.replace("\"type\":4001", "\"type\":-99999999999999999999"),
            "invalid type: expected an integer from -9223372036854775808 to 9223372036854775807, found the number -99999999999999999999",
        ),
        (
            OK.replace("\"project_id\":1", "\"project_id\":1.5"),
            "invalid project_id: expected an integer from 0 to 18446744073709551615, found the number 1.5",
        ),
        (
            OK.replace("\"project_id\":1", "\"project_id\":2e+30"),
            "invalid project_id: expected an integer from 0 to 18446744073709551615, found the number 2e+30",
        ),
    ];
    for (line, reason) in cases {
        assert_eq!(decode(&line).err().as_deref(), Some(reason), "{line}");
    }
}
