//! Recovering the original bytes of lines rejected after decoding. Each worker keeps the blocks
//! it read until their epoch completes; rejections travel back to the block's reader.

use std::collections::BTreeMap;
use std::sync::Arc;

use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use super::epoch_of;

use crate::model::block::{DeadLetter, InputBlock};
use crate::model::{block_of, Seq};

/// `owner(block)` names the worker that read a block.
pub fn resolve_rejections<'scope>(
    blocks: Stream<'scope, u64, Vec<Arc<InputBlock>>>,
    rejected: Stream<'scope, u64, Vec<(Seq, String)>>,
    owner: impl Fn(u64) -> u64 + 'static,
) -> Stream<'scope, u64, Vec<DeadLetter>> {
    blocks.binary_frontier(
        rejected,
        Pipeline,
        Exchange::new(move |(seq, _): &(Seq, String)| owner(block_of(*seq))),
        "ResolveRejections",
        |_, _| {
            let mut kept: BTreeMap<u64, Arc<InputBlock>> = BTreeMap::new();
            let mut waiting: super::Stash<Capability<u64>, (Seq, String)> = BTreeMap::new();
            move |(blocks, blocks_frontier), (rejected, rejected_frontier), output| {
                blocks.for_each(|_, data| {
                    for block in data.drain(..) {
                        kept.insert(block.index, block);
                    }
                });
                rejected.for_each(|cap, data| {
                    waiting
                        .entry(epoch_of(&cap))
                        .or_insert_with(|| (cap.retain_least(0).expect("an input stamp has a time"), Vec::new()))
                        .1
                        .append(data);
                });
                let is_open = |epoch: &u64| rejected_frontier.less_equal(epoch) || blocks_frontier.less_equal(epoch);
                while let Some((_, (cap, rejections))) = super::pop_closed(&mut waiting, is_open) {
                    let mut session = output.session(&cap);
                    for (seq, reason) in rejections {
                        let index = (seq & ((1 << crate::model::BLOCK_SHIFT) - 1)) as usize;
                        match kept.get(&block_of(seq)) {
                            Some(block) => session.give(DeadLetter::from_block(block, index, reason)),
                            None => tracing::error!(seq, "rejected line's block is gone"),
                        }
                    }
                }
                // A block is no longer needed once no rejection for its epoch can arrive.
                while super::pop_closed(&mut kept, |epoch| rejected_frontier.less_equal(epoch)).is_some() {}
            }
        },
    )
}
