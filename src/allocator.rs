//! Allocator tuning for bounded runs.
//!
//! mimalloc returns ("purges") freed memory to the kernel after a delay. A backfill frees and
//! reallocates large per-epoch buffers all the time, so purged pages were faulted in and zeroed
//! again by the kernel: with purging off, a 1M-line backfill has half the page faults, for ~5%
//! more peak resident memory (the CPU saving, 1–12% across run sets, was within the noise of
//! a loaded machine: docs/benchmark-history.md, session 5). A server keeps the default, so memory it no
//! longer needs goes back to the system.

use std::ffi::{c_int, c_long};

// mimalloc v3's `mi_option_purge_delay` (include/mimalloc.h). libmimalloc-sys names no
// constant for it, so the number is checked against the option's documented default before
// it is changed (see `disable_purging`).
const MI_OPTION_PURGE_DELAY: c_int = 15;
const PURGE_DELAY_DEFAULT_MS: c_long = 1000;

extern "C" {
    fn mi_option_get(option: c_int) -> c_long;
    fn mi_option_set(option: c_int, value: c_long);
}

/// Keeps freed memory in the process for the rest of the run, unless `MIMALLOC_PURGE_DELAY`
/// says otherwise. Returns whether it did.
pub fn disable_purging() -> bool {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return false;
    }
    // Safety: plain option accessors of the linked mimalloc; the option number is in range.
    unsafe {
        // A different value means the numbering changed (or someone set it): leave it alone.
        if mi_option_get(MI_OPTION_PURGE_DELAY) != PURGE_DELAY_DEFAULT_MS {
            tracing::debug!("mimalloc purge delay option not recognised; left as it is");
            return false;
        }
        mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        mi_option_get(MI_OPTION_PURGE_DELAY) == -1
    }
}

/// librdkafka allocates its fetch buffers with the C library's malloc, not mimalloc. glibc
/// gives the free top of a heap back to the kernel past a threshold that adapts to the sizes
/// freed, and serves large requests with mmap below one that adapts too: a backfill's fetch
/// buffers were faulted in and zeroed again and again (with `queued.min.messages` at 10,000,
/// ~10,000 of the ~40,000 page faults per 1M messages; docs/benchmark-history.md, Kafka, session 6).
/// Fixed thresholds keep that memory for the rest of a bounded run. glibc only (elsewhere
/// nothing to do); returns whether it did.
pub fn keep_c_heap() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(param: c_int, value: c_int) -> c_int;
        }
        // glibc's malloc.h; 32 MiB is the largest mmap threshold it accepts on 64-bit.
        const M_TRIM_THRESHOLD: c_int = -1;
        const M_MMAP_THRESHOLD: c_int = -3;
        // Safety: mallopt only sets malloc parameters; it answers 0 to a value out of range.
        unsafe { mallopt(M_TRIM_THRESHOLD, c_int::MAX) == 1 && mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_heap_thresholds() {
        assert!(super::keep_c_heap());
    }

    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // Safety: as in `disable_purging`.
        let before = unsafe { super::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(before, super::PURGE_DELAY_DEFAULT_MS, "mimalloc's option numbering changed");
        assert!(super::disable_purging());
    }
}
