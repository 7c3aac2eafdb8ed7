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
use crate::model::json_string::{push_string, push_u64};
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

/// A dead letter as one JSON object (no newline). The keys are in sorted order, as
/// `serde_json`'s map writes them; it is built as text because building a `Value` map per
/// letter was most of the cost of writing dead letters. Strings are escaped as `serde_json`
/// escapes them ([`push_string`]).
pub fn dead_letter_json(letter: &DeadLetter) -> Vec<u8> {
    use base64::Engine;
    use std::io::Write;
    // A raw JSON line escapes to ~1.1 times its length (a quote every ten bytes or so).
    let mut out = Vec::with_capacity(letter.raw.len() + letter.raw.len() / 4 + letter.source.len() + letter.reason.len() + 96);
    match letter.partition {
        // A Kafka message has no line: its offset is what names it (`line` carries it).
        Some(partition) => {
            out.extend_from_slice(b"{\"offset\":");
            push_u64(&mut out, letter.line);
            // Writing into a Vec cannot fail.
            let _ = write!(out, ",\"partition\":{partition}");
        }
        None => {
            out.extend_from_slice(b"{\"line\":");
            push_u64(&mut out, letter.line);
            out.extend_from_slice(b",\"offset\":");
            push_u64(&mut out, letter.offset);
        }
    }
    match std::str::from_utf8(&letter.raw) {
        Ok(text) => {
            out.extend_from_slice(b",\"raw\":");
            push_string(&mut out, text);
        }
        Err(_) => {
            out.extend_from_slice(b",\"raw_base64\":");
            push_string(&mut out, &base64::engine::general_purpose::STANDARD.encode(&letter.raw));
        }
    }
    out.extend_from_slice(b",\"reason\":");
    push_string(&mut out, &letter.reason);
    out.extend_from_slice(b",\"source\":");
    push_string(&mut out, &letter.source);
    out.push(b'}');
    out
}
