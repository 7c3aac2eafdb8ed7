//! Exactly-once paging of the issues list (issue 3 §3): a first page that has a next page
//! opens a paging snapshot, and its `Link` cursors name the snapshot instead of a sort value.
//!
//! Value cursors (`value:offset:is_prev`, Sentry's) skip or repeat groups whose sort value
//! changes between two page requests. A snapshot instead pins, at the first page:
//! - "now" (so the window, the stats buckets and relative dates stay those of page 1);
//! - the groups that exist (their view slot: slots are only ever appended, so a group whose
//!   slot index is at or past the count read at page 1 was created after it);
//! - the order served so far: page 1's groups, then each later page's groups as it is first
//!   computed. A position past the recorded order is filled by listing, with the pinned
//!   window and the request's query and sort, the groups that existed at page 1 and are not
//!   recorded yet, in their current order. A recorded position is replayed, never recomputed,
//!   so a page asked twice (a retry, a previous-page link) shows the same groups.
//!
//! So paging returns every group that existed at page 1 and matches from then to the last
//! page exactly once, never a group created meanwhile, in page 1's window. A group that
//! stops matching before its page is computed is not returned (it would be shown with
//! values that no longer match); one that starts matching is returned once. Rows show
//! current values (as Sentry's do); a group deleted or merged after it was recorded is
//! skipped at render time, so such a page holds fewer rows. `X-Hits` is page 1's.
//!
//! Cost: a later page costs one list walk like a value cursor's (the recorded groups are
//! skipped by the walk); a snapshot holds its recorded keys only (16 bytes each, plus a
//! hash set once a second page is computed). Snapshots expire [`TTL`] after their last use
//! and the least recently used go when all of them hold more than [`MAX_KEYS`] keys or
//! there are more than [`MAX_SNAPSHOTS`]; an unknown or expired token is a 400 (no value to
//! fall back to: the cursor holds a position in the snapshot, not a sort value).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use dataflows::model::Micros;
use dataflows::state::GroupKey;
use dataflows::views::IssueViews;

use crate::api::Cursor;
use crate::list_index::{self, ListQuery, Listing, Strategy};

/// A snapshot expires this long after its last use.
pub const TTL: Duration = Duration::from_secs(600);
/// At most this many recorded keys over all snapshots (about 40 MB with their sets).
pub const MAX_KEYS: usize = 1_000_000;
/// At most this many snapshots (every first page with a next page opens one).
pub const MAX_SNAPSHOTS: usize = 10_000;

/// The 400 detail of an unknown, expired or evicted snapshot cursor.
pub const EXPIRED: &str = "This cursor's paging snapshot has expired (10 minutes after its last use) or does not belong to this query; request the first page again.";

/// A cursor naming a snapshot: `s<token hex>:<position>:<is_prev>` (Sentry's
/// `value:offset:is_prev` shape, the token in the value field, the position in the
/// snapshot's order in the offset field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotCursor {
    pub token: u64,
    pub position: usize,
    pub is_prev: bool,
}

impl SnapshotCursor {
    /// None: not a snapshot cursor (then `Cursor::parse` reads it, and rejects a malformed
    /// snapshot cursor: its value field is not a number).
    pub fn parse(text: &str) -> Option<SnapshotCursor> {
        let mut parts = text.strip_prefix('s')?.split(':');
        let (token, position, is_prev) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(SnapshotCursor {
            token: u64::from_str_radix(token, 16).ok()?,
            position: position.parse().ok()?,
            is_prev: match is_prev {
                "0" => false,
                "1" => true,
                _ => return None,
            },
        })
    }

    pub fn format(&self) -> String {
        format!("s{:016x}:{}:{}", self.token, self.position, u8::from(self.is_prev))
    }
}

/// What a snapshot pins, and the order recorded so far.
#[derive(Debug)]
pub struct Snapshot {
    token: u64,
    /// The API's "now" at page 1.
    pub now: Micros,
    /// View slots at page 1: a group at a slot index at or past this did not exist then.
    pub slots: usize,
    /// `X-Hits` of page 1 (before its 1,000 cap).
    pub hits: usize,
    order: Vec<GroupKey>,
    /// The keys of `order`, built when a page past page 1 is first computed.
    recorded: Option<HashSet<GroupKey>>,
    /// No group is left to record.
    exhausted: bool,
}

/// One page served from a snapshot.
#[derive(Debug, PartialEq)]
pub struct SnapshotPage {
    pub keys: Vec<GroupKey>,
    pub has_prev: bool,
    pub has_next: bool,
    pub prev: SnapshotCursor,
    pub next: SnapshotCursor,
}

impl Snapshot {
    /// How many more groups must be recorded before `cursor`'s page (and whether a group
    /// follows it) is known: 0 when the order is long enough or complete.
    pub fn missing(&self, cursor: SnapshotCursor, limit: usize) -> usize {
        if self.exhausted {
            return 0;
        }
        // Links never point past the recorded order: a position past it is forged, and
        // served as the recorded order's end (so it cannot make a page record a million).
        let position = cursor.position.min(self.order.len());
        let end = if cursor.is_prev { position } else { position + limit };
        (end + 1).saturating_sub(self.order.len())
    }

    /// The keys of the recorded order (the set built on first use).
    pub fn recorded(&mut self) -> &HashSet<GroupKey> {
        let order = &self.order;
        self.recorded.get_or_insert_with(|| order.iter().copied().collect())
    }

    /// Appends newly listed groups; `more`: the listing had a next page.
    pub fn extend(&mut self, keys: &[GroupKey], more: bool) {
        let recorded = self.recorded.get_or_insert_with(|| self.order.iter().copied().collect());
        for key in keys {
            if recorded.insert(*key) {
                self.order.push(*key);
            }
        }
        if !more {
            self.exhausted = true;
        }
    }

    /// The page at `cursor`, from the recorded order (call after [`Snapshot::missing`]
    /// groups were recorded). A forward cursor's page starts at its position, a backward
    /// cursor's ends there.
    pub fn page(&self, cursor: SnapshotCursor, limit: usize) -> SnapshotPage {
        let len = self.order.len();
        let (start, end) = if cursor.is_prev {
            let end = cursor.position.min(len);
            (end.saturating_sub(limit), end)
        } else {
            let start = cursor.position.min(len);
            (start, (start + limit).min(len))
        };
        let at = |position, is_prev| SnapshotCursor {
            token: self.token,
            position,
            is_prev,
        };
        SnapshotPage {
            keys: self.order[start..end].to_vec(),
            has_prev: start > 0,
            has_next: end < len,
            prev: at(start, true),
            next: at(end, false),
        }
    }

    fn keys(&self) -> usize {
        self.order.len()
    }
}

/// The parameters that decide a snapshot's membership and order: the organisation, the
/// viewer (`assigned:me`) and every parameter but the cursor, the page size and those that
/// only shape the rendered JSON.
pub fn fingerprint(org: &str, viewer: &str, params: &[(String, String)]) -> u64 {
    const RENDER_ONLY: [&str; 5] = ["cursor", "limit", "collapse", "expand", "groupStatsPeriod"];
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (org, viewer).hash(&mut hasher);
    for (k, v) in params.iter().filter(|(k, _)| !RENDER_ONLY.contains(&k.as_str())) {
        (k, v).hash(&mut hasher);
    }
    hasher.finish()
}

/// The store never locks a snapshot (a page being computed holds its snapshot's lock and
/// then takes the store's, in `grown`), hence `fingerprint` here and the key count given to `grown`.
struct Entry {
    snapshot: Arc<Mutex<Snapshot>>,
    fingerprint: u64,
    last_used: u64,
    keys: usize,
    touched: Instant,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<u64, Entry>,
    /// `last_used` tick → token, least recently used first.
    lru: BTreeMap<u64, u64>,
    tick: u64,
    keys: usize,
    next_token: u64,
}

/// The server's snapshots (read side only: nothing here reaches the dataflow).
pub struct SnapshotStore {
    inner: Mutex<Inner>,
    ttl: Duration,
    max_keys: usize,
    max_snapshots: usize,
    /// Mixed into tokens so that they are not a guessable counter.
    salt: u64,
}

/// Locks a snapshot; a panic while one was held leaves a consistent order (appends only).
pub fn lock(snapshot: &Mutex<Snapshot>) -> MutexGuard<'_, Snapshot> {
    snapshot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SnapshotStore {
    pub fn new(ttl: Duration, max_keys: usize, max_snapshots: usize) -> SnapshotStore {
        let salt = std::collections::hash_map::RandomState::new().hash_one(0u64);
        SnapshotStore {
            inner: Mutex::new(Inner::default()),
            ttl,
            max_keys,
            max_snapshots,
            salt,
        }
    }

    /// The process's store: one API server per process.
    pub fn global() -> &'static SnapshotStore {
        static STORE: OnceLock<SnapshotStore> = OnceLock::new();
        STORE.get_or_init(|| SnapshotStore::new(TTL, MAX_KEYS, MAX_SNAPSHOTS))
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens a snapshot of page 1 (`first`, in order); returns its token.
    pub fn open(&self, fingerprint: u64, now: Micros, slots: usize, hits: usize, first: Vec<GroupKey>, at: Instant) -> u64 {
        let mut inner = self.inner();
        inner.next_token += 1;
        // A bijective mix of the counter: distinct tokens, not sequential.
        let token = splitmix(inner.next_token ^ self.salt);
        let keys = first.len();
        let snapshot = Snapshot {
            token,
            now,
            slots,
            hits,
            order: first,
            recorded: None,
            exhausted: false,
        };
        inner.tick += 1;
        let tick = inner.tick;
        inner.lru.insert(tick, token);
        inner.keys += keys;
        inner.entries.insert(
            token,
            Entry {
                snapshot: Arc::new(Mutex::new(snapshot)),
                fingerprint,
                last_used: tick,
                keys,
                touched: at,
            },
        );
        self.evict(&mut inner, at, token);
        token
    }

    /// The snapshot of `token` if it is alive and was opened for `fingerprint`; marks it used.
    pub fn get(&self, token: u64, fingerprint: u64, at: Instant) -> Option<Arc<Mutex<Snapshot>>> {
        let mut inner = self.inner();
        self.evict(&mut inner, at, token);
        let Inner { entries, lru, tick, .. } = &mut *inner;
        let entry = entries.get_mut(&token)?;
        if entry.fingerprint != fingerprint {
            return None;
        }
        *tick += 1;
        lru.remove(&entry.last_used);
        lru.insert(*tick, token);
        entry.last_used = *tick;
        entry.touched = at;
        Some(entry.snapshot.clone())
    }

    /// After groups were recorded in `token`'s snapshot, which now holds `keys`: evicts
    /// others if the cap is passed (never this one).
    pub fn grown(&self, token: u64, keys: usize, at: Instant) {
        let mut inner = self.inner();
        let Some(entry) = inner.entries.get_mut(&token) else { return };
        let before = std::mem::replace(&mut entry.keys, keys);
        inner.keys = inner.keys + keys - before;
        self.evict(&mut inner, at, token);
    }

    /// Drops expired snapshots, then the least recently used while over a cap, sparing `keep`.
    fn evict(&self, inner: &mut Inner, at: Instant, keep: u64) {
        while let Some((&tick, &token)) = inner.lru.iter().find(|(_, t)| **t != keep) {
            let entry = &inner.entries[&token];
            let expired = at.saturating_duration_since(entry.touched) >= self.ttl;
            let over = inner.keys > self.max_keys || inner.entries.len() > self.max_snapshots;
            if !expired && !over {
                // The least recently used other snapshot is alive and no cap is passed.
                break;
            }
            inner.lru.remove(&tick);
            if let Some(entry) = inner.entries.remove(&token) {
                inner.keys -= entry.keys;
            }
        }
        // `keep` may itself be the oldest and expired.
        if let Some(entry) = inner.entries.get(&keep) {
            if at.saturating_duration_since(entry.touched) >= self.ttl {
                let (last_used, keys) = (entry.last_used, entry.keys);
                inner.entries.remove(&keep);
                inner.lru.remove(&last_used);
                inner.keys -= keys;
            }
        }
    }

    #[cfg(test)]
    fn stats(&self) -> (usize, usize) {
        let inner = self.inner();
        (inner.entries.len(), inner.keys)
    }
}

/// A snapshot cursor's snapshot: Ok(None) when `cursor` is none or a value cursor, Err
/// (the 400 detail) when the snapshot is unknown, expired, evicted or another query's.
#[allow(clippy::type_complexity)]
pub fn resume(cursor: Option<&str>, fingerprint: u64) -> Result<Option<(SnapshotCursor, Arc<Mutex<Snapshot>>)>, &'static str> {
    let Some(cursor) = cursor.and_then(SnapshotCursor::parse) else {
        return Ok(None);
    };
    match SnapshotStore::global().get(cursor.token, fingerprint, Instant::now()) {
        Some(snapshot) => Ok(Some((cursor, snapshot))),
        None => Err(EXPIRED),
    }
}

/// A page's rows and links, from a value cursor (or none) or a snapshot.
pub struct Served {
    pub keys: Vec<GroupKey>,
    pub has_prev: bool,
    pub has_next: bool,
    pub prev: String,
    pub next: String,
    /// `X-Hits` before the last-page rule and the cap.
    pub hits: usize,
}

/// A page listed without a snapshot cursor. A first page with a next page opens a snapshot
/// (the views' slot count read under the same lock as the listing) and links into it;
/// a page of a value cursor keeps value cursors (Sentry's behaviour).
pub fn unpinned(views: &IssueViews, listing: Listing, cursor: Option<Cursor>, fingerprint: u64, now: Micros) -> Served {
    let Listing { page, hits } = listing;
    let keys: Vec<GroupKey> = page.rows.iter().map(|r| r.key).collect();
    if cursor.is_none() && page.has_next {
        let len = keys.len();
        let token = SnapshotStore::global().open(fingerprint, now, views.slots(), hits, keys.clone(), Instant::now());
        let at = |position, is_prev| SnapshotCursor { token, position, is_prev }.format();
        return Served {
            keys,
            has_prev: page.has_prev,
            has_next: true,
            prev: at(0, true),
            next: at(len, false),
            hits,
        };
    }
    Served {
        keys,
        has_prev: page.has_prev,
        has_next: page.has_next,
        prev: page.prev.format(),
        next: page.next.format(),
        hits,
    }
}

/// A later page of a snapshot: records the groups it still lacks (listed with the pinned
/// window among the groups that existed at page 1 and are not recorded yet, in current
/// order), then slices the recorded order. Call under the views' read lock.
pub fn serve(
    views: &IssueViews,
    query: &ListQuery,
    in_scope: &dyn Fn(GroupKey) -> bool,
    cursor: SnapshotCursor,
    snapshot: &mut Snapshot,
    limit: usize,
) -> Served {
    let missing = snapshot.missing(cursor, limit);
    if missing > 0 {
        let slots = snapshot.slots;
        let recorded = snapshot.recorded();
        let unrecorded =
            |key: GroupKey| in_scope(key) && !recorded.contains(&key) && views.slot_of(key).is_some_and(|slot| (slot as usize) < slots);
        let Listing { page, .. } = list_index::list(views, query, &unrecorded, None, missing, Strategy::configured());
        let keys: Vec<GroupKey> = page.rows.iter().map(|r| r.key).collect();
        snapshot.extend(&keys, page.has_next);
        SnapshotStore::global().grown(snapshot.token, snapshot.keys(), Instant::now());
    }
    let page = snapshot.page(cursor, limit);
    Served {
        keys: page.keys,
        has_prev: page.has_prev,
        has_next: page.has_next,
        prev: page.prev.format(),
        next: page.next.format(),
        hits: snapshot.hits,
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests;
