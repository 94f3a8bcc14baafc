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
//!
//! Orphans — mutable objects of threads that have exited — have no owner to collect them. Whoever
//! drops an orphan's reference to a non-zero count buffers it in one global list; a collection
//! (on demand, or when due) runs the same three phases over them, per dead owner, holding `ORPHANS`
//! for writing. Every orphan release holds it for reading, so nothing else touches an orphan while
//! its counts and colours are in use: nobody else may read or write an orphan at all.
//!
//! A thread's exit collects its garbage cycles one last time, while they are still its own. The
//! candidate list is a thread-local torn down with the others, in an order set by which the thread
//! touched first; releases that come after it (another thread-local value's, a host destructor's,
//! references parked for the thread) buffer their candidates in `LEFT_BEHIND`, which the exit mark
//! (`heap::thread`, torn down last) collects before the objects become orphans. A list torn down
//! after the exit mark hands its candidates, orphans by then, to the orphan collector.

use crate::core::base::stats::STATS;
use crate::core::heap::foreign;
use crate::core::heap::header::{BUFFERED, FREE, FROZEN, GRAY, TRANSIT, VISITED, WHITE};
use crate::core::heap::slots::{Slot, HEAP};
use crate::core::heap::thread;
use crate::core::heap::value::{ObjIndex, Value};
use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Candidates that trigger a collection by themselves: at least this many, and at least a quarter of
/// the live objects — so that releasing handles into a large live graph, which the collection must
/// walk, costs amortised O(1) per release rather than a walk every few thousand releases.
const MIN_THRESHOLD: usize = 10_000;
const BLACK: u32 = 0;

thread_local! {
    static CANDIDATES: RefCell<Candidates> = const { RefCell::new(Candidates(Vec::new())) };
    /// Set while this thread collects orphans, holding `ORPHANS` for writing.
    static COLLECTING_ORPHANS: Cell<bool> = const { Cell::new(false) };
}

/// Held for reading by every orphan release, for writing by the orphan collector.
static ORPHANS: RwLock<()> = RwLock::new(());
/// Orphans whose count dropped to a non-zero value, and how many (read without the lock).
static ORPHAN_CANDIDATES: Mutex<Vec<ObjIndex>> = Mutex::new(Vec::new());
static ORPHAN_COUNT: AtomicUsize = AtomicUsize::new(0);
/// Candidates of threads being torn down whose candidate list is gone already: buffered by a
/// release that came later (a thread-local value's, a host destructor's, a reference parked for
/// the thread), collected by the thread's exit (`collect_left_behind`).
static LEFT_BEHIND: Mutex<Vec<ObjIndex>> = Mutex::new(Vec::new());

/// Keeps the orphan collector out while an orphan's reference is dropped (the collector's own
/// releases need no guard: it holds the lock for writing).
pub(crate) fn orphan_release_guard() -> Option<RwLockReadGuard<'static, ()>> {
    let collecting = COLLECTING_ORPHANS.try_with(Cell::get).unwrap_or(false);
    (!collecting).then(|| ORPHANS.read_recursive())
}

/// Remembers an orphan whose count dropped to a non-zero value.
pub(crate) fn buffer_orphan(index: ObjIndex) {
    let mut candidates = ORPHAN_CANDIDATES.lock();
    candidates.push(index);
    ORPHAN_COUNT.store(candidates.len(), Ordering::Relaxed);
}

/// Remembers a mutable object whose count dropped to a non-zero value.
pub(crate) fn buffer_candidate(index: ObjIndex, slot: &Slot) {
    if slot.flags() & BUFFERED == 0 {
        slot.set_flags(BUFFERED, 0);
        if CANDIDATES.try_with(|c| c.borrow_mut().0.push(index)).is_err() {
            LEFT_BEHIND.lock().push(index);
        }
    }
}

/// Collects the calling thread's candidates that its releases buffered after its candidate list
/// was torn down; its exit calls this last, while its objects are still its own. Another thread's
/// entries stay for that thread's exit; entries of objects no thread owns any more go.
pub(crate) fn collect_left_behind() {
    let me = thread::current();
    loop {
        let mut mine = Vec::new();
        LEFT_BEHIND.lock().retain(|&index| {
            let owner = HEAP.slot(index).owner();
            if owner == me {
                mine.push(index);
            }
            owner != me && owner != FREE && owner & FROZEN == 0 && owner != TRANSIT
        });
        if mine.is_empty() {
            return;
        }
        collect_from(mine);
    }
}

/// Whether the calling thread has candidates buffered: a worker about to go idle collects only then.
pub(crate) fn has_candidates() -> bool {
    CANDIDATES.try_with(|c| !c.borrow().0.is_empty()).unwrap_or(false)
}

pub(crate) fn collect_if_due() {
    let candidates = CANDIDATES.try_with(|c| c.borrow().0.len()).unwrap_or(0);
    if candidates >= MIN_THRESHOLD && candidates as u64 >= STATS.objects.get() / 4 {
        collect();
    } else if ORPHAN_COUNT.load(Ordering::Relaxed) >= MIN_THRESHOLD {
        collect_orphans();
    }
}

/// Children of `index` that belong to this collection: mutable and owned by `me`.
fn local_children(index: ObjIndex, me: u32) -> impl Iterator<Item = ObjIndex> {
    let heap = &HEAP;
    // SAFETY: `index` is a mutable object owned by the calling thread, or an orphan while the
    // calling thread holds `ORPHANS` for writing (checked by every caller).
    let values = unsafe { heap.slot(index).values() };
    values.iter().filter_map(Value::as_ref_target).filter(move |&c| heap.slot(c).owner() == me)
}

/// Collects the calling thread's unreachable mutable cycles, and those among orphans; returns how
/// many objects were freed.
pub fn collect() -> usize {
    collect_local() + collect_orphans()
}

/// Collects the calling thread's unreachable mutable cycles only (orphans never refer to them).
pub(crate) fn collect_local() -> usize {
    collect_from(CANDIDATES.with(|c| std::mem::take(&mut c.borrow_mut().0)))
}

/// Collects garbage cycles among orphans, per dead owner; returns how many objects were freed.
fn collect_orphans() -> usize {
    let candidates = {
        let mut buffered = ORPHAN_CANDIDATES.lock();
        ORPHAN_COUNT.store(0, Ordering::Relaxed);
        std::mem::take(&mut *buffered)
    };
    if candidates.is_empty() {
        return 0;
    }
    let _exclusive = ORPHANS.write();
    // A candidate freed since it was buffered may hold another object now; tokens are never
    // reused, so one still owned by an exited thread is an orphan of that thread.
    let mut by_owner: BTreeMap<u32, Vec<ObjIndex>> = BTreeMap::new();
    for index in candidates {
        let owner = HEAP.slot(index).owner();
        if is_orphan(owner) {
            by_owner.entry(owner).or_default().push(index);
        }
    }
    /// Clears the flag however the collection ends.
    struct Collecting;
    impl Drop for Collecting {
        fn drop(&mut self) {
            COLLECTING_ORPHANS.with(|c| c.set(false));
        }
    }
    COLLECTING_ORPHANS.with(|c| c.set(true));
    let _collecting = Collecting;
    let mut freed = 0;
    for (owner, mut roots) in by_owner {
        roots.sort_unstable();
        roots.dedup();
        freed += collect_among(&roots, owner);
    }
    freed
}

/// A thread's candidates; when the thread exits, its garbage cycles are collected one last time
/// (nobody else may touch its objects, so nobody else could).
struct Candidates(Vec<ObjIndex>);

impl Drop for Candidates {
    fn drop(&mut self) {
        let roots = std::mem::take(&mut self.0);
        // Normally torn down before the thread's exit mark (`heap::thread`), while the objects are
        // still the thread's own. A list set up before the thread's token (its first floe call
        // collected cycles) is torn down after the mark instead: its objects are orphans by then,
        // and the thread may even have a fresh token (a floe call during teardown), which owns
        // none of them. Whatever this thread no longer owns goes to the orphan collector, which
        // takes only the objects of exited threads.
        let me = thread::known();
        let (mine, others): (Vec<ObjIndex>, Vec<ObjIndex>) =
            roots.into_iter().partition(|&r| me.is_some_and(|me| HEAP.slot(r).owner() == me));
        if !mine.is_empty() {
            collect_from(mine);
        }
        others.into_iter().filter(|&r| is_orphan(HEAP.slot(r).owner())).for_each(buffer_orphan);
    }
}

/// Whether `owner` is an exited thread's token: the object is an orphan.
fn is_orphan(owner: u32) -> bool {
    owner != FREE && owner & FROZEN == 0 && owner != TRANSIT && thread::has_exited(owner)
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
    collect_among(&roots, me)
}

/// The three phases over `roots`, objects of owner `me`: the calling thread, or an exited thread
/// whose orphans the caller holds `ORPHANS` for.
fn collect_among(roots: &[ObjIndex], me: u32) -> usize {
    let mut stack = Vec::new();
    for &root in roots {
        mark_gray(root, me, &mut stack);
    }
    for &root in roots {
        scan(root, me, &mut stack);
    }
    let mut garbage = Vec::new();
    for &root in roots {
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
