//! Cycle collector for mutable garbage: synchronous trial deletion (Bacon & Rajan, 2001), per thread.
//!
//! A mutable object whose count drops to a non-zero value may be the last handle into a cycle; it
//! is buffered (flag `BUFFERED`) in its owner's candidate list. A collection, run when the list
//! reaches its threshold or on demand, does on the owner's objects only:
//! 1. mark gray: from each candidate, copy each object's count into a trial count (`aux`) and
//!    subtract every internal reference (edge from a gray object) from it;
//! 2. scan: a gray object whose trial count stays above zero is referenced from outside (a handle or
//!    a live object): it and everything it reaches turn black again; the rest turn white;
//! 3. collect white: white objects are garbage; their references to survivors (black or frozen
//!    objects) are released.
//!
//! Real counts are never changed by a collection, so a reference dropped meanwhile by another thread
//! (one left behind by an UNSAFE transfer) cannot see a count lowered by trial deletion.
//!
//! Only mutable objects owned by the calling thread are visited: by the heap invariant they refer
//! only to each other and to frozen objects, and frozen cycles are freed by SCC counting instead.
//! Every walk uses an explicit stack.

use super::foreign;
use super::heap::{Slot, BUFFERED, GRAY, HEAP, VISITED, WHITE};
use super::stats::snapshot;
use super::thread;
use super::value::{ObjIndex, Value};
use std::cell::RefCell;
use std::sync::atomic::Ordering;

/// Candidates that trigger a collection by themselves: at least this many, and at least a quarter of
/// the live objects — so that releasing handles into a large live graph, which the collection must
/// walk, costs amortised O(1) per release rather than a walk every few thousand releases.
const MIN_THRESHOLD: usize = 10_000;
const BLACK: u32 = 0;

thread_local! {
    static CANDIDATES: RefCell<Candidates> = const { RefCell::new(Candidates(Vec::new())) };
}

/// Remembers a mutable object whose count dropped to a non-zero value.
pub(crate) fn buffer_candidate(index: ObjIndex, slot: &Slot) {
    if slot.flags() & BUFFERED == 0 {
        slot.set_flags(BUFFERED, 0);
        // A thread being torn down has no candidate list left; its objects are unreachable anyway.
        let _ = CANDIDATES.try_with(|c| c.borrow_mut().0.push(index));
    }
}

pub(crate) fn collect_if_due() {
    let candidates = CANDIDATES.try_with(|c| c.borrow().0.len()).unwrap_or(0);
    if candidates >= MIN_THRESHOLD && candidates >= snapshot().live_objects as usize / 4 {
        collect();
    }
}

/// Children of `index` that belong to this collection: mutable and owned by `me`.
fn local_children(index: ObjIndex, me: u32) -> impl Iterator<Item = ObjIndex> {
    let heap = &HEAP;
    // SAFETY: `index` is a mutable object owned by the calling thread (checked by every caller).
    let values = unsafe { heap.slot(index).values() };
    values.iter().filter_map(Value::as_ref_target).filter(move |&c| heap.slot(c).owner() == me)
}

/// Collects the calling thread's unreachable mutable cycles; returns how many objects were freed.
pub fn collect() -> usize {
    collect_from(CANDIDATES.with(|c| std::mem::take(&mut c.borrow_mut().0)))
}

/// A thread's candidates; when the thread exits, its garbage cycles are collected one last time
/// (nobody else may touch its objects, so nobody else could).
struct Candidates(Vec<ObjIndex>);

impl Drop for Candidates {
    fn drop(&mut self) {
        collect_from(std::mem::take(&mut self.0));
    }
}

fn collect_from(roots: Vec<ObjIndex>) -> usize {
    // References other threads parked for this one may be what keeps a cycle alive.
    foreign::drain();
    let heap = &HEAP;
    let me = thread::current();
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
    let heap = &HEAP;
    let gray = |slot: &Slot| {
        slot.set_color(GRAY);
        slot.aux.store(slot.local_refs(), Ordering::Relaxed);
    };
    if heap.slot(root).color() == GRAY {
        return;
    }
    gray(heap.slot(root));
    stack.push(root);
    while let Some(node) = stack.pop() {
        for child in local_children(node, me) {
            let slot = heap.slot(child);
            if slot.color() != GRAY {
                gray(slot);
                stack.push(child);
            }
            slot.aux.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn scan(root: ObjIndex, me: u32, stack: &mut Vec<ObjIndex>) {
    let heap = &HEAP;
    stack.push(root);
    while let Some(node) = stack.pop() {
        let slot = heap.slot(node);
        if slot.color() != GRAY {
            continue;
        }
        if slot.aux.load(Ordering::Relaxed) > 0 {
            scan_black(node, me);
        } else {
            slot.set_color(WHITE);
            stack.extend(local_children(node, me));
        }
    }
}

fn scan_black(root: ObjIndex, me: u32) {
    let heap = &HEAP;
    heap.slot(root).set_color(BLACK);
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        for child in local_children(node, me) {
            let slot = heap.slot(child);
            if slot.color() != BLACK {
                slot.set_color(BLACK);
                stack.push(child);
            }
        }
    }
}

/// Gathers the white objects reachable from `root`, marking them `VISITED` (garbage) and black.
fn collect_white(root: ObjIndex, me: u32, stack: &mut Vec<ObjIndex>, garbage: &mut Vec<ObjIndex>) {
    let heap = &HEAP;
    stack.push(root);
    while let Some(node) = stack.pop() {
        let slot = heap.slot(node);
        if slot.color() != WHITE {
            continue;
        }
        slot.set_color(BLACK);
        slot.set_flags(VISITED, 0);
        garbage.push(node);
        stack.extend(local_children(node, me));
    }
}

/// Frees white objects and releases their references to survivors; references between garbage
/// objects (marked `VISITED`) die with them.
fn free_garbage(garbage: &[ObjIndex], me: u32) {
    let heap = &HEAP;
    let mut survivors = Vec::new();
    for &node in garbage {
        // SAFETY: white objects are unreachable from any handle or live object, and owned by `me`.
        let values = std::mem::take(unsafe { heap.slot(node).values_mut() });
        survivors.extend(values.iter().filter_map(Value::as_ref_target).filter(|&t| {
            let slot = heap.slot(t);
            !(slot.owner() == me && slot.flags() & VISITED != 0)
        }));
    }
    heap.free_slots(garbage);
    let mut work = Vec::new();
    for target in survivors {
        heap.release_into(target, me, &mut work);
        while let Some(next) = work.pop() {
            heap.release_into(next, me, &mut work);
        }
    }
}
