//! `floe_global_*`: named globals — main-thread-only, thread-local or shared-immutable.

use super::{boundary, c_str, call_host, floe_ref, required, returning};
use crate::core::base::error::{Error, Status};
use crate::core::shared::global::{self, GlobalMode};
use std::ffi::c_char;

/// Makes a global's value on the calling thread: writes a handle to `*out_value` (0 for none),
/// which the global takes over, and returns `FLOE_OK`. Any other number fails the
/// `floe_global_get`, and floe releases a value the initialiser wrote before failing: a
/// `FLOE_ERR_*` with that status and the message the initialiser set with `floe_last_error_set`, a
/// number that is no `floe_status` with `FLOE_ERR_HOST`, naming it. A failed initialiser leaves
/// the global without a value: the next `floe_global_get` runs it again. Returns `int32_t`, as
/// `floe_producer_fn` does and for the same reason.
#[allow(non_camel_case_types)]
pub type floe_initializer_fn = Option<unsafe extern "C" fn(out_value: *mut floe_ref) -> i32>;

/// Defines a global named `name` with `mode` (`FLOE_GLOBAL_MODE_*`) and `initializer`, and writes
/// its id to `*out_global`. Global ids count up from 2^30, apart from worker, type and pool ids: one of
/// those given to a global's function is `FLOE_ERR_INVALID_ARGUMENT`.
///
/// - `FLOE_GLOBAL_MODE_MAIN_THREAD_ONLY`: only the main thread may read it (`FLOE_ERR_WRONG_THREAD`
///   elsewhere), like a plain Kotlin/Native global.
/// - `FLOE_GLOBAL_MODE_THREAD_LOCAL`: each thread gets its own value, released when it exits.
/// - `FLOE_GLOBAL_MODE_SHARED_IMMUTABLE`: initialised once, frozen before it is published, the
///   same object on every thread (also the way to write a lazy singleton).
///
/// An initialiser that needs, directly or through other globals, the global being initialised gets
/// `FLOE_ERR_CYCLIC_INIT` naming the cycle, never a deadlock.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_global_define(
    name: *const c_char,
    mode: u32,
    initializer: floe_initializer_fn,
    out_global: *mut u32,
) -> Status {
    let body = || {
        // SAFETY: documented contract: `name` is a NUL-terminated string.
        let name = unsafe { c_str(name, "name") }?;
        let mode = GlobalMode::from_code(mode)
            .ok_or_else(|| Error::new(Status::ErrInvalidArgument, format!("mode {mode} is no FLOE_GLOBAL_MODE_*")))?;
        let initializer = required(initializer, "initializer")?;
        let id = global::define(
            name,
            mode,
            // SAFETY: the host's initialiser, called as documented with a writable out-parameter.
            Box::new(move || call_host(|value| unsafe { initializer(value) })),
        )?;
        Ok(id)
    };
    // SAFETY: documented contract: `out_global` is NULL or writable.
    unsafe { returning("floe_global_define", out_global, "out_global", body) }
}

/// Writes a new handle to the global's value on the calling thread to `*out_value` (0 when its
/// initialiser made none), running the initialiser first if needed. The caller owns the handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floe_global_get(global: u32, out_value: *mut floe_ref) -> Status {
    // SAFETY: documented contract: `out_value` is NULL or writable.
    unsafe {
        returning("floe_global_get", out_value, "out_value", || global::get(global).map(|value| value.unwrap_or(0)))
    }
}

/// Drops the global's value (the calling thread's, for a thread-local global) so the next
/// `floe_global_get` initialises it again; main thread only for a main-thread-only global.
#[unsafe(no_mangle)]
pub extern "C" fn floe_global_reset(global: u32) -> Status {
    boundary("floe_global_reset", || global::reset(global))
}
