//! The calling thread's CPU time and run-queue wait, to tell a slow lock hold or request that
//! computed for long from one that was runnable but had no core (a loaded machine preempts
//! it). CPU time comes from `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` (exact to the call; the
//! CPU field of schedstat lags by up to a scheduler tick); the run-queue wait from the second
//! field of `/proc/thread-self/schedstat`, which the kernel updates whenever the thread gets
//! a core, so it is exact when read by the running thread. The file stays open per thread
//! and is re-read at offset 0: two system calls (~1 µs each) per reading.

use std::time::Duration;

/// A thread's cumulative CPU time and run-queue wait, or the difference of two readings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadTimes {
    pub cpu: Duration,
    /// Runnable but not running: waiting for a core.
    pub waiting: Duration,
}

impl ThreadTimes {
    /// The calling thread's times so far (None where the kernel does not say).
    pub fn now() -> Option<ThreadTimes> {
        #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
        {
            use std::os::unix::fs::FileExt;
            thread_local! {
                static SCHEDSTAT: Option<std::fs::File> = std::fs::File::open("/proc/thread-self/schedstat").ok();
            }
            let waiting = SCHEDSTAT.with(|file| {
                let mut buffer = [0u8; 96];
                let read = file.as_ref()?.read_at(&mut buffer, 0).ok()?;
                parse(std::str::from_utf8(&buffer[..read]).ok()?)
            })?;
            Some(ThreadTimes {
                cpu: thread_cpu()?,
                waiting: waiting.waiting,
            })
        }
        #[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
        {
            None
        }
    }

    /// What passed between `earlier` and `self`.
    pub fn since(self, earlier: ThreadTimes) -> ThreadTimes {
        ThreadTimes {
            cpu: self.cpu.saturating_sub(earlier.cpu),
            waiting: self.waiting.saturating_sub(earlier.waiting),
        }
    }

    /// What passed since `earlier` (None if either reading failed).
    pub fn elapsed(earlier: Option<ThreadTimes>) -> Option<ThreadTimes> {
        Some(ThreadTimes::now()?.since(earlier?))
    }
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
#[repr(C)]
struct Timespec {
    seconds: std::ffi::c_long,
    nanoseconds: std::ffi::c_long,
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
extern "C" {
    fn clock_gettime(clock: std::ffi::c_int, time: *mut Timespec) -> std::ffi::c_int;
}

/// The calling thread's CPU time.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn thread_cpu() -> Option<Duration> {
    const CLOCK_THREAD_CPUTIME_ID: std::ffi::c_int = 3;
    let mut time = Timespec {
        seconds: 0,
        nanoseconds: 0,
    };
    // Safety: the C library's clock_gettime writes one timespec (`time_t` and `long`, both
    // `long` on Linux) to a pointer it is given, valid here.
    if unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut time) } != 0 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(time.seconds).ok()?,
        u32::try_from(time.nanoseconds).ok()?,
    ))
}

/// `/proc/…/schedstat`: nanoseconds on a CPU, nanoseconds on a run queue, time slices.
fn parse(text: &str) -> Option<ThreadTimes> {
    let mut fields = text.split_ascii_whitespace().map(str::parse::<u64>);
    let cpu = fields.next()?.ok()?;
    let waiting = fields.next()?.ok()?;
    Some(ThreadTimes {
        cpu: Duration::from_nanos(cpu),
        waiting: Duration::from_nanos(waiting),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_schedstat_and_counts_this_threads_cpu() {
        assert_eq!(
            parse("178146 6951989 2\n"),
            Some(ThreadTimes {
                cpu: Duration::from_nanos(178_146),
                waiting: Duration::from_nanos(6_951_989)
            })
        );
        assert_eq!(parse("12\n"), None);
        assert_eq!(parse("x 1 2"), None);
        #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
        {
            let before = ThreadTimes::now().expect("schedstat is readable on Linux");
            let spin = std::time::Instant::now();
            let mut x = 0u64;
            while spin.elapsed() < Duration::from_millis(20) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            let spent = ThreadTimes::now().expect("schedstat").since(before);
            // 20 ms of spinning ran on a core or waited for one.
            assert!(spent.cpu + spent.waiting >= Duration::from_millis(15), "{spent:?}");
            assert!(spent.cpu > Duration::ZERO, "{spent:?}");
        }
    }
}
