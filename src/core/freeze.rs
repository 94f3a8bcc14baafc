//! Deep freeze: one way, all or nothing, O(N), no recursion.
//!
//! One iterative Tarjan traversal over the mutable objects reachable from the root (already-frozen
//! objects are not entered) both looks for a never-frozen blocker and finds the strongly connected
//! components. The traversal's own stack is the path from the root, so a blocker is reported as
//! `Scope.job.children[3]`. Nothing is published until the traversal is complete: a blocker leaves
//! the graph exactly as it was.
//!
//! Counting: every SCC gets one count, on its leader: the sum of its members' counts minus the
//! references between members. It is computed during the walk, with no second pass: an edge to a
//! node still on Tarjan's stack stays inside the SCC, and so does a tree edge to a child that does
//! not become an SCC root; a finished non-root's excess (count minus internal edges) flows to its
//! parent, which is in the same SCC. Counts are final before any object is published as frozen
//! (Release on the owner word). The scratch vectors are kept per thread between freezes.
//!
//! Trees first: most graphs frozen are trees (lists included), where every member is reached by
//! one reference and so is an SCC of its own with its own count. A plain walk that marks members
//! as it reaches them finds that out at about the cost of a traversal, with none of Tarjan's
//! bookkeeping; at the first member reached twice (shared, or on a cycle), or anything it would
//! have to report (a never-frozen mark, another thread's object), it unmarks what it marked and
//! Tarjan's walk starts over, which does the rest, errors included.

use super::error::{Error, Result, Status};
use super::heap::{FROZEN, HEAP, MAY_REACH_ATOMIC_REF, NEVER_FREEZE, VISITED};
use super::ownership::{self, name, render_steps};
use super::provenance::{self, Provenance};
use super::stats::STATS;
use super::thread;
use super::value::{ObjIndex, Value};
use std::cell::RefCell;
use std::sync::atomic::Ordering;

struct Frame {
    node: ObjIndex,
    /// The node's position in discovery order.
    position: u32,
    /// The next slot of `node` to look at; `next - 1` is the slot that led to the frame above.
    next: u32,
    low: u32,
    /// The node's own count.
    refs: u32,
    /// Counts of this node and of its finished same-SCC descendants, minus their internal edges.
    excess: i64,
}

/// An SCC whose count differs from its single member's own: several members, or a self-reference.
struct Merge {
    leader: ObjIndex,
    refs: u32,
    /// Range of `Traversal::members` holding the members when there are several.
    members: std::ops::Range<usize>,
}

/// Where Tarjan's walk keeps each object's state: beside the heap, not in the object's header. An
/// edge to an object already visited — on a graph with cycles, most edges — then reads four bytes
/// of this table, which stays in the caches when the headers do not (a 10^6-object graph's headers
/// are 40 MB; its marks, 4 MB), instead of the target's header line. One entry per heap slot, kept
/// with the thread's other scratch and all zero between walks (a walk resets the marks it set), so
/// that it grows by a fresh zeroed allocation, whose pages the system maps as they are touched.
#[derive(Default)]
struct Marks(Vec<u32>);

/// A mark with this bit: the object's SCC is complete; the rest is its leader. Without it, a
/// nonzero mark is the object's position in discovery order plus one: it is on Tarjan's stack.
const DONE: u32 = 1 << 31;

impl Marks {
    /// Room for every object of the heap (objects made later are not in the graph being walked).
    fn cover_heap(&mut self) {
        let capacity = HEAP.capacity() as usize;
        if self.0.len() < capacity {
            self.0 = vec![0; capacity.next_power_of_two()];
        }
    }

    /// 0 for an object the walk has not visited.
    #[inline(always)]
    fn get(&self, node: ObjIndex) -> u32 {
        self.0[node as usize]
    }

    #[inline(always)]
    fn set(&mut self, node: ObjIndex, mark: u32) {
        self.0[node as usize] = mark;
    }
}

#[derive(Default)]
struct Traversal {
    /// Objects in discovery order.
    visited: Vec<ObjIndex>,
    /// Tarjan's walk state of the objects in `visited`, when Tarjan's walk ran.
    marks: Marks,
    /// Whether Tarjan's walk ran: then the leaders are in `marks`; after a tree walk, in `aux`.
    tarjan_ran: bool,
    frames: Vec<Frame>,
    tarjan: Vec<ObjIndex>,
    merges: Vec<Merge>,
    members: Vec<ObjIndex>,
    /// The graph has an atomic reference field, or reaches a frozen object that may reach one.
    reaches_atomic_ref: bool,
}

thread_local! {
    static SCRATCH: RefCell<Traversal> = RefCell::new(Traversal::default());
}

/// Freezes everything reachable from `root`, which the calling thread must own (or which is
/// already frozen, a no-op). `label` is remembered for messages about these objects.
pub(crate) fn freeze(root: ObjIndex, label: Option<&str>) -> Result<()> {
    let owner = HEAP.slot(root).owner();
    if owner & FROZEN != 0 {
        return Ok(());
    }
    let me = thread::current();
    if owner != me {
        return Err(ownership::wrong_thread(root, owner, format!("freeze {}", name(root))));
    }
    let mut t = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    let result = t.run(root, me).and_then(|()| t.commit(root, label));
    if result.is_err() && !t.tarjan_ran {
        t.unmark_tree();
    }
    t.clear();
    SCRATCH.with(|s| *s.borrow_mut() = t);
    result
}

impl Traversal {
    fn clear(&mut self) {
        if self.tarjan_ran {
            for &node in &self.visited {
                self.marks.set(node, 0);
            }
        }
        self.tarjan_ran = false;
        self.visited.clear();
        self.frames.clear();
        self.tarjan.clear();
        self.merges.clear();
        self.members.clear();
        self.reaches_atomic_ref = false;
    }

    fn run(&mut self, root: ObjIndex, me: u32) -> Result<()> {
        if self.walk_tree(root, me) {
            return Ok(());
        }
        self.unmark_tree();
        self.visited.clear();
        self.reaches_atomic_ref = false;
        self.run_tarjan(root, me)
    }

    /// Walks the graph of `root` as a tree (see the module doc): whether it is one. If it is, every
    /// member is in `visited`, marked, and its own SCC's leader.
    fn walk_tree(&mut self, root: ObjIndex, me: u32) -> bool {
        let heap = &HEAP;
        let mut stack = std::mem::take(&mut self.tarjan);
        let mut tree = self.enter_tree(root);
        if tree {
            stack.push(root);
        }
        'walk: while let Some(node) = stack.pop() {
            // SAFETY: members are mutable objects owned by the calling thread (checked on entry).
            let values = unsafe { heap.slot(node).values() };
            // Pushed last-first: depth-first in field order, the traversal's order.
            for child in values.iter().rev().filter_map(Value::as_ref_target) {
                let slot = heap.slot(child);
                let owner = slot.owner();
                if owner & FROZEN != 0 {
                    self.reaches_atomic_ref |= slot.flags() & MAY_REACH_ATOMIC_REF != 0;
                    continue;
                }
                if owner != me || !self.enter_tree(child) {
                    tree = false;
                    break 'walk;
                }
                stack.push(child);
            }
        }
        stack.clear();
        self.tarjan = stack;
        tree
    }

    /// Takes back the marks of the tree walk, for a graph that is not a tree or a freeze refused.
    fn unmark_tree(&self) {
        for &node in &self.visited {
            HEAP.slot(node).set_flags(0, VISITED);
        }
    }

    /// Takes a mutable object of the calling thread into the tree walk, as its own SCC's leader:
    /// `false` if the walk reached it before or it may never be frozen. Marked in its header, not in
    /// `marks` as Tarjan's walk does: the header's line is read here and written when the freeze is
    /// published, so the mark costs no other line (marking trees in `marks` took trees of 10^5–10^6
    /// from 1.1–1.3× to 1.7× of the traversal).
    fn enter_tree(&mut self, node: ObjIndex) -> bool {
        let slot = HEAP.slot(node);
        let flags = slot.flags();
        if flags & (VISITED | NEVER_FREEZE) != 0 {
            return false;
        }
        slot.set_flags(VISITED, 0);
        slot.aux.store(node, Ordering::Relaxed);
        self.reaches_atomic_ref |= flags & MAY_REACH_ATOMIC_REF != 0;
        self.visited.push(node);
        true
    }

    fn run_tarjan(&mut self, root: ObjIndex, me: u32) -> Result<()> {
        let heap = &HEAP;
        self.tarjan_ran = true;
        self.marks.cover_heap();
        self.discover(root, root)?;
        while let Some(top) = self.frames.len().checked_sub(1) {
            let frame = &mut self.frames[top];
            // SAFETY: every object on the traversal stack is mutable and owned by the calling thread.
            let values = unsafe { heap.slot(frame.node).values() };
            let mut descend = None;
            while let Some(value) = values.get(frame.next as usize) {
                frame.next += 1;
                let Some(child) = value.as_ref_target() else {
                    continue;
                };
                // Visited: a member (owned here); on the stack, it is in this frame's SCC.
                let mark = self.marks.get(child);
                if mark != 0 {
                    if mark & DONE == 0 {
                        frame.low = frame.low.min(mark - 1);
                        frame.excess -= 1;
                    }
                    continue;
                }
                let child_slot = heap.slot(child);
                let child_owner = child_slot.owner();
                if child_owner & FROZEN != 0 {
                    self.reaches_atomic_ref |= child_slot.flags() & MAY_REACH_ATOMIC_REF != 0;
                    continue;
                }
                if child_owner != me {
                    let what = format!("freeze {} (it reaches {})", name(root), name(child));
                    return Err(ownership::wrong_thread(child, child_owner, what));
                }
                descend = Some(child);
                break;
            }
            match descend {
                Some(child) => self.discover(root, child)?,
                None => self.finish_frame(),
            }
        }
        Ok(())
    }

    fn discover(&mut self, root: ObjIndex, node: ObjIndex) -> Result<()> {
        let slot = HEAP.slot(node);
        let flags = slot.flags();
        if flags & NEVER_FREEZE != 0 {
            return Err(self.blocked(root, node));
        }
        self.reaches_atomic_ref |= flags & MAY_REACH_ATOMIC_REF != 0;
        let position = self.visited.len() as u32;
        self.marks.set(node, position + 1);
        self.visited.push(node);
        self.tarjan.push(node);
        let refs = slot.local_refs();
        self.frames.push(Frame { node, position, next: 0, low: position, refs, excess: i64::from(refs) });
        Ok(())
    }

    fn finish_frame(&mut self) {
        let Frame { node, position, low, refs: own_refs, excess, .. } = self.frames.pop().expect("a frame to finish");
        if low != position {
            // Not an SCC root: the parent is in the same SCC, and the edge to here is internal.
            let parent = self.frames.last_mut().expect("a non-root has a parent");
            parent.low = parent.low.min(low);
            parent.excess += excess - 1;
            return;
        }
        let refs = u32::try_from(excess).expect("an SCC never has more internal references than counts");
        if self.tarjan.last() == Some(&node) {
            // A single-object SCC, the common case.
            self.tarjan.pop();
            self.marks.set(node, DONE | node);
            if refs != own_refs {
                self.merges.push(Merge { leader: node, refs, members: 0..0 });
            }
            return;
        }
        let start = self.members.len();
        loop {
            let member = self.tarjan.pop().expect("the SCC root is on Tarjan's stack");
            self.marks.set(member, DONE | node);
            if member == node {
                break;
            }
            self.members.push(member);
        }
        self.members.push(node);
        self.merges.push(Merge { leader: node, refs, members: start..self.members.len() });
    }

    #[cold]
    fn blocked(&self, root: ObjIndex, blocker: ObjIndex) -> Error {
        let place = if blocker == root {
            "it is itself marked never-frozen".to_string()
        } else {
            let path = render_steps(root, self.frames.iter().map(|f| (f.node, f.next as usize - 1)));
            format!("it reaches {} at {path}, which is marked never-frozen", name(blocker))
        };
        Error::new(
            Status::ErrFreezeBlocked,
            format!(
                "cannot freeze {}: {place} (ensure_never_frozen); nothing was frozen — break that reference or drop the mark first",
                name(root)
            ),
        )
    }

    fn commit(&self, root: ObjIndex, label: Option<&str>) -> Result<()> {
        let heap = &HEAP;
        let record =
            Provenance { root, root_name: name(root), thread: thread::current_name(), label: label.map(Box::from) };
        let provenance = provenance::register(record, self.visited.len() as u32)
            .ok_or_else(|| Error::new(Status::ErrLimit, "cannot freeze: too many freezes are alive"))?;
        for merge in &self.merges {
            if merge.members.is_empty() {
                heap.set_refs(merge.leader, merge.refs);
            } else {
                heap.set_scc_members(merge.leader, self.members[merge.members.clone()].to_vec(), merge.refs);
            }
        }
        STATS.frozen.add(self.visited.len() as i64);
        // VISITED and BUFFERED stay set: both mean nothing on a frozen object, and clearing them
        // would cost a write per object.
        // The mark is per freeze, not per object: coarser, and one flag test per edge to compute.
        let mark = if self.reaches_atomic_ref { MAY_REACH_ATOMIC_REF } else { 0 };
        for &node in &self.visited {
            let slot = heap.slot(node);
            if mark != 0 {
                slot.set_flags(mark, 0);
            }
            if self.tarjan_ran {
                slot.aux.store(self.marks.get(node) & !DONE, Ordering::Relaxed);
            }
            heap.publish_frozen(node, provenance);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{handle, object};

    fn marks_left(nodes: &[ObjIndex]) -> Vec<u32> {
        SCRATCH.with(|s| nodes.iter().map(|&n| s.borrow().marks.get(n)).collect())
    }

    #[test]
    fn tarjans_walk_leaves_no_marks_and_gives_a_cycle_one_leader() {
        // a -> b -> a, and b -> c: not a tree, so Tarjan's walk runs; c blocks the first freeze.
        let [a, b, c] = [(); 3].map(|()| object::new_list().unwrap());
        object::push_ref(a, Some(b)).unwrap();
        object::push_ref(b, Some(a)).unwrap();
        object::push_ref(b, Some(c)).unwrap();
        object::ensure_never_frozen(c).unwrap();
        let nodes = [a, b, c].map(|h| handle::resolve(h).unwrap());
        let error = object::freeze(a, None).unwrap_err();
        assert_eq!(error.status(), Status::ErrFreezeBlocked, "{}", error.message());
        assert_eq!(marks_left(&nodes), [0, 0, 0], "a refused freeze leaves no marks");
        assert!(nodes.iter().all(|&n| HEAP.slot(n).flags() & VISITED == 0 && !HEAP.slot(n).is_frozen()));
        object::set_ref(b, 1, None).unwrap();
        object::freeze(a, None).unwrap();
        assert_eq!(marks_left(&nodes), [0, 0, 0], "a freeze leaves no marks");
        let leader = |n: ObjIndex| HEAP.slot(n).aux.load(Ordering::Acquire);
        assert_eq!(leader(nodes[0]), leader(nodes[1]), "one SCC, one leader");
        assert!(nodes[..2].contains(&leader(nodes[0])) && !HEAP.slot(nodes[2]).is_frozen());
        [a, b, c].into_iter().for_each(|h| object::release(h).unwrap());
    }
}
