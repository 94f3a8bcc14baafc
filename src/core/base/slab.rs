//! A slab of slots addressed by `u32` index, readable without a lock.
//!
//! Invariants:
//! - Slots live in fixed-size chunks that are allocated on demand and never moved or freed: slabs
//!   are statics, so a `&T` obtained from [`Slab::get`] stays valid for the life of the process.
//! - A chunk pointer is published with `Release` after the chunk is fully initialised; readers load
//!   it with `Acquire`. An index whose chunk was never allocated reads as `None`.
//! - Freed indices are reused (callers keep generations where reuse must be detectable). They go
//!   through one mutex, the slab's free list — or, with [`Slab::alloc_local`] and
//!   [`Slab::free_local`], through a short list kept by each thread first, which takes from and
//!   gives back to the shared list `BATCH` at a time and gives back everything when its thread
//!   exits. A thread that issues and releases a handle per transfer then seldom takes the mutex
//!   that every thread shares. The caller names its thread-local list at each call, so that the
//!   access to it is inlined (a list stored in the slab would be reached by an indirect call).
//! - A thread's list takes never-used indices a run of `BATCH` at a time, aligned to `BATCH`, in
//!   chunks aligned to a cache line, so that the slots two threads use fresh never share a line:
//!   handed out one by one, a round trip's two handles were slots 0 and 1, and each trip moved
//!   that line from one CPU to the other and back.

use parking_lot::Mutex;
use std::alloc::Layout;
use std::cell::RefCell;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::thread::LocalKey;

/// How many free indices a thread's list takes from, or gives back to, the shared list at once; it
/// holds at most twice as many.
const BATCH: usize = 32;

/// Under loom, a chunk's slots may hold loom objects, of which a model execution may make 128.
const CHUNK_BITS: u32 = match (cfg!(floe_loom), cfg!(miri)) {
    (true, _) => 3,
    (_, true) => 6,
    _ => 16,
};
const CHUNK_LEN: usize = 1 << CHUNK_BITS;
/// A run of fresh indices lies inside one chunk (loom takes no runs: see `alloc_local`).
const _: () = assert!(cfg!(floe_loom) || CHUNK_LEN % BATCH == 0);
/// Chunks start on a cache line, so that runs of slots do (for slots whose size divides 64 or is a
/// multiple of it; `BATCH` of any slot is a whole number of lines).
const LINE: usize = 64;
/// Indices stay below `2^INDEX_BITS`: the object header needs the top bit of an owner word, and
/// ids keep their kind in the two bits above the index (`ids::IdKind`).
const INDEX_BITS: u32 = if cfg!(miri) || cfg!(floe_loom) { 16 } else { 29 };
const MAX_CHUNKS: usize = 1 << (INDEX_BITS - CHUNK_BITS);

/// A directory of chunks held inline, so a slab can be a `static` with no lazy initialisation on
/// the read path.
pub(crate) struct Slab<T> {
    chunks: [AtomicPtr<T>; MAX_CHUNKS],
    alloc: Mutex<Allocator>,
}

pub(crate) struct Allocator {
    high_water: u32,
    free: Vec<u32>,
}

/// One thread's free indices of one slab; given back to the slab's shared list when the thread exits.
pub(crate) struct LocalFree {
    shared: &'static Mutex<Allocator>,
    indices: RefCell<Vec<u32>>,
}

impl LocalFree {
    /// The list of a slab whose shared list is `shared` (`SLAB.shared_free()` of a static slab).
    pub(crate) const fn new(shared: &'static Mutex<Allocator>) -> LocalFree {
        LocalFree { shared, indices: RefCell::new(Vec::new()) }
    }

    /// A free index from this thread's list; `None` when it is empty or in use (a re-entrant call).
    #[inline]
    fn pop(&self) -> Option<u32> {
        self.indices.try_borrow_mut().ok()?.pop()
    }

    /// Keeps `index` for this thread; hands `BATCH` back once the list is full. `false` if the list
    /// is in use (a re-entrant call), and the caller gives the index to the shared list.
    #[inline]
    fn push(&self, index: u32) -> bool {
        let Ok(mut indices) = self.indices.try_borrow_mut() else {
            return false;
        };
        indices.push(index);
        if indices.len() > 2 * BATCH {
            self.hand_back(&mut indices);
        }
        true
    }

    #[cold]
    fn hand_back(&self, indices: &mut Vec<u32>) {
        let keep = indices.len() - BATCH;
        self.shared.lock().free.extend(indices.drain(keep..));
    }
}

impl Drop for LocalFree {
    fn drop(&mut self) {
        self.shared.lock().free.append(self.indices.get_mut());
    }
}

impl<T> Slab<T> {
    pub(crate) const fn new() -> Slab<T> {
        Slab {
            chunks: [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_CHUNKS],
            alloc: Mutex::new(Allocator { high_water: 0, free: Vec::new() }),
        }
    }

    /// The shared free list, for this slab's `LocalFree`.
    pub(crate) const fn shared_free(&'static self) -> &'static Mutex<Allocator> {
        &self.alloc
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

    /// `alloc`, from the calling thread's list `local` first (which must be this slab's: made by
    /// `LocalFree::new(SLAB.shared_free())`).
    #[inline]
    pub(crate) fn alloc_local(&self, local: &'static LocalKey<LocalFree>) -> Option<u32> {
        // Under loom, where `reset_for_model` empties the slab, no list outlives a model's execution.
        if cfg!(floe_loom) {
            return self.alloc();
        }
        match local.try_with(|local| {
            debug_assert!(std::ptr::eq(local.shared, &self.alloc), "a slab's own local list");
            local.pop().or_else(|| self.refill(local))
        }) {
            Ok(Some(index)) => Some(index),
            _ => self.alloc(),
        }
    }

    /// Refills an empty local list: `BATCH` indices from the shared list, or else a run of fresh
    /// ones (see the invariants); returns one of them.
    #[cold]
    fn refill(&self, local: &LocalFree) -> Option<u32> {
        let mut indices = local.indices.try_borrow_mut().ok()?;
        let mut alloc = self.alloc.lock();
        if alloc.free.is_empty() {
            let start = alloc.high_water.next_multiple_of(BATCH as u32);
            self.ensure_chunk(start)?;
            // Indices skipped to align the run (left by `alloc`) stay for the shared list.
            let skipped = alloc.high_water..start;
            alloc.free.extend(skipped);
            alloc.high_water = start + BATCH as u32;
            // Reversed, so that the run is handed out from its start.
            indices.extend((start..alloc.high_water).rev());
        } else {
            let keep = alloc.free.len().saturating_sub(BATCH);
            indices.extend(alloc.free.drain(keep..));
        }
        indices.pop()
    }

    /// A free index; its slot holds whatever the previous user left (callers reset on free).
    pub(crate) fn alloc(&self) -> Option<u32> {
        let mut alloc = self.alloc.lock();
        if let Some(index) = alloc.free.pop() {
            return Some(index);
        }
        let index = alloc.high_water;
        self.ensure_chunk(index)?;
        alloc.high_water = index + 1;
        Some(index)
    }

    /// Allocates the chunk of `index` unless it is there; `None` past the last chunk. Called under
    /// the allocator's lock.
    fn ensure_chunk(&self, index: u32) -> Option<()> {
        let chunk = self.chunks.get((index >> CHUNK_BITS) as usize)?;
        if chunk.load(Ordering::Relaxed).is_null() {
            chunk.store(new_chunk::<T>(), Ordering::Release);
        }
        Some(())
    }

    /// One past the highest index ever allocated.
    pub(crate) fn len(&self) -> u32 {
        self.alloc.lock().high_water
    }

    /// `free`, a single index to the calling thread's list `local` (as for `alloc_local`).
    #[inline]
    pub(crate) fn free_local(&self, indices: &[u32], local: &'static LocalKey<LocalFree>) {
        // As in `alloc_local`.
        if cfg!(floe_loom) {
            return self.free(indices);
        }
        if let [index] = indices {
            if local.try_with(|local| local.push(*index)) == Ok(true) {
                return;
            }
        }
        self.free(indices);
    }

    /// Returns indices for reuse.
    pub(crate) fn free(&self, indices: &[u32]) {
        self.alloc.lock().free.extend_from_slice(indices);
    }

    /// Forgets every slot, for a loom model's next execution: slots that hold loom objects belong
    /// to the execution that made them. Their chunks are leaked, as a model's few are small.
    #[cfg(all(test, floe_loom))]
    pub(crate) fn reset_for_model(&self) {
        let mut alloc = self.alloc.lock();
        let chunks = (alloc.high_water as usize).div_ceil(CHUNK_LEN);
        self.chunks[..chunks].iter().for_each(|chunk| chunk.store(std::ptr::null_mut(), Ordering::Release));
        *alloc = Allocator { high_water: 0, free: Vec::new() };
    }
}

/// `CHUNK_LEN` default slots on a fresh cache line, never freed (invariants).
fn new_chunk<T: Default>() -> *mut T {
    let layout = Layout::array::<T>(CHUNK_LEN).and_then(|layout| layout.align_to(LINE)).expect("a chunk's size");
    const { assert!(std::mem::size_of::<T>() > 0, "slab slots take memory") };
    // SAFETY: the layout is not zero-sized (asserted above).
    let chunk = unsafe { std::alloc::alloc(layout) }.cast::<T>();
    if chunk.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    for i in 0..CHUNK_LEN {
        // SAFETY: `i < CHUNK_LEN`, inside the allocation, each slot written once before the chunk
        // is published.
        unsafe { chunk.add(i).write(T::default()) };
    }
    chunk
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
    fn a_threads_free_indices_go_back_to_the_slab_when_it_exits() {
        static SLAB: Slab<AtomicU32> = Slab::new();
        thread_local! {
            static LOCAL: LocalFree = const { LocalFree::new(SLAB.shared_free()) };
        }
        let n = 3 * BATCH as u32;
        std::thread::spawn(move || {
            let indices: Vec<u32> = (0..n).map(|_| SLAB.alloc_local(&LOCAL).unwrap()).collect();
            indices.iter().for_each(|&index| SLAB.free_local(&[index], &LOCAL));
            let reused = SLAB.alloc_local(&LOCAL).unwrap();
            assert_eq!(Some(reused), indices.last().copied(), "the thread reuses what it freed last");
            SLAB.free_local(&[reused], &LOCAL);
        })
        .join()
        .unwrap();
        assert_eq!(SLAB.len(), n);
        let mut again: Vec<u32> = (0..n).map(|_| SLAB.alloc().unwrap()).collect();
        assert_eq!(SLAB.len(), n, "every index the exited thread held was reused");
        again.sort_unstable();
        again.dedup();
        assert_eq!(again.len(), n as usize, "no index handed out twice");
    }

    #[test]
    fn threads_taking_fresh_slots_get_runs_of_their_own_on_separate_cache_lines() {
        static SLAB: Slab<u64> = Slab::new();
        thread_local! {
            static LOCAL: LocalFree = const { LocalFree::new(SLAB.shared_free()) };
        }
        let here: Vec<u32> = (0..2).map(|_| SLAB.alloc_local(&LOCAL).unwrap()).collect();
        let there = std::thread::spawn(|| SLAB.alloc_local(&LOCAL).unwrap()).join().unwrap();
        assert_eq!(here, [0, 1], "a run is handed out from its start");
        assert_eq!(there, BATCH as u32, "the other thread's run follows");
        let address = |index: u32| std::ptr::from_ref(SLAB.at(index)).addr();
        assert_eq!(address(0) % LINE, 0, "a chunk starts on a cache line");
        assert_ne!(address(here[1]) / LINE, address(there) / LINE, "no line is shared");
    }

    #[test]
    fn indices_skipped_to_align_a_run_are_not_lost() {
        static SLAB: Slab<u64> = Slab::new();
        thread_local! {
            static LOCAL: LocalFree = const { LocalFree::new(SLAB.shared_free()) };
        }
        assert_eq!(SLAB.alloc(), Some(0), "one index alone, as a thread without its list takes it");
        let run = std::thread::spawn(|| SLAB.alloc_local(&LOCAL).unwrap()).join().unwrap();
        assert_eq!(run, BATCH as u32, "the run starts on the next multiple of BATCH");
        // The exited thread gave back the rest of its run; with the skipped ones, every index but
        // the two taken is free, and no new one is needed.
        let mut reused: Vec<u32> = (2..2 * BATCH).map(|_| SLAB.alloc().unwrap()).collect();
        reused.sort_unstable();
        let expected: Vec<u32> = (1..2 * BATCH as u32).filter(|&index| index != run).collect();
        assert_eq!(reused, expected, "the skipped indices are handed out too");
        assert_eq!(SLAB.len(), 2 * BATCH as u32);
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
