//! The reference model's group-type registry (issue-platform.md §5.3) and priorities.

#![allow(dead_code)]

pub const LOW: u8 = 25;
pub const MEDIUM: u8 = 50;
pub const HIGH: u8 = 75;

/// Noise expiry whenever a type has a noise config: 24 h.
pub const NOISE_EXPIRY_SECS: i64 = 86_400;
/// Creation quota window and granularity, the same for every type.
pub const QUOTA_WINDOW_SECS: i64 = 3_600;
pub const QUOTA_GRANULARITY_SECS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupType {
    pub type_id: i64,
    pub slug: &'static str,
    /// API string of the (old) category.
    pub category: &'static str,
    pub default_priority: u8,
    /// 1 when the type has no noise config.
    pub ignore_limit: u64,
    /// New groups per `QUOTA_WINDOW_SECS`.
    pub quota_limit: u64,
}

pub(super) const fn gt(
    type_id: i64,
    slug: &'static str,
    category: &'static str,
    default_priority: u8,
    ignore_limit: u64,
    quota_limit: u64,
) -> GroupType {
    GroupType {
        type_id,
        slug,
        category,
        default_priority,
        ignore_limit,
        quota_limit,
    }
}

pub(super) const ERR: &str = "error";
pub(super) const PERF: &str = "performance";
pub(super) const CRON: &str = "cron";
pub(super) const REPLAY: &str = "replay";
pub(super) const FEEDBACK: &str = "feedback";
pub(super) const UPTIME: &str = "uptime";
pub(super) const METRIC_ALERT: &str = "metric_alert";
pub(super) const AI: &str = "ai_detected";
pub(super) const PREPROD: &str = "preprod";
pub(super) const INSTR: &str = "instrumentation";

/// Every registered type. "3/24h" → 3; "–" → 1 (no noise config).
pub const GROUP_TYPES: &[GroupType] = &[
    // released (or formerly released)
    gt(1, "error", ERR, MEDIUM, 1, 5),
    gt(1001, "performance_slow_db_query", PERF, LOW, 100, 5),
    gt(1004, "performance_render_blocking_asset_span", PERF, LOW, 3, 5),
    gt(1006, "performance_n_plus_one_db_queries", PERF, LOW, 3, 5),
    gt(1007, "performance_consecutive_db_queries", PERF, LOW, 15, 5),
    gt(1008, "performance_file_io_main_thread", PERF, LOW, 3, 5),
    gt(1009, "performance_consecutive_http", PERF, LOW, 5, 5),
    // SPEC: "3/24h [– 2024]": the newer value (3/24h) is used.
    gt(1010, "performance_n_plus_one_api_calls", PERF, LOW, 3, 5),
    gt(1011, "performance_m_n_plus_one_db_queries", PERF, LOW, 3, 5),
    gt(1012, "performance_uncompressed_assets", PERF, LOW, 100, 5),
    gt(1013, "performance_db_main_thread", PERF, LOW, 3, 5),
    gt(1015, "performance_large_http_payload", PERF, LOW, 3, 5),
    gt(1016, "performance_http_overhead", PERF, LOW, 20, 5),
    gt(1018, "performance_p95_endpoint_regression", PERF, MEDIUM, 1, 5),
    gt(2001, "profile_file_io_main_thread", PERF, LOW, 1, 5),
    gt(2002, "profile_image_decode_main_thread", PERF, LOW, 1, 5),
    gt(2003, "profile_json_decode_main_thread", PERF, LOW, 1, 5),
    gt(2007, "profile_regex_main_thread", PERF, LOW, 1, 5),
    gt(2009, "profile_frame_drop", PERF, LOW, 2000, 5),
    gt(2011, "profile_function_regression", PERF, MEDIUM, 1, 5),
    gt(4001, "monitor_check_in_failure", CRON, HIGH, 1, 60_000),
    gt(5002, "replay_click_rage", REPLAY, MEDIUM, 1, 5),
    gt(5003, "replay_hydration_error", REPLAY, MEDIUM, 1, 5),
    gt(6001, "feedback", FEEDBACK, MEDIUM, 1, 1_000),
    gt(7001, "uptime_domain_failure", UPTIME, HIGH, 1, 1_000),
    gt(8001, "metric_issue", METRIC_ALERT, HIGH, 1, 100),
    gt(10001, "web_vitals", PERF, MEDIUM, 1, 5),
    // unreleased, experimental or retired
    gt(1017, "performance_duration_regression", PERF, LOW, 1, 5),
    gt(1019, "performance_streamed_spans_exp", PERF, LOW, 1, 5),
    gt(1020, "db_query_injection_vulnerability", PERF, MEDIUM, 5, 5),
    gt(1021, "query_injection_vulnerability", PERF, MEDIUM, 10, 5),
    gt(1906, "performance_n_plus_one_db_queries_experimental", PERF, LOW, 3, 5),
    gt(1910, "performance_n_plus_one_api_calls_experimental", PERF, LOW, 3, 5),
    gt(1911, "performance_m_n_plus_one_db_queries_experimental", PERF, LOW, 3, 5),
    gt(2004, "profile_core_data_main_exp", PERF, LOW, 1, 5),
    gt(2006, "profile_view_is_slow_experimental", PERF, LOW, 1, 5),
    gt(2008, "profile_frame_drop_experimental", PERF, LOW, 1, 5),
    gt(2010, "profile_function_regression_exp", PERF, LOW, 1, 5),
    gt(3501, "llm_detected_experimental", AI, MEDIUM, 1, 5),
    gt(3502, "llm_detected_experimental_v2", AI, MEDIUM, 1, 5),
    // SPEC: "deprecated variants of 4001" — inherit CRON, HIGH and quota 60000.
    gt(4002, "monitor_check_in_timeout", CRON, HIGH, 1, 60_000),
    gt(4003, "monitor_check_in_missed", CRON, HIGH, 1, 60_000),
    gt(5001, "replay_click_dead", REPLAY, MEDIUM, 1, 5),
    gt(8002, "metric_issue_poc", METRIC_ALERT, HIGH, 1, 5),
    gt(11001, "preprod_static", PREPROD, LOW, 1, 5),
    gt(11002, "preprod_delta", PREPROD, LOW, 1, 5),
    gt(12001, "instrumentation_issue_experimental", INSTR, LOW, 1, 100),
];

pub fn group_type(type_id: i64) -> Option<&'static GroupType> {
    GROUP_TYPES.iter().find(|t| t.type_id == type_id)
}

pub fn priority_name(p: u8) -> &'static str {
    match p {
        LOW => "low",
        MEDIUM => "medium",
        _ => "high",
    }
}
