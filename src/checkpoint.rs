//! Checkpoints: the complete dataflow state at an epoch boundary plus the input positions
//! that produced it, written atomically (temporary file, fsync, rename, directory fsync) with
//! a checksum, so a restart resumes exactly where the state stops: no input lost, none
//! applied twice.
//!
//! File layout: `OCCURRENT-CHECKPOINT\n`, format version (u32 LE), then postcard-encoded
//! [`CheckpointBody`], then the xxh3-64 of everything before it (u64 LE). postcard (a compact,
//! stable serde format) rather than JSON: at a million groups JSON is ~4x larger and slower.
//!
//! A checkpoint is a cut at an epoch, in parts: `cut-e<epoch>-<N>-<I>.bin` is process I's part
//! of an N-process run's cut (one process: `-1-0`). A restart uses the newest cut whose N parts
//! are all present and valid ([`choose`]), whatever N was: the parts' projects are re-sharded
//! over the new workers, each Kafka partition resumes from the offset its owner recorded
//! ([`merge_positions`]), and the views come from part 0. Earlier builds named files
//! `checkpoint-<sequence>.bin` or `cluster-<N>-<I>-e<epoch>.bin` (format 7 and older); they
//! are refused with an error, not silently ignored.

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
/// 9: files are cut parts named by epoch and process count, loadable by another process
///    count (same body as 8).
/// 10: views keep occurrence details (second, facet, user) instead of per-hour users; the
///     ingest state no longer keeps (group, hour, user).
/// 11: occurrence details are stored per group as sorted runs (main and late side runs) of
///     20-byte entries whose facet is an index into a table of facet ids.
/// 13: occurrence details' entries are 16 bytes: the user is an index into a table of users.
/// 14: positions keep the change feed file's length.
/// 15: positions keep each input file's first line (`connectors::jsonl::fingerprint`).
/// 16: positions keep the first lines of inputs rotated while followed.
const FORMAT_VERSION: u32 = 16;
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
    /// Length of the change feed file (`--change-feed`) at the checkpoint, every change the
    /// checkpoint covers written and flushed: cut back to this on restore, so the feed holds
    /// each change once and the replay continues it.
    pub change_feed_bytes: Option<u64>,
    /// Entries of the mutation log the state contains (the next one is replayed first).
    pub mutations_applied: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FilesPosition {
    /// The inputs as expanded at start, to detect a restart with other inputs.
    pub inputs: Vec<String>,
    pub position: FilePosition,
    pub done: bool,
    /// Each input's first line as it was read (`(length, xxh3)`; None while it was not
    /// complete): a restart knows a replaced input, and a copy of one among added inputs.
    pub first_lines: Vec<Option<(u32, u64)>>,
    /// First lines of inputs read and then replaced at their path while followed (rotated):
    /// their copies are not inputs either.
    pub earlier_first_lines: Vec<(u32, u64)>,
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
        return Err(OtherFormat { version }.into());
    }
    Ok(content)
}

/// A complete checkpoint (its checksum verifies) in another format than this build's: an
/// error for the run, not a file to skip, so that a run never starts afresh beside a state it
/// cannot read (a partial or corrupt file is skipped: an older cut stands in for it).
#[derive(Debug)]
struct OtherFormat {
    version: u32,
}

impl std::fmt::Display for OtherFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a checkpoint of another build (format version {}, this build reads {FORMAT_VERSION}): run the build that \
             wrote it, or remove the directory's checkpoints to start afresh",
            self.version
        )
    }
}

impl std::error::Error for OtherFormat {}

/// A process's place in a run: its parts of cuts are named by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterShape {
    pub processes: usize,
    pub process: usize,
}

/// One file of a cut: process `part`'s share of an `processes`-process run's cut at `epoch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PartName {
    pub epoch: u64,
    pub processes: usize,
    pub part: usize,
}

impl PartName {
    fn file_name(&self) -> String {
        format!("cut-e{:020}-{}-{}.bin", self.epoch, self.processes, self.part)
    }

    fn parse(name: &str) -> Option<PartName> {
        let rest = name.strip_prefix("cut-e")?.strip_suffix(".bin")?;
        let mut fields = rest.split('-');
        let epoch = fields.next()?.parse().ok()?;
        let processes = fields.next()?.parse().ok()?;
        let part = fields.next()?.parse().ok()?;
        (fields.next().is_none() && part < processes).then_some(PartName { epoch, processes, part })
    }
}

/// Writes this process's part of the cut at `epoch` and removes parts (of any shape) older
/// than the newest [`KEEP`] + 1 cuts this process wrote.
pub fn write_part(dir: &Path, shape: ClusterShape, epoch: u64, body: &CheckpointBodyRef<'_>) -> anyhow::Result<(PathBuf, u64)> {
    let name = PartName {
        epoch,
        processes: shape.processes,
        part: shape.process,
    };
    let written = write_named(dir, &name.file_name(), body)?;
    remove_stale_temporaries(dir, shape)?;
    let files = list_parts(dir)?;
    let mut own: Vec<u64> = files
        .iter()
        .filter(|(n, _)| n.processes == shape.processes && n.part == shape.process)
        .map(|(n, _)| n.epoch)
        .collect();
    own.sort_unstable();
    own.dedup();
    if let Some(&oldest_kept) = own.iter().rev().nth(KEEP) {
        for (name, path) in files {
            if name.epoch < oldest_kept {
                // Another process sharing the directory may have removed it already.
                let _ = fs::remove_file(path);
            }
        }
    }
    Ok(written)
}

/// Removes the temporary files of this process's parts that a write interrupted by a crash
/// (SIGKILL, power loss) left behind: each is a whole checkpoint's size. Only this process
/// writes its parts' temporaries, and not while this runs.
pub fn remove_stale_temporaries(dir: &Path, shape: ClusterShape) -> anyhow::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(part) = name
            .to_str()
            .and_then(|n| n.strip_prefix('.')?.strip_suffix(".tmp"))
            .and_then(PartName::parse)
        else {
            continue;
        };
        if part.processes == shape.processes && part.part == shape.process {
            tracing::info!(path = %entry.path().display(), "removing a checkpoint left unfinished by an earlier crash");
            match fs::remove_file(entry.path()) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error).with_context(|| format!("cannot remove {}", entry.path().display())),
            }
        }
    }
    Ok(())
}

/// The cut parts in `dir`. Checkpoints of an earlier build (other names) are an error: a run
/// must not silently start afresh beside state it cannot read.
fn list_parts(dir: &Path) -> anyhow::Result<Vec<(PartName, PathBuf)>> {
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
        if let Some(part) = PartName::parse(name) {
            found.push((part, entry.path()));
        } else if (name.starts_with("checkpoint-") || name.starts_with("cluster-")) && name.ends_with(".bin") {
            anyhow::bail!(
                "{} is a checkpoint of an earlier build (format 8 or older; this build reads format {FORMAT_VERSION}, \
                 files named cut-e<epoch>-<processes>-<process>.bin): run the build that wrote it, or remove the \
                 directory's checkpoints to start afresh",
                entry.path().display()
            );
        }
    }
    found.sort();
    Ok(found)
}

/// The parts in `dir` whose checksum and format verify.
pub fn valid_parts(dir: &Path) -> anyhow::Result<Vec<PartName>> {
    let mut parts = Vec::new();
    for (name, path) in list_parts(dir)? {
        let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        match verify(&bytes) {
            Ok(_) => parts.push(name),
            Err(error) if error.downcast_ref::<OtherFormat>().is_some() => {
                return Err(error.context(format!("{} is unusable", path.display())));
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), error = format!("{error:#}"), "skipping an unusable checkpoint")
            }
        }
    }
    Ok(parts)
}

/// The cut to resume from: the newest epoch with every part of some run present in `parts`
/// (the valid parts every process of the restarting run can see). Returns (epoch, processes).
pub fn choose(parts: &[PartName]) -> Option<(u64, usize)> {
    let mut complete = parts
        .iter()
        .filter(|p| {
            (0..p.processes).all(|part| {
                parts.contains(&PartName {
                    epoch: p.epoch,
                    processes: p.processes,
                    part,
                })
            })
        })
        .map(|p| (p.epoch, std::cmp::Reverse(p.processes)))
        .collect::<Vec<_>>();
    complete.sort_unstable();
    complete.last().map(|(epoch, processes)| (*epoch, processes.0))
}

/// Loads one part.
pub fn load_part(dir: &Path, name: PartName) -> anyhow::Result<Restored> {
    let path = dir.join(name.file_name());
    let body = read(&path).with_context(|| format!("cannot load {}", path.display()))?;
    if body.positions.next_epoch != name.epoch {
        anyhow::bail!(
            "{} holds epoch {}, not the {} its name says",
            path.display(),
            body.positions.next_epoch,
            name.epoch
        );
    }
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

/// The positions of a whole cut from its parts' (part index, positions): each Kafka partition
/// from the part of the process that read it (partition p belonged to process p mod N), the
/// rest from part 0 (a cluster reads no files and takes no mutations).
pub fn merge_positions(parts: &[(usize, Positions)], processes: usize) -> Positions {
    let mut merged = parts
        .iter()
        .find(|(part, _)| *part == 0)
        .map(|(_, positions)| positions.clone())
        .unwrap_or_default();
    merged.dead_letter_bytes = None;
    merged.change_feed_bytes = None;
    if let Some(kafka) = &mut merged.kafka {
        kafka.offsets.clear();
        for (part, positions) in parts {
            for (&partition, &offset) in positions.kafka.iter().flat_map(|k| k.offsets.iter()) {
                if partition as usize % processes.max(1) == *part {
                    kafka.offsets.insert(partition, offset);
                }
            }
        }
    }
    merged
}

/// Loads the newest complete cut in `dir` (every part there) as one process's state. A cut
/// with a part that does not load (checksum, format, decoding) is skipped with a warning,
/// for the next older one; only the cut loaded is read in full (a large state is read once).
pub fn load_newest(dir: &Path) -> anyhow::Result<Option<Restored>> {
    let mut parts: Vec<PartName> = list_parts(dir)?.into_iter().map(|(name, _)| name).collect();
    while let Some((epoch, processes)) = choose(&parts) {
        let started = Instant::now();
        match load_cut(dir, epoch, processes) {
            Ok(restored) => {
                tracing::info!(path = %restored.path.display(), processes, groups = restored.views.len(), seconds = started.elapsed().as_secs_f64(), "loaded checkpoint");
                return Ok(Some(restored));
            }
            Err(error) if error.downcast_ref::<OtherFormat>().is_some() => return Err(error),
            Err(error) => {
                tracing::warn!(epoch, error = format!("{error:#}"), "skipping a checkpoint that does not load");
                parts.retain(|p| !(p.epoch == epoch && p.processes == processes));
            }
        }
    }
    Ok(None)
}

fn load_cut(dir: &Path, epoch: u64, processes: usize) -> anyhow::Result<Restored> {
    let mut first = None;
    let mut positions = Vec::new();
    let mut projects = HashMap::default();
    for part in 0..processes {
        let restored = load_part(dir, PartName { epoch, processes, part })?;
        positions.push((part, restored.positions.clone()));
        projects.extend(restored.projects);
        if part == 0 {
            first = Some((restored.path, restored.next_id, restored.views));
        }
    }
    let (path, next_id, views) = first.context("a cut without parts")?;
    let mut merged = merge_positions(&positions, processes);
    // One process's dead-letter file: part 0's length (in a cluster, only process 0 writes
    // dead letters and records its file).
    merged.dead_letter_bytes = positions.first().and_then(|(_, p)| p.dead_letter_bytes);
    // The change feed is process 0's: it holds the views.
    merged.change_feed_bytes = positions.first().and_then(|(_, p)| p.change_feed_bytes);
    Ok(Restored {
        path,
        positions: merged,
        next_id,
        views,
        projects,
    })
}

/// Removes the parts in `dir` after the cut at `keep` (all of them for None): a restart from
/// an older cut replays past them, and a stale part must never be matched with a part of the
/// new run at the same epoch.
pub fn discard_after(dir: &Path, keep: Option<u64>) -> anyhow::Result<()> {
    for (name, path) in list_parts(dir)? {
        if keep.is_none_or(|keep| name.epoch > keep) {
            tracing::info!(path = %path.display(), "removing a checkpoint newer than the cut resumed from");
            match fs::remove_file(&path) {
                Ok(()) => {}
                // Another process sharing the directory removed it first.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error).with_context(|| format!("cannot remove {}", path.display())),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
