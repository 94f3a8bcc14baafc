//! The object heap: slots with a 16-byte header, reference counting, and freeing without recursion.
//!
//! The header's words and their states are described in `heap::header`.
//!
//! Invariants:
//! - Values of a mutable object are read and written only by its owner thread; values of a frozen
//!   object are never written again, so any thread may read them. The owner word is published with
//!   `Release` after the last write, and checked with `Acquire` before any read.
//! - Counts change by atomic read-modify-write: a frozen SCC's count (on its leader) because any
//!   thread may hold a reference. A mutable object's count changes only on its owner thread — other
//!   threads park their drops for it (`foreign`) — or, once its owner has exited, on any thread
//!   (an orphan). Whoever drops the last reference frees: nothing can reach the object any more. The cycle collector never changes counts (its trial counts live in
//!   `aux`), so a concurrent drop never sees a count lowered by a collection in progress.
//! - An object refers only to objects with the same owner, or to frozen objects; a frozen object only
//!   to frozen objects. Frees, freeze and the cycle collector rely on it to stay thread-local.
//! - Freeing walks an explicit worklist: a 10-million-node list is freed without recursion.

use crate::core::base::slab::{LocalFree, Slab};
use crate::core::base::stats::STATS;
use crate::core::heap::cycles;
use crate::core::heap::foreign;
use crate::core::heap::header::*;
use crate::core::heap::provenance;
use crate::core::heap::thread;
use crate::core::heap::value::{ObjIndex, Value};
use parking_lot::{Mutex, RwLock};
use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU32, Ordering};

/// Held for reading while frozen objects are freed, and for writing while a message walks frozen
/// objects that no handle of the caller keeps alive (`graph::ownership`).
pub(crate) static FROZEN_FREES: RwLock<()> = RwLock::new(());

#[derive(Default)]
pub(crate) struct Slot {
    pub(crate) owner: AtomicU32,
    refs: AtomicU32,
    meta: AtomicU32,
    pub(crate) aux: AtomicU32,
    values: UnsafeCell<Vec<Value>>,
}

// SAFETY: `values` is accessed only under the ownership rule in the module invariants: by the owner
// thread while mutable, read-only once frozen (published with Release/Acquire on `owner`), and by the
// single thread that dropped the last reference when freed.
unsafe impl Sync for Slot {}

impl Slot {
    #[inline]
    pub(crate) fn owner(&self) -> u32 {
        self.owner.load(Ordering::Acquire)
    }

    #[inline]
    pub(crate) fn is_frozen(&self) -> bool {
        self.owner() & FROZEN != 0
    }

    #[inline]
    pub(crate) fn flags(&self) -> u32 {
        self.meta.load(Ordering::Relaxed) & ((1 << TYPE_SHIFT) - 1)
    }

    /// The object's type as the header numbers it (`types::of_stored`; the list is `LIST_TYPE`).
    #[inline]
    pub(crate) fn stored_type(&self) -> u32 {
        self.meta.load(Ordering::Relaxed) >> TYPE_SHIFT
    }

    /// Sets or clears flag bits. Only the owner (or the freezing thread) changes flags.
    #[inline]
    pub(crate) fn set_flags(&self, set: u32, clear: u32) {
        let meta = self.meta.load(Ordering::Relaxed);
        self.meta.store((meta & !clear) | set, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn color(&self) -> u32 {
        self.flags() & COLOR_MASK
    }

    #[inline]
    pub(crate) fn set_color(&self, color: u32) {
        self.set_flags(color, COLOR_MASK);
    }

    /// Count of a mutable object (a frozen one's lives on its leader).
    #[inline]
    pub(crate) fn local_refs(&self) -> u32 {
        self.refs.load(Ordering::Acquire)
    }

    /// Publishes the object as frozen. Counts and `aux` must be final before this store.
    #[inline]
    pub(crate) fn publish_frozen(&self, provenance: u32) {
        self.owner.store(FROZEN | provenance, Ordering::Release);
    }

    /// The values, for reading.
    ///
    /// # Safety
    /// The caller is the owner of this mutable object, or the object is frozen (owner checked with
    /// Acquire), or the caller is freeing it; and no `values_mut` borrow of this slot is live.
    #[inline]
    pub(crate) unsafe fn values(&self) -> &Vec<Value> {
        // SAFETY: guaranteed by the caller, per the function contract.
        unsafe { &*self.values.get() }
    }

    /// The values, for writing.
    ///
    /// # Safety
    /// The caller is the owner of this mutable object (or is freeing or initialising it) and holds
    /// no other borrow of this slot's values.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn values_mut(&self) -> &mut Vec<Value> {
        // SAFETY: guaranteed by the caller, per the function contract.
        unsafe { &mut *self.values.get() }
    }
}

pub(crate) struct Heap {
    slots: Slab<Slot>,
    /// Members of frozen SCCs with more than one object, keyed by leader.
    scc_members: Mutex<HashMap<ObjIndex, Vec<ObjIndex>, BuildHasherDefault<DefaultHasher>>>,
}

// Each thread keeps a few free object slots: objects come and go by the job on a worker.
pub(crate) static HEAP: Heap =
    Heap { slots: Slab::new(), scc_members: Mutex::new(HashMap::with_hasher(BuildHasherDefault::new())) };
thread_local! {
    static FREE_SLOTS: LocalFree = const { LocalFree::new(HEAP.slots.shared_free()) };
}

impl Heap {
    #[inline]
    pub(crate) fn slot(&self, index: ObjIndex) -> &Slot {
        self.slots.at(index)
    }

    /// `slot`, without a panic for an index never allocated (a path with no unwinding to guard).
    #[inline]
    pub(crate) fn try_slot(&self, index: ObjIndex) -> Option<&Slot> {
        self.slots.get(index)
    }

    /// One past the highest slot index in use so far.
    pub(crate) fn capacity(&self) -> u32 {
        self.slots.len()
    }

    /// Allocates an object owned by the calling thread with a count of zero.
    /// `has_atomic_ref`: its type has an atomic reference field.
    pub(crate) fn alloc(&self, stored_type: u32, values: Vec<Value>, has_atomic_ref: bool) -> Option<ObjIndex> {
        let index = self.slots.alloc_local(&FREE_SLOTS)?;
        let slot = self.slot(index);
        // SAFETY: the slot is free (owner 0), so no other thread reads it; we initialise it before
        // publishing the owner.
        unsafe { *slot.values_mut() = values };
        slot.refs.store(0, Ordering::Relaxed);
        let flags = if has_atomic_ref { MAY_REACH_ATOMIC_REF } else { 0 };
        slot.meta.store(stored_type << TYPE_SHIFT | flags, Ordering::Relaxed);
        slot.aux.store(0, Ordering::Relaxed);
        slot.owner.store(thread::current(), Ordering::Release);
        STATS.objects.add(1);
        Some(index)
    }

    /// The object whose header holds the count for `index`: its SCC leader when frozen.
    #[inline]
    pub(crate) fn leader(&self, index: ObjIndex) -> ObjIndex {
        let slot = self.slot(index);
        if slot.is_frozen() {
            slot.aux.load(Ordering::Acquire)
        } else {
            index
        }
    }

    /// Adds a reference. The caller holds a reference already, or is the owner storing a new one.
    #[inline]
    pub(crate) fn retain(&self, index: ObjIndex) {
        self.count(index, 1);
    }

    /// Adds `delta` (1 or -1) to the count of `index` — on its SCC's leader when frozen — retrying
    /// on the new leader when a merge moved it; returns that leader and the count before.
    #[inline]
    fn count(&self, index: ObjIndex, delta: i32) -> (ObjIndex, u32) {
        loop {
            let leader = self.leader(index);
            let refs = &self.slot(leader).refs;
            let before =
                if delta > 0 { refs.fetch_add(1, Ordering::Relaxed) } else { refs.fetch_sub(1, Ordering::Release) };
            if before & FORWARDED == 0 {
                return (leader, before);
            }
            self.unforward(leader, delta);
        }
    }

    /// Undoes a count change of `added` that landed on `stale`, a leader merged away; the caller
    /// then retries on the new leader.
    #[cold]
    fn unforward(&self, stale: ObjIndex, added: i32) {
        // Acquire pairs with the merge's SeqCst mark, written after every member's new `aux`, so
        // the caller's next read of the leader gives the new one.
        let undo = |c: u32| Some(c.wrapping_sub(added as u32));
        let _ = self.slot(stale).refs.fetch_update(Ordering::Acquire, Ordering::Acquire, undo);
    }

    /// Drops a reference; frees whatever becomes unreachable, and may run the cycle collector.
    pub(crate) fn release(&self, index: ObjIndex) {
        let me = thread::current();
        let mut work = Vec::new();
        self.release_into(index, me, &mut work);
        while let Some(next) = work.pop() {
            self.release_into(next, me, &mut work);
        }
        cycles::collect_if_due();
    }

    /// Drops one reference held by thread `me` (the calling thread); an object that dies pushes its
    /// outgoing references onto `work`. Another thread's mutable object is parked for its owner.
    pub(crate) fn release_into(&self, index: ObjIndex, me: u32, work: &mut Vec<ObjIndex>) {
        let slot = self.slot(index);
        let owner = slot.owner();
        // Another live thread's object waits for its owner. An orphan (its owner exited) is
        // dropped here, as its owner would, with the orphan collector kept out meanwhile.
        let orphan = owner & FROZEN == 0 && owner != me;
        if orphan && foreign::park(index, owner) {
            return;
        }
        let _collector_out = orphan.then(cycles::orphan_release_guard).flatten();
        let (leader, before) = self.count(index, -1);
        if before != 1 {
            if owner == me {
                cycles::buffer_candidate(index, slot);
            } else if orphan {
                cycles::buffer_orphan(index);
            }
            return;
        }
        // Acquire the releases of every earlier drop before freeing: a load of the count rather
        // than a fence, which ThreadSanitizer cannot see (as std's Arc does under it).
        self.slot(leader).refs.load(Ordering::Acquire);
        if owner & FROZEN != 0 {
            self.free_frozen_scc(leader, work);
        } else {
            // SAFETY: the count reached zero: nothing refers to the object any more, so no other
            // thread can reach it, its owner included.
            let values = std::mem::take(unsafe { slot.values_mut() });
            work.extend(values.iter().filter_map(Value::as_ref_target));
            self.free_slots(&[index]);
        }
    }

    fn free_frozen_scc(&self, leader: ObjIndex, work: &mut Vec<ObjIndex>) {
        let _frees = FROZEN_FREES.read();
        let members = if self.slot(leader).flags() & SCC_MULTI != 0 {
            self.scc_members.lock().remove(&leader).expect("floe: multi-member SCC without a member list")
        } else {
            vec![leader]
        };
        for &member in &members {
            // SAFETY: the SCC's count reached zero: no handle or object outside it refers to it, so
            // this thread is the only one that can reach these frozen slots.
            let values = std::mem::take(unsafe { self.slot(member).values_mut() });
            work.extend(values.iter().filter_map(Value::as_ref_target).filter(|&t| self.leader(t) != leader));
        }
        let freeze_of = |m: ObjIndex| self.slot(m).owner() & !FROZEN;
        let first = freeze_of(members[0]);
        if members.iter().all(|&m| freeze_of(m) == first) {
            provenance::release_objects(first, members.len() as u32);
        } else {
            // A merged SCC (see `scc_merge`): its members come from several freezes.
            let mut freezes: Vec<u32> = members.iter().map(|&m| freeze_of(m)).collect();
            freezes.sort_unstable();
            for run in freezes.chunk_by(|a, b| a == b) {
                provenance::release_objects(run[0], run.len() as u32);
            }
        }
        STATS.frozen.add(-(members.len() as i64));
        self.free_slots(&members);
    }

    /// One line per live object (at most `limit`), from its header words only: index, owner or
    /// freeze, count, type. For leak hunts (`FLOE_DEBUG_LEAKS`); the values are not read, since
    /// another thread may own them.
    pub(crate) fn describe_live(&self, limit: usize) -> Vec<String> {
        let mut lines = Vec::new();
        for index in 0..self.capacity() {
            let Some(slot) = self.try_slot(index) else { continue };
            let owner = slot.owner();
            if owner == 0 {
                continue;
            }
            if lines.len() == limit {
                lines.push("…".into());
                break;
            }
            let ty = crate::core::heap::types::of_stored(slot.stored_type()).map_or("?".into(), |t| t.name.clone());
            let who = if owner & FROZEN != 0 {
                let freeze = provenance::lookup(owner & !FROZEN);
                let label = freeze.as_ref().and_then(|p| p.label.clone()).unwrap_or_default();
                let by = freeze.map_or("?".into(), |p| p.thread_name());
                format!("frozen by {by} {label:?}, leader {}", slot.aux.load(Ordering::Relaxed))
            } else {
                format!("owned by {}", thread::name_of(owner))
            };
            let refs = self.slot(self.leader(index)).refs.load(Ordering::Relaxed);
            lines.push(format!("object {index}: {ty}, {who}, count {refs}, flags {:#x}", slot.flags()));
        }
        lines
    }

    /// Returns dead objects' slots (values already taken) to the slab.
    pub(crate) fn free_slots(&self, indices: &[ObjIndex]) {
        for &index in indices {
            let slot = self.slot(index);
            slot.meta.store(0, Ordering::Relaxed);
            slot.owner.store(0, Ordering::Release);
        }
        STATS.objects.add(-(indices.len() as i64));
        self.slots.free_local(indices, &FREE_SLOTS);
    }

    /// Records the members of a frozen multi-member SCC so that the last release frees them all.
    pub(crate) fn set_scc_members(&self, leader: ObjIndex, members: Vec<ObjIndex>, refs: u32) {
        self.set_refs(leader, refs);
        self.record_members(leader, members);
    }

    /// Makes `members` the member list of the multi-member SCC led by `leader`.
    fn record_members(&self, leader: ObjIndex, members: Vec<ObjIndex>) {
        self.slot(leader).set_flags(SCC_MULTI, 0);
        self.scc_members.lock().insert(leader, members);
    }

    /// The members of the frozen SCC led by `leader`.
    pub(crate) fn scc_members_of(&self, leader: ObjIndex) -> Vec<ObjIndex> {
        if self.slot(leader).flags() & SCC_MULTI == 0 {
            return vec![leader];
        }
        self.scc_members.lock().get(&leader).cloned().expect("floe: multi-member SCC without a member list")
    }

    /// Merges the frozen SCCs led by `others` into the one led by `leader`, whose members then are
    /// `members` (all of them), with `internal` references among them no longer counted. The caller
    /// holds a reference into `leader`'s SCC and keeps every SCC involved reachable and its edges
    /// fixed (see `scc_merge`).
    pub(crate) fn merge_sccs(&self, leader: ObjIndex, others: &[ObjIndex], members: Vec<ObjIndex>, internal: u32) {
        // Drops that follow the new `aux` reach `leader` before the counts they drop are moved
        // there; the hold keeps its count from touching zero meanwhile.
        const HOLD: u32 = 1 << 24;
        let refs = &self.slot(leader).refs;
        refs.fetch_add(HOLD, Ordering::SeqCst);
        for &member in &members {
            self.slot(member).aux.store(leader, Ordering::Release);
        }
        let mut moved: u32 = 0;
        for &other in others {
            // SeqCst after the `aux` stores: whoever reads the mark then reads the new leader.
            moved = moved.wrapping_add(self.slot(other).refs.swap(FORWARDED, Ordering::SeqCst));
        }
        refs.fetch_add(moved, Ordering::SeqCst);
        refs.fetch_sub(internal + HOLD, Ordering::SeqCst);
        let mut lists = self.scc_members.lock();
        for scc in others {
            lists.remove(scc);
        }
        drop(lists);
        self.record_members(leader, members);
    }

    /// Sets the count of an object being frozen (its SCC's merged count).
    pub(crate) fn set_refs(&self, index: ObjIndex, refs: u32) {
        self.slot(index).refs.store(refs, Ordering::Release);
    }
}
