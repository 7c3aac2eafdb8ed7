//! What a checkpoint knows of its input files beyond their names: each one's first line
//! (`connectors::jsonl::fingerprint`), so that a restart refuses to read on in a file that was
//! replaced since (its position would fall in other content), and refuses added inputs that
//! are copies of inputs read already (a rotation's `app.log.1`), whose lines would be read
//! twice.

use std::path::{Path, PathBuf};

use connectors::jsonl::{fingerprint, LineSource};

use crate::checkpoint::FilesPosition;

type FirstLine = Option<(u32, u64)>;

fn first_line(path: &Path) -> FirstLine {
    fingerprint(path).ok().flatten().map(|f| (f.len, f.hash))
}

/// Checks a restart's inputs (`paths`, the checkpoint's first, then any added) against the
/// checkpoint's `files` (see the module's comment).
pub(super) fn check_resumed(files: &FilesPosition, paths: &[PathBuf]) -> anyhow::Result<()> {
    let position = files.position;
    if let (Some(path), Some(Some(then))) = (paths.get(position.file), files.first_lines.get(position.file)) {
        if position.byte_offset > 0 && path.as_os_str() != "-" && first_line(path) != Some(*then) {
            anyhow::bail!(
                "{} is not the file the checkpoint was reading (at byte {}, after line {}): its first line changed \
                 (rotated or replaced since the checkpoint?); restore it, or start without the state",
                path.display(),
                position.byte_offset,
                position.line_number
            );
        }
    }
    for added in paths.iter().skip(files.inputs.len()) {
        if first_line(added).is_some_and(|now| read_before(files, now)) {
            anyhow::bail!(
                "the added input {} starts with the first line of an input read already (a rotated copy?): its lines \
                 would be read twice; move it out of the inputs, or start without the state",
                added.display()
            );
        }
    }
    Ok(())
}

fn read_before(files: &FilesPosition, first: (u32, u64)) -> bool {
    files.first_lines.contains(&Some(first)) || files.earlier_first_lines.contains(&first)
}

/// A restart's files of a followed directory (`paths`, its last input, expanded), as the
/// running process would have taken them (`connectors::jsonl` `watch.rs`): the checkpoint's,
/// then files created since that sort after its last one, are plain and are no copy of a
/// file read. Returns the inputs and the files left out (logged). Inputs not in the
/// directory are the command line's, and must be in the checkpoint.
pub(super) fn reconcile_followed(
    files: &FilesPosition,
    directory: &Path,
    paths: &[PathBuf],
) -> anyhow::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let checkpointed: std::collections::HashSet<&str> = files.inputs.iter().map(String::as_str).collect();
    let last = files
        .inputs
        .iter()
        .rev()
        .map(Path::new)
        .find(|input| input.parent() == Some(directory));
    // The checkpoint's inputs, in its order: one deleted since (a segment read and removed
    // by retention) stays in the list, never opened again; one not read to its end yet is
    // looked for, and its absence is the error it always was.
    let mut inputs: Vec<PathBuf> = files.inputs.iter().map(PathBuf::from).collect();
    let mut skipped = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        if checkpointed.contains(name.as_str()) {
            continue;
        }
        if path.parent() != Some(directory) {
            anyhow::bail!(
                "the checkpoint was taken reading {:?}, and {} is not among them: use another --state-dir or the same \
                 inputs (a followed directory may gain files)",
                files.inputs,
                path.display()
            );
        }
        let is_copy = || first_line(path).is_some_and(|first| read_before(files, first));
        match connectors::jsonl::not_read_because(path, last, is_copy) {
            Some(reason) => {
                tracing::info!(path = %path.display(), reason, "a file of the followed directory is not read");
                skipped.push(path.clone());
            }
            None => inputs.push(path.clone()),
        }
    }
    Ok((inputs, skipped))
}

/// Keeps a checkpoint's first lines up to the source (see [`Kept::keep_up`]).
pub(super) struct Kept {
    /// The source's open count and files version last seen.
    opens: u64,
    files_version: u64,
    /// Inputs before this one have their first line taken (or had none when they were read).
    checked: usize,
}

impl Kept {
    /// Inputs before the resumed position were read by earlier runs.
    pub(super) fn resuming(files: &FilesPosition) -> Kept {
        Kept {
            opens: 0,
            files_version: 0,
            checked: files.position.file,
        }
    }

    /// Brings `files` up to the source: the inputs a followed directory added, and the
    /// first lines of the inputs reached since, of the input being read while its first line
    /// is not complete, and of that input when it was opened again (a rotation).
    pub(super) fn keep_up(&mut self, files: &mut FilesPosition, source: &LineSource) {
        if std::mem::replace(&mut self.files_version, source.files_version()) != source.files_version() {
            // A file dropped may have moved an unread one to an index already checked.
            self.checked = self.checked.min(source.position().file);
            // Files a followed directory added or dropped: a restart finds the same files in
            // the directory, in the same order (added ones sort after the others).
            let known: std::collections::HashMap<String, FirstLine> = files.inputs.drain(..).zip(files.first_lines.drain(..)).collect();
            files.inputs = source.files().iter().map(|f| f.display().to_string()).collect();
            files.first_lines = files.inputs.iter().map(|input| known.get(input).copied().flatten()).collect();
        }
        let reopened = std::mem::replace(&mut self.opens, source.opens()) != source.opens();
        files.first_lines.resize(source.files().len(), None);
        let current = source.position().file;
        let reached = (current + 1).min(source.files().len());
        for index in self.checked.min(current)..reached {
            let again = index == current && (reopened || files.first_lines[index].is_none());
            if index >= self.checked || again {
                let now = first_line(&source.files()[index]);
                if let Some(then) = files.first_lines[index].filter(|then| Some(*then) != now) {
                    // Rotated while followed: copies of the old content are not inputs.
                    files.earlier_first_lines.push(then);
                }
                files.first_lines[index] = now;
            }
        }
        self.checked = self.checked.max(reached);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(inputs: &[&Path], file: usize, byte_offset: u64) -> FilesPosition {
        FilesPosition {
            inputs: inputs.iter().map(|p| p.display().to_string()).collect(),
            position: connectors::jsonl::FilePosition {
                file,
                byte_offset,
                line_number: 1,
            },
            done: false,
            first_lines: inputs.iter().map(|p| first_line(p)).collect(),
            earlier_first_lines: Vec::new(),
        }
    }

    /// A replaced input is refused, an added copy too (also of a file rotated away while
    /// followed), an added new file is not.
    #[test]
    fn a_replaced_input_and_an_added_copy_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, copy) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
        std::fs::write(&a, "{\"a\":1}\n{\"a\":2}\n").unwrap();
        let files = position(&[&a], 0, 8);
        check_resumed(&files, std::slice::from_ref(&a)).unwrap();
        std::fs::write(&b, "{\"b\":1}\n").unwrap();
        check_resumed(&files, &[a.clone(), b.clone()]).unwrap();
        std::fs::write(&copy, "{\"a\":1}\n").unwrap();
        let error = check_resumed(&files, &[a.clone(), copy.clone()]).unwrap_err().to_string();
        assert!(error.contains("starts with the first line of an input read already"), "{error}");
        let mut rotated = position(&[&b], 0, 8);
        rotated.earlier_first_lines = vec![first_line(&a).unwrap()];
        assert!(check_resumed(&rotated, &[b.clone(), copy.clone()]).is_err());
        std::fs::write(&a, "{\"x\":1}\n{\"x\":2}\n").unwrap();
        let error = check_resumed(&files, std::slice::from_ref(&a)).unwrap_err().to_string();
        assert!(error.contains("is not the file the checkpoint was reading"), "{error}");
    }

    /// A restart of a followed directory takes the files as the running process would have:
    /// a read file deleted since stays (never opened), new files sorting after are added, and
    /// copies, files sorting before and compressed files are left out; an explicit input not
    /// in the checkpoint is refused.
    #[test]
    fn a_followed_directory_restarts_with_the_files_the_running_process_would_take() {
        let dir = tempfile::tempdir().unwrap();
        let directory = dir.path();
        let file = |name: &str, text: &str| {
            let path = directory.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let (b, c) = (file("b.jsonl", "{\"b\":1}\n"), file("c.jsonl", "{\"c\":1}\n"));
        let a = directory.join("a.jsonl");
        let mut files = position(&[&b, &c], 1, 8);
        files.inputs.insert(0, a.display().to_string());
        files.first_lines.insert(0, Some((7, 1)));
        files.position.file = 2;
        let (early, copy, gz, d) = (
            file("b0.jsonl", "{\"early\":1}\n"),
            file("c.jsonl.1", "{\"c\":1}\n"),
            file("e.jsonl.gz", "zz"),
            file("d.jsonl", "{\"d\":1}\n"),
        );
        let expanded = connectors::jsonl::expand_followed_inputs(&[directory.to_path_buf()]).unwrap();
        let (inputs, skipped) = reconcile_followed(&files, directory, &expanded).unwrap();
        assert_eq!(inputs, vec![a, b, c, d]);
        assert_eq!(skipped, vec![early, copy, gz]);
        let other = directory.join("x").join("listed.jsonl");
        let error = reconcile_followed(&files, directory, &[other]).unwrap_err().to_string();
        assert!(error.contains("is not among them"), "{error}");
    }
}
