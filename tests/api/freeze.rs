//! Deep freeze: all or nothing, blockers with paths, provenance in messages, huge graphs.

use crate::harness::{assert_error, place, Place};
use crate::ownership::on_thread;
use floe::{Kind, Object, ObjectType, Runtime, Status};

crate::tests![
    freeze_is_deep_and_frozen_objects_are_shared_read_only,
    writes_to_frozen_objects_name_the_freeze_that_froze_them,
    the_freeze_is_named_after_its_root_is_gone_and_its_thread_has_exited,
    a_never_frozen_object_blocks_the_freeze_and_nothing_changes,
    frozen_cycles_are_freed_without_the_collector,
    a_ten_million_node_list_freezes_and_frees_without_recursion,
    marking_a_frozen_object_never_frozen_is_refused,
];

pub struct Types {
    pub scope: ObjectType,
    pub job: ObjectType,
}

pub fn types() -> Types {
    Types {
        scope: ObjectType::define("Scope", &[("name", Kind::String), ("job", Kind::Ref)]).unwrap(),
        job: ObjectType::define("Job", &[("state", Kind::String), ("children", Kind::Ref)]).unwrap(),
    }
}

/// Scope → Job → children list of `n` Jobs. Returns (scope, job, children).
pub fn scope_with_children(t: &Types, n: usize) -> (Object, Object, Vec<Object>) {
    let scope = Object::new(t.scope).unwrap();
    scope.set_string(0, "io").unwrap();
    let job = Object::new(t.job).unwrap();
    job.set_string(0, "active").unwrap();
    scope.set_ref(1, Some(&job)).unwrap();
    let list = Object::new_list().unwrap();
    job.set_ref(1, Some(&list)).unwrap();
    let children: Vec<Object> = (0..n)
        .map(|i| {
            let child = Object::new(t.job).unwrap();
            child.set_string(0, &format!("child {i}")).unwrap();
            list.push_ref(Some(&child)).unwrap();
            child
        })
        .collect();
    (scope, job, children)
}

fn freeze_is_deep_and_frozen_objects_are_shared_read_only() {
    let t = types();
    let (scope, job, children) = scope_with_children(&t, 3);
    scope.freeze(Some("share")).unwrap();
    assert!(scope.is_frozen().unwrap() && job.is_frozen().unwrap());
    assert!(children.iter().all(|c| c.is_frozen().unwrap()));
    scope.freeze(None).expect("freezing a frozen graph is a no-op");
    assert_eq!(Runtime::stats().frozen_objects, 6);
    let handle = scope.handle();
    let seen = on_thread("reader", move || {
        let scope = Object::borrowed(handle);
        let job = scope.get_ref(1).unwrap().unwrap();
        let list = job.get_ref(1).unwrap().unwrap();
        let last = list.get_ref(2).unwrap().unwrap();
        (scope.get_string(0).unwrap(), list.len().unwrap(), last.get_string(0).unwrap())
    });
    assert_eq!(seen, ("io".to_string(), 3, "child 2".to_string()));
}

fn writes_to_frozen_objects_name_the_freeze_that_froze_them() {
    let t = types();
    let (scope, job, children) = scope_with_children(&t, 4);
    scope.freeze(Some("launch")).unwrap();
    let (scope_id, job_id) = (scope.id().unwrap(), job.id().unwrap());
    let thread = if place() == Place::Main { "main" } else { "floe-test-background" };
    let message = assert_error(
        job.set_string(0, "done"),
        Status::ErrFrozen,
        &[&format!("cannot set Job#{job_id}.state: Job#{job_id} is frozen — frozen by freeze(Scope#{scope_id}, \"launch\") on thread {thread}, reached via Scope.job")],
    );
    assert!(message.contains(&format!("calling thread: {thread}")), "{message}");
    assert_error(children[3].set_string(0, "x"), Status::ErrFrozen, &["reached via Scope.job.children[3]"]);
    assert_error(scope.set_string(0, "x"), Status::ErrFrozen, &["as the root"]);
    // From another thread, the same provenance, and the caller named.
    let handle = job.handle();
    on_thread("writer", move || {
        let job = Object::borrowed(handle);
        assert_error(job.set_ref(1, None), Status::ErrFrozen, &["\"launch\"", "calling thread: writer"]);
    });
}

fn the_freeze_is_named_after_its_root_is_gone_and_its_thread_has_exited() {
    // Made and frozen on a thread that then exits; its root is dropped before the message is made.
    let (scope_id, job) = on_thread("froze-it", move || {
        let (scope, job, children) = scope_with_children(&types(), 2);
        drop(children);
        scope.freeze(Some("short-lived")).unwrap();
        (scope.id().unwrap(), job)
    });
    assert_error(
        job.set_string(0, "x"),
        Status::ErrFrozen,
        &[&format!(
            "frozen by freeze(Scope#{scope_id}, \"short-lived\") on thread froze-it (exited), reached from \
             Scope#{scope_id} (no longer reachable from it)"
        )],
    );
}

fn a_never_frozen_object_blocks_the_freeze_and_nothing_changes() {
    let t = types();
    let (scope, job, children) = scope_with_children(&t, 5);
    children[3].ensure_never_frozen().unwrap();
    let (scope_id, blocker_id) = (scope.id().unwrap(), children[3].id().unwrap());
    assert_error(
        scope.freeze(Some("launch")),
        Status::ErrFreezeBlocked,
        &[
            &format!("cannot freeze Scope#{scope_id}: it reaches Job#{blocker_id} at Scope.job.children[3]"),
            "nothing was frozen",
        ],
    );
    assert!(!scope.is_frozen().unwrap() && !job.is_frozen().unwrap());
    assert!(children.iter().all(|c| !c.is_frozen().unwrap()));
    assert_eq!(Runtime::stats().frozen_objects, 0);
    job.set_string(0, "still mutable").unwrap();
    // Cut the blocker out and the same freeze goes through.
    let list = job.get_ref(1).unwrap().unwrap();
    list.set_ref(3, None).unwrap();
    scope.freeze(None).unwrap();
    assert!(children[2].is_frozen().unwrap() && !children[3].is_frozen().unwrap());
}

fn frozen_cycles_are_freed_without_the_collector() {
    let node = ObjectType::define("Node", &[("next", Kind::Ref), ("other", Kind::Ref)]).unwrap();
    let nodes: Vec<Object> = (0..50).map(|_| Object::new(node).unwrap()).collect();
    for (i, n) in nodes.iter().enumerate() {
        n.set_ref(0, Some(&nodes[(i + 1) % nodes.len()])).unwrap();
        n.set_ref(1, Some(&nodes[(i * 7) % nodes.len()])).unwrap();
    }
    nodes[0].freeze(None).unwrap();
    assert_eq!(Runtime::stats().frozen_objects, 50);
    let keep = nodes[17].try_clone().unwrap();
    drop(nodes);
    assert_eq!(Runtime::stats().live_objects, 50, "one handle keeps the whole frozen cycle");
    drop(keep);
    assert_eq!(Runtime::stats().live_objects, 0, "freed by counting alone");
}

fn a_ten_million_node_list_freezes_and_frees_without_recursion() {
    const N: usize = 10_000_000;
    let cell = ObjectType::define("Cell", &[("value", Kind::Int), ("next", Kind::Ref)]).unwrap();
    let head = Object::new(cell).unwrap();
    let mut tail = head.try_clone().unwrap();
    for i in 1..N {
        let next = Object::new(cell).unwrap();
        next.set_int(0, i as i64).unwrap();
        tail.set_ref(1, Some(&next)).unwrap();
        tail = next;
    }
    drop(tail);
    head.freeze(Some("big")).unwrap();
    assert_eq!(Runtime::stats().frozen_objects, N as u64);
    drop(head);
    assert_eq!(Runtime::stats().live_objects, 0);
}

fn marking_a_frozen_object_never_frozen_is_refused() {
    let list = Object::new_list().unwrap();
    list.freeze(None).unwrap();
    assert_error(list.ensure_never_frozen(), Status::ErrFrozen, &["never-frozen"]);
}
