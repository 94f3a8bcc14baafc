//! Values that many threads reach by name or address.
//!
//! 1. `global` — named globals in Kotlin/Native's three kinds (main-thread-only, thread-local,
//!    shared-immutable), each created once by an initialiser; cyclic initialisation is named.
//! 2. `shared_data` — Kotlin/Native's versioned `SharedData { version; object }` in any C memory:
//!    frozen graphs published for lock-free readers, or a mutable graph put for one taker.
//!
//! 3. `segment/` — segments, memory shared between processes, whose slots are SharedData and
//!    whose readers attach a published frozen graph without copying it.
//! 4. `access` — objects by handle, heap objects and objects read in place from a segment alike:
//!    what the Rust API and the C ABI call.
//!
//! May import: `graph`, `heap`, `base`; not `exec`.

pub(crate) mod access;
pub(crate) mod global;
pub(crate) mod segment;
pub(crate) mod shared_data;
