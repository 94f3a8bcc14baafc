//! One owner or frozen: mutable objects are usable only on their owner thread.

use crate::harness::{assert_error, place, Place};
use floe::{Object, Runtime, Status};

crate::tests![
    another_thread_cannot_touch_a_mutable_object,
    a_thread_new_to_floe_reads_frozen_fields_and_writes_none,
    any_thread_may_release_a_handle_and_the_owner_drops_it,
    objects_of_an_exited_thread_are_freed_by_the_last_release_anywhere,
    orphan_cycles_are_collected,
    references_to_another_threads_objects_are_refused,
    only_the_first_thread_is_main,
];

/// Runs `f` on a fresh named thread and returns its result.
pub fn on_thread<T: Send>(name: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| std::thread::Builder::new().name(name.into()).spawn_scoped(s, f).unwrap().join().unwrap())
}

fn another_thread_cannot_touch_a_mutable_object() {
    let list = Object::new_list().unwrap();
    list.push_int(1).unwrap();
    let id = list.id().unwrap();
    let me = match place() {
        Place::Main => "main",
        Place::Background => "floe-test-background",
    };
    let handle = list.handle();
    let messages = on_thread("intruder", move || {
        let foreign = Object::borrowed(handle);
        let read = assert_error(
            foreign.get_int(0),
            Status::ErrWrongThread,
            &[&format!("List#{id}"), "owned by thread", "calling thread is intruder"],
        );
        assert_error(foreign.push_int(2), Status::ErrWrongThread, &[]);
        assert_error(foreign.freeze(None), Status::ErrWrongThread, &[]);
        assert_error(foreign.try_clone(), Status::ErrWrongThread, &[]);
        read
    });
    assert!(messages.contains(&format!("owned by thread {me}")), "{}", messages);
    assert_eq!(list.len().unwrap(), 1, "the intruder changed nothing");
}

/// Field access has a short path for a thread floe knows; a thread whose first floe call is a read
/// or a write takes the long one, and gets the same answers from C and Rust.
fn a_thread_new_to_floe_reads_frozen_fields_and_writes_none() {
    use floe::ffi::object::{floe_object_get_int, floe_object_set_int};
    let point = Object::new_list().unwrap();
    point.push_int(7).unwrap();
    point.freeze(None).unwrap();
    let mutable = Object::new_list().unwrap();
    mutable.push_int(8).unwrap();
    let (frozen, mutable_handle) = (point.handle(), mutable.handle());
    for first_call_in_c in [true, false] {
        on_thread("newcomer", move || {
            let mut value = 0;
            if first_call_in_c {
                // SAFETY: a writable out-parameter.
                assert_eq!(unsafe { floe_object_get_int(frozen, 0, &mut value) }, Status::Ok);
            } else {
                value = Object::borrowed(frozen).get_int(0).unwrap();
            }
            assert_eq!(value, 7, "a frozen field reads the same on any thread");
            for _ in 0..2 {
                // SAFETY: a writable out-parameter.
                assert_eq!(unsafe { floe_object_get_int(frozen, 0, &mut value) }, Status::Ok);
                assert_eq!((value, Object::borrowed(frozen).get_int(0).unwrap()), (7, 7));
                assert_eq!(floe_object_set_int(frozen, 0, 1), Status::ErrFrozen);
                assert_eq!(floe_object_set_int(mutable_handle, 0, 1), Status::ErrWrongThread);
                // SAFETY: a writable out-parameter.
                let status = unsafe { floe_object_get_int(mutable_handle, 0, &mut value) };
                assert_eq!(status, Status::ErrWrongThread);
            }
        });
    }
    assert_eq!((point.get_int(0).unwrap(), mutable.get_int(0).unwrap()), (7, 8), "nothing was written");
}

/// A host drops its last reference wherever it happens to be (a Swift `deinit`, a C++ destructor):
/// the release is accepted on any thread, and the owner drops the reference at its next drain.
fn any_thread_may_release_a_handle_and_the_owner_drops_it() {
    let list = Object::new_list().unwrap();
    let child = Object::new_list().unwrap();
    list.push_ref(Some(&child)).unwrap();
    let (list_handle, child_handle) = (list.into_raw(), child.into_raw());
    on_thread("releaser", move || {
        Object::from_raw(list_handle).release().expect("any thread may release a handle");
        assert_error(Object::from_raw(list_handle).release(), Status::ErrDoubleRelease, &[]);
    });
    let before = Runtime::stats();
    assert_eq!((before.live_handles, before.live_objects), (1, 2), "the list waits for its owner");
    Runtime::collect_cycles();
    assert_eq!(Runtime::stats().live_objects, 1, "the owner dropped the parked reference: the list is gone");
    Object::from_raw(child_handle).release().unwrap();
}

/// A thread that exits while others hold handles to its objects leaves orphans: nobody may use
/// them, and whoever drops the last reference frees them, children included.
fn objects_of_an_exited_thread_are_freed_by_the_last_release_anywhere() {
    let (root, child) = on_thread("short-lived", || {
        let root = Object::new_list().unwrap();
        let child = Object::new_list().unwrap();
        root.push_ref(Some(&child)).unwrap();
        (root.into_raw(), child.into_raw())
    });
    let root = Object::from_raw(root);
    assert_error(root.len(), Status::ErrWrongThread, &["owned by thread short-lived (exited)"]);
    root.release().expect("an orphan's handle may be released anywhere");
    assert_eq!(Runtime::stats().live_objects, 1, "the root is freed; its child still has a handle");
    drop(Object::from_raw(child));
    assert_eq!(Runtime::stats().live_objects, 0);
}

/// A cycle whose owner thread exited, dropped later by other threads: the orphan collector frees
/// it, while other threads keep releasing orphans of the same thread.
fn orphan_cycles_are_collected() {
    let handles: Vec<u64> = on_thread("cycle-maker", || {
        (0..4)
            .map(|_| {
                let a = Object::new_list().unwrap();
                let b = Object::new_list().unwrap();
                a.push_ref(Some(&b)).unwrap();
                b.push_ref(Some(&a)).unwrap();
                a.push_int(7).unwrap();
                a.into_raw()
            })
            .collect()
    });
    assert_eq!(Runtime::stats().live_objects, 8);
    std::thread::scope(|s| {
        for (i, &handle) in handles.iter().enumerate().skip(1) {
            s.spawn(move || {
                Object::from_raw(handle).release().unwrap();
                if i % 2 == 0 {
                    Runtime::collect_cycles();
                }
            });
        }
        Object::from_raw(handles[0]).release().unwrap();
        Runtime::collect_cycles();
    });
    Runtime::collect_cycles();
    assert_eq!(Runtime::stats().live_objects, 0, "every orphan cycle was collected");
}

fn references_to_another_threads_objects_are_refused() {
    let mine = Object::new_list().unwrap();
    let handle = mine.handle();
    on_thread("other-owner", move || {
        let theirs = Object::new_list().unwrap();
        let mine = Object::borrowed(handle);
        // Storing a reference to another thread's object would make it shared and mutable.
        assert_error(
            theirs.push_ref(Some(&mine)),
            Status::ErrWrongThread,
            &["push a reference to List#", "owned by thread"],
        );
        assert!(theirs.is_empty().unwrap());
    });
    assert!(mine.is_empty().unwrap());
}

fn only_the_first_thread_is_main() {
    assert_eq!(Runtime::is_main_thread(), place() == Place::Main);
    let message = on_thread("late-initialiser", || {
        assert_error(
            Runtime::init(),
            Status::ErrAlreadyInitialized,
            &["late-initialiser", "thread main, which is main"],
        )
    });
    assert!(!message.is_empty());
    Runtime::init()
        .map_or_else(|e| assert_eq!(place(), Place::Background, "{e}"), |()| assert_eq!(place(), Place::Main));
}
