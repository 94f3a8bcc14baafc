//! The safe Rust API, re-exported at the crate root: the Rust hosts' face, a sibling of `ffi`.
//!
//! 1. `object` — `Runtime`, `ObjectType`, `Object`.
//! 2. `concurrency` — `Worker`, `Future`, `Pool`, `DetachedGraph`, `MainQueue`, `Global`,
//!    `SharedCell`, and `Runtime::shutdown`.
//! 3. `segment` — `Segment`: versioned frozen graphs in memory shared between processes.
//! 4. `block` — `VersionBlock`: a frozen graph as a segment slot's bytes, for files and networks.
//!
//! May import: `core`.

pub(crate) mod block;
pub(crate) mod concurrency;
pub(crate) mod object;
pub(crate) mod segment;
