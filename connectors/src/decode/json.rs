//! Choosing and running the JSON decoder for one line: the fast path, sonic-rs, then
//! serde_json for precise reasons.

use serde::Deserialize;

use super::fast;
use super::wire::WireMessage;

/// Lines with more brackets than this may nest deeper than sonic-rs can recurse safely.
pub(super) const MAX_BRACKETS: usize = 64;

/// Decodes with sonic-rs (SIMD; about 3x serde_json here). On failure, serde_json decodes the
/// line again for its precise, stable error messages: failures are rare, so this costs nothing.
/// sonic-rs has no recursion limit, so a line that could nest deeply goes to serde_json only,
/// which stops at depth 128 with an error instead of overflowing the stack.
pub(super) fn decode_json<'a, T: Deserialize<'a>>(line: &'a [u8]) -> Result<T, String> {
    if line.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        // Derived structs would also accept arrays; a message must be an object.
        return Err(match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(value) => format!("expected a JSON object, found {}", json_kind(&value)),
            Err(e) => format!("invalid JSON at {}", positioned(&e)),
        });
    }
    if brackets(line) <= MAX_BRACKETS {
        if let Ok(value) = sonic_rs::from_slice(line) {
            return Ok(value);
        }
    }
    match serde_json::from_slice::<T>(line) {
        Ok(value) => Ok(value),
        Err(e) if e.is_data() => Err(match serde_json::from_slice::<serde::de::IgnoredAny>(line) {
            // A line that is not JSON at all (cut short, say) is reported as such, not by the
            // first field serde happened to reject on the way.
            Err(syntax) if !syntax.is_data() => format!("invalid JSON at {}", positioned(&syntax)),
            _ => data_error::<T>(line).unwrap_or_else(|| e.to_string()),
        }),
        Err(e) => Err(format!("invalid JSON at {}", positioned(&e))),
    }
}

/// A syntax error with its position first (`line 1 column 17: expected value`), as dead
/// letters give it (docs/semantics.md): serde_json puts the position last, which after
/// "invalid JSON at" read as "invalid JSON at expected value at line 1 column 17".
pub(crate) fn positioned(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if e.line() == 0 {
        return text;
    }
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = text.strip_suffix(&suffix).unwrap_or(&text);
    format!("line {} column {}: {message}", e.line(), e.column())
}

/// How many `[` and `{` bytes `line` has (anywhere, strings included).
pub(super) fn brackets(line: &[u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        brackets_sse2(line)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        line.iter().filter(|&&b| b | 0x20 == b'{').count()
    }
}

/// `brackets` 16 bytes at a time: `b | 0x20 == b'{'` holds exactly for `[` and `{`; matches
/// are summed per byte lane and the lanes added up every 255 rounds (before they overflow).
#[cfg(target_arch = "x86_64")]
fn brackets_sse2(line: &[u8]) -> usize {
    use std::arch::x86_64::*;
    let mut chunks = line.chunks_exact(16);
    let mut total = 0usize;
    // Safety: SSE2 is part of the x86_64 baseline; loads are unaligned and within `chunk`.
    unsafe {
        let (bit, brace) = (_mm_set1_epi8(0x20), _mm_set1_epi8(b'{' as i8));
        let mut lanes = _mm_setzero_si128();
        let mut rounds = 0;
        let add_up = |lanes: __m128i| {
            let sums = _mm_sad_epu8(lanes, _mm_setzero_si128());
            (_mm_cvtsi128_si64(sums) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums))) as usize
        };
        for chunk in &mut chunks {
            let bytes = _mm_loadu_si128(chunk.as_ptr().cast());
            // Matching lanes are -1: subtracting counts them.
            lanes = _mm_sub_epi8(lanes, _mm_cmpeq_epi8(_mm_or_si128(bytes, bit), brace));
            rounds += 1;
            if rounds == 255 {
                total += add_up(lanes);
                lanes = _mm_setzero_si128();
                rounds = 0;
            }
        }
        total += add_up(lanes);
    }
    total + chunks.remainder().iter().filter(|&&b| b | 0x20 == b'{').count()
}

/// The message of `line` into `wire` (the default): the fast path when it is sure, else serde
/// (same values, same errors). `true`: the fast path read it and nothing in `wire` is on the
/// heap ([`fast::Parsed::Borrowed`]), so dropping it would free nothing.
pub(super) fn decode_message_into<'a>(line: &'a [u8], wire: &mut WireMessage<'a>) -> Result<bool, String> {
    // The fast path counts the brackets itself, in its pass over the line.
    match fast::parse_into(line, wire) {
        fast::Parsed::Borrowed => Ok(true),
        fast::Parsed::Owning => Ok(false),
        fast::Parsed::Declined => {
            *wire = decode_json(line)?;
            Ok(false)
        }
    }
}

/// The reason for a line that is JSON but not a message: the field it is about, what was
/// expected and what was found, in words (`invalid event.user: expected an object, found the
/// number 5`) rather than serde's (`invalid type: integer `5`, expected struct WireUser at
/// line 1 column 649`: no field, an internal type, and "floating point" for an integer past
/// 2^64). The line is decoded again with its path tracked: only rejected lines pay for it.
fn data_error<'a, T: Deserialize<'a>>(line: &'a [u8]) -> Option<String> {
    let mut deserializer = serde_json::Deserializer::from_slice(line);
    let error = serde_path_to_error::deserialize::<_, T>(&mut deserializer).err()?;
    let inner = error.inner();
    let text = inner.to_string();
    let message = text
        .strip_suffix(&format!(" at line {} column {}", inner.line(), inner.column()))
        .unwrap_or(&text);
    let mut message = in_words(message).unwrap_or_else(|| message.replace('`', ""));
    // serde reads an integer past 2^64 as a float (`1.8446744073709552e+19`): say it as written.
    const FOUND: &str = "found the number ";
    if let Some(at) = message.find(FOUND).map(|at| at + FOUND.len()) {
        if message[at..].contains(['e', '.']) {
            if let Some(written) = integer_ending_at(line, inner.line(), inner.column()) {
                message = format!("{}{written}", &message[..at]);
            }
        }
    }
    let path = error.path().to_string();
    Some(if path == "." {
        message
    } else {
        format!("invalid {path}: {message}")
    })
}

/// The integer literal (digits, perhaps a leading `-`) that ends at serde's error position
/// (`line` and `column` 1-based; the column is the literal's last character), if there is one.
fn integer_ending_at(text: &[u8], line: usize, column: usize) -> Option<&str> {
    let start_of_line: usize = text.split(|&b| b == b'\n').take(line.saturating_sub(1)).map(|l| l.len() + 1).sum();
    let end = (start_of_line + column).min(text.len());
    let digits = text[..end].iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let mut start = end - digits;
    if start > 0 && text[start - 1] == b'-' {
        start -= 1;
    }
    // Part of a float (`1.5`, `2e30`, `1e+30`) is not an integer literal.
    let before_ok = start == 0 || !matches!(text[start - 1], b'.' | b'e' | b'E' | b'+');
    let after_ok = text
        .get(end)
        .is_none_or(|b| !b.is_ascii_digit() && !matches!(b, b'.' | b'e' | b'E'));
    (digits > 0 && before_ok && after_ok)
        .then(|| std::str::from_utf8(&text[start..end]).ok())
        .flatten()
}

/// serde's "invalid type: <found>, expected <expected>" (or "invalid value: …") in words.
fn in_words(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))?;
    let (found, expected) = rest.split_once(", expected ")?;
    let found = match found.split_once(' ') {
        Some(("integer" | "floating", value)) => {
            let value = value.trim_start_matches("point ").trim_matches('`');
            format!("the number {value}")
        }
        Some(("boolean", value)) => value.trim_matches('`').to_string(),
        Some(("string", value)) => format!("the string {value}"),
        _ => match found {
            "map" => "an object".to_string(),
            "sequence" => "an array".to_string(),
            "null" | "unit value" => "null".to_string(),
            other => other.replace('`', ""),
        },
    };
    let expected = match expected {
        "u64" => "an integer from 0 to 18446744073709551615".to_string(),
        "u32" => "an integer from 0 to 4294967295".to_string(),
        "u16" => "an integer from 0 to 65535".to_string(),
        "u8" => "an integer from 0 to 255".to_string(),
        "i64" => "an integer from -9223372036854775808 to 9223372036854775807".to_string(),
        "i32" => "an integer from -2147483648 to 2147483647".to_string(),
        "a sequence" => "an array".to_string(),
        "a map" => "an object".to_string(),
        other if other.starts_with("struct ") || other.starts_with("map") => "an object".to_string(),
        other => other.replace('`', ""),
    };
    Some(format!("expected {expected}, found {found}"))
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
