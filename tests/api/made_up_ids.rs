//! Made-up, stale and near-miss ids at every C entry point of the concurrency layer that takes one:
//! futures, workers, pools, detached graphs, shared-data structs and globals. Each call gets an
//! error status with a message, and writes no out-parameter; none crashes, hangs (a wait without a
//! deadline returns at once), calls a callback, leaks or disturbs the live ids it narrowly misses.

use floe::ffi::shared_data::SharedData;
use floe::ffi::{error, future, global, graph, object, pool, reference, shared_data, worker};
use floe::{Object, ObjectType, Pool, Status, TransferMode, Worker};
use std::ffi::{c_void, CStr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

crate::tests![
    random_ids_get_an_error_at_every_entry_point,
    ids_next_to_live_ones_get_an_error_and_leave_them_alone,
    made_up_handles_from_c_jobs_and_producers_fail_their_own_call_alone,
];

/// Random 64-bit values tried per entry point.
const RANDOM: usize = 20_000;
/// Worker ids count up from 1, global ids from 2^30, pool and view ids from 2^31 (and object type
/// ids, which no call here takes, from 2^29): no test makes
/// this many, so a random 32-bit id this close to a start is skipped rather than risk naming a live
/// one.
const NEAR_A_START: u32 = 1 << 20;

static CALLBACKS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn counting_callback(_: Status, _: u64, _: *mut c_void) {
    CALLBACKS.fetch_add(1, Ordering::Relaxed);
}

unsafe extern "C" fn echo(input: u64, out_result: *mut u64) -> i32 {
    // SAFETY: floe passes a writable out-parameter.
    unsafe { out_result.write(input) };
    Status::Ok as i32
}

/// The status of a failed call, after checking that the thread's last error says the same and
/// explains it.
#[track_caller]
fn failed(status: Status) -> Status {
    assert_ne!(status, Status::Ok, "a made-up id was accepted");
    assert_eq!(error::floe_last_error_status(), status);
    assert!(!last_message().is_empty(), "{status:?} without a message");
    status
}

fn last_message() -> String {
    // SAFETY: floe returns a NUL-terminated message that lives until the thread's next failure.
    unsafe { CStr::from_ptr(error::floe_last_error_message()) }.to_string_lossy().into_owned()
}

/// Calls every entry point that takes a 64-bit id (futures; detached graphs and shared-data values,
/// whose ids travel as pointers) with `id`, which names nothing live.
fn try_wide_id(id: u64) {
    const UNTOUCHED: u64 = 0x5eed;
    let mut out = UNTOUCHED;
    let mut state = u32::MAX;
    let pointer = std::ptr::without_provenance_mut::<c_void>(id as usize);
    // SAFETY (every call below): the out-parameters are valid and writable; only the ids are made up.
    unsafe {
        failed(future::floe_future_get_state(id, &mut state));
        failed(future::floe_future_wait(id, -1, &mut out));
        failed(future::floe_future_consume(id, -1, Some(counting_callback), std::ptr::null_mut()));
        failed(future::floe_future_deliver(id, 1, Some(counting_callback), std::ptr::null_mut()));
        let mut index = usize::MAX;
        failed(future::floe_future_wait_any(&id, 1, -1, &mut index));
        assert_eq!(index, usize::MAX);
        failed(future::floe_future_release(id));
        failed(graph::floe_graph_attach(pointer, &mut out));
        failed(graph::floe_graph_dispose(pointer));
        if id != 0 {
            let mut data = SharedData { version: id as i32, object: pointer };
            let mut version = 0;
            failed(shared_data::floe_shared_data_read(&mut data, &mut version, &mut out));
            failed(shared_data::floe_shared_data_take(&mut data, &mut out));
            failed(shared_data::floe_shared_data_publish(&mut data, 0));
            assert_eq!(
                (data.version, data.object, version),
                (id as i32, pointer, 0),
                "a corrupt struct is left as it was"
            );
        }
    }
    assert_eq!((out, state), (UNTOUCHED, u32::MAX), "out-parameters written on failure");
}

/// Calls every entry point that takes a 32-bit id (workers, pools and views, globals) with `id`,
/// which names nothing live.
fn try_narrow_id(id: u32) {
    const UNTOUCHED: u64 = 0x5eed;
    let (mut out, mut narrow, mut ran) = (UNTOUCHED, u32::MAX, usize::MAX);
    let safe = TransferMode::Safe as u32;
    // SAFETY (every call below): the out-parameters are valid and writable; only the ids are made up.
    unsafe {
        failed(worker::floe_worker_execute(id, safe, None, std::ptr::null_mut(), Some(echo), &mut out));
        failed(worker::floe_worker_execute_after(id, 0, 0, Some(echo), &mut out));
        failed(worker::floe_worker_process_queue(id, &mut ran));
        failed(worker::floe_worker_request_termination(id, true, &mut out));
        failed(pool::floe_pool_execute(id, safe, None, std::ptr::null_mut(), Some(echo), &mut out));
        failed(pool::floe_pool_limited_parallelism(id, 1, &mut narrow));
        failed(pool::floe_pool_request_termination(id, true, &mut out));
        failed(global::floe_global_get(id, &mut out));
        failed(global::floe_global_reset(id));
    }
    assert_eq!((out, narrow, ran), (UNTOUCHED, u32::MAX, usize::MAX), "out-parameters written on failure");
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn random_ids_get_an_error_at_every_entry_point() {
    let mut state = 0x2545_f491_4f6c_dd1d;
    for _ in 0..RANDOM {
        let id = xorshift(&mut state);
        try_wide_id(id);
        for narrow in [id as u32, (id >> 32) as u32] {
            if narrow & ((1 << 30) - 1) >= NEAR_A_START {
                try_narrow_id(narrow);
            }
        }
    }
    for id in [0, u64::MAX, u64::from(u32::MAX), 1 << 32, (1 << 32) | 1] {
        try_wide_id(id);
    }
    for id in [0, u32::MAX] {
        try_narrow_id(id);
    }
    assert_eq!(CALLBACKS.load(Ordering::Relaxed), 0, "a callback ran for a made-up future");
}

/// Ids that differ from a live one in a generation or an index bit, and ids that were live once
/// (released futures, attached and disposed graphs, terminated workers and pools), fail; the live
/// ids still work afterwards.
fn ids_next_to_live_ones_get_an_error_and_leave_them_alone() {
    let worker = Worker::start("near-misses").unwrap();
    let pool = Pool::start("near-misses", 1).unwrap();
    let mut live_future = 0;
    // SAFETY: the out-parameter is writable.
    assert_eq!(
        unsafe {
            worker::floe_worker_execute(worker.id(), 1, None, std::ptr::null_mut(), Some(echo), &mut live_future)
        },
        Status::Ok
    );
    let mut graph_pointer = std::ptr::null_mut();
    // SAFETY: the out-parameter is writable; the handle is consumed on success.
    let status = unsafe { graph::floe_object_detach(Object::new_list().unwrap().into_raw(), 1, &mut graph_pointer) };
    assert_eq!(status, Status::Ok);
    let live_graph = graph_pointer.addr() as u64;

    let (mut stale_future, mut attached, mut disposed) = (0, std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY (this block): out-parameters are writable; every id was issued by floe.
    unsafe {
        assert_eq!(
            worker::floe_worker_execute(worker.id(), 1, None, std::ptr::null_mut(), Some(echo), &mut stale_future),
            Status::Ok
        );
        assert_eq!(future::floe_future_release(stale_future), Status::Ok);
        assert_eq!(graph::floe_object_detach(Object::new_list().unwrap().into_raw(), 1, &mut attached), Status::Ok);
        let mut root = 0;
        assert_eq!(graph::floe_graph_attach(attached, &mut root), Status::Ok);
        drop(Object::from_raw(root));
        assert_eq!(graph::floe_object_detach(Object::new_list().unwrap().into_raw(), 1, &mut disposed), Status::Ok);
        assert_eq!(graph::floe_graph_dispose(disposed), Status::Ok);
    }
    assert_eq!(failed(future::floe_future_release(stale_future)), Status::ErrReleasedHandle);
    assert_eq!(failed(unsafe { graph::floe_graph_attach(attached, &mut 0) }), Status::ErrAlreadyAttached);
    assert_eq!(failed(unsafe { graph::floe_graph_attach(disposed, &mut 0) }), Status::ErrDisposed);

    let generation = |id: u64, delta: u64| id.wrapping_add(delta << 32);
    for live in [live_future, live_graph] {
        for near in [
            generation(live, 1),
            generation(live, 2),
            generation(live, u64::from(u32::MAX)),
            live ^ 1,
            live ^ 2,
            live ^ (1 << 16),
        ] {
            if near != live_future && near != live_graph {
                try_wide_id(near);
            }
        }
    }
    for stale in [stale_future, attached.addr() as u64, disposed.addr() as u64] {
        try_wide_id(stale);
    }

    let (ended_worker, ended_pool) = (Worker::start("ended").unwrap(), Pool::start("ended", 1).unwrap());
    ended_worker.request_termination(true).unwrap().result(None).unwrap();
    ended_pool.request_termination(true).unwrap().result(None).unwrap();
    for stale in [ended_worker.id(), ended_pool.id()] {
        try_narrow_id(stale);
    }

    // Each kind's id given to the other kind's call: refused, saying which kind it is.
    let refused = |status: Status, says: &str| {
        assert_eq!(failed(status), Status::ErrUnknownWorker);
        assert!(last_message().contains(says), "{}", last_message());
    };
    // SAFETY (both calls): the out-parameter is writable; the ids are live, of the other kind.
    let status = unsafe { worker::floe_worker_execute(pool.id(), 1, None, std::ptr::null_mut(), Some(echo), &mut 0) };
    refused(status, "a pool's or a view's id");
    let status = unsafe { pool::floe_pool_execute(worker.id(), 1, None, std::ptr::null_mut(), Some(echo), &mut 0) };
    refused(status, "the workers' range");
    // An object type's id given to a worker's call, and a worker's to floe_object_new: refused,
    // saying whose range the id is in (the main queue's 1 stays FLOE_TYPE_LIST's too: the ABI
    // fixed both).
    let ty = ObjectType::define("MadeUpIdsType", &[]).unwrap();
    // SAFETY: the out-parameter is writable; the id is a live type's.
    let status = unsafe { worker::floe_worker_execute(ty.id(), 1, None, std::ptr::null_mut(), Some(echo), &mut 0) };
    refused(status, "the object types' range");
    let mut made = 0;
    // SAFETY: the out-parameter is writable; the id is a live worker's.
    assert_eq!(failed(unsafe { object::floe_object_new(worker.id(), &mut made) }), Status::ErrUnknownType);
    assert!(last_message().contains("is in the workers' range"), "{}", last_message());
    assert_eq!(made, 0, "no object made");
    // SAFETY (both calls): the out-parameter is writable; the ids are live workers' and pools'.
    for id in [worker.id(), pool.id()] {
        assert_eq!(failed(unsafe { global::floe_global_get(id, &mut 0) }), Status::ErrInvalidArgument);
        assert!(last_message().contains("no global has id"), "{}", last_message());
    }

    // A live id of one kind given where another kind is expected: refused, saying what it looks
    // like, and the live id is left alone.
    let handle = Object::new_list().unwrap();
    let wrong_kind = |status: Status, looks_like: &str| {
        assert_eq!(failed(status), Status::ErrInvalidHandle);
        assert!(last_message().contains(&format!("its kind bits are a {looks_like}'s")), "{}", last_message());
    };
    let as_pointer = |id: u64| std::ptr::without_provenance_mut::<c_void>(id as usize);
    let (mut out, mut length, mut version, mut state) = (0, 0, 0, 0);
    // SAFETY (this block): out-parameters are writable; every id is live, of another kind.
    unsafe {
        wrong_kind(reference::floe_ref_release(live_future), "future");
        wrong_kind(object::floe_object_len(live_future, &mut length), "future");
        wrong_kind(object::floe_object_len(live_graph, &mut length), "detached graph");
        wrong_kind(future::floe_future_get_state(handle.handle(), &mut state), "handle");
        wrong_kind(future::floe_future_release(live_graph), "detached graph");
        wrong_kind(graph::floe_graph_dispose(as_pointer(live_future)), "future");
        wrong_kind(graph::floe_graph_attach(as_pointer(handle.handle()), &mut out), "handle");
        let mut graph_as_value = SharedData { version: 1, object: graph_pointer };
        wrong_kind(shared_data::floe_shared_data_read(&mut graph_as_value, &mut version, &mut out), "detached graph");
    }
    assert_eq!((out, length, version, state), (0, 0, 0, 0), "out-parameters written on failure");
    assert_eq!(handle.len().unwrap(), 0, "the handle given as a future still works");

    // The live ids narrowly missed above still work.
    let mut result = 0;
    // SAFETY: the out-parameters are writable; the ids are live.
    unsafe {
        assert_eq!(future::floe_future_wait(live_future, -1, &mut result), Status::Ok);
        assert_eq!(future::floe_future_release(live_future), Status::Ok);
        assert_eq!(graph::floe_graph_attach(graph_pointer, &mut result), Status::Ok);
    }
    assert_eq!(Object::from_raw(result).len().unwrap(), 0);
    assert_eq!(CALLBACKS.load(Ordering::Relaxed), 0, "a callback ran for a made-up future");
    worker.request_termination(true).unwrap().result(None).unwrap();
    pool.request_termination(true).unwrap().result(None).unwrap();
}

/// What `hand_back_made_up` writes as its result or root.
static MADE_UP: AtomicU64 = AtomicU64::new(0);

unsafe extern "C" fn hand_back_made_up(_: u64, out: *mut u64) -> i32 {
    // SAFETY: floe passes a writable out-parameter.
    unsafe { out.write(MADE_UP.load(Ordering::Relaxed)) };
    Status::Ok as i32
}

unsafe extern "C" fn produce_made_up(_: *mut c_void, out: *mut u64) -> i32 {
    // SAFETY: as above.
    unsafe { hand_back_made_up(0, out) }
}

/// A C job whose result, or a C producer whose root, is a made-up or released handle: the job's
/// future fails (the worker goes on), the execute with the producer fails and schedules nothing.
fn made_up_handles_from_c_jobs_and_producers_fail_their_own_call_alone() {
    let worker = Worker::start("made-up results").unwrap();
    let released = Object::new_list().unwrap().handle();
    let mut state = 0x9e37_79b9_7f4a_7c15;
    let made_up = (0..200).map(|_| xorshift(&mut state)).chain([released, released ^ 1, u64::MAX]);
    for bogus in made_up {
        MADE_UP.store(bogus, Ordering::Relaxed);
        let (mut future, mut result) = (0, 0x5eed);
        // SAFETY (this block): out-parameters are writable; the worker is live.
        unsafe {
            let status = worker::floe_worker_execute(
                worker.id(),
                1,
                None,
                std::ptr::null_mut(),
                Some(hand_back_made_up),
                &mut future,
            );
            assert_eq!(status, Status::Ok);
            let status = failed(future::floe_future_wait(future, -1, &mut result));
            assert!(matches!(status, Status::ErrInvalidHandle | Status::ErrReleasedHandle), "{status:?}");
            assert!(last_message().contains("the job failed"), "{}", last_message());
            assert_eq!(result, 0x5eed);
            assert_eq!(future::floe_future_release(future), Status::Ok);
            let status = worker::floe_worker_execute(
                worker.id(),
                1,
                Some(produce_made_up),
                std::ptr::null_mut(),
                Some(echo),
                &mut future,
            );
            assert!(matches!(failed(status), Status::ErrInvalidHandle | Status::ErrReleasedHandle), "{status:?}");
        }
    }
    // The worker went on: a job with a real input still runs.
    let input = Object::new_list().unwrap();
    input.push_int(7).unwrap();
    let graph = input.detach(TransferMode::Safe).unwrap();
    let back = worker.execute(Some(graph), TransferMode::Safe, Ok).unwrap().result(None).unwrap();
    assert_eq!(back.unwrap().get_int(0).unwrap(), 7);
    worker.request_termination(true).unwrap().result(None).unwrap();
}
