//! The engine, private to the crate: everything the Rust API (`crate::api`) and the C ABI
//! (`crate::ffi`) do, they do by calling in here. Five layers, each a folder whose `mod.rs` maps
//! its files:
//!
//! 1. `base/` — primitives and ids: sync (loom's switch), slabs, stripes, scratch buffers, stats,
//!    errors, the 64-bit ids hosts hold. Knows no object.
//! 2. `heap/` — one object's memory and life: the 16-byte header and the owner word's states
//!    (`heap/header.rs`, their one home), counts and frees, values and types, handles, thread
//!    tokens, freeze provenance, foreign releases, the cycle collector, frozen SCCs.
//! 3. `graph/` — the model's rules applied to graphs: the access check and its messages, object
//!    operations, freeze, transfer, atomics.
//! 4. `exec/` — jobs on other threads: the queue, workers, futures, pools, shutdown.
//! 5. `shared/` — values many threads reach: globals and SharedData; next, segments shared
//!    between processes (`shared/segment/`).
//!
//! # Imports point down
//! A file imports from its own folder and from the folders above it in this list, never from a
//! later one: `exec` and `shared` import `graph`, `heap`, `base`; `graph` imports `heap` and
//! `base`; `heap` imports `base`; `exec` and `shared` do not import each other. Nothing in `core`
//! imports `api` or `ffi`. The only import loops are inside one folder, where one protocol spans
//! files (`heap`: a decrement buffers a cycle candidate, a foreign release is parked for the
//! owner's exit; `exec`: a queued task is a future's cell).
//!
//! # Lock order
//! Locks nest only downwards in this list, outermost first; locks on one line never nest with
//! each other. While holding a lock, take only locks from lower lines.
//!
//! 1. A global's value lock (one at a time) | `heap::scc_merge::TOPOLOGY` | a worker's `control` |
//!    a pool's queue | a view's state | `exec::future`'s `ANY_LOCK` | `exec::worker`'s `WORKERS` |
//!    `exec::pool`'s `EXECUTORS`.
//! 2. `shared::global`'s `INIT_GRAPH` | one stripe of `base::stripes` (futures, atomic references,
//!    shared data; never two stripes at once).
//! 3. `shared::global`'s `GLOBALS` | `exec::future`'s `DELIVERIES` | `heap::cycles`'s `ORPHANS`
//!    (written by the orphan collector, read recursively by each orphan release).
//! 4. `heap::foreign`'s `PARKED` | `heap::slots::FROZEN_FREES` (read while frozen objects are
//!    freed; written by `graph::ownership`'s path search for a message).
//! 5. Leaves, under which nothing is taken: the heap's SCC member lists, `heap::cycles`'s orphan
//!    and left-behind candidates, `heap::thread`'s names and exited set, `heap::types`' table,
//!    provenance records, `graph::transfer`'s shards of graphs in transit, registry slots, slab
//!    free lists, stats shards, `exec::future_blocks`' spare blocks, `exec::worker`'s `MAIN_WAKEUP`
//!    (the hook is cloned under it and called after), `exec::pool`'s stuck waits of a pool or a
//!    view, `shared::segment::store::mapped`'s ranges of mapped segments.
//!
//! Dropping a reference (a release, a graph in transit dropped, parked references drained) takes
//! locks from lines 3–5 and may run the cycle collector, which writes `ORPHANS`: release while
//! holding nothing, or only locks from lines 1–2 (`shared_data::put` holds its stripe across a
//! detach; the orphan collector frees with `release_into` under `ORPHANS`). `heap::thread::current`
//! may register the calling thread, writing its name, under any lock but a leaf. Host code — job
//! bodies, delivery and cancellation callbacks, global initialisers, the main queue's wake-up
//! hook — never runs under a floe lock.

pub(crate) mod base;
pub(crate) mod exec;
pub(crate) mod graph;
pub(crate) mod heap;
pub(crate) mod shared;
