//! Subgraph transfer: a mutable graph leaves its owner thread whole, travels owned by nobody, and is
//! attached by exactly one receiver. Used by workers, futures and detached graphs.
//!
//! SAFE mode checks in O(N) that nothing outside the graph refers into it: one walk over the
//! mutable objects reachable from the root sums their counts and counts the references between
//! them. Each count includes every internal reference to its object, so the two sums differ by
//! exactly the references from outside (other objects, host handles) — and the root's own handle,
//! which the transfer consumes, is the one allowed. Only when they differ does a slower pass find
//! which object is referenced from outside. A failure names the first such object and its path, and moves
//! nothing. Unreachable cyclic garbage, and references other threads parked for this one while
//! the check ran, can also hold references in: before refusing, the check drops the parked ones,
//! runs the cycle collector and tries again (Kotlin/Native needed a manual GC.collect()); a
//! failure is always an error, never a panic, whatever other threads do meanwhile.
//!
//! UNSAFE mode skips the comparison. Unlike Kotlin/Native, where it "will likely crash", floe stays
//! memory-safe: references left behind point at objects now owned by the receiver, so using them
//! fails with `FLOE_ERR_WRONG_THREAD`; counts are atomic, so dropping them is correct from any thread.
//!
//! In transit, the graph's mutable objects carry the owner word `TRANSIT`: no thread may touch them
//! until `attach` gives them to the calling thread. Frozen objects are shared, never moved.

use crate::core::base::error::{Error, Result, Status};
use crate::core::base::scratch;
use crate::core::base::stats::STATS;
use crate::core::graph::ownership::{self, name, path_within};
use crate::core::heap::cycles;
use crate::core::heap::foreign;
use crate::core::heap::handle;
use crate::core::heap::header::{BUFFERED, FROZEN, MAY_REACH_ATOMIC_REF, MAY_REFER, TRANSIT};
use crate::core::heap::slots::{Slot, HEAP};
use crate::core::heap::thread;
use crate::core::heap::value::{ObjIndex, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::mem::ManuallyDrop;
use std::sync::atomic::Ordering;

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

/// A graph owned by no thread: one counted reference to its root. Dropped without being attached,
/// it is attached to the dropping thread and released. Eight bytes (a job's input travels in its
/// future's half-line cell): the mutable members other than the root, when there are any, wait in
/// `OTHERS` under the root's index.
#[derive(Debug)]
pub(crate) struct Transit {
    root: ObjIndex,
    /// The root is mutable and moves with the graph (a frozen root is shared, not moved). Kept
    /// rather than read from the root's owner word when attaching: a read before the owner's store
    /// would fetch the line from the sender's CPU for reading, then again for writing.
    root_moves: bool,
    /// `OTHERS` holds members besides the root (none for the common one-object graph, so that
    /// carrying it allocates and locks nothing).
    has_others: bool,
}

/// Shards of the members other than the root of the graphs in transit that have some, keyed by
/// root. A root is in one transit at a time: a mutable object is owned by one thread or one
/// transit, and a frozen root moves no members.
static OTHERS: [Others; 16] = [const { parking_lot::Mutex::new(HashMap::with_hasher(BuildHasherDefault::new())) }; 16];

type Others = parking_lot::Mutex<HashMap<ObjIndex, Vec<ObjIndex>, BuildHasherDefault<IndexHasher>>>;

/// Hashes a slot index with one multiplication (Fibonacci hashing): the default hasher would cost
/// more than the rest of the lookup. (The shards were B-trees, whose insert and remove took a
/// third of a small graph's transfer.)
#[derive(Default)]
struct IndexHasher(u64);

impl Hasher for IndexHasher {
    fn write(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&byte| self.write_u32(u32::from(byte)));
    }

    fn write_u32(&mut self, index: u32) {
        self.0 = (self.0 ^ u64::from(index)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn others_of(root: ObjIndex) -> &'static Others {
    &OTHERS[root as usize % OTHERS.len()]
}

/// Takes the graph of `handle` from the calling thread. The handle is consumed on success; on
/// failure it and the graph stay as they were.
pub(crate) fn detach(handle: u64, mode: TransferMode) -> Result<Transit> {
    // A reference another thread parked for this one is no reference from outside the graph.
    foreign::drain();
    match detach_alone(handle, mode) {
        Some(transit) => Ok(transit),
        None => detach_graph(handle, mode),
    }
}

/// `detach` of the common job input or result, when every check passes: a mutable object of the
/// calling thread that its header says refers to nothing, held (for SAFE) by `handle` alone.
/// `None` otherwise, and nothing changed: `detach_graph` then does the whole of it, or says why
/// not. Kept apart so that a round trip's two detaches run no register saves for the walk.
#[inline(always)]
fn detach_alone(handle: u64, mode: TransferMode) -> Option<Transit> {
    let root = handle::lookup(handle)?;
    let slot = HEAP.try_slot(root)?;
    let alone = slot.owner() == thread::known()?
        && travels_alone(slot, mode, || slot.flags() & (MAY_REFER | MAY_REACH_ATOMIC_REF) == 0);
    if !alone || handle::try_release(handle).is_none() {
        return None;
    }
    leave(slot);
    STATS.transit.add(1);
    Some(Transit { root, root_moves: true, has_others: false })
}

/// `detach` of any graph, with every check and error.
#[cold]
fn detach_graph(handle: u64, mode: TransferMode) -> Result<Transit> {
    let root = handle::resolve(handle)?;
    let slot = HEAP.slot(root);
    let owner = slot.owner();
    let me = thread::current();
    let root_moves = owner & FROZEN == 0;
    let others = if !root_moves {
        Vec::new()
    } else if owner != me {
        return Err(ownership::wrong_thread(root, owner, format!("transfer {}", name(root))));
    } else {
        members(root, slot, me, mode)?
    };
    if let Err(error) = handle::release(handle) {
        give_back(&others, me);
        recycle(others);
        return Err(error);
    }
    if root_moves {
        leave(slot);
    }
    let has_others = !others.is_empty();
    if has_others {
        let previous = others_of(root).lock().insert(root, others);
        debug_assert!(previous.is_none(), "a root is in one transit at a time");
    }
    STATS.transit.add(1);
    Ok(Transit { root, root_moves, has_others })
}

/// The members other than the root of the mutable graph of `root`, owned by `me`, checked by
/// `mode`, already in transit. A graph of one object needs no walk, though its header says it was
/// given a reference (`detach_alone` took those whose header says it never was): its values say it
/// holds none now.
fn members(root: ObjIndex, slot: &Slot, me: u32, mode: TransferMode) -> Result<Vec<ObjIndex>> {
    // SAFETY: `root` is a mutable object owned by the calling thread (checked by the caller).
    let holds_no_reference = || unsafe { slot.values() }.iter().all(|v| v.as_ref_target().is_none());
    if travels_alone(slot, mode, holds_no_reference) {
        return Ok(Vec::new());
    }
    match mode {
        TransferMode::Safe => checked_members(root, me),
        TransferMode::Unsafe => walk(root, me).map(|walk| walk.members),
    }
}

/// Puts a member in transit.
#[inline]
fn leave(slot: &Slot) {
    // The receiver's collector must be able to buffer these objects again.
    slot.set_flags(0, BUFFERED);
    slot.owner.store(TRANSIT, Ordering::Release);
}

/// Takes back members that `walk` put in transit, when the transfer is refused after all. Their
/// `BUFFERED` flags stay cleared, though some are still in this thread's candidate list: the
/// collector skips those entries, and the next drop of such a member's count buffers it again.
/// Nothing is missed: a member is reachable from the root now, so it can only become garbage by
/// such a drop on some object of its cycle.
fn give_back(members: &[ObjIndex], me: u32) {
    for &member in members {
        HEAP.slot(member).owner.store(me, Ordering::Release);
    }
}

/// Whether a mutable object of the calling thread leaves as a graph of one by `mode`: it refers to
/// nothing (`refers_to_nothing`, asked last) and, for SAFE, its one reference is the handle that
/// the transfer consumes (its count is the references from outside).
#[inline(always)]
fn travels_alone(slot: &Slot, mode: TransferMode, refers_to_nothing: impl FnOnce() -> bool) -> bool {
    (mode == TransferMode::Unsafe || slot.local_refs() == 1) && refers_to_nothing()
}

/// The mutable graph of a root: its members, and what the SAFE check needs to know about them.
struct Walk {
    /// The members other than the root, in transit.
    members: Vec<ObjIndex>,
    /// The members' counts, summed.
    refs: u64,
    /// References from members to members.
    internal: u64,
}

/// What a thread's walks keep from one to the next. A graph of 10^6 objects needs megabytes of
/// stack, member list and sets; made anew, they were faulted in and given back each time, a third
/// of such a detach. Each stays the size of the largest graph the thread walked: 4 bytes an edge
/// for the stack, 4 bytes a member for the list, a bit a heap slot for each set.
#[derive(Default)]
struct Scratch {
    stack: Vec<ObjIndex>,
    /// The members found so far; moved out with the walk's result, and back by `recycle`.
    members: Vec<ObjIndex>,
    member: SlotSet,
    frozen: SlotSet,
    /// What `frozen` holds, to clear it.
    frozen_seen: Vec<ObjIndex>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Returns a member list to the calling thread's scratch once its graph is attached or refused, so
/// that the next walk here starts at that size.
fn recycle(mut members: Vec<ObjIndex>) {
    members.clear();
    // A thread being torn down keeps nothing.
    let _ = SCRATCH.try_with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        if scratch.members.capacity() < members.capacity() {
            scratch.members = members;
        }
    });
}

/// A set of slots: a short list while small (most transfers move a handful of objects), then one
/// bit per heap slot in 4 KiB leaves made on first use, so a small graph in a large heap never pays
/// for a bitmap of the whole heap. The leaves stay for the thread's next walk; `clear` zeroes the
/// bits it is told were set.
#[derive(Default)]
struct SlotSet {
    few: Vec<ObjIndex>,
    /// The set outgrew `few` and is in `leaves`.
    spilled: bool,
    leaves: Vec<Option<Box<[u64; LEAF_WORDS]>>>,
}

const FEW: usize = 32;
const LEAF_BITS: u32 = 15;
const LEAF_WORDS: usize = 1 << (LEAF_BITS - 6);

// Both always inlined: the walk asks one or two per object it visits, and a call each was a
// third of a SAFE detach's instructions.
impl SlotSet {
    #[inline(always)]
    fn contains(&self, index: ObjIndex) -> bool {
        if !self.spilled {
            return self.few.contains(&index);
        }
        let (leaf, word, bit) = Self::place(index);
        self.leaves[leaf].as_ref().is_some_and(|leaf| leaf[word] & bit != 0)
    }

    #[inline(always)]
    fn insert(&mut self, index: ObjIndex) {
        if !self.spilled {
            // The list keeps its room from one walk to the next.
            if self.few.len() < FEW {
                self.few.push(index);
                return;
            }
            return self.spill(index);
        }
        let (leaf, word, bit) = Self::place(index);
        match self.leaves.get_mut(leaf) {
            Some(Some(leaf)) => leaf[word] |= bit,
            _ => self.insert_into_new_leaf(index),
        }
    }

    /// `insert` once the short list is full: everything moves to the leaves.
    #[cold]
    fn spill(&mut self, index: ObjIndex) {
        self.spilled = true;
        // Every object of the graph was made before the walk began.
        let leaves = (HEAP.capacity() >> LEAF_BITS) as usize + 1;
        if self.leaves.len() < leaves {
            self.leaves.resize(leaves, None);
        }
        let few = std::mem::take(&mut self.few);
        for &known in few.iter().chain([&index]) {
            self.insert(known);
        }
        // Its room, for the next walk.
        self.few = few;
        self.few.clear();
    }

    /// `insert` into a leaf not made yet.
    #[cold]
    fn insert_into_new_leaf(&mut self, index: ObjIndex) {
        let (leaf, word, bit) = Self::place(index);
        self.leaves[leaf].get_or_insert_with(|| Box::new([0; LEAF_WORDS]))[word] |= bit;
    }

    /// Empties the set, which holds `inserted` and nothing else.
    fn clear(&mut self, inserted: impl Iterator<Item = ObjIndex>) {
        if self.spilled {
            for index in inserted {
                let (leaf, word, _) = Self::place(index);
                if let Some(leaf) = self.leaves[leaf].as_mut() {
                    leaf[word] = 0;
                }
            }
        }
        self.few.clear();
        self.spilled = false;
    }

    /// The leaf, word and bit of `index`.
    #[inline(always)]
    fn place(index: ObjIndex) -> (usize, usize, u64) {
        ((index >> LEAF_BITS) as usize, (index as usize & ((1 << LEAF_BITS) - 1)) / 64, 1 << (index % 64))
    }
}

/// Walks the mutable graph of `root` depth-first in field order — the plain traversal's order —
/// and puts every member but the root in transit as it finds it, while its header is at hand (a
/// pass of its own afterwards read every header again). A refused transfer takes them back
/// (`give_back`). What the walk has seen is kept in slot sets, so an edge to a member already
/// visited (or to a frozen object already seen) never reads the target's header. An edge is
/// counted as internal when its target turns out to be a member. A member of another thread (left
/// behind by an UNSAFE transfer) stops the walk, and nothing stays in transit.
fn walk(root: ObjIndex, me: u32) -> Result<Walk> {
    scratch::with(&SCRATCH, |scratch| scratch.walk_and_clear(root, me))
}

impl Scratch {
    /// `walk`, leaving the sets empty and, if it fails, the members found so far given back.
    fn walk_and_clear(&mut self, root: ObjIndex, me: u32) -> Result<Walk> {
        let result = self.walk(root, me);
        let Scratch { member, frozen, frozen_seen, members, .. } = self;
        let walked = match &result {
            Ok(walk) => &walk.members,
            Err(_) => &*members,
        };
        member.clear(std::iter::once(root).chain(walked.iter().copied()));
        frozen.clear(frozen_seen.drain(..));
        if result.is_err() {
            give_back(members, me);
            members.clear();
        }
        result
    }
}

impl Scratch {
    fn walk(&mut self, root: ObjIndex, me: u32) -> Result<Walk> {
        let Scratch { stack, members, member, frozen, frozen_seen } = self;
        let slot = HEAP.slot(root);
        member.insert(root);
        let (mut refs, mut internal) = (u64::from(slot.local_refs()), 0);
        // SAFETY: `root` is a mutable object owned by the calling thread (checked by the caller).
        let values = unsafe { slot.values() };
        stack.extend(values.iter().rev().filter_map(Value::as_ref_target));
        // Every entry of the stack is an edge.
        while let Some(node) = stack.pop() {
            if member.contains(node) {
                internal += 1;
                continue;
            }
            if frozen.contains(node) {
                continue;
            }
            let slot = HEAP.slot(node);
            let owner = slot.owner();
            if owner & FROZEN != 0 {
                frozen.insert(node);
                frozen_seen.push(node);
                continue;
            }
            if owner != me {
                stack.clear();
                let what = format!("transfer {} (it reaches {})", name(root), name(node));
                return Err(ownership::wrong_thread(node, owner, what));
            }
            member.insert(node);
            members.push(node);
            internal += 1;
            refs += u64::from(slot.local_refs());
            // SAFETY: `node` is a mutable object owned by the calling thread (checked just above),
            // put in transit only once its values are read.
            let values = unsafe { slot.values() };
            stack.extend(values.iter().rev().filter_map(Value::as_ref_target));
            leave(slot);
        }
        Ok(Walk { members: std::mem::take(members), refs, internal })
    }
}

/// The first member referenced from outside the graph, with how many outside references it has:
/// the slow path, once the summed check has failed.
fn first_outside_reference(root: ObjIndex, others: &[ObjIndex]) -> Option<(ObjIndex, u32)> {
    let members = || std::iter::once(root).chain(others.iter().copied());
    let mut inside: HashMap<ObjIndex, u32> = members().map(|m| (m, u32::from(m == root))).collect();
    for m in members() {
        // SAFETY: members are mutable objects owned by the calling thread.
        for child in unsafe { HEAP.slot(m).values() }.iter().filter_map(Value::as_ref_target) {
            if let Some(count) = inside.get_mut(&child) {
                *count += 1;
            }
        }
    }
    members().find_map(|m| {
        let outside = HEAP.slot(m).local_refs().saturating_sub(inside[&m]);
        (outside > 0).then_some((m, outside))
    })
}

/// Every reference to a member comes from another member, except the root's own handle: the
/// members' counts sum to the internal references plus one. Returns the members other than the
/// root, in transit.
///
/// When the sums differ, references other threads parked for this one since `detach` drained
/// (the owner of a handle an UNSAFE transfer left behind released it meanwhile), or unreachable
/// cyclic garbage, may be what holds them apart: the check drops the former, collects the latter,
/// and walks again as long as that changed something (a few times at most).
fn checked_members(root: ObjIndex, me: u32) -> Result<Vec<ObjIndex>> {
    const RETRIES: u32 = 4;
    let mut retries = 0;
    loop {
        let walk = walk(root, me)?;
        if walk.refs == walk.internal + 1 {
            return Ok(walk.members);
        }
        // The members are this thread's again for what follows.
        give_back(&walk.members, me);
        if retries < RETRIES {
            let dropped = foreign::drain();
            if dropped + cycles::collect_local() > 0 {
                retries += 1;
                recycle(walk.members);
                continue;
            }
        }
        let outside = first_outside_reference(root, &walk.members);
        recycle(walk.members);
        return Err(match outside {
            Some((object, count)) => referenced_from_outside(root, object, count, me),
            None => changed_while_checked(root),
        });
    }
}

/// The refusal naming the member `object`, which has `count` references from outside the graph.
#[cold]
fn referenced_from_outside(root: ObjIndex, object: ObjIndex, count: u32, me: u32) -> Error {
    let at = if object == root {
        "the root".to_string()
    } else {
        path_within(root, object, |o| HEAP.slot(o).owner() == me).unwrap_or_else(|| "?".into())
    };
    let (refs, them) = if count == 1 { ("reference", "it") } else { ("references", "them") };
    Error::new(
        Status::ErrNotTransferable,
        format!(
            "cannot transfer {}: {} at {at} has {count} {refs} from outside the graph (another object, or a handle \
             other than the root's); nothing moved — release {them}, or freeze what must be shared",
            name(root),
            name(object),
        ),
    )
}

/// The refusal when the sums kept differing but no member has a reference from outside by the
/// time it is looked for: other threads kept handing references back meanwhile.
#[cold]
fn changed_while_checked(root: ObjIndex) -> Error {
    Error::new(
        Status::ErrNotTransferable,
        format!(
            "cannot transfer {}: references into its graph kept being released by other threads while it was \
             checked; nothing moved — try again",
            name(root)
        ),
    )
}

impl Transit {
    /// Gives the graph to the calling thread and returns a handle to its root, which the caller
    /// owns.
    pub(crate) fn attach(self) -> Result<u64> {
        // Adopted here rather than by `drop`, which would release the root.
        let root = ManuallyDrop::new(self).adopt();
        handle::issue(root)
    }

    /// Makes the calling thread the owner of every member; returns the root, whose counted
    /// reference passes to the caller. Called once per transit: by `attach`, or else by `drop`.
    /// Inlined, with the other members' handover out of line: a round trip adopts twice.
    #[inline]
    fn adopt(&self) -> ObjIndex {
        let me = thread::current();
        if self.root_moves {
            HEAP.slot(self.root).owner.store(me, Ordering::Release);
        }
        if self.has_others {
            self.adopt_others(me);
        }
        STATS.transit.add(-1);
        // References dropped while the graph was in transit were parked for its next owner: us.
        foreign::drain();
        self.root
    }

    /// `adopt` of the members other than the root, which wait in `OTHERS`.
    #[cold]
    fn adopt_others(&self, me: u32) {
        let others = others_of(self.root).lock().remove(&self.root).expect("a transit's members wait under its root");
        for &member in &others {
            HEAP.slot(member).owner.store(me, Ordering::Release);
        }
        recycle(others);
    }
}

impl Drop for Transit {
    fn drop(&mut self) {
        let root = self.adopt();
        HEAP.release(root);
    }
}

const _: () = assert!(std::mem::size_of::<Option<Transit>>() == 8, "a job's input fits its future's cell");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::graph::object;

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

    #[test]
    fn the_members_beside_the_root_wait_under_it_until_attached_or_dropped() {
        let waiting = |root: ObjIndex| others_of(root).lock().contains_key(&root);
        for attach in [true, false] {
            let list = object::new_list().unwrap();
            let child = object::new_list().unwrap();
            object::push_ref(list, Some(child)).unwrap();
            object::release(child).unwrap();
            let root = handle::resolve(list).unwrap();
            let transit = detach(list, TransferMode::Safe).unwrap();
            assert_eq!(std::mem::size_of_val(&transit), 8);
            assert!(waiting(root), "a two-object graph's child waits under its root");
            if attach {
                let list = transit.attach().unwrap();
                assert!(!waiting(root));
                let child = object::get_ref(list, 0).unwrap().unwrap();
                assert_eq!(object::len(child).unwrap(), 0, "the child came along, owned here");
                object::release(child).unwrap();
                object::release(list).unwrap();
            } else {
                drop(transit);
                assert!(!waiting(root), "a dropped transit takes its members back, and frees them");
            }
        }
        let alone = object::new_list().unwrap();
        let root = handle::resolve(alone).unwrap();
        let transit = detach(alone, TransferMode::Safe).unwrap();
        assert!(!waiting(root), "a one-object graph waits nowhere");
        object::release(transit.attach().unwrap()).unwrap();
    }

    #[test]
    fn a_slot_set_holds_what_was_put_in_before_and_after_it_outgrows_its_list_and_is_empty_once_cleared() {
        let lists: Vec<u64> = (0..2 * (FEW + 1)).map(|_| object::new_list().unwrap()).collect();
        let indices: Vec<ObjIndex> = lists.iter().map(|&l| handle::resolve(l).unwrap()).collect();
        let mut set = SlotSet::default();
        // Every other one, then the others: the set's neighbours in the heap are not in it, and
        // the second round reuses the leaves the first one made.
        for round in [0, 1] {
            let mut inserted = Vec::new();
            for &index in indices.iter().skip(round).step_by(2) {
                set.insert(index);
                inserted.push(index);
                assert!(inserted.iter().all(|&i| set.contains(i)), "every index put in is found");
                assert!(indices.iter().all(|i| inserted.contains(i) || !set.contains(*i)), "and no other");
            }
            assert!(set.spilled, "{} indices outgrew the short list", inserted.len());
            set.clear(inserted.iter().copied());
            assert!(!set.spilled && indices.iter().all(|&i| !set.contains(i)), "cleared, it holds nothing");
            set.insert(indices[0]);
            assert!(set.contains(indices[0]) && !set.contains(indices[1]));
            set.clear(std::iter::once(indices[0]));
        }
        lists.into_iter().for_each(|l| object::release(l).unwrap());
    }

    #[test]
    fn an_object_given_a_reference_is_walked_even_once_the_reference_is_gone() {
        let ty = crate::core::heap::types::define("Holder", &[("next", crate::core::heap::value::Kind::Ref)]).unwrap();
        let may_refer = |handle: u64| HEAP.slot(handle::resolve(handle).unwrap()).flags() & MAY_REFER != 0;
        let holder = object::new_object(ty).unwrap();
        let list = object::new_list().unwrap();
        assert!(!may_refer(holder) && !may_refer(list), "a new object refers to nothing");
        for (container, store) in [(holder, true), (list, false)] {
            let child = object::new_list().unwrap();
            if store {
                object::set_ref(container, 0, Some(child)).unwrap();
            } else {
                object::push_ref(container, Some(child)).unwrap();
            }
            assert!(may_refer(container), "storing a reference marks its container");
            let error = detach(child, TransferMode::Safe).unwrap_err();
            assert_eq!(error.status(), Status::ErrNotTransferable, "the child is referenced from its container");
            object::release(child).unwrap();
            let root = handle::resolve(container).unwrap();
            let transit = detach(container, TransferMode::Safe).unwrap();
            assert!(others_of(root).lock().contains_key(&root), "the child travels with its container");
            let container = transit.attach().unwrap();
            object::set_ref(container, 0, None).unwrap();
            assert!(may_refer(container), "the mark stays; detach reads the values instead");
            let alone = detach(container, TransferMode::Safe).unwrap();
            assert!(!others_of(root).lock().contains_key(&root), "with the child gone it travels alone");
            object::release(alone.attach().unwrap()).unwrap();
        }
    }

    /// A list of `FEW + 8` new lists (enough that the walk's sets outgrow their short lists), held by
    /// the list alone; returns the list and its members' indices.
    fn list_of_lists() -> (u64, Vec<ObjIndex>) {
        let list = object::new_list().unwrap();
        let members = (0..FEW + 8)
            .map(|i| {
                let child = object::new_list().unwrap();
                object::push(child, Value::Int(i as i64)).unwrap();
                object::push_ref(list, Some(child)).unwrap();
                let index = handle::resolve(child).unwrap();
                object::release(child).unwrap();
                index
            })
            .collect();
        (list, members)
    }

    #[test]
    fn a_refused_transfer_leaves_every_member_with_its_owner() {
        let me = thread::current();
        let owned_here = |members: &[ObjIndex]| members.iter().all(|&m| HEAP.slot(m).owner() == me);
        // Refused by the sums: the last child has a handle of its own.
        let (list, members) = list_of_lists();
        let last = object::get_ref(list, FEW + 7).unwrap().unwrap();
        let error = detach(list, TransferMode::Safe).unwrap_err();
        assert_eq!(error.status(), Status::ErrNotTransferable, "{error}");
        assert!(error.message().contains(&name(*members.last().unwrap())), "{error}");
        assert!(owned_here(&members), "the members found before the refusal are given back");
        assert_eq!(object::len(last).unwrap(), 1, "and usable here");
        // Stopped part way: the last child refers to an object an UNSAFE transfer moved away.
        let moved = object::new_list().unwrap();
        object::push_ref(last, Some(moved)).unwrap();
        object::release(last).unwrap();
        let gone = detach(moved, TransferMode::Unsafe).unwrap();
        for mode in [TransferMode::Safe, TransferMode::Unsafe] {
            let error = detach(list, mode).unwrap_err();
            assert_eq!(error.status(), Status::ErrWrongThread, "{error}");
            assert!(owned_here(&members), "every member found before the stop is given back");
        }
        // Once the moved object is back, the whole graph goes, and arrives whole.
        object::release(gone.attach().unwrap()).unwrap();
        let transit = detach(list, TransferMode::Safe).unwrap();
        assert!(members.iter().all(|&m| HEAP.slot(m).owner() == TRANSIT));
        let values = std::thread::spawn(move || {
            let list = transit.attach().unwrap();
            let values: Vec<i64> = (0..object::len(list).unwrap())
                .map(|i| {
                    let child = object::get_ref(list, i).unwrap().unwrap();
                    let value = object::read(child, 0, crate::core::heap::value::Kind::Int, |v| v.as_int()).unwrap();
                    object::release(child).unwrap();
                    value
                })
                .collect();
            object::release(list).unwrap();
            values
        })
        .join()
        .unwrap();
        assert_eq!(values, (0..FEW as i64 + 8).collect::<Vec<_>>());
    }

    #[test]
    fn a_walk_after_a_large_one_sees_only_its_own_graph() {
        // The first walk's sets hold its members and the frozen objects it met...
        let (list, _) = list_of_lists();
        for _ in 0..FEW + 8 {
            let frozen = object::new_list().unwrap();
            object::freeze(frozen, None).unwrap();
            object::push_ref(list, Some(frozen)).unwrap();
            object::release(frozen).unwrap();
        }
        let list = detach(list, TransferMode::Safe).unwrap().attach().unwrap();
        // ...whose slots, freed, the second graph's objects take again; one member moves on.
        let kept = object::get_ref(list, 0).unwrap().unwrap();
        object::release(list).unwrap();
        let (second, members) = list_of_lists();
        object::push_ref(second, Some(kept)).unwrap();
        let (kept_handle, kept) = (kept, handle::resolve(kept).unwrap());
        object::release(kept_handle).unwrap();
        let transit = detach(second, TransferMode::Safe).unwrap();
        let moved = |owner: u32| members.iter().chain([&kept]).all(|&m| HEAP.slot(m).owner() == owner);
        assert!(moved(TRANSIT), "the walk found every member, the kept one too");
        let second = transit.attach().unwrap();
        assert!(moved(thread::current()));
        object::release(second).unwrap();
    }

    #[test]
    fn a_reference_parked_for_this_thread_during_the_check_is_dropped_and_the_graph_goes() {
        let list = object::new_list().unwrap();
        let child = object::new_list().unwrap();
        object::push_ref(list, Some(child)).unwrap();
        // The child's second handle was left behind by an UNSAFE transfer; its holder released it
        // on its own thread after `detach` drained, so the reference waits parked for this one.
        let child = handle::release(child).unwrap();
        assert!(foreign::park(child, thread::current()), "parked for a live owner");
        let transit =
            detach_graph(list, TransferMode::Safe).expect("the parked reference is no reference from outside");
        assert_eq!(HEAP.slot(child).owner(), TRANSIT, "the child travels with its container");
        let list = transit.attach().unwrap();
        assert_eq!(HEAP.slot(child).local_refs(), 1, "the parked reference was dropped, once");
        object::release(list).unwrap();
    }
}
