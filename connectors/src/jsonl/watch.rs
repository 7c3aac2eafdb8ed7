//! A followed input directory (`--follow` with a directory as the last input): files created
//! in it later, sorting after the followed file, are read after it, in name order, once the
//! followed file has had nothing new for [`ROTATION_GRACE`] (a writer still finishing it loses
//! nothing). Rotation leaves copies of what was read in the directory — renamed
//! (`app.log` → `app.log.1`, the same file) or copied (`copytruncate`, a new file with the old
//! content) — so a file is new only if neither its identity (device, inode) nor its first line
//! is that of a file already read.

use std::collections::HashSet;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dataflows::model::block::InputBlock;

use super::follow::ROTATION_GRACE;
use super::{FilePosition, LineSource};

/// How often an idle followed directory is listed.
const SCAN_INTERVAL: Duration = Duration::from_millis(250);
/// A first line longer than this is fingerprinted by its first bytes.
const FINGERPRINT_BYTES: usize = 4096;

/// A file's first line that is not blank (within its first [`FINGERPRINT_BYTES`], without
/// its newline): its length and xxh3 hash. Two files with the same first line are taken for copies of each other (JSON
/// lines carry an id or a timestamp, so distinct files differ there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    pub len: u32,
    pub hash: u64,
}

/// The fingerprint of the file at `path`; None while its first line is not complete.
pub fn fingerprint(path: &Path) -> io::Result<Option<Fingerprint>> {
    if path.as_os_str() == "-" {
        return Ok(None);
    }
    let mut file = std::fs::File::open(path)?;
    let mut head = Vec::with_capacity(FINGERPRINT_BYTES);
    (&mut file).take(FINGERPRINT_BYTES as u64).read_to_end(&mut head)?;
    // Leading blank lines are not content (and would make every such file look alike).
    let start = head.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(head.len());
    let start = head[..start].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let rest = &head[start..];
    let line = match memchr::memchr(b'\n', rest) {
        Some(end) => &rest[..end],
        None if head.len() == FINGERPRINT_BYTES => rest,
        None => return Ok(None),
    };
    Ok(Some(Fingerprint {
        len: line.len() as u32,
        hash: xxhash_rust::xxh3::xxh3_64(line),
    }))
}

/// Why a new file of a followed directory is not an input, if it is not: a copy of a file
/// read (`is_copy`, asked last), a name sorting before the directory's last file read, or
/// compressed. The one rule of the running reader and of a restart (`src/feed/inputs.rs`).
pub fn not_read_because(path: &Path, last: Option<&Path>, is_copy: impl FnOnce() -> bool) -> Option<&'static str> {
    if last.is_some_and(|last| path.file_name() <= last.file_name()) {
        Some("it sorts before the files read (inputs are read in name order)")
    } else if super::is_compressed(path) {
        Some("a compressed file cannot be followed")
    } else if is_copy() {
        Some(ROTATED_COPY)
    } else {
        None
    }
}

const ROTATED_COPY: &str = "its first line is that of a file read already (a rotated copy)";

type Identity = (u64, u64);

/// What a file was when last looked at: its first line, and its length and modification time
/// (a file whose stamp has not changed is not read again).
#[derive(Clone, Copy)]
struct Seen {
    print: Option<Fingerprint>,
    stamp: (u64, i64, i64),
}

fn stamp(metadata: &std::fs::Metadata) -> (u64, i64, i64) {
    (metadata.len(), metadata.mtime(), metadata.mtime_nsec())
}

pub(super) struct Watch {
    directory: PathBuf,
    /// Files read or being read, by identity, with their first line once it is complete.
    known: std::collections::HashMap<Identity, Seen>,
    /// The first lines of every file read, kept when its file is rewritten (`copytruncate`
    /// leaves copies of the old content).
    prints: HashSet<Fingerprint>,
    last_scan: Option<Instant>,
    /// Since when new files have been waiting while the followed file had nothing new.
    pending_since: Option<Instant>,
    /// Files ignored, and said so once (judged again if their content changes).
    ignored: std::collections::HashMap<Identity, Seen>,
}

impl Watch {
    pub(super) fn new(directory: PathBuf, files: &[PathBuf]) -> Watch {
        let mut watch = Watch {
            directory,
            known: Default::default(),
            prints: HashSet::new(),
            last_scan: None,
            pending_since: None,
            ignored: Default::default(),
        };
        for file in files {
            watch.opened(file);
        }
        watch
    }

    /// `path` is read (or about to be): its identity and first line are known from now on.
    pub(super) fn opened(&mut self, path: &Path) {
        if let Ok(metadata) = std::fs::metadata(path) {
            let print = fingerprint(path).ok().flatten();
            self.prints.extend(print);
            let stamp = stamp(&metadata);
            self.known.insert((metadata.dev(), metadata.ino()), Seen { print, stamp });
        }
    }

    /// The followed file grew: files found since wait again for it to be idle.
    pub(super) fn grew(&mut self) {
        self.pending_since = None;
    }

    /// The directory's new files (see the module's comment), in name order: those sorting
    /// after `last`, plain, not hidden, with a complete first line, and neither the same file
    /// nor a copy of one known. Others are logged once.
    fn scan(&mut self, last: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.directory) else {
            return Vec::new();
        };
        let last_name = last.file_name().map(|n| n.as_encoded_bytes().to_vec()).unwrap_or_default();
        let mut found = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            let path = entry.path();
            let Ok(metadata) = std::fs::metadata(&path) else { continue };
            if name.as_encoded_bytes().starts_with(b".") || !metadata.is_file() {
                continue;
            }
            let identity = (metadata.dev(), metadata.ino());
            let stamp = stamp(&metadata);
            if let Some(seen) = self.known.get_mut(&identity) {
                if seen.stamp == stamp {
                    continue;
                }
                seen.stamp = stamp;
                let now = fingerprint(&path).ok().flatten();
                match (seen.print, now) {
                    // Its first line is complete now.
                    (None, _) => {
                        seen.print = now;
                        self.prints.extend(now);
                        continue;
                    }
                    // Grown (perhaps renamed), or being written again from its start.
                    (Some(then), Some(now)) if then == now => continue,
                    (Some(_), None) => continue,
                    // Other content: rewritten, or a deleted file's inode reused by a new one;
                    // no longer the file known, and judged as a new file.
                    (Some(_), Some(_)) => {
                        self.known.remove(&identity);
                    }
                }
            }
            // The followed file's path naming another file is a rotation (`follow.rs`).
            if name.as_encoded_bytes() == &last_name[..] {
                continue;
            }
            if self.ignored.get(&identity).is_some_and(|seen| seen.stamp == stamp) {
                continue;
            }
            let Ok(Some(print)) = fingerprint(&path) else { continue };
            if let Some(seen) = self.ignored.get_mut(&identity).filter(|seen| seen.print == Some(print)) {
                seen.stamp = stamp;
                continue;
            }
            let seen = Seen { print: Some(print), stamp };
            match not_read_because(&path, Some(last), || self.prints.contains(&print)) {
                Some(ROTATED_COPY) => {
                    tracing::info!(path = %path.display(), reason = ROTATED_COPY, "a new file in the followed directory is not read");
                    self.ignored.insert(identity, seen);
                }
                Some(reason) => {
                    tracing::warn!(path = %path.display(), reason, "a new file in the followed directory is not read");
                    self.ignored.insert(identity, seen);
                }
                None => found.push(path),
            }
        }
        found.sort_by(|a, b| a.as_os_str().as_encoded_bytes().cmp(b.as_os_str().as_encoded_bytes()));
        found
    }
}

impl LineSource {
    /// Follows `directory` (the last input's): see the module's comment. `skipped`: files of
    /// it that are not inputs (a restart left out copies of files read before): not new.
    pub fn watch_directory(&mut self, directory: PathBuf, skipped: &[PathBuf]) {
        let mut watch = Watch::new(directory, &self.files);
        for path in skipped {
            watch.opened(path);
        }
        self.watch = Some(watch);
    }

    /// The inputs: the files given, and those a followed directory added since.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Whether `path`, the next input, is a file of the followed directory gone before it
    /// was read (a temporary file renamed, a file deleted): then it is not an input any more.
    /// Not an input to resume in (its position would fall on the next file), nor one outside
    /// the directory (an error to open, as any input). When it was the last input, the file
    /// before it, left for it, is followed again from where it was left.
    pub(super) fn watched_file_gone(&mut self, path: &Path) -> bool {
        let Some(watch) = &self.watch else { return false };
        if path.parent() != Some(watch.directory.as_path())
            || self.resume.is_some_and(|r| r.file == self.next_file)
            || !std::fs::metadata(path).is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
        {
            return false;
        }
        tracing::warn!(path = %path.display(), "a file of the followed directory is gone before it was read");
        self.files.remove(self.next_file);
        self.files_version += 1;
        if self.next_file == self.files.len() && self.next_file > 0 {
            self.next_file -= 1;
            self.resume = Some(FilePosition {
                file: self.next_file,
                byte_offset: self.byte_offset,
                line_number: self.line_number,
            });
        }
        true
    }

    /// `path` is being opened.
    pub(super) fn note_opened(&mut self, path: &Path) {
        self.opens += 1;
        if let Some(watch) = &mut self.watch {
            watch.opened(path);
        }
    }

    /// Changes whenever the list of inputs does (files added or removed by a followed
    /// directory).
    pub fn files_version(&self) -> u64 {
        self.files_version
    }

    /// How many times a file was opened: it changes when the next input is opened, or the
    /// followed one again after a rotation (its first line then changes).
    pub fn opens(&self) -> u64 {
        self.opens
    }

    /// A followed directory without files: an empty block once the first file is added, or
    /// after `idle` (the caller does its other work, and is ready: nothing was there at start).
    pub(super) fn wait_for_a_file(&mut self) -> InputBlock {
        self.reached_end = true;
        let started = Instant::now();
        while !self.watched_files_added() && self.options.idle.is_none_or(|idle| started.elapsed() < idle) {
            std::thread::sleep(Duration::from_millis(5));
        }
        InputBlock {
            index: self.next_block,
            ..InputBlock::default()
        }
    }

    /// Whether new files of the followed directory were added to the inputs (after the
    /// followed file, now read to its end): see the module's comment.
    pub(super) fn watched_files_added(&mut self) -> bool {
        let Some(watch) = &mut self.watch else { return false };
        // The directory's last file read (none: every file sorts after it).
        let last = self.files.iter().rev().find(|f| f.parent() == Some(watch.directory.as_path()));
        let last = last.cloned().unwrap_or_default();
        if watch.last_scan.is_some_and(|at| at.elapsed() < SCAN_INTERVAL) {
            return false;
        }
        watch.last_scan = Some(Instant::now());
        let found = watch.scan(&last);
        if found.is_empty() {
            watch.pending_since = None;
            return false;
        }
        if watch.pending_since.get_or_insert_with(Instant::now).elapsed() < ROTATION_GRACE {
            return false;
        }
        watch.pending_since = None;
        for path in &found {
            watch.opened(path);
        }
        tracing::info!(
            followed = %last.display(),
            added = ?found,
            "new files in the followed directory: the followed file is read to its end, then these"
        );
        self.files.extend(found);
        self.files_version += 1;
        true
    }
}

#[cfg(test)]
mod tests;
