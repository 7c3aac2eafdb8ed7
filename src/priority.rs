//! `OCCURRENT_INGEST_NICE=N` (1–19): ingest threads (the feeder and the dataflow workers)
//! run at that niceness, so that on a busy machine a request thread that wakes up gets a
//! core before them (an experiment for the issues-list tail; see BENCHMARKS.md). Unset or
//! 0: unchanged. Linux only (elsewhere ignored); lowering priority needs no privilege.

/// Applies `OCCURRENT_INGEST_NICE` to the calling thread.
pub fn lower_ingest_thread() {
    static NICE: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    let nice = *NICE.get_or_init(|| {
        std::env::var("OCCURRENT_INGEST_NICE")
            .ok()
            .and_then(|v| v.parse::<i32>().ok())
            .map_or(0, |n| n.clamp(0, 19))
    });
    if nice > 0 {
        set_thread_nice(nice);
    }
}

#[cfg(target_os = "linux")]
fn set_thread_nice(nice: i32) {
    extern "C" {
        fn setpriority(which: std::ffi::c_int, who: std::ffi::c_uint, priority: std::ffi::c_int) -> std::ffi::c_int;
    }
    const PRIO_PROCESS: std::ffi::c_int = 0;
    // Safety: a plain system call wrapper; `who = 0` is the calling thread on Linux, whose
    // threads each have their own niceness.
    if unsafe { setpriority(PRIO_PROCESS, 0, nice) } != 0 {
        tracing::warn!(nice, "cannot lower the ingest thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn set_thread_nice(_: i32) {}
