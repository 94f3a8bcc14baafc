//! Property tests on random graphs (cycles, self-loops, shared children, blockers, frozen parts,
//! garbage): freeze is deep and all-or-nothing, reads see what was written; a SAFE transfer goes
//! exactly when nothing outside the graph refers into it, moves the whole graph or nothing, and an
//! UNSAFE one leaves references that fail on use; every object is reclaimed at the end.

use crate::ownership::on_thread;
use floe::{Kind, Object, ObjectType, Runtime, Status, TransferMode};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

crate::tests![
    random_graphs_freeze_all_or_nothing_and_leave_nothing_behind,
    random_graphs_transfer_whole_exactly_when_nothing_outside_refers_in,
];

const FIELDS: usize = 3;
/// The int field that holds each object's index in the plan.
const INDEX: usize = 3;

#[derive(Debug, Clone)]
struct Plan {
    nodes: usize,
    /// (from, field, to)
    edges: Vec<(usize, usize, usize)>,
    blockers: Vec<usize>,
    freezes: Vec<usize>,
    /// Order in which handles are dropped; a node is dropped once, at its first mention.
    drops: Vec<usize>,
    /// The transfer's root, and whether its mode is SAFE (or UNSAFE).
    root: usize,
    safe: bool,
}

fn plan() -> impl Strategy<Value = Plan> {
    (1usize..40).prop_flat_map(|n| {
        (
            Just(n),
            prop::collection::vec((0..n, 0..FIELDS, 0..n), 0..n * 3),
            prop::collection::vec(0..n, 0..3),
            prop::collection::vec(0..n, 0..4),
            prop::collection::vec(0..n, 0..n * 2),
            (0..n, any::<bool>()),
        )
            .prop_map(|(nodes, edges, blockers, freezes, drops, (root, safe))| Plan {
                nodes,
                edges,
                blockers,
                freezes,
                drops,
                root,
                safe,
            })
    })
}

fn reachable(plan: &Plan, adjacency: &[[Option<usize>; FIELDS]], root: usize) -> Vec<bool> {
    let mut seen = vec![false; plan.nodes];
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        if !std::mem::replace(&mut seen[n], true) {
            stack.extend(adjacency[n].iter().flatten());
        }
    }
    seen
}

/// A plan made: its objects, the edges each holds, and which are frozen.
struct Built {
    objects: Vec<Object>,
    adjacency: Vec<[Option<usize>; FIELDS]>,
    frozen: Vec<bool>,
}

/// The plan's objects, each holding its index in field `INDEX`, with its edges; then its blockers
/// and freezes, checked against the model as they go.
fn build(plan: &Plan, ty: ObjectType) -> Result<Built, TestCaseError> {
    let objects: Vec<Object> = (0..plan.nodes).map(|_| Object::new(ty).unwrap()).collect();
    for (i, o) in objects.iter().enumerate() {
        o.set_int(INDEX, i as i64).unwrap();
    }
    let mut adjacency = vec![[None; FIELDS]; plan.nodes];
    for &(from, field, to) in &plan.edges {
        objects[from].set_ref(field, Some(&objects[to])).unwrap();
        adjacency[from][field] = Some(to);
    }
    for &b in &plan.blockers {
        objects[b].ensure_never_frozen().unwrap();
    }
    let mut frozen = vec![false; plan.nodes];
    for &root in &plan.freezes {
        let reach = reachable(plan, &adjacency, root);
        let blocked = plan.blockers.iter().any(|&b| reach[b] && !frozen[b]);
        match objects[root].freeze(Some("prop")) {
            Ok(()) => {
                prop_assert!(!blocked || frozen[root]);
                (0..plan.nodes).filter(|&i| reach[i]).for_each(|i| frozen[i] = true);
            }
            Err(e) => {
                prop_assert_eq!(e.status(), Status::ErrFreezeBlocked);
                prop_assert!(blocked);
            }
        }
        for (i, o) in objects.iter().enumerate() {
            prop_assert_eq!(o.is_frozen().unwrap(), frozen[i], "node {}", i);
        }
    }
    Ok(Built { objects, adjacency, frozen })
}

fn check(plan: Plan, ty: ObjectType) -> Result<(), TestCaseError> {
    let Built { objects, adjacency, .. } = build(&plan, ty)?;
    for (i, o) in objects.iter().enumerate() {
        for (f, expected) in adjacency[i].iter().enumerate() {
            let id = o.get_ref(f).unwrap().map(|t| t.id().unwrap());
            prop_assert_eq!(id, expected.map(|j| objects[j].id().unwrap()));
        }
    }
    prop_assert_eq!(Runtime::stats().live_objects, plan.nodes as u64);
    let mut slots: Vec<Option<Object>> = objects.into_iter().map(Some).collect();
    for &d in &plan.drops {
        slots[d] = None;
    }
    drop(slots);
    Runtime::collect_cycles();
    prop_assert_eq!(Runtime::stats(), floe::Stats::default());
    Ok(())
}

/// The indices of the objects reachable from `root`, read through the API on the calling thread.
fn read_graph(root: &Object) -> Vec<usize> {
    let (mut seen, mut stack) = (Vec::new(), vec![root.try_clone().unwrap()]);
    while let Some(o) = stack.pop() {
        let index = o.get_int(INDEX).unwrap() as usize;
        if !seen.contains(&index) {
            seen.push(index);
            stack.extend((0..FIELDS).filter_map(|f| o.get_ref(f).unwrap()));
        }
    }
    seen.sort_unstable();
    seen
}

/// The plan's graph, some handles dropped (making garbage, cyclic or not), then its root's graph
/// transferred to another thread, read there, and sent back. The model: the members are the
/// mutable objects reachable from the root; a reference from outside is another kept handle to a
/// member, or an edge into one from a mutable object that a kept handle still reaches (garbage,
/// cyclic or not, holds none that counts).
fn check_transfer(plan: Plan, ty: ObjectType) -> Result<(), TestCaseError> {
    let Built { objects, adjacency, frozen } = build(&plan, ty)?;
    let n = plan.nodes;
    let mut kept: Vec<Option<Object>> = objects.into_iter().map(Some).collect();
    for &d in plan.drops.iter().filter(|&&d| d != plan.root) {
        kept[d] = None;
    }
    let reach = reachable(&plan, &adjacency, plan.root);
    let member: Vec<bool> = (0..n).map(|i| reach[i] && !frozen[i]).collect();
    let mut live = vec![false; n];
    for k in (0..n).filter(|&k| kept[k].is_some()) {
        reachable(&plan, &adjacency, k).iter().enumerate().filter(|(_, &r)| r).for_each(|(i, _)| live[i] = true);
    }
    let outside = (0..n).any(|i| member[i] && i != plan.root && kept[i].is_some())
        || (0..n).any(|i| live[i] && !member[i] && !frozen[i] && adjacency[i].iter().flatten().any(|&t| member[t]));
    let mode = if plan.safe { TransferMode::Safe } else { TransferMode::Unsafe };
    let root = kept[plan.root].take().unwrap();
    match root.detach(mode) {
        Err(failed) => {
            prop_assert!(plan.safe && outside, "refused: {}", failed.error);
            prop_assert_eq!(failed.error.status(), Status::ErrNotTransferable);
            kept[plan.root] = Some(failed.object);
        }
        Ok(graph) => {
            prop_assert!(!plan.safe || !outside, "a SAFE transfer went with a reference from outside");
            for (i, o) in kept.iter().enumerate().filter_map(|(i, o)| o.as_ref().map(|o| (i, o))) {
                let read = o.get_int(INDEX);
                if member[i] {
                    prop_assert_eq!(read.unwrap_err().status(), Status::ErrWrongThread, "left behind: node {}", i);
                } else {
                    prop_assert_eq!(read.unwrap(), i as i64);
                }
            }
            let (seen, back) = on_thread("receiver", move || {
                let root = graph.attach().unwrap();
                (read_graph(&root), root.detach(mode).unwrap())
            });
            let expected: Vec<usize> = (0..n).filter(|&i| reach[i]).collect();
            prop_assert_eq!(seen, expected, "the receiver reads the whole graph");
            kept[plan.root] = Some(back.attach().unwrap());
        }
    }
    // Here again, whether refused or sent and back: every kept handle reads its own object.
    for (i, o) in kept.iter().enumerate().filter_map(|(i, o)| o.as_ref().map(|o| (i, o))) {
        prop_assert_eq!(o.get_int(INDEX).unwrap(), i as i64);
        prop_assert_eq!(o.is_frozen().unwrap(), frozen[i]);
    }
    prop_assert_eq!(read_graph(kept[plan.root].as_ref().unwrap()), (0..n).filter(|&i| reach[i]).collect::<Vec<_>>());
    drop(kept);
    Runtime::collect_cycles();
    prop_assert_eq!(Runtime::stats(), floe::Stats::default());
    Ok(())
}

fn node_type() -> ObjectType {
    ObjectType::define("G", &[("a", Kind::Ref), ("b", Kind::Ref), ("c", Kind::Ref), ("index", Kind::Int)]).unwrap()
}

fn random_graphs_freeze_all_or_nothing_and_leave_nothing_behind() {
    let ty = node_type();
    let config = Config { cases: 256, failure_persistence: None, ..Config::default() };
    TestRunner::new(config).run(&plan(), |p| check(p, ty)).unwrap();
}

fn random_graphs_transfer_whole_exactly_when_nothing_outside_refers_in() {
    let ty = node_type();
    let config = Config { cases: 256, failure_persistence: None, ..Config::default() };
    TestRunner::new(config).run(&plan(), |p| check_transfer(p, ty)).unwrap();
}
