//! The handle table: what C and Rust hosts hold instead of pointers.
//!
//! A handle is a `u64`: `generation << 32 | slot index`. A slot's generation is odd while the slot
//! holds a live handle and even while free; issuing and releasing each add one. So for a handle `h`
//! whose slot has generation `g`:
//! - `g == h.gen` (odd): live;
//! - `h.gen` odd and `h.gen < g`: released earlier;
//! - anything else (even generation, a generation the slot never reached, an index never
//!   allocated): never issued by this runtime.
//!
//! Each live handle holds one counted reference to its object. Validation is an index, a chunk load
//! and a generation compare, with no lock. Release is a compare-and-swap on the generation, so of two
//! racing releases exactly one wins. Generations wrap after 2^31 reuses of one slot; a handle that
//! old could then validate again.

use crate::core::base::error::{Error, Result, Status};
use crate::core::base::ids::{split, IdKind, IN_PLACE};
use crate::core::base::slab::{LocalFree, Slab};
use crate::core::base::stats::STATS;
use crate::core::heap::slots::HEAP;
use crate::core::heap::value::ObjIndex;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Default)]
struct HandleSlot {
    generation: AtomicU32,
    target: AtomicU32,
}

// Each thread keeps a few free handle slots: a transfer releases one handle and issues another.
static TABLE: Slab<HandleSlot> = Slab::new();
thread_local! {
    static FREE_HANDLES: LocalFree = const { LocalFree::new(TABLE.shared_free()) };
}

/// Issues a handle for `target`, taking over one reference the caller already counted; when no
/// handle can be issued, that reference is dropped.
pub(crate) fn issue(target: ObjIndex) -> Result<u64> {
    let Some(index) = TABLE.alloc_local(&FREE_HANDLES) else {
        return Err(table_full(target));
    };
    let slot = TABLE.at(index);
    slot.target.store(target, Ordering::Relaxed);
    let generation = slot.generation.load(Ordering::Relaxed) + 1;
    slot.generation.store(generation, Ordering::Release);
    STATS.handles.add(1);
    Ok(IdKind::Object.id(generation, index))
}

/// `issue`'s failure: the reference it was given is dropped.
#[cold]
fn table_full(target: ObjIndex) -> Error {
    HEAP.release(target);
    Error::new(Status::ErrLimit, "cannot issue a handle: the handle table is full")
}

/// The object of a live handle, or `None` (`resolve` says why).
#[inline]
pub(crate) fn lookup(handle: u64) -> Option<ObjIndex> {
    let (generation, index) = split(handle);
    let slot = TABLE.get(index)?;
    (slot.generation.load(Ordering::Acquire) == generation && generation & 1 == 1)
        .then(|| slot.target.load(Ordering::Relaxed))
}

/// The object a live handle refers to.
#[inline]
pub(crate) fn resolve(handle: u64) -> Result<ObjIndex> {
    lookup(handle).ok_or_else(|| invalid(handle, false))
}

/// Ends a live handle and returns its object, whose reference the caller now owns and must drop.
pub(crate) fn release(handle: u64) -> Result<ObjIndex> {
    try_release(handle).ok_or_else(|| invalid(handle, true))
}

/// `release`, `None` for a handle that is not live (`release` says why).
#[inline]
pub(crate) fn try_release(handle: u64) -> Option<ObjIndex> {
    let (generation, index) = split(handle);
    // An even generation is a free slot's: no handle of it is live.
    let slot = TABLE.get(index).filter(|_| generation & 1 == 1)?;
    // The exchange is the check: it ends the handle only if it is the slot's live one.
    slot.generation
        .compare_exchange(generation, generation.wrapping_add(1), Ordering::AcqRel, Ordering::Acquire)
        .ok()?;
    // The slot is this call's until freed below; `issue` wrote the target before the generation
    // that the exchange acquired.
    let target = slot.target.load(Ordering::Relaxed);
    TABLE.free_local(&[index], &FREE_HANDLES);
    STATS.handles.add(-1);
    Some(target)
}

/// Whether an in-place handle is live: set by `shared::segment::inplace` when it issues its first
/// handle, so that a call taking heap objects says why it refuses one.
pub(crate) static IN_PLACE_LIVE: std::sync::OnceLock<fn(u64) -> bool> = std::sync::OnceLock::new();

/// The error for a handle that is not live, telling a released handle from one never issued.
#[cold]
fn invalid(handle: u64, releasing: bool) -> Error {
    if handle == 0 {
        return Error::new(Status::ErrNull, "the handle is NULL (0)");
    }
    let (generation, index) = split(handle);
    let current = TABLE.get(index).map(|slot| slot.generation.load(Ordering::Acquire));
    match current {
        Some(current) if generation & 1 == 1 && generation < current => {
            if releasing {
                Error::new(
                    Status::ErrDoubleRelease,
                    format!("handle {handle:#x} was already released; this is a second release"),
                )
            } else {
                Error::new(
                    Status::ErrReleasedHandle,
                    format!("handle {handle:#x} was released and cannot be used any more"),
                )
            }
        }
        _ if handle as u32 & IN_PLACE != 0 && IN_PLACE_LIVE.get().is_some_and(|live| live(handle)) => Error::new(
            Status::ErrInvalidArgument,
            format!(
                "handle {handle:#x} names an object read in place from a segment, which this call does not take: \
                 it takes objects of this process's heap (floe_segment_read_copy copies a slot's graph there)"
            ),
        ),
        _ => {
            let mismatch = IdKind::Object.mismatch(handle);
            Error::new(Status::ErrInvalidHandle, format!("{handle:#x} is not a handle this runtime issued{mismatch}"))
        }
    }
}
