//! Cost of late occurrences in the per-group details (docs/benchmark-history.md, "Session 9 (branch `s9-details`)"):
//! N distinct occurrences inserted into one group in reverse time order (every one late),
//! with the runs of `views::details` against one sorted list (the storage before session 9,
//! re-implemented here: an insert moves every later entry of the group).
//!
//! ```sh
//! cargo run --release -p dataflows --example details_late_bench -- [N…] [--old-max N]
//! ```
//!
//! Prints seconds and nanoseconds per insert for each N; the sorted list is timed only up to
//! `--old-max` (default 100000: it is quadratic). Also times N in-order inserts (the common
//! case) for the runs.

use std::time::Instant;

use dataflows::views::details::{self, Details, Entry};

/// One occurrence per second, a new user each: nothing coalesces.
fn occurrence(i: u64) -> Entry {
    details::entry(400_000 + (i / 3600) as u32, (i % 3600) as u32, 7, i + 1)
}

/// The previous storage: one sorted list per group, a late entry inserted in the middle.
fn sorted_list(n: u64) -> usize {
    let mut list: Vec<Entry> = Vec::new();
    for i in (0..n).rev() {
        let e = occurrence(i);
        let key = |x: &Entry| (x[0], x[1], x[3], x[2], x[5], x[4]);
        let at = list.partition_point(|x| key(x) < key(&e));
        list.insert(at, e);
    }
    list.len()
}

fn runs(n: u64, reverse: bool) -> usize {
    let mut details = Details::default();
    for i in 0..n {
        let i = if reverse { n - 1 - i } else { i };
        details.add(0, occurrence(i), 1);
    }
    details.of(0).len()
}

fn time(what: &str, n: u64, f: impl FnOnce() -> usize) {
    let start = Instant::now();
    let len = f();
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(len as u64, n, "{what}: every occurrence kept");
    println!("{what:<28} N={n:<9} {seconds:>9.3} s {:>9.1} ns/insert", seconds * 1e9 / n as f64);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut sizes = Vec::new();
    let mut old_max = 100_000u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--old-max" {
            old_max = args.next().ok_or("--old-max wants a number")?.parse()?;
        } else {
            sizes.push(arg.parse::<u64>()?);
        }
    }
    if sizes.is_empty() {
        sizes = vec![100_000, 1_000_000];
    }
    for &n in &sizes {
        time("runs, reverse order", n, || runs(n, true));
        time("runs, in order", n, || runs(n, false));
        if n <= old_max {
            time("sorted list, reverse order", n, || sorted_list(n));
        }
    }
    Ok(())
}
