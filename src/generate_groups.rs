//! A stream in which every line creates a new group: for measuring the read side at a given
//! number of groups. Cron failures (type 4001) pass the noise gate at once and have a quota
//! of 60,000 new groups per hour and project.

use std::io::Write;

/// The group type every line is (cron monitor failures: no noise gate).
const CRON_TYPE_ID: u32 = 4001;

/// The cron type's creation quota: groups per project in its window (an hour), and the
/// window in seconds.
pub fn cron_quota() -> (u64, i64) {
    dataflows::model::grouptype::group_type(CRON_TYPE_ID).map_or((u64::MAX, 3600), |t| {
        (u64::from(t.creation_quota.limit), t.creation_quota.window_seconds)
    })
}

pub fn generate_distinct_groups(count: u64, projects: u64, start_time: i64, span_seconds: i64, out: &mut dyn Write) -> std::io::Result<()> {
    let projects = projects.max(1);
    let step_micros = (span_seconds.max(1) as f64 * 1e6 / count.max(1) as f64) as i64;
    let environments = ["production", "staging", "dev"];
    for i in 0..count {
        let time = start_time * 1_000_000 + i as i64 * step_micros;
        writeln!(
            out,
            r#"{{"id":"{:032x}","project_id":{},"event_id":"{:032x}","fingerprint":["group-{i}"],"issue_title":"Monitor failure: job-{i}","subtitle":"A missed check-in was detected","type":{CRON_TYPE_ID},"detection_time":{}.{:06},"level":"error","culprit":"job-{i}","event":{{"event_id":"{:032x}","project_id":{},"platform":"python","timestamp":{}.{:06},"environment":"{}","release":"app@{}","user":{{"id":"{}"}}}}}}"#,
            (1u128 << 64) | u128::from(i),
            1 + i % projects,
            (2u128 << 64) | u128::from(i),
            time / 1_000_000,
            time % 1_000_000,
            (2u128 << 64) | u128::from(i),
            1 + i % projects,
            time / 1_000_000,
            time % 1_000_000,
            environments[(i % 3) as usize],
            i % 7,
            i % 1000,
        )?;
    }
    Ok(())
}
