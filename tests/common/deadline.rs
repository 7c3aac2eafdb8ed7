//! Every wait for a process the tests start has a deadline: a process that hangs fails its
//! test, with what it wrote to stderr, instead of holding the whole run until CI's own time
//! limit (which says nothing of which test hung).

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Far above any process of the tests (the slowest, a debug build's backfill of a million
/// Kafka messages, takes about half a minute), so only a hang reaches it.
pub const LIMIT: Duration = Duration::from_secs(300);

/// Waits for `child` until `limit`; None when it had to be killed (it is gone then).
pub fn exit_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("poll a child process") {
            return Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// [`exit_within`] for each of `children`, in turn: their exit statuses.
pub fn exits_within(children: &mut [Child], limit: Duration) -> Vec<Option<ExitStatus>> {
    children.iter_mut().map(|child| exit_within(child, limit)).collect()
}

/// Asserts that every process failed by itself: none succeeded, none was killed at the
/// limit (`statuses` from [`exits_within`]); shows `logs`, one per process, otherwise.
pub fn assert_all_failed(statuses: &[Option<ExitStatus>], logs: &[String]) {
    let shown: Vec<String> = logs.iter().enumerate().map(|(i, log)| format!("process {i}:\n{log}")).collect();
    assert!(
        statuses.iter().all(|s| s.is_some_and(|s| !s.success())),
        "every process fails, none hangs or succeeds: {statuses:?}\n{}",
        shown.join("\n")
    );
}

pub trait WaitWithin {
    /// `Child::wait`, but a process still running after [`LIMIT`] is killed and the test
    /// fails, naming `what`.
    fn wait_within(&mut self, what: &str) -> ExitStatus;

    /// `Child::wait_with_output` with [`LIMIT`]: reads the pipes the child has while it
    /// runs, and on a hang fails with the end of its stderr.
    fn output_within(self, what: &str) -> Output;
}

impl WaitWithin for Child {
    fn wait_within(&mut self, what: &str) -> ExitStatus {
        match exit_within(self, LIMIT) {
            Some(status) => status,
            None => panic!("{what} (pid {}) did not exit within {LIMIT:?}: killed", self.id()),
        }
    }

    fn output_within(mut self, what: &str) -> Output {
        fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut bytes);
                }
                bytes
            })
        }
        // As `wait_with_output`: the child's stdin closes first.
        drop(self.stdin.take());
        let (stdout, stderr) = (drain(self.stdout.take()), drain(self.stderr.take()));
        let status = exit_within(&mut self, LIMIT);
        let stdout = stdout.join().expect("stdout reader");
        let stderr = stderr.join().expect("stderr reader");
        match status {
            Some(status) => Output { status, stdout, stderr },
            None => {
                let text = String::from_utf8_lossy(&stderr);
                let tail: String = text.chars().rev().take(4000).collect::<Vec<_>>().into_iter().rev().collect();
                panic!("{what} did not exit within {LIMIT:?}: killed; the end of its stderr:\n{tail}")
            }
        }
    }
}

pub trait RunWithin {
    /// `Command::output` with [`LIMIT`] (stdin empty, stdout and stderr captured).
    fn output_within(&mut self, what: &str) -> Output;
}

impl RunWithin for Command {
    fn output_within(&mut self, what: &str) -> Output {
        self.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"))
            .output_within(what)
    }
}
