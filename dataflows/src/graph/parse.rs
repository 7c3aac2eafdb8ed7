//! Decoding blocks of lines into records, on the worker that read them.

use std::sync::Arc;

use rustc_hash::FxHashSet as HashSet;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::Stream;

use super::epoch_of;
use super::routes::Routes;

use crate::model::block::{BlockKind, DeadLetter, InputBlock};
use crate::model::mutation::MutationLine;
use crate::model::{Record, Seq, Symbol, SymbolDefinition};
use crate::state::Counter;

/// Turns one line into a record. Implemented by the connectors for each wire format.
pub trait LineDecoder: 'static {
    fn decode(&self, line: &[u8], seq: Seq, define: &mut dyn FnMut(Symbol, &str)) -> Result<Record, String>;

    /// Called after each batch of blocks, before its records can complete an epoch: a
    /// decoder with side effects (the event store) commits them here, so a checkpoint never
    /// covers an event that is not stored.
    fn end_block(&self) {}
}

pub struct Parsed<'scope> {
    pub records: Stream<'scope, u64, Vec<Record>>,
    pub dead_letters: Stream<'scope, u64, Vec<DeadLetter>>,
    pub symbols: Stream<'scope, u64, Vec<(SymbolDefinition, u64, isize)>>,
    pub counters: Stream<'scope, u64, Vec<(Counter, u64, isize)>>,
    /// The blocks again, kept by the dead-letter stage to recover rejected lines' bytes.
    pub blocks: Stream<'scope, u64, Vec<Arc<InputBlock>>>,
}

/// Records per container sent to the ingest operator. Each container holds records for one
/// worker only (see [`ByContainer`]).
const RECORDS_PER_CONTAINER: usize = 512;

/// Containers the ingest operators have emptied, for the parse operators to fill again: a
/// container (90 KiB) is allocated on the worker that decodes and emptied on the one that
/// ingests, and freed there the allocator often could not reuse it before the decoder asked
/// for fresh pages, which the kernel zeroes.
static EMPTIED: std::sync::Mutex<Vec<Vec<Record>>> = std::sync::Mutex::new(Vec::new());
/// Emptied containers kept at most (~23 MiB): with 4 epochs in flight per worker (the horizon
/// before session 14) the pipeline held ~200 containers of 512 records at the peak. With room for
/// two blocks only (64), a 1M-line backfill allocated ~650 containers (~57 MiB) instead of
/// ~220, and dropped ~590 emptied ones, freed on another thread than the one that allocated
/// them. The pool only ever holds containers that were in flight at once.
const EMPTIED_MAX: usize = 256;

/// Drops `container`'s records and keeps it for a parse operator (see [`EMPTIED`]).
pub(super) fn recycle(mut container: Vec<Record>) {
    if container.capacity() != RECORDS_PER_CONTAINER {
        return;
    }
    container.clear();
    let mut emptied = EMPTIED.lock().unwrap_or_else(|p| p.into_inner());
    if emptied.len() < EMPTIED_MAX {
        emptied.push(container);
    }
}

fn empty_container() -> Vec<Record> {
    let kept = EMPTIED.lock().unwrap_or_else(|p| p.into_inner()).pop();
    kept.unwrap_or_else(|| Vec::with_capacity(RECORDS_PER_CONTAINER))
}

pub fn parse<'scope, D: LineDecoder>(blocks: Stream<'scope, u64, Vec<Arc<InputBlock>>>, decoder: D, routes: Routes) -> Parsed<'scope> {
    let peers = blocks.scope().peers();
    let mut builder = OperatorBuilder::new("Parse".to_owned(), blocks.scope());
    let mut input = builder.new_input(blocks, Pipeline);
    let (records_out, records) = builder.new_output::<Vec<Record>>();
    let (dead_out, dead_letters) = builder.new_output::<Vec<DeadLetter>>();
    let (symbols_out, symbols) = builder.new_output::<Vec<(SymbolDefinition, u64, isize)>>();
    let (counters_out, counters) = builder.new_output::<Vec<(Counter, u64, isize)>>();
    let (blocks_out, kept_blocks) = builder.new_output::<Vec<Arc<InputBlock>>>();
    let mut outputs = (records_out, dead_out, symbols_out, counters_out, blocks_out);
    builder.build(move |_capabilities| {
        // Symbols this worker has already published: names are sent once, not per record.
        // Looked up for each release and environment of each record, so not SipHash.
        let mut defined: HashSet<Symbol> = HashSet::default();
        // One container per worker, filled with the records its projects' state lives on:
        // the exchange moves whole containers (`ByContainer`) instead of copying each record
        // into small per-worker buffers.
        let mut records: Vec<Vec<Record>> = (0..peers).map(|_| Vec::new()).collect();
        move |_frontiers| {
            let (records_out, dead_out, symbols_out, counters_out, blocks_out) = &mut outputs;
            let mut records_out = records_out.activate();
            let mut dead_out = dead_out.activate();
            let mut symbols_out = symbols_out.activate();
            let mut counters_out = counters_out.activate();
            let mut blocks_out = blocks_out.activate();
            input.for_each(|cap, data| {
                let time = epoch_of(&cap);
                let mut dead = Vec::new();
                let mut new_symbols = Vec::new();
                for block in data.iter() {
                    for i in 0..block.lines.len() {
                        let mut define = |symbol: Symbol, name: &str| {
                            if defined.insert(symbol) {
                                new_symbols.push(((symbol, name.to_owned()), time, 1));
                            }
                        };
                        let decoded = match block.kind {
                            BlockKind::Input => decoder.decode(block.line(i), block.seq(i), &mut define),
                            BlockKind::Mutations => MutationLine::decode(block.line(i), block.seq(i)),
                        };
                        match decoded {
                            Ok(record) => {
                                let container = &mut records[routes.worker_of(record.project, peers)];
                                if container.capacity() == 0 {
                                    *container = empty_container();
                                }
                                container.push(record);
                                // Ship in small containers: allocator-friendly, and the
                                // exchange can start before the block is done.
                                if container.len() == RECORDS_PER_CONTAINER {
                                    records_out.give(&cap, container);
                                    // Moved to its worker whole: the next is a new one.
                                    container.clear();
                                }
                            }
                            Err(reason) => dead.push(DeadLetter::from_block(block, i, reason)),
                        }
                    }
                    dead.extend(DeadLetter::of_unreadable(block));
                }
                decoder.end_block();
                // An unreadable rest counts as one line read (and one dead letter).
                let lines: usize = data
                    .iter()
                    .filter(|b| b.kind == BlockKind::Input)
                    .map(|b| b.lines.len() + usize::from(b.unreadable.is_some()))
                    .sum();
                let mut counters = vec![(Counter::LinesRead, time, lines as isize)];
                if !dead.is_empty() {
                    counters.push((Counter::DeadLettered, time, dead.len() as isize));
                }
                for container in records.iter_mut().filter(|c| !c.is_empty()) {
                    records_out.give(&cap, container);
                    container.clear();
                }
                if !dead.is_empty() {
                    dead_out.give(&cap, &mut dead);
                }
                if !new_symbols.is_empty() {
                    symbols_out.give(&cap, &mut new_symbols);
                }
                counters_out.give(&cap, &mut counters);
                blocks_out.give(&cap, data);
            });
        }
    });
    Parsed {
        records,
        dead_letters,
        symbols,
        counters,
        blocks: kept_blocks,
    }
}
