//! Random numbers, portable bit-for-bit: only `next_u64` of `StdRng` is used, and range
//! reduction, weighted choices and Zipf weights use integer arithmetic and IEEE basic operations
//! (no `powf`/`ln`/`exp`, whose results may differ between libms).

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

pub(super) struct Rng(StdRng);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(StdRng::seed_from_u64(seed))
    }
    #[inline]
    pub(super) fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in `0..n` (n > 0), multiply-shift reduction (bias < n / 2^64).
    #[inline]
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    #[inline]
    pub(super) fn range(&mut self, lo: u64, hi_incl: u64) -> u64 {
        lo + self.below(hi_incl - lo + 1)
    }
    /// Per-mille draw, `0..1000`.
    #[inline]
    pub(super) fn pm(&mut self) -> u32 {
        self.below(1000) as u32
    }
    /// Uniform in `[0, 1)` with 53 bits.
    #[inline]
    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    #[inline]
    pub(super) fn pick<'a, T>(&mut self, s: &'a [T]) -> &'a T {
        &s[self.below(s.len() as u64) as usize]
    }
    /// Index drawn with the given integer weights.
    pub(super) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| w as u64).sum();
        let mut v = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if v < w as u64 {
                return i;
            }
            v -= w as u64;
        }
        weights.len() - 1
    }
}

/// murmur3 finalizer: a bijection on u64 with good mixing.
#[inline]
pub(super) fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// Deterministic parameter `0..n` derived from a fingerprint hash and a salt.
#[inline]
pub(super) fn param(h: u64, salt: u64, n: usize) -> u32 {
    (fmix64(h ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)) % n as u64) as u32
}

/// Cumulative integer weights (total < 2^53), sampled by binary search narrowed with a guide
/// table of 2^16 equal-width buckets.
pub(super) struct Cdf {
    cum: Vec<u64>,
    /// `guide[j]` = first index whose cumulative weight exceeds `j << GUIDE_SHIFT`.
    guide: Vec<u32>,
}

const GUIDE_SHIFT: u32 = 53 - 16;

impl Cdf {
    pub(super) fn new(weights: &[f64]) -> Cdf {
        let sum: f64 = weights.iter().sum();
        let scale = (1u64 << 52) as f64 / sum;
        let mut acc = 0u64;
        let cum = weights
            .iter()
            .map(|&w| {
                acc += ((w * scale) as u64).max(1);
                acc
            })
            .collect::<Vec<u64>>();
        let buckets = (acc >> GUIDE_SHIFT) + 2;
        let guide = (0..buckets)
            .map(|j| cum.partition_point(|&c| c <= j << GUIDE_SHIFT) as u32)
            .collect();
        Cdf { cum, guide }
    }
    #[inline]
    pub(super) fn sample(&self, rng: &mut Rng) -> usize {
        let v = rng.below(*self.cum.last().unwrap());
        let j = (v >> GUIDE_SHIFT) as usize;
        let lo = self.guide[j] as usize;
        let hi = (self.guide[j + 1] as usize).min(self.cum.len() - 1);
        lo + self.cum[lo..=hi].partition_point(|&c| c <= v)
    }
}

/// `x^(1/10)` by Newton's method from a guess at or slightly above the root, using only IEEE
/// basic operations (portable bit-for-bit).
fn tenth_root(x: f64, guess: f64) -> f64 {
    let mut y = guess;
    for _ in 0..6 {
        let y2 = y * y;
        let y4 = y2 * y2;
        let y8 = y4 * y4;
        let y9 = y8 * y;
        let y10 = y9 * y;
        y -= (y10 - x) / (10.0 * y9);
    }
    y
}

/// Weights `k^-1.1`, k = 1..=n.
pub(super) fn zipf_1_1(n: usize) -> Vec<f64> {
    let mut w = Vec::with_capacity(n);
    let mut root = 1.0f64;
    for k in 1..=n {
        let kf = k as f64;
        if k > 1 {
            // (k/(k-1))^0.1 <= 1 + 0.1/(k-1): start just above the root.
            root = tenth_root(kf, root * (1.0 + 0.1 / (kf - 1.0)) * (1.0 + 1e-12));
        }
        w.push(1.0 / (kf * root));
    }
    w
}

/// Weights `1/k`, k = 1..=n.
pub(super) fn zipf_1_0(n: usize) -> Vec<f64> {
    (1..=n).map(|k| 1.0 / k as f64).collect()
}
