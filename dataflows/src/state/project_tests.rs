use super::*;
use crate::model::{Level, Symbol, Texts};

/// An occurrence of `type_id` with `hashes` at `time`; the other fields fixed.
pub(crate) fn occurrence(type_id: u32, hashes: &[GroupHash], time: Micros) -> OccurrenceRecord {
    OccurrenceRecord {
        time,
        type_id,
        hash: hashes[0],
        more_hashes: hashes[1..].to_vec(),
        texts: Texts::new("t", "s", "c").expect("short"),
        metadata: None,
        level: Level::Error,
        priority: None,
        user: None,
        release: None,
        environment: None,
        unhandled: false,
        tags: None,
    }
}

/// Applies one occurrence per entry (ids 1, 2, …), all in one project.
fn apply_all(occurrences: Vec<OccurrenceRecord>) -> (ProjectState, Effects) {
    apply_all_with(occurrences, &IngestConfig::default())
}

fn apply_all_with(occurrences: Vec<OccurrenceRecord>, config: &IngestConfig) -> (ProjectState, Effects) {
    let (mut state, mut effects) = (ProjectState::default(), Effects::default());
    for (i, occ) in occurrences.into_iter().enumerate() {
        let record = Record {
            seq: i as Seq,
            project: 1,
            id: i as u128 + 1,
            body: RecordBody::Occurrence(occ),
        };
        state.apply(&record, config, &mut effects);
    }
    (state, effects)
}

#[test]
fn error_groups_skip_the_creation_quota() {
    // Ten new fingerprints in one minute: quota 5 binds for type 1001 (after its noise
    // gate of 100) but never for errors.
    let errors = (1..=10).map(|h| occurrence(1, &[h], 1_000_000)).collect();
    let (_, effects) = apply_all(errors);
    assert_eq!(effects.counters.get(&Counter::GroupsCreated), Some(&10));
    assert_eq!(effects.counters.get(&Counter::DroppedQuota), None);
    let crons = (1..=10).map(|h| occurrence(4001, &[h], 1_000_000)).collect();
    let (_, effects) = apply_all(crons);
    assert_eq!(effects.counters.get(&Counter::GroupsCreated), Some(&10), "4001's quota is 60000");
    let perf = (1..=10)
        .map(|h| occurrence(1006, &[h], 1_000_000))
        .flat_map(|o| [o.clone(), o.clone(), o])
        .collect();
    let (_, effects) = apply_all(perf);
    assert_eq!(effects.counters.get(&Counter::GroupsCreated), Some(&5));
    assert_eq!(effects.counters.get(&Counter::DroppedQuota), Some(&5));
}

#[test]
fn error_groups_keep_their_linked_hashes() {
    let (state, _) = apply_all(vec![occurrence(1, &[7, 8], 1), occurrence(1, &[8, 9], 2), occurrence(1, &[10], 3)]);
    let row = state.row(GroupKey { project: 1, short_id: 1 }).expect("group 1");
    assert_eq!(row.event_group.as_ref().map(|e| e.hashes.clone()), Some(vec![7, 8, 9]));
    assert_eq!(row.times_seen, 2);
    let (state, _) = apply_all(vec![occurrence(4001, &[7, 8], 1)]);
    assert_eq!(state.row(GroupKey { project: 1, short_id: 1 }).expect("group").event_group, None);
}

#[test]
fn every_occurrence_leaves_its_second_facet_and_user_and_users_count_once() {
    const HOUR: Micros = 3_600_000_000;
    let with = |user: Symbol, time: Micros, env: Option<Symbol>| OccurrenceRecord {
        user: Some(user),
        environment: env.map(crate::model::non_zero_symbol),
        ..occurrence(1, &[7], time)
    };
    let (state, mut effects) = apply_all(vec![
        with(1, 0, Some(5)),
        with(1, 10_000_000, None),
        with(2, 20_500_000, Some(5)),
        with(1, HOUR + 3_000_000, Some(5)),
    ]);
    let key = GroupKey { project: 1, short_id: 1 };
    let facet = |environment| crate::facets::Facet {
        environment,
        release: None,
        level: occurrence(1, &[7], 0).level,
        tags: None,
    };
    let (prod, none) = (facet(Some(5)).id(), facet(None).id());
    assert_eq!(
        effects.details,
        vec![
            ((key, 0, 0, prod, 1), effects.epoch, 1),
            ((key, 0, 10, none, 1), effects.epoch, 1),
            ((key, 0, 20, prod, 2), effects.epoch, 1),
            ((key, 1, 3, prod, 1), effects.epoch, 1)
        ]
    );
    assert_eq!(state.row(key).expect("group 1").user_count, 2);
    let mut activity: Vec<_> = Vec::new();
    effects
        .facet_hours
        .drain(|key, facet, _, hour, n| activity.push(((key, facet, hour), n)));
    activity.sort_unstable();
    assert_eq!(
        activity,
        vec![
            ((key, facet(None), 0), 1),
            ((key, facet(Some(5)), 0), 2),
            ((key, facet(Some(5)), 1), 1)
        ]
    );
}

/// Without details (views that keep no windows), an occurrence changes the same rows and
/// facet hours and sends no details.
#[test]
fn without_details_the_rows_and_facet_hours_are_the_same() {
    let occurrences = || {
        (0..6)
            .map(|i| OccurrenceRecord {
                user: Some(i % 2 + 1),
                environment: (i % 3 > 0).then(|| crate::model::non_zero_symbol(i)),
                ..occurrence(1, &[7 + u128::from(i % 2)], i as Micros * 1_000_000_000)
            })
            .collect()
    };
    let (with_state, mut with) = apply_all(occurrences());
    let config = IngestConfig {
        details: false,
        ..IngestConfig::default()
    };
    let (without_state, mut without) = apply_all_with(occurrences(), &config);
    assert_eq!(with.details.len(), 6);
    assert!(without.details.is_empty());
    let rows = |state: &ProjectState| state.rows().map(|(id, row)| (id, (**row).clone())).collect::<Vec<_>>();
    assert_eq!(rows(&with_state).len(), 2);
    assert_eq!(rows(&with_state), rows(&without_state));
    let facet_hours = |effects: &mut Effects| {
        let mut all = Vec::new();
        effects
            .facet_hours
            .drain(|key, facet, id, hour, n| all.push((key, facet, id, hour, n)));
        all
    };
    assert_eq!(facet_hours(&mut with), facet_hours(&mut without));
    let counts = |effects: &mut Effects| effects.counters.drain().collect::<Vec<_>>();
    assert_eq!(counts(&mut with), counts(&mut without));
}

/// At 1M groups every byte per group counts (docs/benchmark-history.md, memory per group): a hash map
/// entry is 32 bytes and a group's state 56.
#[test]
fn hash_entries_and_group_states_stay_small() {
    assert_eq!(std::mem::size_of::<(GroupHash, HashState)>(), 32);
    assert_eq!(std::mem::size_of::<GroupState>(), 56);
}

/// Checkpoints keep their format: the unpacked gate encodes as the newtype variant of a
/// `NoiseGate` did.
#[test]
fn hash_states_encode_as_before() {
    #[derive(serde::Serialize)]
    enum Before {
        Linked(u32),
        Gate(NoiseGate),
        Discarded,
    }
    fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
        postcard::to_stdvec(value).expect("encodes")
    }
    let gate = NoiseGate {
        count: 2,
        last: -1_234_567,
    };
    assert_eq!(
        encode(&HashState::Gate {
            count: 2,
            last: -1_234_567
        }),
        encode(&Before::Gate(gate))
    );
    assert_eq!(encode(&HashState::Linked(7)), encode(&Before::Linked(7)));
    assert_eq!(encode(&HashState::Discarded), encode(&Before::Discarded));
}

/// `warm` and `warm_row` (the ingest operator calls them on a batch of records before
/// applying it) only read: the state they leave is the state without them. The stream has
/// duplicates, gated and linked hashes, several hashes per occurrence and users, so every
/// branch of both runs against state that changes between them.
#[test]
fn warming_a_batch_changes_nothing() {
    let mut below = crate::test_rng::below(0x5eed_1234);
    let records: Vec<Record> = (0..2_000u64)
        .map(|i| {
            let mut occ = occurrence(
                if below(4) == 0 { 1006 } else { 1 },
                &[below(300) as GroupHash, below(300) as GroupHash],
                (i as Micros) * 1_000_000,
            );
            occ.user = (below(2) == 0).then(|| below(50) as Symbol);
            Record {
                seq: i as Seq,
                project: 1,
                // Every tenth id repeats an earlier one: a duplicate.
                id: if i % 10 == 9 { u128::from(i) } else { u128::from(i) + 1 },
                body: RecordBody::Occurrence(occ),
            }
        })
        .collect();
    let config = IngestConfig::default();
    let (mut plain, mut plain_effects) = (ProjectState::default(), Effects::default());
    for record in &records {
        plain.apply(record, &config, &mut plain_effects);
    }
    let (mut warmed, mut warmed_effects) = (ProjectState::default(), Effects::default());
    for batch in records.chunks(16) {
        let linked: Vec<Option<u32>> = batch.iter().map(|r| warmed.warm(r)).collect();
        for (record, linked) in batch.iter().zip(linked) {
            if let Some(index) = linked {
                warmed.warm_row(record, index);
            }
        }
        for record in batch {
            warmed.apply(record, &config, &mut warmed_effects);
        }
    }
    let rows = |state: &ProjectState| state.rows().map(|(id, row)| (id, (**row).clone())).collect::<Vec<_>>();
    assert!(rows(&plain).len() > 10, "the stream creates groups");
    assert!(plain_effects.counters.get(&Counter::Duplicates).is_some_and(|&n| n > 0));
    assert_eq!(rows(&plain), rows(&warmed));
    let counters = |effects: &mut Effects| effects.counters.drain().collect::<Vec<_>>();
    assert_eq!(counters(&mut plain_effects), counters(&mut warmed_effects));
    assert_eq!(plain_effects.details, warmed_effects.details);
}
