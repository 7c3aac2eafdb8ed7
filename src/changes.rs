//! Outgoing feeds of group changes, written after each completed epoch by the first worker:
//! a JSON change feed of the issue view (`{group_id, project_id, short_id, before, after}`, to a file or a topic)
//! and Sentry's `group-attributes` snapshots (kafka-formats.md §10) for Snuba-style consumers.
//! Every change a checkpoint covers is sent and flushed before it is written (`Feeder`), so
//! the topics are at least once across a crash (changes after the last checkpoint are sent
//! again) and the file, cut back to its checkpointed length on restart, holds each once.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::{Arc, Mutex};

use connectors::kafka::KafkaTopicSink;
use dataflows::model::format_iso;
use dataflows::model::grouptype::group_type;
use dataflows::state::GroupRow;
use dataflows::views::{GroupChange, IssueViews};
use serde::Serialize;

use crate::config::Catalog;
use crate::short_id::format_short_id;

pub trait ChangeWriter: Send {
    fn write(&mut self, views: &IssueViews, changes: &[GroupChange]) -> std::io::Result<()>;
    fn flush(&mut self) -> std::io::Result<()>;

    /// Flushes and makes what was written durable; a file says its length, which a
    /// checkpoint records and a restart cuts the file back to.
    fn sync(&mut self) -> std::io::Result<Option<u64>> {
        self.flush().map(|()| None)
    }
}

pub type ChangeSinks = Arc<Mutex<Vec<Box<dyn ChangeWriter>>>>;

/// The row-level state of a group in the change feed.
#[derive(Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct RowJson<'a> {
    status: &'static str,
    substatus: Option<&'static str>,
    priority: &'static str,
    title: &'a str,
    culprit: &'a str,
    level: &'static str,
    issue_type: &'static str,
    first_seen: String,
    last_seen: String,
    times_seen: u64,
    user_count: u64,
}

fn row_json(row: &GroupRow) -> RowJson<'_> {
    RowJson {
        status: row.status.api_name(),
        substatus: row.substatus.map(|s| s.api_name()),
        priority: row.priority.api_name(),
        title: row.texts.title(),
        culprit: row.texts.culprit(),
        level: row.level.api_name(),
        issue_type: group_type(row.type_id).map_or("unknown", |t| t.slug),
        first_seen: format_iso(row.first_seen),
        last_seen: format_iso(row.last_seen),
        times_seen: row.times_seen,
        user_count: row.user_count,
    }
}

/// The change as a line of the change feed; None when the feed's fields do not change (a
/// row can change outside them: a release, the inbox date, triage), which would be a line
/// whose `before` and `after` are the same.
fn change_json(catalog: &Catalog, change: &GroupChange) -> Option<String> {
    let before = change.before.as_deref().map(row_json);
    let after = change.after.as_deref().map(row_json);
    if before == after {
        return None;
    }
    let json = serde_json::json!({
        "group_id": change.id.to_string(),
        "project_id": change.key.project.to_string(),
        "short_id": catalog
            .project(change.key.project)
            .map(|p| format_short_id(&p.slug, u64::from(change.key.short_id))),
        "before": before,
        "after": after,
    });
    Some(json.to_string())
}

/// Sentry's group-attributes snapshot of a group after a change.
fn group_attributes_json(change: &GroupChange) -> String {
    let row = change.after.as_deref().or(change.before.as_deref());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    serde_json::json!({
        "group_deleted": change.after.is_none(),
        "project_id": change.key.project,
        "group_id": change.id,
        "status": row.map_or(0, |r| r.status as i64),
        "substatus": row.and_then(|r| r.substatus).map(|s| s as i64),
        "priority": row.map(|r| r.priority as i64),
        "first_release": null,
        "first_seen": row.map(|r| format_iso(r.first_seen)),
        "num_comments": 0,
        "assignee_user_id": null,
        "assignee_team_id": null,
        "owner_suspect_commit_user_id": null,
        "owner_ownership_rule_user_id": null,
        "owner_ownership_rule_team_id": null,
        "owner_codeowners_user_id": null,
        "owner_codeowners_team_id": null,
        "timestamp": format_iso(now),
    })
    .to_string()
}

/// The change feed as JSON lines, to a file.
pub struct JsonLinesChanges {
    pub out: BufWriter<File>,
    pub catalog: Arc<Catalog>,
}

impl ChangeWriter for JsonLinesChanges {
    fn write(&mut self, _views: &IssueViews, changes: &[GroupChange]) -> std::io::Result<()> {
        for line in changes.iter().filter_map(|change| change_json(&self.catalog, change)) {
            writeln!(self.out, "{line}")?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// The length is the open file's, not whatever the path names now (a rotated file).
    fn sync(&mut self) -> std::io::Result<Option<u64>> {
        self.out.flush()?;
        Ok(Some(crate::outputs::sync_file(self.out.get_ref())?))
    }
}

/// The change feed on a topic, keyed by group id (a group's changes stay in order).
pub struct KafkaChanges {
    pub sink: KafkaTopicSink,
    pub catalog: Arc<Catalog>,
}

impl ChangeWriter for KafkaChanges {
    fn write(&mut self, _views: &IssueViews, changes: &[GroupChange]) -> std::io::Result<()> {
        for change in changes {
            if let Some(line) = change_json(&self.catalog, change) {
                self.sink.send(Some(&change.id.to_string()), line.as_bytes())?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.sink.flush()
    }
}

/// Sentry's `group-attributes` topic (no key, as Sentry produces it).
pub struct GroupAttributes {
    pub sink: KafkaTopicSink,
}

impl ChangeWriter for GroupAttributes {
    fn write(&mut self, _views: &IssueViews, changes: &[GroupChange]) -> std::io::Result<()> {
        for change in changes {
            self.sink.send(None, group_attributes_json(change).as_bytes())?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.sink.flush()
    }
}

/// A sink whose write failed lost that write's changes (or part of them): every later write
/// is skipped and every flush fails, so no checkpoint covers the loss; the process stops at
/// its next checkpoint or at its end, and a restart sends everything after the previous
/// checkpoint again.
pub struct FailStop {
    inner: Box<dyn ChangeWriter>,
    failed: crate::outputs::FirstFailure,
}

impl FailStop {
    pub fn new(inner: Box<dyn ChangeWriter>) -> Self {
        FailStop {
            inner,
            failed: crate::outputs::FirstFailure::of("a write of group changes"),
        }
    }
}

impl ChangeWriter for FailStop {
    fn write(&mut self, views: &IssueViews, changes: &[GroupChange]) -> std::io::Result<()> {
        self.failed.guard(|| self.inner.write(views, changes))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.failed.guard(|| self.inner.flush())
    }

    fn sync(&mut self) -> std::io::Result<Option<u64>> {
        self.failed.guard(|| self.inner.sync())
    }
}

/// Drains the views' change log and hands it to every sink (called after each completed
/// epoch on the first worker). A sink's error is logged here and fails its next flush
/// ([`FailStop`]).
pub fn publish(views: &mut IssueViews, sinks: &ChangeSinks) {
    let changes = views.drain_changes();
    if changes.is_empty() {
        return;
    }
    let mut sinks = sinks.lock().unwrap_or_else(|p| p.into_inner());
    for sink in sinks.iter_mut() {
        if let Err(error) = sink.write(views, &changes) {
            tracing::error!(%error, "cannot write group changes");
        }
    }
}

pub fn flush(sinks: &ChangeSinks) -> std::io::Result<()> {
    for sink in sinks.lock().unwrap_or_else(|p| p.into_inner()).iter_mut() {
        sink.flush()?;
    }
    Ok(())
}

/// Flushes every sink and makes it durable (see [`ChangeWriter::sync`]); the change feed
/// file's length, if there is one.
pub fn sync(sinks: &ChangeSinks) -> std::io::Result<Option<u64>> {
    let mut length = None;
    for sink in sinks.lock().unwrap_or_else(|p| p.into_inner()).iter_mut() {
        length = sink.sync()?.or(length);
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataflows::model::{GroupStatus, Substatus};
    use dataflows::state::GroupKey;

    fn row(status: GroupStatus, substatus: Option<Substatus>) -> Arc<GroupRow> {
        Arc::new(GroupRow {
            status,
            substatus,
            first_seen: 1_000_000,
            last_seen: 2_000_000,
            times_seen: 3,
            ..GroupRow::sample()
        })
    }

    #[test]
    fn change_feed_and_group_attributes_shapes() {
        let change = GroupChange {
            key: GroupKey { project: 7, short_id: 2 },
            id: 42,
            before: Some(row(GroupStatus::Unresolved, Some(Substatus::New))),
            after: Some(row(GroupStatus::Resolved, None)),
        };
        let feed: serde_json::Value = serde_json::from_str(&change_json(&Catalog::default(), &change).unwrap()).unwrap();
        assert_eq!(feed["group_id"], "42");
        assert_eq!(feed["before"]["status"], "unresolved");
        assert_eq!(feed["before"]["substatus"], "new");
        assert_eq!(feed["after"]["status"], "resolved");
        let attributes: serde_json::Value = serde_json::from_str(&group_attributes_json(&change)).unwrap();
        assert_eq!(attributes["group_id"], 42);
        assert_eq!(attributes["status"], 1);
        assert_eq!(attributes["substatus"], serde_json::Value::Null);
        assert_eq!(attributes["group_deleted"], false);
        assert_eq!(attributes["first_seen"], "1970-01-01T00:00:01.000000Z");
    }

    #[test]
    fn a_change_outside_the_feeds_fields_is_no_line_of_it_but_a_snapshot() {
        let before = row(GroupStatus::Resolved, None);
        let mut after = (*before).clone();
        after.inbox_since = 5;
        after.first_release = Some(9);
        let change = GroupChange {
            key: GroupKey { project: 7, short_id: 2 },
            id: 42,
            before: Some(before),
            after: Some(Arc::new(after)),
        };
        assert_eq!(change_json(&Catalog::default(), &change), None);
        assert!(serde_json::from_str::<serde_json::Value>(&group_attributes_json(&change)).is_ok());
        let gone = GroupChange { after: None, ..change };
        assert!(change_json(&Catalog::default(), &gone).is_some_and(|line| line.contains("\"after\":null")));
    }

    /// Fails its first write (a full disk), then would succeed.
    struct FailsOnce {
        writes: usize,
    }

    impl ChangeWriter for FailsOnce {
        fn write(&mut self, _views: &IssueViews, _changes: &[GroupChange]) -> std::io::Result<()> {
            self.writes += 1;
            match self.writes {
                1 => Err(std::io::Error::other("No space left on device")),
                _ => Ok(()),
            }
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_fails_every_later_flush_so_no_checkpoint_covers_it() {
        let views = IssueViews::default();
        let mut sink = FailStop::new(Box::new(FailsOnce { writes: 0 }));
        assert!(sink.flush().is_ok());
        assert!(sink.write(&views, &[]).is_err());
        // Later writes are skipped (the feed would have a gap), flushes and syncs fail.
        assert!(sink.write(&views, &[]).is_err());
        let error = sink.sync().unwrap_err().to_string();
        assert_eq!(error, "a write of group changes failed: No space left on device");
        assert!(sink.flush().is_err());
        let sinks: ChangeSinks = Arc::new(Mutex::new(vec![Box::new(sink)]));
        assert!(flush(&sinks).is_err());
        assert!(sync(&sinks).is_err());
    }
}
