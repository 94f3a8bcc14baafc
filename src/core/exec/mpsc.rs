//! A lock-free, unbounded, closable queue with many producers and one consumer: the job queue of a
//! worker and of the main thread. A push claims a position with one compare-and-swap and, in a
//! steady stream, allocates nothing; the consumer takes values in order with no read-modify-write.
//!
//! Positions count up from 0: `tail` is the next one a producer claims, `head` the next one the
//! consumer reads. Values live in blocks of `BLOCK` slots, linked in position order. Each block
//! spans `LAP = BLOCK + 1` positions, the last of which is no slot: while `tail` sits on it, the
//! producer that claimed the block's last slot is installing the next block, and other producers
//! wait for it.
//!
//! Invariants:
//! - A slot is written once per position, by the producer that claimed the position, which then
//!   stamps the slot with the position plus one (release); the consumer reads it once, after seeing
//!   that stamp (acquire). A stamp names its position, so a reused block needs no reset: the
//!   consumer writes nothing to a slot, and a producer's write to a reused slot finds its line
//!   shared, not modified on the consumer's CPU.
//! - Whenever `tail` is not on a lap's last position, `tail_block` is the block of its lap: the
//!   installer stores it before moving `tail` past that position.
//! - The producer that claims a block's last slot links the next block before it stamps that slot,
//!   so the consumer, having read the slot, finds the link.
//! - Only the consumer frees a block, once it has read every slot of it. A producer dereferences a
//!   block only after claiming a slot in it, and not after stamping that slot. An emptied block is
//!   kept in a spare place for the next installer, so a stream allocates nothing: a block emptied
//!   just before an install, or just after, would otherwise be freed by the consumer while the
//!   producer allocates one, both in the producer's allocator arena, whose lock they then contend
//!   for (a futex call each way: 2000–2700 in 9 × 10^5 jobs of a probe). A spare place holds a
//!   block or null; a block moves in and out of it by one atomic exchange, so each spare has one
//!   owner.
//! - `CLOSED` in `tail` is set once and never cleared: every push that claimed a position before it
//!   is in the queue; every later push fails and hands its value back.

use crate::core::base::sync::{AtomicPtr, AtomicUsize, ShortWait, UnsafeCell};
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

/// Slots per block. Under loom, two: a model crosses block boundaries within a few pushes.
#[cfg(not(floe_loom))]
const BLOCK: usize = 31;
#[cfg(floe_loom)]
const BLOCK: usize = 2;
/// Places for emptied blocks. Under loom, two: enough to check the places' protocol.
#[cfg(not(floe_loom))]
const SPARES: usize = 4;
#[cfg(floe_loom)]
const SPARES: usize = 2;
const LAP: usize = BLOCK + 1;
/// `tail` holds the position shifted left by one; bit 0 says the queue is closed.
const CLOSED: usize = 1;
const ONE: usize = 2;

/// A cache line to itself: a consumer that keeps pace with the producers reads slot `i` while a
/// producer writes slot `i + 1`, and slots sharing a line then moved that line between the two
/// CPUs on every push (a stream of tiny jobs: 74 ns per job at 16 bytes a slot, 43 at 64; see
/// `docs/performance.md#queue-slots-on-lines-of-their-own`).
#[repr(align(64))]
struct Slot<T> {
    /// The position whose value the slot holds, plus one; 0 before its first use.
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

struct Block<T> {
    slots: [Slot<T>; BLOCK],
    next: AtomicPtr<Block<T>>,
}

impl<T> Slot<T> {
    /// The stamp of a slot that holds the value of `position`.
    fn stamp_of(position: usize) -> usize {
        position + 1
    }

    /// Whether the slot holds the value of `position`, written (acquire).
    fn holds(&self, position: usize) -> bool {
        self.stamp.load(Acquire) == Slot::<T>::stamp_of(position)
    }

    /// Waits for the producer that claimed `position` to write it. Out of line: a consumer seldom
    /// meets a producer between its two steps.
    #[cold]
    fn wait_until_holds(&self, position: usize) {
        let mut fill = ShortWait::new();
        while !self.holds(position) {
            fill.step();
        }
    }
}

impl<T> Block<T> {
    fn allocate() -> *mut Block<T> {
        Box::into_raw(Box::new(Block {
            slots: std::array::from_fn(|_| Slot {
                stamp: AtomicUsize::new(0),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            }),
            next: AtomicPtr::new(ptr::null_mut()),
        }))
    }
}

/// The consumer's place: its next position and the block holding it.
struct Head<T> {
    position: usize,
    block: *mut Block<T>,
}

/// Keeps what producers write and what the consumer writes on separate cache lines.
#[repr(align(128))]
struct Padded<T>(T);

pub(crate) struct Mpsc<T> {
    tail: Padded<AtomicUsize>,
    tail_block: AtomicPtr<Block<T>>,
    spares: [AtomicPtr<Block<T>>; SPARES],
    head: Padded<UnsafeCell<Head<T>>>,
}

/// What the consumer found.
pub(crate) enum Pop<T> {
    Value(T),
    Empty,
    /// Empty, and closed: nothing will ever come.
    Closed,
}

/// What the consumer would find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Look {
    Values,
    Empty,
    Closed,
}

// SAFETY: values cross from producers to the consumer (hence `T: Send`); every shared field is
// atomic except `head` and the slots' values, which the invariants above give to one thread at a time.
unsafe impl<T: Send> Send for Mpsc<T> {}
// SAFETY: as for `Send`; `pop` and `look`, which use `head`, are `unsafe` with a one-consumer contract.
unsafe impl<T: Send> Sync for Mpsc<T> {}

impl<T> Mpsc<T> {
    pub(crate) fn new() -> Mpsc<T> {
        let block = Block::allocate();
        Mpsc {
            tail: Padded(AtomicUsize::new(0)),
            tail_block: AtomicPtr::new(block),
            spares: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            head: Padded(UnsafeCell::new(Head { position: 0, block })),
        }
    }

    /// Appends `value`, or hands it back if the queue is closed. Any thread.
    #[inline]
    pub(crate) fn push(&self, value: T) -> Result<(), T> {
        // The common case, kept small enough to inline: an open queue, a slot that is not its
        // block's last, and no other producer claiming it first.
        let tail = self.tail.0.load(Acquire);
        let offset = (tail / ONE) % LAP;
        if tail & CLOSED == 0 && offset + 1 < BLOCK {
            let block = self.tail_block.load(Acquire);
            // The claim is the producer's write in the worker's sleep handshake (see worker.rs).
            if self.tail.0.compare_exchange_weak(tail, tail + ONE, SeqCst, Relaxed).is_ok() {
                // SAFETY: as in `push_any`: `block` holds the claimed position, whose slot is
                // not stamped yet.
                unsafe { Self::fill(&*block, offset, tail / ONE, value) };
                return Ok(());
            }
        }
        self.push_any(value)
    }

    /// `push` for every case: a closed queue, a block's last slot (which installs the next
    /// block), a lap's last position (wait for that install), a lost claim (try again).
    #[cold]
    fn push_any(&self, value: T) -> Result<(), T> {
        // A block taken ahead of a claim of some block's last slot; kept as a spare if unused.
        let mut next_block: *mut Block<T> = ptr::null_mut();
        let mut install = ShortWait::new();
        let pushed = loop {
            let tail = self.tail.0.load(Acquire);
            if tail & CLOSED != 0 {
                break Err(value);
            }
            let offset = (tail / ONE) % LAP;
            if offset == BLOCK {
                install.step();
                continue;
            }
            let last = offset + 1 == BLOCK;
            if last && next_block.is_null() {
                next_block = self.take_block();
            }
            let block = self.tail_block.load(Acquire);
            // The claim, as in `push`: the producer's write in the worker's sleep handshake.
            if self.tail.0.compare_exchange_weak(tail, tail + ONE, SeqCst, Relaxed).is_err() {
                continue;
            }
            // SAFETY: `block` is the block of the claimed position: `tail` did not change between
            // its load (which acquired the installer's store of `tail_block`) and the claim, and
            // `tail_block` changes only while `tail` sits on a lap's last position. The consumer
            // frees it only after reading the slot claimed here, which is not stamped yet.
            let block = unsafe { &*block };
            if last {
                let next = std::mem::replace(&mut next_block, ptr::null_mut());
                self.tail_block.store(next, Release);
                self.tail.0.fetch_add(ONE, Release);
                block.next.store(next, Release);
            }
            // SAFETY: the position was claimed here alone, and its slot is not stamped yet.
            unsafe { Self::fill(block, offset, tail / ONE, value) };
            break Ok(());
        };
        if !next_block.is_null() {
            self.keep_spare(next_block);
        }
        pushed
    }

    /// Writes the value of `position` into its slot, at `offset` in `block`, and stamps it.
    ///
    /// # Safety
    /// The caller claimed `position`, and the slot is not stamped with it yet, so the consumer
    /// does not read it.
    #[inline]
    unsafe fn fill(block: &Block<T>, offset: usize, position: usize, value: T) {
        let slot = &block.slots[offset];
        // SAFETY: forwarded contract: the slot is this producer's until stamped.
        slot.value.with_mut(|cell| unsafe { (*cell).write(value) });
        slot.stamp.store(Slot::<T>::stamp_of(position), Release);
    }

    /// Closes the queue: later pushes fail. Values already in it stay for the consumer.
    pub(crate) fn close(&self) {
        self.tail.0.fetch_or(CLOSED, SeqCst);
    }

    /// Takes the next value.
    ///
    /// # Safety
    /// One thread alone is the consumer: no two calls of `pop` or `look` may overlap.
    pub(crate) unsafe fn pop(&self) -> Pop<T> {
        // SAFETY: the caller is the only consumer, so `head` is this call's alone.
        self.head.0.with_mut(|head| unsafe { self.pop_at(&mut *head) })
    }

    /// # Safety
    /// `head` is the consumer's, and the caller is the consumer.
    unsafe fn pop_at(&self, head: &mut Head<T>) -> Pop<T> {
        loop {
            // SAFETY: forwarded contract.
            if let Some(value) = unsafe { self.take_written(head) } {
                return Pop::Value(value);
            }
            let tail = self.tail.0.load(SeqCst);
            if tail / ONE == head.position {
                return if tail & CLOSED == 0 { Pop::Empty } else { Pop::Closed };
            }
            // Claimed, not written yet: its producer is between the two steps.
            // SAFETY: `take_written` left `head` on a slot of its live block.
            unsafe { (*head.block).slots[head.position % LAP].wait_until_holds(head.position) };
        }
    }

    /// Takes the next value if its producer has written it; `None` otherwise, without reading
    /// `tail`: for a consumer that then spins on `next_is_written` and looks at `tail` only before
    /// it sleeps. A `pop` of an empty queue reads `tail`, which pulls its line to the consumer's
    /// CPU, and the next push's claim must then take it back: in a round trip, a line transfer on
    /// the producer's path every time.
    ///
    /// # Safety
    /// As for `pop`.
    pub(crate) unsafe fn pop_written(&self) -> Option<T> {
        // SAFETY: the caller is the only consumer, so `head` is this call's alone.
        self.head.0.with_mut(|head| unsafe { self.take_written(&mut *head) })
    }

    /// The value at `head` if its producer has written it, moving past a lap's last position
    /// (which is no slot) first; leaves `head` on a slot.
    ///
    /// # Safety
    /// As for `pop_at`.
    unsafe fn take_written(&self, head: &mut Head<T>) -> Option<T> {
        if head.position % LAP == BLOCK {
            // SAFETY: the consumer has read this block's last slot, whose producer linked the next
            // block before stamping it; no producer uses this block any more.
            let next = unsafe { (*head.block).next.load(Acquire) };
            debug_assert!(!next.is_null(), "the last slot's producer linked the next block");
            self.recycle(head.block);
            head.block = next;
            head.position += 1;
        }
        // SAFETY: the consumer frees a block only after leaving it, so `head.block` is live.
        let slot = unsafe { &(*head.block).slots[head.position % LAP] };
        slot.holds(head.position).then(|| {
            // SAFETY: stamped with this position (acquired above) and never read before: positions
            // are read once, in order.
            let value = slot.value.with_mut(|cell| unsafe { (*cell).assume_init_read() });
            head.position += 1;
            value
        })
    }

    /// What a `pop` would find now, from one look at `tail`: values (or one being written), none,
    /// or none ever again. Does not wait.
    ///
    /// # Safety
    /// As for `pop`.
    pub(crate) unsafe fn look(&self) -> Look {
        let tail = self.tail.0.load(SeqCst);
        // SAFETY: the caller is the only consumer, so `head` is not being changed.
        let head = self.head.0.with_mut(|head| unsafe { (*head).position });
        // A head on a lap's last position stands for the next lap's first.
        if tail / ONE > head + usize::from(head % LAP == BLOCK) {
            Look::Values
        } else if tail & CLOSED == 0 {
            Look::Empty
        } else {
            Look::Closed
        }
    }

    /// Whether the next value is written, for a consumer that spins before it sleeps: it reads
    /// only the line that the next push writes, not `tail`, which every push claims.
    ///
    /// # Safety
    /// As for `pop`.
    pub(crate) unsafe fn next_is_written(&self) -> bool {
        // SAFETY: the caller is the only consumer, so `head` is not being changed, and its block
        // is live (the consumer frees a block only after leaving it).
        self.head.0.with_mut(|head| unsafe {
            let Head { position, block } = *head;
            match position % LAP {
                BLOCK => !(*block).next.load(Acquire).is_null(),
                offset => (*block).slots[offset].holds(position),
            }
        })
    }

    /// A spare block, or a new one.
    fn take_block(&self) -> *mut Block<T> {
        self.spares
            .iter()
            .filter(|place| !place.load(Relaxed).is_null())
            .map(|place| place.swap(ptr::null_mut(), Acquire))
            .find(|spare| !spare.is_null())
            .unwrap_or_else(Block::allocate)
    }

    /// Keeps `block` (no value in it, no link) in an empty spare place, or frees it if none is.
    fn keep_spare(&self, block: *mut Block<T>) {
        let kept = self.spares.iter().any(|place| {
            place.load(Relaxed).is_null() && place.compare_exchange(ptr::null_mut(), block, Release, Relaxed).is_ok()
        });
        if !kept {
            // SAFETY: the caller owns `block` (an emptied block, or one taken ahead and unused).
            drop(unsafe { Box::from_raw(block) });
        }
    }

    /// Readies a block the consumer has read entirely for reuse.
    fn recycle(&self, block: *mut Block<T>) {
        // SAFETY: every slot of `block` was read and no producer uses it any more (see the
        // invariants), so the consumer owns it.
        let emptied = unsafe { &*block };
        emptied.next.store(ptr::null_mut(), Relaxed);
        self.keep_spare(block);
    }
}

impl<T> Drop for Mpsc<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no producer or other consumer is left.
        while let Pop::Value(value) = unsafe { self.pop() } {
            drop(value);
        }
        // SAFETY: the head block is the last one (every value was read) and the spares are
        // unused; all belong to the queue alone.
        unsafe {
            drop(Box::from_raw(self.head.0.with_mut(|head| (*head).block)));
            for place in &self.spares {
                let spare = place.swap(ptr::null_mut(), Acquire);
                if !spare.is_null() {
                    drop(Box::from_raw(spare));
                }
            }
        }
    }
}

#[cfg(all(test, not(floe_loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Pops until empty; the consumer's own thread.
    fn drain<T>(queue: &Mpsc<T>) -> Vec<T> {
        let mut values = Vec::new();
        // SAFETY: each test has one consumer thread.
        while let Pop::Value(value) = unsafe { queue.pop() } {
            values.push(value);
        }
        values
    }

    #[test]
    fn values_come_out_in_order_across_blocks_and_closing_keeps_them() {
        let queue = Mpsc::new();
        let count = BLOCK * 3 + 5;
        for i in 0..count {
            queue.push(Box::new(i)).unwrap();
        }
        // SAFETY: one consumer.
        assert_eq!(unsafe { queue.look() }, Look::Values);
        let firsts: Vec<usize> = (0..BLOCK + 2)
            .map(|_| match unsafe { queue.pop() } {
                Pop::Value(value) => *value,
                _ => panic!("a value was pushed"),
            })
            .collect();
        assert_eq!(firsts, (0..BLOCK + 2).collect::<Vec<_>>());
        queue.close();
        assert_eq!(unsafe { queue.look() }, Look::Values, "closed, not empty yet");
        assert_eq!(*queue.push(Box::new(999)).unwrap_err(), 999, "a closed queue hands the value back");
        let rest: Vec<usize> = drain(&queue).into_iter().map(|value| *value).collect();
        assert_eq!(rest, (BLOCK + 2..count).collect::<Vec<_>>());
        assert!(matches!(unsafe { queue.pop() }, Pop::Closed));
        assert_eq!(unsafe { queue.look() }, Look::Closed);
    }

    #[test]
    fn taking_only_written_values_goes_across_blocks_in_order_and_leaves_closing_to_pop() {
        let queue = Mpsc::new();
        // SAFETY (every call below): one consumer.
        assert_eq!(unsafe { queue.pop_written() }, None, "an empty queue");
        for lap in 0..3 {
            let count = BLOCK * 2 + lap;
            (0..count).for_each(|i| queue.push(i).unwrap());
            let taken: Vec<usize> = std::iter::from_fn(|| unsafe { queue.pop_written() }).collect();
            assert_eq!(taken, (0..count).collect::<Vec<_>>(), "lap {lap}");
        }
        queue.push(7).unwrap();
        queue.close();
        assert_eq!(unsafe { queue.pop_written() }, Some(7), "a closed queue's values are still taken");
        assert_eq!(unsafe { queue.pop_written() }, None, "then nothing, without saying why");
        assert!(matches!(unsafe { queue.pop() }, Pop::Closed), "which `pop` and `look` say");
    }

    #[test]
    fn a_reused_block_holds_no_stale_value() {
        let queue = Mpsc::new();
        // One value at a time over many laps: emptied blocks come back as spares, their slots
        // still stamped by earlier laps.
        for i in 0..BLOCK * 5 {
            // SAFETY: one consumer.
            assert!(!unsafe { queue.next_is_written() }, "nothing written at {i}");
            assert_eq!(unsafe { queue.look() }, Look::Empty);
            queue.push(i).unwrap();
            assert!(unsafe { queue.next_is_written() });
            assert!(matches!(unsafe { queue.pop() }, Pop::Value(v) if v == i));
            assert!(matches!(unsafe { queue.pop() }, Pop::Empty), "a stale stamp is no value at {i}");
        }
    }

    #[test]
    fn values_left_in_a_dropped_queue_are_dropped() {
        let queue = Mpsc::new();
        let counted = Arc::new(());
        for _ in 0..BLOCK + 3 {
            queue.push(counted.clone()).unwrap();
        }
        drop(queue);
        assert_eq!(Arc::strong_count(&counted), 1);
    }

    #[test]
    fn producers_on_threads_lose_nothing_and_keep_their_order() {
        const PRODUCERS: usize = 3;
        let per_producer = if cfg!(miri) { 40 } else { 20_000 };
        let queue = Arc::new(Mpsc::new());
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let queue = queue.clone();
                std::thread::spawn(move || (0..per_producer).for_each(|i| queue.push((p, i)).unwrap()))
            })
            .collect();
        let mut next = [0; PRODUCERS];
        let mut received = 0;
        while received < PRODUCERS * per_producer {
            // SAFETY: this thread is the only consumer.
            match unsafe { queue.pop() } {
                Pop::Value((p, i)) => {
                    assert_eq!(i, next[p], "producer {p}'s values arrive in its order");
                    next[p] += 1;
                    received += 1;
                }
                Pop::Empty => std::thread::yield_now(),
                Pop::Closed => unreachable!("never closed"),
            }
        }
        producers.into_iter().for_each(|p| p.join().unwrap());
        assert!(matches!(unsafe { queue.pop() }, Pop::Empty));
    }

    #[test]
    fn a_close_racing_pushes_keeps_every_accepted_value() {
        let pushes = if cfg!(miri) { 30 } else { 5_000 };
        let queue = Arc::new(Mpsc::new());
        let producers: Vec<_> = (0..2)
            .map(|_| {
                let queue = queue.clone();
                std::thread::spawn(move || (0..pushes).filter(|&i| queue.push(i).is_ok()).count())
            })
            .collect();
        let mut popped = drain(&queue).len();
        queue.close();
        let accepted: usize = producers.into_iter().map(|p| p.join().unwrap()).sum();
        loop {
            match unsafe { queue.pop() } {
                Pop::Value(_) => popped += 1,
                Pop::Empty => unreachable!("closed, and every producer has returned"),
                Pop::Closed => break,
            }
        }
        assert_eq!(popped, accepted, "every accepted push is popped once");
    }
}

/// loom models of the queue: run with `RUSTFLAGS="--cfg floe_loom" cargo test --release --lib loom`.
#[cfg(all(test, floe_loom))]
mod loom_models {
    use super::*;
    use crate::core::base::sync::bounded_model;
    use loom::sync::Arc;

    const PREEMPTIONS: usize = 3;

    /// Pops `count` values, yielding while the queue is empty.
    fn pop_values(queue: &Mpsc<i32>, count: usize) -> Vec<i32> {
        let mut seen = Vec::new();
        while seen.len() < count {
            // SAFETY: the models have one consumer thread.
            match unsafe { queue.pop() } {
                Pop::Value(value) => seen.push(value),
                Pop::Empty => loom::thread::yield_now(),
                Pop::Closed => unreachable!("never closed"),
            }
        }
        seen
    }

    /// Two producers race for the first block's two slots (the one that gets the last slot
    /// installs the next block) while the consumer pops; then the consumer moves to the next block.
    #[test]
    fn loom_two_producers_race_for_a_block_and_lose_nothing() {
        bounded_model(PREEMPTIONS, || {
            let queue = Arc::new(Mpsc::new());
            let producers: Vec<_> = (1..=2)
                .map(|value| {
                    let queue = queue.clone();
                    loom::thread::spawn(move || queue.push(value).unwrap())
                })
                .collect();
            let mut seen = pop_values(&queue, 2);
            producers.into_iter().for_each(|p| p.join().unwrap());
            seen.sort_unstable();
            assert_eq!(seen, [1, 2]);
            queue.push(3).unwrap();
            assert_eq!(pop_values(&queue, 1), [3], "the next block was linked");
        });
    }

    /// One producer crosses a block boundary while the consumer takes three values with `take`,
    /// yielding while it finds none: values arrive in order.
    fn block_boundary_crossed_under_the_consumer(take: fn(&Mpsc<i32>) -> Option<i32>) {
        bounded_model(PREEMPTIONS, move || {
            let queue = Arc::new(Mpsc::new());
            let producer = {
                let queue = queue.clone();
                loom::thread::spawn(move || (1..=3).for_each(|value| queue.push(value).unwrap()))
            };
            let mut seen = Vec::new();
            while seen.len() < 3 {
                match take(&queue) {
                    Some(value) => seen.push(value),
                    None => loom::thread::yield_now(),
                }
            }
            assert_eq!(seen, [1, 2, 3]);
            producer.join().unwrap();
        });
    }

    #[test]
    fn loom_a_block_boundary_crossed_under_the_consumer_keeps_order() {
        // SAFETY: the model's thread is the only consumer.
        block_boundary_crossed_under_the_consumer(|queue| match unsafe { queue.pop() } {
            Pop::Value(value) => Some(value),
            Pop::Empty => None,
            Pop::Closed => unreachable!("never closed"),
        });
    }

    /// The same for a consumer that takes only written values, as a worker does before it sleeps.
    #[test]
    fn loom_taking_only_written_values_across_a_block_boundary_keeps_order() {
        // SAFETY: the model's thread is the only consumer.
        block_boundary_crossed_under_the_consumer(|queue| unsafe { queue.pop_written() });
    }

    /// A close racing a push: the push either lands before the close, and is popped, or fails and
    /// gets its value back.
    #[test]
    fn loom_a_close_racing_a_push_loses_nothing() {
        loom::model(|| {
            let queue = Arc::new(Mpsc::new());
            queue.push(1).unwrap();
            let producer = {
                let queue = queue.clone();
                loom::thread::spawn(move || queue.push(2).is_ok())
            };
            queue.close();
            let mut popped = Vec::new();
            loop {
                // SAFETY: this thread is the only consumer.
                match unsafe { queue.pop() } {
                    Pop::Value(value) => popped.push(value),
                    Pop::Empty => loom::thread::yield_now(),
                    Pop::Closed => break,
                }
            }
            let accepted = producer.join().unwrap();
            assert_eq!(popped, if accepted { vec![1, 2] } else { vec![1] });
        });
    }
}
