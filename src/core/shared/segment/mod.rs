//! Segments: named memory shared between processes, whose slots hold versioned frozen graphs that
//! a reader in another process reads without copying them. The format and the protocols are in
//! `docs/segment-format.md`.
//!
//! 1. `block` — the version block: one frozen graph, written once into position-independent,
//!    self-describing bytes (its types, an object table, objects, strings; references as object
//!    indices), and read back through checks on every access.
//! 2. `store` — the segment file: header, slots, the writer's lock, the readers' table, the page
//!    map; publish (write a block, commit it with one atomic store), read (pin a version), recovery
//!    after a crashed writer, reclamation of versions no reader pins.
//! 3. `slot` — a slot as `SharedData` between processes: publish a frozen graph (plan, then write
//!    its block into the store's pages), read a copy into the heap, verify a slot's version; and
//!    a slot reached through a `floe_shared_data *` into the mapping (`store::mapped` finds it by
//!    address).
//! 4. `inplace` — objects read in place: handles into a pinned version, attached in O(1), every
//!    read checked against the block's bytes.
//!
//! Memory another process can write is never behind a Rust reference: bytes are copied out through
//! raw pointers and checked, words that processes share are atomics.
//!
//! May import: `graph`, `heap`, `base`.
// The view's accessors wait for zero-copy reads through handles, `encode` for files and the network.
#![allow(dead_code)]

pub(crate) mod block;
pub(crate) mod inplace;
pub(crate) mod slot;
pub(crate) mod store;
