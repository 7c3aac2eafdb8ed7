//! [`SmallSlice`]: a group's hourly counts and its environment and release sets. Like the
//! exact-size `Box<[T]>` it replaces (16 bytes, the same serialized form), except that a
//! single element is kept inline, in the pointer's place, instead of in an 8-byte heap
//! block of its own. Most groups have one hour, one environment and one release (at 1M
//! distinct groups every group): that is three allocations fewer per new group, 24 bytes of
//! heap (fresh pages) less per group, and no pointer to follow to read them.
//!
//! Not `smallvec`: its `SmallVec<[T; 1]>` keeps a capacity beside the inline-or-heap union
//! (24 bytes, 8 more per slice and three slices per group). The unsafe code here passes the
//! randomized test below under Miri (`cargo +nightly miri test`, run on this module alone).

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// The element inline (`len == 1`), or the address of an exact-size boxed slice of `len`
/// elements (`len >= 2`; dangling when `len == 0`).
#[derive(Clone, Copy)]
union Data<T: Copy> {
    one: T,
    many: NonNull<T>,
}

/// A boxed slice that keeps a single element inline (see the module documentation).
pub struct SmallSlice<T: Copy> {
    len: usize,
    data: Data<T>,
    _owns: PhantomData<Box<[T]>>,
}

// SAFETY: a `SmallSlice` owns its elements (inline or in its own box) like a `Box<[T]>`.
unsafe impl<T: Copy + Send> Send for SmallSlice<T> {}
// SAFETY: as above; `&SmallSlice` only hands out `&[T]`.
unsafe impl<T: Copy + Sync> Sync for SmallSlice<T> {}

impl<T: Copy> SmallSlice<T> {
    const FITS: () = assert!(
        std::mem::size_of::<T>() <= std::mem::size_of::<NonNull<T>>() && std::mem::align_of::<T>() <= std::mem::align_of::<NonNull<T>>(),
        "an element must fit in a pointer's place"
    );

    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::FITS;
        SmallSlice {
            len: 0,
            data: Data { many: NonNull::dangling() },
            _owns: PhantomData,
        }
    }

    pub fn from_vec(vec: Vec<T>) -> Self {
        match vec.as_slice() {
            [] => Self::new(),
            &[one] => SmallSlice {
                len: 1,
                data: Data { one },
                _owns: PhantomData,
            },
            _ => {
                let len = vec.len();
                let boxed: Box<[T]> = vec.into_boxed_slice();
                // `Box::into_raw` never returns null.
                let many = NonNull::from(Box::leak(boxed)).cast::<T>();
                SmallSlice {
                    len,
                    data: Data { many },
                    _owns: PhantomData,
                }
            }
        }
    }

    /// The elements as a vector (reusing the heap block when there is one).
    pub fn into_vec(self) -> Vec<T> {
        let this = std::mem::ManuallyDrop::new(self);
        match this.len {
            0 => Vec::new(),
            // SAFETY: `len == 1`: the element is inline.
            1 => vec![unsafe { this.data.one }],
            len => {
                // SAFETY: `len >= 2`: `many` is the box of `len` elements this owned, and
                // `this` is not dropped, so it is taken back exactly once.
                let boxed = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(this.data.many.as_ptr(), len)) };
                boxed.into_vec()
            }
        }
    }

    /// Inserts `value` at `at` (≤ len): inline into an empty slice, else one exact-size
    /// block (as `reserve_exact(1)` on a `Vec`).
    pub fn insert(&mut self, at: usize, value: T) {
        if self.len == 0 {
            *self = SmallSlice {
                len: 1,
                data: Data { one: value },
                _owns: PhantomData,
            };
            return;
        }
        let mut vec = std::mem::take(self).into_vec();
        vec.reserve_exact(1);
        vec.insert(at, value);
        *self = Self::from_vec(vec);
    }

    /// Removes the element at `at` (< len).
    pub fn remove(&mut self, at: usize) {
        let mut vec = std::mem::take(self).into_vec();
        vec.remove(at);
        *self = Self::from_vec(vec);
    }

    /// Bytes on the heap (0 for none or one element).
    pub fn heap_bytes(&self) -> usize {
        if self.len >= 2 {
            self.len * std::mem::size_of::<T>()
        } else {
            0
        }
    }
}

impl<T: Copy> Drop for SmallSlice<T> {
    fn drop(&mut self) {
        if self.len >= 2 {
            // SAFETY: `len >= 2`: `many` is the box of `len` elements this owns.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.data.many.as_ptr(), self.len)) });
        }
    }
}

impl<T: Copy> Deref for SmallSlice<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        match self.len {
            0 => &[],
            // SAFETY: `len == 1`: the element is inline.
            1 => std::slice::from_ref(unsafe { &self.data.one }),
            // SAFETY: `len >= 2`: `many` points to `len` initialized elements this owns.
            len => unsafe { std::slice::from_raw_parts(self.data.many.as_ptr(), len) },
        }
    }
}

impl<T: Copy> DerefMut for SmallSlice<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        match self.len {
            0 => &mut [],
            // SAFETY: `len == 1`: the element is inline.
            1 => std::slice::from_mut(unsafe { &mut self.data.one }),
            // SAFETY: `len >= 2`: `many` points to `len` initialized elements this owns
            // exclusively (borrowed mutably through `self`).
            len => unsafe { std::slice::from_raw_parts_mut(self.data.many.as_ptr(), len) },
        }
    }
}

impl<T: Copy> Default for SmallSlice<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy> Clone for SmallSlice<T> {
    fn clone(&self) -> Self {
        Self::from(&**self)
    }
}

impl<T: Copy> From<&[T]> for SmallSlice<T> {
    fn from(slice: &[T]) -> Self {
        Self::from_vec(slice.to_vec())
    }
}

impl<T: Copy> FromIterator<T> for SmallSlice<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Self::from_vec(iter.into_iter().collect())
    }
}

impl<T: Copy + PartialEq> PartialEq for SmallSlice<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Copy + Eq> Eq for SmallSlice<T> {}

impl<T: Copy + fmt::Debug> fmt::Debug for SmallSlice<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// Serialized as a sequence, like the `Box<[T]>` it replaces (checkpoints unchanged).
impl<T: Copy + serde::Serialize> serde::Serialize for SmallSlice<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de, T: Copy + serde::Deserialize<'de>> serde::Deserialize<'de> for SmallSlice<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(deserializer).map(Self::from_vec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_and_removes_agree_with_a_vec_inline_or_boxed() {
        let mut next = crate::test_rng::below(0x9e37_79b9_7f4a_7c15u64);
        let mut small: SmallSlice<(u32, u32)> = SmallSlice::new();
        let mut reference: Vec<(u32, u32)> = Vec::new();
        for round in 0..2000 {
            if reference.is_empty() || next(3) != 0 {
                let at = next(reference.len() as u64 + 1) as usize;
                let value = (round, next(100) as u32);
                small.insert(at, value);
                reference.insert(at, value);
            } else {
                let at = next(reference.len() as u64) as usize;
                small.remove(at);
                reference.remove(at);
            }
            if let Some(first) = small.first_mut() {
                first.1 += 1;
                reference[0].1 += 1;
            }
            assert_eq!(&*small, reference.as_slice(), "round {round}");
            let expected = if reference.len() >= 2 { reference.len() * 8 } else { 0 };
            assert_eq!(small.heap_bytes(), expected);
            assert_eq!(small.clone(), small);
            if round % 97 == 0 {
                small = SmallSlice::from_vec(std::mem::take(&mut small).into_vec());
            }
        }
    }

    #[test]
    fn serialized_like_a_boxed_slice() {
        for len in 0..4u64 {
            let boxed: Box<[u64]> = (10..10 + len).collect();
            let small: SmallSlice<u64> = (10..10 + len).collect();
            let (a, b) = (
                postcard::to_stdvec(&boxed).expect("encode"),
                postcard::to_stdvec(&small).expect("encode"),
            );
            assert_eq!(a, b);
            let back: SmallSlice<u64> = postcard::from_bytes(&a).expect("decode");
            assert_eq!(&*back, &*boxed);
            assert_eq!(
                serde_json::to_string(&small).expect("json"),
                serde_json::to_string(&boxed).expect("json")
            );
        }
        assert_eq!(std::mem::size_of::<SmallSlice<u64>>(), 16);
        assert_eq!(std::mem::size_of::<SmallSlice<(u32, u32)>>(), 16);
    }
}
