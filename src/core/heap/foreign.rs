//! References dropped by a thread that does not own the object: a Swift `deinit` or a C++
//! destructor running wherever the last host reference went, a handle left behind by an UNSAFE
//! transfer, a mutable child reached while freeing a graph that was partly moved away.
//!
//! Invariants:
//! - Only an object's owner changes a mutable object's reference count (the collector, freeze and
//!   the SAFE transfer check rely on that). Any other thread *parks* the reference here instead: it
//!   stays counted, so the object cannot be freed or its slot reused while parked.
//! - A parked reference is dropped by whichever thread owns the object when it drains — after an
//!   UNSAFE transfer or an attach that is the new owner — or by any thread once the object is frozen
//!   or its owner has exited (an orphan, see `thread`).
//! - Threads drain at their next collection (explicit, due, or when the thread exits), handle
//!   release, detach and attach. Until then the object counts as live in the stats.
//! - `PENDING` counts parked references, so a drain with nothing parked is one atomic load.

use crate::core::heap::header::FROZEN;
use crate::core::heap::slots::HEAP;
use crate::core::heap::thread;
use crate::core::heap::value::ObjIndex;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

static PARKED: Mutex<Vec<ObjIndex>> = Mutex::new(Vec::new());
static PENDING: AtomicUsize = AtomicUsize::new(0);

/// Hands one reference to `index`, a mutable object the calling thread does not own, to its
/// owner `owner`; `false`, and nothing parked, when that owner has exited (the caller drops the
/// reference itself, as an orphan's). Checked under the lock that `while_parking_stopped` holds
/// while a thread is recorded as exited, so no reference is parked for a thread after its exit's
/// last drain.
pub(crate) fn park(index: ObjIndex, owner: u32) -> bool {
    let mut parked = PARKED.lock();
    if thread::has_exited(owner) {
        return false;
    }
    parked.push(index);
    PENDING.fetch_add(1, Ordering::Release);
    true
}

/// Runs `record_exit` with no reference being parked meanwhile (see `park`).
pub(crate) fn while_parking_stopped(record_exit: impl FnOnce()) {
    let _parked = PARKED.lock();
    record_exit();
}

/// Drops the parked references the calling thread may drop now; returns how many.
#[inline]
pub(crate) fn drain() -> usize {
    if PENDING.load(Ordering::Acquire) == 0 {
        return 0;
    }
    drain_parked()
}

#[cold]
fn drain_parked() -> usize {
    let me = thread::current();
    let mut mine = Vec::new();
    {
        let mut parked = PARKED.lock();
        parked.retain(|&index| {
            // The parked reference keeps the slot alive, so reading its owner is sound; an owner
            // of `me` or FROZEN cannot change under us.
            let owner = HEAP.slot(index).owner();
            let droppable = owner == me || owner & FROZEN != 0 || thread::has_exited(owner);
            if droppable {
                mine.push(index);
            }
            !droppable
        });
        PENDING.fetch_sub(mine.len(), Ordering::Release);
    }
    for &index in &mine {
        HEAP.release(index);
    }
    mine.len()
}
