//! JSON-lines source: files (in order), directories (files in byte-wise name order), stdin
//! (`-`), gzip (`.gz`) and zstd (`.zst`) by extension, optionally following the last file as
//! it grows. Produces blocks of lines with their positions.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dataflows::model::block::InputBlock;
use dataflows::model::MAX_LINES_PER_BLOCK;

#[derive(thiserror::Error, Debug)]
pub enum SourceError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("no input files in {0}")]
    EmptyDirectory(String),
}

/// Expands the command line's inputs into the ordered list of files to read.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, SourceError> {
    let mut files = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            files.push(input.clone());
            continue;
        }
        let io_error = |source| SourceError::Io {
            path: input.display().to_string(),
            source,
        };
        let metadata = std::fs::metadata(input).map_err(io_error)?;
        if metadata.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(io_error)?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            entries.sort_by(|a, b| a.as_os_str().as_encoded_bytes().cmp(b.as_os_str().as_encoded_bytes()));
            if entries.is_empty() {
                return Err(SourceError::EmptyDirectory(input.display().to_string()));
            }
            files.extend(entries);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

fn open(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdin()));
    }
    let file = File::open(path)?;
    Ok(match path.extension().and_then(|e| e.to_str()) {
        Some("gz") => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Some("zst") | Some("zstd") => Box::new(zstd::Decoder::new(file)?),
        _ => Box::new(file),
    })
}

pub struct BlockOptions {
    pub max_lines: usize,
    pub max_bytes: usize,
    /// Keep reading the last input as it grows.
    pub follow: bool,
    /// In follow mode, a partial block is released after this long without new lines.
    pub linger: Duration,
}

impl Default for BlockOptions {
    fn default() -> Self {
        BlockOptions {
            max_lines: 16_384,
            max_bytes: 16 << 20,
            follow: false,
            linger: Duration::from_millis(20),
        }
    }
}

/// Reads the inputs as one log and cuts it into blocks.
pub struct LineSource {
    files: Vec<PathBuf>,
    next_file: usize,
    current: Option<(Arc<str>, Box<dyn Read + Send>)>,
    chunk: Vec<u8>,
    /// Unconsumed bytes of `chunk` start here; `filled` marks its end.
    consumed: usize,
    filled: usize,
    line_number: u64,
    byte_offset: u64,
    next_block: u64,
    options: BlockOptions,
    exhausted: bool,
    reached_end: bool,
}

const CHUNK: usize = 1 << 20;

impl LineSource {
    pub fn new(files: Vec<PathBuf>, options: BlockOptions) -> Self {
        LineSource {
            files,
            next_file: 0,
            current: None,
            chunk: vec![0; CHUNK],
            consumed: 0,
            filled: 0,
            line_number: 0,
            byte_offset: 0,
            next_block: 0,
            options,
            exhausted: false,
            reached_end: false,
        }
    }

    fn is_last_file(&self) -> bool {
        self.next_file >= self.files.len()
    }

    /// Opens the next file if none is open; false when there is none left.
    fn ensure_open(&mut self) -> Result<bool, SourceError> {
        if self.current.is_some() {
            return Ok(true);
        }
        let Some(path) = self.files.get(self.next_file) else {
            return Ok(false);
        };
        self.next_file += 1;
        let reader = open(path).map_err(|source| SourceError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let name: Arc<str> = if path.as_os_str() == "-" {
            "-".into()
        } else {
            path.display().to_string().into()
        };
        self.current = Some((name, reader));
        self.line_number = 0;
        self.byte_offset = 0;
        Ok(true)
    }

    /// The next block, `None` at the end of all inputs. In follow mode this waits for more
    /// data and returns a partial block after `linger`.
    pub fn next_block(&mut self) -> Result<Option<InputBlock>, SourceError> {
        if self.exhausted {
            return Ok(None);
        }
        let mut block = InputBlock {
            index: self.next_block,
            ..InputBlock::default()
        };
        let mut waiting_since: Option<Instant> = None;
        loop {
            if !self.ensure_open()? {
                self.exhausted = true;
                break;
            }
            let Some((source, _)) = &self.current else { unreachable!() };
            if !block.lines.is_empty() && !Arc::ptr_eq(&block.source, source) {
                // A block holds lines of one source only.
                break;
            }
            block.source = source.clone();
            // Take complete lines from the chunk.
            let mut took_any = false;
            while block.lines.len() < self.options.max_lines.min(MAX_LINES_PER_BLOCK) && block.bytes.len() < self.options.max_bytes {
                let available = &self.chunk[self.consumed..self.filled];
                let Some(end) = memchr::memchr(b'\n', available) else { break };
                self.push_line(&mut block, end, end + 1);
                took_any = true;
            }
            if block.lines.len() >= self.options.max_lines || block.bytes.len() >= self.options.max_bytes {
                break;
            }
            if took_any {
                waiting_since = None;
            }
            // Need more bytes: compact and refill.
            self.chunk.copy_within(self.consumed..self.filled, 0);
            self.filled -= self.consumed;
            self.consumed = 0;
            if self.filled == self.chunk.len() {
                self.chunk.resize(self.chunk.len() * 2, 0);
            }
            let read = {
                let (source, reader) = self.current.as_mut().expect("a file is open");
                let filled = self.filled;
                reader.read(&mut self.chunk[filled..]).map_err(|e| SourceError::Io {
                    path: source.to_string(),
                    source: e,
                })?
            };
            if read > 0 {
                self.filled += read;
                continue;
            }
            // End of this file (for now).
            if self.is_last_file() {
                self.reached_end = true;
            }
            if self.options.follow && self.is_last_file() {
                if !block.lines.is_empty() {
                    let since = *waiting_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= self.options.linger {
                        break;
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            if self.filled > 0 {
                // A last line without a newline.
                let len = self.filled;
                self.push_line(&mut block, len, len);
            }
            self.current = None;
        }
        if block.lines.is_empty() && self.exhausted {
            return Ok(None);
        }
        self.next_block += 1;
        Ok(Some(block))
    }

    /// True once the end of the last input has been seen (in follow mode: the end of what
    /// existed so far).
    pub fn reached_end_once(&self) -> bool {
        self.reached_end || self.exhausted
    }

    /// Moves the line `[consumed, consumed + len)` into the block unless it is blank; `advance`
    /// includes the newline.
    fn push_line(&mut self, block: &mut InputBlock, len: usize, advance: usize) {
        let line = &self.chunk[self.consumed..self.consumed + len];
        self.line_number += 1;
        if !line.iter().all(u8::is_ascii_whitespace) {
            block.push_line(line, self.line_number, self.byte_offset);
        }
        self.byte_offset += advance as u64;
        self.consumed += advance;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn splits_files_into_blocks_with_positions() {
        let dir = std::env::temp_dir().join(format!("occurrent-jsonl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b.jsonl"), "{\"x\":3}").unwrap();
        std::fs::write(dir.join("a.jsonl"), "{\"x\":1}\n\n  \n{\"x\":2}\n").unwrap();
        let gz = dir.join("c.jsonl.gz");
        let mut encoder = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::default());
        encoder.write_all(b"{\"x\":4}\n").unwrap();
        encoder.finish().unwrap();
        let files = expand_inputs(&[dir.clone()]).unwrap();
        let mut source = LineSource::new(
            files,
            BlockOptions {
                max_lines: 1,
                ..BlockOptions::default()
            },
        );
        let mut seen = Vec::new();
        while let Some(block) = source.next_block().unwrap() {
            for i in 0..block.lines.len() {
                seen.push((
                    block.index,
                    String::from_utf8(block.line(i).to_vec()).unwrap(),
                    block.lines[i].line_number,
                    block.lines[i].byte_offset,
                ));
            }
        }
        assert_eq!(
            seen,
            vec![
                (0, "{\"x\":1}".to_string(), 1, 0),
                (1, "{\"x\":2}".to_string(), 4, 12),
                (2, "{\"x\":3}".to_string(), 1, 0),
                (3, "{\"x\":4}".to_string(), 1, 0),
            ]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
