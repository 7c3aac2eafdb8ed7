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
        let (start, end, escaped) = self.string_span()?;
        if !escaped {
            // Quotes are ASCII, so the range is on character boundaries of the line.
            return self.text.get(start..end).map(Cow::Borrowed);
        }
        self.unescaped(start, end)
    }

    /// The text of the string with escapes between `start` and `end`: out of line, so that
    /// [`Self::string`] stays small.
    #[cold]
    #[inline(never)]
    fn unescaped(&self, start: usize, end: usize) -> Option<Cow<'a, str>> {
        unescape(self.s.get(start..end)?).map(Cow::Owned)
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
