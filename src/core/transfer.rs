//! Subgraph transfer: a mutable graph leaves its owner thread whole, travels owned by nobody, and is
//! attached by exactly one receiver. Used by workers, futures and detached graphs.
//!
//! SAFE mode checks in O(N) that nothing outside the graph refers into it: one walk over the
//! mutable objects reachable from the root sums their counts and counts the references between
//! them. Each count includes every internal reference to its object, so the two sums differ by
//! exactly the references from outside (other objects, host handles) — and the root's own handle,
//! which the transfer consumes, is the one allowed. Only when they differ does a slower pass find
//! which object is referenced from outside. A failure names the first such object and its path, and moves
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
use super::foreign;
use super::handle;
use super::heap::{Slot, BUFFERED, FROZEN, HEAP, MAY_REACH_ATOMIC_REF, MAY_REFER};
use super::ownership::{self, name, path_within};
use super::stats::STATS;
use super::thread;
use super::value::{ObjIndex, Value};
use std::collections::{BTreeMap, HashMap};
use std::mem::ManuallyDrop;
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
static OTHERS: [Others; 16] = [const { parking_lot::Mutex::new(BTreeMap::new()) }; 16];

type Others = parking_lot::Mutex<BTreeMap<ObjIndex, Box<[ObjIndex]>>>;

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
    handle::release(handle)?;
    if root_moves {
        leave(slot);
    }
    others.iter().for_each(|&member| leave(HEAP.slot(member)));
    let has_others = !others.is_empty();
    if has_others {
        let previous = others_of(root).lock().insert(root, others.into_boxed_slice());
        debug_assert!(previous.is_none(), "a root is in one transit at a time");
    }
    STATS.transit.add(1);
    Ok(Transit { root, root_moves, has_others })
}

/// The members other than the root of the mutable graph of `root`, owned by `me`, checked by
/// `mode`. A graph of one object needs no walk, though its header says it was given a reference
/// (`detach_alone` took those whose header says it never was): its values say it holds none now.
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

/// Whether a mutable object of the calling thread leaves as a graph of one by `mode`: it refers to
/// nothing (`refers_to_nothing`, asked last) and, for SAFE, its one reference is the handle that
/// the transfer consumes (its count is the references from outside).
#[inline(always)]
fn travels_alone(slot: &Slot, mode: TransferMode, refers_to_nothing: impl FnOnce() -> bool) -> bool {
    (mode == TransferMode::Unsafe || slot.local_refs() == 1) && refers_to_nothing()
}

/// The mutable graph of a root: its members, and what the SAFE check needs to know about them.
struct Walk {
    /// The members other than the root.
    members: Vec<ObjIndex>,
    /// The members' counts, summed.
    refs: u64,
    /// References from members to members.
    internal: u64,
}

/// A set of slots: a short list while small (most transfers move a handful of objects), then one
/// bit per heap slot in 4 KiB leaves made on first use, so a small graph in a large heap never pays
/// for a bitmap of the whole heap.
#[derive(Default)]
struct SlotSet {
    few: Vec<ObjIndex>,
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
        if self.leaves.is_empty() {
            return self.few.contains(&index);
        }
        let (leaf, word, bit) = Self::place(index);
        self.leaves[leaf].as_ref().is_some_and(|leaf| leaf[word] & bit != 0)
    }

    #[inline(always)]
    fn insert(&mut self, index: ObjIndex) {
        let (leaf, word, bit) = Self::place(index);
        match self.leaves.get_mut(leaf) {
            Some(Some(leaf)) => leaf[word] |= bit,
            _ => self.insert_slowly(index),
        }
    }

    /// `insert` into the short list, or into a leaf not made yet.
    #[cold]
    fn insert_slowly(&mut self, index: ObjIndex) {
        if self.leaves.is_empty() {
            if self.few.len() < FEW {
                self.few.push(index);
                return;
            }
            self.leaves = vec![None; (HEAP.capacity() >> LEAF_BITS) as usize + 1];
            for known in std::mem::take(&mut self.few) {
                self.insert(known);
            }
        }
        let (leaf, word, bit) = Self::place(index);
        self.leaves[leaf].get_or_insert_with(|| Box::new([0; LEAF_WORDS]))[word] |= bit;
    }

    /// The leaf, word and bit of `index`.
    #[inline(always)]
    fn place(index: ObjIndex) -> (usize, usize, u64) {
        ((index >> LEAF_BITS) as usize, (index as usize & ((1 << LEAF_BITS) - 1)) / 64, 1 << (index % 64))
    }
}

/// Walks the mutable graph of `root` depth-first in field order — the plain traversal's order —
/// keeping what it has seen in slot sets, so an edge to a member already visited (or to a frozen
/// object already seen) never reads the target's header. An edge is counted as internal when its
/// target turns out to be a member. A member of another thread (left behind by an UNSAFE
/// transfer) stops the walk.
fn walk(root: ObjIndex, me: u32) -> Result<Walk> {
    let (mut member, mut frozen) = (SlotSet::default(), SlotSet::default());
    let mut walk = Walk { members: Vec::new(), refs: 0, internal: 0 };
    // The root's own entry is not an edge; every other stack entry is one.
    let mut stack = vec![(root, false)];
    while let Some((node, is_edge)) = stack.pop() {
        if member.contains(node) {
            walk.internal += u64::from(is_edge);
            continue;
        }
        if frozen.contains(node) {
            continue;
        }
        let slot = HEAP.slot(node);
        let owner = slot.owner();
        if owner & FROZEN != 0 {
            frozen.insert(node);
            continue;
        }
        if owner != me {
            let what = format!("transfer {} (it reaches {})", name(root), name(node));
            return Err(ownership::wrong_thread(node, owner, what));
        }
        member.insert(node);
        if node != root {
            walk.members.push(node);
        }
        walk.internal += u64::from(is_edge);
        walk.refs += u64::from(slot.local_refs());
        // SAFETY: `node` is a mutable object owned by the calling thread (checked just above).
        let values = unsafe { slot.values() };
        stack.extend(values.iter().rev().filter_map(Value::as_ref_target).map(|child| (child, true)));
    }
    Ok(walk)
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
/// members' counts sum to the internal references plus one. Returns the members other than the root.
fn checked_members(root: ObjIndex, me: u32) -> Result<Vec<ObjIndex>> {
    let mut collected = false;
    loop {
        let walk = walk(root, me)?;
        if walk.refs == walk.internal + 1 {
            return Ok(walk.members);
        }
        // Cyclic garbage may hold a reference: collect once, then look again.
        if !collected && cycles::collect_local() > 0 {
            collected = true;
            continue;
        }
        let (object, count) =
            first_outside_reference(root, &walk.members).expect("the sums differ, so someone has more");
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
        for &member in others.iter() {
            HEAP.slot(member).owner.store(me, Ordering::Release);
        }
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
    fn a_slot_set_holds_what_was_put_in_before_and_after_it_outgrows_its_list() {
        let lists: Vec<u64> = (0..2 * (FEW + 1)).map(|_| object::new_list().unwrap()).collect();
        let indices: Vec<ObjIndex> = lists.iter().map(|&l| handle::resolve(l).unwrap()).collect();
        let (mut set, mut inserted) = (SlotSet::default(), Vec::new());
        // Every other one, so that the set's neighbours in the heap are not in it.
        for &index in indices.iter().step_by(2) {
            set.insert(index);
            inserted.push(index);
            assert!(inserted.iter().all(|&i| set.contains(i)), "every index put in is found");
            assert!(!set.contains(index + 1) || inserted.contains(&(index + 1)), "and no other");
        }
        assert!(!set.leaves.is_empty(), "{} indices outgrew the short list", inserted.len());
        let absent = indices.iter().filter(|i| !inserted.contains(i));
        assert!(absent.clone().count() == FEW + 1 && absent.clone().all(|&i| !set.contains(i)));
        lists.into_iter().for_each(|l| object::release(l).unwrap());
    }

    #[test]
    fn an_object_given_a_reference_is_walked_even_once_the_reference_is_gone() {
        let ty = crate::core::types::define("Holder", &[("next", crate::core::value::Kind::Ref)]).unwrap();
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
}
