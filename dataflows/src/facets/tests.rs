use super::*;

fn facet(env: Option<Symbol>, release: Option<Symbol>, level: Level) -> Facet {
    Facet {
        environment: env,
        release,
        level,
        tags: None,
    }
}

#[test]
fn one_facet_keeps_nothing_but_its_id_and_a_second_splits_the_history() {
    let mut facets = FacetHours::default();
    let a = facet(Some(1), Some(10), Level::Error);
    let b = facet(Some(1), Some(11), Level::Error);
    facets.apply(0, &[], &[(a, 5, 2), (a, 6, 1)]);
    assert!(!facets.is_split(0));
    let hourly = [(5, 2), (6, 1)];
    let (hours, complete) = facets.hours_matching(0, &hourly, |f| f.release == Some(10));
    assert_eq!((hours.as_ref(), complete), (&hourly[..], true));
    let (hours, complete) = facets.hours_matching(0, &hourly, |f| f.release == Some(11));
    assert_eq!((hours.as_ref(), complete), (&[][..], false));
    // Another release in hour 6: the history so far becomes release 10's series.
    facets.apply(0, &hourly, &[(b, 6, 3), (a, 7, 1)]);
    assert!(facets.is_split(0));
    let hourly = [(5, 2), (6, 4), (7, 1)];
    let (hours, complete) = facets.hours_matching(0, &hourly, |f| f.release == Some(10));
    assert_eq!((hours.as_ref(), complete), (&[(5, 2), (6, 1), (7, 1)][..], false));
    let (hours, _) = facets.hours_matching(0, &hourly, |f| f.level == Level::Error);
    assert_eq!(hours.as_ref(), &hourly[..]);
    assert_eq!(facets.facets_of(0).len(), 2);
}

#[test]
fn the_existence_test_agrees_with_the_hours_and_the_byte_count_with_a_walk() {
    let mut facets = FacetHours::default();
    let mut hourly: Vec<Vec<(u32, u32)>> = vec![Vec::new(); 8];
    let mut next = crate::test_rng::below(0x2545_f491_4f6c_dd1du64);
    let levels = [Level::Error, Level::Warning, Level::Info];
    for round in 0..600 {
        let group = next(8) as u32;
        // Mostly additions; some removals (spans are recounted then).
        let updates: Vec<FacetHourDiff> = (0..1 + next(3))
            .map(|_| {
                let f = facet(Some(next(2)), Some(10 + next(3)), levels[next(3) as usize]);
                let diff = if next(6) == 0 {
                    -(1 + next(2) as isize)
                } else {
                    1 + next(2) as isize
                };
                (f, 100 + next(12) as u32, diff)
            })
            .collect();
        if round % 50 == 49 {
            let parent = (group + 1) % 8;
            let (child_hours, parent_hours) = (hourly[group as usize].clone(), hourly[parent as usize].clone());
            facets.merge(group, &child_hours, parent, &parent_hours);
            for (h, n) in std::mem::take(&mut hourly[group as usize]) {
                add_hour(&mut hourly[parent as usize], h, n as isize);
            }
        } else if round % 97 == 96 {
            // Retention: the hours before the cut go, from the facets and the hourly.
            let cut = 100 + next(4) as u32;
            facets.retain_from(cut);
            for hours in &mut hourly {
                hours.retain(|e| e.0 >= cut);
            }
        } else {
            facets.apply(group, &hourly[group as usize], &updates);
            for (_, h, n) in &updates {
                add_hour(&mut hourly[group as usize], *h, *n);
            }
        }
        let walked: usize = facets.split.values().map(series_bytes).sum();
        assert_eq!(facets.split_bytes, Some(walked), "round {round}");
        for (index, spans) in facets.spans.by_group_for_tests() {
            let mut recounted = Spans::default();
            recounted.rebuild(index, &facets.split[&index], &facets.facets);
            assert_eq!(recounted.get(index), Some(spans), "round {round} group {index}");
        }
        // The same state without spans (as after a restore) answers from the series.
        let mut plain = serde_json::from_str::<FacetHours>(&serde_json::to_string(&facets).expect("serialize")).expect("restore");
        // Reading a checkpoint (postcard, as `src/checkpoint.rs` writes it) rebuilds the spans.
        let bytes = postcard::to_stdvec(&facets).expect("encode");
        let restored: FacetHours = postcard::from_bytes(&bytes).expect("decode");
        for index in 0..8u32 {
            assert_eq!(
                restored.spans.get(index),
                facets.spans.get(index),
                "restored: round {round} group {index}"
            );
            assert_eq!(plain.spans.get(index), facets.spans.get(index), "json: round {round} group {index}");
        }
        plain.spans.clear();
        for index in 0..8u32 {
            let hours = &hourly[index as usize];
            for wanted in [Level::Error, Level::Info] {
                for (lo, hi) in [(0, u32::MAX), (102, 103), (105, 105), (101, 110), (0, 99), (112, 200)] {
                    let accept = |f: &Facet| f.level == wanted;
                    let (matching, _) = facets.hours_matching(index, hours, accept);
                    let expected = matching.iter().any(|&(h, n)| n > 0 && (lo..=hi).contains(&h));
                    let found = facets.any_hour_matching(
                        index,
                        hours,
                        |id, level| match level {
                            Some(level) => Some(level == wanted),
                            None => facets.facet(id).map(accept),
                        },
                        (lo, hi),
                    );
                    assert_eq!(found, expected, "round {round} group {index} {wanted:?} {lo}..={hi}");
                    let found = plain.any_hour_matching(index, hours, |id, _| plain.facet(id).map(accept), (lo, hi));
                    assert_eq!(found, expected, "without spans: round {round} group {index} {wanted:?} {lo}..={hi}");
                }
            }
        }
    }
    assert!(facets.split.len() > 3, "the rounds split most groups");
    // After a restore the count is unknown until the next change, and reported by a walk.
    let restored: FacetHours = serde_json::from_str(&serde_json::to_string(&facets).expect("serialize")).expect("restore");
    let mut restored = restored;
    assert_eq!(restored.split_bytes, None);
    let f = facet(Some(5), None, Level::Error);
    restored.apply(0, &hourly[0], &[(f, 100, 1)]);
    let walked: usize = restored.split.values().map(series_bytes).sum();
    assert_eq!(restored.split_bytes, Some(walked));
}

fn add_hour(hours: &mut Vec<(u32, u32)>, hour: u32, n: isize) {
    match hours.binary_search_by_key(&hour, |e| e.0) {
        Ok(i) => {
            hours[i].1 = (i64::from(hours[i].1) + n as i64).max(0) as u32;
            if hours[i].1 == 0 {
                hours.remove(i);
            }
        }
        Err(i) if n > 0 => hours.insert(i, (hour, n as u32)),
        Err(_) => {}
    }
}

#[test]
fn several_facets_in_a_first_epoch_split_at_once() {
    let mut facets = FacetHours::default();
    let (a, b) = (facet(None, None, Level::Info), facet(None, None, Level::Warning));
    facets.apply(3, &[], &[(a, 1, 1), (b, 1, 1)]);
    let (hours, _) = facets.hours_matching(3, &[(1, 2)], |f| f.level == Level::Warning);
    assert_eq!(hours.as_ref(), &[(1, 1)]);
}

#[test]
fn merges_combine_the_series() {
    let mut facets = FacetHours::default();
    let (a, b) = (facet(Some(1), None, Level::Error), facet(Some(2), None, Level::Error));
    facets.apply(0, &[], &[(a, 1, 2)]);
    facets.apply(1, &[], &[(a, 2, 1)]);
    // Same facet: the parent stays unsplit.
    facets.merge(1, &[(2, 1)], 0, &[(1, 2)]);
    assert!(!facets.is_split(0));
    facets.apply(2, &[], &[(b, 3, 4)]);
    facets.merge(2, &[(3, 4)], 0, &[(1, 2), (2, 1)]);
    assert!(facets.is_split(0));
    let hourly = [(1, 2), (2, 1), (3, 4)];
    let (hours, _) = facets.hours_matching(0, &hourly, |f| f.environment == Some(1));
    assert_eq!(hours.as_ref(), &[(1, 2), (2, 1)]);
    let (hours, _) = facets.hours_matching(0, &hourly, |f| f.environment == Some(2));
    assert_eq!(hours.as_ref(), &[(3, 4)]);
}
