//! `run --ingest-nice N` (1–19): ingest threads (the feeder and the dataflow workers) run at
//! that niceness, so that on a busy machine a request thread that wakes up gets a core before
//! them (see docs/benchmark-history.md, issues-list latency, session 6). 0: unchanged. Linux only
//! (elsewhere ignored); lowering priority needs no privilege.
//!
//! `run --api-nice N` (−20–0): the API's threads run at that niceness, above the ingest
//! threads without lowering ingest. Raising priority needs `CAP_SYS_NICE` (or an
//! `RLIMIT_NICE` that allows it); without it a warning is logged and they keep the process's.

use std::sync::atomic::{AtomicI32, Ordering};

static INGEST_NICE: AtomicI32 = AtomicI32::new(0);

/// Sets the niceness [`lower_ingest_thread`] applies; called once, before the pipeline starts.
pub fn set_ingest_nice(nice: i32) {
    INGEST_NICE.store(nice.clamp(0, 19), Ordering::Relaxed);
}

/// Applies the ingest niceness to the calling thread.
pub fn lower_ingest_thread() {
    let nice = INGEST_NICE.load(Ordering::Relaxed);
    if nice > 0 && !set_thread_nice(nice) {
        tracing::warn!(nice, "cannot lower the ingest thread's priority");
    }
}

/// Applies `nice` (−20–0) to the calling API thread; false when not permitted.
pub fn raise_api_thread(nice: i32) -> bool {
    nice >= 0 || set_thread_nice(nice.clamp(-20, 0))
}

#[cfg(target_os = "linux")]
fn set_thread_nice(nice: i32) -> bool {
    extern "C" {
        fn setpriority(which: std::ffi::c_int, who: std::ffi::c_uint, priority: std::ffi::c_int) -> std::ffi::c_int;
    }
    const PRIO_PROCESS: std::ffi::c_int = 0;
    // Safety: a plain system call wrapper; `who = 0` is the calling thread on Linux, whose
    // threads each have their own niceness.
    unsafe { setpriority(PRIO_PROCESS, 0, nice) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn set_thread_nice(_: i32) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    extern "C" {
        fn getpriority(which: std::ffi::c_int, who: std::ffi::c_uint) -> std::ffi::c_int;
    }

    fn own_nice() -> i32 {
        // Safety: a plain system call wrapper; `who = 0` is the calling thread.
        unsafe { getpriority(0, 0) }
    }

    #[test]
    fn ingest_threads_run_at_the_set_niceness_and_others_do_not() {
        let before = own_nice();
        // 19, the lowest priority, can always be set without privilege, whatever the
        // niceness this test runs at.
        super::set_ingest_nice(19);
        let ingest = std::thread::spawn(|| {
            super::lower_ingest_thread();
            own_nice()
        });
        let other = std::thread::spawn(own_nice);
        assert_eq!(ingest.join().unwrap(), 19);
        assert_eq!(other.join().unwrap(), before);
        super::set_ingest_nice(0);
    }

    #[test]
    fn api_threads_are_raised_when_permitted_and_say_so_otherwise() {
        let before = own_nice();
        let (raised, nice) = std::thread::spawn(|| (super::raise_api_thread(-3), own_nice())).join().unwrap();
        // Raising needs CAP_SYS_NICE: either it happened, or the call says it did not.
        assert_eq!(nice, if raised { -3 } else { before });
        assert!(super::raise_api_thread(0), "0 asks for nothing");
        assert_eq!(own_nice(), before);
    }
}
