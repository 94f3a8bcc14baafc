//! `floe_future_*`: the outcome of a job, consumed once, on any thread.

use super::{
    boundary, floe_future, floe_ref, null_argument, required, returning, timeout, with_last_error_cleared, UserData,
};
use crate::core::base::error::{Result, Status};
use crate::core::base::ids::table::IdTable;
use crate::core::base::ids::IdKind;
use crate::core::base::slab::LocalFree;
use crate::core::exec::future::{self as core_future, Future};
use crate::core::exec::worker;
use std::ffi::c_void;

/// Receives a future's outcome: `status` is `FLOE_OK` with `result` (a handle the callback owns,
/// or 0 for none), or the job's failure (`floe_last_error_message()` explains it, on this thread).
#[allow(non_camel_case_types)]
pub type floe_outcome_fn = Option<unsafe extern "C" fn(status: Status, result: floe_ref, user_data: *mut c_void)>;

static FUTURES: IdTable<Future> = IdTable::new(IdKind::Future);
thread_local! {
    // A stream of `floe_worker_execute`s issues ids from its own thread's list.
    static FREE_IDS: LocalFree = const { LocalFree::new(FUTURES.shared_free()) };
}

#[inline]
pub(crate) fn register(future: Future) -> Result<floe_future> {
    FUTURES.insert(future, &FREE_IDS)
}

/// Writes the future's state (`FLOE_FUTURE_STATE_*`) to `*out_state`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_future_get_state(future: floe_future, out_state: *mut u32) -> Status {
    let body = || {
        let state = FUTURES.get(future)?.state();
        Ok(state as u32)
    };
    // SAFETY: documented contract: `out_state` is NULL or writable.
    unsafe { returning("floe_future_get_state", out_state, "out_state", body) }
}

/// Waits up to `timeout_ms` milliseconds (negative: forever; 0: a poll, which does not wait) for
/// the job, then takes its result: the graph is attached to the calling thread and a handle to its
/// root written to `*out_result` (0 when the job returned none); the caller owns it. A result is
/// taken once (`FLOE_ERR_CONSUMED` after); a failed job gives its own status and message, prefixed
/// "the job failed:"; `FLOE_ERR_TIMEOUT` leaves the future as it was. A wait that could never end
/// is `FLOE_ERR_WOULD_DEADLOCK` at once: the job waits in the calling thread's own queue (the main
/// queue on the main thread, or the calling worker's), which runs nothing while it waits; or, on a
/// pool's thread, no thread of the pool (or slot of the view) is left to run it (`floe_pool_execute`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_future_wait(future: floe_future, timeout_ms: i64, out_result: *mut floe_ref) -> Status {
    let body = || FUTURES.get(future)?.wait(timeout(timeout_ms)).map(|result| result.unwrap_or(0));
    // SAFETY: documented contract: `out_result` is NULL or writable.
    unsafe { returning("floe_future_wait", out_result, "out_result", body) }
}

/// Kotlin's `consume`: waits like `floe_future_wait`, then calls `callback(status, result,
/// user_data)` on the calling thread with the outcome — the job's failure included. Returns the
/// wait's own failures (NULL callback, unknown future, timeout, a wait that would never end)
/// without calling it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_future_consume(
    future: floe_future,
    timeout_ms: i64,
    callback: floe_outcome_fn,
    user_data: *mut c_void,
) -> Status {
    boundary("floe_future_consume", || {
        let callback = required(callback, "callback")?;
        let outcome = FUTURES.get(future)?.wait(timeout(timeout_ms));
        if let Err(error) = &outcome {
            if error.status() == Status::ErrTimeout {
                return outcome.map(drop);
            }
        }
        call("floe_future_consume", callback, UserData(user_data), outcome);
        Ok(())
    })
}

/// Calls a C outcome callback with the thread's last error cleared: a failure is recorded as the
/// last error, in `function`, so that the callback can read it; a success leaves `FLOE_OK` there.
fn call(
    function: &str,
    callback: unsafe extern "C" fn(Status, floe_ref, *mut c_void),
    user_data: UserData,
    outcome: core_future::Outcome,
) {
    with_last_error_cleared(|| {
        let (status, result) = match outcome {
            Ok(result) => (Status::Ok, result.unwrap_or(0)),
            Err(error) => (super::record_failure(function, &error), 0),
        };
        // SAFETY: the host's callback with the user data it passed alongside it.
        unsafe { callback(status, result, user_data.0) }
    })
}

/// Delivers the future's outcome to `worker`'s queue (`FLOE_WORKER_MAIN` for the main thread's):
/// `callback(status, result, user_data)` runs on that worker's thread, where the result graph is
/// attached — for the main queue, when the host drains it. `user_data` must be usable from there.
/// The callback runs exactly once: if the worker terminates before running it, it is called on the
/// thread that found out, with `FLOE_ERR_WORKER_TERMINATED` and no result (freed), so `user_data`
/// can be released. A future is consumed once: by a wait, a consume or one delivery. Once the main
/// thread has exited, `FLOE_WORKER_MAIN` gives `FLOE_ERR_WORKER_TERMINATED`.
#[unsafe(no_mangle)]
pub extern "C" fn floe_future_deliver(
    future: floe_future,
    worker: u32,
    callback: floe_outcome_fn,
    user_data: *mut c_void,
) -> Status {
    boundary("floe_future_deliver", || {
        let callback = required(callback, "callback")?;
        let user_data = UserData(user_data);
        let target = worker::lookup(worker)?;
        FUTURES
            .get(future)?
            .deliver_to(target, Box::new(move |outcome| call("floe_future_deliver", callback, user_data, outcome)))
    })
}

/// Waits up to `timeout_ms` (negative: forever) until one of the `count` futures in `futures` has
/// finished (computed, failed or cancelled, not yet consumed) and writes its index to `*out_index`
/// (Kotlin's waitForMultipleFutures). Takes no result. When every future is consumed there is
/// nothing to wait for: `FLOE_ERR_CONSUMED`; when every one left waits in the calling thread's own
/// queue, none can finish: `FLOE_ERR_WOULD_DEADLOCK` (see `floe_future_wait`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_future_wait_any(
    futures: *const floe_future,
    count: usize,
    timeout_ms: i64,
    out_index: *mut usize,
) -> Status {
    let body = || {
        if futures.is_null() {
            return Err(null_argument("futures"));
        }
        // SAFETY: documented contract: `futures` points to `count` readable ids.
        let ids = unsafe { std::slice::from_raw_parts(futures, count) };
        let futures = ids.iter().map(|&id| FUTURES.get(id)).collect::<Result<Vec<_>>>()?;
        let index = core_future::wait_any(&futures, timeout(timeout_ms))?;
        Ok(index)
    };
    // SAFETY: documented contract: `out_index` is NULL or writable.
    unsafe { returning("floe_future_wait_any", out_index, "out_index", body) }
}

/// Releases the caller's future. An unconsumed result is freed when the job finishes; the job
/// itself still runs. Using or releasing it again gives `FLOE_ERR_RELEASED_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn floe_future_release(future: floe_future) -> Status {
    boundary("floe_future_release", || FUTURES.end(future, &FREE_IDS).map(drop))
}
