//! Subgraph transfer and detached graphs.

use crate::freeze::{scope_with_children, types};
use crate::harness::assert_error;
use crate::ownership::on_thread;
use floe::{DetachedGraph, Object, Runtime, Status, TransferMode};

crate::tests![
    a_graph_moves_whole_to_another_thread,
    an_outside_reference_refuses_the_transfer_and_moves_nothing,
    unreachable_garbage_does_not_block_a_safe_transfer,
    unsafe_transfer_leaves_references_that_fail_on_use,
    a_left_behind_handle_released_by_the_sender_is_dropped_by_the_receiver,
    frozen_graphs_are_shared_not_moved,
    an_unattached_graph_is_reclaimed,
    a_lone_object_moves_only_when_its_handle_is_the_one_reference,
];

fn a_graph_moves_whole_to_another_thread() {
    let t = types();
    let (scope, job, children) = scope_with_children(&t, 3);
    drop((job, children));
    let graph = scope.detach(TransferMode::Safe).unwrap();
    assert_eq!(Runtime::stats().detached_graphs, 1);
    let back = on_thread("receiver", move || {
        let scope = graph.attach().unwrap();
        let job = scope.get_ref(1).unwrap().unwrap();
        job.set_string(0, "moved").unwrap();
        let list = job.get_ref(1).unwrap().unwrap();
        assert_eq!(list.len().unwrap(), 3);
        drop((job, list));
        scope.detach(TransferMode::Safe).unwrap()
    });
    let scope = back.attach().unwrap();
    let job = scope.get_ref(1).unwrap().unwrap();
    assert_eq!(job.get_string(0).unwrap(), "moved");
    assert_eq!(Runtime::stats().detached_graphs, 0);
}

fn an_outside_reference_refuses_the_transfer_and_moves_nothing() {
    let t = types();
    let (scope, job, children) = scope_with_children(&t, 4);
    drop(job);
    let scope_id = scope.id().unwrap();
    let failed = scope.detach(TransferMode::Safe).unwrap_err();
    assert_eq!(failed.error.status(), Status::ErrNotTransferable);
    let message = failed.error.message();
    assert!(message.contains(&format!("cannot transfer Scope#{scope_id}")), "{message}");
    assert!(message.contains("at Scope.job.children[0] has 1 reference from outside the graph"), "{message}");
    assert!(message.contains("nothing moved"), "{message}");
    let scope = failed.object;
    scope.set_string(0, "still mine").unwrap();
    drop(children);
    scope.detach(TransferMode::Safe).unwrap().attach().unwrap();
}

fn unreachable_garbage_does_not_block_a_safe_transfer() {
    let t = types();
    let (scope, job, children) = scope_with_children(&t, 1);
    drop(children);
    // A garbage cycle that still refers to the job (kotlin-native#3801).
    let a = Object::new_list().unwrap();
    let b = Object::new_list().unwrap();
    a.push_ref(Some(&b)).unwrap();
    b.push_ref(Some(&a)).unwrap();
    a.push_ref(Some(&job)).unwrap();
    drop((a, b, job));
    let graph = scope.detach(TransferMode::Safe).expect("the collector clears the garbage reference");
    drop(graph);
}

fn unsafe_transfer_leaves_references_that_fail_on_use() {
    let t = types();
    let (scope, job, children) = scope_with_children(&t, 2);
    drop(children);
    let job_id = job.id().unwrap();
    let graph = scope.detach(TransferMode::Unsafe).unwrap();
    assert_error(job.get_string(0), Status::ErrWrongThread, &[&format!("Job#{job_id} is in transit")]);
    let left_behind = job.into_raw();
    on_thread("receiver", move || {
        let scope = graph.attach().unwrap();
        let job = scope.get_ref(1).unwrap().unwrap();
        job.set_string(0, "receiver's now").unwrap();
        // The left-behind handle counts as a reference; the receiver may release it.
        Object::from_raw(left_behind).release().unwrap();
    });
}

fn a_left_behind_handle_released_by_the_sender_is_dropped_by_the_receiver() {
    let t = types();
    let (scope, job, children) = scope_with_children(&t, 2);
    drop(children);
    let graph = scope.detach(TransferMode::Unsafe).unwrap();
    job.release().expect("the sender may release the handle it left behind");
    assert_eq!(Runtime::stats().live_objects, 5, "the reference is parked for the graph's next owner");
    on_thread("receiver", move || {
        let scope = graph.attach().unwrap();
        assert_eq!(scope.get_ref(1).unwrap().unwrap().get_string(0).unwrap(), "active");
    });
}

fn frozen_graphs_are_shared_not_moved() {
    let t = types();
    let (scope, _job, _children) = scope_with_children(&t, 2);
    scope.freeze(Some("shared")).unwrap();
    let mine = scope.try_clone().unwrap();
    let graph = scope.detach(TransferMode::Safe).expect("frozen graphs need no check");
    let name = on_thread("reader", move || graph.attach().unwrap().get_string(0).unwrap());
    assert_eq!(name, "io");
    assert_eq!(mine.get_string(0).unwrap(), "io");
}

fn an_unattached_graph_is_reclaimed() {
    let t = types();
    let (scope, job, children) = scope_with_children(&t, 5);
    drop((job, children));
    let graph: DetachedGraph = scope.detach(TransferMode::Safe).unwrap();
    on_thread("disposer", move || drop(graph));
    assert_eq!(Runtime::stats().live_objects, 0);
}

fn a_lone_object_moves_only_when_its_handle_is_the_one_reference() {
    let t = types();
    let job = Object::new(t.job).unwrap();
    job.set_string(0, "alone").unwrap();
    let job_id = job.id().unwrap();
    let second = job.try_clone().unwrap();
    let failed = job.detach(TransferMode::Safe).unwrap_err();
    assert_eq!(failed.error.status(), Status::ErrNotTransferable);
    let message = failed.error.message();
    assert!(message.contains(&format!("Job#{job_id} at the root has 1 reference from outside the graph")), "{message}");
    let job = failed.object;
    assert_eq!(job.get_string(0).unwrap(), "alone", "nothing moved");
    let graph = job.detach(TransferMode::Unsafe).expect("UNSAFE skips the check");
    assert_error(second.get_string(0), Status::ErrWrongThread, &[&format!("Job#{job_id} is in transit")]);
    let left_behind = second.into_raw();
    let state = on_thread("receiver", move || {
        let job = graph.attach().unwrap();
        Object::from_raw(left_behind).release().unwrap();
        let moved = job.detach(TransferMode::Safe).expect("its one reference is the handle");
        moved.attach().unwrap().get_string(0).unwrap()
    });
    assert_eq!(state, "alone");
}
