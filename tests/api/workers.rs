//! Workers, futures, the main queue.

use crate::harness::{assert_error, place, Place};
use floe::{Future, FutureState, MainQueue, Object, Result, Runtime, Status, TransferMode, Worker};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

crate::tests![
    a_job_gets_its_input_and_returns_a_result_owned_by_the_consumer,
    a_failed_job_keeps_its_status_and_message,
    a_panicking_job_fails_its_future_and_the_worker_goes_on,
    termination_runs_or_cancels_every_job,
    delayed_jobs_take_frozen_input,
    wait_any_returns_the_first_finished,
    results_can_be_delivered_to_a_workers_queue,
    a_delivery_to_a_terminated_worker_calls_back_with_the_reason,
    unknown_and_terminated_workers_are_errors,
    shutdown_reports_instead_of_aborting,
    a_c_future_released_while_another_thread_waits_is_a_status_not_a_crash,
    a_c_producer_may_make_no_input_or_fail_and_then_nothing_is_scheduled,
    durations_past_the_clocks_last_instant_wait_without_end_or_are_refused,
    waiting_in_the_queue_that_must_run_the_job_is_an_error_not_a_hang,
    a_wait_of_no_time_is_a_poll_that_leaves_the_future_to_finish,
];

const WAIT: Option<Duration> = Some(Duration::from_secs(10));

fn append_done(input: Option<Object>) -> Result<Option<Object>> {
    let list = input.expect("an input list");
    assert!(Worker::current().is_some_and(|w| w != Worker::MAIN), "jobs run on their worker");
    list.push_string("done on a worker")?;
    Ok(Some(list))
}

fn stop(worker: Worker) {
    let done = worker.request_termination(true).unwrap();
    assert_eq!(done.result(WAIT).unwrap().map(|_| ()), None);
}

fn a_job_gets_its_input_and_returns_a_result_owned_by_the_consumer() {
    let worker = Worker::start("echo").unwrap();
    let list = Object::new_list().unwrap();
    list.push_int(1).unwrap();
    let future =
        worker.execute(Some(list.detach(TransferMode::Safe).unwrap()), TransferMode::Safe, append_done).unwrap();
    let result = future.result(WAIT).unwrap().expect("a result");
    assert_eq!(result.get_string(1).unwrap(), "done on a worker");
    result.push_int(3).expect("the result is owned by the consumer");
    assert_eq!(future.state(), FutureState::Consumed);
    assert_error(future.result(WAIT), Status::ErrConsumed, &["already consumed"]);
    stop(worker);
}

fn fail(_: Option<Object>) -> Result<Option<Object>> {
    let list = Object::new_list()?;
    list.get_int(7)?;
    Ok(None)
}

fn a_failed_job_keeps_its_status_and_message() {
    let worker = Worker::start("failing").unwrap();
    let future = worker.execute(None, TransferMode::Safe, fail).unwrap();
    assert_error(future.result(WAIT), Status::ErrOutOfRange, &["the job failed: cannot get List#", "has 0 elements"]);
    assert_eq!(future.state(), FutureState::Failed);
    stop(worker);
}

fn panic_job(_: Option<Object>) -> Result<Option<Object>> {
    panic!("the job gave up")
}

fn make_list(_: Option<Object>) -> Result<Option<Object>> {
    let list = Object::new_list()?;
    list.push_int(42)?;
    Ok(Some(list))
}

fn a_panicking_job_fails_its_future_and_the_worker_goes_on() {
    let worker = Worker::start("panicky").unwrap();
    let panicked = worker.execute(None, TransferMode::Safe, panic_job).unwrap();
    assert_error(panicked.result(WAIT), Status::ErrPanic, &["the job gave up"]);
    let next = worker.execute(None, TransferMode::Safe, make_list).unwrap();
    assert_eq!(next.result(WAIT).unwrap().unwrap().get_int(0).unwrap(), 42);
    stop(worker);
}

fn slow(input: Option<Object>) -> Result<Option<Object>> {
    std::thread::sleep(Duration::from_millis(20));
    Ok(input)
}

fn termination_runs_or_cancels_every_job() {
    for process_scheduled in [true, false] {
        let worker = Worker::start("terminating").unwrap();
        let futures: Vec<_> = (0..5)
            .map(|i| {
                let list = Object::new_list().unwrap();
                list.push_int(i).unwrap();
                worker.execute(Some(list.detach(TransferMode::Safe).unwrap()), TransferMode::Safe, slow).unwrap()
            })
            .collect();
        let done = worker.request_termination(process_scheduled).unwrap();
        assert_error(
            worker.execute(None, TransferMode::Safe, slow),
            Status::ErrWorkerTerminated,
            &["takes no new jobs"],
        );
        done.result(WAIT).unwrap();
        for f in &futures {
            let state = f.state();
            if process_scheduled {
                assert_eq!(state, FutureState::Computed);
            } else {
                assert!(matches!(state, FutureState::Computed | FutureState::Cancelled), "{state:?}");
            }
        }
        if !process_scheduled {
            assert!(futures.iter().any(|f| f.state() == FutureState::Cancelled), "most jobs were still queued");
        }
        drop(futures);
        assert_eq!(Runtime::stats().detached_graphs, 0, "cancelled inputs and unconsumed results are disposed");
    }
}

fn read_first(input: Option<Object>) -> Result<Option<Object>> {
    let frozen = input.expect("the frozen input");
    assert!(frozen.is_frozen()?);
    let copy = Object::new_list()?;
    copy.push_int(frozen.get_int(0)?)?;
    Ok(Some(copy))
}

fn delayed_jobs_take_frozen_input() {
    let worker = Worker::start("timer").unwrap();
    let config = Object::new_list().unwrap();
    config.push_int(7).unwrap();
    assert_error(
        worker.execute_after(Duration::from_millis(1), Some(&config), read_first),
        Status::ErrNotFrozen,
        &["frozen input"],
    );
    config.freeze(None).unwrap();
    let late = worker.execute_after(Duration::from_millis(50), Some(&config), read_first).unwrap();
    let early = worker.execute_after(Duration::from_millis(1), Some(&config), read_first).unwrap();
    assert_eq!(early.result(WAIT).unwrap().unwrap().get_int(0).unwrap(), 7);
    assert_eq!(late.state(), FutureState::Scheduled);
    assert_eq!(late.result(WAIT).unwrap().unwrap().get_int(0).unwrap(), 7);
    stop(worker);
}

fn wait_any_returns_the_first_finished() {
    let (a, b) = (Worker::start("a").unwrap(), Worker::start("b").unwrap());
    let slow_future = a.execute_after(Duration::from_secs(5), None, make_list).unwrap();
    let fast_future = b.execute(None, TransferMode::Safe, make_list).unwrap();
    assert_eq!(floe::Future::wait_any(&[&slow_future, &fast_future], WAIT).unwrap(), 1);
    fast_future.result(WAIT).unwrap();
    assert_eq!(
        floe::Future::wait_any(&[&fast_future], WAIT).map_err(|e| e.status()),
        Err(Status::ErrConsumed),
        "consumed futures are not waited for"
    );
    a.request_termination(false).unwrap().result(WAIT).unwrap();
    assert_eq!(slow_future.state(), FutureState::Cancelled);
    stop(b);
}

static DELIVERED_ON: AtomicUsize = AtomicUsize::new(0);

fn record_delivery(outcome: Result<Option<Object>>) {
    let list = outcome.unwrap().unwrap();
    list.push_int(1).expect("attached to the thread it was delivered to");
    DELIVERED_ON.store(Worker::current().map_or(0, |w| w.id() as usize), Ordering::SeqCst);
}

static REFUSED_DELIVERIES: AtomicUsize = AtomicUsize::new(0);

fn record_refused_delivery(outcome: Result<Option<Object>>) {
    let error = outcome.expect_err("the target terminated before the delivery ran");
    assert_eq!(error.status(), Status::ErrWorkerTerminated, "{}", error.message());
    assert!(error.message().contains("\"doomed\" terminated before running this delivery"), "{}", error.message());
    REFUSED_DELIVERIES.fetch_add(1, Ordering::SeqCst);
}

/// A delivery its worker never runs still calls back once, so the host can free what it passed.
fn a_delivery_to_a_terminated_worker_calls_back_with_the_reason() {
    REFUSED_DELIVERIES.store(0, Ordering::SeqCst);
    let producer = Worker::start("producer").unwrap();
    let doomed = Worker::start("doomed").unwrap();
    let _busy = doomed
        .execute(None, TransferMode::Safe, |_| {
            std::thread::sleep(Duration::from_millis(100));
            Ok(None)
        })
        .unwrap();
    let future = producer.execute(None, TransferMode::Safe, make_list).unwrap();
    future.deliver_to(doomed, record_refused_delivery).unwrap();
    // Cancelled while queued behind the busy job, or refused if the result comes after.
    doomed.request_termination(false).unwrap().result(WAIT).unwrap();
    stop(producer);
    assert_eq!(REFUSED_DELIVERIES.load(Ordering::SeqCst), 1, "called back exactly once");
}

fn results_can_be_delivered_to_a_workers_queue() {
    let producer = Worker::start("producer").unwrap();
    let (target, wakeups) = match place() {
        Place::Main => {
            let wakeups = Arc::new(AtomicUsize::new(0));
            let counter = wakeups.clone();
            MainQueue::set_wakeup(Some(Box::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            })));
            (Worker::MAIN, Some(wakeups))
        }
        Place::Background => (Worker::start("consumer").unwrap(), None),
    };
    DELIVERED_ON.store(0, Ordering::SeqCst);
    let future = producer.execute(None, TransferMode::Safe, make_list).unwrap();
    future.deliver_to(target, record_delivery).unwrap();
    stop(producer);
    match wakeups {
        Some(wakeups) => {
            assert!(wakeups.load(Ordering::SeqCst) >= 1, "the host's loop was poked");
            assert_eq!(MainQueue::drain(usize::MAX).unwrap(), 1);
            MainQueue::set_wakeup(None);
            let poked = wakeups.load(Ordering::SeqCst);
            let quiet = Worker::MAIN.execute(None, TransferMode::Safe, make_list).unwrap();
            assert_eq!(wakeups.load(Ordering::SeqCst), poked, "a removed hook is not called");
            assert_eq!(MainQueue::drain(usize::MAX).unwrap(), 1);
            assert!(quiet.result(WAIT).unwrap().is_some(), "the job ran when the queue was drained");
        }
        None => {
            assert_error(MainQueue::drain(1), Status::ErrWrongThread, &["only its own thread (main)"]);
            stop(target);
        }
    }
    assert_eq!(DELIVERED_ON.load(Ordering::SeqCst), target.id() as usize);
}

fn unknown_and_terminated_workers_are_errors() {
    assert_error(Worker::from_id(999_999), Status::ErrUnknownWorker, &["no worker has id 999999"]);
    let worker = Worker::start("short").unwrap();
    stop(worker);
    assert_error(Worker::from_id(worker.id()), Status::ErrUnknownWorker, &[]);
    assert_error(worker.execute(None, TransferMode::Safe, make_list), Status::ErrUnknownWorker, &[]);
    assert_error(Worker::MAIN.request_termination(true), Status::ErrInvalidArgument, &["main queue"]);
}

fn sleep_a_while(_: Option<Object>) -> Result<Option<Object>> {
    std::thread::sleep(Duration::from_millis(300));
    Ok(None)
}

fn shutdown_reports_instead_of_aborting() {
    let (busy, idle) = (Worker::start("busy").unwrap(), Worker::start("idle").unwrap());
    let running = busy.execute(None, TransferMode::Safe, sleep_a_while).unwrap();
    let queued = idle.execute_after(Duration::from_secs(60), None, make_list).unwrap();
    std::thread::sleep(Duration::from_millis(20)); // the busy job has started
    let kept = Object::new_list().unwrap().detach(TransferMode::Safe).unwrap();
    let report = Runtime::shutdown(false, Some(Duration::from_millis(50)));
    assert_eq!(report.stats.detached_graphs, 1, "{report}");
    assert_eq!(queued.state(), FutureState::Cancelled);
    assert!(report.stopped.iter().any(|w| w.contains("(idle)")), "{report}");
    assert!(report.unfinished.iter().any(|w| w.contains("(busy)")), "{report}");
    assert!(report.to_string().contains("unfinished, still running: worker"), "{report}");
    drop(kept);
    running.result(WAIT).unwrap();
    let clean = Runtime::shutdown(true, WAIT);
    assert!(clean.is_clean(), "{clean}");
}

/// A C job that takes a little while, so that a waiter is waiting when the release comes.
unsafe extern "C" fn c_nap(_input: u64, out_result: *mut u64) -> i32 {
    std::thread::sleep(Duration::from_micros(200));
    // SAFETY: floe passes a writable out-parameter.
    unsafe { out_result.write(0) };
    Status::Ok as i32
}

/// A C host that releases a `floe_future` on one thread while another waits on it: the waiter
/// either got in first (and sees the job finish) or finds the id released; the id then stays
/// released, and nothing leaks.
fn a_c_future_released_while_another_thread_waits_is_a_status_not_a_crash() {
    use floe::ffi::future::{floe_future_release, floe_future_wait};
    use floe::ffi::worker::floe_worker_execute;
    let worker = Worker::start("napper").unwrap();
    let (mut waited, mut refused) = (0, 0);
    for _ in 0..50 {
        let mut future = 0;
        // SAFETY: no producer; a job of the documented type; a writable out-parameter.
        let status = unsafe {
            floe_worker_execute(
                worker.id(),
                TransferMode::Safe as u32,
                None,
                std::ptr::null_mut(),
                Some(c_nap),
                &mut future,
            )
        };
        assert_eq!(status, Status::Ok);
        let waiter = std::thread::spawn(move || {
            let mut result = u64::MAX;
            // SAFETY: a writable out-parameter.
            let status = unsafe { floe_future_wait(future, 10_000, &mut result) };
            (status, result)
        });
        std::thread::yield_now();
        assert_eq!(floe_future_release(future), Status::Ok);
        match waiter.join().unwrap() {
            (Status::Ok, result) => {
                assert_eq!(result, 0, "the job returned no result");
                waited += 1;
            }
            (Status::ErrReleasedHandle, result) => {
                assert_eq!(result, u64::MAX, "a failed wait writes nothing");
                refused += 1;
            }
            other => panic!("a wait racing the release: {other:?}"),
        }
        assert_eq!(floe_future_release(future), Status::ErrReleasedHandle, "released once");
    }
    assert_eq!(waited + refused, 50);
    stop(worker);
}

/// A C producer that makes no root: the job runs with no input.
unsafe extern "C" fn no_root_producer(_arg: *mut std::ffi::c_void, out_root: *mut u64) -> i32 {
    // SAFETY: floe passes a writable out-parameter.
    unsafe { out_root.write(0) };
    Status::Ok as i32
}

/// A C producer that fails, explaining why.
unsafe extern "C" fn failing_producer(_arg: *mut std::ffi::c_void, _out_root: *mut u64) -> i32 {
    let status = Status::ErrInvalidArgument as i32;
    // SAFETY: a NUL-terminated message.
    assert_eq!(unsafe { floe::ffi::error::floe_last_error_set(status, c"no input today".as_ptr()) }, Status::Ok);
    status
}

static C_JOBS_RUN: AtomicUsize = AtomicUsize::new(0);

/// A C job that counts its runs and fails unless it has no input.
unsafe extern "C" fn c_expect_no_input(input: u64, out_result: *mut u64) -> i32 {
    C_JOBS_RUN.fetch_add(1, Ordering::SeqCst);
    // SAFETY: floe passes a writable out-parameter.
    unsafe { out_result.write(0) };
    if input == 0 {
        Status::Ok as i32
    } else {
        Status::ErrInvalidArgument as i32
    }
}

/// `floe_worker_execute` and `floe_pool_execute` with no producer, with a producer that makes no
/// root, and with one that fails: the first two run the job without input; the failure schedules
/// nothing, writes no future, and says the producer failed, in the producer's words.
fn a_c_producer_may_make_no_input_or_fail_and_then_nothing_is_scheduled() {
    use floe::ffi::future::{floe_future_release, floe_future_wait};
    use floe::ffi::pool::floe_pool_execute;
    use floe::ffi::worker::{floe_job_fn, floe_producer_fn, floe_worker_execute};
    type Execute =
        unsafe extern "C" fn(u32, u32, floe_producer_fn, *mut std::ffi::c_void, floe_job_fn, *mut u64) -> Status;
    let worker = Worker::start("no input").unwrap();
    let pool = floe::Pool::start("no input", 1).unwrap();
    let targets: [(Execute, u32); 2] = [(floe_worker_execute, worker.id()), (floe_pool_execute, pool.id())];
    let safe = TransferMode::Safe as u32;
    let job: floe_job_fn = Some(c_expect_no_input);
    for (execute, target) in targets {
        let before = C_JOBS_RUN.load(Ordering::SeqCst);
        for producer in [None, Some(no_root_producer as unsafe extern "C" fn(_, _) -> _)] {
            let mut future = 0;
            // SAFETY: a producer and a job of the documented types; a writable out-parameter.
            assert_eq!(unsafe { execute(target, safe, producer, std::ptr::null_mut(), job, &mut future) }, Status::Ok);
            let mut result = u64::MAX;
            // SAFETY: a writable out-parameter.
            assert_eq!(unsafe { floe_future_wait(future, 10_000, &mut result) }, Status::Ok, "the job had no input");
            assert_eq!(result, 0);
            assert_eq!(floe_future_release(future), Status::Ok);
        }
        let mut future = u64::MAX;
        // SAFETY: as above.
        let status = unsafe { execute(target, safe, Some(failing_producer), std::ptr::null_mut(), job, &mut future) };
        assert_eq!(status, Status::ErrInvalidArgument, "the producer's status");
        assert_eq!(future, u64::MAX, "no future is written");
        // SAFETY: floe's last message is a NUL-terminated string until this thread's next failure.
        let message = unsafe { std::ffi::CStr::from_ptr(floe::ffi::error::floe_last_error_message()) };
        let message = message.to_string_lossy();
        assert!(message.contains("the producer failed") && message.contains("no input today"), "{message}");
        assert_eq!(C_JOBS_RUN.load(Ordering::SeqCst) - before, 2, "the two jobs ran, the refused one did not");
    }
    stop(worker);
    let done = pool.request_termination(true).unwrap();
    assert!(done.result(WAIT).unwrap().is_none());
}

/// `Duration::MAX` from now is past the last instant the clock can tell: adding it panicked in a
/// wait, a wait for any and a delayed job. A wait that long has no deadline; a job delayed that
/// long would never run, so it is refused.
fn durations_past_the_clocks_last_instant_wait_without_end_or_are_refused() {
    let worker = Worker::start("durations").unwrap();
    let future = worker.execute(None, TransferMode::Safe, make_list).unwrap();
    assert_eq!(Future::wait_any(&[&future], Some(Duration::MAX)).unwrap(), 0);
    let list = future.result(Some(Duration::MAX)).unwrap().expect("a result");
    assert_eq!(list.get_int(0).unwrap(), 42);
    assert_error(worker.execute_after(Duration::MAX, None, make_list), Status::ErrInvalidArgument, &["never run"]);
    stop(worker);
}

/// A job that queues a job on its own worker and waits for it: the wait could never end.
fn wait_for_a_job_on_this_worker(_: Option<Object>) -> Result<Option<Object>> {
    let this = Worker::current().expect("runs on a worker");
    this.execute(None, TransferMode::Safe, make_list)?.result(WAIT)
}

/// Kotlin/Native hung here: the main thread waiting for a job in the main queue, which only it
/// drains, and a worker's job waiting for a job queued on its own worker. Each wait fails at once;
/// the jobs still run when their queue does.
fn waiting_in_the_queue_that_must_run_the_job_is_an_error_not_a_hang() {
    if place() == Place::Main {
        let queued = Worker::MAIN.execute(None, TransferMode::Safe, make_list).unwrap();
        assert_error(queued.result(None), Status::ErrWouldDeadlock, &["the main queue", "floe_main_queue_drain"]);
        assert_error(queued.result(WAIT), Status::ErrWouldDeadlock, &[]);
        assert_error(Future::wait_any(&[&queued], None), Status::ErrWouldDeadlock, &["the main queue"]);
        let elsewhere = Worker::start("elsewhere").unwrap();
        let other = elsewhere.execute(None, TransferMode::Safe, make_list).unwrap();
        assert_eq!(Future::wait_any(&[&queued, &other], WAIT).unwrap(), 1, "a future elsewhere can finish");
        assert!(other.result(None).unwrap().is_some());
        stop(elsewhere);
        assert_eq!(MainQueue::drain(usize::MAX).unwrap(), 1);
        assert_eq!(queued.result(None).unwrap().expect("a result").get_int(0).unwrap(), 42);
    }
    let worker = Worker::start("self-waiter").unwrap();
    let outer = worker.execute(None, TransferMode::Safe, wait_for_a_job_on_this_worker).unwrap();
    assert_error(outer.result(WAIT), Status::ErrWouldDeadlock, &["the job failed", "this worker's own queue"]);
    let own_end = worker.execute(None, TransferMode::Safe, wait_for_this_workers_termination).unwrap();
    assert_error(own_end.result(WAIT), Status::ErrWouldDeadlock, &["this worker's termination"]);
    // That job asked for its own worker's termination, which may be over already.
    match worker.request_termination(true) {
        Ok(done) => assert_eq!(done.result(WAIT).unwrap().map(|_| ()), None),
        Err(gone) => assert_eq!(gone.status(), Status::ErrUnknownWorker, "{gone}"),
    }
}

/// A job that asks its own worker to terminate and waits for it: the wait could never end.
fn wait_for_this_workers_termination(_: Option<Object>) -> Result<Option<Object>> {
    Worker::current().expect("runs on a worker").request_termination(true)?.result(WAIT)
}

/// Holds `gated_job` until set; each test that uses it clears it first.
static GATE_OPEN: AtomicBool = AtomicBool::new(false);

fn gated_job(_: Option<Object>) -> Result<Option<Object>> {
    while !GATE_OPEN.load(Ordering::Acquire) {
        std::thread::yield_now();
    }
    Ok(Some(Object::new_list()?))
}

fn a_wait_of_no_time_is_a_poll_that_leaves_the_future_to_finish() {
    GATE_OPEN.store(false, Ordering::Release);
    let worker = Worker::start("gated").unwrap();
    let future = worker.execute(None, TransferMode::Safe, gated_job).unwrap();
    for _ in 0..3 {
        assert_error(future.result(Some(Duration::ZERO)), Status::ErrTimeout, &["did not finish within 0ns"]);
        assert_eq!(future.state(), FutureState::Scheduled, "a poll takes nothing");
    }
    GATE_OPEN.store(true, Ordering::Release);
    let list = future.result(WAIT).unwrap().expect("the job's list");
    list.push_int(1).expect("owned by the thread that polled, then waited");
    assert_eq!(future.state(), FutureState::Consumed);
    stop(worker);
}
