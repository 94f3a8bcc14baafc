//! Live counters that every test ends by checking: objects, frozen objects, handles, graphs in
//! transit.
//!
//! Each thread counts in a shard of its own, which it alone writes — a load and a store, not a
//! locked read-modify-write (a round trip with a one-object graph makes eight counts) — and which
//! any thread reads. A shard outlives its thread: at exit it goes back, counts and all, to a free
//! list for the next thread, so the sums stay exact with nothing folded. What a thread counts
//! after its shard went back (in its own thread-exit destructors) goes to one shared shard, by
//! atomic adds. Reading sums every shard, so a reading taken while threads work is a moment's
//! approximation; once they are quiet it is exact.
//!
//! Invariant: a shard is held by one thread at a time (in its `MINE`) or by the free list, and
//! passes between them under `FREE`'s mutex, which orders its last holder's stores before its
//! next holder's loads.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

/// The four counters of `STATS`, and under test one more that only the tests below use.
const COUNTERS: usize = if cfg!(test) { 5 } else { 4 };

/// One thread's share of every counter, alone on its cache lines.
#[repr(align(128))]
struct Shard([AtomicI64; COUNTERS]);

impl Shard {
    const fn new() -> Shard {
        Shard([const { AtomicI64::new(0) }; COUNTERS])
    }
}

/// Every shard ever made (they are never freed: there are as many as threads ever ran at once).
static ALL: Mutex<Vec<&'static Shard>> = Mutex::new(Vec::new());
/// Shards whose threads exited, for the next threads.
static FREE: Mutex<Vec<&'static Shard>> = Mutex::new(Vec::new());
/// For counts made after a thread's shard went back.
static SHARED: Shard = Shard::new();

/// The calling thread's shard, held until the thread exits.
struct Mine(&'static Shard);

impl Mine {
    fn claim() -> Mine {
        if let Some(shard) = FREE.lock().pop() {
            return Mine(shard);
        }
        let shard: &'static Shard = Box::leak(Box::new(Shard::new()));
        ALL.lock().push(shard);
        Mine(shard)
    }
}

impl Drop for Mine {
    fn drop(&mut self) {
        FREE.lock().push(self.0);
    }
}

thread_local! {
    static MINE: Mine = Mine::claim();
}

/// One of the counters: its position in each shard.
pub(crate) struct Counter(usize);

impl Counter {
    #[inline]
    pub(crate) fn add(&self, delta: i64) {
        let counted = MINE.try_with(|mine| {
            // The shard's only writer is this thread (invariant): no locked add is needed.
            let count = &mine.0 .0[self.0];
            count.store(count.load(Ordering::Relaxed) + delta, Ordering::Relaxed);
        });
        if counted.is_err() {
            SHARED.0[self.0].fetch_add(delta, Ordering::Relaxed);
        }
    }

    pub(crate) fn get(&self) -> u64 {
        let held = ALL.lock().iter().map(|shard| shard.0[self.0].load(Ordering::Relaxed)).sum::<i64>();
        (held + SHARED.0[self.0].load(Ordering::Relaxed)).max(0) as u64
    }
}

pub(crate) struct Counters {
    pub(crate) objects: Counter,
    pub(crate) frozen: Counter,
    pub(crate) handles: Counter,
    pub(crate) transit: Counter,
}

pub(crate) static STATS: Counters =
    Counters { objects: Counter(0), frozen: Counter(1), handles: Counter(2), transit: Counter(3) };

/// A snapshot of the runtime's live counters.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Objects allocated and not yet freed, frozen ones included.
    pub live_objects: u64,
    /// Of those, the frozen ones.
    pub frozen_objects: u64,
    /// Handles issued and not yet released.
    pub live_handles: u64,
    /// Graphs detached from their thread and not yet attached: in jobs, futures, or C pointers.
    pub detached_graphs: u64,
}

/// The current counters.
pub fn snapshot() -> Stats {
    Stats {
        live_objects: STATS.objects.get(),
        frozen_objects: STATS.frozen.get(),
        live_handles: STATS.handles.get(),
        detached_graphs: STATS.transit.get(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outlive_their_threads_even_those_made_after_the_shard_went_back() {
        // A counter no other test touches; the threads below each claim a shard and give it back.
        let probe = Counter(COUNTERS - 1);
        for _ in 0..3 {
            std::thread::spawn(move || Counter(COUNTERS - 1).add(5)).join().unwrap();
        }
        assert_eq!(probe.get(), 15, "three exited threads' counts");
        struct CountsAtExit;
        impl Drop for CountsAtExit {
            fn drop(&mut self) {
                Counter(COUNTERS - 1).add(-15);
            }
        }
        thread_local! {
            static AT_EXIT: CountsAtExit = const { CountsAtExit };
        }
        // `AT_EXIT` first: a thread runs its destructors last-registered first, so `MINE` gives
        // the shard back before `AT_EXIT` counts.
        std::thread::spawn(|| AT_EXIT.with(|_| MINE.with(|_| ()))).join().unwrap();
        assert_eq!(probe.get(), 0, "a count made during thread exit is kept too");
        assert_eq!(SHARED.0[COUNTERS - 1].load(Ordering::Relaxed), -15, "made after the shard went back");
    }
}
