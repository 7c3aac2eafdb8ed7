//! Where a list request's time goes, in a `Server-Timing` response header (milliseconds):
//! `wait` for the views' read lock, `hold` of it, within the hold `eval` (the index walk or
//! scan and the search) and `build` (the groups' JSON values), `ser` (JSON to bytes, after
//! the lock), `total` (the handler), and the handler thread's `cpu` time and `runq`, the time
//! it was runnable without a core. Client-side latency minus `total` is the connection, the
//! HTTP layer and the client; `total − cpu − runq` is time blocked (the lock wait, faults).

use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use dataflows::views::ThreadTimes;

/// The phases of one request, measured as it runs on one thread (the handler does not await
/// between its start and its response, so it stays on one thread).
pub struct RequestTiming {
    started: Instant,
    times: Option<ThreadTimes>,
    phases: Vec<(&'static str, Duration)>,
}

impl RequestTiming {
    pub fn start() -> RequestTiming {
        RequestTiming {
            started: Instant::now(),
            times: ThreadTimes::now(),
            phases: Vec::with_capacity(6),
        }
    }

    /// Runs `f`, recording its duration as `phase`.
    pub fn time<T>(&mut self, phase: &'static str, f: impl FnOnce() -> T) -> T {
        let at = Instant::now();
        let out = f();
        self.phases.push((phase, at.elapsed()));
        out
    }

    pub fn record(&mut self, phase: &'static str, took: Duration) {
        self.phases.push((phase, took));
    }

    /// The header's value at the end of the request.
    pub fn header(&self) -> Option<HeaderValue> {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mut parts: Vec<String> = self.phases.iter().map(|(name, d)| format!("{name};dur={:.3}", ms(*d))).collect();
        parts.push(format!("total;dur={:.3}", ms(self.started.elapsed())));
        if let Some(spent) = ThreadTimes::elapsed(self.times) {
            parts.push(format!("cpu;dur={:.3}", ms(spent.cpu)));
            parts.push(format!("runq;dur={:.3}", ms(spent.waiting)));
        }
        HeaderValue::from_str(&parts.join(", ")).ok()
    }
}

/// `name;dur=ms` entries of a `Server-Timing` value.
pub fn parse_header(value: &str) -> Vec<(String, f64)> {
    value
        .split(',')
        .filter_map(|entry| {
            let (name, rest) = entry.trim().split_once(";dur=")?;
            Some((name.to_string(), rest.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_reads_back_as_written() {
        let mut timing = RequestTiming::start();
        let x = timing.time("eval", || std::hint::black_box(21) * 2);
        assert_eq!(x, 42);
        timing.record("wait", Duration::from_micros(1_500));
        let header = timing.header().expect("ASCII");
        let parsed = parse_header(header.to_str().expect("ASCII"));
        let names: Vec<&str> = parsed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(&names[..3], ["eval", "wait", "total"]);
        assert_eq!(parsed[1].1, 1.5);
        let total = parsed[2].1;
        assert!(parsed[0].1 <= total && total < 1_000.0, "{parsed:?}");
        assert_eq!(parse_header("a;dur=1.25, b;desc=x, c;dur=z"), vec![("a".to_string(), 1.25)]);
    }
}
