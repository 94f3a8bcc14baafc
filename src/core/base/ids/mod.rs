//! Ids the hosts hold: every one a `u64` of `generation << 32 | kind and slot index`, checked
//! against a table before use.
//!
//! 1. this file — the shared encoding: [`split`], and [`IdKind`] in bits 29–30 of the low half.
//! 2. `ranges` — the 32-bit ids of types, workers, pools and globals, each kind in a range of its
//!    own so that one kind's id given to another's call is refused.
//! 3. `registry` — generation-checked ids for detached graphs and shared-data values, each slot
//!    behind a small mutex.
//! 4. `table` — the C ABI's future ids and shared-data values: lock-free, a reader pins a slot to
//!    read its value.
//!
//! Object handles use the same encoding; their table lives with the objects (`heap::handle`).
//! May import: `base` only.

pub(crate) mod ranges;
pub(crate) mod registry;
pub(crate) mod table;

/// An id's generation and slot index: object handles (`heap::handle`) and the C ABI's other ids
/// (`registry`, `table`) share this encoding, the others with their `IdKind` above the index.
#[inline(always)]
pub(crate) fn split(handle: u64) -> (u32, u32) {
    ((handle >> 32) as u32, handle as u32)
}

/// What a 64-bit id names. Ids carry their kind in bits 29 and 30 of the low half, above every slot
/// index (slabs stay below 2^29; an object handle's kind bits are 0), so that one kind's id given
/// to another kind's call names no slot there: it is refused, and the message says what it looks
/// like, where equal encodings had let a future's id release an object handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdKind {
    Object = 0,
    Future = 1,
    Graph = 2,
    SharedValue = 3,
}

/// The bit of an object handle's low half that marks an object read in place from a segment
/// (`shared::segment::inplace`): above every slab index and id kind, so the heap's handle table
/// never resolves such a handle.
pub(crate) const IN_PLACE: u32 = 1 << 31;

const KIND_SHIFT: u32 = 29;
const KIND_BITS: u32 = 0b11 << KIND_SHIFT;

impl IdKind {
    /// What messages call an id of this kind.
    pub(crate) const fn noun(self) -> &'static str {
        match self {
            IdKind::Object => "handle",
            IdKind::Future => "future",
            IdKind::Graph => "detached graph",
            IdKind::SharedValue => "shared-data value",
        }
    }

    /// The id of slot `index` at `generation`.
    #[inline(always)]
    pub(crate) fn id(self, generation: u32, index: u32) -> u64 {
        u64::from(generation) << 32 | u64::from(index | (self as u32) << KIND_SHIFT)
    }

    /// The generation and slot index of `id`, if its kind bits are this kind's.
    #[inline(always)]
    pub(crate) fn split(self, id: u64) -> Option<(u32, u32)> {
        let (generation, low) = split(id);
        (low & KIND_BITS == (self as u32) << KIND_SHIFT).then_some((generation, low & !KIND_BITS))
    }

    /// For the message about `id`, not a live id of this kind: what its kind bits say, if another.
    pub(crate) fn mismatch(self, id: u64) -> String {
        let kinds = [IdKind::Object, IdKind::Future, IdKind::Graph, IdKind::SharedValue];
        let bits = kinds[((id as u32 & KIND_BITS) >> KIND_SHIFT) as usize];
        if id == 0 || bits == self {
            return String::new();
        }
        format!("; its kind bits are a {}'s", bits.noun())
    }
}
