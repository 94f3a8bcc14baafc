//! The object header: four `AtomicU32` words, 16 bytes, in front of every object's values. Every
//! state and bit of these words is defined here and nowhere else.
//!
//! - `owner` — who may touch the object:
//!   - [`FREE`] (`0`): the slot holds no object;
//!   - a thread token in `1..=`[`MAX_TOKEN`]: mutable, owned by that thread (`heap::thread` hands
//!     tokens out);
//!   - [`TRANSIT`]: in a job, a future or a detached graph, owned by no thread (`graph::transfer`);
//!   - [`FROZEN`]` | provenance id`: deeply immutable, readable by any thread; the low 31 bits name
//!     the freeze call that froze it (`heap::provenance`).
//!
//!   The owner word is published with `Release` after the last write to the values and checked
//!   with `Acquire` before any read (`graph::ownership`).
//! - `refs` — the reference count. For a frozen object it lives on its SCC's leader (see `aux`);
//!   an old leader whose SCC merged into another holds [`FORWARDED`].
//! - `meta` — the type id in the bits from [`TYPE_SHIFT`] up (as `heap::types` stores it), flag bits
//!   below: the collector's colour ([`COLOR_MASK`]), [`BUFFERED`], [`NEVER_FREEZE`], [`VISITED`],
//!   [`SCC_MULTI`], [`MAY_REACH_ATOMIC_REF`], [`MAY_REFER`]. Only the owner changes flags; those left
//!   on a frozen object (visited, buffered) mean nothing and are cleared when the slot is freed.
//! - `aux` — scratch for the freeze traversal and the cycle collector; once frozen, the index of the
//!   object's SCC leader. Frozen SCCs merge when an atomic reference closes a cycle between them
//!   (`heap::scc_merge`): members' `aux` move to the new leader, and the old leader's count is
//!   swapped for [`FORWARDED`], so a count change that raced the merge onto the old leader sees the
//!   mark, undoes itself and retries.
//!
//! Objects read in place from a segment shared between processes have no header here: they live
//! in the segment's bytes, frozen, behind handles of their own (`core::shared::segment::inplace`,
//! the `IN_PLACE` bit of a handle).

/// `owner` of a free slot.
pub(crate) const FREE: u32 = 0;
/// Largest thread token; [`TRANSIT`] comes next, and the top bit is the frozen state.
pub(crate) const MAX_TOKEN: u32 = 0x7FFF_FFFE;
/// `owner` of an object in transit: owned by no thread.
pub(crate) const TRANSIT: u32 = MAX_TOKEN + 1;
/// `owner` bit of a frozen object; the bits below it are its freeze's provenance id.
pub(crate) const FROZEN: u32 = 0x8000_0000;

const _: () = assert!(TRANSIT & FROZEN == 0 && FREE < 1, "the owner word's states do not overlap");

/// `meta`: the cycle collector's colour (black is 0).
pub(crate) const COLOR_MASK: u32 = 0b11;
pub(crate) const GRAY: u32 = 0b01;
pub(crate) const WHITE: u32 = 0b10;
/// `meta`: in the cycle collector's candidate buffer.
pub(crate) const BUFFERED: u32 = 1 << 2;
/// `meta`: marked by `ensure_never_frozen`; a freeze that reaches it fails.
pub(crate) const NEVER_FREEZE: u32 = 1 << 3;
/// `meta`: the tree walk's visited mark.
pub(crate) const VISITED: u32 = 1 << 4;
/// `meta`: a frozen SCC leader with more than one member (the heap keeps their list).
pub(crate) const SCC_MULTI: u32 = 1 << 6;
/// `meta`: on a mutable object, its type has an atomic reference field; on a frozen one, it may reach
/// such a field (set on every object of a freeze that reached one). Objects without it cannot be on
/// a cycle through an atomic reference, which is what keeps `scc_merge`'s search small.
pub(crate) const MAY_REACH_ATOMIC_REF: u32 = 1 << 7;
/// `meta`: on a mutable object, a reference was stored in one of its fields or elements (it may
/// still hold one). Without it, a transfer knows the object refers to nothing without reading its
/// values — which, for a job's one-object input, would pull the line its job last wrote back to the
/// sender.
pub(crate) const MAY_REFER: u32 = 1 << 8;
/// `meta`: the type id starts at this bit (23 bits of type).
pub(crate) const TYPE_SHIFT: u32 = 9;

/// `refs` of an SCC leader whose SCC was merged into another.
pub(crate) const FORWARDED: u32 = 1 << 31;
