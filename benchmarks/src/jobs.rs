//! The jobs the worker benchmarks run, from Rust and from C, and the streams and round trips made of
//! them.

use crate::graph::Graph;
use crate::measure::{pin_current_thread, timed};
use floe::ffi::future::{floe_future_release, floe_future_wait};
use floe::ffi::worker::floe_worker_execute;
use floe::ffi::{floe_future, floe_ref};
use floe::{FutureState, MainQueue, Object, Status, TransferMode, Worker};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The tiny work of a throughput job or message: one relaxed increment of a shared counter, which
/// the benchmarks check afterwards (no job lost, none run twice).
pub static TINY_WORK: AtomicU64 = AtomicU64::new(0);

pub fn tiny_work() {
    TINY_WORK.fetch_add(1, Ordering::Relaxed);
}

/// A job with no input and no result that does the tiny work.
pub fn tiny_job(_: Option<Object>) -> floe::Result<Option<Object>> {
    tiny_work();
    Ok(None)
}

/// A job that adds 1 to its input's int field (a `BenchNode`) and returns the input.
pub fn increment_job(input: Option<Object>) -> floe::Result<Option<Object>> {
    if let Some(object) = &input {
        let value = object.get_int(Graph::VALUE_FIELD)?;
        object.set_int(Graph::VALUE_FIELD, value + 1)?;
    }
    Ok(input)
}

/// Sends `object` (a one-object graph) to `worker` for `increment_job` and takes it back.
pub fn round_trip(worker: Worker, object: Object) -> Option<Object> {
    let input = object.detach(TransferMode::Safe).expect("detach");
    worker
        .execute(Some(input), TransferMode::Safe, increment_job)
        .and_then(|future| future.result(None))
        .expect("round trip")
}

/// Whether a stream of jobs keeps every future until the end, or drops each as it is made.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Futures {
    Kept,
    Dropped,
}

thread_local! {
    /// Where a stream keeps its futures: one buffer for every stream of the thread, so that its
    /// pages are faulted in once rather than inside each timing (the harness's memory is not what
    /// is measured; a page fault costs microseconds on a VM).
    static KEPT: RefCell<Vec<floe::Future>> = const { RefCell::new(Vec::new()) };
    /// The same for `floe_c_stream`'s C handles.
    static KEPT_C: RefCell<Vec<floe_future>> = const { RefCell::new(Vec::new()) };
}

/// Runs `jobs` tiny jobs on `worker`; the time from the first `execute` to the result of the last
/// job (a worker runs its jobs in order). For `Worker::MAIN`, the calling (main) thread drains its
/// queue before that. Untimed: every kept future is checked, and the count of jobs run.
pub fn floe_stream(worker: Worker, jobs: u64, futures: Futures) -> Duration {
    KEPT.with_borrow_mut(|kept| {
        kept.reserve(jobs as usize);
        let before = TINY_WORK.load(Ordering::Relaxed);
        let (last, elapsed) = timed(|| {
            for i in 0..jobs {
                let future = worker.execute(None, TransferMode::Safe, tiny_job).expect("execute");
                if futures == Futures::Kept || i + 1 == jobs {
                    kept.push(future);
                }
            }
            if worker == Worker::MAIN {
                assert_eq!(MainQueue::drain(usize::MAX).expect("drain"), jobs as usize);
            }
            kept.last().expect("at least one job").result(None)
        });
        last.expect("the last job");
        let (last, rest) = kept.split_last().expect("at least one job");
        assert_eq!(last.state(), FutureState::Consumed);
        assert!(rest.iter().all(|f| f.state() == FutureState::Computed), "every job ran");
        assert_eq!(TINY_WORK.load(Ordering::Relaxed) - before, jobs, "every job ran once");
        kept.clear();
        elapsed
    })
}

/// The C job of `floe_c_stream`: the tiny work, no result.
unsafe extern "C" fn c_tiny_job(_input: floe_ref, out_result: *mut floe_ref) -> i32 {
    tiny_work();
    // SAFETY: floe passes a writable out-parameter.
    unsafe { out_result.write(0) };
    Status::Ok as i32
}

/// `floe_worker_execute` of `c_tiny_job` on `worker`, with no producer; the C future it wrote.
#[inline]
fn c_execute_tiny_job(worker: Worker) -> floe_future {
    let mut future: floe_future = 0;
    // SAFETY: no producer; a job of the documented type; a writable out-parameter.
    let status = unsafe {
        floe_worker_execute(
            worker.id(),
            TransferMode::Safe as u32,
            None,
            std::ptr::null_mut(),
            Some(c_tiny_job),
            &mut future,
        )
    };
    assert_eq!(status, Status::Ok, "floe_worker_execute");
    future
}

/// `floe_stream` through the C ABI: `floe_worker_execute` with no producer and a C job, every
/// future kept (as a C host holds `floe_future` handles), then `floe_future_wait` on the last.
/// Untimed: every future released, and the count of jobs run.
pub fn floe_c_stream(worker: Worker, jobs: u64) -> Duration {
    KEPT_C.with_borrow_mut(|futures| {
        futures.reserve(jobs as usize);
        let before = TINY_WORK.load(Ordering::Relaxed);
        let (status, elapsed) = timed(|| {
            for _ in 0..jobs {
                futures.push(c_execute_tiny_job(worker));
            }
            let mut result: floe_ref = 0;
            // SAFETY: a writable out-parameter.
            unsafe { floe_future_wait(*futures.last().expect("at least one job"), -1, &mut result) }
        });
        assert_eq!(status, Status::Ok, "the last job");
        assert!(futures.drain(..).all(|future| floe_future_release(future) == Status::Ok), "every future released");
        assert_eq!(TINY_WORK.load(Ordering::Relaxed) - before, jobs, "every job ran once");
        elapsed
    })
}

/// One round trip through the C ABI: `floe_worker_execute` with no producer and a C job, then
/// `floe_future_wait` and `floe_future_release`, as a C host does it.
pub fn c_round_trip(worker: Worker) {
    let future = c_execute_tiny_job(worker);
    let mut result: floe_ref = u64::MAX;
    // SAFETY: a writable out-parameter.
    assert_eq!(unsafe { floe_future_wait(future, -1, &mut result) }, Status::Ok, "floe_future_wait");
    assert_eq!(result, 0, "the job returns no result");
    assert_eq!(floe_future_release(future), Status::Ok, "floe_future_release");
}

/// A job that pins the thread running it to the CPU in its input's int field.
fn pin_job(input: Option<Object>) -> floe::Result<Option<Object>> {
    let cpu = input.expect("a CPU number").get_int(Graph::VALUE_FIELD)?;
    pin_current_thread(Some(cpu as usize));
    Ok(None)
}

/// Pins `worker`'s thread to `cpu`, by a job.
pub fn pin_worker(worker: Worker, cpu: usize) {
    let object = Object::new(Graph::node_type()).expect("allocate");
    object.set_int(Graph::VALUE_FIELD, cpu as i64).expect("set");
    let input = object.detach(TransferMode::Safe).expect("detach");
    worker
        .execute(Some(input), TransferMode::Safe, pin_job)
        .and_then(|future| future.result(None))
        .expect("pin the worker");
}
