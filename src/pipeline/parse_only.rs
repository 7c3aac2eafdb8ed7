//! The benchmark baseline: the same reader and decoder, no dataflow.

use std::path::PathBuf;
use std::sync::mpsc::sync_channel;

use connectors::events::InputDecoder;
use connectors::jsonl::{expand_inputs, BlockOptions, LineSource};
use dataflows::model::block::InputBlock;

use super::IN_FLIGHT_PER_WORKER;

/// The benchmark baseline: the same reader and decoder, no dataflow. Returns (lines, rejected).
pub fn parse_only(inputs: &[PathBuf], workers: usize, block_lines: usize, decoder: InputDecoder) -> anyhow::Result<(u64, u64)> {
    let files = expand_inputs(inputs)?;
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (tx, rx) = sync_channel::<InputBlock>(IN_FLIGHT_PER_WORKER as usize);
        senders.push(tx);
        let decoder = decoder.clone();
        handles.push(std::thread::spawn(move || {
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
