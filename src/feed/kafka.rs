//! Reading Kafka in rounds, and the cluster's common checkpoints.
//!
//! Cluster checkpoints. Epochs are global, and a cut is an epoch `M` (a round start) at which
//! every process drains its workers through `M` and writes their state with its partitions'
//! offsets (and on process 0 the views and the id counter) as its part of cut `M`. The drain
//! completes only when every process has advanced to `M`, and no process advances beyond `M`
//! before its own snapshot, so epochs at or after `M` cannot apply anywhere before every
//! process has serialized: each part is the state at exactly `M`.
//!
//! When to cut is decided by one clock: process 0's feeder announces a cut every
//! `--checkpoint-interval` seconds (a stopping process, or one that has finished reading,
//! announces one for itself). An announcement goes through a small broadcast input of the
//! dataflow (`Feed::Announce`), sent at the announcer's input time `T` for the cut
//! `M >= T + K` (`K`, the lookahead, a few rounds). That input advances with the blocks'
//! input, so its frontier `F` says that every announcement sent before `F` is known, and an
//! unknown one names a cut at or after `F + K`. A feeder therefore never sends a block at or
//! advances beyond `F + K` (it waits for the others; the one furthest behind never waits),
//! and never beyond a known cut it has not written. No process relies on its own clock for
//! where a cut is. A process that has finished reading follows the others' cuts, reporting
//! so; a cut where every process has finished, or where one is stopping (SIGTERM), is the
//! last. A cut before which no process sent a block since the previous one is not written
//! (the state is that cut's).

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use connectors::kafka::{ChunkEnd, KafkaSource};
use dataflows::model::block::{BlockBytes, BlockKind, InputBlock, LineBuffers, LineInfo};

use super::{Checkpointer, Feeder, LIVE_WAIT};
use crate::checkpoint::Positions;
use crate::pipeline::{CutReport, CutStatus, Dispatch, KafkaInput};

/// Sub-blocks smaller than this are not worth a worker of their own.
const MIN_SUB_BLOCK: usize = 512;

/// The cluster's cuts as this feeder follows them.
pub(super) struct Cuts {
    /// Epochs per round: cuts are round starts, the multiples of it.
    stride: u64,
    /// The least distance between an announcement's input time and its cut.
    lookahead: u64,
    /// The last cut this process wrote (or the start).
    written: u64,
    /// This process sent blocks since the previous cut.
    sent: bool,
    /// Process 0: seconds between announced cuts, and when the last was announced.
    interval: Duration,
    announced_at: Instant,
    /// This process announced a cut for its stop, or for the end of its input.
    announced_stop: bool,
    announced_end: bool,
}

impl Cuts {
    /// The first round start at least a lookahead after `at` (an input time): where an
    /// announcement made at `at` may cut.
    pub(super) fn align_ahead(&self, at: u64) -> u64 {
        (at + self.lookahead).div_ceil(self.stride) * self.stride
    }
}

impl Feeder {
    pub(super) fn feed_kafka(
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
        let mut cuts = match (&self.cluster_cuts, checkpointer.as_ref()) {
            (Some(_), Some(checkpointer)) => Some(Cuts {
                stride,
                // Beyond the rounds a block may run ahead of the dataflow: the wait for
                // announcements then rarely adds to the wait for the dataflow.
                lookahead: (kafka.in_flight_rounds + 2) * stride,
                written: base,
                // The first cut is always written: it records the start positions (`--from
                // latest` resolved now), even if nothing arrives before it.
                sent: true,
                interval: checkpointer.options.interval,
                announced_at: Instant::now(),
                announced_stop: false,
                announced_end: false,
            }),
            _ => None,
        };
        // A checkpointing cluster takes API mutations at mutation points (see `points`).
        let mut points = match &cuts {
            Some(_) => Some(self.start_points(dispatch, base)?),
            None => None,
        };
        // Set when this process wrote the cluster's last cut.
        let mut last_cut = false;
        let mut round: u64 = 0;
        let mut caught_up: Vec<bool> = vec![false; local.len()];
        let mut last_refresh: Option<Instant> = None;
        let mut idle_pause = IDLE_PAUSE_FIRST;
        loop {
            // Mutations take a round of their own (its first epoch, on worker 0).
            if points.is_none() && self.feed_mutations(dispatch, positions, &source.ended(), base + round * stride, false, None)? {
                base += stride;
                positions.next_epoch = base + round * stride;
                dispatch.advance_all(positions.next_epoch)?;
            }
            let round_start = base + round * stride;
            if let Some(cuts) = &mut cuts {
                self.announce_due(cuts, dispatch, round_start, false)?;
                self.wait_for_announcements(cuts, dispatch, round_start, round_start + stride)?;
                // No block at or after a cut before this process's part of it is written.
                if self.cut_through(round_start, cuts, false, checkpointer, dispatch, positions, &source)? {
                    last_cut = true;
                    break;
                }
                positions.next_epoch = round_start;
                if let Some(points) = &mut points {
                    self.announce_point(points, cuts, dispatch, round_start)?;
                    if dispatch.next_point(points.done) == Some(round_start) {
                        cuts.sent |= self.handle_point(points, dispatch, positions, &source, round_start)?;
                        // The point's round carries the mutations only.
                        base += stride;
                        positions.next_epoch = base + round * stride;
                        dispatch.advance_all(positions.next_epoch)?;
                        continue;
                    }
                }
            }
            if let Some(points) = &points {
                // Partitions pause where the next logged mutation was applied.
                source.stop_at(points.plan.front());
            } else if let Some(sequencer) = &self.mutations {
                source.stop_at(sequencer.borrow().kafka_stops(positions, &source.ended()).as_ref());
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
                self.metrics.record_read(chunk.lines.len() as u64, chunk.bytes);
                if let Some(bar) = &bar {
                    bar.inc(chunk.lines.len() as u64);
                }
                let first_epoch = round_start + partition as u64 * workers;
                let horizon = round_start.saturating_sub(kafka.in_flight_rounds * stride);
                for (worker, block) in split_chunk(Arc::new(chunk.messages), chunk.lines, workers as usize)
                    .into_iter()
                    .enumerate()
                {
                    let block = InputBlock {
                        index: first_epoch + worker as u64,
                        source: kafka.options.topic.as_str().into(),
                        partition: Some(partition),
                        bytes: block.0,
                        lines: block.1,
                        kind: BlockKind::Input,
                        unreadable: None,
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
                self.metrics.record_log_rewinds(source.rewinds);
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
            // An idle single process stays in its round: the epochs it did not use are free
            // for the next messages, and its positions (and so its checkpoint) stay as they
            // are (it has no cluster cuts or mutation points to reach; it takes mutations
            // between rounds). A cluster's idle process moves on, as the others wait on its
            // frontier.
            let next_round = read_any || self.processes > 1;
            if caught_up.iter().all(|c| *c) {
                // Ready once what was sent is applied: everything before the next round start.
                self.startup.mark(if next_round { round_start + stride } else { round_start });
            }
            if all_finished || local.is_empty() {
                positions.next_epoch = round_start + stride;
                break;
            }
            if next_round {
                round += 1;
            }
            if read_any {
                idle_pause = IDLE_PAUSE_FIRST;
            } else {
                // Nothing queued anywhere: let the fetchers bring more.
                std::thread::sleep(idle_pause);
                idle_pause = next_idle_pause(idle_pause, self.processes);
                // Idle at the live edge: skip ahead of whatever other processes may be
                // sending, so none of them waits on this one.
                let frontier = dispatch.frontier.load(Ordering::Relaxed);
                if next_round && frontier != u64::MAX && frontier >= base {
                    round = round.max((frontier - base) / stride + kafka.in_flight_rounds);
                }
            }
            if let Some(cuts) = &cuts {
                // The skip-ahead stays within what every announcement is known for (the
                // next round always is: waited for above).
                let known = self.announcements_known(cuts, dispatch) / stride * stride;
                if base + round * stride > known {
                    round = round.min((known.max(round_start + stride) - base) / stride);
                }
            }
            if let Some(point) = points.as_ref().and_then(|p| dispatch.next_point(p.done)) {
                // Nor does it pass a mutation point (after this round, the next is one).
                if base + round * stride > point {
                    round = (point.max(round_start + stride) - base) / stride;
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
            loop {
                self.announce_due(cuts, dispatch, positions.next_epoch, true)?;
                let known = self.announcements_known(cuts, dispatch);
                if let Some(points) = &mut points {
                    self.announce_point(points, cuts, dispatch, positions.next_epoch)?;
                    if let Some(point) = dispatch.next_point(points.done).filter(|point| *point < known) {
                        // A cut at the point comes first, as in the rounds.
                        if self.cut_through(point, cuts, true, checkpointer, dispatch, positions, &source)? {
                            break;
                        }
                        if point > positions.next_epoch {
                            positions.next_epoch = point;
                            dispatch.advance_all(point)?;
                        }
                        cuts.sent |= self.handle_point(points, dispatch, positions, &source, point)?;
                        continue;
                    }
                }
                if self.cut_through(known - 1, cuts, true, checkpointer, dispatch, positions, &source)? {
                    break;
                }
                // No cut is left before `known`: advancing there lets the others read on.
                if known > positions.next_epoch {
                    positions.next_epoch = known;
                    dispatch.advance_all(known)?;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
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

    /// Announces a cut when one is due: on process 0 every interval (unless one is pending),
    /// and once on any process that is stopping or (`finished`) has read all its input.
    /// `at`: this process's input time (its workers' inputs are not beyond it).
    fn announce_due(&self, cuts: &mut Cuts, dispatch: &Dispatch, at: u64, finished: bool) -> anyhow::Result<()> {
        let pending = dispatch.next_announced(cuts.written).is_some();
        let periodic = self.process == 0 && !pending && cuts.announced_at.elapsed() >= cuts.interval;
        let stop = self.stop.load(Ordering::Relaxed) && !cuts.announced_stop;
        let end = finished && !cuts.announced_end;
        if periodic || stop || end {
            let cut = cuts.align_ahead(at);
            dispatch.announce(cut, false)?;
            cuts.announced_at = Instant::now();
            cuts.announced_stop |= stop;
            cuts.announced_end |= end;
            tracing::debug!(cut, periodic, stop, end, "announced a cluster cut");
        }
        Ok(())
    }

    /// Every cut before this epoch has been announced to this process.
    fn announcements_known(&self, cuts: &Cuts, dispatch: &Dispatch) -> u64 {
        dispatch.announced_through.load(Ordering::Relaxed).saturating_add(cuts.lookahead)
    }

    /// Waits until every cut before `epoch` is known here (the processes behind catch up).
    /// `at`: where this process's workers stand, re-sent now and then to notice a failed one.
    fn wait_for_announcements(&self, cuts: &Cuts, dispatch: &Dispatch, at: u64, epoch: u64) -> anyhow::Result<()> {
        let mut waits = 0u32;
        while self.announcements_known(cuts, dispatch) < epoch {
            std::thread::sleep(Duration::from_millis(1));
            waits += 1;
            if waits.is_multiple_of(100) {
                dispatch.advance_all(at)?;
            }
        }
        Ok(())
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
        while let Some(next) = dispatch.next_announced(cuts.written).filter(|cut| *cut <= limit) {
            let status = if self.stop.load(Ordering::Relaxed) {
                Some(CutStatus::Stopping)
            } else if finished {
                Some(CutStatus::Finished)
            } else {
                None
            };
            positions.next_epoch = next;
            let report = CutReport { status, sent: cuts.sent };
            // Further cuts crossed at once have nothing sent before them since this one.
            cuts.sent = false;
            let last = self.checkpoint_cut(checkpointer, dispatch, positions, Some(report))?;
            if let Some(kafka_state) = &positions.kafka {
                // After the checkpoint: the group's offsets are for lag dashboards only.
                source.commit(&kafka_state.offsets);
            }
            cuts.written = next;
            if last {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The feeder's first pause when no partition had anything to read.
const IDLE_PAUSE_FIRST: Duration = Duration::from_millis(1);
/// Its longest, while nothing comes: a message (or API mutation) arriving then waits at most
/// this long to be read. At 1 ms throughout, an idle `run --kafka` feeder polled its
/// partitions 1,000 times a second (~2.9 % of a core, `KAFKA=1 bench/idle-cpu.sh`).
const IDLE_PAUSE_MAX: Duration = Duration::from_millis(5);

/// The pause after an idle one of `pause`: doubling up to [`IDLE_PAUSE_MAX`] for a single
/// process. A cluster's idle process stays at 1 ms: the others wait on its rounds.
fn next_idle_pause(pause: Duration, processes: usize) -> Duration {
    match processes {
        0 | 1 => (pause * 2).min(IDLE_PAUSE_MAX),
        _ => IDLE_PAUSE_FIRST,
    }
}

/// Splits a chunk into up to `parts` blocks of consecutive messages, sharing its messages
/// (released once the last block is dropped).
fn split_chunk(messages: Arc<dyn LineBuffers>, lines: Vec<LineInfo>, parts: usize) -> Vec<(BlockBytes, Vec<LineInfo>)> {
    let parts = parts.min(lines.len().div_ceil(MIN_SUB_BLOCK)).max(1);
    if parts == 1 {
        return vec![(BlockBytes::Separate(messages), lines)];
    }
    let per_part = lines.len().div_ceil(parts);
    lines
        .chunks(per_part)
        .map(|part| (BlockBytes::Separate(messages.clone()), part.to_vec()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Messages(Vec<Vec<u8>>);

    impl LineBuffers for Messages {
        fn line(&self, index: usize) -> &[u8] {
            &self.0[index]
        }
    }

    #[test]
    fn idle_pauses_lengthen_to_the_most_for_one_process_only() {
        let ms = Duration::from_millis;
        let mut pauses = vec![IDLE_PAUSE_FIRST];
        for _ in 0..4 {
            pauses.push(next_idle_pause(*pauses.last().expect("one"), 1));
        }
        assert_eq!(pauses, [ms(1), ms(2), ms(4), ms(5), ms(5)]);
        assert_eq!(next_idle_pause(ms(4), 2), ms(1), "a cluster's process stays at 1 ms");
    }

    #[test]
    fn chunks_split_into_consecutive_sub_blocks() {
        let mut messages = Vec::new();
        let mut lines = Vec::new();
        for i in 0..2000u64 {
            let text = format!("m{i}");
            lines.push(LineInfo {
                start: messages.len(),
                len: text.len(),
                line_number: i,
                byte_offset: 0,
            });
            messages.push(text.into_bytes());
        }
        let parts = split_chunk(Arc::new(Messages(messages)), lines, 3);
        assert_eq!(parts.len(), 3);
        let mut seen = Vec::new();
        let mut numbers = Vec::new();
        for (bytes, lines) in parts {
            let block = InputBlock {
                bytes,
                lines,
                ..InputBlock::default()
            };
            for i in 0..block.lines.len() {
                seen.push(String::from_utf8(block.line(i).to_vec()).unwrap());
                numbers.push(block.lines[i].line_number);
            }
        }
        assert_eq!(seen, (0..2000).map(|i| format!("m{i}")).collect::<Vec<_>>());
        assert_eq!(numbers, (0..2000).collect::<Vec<u64>>());
        // Small chunks stay whole.
        let small = split_chunk(
            Arc::new(Messages(vec![b"ab".to_vec()])),
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
