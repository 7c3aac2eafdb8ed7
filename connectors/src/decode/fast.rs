//! A field-selective fast path for [`WireMessage`]: one pass over the line that borrows the
//! strings it keeps, hashes fingerprints in place and validates (without building) everything
//! else.
//!
//! It only *accepts* what it is sure about: well-formed JSON whose kept fields have the shapes
//! the serde path accepts, with no duplicate known keys and no escapes in keys. On anything
//! else it answers `None` and the caller decodes the line with the serde path as before, which
//! then produces the same record or the same precise reason. Numbers are parsed by the number
//! parser sonic-rs itself uses, so accepted values are bit-for-bit those of the serde path.

use std::borrow::Cow;

use sonic_number::ParserNumber;

use super::wire::{Fingerprint, Lenient, NumOrStr, WireEvent, WireMessage, WireUser};
use dataflows::model::group_hash;

/// Deeper values are left to the serde path (which the caller only uses for lines of at most
/// 64 brackets anyway).
const MAX_DEPTH: usize = 64;

/// Decodes `line` if it has the common, unambiguous shape; `None` means "use the serde path".
pub(super) fn parse(line: &[u8]) -> Option<WireMessage<'_>> {
    // Valid UTF-8 once for the whole line: string slices taken between quotes are then valid.
    let text = simdutf8::basic::from_utf8(line).ok()?;
    let mut parser = Parser {
        text,
        s: text.as_bytes(),
        pos: 0,
    };
    let message = parser.message()?;
    parser.ws();
    (parser.pos == parser.s.len()).then_some(message)
}

struct Parser<'a> {
    /// The line, and the same as bytes.
    text: &'a str,
    s: &'a [u8],
    pos: usize,
}

/// Sets `$slot` to `Some($value)` unless a previous key already set it (serde: "duplicate field").
macro_rules! once {
    ($slot:expr, $value:expr) => {{
        if $slot.is_some() {
            return None;
        }
        $slot = Some($value);
    }};
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Bytes of `x` (little endian) that are `"`, `\` or a control character: the lowest flagged
/// byte is exact (higher flags may be spurious, from borrows).
#[inline(always)]
fn special(x: u64) -> u64 {
    let has_zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
    has_zero(x ^ (LO * b'"' as u64)) | has_zero(x ^ (LO * b'\\' as u64)) | (x.wrapping_sub(LO * 0x20) & !x & HI)
}

/// The position of the first `"`, `\` or control character of `s` at or after `i`, or a
/// position less than 8 bytes from the end (the caller looks at the rest byte by byte).
#[inline(always)]
fn skip_plain(s: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    // Safety: SSE2 is part of the x86_64 baseline; each load reads 16 bytes inside `s`.
    unsafe {
        use std::arch::x86_64::*;
        let (quote, backslash, control) = (_mm_set1_epi8(b'"' as i8), _mm_set1_epi8(b'\\' as i8), _mm_set1_epi8(0x1f));
        while i + 16 <= s.len() {
            let bytes = _mm_loadu_si128(s.as_ptr().add(i).cast());
            // max(b, 0x1f) == 0x1f exactly for control characters (unsigned).
            let hits = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, backslash)),
                _mm_cmpeq_epi8(_mm_max_epu8(bytes, control), control),
            );
            let mask = _mm_movemask_epi8(hits) as u32;
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
    }
    while let Some(chunk) = s.get(i..i + 8) {
        let flags = special(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        if flags != 0 {
            return i + (flags.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

fn hex4(digits: &[u8]) -> Option<u32> {
    if digits.len() < 4 {
        return None;
    }
    digits[..4]
        .iter()
        .try_fold(0u32, |acc, &d| Some(acc * 16 + (d as char).to_digit(16)?))
}

impl<'a> Parser<'a> {
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next non-blank byte, not consumed.
    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.pos).copied()
    }

    #[inline(always)]
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        (self.s.get(self.pos..end)? == word).then(|| self.pos = end)
    }

    /// `null` (consumed) or not.
    #[inline(always)]
    fn null(&mut self) -> Option<bool> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(true);
        }
        Some(false)
    }

    /// The raw bytes of the string at the cursor (between the quotes) and whether it has
    /// escapes; every escape is checked, lone surrogates included (they are refused).
    fn string_raw(&mut self) -> Option<(&'a [u8], bool)> {
        let s = self.s;
        self.string_span().map(|(start, end, escaped)| (&s[start..end], escaped))
    }

    /// `string_raw` as a range of the line.
    fn string_span(&mut self) -> Option<(usize, usize, bool)> {
        if self.peek()? != b'"' {
            return None;
        }
        let s = self.s;
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            i = skip_plain(s, i);
            match *s.get(i)? {
                b'"' => {
                    self.pos = i + 1;
                    return Some((start, i, escaped));
                }
                b'\\' => {
                    escaped = true;
                    match *s.get(i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                        b'u' => {
                            let code = hex4(s.get(i + 2..)?)?;
                            i += 6;
                            if (0xD800..0xDC00).contains(&code) {
                                if s.get(i..i + 2)? != b"\\u" || !(0xDC00..0xE000).contains(&hex4(s.get(i + 2..)?)?) {
                                    return None;
                                }
                                i += 6;
                            } else if (0xDC00..0xE000).contains(&code) {
                                return None;
                            }
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                _ => i += 1,
            }
        }
    }

    fn string(&mut self) -> Option<Cow<'a, str>> {
        let (start, end, escaped) = self.string_span()?;
        if !escaped {
            // Quotes are ASCII, so the range is on character boundaries of the line.
            return self.text.get(start..end).map(Cow::Borrowed);
        }
        unescape(&self.s[start..end]).map(Cow::Owned)
    }

    /// A number as sonic-rs parses it, after checking JSON's number grammar.
    fn number(&mut self) -> Option<ParserNumber> {
        self.ws();
        let s = self.s;
        let start = self.pos;
        let mut i = start;
        let negative = s.get(i) == Some(&b'-');
        i += negative as usize;
        let digits = |i: &mut usize| {
            let from = *i;
            while s.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        match s.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                digits(&mut i);
            }
            _ => return None,
        }
        if s.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return None;
            }
        }
        if let Some(b'e' | b'E') = s.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = s.get(i) {
                i += 1;
            }
            if !digits(&mut i) {
                return None;
            }
        }
        let mut index = start + negative as usize;
        let number = sonic_number::parse_number(s, &mut index, negative).ok()?;
        if index != i {
            return None;
        }
        self.pos = i;
        Some(number)
    }

    fn u64(&mut self) -> Option<u64> {
        match self.number()? {
            ParserNumber::Unsigned(n) => Some(n),
            _ => None,
        }
    }

    fn i64(&mut self) -> Option<i64> {
        match self.number()? {
            ParserNumber::Unsigned(n) => i64::try_from(n).ok(),
            ParserNumber::Signed(n) => Some(n),
            ParserNumber::Float(_) => None,
        }
    }

    fn num_or_str(&mut self) -> Option<NumOrStr<'a>> {
        if self.peek()? == b'"' {
            return self.string().map(NumOrStr::Str);
        }
        Some(match self.number()? {
            ParserNumber::Unsigned(n) => NumOrStr::Unsigned(n),
            ParserNumber::Signed(n) => NumOrStr::Signed(n),
            ParserNumber::Float(x) => NumOrStr::Float(x),
        })
    }

    /// Any JSON value, checked and skipped.
    fn skip(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string_raw().map(|_| ()),
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.object(|parser, _| parser.skip(depth + 1))
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.pos += 1;
                if self.peek()? == b']' {
                    self.pos += 1;
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b']' => {
                            self.pos += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(|_| ()),
        }
    }

    /// An object: `field(parser, key)` reads each value. Keys with escapes are refused.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            let (key, escaped) = self.string_raw()?;
            if escaped {
                return None;
            }
            self.eat(b':')?;
            field(self, key)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn fingerprint(&mut self) -> Option<Fingerprint> {
        self.eat(b'[')?;
        let mut fingerprint = Fingerprint {
            len: 0,
            first: 0,
            more: Vec::new(),
        };
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(fingerprint);
        }
        loop {
            let entry = self.string()?;
            fingerprint.push(group_hash(&entry));
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(fingerprint);
                }
                _ => return None,
            }
        }
    }

    /// `Option<Cow<str>>`: null or a string.
    fn opt_string(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.null()? {
            return Some(None);
        }
        self.string().map(Some)
    }

    fn opt<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.null()? {
            return Some(None);
        }
        read(self).map(Some)
    }

    fn message(&mut self) -> Option<WireMessage<'a>> {
        // Each slot is `Some(value)` once its key was seen (`value` itself is the `Option` of
        // the wire struct's field), to refuse duplicates as serde does.
        let mut payload_type = None;
        let mut id = None;
        let mut project_id = None;
        let mut event_id = None;
        let mut fingerprint = None;
        let mut issue_title = None;
        let mut subtitle = None;
        let mut type_id = None;
        let mut detection_time = None;
        let mut level = None;
        let mut culprit = None;
        let mut initial_issue_priority = None;
        let mut priority = None;
        let mut event = None;
        let mut new_status = None;
        let mut new_substatus = None;
        self.object(|p, key| {
            match key {
                b"payload_type" => once!(payload_type, p.opt_string()?),
                b"id" => once!(id, p.opt_string()?),
                b"project_id" => once!(project_id, p.opt(Self::u64)?),
                b"event_id" => once!(event_id, p.opt_string()?),
                b"fingerprint" => once!(fingerprint, p.opt(Self::fingerprint)?),
                b"issue_title" => once!(issue_title, p.opt_string()?),
                b"subtitle" => once!(subtitle, p.opt_string()?),
                b"type" => once!(type_id, p.opt(Self::i64)?),
                b"detection_time" => once!(detection_time, p.opt(Self::num_or_str)?),
                b"level" => once!(level, p.opt_string()?),
                b"culprit" => once!(culprit, p.opt_string()?),
                b"initial_issue_priority" => once!(initial_issue_priority, p.opt(Self::i64)?),
                b"priority" => once!(priority, p.opt(Self::i64)?),
                b"event" => once!(event, p.opt(Self::event)?),
                b"new_status" => once!(new_status, p.opt(Self::i64)?),
                b"new_substatus" => once!(new_substatus, p.opt(Self::i64)?),
                _ => p.skip(1)?,
            }
            Some(())
        })?;
        Some(WireMessage {
            payload_type: payload_type.flatten(),
            id: id.flatten(),
            project_id: project_id.flatten(),
            event_id: event_id.flatten(),
            fingerprint: fingerprint.flatten(),
            issue_title: issue_title.flatten(),
            subtitle: subtitle.flatten(),
            type_id: type_id.flatten(),
            detection_time: detection_time.flatten(),
            level: level.flatten(),
            culprit: culprit.flatten(),
            initial_issue_priority: initial_issue_priority.flatten(),
            priority: priority.flatten(),
            event: event.flatten(),
            new_status: new_status.flatten(),
            new_substatus: new_substatus.flatten(),
        })
    }

    fn event(&mut self) -> Option<WireEvent<'a>> {
        let mut event_id = None;
        let mut project_id = None;
        let mut timestamp = None;
        let mut user = None;
        let mut release = None;
        let mut environment = None;
        self.object(|p, key| {
            match key {
                b"event_id" => once!(event_id, p.opt_string()?),
                b"project_id" => once!(project_id, p.opt(Self::u64)?),
                b"timestamp" => once!(timestamp, p.opt(Self::num_or_str)?),
                b"user" => once!(user, p.opt(Self::user)?),
                b"release" => once!(release, p.opt_string()?),
                b"environment" => once!(environment, p.opt_string()?),
                _ => p.skip(2)?,
            }
            Some(())
        })?;
        Some(WireEvent {
            event_id: event_id.flatten(),
            project_id: project_id.flatten(),
            timestamp: timestamp.flatten(),
            user: user.flatten(),
            release: release.flatten(),
            environment: environment.flatten(),
        })
    }

    fn user(&mut self) -> Option<WireUser<'a>> {
        let mut id = None;
        let mut email = None;
        let mut username = None;
        let mut ip_address = None;
        self.object(|p, key| {
            match key {
                b"id" => once!(id, p.lenient()?),
                b"email" => once!(email, p.lenient()?),
                b"username" => once!(username, p.lenient()?),
                b"ip_address" => once!(ip_address, p.lenient()?),
                _ => p.skip(3)?,
            }
            Some(())
        })?;
        Some(WireUser {
            id: id.unwrap_or_default(),
            email: email.unwrap_or_default(),
            username: username.unwrap_or_default(),
            ip_address: ip_address.unwrap_or_default(),
        })
    }

    /// A user key: strings and numbers kept, anything else checked and skipped.
    fn lenient(&mut self) -> Option<Lenient<'a>> {
        match self.peek()? {
            b'"' | b'-' | b'0'..=b'9' => self.num_or_str().map(|value| Lenient(Some(value))),
            _ => self.skip(3).map(|_| Lenient(None)),
        }
    }
}

/// The text of a JSON string with escapes (already checked by `string_raw`).
fn unescape(raw: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let Some(next) = memchr::memchr(b'\\', &raw[i..]) else {
            out.push_str(std::str::from_utf8(&raw[i..]).ok()?);
            break;
        };
        out.push_str(std::str::from_utf8(&raw[i..i + next]).ok()?);
        i += next;
        let escape = *raw.get(i + 1)?;
        i += 2;
        out.push(match escape {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let code = hex4(raw.get(i..)?)?;
                i += 4;
                if (0xD800..0xDC00).contains(&code) {
                    let low = hex4(raw.get(i + 2..)?)?;
                    i += 6;
                    char::from_u32(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))?
                } else {
                    char::from_u32(code)?
                }
            }
            _ => return None,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn skip_plain_finds_the_first_special_byte() {
        let special = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
        for len in 0..70 {
            for at in 0..=len {
                for byte in [b'"', b'\\', 0, 0x1f] {
                    let mut s: Vec<u8> = (0..len).map(|i| [b'a', 0x20, 0x7f, 0x80, 0xff, b'{'][i % 6]).collect();
                    if at < len {
                        s[at] = byte;
                    }
                    let found = super::skip_plain(&s, 0);
                    let first = s.iter().position(|&b| special(b));
                    match first {
                        Some(first) if first + 8 <= len || found == first => assert_eq!(found, first),
                        // Within the last 8 bytes the caller goes on byte by byte.
                        _ => assert!(found <= len && found + 8 > len && first.is_none_or(|f| f >= found)),
                    }
                }
            }
        }
    }
}
