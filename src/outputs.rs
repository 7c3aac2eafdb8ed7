//! What every output file and sink shares: syncing a file and its directory, and failing
//! for good after the first lost write.

use std::fs::File;
use std::path::Path;

use anyhow::Context;

/// The first error of an output's writes: it lost what that write carried (or left part of
/// it), so every later operation fails with it instead of running, and no checkpoint covers
/// the loss; the process stops at its next checkpoint or its end, and a restart writes
/// everything after the previous checkpoint again.
pub(crate) struct FirstFailure {
    what: &'static str,
    error: Option<String>,
}

impl FirstFailure {
    pub(crate) fn of(what: &'static str) -> Self {
        FirstFailure { what, error: None }
    }

    /// Runs `operation` unless an earlier one failed, and keeps its error if it fails.
    pub(crate) fn guard<T>(&mut self, operation: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
        if let Some(error) = &self.error {
            return Err(std::io::Error::other(format!("{} failed: {error}", self.what)));
        }
        operation().inspect_err(|error| self.error = Some(error.to_string()))
    }
}

/// Syncs the directory of a file just opened for output, so that a file a checkpoint
/// measures does not vanish with a power loss (its data is synced at each checkpoint).
pub(crate) fn sync_parent(path: &Path) -> std::io::Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match File::open(parent) {
        Ok(dir) if dir.metadata()?.is_dir() => dir.sync_all(),
        // Not a directory one can open (a device's parent, permissions): nothing to sync.
        _ => Ok(()),
    }
}

/// Syncs an output file's data and returns its length; a device or pipe (`/dev/null`,
/// `/dev/stdout`) has nothing to sync (fsync may refuse it) and no length to cut back to.
pub(crate) fn sync_file(file: &File) -> std::io::Result<u64> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(0);
    }
    file.sync_data()?;
    Ok(meta.len())
}

/// Checks the output files before anything runs (`outputs`: each output's flag and path, if
/// any; `-` is a standard stream). An output whose directory is missing, or that is a
/// directory, is refused: found only at the end of a long backfill, or at the first dead
/// letter, it lost the run's work. So is an output that is one of the input files: writing
/// it would truncate a file being read (a mapped input then faults, SIGBUS) or feed a run's
/// dead letters into the next run that reads the same directory.
pub(crate) fn check_outputs(inputs: &[std::path::PathBuf], outputs: &[(&str, Option<&Path>)]) -> anyhow::Result<()> {
    for &(flag, path) in outputs {
        let Some(path) = path.filter(|p| p.as_os_str() != "-") else {
            continue;
        };
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !parent.is_dir() {
            anyhow::bail!("{flag} {}: the directory {} does not exist", path.display(), parent.display());
        }
        if path.is_dir() {
            anyhow::bail!("{flag} {} is a directory: name a file", path.display());
        }
    }
    // Two outputs in one file would overwrite or interleave each other (the last one
    // written won, silently).
    let mut named: Vec<(&str, &Path, std::path::PathBuf)> = Vec::new();
    for &(flag, path) in outputs {
        let Some(path) = path.filter(|p| p.as_os_str() != "-") else {
            continue;
        };
        let Some(identity) = identity(path) else { continue };
        if let Some((other, other_path, _)) = named.iter().find(|(_, _, seen)| *seen == identity) {
            anyhow::bail!(
                "{flag} {} and {other} {} are the same file: give each output its own",
                path.display(),
                other_path.display()
            );
        }
        named.push((flag, path, identity));
    }
    // Only outputs that exist can be inputs; `-` is a standard stream.
    // (An existing output's identity is its canonical path, as an input's is.)
    let existing: Vec<&(&str, &Path, std::path::PathBuf)> = named.iter().filter(|(_, path, _)| path.exists()).collect();
    if existing.is_empty() || inputs.is_empty() {
        return Ok(());
    }
    // A followed directory may be empty (its files are read as they are created).
    for file in connectors::jsonl::expand_followed_inputs(inputs)? {
        let Ok(input) = std::fs::canonicalize(&file) else { continue };
        if let Some((flag, path, _)) = existing.iter().find(|(_, _, output)| *output == input) {
            anyhow::bail!(
                "{flag} {} is also an input ({}): choose an output outside the inputs",
                path.display(),
                file.display()
            );
        }
    }
    Ok(())
}

/// Refuses outputs in a followed input directory (and the directory as the state
/// directory), whose new files are read as inputs: the run would read what it writes.
pub(crate) fn check_outside_followed(directory: &Path, outputs: &[(&str, Option<&Path>)]) -> anyhow::Result<()> {
    let Ok(directory) = std::fs::canonicalize(directory) else {
        return Ok(());
    };
    for (flag, path) in outputs {
        let Some(path) = path.filter(|p| p.as_os_str() != "-") else {
            continue;
        };
        let Some(identity) = identity(path) else { continue };
        // The state directory's files are one level down, where inputs are not read.
        let inside = *flag != "--state-dir" && identity.parent() == Some(directory.as_path());
        if identity == directory || inside {
            anyhow::bail!(
                "{flag} {} is in the followed input directory {}, whose new files are read as inputs: choose a place outside it",
                path.display(),
                directory.display()
            );
        }
    }
    Ok(())
}

/// Where `path` is, whether or not the file exists yet: its canonical path, or its canonical
/// directory and its name.
fn identity(path: &Path) -> Option<std::path::PathBuf> {
    if let Ok(canonical) = std::fs::canonicalize(path) {
        return Some(canonical);
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Some(std::fs::canonicalize(parent).ok()?.join(path.file_name()?))
}

/// Empties a regular file an earlier run left at an output's path: the file is written only
/// once there is something to write (a dead letter), so a run without any would leave the
/// last run's records there, read as this run's. Devices (`/dev/null`) are left alone.
pub(crate) fn clear_stale(path: &Path, flag: &str) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_file() && metadata.len() > 0 => {
            std::fs::File::create(path).with_context(|| format!("{flag} {}: cannot empty the last run's file", path.display()))?;
            tracing::info!(path = %path.display(), "emptied the previous run's {flag} file");
            Ok(())
        }
        _ => Ok(()),
    }
}
