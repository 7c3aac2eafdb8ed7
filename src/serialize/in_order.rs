//! Formatting in parallel, writing in order: items are taken from one iterator in chunks, the
//! chunks are formatted on a few scoped threads into reused buffers, and the calling thread
//! writes the buffers in the iterator's order. At most `window` chunks are handed out and
//! not yet written (so at most that many buffers exist: bounded memory however long the
//! iterator), and the writer stays on the calling thread (the writer need not be `Send`:
//! a locked stdout is not).
//!
//! A write error stops the formatters (they take no further chunk) and is returned as it
//! came; the bytes written before it are a prefix of the whole output, as with one thread.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, MutexGuard};

/// What the formatters share: the iterator and the chunk numbers handed out and written.
struct Shared<I> {
    items: std::iter::Fuse<I>,
    /// The next chunk's number.
    next: u64,
    /// Chunks written so far (the next one to write).
    written: u64,
    /// No item left, or the writer failed: formatters take no further chunk.
    stop: bool,
    /// Written buffers, cleared, for the next chunks.
    free: Vec<Vec<u8>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Formats `items` with `format` (each formatter thread has its own `state`, made by
/// `new_state`) in chunks of `chunk` items on `threads` threads, and writes the chunks to
/// `out` in order. Returns the number of items written.
pub(crate) fn format_in_order<I, S>(
    items: I,
    threads: usize,
    chunk: usize,
    out: &mut dyn Write,
    new_state: impl Fn() -> S + Sync,
    format: impl Fn(&mut S, &mut Vec<u8>, I::Item) + Sync,
) -> io::Result<u64>
where
    I: Iterator + Send,
    I::Item: Send,
{
    let (threads, chunk) = (threads.max(1), chunk.max(1));
    if threads == 1 {
        return in_one_thread(items, chunk, out, new_state(), format);
    }
    // Every formatter can have a chunk in hand while as many wait to be written.
    let window = 2 * threads as u64;
    let shared = Mutex::new(Shared {
        items: items.fuse(),
        next: 0,
        written: 0,
        stop: false,
        free: Vec::new(),
    });
    let turn = Condvar::new();
    let (done, finished) = mpsc::channel::<(u64, Vec<u8>, u64)>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let done = done.clone();
            let (shared, turn, new_state, format) = (&shared, &turn, &new_state, &format);
            scope.spawn(move || {
                let mut state = new_state();
                let mut batch = Vec::with_capacity(chunk);
                loop {
                    let (number, mut buffer) = {
                        let mut shared = lock(shared);
                        while !shared.stop && shared.next >= shared.written + window {
                            shared = turn.wait(shared).unwrap_or_else(|poisoned| poisoned.into_inner());
                        }
                        if shared.stop {
                            return;
                        }
                        batch.extend(shared.items.by_ref().take(chunk));
                        if batch.len() < chunk {
                            shared.stop = true;
                            turn.notify_all();
                        }
                        if batch.is_empty() {
                            return;
                        }
                        let number = shared.next;
                        shared.next += 1;
                        (number, shared.free.pop().unwrap_or_default())
                    };
                    let count = batch.len() as u64;
                    for item in batch.drain(..) {
                        format(&mut state, &mut buffer, item);
                    }
                    if done.send((number, buffer, count)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done);
        let mut pending = BTreeMap::new();
        let (mut next, mut items) = (0u64, 0u64);
        for (number, buffer, count) in finished {
            pending.insert(number, (buffer, count));
            while let Some((mut buffer, count)) = pending.remove(&next) {
                if let Err(error) = out.write_all(&buffer) {
                    lock(&shared).stop = true;
                    turn.notify_all();
                    return Err(error);
                }
                items += count;
                next += 1;
                buffer.clear();
                let mut shared = lock(&shared);
                shared.written = next;
                shared.free.push(buffer);
                drop(shared);
                turn.notify_all();
            }
        }
        Ok(items)
    })
}

/// The same with one thread: chunks formatted and written in turn (one write per chunk).
fn in_one_thread<I: Iterator, S>(
    mut items: I,
    chunk: usize,
    out: &mut dyn Write,
    mut state: S,
    format: impl Fn(&mut S, &mut Vec<u8>, I::Item),
) -> io::Result<u64> {
    let (mut buffer, mut written) = (Vec::new(), 0u64);
    loop {
        buffer.clear();
        let mut count = 0u64;
        for item in items.by_ref().take(chunk) {
            format(&mut state, &mut buffer, item);
            count += 1;
        }
        if count == 0 {
            return Ok(written);
        }
        out.write_all(&buffer)?;
        written += count;
    }
}

#[cfg(test)]
mod tests;
