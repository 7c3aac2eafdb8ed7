//! The mutation log: every API mutation, as an input of the dataflow.
//!
//! The API validates a request and resolves its groups, then hands it to the feeder, the one
//! thread that orders all inputs. The feeder appends it to `mutations.jsonl` under the state
//! directory with the input position it is ordered at (fsync before anything else happens),
//! then feeds it as a block of its own between two input blocks. The API answers once the
//! views have passed that block, so a client reads its own writes.
//!
//! Recovery: a checkpoint records how many log entries its state contains. On restart the
//! later entries are fed again, each when the inputs reach the position it was logged at, so
//! the replay interleaves mutations and input exactly as the first run did (semantics §8).
//! A cluster orders them on process 0 at mutation points (see `feed::points`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use anyhow::Context;
use connectors::jsonl::FilePosition;
use dataflows::model::block::{BlockBytes, BlockKind, InputBlock, LineInfo};
use dataflows::model::mutation::MutationLine;
use dataflows::model::{Micros, MutationKind, MutationRecord};
use dataflows::state::GroupKey;
use serde::{Deserialize, Serialize};

use crate::checkpoint::Positions;

pub const LOG_FILE: &str = "mutations.jsonl";

/// A validated mutation with its groups resolved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MutationRequest {
    pub targets: Vec<GroupKey>,
    pub kind: MutationKind,
    pub actor: Option<Arc<str>>,
    /// Wall clock when the request was accepted.
    pub time: Micros,
}

/// One line of the log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogEntry {
    /// Entry number, from 0.
    pub n: u64,
    /// The input position the mutation is ordered at: it applies after everything before it.
    pub at: InputPoint,
    pub request: MutationRequest,
}

/// Where the inputs stood: the file position, whether the files are done, and the next
/// offset of every Kafka partition read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InputPoint {
    pub file: Option<FilePosition>,
    pub files_done: bool,
    pub kafka: BTreeMap<i32, i64>,
}

impl InputPoint {
    pub fn of(positions: &Positions) -> InputPoint {
        InputPoint {
            file: positions.files.as_ref().map(|f| f.position),
            files_done: positions.files.as_ref().is_none_or(|f| f.done),
            kafka: positions.kafka.as_ref().map(|k| k.offsets.clone()).unwrap_or_default(),
        }
    }

    /// Whether the inputs at `current` have reached this point. A partition in `ended` has
    /// been read to its log end: an offset beyond it counts as reached, since the messages
    /// the mutation was logged after are gone (deleted by retention, or the topic was
    /// recreated) and waiting for them would hold this and every later mutation for ever.
    pub fn reached_by(&self, current: &InputPoint, ended: &BTreeSet<i32>) -> bool {
        if self.files_done || !self.kafka.is_empty() {
            return current.files_done
                && self
                    .kafka
                    .iter()
                    .all(|(p, o)| ended.contains(p) || current.kafka.get(p).is_some_and(|c| c >= o));
        }
        if current.files_done {
            return true;
        }
        let key = |f: &Option<FilePosition>| f.as_ref().map(|f| (f.file, f.byte_offset));
        key(&current.file) >= key(&self.file)
    }
}

/// A request waiting for the feeder, and where to say which epoch it became.
pub struct Pending {
    pub request: MutationRequest,
    pub reply: tokio::sync::oneshot::Sender<Result<u64, String>>,
}

/// The API's handle on the feeder.
#[derive(Clone)]
pub struct MutationSender {
    sender: Sender<Pending>,
    /// Raised after each send ([`Inbox::waiting_flag`]).
    waiting: Arc<AtomicBool>,
}

/// The feeder's end of the API's channel, with a flag the API raises when it sends, so a
/// followed file's partial block can be released at once instead of when it is full.
pub struct Inbox {
    receiver: Receiver<Pending>,
    waiting: Arc<AtomicBool>,
}

impl Inbox {
    /// The requests sent so far. The flag is lowered first, so a request sent meanwhile
    /// raises it again.
    fn drain(&self) -> std::sync::mpsc::TryIter<'_, Pending> {
        self.waiting.store(false, Ordering::Release);
        self.receiver.try_iter()
    }

    /// Raised while requests wait in the channel (for `BlockOptions::release`).
    pub fn waiting_flag(&self) -> Arc<AtomicBool> {
        self.waiting.clone()
    }
}

impl MutationSender {
    /// Logs and feeds the request; returns the epoch the views must pass for it to show.
    pub async fn submit(&self, request: MutationRequest) -> Result<u64, String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.sender
            .send(Pending { request, reply })
            .map_err(|_| "the pipeline has stopped".to_string())?;
        self.waiting.store(true, Ordering::Release);
        answer
            .await
            .map_err(|_| "the pipeline stopped before applying the mutation".to_string())?
    }
}

pub fn channel() -> (MutationSender, Inbox) {
    let (sender, receiver) = std::sync::mpsc::channel();
    let waiting = Arc::new(AtomicBool::new(false));
    (
        MutationSender {
            sender,
            waiting: waiting.clone(),
        },
        Inbox { receiver, waiting },
    )
}

/// The feeder's side: the log file, the entries still to replay and the inbox.
pub struct Sequencer {
    path: Option<PathBuf>,
    file: Option<File>,
    next_n: u64,
    replay: VecDeque<LogEntry>,
    inbox: Option<Inbox>,
    /// Requests taken from the inbox by [`Sequencer::poll_inbox`], not yet logged.
    waiting: Vec<Pending>,
}

/// Mutations to feed now, in log order, with the requests waiting for them.
pub struct Batch {
    pub entries: Vec<LogEntry>,
    pub replies: Vec<tokio::sync::oneshot::Sender<Result<u64, String>>>,
}

impl Sequencer {
    /// Opens the log under `dir` (none: mutations are applied but not durable). Entries
    /// from `applied` on are replayed. A torn last line (a crash while appending, before the
    /// fsync that acknowledges it) is cut off.
    pub fn open(dir: Option<&Path>, applied: u64, inbox: Option<Inbox>) -> anyhow::Result<Sequencer> {
        let mut sequencer = Sequencer {
            path: None,
            file: None,
            next_n: 0,
            replay: VecDeque::new(),
            inbox,
            waiting: Vec::new(),
        };
        let Some(dir) = dir else { return Ok(sequencer) };
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(LOG_FILE);
        let mut good_length = 0u64;
        if path.exists() {
            let reader = BufReader::new(File::open(&path).with_context(|| format!("cannot read {}", path.display()))?);
            for line in reader.split(b'\n') {
                let line = line.with_context(|| format!("cannot read {}", path.display()))?;
                match serde_json::from_slice::<LogEntry>(&line) {
                    Ok(entry) if entry.n == sequencer.next_n => {
                        good_length += line.len() as u64 + 1;
                        sequencer.next_n += 1;
                        if entry.n >= applied {
                            sequencer.replay.push_back(entry);
                        }
                    }
                    _ => {
                        tracing::warn!(path = %path.display(), entry = sequencer.next_n, "cutting a torn or invalid mutation log tail");
                        break;
                    }
                }
            }
        }
        if applied > sequencer.next_n {
            anyhow::bail!(
                "the checkpoint contains {applied} mutations but {} holds only {}; the log does not belong to this state",
                path.display(),
                sequencer.next_n
            );
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        if file.metadata()?.len() != good_length {
            file.set_len(good_length).context("cannot cut the mutation log")?;
        }
        sequencer.file = Some(file);
        sequencer.path = Some(path);
        if !sequencer.replay.is_empty() {
            tracing::info!(entries = sequencer.replay.len(), "replaying logged mutations");
        }
        Ok(sequencer)
    }

    /// The Kafka positions of the logged entries still to replay, in log order: where a
    /// cluster's processes pause their partitions for each (see `feed::points`).
    pub fn plan(&self) -> Vec<BTreeMap<i32, i64>> {
        self.replay.iter().map(|entry| entry.at.kafka.clone()).collect()
    }

    /// Whether requests are waiting (they stay queued for [`Sequencer::due`]).
    pub fn poll_inbox(&mut self) -> bool {
        if let Some(inbox) = &self.inbox {
            self.waiting.extend(inbox.drain());
        }
        !self.waiting.is_empty()
    }

    /// Logged entries the state does not contain yet.
    pub fn to_replay(&self) -> usize {
        self.replay.len()
    }

    /// The inbox's [`Inbox::waiting_flag`], if requests come in.
    pub fn waiting_flag(&self) -> Option<Arc<AtomicBool>> {
        self.inbox.as_ref().map(Inbox::waiting_flag)
    }

    pub fn has_inbox(&self) -> bool {
        self.inbox.is_some()
    }

    /// Where the file input must pause for the next logged mutation: its file position, when
    /// it was logged between two file blocks the inputs have not reached yet. Blocks end
    /// there, so the replay applies it between the same lines as the first run, whatever
    /// block boundaries a restart from a checkpoint has.
    pub fn file_stop(&self, positions: &Positions) -> Option<FilePosition> {
        let entry = self.replay.front()?;
        if entry.at.files_done || !entry.at.kafka.is_empty() || entry.at.reached_by(&InputPoint::of(positions), &BTreeSet::new()) {
            return None;
        }
        entry.at.file
    }

    /// Where each Kafka partition must pause for the next logged mutation (its partitions'
    /// next offsets when it was logged), while the inputs have not all reached it (`ended`:
    /// see [`InputPoint::reached_by`]).
    pub fn kafka_stops(&self, positions: &Positions, ended: &BTreeSet<i32>) -> Option<BTreeMap<i32, i64>> {
        let entry = self.replay.front()?;
        if entry.at.kafka.is_empty() || entry.at.reached_by(&InputPoint::of(positions), ended) {
            return None;
        }
        Some(entry.at.kafka.clone())
    }

    /// The mutations due at `positions`: logged ones the inputs have reached (all of them
    /// when `end` says the inputs are over; `ended`: see [`InputPoint::reached_by`]), then,
    /// once none is left to replay, new requests (waiting up to `wait` for one), which are
    /// logged and synced first.
    pub fn due(
        &mut self,
        positions: &Positions,
        ended: &BTreeSet<i32>,
        end: bool,
        wait: Option<std::time::Duration>,
    ) -> anyhow::Result<Batch> {
        let current = InputPoint::of(positions);
        let mut batch = Batch {
            entries: Vec::new(),
            replies: Vec::new(),
        };
        while let Some(entry) = self.replay.front() {
            if !(end || entry.at.reached_by(&current, ended)) {
                return Ok(batch);
            }
            if !entry.at.reached_by(&current, &BTreeSet::new()) && !end {
                tracing::warn!(
                    entry = entry.n,
                    logged_at = ?entry.at.kafka,
                    now_at = ?current.kafka,
                    ended = ?ended,
                    "applying a logged mutation at the end of partitions that no longer reach its offsets (messages deleted, or the topic recreated)"
                );
            }
            batch.entries.extend(self.replay.pop_front());
        }
        let Some(inbox) = &self.inbox else { return Ok(batch) };
        let mut pending: Vec<Pending> = std::mem::take(&mut self.waiting);
        pending.extend(inbox.drain());
        if pending.is_empty() {
            if let Some(wait) = wait {
                pending.extend(inbox.receiver.recv_timeout(wait).ok());
            }
        }
        if pending.is_empty() {
            return Ok(batch);
        }
        let mut text = Vec::new();
        let first_new = batch.entries.len();
        for p in pending {
            let entry = LogEntry {
                n: self.next_n,
                at: current.clone(),
                request: p.request,
            };
            self.next_n += 1;
            serde_json::to_writer(&mut text, &entry)?;
            text.push(b'\n');
            batch.entries.push(entry);
            batch.replies.push(p.reply);
        }
        if let Some(file) = &mut self.file {
            let path = self.path.as_deref().unwrap_or(Path::new(LOG_FILE));
            let written = file.write_all(&text).and_then(|_| file.sync_data());
            if let Err(e) = written {
                // Not durable: refuse these requests rather than apply them.
                for reply in batch.replies.drain(..) {
                    let _ = reply.send(Err(format!("cannot write the mutation log: {e}")));
                }
                batch.entries.truncate(first_new);
                return Err(e).with_context(|| format!("cannot append to {}", path.display()));
            }
        }
        Ok(batch)
    }
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The block of these mutations at `epoch`: one line per entry and project.
    pub fn block(&self, epoch: u64) -> anyhow::Result<InputBlock> {
        let mut bytes = Vec::new();
        let mut lines = Vec::new();
        for entry in &self.entries {
            let mut by_project: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
            for key in &entry.request.targets {
                by_project.entry(key.project).or_default().push(key.short_id);
            }
            for (project, short_ids) in by_project {
                let line = MutationLine {
                    project,
                    entry: entry.n,
                    mutation: MutationRecord {
                        short_ids,
                        time: entry.request.time,
                        actor: entry.request.actor.clone(),
                        kind: entry.request.kind.clone(),
                    },
                };
                let start = bytes.len();
                serde_json::to_writer(&mut bytes, &line)?;
                lines.push(LineInfo {
                    start,
                    len: bytes.len() - start,
                    line_number: entry.n,
                    byte_offset: 0,
                });
            }
        }
        Ok(InputBlock {
            index: epoch,
            source: Arc::from(LOG_FILE),
            partition: None,
            bytes: BlockBytes::Owned(bytes),
            lines,
            kind: BlockKind::Mutations,
            unreadable: None,
        })
    }

    /// Tells the waiting requests their epoch.
    pub fn acknowledge(self, epoch: u64) -> u64 {
        let applied = self.entries.last().map_or(0, |e| e.n + 1);
        for reply in self.replies {
            let _ = reply.send(Ok(epoch));
        }
        applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(file: usize, byte_offset: u64, done: bool, kafka: &[(i32, i64)]) -> InputPoint {
        InputPoint {
            file: Some(FilePosition {
                file,
                byte_offset,
                line_number: 0,
            }),
            files_done: done,
            kafka: kafka.iter().copied().collect(),
        }
    }

    #[test]
    fn points_are_reached_in_input_order() {
        let none = BTreeSet::new();
        let at = point(0, 100, false, &[]);
        assert!(!at.reached_by(&point(0, 99, false, &[]), &none));
        assert!(at.reached_by(&point(0, 100, false, &[]), &none));
        assert!(at.reached_by(&point(1, 0, false, &[]), &none));
        assert!(at.reached_by(&point(0, 0, true, &[]), &none));
        let in_kafka = point(0, 500, true, &[(0, 10), (1, 4)]);
        assert!(!in_kafka.reached_by(&point(0, 500, false, &[]), &none));
        assert!(!in_kafka.reached_by(&point(0, 500, true, &[(0, 10), (1, 3)]), &none));
        assert!(in_kafka.reached_by(&point(0, 500, true, &[(0, 11), (1, 4)]), &none));
        // A partition read to its end below the logged offset (the messages are gone) counts
        // as reached; the others still have to get there.
        let ended: BTreeSet<i32> = [1].into();
        assert!(in_kafka.reached_by(&point(0, 500, true, &[(0, 10), (1, 2)]), &ended));
        assert!(!in_kafka.reached_by(&point(0, 500, true, &[(0, 9), (1, 2)]), &ended));
        assert!(!in_kafka.reached_by(&point(0, 500, false, &[(0, 10), (1, 2)]), &ended));
    }

    #[test]
    fn a_torn_tail_is_cut_and_numbering_continues() {
        let dir = tempfile::tempdir().expect("temp dir");
        let request = MutationRequest {
            targets: vec![GroupKey { project: 1, short_id: 2 }],
            kind: MutationKind::Delete,
            actor: None,
            time: 5,
        };
        let entry = |n| LogEntry {
            n,
            at: InputPoint::default(),
            request: request.clone(),
        };
        let mut text = String::new();
        for n in 0..2 {
            text.push_str(&serde_json::to_string(&entry(n)).expect("json"));
            text.push('\n');
        }
        text.push_str("{\"n\":2,\"at");
        std::fs::write(dir.path().join(LOG_FILE), &text).expect("write");
        let sequencer = Sequencer::open(Some(dir.path()), 1, None).expect("open");
        assert_eq!(sequencer.next_n, 2);
        assert_eq!(sequencer.replay.iter().map(|e| e.n).collect::<Vec<_>>(), vec![1]);
        let kept = std::fs::read_to_string(dir.path().join(LOG_FILE)).expect("read");
        assert_eq!(kept.lines().count(), 2);
        assert!(
            Sequencer::open(Some(dir.path()), 3, None).is_err(),
            "a checkpoint ahead of its log is refused"
        );
    }
}
