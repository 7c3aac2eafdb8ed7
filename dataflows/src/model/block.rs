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
/// or buffers of their own per line (Kafka messages as the client library received them), so
/// large inputs are never copied.
pub enum BlockBytes {
    Owned(Vec<u8>),
    Shared {
        data: Arc<dyn AsRef<[u8]> + Send + Sync>,
        start: usize,
        end: usize,
    },
    /// Each line is a buffer of its own: a line's [`LineInfo::start`] is its index in `data`.
    Separate(Arc<dyn LineBuffers>),
}

/// Lines that are not one buffer: Kafka messages, held where the client decoded them until
/// the block is dropped (copying them into one buffer cost the reader a copy and a first
/// touch of every byte).
pub trait LineBuffers: Send + Sync {
    fn line(&self, index: usize) -> &[u8];
}

impl Default for BlockBytes {
    fn default() -> Self {
        BlockBytes::Owned(Vec::new())
    }
}

impl std::fmt::Debug for BlockBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.contiguous() {
            Some(bytes) => write!(f, "BlockBytes({} bytes)", bytes.len()),
            None => write!(f, "BlockBytes(separate lines)"),
        }
    }
}

impl BlockBytes {
    /// The bytes, when they are one buffer.
    pub fn contiguous(&self) -> Option<&[u8]> {
        match self {
            BlockBytes::Owned(bytes) => Some(bytes),
            BlockBytes::Shared { data, start, end } => Some(&(**data).as_ref()[*start..*end]),
            BlockBytes::Separate(_) => None,
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
    /// The source could not be read past this block's lines (a corrupt compressed file):
    /// the rest of it is one dead letter, after the lines.
    pub unreadable: Option<Unreadable>,
}

/// The rest of a source that could not be read, as a dead letter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unreadable {
    pub reason: String,
    /// Where the unreadable rest starts: its first line number and byte offset.
    pub line_number: u64,
    pub byte_offset: u64,
    /// The bytes that were read of its first line.
    pub raw: Vec<u8>,
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
        match &self.bytes {
            BlockBytes::Owned(bytes) => &bytes[info.start..info.start + info.len],
            BlockBytes::Shared { data, start, .. } => &(**data).as_ref()[start + info.start..start + info.start + info.len],
            BlockBytes::Separate(lines) => lines.line(info.start),
        }
    }

    pub fn seq(&self, i: usize) -> Seq {
        seq_of(self.index, i)
    }
}

impl DeadLetter {
    /// The dead letter of a block's unreadable rest, if it has one: numbered after its lines.
    pub fn of_unreadable(block: &InputBlock) -> Option<DeadLetter> {
        let unreadable = block.unreadable.as_ref()?;
        Some(DeadLetter {
            seq: block.seq(block.lines.len()),
            source: block.source.to_string(),
            partition: block.partition,
            line: unreadable.line_number,
            offset: unreadable.byte_offset,
            reason: unreadable.reason.clone(),
            raw: unreadable.raw.clone(),
        })
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
