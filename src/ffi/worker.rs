//! `floe_worker_*` and `floe_main_queue_*`: workers, jobs, and the main thread's queue.
//!
//! A job is a plain C function with no user data — as in Kotlin/Native, where the job lambda may
//! not capture: everything it needs travels in its input graph.

use super::future::register;
use super::{boundary, c_str, call_host, floe_future, floe_ref, required, returning, timeout, transfer_mode, UserData};
use crate::core::base::error::{Result, Status};
use crate::core::exec::future::Future;
use crate::core::exec::worker::{self, ForeignFn, JobFn};
use crate::core::graph::transfer::{self, TransferMode, Transit};
use std::ffi::{c_char, c_void};
use std::time::Duration;

/// Makes the root of a job's input graph on the calling thread: writes a handle to `*out_root`
/// (or 0 for no input), which floe then owns, and returns `FLOE_OK`; any other number fails the
/// call, and floe releases a root the producer wrote before failing. The return type is `int32_t`
/// so that any number is defined behaviour: a `FLOE_ERR_*` fails the call with that status and the
/// message the producer set with `floe_last_error_set` (the thread's last error is cleared before
/// it runs), a number that is no `floe_status` with `FLOE_ERR_HOST`, naming it. (In C before C23
/// `floe_status` is `int32_t`, so a function declared to return `floe_status` fits; in C++ declare
/// it `int32_t`.)
#[allow(non_camel_case_types)]
pub type floe_producer_fn = Option<unsafe extern "C" fn(producer_arg: *mut c_void, out_root: *mut floe_ref) -> i32>;

/// A job: runs on its worker with `input` (a handle the job owns and must release or return; 0 for
/// none) and writes its result's root to `*out_result` (0 for none), which floe then owns, and
/// returns `FLOE_OK`. Any other number fails the job's future, and floe releases a result the job
/// wrote before failing: a `FLOE_ERR_*` with that status and the message the job set with
/// `floe_last_error_set` (the thread's last error is cleared before each job, so a message is never
/// an earlier job's), a number that is no `floe_status` with `FLOE_ERR_HOST`, naming it. Returns
/// `int32_t`, as `floe_producer_fn` does and for the same reason.
#[allow(non_camel_case_types)]
pub type floe_job_fn = Option<unsafe extern "C" fn(input: floe_ref, out_result: *mut floe_ref) -> i32>;

/// Called, from any thread, when work is queued for the main thread or a delayed job of the main
/// queue falls due; `user_data` as registered.
#[allow(non_camel_case_types)]
pub type floe_wakeup_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// The id of the main thread's queue, usable wherever a worker id is (`worker::MAIN_WORKER`). When
/// the main thread exits, the main queue closes for good: what waits in it is cancelled (jobs'
/// futures fail with `FLOE_ERR_CANCELLED`, deliveries are called back with
/// `FLOE_ERR_WORKER_TERMINATED`), and later jobs and deliveries for it fail with
/// `FLOE_ERR_WORKER_TERMINATED`. No other thread becomes main.
pub const FLOE_WORKER_MAIN: u32 = 1;

/// Starts a worker thread named `name` (its thread's name in messages too) and writes its id to
/// `*out_worker`. The id is valid on every thread until the worker terminates, and is below 2^29,
/// where object type ids start (global ids start at 2^30, pool and view ids at 2^31).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_worker_start(name: *const c_char, out_worker: *mut u32) -> Status {
    let body = || {
        // SAFETY: documented contract: `name` is a NUL-terminated string.
        let id = worker::start(unsafe { c_str(name, "name") }?)?;
        Ok(id)
    };
    // SAFETY: documented contract: `out_worker` is NULL or writable.
    unsafe { returning("floe_worker_start", out_worker, "out_worker", body) }
}

/// Writes the id of the worker whose thread is calling to `*out_worker`: `FLOE_WORKER_MAIN` on the
/// main thread, 0 on a thread that is no worker.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_worker_current(out_worker: *mut u32) -> Status {
    // SAFETY: documented contract: `out_worker` is NULL or writable.
    unsafe { returning("floe_worker_current", out_worker, "out_worker", || Ok(worker::current())) }
}

fn c_job(job: floe_job_fn) -> Result<JobFn> {
    let job = required(job, "job")?;
    Ok(JobFn { adapter: run_c_job, target: ForeignFn(job as *const ()) })
}

/// The C jobs' adapter: calls the host's job function that `c_job` erased into `target`.
fn run_c_job(target: ForeignFn, input: Option<u64>) -> Result<Option<u64>> {
    // SAFETY: `c_job` made `target` from a non-NULL `floe_job_fn`, the type given back here (an
    // `Option` of a function pointer is laid out as a nullable pointer).
    let job = unsafe { std::mem::transmute::<*const (), floe_job_fn>(target.0) };
    let job = job.expect("`c_job` erased a non-NULL job");
    // SAFETY: the host's job function, called as documented with a writable out-parameter. The
    // future says "the job failed: ..." when it reports a failure.
    call_host(|result| unsafe { job(input.unwrap_or(0), result) })
}

/// Where `execute_from_c` hands a job: a worker, a pool or a view. Each `schedule` is inlined at
/// both of its calls, so that a job without a producer hands over a constant "no input". Out of
/// line (a closure called from two places was), "no input" was a byte stored and read back as a
/// word, which stalled every `floe_worker_execute` until the store landed.
pub(crate) trait Scheduler {
    fn schedule(self, input: Option<Transit>, job: JobFn) -> Result<Future>;
}

/// A worker's queue, addressed by id and lent, not cloned, to queue the job.
struct OnWorker(u32);

impl Scheduler for OnWorker {
    #[inline(always)]
    fn schedule(self, input: Option<Transit>, job: JobFn) -> Result<Future> {
        worker::execute_on(self.0, input, TransferMode::Safe, job)
    }
}

/// Runs the host's producer on the calling thread, detaches the graph it made by `mode` (on a
/// refused transfer the producer's root handle is released) and hands it to `schedule`. Out of
/// line: a job with no producer never comes here.
///
/// # Safety
/// `producer` is callable with `producer_arg` as documented for `floe_producer_fn`.
#[inline(never)]
unsafe fn produce_then<R>(
    producer: unsafe extern "C" fn(*mut c_void, *mut floe_ref) -> i32,
    producer_arg: *mut c_void,
    mode: TransferMode,
    schedule: impl FnOnce(Option<Transit>) -> Result<R>,
) -> Result<R> {
    // SAFETY: the host's producer, called as documented with a writable out-parameter.
    let made = call_host(|root| unsafe { producer(producer_arg, root) });
    let Some(root) = made.map_err(|error| error.context("the producer failed"))? else {
        return schedule(None);
    };
    let transit = transfer::detach(root, mode).inspect_err(|_| {
        let _ = crate::core::graph::object::release(root);
    })?;
    schedule(Some(transit))
}

/// The body of `floe_worker_execute` and `floe_pool_execute`: resolves the executor with `target`
/// (before the producer runs, so an unknown one runs nothing), runs the producer, detaches its
/// graph by `mode`, hands input and job to the scheduler `target` returned, and writes the
/// registered future to `*out_future`.
///
/// # Safety
/// `producer` is callable with `producer_arg` as documented for `floe_producer_fn`; `out_future` is
/// NULL or writable.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn execute_from_c<S: Scheduler>(
    function: &'static str,
    target: impl FnOnce() -> Result<S>,
    mode: u32,
    producer: floe_producer_fn,
    producer_arg: *mut c_void,
    job: floe_job_fn,
    out_future: *mut floe_future,
) -> Status {
    let body = || {
        let scheduler = target()?;
        let (mode, job) = (transfer_mode(mode)?, c_job(job)?);
        let future = match producer {
            None => scheduler.schedule(None, job),
            // SAFETY: forwarded contract.
            Some(producer) => unsafe {
                produce_then(producer, producer_arg, mode, |input| scheduler.schedule(input, job))
            },
        };
        register(future?)
    };
    // SAFETY: forwarded contract.
    unsafe { returning(function, out_future, "out_future", body) }
}

/// Runs `producer(producer_arg, &root)` on the calling thread, transfers the graph of `root` to
/// `worker` by `mode`, and schedules `job` there with it; writes the job's future to `*out_future`
/// (the caller owns it and releases it with `floe_future_release`). The job's result graph is
/// transferred by SAFE mode to whoever consumes the future.
///
/// `producer` may be NULL (no input). If the transfer is refused (`FLOE_ERR_NOT_TRANSFERABLE`), the
/// producer's root handle is released and nothing is scheduled. A frozen input is shared, not moved.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_worker_execute(
    worker: u32,
    mode: u32,
    producer: floe_producer_fn,
    producer_arg: *mut c_void,
    job: floe_job_fn,
    out_future: *mut floe_future,
) -> Status {
    let target = || {
        // The worker must exist before a producer runs (queueing finds out when there is none); it
        // is lent, not cloned, to queue the job.
        if producer.is_some() {
            worker::with_worker(worker, |_| Ok(()))?;
        }
        Ok(OnWorker(worker))
    };
    // SAFETY: documented contract: the producer is callable with `producer_arg`, `out_future` is
    // NULL or writable.
    unsafe { execute_from_c("floe_worker_execute", target, mode, producer, producer_arg, job, out_future) }
}

/// Schedules `job` on `worker` after `delay_ms` milliseconds, with `input` — a frozen object,
/// shared (the caller keeps its handle) — or 0 for none; writes its future to `*out_future` (owned
/// by the caller). A mutable input gives `FLOE_ERR_NOT_FROZEN`; a delay above `INT64_MAX` ms,
/// which no deadline reaches, `FLOE_ERR_INVALID_ARGUMENT`.
///
/// Delayed jobs and termination: with `process_scheduled`, the worker's thread exits only after its
/// delayed jobs have fallen due and run — however far off they are; without, they are cancelled at
/// once. For `FLOE_WORKER_MAIN`, the job waits in the main queue until it is due and the host drains
/// it: the wake-up hook fires when it falls due (`floe_main_queue_set_wakeup`), and
/// `floe_main_queue_park` wakes for it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_worker_execute_after(
    worker: u32,
    delay_ms: u64,
    input: floe_ref,
    job: floe_job_fn,
    out_future: *mut floe_future,
) -> Status {
    let body = || {
        let (worker, job) = (worker::lookup(worker)?, c_job(job)?);
        let input = (input != 0).then_some(input);
        register(worker::execute_after(&worker, Duration::from_millis(delay_ms), input, job)?)
    };
    // SAFETY: documented contract: `out_future` is NULL or writable.
    unsafe { returning("floe_worker_execute_after", out_future, "out_future", body) }
}

/// Asks `worker` to stop and writes a future that completes when its thread has exited — after its
/// values are released: its thread-local globals' values, its garbage cycles — to `*out_future`
/// (owned by the caller); `floe_runtime_stats` read right after it no longer counts them.
///
/// With `process_scheduled`, as in Kotlin/Native, the request is queued behind the jobs and takes
/// effect when the worker reaches it: every job queued before it runs, and until it is reached,
/// those jobs may still queue work on their own worker (`floe_worker_execute`,
/// `floe_worker_execute_after`, from the worker's thread), which runs too; delayed jobs run when
/// they fall due, before the thread exits. Other threads' jobs and deliveries are refused from the
/// request on. Without `process_scheduled`, every job not yet started is cancelled at once (its
/// future fails with `FLOE_ERR_CANCELLED`, its input is freed) — by the calling thread when the
/// worker is inside a job, which may never return — and a pending request with processing becomes
/// this. Either way no job is lost. New jobs get `FLOE_ERR_WORKER_TERMINATED`; once the future has
/// completed, the id is unknown (`FLOE_ERR_UNKNOWN_WORKER`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_worker_request_termination(
    worker: u32,
    process_scheduled: bool,
    out_future: *mut floe_future,
) -> Status {
    let body = || register(worker::lookup(worker)?.request_termination(process_scheduled)?);
    // SAFETY: documented contract: `out_future` is NULL or writable.
    unsafe { returning("floe_worker_request_termination", out_future, "out_future", body) }
}

/// Runs the jobs queued for `worker` now, on the calling thread, which must be that worker's own
/// (from inside one of its jobs); writes how many ran to `*out_ran`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_worker_process_queue(worker: u32, out_ran: *mut usize) -> Status {
    // SAFETY: documented contract: `out_ran` is NULL or writable.
    unsafe {
        returning("floe_worker_process_queue", out_ran, "out_ran", || worker::lookup(worker)?.process_queue(usize::MAX))
    }
}

/// Runs up to `max` tasks waiting in the main thread's queue (jobs sent to `FLOE_WORKER_MAIN`,
/// results delivered there, delayed jobs that are due); main thread only. Writes how many ran to
/// `*out_ran`. Call it from the host's own loop, typically after the wake-up hook fired.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_main_queue_drain(max: usize, out_ran: *mut usize) -> Status {
    // SAFETY: documented contract: `out_ran` is NULL or writable.
    unsafe { returning("floe_main_queue_drain", out_ran, "out_ran", || worker::drain_main(max)) }
}

/// Kotlin/Native's `Worker.park` for the main thread: waits up to `timeout_ms` milliseconds
/// (negative: forever) until a task of the main queue is ready — queued, or a delayed job fallen
/// due. With `process`, it then runs every task that is ready and writes how many ran to
/// `*out_ran`; without, it runs nothing and writes 1 if a task is ready, 0 if the time ran out. Main
/// thread only (`FLOE_ERR_WRONG_THREAD` elsewhere). A host loop that can block may park instead of
/// sleeping until the wake-up hook fires.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_main_queue_park(timeout_ms: i64, process: bool, out_ran: *mut usize) -> Status {
    // SAFETY: documented contract: `out_ran` is NULL or writable.
    unsafe { returning("floe_main_queue_park", out_ran, "out_ran", || worker::park_main(timeout(timeout_ms), process)) }
}

/// `floe_main_queue_park` for a worker, on its own thread (from inside one of its jobs):
/// waits up to `timeout_ms` (negative: forever) until a job or delivery is queued for `worker` or
/// one of its delayed jobs falls due; with `process`, runs what is ready. Writes how many ran (without
/// `process`: 1 if a task is ready, 0 if the time ran out) to `*out_ran`. A worker asked to
/// terminate with nothing left queued does not wait. `FLOE_WORKER_MAIN` is the main thread's queue.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_worker_park(worker: u32, timeout_ms: i64, process: bool, out_ran: *mut usize) -> Status {
    let body = || worker::lookup(worker)?.park(timeout(timeout_ms), process);
    // SAFETY: documented contract: `out_ran` is NULL or writable.
    unsafe { returning("floe_worker_park", out_ran, "out_ran", body) }
}

/// Registers `hook(user_data)`, called from whichever thread queues work for the main thread — and,
/// from floe's timer thread, when a delayed job of the main queue falls due — so the host can poke
/// its run loop (CFRunLoop, DispatchQueue.main, an event fd). NULL removes it. The hook must be safe
/// to call from any thread; it runs with no floe lock held, so it may queue work for the main
/// thread or set the hook. `user_data` must stay valid until it is replaced: this call returns once
/// no call of the replaced hook is under way (except one on the calling thread, when a hook
/// replaces itself).
#[unsafe(no_mangle)]
pub extern "C" fn floe_main_queue_set_wakeup(hook: floe_wakeup_fn, user_data: *mut c_void) -> Status {
    boundary("floe_main_queue_set_wakeup", || {
        let user_data = UserData(user_data);
        worker::set_main_wakeup(hook.map(|hook| -> worker::WakeHook {
            Box::new(move || {
                let data = user_data;
                // SAFETY: the host's hook, with the user data it registered, callable from any thread.
                unsafe { hook(data.0) }
            })
        }));
        Ok(())
    })
}
