//! The inputs as files: the command line's paths expanded, how each is opened (stdin,
//! plain, gzip, zstd by extension) and the errors a file itself can cause.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::{FilePosition, SourceError};

/// Expands the command line's inputs into the ordered list of files to read.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, SourceError> {
    expand(inputs, false)
}

/// [`expand_inputs`] for `--follow`: the last input may be an empty directory, whose files
/// are read as they are created (`watch.rs`).
pub fn expand_followed_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, SourceError> {
    expand(inputs, true)
}

fn expand(inputs: &[PathBuf], followed: bool) -> Result<Vec<PathBuf>, SourceError> {
    let mut files = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
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
            // Hidden files (editor swap files, `.DS_Store`) are not inputs; subdirectories are
            // not read (said once per directory).
            let mut entries: Vec<PathBuf> = Vec::new();
            for entry in std::fs::read_dir(input).map_err(io_error)?.filter_map(|e| e.ok()) {
                let path = entry.path();
                if entry.file_name().as_encoded_bytes().starts_with(b".") {
                    continue;
                }
                if path.is_file() {
                    entries.push(path);
                } else if path.is_dir() {
                    tracing::info!(directory = %path.display(), "not reading a subdirectory of an input directory");
                }
            }
            entries.sort_by(|a, b| a.as_os_str().as_encoded_bytes().cmp(b.as_os_str().as_encoded_bytes()));
            if entries.is_empty() && !(followed && i + 1 == inputs.len()) {
                return Err(SourceError::EmptyDirectory(input.display().to_string()));
            }
            files.extend(entries);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

pub(super) fn is_plain(path: &Path) -> bool {
    path.as_os_str() != "-" && !is_compressed(path)
}

/// A restart's position in an input that is no longer where a line starts: the file was
/// rotated or rewritten since the checkpoint, and reading on would start mid-line and lose
/// every line before the position.
pub(super) fn moved_since_checkpoint(resume: FilePosition) -> io::Error {
    io::Error::other(format!(
        "the checkpoint's position (byte {}, after line {}) is not at the start of a line: the input \
         changed since the checkpoint (rotated or rewritten?); restore it, or start without the state",
        resume.byte_offset, resume.line_number
    ))
}

/// A gzip or zstd input, decompressed by extension (see [`open`]).
pub fn is_compressed(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("gz" | "zst" | "zstd"))
}

/// A decompressor's error about its input (corrupt or truncated data), as opposed to one of
/// the file underneath, which stops the run.
pub(super) fn is_corruption(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof | io::ErrorKind::Other
    )
}

pub(crate) fn open(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(Pipe::stdin()?));
    }
    let file = File::open(path)?;
    Ok(match path.extension().and_then(|e| e.to_str()) {
        Some("gz") => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Some("zst") | Some("zstd") => Box::new(zstd::Decoder::new(file)?),
        _ => Box::new(file),
    })
}

/// How long a read of standard input waits before saying that nothing came
/// (`ErrorKind::WouldBlock`): the reader then hands on the lines it has, and its caller gets
/// back control (a signal to stop), instead of blocking until a whole block arrives or the
/// pipe closes.
pub(super) const PIPE_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// Standard input, read by a thread of its own into a small queue of chunks.
struct Pipe {
    chunks: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
    ended: bool,
}

impl Pipe {
    fn stdin() -> io::Result<Pipe> {
        const CHUNK: usize = 1 << 20;
        // A few chunks ahead: the pipe's writer is held back when the pipeline is.
        let (send, chunks) = std::sync::mpsc::sync_channel(4);
        std::thread::Builder::new().name("stdin".into()).spawn(move || {
            let mut stdin = io::stdin().lock();
            loop {
                let mut chunk = vec![0u8; CHUNK];
                let read = match stdin.read(&mut chunk) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // Standard input left non-blocking by whoever started the process: wait.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        continue;
                    }
                    // Its kind must not read as the pause the reader signals.
                    Err(e) => Err(io::Error::other(e)),
                    Ok(n) => {
                        chunk.truncate(n);
                        Ok(chunk)
                    }
                };
                // An empty chunk is the end; after an error or the end nothing more is read.
                let last = read.as_ref().map_or(true, Vec::is_empty);
                if send.send(read).is_err() || last {
                    return;
                }
            }
        })?;
        Ok(Pipe {
            chunks,
            chunk: Vec::new(),
            at: 0,
            ended: false,
        })
    }
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.chunk.len() && !self.ended {
            match self.chunks.recv_timeout(PIPE_PAUSE) {
                Ok(Ok(chunk)) => {
                    self.ended = chunk.is_empty();
                    self.chunk = chunk;
                    self.at = 0;
                }
                Ok(Err(error)) => {
                    self.ended = true;
                    return Err(error);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => return Err(io::ErrorKind::WouldBlock.into()),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => self.ended = true,
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
