use super::*;

fn key(i: u32) -> GroupKey {
    GroupKey { project: 1, short_id: i }
}

fn keys(range: std::ops::Range<u32>) -> Vec<GroupKey> {
    range.map(key).collect()
}

fn cursor(token: u64, position: usize, is_prev: bool) -> SnapshotCursor {
    SnapshotCursor { token, position, is_prev }
}

#[test]
fn cursors_keep_sentrys_shape_and_value_cursors_are_not_snapshot_cursors() {
    let c = cursor(0xabc, 20, true);
    assert_eq!(c.format(), "s0000000000000abc:20:1");
    assert_eq!(SnapshotCursor::parse(&c.format()), Some(c));
    assert_eq!(SnapshotCursor::parse("1704067200000:0:0"), None);
    for bad in ["s", "sxyz:1:0", "s12:1", "s12:1:2", "s12:-1:0", "s12:1:0:0"] {
        assert_eq!(SnapshotCursor::parse(bad), None, "{bad}");
        assert_eq!(crate::api::Cursor::parse(bad), None, "{bad}: a 400");
    }
}

#[test]
fn pages_replay_the_recorded_order_and_extend_it_once() {
    let store = SnapshotStore::new(TTL, 1000, 100);
    let t0 = Instant::now();
    let token = store.open(7, 42, 10, 25, keys(0..3), t0);
    let snapshot = store.get(token, 7, t0).expect("alive");
    let mut s = lock(&snapshot);
    assert_eq!((s.now, s.slots, s.hits), (42, 10, 25));
    // Page 2 (limit 3) needs positions 3..6 and one more to know a next page follows.
    let next = cursor(token, 3, false);
    assert_eq!(s.missing(next, 3), 4);
    assert_eq!(s.missing(cursor(token, 1_000_000, false), 3), 4, "a forged position: the end");
    // The listing may return a recorded key again (it cannot, but duplicates never enter).
    s.extend(&[key(3), key(1), key(4), key(5), key(6)], true);
    assert_eq!(s.missing(next, 3), 0);
    let page = s.page(next, 3);
    assert_eq!(page.keys, keys(3..6));
    assert!(page.has_prev && page.has_next);
    assert_eq!((page.prev, page.next), (cursor(token, 3, true), cursor(token, 6, false)));
    // Previous links replay: from page 2's prev cursor, page 1 exactly.
    let back = s.page(page.prev, 3);
    assert_eq!(back.keys, keys(0..3));
    assert!(!back.has_prev && back.has_next);
    assert_eq!(back.prev, cursor(token, 0, true));
    assert_eq!(back.next, cursor(token, 3, false));
    assert_eq!(s.missing(page.prev, 3), 0);
    // The last page: the listing says nothing follows.
    let last = cursor(token, 6, false);
    assert_eq!(s.missing(last, 3), 3);
    s.extend(&[key(7)], false);
    assert_eq!(s.missing(last, 3), 0, "exhausted");
    let page = s.page(last, 3);
    assert_eq!(page.keys, keys(6..8));
    assert!(!page.has_next && page.has_prev);
    // A backward page from the end, shorter than the limit at the start.
    let page = s.page(cursor(token, 2, true), 3);
    assert_eq!(page.keys, keys(0..2));
    assert!(!page.has_prev);
    // A forged position past the end: an empty last page.
    let page = s.page(cursor(token, 99, false), 3);
    assert!(page.keys.is_empty() && !page.has_next && page.has_prev);
    let keys = s.keys();
    drop(s);
    store.grown(token, keys, t0);
    assert_eq!(store.stats(), (1, 8));
}

#[test]
fn snapshots_expire_after_their_last_use() {
    let store = SnapshotStore::new(Duration::from_secs(600), 1000, 100);
    let t0 = Instant::now();
    let a = store.open(1, 0, 0, 0, keys(0..2), t0);
    let b = store.open(1, 0, 0, 0, keys(0..2), t0);
    assert_ne!(a, b);
    // Using `a` at 9 minutes keeps it alive 10 more minutes; `b` is not used.
    assert!(store.get(a, 1, t0 + Duration::from_secs(540)).is_some());
    assert!(store.get(b, 1, t0 + Duration::from_secs(599)).is_some());
    assert!(store.get(a, 1, t0 + Duration::from_secs(1139)).is_some());
    assert!(store.get(b, 1, t0 + Duration::from_secs(1199)).is_none(), "expired");
    assert_eq!(store.stats(), (1, 2));
    assert!(store.get(a, 1, t0 + Duration::from_secs(1739)).is_none(), "expired");
    assert_eq!(store.stats(), (0, 0));
    // Another query's fingerprint does not open a snapshot.
    let c = store.open(1, 0, 0, 0, keys(0..2), t0);
    assert!(store.get(c, 2, t0).is_none());
    assert!(store.get(c, 1, t0).is_some());
    assert!(store.get(c ^ 1, 1, t0).is_none(), "unknown token");
}

#[test]
fn the_least_recently_used_go_past_the_caps() {
    let store = SnapshotStore::new(TTL, 10, 3);
    let t0 = Instant::now();
    let a = store.open(1, 0, 0, 0, keys(0..4), t0);
    let b = store.open(1, 0, 0, 0, keys(0..4), t0);
    assert!(store.get(a, 1, t0).is_some(), "a used after b");
    // 12 keys > 10: b, the least recently used, goes.
    let c = store.open(1, 0, 0, 0, keys(0..4), t0);
    assert!(store.get(b, 1, t0).is_none());
    assert_eq!(store.stats(), (2, 8));
    // Growing c past the cap evicts a, never c itself.
    let snapshot = store.get(c, 1, t0).unwrap();
    lock(&snapshot).extend(&keys(4..9), true);
    store.grown(c, lock(&snapshot).keys(), t0);
    assert!(store.get(a, 1, t0).is_none());
    assert_eq!(store.stats(), (1, 9));
    // The snapshot count cap.
    let d = store.open(1, 0, 0, 0, Vec::new(), t0);
    let e = store.open(1, 0, 0, 0, Vec::new(), t0);
    let f = store.open(1, 0, 0, 0, Vec::new(), t0);
    assert!(store.get(c, 1, t0).is_none(), "4 snapshots > 3: c, least recently used, went");
    for token in [d, e, f] {
        assert!(store.get(token, 1, t0).is_some());
    }
}

#[test]
fn fingerprints_ignore_render_only_parameters() {
    let p = |pairs: &[(&str, &str)]| -> Vec<(String, String)> { pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
    let base = fingerprint("sentry", "u", &p(&[("sort", "freq"), ("query", "")]));
    let same = fingerprint(
        "sentry",
        "u",
        &p(&[
            ("sort", "freq"),
            ("limit", "5"),
            ("query", ""),
            ("cursor", "s1:2:0"),
            ("collapse", "stats"),
        ]),
    );
    assert_eq!(base, same);
    assert_ne!(base, fingerprint("sentry", "u", &p(&[("sort", "date"), ("query", "")])));
    assert_ne!(base, fingerprint("sentry", "v", &p(&[("sort", "freq"), ("query", "")])));
    assert_ne!(base, fingerprint("other", "u", &p(&[("sort", "freq"), ("query", "")])));
}
