//! Scheduling: waits that could never end on a pool's own threads, delayed jobs (their limit, the
//! main queue's wake-up when one falls due), parking on a queue, and the wake-up hook run with no
//! floe lock held.

use crate::harness::{assert_error, place, Place};
use floe::{Future, MainQueue, Object, Pool, Result, Status, TransferMode, Worker};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

crate::tests![
    a_pool_job_waiting_for_its_own_pool_with_every_thread_waiting_is_an_error_not_a_hang,
    a_view_job_waiting_for_its_own_view_at_its_limit_is_an_error_not_a_hang,
    a_pool_job_may_wait_for_its_own_pool_while_a_thread_is_free,
    a_delay_no_deadline_reaches_is_refused,
    a_delayed_main_queue_job_wakes_the_host_when_it_falls_due,
    the_wakeup_hook_may_queue_work_for_the_main_thread_and_set_the_hook,
    parking_waits_for_queued_and_delayed_work,
];

const WAIT: Option<Duration> = Some(Duration::from_secs(20));
/// How long a job waits for another in the tests below: before such waits were checked, they ran
/// this long and timed out, rather than hanging the test.
const INNER_WAIT: Option<Duration> = Some(Duration::from_secs(5));

/// The pool or view the jobs below queue their inner jobs on.
static TARGET: Mutex<Option<Pool>> = Mutex::new(None);

fn target() -> Pool {
    TARGET.lock().unwrap().expect("the test set the target")
}

fn make_list(_: Option<Object>) -> Result<Option<Object>> {
    let list = Object::new_list()?;
    list.push_int(42)?;
    Ok(Some(list))
}

/// Queues `make_list` on the target and waits for it (up to `INNER_WAIT`).
fn wait_for_a_job_of_the_target(_: Option<Object>) -> Result<Option<Object>> {
    target().execute(None, TransferMode::Safe, make_list)?.result(INNER_WAIT)
}

/// Queues `make_list` on the target and waits for it without a timeout.
fn wait_without_end_for_a_job_of_the_target(_: Option<Object>) -> Result<Option<Object>> {
    target().execute(None, TransferMode::Safe, make_list)?.result(None)
}

/// Queues a job that waits for a third on the target, and waits for it, all without a timeout:
/// whichever of the two waits is checked second finds every thread of a 2-thread pool waiting.
fn wait_for_a_waiter(_: Option<Object>) -> Result<Option<Object>> {
    target().execute(None, TransferMode::Safe, wait_without_end_for_a_job_of_the_target)?.result(None)
}

/// Kotlin/Native and floe before had a pool's job that waited for a job of its own pool, with
/// every thread of the pool waiting, hang; a worker in that situation is told at once. The wait
/// that would block the last thread is refused; the jobs then run.
fn a_pool_job_waiting_for_its_own_pool_with_every_thread_waiting_is_an_error_not_a_hang() {
    let alone = Pool::start("alone", 1).unwrap();
    *TARGET.lock().unwrap() = Some(alone);
    let started = Instant::now();
    let outer = alone.execute(None, TransferMode::Safe, wait_for_a_job_of_the_target).unwrap();
    assert_error(
        outer.result(WAIT),
        Status::ErrWouldDeadlock,
        &["the job failed", "the wait could never end", "every thread of pool \"alone\" (1 in all)"],
    );
    assert!(started.elapsed() < Duration::from_secs(4), "refused at once, not after the inner wait's timeout");

    // Two threads: the first waits for a job that waits for a third job (before, both hung; here
    // the test's own wait has a timeout). Either wait may be the one refused; the other then ends.
    let pair = Pool::start("pair", 2).unwrap();
    *TARGET.lock().unwrap() = Some(pair);
    let outer = pair.execute(None, TransferMode::Safe, wait_for_a_waiter).unwrap();
    assert_error(outer.result(WAIT), Status::ErrWouldDeadlock, &["every thread of pool \"pair\" (2 in all)"]);
    for pool in [alone, pair] {
        pool.request_termination(true).unwrap().result(WAIT).unwrap();
    }
    *TARGET.lock().unwrap() = None;
}

/// A view's jobs beyond its limit wait in its backlog: a running job of a view with limit 1 that
/// waits for another of the view's jobs could never see it start, even with threads free.
fn a_view_job_waiting_for_its_own_view_at_its_limit_is_an_error_not_a_hang() {
    let pool = Pool::start("roomy", 3).unwrap();
    let single = pool.limited_parallelism(1).unwrap();
    *TARGET.lock().unwrap() = Some(single);
    let outer = single.execute(None, TransferMode::Safe, wait_for_a_job_of_the_target).unwrap();
    assert_error(outer.result(WAIT), Status::ErrWouldDeadlock, &["may run at once (its limit, 1)", "can never start"]);
    // With a limit of 2 the inner job has a slot of its own: no alarm.
    let double = pool.limited_parallelism(2).unwrap();
    *TARGET.lock().unwrap() = Some(double);
    let outer = double.execute(None, TransferMode::Safe, wait_for_a_job_of_the_target).unwrap();
    assert_eq!(outer.result(WAIT).unwrap().expect("the inner job's list").get_int(0).unwrap(), 42);
    pool.request_termination(true).unwrap().result(WAIT).unwrap();
    *TARGET.lock().unwrap() = None;
}

/// No false alarm: with a thread free, a pool's job may wait for another (without a timeout too).
fn a_pool_job_may_wait_for_its_own_pool_while_a_thread_is_free() {
    let pool = Pool::start("three", 3).unwrap();
    *TARGET.lock().unwrap() = Some(pool);
    let outer = pool.execute(None, TransferMode::Safe, wait_for_a_waiter).unwrap();
    assert_eq!(outer.result(WAIT).unwrap().expect("the innermost job's list").get_int(0).unwrap(), 42);
    pool.request_termination(true).unwrap().result(WAIT).unwrap();
    *TARGET.lock().unwrap() = None;
}

/// `u64::MAX` milliseconds from now is a deadline the clock can hold (584 million years), so it was
/// accepted, and a termination that processes scheduled jobs then waited for it for ever.
fn a_delay_no_deadline_reaches_is_refused() {
    let worker = Worker::start("patient").unwrap();
    for target in [worker, Worker::MAIN] {
        assert_error(
            target.execute_after(Duration::from_millis(u64::MAX), None, make_list),
            Status::ErrInvalidArgument,
            &["a delay of 18446744073709551615 ms", "the longest is 9223372036854775807 ms"],
        );
    }
    // The longest delay is taken; a termination without processing cancels it at once.
    let longest = worker.execute_after(Duration::from_millis(i64::MAX as u64), None, make_list).unwrap();
    worker.request_termination(false).unwrap().result(WAIT).unwrap();
    assert_error(longest.result(WAIT), Status::ErrCancelled, &[]);
}

static HOOK_CALLS: AtomicUsize = AtomicUsize::new(0);
static DOORBELL: Mutex<Option<std::sync::mpsc::Sender<()>>> = Mutex::new(None);

fn ring() {
    HOOK_CALLS.fetch_add(1, Ordering::SeqCst);
    if let Some(doorbell) = &*DOORBELL.lock().unwrap() {
        let _ = doorbell.send(());
    }
}

/// The hook fired when the delayed job was queued, not when it fell due: a host that sleeps until
/// the hook fires never ran it.
fn a_delayed_main_queue_job_wakes_the_host_when_it_falls_due() {
    if place() != Place::Main {
        return;
    }
    let (doorbell, rung) = std::sync::mpsc::channel();
    *DOORBELL.lock().unwrap() = Some(doorbell);
    MainQueue::set_wakeup(Some(Box::new(ring)));
    let queued = Instant::now();
    let delayed = Worker::MAIN.execute_after(Duration::from_millis(150), None, make_list).unwrap();
    // The host's loop: sleep until the hook fires, then drain.
    let mut ran = 0;
    while ran == 0 {
        if rung.recv_timeout(Duration::from_secs(10)).is_err() {
            panic!("the hook did not fire within 10 s of the delayed job falling due");
        }
        ran += MainQueue::drain(usize::MAX).unwrap();
    }
    assert!(queued.elapsed() >= Duration::from_millis(150), "ran once due, not before");
    assert_eq!(delayed.result(None).unwrap().expect("the job's list").get_int(0).unwrap(), 42);
    MainQueue::set_wakeup(None);
    *DOORBELL.lock().unwrap() = None;
}

fn nothing(_: Option<Object>) -> Result<Option<Object>> {
    Ok(None)
}

/// The main queue's futures queued by the hook below, for the test to wait for.
static QUEUED_BY_HOOK: Mutex<Vec<Future>> = Mutex::new(Vec::new());

/// A hook that queues work for the main thread (which calls it again: only the first call queues)
/// and then replaces itself.
fn queue_from_the_hook() {
    if HOOK_CALLS.fetch_add(1, Ordering::SeqCst) == 0 {
        let future = Worker::MAIN.execute(None, TransferMode::Safe, nothing).expect("queued from the hook");
        QUEUED_BY_HOOK.lock().unwrap().push(future);
        MainQueue::set_wakeup(Some(Box::new(ring)));
    }
}

/// The hook ran under the hook's own lock, so a hook that queued work for the main thread, or set
/// the hook, deadlocked the thread that queued.
fn the_wakeup_hook_may_queue_work_for_the_main_thread_and_set_the_hook() {
    // The main thread drains what the hook queued (the queueing itself runs on a thread of its own).
    if place() != Place::Main {
        return;
    }
    HOOK_CALLS.store(0, Ordering::SeqCst);
    MainQueue::set_wakeup(Some(Box::new(queue_from_the_hook)));
    let (done, finished) = std::sync::mpsc::channel();
    let queuing = std::thread::spawn(move || {
        let future = Worker::MAIN.execute(None, TransferMode::Safe, nothing).unwrap();
        let _ = done.send(());
        future
    });
    finished.recv_timeout(Duration::from_secs(10)).expect("queueing for the main thread returned");
    let first = queuing.join().unwrap();
    assert_eq!(HOOK_CALLS.load(Ordering::SeqCst), 2, "the hook was called again for the job it queued");
    MainQueue::set_wakeup(None);
    let mut futures = std::mem::take(&mut *QUEUED_BY_HOOK.lock().unwrap());
    futures.push(first);
    assert_eq!(MainQueue::drain(usize::MAX).unwrap(), 2);
    for future in &futures {
        assert!(future.result(None).unwrap().is_none());
    }
}

/// Parks inside a job on its own worker until a delayed job of that worker falls due; returns how
/// many tasks the park ran.
fn park_for_a_delayed_job(_: Option<Object>) -> Result<Option<Object>> {
    let this = Worker::current().expect("runs on a worker");
    let delayed = this.execute_after(Duration::from_millis(50), None, nothing)?;
    let ran = this.park(WAIT, true)?;
    assert!(delayed.result(Some(Duration::ZERO))?.is_none(), "the park ran it");
    let list = Object::new_list()?;
    list.push_int(ran as i64)?;
    Ok(Some(list))
}

/// Kotlin/Native's `Worker.park(timeout, process)`: the main thread and a worker's job wait for
/// work, delayed jobs included, and run it.
fn parking_waits_for_queued_and_delayed_work() {
    let worker = Worker::start("parker").unwrap();
    let parked = worker.execute(None, TransferMode::Safe, park_for_a_delayed_job).unwrap();
    assert_eq!(parked.result(WAIT).unwrap().expect("a count").get_int(0).unwrap(), 1);
    assert_error(worker.park(Some(Duration::ZERO), false), Status::ErrWrongThread, &["cannot park on the queue of"]);
    if place() == Place::Main {
        assert_eq!(MainQueue::park(Some(Duration::from_millis(30)), false).unwrap(), 0, "the time ran out");
        let started = Instant::now();
        let delayed = Worker::MAIN.execute_after(Duration::from_millis(100), None, nothing).unwrap();
        assert_eq!(MainQueue::park(Some(Duration::from_millis(1)), true).unwrap(), 0, "not due yet");
        assert_eq!(MainQueue::park(WAIT, false).unwrap(), 1, "due: ready, not run");
        assert_eq!(MainQueue::park(WAIT, true).unwrap(), 1);
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert!(delayed.result(None).unwrap().is_none());
        // Queued from another thread while the main thread parks without a timeout.
        let queuing = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(50));
            Worker::MAIN.execute(None, TransferMode::Safe, nothing).unwrap()
        });
        assert_eq!(MainQueue::park(None, true).unwrap(), 1);
        assert!(queuing.join().unwrap().result(None).unwrap().is_none());
    } else {
        assert_error(MainQueue::park(Some(Duration::ZERO), true), Status::ErrWrongThread, &["park on"]);
    }
    worker.request_termination(true).unwrap().result(WAIT).unwrap();
}
