//! Threads that exit while references into their objects are still being dropped: by their own
//! thread-local values (floe's globals, a host's destructors) and by other threads. Nothing may be
//! left unreachable and uncollected once they are gone.

use crate::ownership::on_thread;
use floe::{Global, GlobalMode, Object, Result, Runtime};
use std::cell::RefCell;
use std::sync::mpsc;
use std::time::{Duration, Instant};

crate::tests![
    a_thread_local_global_holding_a_cycle_is_freed_when_its_thread_exits,
    a_reference_dropped_into_an_exiting_thread_after_its_last_collection_is_collected,
    threads_exit_while_others_release_into_them_and_reset_their_globals,
    a_thread_whose_first_call_collects_has_its_cycles_collected_after_it_exits,
];

/// Two lists that refer to each other; returns one, the other held by it alone.
fn cycle() -> Result<Object> {
    let (a, b) = (Object::new_list()?, Object::new_list()?);
    a.push_ref(Some(&b))?;
    b.push_ref(Some(&a))?;
    Ok(a)
}

fn cyclic_value() -> Result<Option<Object>> {
    cycle().map(Some)
}

/// Collects everywhere it can from here and says how many objects are left.
fn live_objects_after_collecting() -> u64 {
    Runtime::collect_cycles();
    Runtime::stats().live_objects
}

fn a_thread_local_global_holding_a_cycle_is_freed_when_its_thread_exits() {
    let scratch = Global::define("cyclic scratch", GlobalMode::ThreadLocal, cyclic_value).unwrap();
    // Joined with `join` rather than at a scope's end, which does not wait for thread-locals.
    std::thread::spawn(move || {
        // A thread that meets floe, then the global, and only then drops a reference: floe's
        // per-thread values are set up in that order, so torn down in the reverse one.
        let first = Object::new_list().unwrap();
        let value = scratch.get().unwrap().expect("the initialiser made a value");
        assert_eq!(value.len().unwrap(), 1);
        drop(value);
        drop(first);
    })
    .join()
    .unwrap();
    assert_eq!(live_objects_after_collecting(), 0, "the thread's value, a cycle, died with the thread");
}

/// A host's thread-local value holding a floe object, as a Swift or C++ thread-local would: its
/// destructor runs during the thread's teardown, after floe's last collection there.
struct HostValue {
    object: Option<Object>,
    /// Whether the destructor hands the object to another thread to release (its reference then
    /// waits, parked, for the exiting thread), rather than releasing it itself.
    release_elsewhere: Option<(mpsc::Sender<u64>, mpsc::Receiver<()>)>,
}

impl Drop for HostValue {
    fn drop(&mut self) {
        let Some(object) = self.object.take() else { return };
        match self.release_elsewhere.take() {
            None => drop(object),
            Some((send, released)) => {
                send.send(object.into_raw()).unwrap();
                released.recv().unwrap();
            }
        }
    }
}

thread_local! {
    static HOST_VALUE: RefCell<Option<HostValue>> = const { RefCell::new(None) };
}

/// Runs on a new thread: a cycle held by the host's thread-local value, the last reference into it
/// dropped by the host's destructor (by the thread itself, or by `releaser` for it).
fn exit_holding_a_cycle(releaser: Option<(mpsc::Sender<u64>, mpsc::Receiver<()>)>) {
    // floe first, the host's value next, and floe's candidate list last: floe tears the list down
    // before the host's destructor runs.
    let a = Object::new_list().unwrap();
    HOST_VALUE.with(|v| *v.borrow_mut() = Some(HostValue { object: None, release_elsewhere: releaser }));
    let b = Object::new_list().unwrap();
    a.push_ref(Some(&b)).unwrap();
    b.push_ref(Some(&a)).unwrap();
    HOST_VALUE.with(|v| v.borrow_mut().as_mut().unwrap().object = Some(a.try_clone().unwrap()));
    drop(a);
    drop(b);
}

fn a_reference_dropped_into_an_exiting_thread_after_its_last_collection_is_collected() {
    // Released by the exiting thread itself.
    std::thread::spawn(|| exit_holding_a_cycle(None)).join().unwrap();
    assert_eq!(live_objects_after_collecting(), 0, "a release by the host's destructor");
    // Released by another thread while the owner exits: parked for it, dropped by its exit.
    let (send_handle, handles) = mpsc::channel::<u64>();
    let (send_done, done) = mpsc::channel();
    let releaser = std::thread::spawn(move || {
        for handle in handles {
            Object::from_raw(handle).release().unwrap();
            send_done.send(()).unwrap();
        }
    });
    std::thread::spawn(move || exit_holding_a_cycle(Some((send_handle, done)))).join().unwrap();
    releaser.join().unwrap();
    assert_eq!(live_objects_after_collecting(), 0, "a release parked for the exiting thread");
}

fn threads_exit_while_others_release_into_them_and_reset_their_globals() {
    let scratch = Global::define("cyclic scratch", GlobalMode::ThreadLocal, cyclic_value).unwrap();
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut rounds = 0;
    while rounds < 10 || (Instant::now() < deadline && rounds < 200) {
        rounds += 1;
        let (send_handle, handles) = mpsc::channel::<u64>();
        let releaser = std::thread::spawn(move || {
            for handle in handles {
                Object::from_raw(handle).release().unwrap();
            }
        });
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let send_handle = send_handle.clone();
                std::thread::spawn(move || {
                    if t % 2 == 0 {
                        // First contact through the global: its values set up before anything else.
                        drop(scratch.get().unwrap());
                    }
                    let mine = cycle().unwrap();
                    for _ in 0..t + 1 {
                        let value = scratch.get().unwrap().unwrap();
                        value.push_ref(Some(&mine)).unwrap();
                        send_handle.send(value.try_clone().unwrap().into_raw()).unwrap();
                        if (rounds + t) % 3 == 0 {
                            scratch.reset().unwrap();
                        }
                    }
                    send_handle.send(mine.into_raw()).unwrap();
                    if t == 3 {
                        exit_holding_a_cycle(None);
                    }
                })
            })
            .collect();
        drop(send_handle);
        threads.into_iter().for_each(|t| t.join().unwrap());
        releaser.join().unwrap();
    }
    assert_eq!(live_objects_after_collecting(), 0, "after {rounds} rounds of threads exiting");
}

/// A thread whose first floe call collects cycles sets its candidate list up before floe knows the
/// thread, so the list is torn down after the thread's exit mark; a reference parked meanwhile for
/// a thread still running makes the exit's last drain give the exiting thread a fresh token. The
/// candidates left in the list are the exited thread's orphans by then: the orphan collector gets
/// them, and frees the cycle.
fn a_thread_whose_first_call_collects_has_its_cycles_collected_after_it_exits() {
    let held = Object::new_list().unwrap();
    let handle = held.try_clone().unwrap().into_raw();
    on_thread("releaser", move || Object::from_raw(handle).release().unwrap());
    std::thread::spawn(|| {
        Runtime::collect_cycles();
        drop(cycle().unwrap());
    })
    .join()
    .unwrap();
    drop(held);
    assert_eq!(live_objects_after_collecting(), 0, "the exited thread's cycle was collected");
}
