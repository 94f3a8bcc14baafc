//! Deep freeze: one way, all or nothing, O(N), no recursion.
//!
//! One iterative Tarjan traversal over the mutable objects reachable from the root (already-frozen
//! objects are not entered) both looks for a never-frozen blocker and finds the strongly connected
//! components. The traversal's own stack is the path from the root, so a blocker is reported as
//! `Scope.job.children[3]`. Nothing is published until the traversal is complete: a blocker leaves
//! the graph exactly as it was.
//!
//! Counting: every SCC gets one count, on its leader: the sum of its members' counts minus the
//! references between members. It is computed during the walk, with no second pass, as one running
//! sum: each object adds its count when discovered; an edge to an object still on Tarjan's stack
//! stays inside the SCC, and so does the tree edge to a child that does not become an SCC root, so
//! each subtracts one; when an SCC is complete, what the sum gained since its root was discovered is
//! its count, and the sum goes back to what it was then. Counts are final before any object is
//! published as frozen (Release on the owner word). The scratch vectors are kept per thread
//! between freezes.
//!
//! Trees first: most graphs frozen are trees (lists included), where every member is reached by
//! one reference and so is an SCC of its own with its own count. A plain walk that marks members
//! as it reaches them finds that out at about the cost of a traversal, with none of Tarjan's
//! bookkeeping; at the first member reached twice (shared, or on a cycle), or anything it would
//! have to report (a never-frozen mark, another thread's object), it unmarks what it marked and
//! Tarjan's walk starts over, which does the rest, errors included.

use crate::core::base::error::{Error, Result, Status};
use crate::core::base::scratch;
use crate::core::base::stats::STATS;
use crate::core::graph::ownership::{self, name, render_steps};
use crate::core::heap::header::{FROZEN, MAY_REACH_ATOMIC_REF, NEVER_FREEZE, VISITED};
use crate::core::heap::provenance::{self, Provenance};
use crate::core::heap::slots::{Slot, HEAP};
use crate::core::heap::thread;
use crate::core::heap::value::{ObjIndex, Value};
use std::cell::RefCell;
use std::sync::atomic::Ordering;

/// An object on the path from the root; its position in discovery order is its mark, less one.
struct Frame {
    node: ObjIndex,
    /// `node`'s slot, looked up once: the walk comes back to a frame after each child.
    slot: &'static Slot,
    /// The next slot of `node` to look at; `next - 1` is the slot that led to the frame above.
    next: u32,
    /// The smallest mark of an object still on Tarjan's stack that the node's subtree refers to.
    low: u32,
    /// The node's own count.
    refs: u32,
    /// `Traversal::sum` just before the node was discovered.
    base: i64,
}

/// An SCC whose count differs from its single member's own: several members, or a self-reference.
struct Merge {
    leader: ObjIndex,
    refs: u32,
    /// Range of `Traversal::visited` holding the members when there are several.
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
    /// The objects walked: in discovery order after a tree walk; after Tarjan's, SCC by SCC as
    /// each is complete, its members together in reverse discovery order (its root last), the
    /// order in which the SCC's slots are freed and so, later, handed out again.
    visited: Vec<ObjIndex>,
    /// Tarjan's walk state of every object it reached, when it ran.
    marks: Marks,
    /// Tarjan's walk ran and `marks` is not all zero again yet: the leaders are in `marks` (after a
    /// tree walk, in `aux`), and `clear` resets what `commit` did not.
    tarjan_marks: bool,
    /// The path from the root.
    frames: Vec<Frame>,
    /// Tarjan's stack: the objects discovered whose SCC is not complete yet, in discovery order.
    /// (The tree walk's stack while it runs.)
    tarjan: Vec<ObjIndex>,
    /// The running sum of counts less internal references (see the module doc).
    sum: i64,
    merges: Vec<Merge>,
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
    scratch::with(&SCRATCH, |t| {
        let result = t.run(root, me).and_then(|()| t.commit(root, label));
        if result.is_err() && !t.tarjan_marks {
            t.unmark_tree();
        }
        t.clear();
        result
    })
}

impl Traversal {
    fn clear(&mut self) {
        if self.tarjan_marks {
            // A walk that stopped early left objects on Tarjan's stack too.
            let Traversal { visited, tarjan, marks, .. } = self;
            for &node in visited.iter().chain(tarjan.iter()) {
                marks.set(node, 0);
            }
        }
        self.tarjan_marks = false;
        self.sum = 0;
        self.visited.clear();
        self.frames.clear();
        self.tarjan.clear();
        self.merges.clear();
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
        self.tarjan_marks = true;
        self.marks.cover_heap();
        self.discover(root, root, heap.slot(root))?;
        while let Some(top) = self.frames.len().checked_sub(1) {
            let frame = &mut self.frames[top];
            // SAFETY: every object on the traversal stack is mutable and owned by the calling thread.
            let values = unsafe { frame.slot.values() };
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
                        frame.low = frame.low.min(mark);
                        self.sum -= 1;
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
                descend = Some((child, child_slot));
                break;
            }
            match descend {
                Some((child, slot)) => self.discover(root, child, slot)?,
                None => self.finish_frame(),
            }
        }
        Ok(())
    }

    /// Puts `node`, whose slot is `slot`, on the path.
    #[inline(always)]
    fn discover(&mut self, root: ObjIndex, node: ObjIndex, slot: &'static Slot) -> Result<()> {
        let flags = slot.flags();
        if flags & NEVER_FREEZE != 0 {
            return Err(self.blocked(root, node));
        }
        self.reaches_atomic_ref |= flags & MAY_REACH_ATOMIC_REF != 0;
        // Every object discovered is on the stack or in a complete SCC: this one is the next.
        let mark = (self.visited.len() + self.tarjan.len()) as u32 + 1;
        self.marks.set(node, mark);
        self.tarjan.push(node);
        let refs = slot.local_refs();
        self.frames.push(Frame { node, slot, next: 0, low: mark, refs, base: self.sum });
        self.sum += i64::from(refs);
        Ok(())
    }

    fn finish_frame(&mut self) {
        let Frame { node, low, refs: own_refs, base, .. } = self.frames.pop().expect("a frame to finish");
        let mark = self.marks.get(node);
        if low != mark {
            // Not an SCC root: the parent is in the same SCC, and the edge to here is internal.
            let parent = self.frames.last_mut().expect("a non-root has a parent");
            parent.low = parent.low.min(low);
            self.sum -= 1;
            return;
        }
        let refs = u32::try_from(self.sum - base).expect("an SCC never has more internal references than counts");
        self.sum = base;
        // The SCC's members: `node` and those discovered since, on top of the stack.
        let start = self.visited.len();
        loop {
            let member = self.tarjan.pop().expect("the SCC root is on Tarjan's stack");
            self.marks.set(member, DONE | node);
            self.visited.push(member);
            if member == node {
                break;
            }
        }
        if self.visited.len() - start > 1 || refs != own_refs {
            // Several members, or a single one that refers to itself.
            self.merges.push(Merge { leader: node, refs, members: start..self.visited.len() });
        }
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

    /// Publishes the walk's result; after Tarjan's walk, also sets its marks back to zero.
    fn commit(&mut self, root: ObjIndex, label: Option<&str>) -> Result<()> {
        let heap = &HEAP;
        let record = Provenance {
            root,
            root_type: heap.slot(root).stored_type(),
            thread: thread::current(),
            label: label.map(Box::from),
        };
        let provenance = provenance::register(record, self.visited.len() as u32)
            .ok_or_else(|| Error::new(Status::ErrLimit, "cannot freeze: too many freezes are alive"))?;
        for merge in &self.merges {
            if merge.members.len() == 1 {
                heap.set_refs(merge.leader, merge.refs);
            } else {
                heap.set_scc_members(merge.leader, self.visited[merge.members.clone()].to_vec(), merge.refs);
            }
        }
        STATS.frozen.add(self.visited.len() as i64);
        // VISITED and BUFFERED stay set: both mean nothing on a frozen object, and clearing them
        // would cost a write per object.
        // The mark is per freeze, not per object: coarser, and one flag test per edge to compute.
        let mark = if self.reaches_atomic_ref { MAY_REACH_ATOMIC_REF } else { 0 };
        let Traversal { visited, marks, tarjan_marks, .. } = self;
        for &node in visited.iter() {
            let slot = heap.slot(node);
            if mark != 0 {
                slot.set_flags(mark, 0);
            }
            if *tarjan_marks {
                slot.aux.store(marks.get(node) & !DONE, Ordering::Relaxed);
                marks.set(node, 0);
            }
            slot.publish_frozen(provenance);
        }
        // The marks are all zero again: nothing for `clear` to do.
        *tarjan_marks = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::graph::object;
    use crate::core::heap::handle;

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

    #[test]
    fn each_scc_counts_the_references_from_outside_it() {
        // a <-> b; b -> c, c -> c; c -> d <-> e; a -> d once d's SCC is complete. Each object is
        // also held by its handle.
        let [a, b, c, d, e] = [(); 5].map(|()| object::new_list().unwrap());
        for (from, to) in [(a, b), (b, a), (b, c), (c, c), (c, d), (d, e), (e, d), (a, d)] {
            object::push_ref(from, Some(to)).unwrap();
        }
        let nodes = [a, b, c, d, e].map(|h| handle::resolve(h).unwrap());
        object::freeze(a, None).unwrap();
        assert_eq!(marks_left(&nodes), [0; 5], "a freeze leaves no marks");
        let leaders = nodes.map(|n| HEAP.slot(n).aux.load(Ordering::Acquire));
        assert!(leaders[0] == leaders[1] && leaders[3] == leaders[4], "two cycles, each with one leader");
        assert!(leaders[0] != leaders[3] && leaders[2] == nodes[2], "three SCCs: {leaders:?}");
        let count = |leader: ObjIndex| HEAP.slot(leader).local_refs();
        assert_eq!(count(leaders[0]), 2, "{{a, b}}: their two handles");
        assert_eq!(count(nodes[2]), 2, "{{c}}: its handle and b's reference, not its own");
        assert_eq!(count(leaders[3]), 4, "{{d, e}}: their two handles, c's and a's references");
        [a, b, c, d, e].into_iter().for_each(|h| object::release(h).unwrap());
    }

    #[test]
    fn a_walk_stopped_by_a_blocker_leaves_no_marks_on_the_path_the_stack_or_finished_sccs() {
        // r's fields: x (x -> r: finished, left on Tarjan's stack), s (a finished SCC of its own),
        // then the blocker, reached with r still on the path.
        let [r, x, s, blocker] = [(); 4].map(|()| object::new_list().unwrap());
        for (from, to) in [(r, x), (x, r), (r, s), (r, blocker)] {
            object::push_ref(from, Some(to)).unwrap();
        }
        object::ensure_never_frozen(blocker).unwrap();
        let nodes = [r, x, s, blocker].map(|h| handle::resolve(h).unwrap());
        let error = object::freeze(r, None).unwrap_err();
        assert_eq!(error.status(), Status::ErrFreezeBlocked, "{}", error.message());
        assert_eq!(marks_left(&nodes), [0; 4]);
        assert!(nodes.iter().all(|&n| !HEAP.slot(n).is_frozen()), "nothing was frozen");
        [r, x, s, blocker].into_iter().for_each(|h| object::release(h).unwrap());
    }
}
