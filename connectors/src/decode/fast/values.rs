//! Numbers, and any value checked and skipped, for the fast path.

use sonic_number::ParserNumber;

use super::super::digits::{digits_value, leading_digits, plain_number};
use super::super::wire::NumOrStr;
use super::{seen, Parser, MAX_DEPTH};

impl<'a> Parser<'a, '_> {
    /// A number as sonic-rs parses it, after checking JSON's number grammar: plain integers
    /// and decimals inline ([`plain_number`]), the rest out of line. Every caller has peeked
    /// (through `peek` or `null`): the cursor is past any blanks, where `ws` was a no-op.
    #[inline(always)]
    pub(super) fn number(&mut self) -> Option<ParserNumber> {
        debug_assert!(!matches!(self.s.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')));
        if let Some((end, number)) = plain_number(self.s, self.pos) {
            self.pos = end;
            return Some(number);
        }
        self.full_number()
    }

    /// [`Self::number`] for the shapes [`plain_number`] leaves.
    #[inline(never)]
    fn full_number(&mut self) -> Option<ParserNumber> {
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

    /// An integer of one to seven digits at the cursor (ids, types, priorities), from one
    /// word: its end and value, exactly as [`plain_number`] reads it (`Unsigned`). `None`:
    /// another shape, or fewer than eight bytes left (the general path decides).
    #[inline(always)]
    fn small_integer(&self) -> Option<(usize, u64)> {
        let bytes = self.s.get(self.pos..self.pos + 8)?;
        let x = u64::from_le_bytes(bytes.try_into().ok()?);
        let n = leading_digits(x);
        // The byte after the digits (there is one: fewer than eight digits).
        let next = (x >> ((8 * n as u32) % 64)) as u8;
        if n == 0 || n == 8 || (n > 1 && x as u8 == b'0') || next == b'.' || next | 0x20 == b'e' {
            return None;
        }
        Some((self.pos + n, digits_value(x, n)))
    }

    #[inline(always)]
    pub(super) fn u64(&mut self) -> Option<u64> {
        if let Some((end, value)) = self.small_integer() {
            self.pos = end;
            return Some(value);
        }
        self.u64_in_full()
    }

    #[inline(never)]
    fn u64_in_full(&mut self) -> Option<u64> {
        match self.number()? {
            ParserNumber::Unsigned(n) => Some(n),
            _ => None,
        }
    }

    #[inline(always)]
    pub(super) fn i64(&mut self) -> Option<i64> {
        if let Some((end, value)) = self.small_integer() {
            self.pos = end;
            // Below 10⁷.
            return Some(value as i64);
        }
        self.i64_in_full()
    }

    #[inline(never)]
    fn i64_in_full(&mut self) -> Option<i64> {
        match self.number()? {
            ParserNumber::Unsigned(n) => i64::try_from(n).ok(),
            ParserNumber::Signed(n) => Some(n),
            ParserNumber::Float(_) => None,
        }
    }

    pub(super) fn num_or_str(&mut self) -> Option<NumOrStr<'a>> {
        if self.peek()? == b'"' {
            return self.string_here().map(NumOrStr::Str);
        }
        Some(match self.number()? {
            ParserNumber::Unsigned(n) => NumOrStr::Unsigned(n),
            ParserNumber::Signed(n) => NumOrStr::Signed(n),
            ParserNumber::Float(x) => NumOrStr::Float(x),
        })
    }

    /// Any JSON value, checked and skipped; a container this thread skipped before at the
    /// same depth is recognised by its text ([`seen`]) instead of read again. A string, the
    /// usual skipped value (`platform`, `trace_id`), is read here (no call, no loop).
    #[inline(always)]
    pub(super) fn skip(&mut self, depth: usize) -> Option<()> {
        if self.peek()? == b'"' {
            self.string_span_here()?;
            return Some(());
        }
        self.skip_value(depth)
    }

    /// [`Self::skip`] for a value other than a string, at the cursor.
    #[inline(never)]
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        if let Some(b'[' | b'{') = self.s.get(self.pos) {
            if let Some(candidate) = seen::candidate(self.s, self.pos) {
                let start = self.pos;
                if candidate.hit(self.s, start, depth) {
                    self.pos = candidate.end;
                    return Some(());
                }
                self.skip_tokens(depth)?;
                if self.pos == candidate.end {
                    candidate.remember(self.s, start, depth);
                }
                return Some(());
            }
        }
        self.skip_tokens(depth)
    }

    /// Any JSON value, checked and skipped: in one loop with the open containers as a bit
    /// stack (bit set: an object) rather than by recursion through [`Self::object`], which
    /// cost a call and a closure per value. Accepts and refuses exactly what the recursive
    /// form did (keys with escapes refused, containers deeper than [`MAX_DEPTH`] refused).
    fn skip_tokens(&mut self, depth: usize) -> Option<()> {
        // Containers open inside the value, innermost at bit 0.
        let mut open = 0usize;
        let mut objects = 0u64;
        loop {
            // A value.
            match self.peek()? {
                b'"' => {
                    self.string_span_here()?;
                }
                bracket @ (b'{' | b'[') => {
                    if depth + open >= MAX_DEPTH || open >= 64 {
                        return None;
                    }
                    self.pos += 1;
                    let (object, close) = if bracket == b'{' { (true, b'}') } else { (false, b']') };
                    if self.peek()? == close {
                        self.pos += 1;
                    } else {
                        open += 1;
                        objects = objects << 1 | u64::from(object);
                        if object {
                            self.skipped_key()?;
                        }
                        continue;
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => {
                    self.number()?;
                }
            }
            // After a value: close what ends here, up to the next value.
            loop {
                if open == 0 {
                    return Some(());
                }
                let object = objects & 1 != 0;
                match self.peek()? {
                    b',' => {
                        self.pos += 1;
                        if object {
                            self.skipped_key()?;
                        }
                        break;
                    }
                    b'}' if object => {}
                    b']' if !object => {}
                    _ => return None,
                }
                self.pos += 1;
                open -= 1;
                objects >>= 1;
            }
        }
    }

    /// A key of a skipped object and its colon (keys with escapes refused, as in `object`).
    #[inline(always)]
    pub(super) fn skipped_key(&mut self) -> Option<()> {
        let (_, _, escaped) = self.string_span()?;
        if escaped {
            return None;
        }
        self.eat(b':')
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::scan::Specials;
    use super::Parser;

    /// The one-word integers give what the general number path gives (value, refusal and
    /// end), for every length of digits with every following byte, leading zeros, signs and
    /// the line's end within the word.
    #[test]
    fn small_integers_read_as_the_general_path() {
        let mut texts: Vec<Vec<u8>> = Vec::new();
        for digits in [
            "0",
            "7",
            "00",
            "05",
            "10",
            "60",
            "123",
            "4001",
            "1234567",
            "12345678",
            "123456789",
            "-1",
            "-0",
        ] {
            for follower in (0..=255u8).chain([b'.', b'e', b'E', b',', b'}', b']', b' ']) {
                for tail in ["", "1", "1234567890"] {
                    let mut text = digits.as_bytes().to_vec();
                    text.push(follower);
                    text.extend_from_slice(tail.as_bytes());
                    texts.push(text);
                }
            }
            texts.push(digits.as_bytes().to_vec());
        }
        for text in &texts {
            for lead in [&b""[..], b"\"k\":"] {
                let line = [lead, text].concat();
                let specials = Specials::of(&line);
                let parser = || Parser {
                    // Only bytes are read; the text is for strings.
                    text: "",
                    s: &line,
                    pos: lead.len(),
                    specials: specials.words(),
                    pending: None,
                    heap: false,
                };
                let (mut fast, mut full) = (parser(), parser());
                assert_eq!((fast.u64(), fast.pos), (full.u64_in_full(), full.pos), "{line:?}");
                let (mut fast, mut full) = (parser(), parser());
                assert_eq!((fast.i64(), fast.pos), (full.i64_in_full(), full.pos), "{line:?}");
            }
        }
    }
}
