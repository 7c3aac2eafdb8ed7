use super::*;

const ONE: ClusterShape = ClusterShape { processes: 1, process: 0 };

fn body(next_epoch: u64) -> (Positions, IssueViews) {
    (
        Positions {
            next_epoch,
            ..Positions::default()
        },
        IssueViews::default(),
    )
}

fn write_with(dir: &Path, shape: ClusterShape, positions: &Positions, projects: &HashMap<ProjectId, ProjectState>) -> PathBuf {
    let views = IssueViews::default();
    let body = CheckpointBodyRef {
        positions,
        next_id: 7 + shape.process as u64,
        views: &views,
        workers: vec![encode_projects(projects).unwrap()],
    };
    write_part(dir, shape, positions.next_epoch, &body).unwrap().0
}

fn write(dir: &Path, shape: ClusterShape, next_epoch: u64) -> PathBuf {
    write_with(dir, shape, &body(next_epoch).0, &HashMap::default())
}

#[test]
fn newest_valid_checkpoint_wins_and_corrupt_ones_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ONE, 10);
    let newest = write(dir.path(), ONE, 20);
    assert_eq!(load_newest(dir.path()).unwrap().unwrap().positions.next_epoch, 20);
    // Flip one byte of the newest: its checksum fails and the older one is used.
    let mut bytes = fs::read(&newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs::write(&newest, &bytes).unwrap();
    assert_eq!(load_newest(dir.path()).unwrap().unwrap().positions.next_epoch, 10);
    // A truncated file (a crash mid-write without the rename) is skipped too.
    fs::write(dir.path().join("cut-e00000000000000000030-1-0.bin"), &bytes[..bytes.len() / 3]).unwrap();
    assert_eq!(load_newest(dir.path()).unwrap().unwrap().positions.next_epoch, 10);
}

#[test]
fn the_newest_complete_cut_of_any_process_count_is_chosen() {
    let part = |epoch, processes, part| PartName { epoch, processes, part };
    // Process 1 died before writing the cut at 300: both go back to 200.
    assert_eq!(
        choose(&[part(100, 2, 0), part(100, 2, 1), part(200, 2, 0), part(200, 2, 1), part(300, 2, 0)]),
        Some((200, 2))
    );
    // A one-process cut after a two-process one, and the reverse.
    assert_eq!(choose(&[part(100, 2, 0), part(100, 2, 1), part(150, 1, 0)]), Some((150, 1)));
    assert_eq!(choose(&[part(100, 1, 0), part(150, 2, 1), part(150, 2, 0)]), Some((150, 2)));
    // Nothing complete: a fresh start.
    assert_eq!(choose(&[part(100, 2, 0), part(200, 2, 1)]), None);
    assert_eq!(choose(&[]), None);
}

#[test]
fn a_two_part_cut_loads_as_one_state_with_each_partition_from_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let offsets = |own: &[(i32, i64)], stale: &[(i32, i64)], epoch| {
        let mut positions = body(epoch).0;
        positions.kafka = Some(KafkaPosition {
            topic: "t".into(),
            partition_count: 4,
            offsets: own.iter().chain(stale).copied().collect(),
        });
        positions
    };
    let (p0, p1) = (
        offsets(&[(0, 100), (2, 300)], &[(1, 5), (3, 5)], 40),
        offsets(&[(1, 200), (3, 400)], &[(0, 5), (2, 5)], 40),
    );
    let shape = |process| ClusterShape { processes: 2, process };
    let projects = |project: ProjectId| [(project, ProjectState::default())].into_iter().collect();
    write_with(dir.path(), shape(0), &p0, &projects(1));
    write_with(dir.path(), shape(1), &p1, &projects(2));
    let restored = load_newest(dir.path()).unwrap().unwrap();
    assert_eq!(restored.next_id, 7, "part 0's id counter");
    let kafka = restored.positions.kafka.unwrap();
    assert_eq!(kafka.offsets, [(0, 100), (1, 200), (2, 300), (3, 400)].into_iter().collect());
    let mut ids: Vec<ProjectId> = restored.projects.keys().copied().collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![1, 2]);
}

#[test]
fn parts_are_kept_three_per_process_and_discarded_after_a_cut() {
    let dir = tempfile::tempdir().unwrap();
    let shape = |process| ClusterShape { processes: 2, process };
    for epoch in [10, 20, 30, 40] {
        write(dir.path(), shape(0), epoch);
    }
    write(dir.path(), shape(1), 40);
    let parts = valid_parts(dir.path()).unwrap();
    let epochs = |process| parts.iter().filter(|p| p.part == process).map(|p| p.epoch).collect::<Vec<_>>();
    assert_eq!(epochs(0), vec![20, 30, 40]);
    assert_eq!(epochs(1), vec![40]);
    // A corrupt file does not count as valid.
    let path = dir.path().join("cut-e00000000000000000040-2-0.bin");
    let mut bytes = fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    assert_eq!(valid_parts(dir.path()).unwrap().len(), 3);
    discard_after(dir.path(), Some(20)).unwrap();
    assert_eq!(
        valid_parts(dir.path()).unwrap(),
        vec![PartName {
            epoch: 20,
            processes: 2,
            part: 0
        }]
    );
    discard_after(dir.path(), None).unwrap();
    assert!(valid_parts(dir.path()).unwrap().is_empty());
}

#[test]
fn a_complete_checkpoint_of_another_format_is_an_error_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ONE, 10);
    let newest = write(dir.path(), ONE, 20);
    // The newest written by another format version (checksum recomputed: a complete file).
    let mut bytes = fs::read(&newest).unwrap();
    bytes.truncate(bytes.len() - 8);
    bytes[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&(FORMAT_VERSION - 1).to_le_bytes());
    let checksum = xxhash_rust::xxh3::xxh3_64(&bytes);
    bytes.extend_from_slice(&checksum.to_le_bytes());
    fs::write(&newest, &bytes).unwrap();
    let expected = format!("format version {}, this build reads {FORMAT_VERSION}", FORMAT_VERSION - 1);
    let Err(error) = valid_parts(dir.path()) else {
        panic!("another format must be an error")
    };
    let error = format!("{error:#}");
    assert!(
        error.contains(&expected) && error.contains("cut-e00000000000000000020-1-0.bin"),
        "{error}"
    );
    let Err(error) = load_newest(dir.path()) else {
        panic!("another format must be an error")
    };
    let error = format!("{error:#}");
    assert!(error.contains(&expected), "{error}");
}

#[test]
fn checkpoints_of_an_earlier_build_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("checkpoint-000000000001.bin"), b"old").unwrap();
    let error = format!("{:#}", load_newest(dir.path()).err().unwrap());
    assert!(error.contains("earlier build"), "{error}");
}

#[test]
fn windowed_view_data_survives_a_checkpoint() {
    use dataflows::state::GroupKey;
    use dataflows::views::Activity;
    let key = GroupKey { project: 1, short_id: 1 };
    let (positions, mut views) = body(1);
    views.apply_details(vec![((key, 5, 7, 3, 9), 0, 1), ((key, 6, 3599, 3, 1 << 40), 0, 1)]);
    views.apply_activity(vec![
        (Activity::Hour(key, 5), 0, 2),
        (Activity::Environment(key, 3), 0, 1),
        (Activity::EnvironmentHour(key, 3, 5), 0, 1),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let body = CheckpointBodyRef {
        positions: &positions,
        next_id: 7,
        views: &views,
        workers: vec![encode_projects(&HashMap::default()).unwrap()],
    };
    write_part(dir.path(), ONE, 1, &body).unwrap();
    let restored = load_newest(dir.path()).unwrap().unwrap().views;
    let details = restored.details_of(key, restored.get(key).unwrap());
    let kept: Vec<(u32, u32, u32, u64, u64)> = details
        .iter()
        .map(|e| {
            use dataflows::views::details::*;
            (hour(&e), second(&e), count(&e), facet(&e), user(&e))
        })
        .collect();
    assert_eq!(kept, vec![(5, 7, 1, 3, 9), (6, 3599, 1, 3, 1 << 40)]);
    assert_eq!(restored.environment_hours(key), Some(&[(3, 5, 1)][..]));
}

#[test]
fn a_write_removes_the_temporaries_a_crash_left_of_this_process_only() {
    let dir = tempfile::tempdir().unwrap();
    let stale = |shape: ClusterShape, epoch: u64| {
        let name = PartName {
            epoch,
            processes: shape.processes,
            part: shape.process,
        };
        let path = dir.path().join(format!(".{}.tmp", name.file_name()));
        fs::write(&path, b"half a checkpoint").unwrap();
        path
    };
    let own = stale(ONE, 5);
    let other = stale(ClusterShape { processes: 2, process: 1 }, 5);
    let unrelated = dir.path().join(".notes.tmp");
    fs::write(&unrelated, b"x").unwrap();
    write(dir.path(), ONE, 10);
    assert!(!own.exists(), "this process's unfinished write is removed");
    assert!(other.exists(), "another process's temporary may be a write in progress");
    assert!(unrelated.exists());
    // And at start-up, before anything is written.
    let own = stale(ONE, 11);
    remove_stale_temporaries(dir.path(), ONE).unwrap();
    assert!(!own.exists());
    assert!(other.exists());
    assert_eq!(load_newest(dir.path()).unwrap().unwrap().positions.next_epoch, 10);
}
