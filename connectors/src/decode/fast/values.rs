//! Numbers, and any value checked and skipped, for the fast path.

use sonic_number::ParserNumber;

use super::super::digits::plain_number;
use super::super::wire::NumOrStr;
use super::{Parser, MAX_DEPTH};

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

    pub(super) fn u64(&mut self) -> Option<u64> {
        match self.number()? {
            ParserNumber::Unsigned(n) => Some(n),
            _ => None,
        }
    }

    pub(super) fn i64(&mut self) -> Option<i64> {
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

    /// Any JSON value, checked and skipped: in one loop with the open containers as a bit
    /// stack (bit set: an object) rather than by recursion through [`Self::object`], which
    /// cost a call and a closure per value. Accepts and refuses exactly what the recursive
    /// form did (keys with escapes refused, containers deeper than [`MAX_DEPTH`] refused).
    pub(super) fn skip(&mut self, depth: usize) -> Option<()> {
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
