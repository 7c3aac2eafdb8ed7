//! Readiness of the views after start-up (`/readyz`).

use std::sync::Mutex;

use dataflows::views::IssueViews;

/// Readiness: set once the feeder has reached the end of what existed at start-up; the views
/// are ready when every epoch before that point is applied (and their indexes are built, when
/// the catch-up deferred them: [`IssueViews::defer_indexes`]).
#[derive(Default)]
pub struct Startup {
    ready_after_epoch: Mutex<Option<u64>>,
    /// Build deferred indexes once caught up (`run`; a plain backfill serves no queries).
    build_indexes: bool,
}

impl Startup {
    /// A start-up that builds the views' deferred indexes once caught up.
    pub fn building_indexes() -> Startup {
        Startup {
            build_indexes: true,
            ..Startup::default()
        }
    }

    pub fn is_ready(&self, views: &IssueViews) -> bool {
        self.caught_up(views) && !views.indexes_deferred()
    }

    /// Every epoch of what existed at start-up is applied.
    fn caught_up(&self, views: &IssueViews) -> bool {
        match *self.ready_after_epoch.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(epoch) => views.finished || views.complete_through >= epoch,
            None => false,
        }
    }

    /// Whether the views' indexes are deferred and due: caught up (or `finished`).
    pub(crate) fn indexes_due(&self, views: &IssueViews) -> bool {
        self.build_indexes && views.indexes_deferred() && (views.finished || self.caught_up(views))
    }

    /// Builds the views' deferred indexes if they are due ([`Startup::indexes_due`]).
    pub(crate) fn build_indexes_when_caught_up(&self, views: &mut IssueViews) {
        if self.indexes_due(views) {
            let started = std::time::Instant::now();
            views.build_indexes();
            tracing::info!(
                groups = views.len(),
                seconds = started.elapsed().as_secs_f64(),
                "caught up: built the sort indexes and the text column"
            );
        }
    }

    pub(crate) fn mark(&self, epoch: u64) {
        let mut guard = self.ready_after_epoch.lock().unwrap_or_else(|p| p.into_inner());
        guard.get_or_insert(epoch);
    }
}
