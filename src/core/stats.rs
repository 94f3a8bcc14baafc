//! Live counters that every test ends by checking: objects, frozen objects, handles.

use std::sync::atomic::{AtomicI64, Ordering};

pub(crate) struct Counter(AtomicI64);

impl Counter {
    const fn new() -> Counter {
        Counter(AtomicI64::new(0))
    }

    #[inline]
    pub(crate) fn add(&self, delta: i64) {
        self.0.fetch_add(delta, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed).max(0) as u64
    }
}

pub(crate) struct Counters {
    pub(crate) objects: Counter,
    pub(crate) frozen: Counter,
    pub(crate) handles: Counter,
    pub(crate) transit: Counter,
}

pub(crate) static STATS: Counters =
    Counters { objects: Counter::new(), frozen: Counter::new(), handles: Counter::new(), transit: Counter::new() };

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
