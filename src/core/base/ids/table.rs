//! A lock-free table of ids for shared values (the C ABI's futures, shared-data values): what a C
//! host holds instead of a pointer, checked on every use, and issued with no read-modify-write, so
//! that a stream of jobs from C does not wait, at each `execute`, for its earlier writes to land (a
//! mutex per id made `floe_worker_execute` three times slower than the Rust API's `execute`), and
//! read by many threads at once without a lock.
//!
//! An id is `generation << 32 | slot index`, as for object handles (`handle.rs`): a slot's
//! generation is odd while it holds a live id and even while free, and issuing and ending each add
//! one. So an odd generation below the slot's is an id that was ended ("already released"); any
//! other that is not the slot's was never issued.
//!
//! Invariants of a slot (`IdSlot`), whose state is one word, `generation << 32 | pins`:
//! - A free slot belongs to the thread that took its index from the slab: it writes the value,
//!   then publishes the odd generation (release).
//! - A reader pins the slot (a compare-and-swap that adds one pin while the generation is the
//!   id's), reads the value, and unpins (release). Pins last a short read: a clone, a count.
//! - Ending takes the word from `generation` with no pin to the next generation (acquire); it waits
//!   out pins that are there. Once it succeeds no reader can pin the slot again (the generation
//!   changed) and every earlier reader unpinned, so the ender takes the value alone.
//! - Of two racing ends of one id, exactly one exchange succeeds.

use crate::core::base::error::{Error, Result, Status};
use crate::core::base::ids::registry::{not_live, table_full};
use crate::core::base::ids::IdKind;
use crate::core::base::slab::{LocalFree, Slab};
use crate::core::base::sync::{AtomicU64, ShortWait, UnsafeCell};
use std::sync::atomic::Ordering;
use std::thread::LocalKey;

const PIN: u64 = 1;
const GENERATION: u64 = 1 << 32;

/// One id's slot: its state word and its value while live.
pub(crate) struct IdSlot<T> {
    word: AtomicU64,
    value: UnsafeCell<Option<T>>,
}

impl<T> Default for IdSlot<T> {
    fn default() -> Self {
        IdSlot { word: AtomicU64::new(0), value: UnsafeCell::new(None) }
    }
}

fn generation_of(word: u64) -> u32 {
    (word >> 32) as u32
}

impl<T> IdSlot<T> {
    /// Makes a free slot live with `value`; returns the new (odd) generation. Only the thread that
    /// took the slot's index from the slab may call it.
    #[inline(always)]
    pub(crate) fn fill(&self, value: T) -> u32 {
        let word = self.word.load(Ordering::Relaxed);
        debug_assert!(generation_of(word) & 1 == 0 && word as u32 == 0, "a free slot, unpinned");
        // SAFETY: a free slot is its allocator's alone: readers pin only a live generation, and the
        // ender of the previous one took the value before the index was freed, so it holds `None`
        // and is written over without reading it (a fresh line's read would wait for the line).
        self.value.with_mut(|slot| unsafe { slot.write(Some(value)) });
        let live = word + GENERATION;
        self.word.store(live, Ordering::Release);
        generation_of(live)
    }

    /// `f` of the value, pinned, if `generation` is live.
    #[inline]
    pub(crate) fn read<R>(&self, generation: u32, f: impl FnOnce(&T) -> R) -> Option<R> {
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            if generation_of(word) != generation || generation & 1 == 0 {
                return None;
            }
            match self.word.compare_exchange_weak(word, word + PIN, Ordering::Acquire, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        // Unpinned however `f` ends: a pin left behind would hold the id's end forever.
        let _pinned = Pinned(&self.word);
        // SAFETY: pinned: the value was written before the generation that the pin acquired, and
        // no end takes it while the pin is there.
        self.value.with(|slot| unsafe { (*slot).as_ref().map(f) })
    }

    /// Ends the live `generation` and takes its value; `None` if that generation is not live.
    pub(crate) fn end(&self, generation: u32) -> Option<T> {
        if generation & 1 == 0 {
            return None;
        }
        let live = u64::from(generation) << 32;
        loop {
            match self.word.compare_exchange_weak(live, live + GENERATION, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => break,
                // Pinned by a reader that is reading the value (or a spurious failure).
                Err(now) if generation_of(now) == generation => self.wait_out_pins(generation),
                Err(_) => return None,
            }
        }
        // SAFETY: the exchange ended the generation with no pin, after every reader's unpin
        // (acquired); no reader pins it again, and the slot is not free until the caller frees it.
        self.value.with_mut(|slot| unsafe { (*slot).take() })
    }

    /// Waits until `generation` has no pin or is no longer the slot's. Out of line: an end seldom
    /// meets a reader in the middle of its read.
    #[cold]
    fn wait_out_pins(&self, generation: u32) {
        let mut pins = ShortWait::new();
        loop {
            let word = self.word.load(Ordering::Relaxed);
            if generation_of(word) != generation || word as u32 == 0 {
                return;
            }
            pins.step();
        }
    }

    /// The slot's generation now.
    fn generation(&self) -> u32 {
        generation_of(self.word.load(Ordering::Acquire))
    }
}

/// A reader's pin on a slot's word, taken off (release) when dropped.
struct Pinned<'a>(&'a AtomicU64);

impl Drop for Pinned<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(PIN, Ordering::Release);
    }
}

/// The ids of one kind of value, in a static slab.
pub(crate) struct IdTable<T> {
    kind: IdKind,
    slots: Slab<IdSlot<T>>,
}

impl<T> IdTable<T> {
    pub(crate) const fn new(kind: IdKind) -> Self {
        IdTable { kind, slots: Slab::new() }
    }

    /// Forgets every id, for a loom model's next execution (`Slab::reset_for_model`).
    #[cfg(all(test, floe_loom))]
    pub(crate) fn reset_for_model(&self) {
        self.slots.reset_for_model();
    }

    /// The shared free list, for the table's per-thread list (`LocalFree::new`).
    pub(crate) const fn shared_free(&'static self) -> &'static parking_lot::Mutex<crate::core::base::slab::Allocator> {
        self.slots.shared_free()
    }
}

// Each call names the table's per-thread free list (see `Slab::alloc_local`).
impl<T> IdTable<T> {
    /// Issues an id for `value`, live until `end`. Inlined into `floe_worker_execute`, once per job.
    #[inline(always)]
    pub(crate) fn insert(&self, value: T, local: &'static LocalKey<LocalFree>) -> Result<u64> {
        let Some(index) = self.slots.alloc_local(local) else {
            return Err(table_full(self.kind.noun()));
        };
        let generation = self.slots.at(index).fill(value);
        Ok(self.kind.id(generation, index))
    }

    /// `f` of the value of a live id, which no end takes meanwhile: it holds the id's pin, so it
    /// must be short (a clone, a count).
    #[inline]
    pub(crate) fn read<R>(&self, id: u64, f: impl FnOnce(&T) -> R) -> Result<R> {
        let read = self.kind.split(id).and_then(|(generation, index)| self.slots.get(index)?.read(generation, f));
        read.ok_or_else(|| self.invalid(id))
    }

    /// A clone of the value of a live id.
    #[inline]
    pub(crate) fn get(&self, id: u64) -> Result<T>
    where
        T: Clone,
    {
        self.read(id, T::clone)
    }

    /// Ends a live id and returns its value; later uses of the id fail with `ErrReleasedHandle`.
    pub(crate) fn end(&self, id: u64, local: &'static LocalKey<LocalFree>) -> Result<T> {
        let Some((generation, index)) = self.kind.split(id) else {
            return Err(self.invalid(id));
        };
        let value = self.slots.get(index).and_then(|slot| slot.end(generation)).ok_or_else(|| self.invalid(id))?;
        self.slots.free_local(&[index], local);
        Ok(value)
    }

    /// An ended id is one whose odd generation the slot has passed: it was released.
    #[cold]
    fn invalid(&self, id: u64) -> Error {
        let ended = self.kind.split(id).is_some_and(|(generation, index)| {
            let current = self.slots.get(index).map(IdSlot::generation);
            current.is_some_and(|current| generation & 1 == 1 && generation < current)
        });
        not_live(self.kind, id, ended.then_some((Status::ErrReleasedHandle, "released")))
    }
}

#[cfg(all(test, not(floe_loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    static TABLE: IdTable<Arc<u32>> = IdTable::new(IdKind::Future);

    fn index_of(id: u64) -> u32 {
        IdKind::Future.split(id).expect("a future's id").1
    }
    thread_local! {
        static FREE: LocalFree = const { LocalFree::new(TABLE.shared_free()) };
    }

    #[test]
    fn an_id_reads_until_ended_and_then_says_it_was_released() {
        let id = TABLE.insert(Arc::new(7), &FREE).unwrap();
        assert_eq!(*TABLE.get(id).unwrap(), 7);
        assert_eq!(*TABLE.end(id, &FREE).unwrap(), 7);
        for error in [TABLE.get(id).unwrap_err(), TABLE.end(id, &FREE).unwrap_err()] {
            assert_eq!(error.status(), Status::ErrReleasedHandle, "{}", error.message());
        }
        let reused = TABLE.insert(Arc::new(8), &FREE).unwrap();
        assert_eq!(reused as u32, id as u32, "the thread reuses the slot it freed");
        assert_eq!(TABLE.get(id).unwrap_err().status(), Status::ErrReleasedHandle, "an old id stays ended");
        assert_eq!(TABLE.get(reused + (2 << 32)).unwrap_err().status(), Status::ErrInvalidHandle);
        assert_eq!(TABLE.get(reused + (1 << 32)).unwrap_err().status(), Status::ErrInvalidHandle, "even: never issued");
        assert_eq!(TABLE.get(u64::from(u32::MAX)).unwrap_err().status(), Status::ErrInvalidHandle);
        assert_eq!(TABLE.get(0).unwrap_err().status(), Status::ErrNull);
        TABLE.end(reused, &FREE).unwrap();
    }

    #[test]
    fn a_read_whose_function_panics_leaves_no_pin_behind() {
        let id = TABLE.insert(Arc::new(4), &FREE).unwrap();
        let read = std::panic::catch_unwind(|| TABLE.read(id, |_| -> u32 { panic!("the reader's function failed") }));
        assert!(read.is_err(), "the panic went on to the caller");
        assert_eq!(TABLE.slots.at(index_of(id)).word.load(Ordering::Relaxed) as u32, 0, "no pin is left");
        assert_eq!(*TABLE.end(id, &FREE).unwrap(), 4, "so the end takes the value");
    }

    #[test]
    fn an_end_that_meets_a_pin_gives_up_the_cpu_until_the_reader_unpins() {
        use crate::core::base::sync::ON_SHORT_WAIT_YIELD;
        let id = TABLE.insert(Arc::new(3), &FREE).unwrap();
        let slot = TABLE.slots.at(index_of(id));
        // A reader between its pin and its unpin, as if preempted there: it unpins only once the
        // ender gives up the CPU (the hook stands for it running again).
        slot.word.fetch_add(PIN, Ordering::Acquire);
        let yields = std::rc::Rc::new(std::cell::Cell::new(0));
        let counted = yields.clone();
        ON_SHORT_WAIT_YIELD.set(Some(Box::new(move || {
            if counted.replace(counted.get() + 1) == 0 {
                slot.word.fetch_sub(PIN, Ordering::Release);
            }
        })));
        let ended = TABLE.end(id, &FREE);
        ON_SHORT_WAIT_YIELD.set(None);
        assert_eq!(*ended.unwrap(), 3, "the end takes the value once the pin is gone");
        // More than once only after spurious failures of the weak exchange (as under Miri).
        assert!(yields.get() >= 1, "the end gave up the CPU while the pin was held");
    }

    #[test]
    fn readers_racing_an_end_get_the_value_or_an_error_and_it_is_dropped_once() {
        let value = Arc::new(1);
        for _ in 0..if cfg!(miri) { 4 } else { 200 } {
            let id = TABLE.insert(value.clone(), &FREE).unwrap();
            let ended = std::thread::scope(|s| {
                let readers: Vec<_> = (0..2).map(|_| s.spawn(|| TABLE.get(id).map(|v| *v))).collect();
                let ended = s.spawn(|| TABLE.end(id, &FREE).map(|v| *v)).join().unwrap();
                for reader in readers {
                    match reader.join().unwrap() {
                        Ok(read) => assert_eq!(read, 1),
                        Err(error) => assert_eq!(error.status(), Status::ErrReleasedHandle),
                    }
                }
                ended
            });
            assert_eq!(ended.unwrap(), 1, "the one end takes the value");
        }
        assert_eq!(Arc::strong_count(&value), 1, "every clone and the table's own were dropped");
    }
}

#[cfg(all(test, floe_loom))]
mod loom_models {
    use super::*;
    use loom::sync::Arc;

    type Slot = IdSlot<std::sync::Arc<u32>>;

    /// A live slot holding a counted value, shared with the model's threads.
    fn live_slot(value: &std::sync::Arc<u32>) -> (Arc<Slot>, u32) {
        let slot = Arc::new(IdSlot::default());
        let generation = slot.fill(value.clone());
        (slot, generation)
    }

    /// Runs `f` with the slot on a thread of its own.
    fn on_another_thread<R: 'static>(
        slot: &Arc<Slot>,
        f: impl FnOnce(&Slot) -> R + 'static,
    ) -> loom::thread::JoinHandle<R> {
        let slot = slot.clone();
        loom::thread::spawn(move || f(&slot))
    }

    #[test]
    fn loom_a_reader_racing_the_end_clones_a_live_value_or_none() {
        loom::model(|| {
            let value = std::sync::Arc::new(5);
            let (slot, generation) = live_slot(&value);
            let reader = on_another_thread(&slot, move |slot| slot.read(generation, std::sync::Arc::clone).map(|v| *v));
            assert_eq!(slot.end(generation).map(|v| *v), Some(5));
            assert!(matches!(reader.join().unwrap(), None | Some(5)));
            assert_eq!(std::sync::Arc::strong_count(&value), 1, "the value and every clone were dropped");
            assert_eq!(slot.read(generation, |v| **v), None);
        });
    }

    #[test]
    fn loom_of_two_racing_ends_one_takes_the_value() {
        loom::model(|| {
            let value = std::sync::Arc::new(5);
            let (slot, generation) = live_slot(&value);
            let other = on_another_thread(&slot, move |slot| slot.end(generation).is_some());
            let here = slot.end(generation).is_some();
            assert!(here ^ other.join().unwrap(), "exactly one end takes the value");
            assert_eq!(std::sync::Arc::strong_count(&value), 1);
        });
    }
}
