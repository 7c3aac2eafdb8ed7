//! Wiring: a reader thread cuts the input log into blocks and deals them round-robin to the
//! timely workers, which run the ingest dataflow and apply its output to the shared views.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, TryRecvError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context;
use connectors::decode::OccurrenceDecoder;
use connectors::jsonl::{expand_inputs, BlockOptions, LineSource};
use dataflows::graph::{build_ingest, DeadLetterSink};
use dataflows::model::block::InputBlock;
use dataflows::state::IngestConfig;
use dataflows::views::IssueViews;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::Input;
use timely::dataflow::InputHandle;

pub struct PipelineOptions {
    pub inputs: Vec<PathBuf>,
    pub workers: usize,
    pub follow: bool,
    pub block_lines: usize,
    pub decoder: OccurrenceDecoder,
    pub ingest: IngestConfig,
    pub dead_letters: DeadLetterSink,
    pub show_progress: bool,
}

/// Readiness: set once the reader has reached the end of what existed at start-up; the views
/// are ready when every block before that point is applied.
#[derive(Default)]
pub struct Startup {
    ready_after_blocks: Mutex<Option<u64>>,
}

impl Startup {
    pub fn is_ready(&self, views: &IssueViews) -> bool {
        match *self.ready_after_blocks.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(blocks) => views.finished || views.complete_through >= blocks,
            None => false,
        }
    }

    fn mark(&self, blocks: u64) {
        let mut guard = self.ready_after_blocks.lock().unwrap_or_else(|p| p.into_inner());
        guard.get_or_insert(blocks);
    }
}

type BlockReceiver = Receiver<Arc<InputBlock>>;

/// Blocks in flight per worker before a worker waits for the dataflow to catch up.
const IN_FLIGHT_PER_WORKER: u64 = 4;

/// Runs to the end of the input (forever with `follow`). Errors from reading stop the run.
pub fn run_pipeline(options: PipelineOptions, views: Arc<RwLock<IssueViews>>, startup: Arc<Startup>) -> anyhow::Result<()> {
    let files = expand_inputs(&options.inputs)?;
    let workers = options.workers.max(1);
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..workers {
        let (tx, rx) = sync_channel::<Arc<InputBlock>>(IN_FLIGHT_PER_WORKER as usize);
        senders.push(tx);
        receivers.push(Some(rx));
    }
    // Each worker takes its own receiver (workers are built from one shared closure).
    let receivers: Arc<Mutex<Vec<Option<BlockReceiver>>>> = Arc::new(Mutex::new(receivers));

    let progress = options.show_progress && std::io::stderr().is_terminal();
    let block_options = BlockOptions {
        max_lines: options.block_lines,
        follow: options.follow,
        ..BlockOptions::default()
    };
    let reader_startup = startup.clone();
    let reader = std::thread::Builder::new()
        .name("reader".into())
        .spawn(move || -> anyhow::Result<()> {
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
            let mut source = LineSource::new(files, block_options);
            let mut blocks = 0u64;
            loop {
                let block = source.next_block()?;
                if source.reached_end_once() {
                    reader_startup.mark(blocks + u64::from(block.is_some()));
                }
                let Some(block) = block else { break };
                if let Some(bar) = &bar {
                    bar.inc(block.lines.len() as u64);
                }
                let worker = (block.index % workers as u64) as usize;
                blocks = block.index + 1;
                if senders[worker].send(Arc::new(block)).is_err() {
                    anyhow::bail!("worker {worker} stopped");
                }
            }
            reader_startup.mark(blocks);
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            Ok(())
        })?;

    let decoder = options.decoder;
    let ingest = options.ingest;
    let sink = options.dead_letters;
    let worker_views = views.clone();
    let guards = timely::execute(timely::Config::process(workers), move |worker| {
        let index = worker.index();
        let peers = worker.peers() as u64;
        let receiver = receivers.lock().unwrap_or_else(|p| p.into_inner())[index]
            .take()
            .expect("one receiver per worker");
        let mut input: InputHandle<u64, CapacityContainerBuilder<Vec<Arc<InputBlock>>>> = InputHandle::new();
        let views = worker_views.clone();
        let (decoder, sink) = (decoder.clone(), sink.clone());
        let probe = worker.dataflow::<u64, _, _>(|scope| {
            let blocks = scope.input_from(&mut input);
            build_ingest(blocks, decoder, ingest, move |block| block % peers, views, sink)
        });
        input.advance_to(index as u64);
        let mut published = 0u64;
        let mut publish = |probe: &timely::dataflow::ProbeHandle<u64>| {
            if index != 0 {
                return;
            }
            let frontier = probe.with_frontier(|f| f.first().copied());
            let through = frontier.unwrap_or(u64::MAX);
            if through != published {
                published = through;
                let mut views = worker_views.write().unwrap_or_else(|p| p.into_inner());
                views.complete_through = through;
                views.finished = frontier.is_none();
            }
        };
        loop {
            match receiver.try_recv() {
                Ok(block) => {
                    let epoch = block.index;
                    // Bound the epochs in flight so memory stays bounded.
                    let horizon = epoch.saturating_sub(IN_FLIGHT_PER_WORKER * peers);
                    while probe.less_than(&horizon) {
                        worker.step();
                    }
                    input.send(block);
                    input.advance_to(epoch + peers);
                    worker.step();
                }
                Err(TryRecvError::Empty) => {
                    worker.step_or_park(Some(Duration::from_millis(1)));
                }
                Err(TryRecvError::Disconnected) => break,
            }
            publish(&probe);
        }
        drop(input);
        while !probe.done() {
            worker.step_or_park(Some(Duration::from_millis(1)));
            publish(&probe);
        }
        publish(&probe);
    })
    .map_err(|e| anyhow::anyhow!("cannot start workers: {e}"))?;
    let outcomes = guards.join();
    let read = reader.join().map_err(|_| anyhow::anyhow!("reader thread panicked"))?;
    read.context("reading input")?;
    for outcome in outcomes {
        outcome.map_err(|e| anyhow::anyhow!("worker failed: {e}"))?;
    }
    let mut views = views.write().unwrap_or_else(|p| p.into_inner());
    views.finished = true;
    Ok(())
}

/// The benchmark baseline: the same reader and decoder, no dataflow. Returns (lines, rejected).
pub fn parse_only(inputs: &[PathBuf], workers: usize, block_lines: usize) -> anyhow::Result<(u64, u64)> {
    let files = expand_inputs(inputs)?;
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (tx, rx) = sync_channel::<InputBlock>(IN_FLIGHT_PER_WORKER as usize);
        senders.push(tx);
        handles.push(std::thread::spawn(move || {
            let decoder = OccurrenceDecoder::default();
            let (mut lines, mut rejected) = (0u64, 0u64);
            for block in rx {
                for i in 0..block.lines.len() {
                    lines += 1;
                    if decoder.decode(block.line(i), block.seq(i), &mut |_, _| {}).is_err() {
                        rejected += 1;
                    }
                }
            }
            (lines, rejected)
        }));
    }
    let mut source = LineSource::new(
        files,
        BlockOptions {
            max_lines: block_lines,
            ..BlockOptions::default()
        },
    );
    while let Some(block) = source.next_block()? {
        let worker = (block.index % workers as u64) as usize;
        senders[worker].send(block).map_err(|_| anyhow::anyhow!("decoder thread stopped"))?;
    }
    drop(senders);
    let mut totals = (0, 0);
    for handle in handles {
        let (lines, rejected) = handle.join().map_err(|_| anyhow::anyhow!("decoder thread panicked"))?;
        totals.0 += lines;
        totals.1 += rejected;
    }
    Ok(totals)
}
