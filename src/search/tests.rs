use super::*;
use std::time::UNIX_EPOCH;

fn parse(q: &str) -> Result<IssueQuery, SearchError> {
    IssueQuery::parse(q, UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000))
}

#[test]
fn compiles_the_default_query_and_rejects_unknown_keys_and_values() {
    let q = parse(DEFAULT_QUERY).unwrap();
    assert_eq!(q.predicates.len(), 2);
    assert!(q.default_types_only);
    let e = parse("is:unresolved team:x").unwrap_err();
    assert_eq!(e.position, Some(14));
    assert!(e.message.contains("team"), "{}", e.message);
    // Any other key is a custom tag; typed keys with other values and `flags[…]` still fail.
    let q = parse("bogus:1 !has:url tags[is]:x").unwrap();
    assert_eq!(
        q.predicates.iter().map(|p| (&p.test, p.negated)).collect::<Vec<_>>(),
        vec![
            (&Test::Tag("bogus".into(), vec![Text::Exact("1".into())]), false),
            (&Test::Tag("url".into(), vec![Text::Exact(String::new())]), false),
            (&Test::Tag("is".into(), vec![Text::Exact("x".into())]), false),
        ]
    );
    assert!(q.has_event_conditions() && q.has_facet_conditions());
    assert!(parse("stack.lineno:5").is_err());
    assert!(parse("flags[x]:y").is_err());
    assert!(matches!(
        parse("tags[environment]:prod").unwrap().predicates[0].test,
        Test::Environment(_)
    ));
    assert!(parse("is:nonsense").is_err());
    assert!(parse("issue.priority:urgent").is_err());
    assert!(parse("issue.category:nope").is_err());
    assert!(parse("count():>1").is_err());
    assert!(!parse("!issue.type:feedback").unwrap().default_types_only);
}

#[test]
fn the_level_table_lists_every_level_at_its_discriminant() {
    for (i, level) in LEVELS.iter().enumerate() {
        assert_eq!(level_slot(*level), i);
    }
    let names: std::collections::BTreeSet<&str> = LEVELS.iter().map(|l| l.api_name()).collect();
    assert_eq!(names.len(), LEVELS.len());
    assert_eq!(Level::parse(Some("no such level")), Level::Unknown);
    assert!(LEVELS.contains(&Level::parse(Some("fatal"))));
}

#[test]
fn implied_status_follows_the_first_substatus() {
    let q = parse("!is:archived_forever").unwrap();
    assert_eq!(
        q.predicates.last(),
        Some(&Predicate {
            test: Test::Status(vec![2]),
            negated: true
        })
    );
}

#[test]
fn every_level_sits_at_its_own_slot() {
    for (slot, level) in LEVELS.into_iter().enumerate() {
        assert_eq!(level_slot(level), slot, "{level:?}");
    }
}
