//! `format_in_order` against formatting in one loop: the same bytes for every thread count
//! and chunk size (formatters finishing out of order), at most `2 × threads` chunks formatted
//! ahead of the writer, and a write error returned after a prefix of the output.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::format_in_order;

/// Item `i`'s line: its number repeated a varying number of times (lines of every length).
fn line(out: &mut Vec<u8>, i: u64) {
    for _ in 0..i % 17 {
        out.extend_from_slice(i.to_string().as_bytes());
        out.push(b' ');
    }
    out.push(b'\n');
}

fn expected(n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    (0..n).for_each(|i| line(&mut out, i));
    out
}

/// Some items take much longer than others, so that chunks finish out of order.
fn uneven(i: u64) {
    if i % 29 == 3 {
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn the_bytes_are_those_of_one_loop() {
    for n in [0u64, 1, 2, 5, 64, 1000, 5000] {
        for threads in [1, 2, 3, 5] {
            for chunk in [1, 3, 64, 10_000] {
                let mut out = Vec::new();
                let count = format_in_order(
                    0..n,
                    threads,
                    chunk,
                    &mut out,
                    || (),
                    |(), buffer, i| {
                        uneven(i);
                        line(buffer, i);
                    },
                )
                .expect("a vector takes every write");
                assert_eq!(count, n, "n {n} threads {threads} chunk {chunk}");
                assert!(out == expected(n), "n {n} threads {threads} chunk {chunk}");
            }
        }
    }
}

/// Counts the lines written, slowly.
struct SlowLines<'a> {
    lines: &'a AtomicU64,
    bytes: Vec<u8>,
}

impl Write for SlowLines<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        std::thread::sleep(Duration::from_micros(300));
        self.bytes.extend_from_slice(bytes);
        let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        self.lines.fetch_add(lines, Ordering::SeqCst);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn formatters_run_at_most_a_window_ahead_of_a_slow_writer() {
    let (n, chunk) = (3000u64, 10u64);
    for threads in [2u64, 3] {
        let lines = AtomicU64::new(0);
        let formatted = AtomicU64::new(0);
        let ahead = AtomicU64::new(0);
        let mut out = SlowLines {
            lines: &lines,
            bytes: Vec::new(),
        };
        let count = format_in_order(
            0..n,
            threads as usize,
            chunk as usize,
            &mut out,
            || (),
            |(), buffer, i| {
                let formatted = formatted.fetch_add(1, Ordering::SeqCst) + 1;
                ahead.fetch_max(formatted - lines.load(Ordering::SeqCst), Ordering::SeqCst);
                line(buffer, i);
            },
        )
        .expect("the writer takes every write");
        assert_eq!(count, n);
        assert!(out.bytes == expected(n));
        let ahead = ahead.into_inner();
        // Chunks handed out and not written: at most 2 × threads.
        assert!(ahead <= 2 * threads * chunk, "{ahead} items formatted ahead with {threads} threads");
        // The writer is slow: the formatters did get ahead of it (the window is used).
        assert!(ahead > chunk, "{ahead}");
    }
}

/// Takes `limit` bytes, then fails as a closed pipe does.
struct Closing {
    bytes: Vec<u8>,
    limit: usize,
}

impl Write for Closing {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.bytes.len() >= self.limit {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"));
        }
        let n = bytes.len().min(self.limit - self.bytes.len());
        self.bytes.extend_from_slice(&bytes[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_write_error_stops_the_formatters_and_is_returned() {
    let n = 20_000u64;
    let all = expected(n);
    for threads in [1, 2, 4] {
        for limit in [0, 1, 5_000, all.len() / 2, all.len() - 1] {
            let formatted = AtomicU64::new(0);
            let mut out = Closing { bytes: Vec::new(), limit };
            let error = format_in_order(
                0..n,
                threads,
                50,
                &mut out,
                || (),
                |(), buffer, i| {
                    formatted.fetch_add(1, Ordering::SeqCst);
                    line(buffer, i);
                },
            )
            .expect_err("the pipe closes");
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
            assert!(out.bytes == all[..limit], "threads {threads} limit {limit}");
            // Stopped: after the failing chunk, at most a window's chunks more were formatted.
            let written_items = all[..limit].iter().filter(|&&b| b == b'\n').count() as u64;
            let formatted = formatted.into_inner();
            assert!(
                formatted <= written_items + 50 * (2 * threads as u64 + 1),
                "threads {threads} limit {limit}: {formatted}"
            );
        }
    }
}

#[test]
fn each_formatter_keeps_its_own_state() {
    // The state counts the items a formatter has seen: the sum over formatters is every item.
    let seen = AtomicU64::new(0);
    struct Counted<'a>(u64, &'a AtomicU64);
    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.1.fetch_add(self.0, Ordering::SeqCst);
        }
    }
    let mut out = Vec::new();
    let count = format_in_order(
        0..777u64,
        3,
        7,
        &mut out,
        || Counted(0, &seen),
        |state, buffer, i| {
            state.0 += 1;
            line(buffer, i);
        },
    )
    .expect("a vector takes every write");
    assert_eq!((count, seen.into_inner()), (777, 777));
    assert!(out == expected(777));
}
