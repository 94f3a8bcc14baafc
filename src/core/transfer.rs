//! Subgraph transfer: a mutable graph leaves its owner thread whole, travels owned by nobody, and is
//! attached by exactly one receiver. Used by workers, futures and detached graphs.
//!
//! SAFE mode checks in O(N) that nothing outside the graph refers into it: one walk over the
//! mutable objects reachable from the root counts, in each object's `aux`, the references coming
//! from inside the graph; an object whose count is higher is referenced from outside (another
//! object or a host handle). The root's own handle, which the transfer consumes, is the one
//! allowed outside reference. A failure names the first such object and its path, and moves
//! nothing. Unreachable cyclic garbage can also hold references in: before refusing, the check
//! runs the cycle collector once and tries again (Kotlin/Native needed a manual GC.collect()).
//!
//! UNSAFE mode skips the comparison. Unlike Kotlin/Native, where it "will likely crash", floe stays
//! memory-safe: references left behind point at objects now owned by the receiver, so using them
//! fails with `FLOE_ERR_WRONG_THREAD`; counts are atomic, so dropping them is correct from any thread.
//!
//! In transit, the graph's mutable objects carry the owner word `TRANSIT`: no thread may touch them
//! until `attach` gives them to the calling thread. Frozen objects are shared, never moved.

use super::cycles;
use super::error::{Error, Result, Status};
use super::handle;
use super::heap::{BUFFERED, FROZEN, HEAP, VISITED};
use super::ownership::{self, name, path_within};
use super::stats::STATS;
use super::thread;
use super::value::{ObjIndex, Value};
use std::sync::atomic::Ordering;

/// The owner word of an object in transit: owned by no thread.
pub(crate) const TRANSIT: u32 = thread::MAX_TOKEN + 1;

/// How a graph leaves its owner. Numbers are part of the C ABI (`FLOE_TRANSFER_MODE_*`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferMode {
    /// Check in O(N) that nothing outside the graph refers into it; refuse otherwise.
    Safe = 1,
    /// Skip the check; references left behind fail on use instead of being refused up front.
    Unsafe = 2,
}

impl TransferMode {
    pub fn from_code(code: u32) -> Option<TransferMode> {
        [TransferMode::Safe, TransferMode::Unsafe].into_iter().find(|m| *m as u32 == code)
    }
}

/// A graph owned by no thread: one counted reference to its root and the mutable objects it
/// carries. Dropped without being attached, it is attached to the dropping thread and released.
#[derive(Debug)]
pub(crate) struct Transit {
    root: Option<ObjIndex>,
    members: Vec<ObjIndex>,
}

/// Takes the graph of `handle` from the calling thread. The handle is consumed on success; on
/// failure it and the graph stay as they were.
pub(crate) fn detach(handle: u64, mode: TransferMode) -> Result<Transit> {
    let root = handle::resolve(handle)?;
    let owner = HEAP.slot(root).owner();
    let me = thread::current();
    let members = if owner & FROZEN != 0 {
        Vec::new()
    } else if owner != me {
        return Err(ownership::wrong_thread(root, owner, format!("transfer {}", name(root))));
    } else {
        match mode {
            TransferMode::Safe => checked_members(root, me)?,
            TransferMode::Unsafe => {
                let members = walk(root, me)?;
                clear_marks(&members);
                members
            }
        }
    };
    handle::release(handle, |_| Ok(()))?;
    for &member in &members {
        HEAP.slot(member).owner.store(TRANSIT, Ordering::Release);
    }
    STATS.transit.add(1);
    Ok(Transit { root: Some(root), members })
}

/// Walks the mutable graph of `root`, marking members `VISITED` and counting in `aux` the
/// references each receives from inside. Marks are cleared on failure.
fn walk(root: ObjIndex, me: u32) -> Result<Vec<ObjIndex>> {
    let mut members = vec![root];
    HEAP.slot(root).set_flags(VISITED, 0);
    HEAP.slot(root).aux.store(0, Ordering::Relaxed);
    let mut next = 0;
    while let Some(&node) = members.get(next) {
        next += 1;
        // SAFETY: members are mutable objects owned by the calling thread.
        for child in unsafe { HEAP.slot(node).values() }.iter().filter_map(Value::as_ref_target) {
            let slot = HEAP.slot(child);
            let owner = slot.owner();
            if owner & FROZEN != 0 {
                continue;
            }
            if owner != me {
                clear_marks(&members);
                let what = format!("transfer {} (it reaches {})", name(root), name(child));
                return Err(ownership::wrong_thread(child, owner, what));
            }
            if slot.flags() & VISITED == 0 {
                slot.set_flags(VISITED, 0);
                slot.aux.store(0, Ordering::Relaxed);
                members.push(child);
            }
            slot.aux.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(members)
}

/// Clears walk marks, and the collector's "buffered" mark: the receiver's collector must be able
/// to buffer these objects again.
fn clear_marks(members: &[ObjIndex]) {
    for &member in members {
        HEAP.slot(member).set_flags(0, VISITED | BUFFERED);
    }
}

/// The first member referenced from outside the graph, with how many outside references it has.
fn first_outside_reference(root: ObjIndex, members: &[ObjIndex]) -> Option<(ObjIndex, u32)> {
    members.iter().find_map(|&m| {
        let slot = HEAP.slot(m);
        let inside = slot.aux.load(Ordering::Relaxed) + u32::from(m == root);
        let outside = slot.local_refs().saturating_sub(inside);
        (outside > 0).then_some((m, outside))
    })
}

fn checked_members(root: ObjIndex, me: u32) -> Result<Vec<ObjIndex>> {
    let mut collected = false;
    loop {
        let members = walk(root, me)?;
        let outside = first_outside_reference(root, &members);
        clear_marks(&members);
        let Some((object, count)) = outside else {
            return Ok(members);
        };
        // Cyclic garbage may hold the reference: collect once, then look again.
        if !collected && cycles::collect() > 0 {
            collected = true;
            continue;
        }
        let at = if object == root {
            "the root".to_string()
        } else {
            path_within(root, object, |o| HEAP.slot(o).owner() == me).unwrap_or_else(|| "?".into())
        };
        let (refs, them) = if count == 1 { ("reference", "it") } else { ("references", "them") };
        return Err(Error::new(
            Status::ErrNotTransferable,
            format!(
                "cannot transfer {}: {} at {at} has {count} {refs} from outside the graph (another object, or a handle \
                 other than the root's); nothing moved — release {them}, or freeze what must be shared",
                name(root),
                name(object),
            ),
        ));
    }
}

impl Transit {
    /// Gives the graph to the calling thread and returns a handle to its root, which the caller
    /// owns.
    pub(crate) fn attach(mut self) -> Result<u64> {
        let root = self.adopt();
        handle::issue(root).inspect_err(|_| HEAP.release(root))
    }

    /// Makes the calling thread the owner of every member; returns the root, whose counted
    /// reference passes to the caller.
    fn adopt(&mut self) -> ObjIndex {
        let me = thread::current();
        for &member in &self.members {
            HEAP.slot(member).owner.store(me, Ordering::Release);
        }
        STATS.transit.add(-1);
        self.root.take().expect("a transit is adopted once")
    }
}

impl Drop for Transit {
    fn drop(&mut self) {
        if self.root.is_some() {
            let root = self.adopt();
            HEAP.release(root);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::object;

    #[test]
    fn a_graph_detached_here_is_attached_and_freed_elsewhere() {
        let list = object::new_list().unwrap();
        let child = object::new_list().unwrap();
        object::push(child, Value::Str("payload".into())).unwrap();
        object::push_ref(list, Some(child)).unwrap();
        assert_eq!(detach(list, TransferMode::Safe).unwrap_err().status(), Status::ErrNotTransferable);
        object::release(child).unwrap();
        let transit = detach(list, TransferMode::Safe).unwrap();
        let length = std::thread::spawn(move || {
            let root = transit.attach().unwrap();
            let child = object::get_ref(root, 0).unwrap().unwrap();
            let length = object::len(child).unwrap();
            object::release(child).unwrap();
            object::release(root).unwrap();
            length
        })
        .join()
        .unwrap();
        assert_eq!(length, 1);
    }
}
