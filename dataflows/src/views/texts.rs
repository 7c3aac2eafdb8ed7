//! Every group's title, subtitle and culprit, lowercased, in contiguous chunks, so that a
//! free-text search (`message:`, Sentry's free text) finds its candidate groups with one
//! SIMD substring search (`memchr::memmem`) over the texts rather than by reading each
//! group's row (a cache miss or two per group: ~170 ms of CPU at 1M groups).
//!
//! A chunk holds `CHUNK` consecutive group indexes; a group's entry is its three texts, each
//! lowercased (`str::to_lowercase`, what the row-by-row test compares) and followed by
//! 0xFF, a byte UTF-8 never contains: a needle (valid UTF-8) matches inside one text only.
//! A changed text is spliced into its chunk (a few KB moved), so there is no garbage to
//! collect. A group whose texts are too long for a chunk is kept out of the column and is
//! always a candidate.
//!
//! Each chunk also keeps a 4,096-bit filter of the byte trigrams of its texts: a search
//! reads only the chunks whose filter holds every trigram of the needle (a needle of at
//! least three bytes). At 1M groups, texts ~77 bytes per group, searching every chunk took
//! ~7 ms (memory bandwidth); a rare needle now reads a few percent of them. Replaced texts
//! leave their trigrams set (a false positive costs only a read) until the chunk has seen
//! `REFILTER` replacements, when its filter is rebuilt.
//!
//! Candidates are a superset: the caller still tests each candidate's row.

use rustc_hash::FxHashSet as HashSet;

use crate::state::GroupRow;

/// Groups per chunk: small enough that splicing a changed text moves little, large enough
/// that a search calls the finder rarely.
const CHUNK: usize = 64;
/// Texts longer than this (together, lowercased) stay out of the column.
const MAX_ENTRY: usize = 1 << 20;
const SEPARATOR: u8 = 0xFF;
/// Bits of a chunk's trigram filter.
const FILTER_BITS: usize = 4096;
/// Replaced or removed entries after which a chunk's filter is rebuilt.
const REFILTER: u16 = 32;

#[derive(Debug)]
struct Chunk {
    bytes: Vec<u8>,
    /// The end of each slot's entry in `bytes` (slots past the last written: none yet).
    ends: Vec<u32>,
    /// Every trigram of `bytes` (and of texts replaced since the last rebuild) sets a bit.
    filter: [u64; FILTER_BITS / 64],
    /// Entries replaced or removed since the filter was rebuilt.
    stale: u16,
}

impl Default for Chunk {
    fn default() -> Chunk {
        Chunk {
            bytes: Vec::new(),
            ends: Vec::new(),
            filter: [0; FILTER_BITS / 64],
            stale: 0,
        }
    }
}

/// The filter bit of each trigram of `text` that lies within one text (no separator).
fn trigram_bits(text: &[u8]) -> impl Iterator<Item = usize> + '_ {
    text.windows(3).filter(|w| !w.contains(&SEPARATOR)).map(|w| {
        let packed = u32::from(w[0]) << 16 | u32::from(w[1]) << 8 | u32::from(w[2]);
        (packed.wrapping_mul(0x9E37_79B1) >> (32 - FILTER_BITS.trailing_zeros())) as usize
    })
}

impl Chunk {
    fn add_to_filter(&mut self, range: std::ops::Range<usize>) {
        for bit in trigram_bits(&self.bytes[range]) {
            self.filter[bit / 64] |= 1 << (bit % 64);
        }
    }

    fn may_contain(&self, bits: &[usize]) -> bool {
        bits.iter().all(|&bit| self.filter[bit / 64] & (1 << (bit % 64)) != 0)
    }
}

#[derive(Default, Debug)]
pub struct TextColumn {
    chunks: Vec<Chunk>,
    /// Groups whose texts are not in the column.
    oversized: HashSet<u32>,
    /// Scratch for an entry being written.
    entry: Vec<u8>,
    /// Heap bytes of the chunks' vectors, kept as they change (`/metrics` reads it).
    chunk_bytes: usize,
}

/// Group indexes whose texts may contain a needle.
#[derive(Debug, Default)]
pub struct Candidates {
    bits: Vec<u64>,
    count: usize,
    /// Some group is a candidate only for being kept out of the column.
    oversized: bool,
}

impl Candidates {
    fn insert(&mut self, index: u32) {
        let (word, bit) = (index as usize / 64, index % 64);
        if self.bits.len() <= word {
            self.bits.resize(word + 1, 0);
        }
        if self.bits[word] & (1 << bit) == 0 {
            self.bits[word] |= 1 << bit;
            self.count += 1;
        }
    }

    pub fn contains(&self, index: u32) -> bool {
        self.bits.get(index as usize / 64).is_some_and(|w| w & (1 << (index % 64)) != 0)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether the candidates are exactly the groups whose lowercased title, subtitle or
    /// culprit contains a needle (none is one only for being kept out of the column).
    pub fn exact(&self) -> bool {
        !self.oversized
    }

    /// The candidates in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.bits.iter().enumerate().flat_map(|(word, &bits)| {
            let mut rest = bits;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let bit = rest.trailing_zeros();
                rest &= rest - 1;
                Some(word as u32 * 64 + bit)
            })
        })
    }
}

fn push_lowercase(entry: &mut Vec<u8>, text: &str) {
    if text.is_ascii() {
        entry.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
    } else {
        entry.extend_from_slice(text.to_lowercase().as_bytes());
    }
    entry.push(SEPARATOR);
}

impl TextColumn {
    /// Follows a group's row change (None: no row); a row sharing its old row's texts
    /// costs a pointer comparison.
    pub fn update(&mut self, index: u32, old: Option<&GroupRow>, new: Option<&GroupRow>) {
        if let (Some(old), Some(new)) = (old, new) {
            if old.texts.same_as(&new.texts) || old.texts == new.texts {
                return;
            }
        }
        let mut entry = std::mem::take(&mut self.entry);
        entry.clear();
        if let Some(row) = new {
            for text in [row.texts.title(), row.texts.subtitle(), row.texts.culprit()] {
                push_lowercase(&mut entry, text);
            }
        }
        if entry.len() > MAX_ENTRY {
            self.oversized.insert(index);
            entry.clear();
        } else if !self.oversized.is_empty() {
            self.oversized.remove(&index);
        }
        self.set(index, &entry);
        self.entry = entry;
    }

    fn set(&mut self, index: u32, entry: &[u8]) {
        let (chunk, slot) = (index as usize / CHUNK, index as usize % CHUNK);
        if self.chunks.len() <= chunk {
            if entry.is_empty() {
                return;
            }
            self.chunks.resize_with(chunk + 1, Chunk::default);
        }
        let chunk = &mut self.chunks[chunk];
        let before = chunk.bytes.capacity() + chunk.ends.capacity() * 4;
        if chunk.ends.len() <= slot {
            if entry.is_empty() {
                return;
            }
            let end = chunk.ends.last().copied().unwrap_or(0);
            chunk.ends.resize(slot + 1, end);
        }
        let start = if slot == 0 { 0 } else { chunk.ends[slot - 1] as usize };
        let end = chunk.ends[slot] as usize;
        if entry.len() > end - start {
            // Grow by an eighth at least: entries mostly arrive one group at a time.
            let more = entry.len() - (end - start);
            if chunk.bytes.capacity() < chunk.bytes.len() + more {
                chunk.bytes.reserve_exact(more.max(chunk.bytes.len() / 8));
            }
        }
        chunk.bytes.splice(start..end, entry.iter().copied());
        let delta = entry.len() as i64 - (end - start) as i64;
        if delta != 0 {
            for e in &mut chunk.ends[slot..] {
                *e = (i64::from(*e) + delta) as u32;
            }
        }
        if end > start {
            chunk.stale += 1;
        }
        if chunk.stale >= REFILTER {
            chunk.filter = [0; FILTER_BITS / 64];
            chunk.stale = 0;
            chunk.add_to_filter(0..chunk.bytes.len());
        } else {
            chunk.add_to_filter(start..start + entry.len());
        }
        self.chunk_bytes = self.chunk_bytes + chunk.bytes.capacity() + chunk.ends.capacity() * 4 - before;
    }

    /// Heap bytes (measurements).
    pub fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Chunk>() + self.chunk_bytes + self.oversized.capacity() * 8 / 7 * 5
    }

    /// The groups whose lowercased title, subtitle or culprit contains any of `needles`
    /// (lowercase, not empty), and every group kept out of the column.
    pub fn candidates(&self, needles: &[&str]) -> Candidates {
        let mut found = Candidates {
            oversized: !self.oversized.is_empty(),
            ..Candidates::default()
        };
        for &index in &self.oversized {
            found.insert(index);
        }
        for needle in needles {
            let finder = memchr::memmem::Finder::new(needle.as_bytes());
            let mut bits: Vec<usize> = trigram_bits(needle.as_bytes()).collect();
            bits.sort_unstable();
            bits.dedup();
            for (c, chunk) in self.chunks.iter().enumerate() {
                if !chunk.may_contain(&bits) {
                    continue;
                }
                let mut at = 0;
                while let Some(hit) = finder.find(&chunk.bytes[at..]) {
                    let position = (at + hit) as u32;
                    let slot = chunk.ends.partition_point(|&end| end <= position);
                    found.insert((c * CHUNK + slot) as u32);
                    // On to the next group's entry.
                    at = chunk.ends.get(slot).map_or(chunk.bytes.len(), |&end| end as usize);
                    if at >= chunk.bytes.len() {
                        break;
                    }
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::RowTexts;

    fn row(title: &str, subtitle: &str, culprit: &str) -> GroupRow {
        GroupRow {
            texts: RowTexts::new(title, subtitle, culprit),
            ..GroupRow::sample()
        }
    }

    /// The reference: each field lowercased, searched on its own.
    fn contains(row: &GroupRow, needle: &str) -> bool {
        [row.texts.title(), row.texts.subtitle(), row.texts.culprit()]
            .iter()
            .any(|t| t.to_lowercase().contains(needle))
    }

    #[test]
    fn candidates_are_the_groups_whose_texts_contain_the_needle() {
        let words = ["Job-42", "job-4", "ÉTÉ", "été", "failure", "x", "", "ab", "ba", "Σ"];
        let mut next = crate::test_rng::below(0x2545_f491_4f6c_dd1du64);
        let text = |next: &mut dyn FnMut(u64) -> u64| {
            (0..next(4))
                .map(|_| words[next(words.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join("")
        };
        let mut column = TextColumn::default();
        let mut rows: Vec<Option<GroupRow>> = vec![None; 300];
        for round in 0..3_000 {
            let index = next(300) as u32;
            let texts = [text(&mut next), text(&mut next), text(&mut next)];
            let new = if next(10) == 0 {
                None
            } else {
                Some(row(&texts[0], &texts[1], &texts[2]))
            };
            // Sometimes the same texts again (the row shares them).
            let new = match (&rows[index as usize], new) {
                (Some(old), Some(_)) if next(3) == 0 => Some(GroupRow {
                    times_seen: 9,
                    ..old.clone()
                }),
                (_, new) => new,
            };
            column.update(index, rows[index as usize].as_ref(), new.as_ref());
            rows[index as usize] = new;
            if round % 100 == 99 {
                for needle in ["job-42", "été", "ab", "ba", "σ", "failure", "b-4", "xx"] {
                    let found: Vec<u32> = column.candidates(&[needle]).iter().collect();
                    let expected: Vec<u32> = (0..300u32)
                        .filter(|&i| rows[i as usize].as_ref().is_some_and(|r| contains(r, needle)))
                        .collect();
                    assert_eq!(found, expected, "round {round} needle {needle:?}");
                }
                let both = column.candidates(&["ab", "été"]);
                let expected = (0..300u32)
                    .filter(|&i| rows[i as usize].as_ref().is_some_and(|r| contains(r, "ab") || contains(r, "été")))
                    .count();
                assert_eq!(both.len(), expected);
                let counted: usize = column.chunks.iter().map(|c| c.bytes.capacity() + c.ends.capacity() * 4).sum();
                assert_eq!(column.chunk_bytes, counted);
                // Every trigram of every text is in its chunk's filter.
                for chunk in &column.chunks {
                    assert!(trigram_bits(&chunk.bytes).all(|bit| chunk.filter[bit / 64] & (1 << (bit % 64)) != 0));
                }
            }
        }
    }

    #[test]
    fn the_trigram_filters_skip_only_chunks_without_the_needle() {
        let mut column = TextColumn::default();
        let mut rows: Vec<GroupRow> = (0..1000).map(|i| row(&format!("Item-{i}"), "", &format!("c{}", i * 7))).collect();
        for (i, r) in rows.iter().enumerate() {
            column.update(i as u32, None, Some(r));
        }
        // Replacements (some chunks' filters rebuilt, others holding stale trigrams).
        for i in (0..1000).step_by(3) {
            let new = row(&format!("Thing-{}", i * 11), "", "");
            column.update(i as u32, Some(&rows[i]), Some(&new));
            rows[i] = new;
        }
        for needle in ["item-13", "thing-13", "c77", "item-999", "g-1", "zzz", "tem-"] {
            let found: Vec<u32> = column.candidates(&[needle]).iter().collect();
            let expected: Vec<u32> = (0..1000u32).filter(|&i| contains(&rows[i as usize], needle)).collect();
            assert_eq!(found, expected, "{needle}");
        }
    }

    #[test]
    fn a_needle_never_spans_two_texts_or_two_groups() {
        let mut column = TextColumn::default();
        column.update(0, None, Some(&row("ab", "cd", "ef")));
        column.update(1, None, Some(&row("gh", "", "")));
        assert!(column.candidates(&["bc"]).is_empty());
        assert!(column.candidates(&["fg"]).is_empty());
        assert_eq!(column.candidates(&["cd"]).iter().collect::<Vec<_>>(), vec![0]);
        assert!(column.candidates(&["cd"]).exact());
        // An oversized group is always a candidate (the candidates are then not exact), and
        // leaves the column.
        let long = "y".repeat(MAX_ENTRY);
        column.update(0, Some(&row("ab", "cd", "ef")), Some(&row(&long, "", "")));
        assert_eq!(column.candidates(&["zz"]).iter().collect::<Vec<_>>(), vec![0]);
        assert!(!column.candidates(&["zz"]).exact());
        assert!(column.candidates(&["cd"]).iter().all(|i| i == 0));
        column.update(0, Some(&row(&long, "", "")), Some(&row("q", "", "")));
        assert!(column.candidates(&["zz"]).is_empty());
        assert!(column.candidates(&["zz"]).exact());
    }
}
