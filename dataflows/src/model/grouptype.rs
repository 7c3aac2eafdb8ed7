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

const L: u8 = 25;
const M: u8 = 50;
const H: u8 = 75;

const fn noise(ignore_limit: u32) -> Option<NoiseConfig> {
    Some(NoiseConfig {
        ignore_limit,
        expiry_seconds: 86_400,
    })
}

const fn quota(limit: u32) -> CreationQuota {
    CreationQuota {
        window_seconds: 3600,
        granularity_seconds: 60,
        limit,
    }
}

#[allow(clippy::too_many_arguments)]
const fn t(
    type_id: u32,
    slug: &'static str,
    description: &'static str,
    category: Category,
    default_priority: u8,
    noise: Option<NoiseConfig>,
    auto_resolve_escalation: (bool, bool),
    released: bool,
    quota_limit: u32,
) -> GroupType {
    GroupType {
        type_id,
        slug,
        description,
        category,
        default_priority,
        noise,
        creation_quota: quota(quota_limit),
        released,
        in_default_search: true,
        enable_auto_resolve: auto_resolve_escalation.0,
        enable_escalation_detection: auto_resolve_escalation.1,
    }
}

const fn hidden(mut group_type: GroupType) -> GroupType {
    group_type.in_default_search = false;
    group_type
}

use Category::*;
const TT: (bool, bool) = (true, true);
const FF: (bool, bool) = (false, false);
const FT: (bool, bool) = (false, true);
const TF: (bool, bool) = (true, false);

/// Every type of issue-platform.md §5.3, released and unreleased, in id order.
pub static GROUP_TYPES: &[GroupType] = &[
    t(1, "error", "Error", Error, M, None, TT, true, 5),
    t(
        1001,
        "performance_slow_db_query",
        "Slow DB Query",
        Performance,
        L,
        noise(100),
        TT,
        true,
        5,
    ),
    t(
        1004,
        "performance_render_blocking_asset_span",
        "Large Render Blocking Asset",
        Performance,
        L,
        noise(3),
        TT,
        true,
        5,
    ),
    t(
        1006,
        "performance_n_plus_one_db_queries",
        "N+1 Query",
        Performance,
        L,
        noise(3),
        TT,
        true,
        5,
    ),
    t(
        1007,
        "performance_consecutive_db_queries",
        "Consecutive DB Queries",
        Performance,
        L,
        noise(15),
        TT,
        true,
        5,
    ),
    t(
        1008,
        "performance_file_io_main_thread",
        "File IO on Main Thread",
        Performance,
        L,
        noise(3),
        TT,
        true,
        5,
    ),
    t(
        1009,
        "performance_consecutive_http",
        "Consecutive HTTP",
        Performance,
        L,
        noise(5),
        TT,
        true,
        5,
    ),
    t(
        1010,
        "performance_n_plus_one_api_calls",
        "N+1 API Call",
        Performance,
        L,
        noise(3),
        TT,
        true,
        5,
    ),
    t(
        1011,
        "performance_m_n_plus_one_db_queries",
        "MN+1 Query",
        Performance,
        L,
        noise(3),
        TT,
        true,
        5,
    ),
    t(
        1012,
        "performance_uncompressed_assets",
        "Uncompressed Asset",
        Performance,
        L,
        noise(100),
        TT,
        true,
        5,
    ),
    t(
        1013,
        "performance_db_main_thread",
        "DB on Main Thread",
        Performance,
        L,
        noise(3),
        TT,
        true,
        5,
    ),
    t(
        1015,
        "performance_large_http_payload",
        "Large HTTP payload",
        Performance,
        L,
        noise(3),
        TT,
        true,
        5,
    ),
    t(
        1016,
        "performance_http_overhead",
        "HTTP/1.1 Overhead",
        Performance,
        L,
        noise(20),
        TT,
        true,
        5,
    ),
    t(
        1017,
        "performance_duration_regression",
        "Transaction Duration Regression (Experimental)",
        Performance,
        L,
        None,
        FF,
        false,
        5,
    ),
    t(
        1018,
        "performance_p95_endpoint_regression",
        "Endpoint Regression",
        Performance,
        M,
        None,
        FF,
        true,
        5,
    ),
    t(
        1019,
        "performance_streamed_spans_exp",
        "Streamed Spans (Experimental)",
        Performance,
        L,
        None,
        FF,
        false,
        5,
    ),
    t(
        1020,
        "db_query_injection_vulnerability",
        "Potential Database Query Injection Vulnerability",
        Performance,
        M,
        noise(5),
        FF,
        false,
        5,
    ),
    t(
        1021,
        "query_injection_vulnerability",
        "Potential Query Injection Vulnerability",
        Performance,
        M,
        noise(10),
        FF,
        false,
        5,
    ),
    t(
        1906,
        "performance_n_plus_one_db_queries_experimental",
        "N+1 Query (Experimental)",
        Performance,
        L,
        noise(3),
        TT,
        false,
        5,
    ),
    t(
        1910,
        "performance_n_plus_one_api_calls_experimental",
        "N+1 API Call (Experimental)",
        Performance,
        L,
        noise(3),
        TT,
        false,
        5,
    ),
    t(
        1911,
        "performance_m_n_plus_one_db_queries_experimental",
        "MN+1 Query (Experimental)",
        Performance,
        L,
        noise(3),
        TT,
        false,
        5,
    ),
    t(
        2001,
        "profile_file_io_main_thread",
        "File I/O on Main Thread",
        Performance,
        L,
        None,
        TT,
        true,
        5,
    ),
    t(
        2002,
        "profile_image_decode_main_thread",
        "Image Decoding on Main Thread",
        Performance,
        L,
        None,
        TT,
        true,
        5,
    ),
    t(
        2003,
        "profile_json_decode_main_thread",
        "JSON Decoding on Main Thread",
        Performance,
        L,
        None,
        TT,
        true,
        5,
    ),
    t(
        2004,
        "profile_core_data_main_exp",
        "Core Data on Main Thread",
        Performance,
        L,
        None,
        TT,
        false,
        5,
    ),
    t(
        2006,
        "profile_view_is_slow_experimental",
        "View Render/Layout/Update is slow",
        Performance,
        L,
        None,
        TT,
        false,
        5,
    ),
    t(
        2007,
        "profile_regex_main_thread",
        "Regex on Main Thread",
        Performance,
        L,
        None,
        TT,
        true,
        5,
    ),
    t(
        2008,
        "profile_frame_drop_experimental",
        "Frame Drop",
        Performance,
        L,
        None,
        TT,
        false,
        5,
    ),
    t(2009, "profile_frame_drop", "Frame Drop", Performance, L, noise(2000), TT, true, 5),
    t(
        2010,
        "profile_function_regression_exp",
        "Function Duration Regression (Experimental)",
        Performance,
        L,
        None,
        FT,
        false,
        5,
    ),
    t(
        2011,
        "profile_function_regression",
        "Function Regression",
        Performance,
        M,
        None,
        FT,
        true,
        5,
    ),
    t(
        3501,
        "llm_detected_experimental",
        "LLM Detected Issue",
        AiDetected,
        M,
        None,
        FF,
        false,
        5,
    ),
    t(
        3502,
        "llm_detected_experimental_v2",
        "LLM Detected Issue",
        AiDetected,
        M,
        None,
        FF,
        false,
        5,
    ),
    t(
        4001,
        "monitor_check_in_failure",
        "Crons Monitor Failed",
        Cron,
        H,
        None,
        TT,
        true,
        60_000,
    ),
    t(
        4002,
        "monitor_check_in_timeout",
        "Crons Monitor Timed Out",
        Cron,
        H,
        None,
        TT,
        false,
        60_000,
    ),
    t(
        4003,
        "monitor_check_in_missed",
        "Crons Monitor Missed",
        Cron,
        H,
        None,
        TT,
        false,
        60_000,
    ),
    t(5001, "replay_click_dead", "Dead Click Detected", Replay, M, None, TT, false, 5),
    t(5002, "replay_click_rage", "Rage Click Detected", Replay, M, None, TT, true, 5),
    t(
        5003,
        "replay_hydration_error",
        "Hydration Error Detected",
        Replay,
        M,
        None,
        TT,
        true,
        5,
    ),
    hidden(t(6001, "feedback", "Feedback", Feedback, M, None, FF, true, 1000)),
    t(
        7001,
        "uptime_domain_failure",
        "Uptime Domain Monitor Failure",
        Uptime,
        H,
        None,
        FF,
        true,
        1000,
    ),
    t(8001, "metric_issue", "Metric Issue", MetricAlert, H, None, FF, true, 100),
    t(8002, "metric_issue_poc", "Metric Issue POC", MetricAlert, H, None, FF, false, 5),
    t(10001, "web_vitals", "Web Vitals", Performance, M, None, FF, true, 5),
    t(11001, "preprod_static", "Static Analysis", Preprod, L, None, TF, false, 5),
    t(11002, "preprod_delta", "Size Delta", Preprod, L, None, TF, false, 5),
    hidden(t(
        12001,
        "instrumentation_issue_experimental",
        "Instrumentation Issue",
        Instrumentation,
        L,
        None,
        TF,
        false,
        100,
    )),
];

/// Looks a type up by id; the registry is sorted, so this is a binary search.
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

pub fn group_type(type_id: u32) -> Option<&'static GroupType> {
    GROUP_TYPES
        .binary_search_by_key(&type_id, |t| t.type_id)
        .ok()
        .map(|i| &GROUP_TYPES[i])
}

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
}
