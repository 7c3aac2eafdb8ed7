//! The feeder: reads the inputs in order (files first, then Kafka), numbers the blocks, hands
//! them to the workers, and checkpoints between blocks.
//!
//! Epochs. A file block's epoch is its index. Kafka is read in rounds: in round `r` each
//! partition contributes its next chunk (up to an offset that is a multiple of the chunk
//! size), split into one sub-block per local worker, at epoch
//! `base + (r·P + p)·L + l` (P partitions, L workers per process). The interleaving thus
//! depends only on the log, not on timing, for every message that was in the topic when it
//! was read; only at the live edge does arrival decide where a chunk ends.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use connectors::jsonl::{BlockOptions, LineSource};
use dataflows::graph::DeadLetterSink;
use dataflows::views::IssueViews;

mod inputs;
mod kafka;
mod points;

use crate::checkpoint::{self, CheckpointBodyRef, FilesPosition, Positions};
use crate::metrics::Metrics;
use crate::mutation_log::Sequencer;
use crate::pipeline::{CheckpointOptions, CutReport, CutStatus, Dispatch, KafkaInput, Startup, HORIZON_PER_WORKER};

/// How long one poll waits for a message before polling again (reads of the backlog never
/// cut a chunk on a timeout; see `PartitionProgress::live`).
const LIVE_WAIT: Duration = Duration::from_millis(20);
/// How often a followed input's dead letters are flushed to their file: without a
/// checkpoint (which flushes them) they would wait in the writer's buffer until it filled or
/// the process ended.
const DEAD_LETTER_FLUSH: Duration = Duration::from_secs(1);
/// How long an idle feeder waits for an API mutation before checking its other duties.
const MUTATION_WAIT: Duration = Duration::from_millis(20);

pub struct Feeder {
    pub files: Vec<PathBuf>,
    pub kafka: Option<KafkaInput>,
    pub block_lines: usize,
    pub follow: bool,
    /// Following a directory (the last input; no Kafka input): files created in it later are
    /// read too.
    pub followed_directory: Option<PathBuf>,
    pub show_progress: bool,
    pub process: usize,
    pub processes: usize,
    pub checkpoints: Option<CheckpointOptions>,
    /// A checkpointing cluster: its shape.
    pub cluster_cuts: Option<ClusterCuts>,
    pub views: Arc<RwLock<IssueViews>>,
    pub dead_letters: DeadLetterSink,
    /// The change feeds, brought up to each checkpoint before it is written.
    pub changes: crate::changes::ChangeSinks,
    pub metrics: Arc<Metrics>,
    pub startup: Arc<Startup>,
    pub stop: Arc<AtomicBool>,
    /// API mutations (and their log); in a cluster, opened by `run` on process 0.
    pub mutations: Option<RefCell<Sequencer>>,
    /// A cluster's process 0: the API's requests, for the log `run` opens.
    pub cluster_inbox: Option<crate::mutation_log::Inbox>,
    /// The state was restored from a checkpoint (at the positions `run` is given).
    pub resumed: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct ClusterCuts {
    pub shape: checkpoint::ClusterShape,
}

pub(crate) struct Checkpointer {
    options: CheckpointOptions,
    /// The size of the last checkpoint written.
    bytes: u64,
    last: Instant,
    /// The positions of the newest checkpoint on disk (written or resumed from): a process
    /// still there has nothing new to write.
    written: Option<Positions>,
}

impl Feeder {
    pub fn run(mut self, dispatch: Dispatch, mut positions: Positions) -> anyhow::Result<()> {
        if let (Some(options), true) = (&self.checkpoints, self.processes > 1 && self.process == 0) {
            // The log is opened once the cluster has agreed on the cut it resumes from.
            let inbox = self.cluster_inbox.take();
            let serving = inbox.is_some();
            let log = Sequencer::open(Some(&options.dir), positions.mutations_applied, inbox)?;
            if !serving && log.to_replay() > 0 {
                // A bounded cluster read may end before a logged mutation's position.
                anyhow::bail!(
                    "{} holds {} API mutations after the checkpoint resumed from; a cluster replays them as a server (`occurrent run`), or resume this state on one process",
                    options.dir.display(),
                    log.to_replay()
                );
            }
            self.mutations = Some(RefCell::new(log));
        }
        let mut checkpointer = self.checkpoints.as_ref().map(|options| Checkpointer {
            options: options.clone(),
            bytes: 0,
            last: Instant::now(),
            written: self.resumed.then(|| positions.clone()),
        });
        let result = self.feed(&dispatch, &mut positions, &mut checkpointer);
        if result.is_ok() && self.processes > 1 && self.cluster_cuts.is_none() && self.stop.load(Ordering::Relaxed) {
            // Without cuts the processes have no common point to stop at: going on, the
            // others would finish without this one's partitions (process 0 dumping part of
            // the input as the whole). Failing fails the whole cluster.
            anyhow::bail!(
                "stopped by a signal: a cluster without --state-dir cannot stop at a common cut, so it stops with an error \
                 (rerun it; with --state-dir a signal stops it cleanly)"
            );
        }
        // A cluster's last checkpoint is its last common cut (see `feed_kafka`).
        if result.is_ok() && self.cluster_cuts.is_none() {
            // A clean end (input exhausted, or SIGTERM/SIGINT): the final state is checkpointed.
            if let Some(checkpointer) = &mut checkpointer {
                self.checkpoint(checkpointer, &dispatch, &mut positions)?;
            }
        }
        result
    }

    fn feed(&self, dispatch: &Dispatch, positions: &mut Positions, checkpointer: &mut Option<Checkpointer>) -> anyhow::Result<()> {
        // A followed directory's files as the process that wrote the checkpoint took them.
        let (paths, skipped) = match (&self.followed_directory, positions.files.as_ref()) {
            (Some(directory), Some(files)) if *files != FilesPosition::default() => {
                inputs::reconcile_followed(files, directory, &self.files)?
            }
            _ => (self.files.clone(), Vec::new()),
        };
        let inputs: Vec<String> = paths.iter().map(|f| f.display().to_string()).collect();
        if !paths.is_empty() || self.followed_directory.is_some() {
            let mut files = positions.files.take().unwrap_or_default();
            // Inputs added after the checkpoint's (new files in an input directory, sorting
            // after its files, or files listed last) are read after them: the positions still
            // name the same files, and an added copy of one of them (a rotation's `app.log.1`)
            // is refused (`inputs.rs`). Not before a Kafka input, whose messages follow the
            // files; when following, only with a followed directory (which adds the files
            // created in it); and not while logged mutations wait for replay (they were placed
            // after the old inputs' end).
            let replaying = self.mutations.as_ref().is_some_and(|m| m.borrow().to_replay() > 0);
            let addable = self.kafka.is_none() && (!self.follow || self.followed_directory.is_some()) && !replaying;
            let added = addable && inputs.len() > files.inputs.len() && inputs.starts_with(&files.inputs);
            if files.inputs != inputs && files != FilesPosition::default() && !added {
                let hint = if addable {
                    " (inputs may only be added after the checkpoint's, in order)"
                } else {
                    ""
                };
                anyhow::bail!(
                    "the checkpoint was taken reading {:?}, not {:?}; use another --state-dir or the same inputs{hint}",
                    files.inputs,
                    inputs
                );
            }
            if files != FilesPosition::default() {
                inputs::check_resumed(&files, &paths)?;
            }
            if added && !files.inputs.is_empty() {
                tracing::info!(added = ?&inputs[files.inputs.len()..], "inputs added since the checkpoint: read after its own");
                files.done = false;
            }
            files.inputs = inputs;
            positions.files = Some(files);
            if !positions.files.as_ref().is_some_and(|f| f.done) {
                self.feed_files(dispatch, positions, checkpointer, paths, &skipped)?;
            }
        }
        // A process of a checkpointing cluster stops at a cut, which it must announce and
        // take part in even when asked to stop before it read anything: returning here
        // left the other processes following cuts that never came, and this one draining
        // for their inputs, both forever.
        if self.stop.load(Ordering::Relaxed) && self.cluster_cuts.is_none() {
            return Ok(());
        }
        if let Some(kafka) = &self.kafka {
            self.feed_kafka(kafka, dispatch, positions, checkpointer)?;
        }
        if self.cluster_cuts.is_some() {
            // A cluster applies mutations at its points only (requests still queued get an
            // error when the inbox closes).
            return Ok(());
        }
        if self.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        // The inputs are over: logged mutations beyond them apply now (before readiness, so
        // a restarted server answers with them); a server keeps taking new ones until it is
        // stopped.
        let serving = self.mutations.as_ref().is_some_and(|m| m.borrow().has_inbox());
        let mut wait = None;
        loop {
            if self.feed_mutations(dispatch, positions, &BTreeSet::new(), positions.next_epoch, true, wait)? {
                positions.next_epoch += 1;
                dispatch.advance_all(positions.next_epoch)?;
            }
            self.startup.mark(positions.next_epoch);
            if !serving || self.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            self.maybe_checkpoint(checkpointer, dispatch, positions)?;
            wait = Some(MUTATION_WAIT);
        }
    }

    /// Feeds the mutations due at the current positions as one block at `epoch`; false when
    /// there were none (and `epoch` stays free). `ended`: Kafka partitions read to their end
    /// (see `InputPoint::reached_by`). `end`: the inputs are over. `wait`: how long to wait
    /// for a request when none is queued.
    pub(crate) fn feed_mutations(
        &self,
        dispatch: &Dispatch,
        positions: &mut Positions,
        ended: &BTreeSet<i32>,
        epoch: u64,
        end: bool,
        wait: Option<Duration>,
    ) -> anyhow::Result<bool> {
        let Some(sequencer) = &self.mutations else { return Ok(false) };
        let batch = sequencer.borrow_mut().due(positions, ended, end, wait)?;
        if batch.is_empty() {
            return Ok(false);
        }
        let workers = dispatch.local_workers() as u64;
        let block = batch.block(epoch)?;
        self.metrics.epoch_sent(epoch);
        dispatch.block(
            (epoch % workers) as usize,
            Arc::new(block),
            epoch.saturating_sub(HORIZON_PER_WORKER * workers),
        )?;
        positions.mutations_applied = batch.acknowledge(epoch);
        Ok(true)
    }

    /// Reads `paths`; `skipped`: files of a followed directory left out (`inputs.rs`).
    fn feed_files(
        &self,
        dispatch: &Dispatch,
        positions: &mut Positions,
        checkpointer: &mut Option<Checkpointer>,
        paths: Vec<PathBuf>,
        skipped: &[PathBuf],
    ) -> anyhow::Result<()> {
        let workers = dispatch.local_workers() as u64;
        let progress = self.show_progress && std::io::stderr().is_terminal();
        let bar = progress.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {human_pos} lines read ({rate} lines/s) {elapsed}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
                    .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0}", state.per_sec());
                    }),
            );
            bar
        });
        let options = BlockOptions {
            max_lines: self.block_lines,
            // Files followed for ever only when no Kafka input comes after them.
            follow: self.follow && self.kafka.is_none(),
            idle: Some(MUTATION_WAIT),
            release: self.mutations.as_ref().and_then(|m| m.borrow().waiting_flag()),
            ..BlockOptions::default()
        };
        let mut source = LineSource::new(paths, options);
        if let Some(directory) = &self.followed_directory {
            source.watch_directory(directory.clone(), skipped);
        }
        let files = positions.files.clone().unwrap_or_default();
        source.resume_at(files.position, positions.next_epoch);
        let mut dead_letters_flushed = Instant::now();
        let mut kept = inputs::Kept::resuming(&files);
        loop {
            if self.follow && dead_letters_flushed.elapsed() >= DEAD_LETTER_FLUSH {
                // A later checkpoint still syncs them and records their length.
                crate::wiring::flush_sink(&self.dead_letters)?;
                dead_letters_flushed = Instant::now();
            }
            let epoch = source.next_block_index();
            if self.feed_mutations(dispatch, positions, &BTreeSet::new(), epoch, false, None)? {
                source.skip_block_index();
                positions.next_epoch = epoch + 1;
                dispatch.advance_all(epoch + 1)?;
            }
            // Following a file: ready once what existed at start-up, and the mutations
            // logged up to there, is in (otherwise `feed` says so after the files).
            if self.follow && source.reached_end_once() && self.kafka.is_none() {
                self.startup.mark(source.next_block_index());
            }
            if let Some(sequencer) = &self.mutations {
                source.stop_at(sequencer.borrow().file_stop(positions));
            }
            let Some(mut block) = source.next_block()? else { break };
            if let Some(files) = &mut positions.files {
                kept.keep_up(files, &source);
            }
            if block.lines.is_empty() && block.unreadable.is_none() {
                // An empty block moves the position too: after a followed file's rotation it
                // is at the new file's start, not the old one's end.
                if let Some(files) = &mut positions.files {
                    files.position = source.position();
                }
                // Following an idle file.
                if self.stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                self.maybe_checkpoint(checkpointer, dispatch, positions)?;
                continue;
            }
            block.partition = None;
            let epoch = block.index;
            if let Some(bar) = &bar {
                bar.inc(block.lines.len() as u64);
            }
            self.metrics
                .record_read(block.lines.len() as u64, block.bytes.contiguous().map_or(0, <[u8]>::len) as u64);
            self.metrics.epoch_sent(epoch);
            dispatch.block(
                (epoch % workers) as usize,
                Arc::new(block),
                epoch.saturating_sub(HORIZON_PER_WORKER * workers),
            )?;
            dispatch.advance_all(epoch + 1)?;
            positions.next_epoch = epoch + 1;
            if let Some(files) = &mut positions.files {
                files.position = source.position();
            }
            if self.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            self.maybe_checkpoint(checkpointer, dispatch, positions)?;
        }
        if let Some(files) = &mut positions.files {
            files.position = source.position();
            files.done = true;
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        Ok(())
    }

    fn maybe_checkpoint(
        &self,
        checkpointer: &mut Option<Checkpointer>,
        dispatch: &Dispatch,
        positions: &mut Positions,
    ) -> anyhow::Result<()> {
        if let Some(checkpointer) = checkpointer {
            if checkpointer.last.elapsed() >= checkpointer.options.interval {
                self.checkpoint(checkpointer, dispatch, positions)?;
            }
        }
        Ok(())
    }

    /// Drains every worker to `positions.next_epoch` and writes their state with the views.
    fn checkpoint(&self, checkpointer: &mut Checkpointer, dispatch: &Dispatch, positions: &mut Positions) -> anyhow::Result<()> {
        self.checkpoint_cut(checkpointer, dispatch, positions, None).map(|_| ())
    }

    /// [`Self::checkpoint`], which in a checkpointing cluster is this process's part of the
    /// cut at `positions.next_epoch`, reporting `cut`; true when it is the cluster's last.
    pub(crate) fn checkpoint_cut(
        &self,
        checkpointer: &mut Checkpointer,
        dispatch: &Dispatch,
        positions: &mut Positions,
        cut: Option<CutReport>,
    ) -> anyhow::Result<bool> {
        let started = Instant::now();
        if cut.is_none() && checkpointer.written.as_ref() == Some(positions) {
            // Nothing was read or applied since (every change to the state is an epoch, and
            // moves the positions): the newest checkpoint on disk is this state. An idle
            // server rewrote the whole state every interval (~1.8 GB per 10 s at 1M groups).
            checkpointer.last = Instant::now();
            tracing::debug!(
                next_epoch = positions.next_epoch,
                "nothing new since the last checkpoint: not rewritten"
            );
            return Ok(false);
        }
        let snapshots = dispatch.snapshot(positions.next_epoch, cut)?;
        if snapshots.iter().all(|s| s.unchanged) && cut.is_some() {
            // No process sent anything since the previous cut: every process's state, and
            // its positions, are that cut's, already written (the first cut after a start
            // always is). Every process decides alike.
            self.metrics.record_checkpoint(started.elapsed().as_secs_f64(), checkpointer.bytes);
            tracing::debug!(next_epoch = positions.next_epoch, "idle cut: nothing to write");
            return Ok(self.last_cut(dispatch, positions.next_epoch));
        }
        // The outputs are durable up to the lengths the checkpoint records: a restart cuts
        // the files back to them and the replay writes the rest, and a topic was sent (and
        // acknowledged) everything the checkpoint covers.
        let dead_letters = match self.dead_letters.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            // Only a file the checkpoint records is synced and measured (a cluster's other
            // processes write none); a topic's flush checks its deliveries.
            Some(writer) if checkpointer.options.dead_letter_file.is_some() => writer.sync(),
            Some(writer) => writer.flush().map(|()| None),
            None => Ok(None),
        }
        .context("cannot write the dead letters before a checkpoint")?;
        // Every change the checkpoint covers is sent before it is written (the views hold
        // exactly the epochs before the cut now): a restart from it sends only the changes
        // after it.
        crate::changes::publish(&mut self.views.write().unwrap_or_else(|p| p.into_inner()), &self.changes);
        let change_feed = crate::changes::sync(&self.changes).context("cannot write the change feeds before a checkpoint")?;
        let length = |file: &Option<PathBuf>, synced: Option<u64>| {
            file.as_ref()
                .map(|path| synced.unwrap_or_else(|| std::fs::metadata(path).map_or(0, |m| m.len())))
        };
        positions.dead_letter_bytes = length(&checkpointer.options.dead_letter_file, dead_letters);
        positions.change_feed_bytes = length(&checkpointer.options.change_feed_file, change_feed);
        let mut workers = Vec::with_capacity(snapshots.len());
        let mut next_id = 1;
        for snapshot in snapshots {
            if snapshot.worker == 0 {
                next_id = snapshot.next_id;
            }
            workers.push(snapshot.projects?);
        }
        let views = self.views.read().unwrap_or_else(|p| p.into_inner());
        let body = CheckpointBodyRef {
            positions,
            next_id,
            views: &views,
            workers,
        };
        let shape = self
            .cluster_cuts
            .map_or(checkpoint::ClusterShape { processes: 1, process: 0 }, |cuts| cuts.shape);
        let (path, bytes) = checkpoint::write_part(&checkpointer.options.dir, shape, positions.next_epoch, &body)?;
        drop(views);
        checkpointer.bytes = bytes;
        checkpointer.last = Instant::now();
        checkpointer.written = Some(positions.clone());
        let seconds = started.elapsed().as_secs_f64();
        self.metrics.record_checkpoint(seconds, bytes);
        tracing::info!(path = %path.display(), bytes, seconds, next_epoch = positions.next_epoch, "checkpoint written");
        if let Some(kafka) = &positions.kafka {
            let read: i64 = kafka.offsets.values().sum();
            let counted = self
                .views
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .counter(dataflows::state::Counter::LinesRead);
            tracing::debug!(read, counted, offsets = ?kafka.offsets, "checkpoint positions");
        }
        Ok(self.last_cut(dispatch, positions.next_epoch))
    }

    /// Whether the cluster's `cut`, just completed, is its last (never for one process).
    fn last_cut(&self, dispatch: &Dispatch, cut: u64) -> bool {
        if self.cluster_cuts.is_none() {
            return false;
        }
        let last = dispatch.reports.lock().unwrap_or_else(|p| p.into_inner()).last(cut, self.processes);
        if last == Some(CutStatus::Stopping) {
            // Another process was stopped: this one stops with it, and says so (a backfill
            // must not dump a partial state as if it had finished).
            self.stop.store(true, Ordering::Relaxed);
        }
        last.is_some()
    }
}
