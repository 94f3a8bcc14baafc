//! A slab of slots addressed by `u32` index, readable without a lock.
//!
//! Invariants:
//! - Slots live in fixed-size chunks that are allocated on demand and never moved or freed: slabs
//!   are statics, so a `&T` obtained from [`Slab::get`] stays valid for the life of the process.
//! - A chunk pointer is published with `Release` after the chunk is fully initialised; readers load
//!   it with `Acquire`. An index whose chunk was never allocated reads as `None`.
//! - Allocation and freeing of indices go through one mutex; freed indices are reused (callers keep
//!   generations where reuse must be detectable).

use parking_lot::Mutex;
use std::sync::atomic::{AtomicPtr, Ordering};

const CHUNK_BITS: u32 = if cfg!(miri) { 6 } else { 16 };
const CHUNK_LEN: usize = 1 << CHUNK_BITS;
/// Indices stay below `2^INDEX_BITS`; the object header needs the top bit of an owner word.
const INDEX_BITS: u32 = if cfg!(miri) { 16 } else { 31 };
const MAX_CHUNKS: usize = 1 << (INDEX_BITS - CHUNK_BITS);

/// A directory of chunks held inline, so a slab can be a `static` with no lazy initialisation on
/// the read path.
pub(crate) struct Slab<T> {
    chunks: [AtomicPtr<T>; MAX_CHUNKS],
    alloc: Mutex<Allocator>,
}

struct Allocator {
    high_water: u32,
    free: Vec<u32>,
}

impl<T> Slab<T> {
    pub(crate) const fn new() -> Slab<T> {
        Slab {
            chunks: [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_CHUNKS],
            alloc: Mutex::new(Allocator { high_water: 0, free: Vec::new() }),
        }
    }
}

impl<T: Default> Slab<T> {
    /// The slot at `index`, or `None` when no slot with that index was ever allocated.
    #[inline]
    pub(crate) fn get(&self, index: u32) -> Option<&T> {
        let chunk = self.chunks.get((index >> CHUNK_BITS) as usize)?.load(Ordering::Acquire);
        if chunk.is_null() {
            return None;
        }
        // SAFETY: a non-null chunk pointer was published after its CHUNK_LEN slots were initialised
        // and is never freed; the offset is masked below CHUNK_LEN.
        Some(unsafe { &*chunk.add(index as usize & (CHUNK_LEN - 1)) })
    }

    /// The slot at an index the caller knows was allocated (an object reference it holds).
    #[inline]
    pub(crate) fn at(&self, index: u32) -> &T {
        self.get(index).expect("floe: internal reference to an unallocated slot")
    }

    /// A free index; its slot holds whatever the previous user left (callers reset on free).
    pub(crate) fn alloc(&self) -> Option<u32> {
        let mut alloc = self.alloc.lock();
        if let Some(index) = alloc.free.pop() {
            return Some(index);
        }
        let index = alloc.high_water;
        let chunk = (index >> CHUNK_BITS) as usize;
        if chunk >= MAX_CHUNKS {
            return None;
        }
        if index as usize & (CHUNK_LEN - 1) == 0 {
            let slots: Box<[T]> = (0..CHUNK_LEN).map(|_| T::default()).collect();
            self.chunks[chunk].store(Box::into_raw(slots).cast::<T>(), Ordering::Release);
        }
        alloc.high_water = index + 1;
        Some(index)
    }

    /// One past the highest index ever allocated.
    pub(crate) fn len(&self) -> u32 {
        self.alloc.lock().high_water
    }

    /// Returns indices for reuse.
    pub(crate) fn free(&self, indices: &[u32]) {
        self.alloc.lock().free.extend_from_slice(indices);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn unallocated_indices_read_as_none_and_freed_ones_are_reused() {
        static SLAB: Slab<AtomicU32> = Slab::new();
        let slab = &SLAB;
        assert!(slab.get(0).is_none());
        assert!(slab.get(u32::MAX).is_none());
        let a = slab.alloc().unwrap();
        let b = slab.alloc().unwrap();
        assert_ne!(a, b);
        slab.at(b).store(7, Ordering::Relaxed);
        slab.free(&[b]);
        assert_eq!(slab.alloc(), Some(b));
        assert_eq!(slab.at(b).load(Ordering::Relaxed), 7);
    }

    #[test]
    fn slots_span_chunks_and_are_shared_between_threads() {
        static SLAB: Slab<AtomicU32> = Slab::new();
        let slab = &SLAB;
        let n = CHUNK_LEN as u32 * 2 + 3;
        let indices: Vec<u32> = (0..n).map(|_| slab.alloc().unwrap()).collect();
        std::thread::scope(|s| {
            s.spawn(|| {
                for &i in &indices {
                    slab.at(i).store(i, Ordering::Release);
                }
            });
        });
        assert!(indices.iter().all(|&i| slab.at(i).load(Ordering::Acquire) == i));
    }
}
