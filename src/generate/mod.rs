//! Deterministic generator of realistic issue-platform input streams (`occurrent generate`).
//!
//! The output is one JSON object per line (`\n` terminated), shaped like the messages Sentry's
//! occurrence and status-change consumers read (see `docs/semantics.md` and
//! `../shared/reference/issue-platform.md` §2, §3, §5.3):
//!
//! * **occurrences** (~93%): Zipf(s = 1.1) popularity over `fingerprints` fingerprints; each
//!   fingerprint has a fixed project (Zipf(s = 1) over `1..=projects`), a fixed registered group
//!   type from a realistic mix, a fixed title/subtitle/culprit, and about 5% of them carry a second
//!   fingerprint string (unique, another fingerprint's first string, or an alias shared within the
//!   same project and type) to exercise multi-hash linking;
//! * **status changes** (~5%) for fingerprints already emitted, mostly valid transitions, some
//!   invalid ones (missing / unexpected / invalid substatus, unsupported status);
//! * **duplicates** (~1%): an exact copy of one of the last 100 well-formed lines, chosen among
//!   those whose id the dedup stage (§4.1) still remembers with any window of at least 300 s (the
//!   generator tracks each project's watermark), so `GenerateStats::duplicates` is exactly the
//!   number of records the pipeline skips as duplicates. (When no recent line qualifies, e.g. in
//!   very sparse streams, an ordinary occurrence is written instead.);
//! * **malformed** lines (`malformed_ratio`): truncated JSON, missing required fields, unknown
//!   type 9999, bad UUIDs, `event.project_id` mismatch, non-object JSON, unknown `payload_type`,
//!   empty fingerprint, `detection_time` with an offset, `event_id` mismatch. Every malformed line
//!   is one that the decoder of `docs/semantics.md` §2 must reject.
//!
//! `lines = occurrences + status_changes + duplicates + malformed` in [`GenerateStats`].
//!
//! **Determinism.** All randomness comes from `rand::rngs::StdRng::seed_from_u64` (ChaCha12 in
//! rand 0.9, pinned by `Cargo.lock`), consumed only through `next_u64`; range reduction, weighted
//! choices and Zipf tables are implemented here with integer arithmetic and IEEE basic
//! operations only (no `powf`/`ln`/`exp`, whose results may differ between libms), and times are
//! formatted from integer microseconds. The same options therefore give byte-identical output on
//! every platform.
//!
//! **Speed.** Per-fingerprint data is a few small indices into pre-escaped string tables; lines
//! are formatted by hand into one reused buffer that is flushed in ~256 KiB chunks.
//!
//! The code is split by concern: [`random`] (portable RNG and Zipf tables), [`json`] (hand-rolled
//! byte formatting), [`vocabulary`] (group types and word tables), [`world`] (projects,
//! fingerprints and the per-fingerprint field writers) and [`lines`] (whole lines and the stream
//! state they share); this file holds the public API and the main loop.

use std::io::{self, Write};

mod json;
mod lines;
mod random;
mod vocabulary;
mod world;

use lines::{Fault, Gen};
use random::Rng;
use world::World;

/// Options of `occurrent generate`.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Seed of the random stream; the same options give byte-identical output.
    pub seed: u64,
    /// Number of lines to write.
    pub count: u64,
    /// Number of distinct fingerprints (0 is treated as 1).
    pub fingerprints: u64,
    /// Number of projects; project ids are `1..=projects` (0 is treated as 1).
    pub projects: u64,
    /// Fraction of malformed lines (clamped to `0.0..=0.9`). Default 0.002.
    pub malformed_ratio: f64,
    /// Event time of the first line, epoch seconds. Default 2024-01-01T00:00:00Z.
    pub start_time: i64,
    /// Event times advance across this many seconds over the stream. Default 14 days.
    pub span_seconds: i64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            seed: 1,
            count: 10_000,
            fingerprints: 1_000,
            projects: 10,
            malformed_ratio: 0.002,
            start_time: 1_704_067_200,
            span_seconds: 14 * 86_400,
        }
    }
}

/// What [`generate`] wrote. `lines = occurrences + status_changes + duplicates + malformed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerateStats {
    pub lines: u64,
    /// Well-formed occurrence lines (first emissions, not counting duplicates).
    pub occurrences: u64,
    /// Decodable status-change lines (including transitions the model will reject).
    pub status_changes: u64,
    /// Exact copies of a recent well-formed line that the dedup stage (window >= 300 s) skips.
    pub duplicates: u64,
    /// Lines the decoder must reject.
    pub malformed: u64,
}

/// Writes `opts.count` lines to `out`. The writer is written in large chunks; wrap it in a
/// `BufWriter` only if it is unbuffered *and* you care about syscall counts below 256 KiB.
pub fn generate(opts: &GenerateOptions, out: &mut dyn Write) -> io::Result<GenerateStats> {
    run(opts, out, &mut |_, _| {})
}

const STATUS_RATIO: f64 = 0.05;
const DUPLICATE_RATIO: f64 = 0.01;
/// Duplicates copy one of the last `RING` well-formed lines.
const RING: usize = 100;
/// A duplicate copies only a line whose id the dedup stage remembers with a time at most this far
/// behind its project's watermark, so any `--dedup-window` of at least 300 s catches every
/// duplicate (and `GenerateStats::duplicates` is the exact count to expect).
const DUP_SLACK: i64 = 300 * US;
/// Status changes mostly target one of the last `RECENT` fingerprints that had an occurrence.
const RECENT: usize = 1024;
const FLUSH_AT: usize = 256 * 1024;
/// Microseconds per second: all times are integer µs so that formatting is exact.
const US: i64 = 1_000_000;

/// What a written line was meant to be, reported to `run`'s callback so tests can check every
/// line against its intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    Occurrence,
    StatusChange,
    Duplicate,
    Malformed,
}

fn run(opts: &GenerateOptions, out: &mut dyn Write, on_line: &mut dyn FnMut(LineKind, &[u8])) -> io::Result<GenerateStats> {
    let mut stats = GenerateStats::default();
    if opts.count == 0 {
        return Ok(stats);
    }
    let mut setup_rng = Rng::new(opts.seed);
    let world = World::new(opts, &mut setup_rng);
    let nfp = world.fps.len();
    let mut g = Gen {
        w: world,
        rng: Rng::new(opts.seed ^ 0x6a09_e667_f3bc_c908),
        buf: Vec::with_capacity(FLUSH_AT + 64 * 1024),
        out,
        emitted: vec![false; nfp],
        emitted_list: Vec::new(),
        recent_fps: Vec::with_capacity(RECENT),
        recent_pos: 0,
        ring: Vec::with_capacity(RING),
        ring_pos: 0,
        watermark: vec![0; opts.projects.max(1) as usize],
    };
    let malformed = if opts.malformed_ratio.is_finite() {
        opts.malformed_ratio.clamp(0.0, 0.9)
    } else {
        0.0
    };
    let start_us = opts.start_time.saturating_mul(US);
    let span_us = opts.span_seconds.max(0).saturating_mul(US) as i128;
    let count = opts.count as i128;

    for n in 0..opts.count {
        let base = start_us + (span_us * n as i128 / count) as i64;
        // Event time: small forward jitter; ~3% of lines up to 10 minutes late.
        let t = if g.rng.pm() < 30 {
            base - g.rng.below(600 * US as u64) as i64
        } else {
            base + g.rng.below(1_500_000) as i64
        };
        let start = g.buf.len();
        let r = g.rng.unit();
        let kind = if r < malformed {
            g.malformed(t);
            stats.malformed += 1;
            LineKind::Malformed
        } else if let Some(pick) = if r < malformed + DUPLICATE_RATIO {
            g.duplicate_candidate()
        } else {
            None
        } {
            // An exact copy the dedup stage (window >= DUP_SLACK) is certain to catch; if no
            // recent line qualifies, an ordinary occurrence is written instead.
            let Gen { ring, buf, .. } = &mut g;
            buf.extend_from_slice(&ring[pick].2);
            stats.duplicates += 1;
            LineKind::Duplicate
        } else if (malformed + DUPLICATE_RATIO..malformed + DUPLICATE_RATIO + STATUS_RATIO).contains(&r) && !g.emitted_list.is_empty() {
            let fi = if g.rng.pm() < 700 {
                *g.rng.pick(&g.recent_fps) as usize
            } else {
                *g.rng.pick(&g.emitted_list) as usize
            };
            g.status_change(fi, None);
            // A status change's id is remembered with its project's watermark.
            let p = g.w.fps[fi].project;
            g.remember(start, p, g.watermark[p as usize]);
            stats.status_changes += 1;
            LineKind::StatusChange
        } else {
            let fi = g.w.fp_cdf.sample(&mut g.rng);
            let event_time = g.occurrence(fi, t, Fault::default());
            g.note_emitted(fi);
            let p = g.w.fps[fi].project;
            let wm = &mut g.watermark[p as usize];
            *wm = (*wm).max(event_time);
            g.remember(start, p, event_time);
            stats.occurrences += 1;
            LineKind::Occurrence
        };
        on_line(kind, &g.buf[start..]);
        stats.lines += 1;
        if g.buf.len() >= FLUSH_AT {
            g.out.write_all(&g.buf)?;
            g.buf.clear();
        }
    }
    g.out.write_all(&g.buf)?;
    g.out.flush()?;
    Ok(stats)
}

#[cfg(test)]
mod tests;
