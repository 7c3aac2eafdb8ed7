//! The feeder: reads the inputs in order (files first, then Kafka), numbers the blocks, hands
//! them to the workers, and checkpoints between blocks.
//!
//! Epochs. A file block's epoch is its index. Kafka is read in rounds: in round `r` each
//! partition contributes its next chunk (up to an offset that is a multiple of the chunk
//! size), split into one sub-block per local worker, at epoch
//! `base + (r·P + p)·L + l` (P partitions, L workers per process). The interleaving thus
//! depends only on the log, not on timing, for every message that was in the topic when it
//! was read; only at the live edge does arrival decide where a chunk ends.
//!
//! Cluster checkpoints. Epochs are global, so the processes of a cluster cut at the same
//! epochs by a rule, without talking: the multiples of `C = rounds·P·L` (`--checkpoint-rounds`
//! rounds). Before a feeder sends a block at an epoch at or after the next multiple `M`, or
//! advances its workers beyond `M` (the idle skip-ahead may jump several multiples: it cuts at
//! each), it drains its workers through `M` and writes their state with its partitions'
//! offsets (and on process 0 the views and the id counter) as its part of cut `M`. The drain
//! completes only when every process has advanced to `M`, and no process advances beyond `M`
//! before its own snapshot, so epochs at or after `M` cannot apply anywhere before every
//! process has serialized: each part is the state at exactly `M`. A process that has finished
//! reading keeps cutting at every multiple, reporting so; a cut where every process has
//! finished, or where one is stopping (SIGTERM), is the last. A cut before which no process
//! sent a block since the previous one is not written (the state is that cut's).

use std::cell::RefCell;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use connectors::jsonl::{BlockOptions, LineSource};
use connectors::kafka::{ChunkBytes, ChunkEnd, KafkaSource};
use dataflows::graph::DeadLetterSink;
use dataflows::model::block::{BlockBytes, BlockKind, InputBlock, LineInfo};
use dataflows::views::IssueViews;

use crate::checkpoint::{self, CheckpointBodyRef, FilesPosition, Positions};
use crate::metrics::Metrics;
use crate::mutation_log::Sequencer;
use crate::pipeline::{CheckpointOptions, CutReport, CutStatus, Dispatch, KafkaInput, Startup, IN_FLIGHT_PER_WORKER};

/// Sub-blocks smaller than this are not worth a worker of their own.
const MIN_SUB_BLOCK: usize = 512;
/// How long one poll waits for a message before polling again (reads of the backlog never
/// cut a chunk on a timeout; see `PartitionProgress::live`).
const LIVE_WAIT: Duration = Duration::from_millis(20);
/// How long an idle feeder waits for an API mutation before checking its other duties.
const MUTATION_WAIT: Duration = Duration::from_millis(20);

pub struct Feeder {
    pub files: Vec<PathBuf>,
    pub kafka: Option<KafkaInput>,
    pub block_lines: usize,
    pub follow: bool,
    pub show_progress: bool,
    pub process: usize,
    pub processes: usize,
    pub checkpoints: Option<CheckpointOptions>,
    /// A checkpointing cluster: its shape and the rounds between cuts.
    pub cluster_cuts: Option<ClusterCuts>,
    pub views: Arc<RwLock<IssueViews>>,
    pub dead_letters: DeadLetterSink,
    pub metrics: Arc<Metrics>,
    pub startup: Arc<Startup>,
    pub stop: Arc<AtomicBool>,
    /// API mutations (and their log); None in clusters.
    pub mutations: Option<RefCell<Sequencer>>,
}

#[derive(Clone, Copy, Debug)]
pub struct ClusterCuts {
    pub shape: checkpoint::ClusterShape,
    pub rounds: u64,
}

/// The cluster's cut schedule as this feeder follows it.
struct Cuts {
    /// Epochs between cuts (a multiple of the round stride).
    every: u64,
    /// The next cut this process has not written.
    next: u64,
    /// This process sent blocks since the previous cut.
    sent: bool,
}

struct Checkpointer {
    options: CheckpointOptions,
    /// The size of the last checkpoint written.
    bytes: u64,
    sequence: u64,
    last: Instant,
}

impl Feeder {
    pub fn run(self, dispatch: Dispatch, mut positions: Positions) -> anyhow::Result<()> {
        let mut checkpointer = match &self.checkpoints {
            Some(options) => Some(Checkpointer {
                options: options.clone(),
                bytes: 0,
                sequence: checkpoint::next_sequence(&options.dir)?,
                last: Instant::now(),
            }),
            None => None,
        };
        let result = self.feed(&dispatch, &mut positions, &mut checkpointer);
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
        let inputs: Vec<String> = self.files.iter().map(|f| f.display().to_string()).collect();
        if !self.files.is_empty() {
            let mut files = positions.files.take().unwrap_or_default();
            if files.inputs != inputs && files != FilesPosition::default() {
                anyhow::bail!(
                    "the checkpoint was taken reading {:?}, not {:?}; use another --state-dir or the same inputs",
                    files.inputs,
                    inputs
                );
            }
            files.inputs = inputs;
            positions.files = Some(files);
            if !positions.files.as_ref().is_some_and(|f| f.done) {
                self.feed_files(dispatch, positions, checkpointer)?;
            }
        }
        if self.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        if let Some(kafka) = &self.kafka {
            self.feed_kafka(kafka, dispatch, positions, checkpointer)?;
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
            if self.feed_mutations(dispatch, positions, positions.next_epoch, true, wait)? {
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
    /// there were none (and `epoch` stays free). `end`: the inputs are over. `wait`: how long
    /// to wait for a request when none is queued.
    fn feed_mutations(
        &self,
        dispatch: &Dispatch,
        positions: &mut Positions,
        epoch: u64,
        end: bool,
        wait: Option<Duration>,
    ) -> anyhow::Result<bool> {
        let Some(sequencer) = &self.mutations else { return Ok(false) };
        let batch = sequencer.borrow_mut().due(positions, end, wait)?;
        if batch.is_empty() {
            return Ok(false);
        }
        let workers = dispatch.local_workers() as u64;
        let block = batch.block(epoch)?;
        self.metrics.epoch_sent(epoch);
        dispatch.block(
            (epoch % workers) as usize,
            Arc::new(block),
            epoch.saturating_sub(IN_FLIGHT_PER_WORKER * workers),
        )?;
        positions.mutations_applied = batch.acknowledge(epoch);
        Ok(true)
    }

    fn feed_files(&self, dispatch: &Dispatch, positions: &mut Positions, checkpointer: &mut Option<Checkpointer>) -> anyhow::Result<()> {
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
            ..BlockOptions::default()
        };
        let mut source = LineSource::new(self.files.clone(), options);
        let files = positions.files.clone().unwrap_or_default();
        source.resume_at(files.position, positions.next_epoch);
        loop {
            let epoch = source.next_block_index();
            if self.feed_mutations(dispatch, positions, epoch, false, None)? {
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
            if block.lines.is_empty() {
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
                .record_read(block.lines.len() as u64, block.bytes.as_slice().len() as u64);
            self.metrics.epoch_sent(epoch);
            dispatch.block(
                (epoch % workers) as usize,
                Arc::new(block),
                epoch.saturating_sub(IN_FLIGHT_PER_WORKER * workers),
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

    fn feed_kafka(
        &self,
        kafka: &KafkaInput,
        dispatch: &Dispatch,
        positions: &mut Positions,
        checkpointer: &mut Option<Checkpointer>,
    ) -> anyhow::Result<()> {
        let partition_count = KafkaSource::partition_count(&kafka.options)?;
        let workers = dispatch.local_workers() as u64;
        let stride = partition_count as u64 * workers;
        let mut state = positions.kafka.take().unwrap_or_default();
        if state.topic != kafka.options.topic && !state.topic.is_empty() {
            anyhow::bail!(
                "the checkpoint was taken reading topic {}, not {}",
                state.topic,
                kafka.options.topic
            );
        }
        state.topic = kafka.options.topic.clone();
        state.partition_count = partition_count;
        let local: Vec<i32> = (0..partition_count as i32)
            .filter(|p| (*p as usize) % self.processes == self.process)
            .collect();
        let mut source = KafkaSource::open(&kafka.options, &local, kafka.start, kafka.end, &state.offsets)
            .with_context(|| format!("cannot read topic {}", kafka.options.topic))?;
        // Rounds start at a multiple of the stride, so an epoch names its partition and worker.
        let mut base = positions.next_epoch.div_ceil(stride) * stride;
        positions.next_epoch = base;
        positions.kafka = Some(state);
        dispatch.advance_all(base)?;
        let bar = self.kafka_progress(&source);
        let mut cuts = self.cluster_cuts.filter(|_| checkpointer.is_some()).map(|c| {
            let every = c.rounds * stride;
            // After a restore at a cut, the next one; all processes start at the same base.
            Cuts {
                every,
                next: (base / every + 1) * every,
                // The first cut is always written: it records the start positions (`--from
                // latest` resolved now), even if nothing arrives before it.
                sent: true,
            }
        });
        // Set when this process wrote the cluster's last cut.
        let mut last_cut = false;
        let mut round: u64 = 0;
        let mut caught_up: Vec<bool> = vec![false; local.len()];
        let mut last_refresh: Option<Instant> = None;
        loop {
            // Mutations take a round of their own (its first epoch, on worker 0).
            if self.feed_mutations(dispatch, positions, base + round * stride, false, None)? {
                base += stride;
                positions.next_epoch = base + round * stride;
                dispatch.advance_all(positions.next_epoch)?;
            }
            let round_start = base + round * stride;
            if let Some(cuts) = &mut cuts {
                // No block at or after a cut before this process's part of it is written.
                if self.cut_through(round_start, cuts, false, checkpointer, dispatch, positions, &source)? {
                    last_cut = true;
                    break;
                }
                positions.next_epoch = round_start;
            }
            if let Some(sequencer) = &self.mutations {
                source.stop_at(sequencer.borrow().kafka_stops(positions).as_ref());
            }
            let mut read_any = false;
            let mut all_finished = true;
            for (index, &partition) in local.iter().enumerate() {
                let progress = *source.progress().nth(index).expect("an assigned partition");
                if progress.finished {
                    continue;
                }
                let chunk = source.read_chunk(index, kafka.chunk_messages, LIVE_WAIT)?;
                all_finished &= chunk.end == ChunkEnd::Finished;
                if matches!(chunk.end, ChunkEnd::CaughtUp | ChunkEnd::Finished) {
                    caught_up[index] = true;
                }
                if chunk.lines.is_empty() {
                    continue;
                }
                read_any = true;
                self.metrics.record_read(chunk.lines.len() as u64, chunk.bytes.len() as u64);
                if let Some(bar) = &bar {
                    bar.inc(chunk.lines.len() as u64);
                }
                let first_epoch = round_start + partition as u64 * workers;
                let horizon = round_start.saturating_sub(kafka.in_flight_rounds * stride);
                for (worker, block) in split_chunk(chunk.bytes, chunk.lines, workers as usize).into_iter().enumerate() {
                    let block = InputBlock {
                        index: first_epoch + worker as u64,
                        source: kafka.options.topic.as_str().into(),
                        partition: Some(partition),
                        bytes: block.0,
                        lines: block.1,
                        kind: BlockKind::Input,
                    };
                    self.metrics.epoch_sent(block.index);
                    dispatch.block(worker, Arc::new(block), horizon)?;
                    if let Some(cuts) = &mut cuts {
                        cuts.sent = true;
                    }
                }
            }
            if last_refresh.is_none_or(|at| at.elapsed() > Duration::from_secs(1)) {
                last_refresh = Some(Instant::now());
                source.refresh_watermarks();
                source.serve_events();
                self.metrics.record_lag(source.topic(), source.progress());
                if let Some(bar) = &bar {
                    let lag: i64 = source.progress().map(|p| (p.high_watermark - p.next_offset).max(0)).sum();
                    bar.set_message(lag.to_string());
                }
            }
            if let Some(kafka_state) = &mut positions.kafka {
                for progress in source.progress() {
                    kafka_state.offsets.insert(progress.partition, progress.next_offset);
                }
            }
            if caught_up.iter().all(|c| *c) {
                self.startup.mark(round_start + stride);
            }
            if all_finished || local.is_empty() {
                positions.next_epoch = round_start + stride;
                break;
            }
            round += 1;
            if !read_any {
                // Nothing queued anywhere: let the fetchers bring more.
                std::thread::sleep(Duration::from_millis(1));
                // Idle at the live edge: skip ahead of whatever other processes may be
                // sending, so none of them waits on this one.
                let frontier = dispatch.frontier.load(Ordering::Relaxed);
                if frontier != u64::MAX && frontier >= base {
                    round = round.max((frontier - base) / stride + kafka.in_flight_rounds);
                }
            }
            positions.next_epoch = base + round * stride;
            if let Some(cuts) = &mut cuts {
                // Advancing beyond a cut (the skip-ahead may cross several) also needs it.
                if self.cut_through(positions.next_epoch - 1, cuts, false, checkpointer, dispatch, positions, &source)? {
                    last_cut = true;
                    break;
                }
                positions.next_epoch = base + round * stride;
                // A stopping process reads on to the next cut, where the cluster stops.
                dispatch.advance_all(positions.next_epoch)?;
                continue;
            }
            dispatch.advance_all(positions.next_epoch)?;
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            if let Some(cp) = checkpointer.as_mut() {
                if cp.last.elapsed() >= cp.options.interval {
                    self.checkpoint(cp, dispatch, positions)?;
                    if let Some(kafka_state) = &positions.kafka {
                        source.commit(&kafka_state.offsets);
                    }
                }
            }
        }
        if let (Some(cuts), false) = (&mut cuts, last_cut) {
            // Finished reading: keep taking part in the cluster's cuts (the others still
            // read) until the last one.
            let end = positions.next_epoch;
            while !self.cut_through(cuts.next, cuts, true, checkpointer, dispatch, positions, &source)? {}
            positions.next_epoch = positions.next_epoch.max(end);
        }
        dispatch.advance_all(positions.next_epoch)?;
        if let (Some(_), Some(kafka_state)) = (checkpointer.as_ref(), &positions.kafka) {
            // The final checkpoint follows; the group's offsets are for lag dashboards only.
            source.commit(&kafka_state.offsets);
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        Ok(())
    }

    fn kafka_progress(&self, source: &KafkaSource) -> Option<indicatif::ProgressBar> {
        if !(self.show_progress && std::io::stderr().is_terminal()) {
            return None;
        }
        let total: i64 = source.progress().map(|p| p.end.unwrap_or(p.high_watermark) - p.next_offset).sum();
        let bar = indicatif::ProgressBar::new(total.max(0) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {human_pos}/{human_len} messages ({per_sec}, lag {msg}, ETA {eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(bar)
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
    fn checkpoint_cut(
        &self,
        checkpointer: &mut Checkpointer,
        dispatch: &Dispatch,
        positions: &mut Positions,
        cut: Option<CutReport>,
    ) -> anyhow::Result<bool> {
        let started = Instant::now();
        let snapshots = dispatch.snapshot(positions.next_epoch, cut)?;
        if snapshots.iter().all(|s| s.unchanged) && cut.is_some() {
            // No process sent anything since the previous cut: every process's state, and
            // its positions, are that cut's, already written (the first cut after a start
            // always is). Every process decides alike.
            self.metrics.record_checkpoint(started.elapsed().as_secs_f64(), checkpointer.bytes);
            tracing::debug!(next_epoch = positions.next_epoch, "idle cut: nothing to write");
            return Ok(self.last_cut(dispatch, positions.next_epoch));
        }
        if let Some(writer) = self.dead_letters.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            writer.flush().context("cannot flush dead letters before a checkpoint")?;
        }
        positions.dead_letter_bytes = checkpointer
            .options
            .dead_letter_file
            .as_ref()
            .map(|path| std::fs::metadata(path).map_or(0, |m| m.len()));
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
        let (path, bytes) = match &self.cluster_cuts {
            Some(cuts) => checkpoint::write_cluster(&checkpointer.options.dir, cuts.shape, positions.next_epoch, &body)?,
            None => checkpoint::write(&checkpointer.options.dir, checkpointer.sequence, &body)?,
        };
        drop(views);
        checkpointer.sequence += 1;
        checkpointer.bytes = bytes;
        checkpointer.last = Instant::now();
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

    /// Writes this process's part of every cut at or before `limit` not written yet, then
    /// commits the consumer group's offsets; true when one was the cluster's last cut.
    #[allow(clippy::too_many_arguments)]
    fn cut_through(
        &self,
        limit: u64,
        cuts: &mut Cuts,
        finished: bool,
        checkpointer: &mut Option<Checkpointer>,
        dispatch: &Dispatch,
        positions: &mut Positions,
        source: &KafkaSource,
    ) -> anyhow::Result<bool> {
        let Some(checkpointer) = checkpointer.as_mut() else {
            return Ok(false);
        };
        while cuts.next <= limit {
            let status = if self.stop.load(Ordering::Relaxed) {
                Some(CutStatus::Stopping)
            } else if finished {
                Some(CutStatus::Finished)
            } else {
                None
            };
            positions.next_epoch = cuts.next;
            let report = CutReport { status, sent: cuts.sent };
            // Further cuts crossed at once have nothing sent before them since this one.
            cuts.sent = false;
            let last = self.checkpoint_cut(checkpointer, dispatch, positions, Some(report))?;
            if let Some(kafka_state) = &positions.kafka {
                // After the checkpoint: the group's offsets are for lag dashboards only.
                source.commit(&kafka_state.offsets);
            }
            cuts.next += cuts.every;
            if last {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Splits a chunk into up to `parts` blocks of consecutive messages, sharing its buffer (which
/// goes back to the source once the last block is dropped).
fn split_chunk(bytes: ChunkBytes, lines: Vec<LineInfo>, parts: usize) -> Vec<(BlockBytes, Vec<LineInfo>)> {
    let parts = parts.min(lines.len().div_ceil(MIN_SUB_BLOCK)).max(1);
    let end = bytes.len();
    let shared: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(bytes);
    if parts == 1 {
        return vec![(
            BlockBytes::Shared {
                data: shared,
                start: 0,
                end,
            },
            lines,
        )];
    }
    let per_part = lines.len().div_ceil(parts);
    lines
        .chunks(per_part)
        .map(|part| {
            let start = part[0].start;
            let end = part[part.len() - 1].start + part[part.len() - 1].len;
            let relative = part
                .iter()
                .map(|l| LineInfo {
                    start: l.start - start,
                    ..*l
                })
                .collect();
            (
                BlockBytes::Shared {
                    data: shared.clone(),
                    start,
                    end,
                },
                relative,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_split_into_consecutive_sub_blocks() {
        let mut bytes = Vec::new();
        let mut lines = Vec::new();
        for i in 0..2000u64 {
            let text = format!("m{i}");
            lines.push(LineInfo {
                start: bytes.len(),
                len: text.len(),
                line_number: i,
                byte_offset: 0,
            });
            bytes.extend_from_slice(text.as_bytes());
        }
        let parts = split_chunk(bytes.into(), lines, 3);
        assert_eq!(parts.len(), 3);
        let mut seen = Vec::new();
        for (bytes, lines) in &parts {
            for line in lines {
                seen.push(String::from_utf8(bytes.as_slice()[line.start..line.start + line.len].to_vec()).unwrap());
            }
        }
        assert_eq!(seen, (0..2000).map(|i| format!("m{i}")).collect::<Vec<_>>());
        // Small chunks stay whole.
        let small = split_chunk(
            b"ab".to_vec().into(),
            vec![LineInfo {
                start: 0,
                len: 2,
                line_number: 0,
                byte_offset: 0,
            }],
            4,
        );
        assert_eq!(small.len(), 1);
    }
}
