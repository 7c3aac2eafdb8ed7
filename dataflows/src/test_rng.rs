//! A seeded xorshift generator for randomized tests: the same sequence on every run, so a
//! failure names a case that repeats.

/// A closure returning numbers below its argument, from `seed` (non-zero).
pub(crate) fn below(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed;
    move |n| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    }
}
