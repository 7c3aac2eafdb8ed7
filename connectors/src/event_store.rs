//! Event storage: the raw JSON of each error event by `(project_id, event_id)`, the lookup
//! path behind the events endpoints and behind occurrences that carry only an `event_id`.
//!
//! [`EventStore`] is the seam for other backends (a server-backed store later);
//! [`RedbEventStore`] keeps everything in one local redb file. Only the dataflow writes (the
//! worker that decoded an event, one transaction per input block); the read side only reads.
//! Puts are idempotent: replaying a block after a crash stores the same rows again.

use std::path::{Path, PathBuf};

use dataflows::model::{GroupHash, Micros, ProjectId};
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

/// One stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub project: ProjectId,
    pub event_id: u128,
    /// Event time (`timestamp`), microseconds since the epoch.
    pub time: Micros,
    /// The event's group hashes, primary first.
    pub hashes: Vec<GroupHash>,
    /// The event as received (JSON).
    pub json: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum EventStoreError {
    #[error("event store {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: Box<redb::Error>,
    },
    #[error("event store: {0}")]
    Storage(#[from] Box<redb::Error>),
    #[error("event store: corrupt row for event {0:032x}")]
    Corrupt(u128),
}

fn storage(e: impl Into<redb::Error>) -> EventStoreError {
    EventStoreError::Storage(Box::new(e.into()))
}

/// Events by `(project_id, event_id)`.
pub trait EventStore: Send + Sync {
    /// Stores `events`, replacing any earlier event with the same key, all or nothing.
    fn put(&self, events: &[StoredEvent]) -> Result<(), EventStoreError>;
    fn get(&self, project: ProjectId, event_id: u128) -> Result<Option<StoredEvent>, EventStoreError>;
    /// The event with the greatest time (then event id) among those carrying any of `hashes`
    /// — a group's linked hashes — with a time in `span` (inclusive: the group's lifetime
    /// first and last seen, which leave out the events of a deleted group whose hashes a
    /// later group took over, when they are outside its lifetime).
    fn latest(&self, project: ProjectId, hashes: &[GroupHash], span: (Micros, Micros)) -> Result<Option<StoredEvent>, EventStoreError>;
    /// [`EventStore::latest`]'s counterpart: the event with the least time (then event id).
    fn oldest(&self, project: ProjectId, hashes: &[GroupHash], span: (Micros, Micros)) -> Result<Option<StoredEvent>, EventStoreError>;
    /// The event ids just before and just after `(time, event_id)` in `(time, event_id)`
    /// order among the events carrying any of `hashes` with a time in `span` (a group's
    /// previous and next event).
    fn neighbours(
        &self,
        project: ProjectId,
        hashes: &[GroupHash],
        span: (Micros, Micros),
        time: Micros,
        event_id: u128,
    ) -> Result<(Option<u128>, Option<u128>), EventStoreError>;
    /// Removes every event with a time before `cutoff`; returns how many.
    fn remove_older_than(&self, cutoff: Micros) -> Result<u64, EventStoreError>;
    /// The greatest event time stored that is at most `limit` (retention is measured back
    /// from it; times past the present are left out).
    fn newest_time_until(&self, limit: Micros) -> Result<Option<Micros>, EventStoreError>;
}

/// `(project, event_id)` → time, hashes and JSON (see [`encode`]).
const EVENTS: TableDefinition<(u64, u128), &[u8]> = TableDefinition::new("events");
/// `(project, hash, time, event_id)`: the latest event of a hash is the last in its range.
const BY_HASH: TableDefinition<(u64, u128, i64, u128), ()> = TableDefinition::new("events_by_hash");
/// `(time, project, event_id)`: retention removes a prefix.
const BY_TIME: TableDefinition<(i64, u64, u128), ()> = TableDefinition::new("events_by_time");

/// Row layout: time (i64 LE), hash count (u32 LE), hashes (u128 BE each), JSON. A fixed
/// binary header: the JSON is served as is and never re-encoded.
fn encode(event: &StoredEvent) -> Vec<u8> {
    let mut row = Vec::with_capacity(12 + 16 * event.hashes.len() + event.json.len());
    row.extend_from_slice(&event.time.to_le_bytes());
    row.extend_from_slice(&(event.hashes.len() as u32).to_le_bytes());
    for hash in &event.hashes {
        row.extend_from_slice(&hash.to_be_bytes());
    }
    row.extend_from_slice(&event.json);
    row
}

fn decode(project: ProjectId, event_id: u128, row: &[u8]) -> Result<StoredEvent, EventStoreError> {
    let corrupt = || EventStoreError::Corrupt(event_id);
    let time = i64::from_le_bytes(row.get(..8).and_then(|b| b.try_into().ok()).ok_or_else(corrupt)?);
    let count = u32::from_le_bytes(row.get(8..12).and_then(|b| b.try_into().ok()).ok_or_else(corrupt)?) as usize;
    let end = 12 + 16 * count;
    let hashes = row
        .get(12..end)
        .ok_or_else(corrupt)?
        .chunks_exact(16)
        .map(|c| c.try_into().map(u128::from_be_bytes).map_err(|_| corrupt()))
        .collect::<Result<_, _>>()?;
    Ok(StoredEvent {
        project,
        event_id,
        time,
        hashes,
        json: row[end..].to_vec(),
    })
}

type Position = (i64, u128);

/// A redb database file `events.redb` in a directory.
pub struct RedbEventStore {
    db: Database,
}

impl RedbEventStore {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<RedbEventStore, EventStoreError> {
        let path = dir.join("events.redb");
        let open_err = |source: redb::Error| EventStoreError::Open {
            path: path.clone(),
            source: Box::new(source),
        };
        std::fs::create_dir_all(dir).map_err(|e| open_err(redb::Error::Io(e)))?;
        let db = Database::create(&path).map_err(|e| open_err(e.into()))?;
        // Create the tables up front so that readers never meet a missing table.
        let tx = db.begin_write().map_err(|e| open_err(e.into()))?;
        for result in [
            tx.open_table(EVENTS).map(drop),
            tx.open_table(BY_HASH).map(drop),
            tx.open_table(BY_TIME).map(drop),
        ] {
            result.map_err(|e| open_err(e.into()))?;
        }
        tx.commit().map_err(|e| open_err(e.into()))?;
        Ok(RedbEventStore { db })
    }

    /// Number of stored events.
    /// The newest (or oldest) event of `hashes` within `span`: the last (or first) index row
    /// of each hash's range, the greatest (or least) of those.
    fn extreme(
        &self,
        project: ProjectId,
        hashes: &[GroupHash],
        (first, last): (Micros, Micros),
        newest: bool,
    ) -> Result<Option<StoredEvent>, EventStoreError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let by_hash = tx.open_table(BY_HASH).map_err(storage)?;
        let mut best: Option<(i64, u128)> = None;
        for &hash in hashes {
            let mut range = by_hash
                .range((project, hash, first, 0)..=(project, hash, last, u128::MAX))
                .map_err(storage)?;
            let entry = if newest { range.next_back() } else { range.next() };
            if let Some(entry) = entry {
                let (key, _) = entry.map_err(storage)?;
                let (_, _, time, event_id) = key.value();
                let better = |b: (i64, u128)| if newest { (time, event_id) > b } else { (time, event_id) < b };
                if best.is_none_or(better) {
                    best = Some((time, event_id));
                }
            }
        }
        match best {
            Some((_, event_id)) => {
                let rows = tx.open_table(EVENTS).map_err(storage)?;
                match rows.get((project, event_id)).map_err(storage)? {
                    Some(row) => decode(project, event_id, row.value()).map(Some),
                    None => Ok(None),
                }
            }
            None => Ok(None),
        }
    }

    pub fn len(&self) -> Result<u64, EventStoreError> {
        let tx = self.db.begin_read().map_err(storage)?;
        tx.open_table(EVENTS).map_err(storage)?.len().map_err(storage)
    }

    pub fn is_empty(&self) -> Result<bool, EventStoreError> {
        Ok(self.len()? == 0)
    }
}

impl EventStore for RedbEventStore {
    fn put(&self, events: &[StoredEvent]) -> Result<(), EventStoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let tx = self.db.begin_write().map_err(storage)?;
        {
            let mut rows = tx.open_table(EVENTS).map_err(storage)?;
            let mut by_hash = tx.open_table(BY_HASH).map_err(storage)?;
            let mut by_time = tx.open_table(BY_TIME).map_err(storage)?;
            for event in events {
                let key = (event.project, event.event_id);
                let row = encode(event);
                let previous = rows.insert(key, row.as_slice()).map_err(storage)?;
                if let Some(previous) = previous {
                    let old = decode(event.project, event.event_id, previous.value())?;
                    drop(previous);
                    if old.time == event.time && old.hashes == event.hashes {
                        continue; // A replay: the index rows are already there.
                    }
                    for hash in &old.hashes {
                        by_hash.remove((event.project, *hash, old.time, event.event_id)).map_err(storage)?;
                    }
                    by_time.remove((old.time, event.project, event.event_id)).map_err(storage)?;
                }
                for hash in &event.hashes {
                    by_hash
                        .insert((event.project, *hash, event.time, event.event_id), ())
                        .map_err(storage)?;
                }
                by_time.insert((event.time, event.project, event.event_id), ()).map_err(storage)?;
            }
        }
        tx.commit().map_err(storage)
    }

    fn get(&self, project: ProjectId, event_id: u128) -> Result<Option<StoredEvent>, EventStoreError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let rows = tx.open_table(EVENTS).map_err(storage)?;
        match rows.get((project, event_id)).map_err(storage)? {
            Some(row) => decode(project, event_id, row.value()).map(Some),
            None => Ok(None),
        }
    }

    fn latest(&self, project: ProjectId, hashes: &[GroupHash], span: (Micros, Micros)) -> Result<Option<StoredEvent>, EventStoreError> {
        self.extreme(project, hashes, span, true)
    }

    fn oldest(&self, project: ProjectId, hashes: &[GroupHash], span: (Micros, Micros)) -> Result<Option<StoredEvent>, EventStoreError> {
        self.extreme(project, hashes, span, false)
    }

    fn neighbours(
        &self,
        project: ProjectId,
        hashes: &[GroupHash],
        (first, last): (Micros, Micros),
        time: Micros,
        event_id: u128,
    ) -> Result<(Option<u128>, Option<u128>), EventStoreError> {
        use std::ops::Bound::{Excluded, Included};
        let tx = self.db.begin_read().map_err(storage)?;
        let by_hash = tx.open_table(BY_HASH).map_err(storage)?;
        // Positions are `(time, event_id)`: the order of the index within one hash.
        let (mut previous, mut next): (Option<Position>, Option<Position>) = (None, None);
        for &hash in hashes {
            let at = (project, hash, time, event_id);
            let before = by_hash
                .range::<(u64, u128, i64, u128)>((Included((project, hash, first, 0)), Excluded(at)))
                .map_err(storage)?
                .next_back();
            if let Some(entry) = before {
                let (_, _, t, id) = entry.map_err(storage)?.0.value();
                previous = previous.max(Some((t, id)));
            }
            let after = by_hash
                .range::<(u64, u128, i64, u128)>((Excluded(at), Included((project, hash, last, u128::MAX))))
                .map_err(storage)?
                .next();
            if let Some(entry) = after {
                let (_, _, t, id) = entry.map_err(storage)?.0.value();
                next = Some(next.map_or((t, id), |n| n.min((t, id))));
            }
        }
        Ok((previous.map(|p| p.1), next.map(|n| n.1)))
    }

    fn remove_older_than(&self, cutoff: Micros) -> Result<u64, EventStoreError> {
        let tx = self.db.begin_write().map_err(storage)?;
        let mut removed = 0;
        {
            let mut rows = tx.open_table(EVENTS).map_err(storage)?;
            let mut by_hash = tx.open_table(BY_HASH).map_err(storage)?;
            let mut by_time = tx.open_table(BY_TIME).map_err(storage)?;
            let expired: Vec<(i64, u64, u128)> = by_time
                .range(..(cutoff, 0, 0))
                .map_err(storage)?
                .map(|entry| entry.map(|(key, _)| key.value()))
                .collect::<Result<_, _>>()
                .map_err(storage)?;
            for (time, project, event_id) in expired {
                by_time.remove((time, project, event_id)).map_err(storage)?;
                let old = rows.remove((project, event_id)).map_err(storage)?;
                if let Some(old) = old {
                    let old = decode(project, event_id, old.value())?;
                    for hash in &old.hashes {
                        by_hash.remove((project, *hash, old.time, event_id)).map_err(storage)?;
                    }
                    removed += 1;
                }
            }
        }
        tx.commit().map_err(storage)?;
        Ok(removed)
    }

    fn newest_time_until(&self, limit: Micros) -> Result<Option<Micros>, EventStoreError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let by_time = tx.open_table(BY_TIME).map_err(storage)?;
        let last = by_time
            .range(..=(limit, u64::MAX, u128::MAX))
            .map_err(storage)?
            .next_back()
            .transpose()
            .map_err(storage)?;
        Ok(last.map(|(key, _)| key.value().0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(project: u64, id: u128, time: i64, hashes: &[u128]) -> StoredEvent {
        StoredEvent {
            project,
            event_id: id,
            time,
            hashes: hashes.to_vec(),
            json: format!(r#"{{"event_id":"{id:032x}"}}"#).into_bytes(),
        }
    }

    fn store() -> (tempfile::TempDir, RedbEventStore) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = RedbEventStore::open(dir.path()).expect("open");
        (dir, store)
    }

    const ALL: (Micros, Micros) = (Micros::MIN, Micros::MAX);

    #[test]
    fn put_get_and_idempotent_replay() {
        let (_dir, store) = store();
        let a = event(1, 10, 100, &[7, 8]);
        store.put(std::slice::from_ref(&a)).expect("put");
        store.put(std::slice::from_ref(&a)).expect("put again");
        assert_eq!(store.get(1, 10).expect("get"), Some(a));
        assert_eq!(store.get(2, 10).expect("get"), None, "keyed by project too");
        assert_eq!(store.len().expect("len"), 1);
    }

    #[test]
    fn latest_over_a_groups_hashes() {
        let (_dir, store) = store();
        store
            .put(&[
                event(1, 1, 100, &[7]),
                event(1, 2, 300, &[8]),
                event(1, 3, 200, &[7, 8]),
                event(2, 4, 900, &[7]),
            ])
            .expect("put");
        assert_eq!(store.latest(1, &[7], ALL).expect("latest").map(|e| e.event_id), Some(3));
        assert_eq!(store.latest(1, &[7, 8], ALL).expect("latest").map(|e| e.event_id), Some(2));
        assert_eq!(store.latest(1, &[9], ALL).expect("latest"), None);
        // A re-sent event with a new time moves in the indexes.
        store.put(&[event(1, 1, 400, &[7])]).expect("put");
        assert_eq!(store.latest(1, &[7, 8], ALL).expect("latest").map(|e| e.event_id), Some(1));
        assert_eq!(store.newest_time_until(Micros::MAX).expect("newest"), Some(900));
        assert_eq!(store.newest_time_until(899).expect("newest"), Some(400));
        assert_eq!(store.newest_time_until(99).expect("newest"), None);
        // Times now: 1 → 400, 2 → 300, 3 → 200 (hashes 7 and 8 are one group).
        assert_eq!(store.neighbours(1, &[7, 8], ALL, 300, 2).expect("neighbours"), (Some(3), Some(1)));
        assert_eq!(store.neighbours(1, &[7, 8], ALL, 200, 3).expect("neighbours"), (None, Some(2)));
        assert_eq!(store.neighbours(1, &[8], ALL, 300, 2).expect("neighbours"), (Some(3), None));
        // Within a span (a group's lifetime): the events outside it are another group's.
        assert_eq!(store.latest(1, &[7, 8], (200, 300)).expect("latest").map(|e| e.event_id), Some(2));
        assert_eq!(store.latest(1, &[7, 8], (301, 399)).expect("latest"), None);
        assert_eq!(store.oldest(1, &[7, 8], ALL).expect("oldest").map(|e| e.event_id), Some(3));
        assert_eq!(store.oldest(1, &[8], ALL).expect("oldest").map(|e| e.event_id), Some(3));
        assert_eq!(store.oldest(1, &[7], (201, 500)).expect("oldest").map(|e| e.event_id), Some(1));
        assert_eq!(store.oldest(1, &[9], ALL).expect("oldest"), None);
        assert_eq!(store.neighbours(1, &[7, 8], (250, 300), 300, 2).expect("neighbours"), (None, None));
        assert_eq!(
            store.neighbours(1, &[7, 8], (200, 400), 300, 2).expect("neighbours"),
            (Some(3), Some(1))
        );
    }

    #[test]
    fn retention_removes_old_events_and_their_index_rows() {
        let (dir, store) = store();
        store
            .put(&[event(1, 1, 100, &[7]), event(1, 2, 200, &[7]), event(1, 3, 300, &[8])])
            .expect("put");
        assert_eq!(store.remove_older_than(250).expect("remove"), 2);
        assert_eq!(store.get(1, 1).expect("get"), None);
        assert_eq!(store.latest(1, &[7], ALL).expect("latest"), None);
        assert_eq!(store.latest(1, &[8], ALL).expect("latest").map(|e| e.event_id), Some(3));
        assert_eq!(store.remove_older_than(250).expect("remove"), 0);
        drop(store);
        // Durable: a reopened store holds what was committed.
        let reopened = RedbEventStore::open(dir.path()).expect("reopen");
        assert_eq!(reopened.len().expect("len"), 1);
    }
}
