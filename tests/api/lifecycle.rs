//! A worker's and a pool member's life: a panic that reaches the loop outside a job's body, jobs
//! behind a job that never returns, a termination with processing reached in the queue, the
//! termination's future after the thread's values are released, cycles collected when idle.

use crate::harness::assert_error;
use floe::{FutureState, Global, GlobalMode, Object, Pool, Result, Runtime, Status, TransferMode, Worker};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

crate::tests![
    a_panicking_delivery_callback_leaves_its_worker_running,
    jobs_behind_a_job_that_never_returns_are_cancelled_by_the_termination,
    a_views_backlog_behind_a_job_that_never_returns_is_cancelled_by_the_termination,
    a_job_queued_before_a_termination_with_processing_may_still_queue_work_on_its_worker,
    the_termination_future_completes_after_the_threads_values_are_released,
    garbage_cycles_released_on_a_worker_are_collected_when_it_goes_idle,
];

const WAIT: Option<Duration> = Some(Duration::from_secs(10));

/// Opened by a test to let its blocked job return.
static GATE: AtomicBool = AtomicBool::new(false);
/// Set by the blocked job when it starts.
static BLOCKED: AtomicBool = AtomicBool::new(false);

/// Blocks until `GATE` opens: to the termination, a job that never returns.
fn blocked(input: Option<Object>) -> Result<Option<Object>> {
    BLOCKED.store(true, Ordering::SeqCst);
    while !GATE.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(input)
}

fn wait_until_blocked() {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !BLOCKED.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the blocked job never started");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn one_list(value: i64) -> Object {
    let list = Object::new_list().unwrap();
    list.push_int(value).unwrap();
    list
}

fn detached(value: i64) -> Option<floe::DetachedGraph> {
    Some(one_list(value).detach(TransferMode::Safe).unwrap())
}

fn nothing(_: Option<Object>) -> Result<Option<Object>> {
    Ok(None)
}

fn panics_when_delivered(_: Result<Option<Object>>) {
    panic!("the delivery callback gave up");
}

/// A delivery's callback runs in the worker's loop, outside any job's body: its panic is caught
/// there, and the worker runs its next job.
fn a_panicking_delivery_callback_leaves_its_worker_running() {
    let worker = Worker::start("survives a callback's panic").unwrap();
    let delivered = worker.execute(None, TransferMode::Safe, nothing).unwrap();
    delivered.deliver_to(worker, panics_when_delivered).unwrap();
    let next = worker.execute(None, TransferMode::Safe, nothing).unwrap();
    assert!(next.result(WAIT).unwrap().is_none(), "the worker ran the job queued after the delivery");
    worker.request_termination(true).unwrap().result(WAIT).unwrap();
}

/// A termination without processing cancels the jobs queued behind a job that never returns: a
/// wait on them ends, and their inputs are freed, while that job still runs.
fn jobs_behind_a_job_that_never_returns_are_cancelled_by_the_termination() {
    GATE.store(false, Ordering::SeqCst);
    BLOCKED.store(false, Ordering::SeqCst);
    let worker = Worker::start("stuck").unwrap();
    let stuck = worker.execute(detached(0), TransferMode::Safe, blocked).unwrap();
    wait_until_blocked();
    let behind: Vec<_> = (1..=3).map(|i| worker.execute(detached(i), TransferMode::Safe, nothing).unwrap()).collect();
    let done = worker.request_termination(false).unwrap();
    for future in &behind {
        assert_error(future.result(WAIT), Status::ErrCancelled, &["cancelled"]);
    }
    let left = Runtime::stats();
    assert_eq!(
        (left.detached_graphs, left.live_objects),
        (0, 1),
        "the cancelled jobs' inputs are freed, not the stuck job's"
    );
    assert_eq!(stuck.state(), FutureState::Scheduled, "the stuck job still runs");
    assert_error(done.result(Some(Duration::ZERO)), Status::ErrTimeout, &[]);
    GATE.store(true, Ordering::SeqCst);
    assert_eq!(stuck.result(WAIT).unwrap().unwrap().get_int(0).unwrap(), 0);
    done.result(WAIT).unwrap();
}

/// The same for a view of a pool: its backlog waits for a place that the job which never returns
/// does not give back, so the termination cancels it.
fn a_views_backlog_behind_a_job_that_never_returns_is_cancelled_by_the_termination() {
    GATE.store(false, Ordering::SeqCst);
    BLOCKED.store(false, Ordering::SeqCst);
    let pool = Pool::start("stuck", 2).unwrap();
    let view = pool.limited_parallelism(1).unwrap();
    let stuck = view.execute(detached(0), TransferMode::Safe, blocked).unwrap();
    wait_until_blocked();
    let backlog: Vec<_> = (1..=3).map(|i| view.execute(detached(i), TransferMode::Safe, nothing).unwrap()).collect();
    let done = pool.request_termination(false).unwrap();
    for future in &backlog {
        assert_error(future.result(WAIT), Status::ErrCancelled, &["cancelled"]);
    }
    let left = Runtime::stats();
    assert_eq!(
        (left.detached_graphs, left.live_objects),
        (0, 1),
        "the cancelled jobs' inputs are freed, not the stuck job's"
    );
    GATE.store(true, Ordering::SeqCst);
    assert_eq!(stuck.result(WAIT).unwrap().unwrap().get_int(0).unwrap(), 0);
    done.result(WAIT).unwrap();
}

/// Jobs that the queued jobs ran, on their own worker, after the termination was requested.
static RAN_AFTER_THE_REQUEST: AtomicUsize = AtomicUsize::new(0);

fn count(_: Option<Object>) -> Result<Option<Object>> {
    RAN_AFTER_THE_REQUEST.fetch_add(1, Ordering::SeqCst);
    Ok(None)
}

/// Queued before the request, run after it: queues two more jobs on its own worker.
fn queues_more(_: Option<Object>) -> Result<Option<Object>> {
    while !GATE.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let me = Worker::current().expect("runs on a worker");
    me.execute_after(Duration::from_millis(20), None, count)?;
    me.execute(None, TransferMode::Safe, count)?;
    Ok(None)
}

/// Kotlin/Native's rule: a termination with processing takes effect when the worker reaches it in
/// its queue, so a job queued before it may still queue work on its own worker ("first 2, second
/// 3"), which runs before the thread exits. Other threads are refused from the request on.
fn a_job_queued_before_a_termination_with_processing_may_still_queue_work_on_its_worker() {
    GATE.store(false, Ordering::SeqCst);
    RAN_AFTER_THE_REQUEST.store(0, Ordering::SeqCst);
    let worker = Worker::start("finishing").unwrap();
    let first = worker.execute(None, TransferMode::Safe, queues_more).unwrap();
    let done = worker.request_termination(true).unwrap();
    assert_error(worker.execute(None, TransferMode::Safe, count), Status::ErrWorkerTerminated, &["takes no new jobs"]);
    assert!(done.result(Some(Duration::from_millis(50))).is_err(), "the request waits behind the first job");
    GATE.store(true, Ordering::SeqCst);
    first.result(WAIT).expect("its own worker took both jobs");
    done.result(WAIT).unwrap();
    assert_eq!(RAN_AFTER_THE_REQUEST.load(Ordering::SeqCst), 2, "both ran before the thread exited");
    assert_error(worker.execute(None, TransferMode::Safe, count), Status::ErrUnknownWorker, &[]);
}

/// A thread-local global's value, large enough that releasing it takes a while.
fn many_objects() -> Result<Option<Object>> {
    let root = Object::new_list()?;
    for i in 0..20_000 {
        root.push_ref(Some(&one_list(i)))?;
    }
    Ok(Some(root))
}

fn reads_the_global(input: Option<Object>) -> Result<Option<Object>> {
    let id = input.expect("the global's id").get_int(0)?;
    let value = defined(id as u32).get()?.expect("a value");
    assert_eq!(value.len()?, 20_000);
    Ok(None)
}

/// The globals the test defined (one per run), for its jobs to find theirs by id.
static DEFINED: std::sync::Mutex<Vec<Global>> = std::sync::Mutex::new(Vec::new());

fn defined(id: u32) -> Global {
    *DEFINED.lock().unwrap().iter().find(|g| g.id() == id).expect("defined by the test")
}

/// The termination's future completes once the thread has exited and its values are released:
/// counted right after it, nothing the thread held is left (a thread-local global's value here).
fn the_termination_future_completes_after_the_threads_values_are_released() {
    let global = Global::define("per thread, large", GlobalMode::ThreadLocal, many_objects).unwrap();
    DEFINED.lock().unwrap().push(global);
    let before = Runtime::stats();
    let worker = Worker::start("holds a global").unwrap();
    let read = worker.execute(detached(global.id() as i64), TransferMode::Safe, reads_the_global).unwrap();
    read.result(WAIT).unwrap();
    worker.request_termination(true).unwrap().result(WAIT).unwrap();
    assert_eq!(Runtime::stats(), before, "right after a worker's termination future");
    let pool = Pool::start("holds a global", 2).unwrap();
    let reads: Vec<_> = (0..4)
        .map(|_| pool.execute(detached(global.id() as i64), TransferMode::Safe, reads_the_global).unwrap())
        .collect();
    for read in &reads {
        read.result(WAIT).unwrap();
    }
    pool.request_termination(true).unwrap().result(WAIT).unwrap();
    assert_eq!(Runtime::stats(), before, "right after a pool's termination future");
}

/// How many cycles `late_cycle` made.
static CYCLES_MADE: AtomicUsize = AtomicUsize::new(0);

/// Returns a two-object cycle, after its future was dropped: the result is freed on the worker.
fn late_cycle(_: Option<Object>) -> Result<Option<Object>> {
    std::thread::sleep(Duration::from_millis(50));
    let (a, b) = (Object::new_list()?, Object::new_list()?);
    a.push_ref(Some(&b))?;
    b.push_ref(Some(&a))?;
    CYCLES_MADE.fetch_add(1, Ordering::SeqCst);
    Ok(Some(a))
}

/// A cyclic result freed on its worker (its future was dropped first) is garbage there; the
/// worker collects it when it goes idle, not only when its collector is next due.
fn garbage_cycles_released_on_a_worker_are_collected_when_it_goes_idle() {
    let worker = Worker::start("idle collector").unwrap();
    let pool = Pool::start("idle collector", 1).unwrap();
    for on_pool in [false, true] {
        let (before, made) = (Runtime::stats().live_objects, CYCLES_MADE.load(Ordering::SeqCst));
        let future = if on_pool {
            pool.execute(None, TransferMode::Safe, late_cycle)
        } else {
            worker.execute(None, TransferMode::Safe, late_cycle)
        };
        drop(future.unwrap());
        let deadline = Instant::now() + Duration::from_secs(10);
        while CYCLES_MADE.load(Ordering::SeqCst) == made {
            assert!(Instant::now() < deadline, "the job never made its cycle");
            std::thread::sleep(Duration::from_millis(1));
        }
        while Runtime::stats().live_objects != before {
            assert!(Instant::now() < deadline, "the cycle is still live (on a pool: {on_pool})");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    worker.request_termination(true).unwrap().result(WAIT).unwrap();
    pool.request_termination(true).unwrap().result(WAIT).unwrap();
}
