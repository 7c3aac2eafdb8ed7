//! A field-selective fast path for [`WireMessage`]: after [`super::scan`]'s SIMD pass, one
//! pass over the line that borrows the strings it keeps, hashes fingerprints in place and
//! validates (without building) everything else.
//!
//! It only *accepts* what it is sure about: well-formed JSON whose kept fields have the shapes
//! the serde path accepts, with no duplicate known keys and no escapes in keys. On anything
//! else it answers `false` and the caller decodes the line with the serde path as before, which
//! then produces the same record or the same precise reason. Numbers are parsed by the number
//! parser sonic-rs itself uses, so accepted values are bit-for-bit those of the serde path.

use std::borrow::Cow;
use std::mem::MaybeUninit;

use super::hash_cache::{fingerprint_hash, prefetch, Pending};
use super::json::MAX_BRACKETS;
use super::keys::KeyTable;
use super::scan::{fill_into, Specials, STACK_WORDS};
use super::wire::{Fingerprint, Lenient, NumOrStr, WireEvent, WireMessage, WireTags, WireUser};

pub(super) mod seen;
mod strings;
mod values;

/// The message's keys in producers' usual order (`known_object`'s prediction); `message`
/// reads them by index.
pub(super) const MESSAGE_KEYS: KeyTable<19> = KeyTable::new([
    "id",
    "project_id",
    "event_id",
    "fingerprint",
    "issue_title",
    "subtitle",
    "resource_id",
    "evidence_data",
    "evidence_display",
    "type",
    "detection_time",
    "level",
    "culprit",
    "initial_issue_priority",
    "payload_type",
    "event",
    "priority",
    "new_status",
    "new_substatus",
]);

/// The event's keys, likewise (`event` reads them by index).
pub(super) const EVENT_KEYS: KeyTable<10> = KeyTable::new([
    "event_id",
    "project_id",
    "platform",
    "tags",
    "timestamp",
    "received",
    "environment",
    "release",
    "user",
    "trace_id",
]);

/// Deeper values are left to the serde path (`parse` only takes lines of at most 64 brackets
/// anyway).
const MAX_DEPTH: usize = 64;

/// What [`parse_into`] made of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Parsed {
    /// Not the fast path's: use the serde path (the message is then partly filled).
    Declined,
    /// Decoded, and nothing in the message is on the heap (every string borrowed from the
    /// line, no second fingerprint hash): dropping it would free nothing.
    Borrowed,
    /// Decoded, and the message may hold heap memory (an unescaped string, more hashes).
    Owning,
}

/// Decodes `line` into `message` (which must be the default) if it has the common,
/// unambiguous shape ([`Parsed`]). Filled in place: the message is large, and returning it by
/// value cost several copies per line.
pub(super) fn parse_into<'a>(line: &'a [u8], message: &mut WireMessage<'a>) -> Parsed {
    // The bitmap is filled in this frame: returning `Specials` by value cost a copy per line.
    let mut stack = [MaybeUninit::uninit(); STACK_WORDS];
    let mut heap = Vec::new();
    let (words, brackets, ascii) = fill_into(line, &mut stack, &mut heap);
    if brackets > MAX_BRACKETS {
        // The serde path decides these (sonic-rs or serde_json, by the same count).
        return Parsed::Declined;
    }
    // Valid UTF-8 once for the whole line: string slices taken between quotes are then valid.
    // An all-ASCII line (the scan above tells) is valid UTF-8 as it is: no second pass.
    let text = if ascii {
        // Safety: every byte is ASCII (`Specials::of` checked each one), and ASCII is UTF-8.
        unsafe { std::str::from_utf8_unchecked(line) }
    } else {
        match simdutf8::basic::from_utf8(line) {
            Ok(text) => text,
            Err(_) => return Parsed::Declined,
        }
    };
    let mut parser = Parser {
        text,
        s: text.as_bytes(),
        pos: 0,
        specials: words,
        pending: None,
        heap: false,
    };
    if parser.message(message).is_none() {
        return Parsed::Declined;
    }
    parser.ws();
    if parser.pos != parser.s.len() {
        return Parsed::Declined;
    }
    if let (Some(pending), Some(fingerprint)) = (parser.pending.take(), &mut message.fingerprint) {
        fingerprint.first = pending.hash();
    }
    if parser.heap {
        Parsed::Owning
    } else {
        Parsed::Borrowed
    }
}

/// The `(key, value)` pairs of `raw`, a tags object the fast path accepted
/// ([`WireTags::raw`]), in order; `None` if `raw` is not such an object.
pub(super) fn tag_pairs(raw: &str) -> Option<Vec<(Cow<'_, str>, Cow<'_, str>)>> {
    let specials = Specials::of(raw.as_bytes());
    if specials.brackets > MAX_BRACKETS {
        return None;
    }
    let mut parser = Parser {
        text: raw,
        s: raw.as_bytes(),
        pos: 0,
        specials: specials.words(),
        pending: None,
        heap: false,
    };
    let mut pairs = Vec::new();
    parser.tag_pairs_into(&mut pairs)?;
    parser.ws();
    (parser.pos == raw.len()).then_some(pairs)
}

/// [`parse_into`] as a value; checks [`Parsed::Borrowed`]'s promise on every line a test
/// reads through it.
#[cfg(test)]
pub(super) fn parse(line: &[u8]) -> Option<WireMessage<'_>> {
    let mut message = WireMessage::default();
    let parsed = parse_into(line, &mut message);
    if parsed == Parsed::Borrowed {
        assert!(!message.holds_heap(), "{}", String::from_utf8_lossy(line));
    }
    (parsed != Parsed::Declined).then_some(message)
}

struct Parser<'a, 'b> {
    /// The line, and the same as bytes.
    text: &'a str,
    s: &'a [u8],
    pos: usize,
    /// Where the plain runs of string text end (see [`Specials`]).
    specials: &'b [u64],
    /// The single entry of the fingerprint, to hash at the end.
    pending: Option<Pending<'a>>,
    /// Whether a value read may be on the heap ([`Parsed::Owning`]): set where one is made.
    heap: bool,
}

/// Sets `$field` to `$value` unless a previous key already set it (serde: "duplicate field"):
/// `$seen` has bit `$bit` for each key seen. The struct is filled in place rather than built
/// from per-key slots at the end, which cost copies of the (large) message.
macro_rules! once {
    ($seen:ident, $bit:expr, $field:expr, $value:expr) => {{
        if *$seen & (1 << $bit) != 0 {
            return None;
        }
        *$seen |= 1 << $bit;
        $field = $value;
    }};
}

impl<'a> Parser<'a, '_> {
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next non-blank byte, not consumed.
    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
        let byte = *self.s.get(self.pos)?;
        // Blanks are at most b' ': anything above is the answer (compact JSON: always).
        if byte > b' ' {
            return Some(byte);
        }
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

    /// An object: `field(parser, key)` reads each value. Keys with escapes are refused.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            let key = self.key()?;
            field(self, key)?;
            if self.member_end()? {
                return Some(());
            }
        }
    }

    /// A key and its colon. Keys with escapes are refused.
    #[inline(always)]
    fn key(&mut self) -> Option<&'a [u8]> {
        let (key, escaped) = self.string_raw()?;
        if escaped {
            return None;
        }
        self.eat(b':')?;
        Some(key)
    }

    /// After an object's member: `,` (false: another member follows) or `}` (true: the
    /// object ended).
    #[inline(always)]
    fn member_end(&mut self) -> Option<bool> {
        let end = match self.peek()? {
            b',' => false,
            b'}' => true,
            _ => return None,
        };
        self.pos += 1;
        Some(end)
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
        let first = self.string()?;
        match self.peek()? {
            b']' => {
                self.pos += 1;
                // One entry, the usual case: its hash is looked up once the rest of the line
                // is parsed (`parse_into`), its cache slot being fetched meanwhile.
                self.pending = Some(prefetch(first));
                fingerprint.len = 1;
                return Some(fingerprint);
            }
            b',' => {
                self.pos += 1;
                // `more` may get an allocation below.
                self.heap = true;
                fingerprint.push(fingerprint_hash(&first));
            }
            _ => return None,
        }
        loop {
            let entry = self.string()?;
            fingerprint.push(fingerprint_hash(&entry));
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
    #[inline(always)]
    fn opt_string(&mut self) -> Option<Option<Cow<'a, str>>> {
        // One peek for both (`null` then `string` peeked twice).
        match self.peek()? {
            b'n' => self.literal(b"null").map(|_| None),
            b'"' => self.string_here().map(Some),
            _ => None,
        }
    }

    #[inline(always)]
    fn opt<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.null()? {
            return Some(None);
        }
        read(self).map(Some)
    }

    /// An object with the keys of `keys`: `field(parser, index)` reads each value
    /// ([`KeyTable::UNKNOWN`] for other keys). The key after key `i` is looked for as key
    /// `i + 1`, then `i + 2` to `i + 4` (one to three absent optional keys), before reading it as a string; an
    /// unknown key keeps the prediction. Keys with escapes are refused, as in [`Self::object`].
    #[inline(always)]
    fn known_object<const N: usize>(&mut self, keys: &KeyTable<N>, mut field: impl FnMut(&mut Self, usize) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        let mut next = 0;
        loop {
            let index = if next < N && keys.at(self.s, self.pos, next) {
                self.pos += keys.len(next);
                next
            } else if next + 1 < N && keys.at(self.s, self.pos, next + 1) {
                self.pos += keys.len(next + 1);
                next + 1
            } else if next + 2 < N && keys.at(self.s, self.pos, next + 2) {
                // Two absent optional keys (`culprit` and `initial_issue_priority`,
                // `timestamp` and `received`: on the first 100K lines of 1M/1M this halves the keys read as strings).
                self.pos += keys.len(next + 2);
                next + 2
            } else if next + 3 < N && keys.at(self.s, self.pos, next + 3) {
                // Three (`resource_id`, `evidence_data` and `evidence_display`: every line of
                // the groups input, 6% of 1M/1M's).
                self.pos += keys.len(next + 3);
                next + 3
            } else {
                keys.find(self.key()?)
            };
            if index != KeyTable::<N>::UNKNOWN {
                next = index + 1;
            }
            field(self, index)?;
            if self.member_end()? {
                return Some(());
            }
        }
    }

    fn message(&mut self, m: &mut WireMessage<'a>) -> Option<()> {
        let mut seen = 0u32;
        let seen = &mut seen;
        self.known_object(&MESSAGE_KEYS, |p, key| {
            // Indexes of `MESSAGE_KEYS`.
            match key {
                0 => once!(seen, 1, m.id, p.opt_string()?),
                1 => once!(seen, 2, m.project_id, p.opt(Self::u64)?),
                2 => once!(seen, 3, m.event_id, p.opt_string()?),
                3 => once!(seen, 4, m.fingerprint, p.opt(Self::fingerprint)?),
                4 => once!(seen, 5, m.issue_title, p.opt_string()?),
                5 => once!(seen, 6, m.subtitle, p.opt_string()?),
                9 => once!(seen, 7, m.type_id, p.opt(Self::i64)?),
                10 => once!(seen, 8, m.detection_time, p.opt(Self::num_or_str)?),
                11 => once!(seen, 9, m.level, p.opt_string()?),
                12 => once!(seen, 10, m.culprit, p.opt_string()?),
                13 => once!(seen, 11, m.initial_issue_priority, p.opt(Self::i64)?),
                14 => once!(seen, 0, m.payload_type, p.opt_string()?),
                15 => {
                    if *seen & (1 << 13) != 0 {
                        return None;
                    }
                    *seen |= 1 << 13;
                    // Read into place: the event is most of the message's size. `event` is
                    // `None` here (its bit was clear): `get_or_insert_with` builds the default
                    // in place, where `insert` built it aside, copied it in and dropped the
                    // old value.
                    if !p.null()? {
                        p.event(m.event.get_or_insert_with(WireEvent::default))?;
                    }
                }
                16 => once!(seen, 12, m.priority, p.opt(Self::i64)?),
                17 => once!(seen, 14, m.new_status, p.opt(Self::i64)?),
                18 => once!(seen, 15, m.new_substatus, p.opt(Self::i64)?),
                // `resource_id`, `evidence_data`, `evidence_display` and unknown keys.
                _ => p.skip(1)?,
            }
            Some(())
        })
    }

    fn event(&mut self, e: &mut WireEvent<'a>) -> Option<()> {
        let mut seen = 0u32;
        let seen = &mut seen;
        self.known_object(&EVENT_KEYS, |p, key| {
            // Indexes of `EVENT_KEYS`.
            match key {
                0 => once!(seen, 0, e.event_id, p.opt_string()?),
                1 => once!(seen, 1, e.project_id, p.opt(Self::u64)?),
                3 => once!(seen, 6, e.tags, p.opt(Self::tags)?),
                4 => once!(seen, 2, e.timestamp, p.opt(Self::num_or_str)?),
                6 => once!(seen, 5, e.environment, p.opt_string()?),
                7 => once!(seen, 4, e.release, p.opt_string()?),
                8 => {
                    if *seen & (1 << 3) != 0 {
                        return None;
                    }
                    *seen |= 1 << 3;
                    // Read into place, as the event is (`message`): returned by value, the
                    // user (128 bytes) was copied three times.
                    if !p.null()? {
                        p.user(e.user.get_or_insert_with(WireUser::default))?;
                    }
                }
                // `platform`, `received`, `trace_id` and unknown keys.
                _ => p.skip(2)?,
            }
            Some(())
        })
    }

    /// Tags as an object of strings (other shapes are the serde path's: `WireTags`), checked
    /// but not collected: the object's text is kept (`WireTags::raw`) and the tag set is
    /// looked up by it (`super::tag_cache`); its pairs are read again ([`tag_pairs`]) only
    /// for a text not seen recently.
    fn tags(&mut self) -> Option<WireTags<'a>> {
        self.ws();
        let start = self.pos;
        let mut any = false;
        self.object(|p, _key| {
            // A string value, escapes checked (an escaped value has the same span).
            p.string_span()?;
            any = true;
            Some(())
        })?;
        Some(WireTags {
            pairs: Vec::new(),
            // `{}` is no tags at all; quotes and brackets are ASCII, so the range is on
            // character boundaries.
            raw: if any { self.text.get(start..self.pos) } else { None },
        })
    }

    /// The pairs of a tags object ([`Self::tags`]'s form), in order.
    fn tag_pairs_into(&mut self, pairs: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>) -> Option<()> {
        self.object(|p, key| {
            // Keys have no escapes (`object` refuses them).
            let key = std::str::from_utf8(key).ok()?;
            let value = p.string()?;
            pairs.push((Cow::Borrowed(key), value));
            Some(())
        })
    }

    /// A user object into `u` (the default).
    fn user(&mut self, u: &mut WireUser<'a>) -> Option<()> {
        let mut seen = 0u32;
        let seen = &mut seen;
        self.object(|p, key| {
            match key.len() {
                2 if key == b"id" => once!(seen, 0, u.id, p.lenient()?),
                5 if key == b"email" => once!(seen, 1, u.email, p.lenient()?),
                8 if key == b"username" => once!(seen, 2, u.username, p.lenient()?),
                10 if key == b"ip_address" => once!(seen, 3, u.ip_address, p.lenient()?),
                _ => p.skip(3)?,
            }
            Some(())
        })
    }

    /// A user key: strings and numbers kept, anything else checked and skipped.
    fn lenient(&mut self) -> Option<Lenient<'a>> {
        match self.peek()? {
            // The usual id: a string, read here (`num_or_str` would peek again).
            b'"' => self.string_here().map(|text| Lenient(Some(NumOrStr::Str(text)))),
            b'-' | b'0'..=b'9' => self.num_or_str().map(|value| Lenient(Some(value))),
            _ => self.skip(3).map(|_| Lenient(None)),
        }
    }
}
