//! Cycle collector for mutable garbage: synchronous trial deletion (Bacon & Rajan, 2001), per thread.
//!
//! A mutable object whose count drops to a non-zero value may be the last handle into a cycle; it
//! is buffered (flag `BUFFERED`) in its owner's candidate list. A collection, run when the list
//! reaches `THRESHOLD` or on demand, does on the owner's objects only:
//! 1. mark gray: from each candidate, subtract every internal reference (edge from a gray object);
//! 2. scan: a gray object whose count stays above zero is referenced from outside (a handle or a
//!    live object): it and everything it reaches turn black again, counts restored; the rest turn white;
//! 3. collect white: white objects are garbage; their references to frozen objects are released.
//!
//! Only mutable objects owned by the calling thread are visited: by the heap invariant they refer
//! only to each other and to frozen objects, and frozen cycles are freed by SCC counting instead.
//! Every walk uses an explicit stack.

use super::heap::{Slot, BUFFERED, GRAY, HEAP, WHITE};
use super::thread;
use super::value::{ObjIndex, Value};
use std::cell::RefCell;

const THRESHOLD: usize = 10_000;
const BLACK: u32 = 0;

thread_local! {
    static CANDIDATES: RefCell<Vec<ObjIndex>> = const { RefCell::new(Vec::new()) };
}

/// Remembers a mutable object whose count dropped to a non-zero value.
pub(crate) fn buffer_candidate(index: ObjIndex, slot: &Slot) {
    if slot.flags() & BUFFERED == 0 {
        slot.set_flags(BUFFERED, 0);
        CANDIDATES.with(|c| c.borrow_mut().push(index));
    }
}

pub(crate) fn collect_if_due() {
    if CANDIDATES.with(|c| c.borrow().len() >= THRESHOLD) {
        collect();
    }
}

/// Children of `index` that belong to this collection: mutable and owned by `me`.
fn local_children(index: ObjIndex, me: u32) -> impl Iterator<Item = ObjIndex> {
    let heap = &*HEAP;
    // SAFETY: `index` is a mutable object owned by the calling thread (checked by every caller).
    let values = unsafe { heap.slot(index).values() };
    values
        .iter()
        .filter_map(Value::as_ref_target)
        .filter(move |&c| heap.slot(c).owner() == me)
}

/// Collects the calling thread's unreachable mutable cycles; returns how many objects were freed.
pub fn collect() -> usize {
    let heap = &*HEAP;
    let me = thread::current();
    let roots: Vec<ObjIndex> = CANDIDATES.with(|c| std::mem::take(&mut *c.borrow_mut()));
    let roots: Vec<ObjIndex> = roots
        .into_iter()
        .filter(|&r| {
            let slot = heap.slot(r);
            let live = slot.owner() == me && slot.flags() & BUFFERED != 0;
            if live {
                slot.set_flags(0, BUFFERED);
            }
            live
        })
        .collect();
    let mut stack = Vec::new();
    for &root in &roots {
        mark_gray(root, me, &mut stack);
    }
    for &root in &roots {
        scan(root, me, &mut stack);
    }
    let mut garbage = Vec::new();
    for &root in &roots {
        collect_white(root, me, &mut stack, &mut garbage);
    }
    free_garbage(&garbage, me);
    garbage.len()
}

fn mark_gray(root: ObjIndex, me: u32, stack: &mut Vec<ObjIndex>) {
    let heap = &*HEAP;
    if heap.slot(root).color() == GRAY {
        return;
    }
    heap.slot(root).set_color(GRAY);
    stack.push(root);
    while let Some(node) = stack.pop() {
        for child in local_children(node, me) {
            let slot = heap.slot(child);
            slot.set_local_refs(slot.local_refs() - 1);
            if slot.color() != GRAY {
                slot.set_color(GRAY);
                stack.push(child);
            }
        }
    }
}

fn scan(root: ObjIndex, me: u32, stack: &mut Vec<ObjIndex>) {
    let heap = &*HEAP;
    stack.push(root);
    while let Some(node) = stack.pop() {
        let slot = heap.slot(node);
        if slot.color() != GRAY {
            continue;
        }
        if slot.local_refs() > 0 {
            scan_black(node, me);
        } else {
            slot.set_color(WHITE);
            stack.extend(local_children(node, me));
        }
    }
}

fn scan_black(root: ObjIndex, me: u32) {
    let heap = &*HEAP;
    heap.slot(root).set_color(BLACK);
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        for child in local_children(node, me) {
            let slot = heap.slot(child);
            slot.set_local_refs(slot.local_refs() + 1);
            if slot.color() != BLACK {
                slot.set_color(BLACK);
                stack.push(child);
            }
        }
    }
}

fn collect_white(root: ObjIndex, me: u32, stack: &mut Vec<ObjIndex>, garbage: &mut Vec<ObjIndex>) {
    let heap = &*HEAP;
    stack.push(root);
    while let Some(node) = stack.pop() {
        let slot = heap.slot(node);
        if slot.color() != WHITE {
            continue;
        }
        slot.set_color(BLACK);
        garbage.push(node);
        stack.extend(local_children(node, me));
    }
}

/// Frees white objects. Their references to each other and to live black objects were already
/// subtracted by mark-gray; only references to frozen objects still need releasing.
fn free_garbage(garbage: &[ObjIndex], me: u32) {
    let heap = &*HEAP;
    let mut frozen_targets = Vec::new();
    for &node in garbage {
        // SAFETY: white objects are unreachable from any handle or live object, and owned by `me`.
        let values = std::mem::take(unsafe { heap.slot(node).values_mut() });
        frozen_targets.extend(
            values
                .iter()
                .filter_map(Value::as_ref_target)
                .filter(|&t| heap.slot(t).owner() != me),
        );
    }
    heap.free_slots(garbage);
    let mut work = Vec::new();
    for target in frozen_targets {
        heap.release_into(target, &mut work);
        while let Some(next) = work.pop() {
            heap.release_into(next, &mut work);
        }
    }
}
