//! Live counters that every test ends by checking: objects, frozen objects, handles.
//!
//! Every thread adds to its own cache line (a shard chosen by its thread token): one shared line
//! counting handles and objects for all threads moved between CPUs on every handle a round trip
//! issued or released. Reading sums the shards, so a reading taken while threads work is a
//! moment's approximation; once they are quiet it is exact.

use super::thread;
use std::sync::atomic::{AtomicI64, Ordering};

const SHARDS: usize = 64;

/// One thread's share of every counter, alone on its cache line.
#[repr(align(64))]
struct Shard([AtomicI64; 4]);

static SHARD_TABLE: [Shard; SHARDS] = [const { Shard([const { AtomicI64::new(0) }; 4]) }; SHARDS];

/// One of the counters: its position in each shard.
pub(crate) struct Counter(usize);

impl Counter {
    #[inline]
    pub(crate) fn add(&self, delta: i64) {
        SHARD_TABLE[thread::current() as usize % SHARDS].0[self.0].fetch_add(delta, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        SHARD_TABLE.iter().map(|shard| shard.0[self.0].load(Ordering::Relaxed)).sum::<i64>().max(0) as u64
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
