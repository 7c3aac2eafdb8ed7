//! A census of live heap allocations by requested size, for breaking down resident memory
//! (`--features alloc-census`; docs/benchmark-history.md, memory per group). Wraps mimalloc and counts
//! every allocation's requested and usable bytes in a histogram (exact sizes up to 4 KiB, then
//! powers of two); with `OCCURRENT_ALLOC_CENSUS=PATH` a thread rewrites PATH every second, and
//! PATH.peak whenever the live total is the highest seen so far.
//! Sizes name types well enough: a row's `Arc` is one size, a project's hash tables another.

use std::alloc::{GlobalAlloc, Layout};
use std::io::Write;
use std::sync::atomic::{AtomicI64, Ordering};

const EXACT: usize = 4096;
const BUCKETS: usize = EXACT / 8 + 64;

pub struct Census {
    counts: [AtomicI64; BUCKETS],
    requested: [AtomicI64; BUCKETS],
    usable: [AtomicI64; BUCKETS],
}

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicI64 = AtomicI64::new(0);

impl Census {
    pub const fn new() -> Census {
        Census {
            counts: [ZERO; BUCKETS],
            requested: [ZERO; BUCKETS],
            usable: [ZERO; BUCKETS],
        }
    }

    fn bucket(size: usize) -> usize {
        if size <= EXACT {
            size.div_ceil(8)
        } else {
            EXACT / 8 + (usize::BITS - (size - 1).leading_zeros()) as usize
        }
    }

    fn note(&self, size: usize, usable: usize, sign: i64) {
        if sign > 0 {
            trace(size);
        }
        let b = Self::bucket(size);
        self.counts[b].fetch_add(sign, Ordering::Relaxed);
        self.requested[b].fetch_add(sign * size as i64, Ordering::Relaxed);
        self.usable[b].fetch_add(sign * usable as i64, Ordering::Relaxed);
    }

    fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let (mut n, mut req, mut use_) = (0, 0, 0);
        let mut rows = Vec::new();
        for b in 0..BUCKETS {
            let c = self.counts[b].load(Ordering::Relaxed);
            let r = self.requested[b].load(Ordering::Relaxed);
            let u = self.usable[b].load(Ordering::Relaxed);
            n += c;
            req += r;
            use_ += u;
            if u > 0 {
                rows.push((u, b, c, r));
            }
        }
        writeln!(out, "live allocations {n}, requested {req} bytes, usable {use_} bytes")?;
        writeln!(out, "usable_bytes\tcount\trequested_bytes\tsize")?;
        rows.sort_unstable_by_key(|row| std::cmp::Reverse(row.0));
        for (u, b, c, r) in rows {
            let size = if b <= EXACT / 8 {
                format!("{}..={}", (b * 8).saturating_sub(7), b * 8)
            } else {
                format!("<=2^{}", b - EXACT / 8)
            };
            writeln!(out, "{u}\t{c}\t{r}\t{size}")?;
        }
        Ok(())
    }
}

pub struct CensusAllocator(pub Census);

// Safety: delegates to mimalloc and only counts.
unsafe impl GlobalAlloc for CensusAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = mimalloc::MiMalloc.alloc(layout);
        if !p.is_null() {
            self.0.note(layout.size(), usable(p), 1);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = mimalloc::MiMalloc.alloc_zeroed(layout);
        if !p.is_null() {
            self.0.note(layout.size(), usable(p), 1);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.0.note(layout.size(), usable(ptr), -1);
        mimalloc::MiMalloc.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let before = usable(ptr);
        let p = mimalloc::MiMalloc.realloc(ptr, layout, new_size);
        if !p.is_null() {
            self.0.note(layout.size(), before, -1);
            self.0.note(new_size, usable(p), 1);
        }
        p
    }
}

extern "C" {
    fn mi_usable_size(p: *const u8) -> usize;
}

fn usable(p: *const u8) -> usize {
    // Safety: p is a live mimalloc allocation.
    unsafe { mi_usable_size(p) }
}

static TRACE_SIZE: AtomicI64 = AtomicI64::new(-1);
static TRACED: AtomicI64 = AtomicI64::new(0);

thread_local! {
    static IN_TRACE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// With `OCCURRENT_ALLOC_TRACE=SIZE`, prints the stack of one in 4,096 allocations of exactly
/// SIZE bytes to standard error (to name the type behind a size).
fn trace(size: usize) {
    if TRACE_SIZE.load(Ordering::Relaxed) != size as i64 || TRACED.fetch_add(1, Ordering::Relaxed) % 4096 != 0 {
        return;
    }
    let _ = IN_TRACE.try_with(|busy| {
        if busy.replace(true) {
            return;
        }
        eprintln!("allocation of {size} bytes:\n{}", std::backtrace::Backtrace::force_capture());
        busy.set(false);
    });
}

/// Starts the writer thread if `OCCURRENT_ALLOC_CENSUS` names a file.
pub fn start(census: &'static Census) {
    if let Some(size) = std::env::var("OCCURRENT_ALLOC_TRACE").ok().and_then(|s| s.parse().ok()) {
        TRACE_SIZE.store(size, Ordering::Relaxed);
    }
    let Some(path) = std::env::var_os("OCCURRENT_ALLOC_CENSUS") else {
        return;
    };
    let mut peak_path = path.clone();
    peak_path.push(".peak");
    let mut timeline_path = path.clone();
    timeline_path.push(".timeline");
    // `OCCURRENT_ALLOC_CENSUS_MS`: the sampling interval (a backfill of 1M lines lasts a few
    // seconds, so the default second misses its peak).
    let interval = std::env::var("OCCURRENT_ALLOC_CENSUS_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    std::thread::spawn(move || {
        let mut peak = 0;
        let started = std::time::Instant::now();
        let mut timeline = std::fs::File::create(&timeline_path).ok();
        loop {
            std::thread::sleep(std::time::Duration::from_millis(interval));
            if let Some(file) = &mut timeline {
                let total = census.usable.iter().map(|u| u.load(Ordering::Relaxed)).sum::<i64>();
                let _ = writeln!(file, "{}\t{total}", started.elapsed().as_millis());
            }
            let mut text = Vec::new();
            if census.write(&mut text).is_ok() {
                let _ = std::fs::write(&path, &text);
                let total = census.usable.iter().map(|u| u.load(Ordering::Relaxed)).sum::<i64>();
                if total > peak {
                    peak = total;
                    let _ = std::fs::write(&peak_path, &text);
                }
            }
        }
    });
}
