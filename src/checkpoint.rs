//! Checkpoints: the complete dataflow state at an epoch boundary plus the input positions
//! that produced it, written atomically (temporary file, fsync, rename, directory fsync) with
//! a checksum, so a restart resumes exactly where the state stops: no input lost, none
//! applied twice.
//!
//! File layout: `OCCURRENT-CHECKPOINT\n`, format version (u32 LE), then postcard-encoded
//! [`CheckpointBody`], then the xxh3-64 of everything before it (u64 LE). postcard (a compact,
//! stable serde format) rather than JSON: at a million groups JSON is ~4x larger and slower.
//!
//! One process: `checkpoint-<sequence>.bin`. A cluster: `cluster-<N>-<I>-e<epoch>.bin`, process
//! I's part of the cut at `epoch` (same layout); a restart uses the newest epoch every process
//! has ([`agree`]).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use connectors::jsonl::FilePosition;
use dataflows::model::ProjectId;
use dataflows::state::ProjectState;
use dataflows::views::IssueViews;
use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

const MAGIC: &[u8] = b"OCCURRENT-CHECKPOINT\n";
/// 2: views and project state keep per-hour users and per-environment hours.
/// 3: mutation log position, group lifecycle and triage state.
/// 4: views keep occurrences per facet (environment, release, level) and hour.
/// 5: triage keeps share ids, subscriptions and inbox changes; status details upcoming and
///    future releases and commits.
/// 6: views keep per-hour users in a dense vector and no longer store the key → index map.
/// 7: the ingest state prunes per-hour users at the retention cut (it keeps the cut).
/// 8: rows keep their inbox date and unhandled flag; projects keep their releases in order
///    and release resolutions a release key.
const FORMAT_VERSION: u32 = 8;
/// Checkpoints kept besides the newest, in case the newest turns out unreadable.
const KEEP: usize = 2;

/// Where every input stands: everything before these positions is in the state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Positions {
    /// The first epoch after the checkpoint; epochs keep increasing across restarts.
    pub next_epoch: u64,
    pub files: Option<FilesPosition>,
    pub kafka: Option<KafkaPosition>,
    /// Length of the dead-letter file at the checkpoint (it is cut back to this on restore,
    /// so replayed rejections are not written twice).
    pub dead_letter_bytes: Option<u64>,
    /// Entries of the mutation log the state contains (the next one is replayed first).
    pub mutations_applied: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FilesPosition {
    /// The inputs as expanded at start, to detect a restart with other inputs.
    pub inputs: Vec<String>,
    pub position: FilePosition,
    pub done: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KafkaPosition {
    pub topic: String,
    pub partition_count: usize,
    /// Next offset per partition (every partition read so far, by any process). A bounded
    /// run restarted from here reads on to the end found by the restarted run.
    pub offsets: BTreeMap<i32, i64>,
}

#[derive(Serialize, Deserialize)]
pub struct CheckpointBody {
    pub positions: Positions,
    pub next_id: u64,
    pub views: IssueViews,
    /// Each worker's projects, postcard-encoded by the worker itself.
    pub workers: Vec<Vec<u8>>,
}

/// The same encoding, written from borrowed parts (the live views are not copied).
#[derive(Serialize)]
pub struct CheckpointBodyRef<'a> {
    pub positions: &'a Positions,
    pub next_id: u64,
    pub views: &'a IssueViews,
    pub workers: Vec<Vec<u8>>,
}

pub struct Restored {
    pub path: PathBuf,
    pub positions: Positions,
    pub next_id: u64,
    pub views: IssueViews,
    pub projects: HashMap<ProjectId, ProjectState>,
}

pub fn encode_projects(projects: &HashMap<ProjectId, ProjectState>) -> anyhow::Result<Vec<u8>> {
    postcard::to_stdvec(projects).context("cannot encode the project state")
}

/// Writes `body` as checkpoint `sequence` in `dir` and removes older ones beyond [`KEEP`].
/// Returns the file written and its size.
pub fn write(dir: &Path, sequence: u64, body: &CheckpointBodyRef<'_>) -> anyhow::Result<(PathBuf, u64)> {
    let written = write_named(dir, &format!("checkpoint-{sequence:012}.bin"), body)?;
    for old in list(dir)?.into_iter().rev().skip(KEEP + 1) {
        let _ = fs::remove_file(old.1);
    }
    Ok(written)
}

/// Encodes `body` to `dir/name` atomically: temporary file, fsync, rename, directory fsync.
fn write_named(dir: &Path, name: &str, body: &CheckpointBodyRef<'_>) -> anyhow::Result<(PathBuf, u64)> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut bytes = Vec::with_capacity(1 << 20);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let bytes = postcard::to_io(body, bytes).context("cannot encode the checkpoint")?;
    let mut bytes = bytes;
    let checksum = xxhash_rust::xxh3::xxh3_64(&bytes);
    bytes.extend_from_slice(&checksum.to_le_bytes());

    let path = dir.join(name);
    let temporary = dir.join(format!(".{name}.tmp"));
    {
        let mut file = File::create(&temporary).with_context(|| format!("cannot create {}", temporary.display()))?;
        file.write_all(&bytes)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        file.sync_all().with_context(|| format!("cannot sync {}", temporary.display()))?;
    }
    fs::rename(&temporary, &path).with_context(|| format!("cannot rename {} to {}", temporary.display(), path.display()))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync {}", dir.display()))?;
    Ok((path, bytes.len() as u64))
}

/// Checkpoint files in `dir`, oldest first, with their sequence numbers.
fn list(dir: &Path) -> anyhow::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(sequence) = name.strip_prefix("checkpoint-").and_then(|n| n.strip_suffix(".bin")) {
            if let Ok(sequence) = sequence.parse::<u64>() {
                found.push((sequence, entry.path()));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The sequence number the next checkpoint in `dir` should take.
pub fn next_sequence(dir: &Path) -> anyhow::Result<u64> {
    Ok(list(dir)?.last().map_or(1, |(sequence, _)| sequence + 1))
}

fn read(path: &Path) -> anyhow::Result<CheckpointBody> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let header = MAGIC.len() + 4;
    let content = verify(&bytes)?;
    postcard::from_bytes(&content[header..]).context("cannot decode")
}

/// Checks the header, checksum and format version; returns the checksummed content.
fn verify(bytes: &[u8]) -> anyhow::Result<&[u8]> {
    let header = MAGIC.len() + 4;
    if bytes.len() < header + 8 || !bytes.starts_with(MAGIC) {
        anyhow::bail!("not a checkpoint (bad header)");
    }
    let (content, checksum) = bytes.split_at(bytes.len() - 8);
    let expected = u64::from_le_bytes(checksum.try_into().expect("eight bytes"));
    if xxhash_rust::xxh3::xxh3_64(content) != expected {
        anyhow::bail!("checksum mismatch (partial or corrupt file)");
    }
    let version = u32::from_le_bytes(content[MAGIC.len()..header].try_into().expect("four bytes"));
    if version != FORMAT_VERSION {
        anyhow::bail!("format version {version}, this build reads {FORMAT_VERSION}");
    }
    Ok(content)
}

/// Loads the newest valid checkpoint in `dir`; invalid ones are skipped with a warning.
pub fn load_newest(dir: &Path) -> anyhow::Result<Option<Restored>> {
    for (_, path) in list(dir)?.into_iter().rev() {
        let started = Instant::now();
        let body = match read(&path) {
            Ok(body) => body,
            Err(error) => {
                tracing::warn!(path = %path.display(), error = format!("{error:#}"), "skipping an unusable checkpoint");
                continue;
            }
        };
        let mut projects = HashMap::default();
        for blob in &body.workers {
            let part: HashMap<ProjectId, ProjectState> = match postcard::from_bytes(blob) {
                Ok(part) => part,
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "skipping a checkpoint whose worker state does not decode");
                    projects.clear();
                    break;
                }
            };
            projects.extend(part);
        }
        if projects.is_empty() && body.workers.iter().any(|w| w.len() > 1) {
            continue;
        }
        tracing::info!(path = %path.display(), groups = body.views.len(), seconds = started.elapsed().as_secs_f64(), "loaded checkpoint");
        return Ok(Some(Restored {
            path,
            positions: body.positions,
            next_id: body.next_id,
            views: body.views,
            projects,
        }));
    }
    Ok(None)
}

/// A process's place in a cluster: cluster checkpoints are named by it and by their epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterShape {
    pub processes: usize,
    pub process: usize,
}

impl ClusterShape {
    fn prefix(&self) -> String {
        format!("cluster-{}-{}-e", self.processes, self.process)
    }
}

/// Writes this process's part of the cluster cut at `epoch` (every process writes one, with
/// the same epoch) and removes this process's older ones beyond [`KEEP`].
pub fn write_cluster(dir: &Path, shape: ClusterShape, epoch: u64, body: &CheckpointBodyRef<'_>) -> anyhow::Result<(PathBuf, u64)> {
    let written = write_named(dir, &format!("{}{epoch:020}.bin", shape.prefix()), body)?;
    for (_, old) in list_cluster(dir, shape)?.into_iter().rev().skip(KEEP + 1) {
        let _ = fs::remove_file(old);
    }
    Ok(written)
}

/// This process's cluster checkpoint files, oldest epoch first. Files of another cluster
/// shape are reported, not used: their state is partitioned differently.
fn list_cluster(dir: &Path, shape: ClusterShape) -> anyhow::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", dir.display())),
    };
    let prefix = shape.prefix();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(epoch) = name.strip_prefix(prefix.as_str()).and_then(|n| n.strip_suffix(".bin")) {
            if let Ok(epoch) = epoch.parse::<u64>() {
                found.push((epoch, entry.path()));
            }
        } else if name.starts_with("cluster-") && name.ends_with(".bin") {
            tracing::warn!(file = name, expected = %prefix, "ignoring a checkpoint of another cluster shape (processes or process index)");
        }
    }
    found.sort();
    Ok(found)
}

/// The epochs of this process's cluster checkpoints whose checksum verifies, oldest first.
pub fn cluster_epochs(dir: &Path, shape: ClusterShape) -> anyhow::Result<Vec<u64>> {
    let mut epochs = Vec::new();
    for (epoch, path) in list_cluster(dir, shape)? {
        let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        match verify(&bytes) {
            Ok(_) => epochs.push(epoch),
            Err(error) => {
                tracing::warn!(path = %path.display(), error = format!("{error:#}"), "skipping an unusable checkpoint")
            }
        }
    }
    Ok(epochs)
}

/// Loads this process's cluster checkpoint at `epoch` (chosen by [`agree`]).
pub fn load_cluster(dir: &Path, shape: ClusterShape, epoch: u64) -> anyhow::Result<Restored> {
    let path = dir.join(format!("{}{epoch:020}.bin", shape.prefix()));
    let body = read(&path).with_context(|| format!("cannot load {}", path.display()))?;
    let mut projects = HashMap::default();
    for blob in &body.workers {
        let part: HashMap<ProjectId, ProjectState> =
            postcard::from_bytes(blob).with_context(|| format!("the worker state in {} does not decode", path.display()))?;
        projects.extend(part);
    }
    Ok(Restored {
        path,
        positions: body.positions,
        next_id: body.next_id,
        views: body.views,
        projects,
    })
}

/// Removes this process's cluster checkpoints after `keep` (all of them for None): a restart
/// from an older cut replays past them, and a stale one must never be matched with another
/// process's checkpoint of the same epoch from the new run.
pub fn discard_cluster_after(dir: &Path, shape: ClusterShape, keep: Option<u64>) -> anyhow::Result<()> {
    for (epoch, path) in list_cluster(dir, shape)? {
        if keep.is_none_or(|keep| epoch > keep) {
            tracing::info!(path = %path.display(), "removing a checkpoint newer than the cluster's common one");
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// The cut a restarted cluster resumes from: the newest epoch every process has a valid
/// checkpoint for (`available[p]`: process p's epochs). None: a fresh start (the caller warns
/// when some process had checkpoints that cannot be used).
pub fn agree(available: &[Vec<u64>]) -> Option<u64> {
    let (first, others) = available.split_first()?;
    first
        .iter()
        .copied()
        .filter(|epoch| others.iter().all(|list| list.contains(epoch)))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(next_epoch: u64) -> (Positions, IssueViews) {
        (
            Positions {
                next_epoch,
                ..Positions::default()
            },
            IssueViews::default(),
        )
    }

    fn write(dir: &Path, sequence: u64, (positions, views): &(Positions, IssueViews)) -> anyhow::Result<(PathBuf, u64)> {
        let body = CheckpointBodyRef {
            positions,
            next_id: 7,
            views,
            workers: vec![encode_projects(&HashMap::default()).unwrap()],
        };
        super::write(dir, sequence, &body)
    }

    #[test]
    fn newest_valid_checkpoint_wins_and_corrupt_ones_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), 1, &body(10)).unwrap();
        let (newest, _) = write(dir.path(), 2, &body(20)).unwrap();
        assert_eq!(load_newest(dir.path()).unwrap().unwrap().positions.next_epoch, 20);
        // Flip one byte of the newest: its checksum fails and the older one is used.
        let mut bytes = fs::read(&newest).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        fs::write(&newest, &bytes).unwrap();
        assert_eq!(load_newest(dir.path()).unwrap().unwrap().positions.next_epoch, 10);
        // A truncated file (a crash mid-write without the rename) is skipped too.
        fs::write(dir.path().join("checkpoint-000000000003.bin"), &bytes[..bytes.len() / 3]).unwrap();
        assert_eq!(load_newest(dir.path()).unwrap().unwrap().positions.next_epoch, 10);
        assert_eq!(next_sequence(dir.path()).unwrap(), 4);
    }

    #[test]
    fn a_cluster_resumes_from_the_newest_checkpoint_every_process_has() {
        // Process 1 died before writing the cut at 300: both go back to 200.
        assert_eq!(agree(&[vec![100, 200, 300], vec![100, 200]]), Some(200));
        assert_eq!(agree(&[vec![200], vec![100, 200, 300], vec![200, 300]]), Some(200));
        // Nothing in common (or nothing at all): a fresh start.
        assert_eq!(agree(&[vec![100], vec![200]]), None);
        assert_eq!(agree(&[vec![], vec![100]]), None);
        assert_eq!(agree(&[vec![], vec![]]), None);
        assert_eq!(agree(&[]), None);
    }

    #[test]
    fn cluster_checkpoints_are_per_process_kept_three_and_discarded_after_a_cut() {
        let dir = tempfile::tempdir().unwrap();
        let (positions, views) = body(0);
        let shape = |process| ClusterShape { processes: 2, process };
        let body = CheckpointBodyRef {
            positions: &positions,
            next_id: 7,
            views: &views,
            workers: vec![encode_projects(&HashMap::default()).unwrap()],
        };
        for epoch in [10, 20, 30, 40] {
            write_cluster(dir.path(), shape(0), epoch, &body).unwrap();
        }
        write_cluster(dir.path(), shape(1), 40, &body).unwrap();
        assert_eq!(cluster_epochs(dir.path(), shape(0)).unwrap(), vec![20, 30, 40]);
        assert_eq!(cluster_epochs(dir.path(), shape(1)).unwrap(), vec![40]);
        // A corrupt file does not count as available.
        let path = dir.path().join("cluster-2-0-e00000000000000000040.bin");
        let mut bytes = fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        assert_eq!(cluster_epochs(dir.path(), shape(0)).unwrap(), vec![20, 30]);
        assert_eq!(load_cluster(dir.path(), shape(0), 30).unwrap().next_id, 7);
        discard_cluster_after(dir.path(), shape(0), Some(20)).unwrap();
        assert_eq!(cluster_epochs(dir.path(), shape(0)).unwrap(), vec![20]);
        discard_cluster_after(dir.path(), shape(1), None).unwrap();
        assert!(cluster_epochs(dir.path(), shape(1)).unwrap().is_empty());
    }

    #[test]
    fn old_checkpoints_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        for sequence in 1..=6 {
            write(dir.path(), sequence, &body(sequence)).unwrap();
        }
        let kept: Vec<u64> = list(dir.path()).unwrap().into_iter().map(|(s, _)| s).collect();
        assert_eq!(kept, vec![4, 5, 6]);
    }

    #[test]
    fn windowed_view_data_survives_a_checkpoint() {
        use dataflows::state::GroupKey;
        use dataflows::views::Activity;
        let key = GroupKey { project: 1, short_id: 1 };
        let (positions, mut views) = body(1);
        views.apply_user_hours(vec![((key, 5, 9), 0, 1), ((key, 6, 1 << 40), 0, 1)]);
        views.apply_activity(vec![
            (Activity::Hour(key, 5), 0, 2),
            (Activity::Environment(key, 3), 0, 1),
            (Activity::EnvironmentHour(key, 3, 5), 0, 1),
        ]);
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), 1, &(positions, views)).unwrap();
        let restored = load_newest(dir.path()).unwrap().unwrap().views;
        assert_eq!(restored.user_hours(key), Some(&[[5, 9, 0], [6, 0, 256]][..]));
        assert_eq!(restored.environment_hours(key), Some(&[(3, 5, 1)][..]));
    }
}
