//! `floe_runtime_*`, the last-error functions and status names.

use super::{boundary, returning, timeout};
use crate::core::base::error::Status;
use crate::core::base::stats;
use crate::core::base::stats::Stats;
use crate::core::exec::shutdown;
use crate::core::heap::{cycles, thread};

/// Makes the calling thread the runtime's main thread.
///
/// Without this call, the first thread that makes any floe call becomes the main thread. Calling it
/// again on the main thread returns `FLOE_OK`; on any other thread it returns
/// `FLOE_ERR_ALREADY_INITIALIZED` and the message names the main thread — also once the main thread
/// has exited: no thread takes its place, and the main queue stays closed (see `FLOE_WORKER_MAIN`).
#[unsafe(no_mangle)]
pub extern "C" fn floe_runtime_init() -> Status {
    boundary("floe_runtime_init", thread::init_main)
}

/// Writes the runtime's live counters (objects, frozen objects, handles) to `*out`.
///
/// `out` must point to a writable `floe_stats`. Tests end by checking every counter is zero.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_runtime_stats(out_stats: *mut Stats) -> Status {
    // SAFETY: documented contract: `out_stats` is NULL or writable.
    unsafe { returning("floe_runtime_stats", out_stats, "out_stats", || Ok(stats::snapshot())) }
}

/// Runs the cycle collector over the calling thread's mutable objects and writes how many objects
/// it freed to `*out_freed`. It also runs by itself when enough candidates accumulate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_runtime_collect_cycles(out_freed: *mut usize) -> Status {
    // SAFETY: documented contract: `out_freed` is NULL or writable.
    unsafe { returning("floe_runtime_collect_cycles", out_freed, "out_freed", || Ok(cycles::collect())) }
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
/// to stderr. Unlike Kotlin/Native's "Unfinished workers detected", it never aborts. With the
/// environment variable `FLOE_DEBUG_LEAKS` set, it also lists the objects still alive (up to 200,
/// one line each: type, owner thread or freeze, count) to stderr, to hunt a leak down.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_runtime_shutdown(
    process_scheduled: bool,
    timeout_ms: i64,
    out_report: *mut ShutdownSummary,
) -> Status {
    let body = || {
        let timeout = timeout(timeout_ms);
        let report = shutdown::shutdown(process_scheduled, timeout);
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
