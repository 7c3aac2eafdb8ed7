//! The wire shapes of an `ingest-occurrences` message, as serde decodes them (the slow path;
//! [`super::fast`] builds the same values directly).

use std::borrow::Cow;
use std::fmt;

use super::hash_cache::fingerprint_hash;
use dataflows::model::GroupHash;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A JSON number or string; used for times and user ids.
pub(super) enum NumOrStr<'a> {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Str(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for NumOrStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NumOrStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(NumOrStr::Unsigned(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(NumOrStr::Signed(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(NumOrStr::Float(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(NumOrStr::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(NumOrStr::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(NumOrStr::Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[derive(Deserialize, Default)]
pub(super) struct WireMessage<'a> {
    #[serde(borrow)]
    pub(super) payload_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) id: Option<Cow<'a, str>>,
    pub(super) project_id: Option<u64>,
    #[serde(borrow)]
    pub(super) event_id: Option<Cow<'a, str>>,
    pub(super) fingerprint: Option<Fingerprint>,
    #[serde(borrow)]
    pub(super) issue_title: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) subtitle: Option<Cow<'a, str>>,
    #[serde(rename = "type")]
    pub(super) type_id: Option<i64>,
    #[serde(borrow)]
    pub(super) detection_time: Option<NumOrStr<'a>>,
    #[serde(borrow)]
    pub(super) level: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) culprit: Option<Cow<'a, str>>,
    pub(super) initial_issue_priority: Option<i64>,
    pub(super) priority: Option<i64>,
    #[serde(borrow)]
    pub(super) event: Option<WireEvent<'a>>,
    pub(super) new_status: Option<i64>,
    pub(super) new_substatus: Option<i64>,
}

impl WireMessage<'_> {
    /// Whether any part of the message is on the heap (an owned string, a vector with a
    /// buffer): the fast path's [`super::fast::Parsed::Borrowed`] promises it is not.
    pub(super) fn holds_heap(&self) -> bool {
        let m = self;
        [
            &m.payload_type,
            &m.id,
            &m.event_id,
            &m.issue_title,
            &m.subtitle,
            &m.level,
            &m.culprit,
        ]
        .into_iter()
        .any(owned)
            || m.fingerprint.as_ref().is_some_and(|f| f.more.capacity() > 0)
            || num_owned(&m.detection_time)
            || m.event.as_ref().is_some_and(WireEvent::holds_heap)
    }
}

impl WireEvent<'_> {
    fn holds_heap(&self) -> bool {
        let e = self;
        [&e.event_id, &e.release, &e.environment].into_iter().any(owned)
            || num_owned(&e.timestamp)
            || e.user
                .as_ref()
                .is_some_and(|u| [&u.id, &u.email, &u.username, &u.ip_address].into_iter().any(|l| num_owned(&l.0)))
            || e.tags.as_ref().is_some_and(|t| t.pairs.capacity() > 0)
    }
}

fn owned(text: &Option<Cow<'_, str>>) -> bool {
    matches!(text, Some(Cow::Owned(_)))
}

fn num_owned(value: &Option<NumOrStr<'_>>) -> bool {
    matches!(value, Some(NumOrStr::Str(Cow::Owned(_))))
}

/// The hashes of a `fingerprint` array, computed while it is parsed: the first, then the
/// others de-duplicated in order. No vector of strings is built.
pub(super) struct Fingerprint {
    pub(super) len: usize,
    pub(super) first: GroupHash,
    pub(super) more: Vec<GroupHash>,
}

impl Fingerprint {
    /// Adds the next entry's hash: the first, or another one not seen yet.
    #[inline]
    pub(super) fn push(&mut self, hash: GroupHash) {
        if self.len == 0 {
            self.first = hash;
        } else if hash != self.first && !self.more.contains(&hash) {
            self.more.push(hash);
        }
        self.len += 1;
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fingerprint;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of strings")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Fingerprint, A::Error> {
                let mut fingerprint = Fingerprint {
                    len: 0,
                    first: 0,
                    more: Vec::new(),
                };
                while let Some(entry) = seq.next_element::<Cow<'de, str>>()? {
                    fingerprint.push(fingerprint_hash(&entry));
                }
                Ok(fingerprint)
            }
        }
        deserializer.deserialize_seq(V)
    }
}

#[derive(Deserialize, Default)]
pub(super) struct WireEvent<'a> {
    #[serde(borrow)]
    pub(super) event_id: Option<Cow<'a, str>>,
    pub(super) project_id: Option<u64>,
    #[serde(borrow)]
    pub(super) timestamp: Option<NumOrStr<'a>>,
    #[serde(borrow)]
    pub(super) user: Option<WireUser<'a>>,
    #[serde(borrow)]
    pub(super) release: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) environment: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) tags: Option<WireTags<'a>>,
}

#[derive(Deserialize, Default)]
pub(super) struct WireUser<'a> {
    #[serde(borrow)]
    #[serde(default)]
    pub(super) id: Lenient<'a>,
    #[serde(borrow)]
    #[serde(default)]
    pub(super) email: Lenient<'a>,
    #[serde(borrow)]
    #[serde(default)]
    pub(super) username: Lenient<'a>,
    #[serde(borrow)]
    #[serde(default)]
    pub(super) ip_address: Lenient<'a>,
}

/// A user key: kept when it is a string (or, for `id`, a number) and skipped otherwise. SDKs put
/// all sorts of things in `user`, and a strange value must not cost the occurrence.
#[derive(Default)]
pub(super) struct Lenient<'a>(pub(super) Option<NumOrStr<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Lenient<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Lenient<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Lenient(Some(NumOrStr::Unsigned(v))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Lenient(Some(NumOrStr::Signed(v))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Lenient(Some(NumOrStr::Float(v))))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Lenient(Some(NumOrStr::Str(Cow::Borrowed(v)))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Lenient(Some(NumOrStr::Str(Cow::Owned(v.to_owned())))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(V)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl Lenient<'_> {
    pub(super) fn text(&self) -> Option<&str> {
        match &self.0 {
            Some(NumOrStr::Str(s)) if !s.is_empty() => Some(s),
            _ => None,
        }
    }
}

/// `event.tags`: an object of strings or an array of `[key, value]` string pairs, as Sentry
/// accepts both. Anything else — a non-string value, a malformed pair, tags that are
/// neither — is skipped, never an error: tags must not cost the occurrence.
///
/// The fast path ([`super::fast`]) fills `raw` instead of `pairs`: the object's text as it is
/// in the line (a non-empty object of strings), from which `super::tag_cache` finds the set.
#[derive(Default)]
pub(super) struct WireTags<'a> {
    pub(super) pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub(super) raw: Option<&'a str>,
}

impl<'a> WireTags<'a> {
    fn of(pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>) -> Self {
        WireTags { pairs, raw: None }
    }
}

/// A string, or None for any other value (consumed).
struct StrOrIgnored<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for StrOrIgnored<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrOrIgnored<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(StrOrIgnored(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StrOrIgnored(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(StrOrIgnored(Some(Cow::Owned(v))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(StrOrIgnored(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(StrOrIgnored(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(StrOrIgnored(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(StrOrIgnored(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(StrOrIgnored(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(StrOrIgnored(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                StrOrIgnored::deserialize(d)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(StrOrIgnored(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(StrOrIgnored(None))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// One element of the array form: a `[key, value]` pair of strings, or None.
struct TagPair<'a>(Option<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de: 'a, 'a> Deserialize<'de> for TagPair<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TagPair<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(2);
                while let Some(StrOrIgnored(item)) = seq.next_element::<StrOrIgnored<'de>>()? {
                    items.push(item);
                }
                Ok(TagPair(match <[Option<Cow<'de, str>>; 2]>::try_from(items) {
                    Ok([Some(key), Some(value)]) => Some((key, value)),
                    _ => None,
                }))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(TagPair(None))
            }
            fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(TagPair(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(TagPair(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(TagPair(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(TagPair(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(TagPair(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(TagPair(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(TagPair(None))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for WireTags<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireTags<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("tags")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some((key, StrOrIgnored(value))) = map.next_entry::<StrOrIgnored<'de>, StrOrIgnored<'de>>()? {
                    if let (Some(key), Some(value)) = (key.0, value) {
                        pairs.push((key, value));
                    }
                }
                Ok(WireTags::of(pairs))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(TagPair(pair)) = seq.next_element::<TagPair<'de>>()? {
                    pairs.extend(pair);
                }
                Ok(WireTags::of(pairs))
            }
            fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(WireTags::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(WireTags::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(WireTags::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(WireTags::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(WireTags::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(WireTags::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(WireTags::default())
            }
        }
        deserializer.deserialize_any(V)
    }
}
