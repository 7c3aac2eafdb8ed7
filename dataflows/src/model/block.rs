//! Raw input: blocks of lines with their source positions. A block is the unit of input and
//! of time: block `b` enters the dataflow at timestamp `b`.

use std::sync::Arc;

use super::record::{seq_of, Seq};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInfo {
    pub start: usize,
    pub len: usize,
    /// 1-based line number in the source (Kafka: the offset).
    pub line_number: u64,
    /// Byte offset of the line in the (decompressed) source.
    pub byte_offset: u64,
}

/// A block's bytes: its own buffer, or a range of a shared one (such as a memory-mapped file),
/// so large inputs are never copied.
pub enum BlockBytes {
    Owned(Vec<u8>),
    Shared {
        data: Arc<dyn AsRef<[u8]> + Send + Sync>,
        start: usize,
        end: usize,
    },
}

impl Default for BlockBytes {
    fn default() -> Self {
        BlockBytes::Owned(Vec::new())
    }
}

impl std::fmt::Debug for BlockBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlockBytes({} bytes)", self.as_slice().len())
    }
}

impl BlockBytes {
    pub fn as_slice(&self) -> &[u8] {
        match self {
            BlockBytes::Owned(bytes) => bytes,
            BlockBytes::Shared { data, start, end } => &(**data).as_ref()[*start..*end],
        }
    }
}

#[derive(Debug, Default)]
pub struct InputBlock {
    pub index: u64,
    /// File path, `-` for stdin, or a Kafka topic.
    pub source: Arc<str>,
    /// The Kafka partition (line numbers are then offsets).
    pub partition: Option<i32>,
    pub bytes: BlockBytes,
    pub lines: Vec<LineInfo>,
    pub kind: BlockKind,
}

/// What the lines of a block are: input messages (decoded by the configured decoder) or
/// entries of the mutation log (decoded as [`MutationLine`](crate::model::mutation::MutationLine)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BlockKind {
    #[default]
    Input,
    Mutations,
}

impl InputBlock {
    pub fn line(&self, i: usize) -> &[u8] {
        let info = self.lines[i];
        &self.bytes.as_slice()[info.start..info.start + info.len]
    }

    pub fn seq(&self, i: usize) -> Seq {
        seq_of(self.index, i)
    }
}

/// A rejected input line with everything needed to reprocess it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct DeadLetter {
    pub seq: Seq,
    pub source: String,
    pub partition: Option<i32>,
    /// Line number, or the Kafka offset.
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
            partition: block.partition,
            line: info.line_number,
            offset: info.byte_offset,
            reason,
            raw: block.line(i).to_vec(),
        }
    }
}
