//! Shared chunks for records' texts.
//!
//! A record's texts are written on the worker that decodes it and read, then dropped, on the
//! worker that owns its project. One heap allocation per record meant one allocation on the
//! first worker and one cross-thread free on the second (5–7 % of a backfill's samples, plus
//! fresh pages the kernel zeroed because the allocator could not reuse the freed blocks in
//! time). Here each decoding thread appends texts to its current 64 KiB chunk; records hold
//! a counted reference to the chunk and their range in it, and the last reference to drop
//! hands the buffer back to a process-wide pool the decoders take their next chunk from.

use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

/// Bytes per pooled chunk: about 400 records' texts.
const CHUNK: usize = 64 * 1024;
/// A text longer than this gets a chunk of its own (not pooled), so a chunk is never mostly
/// wasted by a text that did not fit at its end.
const LARGE: usize = CHUNK / 4;
/// Chunks kept for reuse at most (16 MiB). The pipeline keeps a few blocks in flight, each
/// ~16K records, so this covers what is freed between two refills.
const POOL_MAX: usize = 256;

/// Buffers of `CHUNK` bytes whose records have all been dropped.
static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A buffer written only at its tail, by the thread that created it, through `ptr`; the
/// bytes before `Writer::used` are complete and never written again.
pub(super) struct Chunk {
    ptr: NonNull<u8>,
    capacity: usize,
}

// Safety: the bytes a `Text` reads were written before the `Arc<Chunk>` it holds was
// cloned for it (and so before it could reach another thread), and are never written again;
// the only writer appends past them through its own pointer.
unsafe impl Send for Chunk {}
unsafe impl Sync for Chunk {}

impl Chunk {
    fn new(capacity: usize) -> Chunk {
        let mut buffer = if capacity == CHUNK {
            POOL.lock().unwrap_or_else(|p| p.into_inner()).pop()
        } else {
            None
        }
        .unwrap_or_else(|| Vec::with_capacity(capacity));
        let capacity = buffer.capacity();
        let ptr = NonNull::new(buffer.as_mut_ptr()).unwrap_or(NonNull::dangling());
        std::mem::forget(buffer);
        Chunk { ptr, capacity }
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // Safety: `ptr` and `capacity` are those of the forgotten, empty `Vec<u8>`.
        let buffer = unsafe { Vec::from_raw_parts(self.ptr.as_ptr(), 0, self.capacity) };
        if buffer.capacity() == CHUNK {
            let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < POOL_MAX {
                pool.push(buffer);
            }
        }
    }
}

/// Some text bytes in a shared chunk: 16 bytes.
#[derive(Clone)]
pub(super) struct Text {
    chunk: Arc<Chunk>,
    start: u32,
    len: u32,
}

impl Text {
    #[inline]
    pub(super) fn bytes(&self) -> &[u8] {
        // Safety: `start..start + len` was written before this `Text` was made and lies
        // within the chunk (see `Chunk`); the chunk lives as long as `self.chunk`.
        unsafe { std::slice::from_raw_parts(self.chunk.ptr.as_ptr().add(self.start as usize), self.len as usize) }
    }
}

struct Writer {
    chunk: Arc<Chunk>,
    used: usize,
}

thread_local! {
    static WRITER: std::cell::RefCell<Option<Writer>> = const { std::cell::RefCell::new(None) };
}

/// Copies `parts` one after the other into this thread's current chunk (a new one if they
/// do not fit). None if they total 4 GiB or more.
pub(super) fn store<const N: usize>(parts: &[&[u8]; N]) -> Option<Text> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let len32 = u32::try_from(len).ok()?;
    if len > LARGE {
        let mut own = Writer {
            chunk: Arc::new(Chunk::new(len)),
            used: 0,
        };
        return Some(own.append(parts, len32));
    }
    WRITER.with(|writer| {
        let mut writer = writer.borrow_mut();
        let fits = writer.as_ref().is_some_and(|w| w.chunk.capacity - w.used >= len);
        if !fits {
            *writer = Some(Writer {
                chunk: Arc::new(Chunk::new(CHUNK)),
                used: 0,
            });
        }
        writer.as_mut().map(|w| w.append(parts, len32))
    })
}

impl Writer {
    /// The caller checked that `len` (the parts' total) fits after `used`. The parts are a
    /// fixed number (the loops unrolled) and the write position a local: as a slice, with
    /// `used` updated per part, this was ~150 instructions a record besides the copies.
    fn append<const N: usize>(&mut self, parts: &[&[u8]; N], len: u32) -> Text {
        let start = self.used;
        debug_assert!(start + len as usize <= self.chunk.capacity);
        let mut at = start;
        for part in parts {
            // Safety: within the chunk (checked by the caller) and past every byte any
            // `Text` reads; no reference to these bytes exists yet.
            unsafe {
                std::ptr::copy_nonoverlapping(part.as_ptr(), self.chunk.ptr.as_ptr().add(at), part.len());
            }
            at += part.len();
        }
        self.used = at;
        Text {
            chunk: self.chunk.clone(),
            start: start as u32,
            len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::store;

    #[test]
    fn texts_survive_their_chunk_filling_up_and_other_threads() {
        let texts: Vec<_> = (0..2000)
            .map(|i| {
                let a = format!("title {i} ");
                let b = "x".repeat(i % 97);
                store(&[a.as_bytes(), b.as_bytes()]).expect("small")
            })
            .collect();
        let large = "y".repeat(super::LARGE + 1);
        let large_text = store(&[large.as_bytes()]).expect("small");
        let check = move || {
            for (i, text) in texts.iter().enumerate() {
                let expected = format!("title {i} {}", "x".repeat(i % 97));
                assert_eq!(text.bytes(), expected.as_bytes());
            }
            assert_eq!(large_text.bytes(), large.as_bytes());
        };
        std::thread::spawn(check).join().expect("checked on another thread");
        // Chunks dropped on the other thread were pooled; new texts reuse them intact.
        let again = store(&[b"again"]).expect("small");
        assert_eq!(again.bytes(), b"again");
    }
}
