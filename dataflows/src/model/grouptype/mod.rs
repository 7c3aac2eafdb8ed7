//! The group type registry (issue-platform.md §5.3).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Category {
    Error,
    Performance,
    Profile,
    Cron,
    Replay,
    Feedback,
    Uptime,
    MetricAlert,
    AiDetected,
    Preprod,
    Instrumentation,
}

impl Category {
    /// The API's `issueCategory`: the lowercase category name.
    pub fn api_name(self) -> &'static str {
        match self {
            Category::Error => "error",
            Category::Performance => "performance",
            Category::Profile => "profile",
            Category::Cron => "cron",
            Category::Replay => "replay",
            Category::Feedback => "feedback",
            Category::Uptime => "uptime",
            Category::MetricAlert => "metric_alert",
            Category::AiDetected => "ai_detected",
            Category::Preprod => "preprod",
            Category::Instrumentation => "instrumentation",
        }
    }

    pub fn from_api_name(name: &str) -> Option<Category> {
        ALL_CATEGORIES.iter().copied().find(|c| c.api_name() == name)
    }
}

pub const ALL_CATEGORIES: [Category; 11] = [
    Category::Error,
    Category::Performance,
    Category::Profile,
    Category::Cron,
    Category::Replay,
    Category::Feedback,
    Category::Uptime,
    Category::MetricAlert,
    Category::AiDetected,
    Category::Preprod,
    Category::Instrumentation,
];

/// Sentry's `NoiseConfig`: the `ignore_limit`-th occurrence within `expiry` creates the group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoiseConfig {
    pub ignore_limit: u32,
    pub expiry_seconds: i64,
}

/// Sentry's `creation_quota`: at most `limit` new groups per sliding `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreationQuota {
    pub window_seconds: i64,
    pub granularity_seconds: i64,
    pub limit: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupType {
    pub type_id: u32,
    pub slug: &'static str,
    pub description: &'static str,
    pub category: Category,
    /// 25, 50 or 75.
    pub default_priority: u8,
    pub noise: Option<NoiseConfig>,
    pub creation_quota: CreationQuota,
    pub released: bool,
    pub in_default_search: bool,
    pub enable_auto_resolve: bool,
    pub enable_escalation_detection: bool,
}

mod table;
pub use table::GROUP_TYPES;

/// The type id of error events (grouped from the events themselves, `ingest-events`).
pub const ERROR_TYPE_ID: u32 = 1;

impl GroupType {
    /// Whether groups of this type come from Sentry's error-event path rather than the issue
    /// platform. That path has neither a noise gate nor a creation quota (both belong to
    /// `save_issue_from_occurrence`), keeps its events in the event store and remembers each
    /// group's hashes for the latest-event lookup. Only the error type (id 1) does.
    pub fn is_event_grouped(&self) -> bool {
        self.type_id == ERROR_TYPE_ID
    }
}

/// Looks a type up by id: one read of a table indexed by id (ids run to about 12,000: 12 KB),
/// built at the first call. Every occurrence looks its type up, and the binary search over
/// the registry this replaces was ~34 instructions a record.
#[inline]
pub fn group_type(type_id: u32) -> Option<&'static GroupType> {
    let at = *BY_ID.get(type_id as usize)?;
    GROUP_TYPES.get(usize::from(at))
}

/// Index in `GROUP_TYPES` by type id; `NO_TYPE` where no type has the id.
static BY_ID: std::sync::LazyLock<Box<[u8]>> = std::sync::LazyLock::new(|| {
    let len = GROUP_TYPES.iter().map(|t| t.type_id as usize + 1).max().unwrap_or(0);
    let mut by_id = vec![NO_TYPE; len];
    for (at, t) in GROUP_TYPES.iter().enumerate() {
        // The registry has fewer than `NO_TYPE` types (tested).
        by_id[t.type_id as usize] = u8::try_from(at).unwrap_or(NO_TYPE);
    }
    by_id.into_boxed_slice()
});

/// Past the end of `GROUP_TYPES`: no type.
const NO_TYPE: u8 = u8::MAX;

pub fn group_type_by_slug(slug: &str) -> Option<&'static GroupType> {
    GROUP_TYPES.iter().find(|t| t.slug == slug)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_sorted_and_unique() {
        assert!(GROUP_TYPES.windows(2).all(|w| w[0].type_id < w[1].type_id));
        assert_eq!(group_type(4001).unwrap().slug, "monitor_check_in_failure");
        assert_eq!(group_type(1006).unwrap().noise.unwrap().ignore_limit, 3);
        let event_grouped: Vec<u32> = GROUP_TYPES.iter().filter(|t| t.is_event_grouped()).map(|t| t.type_id).collect();
        assert_eq!(event_grouped, [ERROR_TYPE_ID]);
        assert!(!group_type(6001).unwrap().in_default_search);
        assert!(group_type(9999).is_none());
    }

    /// The table indexed by id answers as a search of the registry, for every id up to past
    /// the last one and at the extremes.
    #[test]
    fn lookup_by_id_matches_a_search() {
        assert!(GROUP_TYPES.len() < usize::from(NO_TYPE));
        let last = GROUP_TYPES.last().map_or(0, |t| t.type_id);
        for id in (0..=last + 10).chain([u32::MAX - 1, u32::MAX]) {
            let searched = GROUP_TYPES.iter().find(|t| t.type_id == id);
            assert_eq!(group_type(id).map(|t| t.type_id), searched.map(|t| t.type_id), "{id}");
            assert_eq!(group_type(id).map(|t| t.slug), searched.map(|t| t.slug), "{id}");
        }
    }
}
