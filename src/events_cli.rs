//! The command line around error events: `occurrent grouping`, the input format, and the
//! event store's location and retention. Kept apart from `main.rs`, which only flattens these
//! arguments in.

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use connectors::decode::ProjectFilter;
use connectors::event_store::{EventStore, RedbEventStore};
use connectors::events::{InputDecoder, InputFormat};
use dataflows::grouping::GroupingOptions;
use dataflows::model::time::MICROS_PER_SECOND;

#[derive(Args)]
pub struct GroupingArgs {
    /// Grouping config (only newstyle:2023-01-11 is implemented).
    #[arg(long, default_value = dataflows::grouping::DEFAULT_CONFIG)]
    pub config: String,
    /// Server-side fingerprinting rules: the text format, or JSON (a rule list or
    /// `{"rules": […]}`).
    #[arg(long)]
    pub fingerprinting_rules: Option<PathBuf>,
}

/// `occurrent grouping`: one event JSON per stdin line, one result per stdout line.
pub fn grouping(args: GroupingArgs) -> anyhow::Result<()> {
    let stdin = std::io::stdin().lock();
    let stdout = BufWriter::new(std::io::stdout().lock());
    dataflows::grouping::cli::run(&args.config, args.fingerprinting_rules.as_deref(), stdin, stdout)?;
    Ok(())
}

#[derive(Args, Clone)]
pub struct EventArgs {
    /// What the input lines (or Kafka messages) are: `occurrences` (ingest-occurrences
    /// JSON), `events` (one Sentry event JSON per line) or `ingest-events` (msgpack messages
    /// of that topic, or the same wrapper as a JSON object per line).
    #[arg(long, default_value = "occurrences")]
    pub input_format: InputFormat,
    /// Directory of the event store (default `<state-dir>/events`, else
    /// `./occurrent-events`). Error events are written there; occurrences without an inline
    /// event look theirs up there when the store exists.
    #[arg(long, value_name = "DIR")]
    pub event_store: Option<PathBuf>,
    /// Events older than this many days before the newest stored event are removed
    /// (periodically while running, and at the end of a backfill).
    #[arg(long, default_value_t = 90.0)]
    pub event_retention_days: f64,
    /// The views' per-hour data (hourly counts, per-environment and per-release/level
    /// hours, per-hour users) older than this many days before the newest hour ingested is
    /// dropped, in whole days; group rows and `lifetime` values stay exact.
    #[arg(long, default_value_t = 90)]
    pub retention_days: u32,
    /// Keep per-second occurrence details (what makes windows exact to the second at their
    /// edges) only for the most recent D days, cut at a whole UTC day; a window edge in an
    /// older hour counts that hour whole. Default: as long as the hourly data (exact).
    #[arg(long, value_name = "D")]
    pub details_days: Option<u32>,
    /// Server-side fingerprinting rules for error events (as `occurrent grouping
    /// --fingerprinting-rules`), the same for every project.
    #[arg(long, value_name = "FILE")]
    pub fingerprinting_rules: Option<PathBuf>,
}

impl EventArgs {
    fn store_dir(&self, state_dir: Option<&Path>) -> PathBuf {
        match (&self.event_store, state_dir) {
            (Some(dir), _) => dir.clone(),
            (None, Some(state)) => state.join("events"),
            (None, None) => PathBuf::from("occurrent-events"),
        }
    }

    /// The store: always for event inputs; for occurrences only when it was named or
    /// already exists (a lookup in a store nobody writes would find nothing, and plain
    /// occurrence runs should not leave directories behind).
    pub fn open_store(&self, state_dir: Option<&Path>) -> anyhow::Result<Option<Arc<RedbEventStore>>> {
        if self.event_retention_days.is_nan() || self.event_retention_days <= 0.0 {
            anyhow::bail!("--event-retention-days must be positive");
        }
        let dir = self.store_dir(state_dir);
        let wanted = self.input_format != InputFormat::Occurrences || self.event_store.is_some() || dir.join("events.redb").exists();
        if !wanted {
            return Ok(None);
        }
        let store = RedbEventStore::open(&dir).with_context(|| format!("cannot open the event store in {}", dir.display()))?;
        Ok(Some(Arc::new(store)))
    }

    pub fn decoder(&self, projects: ProjectFilter, store: Option<&Arc<RedbEventStore>>) -> anyhow::Result<InputDecoder> {
        let store = store.map(|s| s.clone() as Arc<dyn EventStore>);
        let mut grouping = GroupingOptions::default();
        if let Some(path) = &self.fingerprinting_rules {
            grouping.fingerprinting_rules = Some(dataflows::grouping::cli::load_fingerprinting_rules(path)?);
        }
        Ok(InputDecoder::new(self.input_format, projects, grouping, store))
    }

    fn retention(&self) -> i64 {
        (self.event_retention_days * 86_400.0 * MICROS_PER_SECOND as f64) as i64
    }
}

/// Removes events older than the retention, measured back from the newest stored event's
/// time (event time, like every other window here: a backfill of old data keeps what a live
/// run would have kept). Events stamped past the present do not count as the newest: one
/// stamped years ahead must not remove every other. Returns how many were removed.
pub fn apply_retention(store: &dyn EventStore, args: &EventArgs) -> anyhow::Result<u64> {
    let present = dataflows::views::retention::present_limit();
    let Some(newest) = store.newest_time_until(present)? else {
        return Ok(0);
    };
    let removed = store.remove_older_than(newest.saturating_sub(args.retention()))?;
    if removed > 0 {
        tracing::info!(removed, "event retention");
    }
    Ok(removed)
}

/// How often a running process applies the retention.
const RETENTION_INTERVAL: Duration = Duration::from_secs(600);

/// Applies the retention every ten minutes on a background thread, for `run`.
pub fn spawn_retention(store: Arc<RedbEventStore>, args: EventArgs) -> anyhow::Result<()> {
    std::thread::Builder::new().name("event-retention".into()).spawn(move || loop {
        std::thread::sleep(RETENTION_INTERVAL);
        if let Err(error) = apply_retention(&*store, &args) {
            tracing::error!(%error, "event retention failed");
        }
    })?;
    Ok(())
}
