//! Rotation of the followed file (`--follow`): truncated in place (`copytruncate`), or renamed
//! away and created again (logrotate's default `create`). Either way the reader goes back to
//! the start of the file the path names, so no line written after the rotation is lost.

use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{files, BlockOptions, LineSource};

/// How long a renamed followed file must have had nothing new before the reader leaves it
/// for the file now at its path: a writer that has not reopened yet still appends to the
/// renamed one, and those lines are read first.
pub(super) const ROTATION_GRACE: Duration = Duration::from_secs(1);

/// The followed file that is open: its identity, and since when its path names another one.
#[derive(Default)]
pub(super) struct Followed {
    /// `(device, inode)` of the open followed file; None when not following a plain file.
    identity: Option<(u64, u64)>,
    /// When the path was first seen naming another file while the open one had nothing new.
    replaced_since: Option<Instant>,
    /// The next pause at the followed file's end (see [`Followed::pause`]); zero: the first.
    pause: Duration,
}

/// Pauses between reads at the end of a followed file with no lines waiting: the first after
/// new bytes, and the longest, reached by doubling while nothing comes. At 5 ms throughout,
/// an idle `run --follow`'s feeder read 200 times a second (~1 % of a core). While a block
/// holds lines the pause stays at the first (an API mutation's `release` flag is seen as
/// soon as before), and no pause runs past the deadline that applies (`linger` or `idle`).
const FIRST_PAUSE: Duration = Duration::from_millis(5);
const LONGEST_PAUSE: Duration = Duration::from_millis(20);

impl Followed {
    /// Opens `path` as [`files::open`] does, remembering its identity when it is `followed`
    /// (taken from the open file, so a rotation right after the open is still noticed).
    pub(super) fn open(&mut self, path: &Path, followed: bool) -> io::Result<Box<dyn Read + Send>> {
        self.identity = None;
        self.replaced_since = None;
        if !followed || !files::is_plain(path) {
            return files::open(path);
        }
        let file = std::fs::File::open(path)?;
        let metadata = file.metadata()?;
        self.identity = Some((metadata.dev(), metadata.ino()));
        Ok(Box::new(file))
    }

    /// The open file had new bytes: a rotation's grace starts again.
    #[inline]
    pub(super) fn grew(&mut self) {
        self.replaced_since = None;
        self.pause = Duration::ZERO;
    }

    /// Waits at the followed file's end before reading again, at most until the deadline
    /// after `since` (the block's `linger` while `holding_lines`, else `idle`): the first
    /// pause while holding lines, else longer each time nothing new came since the last wait.
    pub(super) fn pause(&mut self, holding_lines: bool, since: Instant, options: &BlockOptions) {
        std::thread::sleep(self.next_pause(holding_lines, since.elapsed(), options));
    }

    /// The pause to make after `waited` at the end (see [`Followed::pause`]).
    fn next_pause(&mut self, holding_lines: bool, waited: Duration, options: &BlockOptions) -> Duration {
        let deadline = if holding_lines { Some(options.linger) } else { options.idle };
        let pause = if holding_lines { FIRST_PAUSE } else { self.pause.max(FIRST_PAUSE) };
        if !holding_lines {
            self.pause = (pause * 2).min(LONGEST_PAUSE);
        }
        deadline.map_or(pause, |deadline| pause.min(deadline.saturating_sub(waited)))
    }
}

impl LineSource {
    /// Whether the followed file is now shorter than what was read of it (`pending`: bytes
    /// read past the last line cut): truncated, and perhaps written again since. Logged.
    pub(super) fn truncated_while_followed(&self, pending: usize) -> bool {
        let Some((name, _)) = &self.current else { return false };
        if &**name == "-" {
            return false;
        }
        let read = self.byte_offset + pending as u64;
        match std::fs::metadata(&**name) {
            // Another file at the path is a rotation by renaming, not a truncation.
            Ok(metadata) if self.followed.identity.is_some_and(|id| id != (metadata.dev(), metadata.ino())) => false,
            Ok(metadata) if metadata.len() < read => {
                tracing::warn!(
                    path = %name,
                    length = metadata.len(),
                    read,
                    "the followed input is shorter than what was read of it (truncated): reading it again from its start"
                );
                true
            }
            _ => false,
        }
    }

    /// Whether to leave the followed file, read to its end, for another file now at its path
    /// (it was renamed away, or deleted, and created again): once the path has named another
    /// file for [`ROTATION_GRACE`] with nothing new in the open one. Logged when first seen
    /// and when left. A path that names no file (renamed, not yet created again) keeps the
    /// reader on the open file.
    pub(super) fn replaced_while_followed(&mut self) -> bool {
        let (Some(identity), Some((name, _))) = (self.followed.identity, &self.current) else {
            return false;
        };
        let now = match std::fs::metadata(&**name) {
            Ok(metadata) => (metadata.dev(), metadata.ino()),
            Err(_) => return false,
        };
        if now == identity {
            self.followed.replaced_since = None;
            return false;
        }
        let since = *self.followed.replaced_since.get_or_insert_with(|| {
            tracing::info!(path = %name, "the followed input's path names a new file (rotated): finishing the old one first");
            Instant::now()
        });
        if since.elapsed() < ROTATION_GRACE {
            return false;
        }
        tracing::warn!(
            path = %name,
            lines = self.line_number,
            "the followed input was rotated (renamed and created again): the old file is read to its end; reading the new one from its start"
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn pauses_at_the_end_lengthen_until_the_file_grows() {
        let mut followed = Followed::default();
        let no_deadline = BlockOptions::default();
        let pauses: Vec<Duration> = (0..4).map(|_| followed.next_pause(false, Duration::ZERO, &no_deadline)).collect();
        assert_eq!(pauses, vec![5 * MS, 10 * MS, 20 * MS, 20 * MS]);
        followed.grew();
        assert_eq!(followed.next_pause(false, Duration::ZERO, &no_deadline), 5 * MS);
        // Lines waiting in a block: the first pause, and no lengthening.
        followed.grew();
        assert_eq!(followed.next_pause(true, Duration::ZERO, &no_deadline), 5 * MS);
        assert_eq!(followed.next_pause(true, Duration::ZERO, &no_deadline), 5 * MS);
        assert_eq!(followed.pause, Duration::ZERO);
    }

    /// A pause never runs past `linger` (lines waiting) or `idle` (none): a trickle of a line
    /// every 20–35 ms otherwise found its next line before the reader looked at the clock,
    /// and `linger` never passed (session 29's review).
    #[test]
    fn a_pause_ends_at_the_deadline() {
        let options = BlockOptions {
            linger: 20 * MS,
            idle: Some(20 * MS),
            ..BlockOptions::default()
        };
        let mut followed = Followed::default();
        assert_eq!(followed.next_pause(true, 18 * MS, &options), 2 * MS);
        assert_eq!(followed.next_pause(true, 25 * MS, &options), Duration::ZERO);
        // Idle, the pauses grown to 20 ms: the one after 15 ms of waiting is 5 ms.
        for _ in 0..3 {
            followed.next_pause(false, Duration::ZERO, &options);
        }
        assert_eq!(followed.pause, 20 * MS);
        assert_eq!(followed.next_pause(false, 15 * MS, &options), 5 * MS);
        assert_eq!(followed.next_pause(false, Duration::ZERO, &options), 20 * MS);
    }
}
