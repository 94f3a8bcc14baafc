//! A slab of slots addressed by `u32` index, readable without a lock.
//!
//! Invariants:
//! - Slots live in fixed-size chunks that are allocated on demand and never moved or freed while the
//!   slab lives, so a `&T` obtained from [`Slab::get`] stays valid for the slab's lifetime.
//! - A chunk pointer is published with `Release` after the chunk is fully initialised; readers load
//!   it with `Acquire`. An index whose chunk was never allocated reads as `None`.
//! - Allocation and freeing of indices go through one mutex; freed indices are reused (callers keep
//!   generations where reuse must be detectable).

use parking_lot::Mutex;
use std::sync::atomic::{AtomicPtr, Ordering};

const CHUNK_BITS: u32 = if cfg!(miri) { 6 } else { 14 };
const CHUNK_LEN: usize = 1 << CHUNK_BITS;
/// Indices stay below `2^INDEX_BITS`; the object header needs the top bit of an owner word.
const INDEX_BITS: u32 = if cfg!(miri) { 16 } else { 31 };
const MAX_CHUNKS: usize = 1 << (INDEX_BITS - CHUNK_BITS);

pub(crate) struct Slab<T> {
    chunks: Box<[AtomicPtr<T>]>,
    alloc: Mutex<Allocator>,
}

struct Allocator {
    high_water: u32,
    free: Vec<u32>,
}

impl<T: Default> Slab<T> {
    pub(crate) fn new() -> Slab<T> {
        Slab {
            chunks: (0..MAX_CHUNKS)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            alloc: Mutex::new(Allocator {
                high_water: 0,
                free: Vec::new(),
            }),
        }
    }

    /// The slot at `index`, or `None` when no slot with that index was ever allocated.
    #[inline]
    pub(crate) fn get(&self, index: u32) -> Option<&T> {
        let chunk = self
            .chunks
            .get((index >> CHUNK_BITS) as usize)?
            .load(Ordering::Acquire);
        if chunk.is_null() {
            return None;
        }
        // SAFETY: a non-null chunk pointer was published after its CHUNK_LEN slots were initialised
        // and is never freed before the slab; the offset is masked below CHUNK_LEN.
        Some(unsafe { &*chunk.add(index as usize & (CHUNK_LEN - 1)) })
    }

    /// The slot at an index the caller knows was allocated (an object reference it holds).
    #[inline]
    pub(crate) fn at(&self, index: u32) -> &T {
        self.get(index)
            .expect("floe: internal reference to an unallocated slot")
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

impl<T> Drop for Slab<T> {
    fn drop(&mut self) {
        for chunk in self.chunks.iter() {
            let chunk = chunk.load(Ordering::Acquire);
            if !chunk.is_null() {
                // SAFETY: the pointer came from `Box::<[T]>::into_raw` of CHUNK_LEN slots and is freed
                // once, here, when no `&T` handed out by `get` can outlive `&mut self`.
                drop(unsafe {
                    Box::from_raw(std::ptr::slice_from_raw_parts_mut(chunk, CHUNK_LEN))
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn unallocated_indices_read_as_none_and_freed_ones_are_reused() {
        let slab: Slab<AtomicU32> = Slab::new();
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
        let slab: Slab<AtomicU32> = Slab::new();
        let n = CHUNK_LEN as u32 * 2 + 3;
        let indices: Vec<u32> = (0..n).map(|_| slab.alloc().unwrap()).collect();
        std::thread::scope(|s| {
            s.spawn(|| {
                for &i in &indices {
                    slab.at(i).store(i, Ordering::Release);
                }
            });
        });
        assert!(indices
            .iter()
            .all(|&i| slab.at(i).load(Ordering::Acquire) == i));
    }
}
