//! The segment file: a named, fixed-size file mapped by every process that opens it, holding
//! slots of versioned blocks (Kotlin/Native's `SharedData`, between processes). The format and
//! the protocols, byte by byte and step by step, are in `docs/segment-format.md`.
//!
//! 1. `layout` — the bytes: header, slots, writer record, reader table, page map, version records;
//!    the page-map word's states and the version reference (pure, Miri-tested).
//! 2. `map` — names and locations, create/open with the owner and mode checks, the mapping and raw
//!    access to it (atomics for shared words, copies for other bytes; never a Rust reference).
//! 3. `lock` — OFD byte locks (the writer's, each reader entry's), the shared futex, a process's
//!    start time and nonces. Linux; elsewhere compile-only stand-ins, untested.
//! 4. `segment` — the open `Segment`: create, open, unlink, reader-entry claim, slot names, inspect.
//! 5. `publish` — the writer session, publish and unpublish, retirement, reclamation.
//! 6. `read` — pin a slot's version (O(1), no system call), unpin, wait for a change.
//! 7. `recover` — idempotent recovery after any crash, and its report.
//! 8. `mapped` — the segments this process maps, by address, so that `floe_shared_data_*` can
//!    take a pointer to a slot; a closed segment's slot section stays reserved and refused.
//!
//! # States of a data page (the page map, one word per page; the one home of this fact)
//! FREE → WRITING(epoch) by the writer holding the lock → LIVE(version id) once written →
//! RETIRED(version id) once its slot references a newer version → FREE once no live reader pins
//! it. WRITING → FREE when a write fails or its writer died. Only the holder of the writer lock
//! changes a page word.
//!
//! # Lock order
//! A `Segment`'s writer mutex, then the OFD writer lock, then its readers mutex (a leaf: nothing
//! is taken under it but entry-byte locks). Readers take only the readers mutex. `mapped`'s
//! `RANGES` is a leaf of its own, never held with the others.
//!
//! # Threat model
//! Peers crash at any instruction (fully handled); bytes from a same-uid peer or a stale file may
//! be anything (every access checked: an error, never a fault or out-of-bounds read); other users
//! are refused. Truncating a mapped segment raises SIGBUS in every process that maps it: floe
//! never shrinks one and checks the length at open; a same-uid peer doing so is out of scope.

pub(crate) mod crash;
#[cfg(all(test, target_os = "linux", feature = "crash-points", not(miri)))]
mod kills;
pub(crate) mod layout;
pub(crate) mod lock;
pub(crate) mod map;
pub(crate) mod mapped;
pub(crate) mod publish;
pub(crate) mod read;
pub(crate) mod recover;
pub(crate) mod segment;
#[cfg(all(test, target_os = "linux", not(miri)))]
mod tests;
