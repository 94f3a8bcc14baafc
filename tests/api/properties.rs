//! Property tests: on random graphs (cycles, self-loops, shared children, blockers), freeze is deep
//! and all-or-nothing, reads see what was written, and every object is reclaimed at the end.

use floe::{Kind, Object, ObjectType, Runtime, Status};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

crate::tests![random_graphs_freeze_all_or_nothing_and_leave_nothing_behind];

const FIELDS: usize = 3;

#[derive(Debug, Clone)]
struct Plan {
    nodes: usize,
    /// (from, field, to)
    edges: Vec<(usize, usize, usize)>,
    blockers: Vec<usize>,
    freezes: Vec<usize>,
    /// Order in which handles are dropped; a node is dropped once, at its first mention.
    drops: Vec<usize>,
}

fn plan() -> impl Strategy<Value = Plan> {
    (1usize..40).prop_flat_map(|n| {
        (
            Just(n),
            prop::collection::vec((0..n, 0..FIELDS, 0..n), 0..n * 3),
            prop::collection::vec(0..n, 0..3),
            prop::collection::vec(0..n, 0..4),
            prop::collection::vec(0..n, 0..n * 2),
        )
            .prop_map(|(nodes, edges, blockers, freezes, drops)| Plan {
                nodes,
                edges,
                blockers,
                freezes,
                drops,
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

fn check(plan: Plan, ty: ObjectType) -> Result<(), TestCaseError> {
    let objects: Vec<Object> = (0..plan.nodes).map(|_| Object::new(ty).unwrap()).collect();
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
        let reach = reachable(&plan, &adjacency, root);
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

fn random_graphs_freeze_all_or_nothing_and_leave_nothing_behind() {
    let ty = ObjectType::define("G", &[("a", Kind::Ref), ("b", Kind::Ref), ("c", Kind::Ref)]).unwrap();
    let config = Config { cases: 256, failure_persistence: None, ..Config::default() };
    TestRunner::new(config).run(&plan(), |p| check(p, ty)).unwrap();
}
