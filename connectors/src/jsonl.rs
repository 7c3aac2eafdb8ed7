//! JSON-lines source: files (in order), directories (files in byte-wise name order), stdin
//! (`-`), gzip (`.gz`) and zstd (`.zst`) by extension, optionally following the last file as
//! it grows. Produces blocks of lines with their positions.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dataflows::model::block::{BlockBytes, InputBlock, LineInfo, Unreadable};
use dataflows::model::MAX_LINES_PER_BLOCK;

mod files;
mod follow;
mod watch;
pub(crate) use files::open;
pub use files::{expand_followed_inputs, expand_inputs, is_compressed};
use files::{is_corruption, is_plain, moved_since_checkpoint};
pub use watch::{fingerprint, not_read_because, Fingerprint};

#[derive(thiserror::Error, Debug)]
pub enum SourceError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("no input files in {0}")]
    EmptyDirectory(String),
}

/// A plain file, mapped: the blocks refer to it instead of copying it.
struct MappedFile {
    map: memmap2::Mmap,
}

impl AsRef<[u8]> for MappedFile {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

/// One block's range of a mapped file. Dropping it releases the range's pages from this
/// process (they stay in the page cache), so resident memory does not grow with the input.
struct MappedBlock {
    file: Arc<MappedFile>,
    start: usize,
    end: usize,
}

impl AsRef<[u8]> for MappedBlock {
    fn as_ref(&self) -> &[u8] {
        &self.file.map[self.start..self.end]
    }
}

impl Drop for MappedBlock {
    fn drop(&mut self) {
        const PAGE: usize = 4096;
        // Only whole pages inside the range: neighbours may still use the pages at its edges.
        let first = self.start.div_ceil(PAGE) * PAGE;
        let last = self.end / PAGE * PAGE;
        if last > first {
            // Safety: a read-only file mapping; dropped pages are read back from the file if
            // touched again, so DONTNEED cannot change what the mapping reads.
            let _ = unsafe {
                self.file
                    .map
                    .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, first, last - first)
            };
        }
    }
}

pub struct BlockOptions {
    pub max_lines: usize,
    pub max_bytes: usize,
    /// Keep reading the last input as it grows.
    pub follow: bool,
    /// In follow mode, a partial block is released after this long without new lines.
    pub linger: Duration,
    /// In follow mode, an empty block (no lines, no index used) is returned after this long
    /// without input, so the caller can do other work (mutations, signals) while it waits.
    pub idle: Option<Duration>,
    /// In follow mode, a partial block is released with the complete lines it holds as soon
    /// as this is raised (an API mutation waits behind it): under a steady trickle of appends
    /// `linger` never passes and the end of the input may never be seen (each read finds the
    /// next append), and the block would wait until it is full.
    pub release: Option<Arc<AtomicBool>>,
}

impl Default for BlockOptions {
    fn default() -> Self {
        BlockOptions {
            max_lines: 16_384,
            max_bytes: 16 << 20,
            follow: false,
            linger: Duration::from_millis(20),
            idle: None,
            release: None,
        }
    }
}

/// Reads the inputs as one log and cuts it into blocks. Bytes are read straight into the block
/// being built; only a line cut by the end of a block is copied into the next.
pub struct LineSource {
    files: Vec<PathBuf>,
    next_file: usize,
    current: Option<(Arc<str>, Box<dyn Read + Send>)>,
    /// The current file when it is mapped, and the position reached in it.
    mapped: Option<(Arc<str>, Arc<MappedFile>, usize)>,
    /// Bytes read but not yet cut into lines (the start of a line), carried to the next block.
    carry: Vec<u8>,
    line_number: u64,
    byte_offset: u64,
    next_block: u64,
    options: BlockOptions,
    exhausted: bool,
    reached_end: bool,
    /// Where to start reading the file that is opened next (after a restore).
    resume: Option<FilePosition>,
    /// No block reaches past this position (a logged mutation is due there).
    stop: Option<FilePosition>,
    /// The followed file being read, to notice when its path names another file.
    followed: follow::Followed,
    /// The followed directory, when the last input is one (`watch.rs`).
    watch: Option<watch::Watch>,
    /// Files opened so far (a rotated or truncated followed file is opened again).
    opens: u64,
    /// Changes of `files` (a followed directory adds and removes files).
    files_version: u64,
}

const READ_SIZE: usize = 1 << 20;

/// How far a [`LineSource`] has read: the next line to cut is at `byte_offset` of input
/// `file`, after line `line_number`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FilePosition {
    pub file: usize,
    pub byte_offset: u64,
    pub line_number: u64,
}

impl LineSource {
    pub fn new(files: Vec<PathBuf>, options: BlockOptions) -> Self {
        LineSource {
            files,
            next_file: 0,
            current: None,
            mapped: None,
            carry: Vec::new(),
            line_number: 0,
            byte_offset: 0,
            next_block: 0,
            options,
            exhausted: false,
            reached_end: false,
            resume: None,
            stop: None,
            followed: follow::Followed::default(),
            watch: None,
            opens: 0,
            files_version: 0,
        }
    }

    /// Ends blocks at `stop` (a line boundary of the inputs, as [`LineSource::position`] gives
    /// them) until it is changed: something else is due exactly there. A block that would
    /// start at the stop is empty and takes no index.
    pub fn stop_at(&mut self, stop: Option<FilePosition>) {
        self.stop = stop;
    }

    /// The byte offset in the open file (`file` = its index) at which cutting must end.
    fn stop_offset(&self, file: usize) -> Option<u64> {
        self.stop.filter(|s| s.file == file).map(|s| s.byte_offset)
    }

    /// Starts reading at `position` (from a checkpoint); the first block is `next_block`.
    pub fn resume_at(&mut self, position: FilePosition, next_block: u64) {
        self.next_file = position.file;
        self.next_block = next_block;
        self.resume = Some(position);
    }

    /// The position after the last block returned.
    pub fn position(&self) -> FilePosition {
        if self.current.is_some() || self.mapped.is_some() {
            FilePosition {
                file: self.next_file - 1,
                byte_offset: self.byte_offset,
                line_number: self.line_number,
            }
        } else {
            FilePosition {
                file: self.next_file,
                ..FilePosition::default()
            }
        }
    }

    pub fn next_block_index(&self) -> u64 {
        self.next_block
    }

    /// Leaves the next block index to another input (a mutation block between two blocks).
    pub fn skip_block_index(&mut self) {
        self.next_block += 1;
    }

    fn is_last_file(&self) -> bool {
        self.next_file >= self.files.len()
    }

    /// Opens the next file if none is open; false when there is none left.
    fn ensure_open(&mut self) -> Result<bool, SourceError> {
        if self.current.is_some() || self.mapped.is_some() {
            return Ok(true);
        }
        let Some(path) = self.files.get(self.next_file).cloned() else {
            return Ok(false);
        };
        if self.watched_file_gone(&path) {
            return self.ensure_open();
        }
        let resume = self.resume.take().filter(|r| r.file == self.next_file).unwrap_or_default();
        self.next_file += 1;
        self.note_opened(&path);
        let followed = self.options.follow && self.is_last_file();
        if is_plain(&path) && !followed {
            let io_error = |source| SourceError::Io {
                path: path.display().to_string(),
                source,
            };
            let file = File::open(&path).map_err(io_error)?;
            if file.metadata().map_err(io_error)?.len() > 0 {
                // Safety: the file is only read. If another process truncates it while it is
                // mapped, reads of the lost pages fault; inputs being backfilled are not
                // rewritten in place (appends are what --follow is for).
                let map = unsafe { memmap2::MmapOptions::new().map(&file) }.map_err(io_error)?;
                let _ = map.advise(memmap2::Advice::Sequential);
                let start = (resume.byte_offset as usize).min(map.len());
                if start > 0 && start < map.len() && map[start - 1] != b'\n' {
                    return Err(io_error(moved_since_checkpoint(resume)));
                }
                self.mapped = Some((path.display().to_string().into(), Arc::new(MappedFile { map }), start));
                self.line_number = resume.line_number;
                self.byte_offset = start as u64;
                return Ok(true);
            }
        }
        let mut reader = self.followed.open(&path, followed).map_err(|source| SourceError::Io {
            path: path.display().to_string(),
            source,
        })?;
        if resume.byte_offset > 0 {
            if path.as_os_str() == "-" {
                return Err(SourceError::Io {
                    path: "-".into(),
                    source: io::Error::other("standard input cannot be resumed from a checkpoint"),
                });
            }
            // Decompressed streams cannot seek: read past what was processed (its last byte
            // apart, which must end a line).
            let io_error = |source| SourceError::Io {
                path: path.display().to_string(),
                source,
            };
            let mut skipped = io::copy(&mut (&mut reader).take(resume.byte_offset - 1), &mut io::sink()).map_err(io_error)?;
            let mut last = [0u8; 1];
            if skipped + 1 == resume.byte_offset && reader.read(&mut last).map_err(io_error)? == 1 {
                skipped += 1;
                // A last line without a newline ends the input: then nothing follows it.
                if last[0] != b'\n' && reader.read(&mut last).map_err(io_error)? > 0 {
                    return Err(io_error(moved_since_checkpoint(resume)));
                }
            }
            if skipped < resume.byte_offset {
                return Err(SourceError::Io {
                    path: path.display().to_string(),
                    source: io::Error::other(format!(
                        "input is shorter ({skipped} bytes) than the checkpoint's position {}",
                        resume.byte_offset
                    )),
                });
            }
        }
        let name: Arc<str> = if path.as_os_str() == "-" {
            "-".into()
        } else {
            path.display().to_string().into()
        };
        self.current = Some((name, reader));
        self.line_number = resume.line_number;
        self.byte_offset = resume.byte_offset;
        Ok(true)
    }

    /// True once the end of the last input has been seen (in follow mode: the end of what
    /// existed so far).
    pub fn reached_end_once(&self) -> bool {
        self.reached_end || self.exhausted
    }

    fn release_raised(&self) -> bool {
        self.options.release.as_ref().is_some_and(|flag| flag.load(Ordering::Acquire))
    }

    /// The next block, `None` at the end of all inputs. In follow mode this waits for more
    /// data and returns a partial block after `linger`.
    pub fn next_block(&mut self) -> Result<Option<InputBlock>, SourceError> {
        if self.exhausted {
            return Ok(None);
        }
        let max_lines = self.options.max_lines.clamp(1, MAX_LINES_PER_BLOCK);
        if !self.ensure_open()? {
            if self.watch.is_some() && self.files.is_empty() {
                return Ok(Some(self.wait_for_a_file()));
            }
            self.exhausted = true;
            return Ok(None);
        }
        if self.mapped.is_some() {
            return Ok(Some(self.next_mapped_block(max_lines)));
        }
        let mut block = InputBlock {
            partition: None,
            index: self.next_block,
            ..InputBlock::default()
        };
        let mut bytes = Vec::with_capacity(self.options.max_bytes.min(64 << 20) + READ_SIZE);
        bytes.append(&mut self.carry);
        // Bytes of `block.bytes` before `scanned` are cut into lines already.
        let mut scanned = 0;
        let mut waiting_since: Option<Instant> = None;
        // Waiting at a followed file's end, reads ask for a page, not READ_SIZE (zeroed first).
        let mut read_size = READ_SIZE;
        loop {
            if !self.ensure_open()? {
                self.exhausted = true;
                break;
            }
            let Some((source, _)) = &self.current else {
                // The streamed file ended without a line (an empty or compressed-empty file)
                // and the next one is mapped: the block is cut from it instead.
                break;
            };
            block.source = source.clone();
            let stop = self.stop_offset(self.next_file - 1);
            if stop.is_some_and(|stop| self.byte_offset >= stop) {
                break;
            }
            // Cut complete lines.
            while block.lines.len() < max_lines && bytes.len() - scanned > 0 && stop.is_none_or(|stop| self.byte_offset < stop) {
                let Some(end) = memchr::memchr(b'\n', &bytes[scanned..]) else {
                    break;
                };
                Self::cut_line(
                    &mut self.line_number,
                    &mut self.byte_offset,
                    &mut block,
                    &bytes,
                    scanned,
                    end,
                    end + 1,
                );
                scanned += end + 1;
                waiting_since = None;
            }
            if block.lines.len() >= max_lines || scanned >= self.options.max_bytes || stop.is_some_and(|stop| self.byte_offset >= stop) {
                break;
            }
            if self.options.follow && !block.lines.is_empty() && self.release_raised() {
                break;
            }
            let read = {
                let (source, reader) = self.current.as_mut().expect("a file is open");
                let filled = bytes.len();
                bytes.resize(filled + read_size, 0);
                let read = reader.read(&mut bytes[filled..]);
                bytes.truncate(filled + *read.as_ref().unwrap_or(&0));
                match read {
                    Ok(read) => Some(read),
                    // Standard input had nothing for a moment (`files::PIPE_PAUSE`).
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => None,
                    Err(error) if is_compressed(Path::new(&**source)) && is_corruption(&error) => {
                        // The rest of a corrupt compressed file cannot be cut into lines: it
                        // is one dead letter, and the next file is read.
                        block.unreadable = Some(Unreadable {
                            reason: format!("unreadable compressed input from line {}: {error}", self.line_number + 1),
                            line_number: self.line_number + 1,
                            byte_offset: self.byte_offset,
                            raw: bytes[scanned..].to_vec(),
                        });
                        bytes.truncate(scanned);
                        self.current = None;
                        break;
                    }
                    Err(error) => {
                        return Err(SourceError::Io {
                            path: source.to_string(),
                            source: error,
                        })
                    }
                }
            };
            let Some(read) = read else {
                // A pause in the pipe: the lines so far go out, or the caller gets an empty
                // block (and can stop); otherwise wait on.
                if !block.lines.is_empty() || self.options.idle.is_some() {
                    break;
                }
                continue;
            };
            if read > 0 {
                read_size = READ_SIZE;
                self.followed.grew();
                if let Some(watch) = &mut self.watch {
                    watch.grew();
                }
                continue;
            }
            // End of this file (for now).
            if self.is_last_file() {
                self.reached_end = true;
            }
            if self.options.follow && self.is_last_file() {
                if self.truncated_while_followed(bytes.len() - scanned) {
                    // Rewritten from the start (`copytruncate` rotation): the bytes read past
                    // the last line were the old content's. The lines cut so far go out, and
                    // the file is read again from its start, numbered from line 1.
                    bytes.truncate(scanned);
                    self.current = None;
                    self.next_file -= 1;
                    break;
                }
                if self.replaced_while_followed() {
                    // Renamed away and created again (rotation by renaming), and the old file
                    // has been read to its end: its last line without a newline is a line
                    // (as at the end of any input), and the new file is read from its start.
                    scanned += self.cut_unterminated(&mut block, &bytes, scanned);
                    self.current = None;
                    self.next_file -= 1;
                    break;
                }
                if self.watched_files_added() {
                    // Files created in the followed directory since: this one ends here.
                    scanned += self.cut_unterminated(&mut block, &bytes, scanned);
                    self.current = None;
                    break;
                }
                let since = *waiting_since.get_or_insert_with(Instant::now);
                if !block.lines.is_empty() && since.elapsed() >= self.options.linger {
                    break;
                }
                if block.lines.is_empty() && self.options.idle.is_some_and(|idle| since.elapsed() >= idle) {
                    break;
                }
                read_size = 4096;
                self.followed.pause(!block.lines.is_empty(), since, &self.options);
                continue;
            }
            // A last line without a newline.
            scanned += self.cut_unterminated(&mut block, &bytes, scanned);
            self.current = None;
            if !block.lines.is_empty() {
                // A block holds lines of one source only.
                break;
            }
        }
        self.carry.extend_from_slice(&bytes[scanned..]);
        bytes.truncate(scanned);
        if block.unreadable.is_some() {
            block.bytes = BlockBytes::Owned(bytes);
            self.next_block += 1;
            return Ok(Some(block));
        }
        if block.lines.is_empty() && self.mapped.is_some() {
            return Ok(Some(self.next_mapped_block(max_lines)));
        }
        if block.lines.is_empty() && self.exhausted {
            return Ok(None);
        }
        if block.lines.is_empty() {
            // Idle in follow mode, or at the stop: nothing to number.
            return Ok(Some(block));
        }
        block.bytes = BlockBytes::Owned(bytes);
        self.next_block += 1;
        Ok(Some(block))
    }

    /// A block of the mapped file: lines are cut in place.
    fn next_mapped_block(&mut self, max_lines: usize) -> InputBlock {
        let (source, map, position) = self.mapped.take().expect("a mapped file");
        let data: &[u8] = (*map).as_ref();
        let start = position;
        let mut block = InputBlock {
            partition: None,
            index: self.next_block,
            source: source.clone(),
            ..InputBlock::default()
        };
        let mut scanned = start;
        let stop = self.stop_offset(self.next_file - 1).map_or(usize::MAX, |stop| stop as usize);
        if scanned >= stop {
            // At the stop: an empty block, which takes no index.
            self.mapped = Some((source, map, scanned));
            return block;
        }
        // Room for the whole block at once: grown by doubling, a full block's list (512 KiB)
        // was reallocated and copied a dozen times, each larger copy on memory not touched
        // before. A line takes at least one byte, so short tails get short lists.
        block.lines.reserve_exact(Self::line_room(
            max_lines,
            stop.min(data.len()).saturating_sub(scanned),
            self.options.max_bytes,
        ));
        while block.lines.len() < max_lines && scanned - start < self.options.max_bytes && scanned < data.len() && scanned < stop {
            let (len, advance) = match memchr::memchr(b'\n', &data[scanned..]) {
                Some(end) => (end, end + 1),
                None => (data.len() - scanned, data.len() - scanned),
            };
            self.line_number += 1;
            let line = &data[scanned..scanned + len];
            if !line.iter().all(u8::is_ascii_whitespace) {
                block.lines.push(LineInfo {
                    start: scanned - start,
                    len,
                    line_number: self.line_number,
                    byte_offset: self.byte_offset,
                });
            }
            self.byte_offset += advance as u64;
            scanned += advance;
        }
        let range = MappedBlock {
            file: map.clone(),
            start,
            end: scanned,
        };
        block.bytes = BlockBytes::Shared {
            data: Arc::new(range),
            start: 0,
            end: scanned - start,
        };
        if scanned < data.len() {
            self.mapped = Some((source, map, scanned));
        } else if self.is_last_file() {
            self.reached_end = true;
        }
        self.next_block += 1;
        block
    }

    /// Lines a block of at most `max_lines` lines and about `max_bytes` bytes can hold when
    /// `remaining` bytes are left to read: every line takes one byte or more, and the last
    /// line may run past `max_bytes`.
    fn line_room(max_lines: usize, remaining: usize, max_bytes: usize) -> usize {
        max_lines.min(remaining).min(max_bytes.saturating_add(1))
    }

    /// Cuts the bytes after `scanned` as a last line without a newline (the end of an input);
    /// returns how many bytes it took.
    fn cut_unterminated(&mut self, block: &mut InputBlock, bytes: &[u8], scanned: usize) -> usize {
        let len = bytes.len() - scanned;
        if len > 0 {
            Self::cut_line(&mut self.line_number, &mut self.byte_offset, block, bytes, scanned, len, len);
        }
        len
    }

    /// Registers `[start, start + len)` of the block as a line unless it is blank; `advance`
    /// includes the newline.
    fn cut_line(
        line_number: &mut u64,
        byte_offset: &mut u64,
        block: &mut InputBlock,
        bytes: &[u8],
        start: usize,
        len: usize,
        advance: usize,
    ) {
        *line_number += 1;
        let line = &bytes[start..start + len];
        if !line.iter().all(u8::is_ascii_whitespace) {
            block.lines.push(LineInfo {
                start,
                len,
                line_number: *line_number,
                byte_offset: *byte_offset,
            });
        }
        *byte_offset += advance as u64;
    }
}

#[cfg(test)]
mod tests;
