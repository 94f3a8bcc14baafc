//! Frozen SCCs merged when an atomic reference closes a cycle between them, so that the cycle is
//! reclaimed by counting like any other frozen cycle (Kotlin/Native's legacy collector leaked these).
//!
//! Invariants:
//! - A frozen object's plain references never change, and point into its own SCC or at objects
//!   frozen earlier: frozen SCCs form a DAG, counted per SCC. Only an atomic reference can point
//!   back. Pointing X's atomic reference at Y closes a cycle exactly when Y reaches X; every SCC on
//!   a path from Y to X then joins X's, and the joined SCC dies as one when nothing outside it
//!   refers to it.
//! - Every atomic reference write holds `TOPOLOGY` from its search to its store, so no edge of the
//!   frozen graph changes during a search and merge. Each edge on a path from Y is counted (or
//!   inside one SCC), and the writer holds Y: nothing on such a path can be freed meanwhile.
//! - Only objects marked `MAY_REACH_ATOMIC_REF` can reach X, which has an atomic reference field;
//!   the search skips every other object, so storing plain frozen data costs one flag test.
//! - A merged SCC stays merged when the atomic reference is later changed: it is freed when nothing
//!   outside the whole of it refers to it — never earlier, possibly later.

use crate::core::heap::header::{FROZEN, MAY_REACH_ATOMIC_REF};
use crate::core::heap::slots::HEAP;
use crate::core::heap::value::{ObjIndex, Value};
use parking_lot::Mutex;
use std::collections::HashMap;

/// Held by every atomic reference write (see the module invariants).
pub(crate) static TOPOLOGY: Mutex<()> = Mutex::new(());

/// The targets of a frozen object's references, atomic ones included.
fn edges(index: ObjIndex) -> impl Iterator<Item = ObjIndex> {
    // SAFETY: the object is frozen (callers only pass frozen objects reached from frozen objects):
    // its values never change except atomic cells, which are read atomically.
    let values: &Vec<Value> = unsafe { HEAP.slot(index).values() };
    values.iter().filter_map(Value::as_ref_target)
}

/// Called with `TOPOLOGY` held, before `container`'s atomic reference is pointed at `target` (both
/// frozen, in different SCCs): if `target` reaches `container`, merges every SCC on the way into
/// `container`'s. Returns whether it merged.
pub(crate) fn close_cycle(container: ObjIndex, target: ObjIndex) -> bool {
    if HEAP.slot(target).flags() & MAY_REACH_ATOMIC_REF == 0 || HEAP.slot(container).owner() & FROZEN == 0 {
        return false;
    }
    // Forward from `target` over objects that may reach an atomic reference field, recording edges.
    let mut position: HashMap<ObjIndex, usize> = HashMap::from([(target, 0)]);
    let mut nodes = vec![target];
    let mut incoming: Vec<Vec<usize>> = vec![Vec::new()];
    let mut next = 0;
    while let Some(&node) = nodes.get(next) {
        for child in edges(node).filter(|&c| HEAP.slot(c).flags() & MAY_REACH_ATOMIC_REF != 0) {
            let at = *position.entry(child).or_insert_with(|| {
                nodes.push(child);
                incoming.push(Vec::new());
                nodes.len() - 1
            });
            incoming[at].push(next);
        }
        next += 1;
    }
    let Some(&end) = position.get(&container) else {
        return false;
    };
    // Backward from `container`: the objects on some path from `target` to it.
    let mut on_cycle = vec![false; nodes.len()];
    on_cycle[end] = true;
    let mut work = vec![end];
    while let Some(at) = work.pop() {
        for &from in &incoming[at] {
            if !on_cycle[from] {
                on_cycle[from] = true;
                work.push(from);
            }
        }
    }
    let leader = HEAP.leader(container);
    let mut others: Vec<ObjIndex> =
        nodes.iter().zip(&on_cycle).filter(|(_, &on)| on).map(|(&n, _)| HEAP.leader(n)).collect();
    others.sort_unstable();
    others.dedup();
    others.retain(|&l| l != leader);
    let members: Vec<ObjIndex> =
        others.iter().chain([&leader]).flat_map(|&l| HEAP.scc_members_of(l)).collect::<Vec<_>>();
    // References between the SCCs being merged were counted; inside the merged SCC they are not.
    let merged = |l: ObjIndex| l == leader || others.binary_search(&l).is_ok();
    let internal = members
        .iter()
        .map(|&m| {
            let own = HEAP.leader(m);
            edges(m).map(|t| HEAP.leader(t)).filter(|&l| l != own && merged(l)).count() as u32
        })
        .sum();
    HEAP.merge_sccs(leader, &others, members, internal);
    true
}

#[cfg(test)]
mod tests {
    use crate::core::graph::atomic;
    use crate::core::graph::object;
    use crate::core::heap::handle;
    use crate::core::heap::slots::HEAP;
    use crate::core::heap::types;
    use crate::core::heap::value::Kind;

    /// Two holders frozen apart close a cycle through their atomic references while another thread
    /// retains and releases one of them through the old leader: the merged SCC is freed by the
    /// last release, and no count is lost to the forwarding.
    #[test]
    fn a_cycle_closed_across_frozen_graphs_is_freed_by_counting() {
        let ty = types::define("Link", &[("next", Kind::AtomicRef)]).unwrap();
        let frozen = || {
            let o = object::new_object(ty).unwrap();
            object::freeze(o, None).unwrap();
            o
        };
        let (a, b) = (frozen(), frozen());
        let (a_index, b_index) = (handle::resolve(a).unwrap(), handle::resolve(b).unwrap());
        let b_elsewhere = object::retain(b).unwrap();
        let churn = std::thread::spawn(move || {
            for _ in 0..10 {
                let extra = object::retain(b_elsewhere).unwrap();
                object::release(extra).unwrap();
            }
            object::release(b_elsewhere).unwrap();
        });
        atomic::set_ref(a, 0, Some(b)).unwrap();
        atomic::set_ref(b, 0, Some(a)).unwrap();
        churn.join().unwrap();
        assert_eq!(HEAP.leader(a_index), HEAP.leader(b_index), "one SCC now");
        object::release(a).unwrap();
        assert!(HEAP.slot(b_index).is_frozen(), "b's handle keeps the merged SCC");
        object::release(b).unwrap();
        assert_eq!(HEAP.slot(a_index).owner(), 0, "freed by counting");
        assert_eq!(HEAP.slot(b_index).owner(), 0);
    }
}
