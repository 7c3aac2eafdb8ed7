//! Grouping throughput on one core, against plain JSON parsing of the same lines in the same
//! run (docs/benchmark-history.md, "Error events: grouping and backfill"):
//!
//! ```sh
//! cargo run --release -p dataflows --example grouping_bench -- events.jsonl [runs]
//! ```
//!
//! Per run and phase it reads the whole file into memory first (so disk speed is not
//! measured), then times: `parse` (serde_json to a `Value`), `group` (parse + `group_event`)
//! and `group+metadata` (parse + `group_and_describe`: hashes, title, culprit and metadata,
//! what the events decoder does per event). Prints events/s per phase, the medians and the
//! ratios to `parse`. One thread, the system allocator (the binary uses mimalloc).

use std::time::Instant;

use dataflows::grouping::{group_and_describe, group_event, GroupingOptions};
use serde_json::Value;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: grouping_bench FILE [RUNS]")?;
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(3);
    let text = std::fs::read_to_string(&path)?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let options = GroupingOptions::default();
    let phases = ["parse", "group", "group+metadata"];
    let mut rates = vec![Vec::new(); phases.len()];
    for run in 1..=runs {
        for (phase, name) in phases.iter().enumerate() {
            let started = Instant::now();
            let mut hashes = 0usize;
            for line in &lines {
                let Ok(event) = serde_json::from_str::<Value>(line) else { continue };
                match phase {
                    0 => hashes += usize::from(event.is_object()),
                    1 => {
                        if let Ok(result) = group_event(&event, &options) {
                            hashes += result.hashes.len();
                        }
                    }
                    _ => {
                        if let Ok((result, display)) = group_and_describe(&event, &options) {
                            hashes += result.hashes.len() + display.title.len();
                        }
                    }
                }
            }
            let rate = lines.len() as f64 / started.elapsed().as_secs_f64();
            println!("run {run} {name:>15}: {rate:>10.0} events/s (checksum {hashes})");
            rates[phase].push(rate);
        }
    }
    let parse = median(rates[0].clone());
    for (name, rates) in phases.iter().zip(rates) {
        let m = median(rates);
        println!("median {name:>15}: {m:>10.0} events/s, {:.3} of parse", m / parse);
    }
    Ok(())
}
