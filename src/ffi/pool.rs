//! `floe_pool_*`: pools of worker threads and limited-parallelism views of them. Pool and view ids
//! are one id space, distinct from worker ids.

use super::future::register;
use super::worker::{execute_from_c, floe_job_fn, floe_producer_fn, Scheduler};
use super::{c_str, floe_future, returning};
use crate::core::base::error::{Result, Status};
use crate::core::exec::future::Future;
use crate::core::exec::pool::{self, Executor};
use crate::core::exec::worker::{self, JobFn};
use crate::core::graph::transfer::{TransferMode, Transit};
use std::ffi::{c_char, c_void};
use std::sync::Arc;

/// Starts a pool of `threads` threads named `<name>-<i>` sharing one queue, and writes its id to
/// `*out_pool`. Pool and view ids are 2^31 and above, worker ids below 2^29: either kind given to
/// the other's functions gives `FLOE_ERR_UNKNOWN_WORKER`, saying so.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_pool_start(name: *const c_char, threads: usize, out_pool: *mut u32) -> Status {
    let body = || {
        // SAFETY: documented contract: `name` is a NUL-terminated string.
        let id = pool::start(unsafe { c_str(name, "name") }?, threads)?;
        Ok(id)
    };
    // SAFETY: documented contract: `out_pool` is NULL or writable.
    unsafe { returning("floe_pool_start", out_pool, "out_pool", body) }
}

/// Makes a view of `pool` (a pool or a view of it) that runs at most `limit` of its jobs at once,
/// with no threads of its own, and writes its id to `*out_view`. Each job still has one owner.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_pool_limited_parallelism(pool: u32, limit: usize, out_view: *mut u32) -> Status {
    // SAFETY: documented contract: `out_view` is NULL or writable.
    unsafe { returning("floe_pool_limited_parallelism", out_view, "out_view", || pool::view(pool, limit)) }
}

/// `floe_worker_execute` for a pool or a view: the job runs on one of the pool's threads, which
/// owns its input graph while it runs.
///
/// A wait for the job's future by one of the pool's own threads (from inside a job) that could never
/// end fails at once with `FLOE_ERR_WOULD_DEADLOCK`, as on a worker: when every other thread of the
/// pool is already blocked in a wait without timeout for a job of the pool or of its views (none is
/// left to run this one); or, for a job of a view, when the waiting thread runs a job of that view
/// and the view's other running jobs, up to its limit, all wait for jobs of the view (this one can
/// never start). Waits on threads outside the pool, `floe_future_wait_any`, and cycles through
/// several pools are not checked.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_pool_execute(
    pool: u32,
    mode: u32,
    producer: floe_producer_fn,
    producer_arg: *mut c_void,
    job: floe_job_fn,
    out_future: *mut floe_future,
) -> Status {
    let target = || Ok(OnPool(pool::lookup(pool)?));
    // SAFETY: documented contract: the producer is callable with `producer_arg`, `out_future` is
    // NULL or writable.
    unsafe { execute_from_c("floe_pool_execute", target, mode, producer, producer_arg, job, out_future) }
}

/// A pool's or a view's queue.
struct OnPool(Arc<Executor>);

impl Scheduler for OnPool {
    #[inline(always)]
    fn schedule(self, input: Option<Transit>, job: JobFn) -> Result<Future> {
        worker::execute_with(|task| self.0.submit(task), input, TransferMode::Safe, job)
    }
}

/// Terminates the pool (for a view, its whole pool; its views stop with it), running queued jobs
/// when `process_scheduled`, cancelling them otherwise — the views' backlogged jobs too, even
/// behind a job that never returns; writes a future that completes when the last thread has
/// exited and released its values (as for `floe_worker_request_termination`) to `*out_future`
/// (owned by the caller). A panic in what a pool thread runs for a job fails that job's future
/// with `FLOE_ERR_PANIC`; the thread goes on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_pool_request_termination(
    pool: u32,
    process_scheduled: bool,
    out_future: *mut floe_future,
) -> Status {
    let body = || {
        let future = pool::lookup(pool)?.request_termination(process_scheduled);
        register(future)
    };
    // SAFETY: documented contract: `out_future` is NULL or writable.
    unsafe { returning("floe_pool_request_termination", out_future, "out_future", body) }
}
