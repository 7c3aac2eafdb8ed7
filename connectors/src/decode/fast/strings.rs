//! Strings of the fast path: their spans (found with the scan's bitmap), escapes checked, and
//! their text (borrowed from the line unless it has escapes).

use std::borrow::Cow;

use super::super::scan::Specials;
use super::Parser;

fn hex4(digits: &[u8]) -> Option<u32> {
    if digits.len() < 4 {
        return None;
    }
    digits[..4]
        .iter()
        .try_fold(0u32, |acc, &d| Some(acc * 16 + (d as char).to_digit(16)?))
}

impl<'a> Parser<'a, '_> {
    /// The raw bytes of the string at the cursor (between the quotes) and whether it has
    /// escapes; every escape is checked, lone surrogates included (they are refused).
    #[inline(always)]
    pub(super) fn string_raw(&mut self) -> Option<(&'a [u8], bool)> {
        let s = self.s;
        self.string_span().map(|(start, end, escaped)| (&s[start..end], escaped))
    }

    /// `string_raw` as a range of the line.
    #[inline(always)]
    pub(super) fn string_span(&mut self) -> Option<(usize, usize, bool)> {
        if self.peek()? != b'"' {
            return None;
        }
        self.string_span_here()
    }

    /// [`Self::string_span`] when the cursor is at the string's opening quote (a caller's
    /// `peek` saw it: not peeked again).
    #[inline(always)]
    pub(super) fn string_span_here(&mut self) -> Option<(usize, usize, bool)> {
        debug_assert_eq!(self.s.get(self.pos), Some(&b'"'));
        let start = self.pos + 1;
        let end = Specials::next_in(self.specials, start)?;
        // The usual string: no escape, its first special byte is its closing quote.
        if *self.s.get(end)? == b'"' {
            self.pos = end + 1;
            return Some((start, end, false));
        }
        self.escaped_span(start, end)
    }

    /// The rest of `string_span` from `i`, the string's first special byte that is not its
    /// closing quote: out of line, so that the common case stays small enough to inline.
    #[cold]
    #[inline(never)]
    fn escaped_span(&mut self, start: usize, mut i: usize) -> Option<(usize, usize, bool)> {
        let s = self.s;
        let mut escaped = false;
        loop {
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
                // A control character.
                _ => return None,
            }
            i = Specials::next_in(self.specials, i)?;
        }
    }

    /// A string's text, borrowed from the line unless it has escapes.
    #[inline(always)]
    pub(super) fn string(&mut self) -> Option<Cow<'a, str>> {
        if self.peek()? != b'"' {
            return None;
        }
        self.string_here()
    }

    /// [`Self::string`] when the cursor is at the string's opening quote (see
    /// [`Self::string_span_here`]).
    #[inline(always)]
    pub(super) fn string_here(&mut self) -> Option<Cow<'a, str>> {
        let (start, end, escaped) = self.string_span_here()?;
        if !escaped {
            return Some(Cow::Borrowed(self.between_quotes(start, end)));
        }
        // An owned string: the message is no longer `Parsed::Borrowed`.
        self.heap = true;
        self.unescaped(start, end)
    }

    /// The line's text from `start` (just after a quote) to `end` (at a quote), without the
    /// checks of `str::get`, an out-of-line call of ~20 instructions per string.
    #[inline(always)]
    pub(super) fn between_quotes(&self, start: usize, end: usize) -> &'a str {
        debug_assert!(self.text.as_bytes() == self.s);
        debug_assert!(start <= end && self.s.get(start.wrapping_sub(1)) == Some(&b'"') && self.s.get(end) == Some(&b'"'));
        debug_assert!(self.text.is_char_boundary(start) && self.text.is_char_boundary(end));
        // Safety: the caller found quotes at `start - 1` and `end` (`string_span_here`), so
        // `start <= end < len`. `text` is valid UTF-8 (checked before parsing), and in
        // UTF-8 an ASCII byte such as a quote is a whole character: the byte at `end` and the
        // one after the quote at `start - 1` each begin a character, so both are boundaries.
        unsafe { self.text.get_unchecked(start..end) }
    }

    /// The text of the string with escapes between `start` and `end` (checked by
    /// [`Self::escaped_span`]): out of line, so that [`Self::string`] stays small. The runs
    /// between escapes are slices of the line's text (valid UTF-8 already, and escapes are
    /// ASCII, so they are on character boundaries), found with the scan's bitmap: inside the
    /// string its only special bytes are backslashes and the quotes they escape.
    #[cold]
    #[inline(never)]
    fn unescaped(&self, start: usize, end: usize) -> Option<Cow<'a, str>> {
        let (text, s) = (self.text, self.s);
        let mut out = String::with_capacity(end - start);
        let mut i = start;
        loop {
            let next = Specials::next_in(self.specials, i).map_or(end, |next| next.min(end));
            out.push_str(text.get(i..next)?);
            if next == end {
                return Some(Cow::Owned(out));
            }
            if s[next] != b'\\' {
                return None;
            }
            let escape = *s.get(next + 1)?;
            i = next + 2;
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
                    let code = hex4(s.get(i..end)?)?;
                    i += 4;
                    if (0xD800..0xDC00).contains(&code) {
                        let low = hex4(s.get(i + 2..end)?)?;
                        i += 6;
                        char::from_u32(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))?
                    } else {
                        char::from_u32(code)?
                    }
                }
                _ => return None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::super::super::scan::Specials;
    use super::Parser;

    /// Strings with every escape, two-byte and four-byte characters and plain runs of every
    /// length up to 70 bytes before, between and after the escapes (so across the scan's
    /// 64-byte blocks at every offset), read as serde_json reads them.
    #[test]
    fn escaped_strings_read_as_serde_reads_them() {
        let escapes = [
            "\\\"",
            "\\\\",
            "\\/",
            "\\b",
            "\\f",
            "\\n",
            "\\r",
            "\\t",
            "\\u00e9",
            "\\u20AC",
            "\\ud83d\\ude00",
            "\\u0000",
        ];
        let fillers = ["", "a", "é", "ab€", "😀x"];
        let mut checked = 0;
        for run in 0..70 {
            for (e, escape) in escapes.iter().enumerate() {
                let filler = fillers[(run + e) % fillers.len()];
                let plain: String = "x".repeat(run);
                let second = escapes[(e + 5) % escapes.len()];
                for body in [
                    format!("{plain}{escape}"),
                    format!("{escape}{plain}"),
                    format!("{plain}{escape}{filler}{second}{plain}"),
                    format!("{filler}{escape}{escape}{filler}"),
                ] {
                    let json = format!("\"{body}\"");
                    let expected: String = serde_json::from_str(&json).expect("valid JSON string");
                    for lead in ["", " ", "\"k\":"] {
                        let line = format!("{lead}{json}");
                        let specials = Specials::of(line.as_bytes());
                        let mut parser = Parser {
                            text: &line,
                            s: line.as_bytes(),
                            pos: lead.len(),
                            specials: specials.words(),
                            pending: None,
                            heap: false,
                        };
                        let read = parser.string().expect("a valid string");
                        assert!(matches!(read, Cow::Owned(_)), "{line}");
                        assert_eq!(read, expected, "{line}");
                        assert_eq!(parser.pos, line.len(), "{line}");
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 70 * 12 * 4 * 3);
    }

    /// Strings without escapes are borrowed from the line (`between_quotes`): with two-,
    /// three- and four-byte characters first, last and alone, and ASCII, at every offset
    /// across the scan's blocks.
    #[test]
    fn plain_strings_are_borrowed_whole() {
        for body in ["", "a", "é", "€", "😀", "é€😀", "a😀", "😀a", "xé", "ab€cd"] {
            for pad in 0..70 {
                let line = format!("{}\"{body}\"{}", " ".repeat(pad), "é".repeat(pad % 3));
                let specials = Specials::of(line.as_bytes());
                let mut parser = Parser {
                    text: &line,
                    s: line.as_bytes(),
                    pos: 0,
                    specials: specials.words(),
                    pending: None,
                    heap: false,
                };
                let read = parser.string().expect("a valid string");
                assert!(matches!(read, Cow::Borrowed(b) if b == body), "{line}");
                assert_eq!(parser.pos, pad + body.len() + 2, "{line}");
            }
        }
    }
}
