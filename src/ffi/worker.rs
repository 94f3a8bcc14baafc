//! `floe_worker_*` and `floe_main_queue_*`: workers, jobs, and the main thread's queue.
//!
//! A job is a plain C function with no user data — as in Kotlin/Native, where the job lambda may
//! not capture: everything it needs travels in its input graph.

use super::future::register;
use super::{
    boundary, c_str, floe_future, floe_ref, last_message, last_status, required, returning, transfer_mode, UserData,
};
use crate::core::base::error::{Error, Result, Status};
use crate::core::exec::future::Future;
use crate::core::exec::worker::{self, ForeignFn, JobFn};
use crate::core::graph::transfer::{self, TransferMode, Transit};
use std::ffi::{c_char, c_void, CStr};
use std::time::Duration;

/// Makes the root of a job's input graph on the calling thread: writes a handle to `*out_root`
/// (or 0 for no input), which floe then owns. Returns `FLOE_OK`, or a status that fails the call.
#[allow(non_camel_case_types)]
pub type floe_producer_fn = Option<unsafe extern "C" fn(producer_arg: *mut c_void, out_root: *mut floe_ref) -> Status>;

/// A job: runs on its worker with `input` (a handle the job owns and must release or return; 0 for
/// none) and writes its result's root to `*out_result` (0 for none), which floe then owns. A status
/// other than `FLOE_OK` fails the job's future with that status and the thread's last error message.
#[allow(non_camel_case_types)]
pub type floe_job_fn = Option<unsafe extern "C" fn(input: floe_ref, out_result: *mut floe_ref) -> Status>;

/// Called, from any thread, when work is queued for the main thread; `user_data` as registered.
#[allow(non_camel_case_types)]
pub type floe_wakeup_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// The id of the main thread's queue, usable wherever a worker id is (`worker::MAIN_WORKER`).
pub const FLOE_WORKER_MAIN: u32 = 1;

/// The error a C callback's status stands for: the thread's last message when its status matches.
pub(crate) fn c_failure(status: Status) -> Error {
    let message = if last_status() == status {
        // SAFETY: floe's last message is a valid NUL-terminated string until the next failure here.
        unsafe { CStr::from_ptr(last_message()) }.to_string_lossy().into_owned()
    } else {
        format!("it returned {}", status.name())
    };
    Error::new(status, message)
}

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
    let mut result: floe_ref = 0;
    // SAFETY: the host's job function, called as documented with a writable out-parameter.
    let status = unsafe { job(input.unwrap_or(0), &mut result) };
    if status != Status::Ok {
        // The future says "the job failed: ..." when it reports this.
        return Err(c_failure(status));
    }
    Ok((result != 0).then_some(result))
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
    producer: unsafe extern "C" fn(*mut c_void, *mut floe_ref) -> Status,
    producer_arg: *mut c_void,
    mode: TransferMode,
    schedule: impl FnOnce(Option<Transit>) -> Result<R>,
) -> Result<R> {
    let mut root: floe_ref = 0;
    // SAFETY: the host's producer, called as documented with a writable out-parameter.
    let status = unsafe { producer(producer_arg, &mut root) };
    if status != Status::Ok {
        return Err(c_failure(status).context("the producer failed"));
    }
    if root == 0 {
        return schedule(None);
    }
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
/// by the caller). A mutable input gives `FLOE_ERR_NOT_FROZEN`.
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
/// results delivered there); main thread only. Writes how many ran to `*out_ran`. Call it from the
/// host's own loop, typically after the wake-up hook fired.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_main_queue_drain(max: usize, out_ran: *mut usize) -> Status {
    // SAFETY: documented contract: `out_ran` is NULL or writable.
    unsafe { returning("floe_main_queue_drain", out_ran, "out_ran", || worker::drain_main(max)) }
}

/// Registers `hook(user_data)`, called from whichever thread queues work for the main thread, so
/// the host can poke its run loop (CFRunLoop, DispatchQueue.main, an event fd). NULL removes it.
/// The hook must be safe to call from any thread, and `user_data` valid until it is replaced.
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
