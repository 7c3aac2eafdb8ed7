//! Short ids: `SLUG-<base32>` with Sentry's alphabet (issue-platform.md §6.3).

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

pub fn base32(mut n: u64) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(ALPHABET[(n % 32) as usize]);
        n /= 32;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).expect("alphabet is ASCII")
}

pub fn format_short_id(slug: &str, n: u64) -> String {
    format!("{}-{}", slug.to_uppercase(), base32(n))
}

/// Parses `SLUG-1A` (optionally `issue:` prefixed; O→0, I/L→1) into (lowercased slug, number).
pub fn parse_short_id(text: &str) -> Option<(String, u64)> {
    let mut text = text.trim();
    if let Some(rest) = text.strip_prefix("issue:") {
        text = rest;
    }
    let split = text.rfind(|c: char| c.is_whitespace() || c == '_' || c == '-')?;
    let (slug, id) = (&text[..split], &text[split + 1..]);
    if slug.is_empty() || id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let mut value: u64 = 0;
    for c in id.to_ascii_uppercase().chars() {
        let c = match c {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        let digit = ALPHABET.iter().position(|&a| a as char == c)? as u64;
        value = value.checked_mul(32)?.checked_add(digit)?;
    }
    Some((slug.to_lowercase(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_parses() {
        assert_eq!(base32(1), "1");
        assert_eq!(base32(32), "10");
        assert_eq!(base32(31), "Z");
        assert_eq!(format_short_id("project-1", 42), "PROJECT-1-1A");
        assert_eq!(parse_short_id("PROJECT-1-1A"), Some(("project-1".into(), 42)));
        assert_eq!(parse_short_id("issue:backend-1o"), Some(("backend".into(), 32)));
        assert_eq!(parse_short_id("nodash"), None);
    }
}
