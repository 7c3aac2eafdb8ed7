//! Restoring a checkpointing cluster inside the timely cluster, and the dead-letter file's
//! cut back to what a checkpoint covers.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context;
use dataflows::graph::ingest::project_route;
use dataflows::model::ProjectId;
use dataflows::state::ProjectState;
use dataflows::views::IssueViews;
use rustc_hash::FxHashMap as HashMap;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Exchange, Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};

use crate::checkpoint::{self, Positions};

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
    /// This process's valid checkpoint epochs.
    pub(crate) available: Vec<u64>,
    pub(crate) dead_letter_file: Option<PathBuf>,
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

/// The restore of a checkpointing cluster, run by every worker before the ingest dataflow:
/// (1) a small dataflow broadcasts each process's valid checkpoint epochs and every worker
/// picks the newest common one ([`checkpoint::agree`]); (2) each process's first worker loads
/// its checkpoint of that cut and a second dataflow sends every project's state to the
/// worker that owns it now (by project route over all workers, so the worker count may
/// change) and a copy to worker 0, which rebuilds the views' rows. Returns the process's
/// positions on its first worker (None elsewhere or on failure).
pub(crate) fn restore_cluster(
    worker: &mut timely::worker::Worker,
    restore: &ClusterRestore,
    local: usize,
) -> (Option<Positions>, HashMap<ProjectId, ProjectState>) {
    let index = worker.index();
    let shape = restore.shape;
    // (1) Agree on the cut.
    let lists: Collected<(u64, Vec<u64>)> = Default::default();
    let mut list_input: VecInput<(u64, Vec<u64>)> = InputHandle::new();
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
    let available: Vec<Vec<u64>> = lists.into_iter().map(|(_, list)| list).collect();
    let chosen = checkpoint::agree(&available);

    // (2) Load this process's part of the cut and send every project to its owner.
    let mut positions = None;
    let mut outgoing = Vec::new();
    if local == 0 {
        match load_cluster_part(restore, chosen, &available) {
            Ok((loaded, projects)) => {
                positions = Some(loaded);
                outgoing = projects;
            }
            Err(error) => restore.fail(error),
        }
    }
    let owned: Collected<EncodedProject> = Default::default();
    let rows: Collected<EncodedProject> = Default::default();
    let mut state_input: VecInput<EncodedProject> = InputHandle::new();
    let probe = ProbeHandle::new();
    let (to_owner, to_first) = (owned.clone(), rows.clone());
    worker.dataflow::<u64, _, _>(|scope| {
        let states = scope.input_from(&mut state_input);
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
    });
    for item in outgoing {
        state_input.send(item);
    }
    drop(state_input);
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
        let mut views = restore.views.write().unwrap_or_else(|p| p.into_inner());
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
    (positions, projects)
}

/// Loads this process's checkpoint of the chosen cut (discarding newer ones), cuts the
/// dead-letter file back, and on process 0 restores the views and the id counter. Returns
/// the positions and every project's encoded state.
fn load_cluster_part(
    restore: &ClusterRestore,
    chosen: Option<u64>,
    available: &[Vec<u64>],
) -> anyhow::Result<(Positions, Vec<EncodedProject>)> {
    if chosen.is_none() && available.iter().any(|list| !list.is_empty()) {
        tracing::warn!(
            ?available,
            "no checkpoint is common to every process of the cluster: starting afresh"
        );
    }
    checkpoint::discard_cluster_after(&restore.dir, restore.shape, chosen)?;
    let Some(epoch) = chosen else {
        if let Some(path) = &restore.dead_letter_file {
            cut_dead_letters(path, 0)?;
        }
        return Ok((Positions::default(), Vec::new()));
    };
    let restored = checkpoint::load_cluster(&restore.dir, restore.shape, epoch)?;
    if restored.positions.next_epoch != epoch {
        anyhow::bail!(
            "{} holds epoch {}, not the {epoch} its name says",
            restored.path.display(),
            restored.positions.next_epoch
        );
    }
    if let Some(path) = &restore.dead_letter_file {
        cut_dead_letters(path, restored.positions.dead_letter_bytes.unwrap_or(0))?;
    }
    if restore.shape.process == 0 {
        restore.next_id.store(restored.next_id, Ordering::Relaxed);
        let mut views = restore.views.write().unwrap_or_else(|p| p.into_inner());
        let change_log = views.change_log.take();
        *views = restored.views;
        views.change_log = change_log;
        views.complete_through = epoch;
        views.finished = false;
    }
    let mut outgoing = Vec::with_capacity(restored.projects.len());
    for (project, state) in &restored.projects {
        outgoing.push((*project, postcard::to_stdvec(state).context("cannot encode a project's state")?));
    }
    tracing::info!(checkpoint = %restored.path.display(), next_epoch = epoch, "the cluster resumes from a common checkpoint");
    Ok((restored.positions, outgoing))
}

/// Cuts the dead-letter file back to what the checkpoint covers: rejections after it are
/// produced again by the replay.
pub(crate) fn cut_dead_letters(path: &std::path::Path, length: u64) -> anyhow::Result<()> {
    match std::fs::OpenOptions::new().write(true).open(path) {
        // A device or pipe (`/dev/null`, a FIFO) keeps nothing to cut back.
        Ok(file) if !file.metadata().is_ok_and(|m| m.is_file()) => Ok(()),
        Ok(file) => file.set_len(length).with_context(|| format!("cannot truncate {}", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error).with_context(|| format!("cannot open {}", path.display())),
    }
}
