//! Restoring a checkpointing cluster inside the timely cluster, and the dead-letter file's
//! cut back to what a checkpoint covers.

use std::cell::RefCell;
use std::fs::File;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context;
use dataflows::graph::routes::project_route;
use dataflows::model::ProjectId;
use dataflows::state::ProjectState;
use dataflows::views::IssueViews;
use rustc_hash::FxHashMap as HashMap;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Exchange, Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};

use crate::checkpoint::{self, PartName, Positions};

/// A dataflow input of vectors of `D` at epochs.
pub(crate) type VecInput<D> = InputHandle<u64, CapacityContainerBuilder<Vec<D>>>;
/// Records a worker's inspect operator collects for it.
type Collected<D> = Rc<RefCell<Vec<D>>>;
/// A project and its postcard-encoded state, on its way to its owner.
type EncodedProject = (ProjectId, Vec<u8>);
/// (cut, process, status code): a process's status at a cut.
pub(crate) type StatusRecord = (u64, u64, u8);

/// What a checkpointing cluster's restore shares between a process's workers.
pub(crate) struct ClusterRestore {
    pub(crate) dir: PathBuf,
    pub(crate) shape: checkpoint::ClusterShape,
    /// The valid cut parts in this process's state directory.
    pub(crate) available: Vec<PartName>,
    pub(crate) dead_letter_file: Option<PathBuf>,
    pub(crate) change_feed_file: Option<PathBuf>,
    pub(crate) views: Arc<RwLock<IssueViews>>,
    pub(crate) next_id: AtomicU64,
    /// Local workers wait here until the process's restore is complete.
    pub(crate) barrier: Barrier,
    pub(crate) error: Mutex<Option<anyhow::Error>>,
}

impl ClusterRestore {
    fn fail(&self, error: anyhow::Error) {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(error);
    }
}

/// What the loaders of a cut's parts send on restore: each project's state to its owner (and a
/// copy to worker 0 for the views' rows), every part's positions to every worker, and part 0's
/// views with the id counter to worker 0 when another process than 0 loaded them.
struct Shipments {
    projects: VecInput<EncodedProject>,
    positions: VecInput<(u64, Vec<u8>)>,
    views: VecInput<(u64, Vec<u8>)>,
}

/// The restore of a checkpointing cluster, run by every worker before the ingest dataflow:
/// (1) a small dataflow broadcasts each process's valid cut parts and every worker picks the
/// newest cut whose parts the cluster holds between its processes ([`checkpoint::choose`]),
/// written by any number of processes; each part is loaded by the first process holding it.
/// (2) A second dataflow sends every project's state to the worker that owns it now (by
/// project route over all workers, so process and worker counts may change) and a copy to
/// worker 0, which rebuilds the views' rows, and every part's positions to everyone, so each
/// process resumes its partitions where their previous owners stopped. Returns the process's
/// positions on its first worker (None elsewhere or on failure).
pub(crate) fn restore_cluster(
    worker: &mut timely::worker::Worker,
    restore: &ClusterRestore,
    local: usize,
) -> (Option<Positions>, HashMap<ProjectId, ProjectState>) {
    let index = worker.index();
    let shape = restore.shape;
    // (1) Agree on the cut and on who loads each part.
    let lists: Collected<(u64, Vec<PartName>)> = Default::default();
    let mut list_input: VecInput<(u64, Vec<PartName>)> = InputHandle::new();
    let probe = ProbeHandle::new();
    let seen = lists.clone();
    worker.dataflow::<u64, _, _>(|scope| {
        scope
            .input_from(&mut list_input)
            .broadcast()
            .inspect(move |list| seen.borrow_mut().push(list.clone()))
            .probe_with(&probe);
    });
    if local == 0 {
        list_input.send((shape.process as u64, restore.available.clone()));
    }
    drop(list_input);
    while !probe.done() {
        worker.step_or_park(Some(Duration::from_millis(1)));
    }
    let mut lists = lists.take();
    lists.sort();
    let mut union: Vec<PartName> = lists.iter().flat_map(|(_, parts)| parts.iter().copied()).collect();
    union.sort_unstable();
    union.dedup();
    let chosen = checkpoint::choose(&union);
    let mine: Vec<PartName> = match chosen {
        Some((epoch, processes)) => (0..processes)
            .map(|part| PartName { epoch, processes, part })
            .filter(|part| lists.iter().find(|(_, parts)| parts.contains(part)).map(|(process, _)| *process) == Some(shape.process as u64))
            .collect(),
        None => Vec::new(),
    };

    // (2) Load this process's share of the cut and send it where it belongs.
    let mut own_views = None;
    let mut shipments = Shipments {
        projects: InputHandle::new(),
        positions: InputHandle::new(),
        views: InputHandle::new(),
    };
    let owned: Collected<EncodedProject> = Default::default();
    let rows: Collected<EncodedProject> = Default::default();
    let part_positions: Collected<(u64, Vec<u8>)> = Default::default();
    let shipped_views: Collected<(u64, Vec<u8>)> = Default::default();
    let probe = ProbeHandle::new();
    let (to_owner, to_first) = (owned.clone(), rows.clone());
    let (to_all, views_to_first) = (part_positions.clone(), shipped_views.clone());
    worker.dataflow::<u64, _, _>(|scope| {
        let states = scope.input_from(&mut shipments.projects);
        states
            .clone()
            .exchange(|(project, _)| project_route(*project))
            .inspect(move |state| to_owner.borrow_mut().push(state.clone()))
            .probe_with(&probe);
        // Worker 0 holds the views, whose rows are rebuilt from the project states.
        states
            .exchange(|_| 0)
            .inspect(move |state| to_first.borrow_mut().push(state.clone()))
            .probe_with(&probe);
        scope
            .input_from(&mut shipments.positions)
            .broadcast()
            .inspect(move |part| to_all.borrow_mut().push(part.clone()))
            .probe_with(&probe);
        scope
            .input_from(&mut shipments.views)
            .exchange(|_| 0)
            .inspect(move |views| views_to_first.borrow_mut().push(views.clone()))
            .probe_with(&probe);
    });
    if local == 0 {
        match discard_and_load(restore, chosen, &union, &mine, &mut shipments) {
            Ok(views) => own_views = views,
            Err(error) => restore.fail(error),
        }
    }
    drop(shipments);
    while !probe.done() {
        worker.step_or_park(Some(Duration::from_millis(1)));
    }
    let mut projects = HashMap::default();
    for (project, bytes) in owned.take() {
        match postcard::from_bytes::<ProjectState>(&bytes) {
            Ok(state) => {
                projects.insert(project, state);
            }
            Err(error) => restore.fail(anyhow::anyhow!("project {project}'s checkpointed state does not decode: {error}")),
        }
    }
    if index == 0 {
        if let Some((next_id, bytes)) = shipped_views.take().pop() {
            match postcard::from_bytes::<IssueViews>(&bytes) {
                Ok(views) => own_views = Some((next_id, views)),
                Err(error) => restore.fail(anyhow::anyhow!("the checkpointed views do not decode: {error}")),
            }
        }
        let mut views = restore.views.write().unwrap_or_else(|p| p.into_inner());
        if let (Some((next_id, restored)), Some((epoch, _))) = (own_views, chosen) {
            restore.next_id.store(next_id, Ordering::Relaxed);
            let change_log = views.change_log.take();
            let deferred = views.indexes_deferred();
            *views = restored;
            views.change_log = change_log;
            if deferred {
                views.defer_indexes();
            }
            views.complete_through = epoch;
            views.finished = false;
        }
        for (project, bytes) in rows.take() {
            // A state that does not decode was reported above, by its owner.
            let Ok(state) = postcard::from_bytes::<ProjectState>(&bytes) else {
                continue;
            };
            for (short_id, row) in state.rows() {
                views.restore_row(dataflows::state::GroupKey { project, short_id }, row.clone());
            }
        }
    }
    if local != 0 {
        return (None, projects);
    }
    let positions = match resume_positions(restore, chosen, part_positions.take()) {
        Ok(positions) => Some(positions),
        Err(error) => {
            restore.fail(error);
            None
        }
    };
    (positions, projects)
}

/// Discards the parts after the chosen cut (all of them with none), then loads this
/// process's share of it: sends every project's state and every part's positions, and
/// part 0's views and id counter (returned when this is worker 0, shipped to it otherwise).
fn discard_and_load(
    restore: &ClusterRestore,
    chosen: Option<(u64, usize)>,
    union: &[PartName],
    mine: &[PartName],
    shipments: &mut Shipments,
) -> anyhow::Result<Option<(u64, IssueViews)>> {
    if chosen.is_none() && !union.is_empty() {
        tracing::warn!(?union, "no complete checkpoint among the cluster's processes: starting afresh");
    }
    checkpoint::discard_after(&restore.dir, chosen.map(|(epoch, _)| epoch))?;
    let mut own_views = None;
    for &part in mine {
        let restored = checkpoint::load_part(&restore.dir, part)?;
        for (project, state) in &restored.projects {
            shipments
                .projects
                .send((*project, postcard::to_stdvec(state).context("cannot encode a project's state")?));
        }
        shipments.positions.send((
            part.part as u64,
            postcard::to_stdvec(&restored.positions).context("cannot encode positions")?,
        ));
        if part.part == 0 {
            if restore.shape.process == 0 {
                own_views = Some((restored.next_id, restored.views));
            } else {
                let views = postcard::to_stdvec(&restored.views).context("cannot encode the views")?;
                shipments.views.send((restored.next_id, views));
            }
        }
        tracing::info!(checkpoint = %restored.path.display(), next_epoch = part.epoch, "the cluster resumes from a common checkpoint");
    }
    Ok(own_views)
}

/// This process's positions from every part's: the cut's merged positions, and its
/// dead-letter and change feed files cut back to what its own part recorded (none: they
/// start empty).
fn resume_positions(restore: &ClusterRestore, chosen: Option<(u64, usize)>, parts: Vec<(u64, Vec<u8>)>) -> anyhow::Result<Positions> {
    let Some((epoch, processes)) = chosen else {
        cut_appended_files(&restore.dead_letter_file, &restore.change_feed_file, None)?;
        return Ok(Positions::default());
    };
    let mut decoded = Vec::with_capacity(parts.len());
    for (part, bytes) in parts {
        let positions: Positions = postcard::from_bytes(&bytes).context("checkpointed positions do not decode")?;
        decoded.push((part as usize, positions));
    }
    if decoded.len() != processes {
        anyhow::bail!("received the positions of {} of the cut's {processes} parts", decoded.len());
    }
    let mut positions = checkpoint::merge_positions(&decoded, processes);
    positions.next_epoch = epoch;
    let own = decoded.iter().find(|(part, _)| *part == restore.shape.process).map(|(_, p)| p);
    cut_appended_files(&restore.dead_letter_file, &restore.change_feed_file, own)?;
    positions.dead_letter_bytes = own.and_then(|p| p.dead_letter_bytes);
    positions.change_feed_bytes = own.and_then(|p| p.change_feed_bytes);
    Ok(positions)
}

/// Cuts the files a checkpointing process appends to (its dead letters, its change feed)
/// back to the lengths in `positions` (its own part's), or to nothing on a fresh start.
pub(crate) fn cut_appended_files(
    dead_letters: &Option<PathBuf>,
    change_feed: &Option<PathBuf>,
    positions: Option<&Positions>,
) -> anyhow::Result<()> {
    let lengths = positions.map_or((None, None), |p| (p.dead_letter_bytes, p.change_feed_bytes));
    for (path, length) in [(dead_letters, lengths.0), (change_feed, lengths.1)] {
        if let Some(path) = path {
            cut_back(path, length.unwrap_or(0))?;
        }
    }
    Ok(())
}

/// Cuts a file the pipeline appends to (dead letters, the change feed) back to what the
/// checkpoint covers: what came after it is written again by the replay. Both are synced
/// before a checkpoint is written, so a shorter file was cut by something else (or its file
/// system lost synced data): it is not padded, but cut back to its last whole line, with a
/// warning, so that the replay's lines do not run on from a torn one.
fn cut_back(path: &std::path::Path, length: u64) -> anyhow::Result<()> {
    match std::fs::OpenOptions::new().write(true).open(path) {
        // A device or pipe (`/dev/null`, a FIFO) keeps nothing to cut back.
        Ok(file) => match file.metadata() {
            Ok(meta) if !meta.is_file() => Ok(()),
            Ok(meta) if meta.len() < length => {
                let whole = File::open(path)
                    .and_then(|read| whole_lines(&read, meta.len()))
                    .with_context(|| format!("cannot read {}", path.display()))?;
                tracing::warn!(
                    path = %path.display(),
                    bytes = meta.len(),
                    checkpointed = length,
                    kept = whole,
                    "shorter than at the checkpoint: lines the checkpoint covers are missing"
                );
                file.set_len(whole).with_context(|| format!("cannot truncate {}", path.display()))
            }
            _ => file.set_len(length).with_context(|| format!("cannot truncate {}", path.display())),
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if length > 0 {
                tracing::warn!(path = %path.display(), checkpointed = length, "missing: the lines the checkpoint covers are gone");
            }
            Ok(())
        }
        Err(error) => Err(error).with_context(|| format!("cannot open {}", path.display())),
    }
}

/// The length of `file`'s first `length` bytes up to and with its last newline.
fn whole_lines(file: &File, length: u64) -> std::io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut chunk = vec![0u8; 64 << 10];
    let mut end = length;
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let buffer = &mut chunk[..(end - start) as usize];
        file.read_exact_at(buffer, start)?;
        if let Some(newline) = buffer.iter().rposition(|&byte| byte == b'\n') {
            return Ok(start + newline as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_cut_back_to_the_checkpoint_never_padded_and_may_be_missing() {
        let dir = tempfile::tempdir().unwrap();
        let (dead, feed) = (dir.path().join("dead.jsonl"), dir.path().join("feed.jsonl"));
        std::fs::write(&dead, b"one\ntwo\n").unwrap();
        std::fs::write(&feed, b"a\n").unwrap();
        let positions = Positions {
            dead_letter_bytes: Some(4),
            // Longer than the file: something cut it, and it is not padded.
            change_feed_bytes: Some(10),
            ..Positions::default()
        };
        cut_appended_files(&Some(dead.clone()), &Some(feed.clone()), Some(&positions)).unwrap();
        assert_eq!(std::fs::read(&dead).unwrap(), b"one\n");
        assert_eq!(std::fs::read(&feed).unwrap(), b"a\n");
        // A shorter file torn inside a line keeps its whole lines only, so the replay's
        // first line does not run on from the torn one.
        std::fs::write(&feed, b"a\nb\ntorn").unwrap();
        cut_appended_files(&None, &Some(feed.clone()), Some(&positions)).unwrap();
        assert_eq!(std::fs::read(&feed).unwrap(), b"a\nb\n");
        std::fs::write(&feed, b"torn").unwrap();
        cut_appended_files(&None, &Some(feed.clone()), Some(&positions)).unwrap();
        assert_eq!(std::fs::read(&feed).unwrap(), b"");
        // A fresh start empties both; files that do not exist yet are no error.
        cut_appended_files(&Some(dead.clone()), &Some(feed.clone()), None).unwrap();
        assert_eq!(std::fs::metadata(&dead).unwrap().len(), 0);
        assert_eq!(std::fs::metadata(&feed).unwrap().len(), 0);
        cut_appended_files(&Some(dir.path().join("none")), &None, Some(&positions)).unwrap();
        assert!(!dir.path().join("none").exists());
    }
}
