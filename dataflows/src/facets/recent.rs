//! Facet ids met recently by `FacetHours::apply` (see [`RecentIds`]).

use rustc_hash::FxHashMap as HashMap;

use super::Facet;
use crate::model::Level;

/// Slots of [`RecentIds`] (a power of two).
const RECENT_SLOTS: usize = 1024;

/// The ids of facets met recently, direct-mapped by a cheap mix of the facet's symbols
/// (themselves hashes): a hit costs one comparison instead of `Facet::id`'s xxh3 and a
/// probe of the facets table (tens of thousands of entries, mostly cache misses); a miss
/// (another facet in the slot) computes the id and takes the slot. Every cached facet is in
/// the facets table (facets are never removed), so a hit needs no insertion.
#[derive(Debug, Default)]
pub(super) struct RecentIds(Vec<(Facet, u64)>);

impl RecentIds {
    pub fn heap_bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<(Facet, u64)>()
    }

    fn slot(facet: &Facet) -> usize {
        let mixed = facet.environment.map_or(1, |e| e ^ 2)
            ^ facet.release.map_or(3, |r| r ^ 4).rotate_left(21)
            ^ facet.tags.map_or(5, |t| t ^ 6).rotate_left(42)
            ^ facet.level as u64;
        (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - RECENT_SLOTS.trailing_zeros())) as usize
    }

    /// The facet's id, from the cache or computed (and then recorded in `facets`).
    pub fn id(&mut self, facet: &Facet, facets: &mut HashMap<u64, Facet>) -> u64 {
        if self.0.is_empty() {
            let empty = Facet {
                environment: None,
                release: None,
                level: Level::Error,
                tags: None,
            };
            // Id 0 is no facet's: an empty slot never matches.
            self.0 = vec![(empty, 0); RECENT_SLOTS];
        }
        let slot = &mut self.0[Self::slot(facet)];
        if slot.1 != 0 && slot.0 == *facet {
            return slot.1;
        }
        let id = facet.id();
        facets.entry(id).or_insert(*facet);
        *slot = (*facet, id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_are_the_facets_ids_and_each_is_in_the_table() {
        let mut recent = RecentIds::default();
        let mut table = HashMap::default();
        let mut next = crate::test_rng::below(0x51_7cc1_b727_220a);
        let levels = [Level::Error, Level::Warning, Level::Info, Level::Debug, Level::Fatal];
        // More facets than slots, each met several times in a random order: hits, misses
        // and slots taken over.
        for round in 0..20_000 {
            let f = Facet {
                environment: (next(4) > 0).then(|| next(3)),
                release: (next(4) > 0).then(|| next(400)),
                level: levels[next(5) as usize],
                tags: (next(3) > 0).then(|| next(5)),
            };
            let id = recent.id(&f, &mut table);
            assert_eq!(id, f.id(), "round {round}");
            assert_eq!(table.get(&id), Some(&f), "round {round}");
        }
        assert!(table.len() > RECENT_SLOTS, "{} facets", table.len());
    }
}
