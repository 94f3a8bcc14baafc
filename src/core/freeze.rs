//! Deep freeze: one way, all or nothing, O(N), no recursion.
//!
//! One iterative Tarjan traversal over the mutable objects reachable from the root (already-frozen
//! objects are not entered) both looks for a never-frozen blocker and finds the strongly connected
//! components. The traversal's own stack is the path from the root, so a blocker is reported as
//! `Scope.job.children[3]`. Nothing is published until the traversal is complete: a blocker leaves
//! the graph exactly as it was.
//!
//! Commit: every SCC gets one count, on its leader: the sum of its members' counts minus the
//! references between members. A frozen cycle then dies by plain decrements, with no collector.
//! Counts are final before any object is published as frozen (Release on the owner word).

use super::error::{Error, Result, Status};
use super::heap::{Slot, FROZEN, HEAP, NEVER_FREEZE, ON_STACK, VISITED};
use super::ownership::{self, name, render_steps};
use super::provenance::{self, Provenance};
use super::stats::STATS;
use super::thread;
use super::value::{ObjIndex, Value};
use std::sync::atomic::Ordering;

struct Frame {
    node: ObjIndex,
    /// The next slot of `node` to look at; `next - 1` is the slot that led to the frame above.
    next: usize,
    low: u32,
}

#[derive(Default)]
struct Traversal {
    /// Objects in discovery order; an object's `aux` holds its position until its SCC is complete.
    visited: Vec<ObjIndex>,
    frames: Vec<Frame>,
    tarjan: Vec<ObjIndex>,
    /// Members of completed SCCs, grouped; `scc_ends` closes each group. `aux` now names the leader.
    /// Recorded only once a cycle was seen: SCCs completed before are acyclic singletons, whose
    /// counts need no merging.
    sccs: Vec<ObjIndex>,
    scc_ends: Vec<usize>,
    /// Whether any reference closed a cycle (only then can an SCC have internal references).
    cyclic: bool,
}

/// Freezes everything reachable from `root`, which the calling thread must own (or which is
/// already frozen, a no-op). `label` is remembered for messages about these objects.
pub(crate) fn freeze(root: ObjIndex, label: Option<&str>) -> Result<()> {
    let heap = &*HEAP;
    let me = thread::current();
    let owner = heap.slot(root).owner();
    if owner & FROZEN != 0 {
        return Ok(());
    }
    if owner != me {
        return Err(ownership::wrong_thread(
            root,
            owner,
            format!("freeze {}", name(root)),
        ));
    }
    let mut t = Traversal::default();
    if let Err(error) = t.run(root, me) {
        for &node in &t.visited {
            heap.slot(node).set_flags(0, VISITED | ON_STACK);
        }
        return Err(error);
    }
    t.commit(root, label)
}

impl Traversal {
    fn run(&mut self, root: ObjIndex, me: u32) -> Result<()> {
        let heap = &*HEAP;
        self.discover(root, root)?;
        while let Some(top) = self.frames.len().checked_sub(1) {
            let frame = &mut self.frames[top];
            let slot = heap.slot(frame.node);
            // SAFETY: every object on the traversal stack is mutable and owned by the calling thread.
            let values = unsafe { slot.values() };
            let mut descend = None;
            while let Some(value) = values.get(frame.next) {
                frame.next += 1;
                let Some(child) = value.as_ref_target() else {
                    continue;
                };
                let child_slot = heap.slot(child);
                let child_owner = child_slot.owner();
                if child_owner & FROZEN != 0 {
                    continue;
                }
                if child_owner != me {
                    let what = format!("freeze {} (it reaches {})", name(root), name(child));
                    return Err(ownership::wrong_thread(child, child_owner, what));
                }
                let flags = child_slot.flags();
                if flags & VISITED == 0 {
                    descend = Some(child);
                    break;
                }
                if flags & ON_STACK != 0 {
                    self.cyclic = true;
                    frame.low = frame.low.min(child_slot.aux.load(Ordering::Relaxed));
                }
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
        if slot.flags() & NEVER_FREEZE != 0 {
            return Err(self.blocked(root, node));
        }
        let position = self.visited.len() as u32;
        slot.aux.store(position, Ordering::Relaxed);
        slot.set_flags(VISITED | ON_STACK, 0);
        self.visited.push(node);
        self.tarjan.push(node);
        self.frames.push(Frame {
            node,
            next: 0,
            low: position,
        });
        Ok(())
    }

    fn finish_frame(&mut self) {
        let heap = &*HEAP;
        let Frame { node, low, .. } = self.frames.pop().expect("a frame to finish");
        if low == heap.slot(node).aux.load(Ordering::Relaxed) {
            loop {
                let member = self
                    .tarjan
                    .pop()
                    .expect("the SCC root is on Tarjan's stack");
                let slot = heap.slot(member);
                slot.set_flags(0, ON_STACK);
                slot.aux.store(node, Ordering::Relaxed);
                if self.cyclic {
                    self.sccs.push(member);
                }
                if member == node {
                    break;
                }
            }
            if self.cyclic {
                self.scc_ends.push(self.sccs.len());
            }
        }
        if let Some(parent) = self.frames.last_mut() {
            parent.low = parent.low.min(low);
        }
    }

    #[cold]
    fn blocked(&self, root: ObjIndex, blocker: ObjIndex) -> Error {
        let place = if blocker == root {
            "it is itself marked never-frozen".to_string()
        } else {
            let path = render_steps(root, self.frames.iter().map(|f| (f.node, f.next - 1)));
            format!(
                "it reaches {} at {path}, which is marked never-frozen",
                name(blocker)
            )
        };
        Error::new(
            Status::ErrFreezeBlocked,
            format!(
                "cannot freeze {}: {place} (ensure_never_frozen); nothing was frozen — break that reference or drop the mark first",
                name(root)
            ),
        )
    }

    fn commit(self, root: ObjIndex, label: Option<&str>) -> Result<()> {
        let heap = &*HEAP;
        let record = Provenance {
            root,
            root_name: name(root),
            thread: thread::current_name(),
            label: label.map(Box::from),
        };
        let Some(provenance) = provenance::register(record, self.visited.len() as u32) else {
            for &node in &self.visited {
                heap.slot(node).set_flags(0, VISITED | ON_STACK);
            }
            return Err(Error::new(
                Status::ErrLimit,
                "cannot freeze: too many freezes are alive",
            ));
        };
        if self.cyclic {
            let mut start = 0;
            for &end in &self.scc_ends {
                merge_scc_counts(&self.sccs[start..end]);
                start = end;
            }
        }
        STATS.frozen.add(self.visited.len() as i64);
        // VISITED and BUFFERED stay set: both mean nothing on a frozen object, and clearing them
        // would cost a write per object.
        for &node in &self.visited {
            heap.publish_frozen(node, provenance);
        }
        Ok(())
    }
}

/// Gives an SCC one count on its leader: its members' counts minus references between members.
fn merge_scc_counts(members: &[ObjIndex]) {
    let heap = &*HEAP;
    let leader = heap.slot(members[0]).aux.load(Ordering::Relaxed);
    let is_member =
        |slot: &Slot| slot.flags() & VISITED != 0 && slot.aux.load(Ordering::Relaxed) == leader;
    let mut total = 0i64;
    for &member in members {
        // SAFETY: members are still mutable and owned by the freezing (calling) thread.
        let values = unsafe { heap.slot(member).values() };
        let internal = values
            .iter()
            .filter_map(Value::as_ref_target)
            .filter(|&t| is_member(heap.slot(t)))
            .count();
        total += i64::from(heap.slot(member).local_refs()) - internal as i64;
    }
    let total =
        u32::try_from(total).expect("an SCC never has more internal references than counts");
    if members.len() > 1 {
        heap.set_scc_members(leader, members.to_vec(), total);
    } else {
        heap.set_refs(leader, total);
    }
}
