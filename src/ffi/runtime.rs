//! `floe_runtime_*`, the last-error functions and status names.

use super::{boundary, c_str, last_message, last_status, record_message, returning, timeout};
use crate::core::api::Runtime;
use crate::core::error::{Error, Status};
use crate::core::stats::Stats;
use std::ffi::c_char;

/// Makes the calling thread the runtime's main thread.
///
/// Without this call, the first thread that makes any floe call becomes the main thread. Calling it
/// again on the main thread returns `FLOE_OK`; on any other thread it returns
/// `FLOE_ERR_ALREADY_INITIALIZED` and the message names the main thread.
#[unsafe(no_mangle)]
pub extern "C" fn floe_runtime_init() -> Status {
    boundary("floe_runtime_init", Runtime::init)
}

/// Writes the runtime's live counters (objects, frozen objects, handles) to `*out`.
///
/// `out` must point to a writable `floe_stats`. Tests end by checking every counter is zero.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_runtime_stats(out_stats: *mut Stats) -> Status {
    // SAFETY: documented contract: `out_stats` is NULL or writable.
    unsafe { returning("floe_runtime_stats", out_stats, "out_stats", || Ok(Runtime::stats())) }
}

/// Runs the cycle collector over the calling thread's mutable objects and writes how many objects
/// it freed to `*out_freed`. It also runs by itself when enough candidates accumulate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_runtime_collect_cycles(out_freed: *mut usize) -> Status {
    // SAFETY: documented contract: `out_freed` is NULL or writable.
    unsafe { returning("floe_runtime_collect_cycles", out_freed, "out_freed", || Ok(Runtime::collect_cycles())) }
}

/// The message of the last failed floe call on the calling thread: the function, the operation,
/// the object (`Type#id`), its owner (thread, or frozen and by which freeze) and the calling thread.
///
/// The string is owned by floe and stays valid until the next failing floe call on this thread;
/// copy it to keep it. It is empty when no call has failed on this thread. Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn floe_last_error_message() -> *const c_char {
    last_message()
}

/// The status of the last failed floe call on the calling thread (`FLOE_OK` if none failed).
#[unsafe(no_mangle)]
pub extern "C" fn floe_last_error_status() -> Status {
    last_status()
}

/// Records `status` and `message` (NUL-terminated UTF-8) as the calling thread's last error, so a
/// host callback — a job, producer or initialiser — can explain the failure it is about to return:
/// a job's future then fails with this status and this message. Returns `FLOE_OK`; a `status` that
/// is not an error gives `FLOE_ERR_INVALID_ARGUMENT` (and the last error describes that instead).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_last_error_set(status: i32, message: *const c_char) -> Status {
    let mut host_error = None;
    let outcome = boundary("floe_last_error_set", || {
        // SAFETY: documented contract: `message` is a NUL-terminated string.
        let text = unsafe { c_str(message, "message") }?;
        let status = Status::from_code(status).filter(|s| *s != Status::Ok).ok_or_else(|| {
            Error::new(Status::ErrInvalidArgument, format!("{status} is not an error status (FLOE_ERR_*)"))
        })?;
        host_error = Some(Error::new(status, text.to_owned()));
        Ok(())
    });
    if let Some(error) = host_error {
        record_message(error.status(), error.message());
    }
    outcome
}

/// The name of a status constant, such as `"FLOE_ERR_FROZEN"`; `"FLOE_UNKNOWN_STATUS"` for a
/// number that is not a status. The string is static: never free it.
#[unsafe(no_mangle)]
pub extern "C" fn floe_status_name(status: i32) -> *const c_char {
    let name = Status::from_code(status).map_or(c"FLOE_UNKNOWN_STATUS", Status::c_name);
    name.as_ptr()
}

/// What `floe_runtime_shutdown` found.
#[repr(C)]
pub struct ShutdownSummary {
    /// Workers that stopped.
    pub workers_stopped: u32,
    /// Workers still running when the time ran out.
    pub workers_unfinished: u32,
    /// The counters afterwards: detached graphs never attached, live objects and handles.
    pub stats: Stats,
}

/// Terminates every running worker — running the jobs already queued when `process_scheduled`,
/// cancelling them otherwise — waits up to `timeout_ms` (negative: forever) for their threads, and
/// writes what is left to `*out_report`. When anything is left (unfinished workers, detached
/// graphs never attached, live objects or handles) it also prints a one-line summary naming them
/// to stderr. Unlike Kotlin/Native's "Unfinished workers detected", it never aborts.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_runtime_shutdown(
    process_scheduled: bool,
    timeout_ms: i64,
    out_report: *mut ShutdownSummary,
) -> Status {
    let body = || {
        let timeout = timeout(timeout_ms);
        let report = Runtime::shutdown(process_scheduled, timeout);
        if !report.is_clean() {
            eprintln!("{report}");
        }
        let summary = ShutdownSummary {
            workers_stopped: report.stopped.len() as u32,
            workers_unfinished: report.unfinished.len() as u32,
            stats: report.stats,
        };
        Ok(summary)
    };
    // SAFETY: documented contract: `out_report` is NULL or writable.
    unsafe { returning("floe_runtime_shutdown", out_report, "out_report", body) }
}
