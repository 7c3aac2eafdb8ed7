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
        let now = first_line(added);
        if let Some(index) = now.and_then(|now| files.first_lines.iter().position(|then| *then == Some(now))) {
            anyhow::bail!(
                "the added input {} starts with the first line of {}, read already (a rotated copy?): its lines would \
                 be read twice; move it out of the inputs, or start without the state",
                added.display(),
                files.inputs.get(index).map_or("an input", String::as_str)
            );
        }
    }
    Ok(())
}

/// Keeps a checkpoint's first lines up to the source (see [`Kept::keep_up`]).
pub(super) struct Kept {
    /// The source's open count last seen.
    opens: u64,
    /// Inputs before this one have their first line taken (or had none when they were read).
    checked: usize,
}

impl Kept {
    /// Inputs before the resumed position were read by earlier runs.
    pub(super) fn resuming(files: &FilesPosition) -> Kept {
        Kept {
            opens: 0,
            checked: files.position.file,
        }
    }

    /// Brings `files` up to the source: the inputs a followed directory added, and the
    /// first lines of the inputs reached since, of the input being read while its first line
    /// is not complete, and of that input when it was opened again (a rotation).
    pub(super) fn keep_up(&mut self, files: &mut FilesPosition, source: &LineSource) {
        if files.inputs.len() < source.files().len() {
            // New files of the followed directory: a restart finds them in the directory, in
            // the same order (they sort after the others).
            files.inputs = source.files().iter().map(|f| f.display().to_string()).collect();
        }
        let reopened = std::mem::replace(&mut self.opens, source.opens()) != source.opens();
        files.first_lines.resize(source.files().len(), None);
        let current = source.position().file;
        let reached = (current + 1).min(source.files().len());
        for index in self.checked.min(current)..reached {
            let again = index == current && (reopened || files.first_lines[index].is_none());
            if index >= self.checked || again {
                files.first_lines[index] = first_line(&source.files()[index]);
            }
        }
        self.checked = self.checked.max(reached);
    }
}
