//! The issues endpoints' request parameters (issue-platform.md §7.1): time window, stats
//! period, projects, environments, collapse, explicit group ids, sort; with Sentry's 400
//! messages.

use dataflows::model::time::parse_iso;
use dataflows::model::{symbol_of, Micros, Symbol};
use dataflows::window::Window;

const SECOND: Micros = 1_000_000;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
/// The default window, and the oldest start any window may have (Sentry's retention clamp).
pub const MAX_WINDOW: Micros = 90 * DAY * SECOND;

/// The API's "now": Sentry uses the wall clock. Occurrent by default uses the newest event
/// time in the views (capped at the wall clock), so that answers depend only on the input log
/// (a backfill of last year's data is served as it was then); `wall` gives Sentry's reading,
/// a date-time a fixed one.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum ApiClock {
    #[default]
    Data,
    Wall,
    Fixed(Micros),
}

impl std::str::FromStr for ApiClock {
    type Err = String;

    fn from_str(text: &str) -> Result<ApiClock, String> {
        match text {
            "data" => Ok(ApiClock::Data),
            "wall" => Ok(ApiClock::Wall),
            other => parse_instant(other)
                .map(ApiClock::Fixed)
                .ok_or_else(|| format!("expected data, wall, epoch seconds or an ISO 8601 date-time, not {other:?}")),
        }
    }
}

impl ApiClock {
    /// Now, in microseconds; `latest_event` is the newest event time in the views.
    pub fn now(self, latest_event: Micros) -> Micros {
        let wall = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as Micros)
        };
        match self {
            // Never past the wall clock: one event stamped in the future must not hide the rest.
            ApiClock::Data if latest_event > 0 => latest_event.min(wall()),
            ApiClock::Data | ApiClock::Wall => wall(),
            ApiClock::Fixed(t) => t,
        }
    }
}

/// An ISO 8601 date-time (`Z`, an offset or none) or epoch seconds.
fn parse_instant(text: &str) -> Option<Micros> {
    if let Ok(t) = parse_iso(text, true) {
        return Some(t);
    }
    let seconds: f64 = text.parse().ok()?;
    seconds.is_finite().then_some((seconds * 1e6) as Micros)
}

/// The query string's pairs, in order.
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(raw: Option<&str>) -> Params {
        Params(
            raw.map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable parameter.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    fn first_of(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| self.get(n)).filter(|v| !v.is_empty())
    }
}

/// `<int>[s,m,h,d,w]` (a bare number is seconds), in microseconds.
pub fn parse_period(text: &str) -> Option<Micros> {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = match &text[digits.len()..] {
        "" | "s" => 1,
        "m" => 60,
        "h" => HOUR,
        "d" => DAY,
        "w" => 7 * DAY,
        _ => return None,
    };
    let n: i64 = digits.parse().ok().filter(|n| *n > 0)?;
    n.checked_mul(unit)?.checked_mul(SECOND)
}

/// The request's window: `statsPeriod` (or `timeframe`), `statsPeriodStart`/`statsPeriodEnd`,
/// or `start`+`end`; default the last 90 days. The start is clamped to `now − 90 d`. A period
/// window ends at now inclusive; an explicit `end` is exclusive.
pub fn parse_window(params: &Params, now: Micros) -> Result<Window, String> {
    let period = |names: &[&str]| -> Result<Option<Micros>, String> {
        match params.first_of(names) {
            None => Ok(None),
            Some(text) => parse_period(text).map(Some).ok_or_else(|| "Invalid statsPeriod".to_string()),
        }
    };
    let stats_period = period(&["statsPeriod", "timeframe"])?;
    let period_start = period(&["statsPeriodStart", "timeframeStart"])?;
    let period_end = period(&["statsPeriodEnd", "timeframeEnd"])?;
    let start = params.get("start").filter(|v| !v.is_empty());
    let end = params.get("end").filter(|v| !v.is_empty());
    let window = if let Some(p) = stats_period {
        Window {
            start: now.saturating_sub(p),
            end: now,
        }
    } else if period_start.is_some() || period_end.is_some() {
        let (Some(period_start), Some(period_end)) = (period_start, period_end) else {
            return Err("statsPeriodStart and statsPeriodEnd are both required".into());
        };
        let start = now.saturating_sub(period_start);
        let end = now.saturating_sub(period_end);
        if start >= end {
            return Err("start must be before end".into());
        }
        Window { start, end }
    } else if start.is_some() || end.is_some() {
        let (Some(start), Some(end)) = (start, end) else {
            return Err("start and end are both required".into());
        };
        let parse = |text: &str| parse_instant(text).ok_or_else(|| format!("{text} is not a valid ISO8601 date query"));
        let (start, end) = (parse(start)?, parse(end)?);
        if start >= end {
            return Err("start must be before end".into());
        }
        Window { start, end: end - 1 }
    } else {
        Window {
            start: now - MAX_WINDOW,
            end: now,
        }
    };
    Ok(Window {
        start: window.start.max(now - MAX_WINDOW),
        end: window.end,
    })
}

/// At most about this many `auto` buckets per group.
const MAX_BUCKETS: i64 = 1000;

/// `groupStatsPeriod`: the buckets of the serialized `stats`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StatsSpec {
    /// `24h`, `14d` or `auto`: the key of `stats`.
    pub key: &'static str,
    /// First bucket start, epoch seconds.
    pub start: i64,
    /// Bucket size, seconds.
    pub size: i64,
    pub count: usize,
}

impl StatsSpec {
    pub fn buckets(&self) -> dataflows::window::Buckets {
        dataflows::window::Buckets {
            start: self.start,
            size: self.size,
            count: self.count,
        }
    }
}

/// Missing → `24h` (24 hourly buckets, the last holding now), `14d` (14 daily UTC buckets),
/// `auto` (hourly over windows up to 48 hours, else daily, from the window's start to its
/// end), `""` → no stats.
pub fn parse_stats(params: &Params, window: Window, now: Micros) -> Result<Option<StatsSpec>, String> {
    let now_s = now.div_euclid(SECOND);
    let ending_now = |key, size: i64, count: usize| StatsSpec {
        key,
        start: now_s.div_euclid(size) * size - (count as i64 - 1) * size,
        size,
        count,
    };
    match params.get("groupStatsPeriod") {
        None | Some("24h") => Ok(Some(ending_now("24h", HOUR, 24))),
        Some("14d") => Ok(Some(ending_now("14d", DAY, 14))),
        Some("") => Ok(None),
        Some("auto") => {
            let (start, end) = (window.start.div_euclid(SECOND), window.end.div_euclid(SECOND));
            let span = end.saturating_sub(start);
            // Days, or whole multiples of a day past MAX_BUCKETS (an `end` far in the future).
            let size = if span <= 48 * HOUR {
                HOUR
            } else {
                DAY * (span / DAY / MAX_BUCKETS + 1)
            };
            let first = start.div_euclid(size) * size;
            let count = (end.saturating_sub(first).div_euclid(size) + 1).clamp(1, MAX_BUCKETS + 1) as usize;
            Ok(Some(StatsSpec {
                key: "auto",
                start: first,
                size,
                count,
            }))
        }
        Some(_) => Err("Invalid stats_period. Valid choices are '', '24h', '14d' and 'auto'".into()),
    }
}

/// `project=` values: None for all the organisation's projects (absent or `-1`).
pub fn parse_projects(params: &Params) -> Result<Option<Vec<u64>>, String> {
    let mut ids = Vec::new();
    for value in params.all("project") {
        match value.trim().parse::<i64>() {
            Ok(-1) => return Ok(None),
            Ok(id) if id >= 0 => ids.push(id as u64),
            _ => return Err("Invalid project parameter. Values must be numbers.".into()),
        }
    }
    Ok((!ids.is_empty()).then_some(ids))
}

/// `environment=` values as symbols; None when absent.
pub fn parse_environments(params: &Params) -> Option<Vec<Symbol>> {
    let names = params.all("environment");
    (!names.is_empty()).then(|| names.iter().map(|n| symbol_of(n)).collect())
}

/// `group=` ids; None when absent.
pub fn parse_group_ids(params: &Params) -> Result<Option<Vec<u64>>, String> {
    let values = params.all("group");
    if values.is_empty() {
        return Ok(None);
    }
    values
        .iter()
        .map(|v| v.trim().parse::<u64>().map_err(|_| "Group ids must be integers".to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `collapse=` values: fields left out of the serialized groups.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Collapse {
    pub base: bool,
    pub stats: bool,
    pub lifetime: bool,
    pub filtered: bool,
    pub unhandled: bool,
}

impl Collapse {
    pub fn parse(params: &Params) -> Collapse {
        let values = params.all("collapse");
        let has = |name: &str| values.contains(&name);
        Collapse {
            base: has("base"),
            stats: has("stats"),
            lifetime: has("lifetime"),
            filtered: has("filtered"),
            unhandled: has("unhandled"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    Date,
    New,
    Freq,
    User,
    /// The legacy `priority` score: `ln(times_seen) · 600 + last_seen` (seconds), on the
    /// window's values (issue-platform.md §7.3; Sentry's newer trends score is not specified).
    Trends,
    Inbox,
}

impl Sort {
    pub fn parse(text: &str) -> Result<Sort, String> {
        Ok(match text {
            "date" => Sort::Date,
            "new" => Sort::New,
            "freq" => Sort::Freq,
            "user" => Sort::User,
            "trends" => Sort::Trends,
            "inbox" => Sort::Inbox,
            other => return Err(format!("Sort key '{other}' not supported.")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    const NOW: Micros = 1_704_067_200 * SECOND + 1_800 * SECOND;

    #[test]
    fn periods() {
        assert_eq!(parse_period("24h"), Some(24 * HOUR * SECOND));
        assert_eq!(parse_period("90"), Some(90 * SECOND));
        assert_eq!(parse_period("2w"), Some(14 * DAY * SECOND));
        for bad in ["", "h", "1y", "-1d", "0d", "1.5h", "d1"] {
            assert_eq!(parse_period(bad), None, "{bad}");
        }
    }

    #[test]
    fn windows_and_their_errors() {
        let w = parse_window(&params(&[]), NOW).unwrap();
        assert_eq!((w.start, w.end), (NOW - MAX_WINDOW, NOW));
        let w = parse_window(&params(&[("statsPeriod", "1h")]), NOW).unwrap();
        assert_eq!(w.start, NOW - HOUR * SECOND);
        let w = parse_window(&params(&[("statsPeriod", "365d")]), NOW).unwrap();
        assert_eq!(w.start, NOW - MAX_WINDOW, "clamped");
        let w = parse_window(&params(&[("statsPeriodStart", "2d"), ("statsPeriodEnd", "1d")]), NOW).unwrap();
        assert_eq!((w.start, w.end), (NOW - 2 * DAY * SECOND, NOW - DAY * SECOND));
        let w = parse_window(&params(&[("start", "2024-01-01T00:00:00"), ("end", "2024-01-01T01:00:00Z")]), NOW).unwrap();
        assert_eq!((w.start, w.end), (NOW - 1_800 * SECOND, NOW + 1_800 * SECOND - 1));
        let err = |p: &[(&str, &str)]| parse_window(&params(p), NOW).unwrap_err();
        assert_eq!(err(&[("statsPeriod", "7x")]), "Invalid statsPeriod");
        assert_eq!(err(&[("start", "2024-01-01T00:00:00")]), "start and end are both required");
        for alone in [("statsPeriodStart", "2d"), ("statsPeriodEnd", "1d"), ("timeframeStart", "2d")] {
            assert_eq!(err(&[alone]), "statsPeriodStart and statsPeriodEnd are both required");
        }
        assert_eq!(
            err(&[("start", "2024-01-02T00:00:00"), ("end", "2024-01-01T00:00:00")]),
            "start must be before end"
        );
        assert_eq!(
            err(&[("start", "yesterday"), ("end", "2024-01-01T00:00:00")]),
            "yesterday is not a valid ISO8601 date query"
        );
    }

    #[test]
    fn stats_buckets() {
        let window = parse_window(&params(&[]), NOW).unwrap();
        let spec = parse_stats(&params(&[]), window, NOW).unwrap().unwrap();
        assert_eq!(
            (spec.key, spec.start, spec.size, spec.count),
            ("24h", 1_704_067_200 - 23 * HOUR, HOUR, 24)
        );
        let spec = parse_stats(&params(&[("groupStatsPeriod", "14d")]), window, NOW).unwrap().unwrap();
        assert_eq!((spec.start, spec.size, spec.count), (1_704_067_200 - 13 * DAY, DAY, 14));
        assert_eq!(parse_stats(&params(&[("groupStatsPeriod", "")]), window, NOW).unwrap(), None);
        let hours = parse_window(&params(&[("statsPeriod", "3h")]), NOW).unwrap();
        let spec = parse_stats(&params(&[("groupStatsPeriod", "auto")]), hours, NOW).unwrap().unwrap();
        assert_eq!((spec.start, spec.size, spec.count), (1_704_067_200 - 3 * HOUR, HOUR, 4));
        assert!(parse_stats(&params(&[("groupStatsPeriod", "1h")]), window, NOW).is_err());
        // An end far in the future: bounded bucket count, whole days.
        let far = parse_window(&params(&[("start", "2024-01-01T00:00:00"), ("end", "9999-12-31T00:00:00")]), NOW).unwrap();
        let spec = parse_stats(&params(&[("groupStatsPeriod", "auto")]), far, NOW).unwrap().unwrap();
        assert!(spec.count <= 1001 && spec.size % DAY == 0, "{spec:?}");
    }

    #[test]
    fn projects_groups_and_clock() {
        assert_eq!(
            parse_projects(&params(&[("project", "1"), ("project", "2")])).unwrap(),
            Some(vec![1, 2])
        );
        assert_eq!(parse_projects(&params(&[("project", "-1")])).unwrap(), None);
        assert!(parse_projects(&params(&[("project", "a")])).is_err());
        assert_eq!(parse_group_ids(&params(&[("group", "3")])).unwrap(), Some(vec![3]));
        assert_eq!(
            parse_group_ids(&params(&[("group", "x")])).unwrap_err(),
            "Group ids must be integers"
        );
        assert_eq!("data".parse::<ApiClock>().unwrap().now(5), 5);
        let wall = ApiClock::Wall.now(0);
        assert!(ApiClock::Data.now(Micros::MAX) <= wall + 60 * SECOND, "capped at the wall clock");
        assert_eq!("1704067200".parse::<ApiClock>().unwrap().now(5), 1_704_067_200 * SECOND);
        assert!("soon".parse::<ApiClock>().is_err());
    }
}
