//! Host callbacks called through the C ABI — jobs, producers, initialisers, outcome callbacks —
//! written here as `extern "C"` functions: any number a callback returns is defined behaviour and
//! gets a status; a failing callback leaks nothing it made and never poisons what it was making;
//! its failure is explained by its own message, never by an earlier one on the same thread. And a
//! detached-graph pointer that ended long ago says that it ended, not that floe never issued it.

use crate::harness::place;
use floe::ffi::worker::{floe_job_fn, floe_producer_fn};
use floe::ffi::{error, future, global, graph, reference, worker};
use floe::{Global, GlobalMode, Object, Result, Runtime, Status, TransferMode, Worker};
use std::ffi::{c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

crate::tests![
    a_callback_returning_a_number_that_is_no_status_fails_with_err_host_naming_it,
    a_failed_initializer_leaves_its_global_to_be_initialised_again,
    a_panicking_initializer_leaves_its_global_to_be_initialised_again,
    a_failed_callback_is_explained_by_its_own_message_never_an_earlier_ones,
    an_outcome_callback_sees_no_earlier_failure_and_the_callers_last_error_survives,
    a_graph_pointer_that_ended_long_ago_says_it_ended,
];

const WAIT_MS: i64 = 10_000;
const SAFE: u32 = TransferMode::Safe as u32;

fn last_message() -> String {
    // SAFETY: floe returns a NUL-terminated message that lives until the thread's next failure.
    unsafe { CStr::from_ptr(error::floe_last_error_message()) }.to_string_lossy().into_owned()
}

/// Records `status` and `message` as the calling thread's last error, as a callback explains a
/// failure (or as an earlier failure on this thread would have left them).
fn set_last_error(status: Status, message: &CStr) {
    // SAFETY: a NUL-terminated message.
    assert_eq!(unsafe { error::floe_last_error_set(status as i32, message.as_ptr()) }, Status::Ok);
}

fn live_objects() -> u64 {
    Runtime::stats().live_objects
}

fn stop(worker: Worker) {
    let done = worker.request_termination(true).unwrap();
    assert!(done.result(Some(std::time::Duration::from_secs(10))).unwrap().is_none());
}

/// Runs `job` (no input) on `worker` through the C ABI and waits: its status and last message.
fn run_c_job(worker: Worker, job: floe_job_fn) -> (Status, String) {
    let mut future = 0;
    // SAFETY: no producer; a job of the documented type; a writable out-parameter.
    let status =
        unsafe { worker::floe_worker_execute(worker.id(), SAFE, None, std::ptr::null_mut(), job, &mut future) };
    assert_eq!(status, Status::Ok);
    let mut result = 0;
    // SAFETY: a writable out-parameter.
    let status = unsafe { future::floe_future_wait(future, WAIT_MS, &mut result) };
    let message = last_message();
    if result != 0 {
        assert_eq!(reference::floe_ref_release(result), Status::Ok);
    }
    assert_eq!(future::floe_future_release(future), Status::Ok);
    (status, message)
}

/// `floe_worker_execute` of a job that releases its input, with `producer(arg)`: the status, and
/// the message when it failed (having checked that no future was written); a scheduled job is
/// waited for.
fn execute_with_producer(worker: Worker, producer: floe_producer_fn, arg: *mut c_void) -> (Status, String) {
    let mut future = u64::MAX;
    // SAFETY: a producer and a job of the documented types; a writable out-parameter.
    let status =
        unsafe { worker::floe_worker_execute(worker.id(), SAFE, producer, arg, Some(releases_input), &mut future) };
    if status != Status::Ok {
        assert_eq!(future, u64::MAX, "a failed call writes no future");
        return (status, last_message());
    }
    let mut result = u64::MAX;
    // SAFETY: a writable out-parameter.
    assert_eq!(unsafe { future::floe_future_wait(future, WAIT_MS, &mut result) }, Status::Ok);
    assert_eq!(result, 0);
    assert_eq!(future::floe_future_release(future), Status::Ok);
    (status, String::new())
}

unsafe extern "C" fn returns_minus_one(_: u64, _: *mut u64) -> i32 {
    -1
}

unsafe extern "C" fn returns_12345(_: u64, _: *mut u64) -> i32 {
    12345
}

unsafe extern "C" fn returns_int_min(_: u64, _: *mut u64) -> i32 {
    i32::MIN
}

/// Makes a list, hands it over as the job's result, then returns a number that is no status.
unsafe extern "C" fn makes_a_result_then_returns_minus_one(_: u64, out_result: *mut u64) -> i32 {
    // SAFETY: floe passes a writable out-parameter.
    unsafe { out_result.write(Object::new_list().unwrap().into_raw()) };
    -1
}

/// Makes a list, hands it over as the job's result, then fails with a status and no message.
unsafe extern "C" fn makes_a_result_then_fails(_: u64, out_result: *mut u64) -> i32 {
    // SAFETY: floe passes a writable out-parameter.
    unsafe { out_result.write(Object::new_list().unwrap().into_raw()) };
    Status::ErrFrozen as i32
}

unsafe extern "C" fn releases_input(input: u64, _: *mut u64) -> i32 {
    if input != 0 {
        reference::floe_ref_release(input) as i32
    } else {
        Status::Ok as i32
    }
}

/// A producer that makes a list as its root, then returns the number `*arg` points to.
unsafe extern "C" fn makes_a_root_then_returns(arg: *mut c_void, out_root: *mut u64) -> i32 {
    // SAFETY: floe passes a writable out-parameter.
    unsafe { out_root.write(Object::new_list().unwrap().into_raw()) };
    // SAFETY: the tests pass a pointer to an i32 that outlives the call.
    unsafe { *arg.cast::<i32>() }
}

/// A C job, producer or initialiser may return any `int32_t`: one that is no `floe_status` fails
/// its future, its call or its global's get with `FLOE_ERR_HOST`, naming the number, and a result
/// or root it made first is released, not leaked. (Returned as a Rust `Status`, such a number was
/// undefined behaviour: a panic, `FLOE_ERR_PANIC`, a leaked root.)
fn a_callback_returning_a_number_that_is_no_status_fails_with_err_host_naming_it() {
    let worker = Worker::start("odd returns").unwrap();
    for (job, number) in [
        (returns_minus_one as unsafe extern "C" fn(u64, *mut u64) -> i32, "-1"),
        (returns_12345, "12345"),
        (returns_int_min, "-2147483648"),
    ] {
        let (status, message) = run_c_job(worker, Some(job));
        assert_eq!(status, Status::ErrHost, "{message}");
        let named = format!("the job failed: it returned {number}, which is no floe_status");
        assert!(message.contains(&named), "{message}");
    }

    let before = live_objects();
    let (status, message) = run_c_job(worker, Some(makes_a_result_then_returns_minus_one));
    assert_eq!(status, Status::ErrHost, "{message}");
    assert_eq!(live_objects(), before, "the result the job wrote before failing was released");
    let (status, message) = run_c_job(worker, Some(makes_a_result_then_fails));
    assert_eq!(status, Status::ErrFrozen, "{message}");
    assert!(message.contains("it returned FLOE_ERR_FROZEN without a message"), "{message}");
    assert_eq!(live_objects(), before, "the result the job wrote before failing was released");

    for (mut code, status, part) in [
        (-1, Status::ErrHost, "it returned -1, which is no floe_status"),
        (Status::ErrInvalidArgument as i32, Status::ErrInvalidArgument, "FLOE_ERR_INVALID_ARGUMENT without a message"),
    ] {
        let arg = (&raw mut code).cast::<c_void>();
        let (got, message) = execute_with_producer(worker, Some(makes_a_root_then_returns), arg);
        assert_eq!(got, status, "{message}");
        assert!(message.contains("the producer failed") && message.contains(part), "{message}");
        assert_eq!(live_objects(), before, "the root the producer made before failing was released");
    }
    let mut ok = Status::Ok as i32;
    let arg = (&raw mut ok).cast::<c_void>();
    assert_eq!(execute_with_producer(worker, Some(makes_a_root_then_returns), arg).0, Status::Ok, "a root, then OK");
    stop(worker);
}

/// What `initializer` returns, and how often it ran.
static INIT_RETURNS: AtomicI32 = AtomicI32::new(0);
static INIT_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Makes a list as the global's value, then returns `INIT_RETURNS`.
unsafe extern "C" fn initializer(out_value: *mut u64) -> i32 {
    INIT_CALLS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: floe passes a writable out-parameter.
    unsafe { out_value.write(Object::new_list().unwrap().into_raw()) };
    INIT_RETURNS.load(Ordering::SeqCst)
}

fn c_global(name: &CStr, mode: GlobalMode) -> u32 {
    let mut id = 0;
    // SAFETY: a NUL-terminated name, an initialiser of the documented type, a writable out-parameter.
    assert_eq!(
        unsafe { global::floe_global_define(name.as_ptr(), mode as u32, Some(initializer), &mut id) },
        Status::Ok
    );
    id
}

/// `floe_global_get`: its status, and the message when it failed (the value is released).
fn c_get(id: u32) -> (Status, String) {
    let mut value = 0;
    // SAFETY: a writable out-parameter.
    let status = unsafe { global::floe_global_get(id, &mut value) };
    if status == Status::Ok {
        assert_ne!(value, 0, "the initialiser made a list");
        assert_eq!(reference::floe_ref_release(value), Status::Ok);
        return (status, String::new());
    }
    (status, last_message())
}

/// An initialiser that returns -1 (or fails with a status) leaves no value and no trace: each
/// later get runs it again — reset or not — and gets the value once it succeeds. (An initialiser
/// returning -1 left the global "being initialised" for ever: every later get on the thread said
/// `FLOE_ERR_CYCLIC_INIT`, even after `floe_global_reset`.)
fn a_failed_initializer_leaves_its_global_to_be_initialised_again() {
    let mut modes = vec![GlobalMode::SharedImmutable, GlobalMode::ThreadLocal];
    if place() == crate::harness::Place::Main {
        modes.push(GlobalMode::MainThreadOnly);
    }
    let before = live_objects();
    for mode in modes {
        let id = c_global(c"flaky settings", mode);
        INIT_RETURNS.store(-1, Ordering::SeqCst);
        let calls = INIT_CALLS.load(Ordering::SeqCst);
        for _ in 0..2 {
            let (status, message) = c_get(id);
            assert_eq!(status, Status::ErrHost, "{mode:?}: {message}");
            assert!(message.contains("flaky settings") && message.contains("it returned -1"), "{message}");
        }
        assert_eq!(global::floe_global_reset(id), Status::Ok);
        INIT_RETURNS.store(Status::ErrHost as i32, Ordering::SeqCst);
        assert_eq!(c_get(id).0, Status::ErrHost, "{mode:?}: after a reset, the initialiser runs again");
        assert_eq!(live_objects(), before, "{mode:?}: every value the failed initialiser made was released");
        INIT_RETURNS.store(Status::Ok as i32, Ordering::SeqCst);
        assert_eq!(c_get(id).0, Status::Ok, "{mode:?}");
        assert_eq!(INIT_CALLS.load(Ordering::SeqCst) - calls, 4, "{mode:?}: each get ran it until one succeeded");
        assert_eq!(c_get(id).0, Status::Ok, "{mode:?}: the value is kept");
        assert_eq!(INIT_CALLS.load(Ordering::SeqCst) - calls, 4, "{mode:?}: and not made again");
        assert_eq!(global::floe_global_reset(id), Status::Ok);
    }
}

static PANICKED_ONCE: AtomicBool = AtomicBool::new(false);

fn panics_the_first_time() -> Result<Option<Object>> {
    if !PANICKED_ONCE.swap(true, Ordering::SeqCst) {
        panic!("the initialiser's first run panics");
    }
    let list = Object::new_list()?;
    list.push_int(7)?;
    Ok(Some(list))
}

/// An initialiser that unwinds leaves its global as a failed one does: the next get runs it again.
fn a_panicking_initializer_leaves_its_global_to_be_initialised_again() {
    for mode in [GlobalMode::SharedImmutable, GlobalMode::ThreadLocal] {
        PANICKED_ONCE.store(false, Ordering::SeqCst);
        let global = Global::define("panicky", mode, panics_the_first_time).unwrap();
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let first = std::panic::catch_unwind(|| global.get());
        std::panic::set_hook(hook);
        assert!(first.is_err(), "{mode:?}: the first get panicked");
        let value = global.get().unwrap_or_else(|e| panic!("{mode:?}: {e}")).expect("a value");
        assert_eq!(value.get_int(0).unwrap(), 7);
        drop(value);
        global.reset().unwrap();
    }
}

/// Explains its failure, as a job that knows why it failed does.
unsafe extern "C" fn explains_its_failure(_: u64, _: *mut u64) -> i32 {
    set_last_error(Status::ErrHost, c"order 45 has no lines");
    Status::ErrHost as i32
}

/// Fails without a word.
unsafe extern "C" fn fails_silently(_: u64, _: *mut u64) -> i32 {
    Status::ErrHost as i32
}

/// Fails with the status of a floe call of its own that failed, and so with its message.
unsafe extern "C" fn passes_on_a_failed_call(_: u64, _: *mut u64) -> i32 {
    reference::floe_ref_release(0) as i32
}

unsafe extern "C" fn produces_nothing_and_fails_silently(_: *mut c_void, _: *mut u64) -> i32 {
    Status::ErrInvalidArgument as i32
}

/// A job that fails without `floe_last_error_set` is reported as having set no message — not with
/// the text an earlier job on the same worker set; likewise a producer or an initialiser after an
/// earlier failure on the calling thread. A message the callback set, or that a failed floe call
/// in it left, is still its failure's message.
fn a_failed_callback_is_explained_by_its_own_message_never_an_earlier_ones() {
    let worker = Worker::start("orders").unwrap();
    let (status, message) = run_c_job(worker, Some(explains_its_failure));
    assert_eq!(status, Status::ErrHost);
    assert!(message.contains("the job failed: order 45 has no lines"), "{message}");
    let (status, message) = run_c_job(worker, Some(fails_silently));
    assert_eq!(status, Status::ErrHost);
    assert!(!message.contains("order 45"), "an earlier job's message: {message}");
    assert!(message.contains("it returned FLOE_ERR_HOST without a message"), "{message}");
    let (status, message) = run_c_job(worker, Some(passes_on_a_failed_call));
    assert_eq!(status, Status::ErrNull);
    assert!(message.contains("floe_ref_release") && message.contains("NULL"), "{message}");

    set_last_error(Status::ErrInvalidArgument, c"an earlier failure on this thread");
    let (status, message) =
        execute_with_producer(worker, Some(produces_nothing_and_fails_silently), std::ptr::null_mut());
    assert_eq!(status, Status::ErrInvalidArgument);
    assert!(!message.contains("an earlier failure"), "{message}");
    assert!(
        message.contains("the producer failed: it returned FLOE_ERR_INVALID_ARGUMENT without a message"),
        "{message}"
    );

    set_last_error(Status::ErrHost, c"an earlier failure on this thread");
    let id = c_global(c"silent settings", GlobalMode::ThreadLocal);
    INIT_RETURNS.store(Status::ErrHost as i32, Ordering::SeqCst);
    let (status, message) = c_get(id);
    assert_eq!(status, Status::ErrHost);
    assert!(!message.contains("an earlier failure"), "{message}");
    assert!(message.contains("it returned FLOE_ERR_HOST without a message"), "{message}");
    stop(worker);
}

/// The thread's last error as an outcome callback saw it.
static SEEN_IN_CALLBACK: AtomicI32 = AtomicI32::new(-1);

unsafe extern "C" fn note_last_error(status: Status, result: u64, _: *mut c_void) {
    assert_eq!(status, Status::Ok);
    assert_eq!(result, 0);
    SEEN_IN_CALLBACK.store(error::floe_last_error_status() as i32, Ordering::SeqCst);
}

/// A successful outcome reaches its callback with no earlier failure as the thread's last error;
/// and a producer, a job's consumer or an initialiser that records nothing leaves the caller's last
/// error as it was — the very string: floe documents it valid until a call fails.
fn an_outcome_callback_sees_no_earlier_failure_and_the_callers_last_error_survives() {
    let worker = Worker::start("outcomes").unwrap();
    set_last_error(Status::ErrInvalidArgument, c"an earlier failure on this thread");
    let earlier = error::floe_last_error_message();

    let mut ok = Status::Ok as i32;
    let arg = (&raw mut ok).cast::<c_void>();
    assert_eq!(execute_with_producer(worker, Some(makes_a_root_then_returns), arg).0, Status::Ok);

    let mut future = 0;
    // SAFETY: no producer; a job of the documented type; a writable out-parameter.
    let status = unsafe {
        worker::floe_worker_execute(worker.id(), SAFE, None, std::ptr::null_mut(), Some(releases_input), &mut future)
    };
    assert_eq!(status, Status::Ok);
    // SAFETY: a callback of the documented type; it ignores its user data.
    let status = unsafe { future::floe_future_consume(future, WAIT_MS, Some(note_last_error), std::ptr::null_mut()) };
    assert_eq!(status, Status::Ok);
    assert_eq!(future::floe_future_release(future), Status::Ok);
    assert_eq!(SEEN_IN_CALLBACK.load(Ordering::SeqCst), Status::Ok as i32, "the callback saw an earlier failure");

    let id = c_global(c"fine settings", GlobalMode::ThreadLocal);
    INIT_RETURNS.store(Status::Ok as i32, Ordering::SeqCst);
    assert_eq!(c_get(id).0, Status::Ok);
    assert_eq!(global::floe_global_reset(id), Status::Ok);

    assert_eq!(error::floe_last_error_status(), Status::ErrInvalidArgument);
    assert_eq!(error::floe_last_error_message(), earlier, "the same string");
    // SAFETY: no floe call has failed on this thread since `earlier` was returned.
    let text = unsafe { CStr::from_ptr(earlier) };
    assert_eq!(text, c"an earlier failure on this thread");
    stop(worker);
}

/// Detaches a new list through the C ABI: the graph's pointer.
fn detach_a_list() -> *mut c_void {
    let mut pointer = std::ptr::null_mut();
    // SAFETY: a writable out-parameter; the handle is consumed on success.
    let status = unsafe { graph::floe_object_detach(Object::new_list().unwrap().into_raw(), SAFE, &mut pointer) };
    assert_eq!(status, Status::Ok);
    pointer
}

/// A graph's slot remembers how its last eight graphs ended; a pointer that ended before those was
/// still issued by floe, and says it ended — `FLOE_ERR_RELEASED_HANDLE`, never "not a ... this
/// runtime issued", which was untrue.
fn a_graph_pointer_that_ended_long_ago_says_it_ended() {
    let stale = detach_a_list();
    assert_eq!(graph::floe_graph_dispose(stale), Status::Ok);
    let slot = |pointer: *mut c_void| pointer.addr() as u32;
    let mut reuses = 0;
    for _ in 0..10_000 {
        let pointer = detach_a_list();
        assert_eq!(graph::floe_graph_dispose(pointer), Status::Ok);
        if slot(pointer) == slot(stale) {
            reuses += 1;
            if reuses == 9 {
                break;
            }
        }
    }
    assert_eq!(reuses, 9, "the slot was reused nine times");
    let mut root = u64::MAX;
    // SAFETY: a writable out-parameter; the pointer is floe's, long ended.
    assert_eq!(unsafe { graph::floe_graph_attach(stale, &mut root) }, Status::ErrReleasedHandle);
    let message = last_message();
    assert!(message.contains("attached or disposed, long ago"), "{message}");
    assert!(!message.contains("issued"), "{message}");
    assert_eq!(root, u64::MAX);
    assert_eq!(graph::floe_graph_dispose(stale), Status::ErrReleasedHandle);
    let recent = detach_a_list();
    assert_eq!(graph::floe_graph_dispose(recent), Status::Ok);
    assert_eq!(graph::floe_graph_dispose(recent), Status::ErrDisposed, "a recent end is still told apart");
}
