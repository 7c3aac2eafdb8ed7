//! UUID normalisation with the leniency of Python's `uuid.UUID(str)`.

/// Accepts 32 hex digits in any case, with hyphens anywhere, optional `{}` braces and an
/// optional `urn:uuid:` prefix, as Python does. Returns the 128-bit value.
pub fn parse_uuid(text: &str) -> Option<u128> {
    let mut s = text.trim();
    if let Some(rest) = s.strip_prefix("urn:") {
        s = rest;
    }
    if let Some(rest) = s.strip_prefix("uuid:") {
        s = rest;
    }
    let s = s.trim_start_matches('{').trim_end_matches('}');
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
        assert_eq!(parse_uuid("0123456789abcdef0123456789abcdef0"), None);
    }
}
