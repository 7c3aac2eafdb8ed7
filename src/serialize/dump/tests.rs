//! The writer against `serde_json`'s serialization of `SerializedGroup` (the shape's source
//! of truth): the same bytes for generated groups with hostile strings (quotes, backslashes,
//! every control character, U+007F, U+2028, emoji, empty), every group type and an unknown
//! one, event metadata (valid, invalid, with and without `title`), triage state set and
//! unset, declared, undeclared and missing projects.

use std::sync::Arc;

use dataflows::facets::Facet;
use dataflows::model::{symbol_of, GroupStatus, Level, Micros, Priority, Substatus, GROUP_TYPES};
use dataflows::state::{EventGroup, GroupKey, GroupRow, RowTexts};
use dataflows::views::{Activity, IssueViews};
use dataflows::window::HOUR_MICROS;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{string, write_dump_group, Scratch};
use crate::config::Catalog;
use crate::serialize::{dump_in_chunks, dump_issues, serialize_group};
use crate::test_support::{hostile, random_triage};

const NOW: Micros = 1_700_000_000_000_000;

#[test]
fn strings_are_escaped_as_serde_json_escapes_them() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut texts: Vec<String> = (0..=0x7fu8).map(|b| char::from(b).to_string()).collect();
    texts.extend((0..20_000).map(|_| hostile(&mut rng)));
    for text in &texts {
        let mut written = Vec::new();
        string(&mut written, text);
        assert_eq!(written, serde_json::to_vec(text).expect("JSON"), "{text:?}");
    }
}

fn random_metadata(rng: &mut StdRng) -> Option<Box<str>> {
    let text = match rng.random_range(0..6) {
        0 => return None,
        1 => r#"{"type":"ValueError","value":"bad \"x\" \u2028 \ud83e\udd80","filename":"a.py","title":"t"}"#.to_string(),
        2 => r#"{"type":"E","function":"f","initial_priority":3}"#.to_string(),
        // Not an object, not JSON: the fixed shape.
        3 => "[1,2]".to_string(),
        4 => "{not json".to_string(),
        _ => serde_json::json!({ "value": hostile(rng), "zeta": [1, null, true], "a": { "b": hostile(rng) } }).to_string(),
    };
    Some(text.into())
}

fn random_group(views: &mut IssueViews, rng: &mut StdRng, key: GroupKey, seq: u64, symbols: &[u64]) -> Arc<GroupRow> {
    let pick_symbol = |rng: &mut StdRng| rng.random_bool(0.8).then(|| symbols[rng.random_range(0..symbols.len())]);
    let levels = Level::ALL;
    let occurrences = rng.random_range(1..30u64);
    let last_hour = (NOW / HOUR_MICROS) as u32 - rng.random_range(0..30);
    let first_hour = last_hour - rng.random_range(0..200);
    let mut activity = Vec::new();
    for i in 0..occurrences {
        let hour = match i {
            0 => first_hour,
            1 => last_hour,
            _ => rng.random_range(first_hour..=last_hour),
        };
        let facet = Facet {
            environment: pick_symbol(rng),
            release: pick_symbol(rng),
            level: levels[rng.random_range(0..levels.len())],
            tags: None,
        };
        activity.push((Activity::occurrences(key, facet, hour), seq, 1));
    }
    views.apply_activity(activity);
    views.apply_ids(vec![((key, seq + 1), seq, 1)]);
    let status = GroupStatus::from_number(rng.random_range(0..7)).unwrap_or(GroupStatus::Unresolved);
    let type_id = match rng.random_range(0..5) {
        0 => 1,
        1 => 999_999,
        _ => GROUP_TYPES[rng.random_range(0..GROUP_TYPES.len())].type_id,
    };
    let first_seen = match rng.random_range(0..8) {
        // Years outside four digits (and before the epoch): `format_iso`'s padded text.
        0 => -70_000_000_000_000_000,
        1 => 300_000_000_000_000_000,
        2 => -1,
        _ => i64::from(first_hour) * HOUR_MICROS + rng.random_range(0..HOUR_MICROS),
    };
    let row = Arc::new(GroupRow {
        type_id,
        status,
        substatus: rng
            .random_bool(0.7)
            .then(|| Substatus::from_number(rng.random_range(1..8)))
            .flatten(),
        priority: [Priority::Low, Priority::Medium, Priority::High][rng.random_range(0..3)],
        texts: RowTexts::new(&hostile(rng), &hostile(rng), &hostile(rng)),
        level: levels[rng.random_range(0..levels.len())],
        metadata_priority: [Priority::Low, Priority::Medium, Priority::High][rng.random_range(0..3)],
        first_seen,
        // Seen once (the dump copies `firstSeen`), again within the second, or later.
        last_seen: match rng.random_range(0..5) {
            0 => first_seen,
            1 => first_seen + rng.random_range(1..1_000_000),
            _ => i64::from(last_hour) * HOUR_MICROS + rng.random_range(0..HOUR_MICROS),
        },
        times_seen: if rng.random_bool(0.1) { u64::MAX } else { occurrences },
        user_count: rng.random_range(0..5),
        first_release: pick_symbol(rng),
        last_release: if rng.random_bool(0.1) { Some(12_345) } else { pick_symbol(rng) },
        created_seq: seq,
        unhandled: rng.random_bool(0.3),
        event_group: rng.random_bool(0.4).then(|| {
            Arc::new(EventGroup {
                metadata: random_metadata(rng),
                hashes: Vec::new(),
            })
        }),
        triage: random_triage(rng, status, NOW),
        ..GroupRow::sample()
    });
    views.apply_groups(vec![((key, row.clone()), seq, 1)]);
    row
}

fn declared_catalog() -> Catalog {
    let text = r#"
        [[organizations]]
        slug = "sentry"
        projects = [
            { id = 1, slug = "web" },
            { id = 2, slug = "api\"x\\y" },
            { id = 3, slug = "straße-ǆ" },
            { id = 4, slug = "tab\there" },
            { id = 5, slug = "\u0001x" },
        ]
    "#;
    Catalog::from_config(toml::from_str(text).expect("config")).expect("catalog")
}

#[test]
fn the_writer_writes_the_bytes_of_serialized_group() {
    let mut rng = StdRng::seed_from_u64(14);
    let mut views = IssueViews::default();
    let mut symbols = Vec::new();
    for i in 0..12 {
        let name = if i == 0 { "production".to_string() } else { hostile(&mut rng) };
        let symbol = symbol_of(&format!("{i}:{name}"));
        views.symbols.insert(symbol, name);
        symbols.push(symbol);
    }
    let groups: Vec<GroupKey> = (0..600u64)
        .map(|i| {
            let key = GroupKey {
                // Declared (1–5), missing from the declared catalog (6, 7), large ids.
                project: if i % 11 == 0 { u64::MAX - i } else { 1 + i % 7 },
                short_id: if i % 13 == 0 { u32::MAX - i as u32 } else { i as u32 + 1 },
            };
            random_group(&mut views, &mut rng, key, i, &symbols);
            key
        })
        .collect();
    let mut compared = 0;
    let mut event_metadata = 0;
    let mut triaged = 0;
    for catalog in [declared_catalog(), Catalog::default()] {
        let mut scratch = Scratch::default();
        let mut written = Vec::new();
        for key in &groups {
            let view = views.get(*key).expect("view");
            let row = view.row.as_deref().expect("row");
            let expected = serde_json::to_vec(&serialize_group(&views, &catalog, *key, view, row)).expect("JSON");
            written.clear();
            write_dump_group(&mut written, &mut scratch, &views, &catalog, *key, view, row);
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected),
                "group {key:?}"
            );
            compared += 1;
            event_metadata += usize::from(row.event_group.as_ref().is_some_and(|e| e.metadata.is_some()));
            triaged += usize::from(row.triage.is_some());
        }
    }
    assert_eq!(compared, 1200);
    assert!(event_metadata > 100 && triaged > 300, "{event_metadata} {triaged}");
}

#[test]
fn the_dump_is_one_line_per_group_in_id_order() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut views = IssueViews::default();
    let symbols = [symbol_of("production")];
    views.symbols.insert(symbols[0], "production".into());
    for i in 0..50u64 {
        random_group(
            &mut views,
            &mut rng,
            GroupKey {
                project: 1 + i % 3,
                short_id: i as u32 + 1,
            },
            i,
            &symbols,
        );
    }
    let catalog = Catalog::default();
    let mut out = Vec::new();
    assert_eq!(dump_issues(&views, &catalog, &mut out, 1).expect("dump"), 50);
    let mut expected = Vec::new();
    for (key, view, row) in views.iter_by_id() {
        serde_json::to_writer(&mut expected, &serialize_group(&views, &catalog, key, view, row)).expect("JSON");
        expected.push(b'\n');
    }
    assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&expected));
    let ids: Vec<u64> = out
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            serde_json::from_slice::<serde_json::Value>(line).expect("a JSON line")["id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("number")
        })
        .collect();
    assert_eq!(ids, (1..=50).collect::<Vec<u64>>());
    // Formatted on several threads in chunks of every size, written in order: the same bytes.
    for threads in [2, 3, 8] {
        for chunk in [1, 4, 7, 50, 1024] {
            let mut parallel = Vec::new();
            assert_eq!(dump_in_chunks(&views, &catalog, &mut parallel, threads, chunk).expect("dump"), 50);
            assert!(parallel == out, "threads {threads} chunk {chunk}");
        }
    }
}
