//! The checkpoint form of [`Details`]: the groups' runs by group index, as before the slab;
//! a restore gives them slots again. The users' table follows the facets' (checkpoint format
//! 13: entries carry a user index since).

use rustc_hash::FxHashMap as HashMap;

use super::{Details, Packed, Runs, MANY};

/// What a checkpoint holds of [`Details`] (its serialized fields, in order).
#[derive(serde::Deserialize)]
pub(super) struct StoredDetails {
    first: Vec<Packed>,
    many: HashMap<u32, Runs>,
    facets: Vec<u64>,
    users: Vec<u64>,
}

impl From<StoredDetails> for Details {
    fn from(stored: StoredDetails) -> Details {
        let mut details = Details {
            first: stored.first,
            facets: stored.facets,
            users: stored.users,
            ..Details::default()
        };
        // In group order, so that a restore lays the slab out the same way every time.
        let mut many: Vec<(u32, Runs)> = stored.many.into_iter().collect();
        many.sort_unstable_by_key(|(index, _)| *index);
        for (index, runs) in many {
            if let Some(first) = details.first.get(index as usize) {
                if first[0] == MANY {
                    details.put_runs(index, runs);
                }
            }
        }
        details
    }
}

impl serde::Serialize for Details {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("Details", 4)?;
        out.serialize_field("first", &self.first)?;
        out.serialize_field("many", &RunsByGroup(self))?;
        out.serialize_field("facets", &self.facets)?;
        out.serialize_field("users", &self.users)?;
        out.end()
    }
}

/// The groups' runs as a map by group index (the checkpoint's form).
struct RunsByGroup<'a>(&'a Details);

impl serde::Serialize for RunsByGroup<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let details = self.0;
        let mut out = serializer.serialize_map(Some(details.many.len() - details.free.len()))?;
        for (index, runs) in details.listed() {
            out.serialize_entry(&index, runs)?;
        }
        out.end()
    }
}
