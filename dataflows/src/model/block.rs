//! Raw input: blocks of lines with their source positions. A block is the unit of input and
//! of time: block `b` enters the dataflow at timestamp `b`.

use std::sync::Arc;

use super::record::{seq_of, Seq};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInfo {
    pub start: u32,
    pub len: u32,
    /// 1-based line number in the source (Kafka: the offset).
    pub line_number: u64,
    /// Byte offset of the line in the (decompressed) source.
    pub byte_offset: u64,
}

#[derive(Debug, Default)]
pub struct InputBlock {
    pub index: u64,
    /// File path, `-` for stdin, later `topic/partition`.
    pub source: Arc<str>,
    pub bytes: Vec<u8>,
    pub lines: Vec<LineInfo>,
}

impl InputBlock {
    pub fn line(&self, i: usize) -> &[u8] {
        let info = self.lines[i];
        &self.bytes[info.start as usize..(info.start + info.len) as usize]
    }

    pub fn seq(&self, i: usize) -> Seq {
        seq_of(self.index, i)
    }

    pub fn push_line(&mut self, line: &[u8], line_number: u64, byte_offset: u64) {
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(line);
        self.lines.push(LineInfo {
            start,
            len: line.len() as u32,
            line_number,
            byte_offset,
        });
    }
}

/// A rejected input line with everything needed to reprocess it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct DeadLetter {
    pub seq: Seq,
    pub source: String,
    pub line: u64,
    pub offset: u64,
    pub reason: String,
    pub raw: Vec<u8>,
}

impl DeadLetter {
    pub fn from_block(block: &InputBlock, i: usize, reason: String) -> DeadLetter {
        let info = block.lines[i];
        DeadLetter {
            seq: block.seq(i),
            source: block.source.to_string(),
            line: info.line_number,
            offset: info.byte_offset,
            reason,
            raw: block.line(i).to_vec(),
        }
    }
}
