//! Primitives and ids: what every other layer builds on. Nothing here knows what an object is.
//!
//! 1. `sync` — the mutex, condition variable, atomics and cell that loom swaps in under
//!    `--cfg floe_loom`, and the spin, yield and park policy of every wait.
//! 2. `slab` — slots addressed by a `u32` index, readable without a lock; free lists per thread.
//! 3. `stripes` — a fixed set of mutexes and condition variables shared by address.
//! 4. `scratch` — the buffers a thread keeps from one graph walk to the next.
//! 5. `stats` — the live counters every test ends by checking.
//! 6. `error` — `Status` (the C ABI's numbers) and `Error` (a status and its message).
//! 7. `ids/` — the 64-bit ids hosts hold and the tables that check them.
//!
//! May import: `std`, `parking_lot`, and each other (`ids` uses `slab`, `sync`, `error`).

pub(crate) mod error;
pub(crate) mod ids;
pub(crate) mod scratch;
pub(crate) mod slab;
pub(crate) mod stats;
pub(crate) mod stripes;
pub(crate) mod sync;
