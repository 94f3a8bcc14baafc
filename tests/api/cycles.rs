//! Mutable cycles are reclaimed by trial deletion, on demand and by themselves.

use floe::{Kind, Object, ObjectType, Runtime};

crate::tests![
    a_dropped_mutable_cycle_is_collected_on_demand,
    live_cycles_survive_collection,
    the_collector_runs_by_itself,
    garbage_cycles_release_the_frozen_objects_they_hold,
    a_thread_collects_its_cycles_when_it_exits,
];

fn ring(ty: ObjectType, n: usize) -> Vec<Object> {
    let nodes: Vec<Object> = (0..n).map(|_| Object::new(ty).unwrap()).collect();
    for (i, node) in nodes.iter().enumerate() {
        node.set_ref(0, Some(&nodes[(i + 1) % n])).unwrap();
    }
    nodes
}

fn link() -> ObjectType {
    ObjectType::define("Link", &[("next", Kind::Ref), ("payload", Kind::Ref)]).unwrap()
}

fn a_dropped_mutable_cycle_is_collected_on_demand() {
    drop(ring(link(), 100));
    assert_eq!(Runtime::stats().live_objects, 100, "counting alone cannot free a cycle");
    assert_eq!(Runtime::collect_cycles(), 100);
    assert_eq!(Runtime::stats().live_objects, 0);
}

fn live_cycles_survive_collection() {
    let mut nodes = ring(link(), 10);
    let kept = nodes.remove(4);
    drop(nodes);
    assert_eq!(Runtime::collect_cycles(), 0);
    let next = kept.get_ref(0).unwrap().unwrap();
    next.set_ref(1, Some(&kept)).unwrap();
    assert_eq!(Runtime::stats().live_objects, 10);
    drop((kept, next));
    assert_eq!(Runtime::collect_cycles(), 10);
}

fn the_collector_runs_by_itself() {
    let ty = link();
    for _ in 0..30_000 {
        drop(ring(ty, 2));
    }
    assert!(Runtime::stats().live_objects < 30_000, "left {:?}", Runtime::stats());
}

fn garbage_cycles_release_the_frozen_objects_they_hold() {
    let ty = link();
    let shared = Object::new_list().unwrap();
    shared.push_string("frozen payload").unwrap();
    shared.freeze(None).unwrap();
    let nodes = ring(ty, 3);
    nodes[1].set_ref(1, Some(&shared)).unwrap();
    drop(shared);
    drop(nodes);
    assert_eq!(Runtime::stats().frozen_objects, 1);
    Runtime::collect_cycles();
    assert_eq!(Runtime::stats().live_objects, 0);
}

fn a_thread_collects_its_cycles_when_it_exits() {
    let ty = link();
    std::thread::spawn(move || drop(ring(ty, 50))).join().unwrap();
    assert_eq!(Runtime::stats().live_objects, 0, "nobody else could have collected them");
}
