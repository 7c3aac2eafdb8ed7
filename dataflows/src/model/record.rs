//! The compact, decoded records that flow through the dataflow.
//!
//! Strings that are only compared (users, releases, environments) travel as 64-bit symbols;
//! fingerprints travel as their 128-bit md5, which *is* Sentry's grouphash.

use serde::{Deserialize, Serialize};

use super::status::{Level, Priority};
use super::text_arena::{self, Text};
use super::time::Micros;

/// Position in the input log: `block << BLOCK_SHIFT | index within block`. Ordering by `Seq`
/// is log order, whatever the block sizes.
pub type Seq = u64;
pub const BLOCK_SHIFT: u32 = 24;
pub const MAX_LINES_PER_BLOCK: usize = 1 << BLOCK_SHIFT;

/// The last block (epoch) whose lines have sequence numbers: past it `seq_of` would wrap,
/// and log order (and the dead letters' lookup of their block) with it.
pub const LAST_BLOCK: u64 = u64::MAX >> BLOCK_SHIFT;

/// Refuses a block past [`LAST_BLOCK`], saying why, instead of wrapping its lines' `Seq`s.
pub fn check_block(block: u64) -> Result<(), String> {
    if block > LAST_BLOCK {
        return Err(format!(
            "epoch {block} is past the last one lines can be numbered in ({LAST_BLOCK}): the epochs are used up; \
             start again from the inputs with a new --state-dir"
        ));
    }
    Ok(())
}

pub fn seq_of(block: u64, index: usize) -> Seq {
    (block << BLOCK_SHIFT) | index as u64
}

pub fn block_of(seq: Seq) -> u64 {
    seq >> BLOCK_SHIFT
}

pub type ProjectId = u64;
/// md5 of a fingerprint string.
pub type GroupHash = u128;
/// xxh3-64 of a string; see [`symbol_of`].
pub type Symbol = u64;

/// Interns a string as a 64-bit symbol. Collisions (probability ~n²/2⁶⁵) would merge two
/// users or releases; that is the accepted cost of integer keys inside the dataflow.
/// A symbol in a field where 0 cannot occur, so that `Option` costs nothing.
pub type NonZeroSymbol = std::num::NonZeroU64;

/// `symbol` as a [`NonZeroSymbol`] (0 becomes 1).
pub fn non_zero_symbol(symbol: Symbol) -> NonZeroSymbol {
    NonZeroSymbol::new(symbol).unwrap_or(NonZeroSymbol::MIN)
}

pub fn symbol_of(text: &str) -> Symbol {
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

/// md5 of the UTF-8 bytes: Sentry's grouphash of one fingerprint entry.
pub fn group_hash(fingerprint: &str) -> GroupHash {
    use md5::{Digest, Md5};
    u128::from_be_bytes(Md5::digest(fingerprint.as_bytes()).into())
}

pub fn group_hash_hex(hash: GroupHash) -> String {
    format!("{hash:032x}")
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: Seq,
    pub project: ProjectId,
    /// The message `id`, as a UUID value (or a hash of a non-UUID status-change id).
    pub id: u128,
    pub body: RecordBody,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RecordBody {
    Occurrence(OccurrenceRecord),
    StatusChange(StatusChangeRecord),
    /// A bulk mutation from the API, through the mutation log (never deduplicated). Boxed:
    /// mutations are rare and 192 bytes, and inline they made every record 224 bytes.
    Mutation(Box<super::mutation::MutationRecord>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OccurrenceRecord {
    /// Event time: `event.timestamp`, else `detection_time`.
    pub time: Micros,
    pub type_id: u32,
    /// The first fingerprint's hash; `more_hashes` holds the rest, de-duplicated, in order.
    pub hash: GroupHash,
    pub more_hashes: Vec<GroupHash>,
    pub texts: Texts,
    /// The group's `metadata` as a JSON object, when it is not the issue platform's
    /// `{title, value, initial_priority}` (error events: `type`, `value`, `filename`, …).
    pub metadata: Option<Box<str>>,
    pub level: Level,
    pub priority: Option<Priority>,
    pub user: Option<Symbol>,
    pub release: Option<Symbol>,
    /// Environment and tag set are non-zero symbols (a symbol 0, with probability 2⁻⁶⁴,
    /// travels as 1): 8 bytes each, which keeps the record at 176 bytes (`size_tests`).
    pub environment: Option<NonZeroSymbol>,
    /// The event's tags as one tag set (`model::tags`); None without tags.
    pub tags: Option<NonZeroSymbol>,
    /// An error event with an exception whose mechanism says `handled: false`.
    pub unhandled: bool,
}

impl Record {
    /// See [`Texts::prefetch`].
    #[inline]
    pub fn prefetch(&self) {
        if let RecordBody::Occurrence(occ) = &self.body {
            occ.texts.prefetch();
        }
    }
}

impl OccurrenceRecord {
    pub fn hashes(&self) -> impl Iterator<Item = GroupHash> + '_ {
        std::iter::once(self.hash).chain(self.more_hashes.iter().copied())
    }
}

/// An occurrence's title, subtitle and culprit (and its release's name, which the ingest
/// state parses once per project and release to order releases), stored together in the
/// decoding thread's current text chunk ([`super::text_arena`]): records are decoded on one
/// worker and applied (then dropped) on another, and a heap allocation per record cost an
/// allocation there and a cross-thread free here (~10% of a backfill's time as three
/// boxed strings, 5–7% as one).
#[derive(Clone)]
pub struct Texts {
    /// `title`, `subtitle` and `culprit`, concatenated.
    /// Then the release's length as one char (below the surrogates): that keeps a record
    /// at 176 bytes, where a third offset would make it 192 (`size_tests`).
    joined: Text,
    title_end: u32,
    subtitle_end: u32,
}

/// The longest release name a record carries (a longer one travels as ""; the release is
/// then ordered by when it was first seen). Sentry's release versions are at most 250 chars.
const MAX_RELEASE_LEN: usize = 0xD7FF;

impl Texts {
    /// None if the texts together exceed 4 GiB (they come from one input line).
    pub fn new(title: &str, subtitle: &str, culprit: &str) -> Option<Texts> {
        Texts::with_release(title, subtitle, culprit, "")
    }

    /// [`Texts::new`] with the name of the occurrence's release ("" without one).
    pub fn with_release(title: &str, subtitle: &str, culprit: &str, release: &str) -> Option<Texts> {
        let title_end = u32::try_from(title.len()).ok()?;
        let subtitle_end = u32::try_from(title.len() + subtitle.len()).ok()?;
        let release = if release.len() <= MAX_RELEASE_LEN { release } else { "" };
        let length = char::from_u32(release.len() as u32)?;
        let mut length_utf8 = [0; 4];
        let length = length.encode_utf8(&mut length_utf8).as_bytes();
        let joined = text_arena::store(&[
            title.as_bytes(),
            subtitle.as_bytes(),
            culprit.as_bytes(),
            release.as_bytes(),
            length,
        ])?;
        Some(Texts {
            joined,
            title_end,
            subtitle_end,
        })
    }

    /// The four texts and the release's length, as stored.
    #[inline]
    fn joined(&self) -> &str {
        // Safety: stored by `with_release` from four `&str`s and one char's UTF-8 encoding.
        unsafe { std::str::from_utf8_unchecked(self.joined.bytes()) }
    }

    #[inline]
    pub fn title(&self) -> &str {
        &self.joined()[..self.title_end as usize]
    }

    #[inline]
    pub fn subtitle(&self) -> &str {
        &self.joined()[self.title_end as usize..self.subtitle_end as usize]
    }

    #[inline]
    pub fn culprit(&self) -> &str {
        &self.joined()[self.subtitle_end as usize..self.release_start()]
    }

    /// The release's name ("" without a release).
    #[inline]
    pub fn release(&self) -> &str {
        let start = self.release_start();
        let end = self.joined().len() - self.joined()[start..].chars().next_back().map_or(0, char::len_utf8);
        &self.joined()[start..end]
    }

    /// Title, subtitle and culprit as one string, with the ends of the first two (what a
    /// group's row keeps: `state::RowTexts`).
    #[inline]
    pub fn shown(&self) -> (&str, u32, u32) {
        (&self.joined()[..self.release_start()], self.title_end, self.subtitle_end)
    }

    /// Starts fetching the texts' first and last bytes (where `title` and `release_start`
    /// read) into the cache: the ingest operator calls it a few records ahead, as the texts
    /// were written by another worker and are rarely still in this core's cache.
    #[inline]
    pub fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            let bytes = self.joined().as_bytes();
            // Safety: a hint only (SSE, part of the x86_64 baseline); both addresses are
            // within the allocation (`joined` always ends with the release's length).
            unsafe {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                _mm_prefetch::<_MM_HINT_T0>(bytes.as_ptr().cast());
                _mm_prefetch::<_MM_HINT_T0>(bytes.as_ptr().add(bytes.len() - 1).cast());
            }
        }
    }

    #[inline]
    fn release_start(&self) -> usize {
        let length = self.joined().chars().next_back().map_or(0, |c| c as usize);
        let tail = self.joined().chars().next_back().map_or(0, char::len_utf8);
        self.joined().len() - tail - length
    }
}

impl PartialEq for Texts {
    fn eq(&self, other: &Texts) -> bool {
        (self.title_end, self.subtitle_end, self.joined()) == (other.title_end, other.subtitle_end, other.joined())
    }
}

impl Eq for Texts {}

impl std::fmt::Debug for Texts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Texts")
            .field("title", &self.title())
            .field("subtitle", &self.subtitle())
            .field("culprit", &self.culprit())
            .field("release", &self.release())
            .finish()
    }
}

impl Serialize for Texts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (self.title(), self.subtitle(), self.culprit(), self.release()).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Texts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (title, subtitle, culprit, release) = <(String, String, String, String)>::deserialize(deserializer)?;
        Texts::with_release(&title, &subtitle, &culprit, &release)
            .ok_or_else(|| serde::de::Error::custom("title and subtitle exceed 4 GiB"))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusChangeRecord {
    /// md5 of `fingerprint[0]`.
    pub hash: GroupHash,
    pub new_status: i64,
    pub new_substatus: Option<i64>,
}

/// A symbol and the string it stands for, published once per worker so the read side can
/// show release and environment names.
pub type SymbolDefinition = (Symbol, String);

#[cfg(test)]
mod tests {
    use super::Texts;

    /// The last block's lines keep log order and name their block; the next block is refused.
    #[test]
    fn sequence_numbers_hold_to_the_last_block_and_no_further() {
        use super::{block_of, check_block, seq_of, LAST_BLOCK, MAX_LINES_PER_BLOCK};
        let last_line = seq_of(LAST_BLOCK, MAX_LINES_PER_BLOCK - 1);
        assert_eq!((block_of(last_line), last_line), (LAST_BLOCK, u64::MAX));
        assert!(seq_of(LAST_BLOCK - 1, MAX_LINES_PER_BLOCK - 1) < seq_of(LAST_BLOCK, 0));
        assert_eq!(check_block(LAST_BLOCK), Ok(()));
        let refused = check_block(LAST_BLOCK + 1).unwrap_err();
        assert!(refused.contains("epochs are used up"), "{refused}");
    }

    #[test]
    fn texts_keep_their_four_strings_apart() {
        let texts = Texts::with_release("é title", "", "culprit ☃", "app@1.0").expect("small");
        assert_eq!(
            (texts.title(), texts.subtitle(), texts.culprit(), texts.release()),
            ("é title", "", "culprit ☃", "app@1.0")
        );
        assert_ne!(texts, Texts::new("é titl", "e", "culprit ☃").expect("small"));
        assert_ne!(
            Texts::with_release("t", "", "c", "1").expect("small"),
            Texts::with_release("t", "", "c1", "").expect("small")
        );
        assert_eq!(Texts::new("t", "s", "c").expect("small").release(), "");
        assert_eq!(texts.shown(), ("é titleculprit ☃", "é title".len() as u32, "é title".len() as u32));
        let long = "1".repeat(300);
        let with_long = Texts::with_release("t", "s", "c", &long).expect("small");
        assert_eq!((with_long.culprit(), with_long.release()), ("c", long.as_str()));
        let too_long = "1".repeat(super::MAX_RELEASE_LEN + 1);
        let with_too_long = Texts::with_release("t", "s", "c", &too_long).expect("small");
        assert_eq!((with_too_long.culprit(), with_too_long.release()), ("c", ""));
        let json = serde_json::to_string(&texts).expect("serializes");
        assert_eq!(json, r#"["é title","","culprit ☃","app@1.0"]"#);
        assert_eq!(serde_json::from_str::<Texts>(&json).expect("deserializes"), texts);
    }
}

#[cfg(test)]
mod size_tests {
    /// Records are moved several times on their way (decoder, container, exchange): keep
    /// them small.
    #[test]
    fn a_record_is_at_most_176_bytes() {
        assert!(
            std::mem::size_of::<super::Record>() <= 176,
            "{}",
            std::mem::size_of::<super::Record>()
        );
    }
}
