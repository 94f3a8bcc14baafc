//! One object's memory and life: its header, its values, its type, the handles hosts hold to it,
//! and every way it dies (counts reaching zero, frozen SCCs as one unit, mutable cycles collected).
//!
//! 1. `header` — the 16-byte header: the owner word's states (free, a thread, in transit, frozen),
//!    the meta bits and the type's place. The one home of these facts.
//! 2. `slots` — the heap itself: allocation, reference counts, frees without recursion, frozen
//!    SCCs' member lists, and `FROZEN_FREES`.
//! 3. `value` — field kinds and the values stored in objects.
//! 4. `types` — object types: a name and named, kinded fields.
//! 5. `handle` — the handle table: what hosts hold instead of pointers.
//! 6. `thread` — thread tokens, names, the main thread.
//! 7. `provenance` — which freeze call froze an object (data only; `graph::ownership` writes the
//!    messages).
//! 8. `foreign` — references released by a thread that does not own the object, parked for its
//!    owner.
//! 9. `cycles` — the per-thread trial-deletion collector for mutable cycles.
//! 10. `scc_merge` — frozen SCCs joined when an atomic reference closes a cycle between them.
//!
//! May import: `base`. The loop among `slots`, `cycles`, `foreign` and `thread` is the design:
//! a decrement may buffer a cycle candidate, a release by another thread is parked for the owner,
//! and a thread's exit drains what was parked for it.

pub(crate) mod cycles;
pub(crate) mod foreign;
pub(crate) mod handle;
pub(crate) mod header;
pub(crate) mod provenance;
pub(crate) mod scc_merge;
pub(crate) mod slots;
pub(crate) mod thread;
pub(crate) mod types;
pub(crate) mod value;
